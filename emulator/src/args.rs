//! Command-line parsing of the `esbyt-emulator` binary. This module belongs to the binary
//! (`main.rs`), not to the library.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use esbyt_emulator::{DEFAULT_FAULT_DELAY, DEFAULT_KEEP_ALIVE_TIMEOUT, Fault};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8808";

/// Maximum of `--delay-ms`: ten minutes.
pub const MAX_DELAY_MS: u64 = 600_000;

/// Maximum of `--idle-close-ms`: one hour.
pub const MAX_IDLE_CLOSE_MS: u64 = 3_600_000;

/// Settings of the server, from the options without a command.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub listen: String,
    pub cards_file: Option<PathBuf>,
    pub suppliers: Vec<i64>,
    pub quiet: bool,
    pub tls: Option<TlsFiles>,
    /// Fault applied to every protocol request.
    pub fault: Option<Fault>,
    pub fault_delay: Duration,
    pub keep_alive_timeout: Duration,
}

/// PEM files that switch the server to HTTPS.
#[derive(Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// CA for client certificates. When set, clients must present a certificate.
    pub client_ca: Option<PathBuf>,
}

/// Settings of the `pki` command.
#[derive(Debug, PartialEq, Eq)]
pub struct PkiOptions {
    pub dir: PathBuf,
    pub password: String,
    pub force: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Serve(Options),
    Pki(PkiOptions),
    Help,
    Version,
}

/// One command-line argument: an option with the value given after `=`, if any, or a
/// positional argument.
enum Arg {
    Option {
        name: String,
        inline_value: Option<String>,
    },
    Positional(OsString),
}

/// The arguments that are left to parse.
struct Args {
    rest: std::vec::IntoIter<OsString>,
}

impl Args {
    fn next_arg(&mut self) -> Option<Result<Arg, String>> {
        let arg = self.rest.next()?;
        let Some(text) = arg.to_str() else {
            if arg.to_string_lossy().starts_with('-') {
                return Some(Err(format!(
                    "invalid argument {:?}: not valid UTF-8",
                    arg.to_string_lossy()
                )));
            }
            return Some(Ok(Arg::Positional(arg)));
        };
        if !text.starts_with('-') {
            return Some(Ok(Arg::Positional(arg)));
        }
        // Accept both `--option VALUE` and `--option=VALUE`.
        let parsed = match text.split_once('=') {
            Some((name, value)) if name.starts_with("--") => Arg::Option {
                name: name.to_string(),
                inline_value: Some(value.to_string()),
            },
            _ => Arg::Option {
                name: text.to_string(),
                inline_value: None,
            },
        };
        Some(Ok(parsed))
    }

    /// Returns the value of option `name`: the inline value, or else the next argument.
    fn value(&mut self, name: &str, inline_value: Option<String>) -> Result<OsString, String> {
        match inline_value {
            Some(value) => Ok(OsString::from(value)),
            None => self
                .rest
                .next()
                .ok_or_else(|| format!("option {name} requires a value")),
        }
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, name: &str) -> Result<(), String> {
    if slot.replace(value).is_some() {
        return Err(format!("option {name} given more than once"));
    }
    Ok(())
}

fn reject_value(name: &str, inline_value: Option<String>) -> Result<(), String> {
    match inline_value {
        Some(_) => Err(format!("option {name} takes no value")),
        None => Ok(()),
    }
}

/// Parses the arguments after the program name.
pub fn parse_args(args: Vec<OsString>) -> Result<Command, String> {
    if args.first().is_some_and(|first| first == "pki") {
        return parse_pki_args(args.into_iter().skip(1).collect());
    }

    let mut listen: Option<String> = None;
    let mut cards_file: Option<PathBuf> = None;
    let mut suppliers = Vec::new();
    let mut quiet = false;
    let mut tls_cert: Option<PathBuf> = None;
    let mut tls_key: Option<PathBuf> = None;
    let mut client_ca: Option<PathBuf> = None;
    let mut tls_dir: Option<PathBuf> = None;
    let mut fault: Option<Fault> = None;
    let mut fault_delay: Option<Duration> = None;
    let mut keep_alive_timeout: Option<Duration> = None;

    let mut args = Args {
        rest: args.into_iter(),
    };
    while let Some(arg) = args.next_arg() {
        let (name, inline_value) = match arg? {
            Arg::Option { name, inline_value } => (name, inline_value),
            Arg::Positional(arg) => {
                return Err(format!(
                    "unexpected argument {:?}: expected options, or the pki command first",
                    arg.to_string_lossy()
                ));
            }
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--listen" => {
                let value = args.value(&name, inline_value)?;
                let value = value
                    .into_string()
                    .map_err(|_| "invalid --listen value: not valid UTF-8".to_string())?;
                set_once(&mut listen, value, &name)?;
            }
            "--cards" => {
                let value = args.value(&name, inline_value)?;
                set_once(&mut cards_file, PathBuf::from(value), &name)?;
            }
            "--supplier" => {
                let value = args.value(&name, inline_value)?;
                suppliers.push(parse_supplier(&value.to_string_lossy())?);
            }
            "--quiet" => {
                reject_value(&name, inline_value)?;
                quiet = true;
            }
            "--tls-cert" => {
                let value = args.value(&name, inline_value)?;
                set_once(&mut tls_cert, PathBuf::from(value), &name)?;
            }
            "--tls-key" => {
                let value = args.value(&name, inline_value)?;
                set_once(&mut tls_key, PathBuf::from(value), &name)?;
            }
            "--client-ca" => {
                let value = args.value(&name, inline_value)?;
                set_once(&mut client_ca, PathBuf::from(value), &name)?;
            }
            "--tls-dir" => {
                let value = args.value(&name, inline_value)?;
                set_once(&mut tls_dir, PathBuf::from(value), &name)?;
            }
            "--fault" => {
                let value = args.value(&name, inline_value)?;
                set_once(&mut fault, parse_fault(&value.to_string_lossy())?, &name)?;
            }
            "--delay-ms" => {
                let value = args.value(&name, inline_value)?;
                let delay = parse_millis(&name, &value.to_string_lossy(), 0, MAX_DELAY_MS)?;
                set_once(&mut fault_delay, delay, &name)?;
            }
            "--idle-close-ms" => {
                let value = args.value(&name, inline_value)?;
                let timeout = parse_millis(&name, &value.to_string_lossy(), 1, MAX_IDLE_CLOSE_MS)?;
                set_once(&mut keep_alive_timeout, timeout, &name)?;
            }
            _ => return Err(format!("unknown option {name}")),
        }
    }

    let tls = tls_files(tls_cert, tls_key, client_ca, tls_dir)?;
    Ok(Command::Serve(Options {
        listen: listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
        cards_file,
        suppliers,
        quiet,
        tls,
        fault,
        fault_delay: fault_delay.unwrap_or(DEFAULT_FAULT_DELAY),
        keep_alive_timeout: keep_alive_timeout.unwrap_or(DEFAULT_KEEP_ALIVE_TIMEOUT),
    }))
}

/// Combines the TLS options, or explains which option is missing or conflicts.
fn tls_files(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
    dir: Option<PathBuf>,
) -> Result<Option<TlsFiles>, String> {
    if let Some(dir) = dir {
        if cert.is_some() || key.is_some() || client_ca.is_some() {
            return Err(
                "option --tls-dir cannot be combined with --tls-cert, --tls-key or --client-ca"
                    .to_string(),
            );
        }
        return Ok(Some(TlsFiles {
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            client_ca: Some(dir.join("ca.pem")),
        }));
    }
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles {
            cert,
            key,
            client_ca,
        })),
        (Some(_), None) => Err("option --tls-cert requires --tls-key".to_string()),
        (None, Some(_)) => Err("option --tls-key requires --tls-cert".to_string()),
        (None, None) if client_ca.is_some() => Err(
            "option --client-ca requires --tls-cert and --tls-key, or use --tls-dir".to_string(),
        ),
        (None, None) => Ok(None),
    }
}

/// Parses the arguments after `pki`: `DIR [--password PASS] [--force]`.
fn parse_pki_args(args: Vec<OsString>) -> Result<Command, String> {
    let mut dir: Option<PathBuf> = None;
    let mut password: Option<String> = None;
    let mut force = false;

    let mut args = Args {
        rest: args.into_iter(),
    };
    while let Some(arg) = args.next_arg() {
        let (name, inline_value) = match arg? {
            Arg::Option { name, inline_value } => (name, inline_value),
            Arg::Positional(arg) => {
                if dir.is_some() {
                    return Err(format!(
                        "unexpected argument {:?}: the pki command takes one directory",
                        arg.to_string_lossy()
                    ));
                }
                dir = Some(PathBuf::from(arg));
                continue;
            }
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--password" => {
                let value = args.value(&name, inline_value)?;
                let value = value
                    .into_string()
                    .map_err(|_| "invalid --password value: not valid UTF-8".to_string())?;
                set_once(&mut password, value, &name)?;
            }
            "--force" => {
                reject_value(&name, inline_value)?;
                force = true;
            }
            _ => return Err(format!("unknown option {name} for the pki command")),
        }
    }

    let Some(dir) = dir else {
        return Err("the pki command requires a directory: esbyt-emulator pki DIR".to_string());
    };
    Ok(Command::Pki(PkiOptions {
        dir,
        password: password.unwrap_or_else(|| esbyt_emulator::DEFAULT_PKI_PASSWORD.to_string()),
        force,
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

fn parse_fault(value: &str) -> Result<Fault, String> {
    Fault::from_name(value).ok_or_else(|| {
        let names: Vec<&str> = Fault::all().iter().map(|fault| fault.name()).collect();
        format!(
            "invalid --fault value {value:?}: expected one of {}",
            names.join(", ")
        )
    })
}

/// Parses a whole number of milliseconds from `min` to `max` for option `name`.
fn parse_millis(name: &str, value: &str, min: u64, max: u64) -> Result<Duration, String> {
    match value.parse::<u64>() {
        Ok(millis)
            if (min..=max).contains(&millis) && value.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(Duration::from_millis(millis))
        }
        _ => Err(format!(
            "invalid {name} value {value:?}: expected milliseconds from {min} to {max}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(OsString::from).collect())
    }

    fn serve_options(tls: Option<TlsFiles>) -> Options {
        Options {
            listen: DEFAULT_LISTEN.to_string(),
            cards_file: None,
            suppliers: vec![],
            quiet: false,
            tls,
            fault: None,
            fault_delay: DEFAULT_FAULT_DELAY,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
        }
    }

    #[test]
    fn defaults_without_arguments() {
        assert_eq!(parse(&[]), Ok(Command::Serve(serve_options(None))));
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
            "--tls-cert",
            "server.pem",
            "--tls-key=server.key",
            "--client-ca",
            "ca.pem",
            "--fault",
            "truncated-close",
            "--delay-ms=250",
            "--idle-close-ms",
            "1500",
        ];
        let expected = Options {
            listen: "127.0.0.1:0".to_string(),
            cards_file: Some(PathBuf::from("cards.txt")),
            suppliers: vec![1111, 42],
            quiet: true,
            tls: Some(TlsFiles {
                cert: PathBuf::from("server.pem"),
                key: PathBuf::from("server.key"),
                client_ca: Some(PathBuf::from("ca.pem")),
            }),
            fault: Some(Fault::TruncatedClose),
            fault_delay: Duration::from_millis(250),
            keep_alive_timeout: Duration::from_millis(1500),
        };
        assert_eq!(parse(&args), Ok(Command::Serve(expected)));
    }

    #[test]
    fn tls_without_client_ca() {
        let expected = serve_options(Some(TlsFiles {
            cert: PathBuf::from("s.pem"),
            key: PathBuf::from("s.key"),
            client_ca: None,
        }));
        assert_eq!(
            parse(&["--tls-key", "s.key", "--tls-cert", "s.pem"]),
            Ok(Command::Serve(expected))
        );
    }

    #[test]
    fn tls_dir_uses_pki_files() {
        let dir = PathBuf::from("pki");
        let expected = serve_options(Some(TlsFiles {
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            client_ca: Some(dir.join("ca.pem")),
        }));
        assert_eq!(parse(&["--tls-dir", "pki"]), Ok(Command::Serve(expected)));
    }

    #[test]
    fn pki_command() {
        let expected = PkiOptions {
            dir: PathBuf::from("out"),
            password: esbyt_emulator::DEFAULT_PKI_PASSWORD.to_string(),
            force: false,
        };
        assert_eq!(parse(&["pki", "out"]), Ok(Command::Pki(expected)));

        let expected = PkiOptions {
            dir: PathBuf::from("out"),
            password: "secret".to_string(),
            force: true,
        };
        assert_eq!(
            parse(&["pki", "--force", "out", "--password=secret"]),
            Ok(Command::Pki(expected))
        );
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
                "unexpected argument \"serve\": expected options, or the pki command first",
            ),
        ];
        for (args, message) in cases {
            assert_eq!(parse(args), Err(message.to_string()), "{args:?}");
        }
    }

    #[test]
    fn every_fault_name_parses() {
        for &fault in Fault::all() {
            let Ok(Command::Serve(options)) = parse(&["--fault", fault.name()]) else {
                panic!("--fault {fault} did not parse");
            };
            assert_eq!(options.fault, Some(fault));
        }
    }

    #[test]
    fn invalid_fault_options() {
        let cases: [(&[&str], &str); 7] = [
            (
                &["--fault", "slow"],
                "invalid --fault value \"slow\": expected one of delay, close-after-execute, \
                 reset-before-execute, http-500-xml, http-502-html, empty-200, \
                 truncated-length, truncated-close, windows-1251, idle-drop, redirect",
            ),
            (
                &["--fault", "delay", "--fault", "redirect"],
                "option --fault given more than once",
            ),
            (
                &["--delay-ms", "600001"],
                "invalid --delay-ms value \"600001\": expected milliseconds from 0 to 600000",
            ),
            (
                &["--delay-ms", "-1"],
                "invalid --delay-ms value \"-1\": expected milliseconds from 0 to 600000",
            ),
            (
                &["--idle-close-ms", "0"],
                "invalid --idle-close-ms value \"0\": expected milliseconds from 1 to 3600000",
            ),
            (
                &["--idle-close-ms", "+5"],
                "invalid --idle-close-ms value \"+5\": expected milliseconds from 1 to 3600000",
            ),
            (
                &["--idle-close-ms"],
                "option --idle-close-ms requires a value",
            ),
        ];
        for (args, message) in cases {
            assert_eq!(parse(args), Err(message.to_string()), "{args:?}");
        }
    }

    #[test]
    fn zero_delay_is_accepted() {
        let Ok(Command::Serve(options)) = parse(&["--delay-ms", "0"]) else {
            panic!("--delay-ms 0 did not parse");
        };
        assert_eq!(options.fault_delay, Duration::ZERO);
    }

    #[test]
    fn invalid_tls_options() {
        let cases: [(&[&str], &str); 5] = [
            (
                &["--tls-cert", "s.pem"],
                "option --tls-cert requires --tls-key",
            ),
            (
                &["--tls-key", "s.key"],
                "option --tls-key requires --tls-cert",
            ),
            (
                &["--client-ca", "ca.pem"],
                "option --client-ca requires --tls-cert and --tls-key, or use --tls-dir",
            ),
            (
                &["--tls-dir", "pki", "--client-ca", "ca.pem"],
                "option --tls-dir cannot be combined with --tls-cert, --tls-key or --client-ca",
            ),
            (
                &["--tls-dir", "a", "--tls-dir", "b"],
                "option --tls-dir given more than once",
            ),
        ];
        for (args, message) in cases {
            assert_eq!(parse(args), Err(message.to_string()), "{args:?}");
        }
    }

    #[test]
    fn invalid_pki_arguments() {
        let cases: [(&[&str], &str); 5] = [
            (
                &["pki"],
                "the pki command requires a directory: esbyt-emulator pki DIR",
            ),
            (
                &["pki", "a", "b"],
                "unexpected argument \"b\": the pki command takes one directory",
            ),
            (
                &["pki", "a", "--password"],
                "option --password requires a value",
            ),
            (&["pki", "a", "--force=1"], "option --force takes no value"),
            (
                &["pki", "a", "--listen", "x"],
                "unknown option --listen for the pki command",
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
        assert_eq!(parse(&["pki", "--help"]), Ok(Command::Help));
    }
}
