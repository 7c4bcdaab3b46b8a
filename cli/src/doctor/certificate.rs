//! Subjects, issuers, validity dates and fingerprints of certificates, as
//! doctor prints them.

use esbyt::diagnostics;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::time::ASN1Time;

/// The fields of one certificate that doctor prints.
#[derive(Debug)]
pub struct CertificateSummary {
    pub subject: String,
    pub issuer: String,
    /// Start of validity, seconds since 1970 UTC.
    pub not_before: i64,
    /// End of validity, seconds since 1970 UTC.
    pub not_after: i64,
    pub not_before_text: String,
    pub not_after_text: String,
    /// SHA-256 fingerprint in the form `server_cert_sha256` accepts.
    pub fingerprint: String,
}

impl CertificateSummary {
    /// Returns the lines that describe the certificate, the first naming it with `label`.
    pub fn describe(&self, label: &str) -> Vec<String> {
        vec![
            format!("{label}: subject {}", self.subject),
            format!("  issuer {}", self.issuer),
            format!(
                "  valid from {} to {}",
                self.not_before_text, self.not_after_text
            ),
            format!("  SHA-256 {}", self.fingerprint),
        ]
    }
}

/// Parses a DER certificate. The error is x509-parser's reason.
pub fn summarize(der: &[u8]) -> Result<CertificateSummary, String> {
    let (_, certificate) = X509Certificate::from_der(der).map_err(|error| error.to_string())?;
    let validity = certificate.validity();
    Ok(CertificateSummary {
        subject: crate::printable(&certificate.subject().to_string()),
        issuer: crate::printable(&certificate.issuer().to_string()),
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        not_before_text: format_time(&validity.not_before),
        not_after_text: format_time(&validity.not_after),
        fingerprint: diagnostics::certificate_fingerprint(der),
    })
}

/// Formats a certificate time as `2027-05-01 12:00:00 UTC`.
fn format_time(time: &ASN1Time) -> String {
    let utc = time.to_datetime();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}
