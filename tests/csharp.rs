//! Tests of the C# binding, `bindings/csharp/Esbyt.cs`, on Mono.
//!
//! Mono's `mcs` compiles the binding against the .NET Framework 4.0 reference
//! assemblies (`-sdk:4`) with C# 6 syntax (`-langversion:6`) and warnings as errors.
//! It builds three things: the binding alone as `Esbyt.Net.dll`,
//! `bindings/csharp/Example.cs` against that DLL, and the binding together with
//! `bindings/csharp/tests/BindingTest.cs`, which reaches the binding's internals. `mono` runs the programs against a fresh
//! libesbyt.so and an emulator on 127.0.0.1. Each test runs one scenario of
//! BindingTest.exe, which prints `KEY VALUE` lines, and asserts on those values and on
//! the emulator's state. Further tests compare the binding's record layouts with a C
//! program built from `include/esbyt.h`, and its DllImports with the exports of
//! libesbyt.so.
//!
//! The tests need `mcs` and `mono` (Debian's mono-devel, which also installs the 4.0
//! reference assemblies), `cc` and `nm`. A missing tool fails them rather than
//! skipping them, so a machine without Mono cannot report the binding as tested.
//! Nothing here runs on Windows, .NET Framework, .NET 6+ or a 32-bit process.

// NOTE: Linux only, because Mono finds libesbyt.so through LD_LIBRARY_PATH.
#![cfg(target_os = "linux")]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use esbyt_emulator::{DEFAULT_SUPPLIER, Emulator, EmulatorConfig, Fault, TEST_BONUS_ID};
use support::shared_library::library_dir;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BINDING_SOURCE: &str = "bindings/csharp/Esbyt.cs";
const EXAMPLE_SOURCE: &str = "bindings/csharp/Example.cs";
const TEST_PROGRAM_SOURCE: &str = "bindings/csharp/tests/BindingTest.cs";
const HEADER: &str = "include/esbyt.h";

/// Flags of every mcs run: the .NET Framework 4.0 API, C# 6 syntax, all warnings as errors.
const MCS_FLAGS: [&str; 4] = ["-sdk:4", "-langversion:6", "-warn:4", "-warnaserror"];

/// Maximum run time of one Mono program. The slowest scenario waits 3 s for the
/// emulator's delay fault, so reaching this limit means a hang.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(120);

/// Constants that the binding declares and the header does not: `EsbytLogLevel.Off`
/// is the level that turns the log callback off, which the header spells as 0.
const BINDING_ONLY_CONSTANTS: [&str; 1] = ["ESBYT_LOG_OFF"];

/// Account of the emulator's test card.
const TEST_ACCOUNT: &str = "1055444444";

/// Card of the emulator whose account number has leading zeros, balance 1000.
const LEADING_ZEROS_CARD: &str = "2700009601212";

/// The test card as the library writes it to logs.
const MASKED_TEST_CARD: &str = "2700******205";

/// Outcome-unknown write-offs that the `outcome_unknown` scenario makes.
const PENDING_ATTEMPTS: usize = 20;

/// Returns a path in the directory that Cargo gives integration tests for scratch files.
/// Names carry the process id, so two runs of this test binary never share a file.
fn output_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("csharp-{}-{name}", std::process::id()))
}

fn source_path(relative: &str) -> PathBuf {
    Path::new(ROOT).join(relative)
}

/// The compiled C# programs.
struct Programs {
    binding_test: PathBuf,
    example: PathBuf,
}

/// Compiles the binding, the example and the test program once for all tests.
fn programs() -> &'static Programs {
    static PROGRAMS: OnceLock<Programs> = OnceLock::new();
    PROGRAMS.get_or_init(|| {
        let binding_dll = output_path("Esbyt.Net.dll");
        let mut args = vec![OsString::from("-target:library"), out_flag(&binding_dll)];
        args.push(source_path(BINDING_SOURCE).into());
        run_mcs(&args);

        let example = output_path("Example.exe");
        let mut reference = OsString::from("-r:");
        reference.push(&binding_dll);
        let mut args = vec![reference, out_flag(&example)];
        args.push(source_path(EXAMPLE_SOURCE).into());
        run_mcs(&args);

        let binding_test = output_path("BindingTest.exe");
        let mut args = vec![out_flag(&binding_test)];
        args.push(source_path(BINDING_SOURCE).into());
        args.push(source_path(TEST_PROGRAM_SOURCE).into());
        run_mcs(&args);

        Programs {
            binding_test,
            example,
        }
    })
}

fn out_flag(path: &Path) -> OsString {
    let mut flag = OsString::from("-out:");
    flag.push(path);
    flag
}

/// Runs mcs with [`MCS_FLAGS`] and panics with its messages when it fails.
fn run_mcs(args: &[OsString]) {
    let output = match Command::new("mcs").args(MCS_FLAGS).args(args).output() {
        Ok(output) => output,
        Err(error) if error.kind() == io::ErrorKind::NotFound => panic!(
            "`mcs` was not found on PATH: install Mono's C# compiler and the .NET Framework 4.0 \
             reference assemblies (on Debian: apt-get install mono-devel). \
             These tests fail rather than skip without it."
        ),
        Err(error) => panic!("failed to start `mcs`: {error}"),
    };
    let messages = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // CS8001: "SDK path could not be resolved", when /usr/lib/mono/4.0-api is missing.
    let hint = if messages.contains("CS8001") {
        "\nThe .NET Framework 4.0 reference assemblies are missing: on Debian, apt-get install mono-devel."
    } else {
        ""
    };
    assert!(
        output.status.success(),
        "`mcs {MCS_FLAGS:?} {args:?}` failed with {}:\n{messages}{hint}",
        output.status
    );
}

/// Output of one run of a Mono program.
struct Run {
    exit_code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "exit code {:?}\nstdout:\n{}\nstderr:\n{}",
            self.exit_code, self.stdout, self.stderr
        )
    }
}

fn read_in_thread(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes)
            .expect("failed to read the program's output");
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs a C# program under mono with libesbyt.so on LD_LIBRARY_PATH. The variables
/// ESBYT_* are removed, because esbyt_config_load_file reads settings from them.
fn run_mono(program: &Path, args: &[&str]) -> Run {
    let mut command = Command::new("mono");
    command
        .arg(program)
        .args(args)
        .env("LD_LIBRARY_PATH", library_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in env::vars_os() {
        if name.to_string_lossy().starts_with("ESBYT_") {
            command.env_remove(name);
        }
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) if error.kind() == io::ErrorKind::NotFound => panic!(
            "`mono` was not found on PATH: install the Mono runtime \
             (on Debian: apt-get install mono-devel). These tests fail rather than skip without it."
        ),
        Err(error) => panic!("failed to start mono {}: {error}", program.display()),
    };
    let stdout = read_in_thread(child.stdout.take().expect("stdout is piped"));
    let stderr = read_in_thread(child.stderr.take().expect("stderr is piped"));

    let deadline = Instant::now() + PROGRAM_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("failed to wait for mono") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "mono {} {args:?} did not finish within {PROGRAM_TIMEOUT:?}",
                program.display()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Run {
        exit_code: status.code(),
        stdout: stdout.join().expect("stdout reader panicked"),
        stderr: stderr.join().expect("stderr reader panicked"),
    }
}

/// The `KEY VALUE` lines of a scenario run.
struct Results {
    values: BTreeMap<String, String>,
    run: Run,
}

impl Results {
    /// Returns the value of a key, or panics with the whole output when it is missing.
    fn get(&self, key: &str) -> &str {
        self.values
            .get(key)
            .unwrap_or_else(|| panic!("no line {key:?} in the output: {}", self.run.describe()))
    }

    /// Asserts that a key has the expected value, showing the whole output otherwise.
    fn expect(&self, key: &str, expected: &str) {
        assert_eq!(
            self.get(key),
            expected,
            "{key} differs; output: {}",
            self.run.describe()
        );
    }

    /// Asserts the fields that ReportException printed for an expected EsbytException.
    fn expect_esbyt_exception(&self, prefix: &str, exception_type: &str, status: &str) {
        self.expect(&format!("{prefix}.type"), exception_type);
        self.expect(&format!("{prefix}.status"), status);
    }

    fn message(&self, prefix: &str) -> &str {
        self.get(&format!("{prefix}.message"))
    }
}

/// Runs one scenario of BindingTest.exe and checks that it finished.
fn run_scenario(scenario: &str, args: &[&str]) -> Results {
    let mut all_args = vec![scenario];
    all_args.extend_from_slice(args);
    let run = run_mono(&programs().binding_test, &all_args);
    assert_eq!(
        run.exit_code,
        Some(0),
        "scenario {scenario} failed: {}",
        run.describe()
    );
    assert_eq!(
        run.stdout.lines().last(),
        Some(format!("done {scenario}").as_str()),
        "scenario {scenario} did not finish: {}",
        run.describe()
    );

    let mut values = BTreeMap::new();
    for line in run.stdout.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        let previous = values.insert(key.to_owned(), value.to_owned());
        assert!(
            previous.is_none(),
            "key {key:?} printed twice: {}",
            run.describe()
        );
    }
    Results { values, run }
}

fn start_emulator() -> Emulator {
    Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards())
        .expect("failed to start the emulator on 127.0.0.1")
}

/// Returns a scratch file path that does not exist yet.
fn fresh_file(name: &str) -> PathBuf {
    let path = output_path(name);
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => panic!("failed to remove {}: {error}", path.display()),
    }
    path
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("scratch paths are UTF-8")
}

#[test]
fn balance_check_returns_test_card() {
    let emulator = start_emulator();
    let results = run_scenario("balance", &[&emulator.base_url()]);

    results.expect("balance.account", TEST_ACCOUNT);
    results.expect("balance.bonus_id", TEST_BONUS_ID);
    results.expect("balance.amount", "500");
    results.expect("balance_leading_zeros.account", "0012345678");
    results.expect("balance_large.amount", "3000000000");
    results.expect("balance_scanner.amount", "500");
    assert!(emulator.executed_spends().is_empty());
}

#[test]
fn write_off_lowers_balance() {
    let emulator = start_emulator();
    let results = run_scenario("spend", &[&emulator.base_url()]);

    let spends = emulator.executed_spends();
    assert_eq!(spends.len(), 1, "executed write-offs: {spends:?}");
    results.expect("spend.spend_id", &spends[0].spend_id);
    assert_eq!(spends[0].bonus_id, TEST_BONUS_ID);
    assert_eq!(spends[0].amount, 10);
    assert_eq!(spends[0].supplier, DEFAULT_SUPPLIER);
    results.expect("spend.attempt_id", "-");
    results.expect("spend.balance_after", "490");
    assert_eq!(emulator.balance(TEST_BONUS_ID), Some(490));
}

#[test]
fn server_errors_keep_russian_text() {
    let emulator = start_emulator();
    let results = run_scenario("server_errors", &[&emulator.base_url()]);

    results.expect_esbyt_exception("unknown_card", "EsbytException", "Server");
    results.expect("unknown_card.server_code", "4");
    results.expect("unknown_card.http_status", "200");
    results.expect(
        "unknown_card.message",
        "Участник с идентификатором 2700009601999 не найден",
    );

    results.expect_esbyt_exception("windows_1251", "EsbytException", "Server");
    results.expect("windows_1251.server_code", "7");
    results.expect(
        "windows_1251.message",
        "Карта заблокирована, операции с бонусами невозможны",
    );

    results.expect_esbyt_exception("refused_spend", "EsbytException", "Server");
    results.expect("refused_spend.server_code", "5");
    assert!(emulator.executed_spends().is_empty());
}

#[test]
fn invalid_input_raises_invalid_argument() {
    let emulator = start_emulator();
    let journal = fresh_file("invalid_input.journal");
    let results = run_scenario("invalid_input", &[&emulator.base_url(), path_str(&journal)]);

    let invalid_arguments = [
        ("invalid_bonus_id", "bonus_id \"27000O9601205\" is invalid"),
        ("null_bonus_id", "bonus_id is NULL"),
        (
            "nul_in_bonus_id",
            "bonus_id contains a NUL character at index 13",
        ),
        ("lone_surrogate", "bonus_id is not valid UTF-16 text"),
        ("zero_amount", "amount 0 is invalid"),
        ("amount_too_large", "amount 2147483648 is invalid"),
        ("unknown_setting", "unknown setting \"no_such_setting\""),
        ("timeout_out_of_range", "timeout_ms \"0\" is invalid"),
        (
            "unknown_attempt",
            "attempt_id \"1-2-3\" is not in the spend journal",
        ),
    ];
    for (prefix, message_start) in invalid_arguments {
        results.expect_esbyt_exception(prefix, "EsbytException", "InvalidArgument");
        assert!(
            results.message(prefix).starts_with(message_start),
            "{prefix}: message {:?} does not start with {message_start:?}",
            results.message(prefix)
        );
    }

    let config_errors = [
        ("no_journal", "journal_file is not set"),
        ("missing_url", "url is not set"),
        ("http_not_allowed", "set allow_http to 1"),
        ("no_supplier", "supplier is not set"),
    ];
    for (prefix, message_part) in config_errors {
        results.expect_esbyt_exception(prefix, "EsbytException", "Config");
        assert!(
            results.message(prefix).contains(message_part),
            "{prefix}: message {:?} does not contain {message_part:?}",
            results.message(prefix)
        );
    }

    results.expect("null_options.type", "ArgumentNullException");
    assert!(
        emulator.executed_spends().is_empty(),
        "invalid input reached the server: {:?}",
        emulator.executed_spends()
    );
}

#[test]
fn outcome_unknown_write_off_is_journaled() {
    let emulator = start_emulator();
    let journal = fresh_file("outcome_unknown.journal");
    let results = run_scenario(
        "outcome_unknown",
        &[&emulator.base_url(), path_str(&journal)],
    );
    let fault_card = Fault::CloseAfterExecute.bonus_id();

    results.expect("pending.count_before", "0");
    results.expect_esbyt_exception(
        "outcome_unknown",
        "EsbytOutcomeUnknownException",
        "OutcomeUnknown",
    );
    results.expect("outcome_unknown.cause", "Connection");
    results.expect("outcome_unknown.is_esbyt_exception", "yes");
    let attempt_id = results.get("outcome_unknown.attempt_id");
    assert_ne!(
        attempt_id, "-",
        "the outcome-unknown write-off has no attempt id"
    );

    results.expect("pending.count", "1");
    results.expect("pending.0.attempt_id_matches", "yes");
    results.expect("pending.0.bonus_id", fault_card);
    results.expect("pending.0.amount", "10");
    results.expect("pending.0.supplier", &DEFAULT_SUPPLIER.to_string());
    results.expect("pending.0.state", "OutcomeUnknown");
    results.expect("pending.0.cause", "Connection");
    results.expect("pending.0.recorded_recently", "yes");
    assert!(
        !results.values.contains_key("unexpected_spend_result.type"),
        "a write-off on the fault card did not end in outcome unknown: {}",
        results.run.describe()
    );

    let attempts = PENDING_ATTEMPTS.to_string();
    results.expect("pending.count_after_more", &attempts);
    results.expect("pending.distinct_attempt_ids", &attempts);
    results.expect("pending.outcome_unknown_with_cause_connection", &attempts);
    results.expect("pending.count_after_resolve", "0");
    results.expect("resolve_twice.type", "none");

    // The fault executes each write-off before it closes the connection.
    let spends = emulator.executed_spends();
    assert_eq!(spends.len(), PENDING_ATTEMPTS, "executed: {spends:?}");
    assert!(spends.iter().all(|spend| spend.bonus_id == fault_card));

    let text = fs::read_to_string(&journal).expect("failed to read the journal");
    let count_records = |kind: &str, part: &str| {
        text.lines()
            .filter(|line| line.starts_with(kind) && line.contains(part))
            .count()
    };
    assert_eq!(count_records("A\t", fault_card), PENDING_ATTEMPTS, "{text}");
    assert_eq!(
        count_records("O\t", "\tunknown\t"),
        PENDING_ATTEMPTS,
        "{text}"
    );
    assert_eq!(
        count_records("R\t", "\tбаланс проверен: списано\t"),
        PENDING_ATTEMPTS,
        "{text}"
    );
    assert!(
        text.lines()
            .any(|line| line.starts_with(&format!("A\t{attempt_id}\t"))),
        "attempt {attempt_id} is not in the journal:\n{text}"
    );
}

#[test]
fn threads_share_one_client() {
    let emulator = start_emulator();
    let results = run_scenario("threads", &[&emulator.base_url()]);

    // 8 threads, each with 20 balance checks and 5 write-offs of 1.
    results.expect("threads.checks", "160");
    results.expect("threads.wrong_balances", "0");
    results.expect("threads.failures", "0");
    results.expect("threads.spends", "40");
    results.expect("threads.distinct_spend_ids", "40");
    assert_eq!(emulator.executed_spends().len(), 40);
    assert_eq!(emulator.balance(LEADING_ZEROS_CARD), Some(960));
}

#[test]
fn dispose_frees_client_once() {
    let emulator = start_emulator();
    let results = run_scenario("dispose", &[&emulator.base_url()]);

    results.expect("dispose.check_before", "500");
    for call in [
        "check_after",
        "spend_after",
        "pending_after",
        "resolve_after",
        "marshaller",
    ] {
        results.expect(&format!("dispose.{call}.type"), "ObjectDisposedException");
    }
    results.expect("dispose.second_dispose.type", "none");
    // esbyt_client_free of a freed handle returns ESBYT_INVALID_ARGUMENT.
    results.expect("dispose.free_again_status", "InvalidArgument");

    results.expect("dispose.in_flight_handle_closed", "no");
    results.expect("dispose.in_flight_new_call.type", "ObjectDisposedException");
    results.expect("dispose.in_flight_result", "1000");
    results.expect("dispose.in_flight_handle_closed_after_return", "yes");
    results.expect("dispose.in_flight_free_again_status", "InvalidArgument");
    results.expect("dispose.finalizer_free_again_status", "InvalidArgument");
    assert!(emulator.executed_spends().is_empty());
}

#[test]
fn log_records_reach_handler_and_file() {
    let emulator = start_emulator();
    let log_file = fresh_file("logging.log");
    let results = run_scenario("logging", &[&emulator.base_url(), path_str(&log_file)]);

    results.expect("log.check", "500");
    let records: usize = results
        .get("log.records")
        .parse()
        .expect("log.records is a number");
    assert!(records > 0, "the handler received no record");
    results.expect("log.max_level", "Info");
    results.expect("log.masked_card_number", "yes");
    results.expect("log.full_card_number", "no");
    results.expect("log.throwing_handler_check", "500");
    results.expect("log.records_after_removal", "0");

    results.expect("log_file.check", "500");
    let text = fs::read_to_string(&log_file).expect("failed to read the log file");
    assert!(text.contains(MASKED_TEST_CARD), "log file:\n{text}");
    assert!(!text.contains(TEST_BONUS_ID), "log file:\n{text}");
}

#[test]
fn config_file_settings_apply() {
    let emulator = start_emulator();
    let good = fresh_file("good.toml");
    let bad = fresh_file("bad.toml");
    let url = emulator.base_url();
    fs::write(
        &good,
        format!("url = \"{url}\"\nallow_http = true\nsupplier = {DEFAULT_SUPPLIER}\n"),
    )
    .expect("failed to write the configuration file");
    fs::write(&bad, format!("url = \"{url}\"\nno_such_key = 1\n"))
        .expect("failed to write the configuration file");

    let results = run_scenario("config_file", &[path_str(&good), path_str(&bad)]);

    results.expect("config_file.check", "500");
    let spends = emulator.executed_spends();
    assert_eq!(spends.len(), 1, "executed write-offs: {spends:?}");
    results.expect("config_file.spend_id", &spends[0].spend_id);
    results.expect_esbyt_exception(
        "config_file.supplier_overridden",
        "EsbytException",
        "Server",
    );
    results.expect("config_file.supplier_overridden.server_code", "5");
    results.expect_esbyt_exception("config_file.bad", "EsbytException", "Config");
    let message = results.message("config_file.bad");
    assert!(message.contains("no_such_key"), "message: {message}");
    assert!(message.contains("bad.toml"), "message: {message}");
}

#[test]
fn example_writes_off() {
    let emulator = start_emulator();
    let run = run_mono(&programs().example, &[&emulator.base_url()]);

    assert_eq!(run.exit_code, Some(0), "{}", run.describe());
    let spends = emulator.executed_spends();
    assert_eq!(spends.len(), 1, "executed write-offs: {spends:?}");
    let expected = format!(
        "account {TEST_ACCOUNT}\nbalance 500\nspend_id {}\nbalance 490\n",
        spends[0].spend_id
    );
    assert_eq!(run.stdout, expected, "{}", run.describe());
    assert_eq!(run.stderr, "", "{}", run.describe());
}

#[test]
fn example_reports_unknown_card() {
    let emulator = start_emulator();
    let run = run_mono(
        &programs().example,
        &[&emulator.base_url(), "1111", "2700009601999"],
    );

    assert_eq!(run.exit_code, Some(1), "{}", run.describe());
    assert_eq!(run.stdout, "", "{}", run.describe());
    assert_eq!(
        run.stderr,
        "ESBYT_SERVER: Участник с идентификатором 2700009601999 не найден\n\
         server_code 4\n\
         http_status 200\n",
        "{}",
        run.describe()
    );
    assert!(emulator.executed_spends().is_empty());
}

/// Runs the layout scenario once for the tests that read it.
fn layout() -> &'static Results {
    static LAYOUT: OnceLock<Results> = OnceLock::new();
    LAYOUT.get_or_init(|| run_scenario("layout", &[]))
}

/// C program that prints the size and field offsets of every record of the header in
/// the form of the layout scenario.
const LAYOUT_PROGRAM: &str = r#"#include <stddef.h>
#include <stdio.h>
#include "esbyt.h"

#define SIZE(type) printf("size.%s %zu\n", #type, sizeof(type))
#define OFFSET(type, field) printf("offset.%s.%s %zu\n", #type, #field, offsetof(type, field))

int main(void)
{
    SIZE(esbyt_error);
    OFFSET(esbyt_error, server_code);
    OFFSET(esbyt_error, status);
    OFFSET(esbyt_error, http_status);
    OFFSET(esbyt_error, cause);
    OFFSET(esbyt_error, detail);
    OFFSET(esbyt_error, message_length);
    OFFSET(esbyt_error, reserved);
    OFFSET(esbyt_error, message);
    SIZE(esbyt_balance);
    OFFSET(esbyt_balance, amount);
    OFFSET(esbyt_balance, account);
    OFFSET(esbyt_balance, bonus_id);
    SIZE(esbyt_write_off);
    OFFSET(esbyt_write_off, spend_id);
    OFFSET(esbyt_write_off, attempt_id);
    SIZE(esbyt_pending_spend);
    OFFSET(esbyt_pending_spend, time_ms);
    OFFSET(esbyt_pending_spend, supplier);
    OFFSET(esbyt_pending_spend, amount);
    OFFSET(esbyt_pending_spend, state);
    OFFSET(esbyt_pending_spend, cause);
    OFFSET(esbyt_pending_spend, attempt_id);
    OFFSET(esbyt_pending_spend, bonus_id);
    return 0;
}
"#;

/// Compiles and runs [`LAYOUT_PROGRAM`] and returns its lines as key and value.
fn c_layout() -> BTreeMap<String, String> {
    let source = output_path("layout.c");
    let program = output_path("layout");
    fs::write(&source, LAYOUT_PROGRAM).expect("failed to write the layout program");
    let mut include = OsString::from("-I");
    include.push(source_path("include"));
    let output = match Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror"])
        .arg(include)
        .arg(&source)
        .arg("-o")
        .arg(&program)
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == io::ErrorKind::NotFound => panic!(
            "`cc` was not found on PATH: install a C compiler (on Debian: apt-get install gcc). \
             This test fails rather than skips without it."
        ),
        Err(error) => panic!("failed to start `cc`: {error}"),
    };
    assert!(
        output.status.success(),
        "compiling the layout program failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = Command::new(&program)
        .output()
        .expect("failed to run the layout program");
    assert!(output.status.success(), "the layout program failed");
    String::from_utf8(output.stdout)
        .expect("the layout program prints ASCII")
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

#[test]
fn record_layout_matches_c_compiler() {
    let c_layout = c_layout();
    let results = layout();
    let binding_layout: BTreeMap<&str, &str> = results
        .values
        .iter()
        .filter(|(key, _)| key.starts_with("size.") || key.starts_with("offset."))
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();

    for (key, c_value) in &c_layout {
        assert_eq!(
            binding_layout.get(key.as_str()),
            Some(&c_value.as_str()),
            "{key}: the C compiler says {c_value}"
        );
    }
    let unknown: Vec<&&str> = binding_layout
        .keys()
        .filter(|key| !c_layout.contains_key(**key))
        .collect();
    assert!(
        unknown.is_empty(),
        "the binding has fields that the layout program does not print: {unknown:?}"
    );
    // The sizes that the header's comments and the binding's documentation state.
    assert_eq!(c_layout["size.esbyt_error"], "1056");
    assert_eq!(c_layout["size.esbyt_balance"], "136");
    assert_eq!(c_layout["size.esbyt_write_off"], "128");
    assert_eq!(c_layout["size.esbyt_pending_spend"], "160");
}

/// Returns the `#define ESBYT_NAME NUMBER` constants of the header.
fn header_constants() -> BTreeMap<String, String> {
    let header = fs::read_to_string(source_path(HEADER)).expect("failed to read the header");
    header
        .lines()
        .filter_map(|line| line.strip_prefix("#define "))
        .filter_map(|definition| definition.split_once(' '))
        .filter(|(name, value)| name.starts_with("ESBYT_") && value.parse::<i64>().is_ok())
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

#[test]
fn constants_match_header() {
    let header = header_constants();
    let results = layout();
    let binding: BTreeMap<&str, &str> = results
        .values
        .iter()
        .filter_map(|(key, value)| Some((key.strip_prefix("constant.")?, value.as_str())))
        .collect();
    assert!(
        header.contains_key("ESBYT_OUTCOME_UNKNOWN"),
        "found no status constant in {HEADER}"
    );

    for (name, value) in &header {
        assert_eq!(
            binding.get(name.as_str()),
            Some(&value.as_str()),
            "{name} is {value} in {HEADER}; add it to the binding's enums or constants"
        );
    }
    let extra: Vec<&&str> = binding
        .keys()
        .filter(|name| !header.contains_key(**name) && !BINDING_ONLY_CONSTANTS.contains(name))
        .collect();
    assert!(
        extra.is_empty(),
        "the binding declares constants that {HEADER} does not: {extra:?}"
    );

    // Each status's enum member converts to the name that the library gives it.
    let mut statuses = 0;
    for (key, library_name) in &results.values {
        if let Some(binding_name) = key.strip_prefix("status_name.") {
            assert_eq!(binding_name, library_name, "esbyt_status_name differs");
            statuses += 1;
        }
    }
    assert_eq!(
        statuses, 11,
        "expected the 11 statuses ESBYT_OK to ESBYT_INTERNAL"
    );
}

#[test]
fn loaded_library_matches_binding() {
    let results = layout();
    results.expect("library.version", env!("CARGO_PKG_VERSION"));
    results.expect(
        "library.abi_version",
        &header_constants()["ESBYT_ABI_VERSION"],
    );
    results.expect("library.compatible", "yes");
    results.expect(
        "status_description.ESBYT_SERVER",
        "the bonus server refused the operation",
    );
    // Preload does nothing outside Windows.
    results.expect("preload.result", "not-windows");
}

/// One `[DllImport(...)]` of the binding with the declaration that follows it.
struct Import {
    attribute: String,
    declaration: String,
}

/// Returns the DllImports of the binding's source.
fn binding_imports() -> Vec<Import> {
    let source =
        fs::read_to_string(source_path(BINDING_SOURCE)).expect("failed to read the binding");
    source
        .split("[DllImport(")
        .skip(1)
        .map(|chunk| {
            let (attribute, rest) = chunk
                .split_once(")]")
                .expect("a DllImport attribute ends with )]");
            let declaration = rest
                .split_once(';')
                .expect("an extern declaration ends with ;")
                .0;
            Import {
                attribute: attribute.to_owned(),
                declaration: declaration.trim().to_owned(),
            }
        })
        .collect()
}

/// Returns the value of `EntryPoint = "..."` in an attribute.
fn entry_point(attribute: &str) -> Option<&str> {
    let rest = attribute.split_once("EntryPoint = \"")?.1;
    Some(rest.split_once('"')?.0)
}

/// Returns whether a C# fragment uses the keyword `bool` as a whole word.
fn mentions_bool(code: &str) -> bool {
    code.split(|character: char| !(character.is_ascii_alphanumeric() || character == '_'))
        .any(|word| word == "bool")
}

#[test]
fn binding_imports_every_export() {
    let imports = binding_imports();
    let library_imports: Vec<&Import> = imports
        .iter()
        .filter(|import| import.attribute.starts_with("LibraryName"))
        .collect();
    assert!(
        !library_imports.is_empty(),
        "found no DllImport(LibraryName, ...) in {BINDING_SOURCE}"
    );

    let mut bound = BTreeSet::new();
    for import in &library_imports {
        let name = entry_point(&import.attribute).unwrap_or_else(|| {
            panic!(
                "DllImport without EntryPoint before `{}`",
                import.declaration
            )
        });
        assert!(
            import
                .attribute
                .contains("CallingConvention = CallingConvention.Cdecl"),
            "{name} is not declared cdecl"
        );
        assert!(
            !mentions_bool(&import.declaration),
            "{name} has a bool in its signature, whose size differs between marshallers: {}",
            import.declaration
        );
        assert!(bound.insert(name.to_owned()), "{name} is imported twice");
    }

    let exported = support::shared_library::exported_functions();
    let unbound: Vec<&String> = exported.difference(&bound).collect();
    assert!(
        unbound.is_empty(),
        "libesbyt.so exports functions that {BINDING_SOURCE} does not import: {unbound:?}"
    );
    let missing: Vec<&String> = bound.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "{BINDING_SOURCE} imports functions that libesbyt.so does not export: {missing:?}"
    );
}

#[test]
fn binding_records_have_no_bool() {
    let source =
        fs::read_to_string(source_path(BINDING_SOURCE)).expect("failed to read the binding");
    let mut records = 0;
    for chunk in source.split("internal struct ").skip(1) {
        let name = chunk.split_whitespace().next().unwrap_or_default();
        let body = chunk.split_once('}').expect("a struct body ends with }").0;
        assert!(!mentions_bool(body), "struct {name} has a bool field");
        records += 1;
    }
    assert_eq!(records, 4, "expected the 4 records of {HEADER}");
}
