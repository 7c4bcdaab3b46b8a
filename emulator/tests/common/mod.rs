//! A minimal HTTP/1.1 client on `TcpStream` for testing the emulator over real sockets.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
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

/// One client connection that can send several requests.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect to the emulator");
        stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
        let writer = stream.try_clone().unwrap();
        Client {
            reader: BufReader::new(stream),
            writer,
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send request");
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
    /// (or a reset) before the client timeout.
    pub fn is_closed_by_server(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match self.reader.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(error) => error.kind() == std::io::ErrorKind::ConnectionReset,
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
