//! Character decoding of response bodies.
//!
//! The partner document declares UTF-8, but servers of this kind also send
//! windows-1251, declared in the HTTP `charset`, in the XML declaration, or
//! not at all. The body is decoded to a `String` here so the XML parser only
//! ever sees correct Unicode text.

use encoding_rs::{Encoding, UTF_8, WINDOWS_1251};

use crate::error::Error;

/// How many leading bytes are searched for the XML declaration.
const DECLARATION_SEARCH_BYTES: usize = 256;

/// Decodes a response body to text.
///
/// The encoding comes from, in this order: a byte-order mark, the `charset`
/// parameter of the HTTP `Content-Type`, the XML declaration, and UTF-8 when
/// none of them names one. Bytes that are not valid UTF-8 where UTF-8 was
/// declared or assumed are decoded as windows-1251, because a Russian server
/// that sends invalid UTF-8 is in practice sending windows-1251, and the
/// numbers the protocol carries are ASCII in both.
pub fn decode_body(body: &[u8], content_type: Option<&str>) -> Result<String, Error> {
    if let Some((encoding, bom_length)) = Encoding::for_bom(body) {
        return decode_strict(encoding, &body[bom_length..]);
    }

    let declared = content_type
        .and_then(charset_from_content_type)
        .or_else(|| charset_from_declaration(body));

    let encoding = declared.unwrap_or(UTF_8);
    if encoding == UTF_8 {
        if let Ok(text) = std::str::from_utf8(body) {
            return Ok(text.to_owned());
        }
        log::debug!("response body is not valid UTF-8; decoding it as windows-1251");
        return decode_strict(WINDOWS_1251, body);
    }
    decode_strict(encoding, body)
}

fn decode_strict(encoding: &'static Encoding, bytes: &[u8]) -> Result<String, Error> {
    match encoding.decode_without_bom_handling_and_without_replacement(bytes) {
        Some(text) => Ok(text.into_owned()),
        None => Err(Error::protocol(format!(
            "the response body is not valid {} text",
            encoding.name()
        ))),
    }
}

/// Returns the encoding named by `charset=` in a `Content-Type` value, if it is known.
fn charset_from_content_type(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let label = value.trim().trim_matches('"');
        Encoding::for_label(label.as_bytes())
    })
}

/// Returns the encoding named by `encoding="..."` in the XML declaration, if it is known.
fn charset_from_declaration(body: &[u8]) -> Option<&'static Encoding> {
    let head = &body[..body.len().min(DECLARATION_SEARCH_BYTES)];
    let head = head.trim_ascii_start();
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|pair| pair == b"?>")?;
    let declaration = &head[..end];

    let key = b"encoding";
    let start = declaration
        .windows(key.len())
        .position(|window| window == key)?;
    let rest = declaration[start + key.len()..].trim_ascii_start();
    let rest = rest.strip_prefix(b"=")?.trim_ascii_start();
    let quote = *rest.first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let value = &rest[1..];
    let close = value.iter().position(|&byte| byte == quote)?;
    Encoding::for_label(&value[..close])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "Ошибка" in windows-1251.
    const OSHIBKA_1251: &[u8] = &[0xCE, 0xF8, 0xE8, 0xE1, 0xEA, 0xE0];

    #[test]
    fn plain_utf8() {
        assert_eq!(
            decode_body("<a>Ошибка</a>".as_bytes(), None).unwrap(),
            "<a>Ошибка</a>"
        );
    }

    #[test]
    fn utf8_byte_order_mark_is_stripped() {
        let body = b"\xEF\xBB\xBF<?xml version=\"1.0\"?><a/>";
        assert_eq!(
            decode_body(body, None).unwrap(),
            "<?xml version=\"1.0\"?><a/>"
        );
    }

    #[test]
    fn windows_1251_from_declaration() {
        let mut body = b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><m>".to_vec();
        body.extend_from_slice(OSHIBKA_1251);
        body.extend_from_slice(b"</m>");
        let text = decode_body(&body, Some("text/xml")).unwrap();
        assert!(text.ends_with("<m>Ошибка</m>"), "{text}");
    }

    #[test]
    fn windows_1251_from_http_charset() {
        let mut body = b"<m>".to_vec();
        body.extend_from_slice(OSHIBKA_1251);
        body.extend_from_slice(b"</m>");
        let text = decode_body(&body, Some("text/xml; charset=\"Windows-1251\"")).unwrap();
        assert_eq!(text, "<m>Ошибка</m>");
    }

    #[test]
    fn http_charset_wins_over_declaration() {
        let mut body = b"<?xml version='1.0' encoding='utf-8'?><m>".to_vec();
        body.extend_from_slice(OSHIBKA_1251);
        body.extend_from_slice(b"</m>");
        let text = decode_body(&body, Some("text/xml;charset=cp1251")).unwrap();
        assert!(text.ends_with("<m>Ошибка</m>"), "{text}");
    }

    #[test]
    fn undeclared_invalid_utf8_falls_back_to_windows_1251() {
        let mut body = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><m>".to_vec();
        body.extend_from_slice(OSHIBKA_1251);
        body.extend_from_slice(b"</m>");
        let text = decode_body(&body, None).unwrap();
        assert!(text.ends_with("<m>Ошибка</m>"), "{text}");
    }

    #[test]
    fn declaration_parsing() {
        let found = |body: &[u8]| charset_from_declaration(body).map(|e| e.name());
        assert_eq!(
            found(b"<?xml version=\"1.0\" encoding = 'windows-1251' ?>"),
            Some("windows-1251")
        );
        assert_eq!(found(b"  \r\n<?xml encoding=\"UTF-8\"?>"), Some("UTF-8"));
        assert_eq!(
            found(b"<?xml version=\"1.0\"?><a encoding=\"koi8-r\"/>"),
            None
        );
        assert_eq!(found(b"<?xml encoding=\"no-such-charset\"?>"), None);
        assert_eq!(found(b"<response/>"), None);
    }
}
