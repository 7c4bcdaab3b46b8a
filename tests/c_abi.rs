//! Tests of the C ABI from C. Each test builds a C program of the repository with the
//! system compiler against libesbyt.so or libesbyt.a in the target directory, and runs it
//! against an emulator on 127.0.0.1. Cargo builds both libraries for `cargo test` too.
//!
//! - `bindings/c/example.c`, linked to libesbyt.so and, once, to libesbyt.a.
//! - `tests/c/invalid_input.c`, which calls every export with hostile input.
//! - `include/esbyt.h` alone, as strict C99 and C11 and as C++.
//!
//! The tests need `cc` and `c++` on PATH. A missing compiler fails them rather than
//! skipping them, so a machine without one cannot report the C ABI as tested.

// NOTE: Linux only, because the programs are linked with `-Wl,-rpath` to libesbyt.so.
// The build commands for macOS and Windows are untested.
#![cfg(target_os = "linux")]

use std::env;
use std::ffi::{CStr, OsString};
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use esbyt_emulator::{DEFAULT_SUPPLIER, Emulator, EmulatorConfig, TEST_BONUS_ID};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const EXAMPLE_SOURCE: &str = "bindings/c/example.c";
const INVALID_INPUT_SOURCE: &str = "tests/c/invalid_input.c";
const HEADER: &str = "include/esbyt.h";

/// Flags for every C program: the flags the README gives, plus `-pedantic`.
const C_FLAGS: [&str; 5] = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror"];

/// System libraries that a program linked to libesbyt.a needs, as printed by
/// `cargo rustc --lib --crate-type staticlib -- --print native-static-libs` with
/// rustc 1.95 on x86_64 Linux (`-lc` left out because `cc` adds it).
const STATIC_LINK_LIBRARIES: [&str; 6] = ["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl"];

/// Maximum run time of one C program. Each makes a few requests to a local server, so
/// reaching this limit means a hang.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(60);

/// Account of the emulator's test card.
const TEST_ACCOUNT: &str = "1055444444";

/// Returns the directory of libesbyt.so and libesbyt.a. The test binary is in
/// `target/<profile>/deps/` and the libraries are one level up.
fn library_dir() -> PathBuf {
    let test_binary = env::current_exe().expect("failed to get the path of the test binary");
    let dir = test_binary
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("{} has no grandparent directory", test_binary.display()));
    for name in ["libesbyt.so", "libesbyt.a"] {
        assert!(
            dir.join(name).is_file(),
            "{name} not found in {}: run `cargo build` before `cargo test`",
            dir.display()
        );
    }
    dir.to_path_buf()
}

/// Returns a path in the directory that Cargo gives integration tests for scratch files.
fn output_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn source_path(relative: &str) -> PathBuf {
    Path::new(ROOT).join(relative)
}

fn include_flag() -> OsString {
    let mut flag = OsString::from("-I");
    flag.push(source_path("include"));
    flag
}

/// Runs a compiler and panics with its messages when it fails. A compiler missing from
/// PATH fails the test, because skipping would leave the C ABI unchecked.
fn compile(compiler: &str, args: &[OsString]) {
    let command_line = format!(
        "{compiler} {}",
        args.iter()
            .map(|arg| arg.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let output = match Command::new(compiler).args(args).output() {
        Ok(output) => output,
        Err(error) if error.kind() == io::ErrorKind::NotFound => panic!(
            "`{compiler}` was not found on PATH: install a C and C++ compiler \
             (on Debian: apt-get install gcc g++). These tests fail rather than skip without it."
        ),
        Err(error) => panic!("failed to start `{compiler}`: {error}"),
    };
    assert!(
        output.status.success(),
        "`{command_line}` failed with {}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Compiles a C program and links it to libesbyt.so, which it finds through its rpath.
fn build_dynamic(source: &str, name: &str) -> PathBuf {
    let library_dir = library_dir();
    let program = output_path(name);
    let mut args: Vec<OsString> = C_FLAGS.iter().map(OsString::from).collect();
    args.push(include_flag());
    args.push(source_path(source).into());
    args.push("-o".into());
    args.push(program.clone().into());
    let mut library_flag = OsString::from("-L");
    library_flag.push(&library_dir);
    args.push(library_flag);
    args.push("-lesbyt".into());
    let mut rpath_flag = OsString::from("-Wl,-rpath,");
    rpath_flag.push(&library_dir);
    args.push(rpath_flag);
    compile("cc", &args);
    program
}

/// Compiles the example once for all tests that run it.
fn dynamic_example() -> &'static Path {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| build_dynamic(EXAMPLE_SOURCE, "example_dynamic"))
}

/// Output of one run of a C program.
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
}

fn read_in_thread(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes)
            .expect("failed to read program output");
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs a program with a deadline of [`PROGRAM_TIMEOUT`] and collects its output.
fn run_program(program: &Path, args: &[&str]) -> Run {
    // Cargo puts target directories on LD_LIBRARY_PATH for tests. Without it, the
    // program loads the library that its rpath names, or none for a static build.
    let mut child = Command::new(program)
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("failed to start {}: {error}", program.display()));
    let stdout = read_in_thread(child.stdout.take().expect("stdout is piped"));
    let stderr = read_in_thread(child.stderr.take().expect("stderr is piped"));

    let deadline = Instant::now() + PROGRAM_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("failed to wait for the program") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} {args:?} did not finish within {PROGRAM_TIMEOUT:?}",
                program.display()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Run {
        status,
        stdout: stdout.join().expect("stdout reader panicked"),
        stderr: stderr.join().expect("stderr reader panicked"),
    }
}

fn start_emulator() -> Emulator {
    Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards())
        .expect("failed to start the emulator on 127.0.0.1")
}

/// Checks the output of a successful example run and the one write-off on the server.
fn assert_example_succeeded(run: &Run, emulator: &Emulator) {
    assert!(run.status.success(), "example failed: {}", run.describe());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "example printed {lines:?}");
    assert_eq!(lines[0], format!("account {TEST_ACCOUNT}"));
    assert_eq!(lines[1], "balance 500");
    let spend_id = lines[2]
        .strip_prefix("spend_id ")
        .unwrap_or_else(|| panic!("third line is {:?}, expected spend_id", lines[2]));
    assert_eq!(spend_id.len(), 9, "spend_id {spend_id:?}");
    assert!(
        spend_id.bytes().all(|byte| byte.is_ascii_digit()),
        "spend_id {spend_id:?}"
    );
    assert_eq!(lines[3], "balance 490");
    assert_eq!(run.stderr, "", "example wrote to stderr");

    let spends = emulator.executed_spends();
    assert_eq!(spends.len(), 1, "executed write-offs: {spends:?}");
    assert_eq!(spends[0].amount, 10);
    assert_eq!(spends[0].bonus_id, TEST_BONUS_ID);
    assert_eq!(spends[0].supplier, DEFAULT_SUPPLIER);
    assert_eq!(spends[0].spend_id, spend_id);
    assert_eq!(emulator.balance(TEST_BONUS_ID), Some(490));
}

#[test]
fn example_writes_off_at_root_path() {
    let emulator = start_emulator();
    let run = run_program(dynamic_example(), &[&emulator.base_url()]);
    assert_example_succeeded(&run, &emulator);
}

#[test]
fn example_writes_off_at_bonus_path() {
    let emulator = start_emulator();
    let url = format!("{}bonus/", emulator.base_url());

    let run = run_program(dynamic_example(), &[&url]);
    assert_example_succeeded(&run, &emulator);
}

#[test]
fn example_links_statically() {
    let program = output_path("example_static");
    let mut args: Vec<OsString> = C_FLAGS.iter().map(OsString::from).collect();
    args.push(include_flag());
    args.push(source_path(EXAMPLE_SOURCE).into());
    args.push(library_dir().join("libesbyt.a").into());
    args.extend(STATIC_LINK_LIBRARIES.iter().map(OsString::from));
    args.push("-o".into());
    args.push(program.clone().into());
    compile("cc", &args);

    let emulator = start_emulator();
    let run = run_program(&program, &[&emulator.base_url(), "1111", TEST_BONUS_ID]);
    assert_example_succeeded(&run, &emulator);
}

#[test]
fn example_reports_unknown_card() {
    let emulator = start_emulator();
    let run = run_program(
        dynamic_example(),
        &[&emulator.base_url(), "1111", "2700009601999"],
    );

    assert_eq!(run.status.code(), Some(1), "{}", run.describe());
    assert_eq!(run.stdout, "", "{}", run.describe());
    assert!(
        run.stderr
            .contains("esbyt_check_bonus failed: ESBYT_SERVER: "),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("\nserver_code 4\n"),
        "{}",
        run.describe()
    );
    assert!(emulator.executed_spends().is_empty());
}

#[test]
fn example_reports_invalid_card() {
    let emulator = start_emulator();
    let run = run_program(
        dynamic_example(),
        &[&emulator.base_url(), "1111", "27000O9601205"],
    );

    assert_eq!(run.status.code(), Some(1), "{}", run.describe());
    assert_eq!(run.stdout, "", "{}", run.describe());
    assert!(
        run.stderr.contains(
            "esbyt_check_bonus failed: ESBYT_INVALID_ARGUMENT: bonus_id \"27000O9601205\" is invalid"
        ),
        "{}",
        run.describe()
    );
    assert!(emulator.executed_spends().is_empty());
}

#[test]
fn example_reports_refused_write_off() {
    let emulator = start_emulator();
    // The emulator accepts only partner code 1111.
    let run = run_program(dynamic_example(), &[&emulator.base_url(), "2222"]);

    assert_eq!(run.status.code(), Some(1), "{}", run.describe());
    assert_eq!(
        run.stdout,
        format!("account {TEST_ACCOUNT}\nbalance 500\n"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("esbyt_spend_bonus failed: ESBYT_SERVER: "),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("\nserver_code 5\n"),
        "{}",
        run.describe()
    );
    assert!(!run.stderr.contains("WARNING"), "{}", run.describe());
    assert!(emulator.executed_spends().is_empty());
    assert_eq!(emulator.balance(TEST_BONUS_ID), Some(500));
}

/// A server on 127.0.0.1 that responds to `check_bonus` with the test card's balance and
/// to every other request with `502 Bad Gateway`, as a failing proxy in front of the bonus
/// server would. It closes each connection after one response and records the request lines.
struct BadGatewayServer {
    base_url: String,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<String>>,
}

impl BadGatewayServer {
    fn start() -> BadGatewayServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("failed to bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("failed to make the listener non-blocking");
        let base_url = format!("http://{}/", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut request_lines = Vec::new();
            // Polling lets the test stop the server without a wake-up connection.
            while !thread_stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => request_lines.push(respond_to_one_request(stream)),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(10));
                    }
                    Err(error) => panic!("accept failed: {error}"),
                }
            }
            request_lines
        });
        BadGatewayServer {
            base_url,
            stop,
            thread,
        }
    }

    /// Stops the server and returns the request lines it received, oldest first.
    fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the mock server panicked")
    }
}

/// Reads one request head, writes the response, closes the connection and returns the
/// request line.
fn respond_to_one_request(stream: TcpStream) -> String {
    stream
        .set_nonblocking(false)
        .expect("failed to make the connection blocking");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("failed to set the read timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("failed to clone the stream"));
    let mut request_line = String::new();
    reader
        .read_line(&mut request_line)
        .expect("failed to read the request line");
    loop {
        let mut header = String::new();
        let read = reader
            .read_line(&mut header)
            .expect("failed to read a header");
        if read == 0 || header == "\r\n" {
            break;
        }
    }

    let response = if request_line.contains("command=check_bonus") {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<response>\n    \
             <account>{TEST_ACCOUNT}</account>\n    <bonus_id>{TEST_BONUS_ID}</bonus_id>\n    \
             <amount>500</amount>\n    <result>0</result>\n</response>"
        );
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        let body = "bad gateway";
        format!(
            "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let mut stream = stream;
    stream
        .write_all(response.as_bytes())
        .expect("failed to write the response");
    let _ = stream.shutdown(std::net::Shutdown::Write);
    request_line.trim_end().to_owned()
}

#[test]
fn example_warns_when_outcome_unknown() {
    let server = BadGatewayServer::start();
    let run = run_program(dynamic_example(), &[&server.base_url]);
    let request_lines = server.stop();

    assert_eq!(run.status.code(), Some(3), "{}", run.describe());
    assert_eq!(
        run.stdout,
        format!("account {TEST_ACCOUNT}\nbalance 500\n"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("esbyt_spend_bonus failed: ESBYT_OUTCOME_UNKNOWN: "),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("\nhttp_status 502\n"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("WARNING: the write-off may have been executed (cause ESBYT_HTTP)"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("Do not resend it"),
        "{}",
        run.describe()
    );

    let spend_requests: Vec<&String> = request_lines
        .iter()
        .filter(|line| line.contains("command=spend_bonus"))
        .collect();
    assert_eq!(
        spend_requests.len(),
        1,
        "the write-off must be sent exactly once; requests: {request_lines:?}"
    );
    assert!(
        spend_requests[0].contains("amount=10"),
        "{}",
        spend_requests[0]
    );
}

#[test]
fn invalid_input_program_passes_every_case() {
    let program = build_dynamic(INVALID_INPUT_SOURCE, "invalid_input");
    let emulator = start_emulator();
    let run = run_program(&program, &[&emulator.base_url()]);

    let failed_cases: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("not ok"))
        .collect();
    assert!(
        failed_cases.is_empty(),
        "failed cases:\n{}",
        failed_cases.join("\n")
    );
    assert!(run.status.success(), "{}", run.describe());

    // The plan line comes last, so a program that crashed halfway has none.
    let passed_count = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("ok "))
        .count();
    let plan = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("1.."))
        .unwrap_or_else(|| panic!("no TAP plan line: {}", run.describe()));
    assert_eq!(plan, passed_count.to_string(), "{}", run.describe());

    let version_line = format!("# esbyt_version {}", env!("CARGO_PKG_VERSION"));
    assert!(
        run.stdout.lines().any(|line| line == version_line),
        "expected {version_line:?}: {}",
        run.describe()
    );

    assert!(
        emulator.executed_spends().is_empty(),
        "a rejected write-off reached the server: {:?}",
        emulator.executed_spends()
    );
    assert_eq!(emulator.balance(TEST_BONUS_ID), Some(500));
}

fn header_syntax_check(compiler: &str, language: &str, standard: &str) {
    let args: Vec<OsString> = [
        "-x",
        language,
        standard,
        "-pedantic",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-fsyntax-only",
    ]
    .iter()
    .map(OsString::from)
    .chain(std::iter::once(source_path(HEADER).into_os_string()))
    .collect();
    compile(compiler, &args);
}

#[test]
fn header_compiles_as_strict_c() {
    header_syntax_check("cc", "c", "-std=c99");
    header_syntax_check("cc", "c", "-std=c11");
}

#[test]
fn header_compiles_as_cpp() {
    header_syntax_check("c++", "c++", "-std=c++11");
    header_syntax_check("c++", "c++", "-std=c++17");
}

#[test]
fn header_version_matches_package() {
    let header = fs::read_to_string(source_path(HEADER)).expect("failed to read the header");
    let defined = header
        .lines()
        .find_map(|line| line.strip_prefix("#define ESBYT_VERSION "))
        .expect("the header has no ESBYT_VERSION");
    assert_eq!(defined, format!("\"{}\"", env!("CARGO_PKG_VERSION")));

    // SAFETY: esbyt_version returns a pointer to a static NUL-terminated string.
    let loaded = unsafe { CStr::from_ptr(esbyt::ffi::esbyt_version()) };
    assert_eq!(loaded.to_str(), Ok(env!("CARGO_PKG_VERSION")));
}
