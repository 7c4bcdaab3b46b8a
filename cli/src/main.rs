//! `esbyt`: balance checks and write-offs from the command line, a demo
//! that runs both against the bundled emulator of the bonus server, and a
//! step-by-step diagnosis of the connection to the server.

mod doctor;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use esbyt::config::Secret;
use esbyt::journal::Journal;
use esbyt::{Client, Config, Detail, Error, PendingState, Status};
use esbyt_emulator::{
    DEFAULT_PKI_PASSWORD, DEFAULT_SUPPLIER, Emulator, EmulatorConfig, TEST_BONUS_ID, TlsConfig,
    generate_test_pki,
};

/// Exit codes: 0 success, 2 bad command line, and 10 plus the library status
/// for a failed call (11 invalid argument ... 19 outcome unknown, 20 internal).
const EXIT_STATUS_BASE: u8 = 10;

#[derive(Parser)]
#[command(
    name = "esbyt",
    version,
    about = "Check bonus balances and write bonuses off in the loyalty programme of AO \"Chitaenergosbyt\"",
    after_help = "Exit status: 0 on success, 2 for a bad command line, and 10 plus the library status \
                  on failure (for example 18 when the server refused, 19 when the outcome of a \
                  write-off is unknown and must be reconciled before trying again). `esbyt doctor` \
                  exits with 1 when a step failed."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a balance, write bonuses off and check again. Without --url it
    /// runs against the bundled emulator, started inside this process.
    Demo {
        #[command(flatten)]
        server: ServerOptions,
        /// Participant id (card number) to use.
        #[arg(long, default_value = TEST_BONUS_ID)]
        card: String,
        /// Bonuses to write off.
        #[arg(long, default_value_t = 10)]
        amount: i64,
        /// Run the bundled emulator over HTTPS with mutual TLS, as the
        /// production server works: a test CA, server and client certificate
        /// are generated into a temporary folder and removed afterwards.
        #[arg(long, conflicts_with = "url")]
        mutual_tls: bool,
    },
    /// Print the bonus balance of a participant.
    Check {
        /// Participant id: the number on the card, 1 to 13 digits.
        bonus_id: String,
        #[command(flatten)]
        server: ServerOptions,
    },
    /// List the write-off attempts of the spend journal that must be reconciled.
    Pending {
        /// Spend journal file.
        #[arg(long, value_name = "FILE")]
        journal_file: PathBuf,
    },
    /// Mark a spend journal attempt resolved after reconciling it.
    Resolve {
        /// Attempt id, as `pending` prints it.
        attempt_id: String,
        /// What the reconciliation found, stored in the journal.
        #[arg(long, default_value = "")]
        note: String,
        /// Spend journal file.
        #[arg(long, value_name = "FILE")]
        journal_file: PathBuf,
    },
    /// Check the connection to the bonus server step by step: configuration,
    /// DNS, TCP, proxy, TLS, an HTTP request and, with --card, a balance
    /// check. Never writes bonuses off.
    ///
    /// Exit status 0 when no step failed (a warning or a skipped step counts
    /// as passed), 1 when a step failed.
    Doctor {
        #[command(flatten)]
        server: ServerOptions,
        /// Also check this card's balance through the library. The report
        /// shows the card masked, such as 2700******205.
        #[arg(long, value_name = "BONUS_ID")]
        card: Option<String>,
        /// Print the report as one JSON document, for a support ticket.
        #[arg(long)]
        json: bool,
    },
    /// Write bonuses off a participant's balance and print the write-off number.
    Spend {
        /// Participant id: the number on the card, 1 to 13 digits.
        bonus_id: String,
        /// Bonuses to write off, 1 to 2147483647.
        amount: i64,
        #[command(flatten)]
        server: ServerOptions,
    },
}

#[derive(Args)]
struct ServerOptions {
    /// Base URL of the bonus server, such as https://bonus.e-sbyt.ru:888/ or
    /// http://176.114.16.91:8808/bonus/ (the partner's test server).
    #[arg(long)]
    url: Option<String>,
    /// Partner (supplier) code issued with the contract; 1111 on the test server.
    #[arg(long)]
    supplier: Option<i64>,
    /// Allow a plain http:// URL, as the partner's test server needs. Implied for the emulator.
    #[arg(long)]
    allow_http: bool,
    /// Deadline of each call in milliseconds.
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    /// Time allowed for DNS, TCP and TLS in milliseconds.
    #[arg(long, value_name = "MS")]
    connect_timeout_ms: Option<u64>,
    /// PEM file of CA certificates trusted besides Mozilla's roots.
    #[arg(long, value_name = "FILE")]
    extra_ca_file: Option<PathBuf>,
    /// HTTP proxy URL such as http://proxy:3128.
    #[arg(long)]
    proxy: Option<String>,
    /// Do not trust the operating system's CA store, only Mozilla's roots and --extra-ca-file.
    #[arg(long)]
    no_system_roots: bool,
    /// SHA-256 fingerprint of the accepted server certificate (64 hex digits,
    /// colons allowed); repeat for several. Replaces the CA checks.
    #[arg(long, value_name = "SHA256")]
    server_cert_sha256: Vec<String>,
    /// The partner's client certificate and key as a PKCS#12 file (.pfx, .p12).
    #[arg(long, value_name = "FILE")]
    pkcs12_file: Option<PathBuf>,
    /// Password of the PKCS#12 file.
    #[arg(long, value_name = "PASSWORD")]
    pkcs12_password: Option<String>,
    /// The client certificate as PEM, leaf first; may also hold the key.
    #[arg(long, value_name = "FILE")]
    client_cert: Option<PathBuf>,
    /// The client key as PEM, when it is not in --client-cert.
    #[arg(long, value_name = "FILE")]
    client_key: Option<PathBuf>,
    /// Password of an encrypted PKCS#8 client key.
    #[arg(long, value_name = "PASSWORD")]
    client_key_password: Option<String>,
    /// Configuration file (TOML) with the same settings as the library; the
    /// options given here override it.
    #[arg(long = "config", value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Spend journal file: every write-off attempt is recorded before it is sent.
    #[arg(long, value_name = "FILE")]
    journal_file: Option<PathBuf>,
}

impl ServerOptions {
    /// Builds the configuration: the `--config` file (with its `ESBYT_*`
    /// environment overrides) first, then every option given on the command line.
    fn config(&self, url: Option<String>) -> Result<Config, Error> {
        let mut config = match &self.config_file {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(url) = url {
            config.url = url;
        }
        if config.url.is_empty() {
            return Err(Error::new(
                Status::Config,
                "--url is required, or a --config file with url: the base URL of the bonus server; \
                 run `esbyt demo` to use the bundled emulator",
            ));
        }
        override_with(&mut config.supplier, self.supplier);
        override_with(&mut config.extra_ca_file, self.extra_ca_file.clone());
        override_with(&mut config.proxy, self.proxy.clone());
        override_with(&mut config.pkcs12_file, self.pkcs12_file.clone());
        override_with(&mut config.client_cert_file, self.client_cert.clone());
        override_with(&mut config.client_key_file, self.client_key.clone());
        override_with(
            &mut config.pkcs12_password,
            self.pkcs12_password.clone().map(Secret::new),
        );
        override_with(
            &mut config.client_key_password,
            self.client_key_password.clone().map(Secret::new),
        );
        override_with(&mut config.journal_file, self.journal_file.clone());
        config.allow_http |= self.allow_http;
        config.system_roots &= !self.no_system_roots;
        if !self.server_cert_sha256.is_empty() {
            config.set("server_cert_sha256", &self.server_cert_sha256.join(","))?;
        }
        if let Some(timeout) = self.timeout_ms {
            config.set("timeout_ms", &timeout.to_string())?;
        }
        if let Some(timeout) = self.connect_timeout_ms {
            config.set("connect_timeout_ms", &timeout.to_string())?;
        }
        Ok(config)
    }

    fn client(&self) -> Result<Client, Error> {
        Client::new(self.config(self.url.clone())?)
    }
}

/// Replaces a setting with a command-line value when one was given.
fn override_with<T>(setting: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *setting = value;
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo {
            server,
            card,
            amount,
            mutual_tls,
        } => demo(&server, &card, amount, mutual_tls),
        Command::Pending { journal_file } => {
            Journal::open(&journal_file).and_then(|journal| pending(&journal))
        }
        Command::Resolve {
            attempt_id,
            note,
            journal_file,
        } => Journal::open(&journal_file)
            .and_then(|journal| journal.resolve(attempt_id.trim(), &note)),
        Command::Doctor { server, card, json } => {
            return doctor::run(server.config(server.url.clone()), card.as_deref(), json);
        }
        Command::Check { bonus_id, server } => {
            server.client().and_then(|client| check(&client, &bonus_id))
        }
        Command::Spend {
            bonus_id,
            amount,
            server,
        } => server
            .client()
            .and_then(|client| spend(&client, &bonus_id, amount)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&error);
            ExitCode::from(EXIT_STATUS_BASE + error.status().code() as u8)
        }
    }
}

fn demo(server: &ServerOptions, card: &str, amount: i64, mutual_tls: bool) -> Result<(), Error> {
    if let Some(url) = &server.url {
        println!("demo against {url}: writes {amount} bonuses off card {card}");
        let client = Client::new(server.config(Some(url.clone()))?)?;
        return run_demo_steps(&client, card, amount);
    }
    if mutual_tls {
        return demo_with_mutual_tls(server, card, amount);
    }

    // The emulator lives until the end of the demo; dropping it stops it.
    let emulator = start_emulator(EmulatorConfig::with_default_cards())?;
    let url = format!("{}bonus/", emulator.base_url());
    println!("demo against the bundled emulator at {url}");
    let mut config = server.config(Some(url))?;
    config.allow_http = true;
    config.supplier = config.supplier.or(Some(DEFAULT_SUPPLIER));
    run_demo_steps(&Client::new(config)?, card, amount)
}

/// Runs the demo over HTTPS against an emulator that demands a client
/// certificate, with a freshly generated test PKI and the PKCS#12 client file.
fn demo_with_mutual_tls(server: &ServerOptions, card: &str, amount: i64) -> Result<(), Error> {
    let pki_dir = std::env::temp_dir().join(format!("esbyt-demo-pki-{}", std::process::id()));
    let result = (|| {
        let pki = generate_test_pki(&pki_dir, DEFAULT_PKI_PASSWORD, true).map_err(|error| {
            Error::new(
                Status::Config,
                format!("the test PKI could not be generated: {error}"),
            )
        })?;
        let tls = TlsConfig::from_pki_dir(&pki_dir).map_err(|error| {
            Error::new(
                Status::Config,
                format!("the emulator's TLS files are unusable: {error}"),
            )
        })?;
        let emulator = start_emulator(EmulatorConfig {
            tls: Some(tls),
            ..EmulatorConfig::with_default_cards()
        })?;
        let url = format!("{}bonus/", emulator.base_url());
        println!("demo over mutual TLS against the bundled emulator at {url}");
        println!("  client certificate {}", pki.client_p12.display());

        let mut config = server.config(Some(url))?;
        config.extra_ca_file = Some(pki.ca_cert.clone());
        config.pkcs12_file = Some(pki.client_p12.clone());
        config.pkcs12_password = Some(Secret::new(DEFAULT_PKI_PASSWORD));
        config.supplier = config.supplier.or(Some(DEFAULT_SUPPLIER));
        run_demo_steps(&Client::new(config)?, card, amount)
    })();
    let _ = std::fs::remove_dir_all(&pki_dir);
    result
}

fn start_emulator(config: EmulatorConfig) -> Result<Emulator, Error> {
    Emulator::start("127.0.0.1:0", config).map_err(|error| {
        Error::new(
            Status::Connection,
            format!("the emulator could not start: {error}"),
        )
    })
}

fn run_demo_steps(client: &Client, card: &str, amount: i64) -> Result<(), Error> {
    check(client, card)?;
    spend(client, card, amount)?;
    check(client, card)
}

fn check(client: &Client, bonus_id: &str) -> Result<(), Error> {
    let balance = client.check_bonus(bonus_id)?;
    println!("check_bonus {}", balance.bonus_id);
    println!("  account   {}", balance.account);
    println!("  balance   {}", balance.amount);
    Ok(())
}

fn spend(client: &Client, bonus_id: &str, amount: i64) -> Result<(), Error> {
    let write_off = client.spend_bonus(bonus_id, amount)?;
    println!("spend_bonus {} amount {amount}", bonus_id.trim());
    println!("  spend_id  {}", write_off.spend_id);
    Ok(())
}

fn pending(journal: &Journal) -> Result<(), Error> {
    let spends = journal.pending()?;
    if spends.is_empty() {
        println!("no write-off attempts to reconcile");
    }
    for spend in spends {
        let state = match spend.state {
            PendingState::NoOutcome => "no-outcome".to_owned(),
            PendingState::OutcomeUnknown => match spend.cause {
                Some(cause) => format!("outcome-unknown ({})", cause.name()),
                None => "outcome-unknown".to_owned(),
            },
        };
        println!(
            "{} card {} amount {} supplier {} time_ms {} {state}",
            spend.attempt_id, spend.bonus_id, spend.amount, spend.supplier, spend.time_ms
        );
    }
    Ok(())
}

/// Replaces control characters with escapes, so a server's message cannot
/// move the cursor or recolour the terminal of the person reading it.
fn printable(text: &str) -> String {
    text.chars()
        .map(|character| {
            if character.is_control() {
                character.escape_default().to_string()
            } else {
                character.to_string()
            }
        })
        .collect()
}

fn report(error: &Error) {
    eprintln!("error: {}", printable(&error.to_string()));
    if error.detail() != Detail::None {
        eprintln!("  detail {}", error.detail().name());
    }
    if let Some(http_status) = error.http_status() {
        eprintln!("  HTTP status {http_status}");
    }
    if let Some(attempt_id) = error.attempt_id() {
        eprintln!("  journal attempt {attempt_id}");
    }
    if error.status() == Status::OutcomeUnknown {
        eprintln!(
            "warning: the write-off may have been executed. Do not repeat it: check the balance \
             or ask the programme's support first."
        );
    }
}
