//! Command-line entry point: starts the emulator and serves until the process is killed.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use esbyt_emulator::{DEFAULT_SUPPLIER, Emulator, EmulatorConfig, default_cards};

const DEFAULT_LISTEN: &str = "127.0.0.1:8808";

/// Exit status for invalid command-line arguments.
const USAGE_ERROR: u8 = 2;

#[derive(Debug, PartialEq, Eq)]
struct Options {
    listen: String,
    cards_file: Option<PathBuf>,
    suppliers: Vec<i64>,
    quiet: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Serve(Options),
    Help,
    Version,
}

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
    let config = EmulatorConfig {
        cards,
        suppliers,
        log_requests: !options.quiet,
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

fn parse_args(args: Vec<OsString>) -> Result<Command, String> {
    let mut listen: Option<String> = None;
    let mut cards_file: Option<PathBuf> = None;
    let mut suppliers = Vec::new();
    let mut quiet = false;

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let Some(arg) = arg.to_str().map(str::to_string) else {
            return Err(format!(
                "invalid argument {:?}: not valid UTF-8",
                arg.to_string_lossy()
            ));
        };
        // Accept both `--option VALUE` and `--option=VALUE`.
        let (name, inline_value) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_string(), Some(value)),
            _ => (arg.clone(), None),
        };
        let mut take_value = || -> Result<OsString, String> {
            match inline_value {
                Some(value) => Ok(OsString::from(value)),
                None => args
                    .next()
                    .ok_or_else(|| format!("option {name} requires a value")),
            }
        };

        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--listen" => {
                let value = take_value()?;
                let value = value
                    .into_string()
                    .map_err(|_| "invalid --listen value: not valid UTF-8".to_string())?;
                if listen.replace(value).is_some() {
                    return Err("option --listen given more than once".to_string());
                }
            }
            "--cards" => {
                let value = take_value()?;
                if cards_file.replace(PathBuf::from(value)).is_some() {
                    return Err("option --cards given more than once".to_string());
                }
            }
            "--supplier" => {
                let value = take_value()?;
                suppliers.push(parse_supplier(&value.to_string_lossy())?);
            }
            "--quiet" => {
                if inline_value.is_some() {
                    return Err("option --quiet takes no value".to_string());
                }
                quiet = true;
            }
            _ if name.starts_with('-') => return Err(format!("unknown option {name}")),
            _ => {
                return Err(format!(
                    "unexpected argument {arg:?}: this program takes only options"
                ));
            }
        }
    }

    Ok(Command::Serve(Options {
        listen: listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
        cards_file,
        suppliers,
        quiet,
    }))
}

/// Parses a partner code the way the server parses `supplier`: a positive integer that
/// fits `i32`.
fn parse_supplier(value: &str) -> Result<i64, String> {
    match value.parse::<i32>() {
        Ok(code) if code > 0 && value.bytes().all(|b| b.is_ascii_digit()) => Ok(i64::from(code)),
        _ => Err(format!(
            "invalid --supplier value {value:?}: expected a positive integer up to {}",
            i32::MAX
        )),
    }
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

Options:
  --listen ADDR      Address and port to listen on (default {DEFAULT_LISTEN}).
                     Port 0 picks a free port.
  --cards FILE       Load the cards from FILE instead of the built-in cards.
  --supplier CODE    Accept partner code CODE in spend_bonus. Repeat the option to
                     accept several codes. Without it, only {DEFAULT_SUPPLIER} is accepted.
  --quiet            Do not log requests to stderr.
  -h, --help         Print this help and exit.
  -V, --version      Print the version and exit.

On start the program prints 'esbyt-emulator listening on http://ADDR/' to stdout,
then serves until it is killed. The protocol is served at both / and /bonus/:
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
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn defaults_without_arguments() {
        let expected = Options {
            listen: DEFAULT_LISTEN.to_string(),
            cards_file: None,
            suppliers: vec![],
            quiet: false,
        };
        assert_eq!(parse(&[]), Ok(Command::Serve(expected)));
    }

    #[test]
    fn all_options() {
        let args = [
            "--listen=127.0.0.1:0",
            "--cards",
            "cards.txt",
            "--supplier",
            "1111",
            "--supplier=42",
            "--quiet",
        ];
        let expected = Options {
            listen: "127.0.0.1:0".to_string(),
            cards_file: Some(PathBuf::from("cards.txt")),
            suppliers: vec![1111, 42],
            quiet: true,
        };
        assert_eq!(parse(&args), Ok(Command::Serve(expected)));
    }

    #[test]
    fn invalid_arguments() {
        let cases: [(&[&str], &str); 7] = [
            (&["--port", "1"], "unknown option --port"),
            (&["--listen"], "option --listen requires a value"),
            (
                &["--listen", "a", "--listen", "b"],
                "option --listen given more than once",
            ),
            (&["--quiet=yes"], "option --quiet takes no value"),
            (
                &["--supplier", "0"],
                "invalid --supplier value \"0\": expected a positive integer up to 2147483647",
            ),
            (
                &["--supplier", "+5"],
                "invalid --supplier value \"+5\": expected a positive integer up to 2147483647",
            ),
            (
                &["serve"],
                "unexpected argument \"serve\": this program takes only options",
            ),
        ];
        for (args, message) in cases {
            assert_eq!(parse(args), Err(message.to_string()), "{args:?}");
        }
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(&["--listen", "x", "--help"]), Ok(Command::Help));
        assert_eq!(parse(&["-V"]), Ok(Command::Version));
    }
}
