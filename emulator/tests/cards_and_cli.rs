//! Cards files and the `esbyt-emulator` binary.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{TEST_CARD_XML, get};
use esbyt_emulator::{Card, CardsFileError, Emulator, EmulatorConfig};

const BINARY: &str = env!("CARGO_BIN_EXE_esbyt-emulator");

/// A file in the system temporary directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn with_contents(contents: &str) -> TempFile {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "esbyt-emulator-test-{}-{}.txt",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let path = std::env::temp_dir().join(name);
        fs::write(&path, contents).expect("write temporary cards file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Kills the child process on drop, so that a failed assertion leaves no server behind.
struct RunningBinary(Child);

impl Drop for RunningBinary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const CARDS: &str = "\
# bonus_id     account     balance
2700009601205  1055444444  500

77             0000000077  12   # short id, account of zeros
";

#[test]
fn cards_file_loads_and_serves() {
    let file = TempFile::with_contents(CARDS);
    let cards = EmulatorConfig::load_cards_file(&file.0).unwrap();
    assert_eq!(
        cards,
        vec![
            Card::new("2700009601205", "1055444444", 500),
            Card::new("77", "0000000077", 12),
        ]
    );

    let config = EmulatorConfig {
        cards,
        ..EmulatorConfig::with_default_cards()
    };
    let emulator = Emulator::start("127.0.0.1:0", config).unwrap();
    let response = get(emulator.local_addr(), "/?command=check_bonus&bonus_id=77");
    let expected = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<response>\n    <account>0000000077</account>\n    <bonus_id>77</bonus_id>\n    <amount>12</amount>\n    <result>0</result>\n</response>";
    assert_eq!(response.body, expected);
    assert_eq!(emulator.balance("2700009601212"), None);
}

#[test]
fn cards_file_bad_line_error() {
    let file =
        TempFile::with_contents("# cards\n2700009601205 1055444444 500\n77 0000000077 lots\n");
    let error = EmulatorConfig::load_cards_file(&file.0).unwrap_err();
    assert!(
        matches!(error, CardsFileError::InvalidLine { line: 3, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "{}:3: invalid balance \"lots\": expected a non-negative integer",
            file.0.display()
        )
    );
}

#[test]
fn cards_file_missing_is_read_error() {
    let path = std::env::temp_dir().join("esbyt-emulator-test-no-such-file.txt");
    let error = EmulatorConfig::load_cards_file(&path).unwrap_err();
    assert!(matches!(error, CardsFileError::Read { .. }), "{error:?}");
    let prefix = format!("failed to read cards file {}: ", path.display());
    assert!(error.to_string().starts_with(&prefix), "{error}");
}

/// Starts the binary and returns it with the address from its first stdout line.
fn spawn_binary(args: &[&str]) -> (RunningBinary, SocketAddr) {
    let child = Command::new(BINARY)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start esbyt-emulator");
    let mut running = RunningBinary(child);
    let stdout = running.0.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();

    let url = line
        .trim_end()
        .strip_prefix("esbyt-emulator listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let addr = url
        .trim_end_matches('/')
        .parse()
        .expect("address in the first line");
    (running, addr)
}

#[test]
fn binary_serves_and_prints_address() {
    let (_binary, addr) = spawn_binary(&["--listen", "127.0.0.1:0", "--quiet"]);
    let response = get(addr, "/bonus/?command=check_bonus&bonus_id=2700009601205");
    assert_eq!(response.body, TEST_CARD_XML);
}

#[test]
fn binary_uses_cards_file_and_suppliers() {
    let file = TempFile::with_contents(CARDS);
    let cards = file.0.to_str().unwrap();
    let args = ["--listen=127.0.0.1:0", "--cards", cards, "--supplier", "42"];
    let (_binary, addr) = spawn_binary(&args);

    let spent = get(
        addr,
        "/?command=spend_bonus&bonus_id=77&supplier=42&amount=2",
    );
    assert!(
        spent.body.contains("<spend_id>000000001</spend_id>"),
        "{}",
        spent.body
    );
    let default_code = get(
        addr,
        "/?command=spend_bonus&bonus_id=77&supplier=1111&amount=2",
    );
    assert!(
        default_code.body.contains("<result>5</result>"),
        "{}",
        default_code.body
    );
    let check = get(addr, "/?command=check_bonus&bonus_id=77");
    assert!(check.body.contains("<amount>10</amount>"), "{}", check.body);
}

#[test]
fn binary_help_describes_cards_format() {
    let output = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(help.contains("Usage: esbyt-emulator"), "{help}");
    assert!(help.contains("BONUS_ID ACCOUNT BALANCE"), "{help}");
    assert!(help.contains("2700009601205"), "{help}");
}

#[test]
fn binary_rejects_unknown_option() {
    let output = Command::new(BINARY).arg("--port").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("esbyt-emulator: unknown option --port\n"),
        "{stderr}"
    );
}

#[test]
fn binary_reports_bad_cards_file() {
    let file = TempFile::with_contents("1 2\n");
    let cards = file.0.to_str().unwrap();
    let output = Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--cards", cards])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let expected =
        format!("esbyt-emulator: {cards}:1: expected 3 fields BONUS_ID ACCOUNT BALANCE, found 2\n");
    assert_eq!(stderr, expected);
}
