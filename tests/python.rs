//! Tests of the Python binding `bindings/python/esbyt.py`:
//!
//! - its pytest suite in `bindings/python/tests`, run with `python3 -m pytest` against the
//!   libesbyt.so and the esbyt-emulator binary built from the current sources.
//! - its prototype table against the exports of libesbyt.so.
//!
//! The tests need `python3` with pytest (test.sh installs it) and `nm`. A missing tool
//! fails them rather than skipping them, so a machine without one cannot report the
//! binding as tested.

// NOTE: Linux only: the suite loads libesbyt.so, and only Linux runs it here.
#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BINDING_MODULE: &str = "bindings/python/esbyt.py";
const TEST_DIR: &str = "bindings/python/tests";

/// Maximum run time of the pytest suite. It took about 2 s on an otherwise idle 2-core
/// x86_64 machine, so reaching this limit means a hang.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

/// pytest's exit status when it collected no test.
const PYTEST_NO_TESTS_COLLECTED: i32 = 5;

/// Returns the path of the esbyt-emulator binary, built from the current sources with
/// the cargo, profile and target directory of this test, as the libraries are.
fn emulator_binary() -> PathBuf {
    let profile_dir = support::shared_library::library_dir();
    let target_dir = profile_dir
        .parent()
        .expect("the profile directory has a parent");
    let profile = profile_dir
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("debug");

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--quiet",
            "-p",
            "esbyt-emulator",
            "--bin",
            "esbyt-emulator",
            "--target-dir",
        ])
        .arg(target_dir)
        .current_dir(ROOT);
    if profile != "debug" {
        command.args(["--profile", profile]);
    }
    let output = command
        .output()
        .expect("failed to run cargo to build esbyt-emulator");
    assert!(
        output.status.success(),
        "building esbyt-emulator failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let binary = profile_dir.join("esbyt-emulator");
    assert!(binary.is_file(), "{} not found", binary.display());
    binary
}

/// Fails with an installation hint unless `python3 -m pytest` works.
fn require_pytest() {
    let output = match Command::new("python3")
        .args(["-m", "pytest", "--version"])
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == io::ErrorKind::NotFound => panic!(
            "`python3` was not found on PATH: install Python 3.8 or newer (on Debian: \
             apt-get install python3). This test fails rather than skips without it."
        ),
        Err(error) => panic!("failed to start `python3`: {error}"),
    };
    assert!(
        output.status.success(),
        "`python3 -m pytest --version` failed, so pytest is missing: install it with \
         `python3 -m pip install pytest` (test.sh does). This test fails rather than skips \
         without it.\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read_in_thread(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes)
            .expect("failed to read pytest's output");
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Returns the number before `word` in pytest's summary line, such as 61 in
/// "61 passed, 1 skipped in 1.77s", or 0 when the line does not mention it.
fn summary_count(summary: &str, word: &str) -> usize {
    let words: Vec<&str> = summary
        .split(|character: char| character == ',' || character.is_whitespace())
        .filter(|part| !part.is_empty())
        .collect();
    words
        .windows(2)
        .find(|pair| pair[1] == word)
        .and_then(|pair| pair[0].parse().ok())
        .unwrap_or(0)
}

#[test]
fn python_binding_tests_pass() {
    require_pytest();
    let library = support::shared_library::library_dir().join("libesbyt.so");
    let emulator = emulator_binary();

    let mut command = Command::new("python3");
    command
        .args(["-m", "pytest", TEST_DIR, "-q"])
        .current_dir(ROOT)
        .env("ESBYT_LIBRARY", &library)
        .env("ESBYT_EMULATOR", &emulator)
        // Cargo puts target directories on LD_LIBRARY_PATH for tests, which would
        // change what the binding's own test of the system's loader finds.
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("ESBYT_LOG_LEVEL")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("failed to start {command:?}: {error}"));
    let stdout = read_in_thread(child.stdout.take().expect("stdout is piped"));
    let stderr = read_in_thread(child.stderr.take().expect("stderr is piped"));

    let deadline = Instant::now() + SUITE_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("failed to wait for pytest") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pytest did not finish within {SUITE_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().expect("stdout reader panicked");
    let stderr = stderr.join().expect("stderr reader panicked");
    let output = format!("{status}\nstdout:\n{stdout}\nstderr:\n{stderr}");

    assert_ne!(
        status.code(),
        Some(PYTEST_NO_TESTS_COLLECTED),
        "pytest collected no test in {TEST_DIR}:\n{output}"
    );
    assert!(status.success(), "pytest failed:\n{output}");
    let summary = stdout
        .lines()
        .rev()
        .find(|line| line.contains(" passed"))
        .unwrap_or_else(|| panic!("pytest printed no summary line:\n{output}"));
    assert!(
        summary_count(summary, "passed") > 0,
        "no test passed:\n{output}"
    );
    assert_eq!(
        summary_count(summary, "skipped"),
        0,
        "pytest skipped tests, which would leave them unchecked:\n{output}"
    );
}

/// Returns the keys of the `_PROTOTYPES` table of esbyt.py: the lines of that table that
/// start with a quoted name such as `"esbyt_check_bonus": (`.
fn declared_prototypes(module: &str) -> BTreeSet<String> {
    let table_start = module
        .find("\n_PROTOTYPES = {")
        .unwrap_or_else(|| panic!("{BINDING_MODULE} has no _PROTOTYPES table"));
    let table = &module[table_start..];
    let table_end = table.find("\n}").expect("the _PROTOTYPES table is closed");
    table[..table_end]
        .lines()
        .filter_map(|line| line.trim().strip_prefix('"'))
        .filter_map(|rest| rest.split_once("\":"))
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// Returns the exports that esbyt.py uses: the attributes `.esbyt_NAME` of the loaded
/// library, which the module calls or, for the two free functions, hands to
/// `weakref.finalize`.
fn used_functions(module: &str) -> BTreeSet<String> {
    module
        .split(".esbyt_")
        .skip(1)
        .map(|rest| {
            let length = rest
                .find(|character: char| !(character.is_ascii_alphanumeric() || character == '_'))
                .unwrap_or(rest.len());
            format!("esbyt_{}", &rest[..length])
        })
        .collect()
}

#[test]
fn python_binding_declares_every_export() {
    let module =
        fs::read_to_string(Path::new(ROOT).join(BINDING_MODULE)).expect("failed to read esbyt.py");
    let declared = declared_prototypes(&module);
    let exported = support::shared_library::exported_functions();
    assert!(
        !exported.is_empty(),
        "libesbyt.so exports no esbyt_ function"
    );

    let undeclared: Vec<&String> = exported.difference(&declared).collect();
    assert!(
        undeclared.is_empty(),
        "libesbyt.so exports functions that {BINDING_MODULE} does not declare in _PROTOTYPES: \
         {undeclared:?}; add them to the binding"
    );
    let not_exported: Vec<&String> = declared.difference(&exported).collect();
    assert!(
        not_exported.is_empty(),
        "{BINDING_MODULE} declares functions that libesbyt.so does not export: {not_exported:?}"
    );

    let used = used_functions(&module);
    let unused: Vec<&String> = declared.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "{BINDING_MODULE} declares functions that no code of it uses: {unused:?}"
    );
}
