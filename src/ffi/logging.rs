//! Log sinks chosen by the host.

use std::ffi::c_void;

use super::error::esbyt_error;
use super::panic::guard;
use crate::error::Status;
use crate::logging::{LogCallback, level_from_number, set_callback};

/// `level` of a log record: an error the library handled, such as a failed call.
pub const ESBYT_LOG_ERROR: i32 = 1;
/// `level` of a log record: something unusual, such as an unreadable system CA store.
pub const ESBYT_LOG_WARN: i32 = 2;
/// `level` of a log record: one line per balance check and write-off.
pub const ESBYT_LOG_INFO: i32 = 3;
/// `level` of a log record: connection reuse, retries, TLS details.
pub const ESBYT_LOG_DEBUG: i32 = 4;
/// `level` of a log record: everything, including the HTTP and TLS libraries.
pub const ESBYT_LOG_TRACE: i32 = 5;

/// Type of the host's log function: its `user_data`, the level (1 error to
/// 5 trace) and the message as NUL-terminated UTF-8, valid only during the
/// call. The library may call it from any thread, also from several at
/// once. Card numbers in messages are masked; passwords never appear.
#[allow(non_camel_case_types)]
pub type esbyt_log_callback =
    Option<extern "C" fn(user_data: *mut c_void, level: i32, message: *const std::ffi::c_char)>;

/// Sends the library's log records with a level up to `max_level`
/// (`ESBYT_LOG_ERROR` 1 to `ESBYT_LOG_TRACE` 5; 0 or less sends none) to
/// `callback`, with `user_data` passed back unchanged. A NULL `callback`
/// removes the previous one. Process-wide: the last call wins.
///
/// The library never takes over a logger that the host or another library
/// installed. The callback may call esbyt functions. A `log_file` setting
/// writes records to a file in addition.
///
/// Returns `ESBYT_OK`. `error` may be NULL. Thread-safe.
///
/// A record being delivered on another thread may still reach the previous
/// callback for a moment after this call returns, so keep every callback
/// and its `user_data` valid until the process ends or the library is
/// unloaded.
///
/// # Safety
/// `callback` is NULL or a function that stays valid as described above;
/// `error` is NULL or points to a writable `esbyt_error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn esbyt_set_log_callback(
    callback: esbyt_log_callback,
    user_data: *mut c_void,
    max_level: i32,
    error: *mut esbyt_error,
) -> i32 {
    guard(error, Status::Internal, || {
        let callback: Option<LogCallback> = callback;
        set_callback(callback, user_data as usize, level_from_number(max_level));
        Ok(())
    })
}
