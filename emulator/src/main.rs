//! Command-line entry point: starts the emulator and serves until the process is killed,
//! or writes a test PKI with the `pki` command.

mod args;
mod help;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use args::{Command, Options, PkiOptions, TlsFiles, parse_args};
use esbyt_emulator::{
    DEFAULT_SUPPLIER, Emulator, EmulatorConfig, PkiError, TlsConfig, TlsFileError, default_cards,
    generate_test_pki,
};
use help::help_text;

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
        fault: options.fault,
        fault_delay: options.fault_delay,
        keep_alive_timeout: options.keep_alive_timeout,
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
        if let Some(fault) = options.fault {
            eprintln!(
                "esbyt-emulator: fault {fault} applies to every GET request on / and /bonus/"
            );
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
