//! The running server: the accept loop, one thread per connection, and the delivery of
//! each response, faults included.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustls::ServerConfig;

use crate::bonus::{BonusState, ExecutedSpend, find_param, parse_query};
use crate::config::EmulatorConfig;
use crate::fault::Fault;
use crate::http::{ClientStream, Connection, IDLE_TIMEOUT, ReadError, Request, Response};
use crate::routing::{self, Action};
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

/// Step of the delay fault's pause, so that shutdown does not wait for a whole pause.
const STOP_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// A running emulator. Dropping it or calling [`Emulator::shutdown`] stops the server:
/// open connections are shut down and all its threads are joined.
pub struct Emulator {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

/// State shared by the accept thread, the connection threads and the [`Emulator`] handle.
pub(crate) struct Shared {
    state: Mutex<BonusState>,
    log_requests: bool,
    /// TLS settings when the server speaks HTTPS.
    tls: Option<Arc<ServerConfig>>,
    stopping: AtomicBool,
    /// Clones of the open connections, so that shutdown can unblock their reads.
    connections: Mutex<HashMap<u64, TcpStream>>,
    /// Fault applied to every protocol request, from [`EmulatorConfig::fault`].
    pub(crate) fault: Option<Fault>,
    /// Faults of the fault cards in the card set, by card id.
    pub(crate) card_faults: HashMap<String, Fault>,
    pub(crate) fault_delay: Duration,
    keep_alive_timeout: Duration,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, BonusState> {
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
    /// Fails with `InvalidInput` when a card is invalid, two cards share an id, the
    /// keep-alive timeout is zero, or the TLS certificate, key or client CA is unusable,
    /// and with the bind error when the address cannot be used.
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

        let card_faults = config
            .cards
            .iter()
            .filter_map(|card| {
                Fault::from_bonus_id(&card.bonus_id).map(|fault| (card.bonus_id.clone(), fault))
            })
            .collect();
        let shared = Arc::new(Shared {
            state: Mutex::new(BonusState::new(&config)),
            log_requests: config.log_requests,
            tls,
            stopping: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
            fault: config.fault,
            card_faults,
            fault_delay: config.fault_delay,
            keep_alive_timeout: config.keep_alive_timeout,
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
/// code, so keep-alive, limits, responses and faults are the same for both.
fn serve_requests<S: ClientStream>(mut connection: Connection<S>, peer: &str, shared: &Shared) {
    // A new connection has IDLE_TIMEOUT to start its first request, and a kept-alive one
    // the configured keep-alive timeout between requests.
    let mut idle_timeout = IDLE_TIMEOUT;
    // Set by the idle-drop fault after its response.
    let mut reset_next_request = false;
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let request = match connection.read_request(idle_timeout) {
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
        idle_timeout = shared.keep_alive_timeout;

        if reset_next_request {
            if shared.log_requests {
                log_fault(peer, &request, Fault::IdleDrop, None);
            }
            reset_connection(connection, peer);
            return;
        }

        let exchange = routing::respond(shared, &request);
        if shared.log_requests
            && let Some(fault) = exchange.fault
        {
            log_fault(peer, &request, fault, exchange.spend_id.as_deref());
        }
        let (response, delay, reset_next) = match exchange.action {
            Action::Respond {
                response,
                delay,
                reset_next_request,
            } => (response, delay, reset_next_request),
            Action::SendTruncated { response, framing } => {
                let close = response.close || !request.keep_alive;
                let confirm_keep_alive = request.is_http10 && !close;
                let sent =
                    connection.write_truncated(&response, framing, close, confirm_keep_alive);
                match sent {
                    Ok(()) => connection.close_gracefully(),
                    Err(error) => log_send_failure(shared, peer, &error),
                }
                return;
            }
            Action::Close => {
                connection.close_gracefully();
                return;
            }
            Action::Reset => {
                reset_connection(connection, peer);
                return;
            }
        };

        if !delay.is_zero() && !pause_unless_stopping(shared, delay) {
            return;
        }
        if shared.log_requests && exchange.fault.is_none() {
            log_exchange(peer, &request, &response, reset_next);
        }
        let close = response.close || !request.keep_alive;
        let confirm_keep_alive = request.is_http10 && !close;
        if let Err(error) = connection.write_response(&response, close, confirm_keep_alive) {
            log_send_failure(shared, peer, &error);
            return;
        }
        if close {
            connection.close_gracefully();
            return;
        }
        reset_next_request = reset_next;
    }
}

/// Sleeps for `duration` in short steps. Returns `false`, early, when the server stops.
fn pause_unless_stopping(shared: &Shared, duration: Duration) -> bool {
    let deadline = Instant::now() + duration;
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        thread::sleep(left.min(STOP_CHECK_INTERVAL));
    }
}

/// Resets the connection for a fault. A failure is logged even with request logging off,
/// because the client then sees FIN where the fault promises RST.
fn reset_connection<S: ClientStream>(connection: Connection<S>, peer: &str) {
    if let Err(error) = connection.reset() {
        eprintln!(
            "esbyt-emulator: {peer} failed to set SO_LINGER to 0, so the connection closes \
             with FIN instead of RST: {error}"
        );
    }
}

fn log_send_failure(shared: &Shared, peer: &str, error: &io::Error) {
    if shared.log_requests {
        eprintln!("esbyt-emulator: {peer} failed to send the response: {error}");
    }
}

fn log_exchange(peer: &str, request: &Request, response: &Response, reset_next_request: bool) {
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
    if reset_next_request {
        line.push_str(" (idle-drop: the next request on this connection gets a reset)");
    }
    eprintln!("{line}");
}

/// Logs a fault as it fires: the request, the fault, the card and whether a write-off
/// was executed, with its `spend_id`.
fn log_fault(peer: &str, request: &Request, fault: Fault, spend_id: Option<&str>) {
    let params = parse_query(&request.query);
    let card = find_param(&params, "bonus_id").unwrap_or("none");
    let executed = match spend_id {
        Some(spend_id) => format!("yes spend_id={spend_id}"),
        None => "no".to_string(),
    };
    eprintln!(
        "esbyt-emulator: {peer} {} {:?} fault={fault} card={card} executed={executed}",
        request.method, request.target
    );
}
