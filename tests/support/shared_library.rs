//! The shared and static libraries that the C programs of the tests link to.
//!
//! `cargo test` builds only the Rust library (rlib) that the test binaries
//! link, not `libesbyt.so` and `libesbyt.a`, so a C test could otherwise run
//! against a stale library from an earlier `cargo build`. The first C test
//! of each test binary therefore builds the library with the same cargo,
//! profile and target directory, which is quick when it is up to date.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Returns the directory of libesbyt.so and libesbyt.a, built from the
/// current sources.
pub fn library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(build_libraries)
}

fn build_libraries() -> PathBuf {
    // The test binary is in target/<profile>/deps/; the libraries go one level up.
    let test_binary = std::env::current_exe().expect("failed to get the path of the test binary");
    let profile_dir = test_binary
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("{} has no grandparent directory", test_binary.display()))
        .to_path_buf();
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
        .args(["build", "--quiet", "--lib", "-p", "esbyt", "--target-dir"])
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile != "debug" {
        command.args(["--profile", profile]);
    }
    let output = command
        .output()
        .expect("failed to run cargo to build libesbyt");
    assert!(
        output.status.success(),
        "building libesbyt failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for name in ["libesbyt.so", "libesbyt.a"] {
        assert!(
            profile_dir.join(name).is_file(),
            "{name} not found in {}",
            profile_dir.display()
        );
    }
    profile_dir
}

/// Returns the exported functions of libesbyt.so whose names start with `esbyt_`, from
/// `nm -D --defined-only`.
pub fn exported_functions() -> BTreeSet<String> {
    let library = library_dir().join("libesbyt.so");
    let output = match Command::new("nm")
        .args([
            OsStr::new("-D"),
            OsStr::new("--defined-only"),
            library.as_os_str(),
        ])
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == io::ErrorKind::NotFound => panic!(
            "`nm` was not found on PATH: install it (on Debian: apt-get install binutils). \
             This test fails rather than skips without it."
        ),
        Err(error) => panic!("failed to start `nm`: {error}"),
    };
    assert!(
        output.status.success(),
        "`nm -D --defined-only {}` failed with {}:\n{}",
        library.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // Each line is "ADDRESS TYPE NAME", and functions have type T.
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [_, "T", name] if name.starts_with("esbyt_") => Some((*name).to_owned()),
                _ => None,
            }
        })
        .collect()
}
