//! Error classes and the error type of the library.
//!
//! Each class settles the two questions a cash-register program must decide on
//! after a failure: is it safe to try again, and did the write-off happen?

use std::ffi::CStr;
use std::fmt;

/// Status of a call: 0 for success, and one fixed number for each failure class.
///
/// The numbers are part of the C ABI. They are never reused or renumbered, and
/// a retired number stays listed here as reserved.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// The call succeeded.
    Ok = 0,
    /// The caller passed an unusable value. Nothing was sent.
    InvalidArgument = 1,
    /// The configuration is unusable: URL, certificate, key, CA file or option. Nothing was sent.
    Config = 2,
    /// DNS resolution, TCP connection or the proxy failed. Nothing was sent.
    Connection = 3,
    /// The TLS handshake failed. Nothing was sent.
    Tls = 4,
    /// The deadline passed. For a write-off this status means nothing was sent;
    /// a deadline that passes after sending gives `OutcomeUnknown`.
    Timeout = 5,
    /// The server responded with a non-2xx HTTP status and no protocol error document.
    Http = 6,
    /// The response is not a valid protocol document.
    Protocol = 7,
    /// The server refused the operation with a non-zero `result` code.
    Server = 8,
    /// A write-off may or may not have been executed: the request may have
    /// reached the server but no valid response came back. Reconcile before
    /// trying again, because a resent write-off can spend bonuses twice.
    OutcomeUnknown = 9,
    /// A bug inside the library, such as a caught panic.
    Internal = 10,
}

impl Status {
    /// All statuses in numeric order.
    pub const ALL: [Status; 11] = [
        Status::Ok,
        Status::InvalidArgument,
        Status::Config,
        Status::Connection,
        Status::Tls,
        Status::Timeout,
        Status::Http,
        Status::Protocol,
        Status::Server,
        Status::OutcomeUnknown,
        Status::Internal,
    ];

    /// Returns the status with this number, if there is one.
    pub fn from_code(code: i32) -> Option<Status> {
        Status::ALL
            .iter()
            .copied()
            .find(|status| *status as i32 == code)
    }

    /// Returns the number of the status as the C ABI reports it.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// Returns the C name of the status, such as `ESBYT_OUTCOME_UNKNOWN`.
    pub fn name(self) -> &'static str {
        self.c_name().to_str().unwrap_or_default()
    }

    /// Returns a one-sentence description of the status for people.
    pub fn description(self) -> &'static str {
        self.c_description().to_str().unwrap_or_default()
    }

    /// Returns the C name as a NUL-terminated string for the C ABI.
    pub fn c_name(self) -> &'static CStr {
        match self {
            Status::Ok => c"ESBYT_OK",
            Status::InvalidArgument => c"ESBYT_INVALID_ARGUMENT",
            Status::Config => c"ESBYT_CONFIG",
            Status::Connection => c"ESBYT_CONNECTION",
            Status::Tls => c"ESBYT_TLS",
            Status::Timeout => c"ESBYT_TIMEOUT",
            Status::Http => c"ESBYT_HTTP",
            Status::Protocol => c"ESBYT_PROTOCOL",
            Status::Server => c"ESBYT_SERVER",
            Status::OutcomeUnknown => c"ESBYT_OUTCOME_UNKNOWN",
            Status::Internal => c"ESBYT_INTERNAL",
        }
    }

    /// Returns the description as a NUL-terminated string for the C ABI.
    pub fn c_description(self) -> &'static CStr {
        match self {
            Status::Ok => c"success",
            Status::InvalidArgument => c"invalid argument: nothing was sent",
            Status::Config => c"unusable configuration: nothing was sent",
            Status::Connection => c"connection to the bonus server failed: nothing was sent",
            Status::Tls => c"TLS handshake with the bonus server failed: nothing was sent",
            Status::Timeout => c"the bonus server did not respond in time",
            Status::Http => c"the bonus server responded with an HTTP error status",
            Status::Protocol => {
                c"the response of the bonus server is not a valid protocol document"
            }
            Status::Server => c"the bonus server refused the operation",
            Status::OutcomeUnknown => {
                c"the write-off may or may not have been executed: reconcile before trying again"
            }
            Status::Internal => c"internal error in the esbyt library",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A finer cause within a status. The numbers are part of the C ABI and are
/// never reused.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Detail {
    /// No finer cause.
    None = 0,
    /// The server certificate was issued by a CA that is not trusted.
    TlsUnknownIssuer = 1,
    /// The server certificate is not valid for the host name of the URL.
    TlsNameMismatch = 2,
    /// The server certificate has expired.
    TlsCertificateExpired = 3,
    /// The server certificate is not valid yet.
    TlsCertificateNotYetValid = 4,
    /// The server rejected the client certificate, or required one and got none.
    TlsClientCertificateRejected = 5,
    /// The server shares no TLS protocol version or cipher suite with the library.
    TlsNoCommonProtocol = 6,
    /// The server certificate matches none of the configured SHA-256 fingerprints.
    TlsPinMismatch = 7,
    /// The server does not speak TLS on this port.
    TlsNotTls = 8,
    /// Another TLS failure; the message names it.
    TlsOther = 9,
}

impl Detail {
    /// Returns the number of the detail as the C ABI reports it.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// Returns the C name of the detail, such as `ESBYT_DETAIL_TLS_UNKNOWN_ISSUER`.
    pub fn name(self) -> &'static str {
        match self {
            Detail::None => "ESBYT_DETAIL_NONE",
            Detail::TlsUnknownIssuer => "ESBYT_DETAIL_TLS_UNKNOWN_ISSUER",
            Detail::TlsNameMismatch => "ESBYT_DETAIL_TLS_NAME_MISMATCH",
            Detail::TlsCertificateExpired => "ESBYT_DETAIL_TLS_CERTIFICATE_EXPIRED",
            Detail::TlsCertificateNotYetValid => "ESBYT_DETAIL_TLS_CERTIFICATE_NOT_YET_VALID",
            Detail::TlsClientCertificateRejected => "ESBYT_DETAIL_TLS_CLIENT_CERTIFICATE_REJECTED",
            Detail::TlsNoCommonProtocol => "ESBYT_DETAIL_TLS_NO_COMMON_PROTOCOL",
            Detail::TlsPinMismatch => "ESBYT_DETAIL_TLS_PIN_MISMATCH",
            Detail::TlsNotTls => "ESBYT_DETAIL_TLS_NOT_TLS",
            Detail::TlsOther => "ESBYT_DETAIL_TLS_OTHER",
        }
    }
}

/// A failed call: its status, a message for people, and the details the
/// server or the HTTP layer supplied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    status: Status,
    message: String,
    server_code: Option<i64>,
    http_status: Option<u16>,
    cause: Option<Status>,
    detail: Detail,
    attempt_id: Option<String>,
}

impl Error {
    /// Creates an error of the given class with a message.
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
            server_code: None,
            http_status: None,
            cause: None,
            detail: Detail::None,
            attempt_id: None,
        }
    }

    pub(crate) fn with_attempt_id(mut self, attempt_id: Option<String>) -> Error {
        self.attempt_id = attempt_id;
        self
    }

    /// Returns the spend journal's id of the failed write-off attempt, when a
    /// journal is configured and the attempt was recorded.
    pub fn attempt_id(&self) -> Option<&str> {
        self.attempt_id.as_deref()
    }

    pub(crate) fn with_detail(mut self, detail: Detail) -> Error {
        self.detail = detail;
        self
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(Status::InvalidArgument, message)
    }

    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::new(Status::Config, message)
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Error {
        Error::new(Status::Protocol, message)
    }

    /// Creates the error for a non-zero `result` with the server's message unchanged.
    pub(crate) fn server(code: i64, message: String) -> Error {
        Error {
            server_code: Some(code),
            ..Error::new(Status::Server, message)
        }
    }

    pub(crate) fn with_http_status(mut self, http_status: u16) -> Error {
        self.http_status = Some(http_status);
        self
    }

    /// Turns a failure after a write-off request may have reached the server
    /// into `OutcomeUnknown`, keeping the original class as the cause.
    pub(crate) fn into_outcome_unknown(self) -> Error {
        let message = format!(
            "the write-off may or may not have been executed, reconcile before trying again: {}",
            self.message
        );
        Error {
            status: Status::OutcomeUnknown,
            message,
            cause: Some(self.status),
            ..self
        }
    }

    /// Returns the failure class.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Returns the message: for server errors the server's own text, unchanged.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Returns the server's non-zero `result` code, for `Status::Server`.
    pub fn server_code(&self) -> Option<i64> {
        self.server_code
    }

    /// Returns the HTTP status of the response, when a response arrived.
    pub fn http_status(&self) -> Option<u16> {
        self.http_status
    }

    /// Returns the finer cause, such as the kind of a TLS failure.
    pub fn detail(&self) -> Detail {
        self.detail
    }

    /// Returns the class of the underlying failure for `Status::OutcomeUnknown`,
    /// for example `Status::Timeout` when the deadline passed after sending.
    pub fn cause(&self) -> Option<Status> {
        self.cause
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.server_code {
            Some(code) => write!(
                f,
                "{} (server result {}): {}",
                self.status, code, self.message
            ),
            None => write!(f, "{}: {}", self.status, self.message),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_fixed() {
        let codes: Vec<i32> = Status::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, (0..=10).collect::<Vec<i32>>());
        assert_eq!(Status::OutcomeUnknown.code(), 9);
    }

    #[test]
    fn status_from_code_roundtrip() {
        for status in Status::ALL {
            assert_eq!(Status::from_code(status.code()), Some(status));
        }
        assert_eq!(Status::from_code(11), None);
        assert_eq!(Status::from_code(-1), None);
    }

    #[test]
    fn outcome_unknown_keeps_cause_and_details() {
        let error = Error::protocol("truncated")
            .with_http_status(200)
            .into_outcome_unknown();
        assert_eq!(error.status(), Status::OutcomeUnknown);
        assert_eq!(error.cause(), Some(Status::Protocol));
        assert_eq!(error.http_status(), Some(200));
        assert!(
            error.message().ends_with(": truncated"),
            "{}",
            error.message()
        );
    }
}
