//! Parsing of response documents into balances, write-offs and server errors.

use quick_xml::Reader;
use quick_xml::events::{BytesRef, Event};

use super::encoding::decode_body;
use crate::error::Error;

/// Maximum length in bytes of the text values `account`, `bonus_id` and
/// `spend_id`, so each fits a 64-byte NUL-terminated field of the C ABI.
pub const MAX_TEXT_VALUE_BYTES: usize = 63;

/// How much of an unusable body a protocol error quotes, in characters.
const SNIPPET_CHARS: usize = 120;

/// The balance of a participant, from a `check_bonus` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Balance {
    /// The participant's personal account number, as text because of leading zeros.
    pub account: String,
    /// The participant id as the server echoed it.
    pub bonus_id: String,
    /// The bonus balance.
    pub amount: i64,
}

/// An executed write-off, from a `spend_bonus` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOff {
    /// The number of the write-off document, as text: its leading zeros are
    /// part of the number printed on the receipt.
    pub spend_id: String,
    /// The spend journal's id of the attempt, when a journal is configured.
    pub attempt_id: Option<String>,
}

/// Parses a `check_bonus` response. A non-zero `result` gives `Status::Server`,
/// anything else unusable gives `Status::Protocol`.
pub fn parse_check_bonus(body: &[u8], content_type: Option<&str>) -> Result<Balance, Error> {
    let document = Document::parse(body, content_type)?;
    document.check_result()?;
    Ok(Balance {
        account: document.text_value("account")?,
        bonus_id: document.text_value("bonus_id")?,
        amount: document.amount()?,
    })
}

/// Parses a `spend_bonus` response. A non-zero `result` gives `Status::Server`,
/// anything else unusable gives `Status::Protocol`.
pub fn parse_spend_bonus(body: &[u8], content_type: Option<&str>) -> Result<WriteOff, Error> {
    let document = Document::parse(body, content_type)?;
    let result = document.check_result();
    // A refusal that carries a write-off number contradicts itself, so it
    // cannot prove that nothing was written off.
    if let (Err(refusal), Some(spend_id)) = (&result, document.get("spend_id")) {
        return Err(Error::protocol(format!(
            "the response has both a non-zero result {} and the write-off number {spend_id:?}",
            refusal.server_code().unwrap_or_default()
        )));
    }
    result?;
    Ok(WriteOff {
        spend_id: document.text_value("spend_id")?,
        attempt_id: None,
    })
}

/// The children of `<response>`: element names with their text, whitespace trimmed.
#[derive(Debug)]
struct Document {
    fields: Vec<(String, String)>,
}

impl Document {
    fn parse(body: &[u8], content_type: Option<&str>) -> Result<Document, Error> {
        if body.trim_ascii().is_empty() {
            return Err(Error::protocol("the response body is empty"));
        }
        let text = decode_body(body, content_type)?;
        if looks_like_html(&text) {
            return Err(Error::protocol(format!(
                "the response is an HTML page, not a protocol document: {}",
                snippet(&text)
            )));
        }
        parse_fields(&text).map(|fields| Document { fields })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    fn require(&self, name: &str) -> Result<&str, Error> {
        self.get(name)
            .ok_or_else(|| Error::protocol(format!("the response has no <{name}> element")))
    }

    /// Returns a server error for a non-zero `result`.
    fn check_result(&self) -> Result<(), Error> {
        let raw = self.require("result")?;
        let code: i64 = raw
            .parse()
            .map_err(|_| Error::protocol(format!("element <result> is not an integer: {raw:?}")))?;
        if code == 0 {
            return Ok(());
        }
        let message = self.get("message").unwrap_or_default().to_owned();
        Err(Error::server(code, message))
    }

    fn text_value(&self, name: &str) -> Result<String, Error> {
        let value = self.require(name)?;
        if value.is_empty() {
            return Err(Error::protocol(format!("element <{name}> is empty")));
        }
        if value.chars().any(char::is_control) {
            return Err(Error::protocol(format!(
                "element <{name}> contains a control character: {value:?}"
            )));
        }
        if value.len() > MAX_TEXT_VALUE_BYTES {
            return Err(Error::protocol(format!(
                "element <{name}> is {} bytes long, more than the maximum of {MAX_TEXT_VALUE_BYTES}: {}",
                value.len(),
                snippet(value)
            )));
        }
        Ok(value.to_owned())
    }

    /// Parses `amount`, accepting a fraction of zeros such as `500.00`.
    fn amount(&self) -> Result<i64, Error> {
        let raw = self.require("amount")?;
        let (whole, fraction) = raw.split_once('.').unwrap_or((raw, "0"));
        let zero_fraction = !fraction.is_empty() && fraction.bytes().all(|b| b == b'0');
        match whole.parse::<i64>() {
            Ok(amount) if zero_fraction && !whole.starts_with('+') => Ok(amount),
            _ => Err(Error::protocol(format!(
                "element <amount> is not an integer: {raw:?}"
            ))),
        }
    }
}

fn looks_like_html(text: &str) -> bool {
    let head: String = text.trim_start().chars().take(15).collect();
    let head = head.to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// Collects the direct children of the `<response>` root element.
fn parse_fields(text: &str) -> Result<Vec<(String, String)>, Error> {
    let mut reader = Reader::from_str(text);
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut depth = 0usize;
    let mut current: Option<(String, String)> = None;

    loop {
        let event = reader.read_event().map_err(|error| match error {
            // Every syntax error of quick-xml is a construct that the end of
            // the input left unclosed, so it means truncation.
            quick_xml::Error::Syntax(_) => truncated_error(),
            _ => Error::protocol(format!(
                "malformed XML at byte {}: {error}",
                reader.error_position()
            )),
        })?;

        match event {
            Event::Start(element) => {
                let name = element.name().as_ref().to_owned();
                depth += 1;
                match depth {
                    1 => check_root(&name, text)?,
                    2 if is_known(&name) => current = Some((name, String::new())),
                    3 => check_no_children(current.as_ref(), &name)?,
                    _ => {}
                }
            }
            Event::Empty(element) => {
                let name = element.name().as_ref().to_owned();
                match depth {
                    0 => {
                        check_root(&name, text)?;
                        return Ok(fields);
                    }
                    1 if is_known(&name) => add_field(&mut fields, name, String::new())?,
                    2 => check_no_children(current.as_ref(), &name)?,
                    _ => {}
                }
            }
            Event::Text(content) if depth == 2 => {
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(&content.xml10_content());
                }
            }
            Event::CData(content) if depth == 2 => {
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(&content.xml10_content());
                }
            }
            Event::GeneralRef(reference) if depth == 2 => {
                if let Some((_, value)) = current.as_mut() {
                    value.push(resolve_reference(&reference)?);
                }
            }
            Event::End(_) => {
                if depth == 2
                    && let Some((name, value)) = current.take()
                {
                    add_field(&mut fields, name, value)?;
                }
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(fields);
                }
            }
            Event::DocType(doctype)
                if doctype.xml10_content().trim().eq_ignore_ascii_case("html") =>
            {
                return Err(Error::protocol(format!(
                    "the response is an HTML page, not a protocol document: {}",
                    snippet(text)
                )));
            }
            Event::Eof if depth == 0 => {
                return Err(Error::protocol(format!(
                    "the response contains no XML element: {}",
                    snippet(text)
                )));
            }
            Event::Eof => return Err(truncated_error()),
            _ => {}
        }
    }
}

/// Elements of the protocol. Others are skipped unread, so a server upgrade
/// that adds elements does not break cash registers, and a body of many
/// unknown elements costs no more than reading it.
const KNOWN_ELEMENTS: [&str; 6] = [
    "result", "message", "account", "bonus_id", "amount", "spend_id",
];

fn is_known(name: &str) -> bool {
    KNOWN_ELEMENTS.contains(&name)
}

/// Rejects markup inside a protocol value: `<result>0<x>5</x></result>`
/// has no single meaning.
fn check_no_children(current: Option<&(String, String)>, child: &str) -> Result<(), Error> {
    match current {
        Some((name, _)) => Err(Error::protocol(format!(
            "element <{name}> contains the element <{child}>, but a value was expected"
        ))),
        None => Ok(()),
    }
}

fn truncated_error() -> Error {
    Error::protocol("the response is truncated: the document ends before </response>")
}

fn check_root(name: &str, text: &str) -> Result<(), Error> {
    if name == "response" {
        Ok(())
    } else if name.eq_ignore_ascii_case("html") {
        Err(Error::protocol(format!(
            "the response is an HTML page, not a protocol document: {}",
            snippet(text)
        )))
    } else {
        Err(Error::protocol(format!(
            "the root element is <{name}>, expected <response>"
        )))
    }
}

/// Stores one child of `<response>`, trimmed of ASCII whitespace. A repeated
/// element is rejected: two `<amount>` values leave no safe choice.
fn add_field(fields: &mut Vec<(String, String)>, name: String, value: String) -> Result<(), Error> {
    if fields.iter().any(|(existing, _)| *existing == name) {
        return Err(Error::protocol(format!(
            "element <{name}> appears more than once in the response"
        )));
    }
    let value = value
        .trim_matches(|c: char| c.is_ascii_whitespace())
        .to_owned();
    fields.push((name, value));
    Ok(())
}

fn resolve_reference(reference: &BytesRef<'_>) -> Result<char, Error> {
    let name: &str = reference;
    if let Ok(Some(character)) = reference.resolve_char_ref() {
        return Ok(character);
    }
    let predefined = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    };
    predefined.ok_or_else(|| {
        Error::protocol(format!(
            "the response uses an unknown XML reference &{name};"
        ))
    })
}

/// Returns the start of a body as one line, for error messages.
fn snippet(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut shortened: String = line.chars().take(SNIPPET_CHARS).collect();
    if line.chars().count() > SNIPPET_CHARS {
        shortened.push_str("...");
    }
    format!("{shortened:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;

    const BALANCE: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<response>\n    <account>1055444444</account>\n    <bonus_id>2700009601205</bonus_id>\n    <amount>500</amount>\n    <result>0</result>\n</response>\n";
    const WRITE_OFF: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<response>\n    <spend_id>000000005</spend_id>\n    <result>0</result>\n</response>\n";
    const SERVER_ERROR: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<response>\n\t<result>3</result>\n\t<message>Недостаточно бонусов</message >\n</response>\n";

    fn balance(body: &str) -> Balance {
        parse_check_bonus(body.as_bytes(), None).unwrap()
    }

    fn protocol_error(body: &[u8]) -> String {
        let error = parse_check_bonus(body, None).unwrap_err();
        assert_eq!(error.status(), Status::Protocol, "{error}");
        error.message().to_owned()
    }

    #[test]
    fn balance_from_partner_document() {
        let parsed = balance(BALANCE);
        assert_eq!(parsed.account, "1055444444");
        assert_eq!(parsed.bonus_id, "2700009601205");
        assert_eq!(parsed.amount, 500);
    }

    #[test]
    fn write_off_keeps_leading_zeros() {
        let parsed = parse_spend_bonus(WRITE_OFF.as_bytes(), None).unwrap();
        assert_eq!(parsed.spend_id, "000000005");
    }

    #[test]
    fn server_error_passes_code_and_message() {
        let body = SERVER_ERROR.as_bytes();
        let error = parse_spend_bonus(body, None).unwrap_err();
        assert_eq!(error.status(), Status::Server);
        assert_eq!(error.server_code(), Some(3));
        assert_eq!(error.message(), "Недостаточно бонусов");
        let error = parse_check_bonus(body, None).unwrap_err();
        assert_eq!(error.server_code(), Some(3));
    }

    #[test]
    fn server_error_without_message() {
        let error =
            parse_check_bonus(b"<response><result>-7</result></response>", None).unwrap_err();
        assert_eq!(error.status(), Status::Server);
        assert_eq!(error.server_code(), Some(-7));
        assert_eq!(error.message(), "");
    }

    #[test]
    fn whitespace_around_values_is_trimmed() {
        let parsed = balance(
            "<response><account>\n 0012 </account><bonus_id> 2700009601205 </bonus_id>\t<amount>\t500\r\n</amount><result> 0 </result></response>",
        );
        assert_eq!(parsed.account, "0012");
        assert_eq!(parsed.bonus_id, "2700009601205");
        assert_eq!(parsed.amount, 500);
    }

    #[test]
    fn utf8_byte_order_mark_accepted() {
        let mut body = b"\xEF\xBB\xBF".to_vec();
        body.extend_from_slice(BALANCE.as_bytes());
        assert_eq!(parse_check_bonus(&body, None).unwrap().amount, 500);
    }

    #[test]
    fn windows_1251_error_message_arrives_intact() {
        let (encoded, _, _) = encoding_rs::WINDOWS_1251.encode(
            "<?xml version=\"1.0\" encoding=\"windows-1251\"?><response><result>1</result><message>Участник не найден</message ></response>",
        );
        let error = parse_check_bonus(&encoded, None).unwrap_err();
        assert_eq!(error.message(), "Участник не найден");

        let (encoded, _, _) = encoding_rs::WINDOWS_1251
            .encode("<response><result>1</result><message>Участник не найден</message></response>");
        let error =
            parse_check_bonus(&encoded, Some("text/xml; charset=windows-1251")).unwrap_err();
        assert_eq!(error.message(), "Участник не найден");
    }

    #[test]
    fn text_split_by_references_is_joined() {
        let error = parse_check_bonus(
            "<response><result>2</result><message>A &amp; B &#1041;&#x411; &lt;x&gt; <![CDATA[<y>]]> &quot;q&apos;</message></response>".as_bytes(),
            None,
        )
        .unwrap_err();
        assert_eq!(error.message(), "A & B ББ <x> <y> \"q'");
    }

    #[test]
    fn unknown_elements_are_ignored() {
        let parsed = balance(
            "<response><version>2</version><account>1</account><extra><nested>x</nested></extra><bonus_id>5</bonus_id><amount>7</amount><result>0</result><empty/></response>",
        );
        assert_eq!(parsed.account, "1");
        assert_eq!(parsed.amount, 7);
    }

    #[test]
    fn amount_with_zero_fraction() {
        let with = |amount: &str| {
            format!(
                "<response><account>1</account><bonus_id>5</bonus_id><amount>{amount}</amount><result>0</result></response>"
            )
        };
        assert_eq!(balance(&with("500.00")).amount, 500);
        assert_eq!(balance(&with("500.0")).amount, 500);
        assert_eq!(balance(&with("-3")).amount, -3);
        for bad in [
            "500.5",
            "500.",
            "5e2",
            "",
            "abc",
            "1,0",
            "+5",
            "99999999999999999999",
        ] {
            let message = protocol_error(with(bad).as_bytes());
            assert!(
                message.contains("<amount>")
                    && (message.contains("not an integer") || message.contains("no <amount>")),
                "{bad}: {message}"
            );
        }
    }

    #[test]
    fn empty_body_rejected() {
        assert_eq!(protocol_error(b""), "the response body is empty");
        assert_eq!(protocol_error(b" \r\n"), "the response body is empty");
    }

    #[test]
    fn html_page_rejected() {
        let message = protocol_error(
            b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>",
        );
        assert!(
            message.starts_with("the response is an HTML page"),
            "{message}"
        );
        assert!(message.contains("502 Bad Gateway"), "{message}");
        let message = protocol_error(b"<html><body>Forbidden</body></html>");
        assert!(
            message.starts_with("the response is an HTML page"),
            "{message}"
        );
    }

    #[test]
    fn truncated_document_rejected() {
        for cut in [BALANCE.len() - 13, BALANCE.len() - 20, 60, 45] {
            let message = protocol_error(&BALANCE.as_bytes()[..cut]);
            assert!(message.contains("truncated"), "cut at {cut}: {message}");
        }
    }

    #[test]
    fn missing_element_named() {
        let message = protocol_error(
            b"<response><account>1</account><amount>5</amount><result>0</result></response>",
        );
        assert_eq!(message, "the response has no <bonus_id> element");
        let message = protocol_error(b"<response><account>1</account></response>");
        assert_eq!(message, "the response has no <result> element");
        let error =
            parse_spend_bonus(b"<response><result>0</result></response>", None).unwrap_err();
        assert_eq!(error.message(), "the response has no <spend_id> element");
    }

    #[test]
    fn non_integer_result_rejected() {
        let message = protocol_error(b"<response><result>ok</result></response>");
        assert_eq!(message, "element <result> is not an integer: \"ok\"");
    }

    #[test]
    fn wrong_root_and_plain_text_rejected() {
        assert_eq!(
            protocol_error(b"<answer><result>0</result></answer>"),
            "the root element is <answer>, expected <response>"
        );
        let message = protocol_error(b"Service temporarily unavailable");
        assert!(
            message.starts_with("the response contains no XML element"),
            "{message}"
        );
    }

    #[test]
    fn duplicate_element_rejected() {
        let message = protocol_error(
            b"<response><account>1</account><bonus_id>5</bonus_id><amount>5</amount><amount>6</amount><result>0</result></response>",
        );
        assert_eq!(
            message,
            "element <amount> appears more than once in the response"
        );
    }

    #[test]
    fn overlong_spend_id_rejected() {
        let body = format!(
            "<response><spend_id>{}</spend_id><result>0</result></response>",
            "1".repeat(64)
        );
        let error = parse_spend_bonus(body.as_bytes(), None).unwrap_err();
        assert_eq!(error.status(), Status::Protocol);
        assert!(
            error.message().contains("more than the maximum of 63"),
            "{}",
            error.message()
        );
        let body = format!(
            "<response><spend_id>{}</spend_id><result>0</result></response>",
            "1".repeat(63)
        );
        assert_eq!(
            parse_spend_bonus(body.as_bytes(), None)
                .unwrap()
                .spend_id
                .len(),
            63
        );
    }

    #[test]
    fn control_character_in_value_rejected() {
        let error = parse_spend_bonus(
            b"<response><spend_id>12&#1;3</spend_id><result>0</result></response>",
            None,
        )
        .unwrap_err();
        assert_eq!(
            error.message(),
            "element <spend_id> contains a control character: \"12\\u{1}3\""
        );
    }

    #[test]
    fn markup_inside_value_rejected() {
        let message = protocol_error(b"<response><account>1</account><bonus_id>5</bonus_id><amount>5</amount><result>0<x>5</x></result></response>");
        assert_eq!(
            message,
            "element <result> contains the element <x>, but a value was expected"
        );
        let message = protocol_error(b"<response><result>0<br/></result></response>");
        assert_eq!(
            message,
            "element <result> contains the element <br>, but a value was expected"
        );
    }

    #[test]
    fn refusal_with_spend_id_rejected() {
        let error = parse_spend_bonus(
            b"<response><spend_id>000000007</spend_id><result>6</result><message>x</message></response>",
            None,
        )
        .unwrap_err();
        assert_eq!(error.status(), Status::Protocol);
        assert!(
            error
                .message()
                .contains("non-zero result 6 and the write-off number \"000000007\""),
            "{}",
            error.message()
        );
    }

    #[test]
    fn many_unknown_elements_parse_in_linear_time() {
        // Quadratic handling of 200 000 elements would take minutes.
        let mut body = String::from("<response>");
        for index in 0..200_000 {
            body.push_str(&format!("<e{index}>x</e{index}>"));
        }
        body.push_str("<account>1</account><bonus_id>5</bonus_id><amount>7</amount><result>0</result></response>");
        assert_eq!(balance(&body).amount, 7);
    }

    #[test]
    fn entity_expansion_bomb_rejected() {
        let body = concat!(
            "<?xml version=\"1.0\"?><!DOCTYPE response [",
            "<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">",
            "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">",
            "]><response><result>1</result><message>&d;</message></response>"
        );
        let message = protocol_error(body.as_bytes());
        assert_eq!(message, "the response uses an unknown XML reference &d;");
    }

    #[test]
    fn mismatched_end_tag_rejected() {
        let message = protocol_error(b"<response><result>0</resul></response>");
        assert!(message.starts_with("malformed XML"), "{message}");
    }
}
