//! TLS with rustls: the trust roots, and the connector that performs the
//! handshake inside ureq's connector chain.
//!
//! The library builds its own rustls configuration instead of ureq's, so it
//! can combine Mozilla's roots with an extra CA file and report each
//! handshake failure with its cause and fix.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, RootCertStore, StreamOwned,
};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

use crate::error::Error;

/// Builds the rustls client configuration: Mozilla's roots plus the
/// certificates of `extra_ca_file`, TLS 1.2 and 1.3, the ring provider.
pub fn client_config(extra_ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra_ca_file {
        add_extra_roots(&mut roots, path)?;
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::config(format!("TLS configuration failed: {error}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn add_extra_roots(roots: &mut RootCertStore, path: &Path) -> Result<(), Error> {
    let bytes = std::fs::read(path).map_err(|error| {
        Error::config(format!(
            "extra_ca_file {:?} cannot be read: {error}",
            path.display().to_string()
        ))
    })?;
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .collect();
    let (added, _ignored) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(Error::config(format!(
            "extra_ca_file {:?} contains no usable CA certificate: expected PEM blocks \"-----BEGIN CERTIFICATE-----\"",
            path.display().to_string()
        )));
    }
    log::debug!("added {added} CA certificates from {}", path.display());
    Ok(())
}

/// A failed TLS handshake, carried through ureq as `ureq::Error::Other`.
#[derive(Debug)]
pub struct HandshakeError {
    pub message: String,
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
        let server_name = ServerName::try_from(host.to_owned())
            .map_err(|_| handshake_error(format!("{host:?} is not a valid TLS server name")))?;

        let mut connection = ClientConnection::new(self.config.clone(), server_name)
            .map_err(|error| handshake_error(format!("TLS setup failed: {error}")))?;
        let mut socket = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        socket.set_timeout(details.timeout);

        while connection.is_handshaking() {
            if let Err(error) = connection.complete_io(&mut socket) {
                return Err(classify_handshake_failure(error, host));
            }
        }

        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        let stream = StreamOwned::new(connection, socket);
        Ok(Some(Either::B(TlsTransport { buffers, stream })))
    }
}

fn handshake_error(message: String) -> ureq::Error {
    ureq::Error::Other(Box::new(HandshakeError { message }))
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
            Some(ureq::Error::Timeout(_)) => ureq::Error::Timeout(ureq::Timeout::Connect),
            Some(other) => other,
            None => handshake_error(format!("TLS handshake with {host} failed")),
        };
    }
    if matches!(
        error.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        return ureq::Error::Timeout(ureq::Timeout::Connect);
    }
    let rustls_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let message = match rustls_error {
        Some(rustls_error) => describe_rustls_error(rustls_error, host),
        None => format!(
            "TLS handshake with {host} failed: {error}; check that the server speaks HTTPS on this port"
        ),
    };
    handshake_error(message)
}

fn describe_rustls_error(error: &rustls::Error, host: &str) -> String {
    use rustls::Error as E;
    match error {
        E::InvalidCertificate(CertificateError::UnknownIssuer) => format!(
            "the certificate of {host} is not trusted: unknown issuer; if the server uses a certificate of \
             the Russian Trusted Root CA or another private CA, add that CA with the extra_ca_file setting"
        ),
        E::InvalidCertificate(CertificateError::NotValidForName)
        | E::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => format!(
            "the certificate of the server is not valid for the name {host:?}; check the host in the URL \
             against the names in the server certificate ({error})"
        ),
        E::InvalidCertificate(CertificateError::Expired)
        | E::InvalidCertificate(CertificateError::ExpiredContext { .. }) => format!(
            "the certificate of {host} has expired ({error}); check the clock of this computer, \
             then ask the server operator to renew the certificate"
        ),
        E::InvalidCertificate(CertificateError::NotValidYet)
        | E::InvalidCertificate(CertificateError::NotValidYetContext { .. }) => format!(
            "the certificate of {host} is not valid yet ({error}); check the clock of this computer"
        ),
        E::AlertReceived(AlertDescription::CertificateRequired)
        | E::AlertReceived(AlertDescription::BadCertificate)
        | E::AlertReceived(AlertDescription::UnknownCA)
        | E::AlertReceived(AlertDescription::CertificateUnknown) => format!(
            "{host} rejected or required a client certificate ({error}); configure the partner's \
             individual client certificate and key"
        ),
        E::AlertReceived(AlertDescription::ProtocolVersion)
        | E::AlertReceived(AlertDescription::HandshakeFailure)
        | E::PeerIncompatible(_) => format!(
            "{host} shares no TLS protocol version or cipher suite with this library ({error}); \
             the library speaks TLS 1.2 and 1.3, and the server may speak only TLS 1.0 or 1.1"
        ),
        E::InvalidMessage(_) => format!(
            "{host} responded with data that is not TLS ({error}); check that the server speaks \
             HTTPS on this port, or use an http:// URL if it is the partner's test server"
        ),
        other => format!("TLS handshake with {host} failed: {other}"),
    }
}

/// An established TLS connection as a ureq transport.
pub struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
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
        self.stream.write_all(output)?;
        self.stream.flush()?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
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
