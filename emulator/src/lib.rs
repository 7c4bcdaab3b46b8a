//! Emulator of the AO "Chitaenergosbyt" bonus server, for development and tests.
//!
//! The partner test server only accepts client IP addresses registered in advance, so
//! this crate serves the same protocol on a local port. It is a plain HTTP/1.1 server on
//! `std::net` with one thread per connection and keep-alive, and speaks HTTPS, with
//! client certificates if wanted, when [`EmulatorConfig::tls`] is set.
//!
//! ```no_run
//! use esbyt_emulator::{Emulator, EmulatorConfig};
//!
//! let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards())?;
//! let base_url = emulator.base_url(); // "http://127.0.0.1:PORT/"
//! // ... send `{base_url}?command=check_bonus&bonus_id=2700009601205` ...
//! assert_eq!(emulator.balance("2700009601205"), Some(500));
//! emulator.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Protocol
//!
//! Each operation is one `GET` on `/` (the production base path) or `/bonus/` (the test
//! server's base path), with parameters in the query string:
//!
//! - `?command=check_bonus&bonus_id=ID` returns `<account>`, `<bonus_id>`, `<amount>` (the
//!   balance) and `<result>0</result>`.
//! - `?command=spend_bonus&bonus_id=ID&supplier=CODE&amount=N` lowers the balance by `N`
//!   and returns `<spend_id>` and `<result>0</result>`. Spend ids count up from
//!   `000000001`, zero-padded to 9 digits, across all cards.
//!
//! Success documents use 4-space indentation. Error documents use the partner document's
//! own shape, tabs and the space in `</message >` included, with HTTP status 200:
//!
//! ```text
//! <?xml version="1.0" encoding="utf-8"?>
//! <response>
//! 	<result>CODE</result>
//! 	<message>TEXT</message >
//! </response>
//! ```
//!
//! | code | constant in [`result_code`] | cause |
//! |---|---|---|
//! | 1 | `UNKNOWN_COMMAND` | `command` missing, empty or unknown |
//! | 2 | `MISSING_PARAMETER` | a required parameter missing or empty (the message names it) |
//! | 3 | `INVALID_PARAMETER` | `bonus_id` not 1 to 13 digits, or `supplier` / `amount` not a positive integer up to `i32::MAX` |
//! | 4 | `UNKNOWN_CARD` | no card with this `bonus_id` |
//! | 5 | `UNKNOWN_SUPPLIER` | partner code not accepted |
//! | 6 | `INSUFFICIENT_BALANCE` | `amount` larger than the balance |
//!
//! The real server's codes and messages are undocumented, so these are the emulator's
//! own. The messages are Russian, see [`BonusError::message`]. Checks run in this order:
//! command, `bonus_id`, `supplier`, `amount` (each for presence, then value), partner
//! code, card, balance. `check_bonus` ignores `supplier` and `amount`.
//!
//! Parameter values are percent-decoded, `+` decodes to a space, and a value is not
//! trimmed, so `bonus_id=%20123` is invalid. When a parameter repeats, the first value
//! counts. Unknown parameters are ignored.
//!
//! Other paths get 404 and other methods 405, with a short plain-text body.
//!
//! # HTTPS and mutual TLS
//!
//! Production serves HTTPS and requires each partner's client certificate. To do the same,
//! set [`EmulatorConfig::tls`] to a [`TlsConfig`] with the server certificate and key and,
//! for client certificates, the CA that signs them. [`generate_test_pki`] writes a matching
//! set of files, and [`TlsConfig::from_pki_dir`] loads them:
//!
//! ```no_run
//! use esbyt_emulator::{Emulator, EmulatorConfig, TlsConfig, generate_test_pki};
//!
//! let dir = std::path::Path::new("target/esbyt-pki");
//! let pki = generate_test_pki(dir, "esbyt-test", true)?;
//! let config = EmulatorConfig {
//!     tls: Some(TlsConfig::from_pki_dir(&pki.dir)?),
//!     ..EmulatorConfig::with_default_cards()
//! };
//! let emulator = Emulator::start("127.0.0.1:0", config)?;
//! let base_url = emulator.base_url(); // "https://localhost:PORT/"
//! // ... connect trusting pki.ca_cert, presenting pki.client_cert and pki.client_key ...
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The server offers TLS 1.2 and 1.3 through rustls with the ring provider. The handshake
//! runs on the connection's own thread and must finish within 10 seconds. A failed
//! handshake closes only that connection, and with [`EmulatorConfig::log_requests`] on it
//! is logged to stderr with the client's address and the reason. After the handshake,
//! requests are handled exactly as over plain HTTP.
//!
//! # Cards file
//!
//! A UTF-8 text file with one card per line: `BONUS_ID ACCOUNT BALANCE`, separated by
//! spaces or tabs. `BONUS_ID` is 1 to 13 digits, `ACCOUNT` is any text without spaces
//! (kept as written, leading zeros included) and `BALANCE` is a non-negative integer.
//! `#` starts a comment that runs to the end of the line, and blank lines are ignored.
//! Each `BONUS_ID` may appear once.
//!
//! ```text
//! # bonus_id     account     balance
//! 2700009601205  1055444444  500
//! 2700009601212  0012345678  1000   # account with leading zeros
//! ```
//!
//! An invalid line makes [`EmulatorConfig::load_cards_file`] fail with
//! `FILE:LINE: what is wrong`.
//!
//! # Limits
//!
//! Request heads larger than 16 KiB get 431, request bodies (which the protocol never
//! sends) larger than 64 KiB get 413, and `Transfer-Encoding` gets 501. A connection
//! closes after 5 seconds without a new request. A request whose head and body take
//! more than 10 seconds to arrive gets 408. Malformed requests get 400, and each of
//! these rejections closes the connection.

// The error document example above keeps the tab indentation that the server sends.
#![allow(clippy::tabs_in_doc_comments)]

mod bonus;
mod config;
mod http;
mod pki;
mod server;
mod tls;

pub use bonus::{BonusError, ExecutedSpend, result_code};
pub use config::{
    Card, CardsFileError, DEFAULT_SUPPLIER, EmulatorConfig, MAX_BONUS_ID_DIGITS, TEST_BONUS_ID,
    default_cards, parse_cards,
};
pub use pki::{DEFAULT_PKI_PASSWORD, PKI_VALIDITY_DAYS, PkiError, TestPki, generate_test_pki};
pub use server::{Emulator, SERVED_PATHS};
pub use tls::{TlsConfig, TlsFileError};

/// The rustls types of [`TlsConfig`], re-exported so that callers use the same version.
pub use rustls::pki_types;
