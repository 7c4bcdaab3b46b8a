//! The http step: one `GET` of the base URL without a command, over the
//! connection that the earlier steps opened and, for https, verified.
//!
//! A request without a command makes the bonus server execute nothing, so
//! the step can run against production. The library cannot send it (every
//! call carries a command), so the request is written here. The step:
//!
//! - passes when the response is a document of the bonus protocol, usually
//!   the error document for a missing command;
//! - warns on any other HTTP response, such as a 404 page for a wrong path
//!   or a firewall's page, because what the real server returns for a
//!   request without a command is not documented;
//! - fails when no complete HTTP response arrives: a rejected client
//!   certificate (with TLS 1.3 the rejection arrives here), a closed or
//!   reset connection, a timeout, or data that is not HTTP.

use std::io::{self, Read, Write};
use std::time::Instant;

use esbyt::{Status, diagnostics};

use super::configuration::Target;
use super::tls::{Connection, rustls_error_of};
use super::{Step, split_message};

/// Largest response head accepted.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Characters of an unexpected body quoted in the report.
const SNIPPET_CHARS: usize = 120;

/// Runs the http step on `connection`.
pub fn round_trip(target: &Target, mut connection: Connection, step: &mut Step) {
    step.detail(format!(
        "request GET {} without a command, so the server executes nothing",
        target.request_target
    ));
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: esbyt-doctor/{}\r\nAccept: */*\r\n\
         Connection: close\r\n\r\n",
        target.request_target,
        target.host_header(),
        env!("CARGO_PKG_VERSION")
    );
    let deadline = Instant::now() + target.config.timeout;
    let limit = MAX_HEAD_BYTES + target.config.max_body_bytes as usize;
    let is_tls = connection.is_tls();
    let result = send(&mut connection, request.as_bytes(), target)
        .and_then(|()| read_response(&mut connection, deadline, limit, is_tls));

    match result {
        Ok(response) => judge_response(&response, step),
        Err(failure) => {
            let (cause, fix) = explain_failure(target, &failure, is_tls, step);
            step.fail(cause, fix);
        }
    }
}

fn send(connection: &mut Connection, request: &[u8], target: &Target) -> Result<(), Failure> {
    connection
        .socket()
        .set_write_timeout(Some(target.config.timeout))
        .map_err(Failure::Io)?;
    connection
        .write_all(request)
        .and_then(|()| connection.flush())
        .map_err(Failure::Io)
}

/// A complete HTTP response.
#[derive(Debug)]
struct Response {
    status: u16,
    reason: String,
    content_type: Option<String>,
    location: Option<String>,
    body: Vec<u8>,
}

/// The reason that no complete response arrived.
#[derive(Debug)]
enum Failure {
    Io(io::Error),
    Closed,
    Truncated,
    NotHttp(String),
    TooLarge(usize),
    TimedOut,
}

/// Reads one response until it is complete by its framing
/// (`Content-Length`, chunked, or the close of the connection).
fn read_response(
    connection: &mut Connection,
    deadline: Instant,
    limit: usize,
    is_tls: bool,
) -> Result<Response, Failure> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(response) = complete_response(&buffer, false)? {
            return Ok(response);
        }
        if buffer.len() > limit {
            return Err(Failure::TooLarge(limit));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::TimedOut);
        }
        connection
            .socket()
            .set_read_timeout(Some(left))
            .map_err(Failure::Io)?;
        match connection.read(&mut chunk) {
            Ok(0) => return at_end_of_stream(&buffer),
            Ok(count) => buffer.extend_from_slice(&chunk[..count]),
            // rustls reports a TCP close without close_notify as
            // UnexpectedEof. Many servers close that way after a response.
            Err(error) if is_tls && error.kind() == io::ErrorKind::UnexpectedEof => {
                return at_end_of_stream(&buffer);
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                return Err(Failure::TimedOut);
            }
            Err(error) => return Err(Failure::Io(error)),
        }
    }
}

fn at_end_of_stream(buffer: &[u8]) -> Result<Response, Failure> {
    if buffer.is_empty() {
        return Err(Failure::Closed);
    }
    complete_response(buffer, true)?.ok_or(Failure::Truncated)
}

/// Parses `buffer` as a response. Returns `None` while more bytes are
/// needed. `closed` means that no more bytes will come.
fn complete_response(buffer: &[u8], closed: bool) -> Result<Option<Response>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let head_length = match parsed.parse(buffer) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(Failure::NotHttp(error.to_string())),
    };
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| String::from_utf8_lossy(header.value).trim().to_owned())
    };
    let status = parsed.code.unwrap_or_default();
    let rest = &buffer[head_length..];

    let body = if status == 204 || status == 304 || (100..200).contains(&status) {
        Some(Vec::new())
    } else if header("transfer-encoding").is_some_and(|value| value.contains("chunked")) {
        decode_chunked(rest)
    } else if let Some(length) = header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| Failure::NotHttp(format!("invalid Content-Length {length:?}")))?;
        (rest.len() >= length).then(|| rest[..length].to_vec())
    } else if closed {
        Some(rest.to_vec())
    } else {
        None
    };
    Ok(body.map(|body| Response {
        status,
        reason: crate::printable(parsed.reason.unwrap_or_default()),
        content_type: header("content-type"),
        location: header("location"),
        body,
    }))
}

/// Decodes a chunked body. Returns `None` until the last chunk has arrived.
fn decode_chunked(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|pair| pair == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        if rest.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fn judge_response(response: &Response, step: &mut Step) {
    let content_type = response.content_type.as_deref();
    step.detail(format!(
        "response HTTP {} {}, Content-Type {}, {} bytes",
        response.status,
        response.reason,
        content_type.map_or("none".to_owned(), crate::printable),
        response.body.len()
    ));
    // A request without a command gets an error document from the bonus
    // server, which parse_check_bonus reports as a server refusal.
    match esbyt::protocol::parse_check_bonus(&response.body, content_type) {
        Err(error) if error.status() == Status::Server => step.detail(format!(
            "the body is a document of the bonus protocol: result {}, message {:?}",
            error.server_code().unwrap_or_default(),
            crate::printable(error.message())
        )),
        Ok(_) => step.detail("the body is a check_bonus document of the bonus protocol"),
        Err(error) => {
            if let Some(location) = &response.location {
                step.detail(format!("Location {}", crate::printable(location)));
            }
            step.detail(format!("body starts with {:?}", snippet(&response.body)));
            let fix = if (300..400).contains(&response.status) {
                "the library follows no redirects: if the Location above is the bonus server, \
                 use it as the URL"
            } else {
                "check the path of the URL: the production server serves the protocol on / and \
                 the partner's test server on /bonus/. A page of a proxy or a firewall also \
                 means that the request did not reach the bonus server"
            };
            step.warn(
                format!(
                    "the response is not a document of the bonus protocol: {}",
                    crate::printable(error.message())
                ),
                fix,
            );
        }
    }
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    crate::printable(&text.chars().take(SNIPPET_CHARS).collect::<String>())
}

fn explain_failure(
    target: &Target,
    failure: &Failure,
    is_tls: bool,
    step: &mut Step,
) -> (String, String) {
    const FIX_WRONG_SERVER: &str = "check that the URL names the bonus server: with an http:// \
                                    URL, check that the port does not expect HTTPS";
    match failure {
        Failure::Io(error) => {
            if let Some(rustls_error) = rustls_error_of(error) {
                // With TLS 1.3 the server checks the client certificate after
                // the client's side of the handshake, so its rejection arrives
                // as an alert on the first read.
                let (detail, message) = diagnostics::describe_tls_error(rustls_error, &target.host);
                step.detail(format!("library detail {}", detail.name()));
                return split_message(&message, "check the client certificate");
            }
            (
                format!("the connection failed during the request: {error}"),
                closed_connection_fix(target, is_tls).to_owned(),
            )
        }
        Failure::Closed => (
            "the server closed the connection without sending a response".to_owned(),
            closed_connection_fix(target, is_tls).to_owned(),
        ),
        Failure::Truncated => (
            "the server closed the connection before the response was complete".to_owned(),
            "try again; if it repeats, tell the bonus programme's support".to_owned(),
        ),
        Failure::NotHttp(reason) => (
            format!("the response is not HTTP: {reason}"),
            FIX_WRONG_SERVER.to_owned(),
        ),
        Failure::TooLarge(limit) => (
            format!("the response is larger than {limit} bytes"),
            FIX_WRONG_SERVER.to_owned(),
        ),
        Failure::TimedOut => (
            format!(
                "no complete response within {} ms (timeout_ms)",
                target.config.timeout.as_millis()
            ),
            "the server accepted the connection but did not respond: try again later, and if it \
             repeats, tell the bonus programme's support"
                .to_owned(),
        ),
    }
}

fn closed_connection_fix(target: &Target, is_tls: bool) -> &'static str {
    if is_tls && diagnostics::server_requested_client_certificate() {
        "the server may have rejected the client certificate: check that it is the one the \
         bonus programme issued for this partner and that it has not expired"
    } else if !target.https {
        "check that the URL names the bonus server and that the port does not expect HTTPS"
    } else {
        "try again; if it repeats, tell the bonus programme's support"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_body_decoded_when_complete() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n";
        assert_eq!(decode_chunked(body), Some(b"Wikipedia".to_vec()));
        assert_eq!(decode_chunked(&body[..10]), None);
    }

    #[test]
    fn content_length_response_waits_for_body() {
        let response = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc";
        assert!(complete_response(response, false).unwrap().is_none());
        assert!(complete_response(response, true).unwrap().is_none());

        let response = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
        let parsed = complete_response(response, false).unwrap().unwrap();
        assert_eq!(parsed.status, 200);
        assert_eq!(parsed.body, b"abc");
    }

    #[test]
    fn close_delimited_body_complete_at_close() {
        let response = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n<html>";
        assert!(complete_response(response, false).unwrap().is_none());
        let parsed = complete_response(response, true).unwrap().unwrap();
        assert_eq!(parsed.status, 404);
        assert_eq!(parsed.reason, "Not Found");
        assert_eq!(parsed.content_type.as_deref(), Some("text/html"));
        assert_eq!(parsed.body, b"<html>");
    }

    #[test]
    fn garbage_is_not_http() {
        let result = complete_response(b"\x15\x03\x03\x00\x02\x02\x46", true);
        assert!(matches!(result, Err(Failure::NotHttp(_))));
    }
}
