//! Tests of the C++ binding `bindings/cpp/esbyt.hpp`. Each test builds a C++ program with
//! the system compiler against libesbyt.so and runs it against an emulator on 127.0.0.1:
//!
//! - `tests/cpp/binding_test.cpp`, once per case, each against a new emulator. A case
//!   prints "key value" lines, which the test compares with the expected values and with
//!   what the emulator executed.
//! - `bindings/cpp/example.cpp`, the example that README.md shows.
//! - Both programs again, built with AddressSanitizer and UndefinedBehaviorSanitizer.
//! - `esbyt.hpp` against the exports of libesbyt.so and the library's setting names.
//!
//! The tests need `c++` (C++17), `nm` and gcc's sanitizer runtimes. A missing tool fails
//! them rather than skipping them, so a machine without one cannot report the binding
//! as tested.

// NOTE: Linux only, because the programs find libesbyt.so through `-Wl,-rpath`.
#![cfg(target_os = "linux")]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use esbyt_emulator::{DEFAULT_SUPPLIER, Emulator, EmulatorConfig, TEST_BONUS_ID};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BINDING_HEADER: &str = "bindings/cpp/esbyt.hpp";
const EXAMPLE_SOURCE: &str = "bindings/cpp/example.cpp";
const BINDING_TEST_SOURCE: &str = "tests/cpp/binding_test.cpp";

/// Flags of every C++ program of these tests.
const CXX_FLAGS: [&str; 6] = [
    "-std=c++17",
    "-pedantic",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pthread",
];

/// Warnings that some hosts turn on, which the binding's header must not trigger.
const STRICT_WARNING_FLAGS: [&str; 5] = [
    "-Wconversion",
    "-Wsign-conversion",
    "-Wshadow",
    "-Wold-style-cast",
    "-Wnon-virtual-dtor",
];

/// Compiler flags of the sanitizer builds, as in tests/c_abi.rs: each sanitizer stops
/// the program at its first report.
const SANITIZER_FLAGS: [&str; 4] = [
    "-fsanitize=address,undefined",
    "-fno-omit-frame-pointer",
    "-fno-sanitize-recover=all",
    "-g",
];

/// Runtime options of the sanitizer builds. `abort_on_error` turns a report into
/// SIGABRT, so the run cannot end with exit status 0 after one.
const ASAN_OPTIONS: &str = "detect_leaks=1:abort_on_error=1";
const UBSAN_OPTIONS: &str = "halt_on_error=1:abort_on_error=1:print_stacktrace=1";

/// Lines that start a report of AddressSanitizer, LeakSanitizer or UndefinedBehaviorSanitizer.
const SANITIZER_REPORT_MARKERS: [&str; 3] = [
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
];

/// Maximum run time of one program. A case makes at most a few dozen requests to a local
/// server, so reaching this limit means a hang.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(120);

/// Account of the emulator's test card.
const TEST_ACCOUNT: &str = "1055444444";
/// Emulator card with balance 1000 and an account with leading zeros.
const THOUSAND_CARD: &str = "2700009601212";
/// Emulator card whose write-offs are executed, after which the connection closes
/// without a response.
const CLOSE_AFTER_EXECUTE_CARD: &str = "2700009609027";

/// Statuses of include/esbyt.h.
const INVALID_ARGUMENT: &str = "1";
const CONFIG: &str = "2";
const CONNECTION: &str = "3";
const SERVER: &str = "8";
const OUTCOME_UNKNOWN: &str = "9";
/// `ESBYT_PENDING_OUTCOME_UNKNOWN`.
const PENDING_OUTCOME_UNKNOWN: &str = "2";

fn source_path(relative: &str) -> PathBuf {
    Path::new(ROOT).join(relative)
}

/// Returns a path in the directory that Cargo gives integration tests for scratch files.
fn output_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn include_flag(relative: &str) -> OsString {
    let mut flag = OsString::from("-I");
    flag.push(source_path(relative));
    flag
}

/// Runs the C++ compiler and panics with its messages when it fails. A compiler missing
/// from PATH fails the test, because skipping would leave the binding untested.
fn compile(args: &[OsString], hint: &str) {
    let command_line = format!(
        "c++ {}",
        args.iter()
            .map(|arg| arg.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let output = match Command::new("c++").args(args).output() {
        Ok(output) => output,
        Err(error) if error.kind() == io::ErrorKind::NotFound => panic!(
            "`c++` was not found on PATH: install a C++17 compiler (on Debian: apt-get install g++). \
             These tests fail rather than skip without it."
        ),
        Err(error) => panic!("failed to start `c++`: {error}"),
    };
    assert!(
        output.status.success(),
        "`{command_line}` failed with {}:\n{}{hint}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// How a program is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Build {
    Plain,
    Sanitized,
}

/// Compiles a C++ program against esbyt.hpp and links it to libesbyt.so, which the
/// program finds through its rpath.
fn build_program(source: &str, name: &str, build: Build) -> PathBuf {
    let library_dir = support::shared_library::library_dir();
    let program = output_path(name);
    let mut args: Vec<OsString> = CXX_FLAGS.iter().map(OsString::from).collect();
    let mut hint = "";
    if build == Build::Sanitized {
        args.extend(SANITIZER_FLAGS.iter().map(OsString::from));
        hint = "\nIf the linker cannot find libasan or libubsan, install gcc's sanitizer runtimes \
                (on Debian: apt-get install libasan8 libubsan1). These tests fail rather than skip without them.";
    }
    args.push(include_flag("include"));
    args.push(include_flag("bindings/cpp"));
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
    compile(&args, hint);
    program
}

/// Compiles binding_test.cpp once per build for all tests that run it.
fn binding_test_program(build: Build) -> &'static Path {
    static PLAIN: OnceLock<PathBuf> = OnceLock::new();
    static SANITIZED: OnceLock<PathBuf> = OnceLock::new();
    match build {
        Build::Plain => {
            PLAIN.get_or_init(|| build_program(BINDING_TEST_SOURCE, "cpp_binding_test", build))
        }
        Build::Sanitized => SANITIZED.get_or_init(|| {
            build_program(BINDING_TEST_SOURCE, "cpp_binding_test_sanitized", build)
        }),
    }
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
}

fn read_in_thread(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes)
            .expect("failed to read program output");
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs a program to its end or [`PROGRAM_TIMEOUT`] and collects its output. A
/// sanitized build gets the sanitizers' runtime options.
fn run_program(program: &Path, args: &[&OsStr], build: Build) -> Run {
    let mut command = Command::new(program);
    command.args(args);
    if build == Build::Sanitized {
        command
            .env("ASAN_OPTIONS", ASAN_OPTIONS)
            .env("UBSAN_OPTIONS", UBSAN_OPTIONS);
    }
    let description = format!("{command:?}");
    // Cargo puts target directories on LD_LIBRARY_PATH for tests. Without it, the
    // program loads the library that its rpath names.
    let mut child = command
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("ESBYT_LOG_LEVEL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("failed to start {description}: {error}"));
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
            panic!("{description} did not finish within {PROGRAM_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let run = Run {
        status,
        stdout: stdout.join().expect("stdout reader panicked"),
        stderr: stderr.join().expect("stderr reader panicked"),
    };
    if build == Build::Sanitized {
        assert_no_sanitizer_report(&run);
    }
    run
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

fn start_emulator() -> Emulator {
    Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards())
        .expect("failed to start the emulator on 127.0.0.1")
}

fn milliseconds_since_epoch() -> i64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(elapsed.as_millis()).expect("the time fits in i64")
}

/// What one case of binding_test printed, and the state it left behind.
struct CaseRun {
    values: BTreeMap<String, String>,
    emulator: Emulator,
    scratch_dir: PathBuf,
    started_ms: i64,
    finished_ms: i64,
    output: String,
}

impl CaseRun {
    /// Returns the value the case printed for `key`.
    fn value(&self, key: &str) -> &str {
        self.values
            .get(key)
            .unwrap_or_else(|| panic!("the case printed no {key:?}:\n{}", self.output))
    }

    fn number(&self, key: &str) -> i64 {
        let value = self.value(key);
        value
            .parse()
            .unwrap_or_else(|_| panic!("{key} is {value:?}, not an integer:\n{}", self.output))
    }

    fn assert_value(&self, key: &str, expected: &str) {
        assert_eq!(self.value(key), expected, "{key}:\n{}", self.output);
    }

    fn assert_contains(&self, key: &str, expected: &str) {
        let value = self.value(key);
        assert!(
            value.contains(expected),
            "{key} is {value:?}, expected it to contain {expected:?}:\n{}",
            self.output
        );
    }

    /// Checks an error that the case printed under `prefix`.
    fn assert_error(&self, prefix: &str, status: &str, message: &str) {
        self.assert_value(&format!("{prefix}.status"), status);
        self.assert_contains(&format!("{prefix}.message"), message);
    }
}

/// Runs one case of binding_test against a new emulator, with a new scratch directory,
/// and parses its "key value" lines. Fails when the case failed.
fn run_case(case: &str, build: Build) -> CaseRun {
    let program = binding_test_program(build);
    let scratch_dir = output_path(&format!("cpp_{case}_{build:?}"));
    if scratch_dir.exists() {
        fs::remove_dir_all(&scratch_dir)
            .unwrap_or_else(|error| panic!("failed to remove {}: {error}", scratch_dir.display()));
    }
    fs::create_dir_all(&scratch_dir)
        .unwrap_or_else(|error| panic!("failed to create {}: {error}", scratch_dir.display()));
    let emulator = start_emulator();
    let url = emulator.base_url();

    let started_ms = milliseconds_since_epoch();
    let run = run_program(
        program,
        &[OsStr::new(case), OsStr::new(&url), scratch_dir.as_os_str()],
        build,
    );
    let finished_ms = milliseconds_since_epoch();
    assert!(
        run.status.success(),
        "case {case} ({build:?}) failed: {}",
        run.describe()
    );

    let mut values = BTreeMap::new();
    for line in run.stdout.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        let previous = values.insert(key.to_owned(), value.to_owned());
        assert!(
            previous.is_none(),
            "case {case} printed {key} twice: {}",
            run.describe()
        );
    }
    CaseRun {
        values,
        emulator,
        scratch_dir,
        started_ms,
        finished_ms,
        output: run.describe(),
    }
}

fn check_version(run: &CaseRun) {
    run.assert_value("version", env!("CARGO_PKG_VERSION"));
    run.assert_value("abi_version", &esbyt::ffi::ESBYT_ABI_VERSION.to_string());
    run.assert_value(
        "status_description",
        "the bonus server refused the operation",
    );
}

fn check_balance(run: &CaseRun) {
    run.assert_value("account", TEST_ACCOUNT);
    run.assert_value("bonus_id", TEST_BONUS_ID);
    run.assert_value("amount", "500");
    run.assert_value("padded_account", "0012345678");
    run.assert_value("padded_amount", "1000");
    assert!(run.emulator.executed_spends().is_empty());
}

fn check_write_off(run: &CaseRun) {
    run.assert_value("balance_before", "500");
    run.assert_value("spend_id", "000000001");
    run.assert_value("balance_after", "490");

    let spends = run.emulator.executed_spends();
    assert_eq!(spends.len(), 1, "executed write-offs: {spends:?}");
    assert_eq!(spends[0].bonus_id, TEST_BONUS_ID);
    assert_eq!(spends[0].supplier, DEFAULT_SUPPLIER);
    assert_eq!(spends[0].amount, 10);
    assert_eq!(spends[0].spend_id, "000000001");
    assert_eq!(run.emulator.balance(TEST_BONUS_ID), Some(490));
}

fn check_unknown_card(run: &CaseRun) {
    let unknown_card_message = "Участник с идентификатором 2700009601999 не найден";
    for prefix in ["check", "spend"] {
        run.assert_value(&format!("{prefix}.status"), SERVER);
        run.assert_value(&format!("{prefix}.status_name"), "ESBYT_SERVER");
        run.assert_value(&format!("{prefix}.server_code"), "4");
        run.assert_value(&format!("{prefix}.http_status"), "200");
        run.assert_value(&format!("{prefix}.cause"), "0");
        run.assert_value(&format!("{prefix}.detail"), "0");
        run.assert_value(&format!("{prefix}.message"), unknown_card_message);
        run.assert_value(
            &format!("{prefix}.what"),
            &format!("ESBYT_SERVER: {unknown_card_message}"),
        );
    }
    run.assert_value("supplier.status", SERVER);
    run.assert_value("supplier.server_code", "5");
    run.assert_value("supplier.message", "Неизвестный код партнёра 2222");
    assert!(run.emulator.executed_spends().is_empty());
}

fn check_invalid_input(run: &CaseRun) {
    let expected_messages = [
        ("letter_in_card", "bonus_id \"27000O9601205\" is invalid"),
        ("empty_card", "bonus_id \"\" is invalid"),
        ("long_card", "bonus_id \"27000096012050\" is invalid"),
        ("nul_in_card", "bonus_id contains a NUL byte"),
        ("nul_in_spend_card", "bonus_id contains a NUL byte"),
        ("zero_amount", "amount 0 is invalid"),
        ("negative_amount", "amount -10 is invalid"),
        ("amount_above_int32", "amount 2147483648 is invalid"),
        ("unknown_setting", "unknown setting \"time_out_ms\""),
        ("timeout_zero", "timeout_ms \"0\" is invalid"),
        ("supplier_zero", "supplier 0 is invalid"),
        ("body_limit_small", "max_body_bytes \"10\" is invalid"),
        ("nul_in_setting", "url contains a NUL byte"),
    ];
    for (name, message) in expected_messages {
        run.assert_error(name, INVALID_ARGUMENT, message);
    }
    assert!(
        run.emulator.executed_spends().is_empty(),
        "a rejected write-off reached the server: {:?}",
        run.emulator.executed_spends()
    );
    assert_eq!(run.emulator.balance(TEST_BONUS_ID), Some(500));
}

fn check_config(run: &CaseRun) {
    run.assert_error(
        "conflicting_identity",
        CONFIG,
        "both pkcs12_file and client_cert_file",
    );
    run.assert_error("missing_file", CONFIG, "missing-ca.pem");
    assert!(run.number("log_file_bytes") > 0, "{}", run.output);
    run.assert_error("no_url", CONFIG, "url is not set");
    run.assert_error("http_not_allowed", CONFIG, "allow_http");
    run.assert_error("spend_without_supplier", CONFIG, "supplier is not set");
    run.assert_value("moved_from_set.status", INVALID_ARGUMENT);
    run.assert_value("file_spend_id", "000000001");
    run.assert_error("bad_key", CONFIG, "line 2: unknown setting \"time_out_ms\"");
    run.assert_contains("bad_key.message", "bad.toml");
    run.assert_error("missing_config", CONFIG, "missing.toml");

    let log = fs::read_to_string(run.scratch_dir.join("esbyt.log"))
        .expect("the log_file setting created esbyt.log");
    assert!(
        !log.contains(TEST_BONUS_ID),
        "unmasked card in the log:\n{log}"
    );
    assert!(
        run.scratch_dir.join("from-file.journal").is_file(),
        "the journal_file of the configuration file was not created next to it"
    );
    let spends = run.emulator.executed_spends();
    assert_eq!(spends.len(), 1, "executed write-offs: {spends:?}");
    assert_eq!(spends[0].amount, 10);
}

fn check_outcome_unknown(run: &CaseRun) {
    run.assert_value("unknown.status", OUTCOME_UNKNOWN);
    run.assert_value("unknown.status_name", "ESBYT_OUTCOME_UNKNOWN");
    run.assert_value("unknown.cause", CONNECTION);
    run.assert_value("unknown.server_code", "0");
    run.assert_contains("unknown.message", "may or may not have been executed");
    let attempt_id = run.value("unknown.attempt_id");
    assert!(!attempt_id.is_empty(), "{}", run.output);

    run.assert_value("pending_count", "2");
    run.assert_value("pending.attempt_id", attempt_id);
    run.assert_value("pending.bonus_id", CLOSE_AFTER_EXECUTE_CARD);
    run.assert_value("pending.supplier", &DEFAULT_SUPPLIER.to_string());
    run.assert_value("pending.amount", "10");
    run.assert_value("pending.state", PENDING_OUTCOME_UNKNOWN);
    run.assert_value("pending.cause", CONNECTION);
    let time_ms = run.number("pending.time_ms");
    assert!(
        (run.started_ms..=run.finished_ms).contains(&time_ms),
        "pending.time_ms {time_ms} is outside the run, {} to {}",
        run.started_ms,
        run.finished_ms
    );
    assert_ne!(run.value("written_off.attempt_id"), attempt_id);
    run.assert_value("pending_after_resolve", "0");
    run.assert_value("unknown_attempt.status", INVALID_ARGUMENT);
    run.assert_value("no_journal.status", CONFIG);

    let journal = fs::read_to_string(run.scratch_dir.join("spend.journal"))
        .expect("the journal_file setting created spend.journal");
    assert!(
        journal.contains(attempt_id),
        "the journal does not name {attempt_id}:\n{journal}"
    );

    // The fault card executes write-offs before dropping the connection.
    let spends = run.emulator.executed_spends();
    let amounts: Vec<(&str, i64)> = spends
        .iter()
        .map(|spend| (spend.bonus_id.as_str(), spend.amount))
        .collect();
    assert_eq!(
        amounts,
        [
            (CLOSE_AFTER_EXECUTE_CARD, 10),
            (CLOSE_AFTER_EXECUTE_CARD, 20),
            (TEST_BONUS_ID, 10)
        ]
    );
}

fn check_pending_growth(run: &CaseRun) {
    run.assert_value("pending_count", "20");
    run.assert_value("pending_after_resolve", "0");
    assert_eq!(run.emulator.executed_spends().len(), 20);
    assert_eq!(run.emulator.balance(CLOSE_AFTER_EXECUTE_CARD), Some(800));
}

fn check_logging(run: &CaseRun) {
    assert!(run.number("records_after_check") > 0, "{}", run.output);
    run.assert_value("records_after_removal", "0");
}

fn check_threads(run: &CaseRun) {
    run.assert_value("spend_count", "40");
    run.assert_value("unique_spend_ids", "40");
    run.assert_value("balance_after", "960");

    let spends = run.emulator.executed_spends();
    assert_eq!(spends.len(), 40);
    assert!(spends.iter().all(|spend| spend.bonus_id == THOUSAND_CARD));
    let spend_ids: BTreeSet<&str> = spends.iter().map(|spend| spend.spend_id.as_str()).collect();
    assert_eq!(spend_ids.len(), 40);
    assert_eq!(run.emulator.balance(THOUSAND_CARD), Some(960));
}

fn check_move(run: &CaseRun) {
    run.assert_value("moved_from.status", INVALID_ARGUMENT);
    // The library returns ESBYT_INVALID_ARGUMENT for a handle it already freed.
    run.assert_value("replaced_handle_check", INVALID_ARGUMENT);
    run.assert_value("freed_handle_check", INVALID_ARGUMENT);
    run.assert_value("freed_handle_free", INVALID_ARGUMENT);
}

/// A function that checks the output of one case and the emulator's state after it.
type CaseCheck = fn(&CaseRun);

/// Every case of binding_test.cpp with the checks of its output.
const CASES: [(&str, CaseCheck); 11] = [
    ("version", check_version),
    ("balance", check_balance),
    ("write-off", check_write_off),
    ("unknown-card", check_unknown_card),
    ("invalid-input", check_invalid_input),
    ("config", check_config),
    ("outcome-unknown", check_outcome_unknown),
    ("pending-growth", check_pending_growth),
    ("logging", check_logging),
    ("threads", check_threads),
    ("move", check_move),
];

fn run_and_check(case: &str) {
    let (_, check) = CASES
        .iter()
        .find(|(name, _)| *name == case)
        .unwrap_or_else(|| panic!("no case {case} in CASES"));
    check(&run_case(case, Build::Plain));
}

#[test]
fn cpp_version_matches_header() {
    run_and_check("version");
}

#[test]
fn cpp_check_bonus_returns_balance() {
    run_and_check("balance");
}

#[test]
fn cpp_spend_bonus_lowers_balance() {
    run_and_check("write-off");
}

#[test]
fn cpp_unknown_card_throws_server_error() {
    run_and_check("unknown-card");
}

#[test]
fn cpp_invalid_input_throws_invalid_argument() {
    run_and_check("invalid-input");
}

#[test]
fn cpp_config_setters_and_file() {
    run_and_check("config");
}

#[test]
fn cpp_outcome_unknown_is_journalled() {
    run_and_check("outcome-unknown");
}

#[test]
fn cpp_pending_spends_grow_past_capacity() {
    run_and_check("pending-growth");
}

#[test]
fn cpp_log_callback_receives_masked_records() {
    run_and_check("logging");
}

#[test]
fn cpp_threads_share_one_client() {
    run_and_check("threads");
}

#[test]
fn cpp_move_transfers_ownership() {
    run_and_check("move");
}

#[test]
fn cpp_cases_pass_under_sanitizers() {
    for (case, check) in CASES {
        check(&run_case(case, Build::Sanitized));
    }
}

/// Checks the output of example.cpp and the one write-off on the server.
fn assert_example_succeeded(run: &Run, emulator: &Emulator) {
    assert!(run.status.success(), "example failed: {}", run.describe());
    assert_eq!(
        run.stdout,
        "balance 500\nspend_id 000000001\nbalance 490\n",
        "{}",
        run.describe()
    );
    assert_eq!(run.stderr, "", "example wrote to stderr");
    let spends = emulator.executed_spends();
    assert_eq!(spends.len(), 1, "executed write-offs: {spends:?}");
    assert_eq!(spends[0].amount, 10);
    assert_eq!(spends[0].supplier, DEFAULT_SUPPLIER);
    assert_eq!(emulator.balance(TEST_BONUS_ID), Some(490));
}

#[test]
fn cpp_example_writes_off() {
    let program = build_program(EXAMPLE_SOURCE, "cpp_example", Build::Plain);
    let emulator = start_emulator();
    let url = format!("{}bonus/", emulator.base_url());
    let run = run_program(&program, &[OsStr::new(&url)], Build::Plain);
    assert_example_succeeded(&run, &emulator);
}

#[test]
fn cpp_example_passes_under_sanitizers() {
    let program = build_program(EXAMPLE_SOURCE, "cpp_example_sanitized", Build::Sanitized);
    let emulator = start_emulator();
    let run = run_program(
        &program,
        &[OsStr::new(&emulator.base_url())],
        Build::Sanitized,
    );
    assert_example_succeeded(&run, &emulator);
}

#[test]
fn cpp_example_reports_connection_failure() {
    let program = build_program(EXAMPLE_SOURCE, "cpp_example_outcome", Build::Plain);
    let config = EmulatorConfig {
        fault: Some(esbyt_emulator::Fault::CloseAfterExecute),
        ..EmulatorConfig::with_default_cards()
    };
    let emulator = Emulator::start("127.0.0.1:0", config).expect("failed to start the emulator");
    let run = run_program(&program, &[OsStr::new(&emulator.base_url())], Build::Plain);
    // The fault applies to the balance check too, which fails with ESBYT_CONNECTION.
    assert_eq!(run.status.code(), Some(1), "{}", run.describe());
    assert!(
        run.stderr.starts_with("ESBYT_CONNECTION: "),
        "{}",
        run.describe()
    );
}

/// Returns the lines of a code block, each without leading and trailing whitespace,
/// blank lines left out.
fn trimmed_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
}

/// Returns the first fenced code block of `language` in the README section `heading`.
fn readme_code_block(heading: &str, language: &str) -> String {
    let readme = fs::read_to_string(source_path("README.md")).expect("failed to read README.md");
    let section_start = readme
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no section \"## {heading}\""));
    let section = &readme[section_start + 1..];
    let section = match section[3..].find("\n## ") {
        Some(end) => &section[..end + 3],
        None => section,
    };
    let fence = format!("```{language}\n");
    let block_start = section
        .find(&fence)
        .unwrap_or_else(|| panic!("README section {heading:?} has no {language} code block"))
        + fence.len();
    let block_length = section[block_start..]
        .find("```")
        .expect("the code block is closed");
    section[block_start..block_start + block_length].to_owned()
}

#[test]
fn cpp_readme_example_is_example_program() {
    let block = readme_code_block("Using the library from C++", "cpp");
    let example =
        fs::read_to_string(source_path(EXAMPLE_SOURCE)).expect("failed to read example.cpp");
    let block_lines = trimmed_lines(&block);
    let example_lines = trimmed_lines(&example);
    assert!(!block_lines.is_empty(), "the README's C++ example is empty");
    assert!(
        example_lines
            .windows(block_lines.len())
            .any(|window| window == block_lines.as_slice()),
        "the README's C++ example is not part of {EXAMPLE_SOURCE}, which the tests run; \
         update one to match the other.\nREADME:\n{block}"
    );
}

/// Removes `//` and `/* */` comments from C++ source. The binding's header has no string
/// literal that contains a comment marker, so string literals need no special case.
fn strip_comments(source: &str) -> String {
    let mut code = String::with_capacity(source.len());
    let mut rest = source;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |end| &after[end..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |end| &after[end + 2..]);
        } else {
            let character = rest.chars().next().expect("rest is not empty");
            code.push(character);
            rest = &rest[character.len_utf8()..];
        }
    }
    code
}

/// Returns the names `esbyt_...` that the code calls: each followed by `(`.
fn called_functions(code: &str) -> BTreeSet<String> {
    let mut called = BTreeSet::new();
    let mut rest = code;
    while let Some(start) = rest.find("esbyt_") {
        let preceded_by_identifier = code[..code.len() - rest.len() + start]
            .chars()
            .next_back()
            .is_some_and(|character| character.is_ascii_alphanumeric() || character == '_');
        let candidate = &rest[start..];
        let length = candidate
            .find(|character: char| !(character.is_ascii_alphanumeric() || character == '_'))
            .unwrap_or(candidate.len());
        let name = &candidate[..length];
        if !preceded_by_identifier && candidate[length..].trim_start().starts_with('(') {
            called.insert(name.to_owned());
        }
        rest = &candidate[length..];
    }
    called
}

#[test]
fn cpp_binding_calls_every_export() {
    let header = fs::read_to_string(source_path(BINDING_HEADER)).expect("failed to read esbyt.hpp");
    let called = called_functions(&strip_comments(&header));
    let exported = support::shared_library::exported_functions();
    assert!(
        !exported.is_empty(),
        "libesbyt.so exports no esbyt_ function"
    );

    let unbound: Vec<&String> = exported.difference(&called).collect();
    assert!(
        unbound.is_empty(),
        "libesbyt.so exports functions that {BINDING_HEADER} does not call: {unbound:?}; \
         add them to the binding"
    );
    let not_exported: Vec<&String> = called.difference(&exported).collect();
    assert!(
        not_exported.is_empty(),
        "{BINDING_HEADER} calls functions that libesbyt.so does not export: {not_exported:?}"
    );
}

#[test]
fn cpp_config_has_setter_for_every_setting() {
    let header = fs::read_to_string(source_path(BINDING_HEADER)).expect("failed to read esbyt.hpp");
    let code = strip_comments(&header);
    let missing: Vec<&str> = esbyt::config::SETTING_NAMES
        .iter()
        .copied()
        .filter(|name| !code.contains(&format!("Config& {name}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "esbyt::Config in {BINDING_HEADER} has no setter for these settings: {missing:?}"
    );
}

#[test]
fn cpp_header_compiles_with_strict_warnings() {
    let source = output_path("cpp_strict_warnings.cpp");
    fs::write(&source, "#include \"esbyt.hpp\"\nint main() { return esbyt::abi_version() == ESBYT_ABI_VERSION ? 0 : 1; }\n")
        .expect("failed to write the strict-warnings program");
    for standard in ["-std=c++17", "-std=c++20"] {
        let mut args: Vec<OsString> = CXX_FLAGS
            .iter()
            .filter(|flag| !flag.starts_with("-std="))
            .map(OsString::from)
            .collect();
        args.push(standard.into());
        args.extend(STRICT_WARNING_FLAGS.iter().map(OsString::from));
        args.push("-fsyntax-only".into());
        args.push(include_flag("include"));
        args.push(include_flag("bindings/cpp"));
        args.push(source.clone().into());
        compile(&args, "");
    }
}
