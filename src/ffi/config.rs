//! Configuration objects: created empty, filled one setting at a time by
//! name, then passed to `esbyt_client_new`. Settings set by name let the
//! configuration grow without changing any record the caller allocates.

use std::ffi::c_char;
use std::sync::{LazyLock, Mutex};

use super::error::esbyt_error;
use super::handles::Registry;
use super::panic::{guard, guard_value};
use super::strings::read_str;
use crate::config::Config;
use crate::error::{Error, Status};

/// Maximum length in bytes of a setting name.
const MAX_NAME_BYTES: usize = 64;
/// Maximum length in bytes of a setting value, enough for long Windows paths.
const MAX_VALUE_BYTES: usize = 32 * 1024;

pub(crate) static CONFIGS: LazyLock<Registry<Mutex<Config>>> = LazyLock::new(Registry::new);

/// Settings for a client, opaque to the caller.
///
/// A handle is an opaque value that the library looks up and never
/// dereferences. Freed handles are never reissued, so passing one after
/// `esbyt_config_free` returns `ESBYT_INVALID_ARGUMENT`.
#[allow(non_camel_case_types)]
pub struct esbyt_config {
    _private: u8,
}

/// Creates a configuration with every setting at its default and no URL.
///
/// The caller owns the result and frees it with `esbyt_config_free`; a client
/// created from it does not need it afterwards. Returns NULL only if the
/// library failed internally. One configuration may be used by several
/// threads, but setting values from two threads at once leaves the order of
/// the changes unspecified.
#[unsafe(no_mangle)]
pub extern "C" fn esbyt_config_new() -> *mut esbyt_config {
    guard_value(std::ptr::null_mut(), || {
        CONFIGS.insert(Mutex::new(Config::default())).cast()
    })
}

/// Sets one setting by name from its text form.
///
/// Names and values (an empty value restores the default of an optional setting):
/// - `url`: base URL of the bonus server, such as `https://bonus.e-sbyt.ru:888/`
///   or `http://127.0.0.1:8808/bonus/`; the query string is appended to it as is.
/// - `supplier`: partner code issued with the contract, 1 to 2147483647
///   (1111 on the test server); required by `esbyt_spend_bonus`.
/// - `connect_timeout_ms`: time for DNS, TCP and TLS, 1 to 600000 (default 5000).
/// - `timeout_ms`: deadline of a whole call, 1 to 600000 (default 15000).
/// - `idle_timeout_ms`: how long an idle kept-alive connection may be reused,
///   0 to 600000 (default 4000; 0 disables reuse).
/// - `max_body_bytes`: largest response accepted, 1024 to 16777216 (default 65536).
/// - `extra_ca_file`: PEM file of CA certificates trusted besides Mozilla's
///   roots and the system's, such as the Russian Trusted Root CA.
/// - `system_roots`: `0` stops trusting the operating system's CA store;
///   default `1`.
/// - `server_cert_sha256`: SHA-256 fingerprints of the accepted server
///   certificates, 64 hex digits each (colons allowed), separated by commas.
///   When set, only these certificates are accepted, whatever CA issued them.
/// - `pkcs12_file`, `pkcs12_password`: the partner's client certificate and
///   key as a PKCS#12 file (`.pfx`, `.p12`) and its password.
/// - `client_cert_file`: the client certificate as PEM, leaf first, then its
///   intermediates; the private key may be in the same file.
/// - `client_key_file`: the client key as PEM (PKCS#8, PKCS#1 or SEC1), when
///   it is not in `client_cert_file`.
/// - `client_key_password`: password of an encrypted PKCS#8 client key.
/// - `allow_http`: `1` allows a plain `http://` URL (test server, emulator); default `0`.
/// - `journal_file`: the spend journal; see `esbyt_journal_pending`.
/// - `log_file`: log file of the process, rotated by size; the last client
///   created with it decides. `log_level` (off, error, warn, info, debug,
///   trace, or 0 to 5 in that order; default info; the environment variable
///   `ESBYT_LOG_LEVEL` overrides it), `log_max_bytes` (rotation size, default 10485760) and
///   `log_max_files` (rotated files kept, default 5).
/// - `proxy`: HTTP proxy URL such as `http://proxy:3128`; proxy environment
///   variables are never read.
///
/// `name` (at most 64 bytes) and `value` (at most 32768 bytes) are
/// NUL-terminated UTF-8, borrowed for the call only.
/// Files are read and the URL is checked by `esbyt_client_new`, not here.
/// Passwords are taken verbatim; other values are trimmed of surrounding
/// whitespace. The library never logs or returns a password.
///
/// Returns `ESBYT_OK`, or `ESBYT_INVALID_ARGUMENT` for a NULL, freed or
/// unknown `config`, a NULL or non-UTF-8 `name` or `value`, an unknown name
/// or a value outside its range; the setting is then unchanged. `error` may
/// be NULL.
///
/// # Safety
/// `name` and `value` are NULL or NUL-terminated strings; `error` is NULL or
/// points to a writable `esbyt_error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn esbyt_config_set(
    config: *mut esbyt_config,
    name: *const c_char,
    value: *const c_char,
    error: *mut esbyt_error,
) -> i32 {
    guard(error, Status::Internal, || {
        let config = CONFIGS
            .get(config.cast())
            .ok_or_else(|| invalid_handle("config", "esbyt_config_new"))?;
        // SAFETY: the caller guarantees the strings are NULL or terminated.
        let name = unsafe { read_str(name, "name", MAX_NAME_BYTES) }?;
        // SAFETY: as above.
        let value = unsafe { read_str(value, "value", MAX_VALUE_BYTES) }?;

        let mut config = config
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        config.set(name, value)
    })
}

/// Frees a configuration. Clients created from it are not affected.
///
/// Returns `ESBYT_OK`, also for NULL, which is ignored, and
/// `ESBYT_INVALID_ARGUMENT` for a handle that is already freed or was never
/// created. Thread-safe, but the configuration must not be used afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn esbyt_config_free(config: *mut esbyt_config) -> i32 {
    guard_value(Status::Internal.code(), || {
        free_handle(&CONFIGS, config.cast())
    })
}

pub(crate) fn free_handle<T>(registry: &Registry<T>, handle: *mut u8) -> i32 {
    if handle.is_null() || registry.remove(handle) {
        Status::Ok.code()
    } else {
        Status::InvalidArgument.code()
    }
}

pub(crate) fn invalid_handle(name: &str, constructor: &str) -> Error {
    Error::invalid_argument(format!(
        "{name} is NULL, already freed or was not created by {constructor}"
    ))
}

/// Reads every setting from a TOML configuration file into `config`, then
/// applies the `ESBYT_<SETTING>` environment variables (for example
/// `ESBYT_URL`), which override single settings; passwords are not read from
/// the environment.
///
/// Keys are the setting names of `esbyt_config_set`; values are strings,
/// integers or `true`/`false`. Relative paths of `*_file` settings resolve
/// against the file's folder. `path` is NUL-terminated UTF-8.
///
/// Returns `ESBYT_OK`, `ESBYT_INVALID_ARGUMENT` (NULL or freed `config`,
/// NULL or non-UTF-8 `path`) or `ESBYT_CONFIG` (unreadable file, syntax
/// error, unknown key or bad value; the message names the file, the line and
/// the key). On failure the settings read before the bad line stay applied.
/// `error` may be NULL.
///
/// # Safety
/// `path` is NULL or NUL-terminated; `error` is NULL or points to a writable
/// `esbyt_error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn esbyt_config_load_file(
    config: *mut esbyt_config,
    path: *const c_char,
    error: *mut esbyt_error,
) -> i32 {
    guard(error, Status::Internal, || {
        let config = CONFIGS
            .get(config.cast())
            .ok_or_else(|| invalid_handle("config", "esbyt_config_new"))?;
        // SAFETY: the caller guarantees the string is NULL or terminated.
        let path = unsafe { read_str(path, "path", MAX_VALUE_BYTES) }?;

        let mut config = config
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        crate::config_file::apply_file(&mut config, std::path::Path::new(path))?;
        crate::config_file::apply_environment(&mut config, |name| std::env::var(name).ok())
    })
}
