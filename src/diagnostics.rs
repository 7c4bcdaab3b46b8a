//! Building blocks for diagnosing a connection step by step, as
//! `esbyt doctor` does: the same URL checks, client identity and TLS
//! configuration the client uses, and the same explanation of TLS failures.
//!
//! These functions send nothing to the bonus server.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;

use crate::config::Config;
use crate::error::{Detail, Error};
use crate::transport::{identity, tls, trust};

/// Checks the base URL as [`crate::Client::new`] does.
pub fn check_base_url(config: &Config) -> Result<(), Error> {
    crate::base_url::check_base_url(config)
}

/// Loads the client certificate chain the configuration names, leaf first,
/// with every check [`crate::Client::new`] makes (password, key type, key
/// belonging to the certificate). `None` when no client certificate is set.
pub fn client_certificate_chain(
    config: &Config,
) -> Result<Option<Vec<CertificateDer<'static>>>, Error> {
    Ok(identity::load(config)?.map(|identity| identity.chain))
}

/// Builds the rustls configuration the client would use: trust roots or
/// pins, and the client certificate.
pub fn tls_client_config(config: &Config) -> Result<Arc<rustls::ClientConfig>, Error> {
    trust::client_config(config)
}

/// Clears the record of whether a server asked for a client certificate,
/// before a handshake on this thread with [`tls_client_config`].
pub fn reset_client_certificate_request() {
    trust::reset_certificate_request();
}

/// Returns whether the server of the last handshake on this thread asked
/// for a client certificate.
pub fn server_requested_client_certificate() -> bool {
    trust::certificate_was_requested()
}

/// Explains a TLS failure as the client reports it: the detail code and a
/// message with the cause and the fix.
pub fn describe_tls_error(error: &rustls::Error, host: &str) -> (Detail, String) {
    tls::describe_rustls_error(error, host)
}

/// Returns the SHA-256 fingerprint of a certificate in the colon-separated
/// form that `server_cert_sha256` accepts.
pub fn certificate_fingerprint(certificate: &[u8]) -> String {
    trust::format_fingerprint(&trust::fingerprint(certificate))
}
