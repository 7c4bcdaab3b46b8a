//! Tests of the C ABI from C. Each test builds a C program of the repository with the
//! system compiler against libesbyt.so or libesbyt.a in the target directory, and runs it
//! against an emulator on 127.0.0.1. `cargo test` builds only the Rust library (rlib), so
//! the first test that needs libesbyt.so or libesbyt.a builds them with `cargo build`.
//!
//! - `bindings/c/example.c`, linked to libesbyt.so and, once, to libesbyt.a.
//! - `tests/c/invalid_input.c`, which calls every export with hostile input, and
//!   `tests/c/special_files.c`, which sets `journal_file` and `log_file` to devices and
//!   to a FIFO.
//! - Both programs again, built with AddressSanitizer and UndefinedBehaviorSanitizer, and
//!   their plain builds under valgrind's memcheck.
//! - `include/esbyt.h` alone, as strict C99 and C11 and as C++, and its functions against
//!   the exports of libesbyt.so and the exports that invalid_input.c covers.
//!
//! The tests need `cc`, `c++`, `nm` and `valgrind` on PATH and gcc's sanitizer runtimes.
//! A missing tool fails them rather than skipping them, so a machine without one cannot
//! report the C ABI as tested.

// NOTE: Linux only, because the programs are linked with `-Wl,-rpath` to libesbyt.so.
// The build commands for macOS and Windows are untested.
#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeSet;
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

use esbyt::Status;
use esbyt::journal::{Journal, Outcome};
use esbyt_emulator::{DEFAULT_SUPPLIER, Emulator, EmulatorConfig, TEST_BONUS_ID};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const EXAMPLE_SOURCE: &str = "bindings/c/example.c";
const INVALID_INPUT_SOURCE: &str = "tests/c/invalid_input.c";
const SPECIAL_FILES_SOURCE: &str = "tests/c/special_files.c";
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

/// Maximum run time of one C program under valgrind. invalid_input took 40 s under
/// valgrind 3.19, and under 1 s without it, on an otherwise idle 2-core x86_64 machine.
const VALGRIND_TIMEOUT: Duration = Duration::from_secs(300);

/// Compiler flags of the sanitizer builds: every check of AddressSanitizer (memory errors
/// and, through LeakSanitizer, leaks) and UndefinedBehaviorSanitizer, each stopping the
/// program at its first report. Only the C program is instrumented. The runtime's
/// interceptors of malloc, free, strnlen and other libc calls also check the calls that
/// libesbyt.so makes.
const SANITIZER_FLAGS: [&str; 4] = [
    "-fsanitize=address,undefined",
    "-fno-omit-frame-pointer",
    "-fno-sanitize-recover=all",
    "-g",
];

/// Runtime options of the sanitizer builds. `abort_on_error` turns a report into SIGABRT,
/// so the run cannot end with exit status 0 after one.
const ASAN_OPTIONS: &str = "detect_leaks=1:abort_on_error=1";
const UBSAN_OPTIONS: &str = "halt_on_error=1:abort_on_error=1:print_stacktrace=1";

/// Text that appears in every report of AddressSanitizer, LeakSanitizer or
/// UndefinedBehaviorSanitizer.
const SANITIZER_REPORT_MARKERS: [&str; 3] = [
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
];

/// Exit status that valgrind returns when it found an error, leaks of the kinds that
/// `--errors-for-leak-kinds` names included.
const VALGRIND_ERROR_EXIT_CODE: i32 = 99;

/// Account of the emulator's test card.
const TEST_ACCOUNT: &str = "1055444444";

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
    compile_with_hint(compiler, args, "");
}

/// Runs a compiler as [`compile`] does, adding `hint` to the panic message of a failure.
fn compile_with_hint(compiler: &str, args: &[OsString], hint: &str) {
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
        "`{command_line}` failed with {}:\n{}{hint}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Compiles a C program and links it to libesbyt.so, which it finds through its rpath.
fn build_dynamic(source: &str, name: &str) -> PathBuf {
    build_dynamic_with(source, name, &[], "")
}

/// Compiles a C program with AddressSanitizer and UndefinedBehaviorSanitizer and links it
/// to libesbyt.so. A missing sanitizer runtime fails the link, and so the test.
fn build_sanitized(source: &str, name: &str) -> PathBuf {
    build_dynamic_with(
        source,
        name,
        &SANITIZER_FLAGS,
        "\nIf the linker cannot find libasan or libubsan, install gcc's sanitizer runtimes \
         (on Debian: apt-get install libasan8 libubsan1). These tests fail rather than skip without them.",
    )
}

fn build_dynamic_with(source: &str, name: &str, extra_flags: &[&str], hint: &str) -> PathBuf {
    let library_dir = support::shared_library::library_dir();
    let program = output_path(name);
    let mut args: Vec<OsString> = C_FLAGS.iter().map(OsString::from).collect();
    args.extend(extra_flags.iter().map(OsString::from));
    args.push(include_flag());
    args.push(source_path(source).into());
    args.push("-o".into());
    args.push(program.clone().into());
    let mut library_flag = OsString::from("-L");
    library_flag.push(library_dir);
    args.push(library_flag);
    args.push("-lesbyt".into());
    let mut rpath_flag = OsString::from("-Wl,-rpath,");
    rpath_flag.push(library_dir);
    args.push(rpath_flag);
    compile_with_hint("cc", &args, hint);
    program
}

/// Compiles the example once for all tests that run it.
fn dynamic_example() -> &'static Path {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| build_dynamic(EXAMPLE_SOURCE, "example_dynamic"))
}

/// Compiles the hostile-input program once for all tests that run its plain build.
fn invalid_input_program() -> &'static Path {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| build_dynamic(INVALID_INPUT_SOURCE, "invalid_input"))
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
    let mut command = Command::new(program);
    command.args(args);
    run_command(command, PROGRAM_TIMEOUT)
}

/// Runs a program built with [`build_sanitized`], with the sanitizers' runtime options.
fn run_sanitized(program: &Path, args: &[&str]) -> Run {
    let mut command = Command::new(program);
    command
        .args(args)
        .env("ASAN_OPTIONS", ASAN_OPTIONS)
        .env("UBSAN_OPTIONS", UBSAN_OPTIONS);
    run_command(command, PROGRAM_TIMEOUT)
}

/// Runs a command to its end or its deadline and collects its output.
fn run_command(mut command: Command, timeout: Duration) -> Run {
    let description = format!("{command:?}");
    // ESBYT_ variables override settings that the programs load from files.
    for (name, _) in env::vars_os() {
        if name.to_string_lossy().starts_with("ESBYT_") {
            command.env_remove(name);
        }
    }
    // Cargo puts target directories on LD_LIBRARY_PATH for tests. Without it, the
    // program loads the library that its rpath names, or none for a static build.
    let mut child = command
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("failed to start {description}: {error}"));
    let stdout = read_in_thread(child.stdout.take().expect("stdout is piped"));
    let stderr = read_in_thread(child.stderr.take().expect("stderr is piped"));

    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("failed to wait for the program") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{description} did not finish within {timeout:?}");
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
    args.push(
        support::shared_library::library_dir()
            .join("libesbyt.a")
            .into(),
    );
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

/// Files that one run of invalid_input needs, in a directory of their own.
struct InvalidInputFiles {
    scratch_dir: String,
    pending_journal: String,
}

impl InvalidInputFiles {
    /// Creates an empty scratch directory and a journal of pending attempts afresh, in a
    /// directory named after the run.
    fn create(run_name: &str) -> InvalidInputFiles {
        let root = output_path(&format!("{run_name}_files"));
        if root.exists() {
            fs::remove_dir_all(&root)
                .unwrap_or_else(|error| panic!("failed to remove {}: {error}", root.display()));
        }
        let scratch_dir = root.join("scratch");
        fs::create_dir_all(&scratch_dir)
            .unwrap_or_else(|error| panic!("failed to create {}: {error}", scratch_dir.display()));
        let pending_journal = root.join("pending.journal");
        write_pending_journal(&pending_journal);
        InvalidInputFiles {
            scratch_dir: path_text(&scratch_dir),
            pending_journal: path_text(&pending_journal),
        }
    }

    /// Returns the command-line arguments of invalid_input.
    fn args<'a>(&'a self, base_url: &'a str) -> [&'a str; 3] {
        [base_url, &self.scratch_dir, &self.pending_journal]
    }
}

fn path_text(path: &Path) -> String {
    path.to_str()
        .unwrap_or_else(|| panic!("{} is not valid UTF-8", path.display()))
        .to_owned()
}

/// Writes the spend journal that invalid_input.c expects: amount 10 without an outcome
/// and amount 20 with the outcome unknown after a timeout, oldest first, and a completed
/// write-off of 30 that must not be listed as pending.
fn write_pending_journal(path: &Path) {
    let journal = Journal::open(path)
        .unwrap_or_else(|error| panic!("failed to open {}: {error}", path.display()));
    journal
        .record_attempt(TEST_BONUS_ID, DEFAULT_SUPPLIER, 10)
        .expect("failed to record the attempt without an outcome");

    let unknown = journal
        .record_attempt(TEST_BONUS_ID, DEFAULT_SUPPLIER, 20)
        .expect("failed to record the attempt with an unknown outcome");
    let timed_out = Outcome::Unknown {
        cause: Status::Timeout,
        message: "127.0.0.1 did not respond in time".to_owned(),
    };
    journal
        .record_outcome(&unknown, &timed_out)
        .expect("failed to record the unknown outcome");

    let completed = journal
        .record_attempt(TEST_BONUS_ID, DEFAULT_SUPPLIER, 30)
        .expect("failed to record the completed attempt");
    let written_off = Outcome::Ok {
        spend_id: "000000001".to_owned(),
    };
    journal
        .record_outcome(&completed, &written_off)
        .expect("failed to record the completed outcome");
}

/// Checks that invalid_input passed every case and that no write-off reached the emulator.
fn assert_invalid_input_passed(run: &Run, emulator: &Emulator) {
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

#[test]
fn invalid_input_program_passes_every_case() {
    let files = InvalidInputFiles::create("invalid_input_plain");
    let emulator = start_emulator();
    let base_url = emulator.base_url();

    let run = run_program(invalid_input_program(), &files.args(&base_url));
    assert_invalid_input_passed(&run, &emulator);
}

#[test]
fn special_files_program_passes_every_case() {
    let program = build_dynamic(SPECIAL_FILES_SOURCE, "special_files");
    let scratch_dir = output_path("special_files_files");
    if scratch_dir.exists() {
        fs::remove_dir_all(&scratch_dir)
            .unwrap_or_else(|error| panic!("failed to remove {}: {error}", scratch_dir.display()));
    }
    fs::create_dir_all(&scratch_dir)
        .unwrap_or_else(|error| panic!("failed to create {}: {error}", scratch_dir.display()));
    let emulator = start_emulator();

    let run = run_program(&program, &[&emulator.base_url(), &path_text(&scratch_dir)]);
    let failed_cases: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("not ok") || line.starts_with("# esbyt_"))
        .collect();
    assert!(
        failed_cases.is_empty(),
        "failed cases:\n{}",
        failed_cases.join("\n")
    );
    assert!(run.status.success(), "{}", run.describe());
    assert!(
        run.stdout.lines().any(|line| line == "1..9"),
        "expected the TAP plan 1..9: {}",
        run.describe()
    );
    assert!(
        emulator.executed_spends().is_empty(),
        "a write-off with a device or a FIFO as its journal reached the server: {:?}",
        emulator.executed_spends()
    );
}

/// Fails when a sanitizer reported an error. The report goes to stderr.
fn assert_no_sanitizer_report(run: &Run) {
    for marker in SANITIZER_REPORT_MARKERS {
        assert!(
            !run.stderr.contains(marker),
            "a sanitizer reported an error ({marker:?}): {}",
            run.describe()
        );
    }
    assert!(
        run.status.code().is_some(),
        "the program was killed by a signal, as abort_on_error does after a report: {}",
        run.describe()
    );
}

#[test]
fn invalid_input_passes_under_sanitizers() {
    let program = build_sanitized(INVALID_INPUT_SOURCE, "invalid_input_sanitized");
    let files = InvalidInputFiles::create("invalid_input_sanitized");
    let emulator = start_emulator();
    let base_url = emulator.base_url();

    let run = run_sanitized(&program, &files.args(&base_url));
    assert_no_sanitizer_report(&run);
    assert_invalid_input_passed(&run, &emulator);
}

#[test]
fn example_passes_under_sanitizers() {
    let program = build_sanitized(EXAMPLE_SOURCE, "example_sanitized");
    let emulator = start_emulator();

    let run = run_sanitized(&program, &[&emulator.base_url()]);
    assert_no_sanitizer_report(&run);
    assert_example_succeeded(&run, &emulator);
}

/// Runs `--version` of a tool that a test needs, and fails with the package to install
/// when the tool is missing.
fn require_tool(tool: &str, package: &str) {
    match Command::new(tool).arg("--version").output() {
        Ok(output) => assert!(
            output.status.success(),
            "`{tool} --version` failed with {}",
            output.status
        ),
        Err(error) if error.kind() == io::ErrorKind::NotFound => panic!(
            "`{tool}` was not found on PATH: install it (on Debian: apt-get install {package}). \
             This test fails rather than skips without it."
        ),
        Err(error) => panic!("failed to start `{tool}`: {error}"),
    }
}

/// Output of a run under valgrind, with valgrind's own log.
struct ValgrindRun {
    run: Run,
    log: String,
}

/// Runs a program under valgrind's memcheck with a full leak check, which counts
/// definitely and indirectly lost blocks as errors.
fn run_valgrind(program: &Path, args: &[&str], run_name: &str) -> ValgrindRun {
    require_tool("valgrind", "valgrind");
    let log_path = output_path(&format!("{run_name}.valgrind.log"));
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
        .arg(program)
        .args(args);
    let run = run_command(command, VALGRIND_TIMEOUT);
    let log = fs::read_to_string(&log_path)
        .unwrap_or_else(|error| panic!("failed to read {}: {error}", log_path.display()));
    ValgrindRun { run, log }
}

/// Fails when valgrind found an error or a leak of a kind that counts as one.
fn assert_valgrind_clean(valgrind: &ValgrindRun) {
    let log = &valgrind.log;
    assert!(
        log.contains("ERROR SUMMARY:"),
        "valgrind did not finish its report:\n{log}\n{}",
        valgrind.run.describe()
    );
    for marker in [
        "Invalid read",
        "Invalid write",
        "are definitely lost",
        "are indirectly lost",
    ] {
        assert!(
            !log.contains(marker),
            "valgrind reported {marker:?}:\n{log}"
        );
    }
    // The leak summary prints a "definitely lost" line even when nothing was lost.
    for line in log.lines().filter(|line| line.contains("definitely lost:")) {
        assert!(
            line.contains("definitely lost: 0 bytes in 0 blocks"),
            "valgrind reported a leak: {line}\n{log}"
        );
    }
    assert_ne!(
        valgrind.run.status.code(),
        Some(VALGRIND_ERROR_EXIT_CODE),
        "valgrind found errors:\n{log}"
    );
    assert!(
        log.contains("ERROR SUMMARY: 0 errors"),
        "valgrind found errors:\n{log}"
    );
}

#[test]
fn invalid_input_passes_under_valgrind() {
    let files = InvalidInputFiles::create("invalid_input_valgrind");
    let emulator = start_emulator();
    let base_url = emulator.base_url();

    let valgrind = run_valgrind(
        invalid_input_program(),
        &files.args(&base_url),
        "invalid_input",
    );
    assert_valgrind_clean(&valgrind);
    assert_invalid_input_passed(&valgrind.run, &emulator);
}

#[test]
fn example_passes_under_valgrind() {
    let emulator = start_emulator();

    let valgrind = run_valgrind(dynamic_example(), &[&emulator.base_url()], "example");
    assert_valgrind_clean(&valgrind);
    assert_example_succeeded(&valgrind.run, &emulator);
}

/// Removes `/* */` and `//` comments from C source. The header has no string literal
/// that contains a comment marker, so string literals need no special case.
fn strip_c_comments(source: &str) -> String {
    let mut code = String::with_capacity(source.len());
    let mut rest = source;
    loop {
        let block = rest.find("/*");
        let line = rest.find("//");
        match (block, line) {
            (Some(block), line) if line.is_none_or(|line| block < line) => {
                code.push_str(&rest[..block]);
                let end = rest[block + 2..]
                    .find("*/")
                    .expect("the header has an unterminated comment");
                rest = &rest[block + 2 + end + 2..];
            }
            (_, Some(line)) => {
                code.push_str(&rest[..line]);
                rest = rest[line..]
                    .find('\n')
                    .map_or("", |end| &rest[line + end..]);
            }
            (None, None) => {
                code.push_str(rest);
                return code;
            }
            (Some(_), None) => {
                unreachable!("the first arm takes a block comment without a line comment")
            }
        }
    }
}

fn is_identifier_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || character == '_'
}

/// Returns the names of the functions that include/esbyt.h declares: every identifier
/// that starts with `esbyt_` and is followed by `(`, outside comments.
fn declared_functions() -> BTreeSet<String> {
    let header = fs::read_to_string(source_path(HEADER)).expect("failed to read the header");
    let code = strip_c_comments(&header);
    let mut names = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(start) = rest.find("esbyt_") {
        let inside_identifier = rest[..start]
            .chars()
            .next_back()
            .is_some_and(is_identifier_character);
        let tail = &rest[start..];
        let length = tail
            .find(|character: char| !is_identifier_character(character))
            .unwrap_or(tail.len());
        if !inside_identifier && tail[length..].trim_start().starts_with('(') {
            names.insert(tail[..length].to_owned());
        }
        rest = &tail[length..];
    }
    names
}

#[test]
fn exported_functions_match_header() {
    let exported = support::shared_library::exported_functions();
    let declared = declared_functions();
    assert!(
        !declared.is_empty(),
        "found no function declaration in {HEADER}"
    );

    let undeclared: Vec<&String> = exported.difference(&declared).collect();
    assert!(
        undeclared.is_empty(),
        "libesbyt.so exports functions that {HEADER} does not declare: {undeclared:?}"
    );
    let not_exported: Vec<&String> = declared.difference(&exported).collect();
    assert!(
        not_exported.is_empty(),
        "{HEADER} declares functions that libesbyt.so does not export: {not_exported:?}"
    );
}

#[test]
fn invalid_input_covers_every_export() {
    let files = InvalidInputFiles::create("invalid_input_coverage");
    let emulator = start_emulator();
    let base_url = emulator.base_url();
    let run = run_program(invalid_input_program(), &files.args(&base_url));
    assert!(
        run.stdout.lines().any(|line| line.starts_with("1..")),
        "invalid_input did not finish, so it listed no covered exports: {}",
        run.describe()
    );

    // Lines such as "# covers esbyt_check_bonus (30 cases)".
    let covered: BTreeSet<String> = run
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("# covers "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    let exported = support::shared_library::exported_functions();

    let uncovered: Vec<&String> = exported.difference(&covered).collect();
    assert!(
        uncovered.is_empty(),
        "{INVALID_INPUT_SOURCE} has no case for these exports of libesbyt.so: {uncovered:?}; \
         add cases whose descriptions start with the export's name"
    );
    let unknown: Vec<&String> = covered.difference(&exported).collect();
    assert!(
        unknown.is_empty(),
        "{INVALID_INPUT_SOURCE} names cases after functions that libesbyt.so does not export: \
         {unknown:?}"
    );
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
