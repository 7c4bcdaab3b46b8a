//! The small part of HTTP/1.1 that the emulator needs: reading request heads from a
//! connection and writing complete responses with `Content-Length`, and the broken
//! deliveries of the faults: a truncated response, a reset.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use rustls::{ServerConnection, StreamOwned};
use socket2::SockRef;

/// Maximum size of a request head (request line and headers) in bytes. Larger heads get 431.
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Maximum request body that is read and discarded. GET requests of the protocol have no
/// body, so a larger one gets 413.
pub(crate) const MAX_BODY_BYTES: u64 = 64 * 1024;

/// Time that a new connection may stay silent before its first request starts, and the
/// default for `EmulatorConfig::keep_alive_timeout`. The emulator closes the connection
/// afterwards, as servers close idle connections.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Maximum time between the first byte of a request and the end of its head and body.
/// A slower client gets 408 and the connection is closed.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Maximum time that one write of a response may block.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Time to keep reading and discarding input after the emulator decides to close, so
/// that unread input does not turn the close into a reset that destroys the response.
const LINGER_TIMEOUT: Duration = Duration::from_secs(1);

const READ_CHUNK_BYTES: usize = 4096;

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    /// The request target as sent, for the log.
    pub target: String,
    /// Path part of the target, still percent-encoded.
    pub path: String,
    /// Query string without the `?`, still percent-encoded.
    pub query: String,
    /// Whether the client allows the connection to stay open after the response.
    pub keep_alive: bool,
    /// Whether the request line has version HTTP/1.0, whose keep-alive the response must
    /// confirm.
    pub is_http10: bool,
}

/// A complete response, held as plain data until it is written.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Headers sent after `Content-Type` and `Content-Length`, such as `Allow` with 405.
    pub extra_headers: Vec<(&'static str, String)>,
    /// Whether the connection must close after this response whatever the client asked.
    pub close: bool,
    /// `<result>` of a protocol document, for the request log.
    pub result_code: Option<i32>,
    /// `<spend_id>` of an executed write-off, for the request log.
    pub spend_id: Option<String>,
}

pub(crate) const XML_CONTENT_TYPE: &str = "text/xml; charset=utf-8";
const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

impl Response {
    /// Creates a 200 response that carries a protocol document.
    pub fn xml(xml: String, result_code: i32, spend_id: Option<String>) -> Self {
        Response {
            status: 200,
            content_type: XML_CONTENT_TYPE,
            body: xml.into_bytes(),
            extra_headers: Vec::new(),
            close: false,
            result_code: Some(result_code),
            spend_id,
        }
    }

    /// Creates a response with a short plain-text body, for errors outside the protocol.
    pub fn text(status: u16, text: String) -> Self {
        Response {
            status,
            content_type: TEXT_CONTENT_TYPE,
            body: text.into_bytes(),
            extra_headers: Vec::new(),
            close: false,
            result_code: None,
            spend_id: None,
        }
    }

    fn closing(status: u16, text: &str) -> Self {
        let mut response = Response::text(status, format!("{text}\n"));
        response.close = true;
        response
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Reason that no request was read from a connection.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The client closed the connection or stayed idle before a new request started.
    Closed,
    /// The request is malformed or too large. The emulator sends the response, then closes.
    Rejected {
        /// Boxed because it is much larger than the other variants.
        response: Box<Response>,
        reason: String,
    },
    /// The connection failed or closed in the middle of a request.
    Io(io::Error),
}

impl ReadError {
    fn rejected(status: u16, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        ReadError::Rejected {
            response: Box::new(Response::closing(status, &reason)),
            reason,
        }
    }
}

/// A byte stream to a client: plain TCP, or TLS over TCP after the handshake.
pub(crate) trait ClientStream: Read + Write {
    /// Returns the TCP socket underneath, for timeouts and for discarding input.
    fn socket(&self) -> &TcpStream;

    /// Ends the sending side of the connection. TLS sends `close_notify` first.
    fn shutdown_write(&mut self) -> io::Result<()>;
}

impl ClientStream for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl ClientStream for StreamOwned<ServerConnection, TcpStream> {
    fn socket(&self) -> &TcpStream {
        &self.sock
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush()?;
        self.sock.shutdown(Shutdown::Write)
    }
}

/// A client connection with the bytes read past the end of the previous request.
pub(crate) struct Connection<S: ClientStream> {
    stream: S,
    buffer: Vec<u8>,
}

impl<S: ClientStream> Connection<S> {
    pub fn new(stream: S) -> Self {
        Connection {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Reads the next request head and discards its body, if any. A connection that stays
    /// silent for `idle_timeout` before the request starts counts as closed.
    pub fn read_request(&mut self, idle_timeout: Duration) -> Result<Request, ReadError> {
        // Set when the first byte of the request line is available, which may be a byte left
        // over from the previous request.
        let mut started: Option<Instant> = None;
        let head_end = loop {
            // RFC 9112 section 2.2: a server should ignore empty lines before a request line.
            let blank = self
                .buffer
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            self.buffer.drain(..blank);
            if !self.buffer.is_empty() {
                started.get_or_insert_with(Instant::now);
            }

            if let Some(end) = find_head_end(&self.buffer) {
                if end > MAX_HEAD_BYTES {
                    return Err(head_too_large());
                }
                break end;
            }
            if self.buffer.len() >= MAX_HEAD_BYTES {
                return Err(head_too_large());
            }

            let timeout = match started {
                None => idle_timeout,
                Some(start) => remaining(start)?,
            };
            match self.read_some(timeout) {
                Ok(0) if started.is_none() => return Err(ReadError::Closed),
                Ok(0) => return Err(ReadError::Io(closed_mid_request())),
                Ok(_) => {}
                Err(error) if is_timeout(&error) && started.is_none() => {
                    return Err(ReadError::Closed);
                }
                // rustls reports a TCP close without `close_notify` as UnexpectedEof. Many
                // HTTPS clients close idle connections that way, so between requests it
                // counts as a normal close. Plain TCP reads never return this error.
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof && started.is_none() => {
                    return Err(ReadError::Closed);
                }
                Err(error) if is_timeout(&error) => continue,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(ReadError::Io(error)),
            }
        };

        let head = String::from_utf8_lossy(&self.buffer[..head_end]).into_owned();
        self.buffer.drain(..head_end);
        let (request, body_length) = parse_head(&head)?;
        let start = started.unwrap_or_else(Instant::now);
        self.discard_body(body_length, start)?;
        Ok(request)
    }

    fn read_some(&mut self, timeout: Duration) -> io::Result<usize> {
        self.stream.socket().set_read_timeout(Some(timeout))?;
        let mut chunk = [0u8; READ_CHUNK_BYTES];
        let count = self.stream.read(&mut chunk)?;
        self.buffer.extend_from_slice(&chunk[..count]);
        Ok(count)
    }

    fn discard_body(&mut self, length: u64, start: Instant) -> Result<(), ReadError> {
        let mut left = length;
        loop {
            let from_buffer = self
                .buffer
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            self.buffer.drain(..from_buffer);
            left -= from_buffer as u64;
            if left == 0 {
                return Ok(());
            }
            match self.read_some(remaining(start)?) {
                Ok(0) => return Err(ReadError::Io(closed_mid_request())),
                Ok(_) => {}
                Err(error) if is_timeout(&error) => continue,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(ReadError::Io(error)),
            }
        }
    }

    /// Writes the whole response. `close` adds `Connection: close`. `confirm_keep_alive`
    /// adds `Connection: keep-alive`, which HTTP/1.0 clients need to reuse the connection.
    pub fn write_response(
        &mut self,
        response: &Response,
        close: bool,
        confirm_keep_alive: bool,
    ) -> io::Result<()> {
        let head = encode_head(response, Framing::ContentLength, close, confirm_keep_alive);
        let mut message = head.into_bytes();
        message.extend_from_slice(&response.body);
        self.write_message(&message)
    }

    /// Writes the head of the response and the first half of its body (rounded down), as
    /// a server that fails in the middle of a response does. `close` and
    /// `confirm_keep_alive` work as in [`Connection::write_response`]. The caller closes
    /// the connection afterwards.
    pub fn write_truncated(
        &mut self,
        response: &Response,
        framing: Framing,
        close: bool,
        confirm_keep_alive: bool,
    ) -> io::Result<()> {
        let head = encode_head(response, framing, close, confirm_keep_alive);
        let mut message = head.into_bytes();
        message.extend_from_slice(&response.body[..response.body.len() / 2]);
        self.write_message(&message)
    }

    fn write_message(&mut self, message: &[u8]) -> io::Result<()> {
        self.stream
            .socket()
            .set_write_timeout(Some(WRITE_TIMEOUT))?;
        self.stream.write_all(message)?;
        self.stream.flush()
    }

    /// Resets the connection: sets `SO_LINGER` to zero and closes the socket, so the
    /// system sends RST instead of FIN. TLS sends no `close_notify`. Fails only when the
    /// option cannot be set, and the connection is closed either way.
    pub fn reset(self) -> io::Result<()> {
        // The server keeps a clone of each socket for shutdown, and the socket closes only
        // with its last descriptor, right after the connection thread ends. SO_LINGER
        // belongs to the socket, so that last close sends the RST.
        SockRef::from(self.stream.socket()).set_linger(Some(Duration::ZERO))
    }

    /// Closes the sending side, then reads and drops what the client still sends for up to
    /// [`LINGER_TIMEOUT`], so that the client receives the last response before the close.
    /// The input is dropped as raw TCP bytes, so with TLS it is never decrypted.
    pub fn close_gracefully(mut self) {
        if self.stream.shutdown_write().is_err() {
            return;
        }
        let mut socket = self.stream.socket();
        let deadline = Instant::now() + LINGER_TIMEOUT;
        let mut discarded = 0;
        let mut chunk = [0u8; READ_CHUNK_BYTES];
        while discarded < MAX_HEAD_BYTES + MAX_BODY_BYTES as usize {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || socket.set_read_timeout(Some(left)).is_err() {
                return;
            }
            match socket.read(&mut chunk) {
                Ok(0) => return,
                Ok(count) => discarded += count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }
}

/// Marker of the end of a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// A `Content-Length` header with the length of the whole body.
    ContentLength,
    /// No `Content-Length`: the body ends when the connection closes, and the head
    /// contains `Connection: close`.
    UntilClose,
}

/// Renders the status line and the headers, up to and including the empty line.
fn encode_head(
    response: &Response,
    framing: Framing,
    close: bool,
    confirm_keep_alive: bool,
) -> String {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\n",
        response.status,
        reason_phrase(response.status),
        response.content_type,
    );
    if framing == Framing::ContentLength {
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    for (name, value) in &response.extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if close || framing == Framing::UntilClose {
        head.push_str("Connection: close\r\n");
    } else if confirm_keep_alive {
        head.push_str("Connection: keep-alive\r\n");
    }
    head.push_str("\r\n");
    head
}

fn remaining(start: Instant) -> Result<Duration, ReadError> {
    let left = REQUEST_TIMEOUT.saturating_sub(start.elapsed());
    if left.is_zero() {
        return Err(ReadError::rejected(
            408,
            format!(
                "request not received within {} seconds",
                REQUEST_TIMEOUT.as_secs()
            ),
        ));
    }
    Ok(left)
}

pub(crate) fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn closed_mid_request() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "client closed the connection in the middle of a request",
    )
}

fn head_too_large() -> ReadError {
    ReadError::rejected(
        431,
        format!("request head larger than {MAX_HEAD_BYTES} bytes"),
    )
}

/// Returns the length of the head including the empty line that ends it. Bare LF line
/// endings are accepted as well as CRLF.
fn find_head_end(buffer: &[u8]) -> Option<usize> {
    buffer.iter().enumerate().find_map(|(i, &b)| {
        if b != b'\n' {
            return None;
        }
        match &buffer[i + 1..] {
            [b'\n', ..] => Some(i + 2),
            [b'\r', b'\n', ..] => Some(i + 3),
            _ => None,
        }
    })
}

/// Parses a request head and returns the request and the length of its body.
fn parse_head(head: &str) -> Result<(Request, u64), ReadError> {
    let mut lines = head
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line));
    let request_line = lines.next().unwrap_or("");
    let (method, target, is_http10) = parse_request_line(request_line)?;

    let mut connection_close = false;
    let mut connection_keep_alive = false;
    let mut content_length: Option<u64> = None;

    for line in lines.filter(|line| !line.is_empty()) {
        if line.starts_with([' ', '\t']) {
            return Err(ReadError::rejected(
                400,
                "folded header lines are not supported",
            ));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::rejected(
                400,
                format!("invalid header line {:?}: missing ':'", shorten(line)),
            ));
        };
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(ReadError::rejected(
                400,
                format!("invalid header name {:?}", shorten(name)),
            ));
        }
        let value = value.trim_matches([' ', '\t']);

        if name.eq_ignore_ascii_case("connection") {
            for option in value.split(',').map(str::trim) {
                connection_close |= option.eq_ignore_ascii_case("close");
                connection_keep_alive |= option.eq_ignore_ascii_case("keep-alive");
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            let length = parse_content_length(value)?;
            if content_length.is_some_and(|previous| previous != length) {
                return Err(ReadError::rejected(
                    400,
                    "conflicting Content-Length headers",
                ));
            }
            content_length = Some(length);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ReadError::rejected(
                501,
                "Transfer-Encoding is not supported: send a Content-Length or no body",
            ));
        }
    }

    let body_length = content_length.unwrap_or(0);
    if body_length > MAX_BODY_BYTES {
        return Err(ReadError::rejected(
            413,
            format!("request body larger than {MAX_BODY_BYTES} bytes"),
        ));
    }

    let keep_alive = if is_http10 {
        connection_keep_alive && !connection_close
    } else {
        !connection_close
    };
    let (path, query) = split_target(target);
    let request = Request {
        method: method.to_string(),
        target: target.to_string(),
        path,
        query,
        keep_alive,
        is_http10,
    };
    Ok((request, body_length))
}

/// Splits `METHOD SP TARGET SP HTTP/1.x` and returns the method, the target and whether
/// the version is 1.0.
fn parse_request_line(line: &str) -> Result<(&str, &str, bool), ReadError> {
    let invalid = || ReadError::rejected(400, format!("invalid request line {:?}", shorten(line)));
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    if method.is_empty() || !method.bytes().all(is_token_byte) {
        return Err(invalid());
    }
    if target.is_empty() || target.bytes().any(|b| b.is_ascii_control()) {
        return Err(invalid());
    }
    match version {
        "HTTP/1.1" => Ok((method, target, false)),
        "HTTP/1.0" => Ok((method, target, true)),
        _ if is_http_version(version) => Err(ReadError::rejected(
            505,
            format!("HTTP version {version} is not supported: use HTTP/1.1"),
        )),
        _ => Err(invalid()),
    }
}

fn is_http_version(version: &str) -> bool {
    let Some(number) = version.strip_prefix("HTTP/") else {
        return false;
    };
    match number.as_bytes() {
        [major] => major.is_ascii_digit(),
        [major, b'.', minor] => major.is_ascii_digit() && minor.is_ascii_digit(),
        _ => false,
    }
}

fn parse_content_length(value: &str) -> Result<u64, ReadError> {
    let invalid =
        || ReadError::rejected(400, format!("invalid Content-Length {:?}", shorten(value)));
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    value.parse().map_err(|_| invalid())
}

/// Returns whether the byte may appear in an HTTP token (RFC 9110 section 5.6.2).
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Splits a target into path and query. An absolute-form target
/// (`http://host/path?query`) loses its scheme and host, and a fragment is dropped.
fn split_target(target: &str) -> (String, String) {
    let without_fragment = target.split('#').next().unwrap_or("");
    let origin_form = match without_fragment.find("://") {
        Some(scheme_end) if !without_fragment.starts_with('/') => {
            let after_scheme = &without_fragment[scheme_end + 3..];
            match after_scheme.find(['/', '?']) {
                Some(path_start) => &after_scheme[path_start..],
                None => "/",
            }
        }
        _ => without_fragment,
    };
    let (path, query) = origin_form.split_once('?').unwrap_or((origin_form, ""));
    let path = if path.is_empty() { "/" } else { path };
    (path.to_string(), query.to_string())
}

/// Shortens a client-supplied value for error messages and logs.
fn shorten(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    if text.chars().count() <= MAX_CHARS {
        return text.to_string();
    }
    let mut short: String = text.chars().take(MAX_CHARS).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(result: Result<(Request, u64), ReadError>) -> u16 {
        match result {
            Err(ReadError::Rejected { response, .. }) => response.status,
            Err(other) => panic!("expected a rejection, got {other:?}"),
            Ok((request, _)) => panic!("expected a rejection, got {request:?}"),
        }
    }

    #[test]
    fn head_end_with_crlf_and_lf() {
        assert_eq!(
            find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest"),
            Some(24)
        );
        assert_eq!(find_head_end(b"GET / HTTP/1.1\nA: b\n\nrest"), Some(21));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
    }

    #[test]
    fn keep_alive_by_version_and_header() {
        let cases = [
            ("GET / HTTP/1.1\r\n", true),
            ("GET / HTTP/1.1\r\nConnection: close\r\n", false),
            ("GET / HTTP/1.1\r\nconnection: Keep-Alive, CLOSE\r\n", false),
            ("GET / HTTP/1.0\r\n", false),
            ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n", true),
        ];
        for (head, expected) in cases {
            let (request, _) = parse_head(head).unwrap();
            assert_eq!(request.keep_alive, expected, "{head:?}");
        }
    }

    #[test]
    fn malformed_heads_are_rejected() {
        let cases = [
            ("GET /\r\n", 400),
            ("GET  / HTTP/1.1\r\n", 400),
            ("GET / HTTP/1.1 extra\r\n", 400),
            ("G(T / HTTP/1.1\r\n", 400),
            ("GET / FTP/1.1\r\n", 400),
            ("GET / HTTP/2.0\r\n", 505),
            ("GET / HTTP/1.1\r\nNo colon here\r\n", 400),
            ("GET / HTTP/1.1\r\nBad Name: x\r\n", 400),
            ("GET / HTTP/1.1\r\nA: b\r\n  folded\r\n", 400),
            ("GET / HTTP/1.1\r\nContent-Length: -1\r\n", 400),
            (
                "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n",
                400,
            ),
            (
                "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n",
                400,
            ),
            ("GET / HTTP/1.1\r\nContent-Length: 1000000\r\n", 413),
            ("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n", 501),
        ];
        for (head, expected) in cases {
            assert_eq!(status_of(parse_head(head)), expected, "{head:?}");
        }
    }

    #[test]
    fn target_forms() {
        let split = |target: &str| split_target(target);
        assert_eq!(split("/bonus/?a=1"), ("/bonus/".into(), "a=1".into()));
        assert_eq!(split("/"), ("/".into(), "".into()));
        assert_eq!(split("/?a=1#frag"), ("/".into(), "a=1".into()));
        assert_eq!(
            split("http://127.0.0.1:8808/bonus/?a=1"),
            ("/bonus/".into(), "a=1".into())
        );
        assert_eq!(
            split("http://127.0.0.1:8808?a=1"),
            ("/".into(), "a=1".into())
        );
        assert_eq!(split("http://127.0.0.1:8808"), ("/".into(), "".into()));
    }
}
