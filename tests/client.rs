//! The Rust client against the real emulator and raw loopback servers.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use esbyt::{Client, Config, Status};
use esbyt_emulator::{Emulator, EmulatorConfig, TEST_BONUS_ID};
use support::{RawServer, Reply, protocol_body, read_head, reset_on_close, write_response};

fn start_emulator() -> Emulator {
    Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards())
        .expect("start the emulator")
}

fn config_for(url: &str) -> Config {
    Config {
        allow_http: true,
        supplier: Some(1111),
        timeout: Duration::from_secs(5),
        ..Config::new(url)
    }
}

fn client_for(url: &str) -> Client {
    Client::new(config_for(url)).expect("create the client")
}

fn client_with_timeout(url: &str, timeout: Duration) -> Client {
    Client::new(Config {
        timeout,
        ..config_for(url)
    })
    .expect("create the client")
}

#[test]
fn check_bonus_returns_document_values() {
    let emulator = start_emulator();
    let client = client_for(&format!("{}bonus/", emulator.base_url()));

    let balance = client.check_bonus(TEST_BONUS_ID).unwrap();

    assert_eq!(balance.account, "1055444444");
    assert_eq!(balance.bonus_id, "2700009601205");
    assert_eq!(balance.amount, 500);
}

#[test]
fn spend_bonus_lowers_balance() {
    let emulator = start_emulator();
    let client = client_for(&emulator.base_url());

    let write_off = client.spend_bonus(TEST_BONUS_ID, 10).unwrap();
    let balance = client.check_bonus(TEST_BONUS_ID).unwrap();

    assert_eq!(write_off.spend_id.len(), 9, "{}", write_off.spend_id);
    assert!(
        write_off.spend_id.starts_with("00000000"),
        "{}",
        write_off.spend_id
    );
    assert_eq!(balance.amount, 490);
    let executed = emulator.executed_spends();
    assert_eq!(executed.len(), 1);
    assert_eq!(executed[0].amount, 10);
    assert_eq!(executed[0].supplier, 1111);
    assert_eq!(executed[0].spend_id, write_off.spend_id);
}

#[test]
fn scanner_line_end_is_trimmed() {
    let emulator = start_emulator();
    let client = client_for(&emulator.base_url());

    let balance = client.check_bonus("2700009601205\r\n").unwrap();

    assert_eq!(balance.amount, 500);
}

#[test]
fn leading_zeros_of_account_kept() {
    let emulator = start_emulator();
    let client = client_for(&emulator.base_url());

    let balance = client.check_bonus("2700009601212").unwrap();

    assert_eq!(balance.account, "0012345678");
}

#[test]
fn unknown_card_is_server_error() {
    let emulator = start_emulator();
    let client = client_for(&emulator.base_url());

    let error = client.check_bonus("4600000000003").unwrap_err();

    assert_eq!(error.status(), Status::Server);
    assert_eq!(error.server_code(), Some(4));
    assert_eq!(error.http_status(), Some(200));
    assert!(error.message().contains("не найден"), "{}", error.message());
}

#[test]
fn insufficient_balance_writes_nothing_off() {
    let emulator = start_emulator();
    let client = client_for(&emulator.base_url());

    let error = client.spend_bonus(TEST_BONUS_ID, 501).unwrap_err();

    assert_eq!(error.status(), Status::Server);
    assert_eq!(error.server_code(), Some(6));
    assert!(
        error.message().starts_with("Недостаточно бонусов"),
        "{}",
        error.message()
    );
    assert!(emulator.executed_spends().is_empty());
    assert_eq!(emulator.balance(TEST_BONUS_ID), Some(500));
}

#[test]
fn unknown_supplier_is_server_error() {
    let emulator = start_emulator();
    let client = Client::new(Config {
        supplier: Some(2222),
        ..config_for(&emulator.base_url())
    })
    .unwrap();

    let error = client.spend_bonus(TEST_BONUS_ID, 1).unwrap_err();

    assert_eq!(error.status(), Status::Server);
    assert_eq!(error.server_code(), Some(5));
    assert!(emulator.executed_spends().is_empty());
}

#[test]
fn invalid_input_sends_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let client = client_for(&format!("http://{}/", listener.local_addr().unwrap()));

    let cases = [
        client.check_bonus("").unwrap_err(),
        client.check_bonus("27000096012O5").unwrap_err(),
        client.check_bonus("27000096012055").unwrap_err(),
        client.spend_bonus(TEST_BONUS_ID, 0).unwrap_err(),
        client.spend_bonus(TEST_BONUS_ID, -10).unwrap_err(),
        client.spend_bonus(TEST_BONUS_ID, 1 << 31).unwrap_err(),
        client.spend_bonus("abc", 10).unwrap_err(),
    ];

    for error in &cases {
        assert_eq!(error.status(), Status::InvalidArgument, "{error}");
    }
    assert!(
        listener.accept().is_err(),
        "no connection may be made for invalid input"
    );
}

#[test]
fn spend_without_supplier_is_config_error() {
    let emulator = start_emulator();
    let client = Client::new(Config {
        supplier: None,
        ..config_for(&emulator.base_url())
    })
    .unwrap();

    let error = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();

    assert_eq!(error.status(), Status::Config);
    assert!(
        error.message().starts_with("supplier is not set"),
        "{}",
        error.message()
    );
    assert!(emulator.executed_spends().is_empty());
}

#[test]
fn plain_http_needs_allow_http() {
    let error = Client::new(Config::new("http://127.0.0.1:8808/bonus/")).unwrap_err();

    assert_eq!(error.status(), Status::Config);
    assert!(
        error.message().contains("set allow_http to 1"),
        "{}",
        error.message()
    );
}

#[test]
fn concurrent_calls_share_one_client() {
    let emulator = start_emulator();
    let client = Arc::new(client_for(&emulator.base_url()));

    let workers: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            thread::spawn(move || {
                for _ in 0..10 {
                    assert_eq!(client.check_bonus("2700009601212").unwrap().amount, 1000);
                }
                client.spend_bonus(TEST_BONUS_ID, 5).unwrap().spend_id
            })
        })
        .collect();
    let mut spend_ids: Vec<String> = workers
        .into_iter()
        .map(|worker| worker.join().unwrap())
        .collect();

    spend_ids.sort();
    spend_ids.dedup();
    assert_eq!(spend_ids.len(), 8, "every write-off gets its own number");
    assert_eq!(emulator.executed_spends().len(), 8);
    assert_eq!(emulator.balance(TEST_BONUS_ID), Some(460));
}

#[test]
fn balance_checks_reuse_one_connection() {
    let server = RawServer::start(|stream, head| {
        write_response(stream, "200 OK", "text/xml", protocol_body(head).as_bytes());
        Reply::KeepOpen
    });
    let client = client_for(&server.url());

    for _ in 0..5 {
        assert_eq!(client.check_bonus(TEST_BONUS_ID).unwrap().amount, 500);
    }

    assert_eq!(server.connections(), 1);
    assert_eq!(server.request_lines().len(), 5);
}

#[test]
fn write_off_uses_new_connection() {
    let server = RawServer::start(|stream, head| {
        write_response(stream, "200 OK", "text/xml", protocol_body(head).as_bytes());
        Reply::KeepOpen
    });
    let client = client_for(&server.url());

    client.check_bonus(TEST_BONUS_ID).unwrap();
    client.spend_bonus(TEST_BONUS_ID, 10).unwrap();
    client.spend_bonus(TEST_BONUS_ID, 10).unwrap();

    assert_eq!(
        server.connections(),
        3,
        "each write-off opens its own connection"
    );
}

#[test]
fn dead_pooled_connection_retried_once_for_balance() {
    // The first request gets a response on a kept-alive connection; the second
    // request on that connection is read and the connection is reset
    // without a response, as a server that dropped it while idle does.
    let server = RawServer::start(|stream, head| {
        static REQUESTS_SEEN: std::sync::atomic::AtomicUsize =
            std::sync::atomic::AtomicUsize::new(0);
        let count = REQUESTS_SEEN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if count == 1 {
            reset_on_close(stream);
            return Reply::Close;
        }
        write_response(stream, "200 OK", "text/xml", protocol_body(head).as_bytes());
        Reply::KeepOpen
    });
    let client = client_for(&server.url());

    assert_eq!(client.check_bonus(TEST_BONUS_ID).unwrap().amount, 500);
    assert_eq!(client.check_bonus(TEST_BONUS_ID).unwrap().amount, 500);

    assert_eq!(server.connections(), 2);
    assert_eq!(
        server.request_lines().len(),
        3,
        "one request was resent after the reset"
    );
}

#[test]
fn closed_without_response_is_outcome_unknown() {
    let server = RawServer::start(|_stream, _head| Reply::Close);
    let client = client_for(&server.url());

    let spend = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();
    let check = client.check_bonus(TEST_BONUS_ID).unwrap_err();

    assert_eq!(spend.status(), Status::OutcomeUnknown);
    assert_eq!(spend.cause(), Some(Status::Connection));
    assert!(
        spend
            .message()
            .starts_with("the write-off may or may not have been executed"),
        "{}",
        spend.message()
    );
    assert_eq!(check.status(), Status::Connection);
    let spends = server
        .request_lines()
        .iter()
        .filter(|line| line.contains("spend_bonus"))
        .count();
    assert_eq!(spends, 1, "a write-off is never resent");
}

#[test]
fn reset_after_request_is_outcome_unknown_for_spend() {
    let server = RawServer::start(|stream, _head| {
        reset_on_close(stream);
        Reply::Close
    });
    let client = client_for(&server.url());

    let error = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();

    assert_eq!(error.status(), Status::OutcomeUnknown);
    assert_eq!(error.cause(), Some(Status::Connection));
    assert_eq!(server.request_lines().len(), 1);
}

#[test]
fn timeout_after_sending_is_outcome_unknown_for_spend() {
    let server = RawServer::start(|stream, head| {
        thread::sleep(Duration::from_millis(1500));
        write_response(stream, "200 OK", "text/xml", protocol_body(head).as_bytes());
        Reply::Close
    });
    let client = client_with_timeout(&server.url(), Duration::from_millis(300));

    let spend = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();
    let check = client.check_bonus(TEST_BONUS_ID).unwrap_err();

    assert_eq!(spend.status(), Status::OutcomeUnknown);
    assert_eq!(spend.cause(), Some(Status::Timeout));
    assert_eq!(check.status(), Status::Timeout);
}

#[test]
fn refused_connection_sent_nothing() {
    let address = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = client_for(&format!("http://{address}/"));

    let spend = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();
    let check = client.check_bonus(TEST_BONUS_ID).unwrap_err();

    assert_eq!(spend.status(), Status::Connection, "{spend}");
    assert_eq!(spend.cause(), None);
    assert_eq!(check.status(), Status::Connection);
    assert!(
        spend.message().contains(&address.to_string()),
        "{}",
        spend.message()
    );
}

#[test]
fn html_bad_gateway_is_http_error() {
    let server = RawServer::start(|stream, _head| {
        write_response(
            stream,
            "502 Bad Gateway",
            "text/html",
            b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        );
        Reply::KeepOpen
    });
    let client = client_for(&server.url());

    let check = client.check_bonus(TEST_BONUS_ID).unwrap_err();
    let spend = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();

    assert_eq!(check.status(), Status::Http);
    assert_eq!(check.http_status(), Some(502));
    assert!(
        check
            .message()
            .starts_with("the server responded with HTTP 502 Bad Gateway"),
        "{}",
        check.message()
    );
    assert_eq!(spend.status(), Status::OutcomeUnknown);
    assert_eq!(spend.cause(), Some(Status::Http));
    assert_eq!(spend.http_status(), Some(502));
}

#[test]
fn error_document_with_status_500_is_server_error() {
    let server = RawServer::start(|stream, _head| {
        let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<response>\n\t<result>99</result>\n\t<message>Внутренняя ошибка</message >\n</response>";
        write_response(
            stream,
            "500 Internal Server Error",
            "text/xml",
            body.as_bytes(),
        );
        Reply::KeepOpen
    });
    let client = client_for(&server.url());

    let error = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();

    assert_eq!(error.status(), Status::Server);
    assert_eq!(error.server_code(), Some(99));
    assert_eq!(error.http_status(), Some(500));
    assert_eq!(error.message(), "Внутренняя ошибка");
}

#[test]
fn truncated_body_is_outcome_unknown_for_spend() {
    let server = RawServer::start(|stream, head| {
        let body = protocol_body(head);
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes());
        let _ = stream.write_all(&body.as_bytes()[..body.len() / 2]);
        Reply::Close
    });
    let client = client_for(&server.url());

    let spend = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();
    let check = client.check_bonus(TEST_BONUS_ID).unwrap_err();

    assert_eq!(spend.status(), Status::OutcomeUnknown, "{spend}");
    assert_ne!(check.status(), Status::Ok);
    assert_ne!(check.status(), Status::OutcomeUnknown);
}

#[test]
fn close_delimited_truncated_body_is_protocol_error() {
    let server = RawServer::start(|stream, head| {
        let body = protocol_body(head);
        let response = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n\r\n";
        let _ = stream.write_all(response.as_bytes());
        let _ = stream.write_all(&body.as_bytes()[..body.len() - 15]);
        Reply::Close
    });
    let client = client_for(&server.url());

    let check = client.check_bonus(TEST_BONUS_ID).unwrap_err();
    let spend = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();

    assert_eq!(check.status(), Status::Protocol);
    assert!(check.message().contains("truncated"), "{}", check.message());
    assert_eq!(spend.status(), Status::OutcomeUnknown);
    assert_eq!(spend.cause(), Some(Status::Protocol));
}

#[test]
fn redirect_is_not_followed() {
    let target = RawServer::start(|stream, head| {
        write_response(stream, "200 OK", "text/xml", protocol_body(head).as_bytes());
        Reply::KeepOpen
    });
    let location = target.url();
    let server = RawServer::start(move |stream, _head| {
        let response =
            format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n");
        let _ = stream.write_all(response.as_bytes());
        Reply::KeepOpen
    });
    let client = client_for(&server.url());

    let spend = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();
    let check = client.check_bonus(TEST_BONUS_ID).unwrap_err();

    assert_eq!(spend.status(), Status::OutcomeUnknown);
    assert_eq!(spend.http_status(), Some(302));
    assert_eq!(check.status(), Status::Http);
    assert!(
        check.message().contains("was not followed"),
        "{}",
        check.message()
    );
    assert_eq!(
        target.connections(),
        0,
        "the redirect target must never be contacted"
    );
}

#[test]
fn oversized_body_is_rejected() {
    let server = RawServer::start(|stream, _head| {
        let body = format!("<response>{}</response>", " ".repeat(100_000));
        write_response(stream, "200 OK", "text/xml", body.as_bytes());
        Reply::Close
    });
    let client = client_for(&server.url());

    let check = client.check_bonus(TEST_BONUS_ID).unwrap_err();

    assert_eq!(check.status(), Status::Protocol);
    assert!(
        check
            .message()
            .contains("larger than max_body_bytes (65536 bytes)"),
        "{}",
        check.message()
    );
}

#[test]
fn windows_1251_message_arrives_intact() {
    let server = RawServer::start(|stream, _head| {
        let (body, _, _) = encoding_rs::WINDOWS_1251.encode(
            "<?xml version=\"1.0\" encoding=\"windows-1251\"?>\n<response>\n\t<result>4</result>\n\t<message>Участник не найден</message >\n</response>",
        );
        write_response(stream, "200 OK", "text/xml; charset=windows-1251", &body);
        Reply::KeepOpen
    });
    let client = client_for(&server.url());

    let error = client.check_bonus(TEST_BONUS_ID).unwrap_err();

    assert_eq!(error.status(), Status::Server);
    assert_eq!(error.message(), "Участник не найден");
}

#[test]
fn request_line_has_exact_query() {
    let server = RawServer::start(|stream, head| {
        write_response(stream, "200 OK", "text/xml", protocol_body(head).as_bytes());
        Reply::KeepOpen
    });
    let client = client_for(&server.url());

    client.check_bonus(" 2700009601205\n").unwrap();
    client.spend_bonus(TEST_BONUS_ID, 10).unwrap();

    let lines = server.request_lines();
    assert_eq!(
        lines[0],
        "GET /bonus/?command=check_bonus&bonus_id=2700009601205 HTTP/1.1"
    );
    assert_eq!(
        lines[1],
        "GET /bonus/?command=spend_bonus&bonus_id=2700009601205&supplier=1111&amount=10 HTTP/1.1"
    );
}

#[test]
fn balance_of_another_card_rejected() {
    let server = RawServer::start(|stream, _head| {
        let body = "<response><account>1</account><bonus_id>1111111111116</bonus_id><amount>7</amount><result>0</result></response>";
        write_response(stream, "200 OK", "text/xml", body.as_bytes());
        Reply::KeepOpen
    });
    let client = client_for(&server.url());

    let error = client.check_bonus(TEST_BONUS_ID).unwrap_err();

    assert_eq!(error.status(), Status::Protocol);
    assert!(
        error.message().contains("\"1111111111116\""),
        "{}",
        error.message()
    );
}

#[test]
fn stalled_body_is_outcome_unknown() {
    // A server that sends the head, then stalls past the deadline.
    let server = RawServer::start(|stream, _head| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n<response>");
        thread::sleep(Duration::from_millis(1500));
        Reply::Close
    });
    let client = client_with_timeout(&server.url(), Duration::from_millis(300));

    let spend = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();

    assert_eq!(spend.status(), Status::OutcomeUnknown);
    assert_eq!(spend.cause(), Some(Status::Timeout));
}

#[test]
fn silent_server_times_out_within_deadline() {
    let server = RawServer::start(|stream, _head| {
        let _ = read_head(stream);
        Reply::Close
    });
    let client = client_with_timeout(&server.url(), Duration::from_millis(300));

    // Without the deadline the call would wait for the server's own 10 s
    // read timeout and end with a closed connection instead.
    let error = client.check_bonus(TEST_BONUS_ID).unwrap_err();

    assert_eq!(error.status(), Status::Timeout);
}
