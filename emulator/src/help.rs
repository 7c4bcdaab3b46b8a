//! The text of `esbyt-emulator --help`. This module belongs to the binary (`main.rs`).

use esbyt_emulator::{
    BALANCE_PATH, DEFAULT_FAULT_DELAY, DEFAULT_KEEP_ALIVE_TIMEOUT, DEFAULT_PKI_PASSWORD,
    DEFAULT_SUPPLIER, Fault, PKI_VALIDITY_DAYS, SPENDS_PATH, default_cards,
};

use crate::args::{DEFAULT_LISTEN, MAX_DELAY_MS, MAX_IDLE_CLOSE_MS};

/// Width that help text wraps the fault descriptions at.
const WRAP_WIDTH: usize = 80;

/// Returns the text of `--help`.
pub fn help_text() -> String {
    let mut cards = String::new();
    for card in default_cards() {
        if Fault::from_bonus_id(&card.bonus_id).is_some() {
            continue;
        }
        cards.push_str(&format!(
            "  {:<14} {:<11} {}\n",
            card.bonus_id, card.account, card.balance
        ));
    }
    let fault_cards = fault_card_table();
    let default_delay_ms = DEFAULT_FAULT_DELAY.as_millis();
    let default_idle_close_ms = DEFAULT_KEEP_ALIVE_TIMEOUT.as_millis();
    format!(
        "\
Emulator of the AO \"Chitaenergosbyt\" bonus server, for development and tests.

Usage: esbyt-emulator [--listen ADDR] [--cards FILE] [--supplier CODE]... [--quiet]
                      [--tls-cert FILE --tls-key FILE [--client-ca FILE] | --tls-dir DIR]
                      [--fault NAME] [--delay-ms N] [--idle-close-ms N]
       esbyt-emulator pki DIR [--password PASS] [--force]

Options:
  --listen ADDR      Address and port to listen on (default {DEFAULT_LISTEN}).
                     Port 0 picks a free port.
  --cards FILE       Load the cards from FILE instead of the built-in cards. The
                     fault cards then trigger their faults only if FILE lists them.
  --supplier CODE    Accept partner code CODE in spend_bonus. Repeat the option to
                     accept several codes. Without it, only {DEFAULT_SUPPLIER} is accepted.
  --quiet            Do not log requests, faults and failed TLS handshakes to stderr.
  --tls-cert FILE    Serve HTTPS with the server certificate chain in PEM FILE, the
                     server's own certificate first. Requires --tls-key.
  --tls-key FILE     Private key of --tls-cert in PEM: PKCS#8, PKCS#1 or SEC1.
  --client-ca FILE   Require a client certificate signed by a CA certificate in PEM
                     FILE, as the production server does. A handshake without one
                     fails. Requires --tls-cert.
  --tls-dir DIR      Same as --tls-cert DIR/server.pem --tls-key DIR/server.key
                     --client-ca DIR/ca.pem, the files that the pki command writes.
  --fault NAME       Apply fault NAME, one of the faults below, to every GET request
                     on / and /bonus/, in place of the fault cards' own faults.
  --delay-ms N       Pause of the delay fault in milliseconds, 0 to {MAX_DELAY_MS}
                     (default {default_delay_ms}).
  --idle-close-ms N  Close a kept-alive connection (FIN) after N milliseconds
                     without a new request, 1 to {MAX_IDLE_CLOSE_MS} (default {default_idle_close_ms}). A new
                     connection always has 5 seconds to start its first request.
  -h, --help         Print this help and exit.
  -V, --version      Print the version and exit.

On start the program prints 'esbyt-emulator listening on http://ADDR/' to stdout,
or 'https://localhost:PORT/' with TLS on a loopback address, then serves until it
is killed. HTTPS offers TLS 1.2 and 1.3. The protocol is served at both / and
/bonus/:
  GET /bonus/?command=check_bonus&bonus_id=2700009601205
  GET /bonus/?command=spend_bonus&bonus_id=2700009601205&supplier=1111&amount=10
Balances live in memory only and reset on restart.

Built-in cards (bonus_id, account, balance):
{cards}
Fault cards, balance 1000 each. A GET request on / or /bonus/ whose bonus_id is a
fault card gets the card's fault, for check_bonus and spend_bonus alike. Each
fault is logged to stderr when it fires, with the card and whether a write-off
was executed.
{fault_cards}
Endpoints for testers. They change nothing, and faults do not apply to them
(except the reset that idle-drop leaves on its connection):
  GET {SPENDS_PATH}
      The executed write-offs as plain text, oldest first, one per line:
      'spend_id bonus_id supplier amount'.
  GET {BALANCE_PATH}?bonus_id=ID
      The current balance of card ID as plain text. An unknown card gets 404.

Cards file format: one card per line, 'BONUS_ID ACCOUNT BALANCE' separated by
spaces. BONUS_ID is 1 to 13 digits, ACCOUNT is text without spaces (leading zeros
are kept) and BALANCE is a non-negative integer. '#' starts a comment that runs to
the end of the line, and blank lines are ignored. Each BONUS_ID may appear once.
An invalid line stops the program with FILE:LINE and the problem.

The pki command writes a test PKI for mutual TLS into DIR, creating DIR if needed:
ca.pem (the CA certificate, which clients add as an extra trusted CA), server.pem
and server.key (for localhost, 127.0.0.1 and ::1), client.pem and client.key (a
client certificate and its PKCS#8 key), client.p12 (the client key and
certificates as PKCS#12) and README.txt. Keys are ECDSA P-256, and certificates
are valid for {PKI_VALIDITY_DAYS} days from now.
  --password PASS    Password of client.p12, printable ASCII (default
                     {DEFAULT_PKI_PASSWORD}).
  --force            Replace existing files. Without it, the command fails and
                     writes nothing when one of the files exists.
"
    )
}

/// Renders the fault cards as a table with a wrapped description under each row.
fn fault_card_table() -> String {
    let mut table = format!("  {:<14} {:<21} {}\n", "card", "fault", "write-off");
    for &fault in Fault::all() {
        table.push_str(&format!(
            "  {:<14} {:<21} {}\n",
            fault.bonus_id(),
            fault.name(),
            fault.spend_outcome()
        ));
        for line in wrap(fault.description(), WRAP_WIDTH - 6) {
            table.push_str(&format!("      {line}\n"));
        }
    }
    table
}

/// Splits text into lines of at most `width` characters at spaces. A longer word gets
/// a line of its own.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_spaces() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("a verylongword b", 4), vec!["a", "verylongword", "b"]);
        assert_eq!(wrap("", 10), Vec::<String>::new());
    }

    #[test]
    fn fault_table_fits_80_columns() {
        for line in fault_card_table().lines() {
            assert!(line.chars().count() <= WRAP_WIDTH, "{line:?}");
        }
    }

    #[test]
    fn help_lists_every_fault_card() {
        let help = help_text();
        for fault in Fault::all() {
            let row = format!(
                "  {:<14} {:<21} {}",
                fault.bonus_id(),
                fault.name(),
                fault.spend_outcome()
            );
            assert!(help.contains(&row), "no row {row:?}");
        }
    }
}
