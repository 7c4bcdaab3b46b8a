//! The connector that performs the TLS handshake inside ureq's connector
//! chain, and the classification of TLS failures into causes with fixes.
//!
//! The library uses its own connector instead of ureq's so that it controls
//! the rustls configuration (see `trust`) and can name each failure.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{AlertDescription, CertificateError, ClientConfig, ClientConnection, StreamOwned};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

use super::trust::{self, PinMismatch, format_fingerprint};
use crate::error::Detail;

/// A failed TLS handshake, carried through ureq as `ureq::Error::Other`.
#[derive(Debug)]
pub struct HandshakeError {
    pub detail: Detail,
    pub message: String,
    /// The deadline passed during the handshake: a timeout, not a TLS failure.
    pub timed_out: bool,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HandshakeError {}

/// Connector that wraps the TCP connection of an `https` URL in TLS.
pub struct TlsConnector {
    config: Arc<ClientConfig>,
}

impl TlsConnector {
    pub fn new(config: Arc<ClientConfig>) -> TlsConnector {
        TlsConnector { config }
    }
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector").finish_non_exhaustive()
    }
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }

        let host = details.uri.host().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let server_name = ServerName::try_from(host.to_owned()).map_err(|_| {
            handshake_error(
                Detail::TlsOther,
                format!("{host:?} is not a valid TLS server name"),
            )
        })?;

        let mut connection =
            ClientConnection::new(self.config.clone(), server_name).map_err(|error| {
                handshake_error(Detail::TlsOther, format!("TLS setup failed: {error}"))
            })?;
        let mut socket = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        socket.set_timeout(details.timeout);

        trust::reset_certificate_request();
        while connection.is_handshaking() {
            if let Err(error) = connection.complete_io(&mut socket) {
                let error = read_pending_alert(&mut connection, &mut socket).unwrap_or(error);
                return Err(classify_handshake_failure(error, host));
            }
        }

        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        let stream = StreamOwned::new(connection, socket);
        let host = host.to_owned();
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream,
            host,
        })))
    }
}

/// Reads what the server sent before it closed the connection, after a
/// failed write. A server that rejects the handshake sends an alert and
/// closes at once, so the client's next write can fail with a broken pipe
/// while the alert that names the cause is still unread.
fn read_pending_alert(
    connection: &mut ClientConnection,
    socket: &mut TransportAdapter,
) -> Option<io::Error> {
    // A handful of reads covers the few records a server sends before closing.
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

fn handshake_error(detail: Detail, message: String) -> ureq::Error {
    ureq::Error::Other(Box::new(HandshakeError {
        detail,
        message,
        timed_out: false,
    }))
}

/// Returns the error for a deadline that passed during TLS, after the TCP connection was made.
fn handshake_timeout(host: &str) -> ureq::Error {
    ureq::Error::Other(Box::new(HandshakeError {
        detail: Detail::None,
        message: format!(
            "the TLS handshake with {host} timed out: the server accepted the TCP connection but did \
             not complete TLS; check that it speaks HTTPS on this port"
        ),
        timed_out: true,
    }))
}

/// Turns a failed handshake into a timeout or a [`HandshakeError`] that names
/// the cause and what to do about it.
fn classify_handshake_failure(error: io::Error, host: &str) -> ureq::Error {
    // ureq's socket adapter reports its own errors, deadlines among them,
    // wrapped in io::Error.
    let wraps_ureq_error = error
        .get_ref()
        .is_some_and(|inner| inner.is::<ureq::Error>());
    if wraps_ureq_error {
        let inner = error
            .into_inner()
            .and_then(|inner| inner.downcast::<ureq::Error>().ok());
        return match inner.map(|boxed| *boxed) {
            Some(ureq::Error::Timeout(_)) => handshake_timeout(host),
            Some(other) => other,
            None => handshake_error(
                Detail::TlsOther,
                format!("TLS handshake with {host} failed"),
            ),
        };
    }
    if matches!(
        error.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        return handshake_timeout(host);
    }
    let rustls_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls_error) => {
            let (detail, message) = describe_rustls_error(rustls_error, host);
            handshake_error(detail, message)
        }
        // A server that asked for a client certificate and then dropped the
        // connection without a readable alert most likely rejected it.
        None if trust::certificate_was_requested() => {
            let (detail, message) = client_certificate_rejected(host, &error.to_string());
            handshake_error(detail, message)
        }
        None => handshake_error(
            Detail::TlsNotTls,
            format!(
                "TLS handshake with {host} failed: {error}; check that the server speaks HTTPS on this port"
            ),
        ),
    }
}

/// Names the cause of a rustls failure and what to do about it.
pub(crate) fn describe_rustls_error(error: &rustls::Error, host: &str) -> (Detail, String) {
    use rustls::Error as E;
    match error {
        E::InvalidCertificate(CertificateError::UnknownIssuer) => (
            Detail::TlsUnknownIssuer,
            format!(
                "the certificate of {host} is not trusted: unknown issuer; if the server uses a certificate \
                 of the Russian Trusted Root CA or another CA missing from this computer, add that CA with \
                 the extra_ca_file setting, or pin the certificate with server_cert_sha256"
            ),
        ),
        E::InvalidCertificate(CertificateError::NotValidForName)
        | E::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => (
            Detail::TlsNameMismatch,
            format!(
                "the certificate of the server is not valid for the name {host:?} ({error}); use a host \
                 name in the URL that the server certificate names"
            ),
        ),
        E::InvalidCertificate(CertificateError::Expired)
        | E::InvalidCertificate(CertificateError::ExpiredContext { .. }) => (
            Detail::TlsCertificateExpired,
            format!(
                "the certificate of {host} has expired ({error}); check the clock of this computer, then \
                 ask the server operator to renew the certificate"
            ),
        ),
        E::InvalidCertificate(CertificateError::NotValidYet)
        | E::InvalidCertificate(CertificateError::NotValidYetContext { .. }) => (
            Detail::TlsCertificateNotYetValid,
            format!(
                "the certificate of {host} is not valid yet ({error}); check the clock of this computer"
            ),
        ),
        E::InvalidCertificate(CertificateError::Other(other)) if other.0.is::<PinMismatch>() => {
            let actual = other
                .0
                .downcast_ref::<PinMismatch>()
                .map(|pin| format_fingerprint(&pin.actual));
            (
                Detail::TlsPinMismatch,
                format!(
                    "the certificate of {host} has SHA-256 fingerprint {}, which is not in \
                     server_cert_sha256; if the server operator replaced the certificate, pin the new one",
                    actual.unwrap_or_default()
                ),
            )
        }
        E::AlertReceived(alert)
            if is_client_certificate_alert(*alert)
                || (*alert == AlertDescription::HandshakeFailure
                    && trust::certificate_was_requested()) =>
        {
            client_certificate_rejected(host, &error.to_string())
        }
        E::AlertReceived(AlertDescription::ProtocolVersion)
        | E::AlertReceived(AlertDescription::HandshakeFailure)
        | E::AlertReceived(AlertDescription::InsufficientSecurity)
        | E::PeerIncompatible(_) => (
            Detail::TlsNoCommonProtocol,
            format!(
                "{host} shares no TLS protocol version or cipher suite with this library ({error}); \
                 the library speaks TLS 1.2 and 1.3, and the server may speak only TLS 1.0 or 1.1"
            ),
        ),
        E::InvalidMessage(_) => (
            Detail::TlsNotTls,
            format!(
                "{host} responded with data that is not TLS ({error}); check that the server speaks \
                 HTTPS on this port, or use an http:// URL if it is the partner's test server"
            ),
        ),
        other => (
            Detail::TlsOther,
            format!("TLS handshake with {host} failed: {other}"),
        ),
    }
}

fn client_certificate_rejected(host: &str, reason: &str) -> (Detail, String) {
    let fix = if trust::certificate_was_requested() && !trust::certificate_was_presented() {
        "no client certificate is configured: set pkcs12_file, or client_cert_file and client_key_file"
    } else {
        "configure the partner's individual client certificate with pkcs12_file, or client_cert_file and \
         client_key_file, and check that it has not expired"
    };
    (
        Detail::TlsClientCertificateRejected,
        format!("{host} rejected the client certificate or required one ({reason}); {fix}"),
    )
}

/// Returns whether a server sends this alert when it does not accept the client certificate.
fn is_client_certificate_alert(alert: AlertDescription) -> bool {
    matches!(
        alert,
        AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateRevoked
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::AccessDenied
    )
}

/// Turns an error on an established TLS connection into a [`HandshakeError`]
/// when it is a server's rejection of the client certificate.
///
/// With TLS 1.3 the client finishes its side of the handshake and sends the
/// request before the server has checked the client certificate, so the
/// rejection arrives as an alert when the response is read. A server that
/// rejects the certificate has not accepted the connection, so it never
/// processed the request. Reporting the alert as a TLS failure keeps a
/// write-off out of "outcome unknown".
fn classify_stream_error(error: io::Error, host: &str) -> ureq::Error {
    let rejection = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .filter(|inner| matches!(inner, rustls::Error::AlertReceived(alert) if is_client_certificate_alert(*alert)));
    match rejection {
        Some(rustls_error) => {
            let (detail, message) = describe_rustls_error(rustls_error, host);
            handshake_error(detail, message)
        }
        None => ureq::Error::Io(error),
    }
}

/// An established TLS connection as a ureq transport.
pub struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
    host: String,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport").finish_non_exhaustive()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        let written = self
            .stream
            .write_all(output)
            .and_then(|()| self.stream.flush());
        written.map_err(|error| classify_stream_error(error, &self.host))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self
            .stream
            .read(input)
            .map_err(|error| classify_stream_error(error, &self.host))?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
