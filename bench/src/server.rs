//! The loopback server that every client of the benchmark talks to: a
//! minimal keep-alive HTTP/1.1 server that sends prebuilt responses from
//! memory, in plain HTTP or over rustls with a required client certificate.
//!
//! It parses only what it needs to pick a response: the end of the request
//! head, the command in the request line and `Connection: close`. So it costs
//! every client the same, and the differences measured are the clients'.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{HandshakeKind, RootCertStore, ServerConfig, ServerConnection, StreamOwned};

use crate::documents::{BALANCE_DOCUMENT, ERROR_DOCUMENT, WRITE_OFF_DOCUMENT, http_response};

/// Largest request head accepted. The clients send about 150 bytes.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Counters of one server, read by the orchestrator between client runs.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub full_handshakes: AtomicU64,
    pub resumed_handshakes: AtomicU64,
    /// Protocol version, cipher suite and key exchange group of the last
    /// completed handshake.
    pub last_tls_parameters: Mutex<String>,
    /// First request head received on the last connection.
    pub last_first_request: Mutex<Vec<u8>>,
}

impl Stats {
    pub fn handshakes(&self) -> (u64, u64) {
        (
            self.full_handshakes.load(Ordering::Relaxed),
            self.resumed_handshakes.load(Ordering::Relaxed),
        )
    }
}

/// Responses prebuilt at start, shared by every connection.
struct Responses {
    balance: Vec<u8>,
    write_off: Vec<u8>,
    error: Vec<u8>,
}

/// A running server. Its threads run until the process exits.
pub struct Server {
    pub address: SocketAddr,
    pub stats: Arc<Stats>,
}

impl Server {
    /// Starts a plain HTTP server on 127.0.0.1 and a free port.
    pub fn start_plain() -> io::Result<Server> {
        Server::start(None)
    }

    /// Starts an HTTPS server on 127.0.0.1 and a free port that requires a
    /// client certificate issued by `ca_cert`.
    pub fn start_tls(ca_cert: &Path, server_cert: &Path, server_key: &Path) -> io::Result<Server> {
        let config = tls_config(ca_cert, server_cert, server_key)
            .map_err(|error| io::Error::other(format!("server TLS configuration: {error}")))?;
        Server::start(Some(Arc::new(config)))
    }

    fn start(tls: Option<Arc<ServerConfig>>) -> io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let stats = Arc::new(Stats::default());
        let responses = Arc::new(Responses {
            balance: http_response(BALANCE_DOCUMENT),
            write_off: http_response(WRITE_OFF_DOCUMENT),
            error: http_response(ERROR_DOCUMENT),
        });
        let accept_stats = stats.clone();
        thread::Builder::new()
            .name("server-accept".to_owned())
            .spawn(move || accept_loop(listener, tls, accept_stats, responses))?;
        Ok(Server { address, stats })
    }

    /// Returns the length of the `check_bonus` response, which the floor
    /// clients read without parsing it.
    pub fn balance_response_bytes() -> usize {
        http_response(BALANCE_DOCUMENT).len()
    }
}

fn tls_config(
    ca_cert: &Path,
    server_cert: &Path,
    server_key: &Path,
) -> Result<ServerConfig, Box<dyn std::error::Error>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(ca_cert)? {
        roots.add(certificate?)?;
    }
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let chain = CertificateDer::pem_file_iter(server_cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(server_key)?;
    // The rustls 0.23 defaults keep a session cache of 256 entries and send
    // two TLS 1.3 tickets per handshake, so clients can resume.
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    Ok(config)
}

/// Connection threads started with each server. Most cases keep at most 8
/// connections open, and the pool grows when every thread is busy.
const CONNECTION_THREADS: usize = 16;

/// Threads that each serve one connection at a time, taken from a queue.
///
/// The threads exist before the connections do. On the 2-core machine of
/// BENCHMARKS.md with other builds running, a thread started per connection
/// often waited 3 to 4 ms for a time slice, and that wait was counted in the
/// new-client times of every client.
struct ConnectionThreads {
    queue: Mutex<mpsc::Receiver<TcpStream>>,
    /// Threads neither serving nor reserved for a queued connection.
    idle: AtomicUsize,
    tls: Option<Arc<ServerConfig>>,
    stats: Arc<Stats>,
    responses: Arc<Responses>,
}

impl ConnectionThreads {
    fn start_thread(self: &Arc<Self>) {
        let threads = self.clone();
        threads.idle.fetch_add(1, Ordering::SeqCst);
        let spawned = thread::Builder::new()
            .name("server-connection".to_owned())
            .spawn(move || threads.serve_from_queue());
        if let Err(error) = spawned {
            self.idle.fetch_sub(1, Ordering::SeqCst);
            eprintln!("esbyt-bench server: cannot start a connection thread: {error}");
        }
    }

    /// Takes one idle thread for a new connection. Returns false when none is idle.
    fn reserve_idle(&self) -> bool {
        self.idle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |idle| {
                idle.checked_sub(1)
            })
            .is_ok()
    }

    fn serve_from_queue(&self) {
        loop {
            let next = lock(&self.queue).recv();
            let Ok(stream) = next else { return };
            // A client that goes away mid-request ends only its connection.
            let _ = serve_connection(stream, self.tls.clone(), &self.stats, &self.responses);
            self.idle.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    stats: Arc<Stats>,
    responses: Arc<Responses>,
) {
    let (sender, receiver) = mpsc::channel();
    let threads = Arc::new(ConnectionThreads {
        queue: Mutex::new(receiver),
        idle: AtomicUsize::new(0),
        tls,
        stats,
        responses,
    });
    for _ in 0..CONNECTION_THREADS {
        threads.start_thread();
    }
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        // The accept loop reserves an idle thread before it queues the
        // connection, so a queued connection waits for a busy thread only
        // when no new thread can be started.
        if !threads.reserve_idle() {
            threads.start_thread();
            threads.reserve_idle();
        }
        if sender.send(stream).is_err() {
            return;
        }
    }
}

fn serve_connection(
    stream: TcpStream,
    tls: Option<Arc<ServerConfig>>,
    stats: &Stats,
    responses: &Responses,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let Some(config) = tls else {
        return serve_requests(stream, stats, responses);
    };

    let mut connection = ServerConnection::new(config).map_err(io::Error::other)?;
    let mut socket = stream;
    while connection.is_handshaking() {
        connection.complete_io(&mut socket)?;
    }
    record_handshake(&connection, stats);
    serve_requests(StreamOwned::new(connection, socket), stats, responses)
}

fn record_handshake(connection: &ServerConnection, stats: &Stats) {
    let counter = match connection.handshake_kind() {
        Some(HandshakeKind::Resumed) => &stats.resumed_handshakes,
        _ => &stats.full_handshakes,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let parameters = format!(
        "{:?}, {:?}, {:?}",
        connection.protocol_version(),
        connection
            .negotiated_cipher_suite()
            .map(|suite| suite.suite()),
        connection
            .negotiated_key_exchange_group()
            .map(|group| group.name()),
    );
    *lock(&stats.last_tls_parameters) = parameters.replace("Some(", "").replace(')', "");
}

/// Serves requests on one connection until the client closes it or sends
/// `Connection: close`.
fn serve_requests<S: Read + Write>(
    mut stream: S,
    stats: &Stats,
    responses: &Responses,
) -> io::Result<()> {
    let mut buffer = vec![0u8; MAX_HEAD_BYTES];
    let mut filled = 0;
    let mut first = true;
    loop {
        let Some(head_end) = find_head_end(&buffer[..filled]) else {
            if filled == buffer.len() {
                return Err(io::Error::other("request head too large"));
            }
            let read = stream.read(&mut buffer[filled..])?;
            if read == 0 {
                return Ok(());
            }
            filled += read;
            continue;
        };

        let head = &buffer[..head_end];
        if first {
            *lock(&stats.last_first_request) = head.to_vec();
            first = false;
        }
        let response = pick_response(head, responses);
        let close = asks_to_close(head);
        stream.write_all(response)?;
        stream.flush()?;
        stats.requests.fetch_add(1, Ordering::Relaxed);
        if close {
            return Ok(());
        }

        // Requests have no body, so the next request starts after the head.
        buffer.copy_within(head_end..filled, 0);
        filled -= head_end;
    }
}

/// Returns the length of the request head including its blank line.
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|position| position + 4)
}

fn pick_response<'a>(head: &[u8], responses: &'a Responses) -> &'a [u8] {
    let request_line_end = head.iter().position(|&byte| byte == b'\r').unwrap_or(0);
    let request_line = &head[..request_line_end];
    if contains(request_line, b"command=check_bonus") {
        &responses.balance
    } else if contains(request_line, b"command=spend_bonus") {
        &responses.write_off
    } else {
        &responses.error
    }
}

fn asks_to_close(head: &[u8]) -> bool {
    const NAME: &[u8] = b"connection:";
    head.split(|&byte| byte == b'\n').any(|line| {
        line.len() > NAME.len()
            && line[..NAME.len()].eq_ignore_ascii_case(NAME)
            && line[NAME.len()..]
                .windows(5)
                .any(|window| window.eq_ignore_ascii_case(b"close"))
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
