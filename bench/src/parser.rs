//! The response parser alone, `esbyt::protocol::parse_check_bonus` and
//! `parse_spend_bonus`, on the partner document's bodies.

use std::hint::black_box;
use std::time::Instant;

use esbyt::Status;
use esbyt::protocol::{parse_check_bonus, parse_spend_bonus};

use crate::args::Args;
use crate::documents::{
    BALANCE, BALANCE_DOCUMENT, CONTENT_TYPE, ERROR_DOCUMENT, WRITE_OFF_DOCUMENT,
};

/// Names of the documents, in report order, with the parser each goes through.
pub const DOCUMENTS: [&str; 3] = ["balance", "write_off", "error"];

/// Parses one document and checks the result, so the timed loop measures a
/// parse that succeeds as the library needs it.
fn parse(document: &str) -> Result<(), String> {
    let content_type = Some(CONTENT_TYPE);
    match document {
        "balance" => {
            let balance = parse_check_bonus(black_box(BALANCE_DOCUMENT.as_bytes()), content_type)
                .map_err(|error| format!("balance document: {error}"))?;
            if black_box(balance).amount != BALANCE {
                return Err("balance document: wrong amount".to_owned());
            }
        }
        "write_off" => {
            let write_off =
                parse_spend_bonus(black_box(WRITE_OFF_DOCUMENT.as_bytes()), content_type)
                    .map_err(|error| format!("write-off document: {error}"))?;
            black_box(write_off);
        }
        "error" => {
            // The error document is a refusal, so the parser's success here
            // is an error with status ESBYT_SERVER and the server's code.
            let Err(error) = parse_check_bonus(black_box(ERROR_DOCUMENT.as_bytes()), content_type)
            else {
                return Err("error document: parsed as a balance".to_owned());
            };
            if error.status() != Status::Server || error.server_code() != Some(4) {
                return Err(format!("error document: unexpected result {error}"));
            }
            black_box(error);
        }
        other => return Err(format!("unknown document {other:?}")),
    }
    Ok(())
}

/// Parses the `document` argument's body `iterations` times after a warm-up
/// and returns the mean time per document.
pub fn run(args: &Args) -> Result<String, String> {
    let document = args.text("document")?;
    let iterations: u64 = args.number("iterations", 100_000)?;
    for _ in 0..args.number("warmup", 1000u64)? {
        parse(document)?;
    }
    let started = Instant::now();
    for _ in 0..iterations {
        parse(document)?;
    }
    let ns = started.elapsed().as_nanos() as f64 / iterations as f64;
    Ok(format!("ns_per_document={ns:.0}"))
}
