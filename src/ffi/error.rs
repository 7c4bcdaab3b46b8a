//! Statuses and the error record of the C ABI.

use std::ffi::c_char;

use super::panic::guard_value;
use super::strings::copy_message;
use crate::error::{Error, Status};

/// Success.
pub const ESBYT_OK: i32 = 0;
/// The caller passed an unusable value: NULL, a bad participant id, an amount
/// out of range, an unknown setting. Nothing was sent.
pub const ESBYT_INVALID_ARGUMENT: i32 = 1;
/// The configuration is unusable: URL, CA file, proxy or a missing supplier
/// code. Nothing was sent.
pub const ESBYT_CONFIG: i32 = 2;
/// DNS resolution, the TCP connection or the proxy failed. Nothing was sent
/// for a write-off; safe to try again.
pub const ESBYT_CONNECTION: i32 = 3;
/// The TLS handshake failed. Nothing was sent; the message names the cause and the fix.
pub const ESBYT_TLS: i32 = 4;
/// The deadline passed. From `esbyt_spend_bonus` this status means the
/// deadline passed before the request was sent.
pub const ESBYT_TIMEOUT: i32 = 5;
/// The server responded with a non-2xx HTTP status and no protocol error
/// document; `http_status` contains the status. Only balance checks return it.
pub const ESBYT_HTTP: i32 = 6;
/// The response is not a valid protocol document. Only balance checks return it.
pub const ESBYT_PROTOCOL: i32 = 7;
/// The server refused the operation: `server_code` contains its non-zero
/// `result` and the message is the server's own text. Nothing was written off.
pub const ESBYT_SERVER: i32 = 8;
/// The write-off may or may not have been executed: the request may have
/// reached the server but no valid response came back. `cause` holds the status
/// of the underlying failure. Reconcile (for example check the balance or ask
/// the programme's support) before trying again: a resent write-off can spend
/// the bonuses twice.
pub const ESBYT_OUTCOME_UNKNOWN: i32 = 9;
/// A bug inside the library, such as a caught panic.
pub const ESBYT_INTERNAL: i32 = 10;

/// Size of `esbyt_error.message` in bytes, terminating NUL included.
pub const ESBYT_MESSAGE_SIZE: usize = 1024;

/// `esbyt_error.detail`: no finer cause.
pub const ESBYT_DETAIL_NONE: i32 = 0;
/// `esbyt_error.detail` for `ESBYT_TLS`: the server certificate was issued by
/// an untrusted CA. Fix: add that CA with the `extra_ca_file` setting, or pin
/// the certificate with `server_cert_sha256`.
pub const ESBYT_DETAIL_TLS_UNKNOWN_ISSUER: i32 = 1;
/// `esbyt_error.detail` for `ESBYT_TLS`: the server certificate is not valid
/// for the host of the URL. Fix: use a host name the certificate names.
pub const ESBYT_DETAIL_TLS_NAME_MISMATCH: i32 = 2;
/// `esbyt_error.detail` for `ESBYT_TLS`: the server certificate has expired.
/// Fix: check this computer's clock, then tell the server operator.
pub const ESBYT_DETAIL_TLS_CERTIFICATE_EXPIRED: i32 = 3;
/// `esbyt_error.detail` for `ESBYT_TLS`: the server certificate is not valid
/// yet. Fix: check this computer's clock.
pub const ESBYT_DETAIL_TLS_CERTIFICATE_NOT_YET_VALID: i32 = 4;
/// `esbyt_error.detail` for `ESBYT_TLS`: the server rejected the client
/// certificate or required one and got none. Fix: configure the partner's
/// client certificate (`pkcs12_file`, or `client_cert_file` and `client_key_file`).
pub const ESBYT_DETAIL_TLS_CLIENT_CERTIFICATE_REJECTED: i32 = 5;
/// `esbyt_error.detail` for `ESBYT_TLS`: no common TLS version or cipher
/// suite; the library speaks TLS 1.2 and 1.3.
pub const ESBYT_DETAIL_TLS_NO_COMMON_PROTOCOL: i32 = 6;
/// `esbyt_error.detail` for `ESBYT_TLS`: the server certificate matches none
/// of the `server_cert_sha256` fingerprints; the message shows the actual one.
pub const ESBYT_DETAIL_TLS_PIN_MISMATCH: i32 = 7;
/// `esbyt_error.detail` for `ESBYT_TLS`: the server does not speak TLS on this port.
pub const ESBYT_DETAIL_TLS_NOT_TLS: i32 = 8;
/// `esbyt_error.detail` for `ESBYT_TLS`: another TLS failure, named in the message.
pub const ESBYT_DETAIL_TLS_OTHER: i32 = 9;

/// The error record a call fills when the caller passes one.
///
/// The caller owns it, typically on the stack. Every call that takes one
/// overwrites all of it: on success `status` is `ESBYT_OK` and `message` is
/// empty. Fields are fixed-width integers and a NUL-terminated UTF-8 array,
/// with the 8-byte field first so every compiler and P/Invoke lays it out alike.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct esbyt_error {
    /// The server's non-zero `result` code for `ESBYT_SERVER`, otherwise 0.
    pub server_code: i64,
    /// The status the call returned.
    pub status: i32,
    /// The HTTP status of the response when one arrived, otherwise 0.
    pub http_status: i32,
    /// For `ESBYT_OUTCOME_UNKNOWN`, the status of the underlying failure
    /// (`ESBYT_TIMEOUT`, `ESBYT_CONNECTION`, `ESBYT_HTTP`, `ESBYT_PROTOCOL`
    /// or `ESBYT_INTERNAL`); otherwise 0.
    pub cause: i32,
    /// A finer cause within the status: one of the `ESBYT_DETAIL_*` values,
    /// `ESBYT_DETAIL_NONE` when there is none.
    pub detail: i32,
    /// Length in bytes of the complete message, without the NUL. When it is
    /// `ESBYT_MESSAGE_SIZE` or more, `message` holds a truncated copy.
    pub message_length: i32,
    /// Always 0.
    pub reserved: i32,
    /// Description of the failure, the value and the fix; for `ESBYT_SERVER` the
    /// server's message verbatim. NUL-terminated UTF-8, truncated on a
    /// character boundary when longer than the array.
    pub message: [c_char; ESBYT_MESSAGE_SIZE],
}

impl esbyt_error {
    fn empty() -> esbyt_error {
        esbyt_error {
            server_code: 0,
            status: ESBYT_OK,
            http_status: 0,
            cause: 0,
            detail: ESBYT_DETAIL_NONE,
            message_length: 0,
            reserved: 0,
            message: [0; ESBYT_MESSAGE_SIZE],
        }
    }
}

/// Writes a success record when `target` is not NULL.
pub(crate) fn write_success(target: *mut esbyt_error) {
    if !target.is_null() {
        // SAFETY: the caller passed a pointer to writable memory the size of
        // `esbyt_error`; write_unaligned tolerates any alignment.
        unsafe { target.write_unaligned(esbyt_error::empty()) };
    }
}

/// Writes the record of a failure when `target` is not NULL.
pub(crate) fn write_error(target: *mut esbyt_error, error: &Error) {
    if target.is_null() {
        return;
    }
    let mut record = esbyt_error::empty();
    record.status = error.status().code();
    record.server_code = error.server_code().unwrap_or(0);
    record.http_status = error.http_status().map_or(0, i32::from);
    record.cause = error.cause().map_or(0, Status::code);
    record.detail = error.detail().code();
    let length = copy_message(&mut record.message, error.message());
    record.message_length = i32::try_from(length).unwrap_or(i32::MAX);
    // SAFETY: as in `write_success`.
    unsafe { target.write_unaligned(record) };
}

/// Returns the C name of a status, such as `"ESBYT_OUTCOME_UNKNOWN"`.
///
/// The string is static: never free it. An unknown number gives
/// `"ESBYT_UNKNOWN_STATUS"`. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn esbyt_status_name(status: i32) -> *const c_char {
    guard_value(c"ESBYT_INTERNAL".as_ptr(), || {
        match Status::from_code(status) {
            Some(status) => status.c_name().as_ptr(),
            None => c"ESBYT_UNKNOWN_STATUS".as_ptr(),
        }
    })
}

/// Returns an English one-sentence description of a status, such as
/// `"the bonus server refused the operation"`.
///
/// The string is static: never free it. An unknown number gives
/// `"unknown status"`. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn esbyt_status_description(status: i32) -> *const c_char {
    guard_value(c"internal error".as_ptr(), || {
        match Status::from_code(status) {
            Some(status) => status.c_description().as_ptr(),
            None => c"unknown status".as_ptr(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn constants_match_statuses() {
        let constants = [
            ESBYT_OK,
            ESBYT_INVALID_ARGUMENT,
            ESBYT_CONFIG,
            ESBYT_CONNECTION,
            ESBYT_TLS,
            ESBYT_TIMEOUT,
            ESBYT_HTTP,
            ESBYT_PROTOCOL,
            ESBYT_SERVER,
            ESBYT_OUTCOME_UNKNOWN,
            ESBYT_INTERNAL,
        ];
        for (constant, status) in constants.iter().zip(Status::ALL) {
            assert_eq!(*constant, status.code());
        }
    }

    #[test]
    fn detail_constants_match_rust_side() {
        use crate::error::Detail;
        let pairs = [
            (ESBYT_DETAIL_NONE, Detail::None),
            (ESBYT_DETAIL_TLS_UNKNOWN_ISSUER, Detail::TlsUnknownIssuer),
            (ESBYT_DETAIL_TLS_NAME_MISMATCH, Detail::TlsNameMismatch),
            (
                ESBYT_DETAIL_TLS_CERTIFICATE_EXPIRED,
                Detail::TlsCertificateExpired,
            ),
            (
                ESBYT_DETAIL_TLS_CERTIFICATE_NOT_YET_VALID,
                Detail::TlsCertificateNotYetValid,
            ),
            (
                ESBYT_DETAIL_TLS_CLIENT_CERTIFICATE_REJECTED,
                Detail::TlsClientCertificateRejected,
            ),
            (
                ESBYT_DETAIL_TLS_NO_COMMON_PROTOCOL,
                Detail::TlsNoCommonProtocol,
            ),
            (ESBYT_DETAIL_TLS_PIN_MISMATCH, Detail::TlsPinMismatch),
            (ESBYT_DETAIL_TLS_NOT_TLS, Detail::TlsNotTls),
            (ESBYT_DETAIL_TLS_OTHER, Detail::TlsOther),
        ];
        for (constant, detail) in pairs {
            assert_eq!(constant, detail.code(), "{detail:?}");
        }
    }

    #[test]
    fn names_and_descriptions_match_rust_side() {
        for status in Status::ALL {
            let name = unsafe { CStr::from_ptr(esbyt_status_name(status.code())) };
            assert_eq!(name.to_str().unwrap(), status.name());
            let description = unsafe { CStr::from_ptr(esbyt_status_description(status.code())) };
            assert_eq!(description.to_str().unwrap(), status.description());
        }
        let unknown = unsafe { CStr::from_ptr(esbyt_status_name(99)) };
        assert_eq!(unknown.to_str().unwrap(), "ESBYT_UNKNOWN_STATUS");
    }

    #[test]
    fn error_record_layout() {
        assert_eq!(std::mem::size_of::<esbyt_error>(), 32 + ESBYT_MESSAGE_SIZE);
        assert_eq!(std::mem::offset_of!(esbyt_error, status), 8);
        assert_eq!(std::mem::offset_of!(esbyt_error, message), 32);
    }
}
