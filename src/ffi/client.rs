//! Clients and the two operations: balance check and write-off.

use std::ffi::c_char;
use std::sync::LazyLock;

use super::config::{CONFIGS, esbyt_config, free_handle, invalid_handle};
use super::error::esbyt_error;
use super::handles::Registry;
use super::panic::{guard, guard_value};
use super::results::{esbyt_balance, esbyt_pending_spend, esbyt_write_off};
use super::strings::read_str;
use crate::client::Client;
use crate::error::{Error, Status};

/// Maximum length in bytes of a participant id as passed in, surrounding
/// whitespace included.
const MAX_BONUS_ID_BYTES: usize = 256;

/// Maximum length in bytes of a reconciliation note.
const MAX_NOTE_BYTES: usize = 4096;

static CLIENTS: LazyLock<Registry<Client>> = LazyLock::new(Registry::new);

/// A client of the bonus server, opaque to the caller. Safe to share between
/// threads: create one per server and use it from every thread.
///
/// A handle is an opaque value that the library looks up and never
/// dereferences. Freed handles are never reissued, so passing one after
/// `esbyt_client_free` returns `ESBYT_INVALID_ARGUMENT`.
#[allow(non_camel_case_types)]
pub struct esbyt_client {
    _private: u8,
}

/// Creates a client from a configuration.
///
/// The URL, the proxy setting and the CA file are checked here, so a bad
/// configuration fails now rather than on the first call. Nothing is sent.
/// On success `*client_out` receives a client that the caller owns and frees
/// with `esbyt_client_free`; on failure it receives NULL. The configuration
/// is copied and may be freed afterwards.
///
/// Returns `ESBYT_OK`, `ESBYT_INVALID_ARGUMENT` (NULL `client_out`, NULL or
/// freed `config`) or `ESBYT_CONFIG` (missing or unusable URL, plain HTTP
/// without `allow_http`, unreadable or unusable CA file, client certificate,
/// key or PKCS#12 file, wrong password, key that does not match the
/// certificate, bad proxy); the message names the file and the reason.
/// `error` may be NULL.
/// Thread-safe.
///
/// # Safety
/// `client_out` is NULL or points to a writable pointer; `error` is NULL or
/// points to a writable `esbyt_error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn esbyt_client_new(
    config: *const esbyt_config,
    client_out: *mut *mut esbyt_client,
    error: *mut esbyt_error,
) -> i32 {
    guard(error, Status::Internal, || {
        if client_out.is_null() {
            return Err(Error::invalid_argument("client_out is NULL"));
        }
        // SAFETY: checked for NULL; the caller guarantees it is writable.
        unsafe { client_out.write_unaligned(std::ptr::null_mut()) };

        let config = CONFIGS
            .get(config.cast())
            .ok_or_else(|| invalid_handle("config", "esbyt_config_new"))?;
        let config = config
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();

        let client = Client::new(config)?;
        let handle = CLIENTS.insert(client);
        // SAFETY: as above.
        unsafe { client_out.write_unaligned(handle.cast()) };
        Ok(())
    })
}

/// Frees a client and closes its kept-alive connections.
///
/// Returns `ESBYT_OK`, also for NULL, which is ignored, and
/// `ESBYT_INVALID_ARGUMENT` for a client that is already freed or was never
/// created. Calls still running on other threads finish normally; the client
/// must not be passed to any call after this one starts.
#[unsafe(no_mangle)]
pub extern "C" fn esbyt_client_free(client: *mut esbyt_client) -> i32 {
    guard_value(Status::Internal.code(), || {
        free_handle(&CLIENTS, client.cast())
    })
}

/// Checks the bonus balance of a participant (`command=check_bonus`).
///
/// `bonus_id` is the number on the card as NUL-terminated UTF-8 of at most
/// 256 bytes. Surrounding whitespace, such as the CR/LF a barcode scanner
/// appends, is trimmed, and the rest must be 1 to 13 digits. On success `*balance` contains the balance,
/// the account and the echoed id; on failure it is zeroed. The call blocks
/// for at most the configured `timeout_ms`. A kept-alive connection that
/// turns out dead is retried once on a new connection.
///
/// Returns `ESBYT_OK`, `ESBYT_INVALID_ARGUMENT` (NULL or freed `client`, NULL
/// `balance`, bad `bonus_id`; nothing sent), `ESBYT_CONNECTION`, `ESBYT_TLS`,
/// `ESBYT_TIMEOUT`, `ESBYT_HTTP`, `ESBYT_PROTOCOL`, `ESBYT_SERVER` (unknown
/// card and other refusals, with the server's code and message) or
/// `ESBYT_INTERNAL`. `error` may be NULL. Thread-safe: any number of threads
/// may call it on one client at once.
///
/// # Safety
/// `bonus_id` is NULL or NUL-terminated; `balance` is NULL or points to a
/// writable `esbyt_balance`; `error` is NULL or points to a writable `esbyt_error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn esbyt_check_bonus(
    client: *const esbyt_client,
    bonus_id: *const c_char,
    balance: *mut esbyt_balance,
    error: *mut esbyt_error,
) -> i32 {
    guard(error, Status::Internal, || {
        if balance.is_null() {
            return Err(Error::invalid_argument("balance is NULL"));
        }
        // SAFETY: checked for NULL; the caller guarantees it is writable.
        unsafe { balance.write_unaligned(esbyt_balance::zeroed()) };

        let client = CLIENTS
            .get(client.cast())
            .ok_or_else(|| invalid_handle("client", "esbyt_client_new"))?;
        // SAFETY: the caller guarantees the string is NULL or terminated.
        let bonus_id = unsafe { read_str(bonus_id, "bonus_id", MAX_BONUS_ID_BYTES) }?;

        let result = client.check_bonus(bonus_id)?;
        let record = esbyt_balance::from_balance(&result)?;
        // SAFETY: as above.
        unsafe { balance.write_unaligned(record) };
        Ok(())
    })
}

/// Writes `amount` bonuses off a participant's balance (`command=spend_bonus`)
/// with the `supplier` code of the configuration.
///
/// `bonus_id` is checked as for `esbyt_check_bonus`; `amount` must be 1 to
/// 2147483647. Every argument is checked before anything is sent. The request
/// is sent at most once, never retried, on a new connection. On success
/// `*write_off` holds the write-off number to print on the receipt. On
/// failure its `spend_id` is empty. With a `journal_file`, the attempt is
/// recorded and flushed before the request is sent, and `attempt_id` names
/// it on success and on failure; a journal that cannot be written fails the
/// call with `ESBYT_CONFIG` before anything is sent.
///
/// Returns one of:
/// - `ESBYT_OK`: written off.
/// - `ESBYT_INVALID_ARGUMENT`, or `ESBYT_CONFIG` when no supplier is
///   configured: nothing was sent.
/// - `ESBYT_CONNECTION`, `ESBYT_TLS` or `ESBYT_TIMEOUT`: the request was not
///   sent, or, for `ESBYT_TLS`, the server rejected the client certificate and
///   so never processed it. Nothing was written off.
/// - `ESBYT_SERVER`: the server refused; nothing was written off.
/// - `ESBYT_OUTCOME_UNKNOWN`: the request may have reached the server but no
///   valid response came back, after a timeout after sending, a closed
///   connection, an HTTP error or an unreadable response. Never resend
///   without reconciling: the write-off may have been executed.
///
/// `error` may be NULL. Thread-safe.
///
/// # Safety
/// As for `esbyt_check_bonus`, with `write_off` NULL or pointing to a
/// writable `esbyt_write_off`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn esbyt_spend_bonus(
    client: *const esbyt_client,
    bonus_id: *const c_char,
    amount: i64,
    write_off: *mut esbyt_write_off,
    error: *mut esbyt_error,
) -> i32 {
    guard(error, Status::OutcomeUnknown, || {
        if write_off.is_null() {
            return Err(Error::invalid_argument("write_off is NULL"));
        }
        // SAFETY: checked for NULL; the caller guarantees it is writable.
        unsafe { write_off.write_unaligned(esbyt_write_off::zeroed()) };

        let client = CLIENTS
            .get(client.cast())
            .ok_or_else(|| invalid_handle("client", "esbyt_client_new"))?;
        // SAFETY: the caller guarantees the string is NULL or terminated.
        let bonus_id = unsafe { read_str(bonus_id, "bonus_id", MAX_BONUS_ID_BYTES) }?;

        let result = client.spend_bonus(bonus_id, amount).inspect_err(|error| {
            let record = esbyt_write_off::with_attempt_id(error.attempt_id());
            // SAFETY: as above.
            unsafe { write_off.write_unaligned(record) };
        })?;
        // The write-off was executed; a number that cannot be delivered
        // leaves the caller without proof of it.
        let record =
            esbyt_write_off::from_write_off(&result).map_err(Error::into_outcome_unknown)?;
        // SAFETY: as above.
        unsafe { write_off.write_unaligned(record) };
        Ok(())
    })
}

/// Lists the write-off attempts of the spend journal that must be
/// reconciled: those without an outcome (the process stopped during the
/// call, for example in a crash or power loss) and those that ended in
/// `ESBYT_OUTCOME_UNKNOWN`, unless marked resolved. Oldest first.
///
/// Fills up to `capacity` records of `pending` and stores the number of
/// pending attempts in `*count`, which may exceed `capacity`: call again
/// with a larger array then. `pending` may be NULL when `capacity` is 0.
///
/// Returns `ESBYT_OK`, `ESBYT_INVALID_ARGUMENT` (NULL or freed `client`,
/// NULL `count`, NULL `pending` with a positive `capacity`, negative
/// `capacity`) or `ESBYT_CONFIG` (no `journal_file` set, or the journal
/// cannot be read). Thread-safe, also across processes sharing the journal.
///
/// # Safety
/// `pending` is NULL or points to `capacity` writable records; `count` is
/// NULL or writable; `error` is NULL or points to a writable `esbyt_error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn esbyt_journal_pending(
    client: *const esbyt_client,
    pending: *mut esbyt_pending_spend,
    capacity: i32,
    count: *mut i32,
    error: *mut esbyt_error,
) -> i32 {
    guard(error, Status::Internal, || {
        if count.is_null() {
            return Err(Error::invalid_argument("count is NULL"));
        }
        // SAFETY: checked for NULL; the caller guarantees it is writable.
        unsafe { count.write_unaligned(0) };
        let capacity = usize::try_from(capacity).map_err(|_| {
            Error::invalid_argument(format!(
                "capacity {capacity} is invalid: expected 0 or more"
            ))
        })?;
        if pending.is_null() && capacity > 0 {
            return Err(Error::invalid_argument(
                "pending is NULL but capacity is positive",
            ));
        }
        let client = CLIENTS
            .get(client.cast())
            .ok_or_else(|| invalid_handle("client", "esbyt_client_new"))?;

        let spends = client.pending_spends()?;
        for (index, spend) in spends.iter().take(capacity).enumerate() {
            let record = esbyt_pending_spend::from_pending(spend)?;
            // SAFETY: index < capacity, and the caller guarantees `capacity` records.
            unsafe { pending.add(index).write_unaligned(record) };
        }
        let total = i32::try_from(spends.len()).unwrap_or(i32::MAX);
        // SAFETY: as above.
        unsafe { count.write_unaligned(total) };
        Ok(())
    })
}

/// Marks a journal attempt resolved after the host reconciled it, so
/// `esbyt_journal_pending` no longer lists it. `note` (may be NULL) is
/// stored with it, for example "balance checked: written off".
///
/// Returns `ESBYT_OK`, also when the attempt was already resolved;
/// `ESBYT_INVALID_ARGUMENT` (NULL or freed `client`, NULL or unknown
/// `attempt_id`) or `ESBYT_CONFIG` (no `journal_file`, or it cannot be
/// written). Thread-safe.
///
/// # Safety
/// `attempt_id` and `note` are NULL or NUL-terminated; `error` is NULL or
/// points to a writable `esbyt_error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn esbyt_journal_resolve(
    client: *const esbyt_client,
    attempt_id: *const c_char,
    note: *const c_char,
    error: *mut esbyt_error,
) -> i32 {
    guard(error, Status::Internal, || {
        let client = CLIENTS
            .get(client.cast())
            .ok_or_else(|| invalid_handle("client", "esbyt_client_new"))?;
        // SAFETY: the caller guarantees the strings are NULL or terminated.
        let attempt_id = unsafe { read_str(attempt_id, "attempt_id", MAX_BONUS_ID_BYTES) }?;
        let note = if note.is_null() {
            ""
        } else {
            // SAFETY: as above.
            unsafe { read_str(note, "note", MAX_NOTE_BYTES) }?
        };
        client.resolve_spend(attempt_id, note)
    })
}
