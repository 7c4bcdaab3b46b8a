//! An HTTPS server on 127.0.0.1 that responds like the bonus server, for the
//! TLS tests. It presents a given certificate chain, speaks TLS 1.3 or
//! TLS 1.2, and can require a client certificate issued by a given CA. It
//! counts the write-offs it received in full and responded to, so a test can
//! assert that nothing was written off.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

use super::protocol_body;

/// Time a connection may stay silent before the server drops it.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Time [`TlsServer::wait_until_idle`] waits for the open connections to close.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS version the server accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// Settings of a [`TlsServer`].
pub struct TlsServerConfig {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_ca: Option<CertificateDer<'static>>,
    version: TlsVersion,
}

impl TlsServerConfig {
    /// Creates settings for a TLS 1.3 server that presents `chain` (leaf
    /// first) and accepts clients without a certificate.
    pub fn new(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        TlsServerConfig {
            chain,
            key,
            client_ca: None,
            version: TlsVersion::Tls13,
        }
    }

    /// Makes the server reject clients without a certificate that chains to `ca`.
    pub fn require_client_certificate(mut self, ca: CertificateDer<'static>) -> Self {
        self.client_ca = Some(ca);
        self
    }

    /// Limits the server to one TLS version.
    pub fn version(mut self, version: TlsVersion) -> Self {
        self.version = version;
        self
    }

    fn build(self) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let version = match self.version {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        };
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[version])
            .expect("the ring provider supports TLS 1.2 and 1.3");
        let builder = match self.client_ca {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                roots.add(ca).expect("the client CA certificate is invalid");
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .expect("failed to build the client certificate verifier");
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let config = builder
            .with_single_cert(self.chain, self.key)
            .expect("the server certificate or key is unusable");
        Arc::new(config)
    }
}

/// What the server recorded, shared with its threads.
#[derive(Default)]
struct Record {
    /// Connections accepted and not yet finished.
    open_connections: AtomicUsize,
    /// Times the acceptor found no connection waiting.
    empty_accepts: AtomicUsize,
    /// Write-off requests received in full and responded to.
    write_offs: AtomicUsize,
    /// Request lines of the requests responded to, oldest first.
    responded: Mutex<Vec<String>>,
    /// Errors of the TLS handshakes that failed, as the server saw them.
    handshake_errors: Mutex<Vec<String>>,
}

/// A running server. Dropping it stops accepting connections.
pub struct TlsServer {
    port: u16,
    record: Arc<Record>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl TlsServer {
    /// Starts the server on 127.0.0.1 on a free port.
    pub fn start(config: TlsServerConfig) -> TlsServer {
        let config = config.build();
        let listener = TcpListener::bind("127.0.0.1:0").expect("failed to bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("failed to make the listener non-blocking");
        let port = listener.local_addr().expect("local address").port();
        let record = Arc::new(Record::default());
        let stop = Arc::new(AtomicBool::new(false));

        let acceptor = {
            let record = record.clone();
            let stop = stop.clone();
            thread::spawn(move || accept_loop(&listener, &config, &record, &stop))
        };
        TlsServer {
            port,
            record,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// Returns the base URL with the host name `localhost`, which the test
    /// certificates name.
    pub fn url(&self) -> String {
        self.url_for_host("localhost")
    }

    /// Returns the base URL with another host name for the same server.
    pub fn url_for_host(&self, host: &str) -> String {
        format!("https://{host}:{}/", self.port)
    }

    /// Waits until every connection that reached the server has finished,
    /// so the counts are final. Panics after 10 seconds.
    pub fn wait_until_idle(&self) {
        // A connection that a finished call opened is at least waiting in the
        // listener's backlog. Two empty accepts after this point prove that
        // the acceptor has taken every such connection.
        let empty_accepts = self.record.empty_accepts.load(Ordering::SeqCst);
        let deadline = Instant::now() + IDLE_TIMEOUT;
        loop {
            let accepted_all =
                self.record.empty_accepts.load(Ordering::SeqCst) >= empty_accepts + 2;
            if accepted_all && self.record.open_connections.load(Ordering::SeqCst) == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server still has {} open connections after {IDLE_TIMEOUT:?}",
                self.record.open_connections.load(Ordering::SeqCst)
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Returns the number of write-off requests received in full and responded to.
    pub fn write_offs(&self) -> usize {
        self.record.write_offs.load(Ordering::SeqCst)
    }

    /// Returns the request lines of the requests responded to, oldest first.
    pub fn responded_requests(&self) -> Vec<String> {
        self.record.responded.lock().unwrap().clone()
    }

    /// Returns the errors of the failed handshakes as the server saw them.
    pub fn handshake_errors(&self) -> Vec<String> {
        self.record.handshake_errors.lock().unwrap().clone()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    config: &Arc<ServerConfig>,
    record: &Arc<Record>,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                record.open_connections.fetch_add(1, Ordering::SeqCst);
                let config = config.clone();
                let record = record.clone();
                thread::spawn(move || {
                    serve(stream, config, &record);
                    record.open_connections.fetch_sub(1, Ordering::SeqCst);
                });
            }
            Err(_) => {
                record.empty_accepts.fetch_add(1, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

/// Completes the handshake, then responds to requests until the client closes
/// the connection or stays silent for [`READ_TIMEOUT`].
fn serve(stream: TcpStream, config: Arc<ServerConfig>, record: &Record) {
    stream
        .set_nonblocking(false)
        .expect("failed to make the connection blocking");
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("failed to set the read timeout");
    let connection = ServerConnection::new(config).expect("failed to create a TLS connection");
    let mut tls = StreamOwned::new(connection, stream);

    // A failed handshake ends here. rustls sends the alert that names the
    // failure before it returns the error.
    while tls.conn.is_handshaking() {
        if let Err(error) = tls.conn.complete_io(&mut tls.sock) {
            record
                .handshake_errors
                .lock()
                .unwrap()
                .push(error.to_string());
            return;
        }
    }

    while let Some(head) = read_head(&mut tls) {
        let body = protocol_body(&head);
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if tls
            .write_all(response.as_bytes())
            .and_then(|()| tls.flush())
            .is_err()
        {
            return;
        }
        let request_line = head.lines().next().unwrap_or_default().to_owned();
        if request_line.contains("command=spend_bonus") {
            record.write_offs.fetch_add(1, Ordering::SeqCst);
        }
        record.responded.lock().unwrap().push(request_line);
    }
}

/// Reads one request head, up to the blank line. None when the client closed
/// the connection or the TLS session failed.
fn read_head(stream: &mut impl std::io::Read) -> Option<String> {
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
