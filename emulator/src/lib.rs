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
//! | 7 | `CARD_BLOCKED` | sent only by the `windows-1251` fault |
//! | 8 | `INTERNAL_ERROR` | sent only by the `http-500-xml` fault, with HTTP status 500 |
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
//! The paths of the [endpoints for testers](#endpoints-for-testers) serve those. Other
//! paths get 404 and other methods 405, with a short plain-text body.
//!
//! # Faults
//!
//! The emulator produces on demand the failures of real networks and servers, so that
//! clients can be tested on whether they report them correctly, and above all whether a
//! write-off may have been executed. A [`Fault`] acts between reading a request and
//! writing the response, on GET requests on `/` and `/bonus/`, for `check_bonus`,
//! `spend_bonus` and any other query alike. It fires in two ways:
//!
//! - by card: a request whose `bonus_id` is a fault card gets that card's fault, so a
//!   tester can trigger it from any client, even by typing the number at a till. The
//!   fault cards are part of [`default_cards`], each with balance 1000. A card set
//!   without a fault card, such as one from a cards file that does not list it, leaves
//!   that card's fault off.
//! - by configuration: [`EmulatorConfig::fault`] (`--fault NAME` on the command line)
//!   applies one fault to every such request, in place of the fault cards' faults.
//!
//! | card | fault | what the server does | write-off executed |
//! |---|---|---|---|
//! | 2700009609010 | `delay` | executes the request, waits [`EmulatorConfig::fault_delay`] (`--delay-ms`, 3000 ms by default), then sends the correct response | yes, before the pause |
//! | 2700009609027 | `close-after-execute` | executes the request, then closes the connection (FIN, after `close_notify` over TLS) without sending anything | yes |
//! | 2700009609034 | `reset-before-execute` | reads the request, then resets the connection (RST: `SO_LINGER` 0, then close) | no |
//! | 2700009609041 | `http-500-xml` | sends HTTP 500 with an error document: result 8 and the message «Внутренняя ошибка сервера, запрос не выполнен» | no |
//! | 2700009609058 | `http-502-html` | sends HTTP 502 with the `text/html` error page of nginx and `Server: nginx` | no |
//! | 2700009609065 | `empty-200` | executes the request, then sends HTTP 200 with `Content-Length: 0` | yes |
//! | 2700009609072 | `truncated-length` | executes the request, sends the head with the full `Content-Length` and the first half of the document, then closes the connection | yes |
//! | 2700009609089 | `truncated-close` | executes the request, sends the head without `Content-Length`, with `Connection: close`, and the first half of the document, then closes the connection | yes |
//! | 2700009609096 | `windows-1251` | sends HTTP 200 with an error document encoded in windows-1251 and declared so in the XML declaration and in `Content-Type: text/xml; charset=windows-1251`: result 7 and the message «Карта заблокирована, операции с бонусами невозможны» | no |
//! | 2700009609102 | `idle-drop` | executes the request and sends the response on a kept-alive connection. When the next request arrives on that connection, whatever its path, reads it and resets the connection (RST) | the first request yes, the reset one no |
//! | 2700009609119 | `redirect` | sends `302 Found` with `Location: /moved/?QUERY`, a relative reference to the same server. A request on [`MOVED_PATH`] gets 404 and executes nothing | no |
//!
//! "Executed" means that the balance was lowered and the write-off was added to
//! [`Emulator::executed_spends`], both in one step under a lock, and exactly once. A
//! fault that executes runs the request as without a fault, so an invalid request
//! still gets its error document, which the fault then delays, cuts or drops, and
//! executes nothing. "The first half" is the first `len / 2` bytes of the body. Faults
//! that send a whole response keep or close the connection by the usual rules. Every
//! close of a fault is a FIN after `close_notify` over TLS, and every reset sends no
//! `close_notify`.
//!
//! [`Fault::all`] lists the faults, [`Fault::bonus_id`] returns a fault's card, and
//! [`Fault::executes_spend`] whether a write-off on which it fires is executed:
//!
//! ```no_run
//! use esbyt_emulator::{Emulator, EmulatorConfig, Fault};
//!
//! for &fault in Fault::all() {
//!     let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards())?;
//!     // ... spend on fault.bonus_id() and compare the client's status with
//!     // fault.executes_spend() and emulator.executed_spends() ...
//! }
//! let config = EmulatorConfig {
//!     fault: Some(Fault::TruncatedLength),
//!     ..EmulatorConfig::with_default_cards()
//! };
//! let emulator = Emulator::start("127.0.0.1:0", config)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! With [`EmulatorConfig::log_requests`] on, every fault is logged to stderr as it
//! fires, with the card (`none` without a `bonus_id`) and whether a write-off was
//! executed:
//!
//! ```text
//! esbyt-emulator: 127.0.0.1:50312 GET "/bonus/?command=spend_bonus&bonus_id=2700009609072&supplier=1111&amount=10" fault=truncated-length card=2700009609072 executed=yes spend_id=000000001
//! ```
//!
//! # Endpoints for testers
//!
//! Testers on other hosts can see what the server executed over HTTP. These endpoints
//! change nothing, accept GET only and respond in `text/plain; charset=utf-8`. Faults
//! never apply to them, except that a connection on which the idle-drop fault fired
//! resets the next request whatever its path.
//!
//! - `GET /emulator/spends` ([`SPENDS_PATH`]) returns the executed write-offs, oldest
//!   first, one per line: `spend_id bonus_id supplier amount`, such as
//!   `000000001 2700009601205 1111 10`. The body is empty before the first write-off.
//! - `GET /emulator/balance?bonus_id=ID` ([`BALANCE_PATH`]) returns the current balance
//!   of card `ID` and a line feed, such as `490`. An unknown card gets 404 and a missing
//!   `bonus_id` gets 400.
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
//! sends) larger than 64 KiB get 413, and `Transfer-Encoding` gets 501. A new connection
//! closes after 5 seconds without a request, and a kept-alive one after
//! [`EmulatorConfig::keep_alive_timeout`] (`--idle-close-ms`, 5 seconds by default)
//! without the next request. A request whose head and body take more than 10 seconds
//! to arrive gets 408. Malformed requests get 400, and each of
//! these rejections closes the connection.

// The error document example above keeps the tab indentation that the server sends.
#![allow(clippy::tabs_in_doc_comments)]

mod bonus;
mod config;
mod fault;
mod http;
mod inspection;
mod pki;
mod routing;
mod server;
mod tls;

pub use bonus::{BonusError, ExecutedSpend, result_code};
pub use config::{
    Card, CardsFileError, DEFAULT_KEEP_ALIVE_TIMEOUT, DEFAULT_SUPPLIER, EmulatorConfig,
    MAX_BONUS_ID_DIGITS, TEST_BONUS_ID, default_cards, parse_cards,
};
pub use fault::{
    DEFAULT_FAULT_DELAY, FAULT_CARD_BALANCE, Fault, MOVED_PATH, UnknownFaultError, fault_cards,
};
pub use inspection::{BALANCE_PATH, SPENDS_PATH};
pub use pki::{DEFAULT_PKI_PASSWORD, PKI_VALIDITY_DAYS, PkiError, TestPki, generate_test_pki};
pub use server::{Emulator, SERVED_PATHS};
pub use tls::{TlsConfig, TlsFileError};

/// The rustls types of [`TlsConfig`], re-exported so that callers use the same version.
pub use rustls::pki_types;
