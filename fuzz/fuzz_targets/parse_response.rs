//! Fuzzes the response parsers with an arbitrary body and `Content-Type`.
//!
//! Input: the first line (up to the first LF) is the `Content-Type` header value, and
//! the rest is the response body. An empty first line means no header. The seed corpus
//! in `fuzz/corpus/parse_response/` uses this layout.
//!
//! Beyond "no panic", every result must be one the C ABI can deliver: text values that
//! fit their 64-byte fields without a control character, and errors that are either
//! `ESBYT_PROTOCOL` or `ESBYT_SERVER` with a non-zero server code.

#![no_main]

use esbyt::protocol::{MAX_TEXT_VALUE_BYTES, decode_body, parse_check_bonus, parse_spend_bonus};
use esbyt::{Error, Status};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|&byte| byte == b'\n') {
        Some(end) => (&data[..end], &data[end + 1..]),
        None => (&data[..0], data),
    };
    let header = String::from_utf8_lossy(header);
    let content_type = (!header.is_empty()).then_some(header.as_ref());

    // The parsers call it first; here it runs alone so a panic in it is attributed to it.
    let _ = decode_body(body, content_type);

    let balance = parse_check_bonus(body, content_type);
    let write_off = parse_spend_bonus(body, content_type);

    match &balance {
        Ok(balance) => {
            check_text_value("account", &balance.account);
            check_text_value("bonus_id", &balance.bonus_id);
        }
        Err(error) => check_error(error),
    }
    match &write_off {
        Ok(write_off) => {
            check_text_value("spend_id", &write_off.spend_id);
            assert_eq!(write_off.attempt_id, None, "the parser set an attempt id");
        }
        Err(error) => check_error(error),
    }

    // Both parsers read the same document and check its `result` before the values, so a
    // refusal is the same server error from both. The one exception: the write-off parser
    // turns a refusal that also carries a `<spend_id>` into a protocol error.
    if let Err(spend_error) = &write_off
        && spend_error.status() == Status::Server
    {
        let Err(balance_error) = &balance else {
            panic!("only the write-off parser returned a server error: {spend_error}");
        };
        assert_eq!(balance_error.status(), Status::Server, "{balance_error}");
        assert_eq!(balance_error.server_code(), spend_error.server_code());
        assert_eq!(balance_error.message(), spend_error.message());
    }
    if let Err(balance_error) = &balance
        && balance_error.status() == Status::Server
    {
        assert!(
            write_off.is_err(),
            "the balance parser returned a server error, the write-off parser a write-off"
        );
    }
});

/// Checks a value that the C ABI copies into a 64-byte NUL-terminated field.
fn check_text_value(name: &str, value: &str) {
    assert!(!value.is_empty(), "{name} is empty");
    assert!(
        value.len() <= MAX_TEXT_VALUE_BYTES,
        "{name} is {} bytes long",
        value.len()
    );
    assert!(
        !value.chars().any(char::is_control),
        "{name} {value:?} contains a control character"
    );
}

fn check_error(error: &Error) {
    match error.status() {
        Status::Protocol => {
            assert_eq!(error.server_code(), None, "{error}");
            assert!(
                !error.message().is_empty(),
                "a protocol error without a message"
            );
        }
        Status::Server => {
            let code = error.server_code();
            assert!(
                code.is_some_and(|code| code != 0),
                "server error with code {code:?}"
            );
        }
        status => panic!("the parser returned {status}: {error}"),
    }
    assert_eq!(error.cause(), None, "{error}");
    assert_eq!(error.attempt_id(), None, "{error}");
}
