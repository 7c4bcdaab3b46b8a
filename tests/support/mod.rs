//! A raw HTTP server on loopback for tests that need responses the emulator
//! does not give: dropped connections, delays, truncated bodies, redirects.
//! The submodules serve the TLS tests: generated certificates, an HTTPS
//! server, and the C program that drives the C ABI.

#![allow(dead_code)]

pub mod c_program;
pub mod calls;
pub mod pki;
pub mod shared_library;
pub mod tls_server;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// What the server does with one request on a connection.
pub type Handler = dyn Fn(&mut TcpStream, &str) -> Reply + Send + Sync;

/// How a handler leaves the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Keep the connection open for the next request.
    KeepOpen,
    /// Close the connection.
    Close,
}

/// A loopback server that counts connections and requests.
pub struct RawServer {
    address: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl RawServer {
    /// Starts a server whose handler gets each request's head (request line
    /// and headers) and writes whatever response the test needs.
    pub fn start(
        handler: impl Fn(&mut TcpStream, &str) -> Reply + Send + Sync + 'static,
    ) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let address = listener.local_addr().expect("local address");
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);

        let acceptor = {
            let connections = connections.clone();
            let requests = requests.clone();
            let stop = stop.clone();
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            connections.fetch_add(1, Ordering::SeqCst);
                            let handler = handler.clone();
                            let requests = requests.clone();
                            thread::spawn(move || serve(stream, &*handler, &requests));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };

        RawServer {
            address,
            connections,
            requests,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// Base URL with the path of the partner's test server.
    pub fn url(&self) -> String {
        format!("http://{}/bonus/", self.address)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Number of TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Request lines received so far, such as `GET /bonus/?command=... HTTP/1.1`.
    pub fn request_lines(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn serve(mut stream: TcpStream, handler: &Handler, requests: &Mutex<Vec<String>>) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    while let Some(head) = read_head(&mut stream) {
        let line = head.lines().next().unwrap_or_default().to_owned();
        requests.lock().unwrap().push(line);
        if handler(&mut stream, &head) == Reply::Close {
            return;
        }
    }
}

/// Reads one request head, up to the blank line. None when the peer closed.
pub fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Writes a complete HTTP/1.1 response with `Content-Length`.
pub fn write_response(stream: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

/// The partner document's balance response for the test card.
pub const BALANCE_BODY: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<response>\n    <account>1055444444</account>\n    <bonus_id>2700009601205</bonus_id>\n    <amount>500</amount>\n    <result>0</result>\n</response>\n";

/// The partner document's write-off response.
pub const WRITE_OFF_BODY: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<response>\n    <spend_id>000000005</spend_id>\n    <result>0</result>\n</response>\n";

/// Returns the partner document's balance or write-off body, whichever the request's command asks for.
pub fn protocol_body(head: &str) -> &'static str {
    if head.contains("command=spend_bonus") {
        WRITE_OFF_BODY
    } else {
        BALANCE_BODY
    }
}

/// Makes closing the connection send RST instead of FIN (SO_LINGER with a
/// zero timeout), as a crashed server or a firewall does.
pub fn reset_on_close(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a valid descriptor with a correctly sized linger struct.
    let result = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(result, 0, "setsockopt(SO_LINGER) failed");
}
