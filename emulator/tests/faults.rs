//! Faults over real loopback sockets: the exact bytes on the wire, how the connection
//! ends, and whether a write-off was executed, for every fault by card and by the
//! configured switch, for check_bonus and spend_bonus.

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::tls::{TlsStream, connect_as, pki_client_config};
use common::{TempDir, error_xml, spend_xml};
use esbyt_emulator::{
    BALANCE_PATH, Card, DEFAULT_SUPPLIER, Emulator, EmulatorConfig, ExecutedSpend, Fault,
    SPENDS_PATH, TlsConfig, generate_test_pki, result_code,
};

/// A regular card with the same balance as the fault cards.
const REGULAR_CARD: &str = "2700009601212";
const REGULAR_ACCOUNT: &str = "0012345678";
const START_BALANCE: i64 = 1000;
const SPEND_AMOUNT: i64 = 10;

/// Pause of the delay fault in these tests. Long enough to observe the executed
/// write-off before the response arrives.
const TEST_DELAY: Duration = Duration::from_millis(1000);

/// Maximum time a test waits for bytes that should arrive.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Time that a connection that should stay open must stay silent.
const SILENCE: Duration = Duration::from_millis(200);

const XML_HEAD: &str = "Content-Type: text/xml; charset=utf-8\r\n";

const NGINX_502_PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

const NGINX_302_PAGE: &str = "<html>\r\n<head><title>302 Found</title></head>\r\n<body>\r\n<center><h1>302 Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// How a test selects the fault.
#[derive(Debug, Clone, Copy)]
enum Selection {
    /// A request on the fault's card, with no configured fault.
    Card,
    /// `EmulatorConfig::fault`, with a request on a regular card.
    Switch,
}

const SELECTIONS: [Selection; 2] = [Selection::Card, Selection::Switch];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Operation {
    Check,
    Spend,
}

const OPERATIONS: [Operation; 2] = [Operation::Check, Operation::Spend];

/// A running emulator and the card that the test sends requests for.
struct Setup {
    emulator: Emulator,
    bonus_id: &'static str,
    account: String,
}

impl Setup {
    fn start(fault: Fault, selection: Selection) -> Setup {
        Setup::start_with(fault, selection, EmulatorConfig::with_default_cards())
    }

    fn start_with(fault: Fault, selection: Selection, base: EmulatorConfig) -> Setup {
        let mut config = EmulatorConfig {
            fault_delay: TEST_DELAY,
            ..base
        };
        let (bonus_id, account) = match selection {
            Selection::Card => {
                let card = config
                    .cards
                    .iter()
                    .find(|card| card.bonus_id == fault.bonus_id())
                    .expect("the fault card is in the card set");
                (fault.bonus_id(), card.account.clone())
            }
            Selection::Switch => {
                config.fault = Some(fault);
                (REGULAR_CARD, REGULAR_ACCOUNT.to_string())
            }
        };
        let emulator = Emulator::start("127.0.0.1:0", config).expect("start the emulator");
        Setup {
            emulator,
            bonus_id,
            account,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.emulator.local_addr()
    }

    fn target(&self, operation: Operation) -> String {
        operation_target(operation, self.bonus_id)
    }

    /// Returns the document that the request gets without a fault, on a fresh emulator.
    fn document(&self, operation: Operation) -> String {
        match operation {
            Operation::Check => check_xml(&self.account, self.bonus_id, START_BALANCE),
            Operation::Spend => spend_xml("000000001"),
        }
    }

    fn assert_executed(&self, context: &str) {
        let expected = vec![ExecutedSpend {
            bonus_id: self.bonus_id.to_string(),
            supplier: DEFAULT_SUPPLIER,
            amount: SPEND_AMOUNT,
            spend_id: "000000001".to_string(),
        }];
        assert_eq!(self.emulator.executed_spends(), expected, "{context}");
        assert_eq!(
            self.emulator.balance(self.bonus_id),
            Some(START_BALANCE - SPEND_AMOUNT),
            "{context}"
        );
    }

    fn assert_not_executed(&self, context: &str) {
        assert_eq!(self.emulator.executed_spends(), vec![], "{context}");
        assert_eq!(
            self.emulator.balance(self.bonus_id),
            Some(START_BALANCE),
            "{context}"
        );
    }

    /// Checks the documented execution: a spend executes when `executes` is true, and a
    /// check never does.
    fn assert_execution(&self, operation: Operation, executes: bool, context: &str) {
        if operation == Operation::Spend && executes {
            self.assert_executed(context);
        } else {
            self.assert_not_executed(context);
        }
    }
}

fn operation_target(operation: Operation, bonus_id: &str) -> String {
    match operation {
        Operation::Check => format!("/bonus/?command=check_bonus&bonus_id={bonus_id}"),
        Operation::Spend => format!(
            "/bonus/?command=spend_bonus&bonus_id={bonus_id}&supplier={DEFAULT_SUPPLIER}&amount={SPEND_AMOUNT}"
        ),
    }
}

fn check_xml(account: &str, bonus_id: &str, amount: i64) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<response>\n    <account>{account}</account>\n    <bonus_id>{bonus_id}</bonus_id>\n    <amount>{amount}</amount>\n    <result>0</result>\n</response>"
    )
}

/// Builds a response as the emulator writes it: the status line, `head_lines` (each
/// ending in CRLF), the empty line and the body.
fn wire(status_line: &str, head_lines: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("{status_line}\r\n{head_lines}\r\n").into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Builds a complete 200 response with an XML body.
fn ok_xml_wire(body: &str) -> Vec<u8> {
    let head = format!("{XML_HEAD}Content-Length: {}\r\n", body.len());
    wire("HTTP/1.1 200 OK", &head, body.as_bytes())
}

/// How the server ended the connection.
#[derive(Debug, PartialEq)]
enum End {
    /// A read returned end of file (FIN, after `close_notify` over TLS).
    Closed,
    /// A read failed with `ConnectionReset` (RST).
    Reset,
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the emulator");
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    stream
}

fn send_get<S: Write>(stream: &mut S, target: &str) {
    let request = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send request");
    stream.flush().expect("flush request");
}

/// Reads until the server closes or resets the connection. Panics on any other error,
/// such as a timeout.
fn read_until_end<S: Read>(stream: &mut S) -> (Vec<u8>, End) {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return (bytes, End::Closed),
            Ok(count) => bytes.extend_from_slice(&chunk[..count]),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => {
                return (bytes, End::Reset);
            }
            Err(error) => panic!(
                "read failed with {error:?} after {:?}",
                String::from_utf8_lossy(&bytes)
            ),
        }
    }
}

/// Reads `count` bytes, or fewer when the connection ends or the read times out, so a
/// mismatch shows what did arrive.
fn read_bytes<S: Read>(stream: &mut S, count: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; count];
    let mut filled = 0;
    while filled < count {
        match stream.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    bytes.truncate(filled);
    bytes
}

/// Asserts that nothing more arrives for [`SILENCE`] and the connection stays open.
fn assert_stays_open(stream: &mut TcpStream, context: &str) {
    stream.set_read_timeout(Some(SILENCE)).unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("{context}: expected an open, silent connection, got {other:?}"),
    }
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
}

fn assert_wire(actual: &[u8], expected: &[u8], context: &str) {
    assert_eq!(
        String::from_utf8_lossy(actual),
        String::from_utf8_lossy(expected),
        "{context}"
    );
    assert_eq!(actual, expected, "{context}: bytes");
}

/// Sends one request and expects exactly `expected` followed by an open, silent
/// connection.
fn expect_response_keeps_connection(setup: &Setup, operation: Operation, expected: &[u8]) {
    let context = format!("{operation:?} on {}", setup.bonus_id);
    let mut stream = connect(setup.addr());
    send_get(&mut stream, &setup.target(operation));
    let actual = read_bytes(&mut stream, expected.len());
    assert_wire(&actual, expected, &context);
    assert_stays_open(&mut stream, &context);
}

/// Sends one request and expects exactly `expected`, then the given end.
fn expect_bytes_then_end(setup: &Setup, operation: Operation, expected: &[u8], end: End) {
    let context = format!("{operation:?} on {}", setup.bonus_id);
    let mut stream = connect(setup.addr());
    send_get(&mut stream, &setup.target(operation));
    let (actual, actual_end) = read_until_end(&mut stream);
    assert_wire(&actual, expected, &context);
    assert_eq!(actual_end, end, "{context}");
}

/// Runs `scenario` for both selections and both operations, each on a fresh emulator.
fn for_each_case(fault: Fault, scenario: impl Fn(&Setup, Operation, &str)) {
    for selection in SELECTIONS {
        for operation in OPERATIONS {
            let setup = Setup::start(fault, selection);
            let context = format!("{fault} by {selection:?}, {operation:?}");
            scenario(&setup, operation, &context);
        }
    }
}

#[test]
fn delay_executes_then_responds_late() {
    for_each_case(Fault::Delay, |setup, operation, context| {
        let mut stream = connect(setup.addr());
        let sent = Instant::now();
        send_get(&mut stream, &setup.target(operation));

        if operation == Operation::Spend {
            // The write-off is executed before the pause, while no byte has arrived yet.
            while setup.emulator.executed_spends().is_empty() {
                assert!(
                    sent.elapsed() < TEST_DELAY,
                    "{context}: not executed in time"
                );
                thread::sleep(Duration::from_millis(5));
            }
            setup.assert_executed(context);
            assert!(sent.elapsed() < TEST_DELAY, "{context}: executed too late");
            assert_stays_open(&mut stream, context);
        }

        let expected = ok_xml_wire(&setup.document(operation));
        let actual = read_bytes(&mut stream, expected.len());
        let elapsed = sent.elapsed();
        assert_wire(&actual, &expected, context);
        assert!(
            elapsed >= TEST_DELAY,
            "{context}: response after {elapsed:?}"
        );
        assert_stays_open(&mut stream, context);
        setup.assert_execution(operation, true, context);
    });
}

#[test]
fn close_after_execute_sends_nothing() {
    for_each_case(Fault::CloseAfterExecute, |setup, operation, context| {
        expect_bytes_then_end(setup, operation, b"", End::Closed);
        setup.assert_execution(operation, true, context);
    });
}

#[test]
fn reset_before_execute_resets() {
    for_each_case(Fault::ResetBeforeExecute, |setup, operation, context| {
        expect_bytes_then_end(setup, operation, b"", End::Reset);
        setup.assert_execution(operation, false, context);
    });
}

#[test]
fn http_500_xml_sends_error_document() {
    let body = error_xml(
        result_code::INTERNAL_ERROR,
        "Внутренняя ошибка сервера, запрос не выполнен",
    );
    let head = format!("{XML_HEAD}Content-Length: {}\r\n", body.len());
    let expected = wire("HTTP/1.1 500 Internal Server Error", &head, body.as_bytes());
    assert_eq!(result_code::INTERNAL_ERROR, 8);
    for_each_case(Fault::Http500Xml, |setup, operation, context| {
        expect_response_keeps_connection(setup, operation, &expected);
        setup.assert_execution(operation, false, context);
    });
}

#[test]
fn http_502_html_sends_nginx_page() {
    let head = format!(
        "Content-Type: text/html\r\nContent-Length: {}\r\nServer: nginx\r\n",
        NGINX_502_PAGE.len()
    );
    let expected = wire("HTTP/1.1 502 Bad Gateway", &head, NGINX_502_PAGE.as_bytes());
    for_each_case(Fault::Http502Html, |setup, operation, context| {
        expect_response_keeps_connection(setup, operation, &expected);
        setup.assert_execution(operation, false, context);
    });
}

#[test]
fn empty_200_executes_and_sends_no_body() {
    let expected = wire(
        "HTTP/1.1 200 OK",
        &format!("{XML_HEAD}Content-Length: 0\r\n"),
        b"",
    );
    for_each_case(Fault::Empty200, |setup, operation, context| {
        expect_response_keeps_connection(setup, operation, &expected);
        setup.assert_execution(operation, true, context);
    });
}

#[test]
fn truncated_length_cuts_document() {
    for_each_case(Fault::TruncatedLength, |setup, operation, context| {
        let document = setup.document(operation);
        let half = &document.as_bytes()[..document.len() / 2];
        let head = format!("{XML_HEAD}Content-Length: {}\r\n", document.len());
        let expected = wire("HTTP/1.1 200 OK", &head, half);
        expect_bytes_then_end(setup, operation, &expected, End::Closed);
        setup.assert_execution(operation, true, context);
    });
}

#[test]
fn truncated_close_cuts_document() {
    for_each_case(Fault::TruncatedClose, |setup, operation, context| {
        let document = setup.document(operation);
        let half = &document.as_bytes()[..document.len() / 2];
        let head = format!("{XML_HEAD}Connection: close\r\n");
        let expected = wire("HTTP/1.1 200 OK", &head, half);
        expect_bytes_then_end(setup, operation, &expected, End::Closed);
        setup.assert_execution(operation, true, context);
    });
}

#[test]
fn windows_1251_sends_cp1251_document() {
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"windows-1251\"?>\n<response>\n\t<result>{}</result>\n\t<message>Карта заблокирована, операции с бонусами невозможны</message >\n</response>",
        result_code::CARD_BLOCKED
    );
    let (body, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&text);
    assert!(!unmappable);
    // "Карта" in windows-1251, written out so that the check does not rest on the
    // encoder alone.
    let karta: &[u8] = b"\xCA\xE0\xF0\xF2\xE0";
    assert!(body.windows(karta.len()).any(|window| window == karta));
    assert!(std::str::from_utf8(&body).is_err());
    let head = format!(
        "Content-Type: text/xml; charset=windows-1251\r\nContent-Length: {}\r\n",
        body.len()
    );
    let expected = wire("HTTP/1.1 200 OK", &head, &body);
    assert_eq!(result_code::CARD_BLOCKED, 7);
    for_each_case(Fault::Windows1251, |setup, operation, context| {
        expect_response_keeps_connection(setup, operation, &expected);
        setup.assert_execution(operation, false, context);
    });
}

#[test]
fn idle_drop_resets_next_request() {
    for_each_case(Fault::IdleDrop, |setup, first, context| {
        let mut stream = connect(setup.addr());
        send_get(&mut stream, &setup.target(first));
        let expected = ok_xml_wire(&setup.document(first));
        let actual = read_bytes(&mut stream, expected.len());
        assert_wire(&actual, &expected, context);
        assert_stays_open(&mut stream, context);
        setup.assert_execution(first, true, context);

        // The next request, a spend on a regular card, is read and reset unexecuted.
        let journal = setup.emulator.executed_spends();
        send_get(
            &mut stream,
            &operation_target(Operation::Spend, REGULAR_CARD),
        );
        let (actual, end) = read_until_end(&mut stream);
        assert_wire(&actual, b"", context);
        assert_eq!(end, End::Reset, "{context}");
        assert_eq!(setup.emulator.executed_spends(), journal, "{context}");
        setup.assert_execution(first, true, context);
    });
}

#[test]
fn idle_drop_spares_first_requests() {
    let setup = Setup::start(Fault::IdleDrop, Selection::Card);
    for round in 1..=2 {
        let mut stream = connect(setup.addr());
        send_get(&mut stream, &setup.target(Operation::Check));
        let expected = ok_xml_wire(&setup.document(Operation::Check));
        let actual = read_bytes(&mut stream, expected.len());
        assert_wire(&actual, &expected, &format!("round {round}"));
    }
}

#[test]
fn redirect_points_at_moved_path() {
    for_each_case(Fault::Redirect, |setup, operation, context| {
        let target = setup.target(operation);
        let query = target.split_once('?').unwrap().1;
        let head = format!(
            "Content-Type: text/html\r\nContent-Length: {}\r\nLocation: /moved/?{query}\r\nServer: nginx\r\n",
            NGINX_302_PAGE.len()
        );
        let expected = wire("HTTP/1.1 302 Found", &head, NGINX_302_PAGE.as_bytes());
        let mut stream = connect(setup.addr());
        send_get(&mut stream, &target);
        let actual = read_bytes(&mut stream, expected.len());
        assert_wire(&actual, &expected, context);
        assert_stays_open(&mut stream, context);

        // A client that follows the redirect gets 404 and executes nothing.
        send_get(&mut stream, &format!("/moved/?{query}"));
        let text =
            "Not found: /moved/. The redirect fault points here, and this path executes nothing.\n";
        let head = format!(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n",
            text.len()
        );
        let expected = wire("HTTP/1.1 404 Not Found", &head, text.as_bytes());
        let actual = read_bytes(&mut stream, expected.len());
        assert_wire(&actual, &expected, context);
        setup.assert_execution(operation, false, context);
    });
}

#[test]
fn executing_fault_on_invalid_spend_executes_nothing() {
    let setup = Setup::start(Fault::CloseAfterExecute, Selection::Card);
    let target = format!(
        "/bonus/?command=spend_bonus&bonus_id={}&supplier={DEFAULT_SUPPLIER}&amount=1001",
        setup.bonus_id
    );
    let mut stream = connect(setup.addr());
    send_get(&mut stream, &target);
    let (actual, end) = read_until_end(&mut stream);
    assert_wire(&actual, b"", "insufficient balance");
    assert_eq!(end, End::Closed);
    setup.assert_not_executed("insufficient balance");
}

#[test]
fn switch_overrides_fault_card() {
    let config = EmulatorConfig {
        fault: Some(Fault::Http502Html),
        ..EmulatorConfig::with_default_cards()
    };
    let emulator = Emulator::start("127.0.0.1:0", config).unwrap();
    let bonus_id = Fault::CloseAfterExecute.bonus_id();
    let mut stream = connect(emulator.local_addr());
    send_get(&mut stream, &operation_target(Operation::Spend, bonus_id));
    let actual = read_bytes(&mut stream, "HTTP/1.1 502 Bad Gateway\r\n".len());
    assert_wire(&actual, b"HTTP/1.1 502 Bad Gateway\r\n", "status line");
    assert_eq!(emulator.executed_spends(), vec![]);
    assert_eq!(emulator.balance(bonus_id), Some(START_BALANCE));
}

#[test]
fn switch_spares_other_paths() {
    let config = EmulatorConfig {
        fault: Some(Fault::ResetBeforeExecute),
        ..EmulatorConfig::with_default_cards()
    };
    let emulator = Emulator::start("127.0.0.1:0", config).unwrap();
    let cases = [
        ("/emulator/spends", "200 OK"),
        ("/emulator/balance?bonus_id=2700009601212", "200 OK"),
        ("/moved/", "404 Not Found"),
        (
            "/other/?command=check_bonus&bonus_id=2700009601212",
            "404 Not Found",
        ),
    ];
    for (target, status) in cases {
        let mut stream = connect(emulator.local_addr());
        send_get(&mut stream, target);
        let expected = format!("HTTP/1.1 {status}\r\n");
        let actual = read_bytes(&mut stream, expected.len());
        assert_wire(&actual, expected.as_bytes(), target);
    }
}

#[test]
fn fault_card_outside_card_set_has_no_fault() {
    let bonus_id = Fault::ResetBeforeExecute.bonus_id();
    let config = EmulatorConfig {
        cards: vec![Card::new(REGULAR_CARD, REGULAR_ACCOUNT, START_BALANCE)],
        ..EmulatorConfig::with_default_cards()
    };
    let emulator = Emulator::start("127.0.0.1:0", config).unwrap();
    let mut stream = connect(emulator.local_addr());
    send_get(&mut stream, &operation_target(Operation::Check, bonus_id));
    let body = error_xml(
        result_code::UNKNOWN_CARD,
        &format!("Участник с идентификатором {bonus_id} не найден"),
    );
    let expected = ok_xml_wire(&body);
    let actual = read_bytes(&mut stream, expected.len());
    assert_wire(&actual, &expected, "unknown fault card");
}

#[test]
fn fault_card_from_custom_card_set_fires() {
    let bonus_id = Fault::ResetBeforeExecute.bonus_id();
    let config = EmulatorConfig {
        cards: vec![Card::new(bonus_id, "77", 5)],
        ..EmulatorConfig::with_default_cards()
    };
    let emulator = Emulator::start("127.0.0.1:0", config).unwrap();
    let mut stream = connect(emulator.local_addr());
    send_get(&mut stream, &operation_target(Operation::Check, bonus_id));
    let (actual, end) = read_until_end(&mut stream);
    assert_wire(&actual, b"", "custom fault card");
    assert_eq!(end, End::Reset);
}

#[test]
fn delay_does_not_hold_shutdown() {
    let config = EmulatorConfig {
        fault: Some(Fault::Delay),
        fault_delay: Duration::from_secs(30),
        ..EmulatorConfig::with_default_cards()
    };
    let emulator = Emulator::start("127.0.0.1:0", config).unwrap();
    let mut stream = connect(emulator.local_addr());
    send_get(
        &mut stream,
        &operation_target(Operation::Spend, REGULAR_CARD),
    );
    let waited = Instant::now();
    while emulator.executed_spends().is_empty() {
        assert!(waited.elapsed() < READ_TIMEOUT, "spend not executed");
        thread::sleep(Duration::from_millis(5));
    }

    let started = Instant::now();
    emulator.shutdown();
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(2),
        "shutdown took {elapsed:?}"
    );
    let (actual, _) = read_until_end(&mut stream);
    assert_wire(&actual, b"", "no response after shutdown");
}

#[test]
fn idle_close_ms_closes_kept_alive_connection() {
    let config = EmulatorConfig {
        keep_alive_timeout: Duration::from_millis(300),
        ..EmulatorConfig::with_default_cards()
    };
    let emulator = Emulator::start("127.0.0.1:0", config).unwrap();
    let target = operation_target(Operation::Check, REGULAR_CARD);
    let expected = ok_xml_wire(&check_xml(REGULAR_ACCOUNT, REGULAR_CARD, START_BALANCE));

    let mut stream = connect(emulator.local_addr());
    send_get(&mut stream, &target);
    let actual = read_bytes(&mut stream, expected.len());
    let answered = Instant::now();
    assert_wire(&actual, &expected, "first response");
    let (rest, end) = read_until_end(&mut stream);
    let elapsed = answered.elapsed();
    assert_wire(&rest, b"", "after the response");
    assert_eq!(end, End::Closed);
    assert!(
        elapsed >= Duration::from_millis(250),
        "closed after {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "closed after {elapsed:?}");

    // A new connection still has the full first-request wait.
    let mut slow = connect(emulator.local_addr());
    thread::sleep(Duration::from_millis(700));
    send_get(&mut slow, &target);
    let actual = read_bytes(&mut slow, expected.len());
    assert_wire(&actual, &expected, "first request after 700 ms");
}

#[test]
fn zero_keep_alive_timeout_fails_start() {
    let config = EmulatorConfig {
        keep_alive_timeout: Duration::ZERO,
        ..EmulatorConfig::with_default_cards()
    };
    let error = Emulator::start("127.0.0.1:0", config).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        error.to_string(),
        "invalid emulator configuration: keep_alive_timeout is zero: expected at least 1 ms"
    );
}

/// Sends a GET on a new connection and returns the status line and the body, read up
/// to the close that `Connection: close` requests.
fn get_text(addr: SocketAddr, target: &str) -> (String, String) {
    let mut stream = connect(addr);
    let request = format!("GET {target} HTTP/1.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let (bytes, end) = read_until_end(&mut stream);
    assert_eq!(end, End::Closed, "{target}");
    let text = String::from_utf8(bytes).expect("UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let status_line = head.lines().next().unwrap().to_string();
    assert!(
        head.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"),
        "{head}"
    );
    (status_line, body.to_string())
}

#[test]
fn spends_endpoint_lists_executed_writeoffs() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let addr = emulator.local_addr();
    assert_eq!(
        get_text(addr, SPENDS_PATH),
        ("HTTP/1.1 200 OK".to_string(), String::new())
    );

    let spends = [
        format!("/?command=spend_bonus&bonus_id={REGULAR_CARD}&supplier=1111&amount=7"),
        // Executed by a fault that sends no response.
        format!(
            "/bonus/?command=spend_bonus&bonus_id={}&supplier=1111&amount=20",
            Fault::CloseAfterExecute.bonus_id()
        ),
        // Reset before execution, so not listed.
        format!(
            "/bonus/?command=spend_bonus&bonus_id={}&supplier=1111&amount=30",
            Fault::ResetBeforeExecute.bonus_id()
        ),
        // Rejected for the balance, so not listed.
        "/?command=spend_bonus&bonus_id=2700009601229&supplier=1111&amount=1".to_string(),
        format!("/?command=spend_bonus&bonus_id={REGULAR_CARD}&supplier=1111&amount=3"),
    ];
    for target in &spends {
        let mut stream = connect(addr);
        send_get(&mut stream, target);
        let _ = read_bytes(&mut stream, 1);
    }

    let expected = "\
000000001 2700009601212 1111 7
000000002 2700009609027 1111 20
000000003 2700009601212 1111 3
";
    assert_eq!(
        get_text(addr, SPENDS_PATH),
        ("HTTP/1.1 200 OK".to_string(), expected.to_string())
    );
    assert_eq!(emulator.executed_spends().len(), 3);
}

#[test]
fn balance_endpoint_returns_balance() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let addr = emulator.local_addr();
    let mut stream = connect(addr);
    send_get(
        &mut stream,
        &format!("/?command=spend_bonus&bonus_id={REGULAR_CARD}&supplier=1111&amount=15"),
    );
    let _ = read_bytes(&mut stream, 1);

    let cases = [
        (
            format!("{BALANCE_PATH}?bonus_id={REGULAR_CARD}"),
            "HTTP/1.1 200 OK",
            "985\n".to_string(),
        ),
        (
            format!("{BALANCE_PATH}?bonus_id=2700009601236"),
            "HTTP/1.1 200 OK",
            "3000000000\n".to_string(),
        ),
        (
            format!("{BALANCE_PATH}?bonus_id=42"),
            "HTTP/1.1 404 Not Found",
            "Unknown card \"42\".\n".to_string(),
        ),
        (
            BALANCE_PATH.to_string(),
            "HTTP/1.1 400 Bad Request",
            "Missing parameter bonus_id: request /emulator/balance?bonus_id=CARD.\n".to_string(),
        ),
    ];
    for (target, status_line, body) in cases {
        assert_eq!(
            get_text(addr, &target),
            (status_line.to_string(), body),
            "{target}"
        );
    }
    assert_eq!(emulator.balance(REGULAR_CARD), Some(985));
}

#[test]
fn inspection_endpoints_accept_get_only() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    for path in [SPENDS_PATH, BALANCE_PATH] {
        let mut stream = connect(emulator.local_addr());
        let request = format!("POST {path} HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let text = format!("Method POST is not allowed: {path} accepts GET only.\n");
        let head = format!(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nAllow: GET\r\n",
            text.len()
        );
        let expected = wire("HTTP/1.1 405 Method Not Allowed", &head, text.as_bytes());
        let actual = read_bytes(&mut stream, expected.len());
        assert_wire(&actual, &expected, path);
    }
}

/// Starts an HTTPS emulator with mutual TLS and returns it with a connected client.
fn start_https(dir: &TempDir, fault: Fault) -> (Emulator, TlsStream) {
    let pki = generate_test_pki(dir.path(), "esbyt-test", false).expect("generate test PKI");
    let config = EmulatorConfig {
        tls: Some(TlsConfig::from_pki_dir(&pki.dir).expect("load the test PKI")),
        fault: Some(fault),
        ..EmulatorConfig::with_default_cards()
    };
    let emulator = Emulator::start("127.0.0.1:0", config).expect("start the emulator");
    let client_config = pki_client_config(&pki, &rustls::version::TLS13);
    let stream = connect_as(emulator.local_addr(), &client_config, "localhost")
        .expect("TLS handshake with the emulator");
    (emulator, stream)
}

#[test]
fn https_close_after_execute() {
    let dir = TempDir::new();
    let (emulator, mut stream) = start_https(&dir, Fault::CloseAfterExecute);
    send_get(
        &mut stream,
        &operation_target(Operation::Spend, REGULAR_CARD),
    );
    let (actual, end) = read_until_end(&mut stream);
    assert_wire(&actual, b"", "close-after-execute over TLS");
    // The server sends close_notify before FIN, so rustls reports a clean end of file.
    assert_eq!(end, End::Closed);
    assert_eq!(emulator.executed_spends().len(), 1);
    assert_eq!(
        emulator.balance(REGULAR_CARD),
        Some(START_BALANCE - SPEND_AMOUNT)
    );
}

#[test]
fn https_truncated_length() {
    let dir = TempDir::new();
    let (emulator, mut stream) = start_https(&dir, Fault::TruncatedLength);
    send_get(
        &mut stream,
        &operation_target(Operation::Spend, REGULAR_CARD),
    );
    let document = spend_xml("000000001");
    let head = format!("{XML_HEAD}Content-Length: {}\r\n", document.len());
    let expected = wire(
        "HTTP/1.1 200 OK",
        &head,
        &document.as_bytes()[..document.len() / 2],
    );
    let (actual, end) = read_until_end(&mut stream);
    assert_wire(&actual, &expected, "truncated-length over TLS");
    assert_eq!(end, End::Closed);
    assert_eq!(emulator.executed_spends().len(), 1);
    assert_eq!(
        emulator.balance(REGULAR_CARD),
        Some(START_BALANCE - SPEND_AMOUNT)
    );
}

#[test]
fn https_reset_before_execute() {
    let dir = TempDir::new();
    let (emulator, mut stream) = start_https(&dir, Fault::ResetBeforeExecute);
    send_get(
        &mut stream,
        &operation_target(Operation::Spend, REGULAR_CARD),
    );
    let (actual, end) = read_until_end(&mut stream);
    assert_wire(&actual, b"", "reset-before-execute over TLS");
    assert_eq!(end, End::Reset);
    assert_eq!(emulator.executed_spends(), vec![]);
    assert_eq!(emulator.balance(REGULAR_CARD), Some(START_BALANCE));
}

#[test]
fn every_fault_has_card_in_default_set() {
    let cards = esbyt_emulator::default_cards();
    assert_eq!(Fault::all().len(), 11);
    for fault in Fault::all() {
        let card = cards
            .iter()
            .find(|card| card.bonus_id == fault.bonus_id())
            .unwrap_or_else(|| panic!("no card for {fault}"));
        assert_eq!(card.balance, START_BALANCE, "{fault}");
    }
}

const BINARY: &str = env!("CARGO_BIN_EXE_esbyt-emulator");

/// Kills the child process on drop, so that a failed assertion leaves no server behind.
struct RunningBinary(Child);

impl Drop for RunningBinary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary on a free loopback port and returns it with its address and a
/// channel of its stderr lines.
fn spawn_binary(args: &[&str]) -> (RunningBinary, SocketAddr, mpsc::Receiver<String>) {
    let child = Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start esbyt-emulator");
    let mut running = RunningBinary(child);

    let stderr = running.0.stderr.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if sender.send(line).is_err() {
                return;
            }
        }
    });

    let stdout = running.0.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim_end()
        .strip_prefix("esbyt-emulator listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .trim_end_matches('/')
        .parse()
        .expect("address in the first line");
    (running, addr, receiver)
}

/// Waits for a stderr line that contains `text`.
fn wait_for_line(lines: &mpsc::Receiver<String>, text: &str) -> String {
    let deadline = Instant::now() + READ_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(text) => return line,
            Ok(_) => {}
            Err(error) => panic!("no stderr line with {text:?}: {error}"),
        }
    }
}

#[test]
fn binary_logs_card_fault() {
    let (_binary, addr, lines) = spawn_binary(&[]);
    let bonus_id = Fault::CloseAfterExecute.bonus_id();
    let target = operation_target(Operation::Spend, bonus_id);
    let mut stream = connect(addr);
    send_get(&mut stream, &target);
    let (actual, end) = read_until_end(&mut stream);
    assert_wire(&actual, b"", "close-after-execute from the binary");
    assert_eq!(end, End::Closed);

    let line = wait_for_line(&lines, "fault=");
    let expected = format!(
        "GET {target:?} fault=close-after-execute card={bonus_id} executed=yes spend_id=000000001"
    );
    assert!(line.starts_with("esbyt-emulator: 127.0.0.1:"), "{line}");
    assert!(line.ends_with(&expected), "{line}");
}

#[test]
fn binary_fault_switch_and_idle_close() {
    let (_binary, addr, lines) = spawn_binary(&["--fault", "empty-200", "--idle-close-ms", "200"]);
    wait_for_line(
        &lines,
        "esbyt-emulator: fault empty-200 applies to every GET request on / and /bonus/",
    );

    let target = operation_target(Operation::Check, REGULAR_CARD);
    let mut stream = connect(addr);
    send_get(&mut stream, &target);
    let expected = wire(
        "HTTP/1.1 200 OK",
        &format!("{XML_HEAD}Content-Length: 0\r\n"),
        b"",
    );
    let actual = read_bytes(&mut stream, expected.len());
    let answered = Instant::now();
    assert_wire(&actual, &expected, "empty-200 from the binary");
    let (rest, end) = read_until_end(&mut stream);
    let elapsed = answered.elapsed();
    assert_wire(&rest, b"", "after the response");
    assert_eq!(end, End::Closed);
    assert!(elapsed < Duration::from_secs(3), "closed after {elapsed:?}");

    let line = wait_for_line(&lines, "fault=");
    let expected = format!("GET {target:?} fault=empty-200 card={REGULAR_CARD} executed=no");
    assert!(line.ends_with(&expected), "{line}");
}

#[test]
fn binary_help_lists_faults_and_endpoints() {
    let output = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for text in [
        "--fault NAME",
        "--delay-ms N",
        "--idle-close-ms N",
        "GET /emulator/spends",
        "GET /emulator/balance?bonus_id=ID",
    ] {
        assert!(help.contains(text), "no {text:?} in {help}");
    }
    for fault in Fault::all() {
        let row = format!("  {:<14} {:<21} ", fault.bonus_id(), fault.name());
        assert!(help.contains(&row), "no row {row:?} in {help}");
    }
}
