//! The tls step: the handshake with the library's rustls configuration,
//! the negotiated session, the server's certificate chain and whether the
//! server requested a client certificate.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use esbyt::diagnostics;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, ProtocolVersion, SignatureScheme,
    StreamOwned,
};

use super::configuration::{Target, unix_now};
use super::{Step, certificate, split_message};

/// A server certificate that expires within this many days gives a warning.
const EXPIRY_WARNING_DAYS: i64 = 30;

/// The connection that the http step sends its request on: a verified TLS
/// session, or plain TCP for an http:// URL.
pub enum Connection {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Connection {
    /// Returns the TCP socket under the connection, for its timeouts.
    pub fn socket(&self) -> &TcpStream {
        match self {
            Connection::Plain(stream) => stream,
            Connection::Tls(stream) => &stream.sock,
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Connection::Tls(_))
    }
}

impl Read for Connection {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Connection::Plain(stream) => stream.read(buffer),
            Connection::Tls(stream) => stream.read(buffer),
        }
    }
}

impl Write for Connection {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        match self {
            Connection::Plain(stream) => stream.write(buffer),
            Connection::Tls(stream) => stream.write(buffer),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Connection::Plain(stream) => stream.flush(),
            Connection::Tls(stream) => stream.flush(),
        }
    }
}

/// Runs the tls step on `stream` and returns the verified session.
///
/// When the server's certificate fails verification, the chain is fetched
/// with a second handshake on a connection from `reconnect`, whose verifier
/// records the certificates and then always fails. That handshake stops
/// before the client sends anything but handshake messages, so no request
/// ever travels over an unverified connection.
pub fn handshake(
    target: &Target,
    tls_config: &Arc<ClientConfig>,
    stream: TcpStream,
    reconnect: impl FnOnce() -> io::Result<TcpStream>,
    step: &mut Step,
) -> Option<Connection> {
    let host = &target.host;
    let Ok(server_name) = ServerName::try_from(host.clone()) else {
        step.fail(
            format!("{host:?} is not a valid TLS server name"),
            "use a host name or an IP address in the URL",
        );
        return None;
    };
    let timeout = target.config.connect_timeout;
    diagnostics::reset_client_certificate_request();
    let result = run_handshake(Arc::clone(tls_config), server_name.clone(), stream, timeout);
    let requested = diagnostics::server_requested_client_certificate();

    match result {
        Ok(session) => {
            describe_session(&session.conn, step);
            let chain = session.conn.peer_certificates().unwrap_or_default();
            describe_chain(chain, step);
            describe_certificate_request(target, requested, step);
            Some(Connection::Tls(Box::new(session)))
        }
        Err(error) => {
            let rustls_error = rustls_error_of(&error);
            if let Some(rustls::Error::InvalidCertificate(_)) = rustls_error {
                let recorded = reconnect().and_then(|stream| {
                    record_server_chain(tls_config, server_name, stream, timeout)
                });
                match recorded {
                    Ok(chain) => {
                        step.detail(
                            "server chain recorded by a second handshake that stopped after \
                             the server's certificates; nothing else was sent on it",
                        );
                        describe_chain(&chain, step);
                    }
                    Err(error) => step.detail(format!("server chain not available: {error}")),
                }
            }
            describe_certificate_request(target, requested, step);
            let (cause, fix) = explain_failure(target, &error, requested, step);
            step.fail(cause, fix);
            None
        }
    }
}

/// Runs a client handshake to completion within `timeout`.
fn run_handshake(
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    mut socket: TcpStream,
    timeout: Duration,
) -> io::Result<StreamOwned<ClientConnection, TcpStream>> {
    let mut connection = ClientConnection::new(config, server_name)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
    socket.set_write_timeout(Some(timeout))?;
    let deadline = Instant::now() + timeout;
    while connection.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        socket.set_read_timeout(Some(left))?;
        match connection.complete_io(&mut socket) {
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) if rustls_error_of(&error).is_some() || is_timeout(&error) => {
                return Err(error);
            }
            Err(error) => {
                return Err(read_pending_alert(&mut connection, &mut socket).unwrap_or(error));
            }
        }
    }
    Ok(StreamOwned::new(connection, socket))
}

/// Looks for an alert that the server sent before closing. A server that
/// rejects the handshake sends an alert and closes at once, so the client's
/// next write can fail with a reset before the alert has been read.
fn read_pending_alert(
    connection: &mut ClientConnection,
    socket: &mut TcpStream,
) -> Option<io::Error> {
    // A server sends few records before it closes, so a few reads are enough.
    for _ in 0..4 {
        match connection.read_tls(socket) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {
                if let Err(error) = connection.process_new_packets() {
                    return Some(io::Error::new(io::ErrorKind::InvalidData, error));
                }
            }
        }
    }
    None
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Returns the rustls error inside an I/O error of a handshake or a read.
pub fn rustls_error_of(error: &io::Error) -> Option<&rustls::Error> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

fn describe_session(connection: &ClientConnection, step: &mut Step) {
    let version = match connection.protocol_version() {
        Some(ProtocolVersion::TLSv1_3) => "TLS 1.3".to_owned(),
        Some(ProtocolVersion::TLSv1_2) => "TLS 1.2".to_owned(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_owned(),
    };
    step.detail(format!("protocol {version}"));
    if let Some(suite) = connection.negotiated_cipher_suite() {
        step.detail(format!("cipher suite {:?}", suite.suite()));
    }
}

fn describe_chain(chain: &[CertificateDer<'_>], step: &mut Step) {
    if chain.is_empty() {
        step.detail("the server sent no certificate");
        return;
    }
    for (index, der) in chain.iter().enumerate() {
        let label = format!("server certificate {}", index + 1);
        match certificate::summarize(der) {
            Ok(summary) => {
                for line in summary.describe(&label) {
                    step.detail(line);
                }
                let days_left = (summary.not_after - unix_now()) / 86_400;
                if index == 0 && (0..EXPIRY_WARNING_DAYS).contains(&days_left) {
                    step.warn(
                        format!(
                            "the server certificate expires on {}, in {days_left} days",
                            summary.not_after_text
                        ),
                        "tell the bonus programme's support: after that date the library \
                         rejects the server",
                    );
                }
            }
            Err(error) => step.detail(format!(
                "{label}: cannot be parsed ({error}), SHA-256 {}",
                diagnostics::certificate_fingerprint(der)
            )),
        }
    }
}

fn describe_certificate_request(target: &Target, requested: bool, step: &mut Step) {
    let yes_no = |flag: bool| if flag { "yes" } else { "no" };
    step.detail(format!(
        "client certificate requested: {}",
        yes_no(requested)
    ));
    if !requested {
        return;
    }
    step.detail(format!(
        "client certificate configured: {}",
        yes_no(target.client_certificate)
    ));
    if !target.client_certificate {
        step.warn(
            "the server requested a client certificate, but none is configured",
            "set pkcs12_file and pkcs12_password, or client_cert_file and client_key_file, to \
             the client certificate that the bonus programme issued",
        );
    }
}

/// Names the cause and the fix of a failed handshake. The library's own
/// explanation covers every rustls error. Timeouts and connections closed
/// without an alert are explained here.
fn explain_failure(
    target: &Target,
    error: &io::Error,
    requested: bool,
    step: &mut Step,
) -> (String, String) {
    if let Some(rustls_error) = rustls_error_of(error) {
        let (detail, message) = diagnostics::describe_tls_error(rustls_error, &target.host);
        step.detail(format!("library detail {}", detail.name()));
        return split_message(
            &message,
            "check the TLS settings of this client and tell the bonus programme's support",
        );
    }
    let timeout_ms = target.config.connect_timeout.as_millis();
    match error.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => (
            format!(
                "the server accepted the TCP connection but did not complete the TLS handshake \
                 within {timeout_ms} ms"
            ),
            "check that the server speaks HTTPS on this port; the partner's test server speaks \
             plain HTTP, so use its http:// URL with --allow-http"
                .to_owned(),
        ),
        _ if requested && !target.client_certificate => (
            format!(
                "the server requested a client certificate and closed the connection ({error})"
            ),
            "set pkcs12_file and pkcs12_password, or client_cert_file and client_key_file, to \
             the client certificate that the bonus programme issued"
                .to_owned(),
        ),
        _ if requested => (
            format!(
                "the server closed the connection after it received the client certificate \
                 ({error})"
            ),
            "the server does not accept this client certificate: check that it is the one the \
             bonus programme issued for this partner and that it has not expired"
                .to_owned(),
        ),
        _ => (
            format!("the TLS handshake failed: {error}"),
            "check that the server speaks HTTPS on this port".to_owned(),
        ),
    }
}

/// Runs a handshake whose verifier records the server's certificates and
/// then fails, and returns the recorded chain, leaf first.
fn record_server_chain(
    tls_config: &Arc<ClientConfig>,
    server_name: ServerName<'static>,
    stream: TcpStream,
    timeout: Duration,
) -> io::Result<Vec<CertificateDer<'static>>> {
    let recorder = Arc::new(CertificateRecorder::default());
    let mut config = ClientConfig::clone(tls_config);
    config
        .dangerous()
        .set_certificate_verifier(Arc::clone(&recorder) as Arc<dyn ServerCertVerifier>);
    let outcome = run_handshake(Arc::new(config), server_name, stream, timeout);
    let chain = recorder.take();
    match outcome {
        Err(_) if !chain.is_empty() => Ok(chain),
        Err(error) => Err(error),
        // The verifier always fails, so a completed handshake is a bug here.
        Ok(_) => Err(io::Error::other(
            "the recording handshake completed, which must not happen",
        )),
    }
}

/// A verifier that records the server's certificates and rejects them
/// every time, so the handshake ends before any application data.
#[derive(Debug)]
struct CertificateRecorder {
    chain: Mutex<Vec<CertificateDer<'static>>>,
    schemes: Vec<SignatureScheme>,
}

impl Default for CertificateRecorder {
    fn default() -> CertificateRecorder {
        let provider = rustls::crypto::ring::default_provider();
        CertificateRecorder {
            chain: Mutex::new(Vec::new()),
            schemes: provider
                .signature_verification_algorithms
                .supported_schemes(),
        }
    }
}

impl CertificateRecorder {
    fn take(&self) -> Vec<CertificateDer<'static>> {
        std::mem::take(&mut *self.chain.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

const RECORDED_ONLY: &str =
    "certificates recorded for display only; this connection is not trusted";

impl ServerCertVerifier for CertificateRecorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = self.chain.lock().unwrap_or_else(PoisonError::into_inner);
        chain.push(end_entity.clone().into_owned());
        chain.extend(intermediates.iter().map(|der| der.clone().into_owned()));
        Err(rustls::Error::General(RECORDED_ONLY.to_owned()))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _certificate: &CertificateDer<'_>,
        _signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(RECORDED_ONLY.to_owned()))
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _certificate: &CertificateDer<'_>,
        _signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(RECORDED_ONLY.to_owned()))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}
