//! The running server: the accept loop, one thread per connection, and routing.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rustls::ServerConfig;

use crate::bonus::{BonusState, ExecutedSpend};
use crate::config::EmulatorConfig;
use crate::http::{ClientStream, Connection, ReadError, Request, Response};
use crate::tls;

/// Paths that serve the protocol: the production base URL has `/`, the test server `/bonus/`.
pub const SERVED_PATHS: [&str; 2] = ["/", "/bonus/"];

/// Maximum number of connections served at once. Further connections are closed at once.
// NOTE: sized for tests and manual use on one machine, not measured under load.
const MAX_CONNECTIONS: usize = 256;

/// Pause after a failed `accept`, so that a persistent error such as a full file
/// descriptor table does not spin the accept thread.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Maximum time to wait for the connection that wakes the accept thread at shutdown.
const WAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// A running emulator. Dropping it or calling [`Emulator::shutdown`] stops the server:
/// open connections are shut down and all its threads are joined.
pub struct Emulator {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

/// State shared by the accept thread, the connection threads and the [`Emulator`] handle.
struct Shared {
    state: Mutex<BonusState>,
    log_requests: bool,
    /// TLS settings when the server speaks HTTPS.
    tls: Option<Arc<ServerConfig>>,
    stopping: AtomicBool,
    /// Clones of the open connections, so that shutdown can unblock their reads.
    connections: Mutex<HashMap<u64, TcpStream>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, BonusState> {
        // A panic in another thread cannot leave the state half-changed, because each
        // command checks everything before it changes a balance.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn connections(&self) -> MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Emulator {
    /// Binds `listen` (for example `"127.0.0.1:0"`, where port 0 picks a free port) and
    /// starts serving in background threads.
    ///
    /// With [`EmulatorConfig::tls`] set, the server speaks HTTPS only.
    ///
    /// Fails with `InvalidInput` when a card is invalid, two cards share an id, or the TLS
    /// certificate, key or client CA is unusable, and with the bind error when the address
    /// cannot be used.
    pub fn start(listen: &str, config: EmulatorConfig) -> io::Result<Emulator> {
        let invalid_config = |message: String| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid emulator configuration: {message}"),
            )
        };
        config.validate().map_err(invalid_config)?;
        let tls = match &config.tls {
            Some(tls_config) => Some(
                tls_config
                    .server_config()
                    .map_err(|message| invalid_config(format!("TLS: {message}")))?,
            ),
            None => None,
        };
        let listener = TcpListener::bind(listen).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("failed to listen on {listen}: {error}"),
            )
        })?;
        let local_addr = listener.local_addr()?;

        let shared = Arc::new(Shared {
            state: Mutex::new(BonusState::new(&config)),
            log_requests: config.log_requests,
            tls,
            stopping: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name("esbyt-emulator-accept".to_string())
            .spawn(move || accept_loop(listener, accept_shared))?;

        Ok(Emulator {
            local_addr,
            shared,
            accept_thread: Some(accept_thread),
        })
    }

    /// Returns the address the server listens on, with the port that the system chose.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Returns the base URL of the server, such as `http://127.0.0.1:8808/`. The server
    /// also serves the same protocol under `/bonus/`.
    ///
    /// With TLS, a server on a loopback or unspecified address returns
    /// `https://localhost:PORT/`, the name in the generated test certificate. A server on
    /// another address returns `https://ADDRESS:PORT/`, which its certificate must name.
    pub fn base_url(&self) -> String {
        let addr = connectable_addr(self.local_addr);
        match &self.shared.tls {
            None => format!("http://{addr}/"),
            Some(_) if addr.ip().is_loopback() => format!("https://localhost:{}/", addr.port()),
            Some(_) => format!("https://{addr}/"),
        }
    }

    /// Returns the current balance of a card, or `None` for an unknown card.
    pub fn balance(&self, bonus_id: &str) -> Option<i64> {
        self.shared.state().balance(bonus_id)
    }

    /// Returns every write-off the server executed, oldest first. Rejected write-offs are
    /// not included.
    pub fn executed_spends(&self) -> Vec<ExecutedSpend> {
        self.shared.state().executed_spends().to_vec()
    }

    /// Stops the server and waits for its threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(accept_thread) = self.accept_thread.take() else {
            return;
        };
        self.shared.stopping.store(true, Ordering::SeqCst);

        // The accept thread blocks in accept(). A connection of our own wakes it, and it
        // checks the stop flag before serving that connection.
        let wake_addr = connectable_addr(self.local_addr);
        match TcpStream::connect_timeout(&wake_addr, WAKE_TIMEOUT) {
            Ok(_) => {
                if accept_thread.join().is_err() {
                    eprintln!("esbyt-emulator: the accept thread panicked");
                }
            }
            Err(error) => eprintln!(
                "esbyt-emulator: failed to connect to {wake_addr} to stop the accept thread: \
                 {error}. The thread is left running until the process exits"
            ),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// Replaces an unspecified address (`0.0.0.0`, `::`) with the loopback address of the
/// same family, because clients cannot connect to an unspecified address everywhere.
fn connectable_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    let mut next_connection_id: u64 = 0;

    for incoming in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let stream = match incoming {
            Ok(stream) => stream,
            Err(error) => {
                eprintln!("esbyt-emulator: accept failed: {error}");
                thread::sleep(ACCEPT_RETRY_DELAY);
                continue;
            }
        };
        let peer = stream
            .peer_addr()
            .map_or_else(|_| "unknown peer".to_string(), |addr| addr.to_string());

        workers.retain(|worker| !worker.is_finished());
        if workers.len() >= MAX_CONNECTIONS {
            eprintln!(
                "esbyt-emulator: closed connection from {peer}: \
                 {MAX_CONNECTIONS} connections are already open"
            );
            continue;
        }

        next_connection_id += 1;
        let id = next_connection_id;
        match stream.try_clone() {
            Ok(clone) => {
                shared.connections().insert(id, clone);
            }
            Err(error) => {
                eprintln!("esbyt-emulator: closed connection from {peer}: {error}");
                continue;
            }
        }
        let worker_shared = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("esbyt-emulator-conn-{id}"))
            .spawn(move || {
                serve_connection(stream, &peer, &worker_shared);
                worker_shared.connections().remove(&id);
            });
        match spawned {
            Ok(worker) => workers.push(worker),
            Err(error) => {
                eprintln!("esbyt-emulator: failed to start a connection thread: {error}");
                shared.connections().remove(&id);
            }
        }
    }

    // Unblock connections that wait for their next request, then wait for all of them.
    for stream in shared.connections().values() {
        let _ = stream.shutdown(Shutdown::Both);
    }
    for worker in workers {
        let _ = worker.join();
    }
}

/// Serves one connection: runs the TLS handshake when the server speaks HTTPS, then
/// serves requests until either side closes the connection.
fn serve_connection(stream: TcpStream, peer: &str, shared: &Shared) {
    // Responses are written in one call, so Nagle's algorithm would only add delay.
    let _ = stream.set_nodelay(true);
    let Some(tls_config) = &shared.tls else {
        serve_requests(Connection::new(stream), peer, shared);
        return;
    };
    match tls::accept(stream, tls_config) {
        Ok(tls_stream) => serve_requests(Connection::new(tls_stream), peer, shared),
        Err(reason) => {
            // At shutdown the socket is closed under the handshake, which is no failure.
            if shared.log_requests && !shared.stopping.load(Ordering::SeqCst) {
                eprintln!("esbyt-emulator: {peer} TLS handshake failed: {reason}");
            }
        }
    }
}

/// Serves requests until either side closes the connection. HTTP and HTTPS share this
/// code, so keep-alive, limits and responses are the same for both.
fn serve_requests<S: ClientStream>(mut connection: Connection<S>, peer: &str, shared: &Shared) {
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let request = match connection.read_request() {
            Ok(request) => request,
            Err(ReadError::Closed) => return,
            Err(ReadError::Rejected { response, reason }) => {
                if shared.log_requests {
                    eprintln!(
                        "esbyt-emulator: {peer} rejected request: {reason} -> {}",
                        response.status
                    );
                }
                if connection.write_response(&response, true, false).is_ok() {
                    connection.close_gracefully();
                }
                return;
            }
            Err(ReadError::Io(error)) => {
                if shared.log_requests {
                    eprintln!("esbyt-emulator: {peer} connection failed: {error}");
                }
                return;
            }
        };

        let response = respond(shared, &request);

        // Fault injection belongs here, between the request and the response. The response
        // is plain data (status, headers, body bytes), so a fault can delay it, drop it
        // and close the connection, cut the body short, or re-encode it.

        if shared.log_requests {
            log_exchange(peer, &request, &response);
        }
        let close = response.close || !request.keep_alive;
        let confirm_keep_alive = request.is_http10 && !close;
        if let Err(error) = connection.write_response(&response, close, confirm_keep_alive) {
            if shared.log_requests {
                eprintln!("esbyt-emulator: {peer} failed to send the response: {error}");
            }
            return;
        }
        if close {
            connection.close_gracefully();
            return;
        }
    }
}

/// Routes a request and, for a protocol command, executes it.
fn respond(shared: &Shared, request: &Request) -> Response {
    if !SERVED_PATHS.contains(&request.path.as_str()) {
        return Response::text(
            404,
            format!(
                "Not found: {}. The bonus protocol is served at / and /bonus/.\n",
                request.path
            ),
        );
    }
    if request.method != "GET" {
        let mut response = Response::text(
            405,
            format!(
                "Method {} is not allowed: the bonus protocol uses GET.\n",
                request.method
            ),
        );
        response.allow = Some("GET");
        return response;
    }
    let reply = shared.state().execute_query(&request.query);
    Response::xml(reply.xml, reply.result_code, reply.spend_id)
}

fn log_exchange(peer: &str, request: &Request, response: &Response) {
    let mut line = format!(
        "esbyt-emulator: {peer} {} {:?} -> {}",
        request.method, request.target, response.status
    );
    if let Some(code) = response.result_code {
        line.push_str(&format!(" result={code}"));
    }
    if let Some(spend_id) = &response.spend_id {
        line.push_str(&format!(" spend_id={spend_id}"));
    }
    eprintln!("{line}");
}
