//! A host process killed with SIGKILL in the middle of a write-off, after the
//! request reached the server, finds the attempt in the spend journal when
//! it starts again. The host is a C program using the shared library.

#![cfg(target_os = "linux")]

mod support;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::{RawServer, Reply};

const SOURCE: &str = "tests/c/journal_crash.c";

fn build_host() -> PathBuf {
    let library_dir = support::shared_library::library_dir();
    let program = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("journal_crash-{}", std::process::id()));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut include = OsString::from("-I");
    include.push(root.join("include"));
    let mut library = OsString::from("-L");
    library.push(library_dir);
    let mut rpath = OsString::from("-Wl,-rpath,");
    rpath.push(library_dir);

    let output = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror"])
        .arg(include)
        .arg(root.join(SOURCE))
        .arg("-o")
        .arg(&program)
        .arg(library)
        .arg("-lesbyt")
        .arg(rpath)
        .output()
        .unwrap_or_else(|error| {
            panic!("`cc` could not be started ({error}): install a C compiler")
        });
    assert!(
        output.status.success(),
        "compiling {SOURCE} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    program
}

fn run(host: &Path, arguments: &[&str]) -> Output {
    Command::new(host)
        .args(arguments)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("run the host")
}

fn wait_for(condition: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn killed_host_finds_attempt_on_restart() {
    let host = build_host();
    // The server reads the write-off request and never responds, so the
    // host is inside esbyt_spend_bonus when it is killed.
    let server = RawServer::start(|_stream, _head| {
        thread::sleep(Duration::from_secs(30));
        Reply::Close
    });
    let journal = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("crash-{}.journal", std::process::id()));
    let _ = std::fs::remove_file(&journal);
    let (url, journal_arg) = (server.url(), journal.to_str().unwrap().to_owned());

    let mut child = Command::new(&host)
        .args(["spend", &url, &journal_arg])
        .env_remove("LD_LIBRARY_PATH")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the host");
    wait_for(
        || !server.request_lines().is_empty(),
        "the write-off request to reach the server",
    );
    child.kill().expect("SIGKILL the host");
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );

    let listed = run(&host, &["pending", &url, &journal_arg]);
    let listing = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.status.success(), "{listing}");
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines[0], "pending 1", "{listing}");
    assert!(
        lines[1].ends_with("state 1 card 2700009601205 amount 10 supplier 1111"),
        "{listing}"
    );
    let attempt_id = lines[1].split_whitespace().nth(1).unwrap().to_owned();

    let resolved = run(&host, &["resolve", &url, &journal_arg, &attempt_id]);
    assert!(
        resolved.status.success(),
        "{}",
        String::from_utf8_lossy(&resolved.stdout)
    );
    let after = run(&host, &["pending", &url, &journal_arg]);
    assert_eq!(String::from_utf8_lossy(&after.stdout).trim(), "pending 0");
    assert_eq!(
        server.request_lines().len(),
        1,
        "the write-off was sent exactly once"
    );
}
