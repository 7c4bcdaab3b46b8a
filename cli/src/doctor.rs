//! `esbyt doctor`: checks the connection to the bonus server one step at a
//! time, with the same configuration as the library. For each step it reports
//! whether it passed and how long it took, and on failure the likely cause
//! and the fix.
//!
//! The steps, in order: `configuration`, `dns`, `tcp`, `proxy`, `tls`,
//! `http` and `check_bonus`. A step whose prerequisite failed is skipped.
//! Doctor never writes bonuses off: the `http` step sends a request without
//! a command, and `check_bonus` only reads a balance.

mod certificate;
mod configuration;
mod http;
mod network;
mod report;
mod tls;

use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Instant;

use esbyt::{Client, Config, Error, Status, mask_bonus_id};

use configuration::Target;
use tls::Connection;

/// Exit code when at least one step failed.
const EXIT_STEP_FAILED: u8 = 1;

/// Result of one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StepStatus {
    Skip,
    Pass,
    Warn,
    Fail,
}

impl StepStatus {
    pub fn label(self) -> &'static str {
        match self {
            StepStatus::Pass => "PASS",
            StepStatus::Warn => "WARN",
            StepStatus::Fail => "FAIL",
            StepStatus::Skip => "SKIP",
        }
    }
}

/// One checked step: what it found, and for a warning or failure the cause
/// and the fix.
#[derive(Debug)]
pub struct Step {
    pub name: &'static str,
    pub status: StepStatus,
    pub time_ms: u64,
    pub details: Vec<String>,
    pub cause: Option<String>,
    pub fix: Option<String>,
}

impl Step {
    fn new(name: &'static str) -> Step {
        Step {
            name,
            status: StepStatus::Pass,
            time_ms: 0,
            details: Vec::new(),
            cause: None,
            fix: None,
        }
    }

    fn skipped(name: &'static str, reason: impl Into<String>) -> Step {
        let mut step = Step::new(name);
        step.status = StepStatus::Skip;
        step.details.push(reason.into());
        step
    }

    fn detail(&mut self, text: impl Into<String>) {
        self.details.push(text.into());
    }

    fn warn(&mut self, cause: impl Into<String>, fix: impl Into<String>) {
        self.problem(StepStatus::Warn, cause.into(), fix.into());
    }

    fn fail(&mut self, cause: impl Into<String>, fix: impl Into<String>) {
        self.problem(StepStatus::Fail, cause.into(), fix.into());
    }

    /// Records a problem. The first problem of the highest severity becomes
    /// the step's cause and fix. Every other problem is kept as a detail, so
    /// none is lost.
    fn problem(&mut self, status: StepStatus, cause: String, fix: String) {
        if status > self.status {
            if let (Some(old_cause), Some(old_fix)) = (self.cause.take(), self.fix.take()) {
                self.details.push(format!(
                    "{}: {old_cause}. Fix: {old_fix}",
                    self.status.label()
                ));
            }
            self.status = status;
            self.cause = Some(cause);
            self.fix = Some(fix);
        } else {
            self.details
                .push(format!("{}: {cause}. Fix: {fix}", status.label()));
        }
    }

    fn failed(&self) -> bool {
        self.status == StepStatus::Fail
    }
}

/// Runs `check` as step `name` and records its duration.
fn timed<T>(name: &'static str, check: impl FnOnce(&mut Step) -> T) -> (Step, T) {
    let mut step = Step::new(name);
    let started = Instant::now();
    let value = check(&mut step);
    step.time_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    (step, value)
}

/// Runs every step, prints the report and returns 0 only when no step failed.
///
/// `config` is the configuration as the other commands build it. An error
/// there fails the configuration step instead of ending the command, so the
/// report still shows it.
pub fn run(config: Result<Config, Error>, card: Option<&str>, json: bool) -> ExitCode {
    let secrets = report::Secrets::new(config.as_ref().ok(), card);
    let url = config.as_ref().map(|config| config.url.clone()).ok();
    let steps = run_steps(config, card);

    let mut report = report::Report {
        url: url.map(|url| configuration::redact_password(&url)),
        steps,
    };
    secrets.scrub(&mut report);
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_STEP_FAILED)
    }
}

const STEPS_AFTER_CONFIGURATION: [&str; 6] = ["dns", "tcp", "proxy", "tls", "http", "check_bonus"];

fn run_steps(config: Result<Config, Error>, card: Option<&str>) -> Vec<Step> {
    let (step, target) = timed("configuration", |step| configuration::check(config, step));
    let mut steps = vec![step];
    let Some(target) = target else {
        skip_remaining(&mut steps, "the configuration cannot be used");
        return steps;
    };

    let (step, addresses) = timed("dns", |step| network::resolve(&target, step));
    steps.push(step);
    if addresses.is_empty() {
        skip_remaining(&mut steps, "the dns step failed");
        return steps;
    }

    let (step, connected) = timed("tcp", |step| network::connect(&target, &addresses, step));
    steps.push(step);
    let Some((stream, address)) = connected else {
        skip_remaining(&mut steps, "the tcp step failed");
        return steps;
    };

    let stream = match &target.proxy {
        None => {
            steps.push(Step::skipped("proxy", "no proxy is configured"));
            stream
        }
        Some(proxy) => {
            let (step, tunnel) = timed("proxy", |step| {
                network::open_tunnel(&target, proxy, stream, step)
            });
            steps.push(step);
            let Some(tunnel) = tunnel else {
                skip_remaining(&mut steps, "the proxy step failed");
                return steps;
            };
            tunnel
        }
    };

    let Some(connection) = secure(&target, stream, address, &mut steps) else {
        skip_remaining(&mut steps, "the tls step failed or could not run");
        return steps;
    };

    let (step, ()) = timed("http", |step| http::round_trip(&target, connection, step));
    steps.push(step);

    steps.push(match card {
        None => Step::skipped(
            "check_bonus",
            "no --card given: add --card BONUS_ID to check a balance through the library",
        ),
        Some(_) if steps.iter().any(Step::failed) => {
            Step::skipped("check_bonus", "skipped because an earlier step failed")
        }
        Some(card) => {
            timed("check_bonus", |step| {
                check_bonus(&target.config, card, step)
            })
            .0
        }
    });
    steps
}

/// Runs the TLS step for an https URL and returns the connection the HTTP
/// step uses: the verified TLS session, or the TCP stream for an http URL.
fn secure(
    target: &Target,
    stream: TcpStream,
    address: SocketAddr,
    steps: &mut Vec<Step>,
) -> Option<Connection> {
    if !target.https {
        steps.push(Step::skipped(
            "tls",
            "the URL is plain http://, without TLS",
        ));
        return Some(Connection::Plain(stream));
    }
    let Some(tls_config) = &target.tls_config else {
        steps.push(Step::skipped(
            "tls",
            "the TLS configuration could not be built: see the configuration step",
        ));
        return None;
    };
    let reconnect = || network::reopen(target, address);
    let (step, connection) = timed("tls", |step| {
        tls::handshake(target, tls_config, stream, reconnect, step)
    });
    steps.push(step);
    connection
}

fn skip_remaining(steps: &mut Vec<Step>, reason: &str) {
    let done: Vec<&str> = steps.iter().map(|step| step.name).collect();
    for name in STEPS_AFTER_CONFIGURATION {
        if !done.contains(&name) {
            steps.push(Step::skipped(name, format!("skipped because {reason}")));
        }
    }
}

/// Checks a balance through [`esbyt::Client`], exactly as a cash register
/// does. The spend journal is left out, because doctor writes nothing off.
fn check_bonus(config: &Config, card: &str, step: &mut Step) {
    let mut config = config.clone();
    config.journal_file = None;
    step.detail(format!("card {}", mask_bonus_id(card)));
    let result = Client::new(config).and_then(|client| client.check_bonus(card));
    match result {
        Ok(balance) => {
            step.detail(format!("account {}", crate::printable(&balance.account)));
            step.detail(format!("balance {}", balance.amount));
        }
        Err(error) => {
            step.detail(format!("library status {}", error.status().name()));
            if error.detail() != esbyt::Detail::None {
                step.detail(format!("library detail {}", error.detail().name()));
            }
            if let Some(server_code) = error.server_code() {
                step.detail(format!("server result {server_code}"));
            }
            if let Some(http_status) = error.http_status() {
                step.detail(format!("HTTP status {http_status}"));
            }
            let default_fix = if error.status() == Status::Server {
                "the server rejected the balance check: check the card number, or ask the bonus \
                 programme's support about the result code"
            } else {
                "the message names the failing value: compare it with the earlier steps"
            };
            let (cause, fix) = split_message(&crate::printable(error.message()), default_fix);
            step.fail(cause, fix);
        }
    }
}

/// Splits a library message into its cause and its fix. Many library
/// messages join the two with "; ". A message without that separator becomes
/// the cause as a whole, and `default_fix` the fix.
fn split_message(message: &str, default_fix: &str) -> (String, String) {
    match message.split_once("; ") {
        Some((cause, fix)) => (cause.to_owned(), fix.to_owned()),
        None => (message.to_owned(), default_fix.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_keeps_most_severe_as_cause() {
        let mut step = Step::new("configuration");
        step.warn("expires soon", "renew it");
        step.fail("file missing", "fix the path");
        step.warn("other warning", "do something");

        assert_eq!(step.status, StepStatus::Fail);
        assert_eq!(step.cause.as_deref(), Some("file missing"));
        assert_eq!(step.fix.as_deref(), Some("fix the path"));
        assert_eq!(
            step.details,
            [
                "WARN: expires soon. Fix: renew it",
                "WARN: other warning. Fix: do something"
            ]
        );
    }

    #[test]
    fn split_message_at_first_separator() {
        assert_eq!(
            split_message("cause text; fix one; fix two", "default"),
            ("cause text".to_owned(), "fix one; fix two".to_owned())
        );
        assert_eq!(
            split_message("no separator here", "default"),
            ("no separator here".to_owned(), "default".to_owned())
        );
    }
}
