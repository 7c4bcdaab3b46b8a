//! The rustls client configuration: which servers are trusted, and which
//! client certificate is presented.
//!
//! Servers are trusted through Mozilla's roots, the operating system's
//! store and an optional extra CA file, or, when fingerprints are
//! configured, only through those fingerprints. There is no setting that
//! turns verification off: pinning is the safe way to accept a certificate
//! that no trusted CA issued.

use std::cell::Cell;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, OtherError, RootCertStore,
    SignatureScheme,
};

use super::identity;
use crate::config::{Config, Fingerprint};
use crate::error::Error;

/// Builds the rustls client configuration from the settings. Every file is
/// read here, so a bad file fails when the client is created.
///
/// Clients with the same trust settings and client identity share one
/// configuration. rustls resumes a TLS session only with the configuration
/// that made it, so this sharing lets a new client reconnect with an
/// abbreviated handshake, and it spares reloading the system's CA store.
pub fn client_config(config: &Config) -> Result<Arc<ClientConfig>, Error> {
    let identity = identity::load(config)?;
    let extra_roots = match &config.extra_ca_file {
        Some(path) => read_extra_roots(path)?,
        None => Vec::new(),
    };
    let key = cache_key(config, identity.as_ref(), &extra_roots);

    let mut cache = CONFIG_CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, cached)) = cache.iter().find(|(cached_key, _)| *cached_key == key) {
        return Ok(cached.clone());
    }
    let built = build_client_config(config, identity, extra_roots)?;
    if cache.len() >= CACHED_CONFIGS {
        cache.remove(0);
    }
    cache.push((key, built.clone()));
    Ok(built)
}

/// How many distinct TLS configurations are kept for reuse. A process
/// usually talks to one server with one identity.
const CACHED_CONFIGS: usize = 16;

// NOTE: a cached configuration keeps the system CA store as it was read
// first; changes to the system store take effect after a restart.
static CONFIG_CACHE: Mutex<Vec<(Fingerprint, Arc<ClientConfig>)>> = Mutex::new(Vec::new());

/// Digest of everything a configuration is built from, private key included,
/// so different identities or trust settings never share one.
fn cache_key(
    config: &Config,
    identity: Option<&identity::ClientIdentity>,
    extra_roots: &[CertificateDer<'static>],
) -> Fingerprint {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut add = |label: &[u8], bytes: &[u8]| {
        context.update(label);
        context.update(&(bytes.len() as u64).to_le_bytes());
        context.update(bytes);
    };
    add(b"system_roots", &[u8::from(config.system_roots)]);
    for pin in &config.server_cert_sha256 {
        add(b"pin", pin);
    }
    for root in extra_roots {
        add(b"extra_root", root);
    }
    if let Some(identity) = identity {
        for certificate in &identity.chain {
            add(b"client_certificate", certificate);
        }
        add(b"client_key", identity.key.secret_der());
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(context.finish().as_ref());
    key
}

fn build_client_config(
    config: &Config,
    identity: Option<identity::ClientIdentity>,
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<Arc<ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::config(format!("TLS configuration failed: {error}")))?;

    let builder = if config.server_cert_sha256.is_empty() {
        let roots = Arc::new(root_store(config.system_roots, extra_roots));
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|error| Error::config(format!("TLS configuration failed: {error}")))?;
        builder.with_webpki_verifier(verifier)
    } else {
        let verifier = PinnedVerifier {
            fingerprints: config.server_cert_sha256.clone(),
            algorithms: provider.signature_verification_algorithms,
        };
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
    };

    let certified_key = match identity {
        Some(identity) => Some(Arc::new(
            CertifiedKey::from_der(identity.chain, identity.key, &provider).map_err(|error| {
                Error::config(format!("the client certificate is not usable: {error}"))
            })?,
        )),
        None => None,
    };
    let resolver = RecordingResolver { certified_key };
    Ok(Arc::new(
        builder.with_client_cert_resolver(Arc::new(resolver)),
    ))
}

thread_local! {
    /// Whether the server of the handshake running on this thread asked for a
    /// client certificate, and whether one was presented. Handshakes run on
    /// the calling thread.
    static CERTIFICATE_REQUEST: Cell<(bool, bool)> = const { Cell::new((false, false)) };
}

/// Clears the record of a certificate request before a handshake.
pub fn reset_certificate_request() {
    CERTIFICATE_REQUEST.with(|request| request.set((false, false)));
}

/// Returns whether the server asked for a client certificate during the
/// handshake on this thread.
pub fn certificate_was_requested() -> bool {
    CERTIFICATE_REQUEST.with(|request| request.get().0)
}

/// Returns whether a client certificate was presented during the handshake
/// on this thread.
pub fn certificate_was_presented() -> bool {
    CERTIFICATE_REQUEST.with(|request| request.get().1)
}

/// Presents the configured client certificate, if any, and records that the
/// server asked for one. Servers reject a missing certificate with different
/// alerts (OpenSSL with TLS 1.2 sends a generic handshake failure), so the
/// record is what tells a missing certificate from a cipher mismatch.
#[derive(Debug)]
struct RecordingResolver {
    certified_key: Option<Arc<CertifiedKey>>,
}

impl ResolvesClientCert for RecordingResolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _schemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let presented = self.certified_key.is_some();
        CERTIFICATE_REQUEST.with(|request| request.set((true, presented)));
        self.certified_key.clone()
    }

    fn has_certs(&self) -> bool {
        self.certified_key.is_some()
    }
}

/// Mozilla's roots, the system's roots when enabled, and the extra CA file's.
fn root_store(system_roots: bool, extra_roots: Vec<CertificateDer<'static>>) -> RootCertStore {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if system_roots {
        add_system_roots(&mut roots);
    }
    roots.add_parsable_certificates(extra_roots);
    roots
}

/// Adds the operating system's trusted certificates. A store that cannot be
/// read leaves Mozilla's roots and the extra CA file, so it is logged, not fatal.
fn add_system_roots(roots: &mut RootCertStore) {
    let loaded = rustls_native_certs::load_native_certs();
    for error in &loaded.errors {
        log::warn!("system CA certificates could not be read: {error}");
    }
    let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
    log::debug!("added {added} system CA certificates, ignored {ignored}");
}

/// Reads the extra CA file and checks that it contains at least one usable CA certificate.
fn read_extra_roots(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let file = format!("{:?}", path.display().to_string());
    let bytes = crate::files::read_setting_file(path, "extra_ca_file")?;
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .collect();
    let (usable, _ignored) = RootCertStore::empty().add_parsable_certificates(certificates.clone());
    if usable == 0 {
        return Err(Error::config(format!(
            "extra_ca_file {file} contains no usable CA certificate: expected PEM blocks \
             \"-----BEGIN CERTIFICATE-----\""
        )));
    }
    log::debug!("read {usable} CA certificates from {file}");
    Ok(certificates)
}

/// Returns the SHA-256 fingerprint of a certificate.
pub fn fingerprint(certificate: &[u8]) -> Fingerprint {
    let digest = ring::digest::digest(&ring::digest::SHA256, certificate);
    let mut fingerprint = [0u8; 32];
    fingerprint.copy_from_slice(digest.as_ref());
    fingerprint
}

/// Formats a fingerprint as colon-separated hex pairs, as certificate viewers show it.
pub fn format_fingerprint(fingerprint: &Fingerprint) -> String {
    fingerprint
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The server certificate matched none of the configured fingerprints.
#[derive(Debug)]
pub struct PinMismatch {
    pub actual: Fingerprint,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server certificate SHA-256 {} is not pinned",
            format_fingerprint(&self.actual)
        )
    }
}

impl std::error::Error for PinMismatch {}

/// Accepts exactly the server certificates whose SHA-256 fingerprint is
/// configured. The handshake signatures are still verified, so the server
/// must hold the certificate's private key.
#[derive(Debug)]
struct PinnedVerifier {
    fingerprints: Vec<Fingerprint>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let actual = fingerprint(end_entity);
        if self.fingerprints.contains(&actual) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(PinMismatch { actual })),
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_of_known_input() {
        // SHA-256 of "test", a published test vector.
        let expected = "9F:86:D0:81:88:4C:7D:65:9A:2F:EA:A0:C5:5A:D0:15:A3:BF:4F:1B:2B:0B:82:2C:D1:5D:6C:15:B0:F0:0A:08";
        assert_eq!(format_fingerprint(&fingerprint(b"test")), expected);
    }
}
