//! The emulator over real loopback sockets: protocol responses, HTTP handling and shutdown.

mod common;

use std::io::ErrorKind;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{Client, TEST_CARD_XML, error_xml, get, spend_xml};
use esbyt_emulator::{
    BonusError, Card, Emulator, EmulatorConfig, ExecutedSpend, TEST_BONUS_ID, result_code,
};

fn start_default() -> Emulator {
    Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).expect("start emulator")
}

const CHECK_TEST_CARD: &str = "?command=check_bonus&bonus_id=2700009601205";

fn spend_target(bonus_id: &str, supplier: &str, amount: &str) -> String {
    format!("/bonus/?command=spend_bonus&bonus_id={bonus_id}&supplier={supplier}&amount={amount}")
}

#[test]
fn check_bonus_returns_document_example() {
    let emulator = start_default();
    let response = get(emulator.local_addr(), &format!("/bonus/{CHECK_TEST_CARD}"));

    assert_eq!(response.status, 200);
    assert_eq!(response.body, TEST_CARD_XML);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/xml; charset=utf-8")
    );
    assert_eq!(
        response.header("Content-Length"),
        Some(TEST_CARD_XML.len().to_string().as_str())
    );
}

#[test]
fn both_base_paths_serve_protocol() {
    let emulator = start_default();
    assert_eq!(
        emulator.base_url(),
        format!("http://{}/", emulator.local_addr())
    );

    for path in ["/", "/bonus/"] {
        let response = get(emulator.local_addr(), &format!("{path}{CHECK_TEST_CARD}"));
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.body, TEST_CARD_XML, "{path}");
    }
}

#[test]
fn check_bonus_keeps_zeros_and_large_balance() {
    let emulator = start_default();
    let zeros = get(
        emulator.local_addr(),
        "/?command=check_bonus&bonus_id=2700009601212",
    );
    assert!(
        zeros.body.contains("<account>0012345678</account>"),
        "{}",
        zeros.body
    );
    let large = get(
        emulator.local_addr(),
        "/?command=check_bonus&bonus_id=2700009601236",
    );
    assert!(
        large.body.contains("<amount>3000000000</amount>"),
        "{}",
        large.body
    );
}

#[test]
fn spend_lowers_balance_with_increasing_ids() {
    let emulator = start_default();
    let addr = emulator.local_addr();

    let first = get(addr, &spend_target(TEST_BONUS_ID, "1111", "10"));
    assert_eq!(first.status, 200);
    assert_eq!(first.body, spend_xml("000000001"));
    assert_eq!(emulator.balance(TEST_BONUS_ID), Some(490));

    // The counter is shared by all cards.
    let second = get(addr, &spend_target("2700009601212", "1111", "1000"));
    assert_eq!(second.body, spend_xml("000000002"));
    assert_eq!(emulator.balance("2700009601212"), Some(0));

    let third = get(addr, &spend_target(TEST_BONUS_ID, "1111", "490"));
    assert_eq!(third.body, spend_xml("000000003"));
    assert_eq!(emulator.balance(TEST_BONUS_ID), Some(0));

    let check = get(addr, &format!("/{CHECK_TEST_CARD}"));
    assert!(check.body.contains("<amount>0</amount>"), "{}", check.body);
}

#[test]
fn spend_maximum_amount_from_large_balance() {
    let emulator = start_default();
    let response = get(
        emulator.local_addr(),
        &spend_target("2700009601236", "1111", "2147483647"),
    );
    assert_eq!(response.body, spend_xml("000000001"));
    assert_eq!(
        emulator.balance("2700009601236"),
        Some(3_000_000_000 - 2_147_483_647)
    );
}

#[test]
fn error_cases_return_code_and_message() {
    let emulator = start_default();
    let invalid_number = "ожидается целое положительное число не больше 2147483647";
    let cases: Vec<(String, i32, String)> = vec![
        (
            "/bonus/".into(),
            result_code::UNKNOWN_COMMAND,
            "Не указана команда (параметр command)".into(),
        ),
        (
            "/bonus/?command=&bonus_id=2700009601205".into(),
            result_code::UNKNOWN_COMMAND,
            "Не указана команда (параметр command)".into(),
        ),
        (
            "/bonus/?command=cancel_bonus".into(),
            result_code::UNKNOWN_COMMAND,
            "Неизвестная команда «cancel_bonus»: ожидается check_bonus или spend_bonus".into(),
        ),
        (
            "/bonus/?command=CHECK_BONUS&bonus_id=2700009601205".into(),
            result_code::UNKNOWN_COMMAND,
            "Неизвестная команда «CHECK_BONUS»: ожидается check_bonus или spend_bonus".into(),
        ),
        (
            "/bonus/?command=check_bonus".into(),
            result_code::MISSING_PARAMETER,
            "Не указан обязательный параметр bonus_id".into(),
        ),
        (
            "/bonus/?command=check_bonus&bonus_id=".into(),
            result_code::MISSING_PARAMETER,
            "Не указан обязательный параметр bonus_id".into(),
        ),
        (
            "/bonus/?command=spend_bonus&supplier=1111&amount=1".into(),
            result_code::MISSING_PARAMETER,
            "Не указан обязательный параметр bonus_id".into(),
        ),
        (
            "/bonus/?command=spend_bonus&bonus_id=2700009601205&amount=1".into(),
            result_code::MISSING_PARAMETER,
            "Не указан обязательный параметр supplier".into(),
        ),
        (
            "/bonus/?command=spend_bonus&bonus_id=2700009601205&supplier=1111".into(),
            result_code::MISSING_PARAMETER,
            "Не указан обязательный параметр amount".into(),
        ),
        (
            "/bonus/?command=check_bonus&bonus_id=12345678901234".into(),
            result_code::INVALID_PARAMETER,
            "Неверное значение параметра bonus_id «12345678901234»: ожидается от 1 до 13 цифр"
                .into(),
        ),
        (
            "/bonus/?command=check_bonus&bonus_id=2700009601205%0D%0A".into(),
            result_code::INVALID_PARAMETER,
            "Неверное значение параметра bonus_id «2700009601205\\r\\n»: ожидается от 1 до 13 цифр"
                .into(),
        ),
        (
            spend_target(TEST_BONUS_ID, "1111", "0"),
            result_code::INVALID_PARAMETER,
            format!("Неверное значение параметра amount «0»: {invalid_number}"),
        ),
        (
            spend_target(TEST_BONUS_ID, "1111", "-5"),
            result_code::INVALID_PARAMETER,
            format!("Неверное значение параметра amount «-5»: {invalid_number}"),
        ),
        (
            spend_target(TEST_BONUS_ID, "1111", "2147483648"),
            result_code::INVALID_PARAMETER,
            format!("Неверное значение параметра amount «2147483648»: {invalid_number}"),
        ),
        (
            spend_target(TEST_BONUS_ID, "1111", "1.5"),
            result_code::INVALID_PARAMETER,
            format!("Неверное значение параметра amount «1.5»: {invalid_number}"),
        ),
        (
            spend_target(TEST_BONUS_ID, "abc", "1"),
            result_code::INVALID_PARAMETER,
            format!("Неверное значение параметра supplier «abc»: {invalid_number}"),
        ),
        (
            "/bonus/?command=check_bonus&bonus_id=2700009601243".into(),
            result_code::UNKNOWN_CARD,
            "Участник с идентификатором 2700009601243 не найден".into(),
        ),
        (
            spend_target("2700009601243", "1111", "1"),
            result_code::UNKNOWN_CARD,
            "Участник с идентификатором 2700009601243 не найден".into(),
        ),
        (
            spend_target(TEST_BONUS_ID, "2222", "1"),
            result_code::UNKNOWN_SUPPLIER,
            "Неизвестный код партнёра 2222".into(),
        ),
        (
            spend_target(TEST_BONUS_ID, "1111", "501"),
            result_code::INSUFFICIENT_BALANCE,
            "Недостаточно бонусов: на балансе 500, к списанию 501".into(),
        ),
        (
            spend_target("2700009601229", "1111", "1"),
            result_code::INSUFFICIENT_BALANCE,
            "Недостаточно бонусов: на балансе 0, к списанию 1".into(),
        ),
    ];

    for (target, code, message) in &cases {
        let response = get(emulator.local_addr(), target);
        assert_eq!(response.status, 200, "{target}");
        assert_eq!(
            response.header("Content-Type"),
            Some("text/xml; charset=utf-8")
        );
        assert_eq!(response.body, error_xml(*code, message), "{target}");
    }

    assert_eq!(emulator.balance(TEST_BONUS_ID), Some(500));
    assert_eq!(emulator.balance("2700009601229"), Some(0));
    assert_eq!(emulator.executed_spends(), vec![]);
}

#[test]
fn error_codes_are_distinct_and_nonzero() {
    let codes = [
        result_code::UNKNOWN_COMMAND,
        result_code::MISSING_PARAMETER,
        result_code::INVALID_PARAMETER,
        result_code::UNKNOWN_CARD,
        result_code::UNKNOWN_SUPPLIER,
        result_code::INSUFFICIENT_BALANCE,
        result_code::CARD_BLOCKED,
        result_code::INTERNAL_ERROR,
    ];
    for (i, code) in codes.iter().enumerate() {
        assert_ne!(*code, result_code::SUCCESS);
        assert!(!codes[i + 1..].contains(code), "code {code} repeats");
    }
    assert_eq!(
        BonusError::MissingParameter("amount").code(),
        result_code::MISSING_PARAMETER
    );
}

#[test]
fn markup_in_values_is_escaped() {
    let emulator = start_default();
    let response = get(emulator.local_addr(), "/?command=%3C%2Fmessage%3E%26");
    let expected = error_xml(
        result_code::UNKNOWN_COMMAND,
        "Неизвестная команда «&lt;/message&gt;&amp;»: ожидается check_bonus или spend_bonus",
    );
    assert_eq!(response.body, expected);
}

#[test]
fn query_decoded_unknown_parameters_ignored() {
    let emulator = start_default();
    let response = get(
        emulator.local_addr(),
        "/bonus/?session=x&command=check%5Fbonus&bonus_id=%32700009601205&supplier=junk",
    );
    assert_eq!(response.body, TEST_CARD_XML);
}

#[test]
fn executed_spends_lists_only_executed_writeoffs() {
    let emulator = start_default();
    let addr = emulator.local_addr();
    let targets = [
        spend_target(TEST_BONUS_ID, "1111", "100"),
        spend_target(TEST_BONUS_ID, "1111", "401"),
        spend_target(TEST_BONUS_ID, "2222", "1"),
        spend_target("2700009601229", "1111", "1"),
        spend_target("2700009601212", "1111", "7"),
        spend_target(TEST_BONUS_ID, "1111", "400"),
    ];
    for target in &targets {
        get(addr, target);
    }

    let expected = vec![
        ExecutedSpend {
            bonus_id: TEST_BONUS_ID.to_string(),
            supplier: 1111,
            amount: 100,
            spend_id: "000000001".to_string(),
        },
        ExecutedSpend {
            bonus_id: "2700009601212".to_string(),
            supplier: 1111,
            amount: 7,
            spend_id: "000000002".to_string(),
        },
        ExecutedSpend {
            bonus_id: TEST_BONUS_ID.to_string(),
            supplier: 1111,
            amount: 400,
            spend_id: "000000003".to_string(),
        },
    ];
    assert_eq!(emulator.executed_spends(), expected);
    assert_eq!(emulator.balance(TEST_BONUS_ID), Some(0));
    assert_eq!(emulator.balance("2700009601212"), Some(993));
}

#[test]
fn concurrent_spends_are_atomic() {
    let emulator = start_default();
    let addr = emulator.local_addr();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            thread::spawn(move || {
                let mut client = Client::connect(addr);
                for _ in 0..10 {
                    let response = client.get(&spend_target("2700009601212", "1111", "1"));
                    assert!(
                        response.body.contains("<result>0</result>"),
                        "{}",
                        response.body
                    );
                }
            })
        })
        .collect();
    for handle in threads {
        handle.join().unwrap();
    }

    assert_eq!(emulator.balance("2700009601212"), Some(920));
    let ids: Vec<String> = emulator
        .executed_spends()
        .into_iter()
        .map(|spend| spend.spend_id)
        .collect();
    let expected: Vec<String> = (1..=80).map(|n| format!("{n:09}")).collect();
    assert_eq!(ids, expected);
}

#[test]
fn custom_suppliers_replace_default() {
    let config = EmulatorConfig {
        cards: vec![Card::new("42", "0000000001", 10)],
        suppliers: vec![7, 8],
        ..EmulatorConfig::with_default_cards()
    };
    let emulator = Emulator::start("127.0.0.1:0", config).unwrap();
    let addr = emulator.local_addr();

    let rejected = get(addr, &spend_target("42", "1111", "1"));
    assert_eq!(
        rejected.body,
        error_xml(
            result_code::UNKNOWN_SUPPLIER,
            "Неизвестный код партнёра 1111"
        )
    );
    let accepted = get(addr, &spend_target("42", "8", "1"));
    assert_eq!(accepted.body, spend_xml("000000001"));
    assert_eq!(emulator.balance("42"), Some(9));
    assert_eq!(emulator.balance(TEST_BONUS_ID), None);
}

#[test]
fn start_rejects_duplicate_cards() {
    let mut config = EmulatorConfig::with_default_cards();
    config.cards.push(Card::new(TEST_BONUS_ID, "1", 1));
    let error = Emulator::start("127.0.0.1:0", config).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        error.to_string(),
        "invalid emulator configuration: card 16: duplicate bonus_id 2700009601205, first given as card 1"
    );
}

#[test]
fn keep_alive_serves_two_requests() {
    let emulator = start_default();
    let mut client = Client::connect(emulator.local_addr());

    let first = client.get(&format!("/bonus/{CHECK_TEST_CARD}"));
    assert_eq!(first.body, TEST_CARD_XML);
    assert_eq!(first.header("Connection"), None);

    let second = client.get(&spend_target(TEST_BONUS_ID, "1111", "5"));
    assert_eq!(second.body, spend_xml("000000001"));
    assert_eq!(emulator.balance(TEST_BONUS_ID), Some(495));
}

#[test]
fn pipelined_requests_get_ordered_responses() {
    let emulator = start_default();
    let mut client = Client::connect(emulator.local_addr());
    let request = format!(
        "GET /{CHECK_TEST_CARD} HTTP/1.1\r\n\r\nGET {} HTTP/1.1\r\n\r\n",
        spend_target(TEST_BONUS_ID, "1111", "1")
    );
    client.send_raw(request.as_bytes());

    assert_eq!(client.read_response().body, TEST_CARD_XML);
    assert_eq!(client.read_response().body, spend_xml("000000001"));
}

#[test]
fn connection_close_is_honoured() {
    let emulator = start_default();
    let mut client = Client::connect(emulator.local_addr());
    client.send_get(&format!("/{CHECK_TEST_CARD}"), "Connection: close\r\n");
    let response = client.read_response();
    assert_eq!(response.body, TEST_CARD_XML);
    assert_eq!(response.header("Connection"), Some("close"));
    assert!(client.is_closed_by_server());
}

#[test]
fn http10_closes_unless_keep_alive() {
    let emulator = start_default();
    let target = format!("/{CHECK_TEST_CARD}");

    let mut default_client = Client::connect(emulator.local_addr());
    default_client.send_raw(format!("GET {target} HTTP/1.0\r\n\r\n").as_bytes());
    assert_eq!(
        default_client.read_response().header("Connection"),
        Some("close")
    );
    assert!(default_client.is_closed_by_server());

    let mut keep_alive_client = Client::connect(emulator.local_addr());
    let request = format!("GET {target} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    keep_alive_client.send_raw(request.as_bytes());
    assert_eq!(
        keep_alive_client.read_response().header("Connection"),
        Some("keep-alive")
    );
    keep_alive_client.send_raw(request.as_bytes());
    assert_eq!(keep_alive_client.read_response().body, TEST_CARD_XML);
}

#[test]
fn unknown_path_gets_404() {
    let emulator = start_default();
    let mut client = Client::connect(emulator.local_addr());
    for path in ["/bonus", "/bonus/x", "/api/?command=check_bonus&bonus_id=1"] {
        let response = client.get(path);
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(
            response.header("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
        assert!(
            response.body.starts_with("Not found: "),
            "{}",
            response.body
        );
    }
    // A 404 keeps the connection usable.
    assert_eq!(
        client.get(&format!("/{CHECK_TEST_CARD}")).body,
        TEST_CARD_XML
    );
}

#[test]
fn non_get_method_gets_405() {
    let emulator = start_default();
    let mut client = Client::connect(emulator.local_addr());
    let request = format!(
        "POST /bonus/{} HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        "?command=spend_bonus&bonus_id=2700009601205&supplier=1111&amount=1"
    );
    client.send_raw(request.as_bytes());
    let response = client.read_response();
    assert_eq!(response.status, 405);
    assert_eq!(response.header("Allow"), Some("GET"));
    assert_eq!(emulator.balance(TEST_BONUS_ID), Some(500));

    // The body was consumed, so the next request on the connection parses.
    assert_eq!(
        client.get(&format!("/{CHECK_TEST_CARD}")).body,
        TEST_CARD_XML
    );
}

#[test]
fn malformed_requests_do_not_stop_server() {
    let emulator = start_default();
    let addr = emulator.local_addr();
    let cases: [(&[u8], u16); 5] = [
        (b"garbage\r\n\r\n", 400),
        (b"GET /\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"\xff\xfe\x00 \x01 HTTP/1.1\r\n\r\n", 400),
    ];
    for (bytes, status) in cases {
        let mut client = Client::connect(addr);
        client.send_raw(bytes);
        let response = client.read_response();
        assert_eq!(response.status, status, "{bytes:?}");
        assert_eq!(response.header("Connection"), Some("close"));
        assert!(client.is_closed_by_server(), "{bytes:?}");
    }

    // A client that hangs up in the middle of a head.
    let mut partial = Client::connect(addr);
    partial.send_raw(b"GET /?command=check_bo");
    drop(partial);

    assert_eq!(
        get(addr, &format!("/{CHECK_TEST_CARD}")).body,
        TEST_CARD_XML
    );
}

#[test]
fn oversized_head_gets_431() {
    let emulator = start_default();
    let mut client = Client::connect(emulator.local_addr());
    let request = format!(
        "GET /{CHECK_TEST_CARD} HTTP/1.1\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    client.send_raw(request.as_bytes());
    let response = client.read_response();
    assert_eq!(response.status, 431);
    assert!(client.is_closed_by_server());

    assert_eq!(
        get(emulator.local_addr(), &format!("/{CHECK_TEST_CARD}")).body,
        TEST_CARD_XML
    );
}

#[test]
fn idle_connection_is_closed() {
    let emulator = start_default();
    let mut client = Client::connect(emulator.local_addr());
    assert_eq!(
        client.get(&format!("/{CHECK_TEST_CARD}")).body,
        TEST_CARD_XML
    );

    let waited = Instant::now();
    assert!(client.is_closed_by_server());
    let elapsed = waited.elapsed();
    assert!(
        elapsed >= Duration::from_secs(4),
        "closed after {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(8), "closed after {elapsed:?}");
}

#[test]
fn shutdown_closes_connections_and_port() {
    let emulator = start_default();
    let addr = emulator.local_addr();
    let mut idle = Client::connect(addr);
    assert_eq!(idle.get(&format!("/{CHECK_TEST_CARD}")).body, TEST_CARD_XML);

    let started = Instant::now();
    emulator.shutdown();
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(2),
        "shutdown took {elapsed:?}"
    );

    assert!(idle.is_closed_by_server());
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn drop_stops_server() {
    let addr = start_default().local_addr();
    assert!(TcpStream::connect(addr).is_err());
}
