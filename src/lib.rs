//! Client of the bonus programme of AO "Chitaenergosbyt": balance checks and
//! write-offs over the partner protocol, for cash-register software.
//!
//! Layers, each using only the ones listed before it: [`protocol`] (query
//! strings and response parsing, no I/O), `transport` (one HTTP GET over ureq
//! and rustls), [`Client`] (validation, retry policy, logging), and `ffi`
//! (the C ABI exported by the shared library).

pub mod config;
pub mod config_file;
pub mod diagnostics;
pub mod error;
pub mod ffi;
pub mod journal;
pub mod logging;
pub mod protocol;

mod addin;
mod base_url;
mod client;
mod files;
mod transport;

pub use client::{Client, mask_bonus_id};
pub use config::Config;
pub use error::{Detail, Error, Status};
pub use journal::{PendingSpend, PendingState};
pub use protocol::{Balance, WriteOff};
