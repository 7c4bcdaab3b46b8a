//! HTTPS: the TLS settings, loading them from PEM files, and the server side of the
//! handshake, which runs on the connection thread.

use std::error::Error;
use std::fmt;
use std::fs;
use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{
    AlertDescription, CertificateError, InconsistentKeys, RootCertStore, ServerConfig,
    ServerConnection, StreamOwned,
};

use crate::http::{WRITE_TIMEOUT, is_timeout};
use crate::pki::{CA_CERT_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE};

/// Maximum time from the accepted TCP connection to the end of the TLS handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// HTTPS settings: the server certificate and, for mutual TLS, the CA that signs client
/// certificates. The server offers TLS 1.2 and 1.3 with the ring provider of rustls.
#[derive(Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// Server certificate chain in DER, the server's own certificate first. The
    /// generated test certificate names `localhost`, `127.0.0.1` and `::1`.
    pub cert_chain: Vec<CertificateDer<'static>>,
    /// Private key of the first certificate in `cert_chain`: PKCS#8, PKCS#1 or SEC1.
    pub key: PrivateKeyDer<'static>,
    /// CA certificates for client certificates. When set, every client must present a
    /// certificate signed by one of them, and a handshake without one fails, as on the
    /// production server. When `None`, the server does not request a client certificate.
    pub client_ca: Option<Vec<CertificateDer<'static>>>,
}

impl Clone for TlsConfig {
    fn clone(&self) -> Self {
        TlsConfig {
            cert_chain: self.cert_chain.clone(),
            key: self.key.clone_key(),
            client_ca: self.client_ca.clone(),
        }
    }
}

impl TlsConfig {
    /// Creates settings for HTTPS without client certificates from DER data.
    pub fn new(cert_chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        TlsConfig {
            cert_chain,
            key,
            client_ca: None,
        }
    }

    /// Returns the settings with client certificates required and signed by one of
    /// `ca_certs`.
    pub fn with_client_ca(mut self, ca_certs: Vec<CertificateDer<'static>>) -> Self {
        self.client_ca = Some(ca_certs);
        self
    }

    /// Reads the server certificate chain and its private key from PEM files, and checks
    /// that the key belongs to the first certificate. Client certificates are not
    /// requested until [`TlsConfig::with_client_ca_file`] sets a CA.
    pub fn from_pem_files(
        cert_file: impl AsRef<Path>,
        key_file: impl AsRef<Path>,
    ) -> Result<Self, TlsFileError> {
        let cert_file = cert_file.as_ref();
        let key_file = key_file.as_ref();
        let cert_chain = read_pem_certificates(cert_file, "server certificate")?;
        let key = read_pem_private_key(key_file)?;
        check_key_matches(&cert_chain, &key, cert_file, key_file)?;
        Ok(TlsConfig::new(cert_chain, key))
    }

    /// Returns the settings with client certificates required and signed by a CA
    /// certificate from the PEM file `ca_file`.
    pub fn with_client_ca_file(self, ca_file: impl AsRef<Path>) -> Result<Self, TlsFileError> {
        let ca_file = ca_file.as_ref();
        let ca_certs = read_pem_certificates(ca_file, "client CA certificate")?;
        let mut roots = RootCertStore::empty();
        for cert in &ca_certs {
            roots
                .add(cert.clone())
                .map_err(|error| TlsFileError::Invalid {
                    path: ca_file.to_path_buf(),
                    message: format!("invalid CA certificate: {error}"),
                })?;
        }
        Ok(self.with_client_ca(ca_certs))
    }

    /// Reads the files that [`generate_test_pki`](crate::generate_test_pki) writes into
    /// `dir`: `server.pem` and `server.key` for the server, and `ca.pem` as the client CA.
    pub fn from_pki_dir(dir: impl AsRef<Path>) -> Result<Self, TlsFileError> {
        let dir = dir.as_ref();
        TlsConfig::from_pem_files(dir.join(SERVER_CERT_FILE), dir.join(SERVER_KEY_FILE))?
            .with_client_ca_file(dir.join(CA_CERT_FILE))
    }

    /// Builds the rustls configuration. The error message names the invalid part.
    pub(crate) fn server_config(&self) -> Result<Arc<ServerConfig>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|error| format!("unsupported TLS versions: {error}"))?;

        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca_certs) => {
                let mut roots = RootCertStore::empty();
                for cert in ca_certs {
                    roots
                        .add(cert.clone())
                        .map_err(|error| format!("invalid client CA certificate: {error}"))?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::clone(&provider),
                )
                .build()
                .map_err(|error| format!("invalid client CA: {error}"))?;
                builder.with_client_cert_verifier(verifier)
            }
        };

        let config = builder
            .with_single_cert(self.cert_chain.clone(), self.key.clone_key())
            .map_err(|error| format!("invalid server certificate or key: {error}"))?;
        Ok(Arc::new(config))
    }
}

/// Failure to load TLS settings from a file.
#[derive(Debug)]
pub enum TlsFileError {
    /// The file could not be read.
    Read { path: PathBuf, source: io::Error },
    /// The file has no PEM block of the expected type, invalid PEM, or a key that does not
    /// belong to its certificate.
    Invalid { path: PathBuf, message: String },
}

impl fmt::Display for TlsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsFileError::Read { path, source } => {
                write!(f, "failed to read {}: {source}", path.display())
            }
            TlsFileError::Invalid { path, message } => write!(f, "{}: {message}", path.display()),
        }
    }
}

impl Error for TlsFileError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            TlsFileError::Read { source, .. } => Some(source),
            TlsFileError::Invalid { .. } => None,
        }
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsFileError> {
    fs::read(path).map_err(|source| TlsFileError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(path: &Path, message: String) -> TlsFileError {
    TlsFileError::Invalid {
        path: path.to_path_buf(),
        message,
    }
}

/// Reads every `CERTIFICATE` block of a PEM file. `content_name` names the expected
/// certificate in errors.
fn read_pem_certificates(
    path: &Path,
    content_name: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let bytes = read_file(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|error| invalid(path, format!("invalid PEM: {error}")))?;
    if certs.is_empty() {
        return Err(invalid(
            path,
            format!(
                "no {content_name} found: expected a PEM block \"-----BEGIN CERTIFICATE-----\""
            ),
        ));
    }
    Ok(certs)
}

/// Reads the first private key of a PEM file.
fn read_pem_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsFileError> {
    let bytes = read_file(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|error| match error {
        pem::Error::NoItemsFound => invalid(
            path,
            "no private key found: expected a PEM block \"-----BEGIN PRIVATE KEY-----\", \
             \"-----BEGIN EC PRIVATE KEY-----\" or \"-----BEGIN RSA PRIVATE KEY-----\""
                .to_string(),
        ),
        other => invalid(path, format!("invalid PEM: {other}")),
    })
}

/// Checks that ring can sign with `key` and that the key belongs to the first certificate,
/// so that a mismatch names both files at start-up instead of failing every handshake.
fn check_key_matches(
    cert_chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    cert_file: &Path,
    key_file: &Path,
) -> Result<(), TlsFileError> {
    let provider: CryptoProvider = rustls::crypto::ring::default_provider();
    let signing_key = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|error| invalid(key_file, format!("unsupported private key: {error}")))?;
    match CertifiedKey::new(cert_chain.to_vec(), signing_key).keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(()),
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => Err(invalid(
            key_file,
            format!(
                "the private key does not belong to the first certificate in {}",
                cert_file.display()
            ),
        )),
        Err(error) => Err(invalid(cert_file, format!("invalid certificate: {error}"))),
    }
}

/// Runs the server side of the TLS handshake on `socket` for at most
/// [`HANDSHAKE_TIMEOUT`]. The error is a reason for the log.
pub(crate) fn accept(
    socket: TcpStream,
    config: &Arc<ServerConfig>,
) -> Result<StreamOwned<ServerConnection, TcpStream>, String> {
    let mut connection = ServerConnection::new(Arc::clone(config))
        .map_err(|error| format!("failed to start the TLS session: {error}"))?;
    let mut socket = socket;
    socket
        .set_write_timeout(Some(WRITE_TIMEOUT))
        .map_err(|error| error.to_string())?;

    let start = Instant::now();
    while connection.is_handshaking() {
        let left = HANDSHAKE_TIMEOUT.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(format!(
                "handshake not completed within {} seconds",
                HANDSHAKE_TIMEOUT.as_secs()
            ));
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(|error| error.to_string())?;
        match connection.complete_io(&mut socket) {
            Ok(_) => {}
            Err(error) if is_timeout(&error) || error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(describe_handshake_error(&error)),
        }
    }
    Ok(StreamOwned::new(connection, socket))
}

/// Describes a failed handshake with the cause and, for the usual setup mistakes, the fix.
fn describe_handshake_error(error: &io::Error) -> String {
    let tls_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls_error {
        Some(rustls::Error::NoCertificatesPresented) => {
            "the client sent no certificate, but a client certificate signed by the client CA \
             is required"
                .to_string()
        }
        Some(tls_error @ rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
            format!("the client certificate is not signed by the client CA ({tls_error})")
        }
        Some(
            tls_error @ rustls::Error::AlertReceived(
                AlertDescription::UnknownCA
                | AlertDescription::BadCertificate
                | AlertDescription::CertificateUnknown,
            ),
        ) => format!(
            "the client rejected the server certificate ({tls_error}): the client must trust \
             the CA that signed it, such as ca.pem of the generated test PKI"
        ),
        Some(tls_error @ rustls::Error::InvalidMessage(_)) => {
            format!("{tls_error}. The client may have sent plain HTTP to this HTTPS port")
        }
        Some(tls_error) => tls_error.to_string(),
        None if error.kind() == io::ErrorKind::UnexpectedEof => {
            "the client closed the connection during the handshake".to_string()
        }
        None => error.to_string(),
    }
}
