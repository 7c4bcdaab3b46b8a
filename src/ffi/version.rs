//! Versions of the library and of its ABI.

use std::ffi::c_char;

use super::panic::guard_value;

/// Version of the C ABI: layouts of the records, meaning of statuses and
/// signatures of the exports. It grows only by one for an incompatible change;
/// new exports and new settings leave it unchanged.
pub const ESBYT_ABI_VERSION: i32 = 1;

/// Returns `ESBYT_ABI_VERSION` as compiled into the loaded library.
///
/// A host compares it with the `ESBYT_ABI_VERSION` of the header it was built
/// against and refuses to run on a mismatch. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn esbyt_abi_version() -> i32 {
    ESBYT_ABI_VERSION
}

/// Returns the version of the library, such as `"0.1.0"`, the same as the
/// `ESBYT_VERSION` macro of the header it was built with.
///
/// The string is static: never free it. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn esbyt_version() -> *const c_char {
    guard_value(std::ptr::null(), || {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}
