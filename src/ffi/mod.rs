//! The C ABI: a thin skin over [`crate::Client`] with pointer and string
//! checks, `repr(C)` results, integer statuses and a panic boundary in every
//! export. No protocol logic lives here.
//!
//! Every exported function is written out literally (no macros) so cbindgen
//! sees it and documents it in `include/esbyt.h`.

mod client;
mod config;
mod error;
mod handles;
mod logging;
mod panic;
mod results;
mod strings;
mod version;

pub use client::*;
pub use config::*;
pub use error::*;
pub use logging::*;
pub use results::*;
pub use version::*;
