//! Tests of the 1C:Enterprise native component in libesbyt.so without the
//! platform. `tests/addin/harness.cpp` plays the platform: it loads the
//! library with dlopen, creates a `Bonus` object through the exported entry
//! points and drives every vtable method with real `tVariant` values. It
//! checks the results, the `AddError` messages and the blocks allocated
//! through its counting memory manager. The harness runs against two
//! emulators on 127.0.0.1, once directly and once under valgrind's memcheck.
//!
//! A third test packages the component with `scripts/package-1c.sh` and runs
//! the harness against the library extracted from the ZIP.
//!
//! The tests need `c++`, `valgrind`, `zip`, `unzip` and `nm` on PATH. A
//! missing tool fails them rather than skipping them, so a machine without
//! one cannot report the component as tested.

// NOTE: Linux x86_64 only: the harness declares the platform's tVariant and
// vtables for that target. Windows and 32-bit builds are not tested here.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod support;

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use esbyt_emulator::{Card, DEFAULT_SUPPLIER, Emulator, EmulatorConfig, TEST_BONUS_ID};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const HARNESS_SOURCE: &str = "tests/addin/harness.cpp";
const PACKAGE_SCRIPT: &str = "scripts/package-1c.sh";

/// The MANIFEST.XML that the package script writes without Windows DLLs.
const LINUX_MANIFEST: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<bundle xmlns=\"http://v8.1c.ru/8.2/addin/bundle\" name=\"Esbyt\">
    <component os=\"Linux\" path=\"esbyt_linux_x86_64.so\" type=\"native\" arch=\"x86_64\"/>
</bundle>
";

/// Compiler flags of the harness.
const CXX_FLAGS: [&str; 5] = ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-g"];

/// Maximum run time of the harness. It makes about 60 calls to local
/// servers, which take well under a second in total, so reaching this means
/// a hang.
const HARNESS_TIMEOUT: Duration = Duration::from_secs(60);

/// Maximum run time under valgrind. The harness took 6 s under valgrind
/// 3.19 on a 2-core x86_64 machine shared with other builds.
const VALGRIND_TIMEOUT: Duration = Duration::from_secs(300);

/// Exit status that valgrind returns when it found an error, leaks of the
/// kinds that `--errors-for-leak-kinds` names included.
const VALGRIND_ERROR_EXIT_CODE: i32 = 99;

/// Balance of the test card on the second emulator. A balance check that
/// returns it shows that a changed URL reached a new client.
const SECOND_SERVER_BALANCE: i64 = 777;

/// Card whose fault closes the connection after executing a write-off.
const CLOSE_AFTER_EXECUTE_CARD: &str = "2700009609027";

/// The emulators the harness talks to: the main one with the default cards,
/// and one whose test card has another balance.
struct Servers {
    main: Emulator,
    second: Emulator,
}

impl Servers {
    fn start() -> Servers {
        let main = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards())
            .expect("failed to start the main emulator");
        let second_config = EmulatorConfig {
            cards: vec![Card::new(
                TEST_BONUS_ID,
                "0000000777",
                SECOND_SERVER_BALANCE,
            )],
            ..EmulatorConfig::with_default_cards()
        };
        let second = Emulator::start("127.0.0.1:0", second_config)
            .expect("failed to start the second emulator");
        Servers { main, second }
    }

    /// Returns the harness's arguments for the freshly built libesbyt.so.
    fn harness_args(&self, run_name: &str) -> Vec<OsString> {
        let library = support::shared_library::library_dir().join("libesbyt.so");
        self.harness_args_for(&library, run_name)
    }

    /// Returns the harness's arguments: the library, both URLs and a journal
    /// file that does not exist yet.
    fn harness_args_for(&self, library: &Path, run_name: &str) -> Vec<OsString> {
        let journal = output_path(&format!("{run_name}.journal"));
        let _ = fs::remove_file(&journal);
        vec![
            library.into(),
            format!("{}bonus/", self.main.base_url()).into(),
            format!("{}bonus/", self.second.base_url()).into(),
            journal.into(),
        ]
    }
}

/// Returns a path in the directory that Cargo gives integration tests for
/// scratch files. The names contain the process id, so concurrent runs of
/// this test binary never share a file.
fn output_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("addin-{}-{name}", std::process::id()))
}

/// Runs a tool with an argument that only prints its version (`--version`,
/// or `-v` for unzip) and fails with the package to install when the tool is
/// missing.
fn require_tool(tool: &str, version_argument: &str, package: &str) {
    match Command::new(tool).arg(version_argument).output() {
        Ok(output) => assert!(
            output.status.success(),
            "`{tool} {version_argument}` failed with {}",
            output.status
        ),
        Err(error) if error.kind() == io::ErrorKind::NotFound => panic!(
            "`{tool}` was not found on PATH: install it (on Debian: apt-get install {package}). \
             The native component tests fail rather than skip without it."
        ),
        Err(error) => panic!("failed to start `{tool}`: {error}"),
    }
}

/// Compiles the harness once for this test binary and returns its path.
fn harness_program() -> &'static Path {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        require_tool("c++", "--version", "g++");
        let program = output_path("harness");
        let output = Command::new("c++")
            .args(CXX_FLAGS)
            .arg(Path::new(ROOT).join(HARNESS_SOURCE))
            .arg("-o")
            .arg(&program)
            .arg("-ldl")
            .output()
            .unwrap_or_else(|error| panic!("failed to start `c++`: {error}"));
        assert!(
            output.status.success(),
            "compiling {HARNESS_SOURCE} failed with {}:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        program
    })
}

/// Output of one run of a program.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "{}\nstdout:\n{}\nstderr:\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    /// Returns the harness's failed checks, one line each.
    fn failed_checks(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|line| line.starts_with("not ok"))
            .collect()
    }
}

/// Runs a command with its output captured, killing it after `timeout`.
fn run_command(mut command: Command, timeout: Duration) -> Run {
    let description = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("failed to start {description}: {error}"));
    let stdout = read_in_thread(child.stdout.take().expect("stdout is piped"));
    let stderr = read_in_thread(child.stderr.take().expect("stderr is piped"));

    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("failed to wait for the harness") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{description} did not finish within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Run {
        status,
        stdout: stdout.join().expect("stdout reader panicked"),
        stderr: stderr.join().expect("stderr reader panicked"),
    }
}

fn read_in_thread(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes)
            .expect("failed to read the output of the harness");
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Checks the harness's verdict, then what the servers executed: the write-offs
/// the harness made and nothing for the calls with invalid parameters.
fn assert_harness_passed(run: &Run, servers: &Servers) {
    assert!(
        run.stdout.lines().any(|line| line.starts_with("1..")),
        "the harness did not finish its checks: {}",
        run.describe()
    );
    assert_eq!(
        run.failed_checks(),
        Vec::<&str>::new(),
        "the harness failed checks: {}",
        run.describe()
    );
    assert_eq!(run.status.code(), Some(0), "{}", run.describe());

    let executed: Vec<(String, i64, i64)> = servers
        .main
        .executed_spends()
        .into_iter()
        .map(|spend| (spend.bonus_id, spend.supplier, spend.amount))
        .collect();
    let mut expected = vec![(TEST_BONUS_ID.to_owned(), DEFAULT_SUPPLIER, 10)];
    expected.extend((0..11).map(|_| (TEST_BONUS_ID.to_owned(), DEFAULT_SUPPLIER, 1)));
    expected.extend((0..2).map(|_| (CLOSE_AFTER_EXECUTE_CARD.to_owned(), DEFAULT_SUPPLIER, 5)));
    assert_eq!(
        executed, expected,
        "the main emulator executed other write-offs than the harness made"
    );
    assert_eq!(servers.main.balance(TEST_BONUS_ID), Some(479));
    assert!(
        servers.second.executed_spends().is_empty(),
        "the second emulator executed a write-off"
    );
}

#[test]
fn harness_passes_against_emulator() {
    let servers = Servers::start();
    let mut command = Command::new(harness_program());
    command.args(servers.harness_args("direct"));
    let run = run_command(command, HARNESS_TIMEOUT);
    assert_harness_passed(&run, &servers);
}

#[test]
fn harness_passes_under_valgrind() {
    require_tool("valgrind", "--version", "valgrind");
    let servers = Servers::start();
    let log_path = output_path("harness.valgrind.log");
    let _ = fs::remove_file(&log_path);

    let mut log_flag = OsString::from("--log-file=");
    log_flag.push(&log_path);
    let mut command = Command::new("valgrind");
    command
        .arg(format!("--error-exitcode={VALGRIND_ERROR_EXIT_CODE}"))
        .args([
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
        ])
        .arg(log_flag)
        .arg(harness_program())
        .args(servers.harness_args("valgrind"));
    let run = run_command(command, VALGRIND_TIMEOUT);
    let log = fs::read_to_string(&log_path)
        .unwrap_or_else(|error| panic!("failed to read {}: {error}", log_path.display()));

    assert!(
        log.contains("ERROR SUMMARY: 0 errors"),
        "valgrind found errors:\n{log}\n{}",
        run.describe()
    );
    for line in log
        .lines()
        .filter(|line| line.contains("definitely lost:") || line.contains("indirectly lost:"))
    {
        assert!(
            line.contains("lost: 0 bytes in 0 blocks"),
            "valgrind reported a leak: {line}\n{log}"
        );
    }
    assert_ne!(
        run.status.code(),
        Some(VALGRIND_ERROR_EXIT_CODE),
        "valgrind found errors:\n{log}"
    );
    assert_harness_passed(&run, &servers);
}

/// Runs a tool that the package test uses and returns its standard output.
fn run_tool(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("failed to start {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed with {}:\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn packaged_component_passes_harness() {
    require_tool("zip", "--version", "zip");
    require_tool("unzip", "-v", "unzip");
    require_tool("nm", "--version", "binutils");
    let archive = output_path("package.zip");
    let printed = run_tool(
        Command::new(Path::new(ROOT).join(PACKAGE_SCRIPT))
            .arg("--debug")
            .arg("--output")
            .arg(&archive),
    );
    assert_eq!(printed.trim(), archive.display().to_string());

    let listing = run_tool(Command::new("unzip").arg("-Z1").arg(&archive));
    let mut entries: Vec<&str> = listing.lines().collect();
    entries.sort_unstable();
    assert_eq!(entries, ["MANIFEST.XML", "esbyt_linux_x86_64.so"]);

    let manifest = run_tool(
        Command::new("unzip")
            .arg("-p")
            .arg(&archive)
            .arg("MANIFEST.XML"),
    );
    assert_eq!(manifest, LINUX_MANIFEST);

    let extracted = output_path("package");
    let _ = fs::remove_dir_all(&extracted);
    run_tool(
        Command::new("unzip")
            .arg("-q")
            .arg(&archive)
            .arg("-d")
            .arg(&extracted),
    );

    let servers = Servers::start();
    let mut command = Command::new(harness_program());
    command.args(servers.harness_args_for(&extracted.join("esbyt_linux_x86_64.so"), "package"));
    let run = run_command(command, HARNESS_TIMEOUT);
    assert_harness_passed(&run, &servers);
}
