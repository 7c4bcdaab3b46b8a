//! The response documents of the partner protocol, byte for byte as the
//! partner document prints them: 4-space indentation in the success
//! documents, tabs and `</message >` in the error document.

/// Card of every balance check. The balance document echoes it, and the
/// library rejects a balance whose `bonus_id` differs from the request.
pub const CARD: &str = "2700009601205";

/// Balance that every client checks for in the `check_bonus` response.
pub const BALANCE: i64 = 500;

/// Query string of every balance check.
pub const CHECK_BONUS_QUERY: &str = "?command=check_bonus&bonus_id=2700009601205";

/// `Content-Type` of every response.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// Success response of `check_bonus`.
pub const BALANCE_DOCUMENT: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>
<response>
    <account>1055444444</account>
    <bonus_id>2700009601205</bonus_id>
    <amount>500</amount>
    <result>0</result>
</response>
";

/// Success response of `spend_bonus`.
pub const WRITE_OFF_DOCUMENT: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>
<response>
    <spend_id>000000005</spend_id>
    <result>0</result>
</response>
";

/// Error response in the protocol's single error shape, here for an unknown card.
pub const ERROR_DOCUMENT: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>
<response>
\t<result>4</result>
\t<message>Участник с идентификатором 2700009601999 не найден</message >
</response>
";

/// Builds an HTTP/1.1 200 response with a body and its length, as the
/// loopback server sends it.
pub fn http_response(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
