//! The panic boundary: no panic unwinds into the host.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::error::{esbyt_error, write_error, write_success};
use crate::error::{Error, Status};

/// Runs the body of an export, writes the error record and returns the status.
///
/// A panic becomes `status_on_panic`: `ESBYT_INTERNAL` for most calls, and
/// `ESBYT_OUTCOME_UNKNOWN` for a write-off, whose request may have gone out
/// before the panic.
pub(crate) fn guard(
    error: *mut esbyt_error,
    status_on_panic: Status,
    body: impl FnOnce() -> Result<(), Error>,
) -> i32 {
    let result = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => Err(panic_error(status_on_panic, payload.as_ref())),
    };

    // Writing the record cannot panic in practice; the second boundary keeps
    // even that from unwinding into the host.
    let written = catch_unwind(AssertUnwindSafe(|| match &result {
        Ok(()) => write_success(error),
        Err(failure) => write_error(error, failure),
    }));
    match (result, written) {
        (Ok(()), Ok(())) => Status::Ok.code(),
        (Err(failure), Ok(())) => failure.status().code(),
        (_, Err(_)) => Status::Internal.code(),
    }
}

/// Runs an export that has no error record, returning `fallback` on a panic.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

fn panic_error(status: Status, payload: &(dyn Any + Send)) -> Error {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    let message = format!("internal error in the esbyt library (please report it): {detail}");
    let error = Error::new(Status::Internal, message);
    if status == Status::OutcomeUnknown {
        error.into_outcome_unknown()
    } else {
        error
    }
}
