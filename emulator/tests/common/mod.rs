//! A minimal HTTP/1.1 client for testing the emulator over real sockets, plain or TLS,
//! and temporary directories.

#![allow(dead_code)]

pub mod tls;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub const TEST_CARD_XML: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<response>\n    <account>1055444444</account>\n    <bonus_id>2700009601205</bonus_id>\n    <amount>500</amount>\n    <result>0</result>\n</response>";

/// Read timeout of the test client, so that a server that never responds fails the test
/// instead of hanging it.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// One client connection that can send several requests, over TCP or a TLS stream.
pub struct Client<S: Read + Write = TcpStream> {
    reader: BufReader<S>,
}

impl Client<TcpStream> {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect to the emulator");
        stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
        Client::new(stream)
    }
}

impl<S: Read + Write> Client<S> {
    /// Wraps a connected stream. A TCP stream needs its read timeout set already.
    pub fn new(stream: S) -> Client<S> {
        Client {
            reader: BufReader::new(stream),
        }
    }

    /// Returns the stream underneath, for example to inspect a TLS session.
    pub fn stream(&self) -> &S {
        self.reader.get_ref()
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        // Writes bypass the read buffer, so they cannot reorder with buffered input.
        let stream = self.reader.get_mut();
        stream.write_all(bytes).expect("send request");
        stream.flush().expect("flush request");
    }

    /// Sends `GET target HTTP/1.1` with a Host header and the extra header lines.
    pub fn send_get(&mut self, target: &str, extra_headers: &str) {
        let request = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra_headers}\r\n");
        self.send_raw(request.as_bytes());
    }

    pub fn get(&mut self, target: &str) -> HttpResponse {
        self.send_get(target, "");
        self.read_response()
    }

    /// Reads one response, whose body length comes from Content-Length.
    pub fn read_response(&mut self) -> HttpResponse {
        let mut status_line = String::new();
        self.reader
            .read_line(&mut status_line)
            .expect("read status line");
        let mut parts = status_line.trim_end().splitn(3, ' ');
        assert_eq!(
            parts.next(),
            Some("HTTP/1.1"),
            "status line {status_line:?}"
        );
        let status: u16 = parts
            .next()
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("invalid status line {status_line:?}"));

        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("read header line");
            assert!(
                line.ends_with("\r\n"),
                "header line {line:?} must end with CRLF"
            );
            let line = line.trim_end_matches("\r\n");
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(": ").expect("header line with ': '");
            headers.push((name.to_string(), value.to_string()));
        }

        let response = HttpResponse {
            status,
            headers,
            body: String::new(),
        };
        let length: usize = response
            .header("Content-Length")
            .expect("Content-Length header")
            .parse()
            .expect("numeric Content-Length");
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).expect("read body");
        HttpResponse {
            body: String::from_utf8(body).expect("UTF-8 body"),
            ..response
        }
    }

    /// Returns whether the server closed the connection: a read returns end of file
    /// (or a reset) before the client timeout. TLS reports a close without
    /// `close_notify` as UnexpectedEof, which also counts.
    pub fn is_closed_by_server(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match self.reader.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(error) => matches!(
                error.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
            ),
        }
    }
}

/// Sends one GET on a new connection.
pub fn get(addr: SocketAddr, target: &str) -> HttpResponse {
    Client::connect(addr).get(target)
}

/// Builds the error document that the emulator sends for `code` and `message`.
pub fn error_xml(code: i32, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<response>\n\t<result>{code}</result>\n\t<message>{message}</message >\n</response>"
    )
}

pub fn spend_xml(spend_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<response>\n    <spend_id>{spend_id}</spend_id>\n    <result>0</result>\n</response>"
    )
}

/// A new empty directory under the system temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "esbyt-emulator-test-dir-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let path = std::env::temp_dir().join(name);
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temporary directory");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
