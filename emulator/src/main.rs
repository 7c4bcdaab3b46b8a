//! Command-line entry point: starts the emulator and serves until the process is killed,
//! or writes a test PKI with the `pki` command.

mod args;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use args::{Command, DEFAULT_LISTEN, Options, PkiOptions, TlsFiles, parse_args};
use esbyt_emulator::{
    DEFAULT_PKI_PASSWORD, DEFAULT_SUPPLIER, Emulator, EmulatorConfig, PKI_VALIDITY_DAYS, PkiError,
    TlsConfig, TlsFileError, default_cards, generate_test_pki,
};

/// Exit status for invalid command-line arguments.
const USAGE_ERROR: u8 = 2;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match parse_args(args) {
        Ok(Command::Help) => {
            print!("{}", help_text());
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("esbyt-emulator {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Command::Serve(options)) => serve(options),
        Ok(Command::Pki(options)) => write_pki(&options),
        Err(message) => {
            eprintln!("esbyt-emulator: {message}");
            eprintln!("Run 'esbyt-emulator --help' for usage.");
            ExitCode::from(USAGE_ERROR)
        }
    }
}

fn serve(options: Options) -> ExitCode {
    let cards = match &options.cards_file {
        Some(path) => match EmulatorConfig::load_cards_file(path) {
            Ok(cards) => cards,
            Err(error) => {
                eprintln!("esbyt-emulator: {error}");
                return ExitCode::FAILURE;
            }
        },
        None => default_cards(),
    };
    let suppliers = if options.suppliers.is_empty() {
        vec![DEFAULT_SUPPLIER]
    } else {
        options.suppliers
    };
    let card_count = cards.len();
    let supplier_list = suppliers
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let tls = match &options.tls {
        Some(files) => match load_tls(files) {
            Ok(tls) => Some(tls),
            Err(error) => {
                eprintln!("esbyt-emulator: {error}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let config = EmulatorConfig {
        cards,
        suppliers,
        log_requests: !options.quiet,
        tls,
    };

    let emulator = match Emulator::start(&options.listen, config) {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("esbyt-emulator: {error}");
            return ExitCode::FAILURE;
        }
    };
    if !options.quiet {
        eprintln!("esbyt-emulator: serving {card_count} cards, partner codes {supplier_list}");
        if let Some(files) = &options.tls {
            match &files.client_ca {
                Some(ca) => eprintln!(
                    "esbyt-emulator: HTTPS, client certificates signed by {} required",
                    ca.display()
                ),
                None => eprintln!("esbyt-emulator: HTTPS without client certificates"),
            }
        }
    }
    // Scripts wait for this line to learn the port, so it goes to stdout at once.
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "esbyt-emulator listening on {}",
        emulator.base_url()
    );
    let _ = stdout.flush();

    loop {
        std::thread::park();
    }
}

fn load_tls(files: &TlsFiles) -> Result<TlsConfig, TlsFileError> {
    let tls = TlsConfig::from_pem_files(&files.cert, &files.key)?;
    match &files.client_ca {
        Some(ca) => tls.with_client_ca_file(ca),
        None => Ok(tls),
    }
}

/// Runs the `pki` command: writes the test PKI and prints the files and the password.
fn write_pki(options: &PkiOptions) -> ExitCode {
    let pki = match generate_test_pki(&options.dir, &options.password, options.force) {
        Ok(pki) => pki,
        Err(PkiError::FileExists { path }) => {
            eprintln!(
                "esbyt-emulator: {} already exists. Add --force to replace the files in {}",
                path.display(),
                options.dir.display()
            );
            return ExitCode::FAILURE;
        }
        Err(error) => {
            eprintln!("esbyt-emulator: {error}");
            return ExitCode::FAILURE;
        }
    };

    let valid_until = time::OffsetDateTime::from(pki.not_after).date();
    println!(
        "Wrote a test PKI to {} (ECDSA P-256 keys, valid until {valid_until}):",
        pki.dir.display()
    );
    for path in pki.files() {
        println!("  {}", path.display());
    }
    println!("Password of client.p12: {}", options.password);
    println!(
        "Serve HTTPS with client certificates: esbyt-emulator --tls-dir {}",
        pki.dir.display()
    );
    ExitCode::SUCCESS
}

fn help_text() -> String {
    let mut cards = String::new();
    for card in default_cards() {
        cards.push_str(&format!(
            "  {:<14} {:<11} {}\n",
            card.bonus_id, card.account, card.balance
        ));
    }
    format!(
        "\
Emulator of the AO \"Chitaenergosbyt\" bonus server, for development and tests.

Usage: esbyt-emulator [--listen ADDR] [--cards FILE] [--supplier CODE]... [--quiet]
                      [--tls-cert FILE --tls-key FILE [--client-ca FILE] | --tls-dir DIR]
       esbyt-emulator pki DIR [--password PASS] [--force]

Options:
  --listen ADDR      Address and port to listen on (default {DEFAULT_LISTEN}).
                     Port 0 picks a free port.
  --cards FILE       Load the cards from FILE instead of the built-in cards.
  --supplier CODE    Accept partner code CODE in spend_bonus. Repeat the option to
                     accept several codes. Without it, only {DEFAULT_SUPPLIER} is accepted.
  --quiet            Do not log requests and failed TLS handshakes to stderr.
  --tls-cert FILE    Serve HTTPS with the server certificate chain in PEM FILE, the
                     server's own certificate first. Requires --tls-key.
  --tls-key FILE     Private key of --tls-cert in PEM: PKCS#8, PKCS#1 or SEC1.
  --client-ca FILE   Require a client certificate signed by a CA certificate in PEM
                     FILE, as the production server does. A handshake without one
                     fails. Requires --tls-cert.
  --tls-dir DIR      Same as --tls-cert DIR/server.pem --tls-key DIR/server.key
                     --client-ca DIR/ca.pem, the files that the pki command writes.
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
