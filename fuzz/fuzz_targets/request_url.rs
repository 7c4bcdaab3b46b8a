//! Fuzzes the request side: participant id validation, amount and supplier validation,
//! and the URL built from an arbitrary base URL.
//!
//! Input: four lines separated by LF, as in `fuzz/corpus/request_url/`: the base URL,
//! the raw participant id, the supplier code and the amount. A number line that is not a
//! decimal `i64` is read as the little-endian bytes of one, so every `i64` is reachable.
//! Lines that are not UTF-8 are decoded lossily.
//!
//! Checks:
//! - `BonusId::parse` accepts exactly the ids that are 1 to 13 ASCII digits after
//!   trimming whitespace, and returns the trimmed text.
//! - `validate_amount` and `validate_supplier` accept exactly 1 to 2147483647.
//! - `Request::url` keeps the base URL as its prefix and appends a query that contains
//!   no raw space, CR, LF or `#`, whose parameters decode back to the values.
//! - A base URL that itself contains one of those characters is rejected by
//!   `Client::new`, so no URL the client sends contains them.

#![no_main]

use esbyt::protocol::{BonusId, PROTOCOL_INT_MAX, Request, validate_amount, validate_supplier};
use esbyt::{Client, Config, Status};
use libfuzzer_sys::fuzz_target;

/// Characters that must never appear raw in a request URL, because they end the request
/// line of HTTP/1.1 or start a fragment that is never sent to the server.
const FORBIDDEN: [char; 4] = [' ', '\r', '\n', '#'];

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(4, |&byte| byte == b'\n');
    let base_url = String::from_utf8_lossy(lines.next().unwrap_or_default());
    let raw_bonus_id = String::from_utf8_lossy(lines.next().unwrap_or_default());
    let supplier = read_number(lines.next().unwrap_or_default());
    let amount = read_number(lines.next().unwrap_or_default());

    check_number_validation(supplier, amount);
    check_base_url_validation(&base_url);

    let Some(bonus_id) = check_bonus_id(&raw_bonus_id) else {
        return;
    };
    let check = Request::CheckBonus {
        bonus_id: bonus_id.clone(),
    };
    check_url(&check, &base_url, &[("bonus_id", bonus_id.as_str())]);

    // Request takes any i64; the client validates before it builds one, but the URL must
    // stay well-formed either way.
    let spend = Request::SpendBonus {
        bonus_id: bonus_id.clone(),
        supplier,
        amount,
    };
    check_url(
        &spend,
        &base_url,
        &[
            ("bonus_id", bonus_id.as_str()),
            ("supplier", &supplier.to_string()),
            ("amount", &amount.to_string()),
        ],
    );
});

fn read_number(line: &[u8]) -> i64 {
    if let Some(number) = std::str::from_utf8(line)
        .ok()
        .and_then(|text| text.trim().parse().ok())
    {
        return number;
    }
    let mut bytes = [0u8; 8];
    for (target, source) in bytes.iter_mut().zip(line) {
        *target = *source;
    }
    i64::from_le_bytes(bytes)
}

fn check_number_validation(supplier: i64, amount: i64) {
    let in_range = |value: i64| (1..=PROTOCOL_INT_MAX).contains(&value);
    match validate_supplier(supplier) {
        Ok(value) => {
            assert!(in_range(supplier), "supplier {supplier} accepted");
            assert_eq!(value, supplier);
        }
        Err(error) => {
            assert!(!in_range(supplier), "supplier {supplier} rejected: {error}");
            assert_eq!(error.status(), Status::InvalidArgument);
        }
    }
    match validate_amount(amount) {
        Ok(value) => {
            assert!(in_range(amount), "amount {amount} accepted");
            assert_eq!(value, amount);
        }
        Err(error) => {
            assert!(!in_range(amount), "amount {amount} rejected: {error}");
            assert_eq!(error.status(), Status::InvalidArgument);
        }
    }
}

/// Returns the parsed id, after checking that the parser accepted exactly the valid ids.
fn check_bonus_id(raw: &str) -> Option<BonusId> {
    let trimmed = raw.trim();
    let valid = (1..=13).contains(&trimmed.len()) && trimmed.bytes().all(|b| b.is_ascii_digit());
    match BonusId::parse(raw) {
        Ok(bonus_id) => {
            assert!(
                valid,
                "bonus_id {raw:?} accepted as {:?}",
                bonus_id.as_str()
            );
            assert_eq!(bonus_id.as_str(), trimmed);
            Some(bonus_id)
        }
        Err(error) => {
            assert!(!valid, "bonus_id {raw:?} rejected: {error}");
            assert_eq!(error.status(), Status::InvalidArgument);
            None
        }
    }
}

/// A base URL with a forbidden character must not make a client: the client would send
/// it as it is.
fn check_base_url_validation(base_url: &str) {
    if !base_url.contains(FORBIDDEN) {
        return;
    }
    let mut config = Config::new(base_url);
    config.allow_http = true;
    // Keeps a URL that slips through from reading the system's CA store on every input.
    config.system_roots = false;
    match Client::new(config) {
        Ok(_) => panic!("Client::new accepted the base URL {base_url:?}"),
        Err(error) => assert_eq!(error.status(), Status::Config, "{error}"),
    }
}

fn check_url(request: &Request, base_url: &str, expected: &[(&str, &str)]) {
    let url = request.url(base_url);
    let Some(query) = url.strip_prefix(base_url) else {
        panic!("{url:?} does not start with the base URL {base_url:?}");
    };

    let separator = if base_url.contains('?') { '&' } else { '?' };
    assert!(
        query.starts_with(separator),
        "{url:?}: the query does not start with {separator:?}"
    );
    assert!(
        !query.contains(FORBIDDEN),
        "{url:?}: the query contains a raw space, CR, LF or '#'"
    );
    assert!(query.is_ascii(), "{url:?}: the query is not ASCII");

    let parameters: Vec<(&str, String)> = query[1..]
        .split('&')
        .map(|parameter| {
            let (name, value) = parameter
                .split_once('=')
                .unwrap_or_else(|| panic!("{url:?}: parameter {parameter:?} has no '='"));
            (name, percent_decode(value))
        })
        .collect();
    assert_eq!(
        parameters.first(),
        Some(&("command", request.command().to_owned())),
        "{url:?}"
    );
    assert_eq!(parameters.len(), expected.len() + 1, "{url:?}");
    for ((name, value), (expected_name, expected_value)) in parameters[1..].iter().zip(expected) {
        assert_eq!(name, expected_name, "{url:?}");
        assert_eq!(value, expected_value, "{url:?}");
    }
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes
                .get(index + 1..index + 3)
                .filter(|digits| digits.iter().all(u8::is_ascii_hexdigit))
                .unwrap_or_else(|| panic!("{value:?}: '%' is not followed by two hex digits"));
            let hex = std::str::from_utf8(hex).expect("hex digits are ASCII");
            decoded.push(u8::from_str_radix(hex, 16).expect("two hex digits fit a byte"));
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).expect("the query encodes UTF-8 values")
}
