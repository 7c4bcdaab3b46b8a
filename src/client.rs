//! The Rust API: a client that checks balances and writes bonuses off.

use std::time::{Duration, Instant};

use crate::base_url::check_base_url;
use crate::config::Config;
use crate::error::{Error, Status};
use crate::journal::{Journal, Outcome, PendingSpend};
use crate::protocol::{self, Balance, BonusId, Request, WriteOff};
use crate::transport::{ConnectionChoice, HttpResponse, Transport, TransportFailure};

/// A client of the bonus server. Create one per server and share it: every
/// method takes `&self` and may run concurrently from several threads, and
/// kept-alive connections are reused across calls.
#[derive(Debug)]
pub struct Client {
    base_url: String,
    timeout: Duration,
    supplier: Option<i64>,
    transport: Transport,
    journal: Option<Journal>,
}

impl Client {
    /// Creates a client. The URL, the proxy and the CA file are checked here,
    /// so a bad configuration fails now and not on the first call.
    pub fn new(config: Config) -> Result<Client, Error> {
        check_base_url(&config)?;
        let transport = Transport::new(&config)?;
        let journal = config
            .journal_file
            .as_deref()
            .map(Journal::open)
            .transpose()?;
        install_log_file(&config)?;
        log::info!("{}", startup_summary(&config));
        Ok(Client {
            base_url: config.url,
            timeout: config.timeout,
            supplier: config.supplier,
            transport,
            journal,
        })
    }

    /// Returns the balance of a participant. `bonus_id` is trimmed of
    /// surrounding whitespace and must then be 1 to 13 digits.
    ///
    /// A balance check changes nothing on the server, so when a kept-alive
    /// connection turns out to be dead it is retried once on a new connection.
    pub fn check_bonus(&self, bonus_id: &str) -> Result<Balance, Error> {
        let started = Instant::now();
        let result = self.run_check_bonus(bonus_id);
        log_call("check_bonus", bonus_id, None, started, &result, |balance| {
            format!("balance={}", balance.amount)
        });
        result
    }

    /// Writes `amount` bonuses off a participant's balance with the configured
    /// supplier code, and returns the write-off number.
    ///
    /// The request is sent at most once, on a new connection, so a kept-alive
    /// connection that the server closed while idle cannot make the outcome
    /// of a write-off unknown. When the request may have reached the server but no
    /// valid response came back, the error is [`Status::OutcomeUnknown`]: the
    /// write-off may have been executed, and resending it blindly can spend
    /// the bonuses twice.
    pub fn spend_bonus(&self, bonus_id: &str, amount: i64) -> Result<WriteOff, Error> {
        let started = Instant::now();
        let result = self.run_spend_bonus(bonus_id, amount);
        log_call(
            "spend_bonus",
            bonus_id,
            Some(amount),
            started,
            &result,
            |write_off| format!("spend_id={}", write_off.spend_id),
        );
        result
    }

    fn run_check_bonus(&self, bonus_id: &str) -> Result<Balance, Error> {
        let bonus_id = BonusId::parse(bonus_id)?;
        let url = Request::CheckBonus {
            bonus_id: bonus_id.clone(),
        }
        .url(&self.base_url);

        let deadline = Instant::now() + self.timeout;
        let response = match self.transport.get(&url, ConnectionChoice::Pooled, deadline) {
            Err(failure) if failure.is_dead_pooled_connection() => {
                log::debug!(
                    "kept-alive connection was dead ({}); retrying once on a new connection",
                    failure.error
                );
                self.transport.get(&url, ConnectionChoice::Fresh, deadline)
            }
            other => other,
        };
        let response = response.map_err(|failure| failure.error)?;

        let balance = interpret(&response, protocol::parse_check_bonus)?;
        if balance.bonus_id != bonus_id.as_str() {
            return Err(Error::protocol(format!(
                "the server returned the balance of participant {:?}, but the request was for {:?}",
                balance.bonus_id,
                bonus_id.as_str()
            )));
        }
        Ok(balance)
    }

    /// Returns the write-off attempts of the spend journal whose outcome is
    /// missing (the process stopped mid-call) or unknown, and that are not
    /// marked resolved, oldest first.
    pub fn pending_spends(&self) -> Result<Vec<PendingSpend>, Error> {
        self.journal()?.pending()
    }

    /// Marks a journal attempt resolved after the host reconciled it, for
    /// example by checking the balance or asking the programme's support.
    /// The note is stored with it.
    pub fn resolve_spend(&self, attempt_id: &str, note: &str) -> Result<(), Error> {
        self.journal()?.resolve(attempt_id.trim(), note)
    }

    fn journal(&self) -> Result<&Journal, Error> {
        self.journal.as_ref().ok_or_else(|| {
            Error::config("journal_file is not set: set it to the file of the spend journal")
        })
    }

    fn run_spend_bonus(&self, bonus_id: &str, amount: i64) -> Result<WriteOff, Error> {
        let bonus_id = BonusId::parse(bonus_id)?;
        let amount = protocol::validate_amount(amount)?;
        let supplier = self.supplier.ok_or_else(|| {
            Error::config(
                "supplier is not set: set it to the partner code issued with the contract (1111 on the test server)",
            )
        })?;
        // `Config::supplier` is a public field, so a Rust caller can bypass `Config::set`.
        let supplier = protocol::validate_supplier(supplier)?;

        // The attempt reaches stable storage before the request leaves, so a
        // crash at any later point leaves a trace to reconcile.
        let attempt_id = match &self.journal {
            Some(journal) => Some(journal.record_attempt(bonus_id.as_str(), supplier, amount)?),
            None => None,
        };
        let url = Request::SpendBonus {
            bonus_id,
            supplier,
            amount,
        }
        .url(&self.base_url);

        let result = self.send_spend(&url);
        if let (Some(journal), Some(attempt_id)) = (&self.journal, &attempt_id) {
            record_outcome(journal, attempt_id, &result);
        }
        match result {
            Ok(write_off) => Ok(WriteOff {
                attempt_id,
                ..write_off
            }),
            Err(error) => Err(error.with_attempt_id(attempt_id)),
        }
    }

    fn send_spend(&self, url: &str) -> Result<WriteOff, Error> {
        let response = self
            .transport
            .get(url, ConnectionChoice::Fresh, Instant::now() + self.timeout)
            .map_err(spend_failure)?;

        interpret(&response, protocol::parse_spend_bonus).map_err(|error| match error.status() {
            Status::Server => error,
            _ => error.into_outcome_unknown(),
        })
    }
}

/// Opens the configured log file. `ESBYT_LOG_LEVEL` overrides the level for
/// support situations.
fn install_log_file(config: &Config) -> Result<(), Error> {
    let Some(path) = &config.log_file else {
        return Ok(());
    };
    let level = std::env::var("ESBYT_LOG_LEVEL")
        .ok()
        .and_then(|text| crate::logging::parse_level(&text))
        .unwrap_or(config.log_level);
    crate::logging::set_file(path, level, config.log_max_bytes, config.log_max_files)
}

/// Describes the library and the client's configuration for the first log
/// line, without passwords.
fn startup_summary(config: &Config) -> String {
    let identity = match (&config.pkcs12_file, &config.client_cert_file) {
        (Some(path), _) => format!("PKCS#12 {}", path.display()),
        (None, Some(path)) => format!("PEM {}", path.display()),
        (None, None) => "none".to_owned(),
    };
    let optional = |path: &Option<std::path::PathBuf>| {
        path.as_ref()
            .map_or("none".to_owned(), |path| path.display().to_string())
    };
    format!(
        "esbyt {} (ABI {}, {} {}) client for {}: supplier {}, client certificate {identity}, \
         extra CA {}, system roots {}, pinned certificates {}, journal {}, proxy {}, \
         connect timeout {} ms, timeout {} ms",
        env!("CARGO_PKG_VERSION"),
        crate::ffi::ESBYT_ABI_VERSION,
        std::env::consts::OS,
        std::env::consts::ARCH,
        config.url,
        config
            .supplier
            .map_or("not set".to_owned(), |code| code.to_string()),
        optional(&config.extra_ca_file),
        if config.system_roots { "on" } else { "off" },
        config.server_cert_sha256.len(),
        optional(&config.journal_file),
        config
            .proxy
            .as_deref()
            .map_or("none".to_owned(), crate::base_url::redact_password),
        config.connect_timeout.as_millis(),
        config.timeout.as_millis(),
    )
}

/// Appends the outcome of an attempt. A failure here is logged, not
/// returned: the write-off already has its result, and the attempt without
/// an outcome stays pending, so the host reconciles it.
fn record_outcome(journal: &Journal, attempt_id: &str, result: &Result<WriteOff, Error>) {
    let outcome = match result {
        Ok(write_off) => Outcome::Ok {
            spend_id: write_off.spend_id.clone(),
        },
        Err(error) => match error.status() {
            Status::Server => Outcome::Refused {
                server_code: error.server_code().unwrap_or_default(),
                message: error.message().to_owned(),
            },
            Status::OutcomeUnknown => Outcome::Unknown {
                cause: error.cause().unwrap_or(Status::Internal),
                message: error.message().to_owned(),
            },
            status => Outcome::NotSent { status },
        },
    };
    if let Err(error) = journal.record_outcome(attempt_id, &outcome) {
        log::error!("write-off attempt {attempt_id}: outcome not recorded in the journal: {error}");
    }
}

/// Classifies a write-off that got no complete HTTP response.
fn spend_failure(failure: TransportFailure) -> Error {
    if failure.request_may_have_arrived() {
        failure.error.into_outcome_unknown()
    } else {
        failure.error
    }
}

/// Turns an HTTP response into a result. An XML error document is a server
/// error whatever the HTTP status; any other non-2xx response is an HTTP error.
fn interpret<T>(
    response: &HttpResponse,
    parse: fn(&[u8], Option<&str>) -> Result<T, Error>,
) -> Result<T, Error> {
    let parsed = parse(&response.body, response.content_type.as_deref());
    let is_success = (200..300).contains(&response.status);
    match parsed {
        Err(error) if error.status() == Status::Server => {
            Err(error.with_http_status(response.status))
        }
        Ok(value) if is_success => Ok(value),
        Err(error) if is_success => Err(error.with_http_status(response.status)),
        _ => Err(http_error(response)),
    }
}

fn http_error(response: &HttpResponse) -> Error {
    let mut message = format!(
        "the server responded with HTTP {} {} without a protocol error document",
        response.status, response.reason
    );
    if (300..400).contains(&response.status) {
        let target = response
            .location
            .as_deref()
            .unwrap_or("an unknown location");
        message.push_str(&format!(
            "; the redirect to {target} was not followed because a write-off must never be replayed at another address"
        ));
    }
    Error::new(Status::Http, message.trim_end().to_owned()).with_http_status(response.status)
}

/// Masks a participant id for logs: the first four and last three digits stay.
pub fn mask_bonus_id(bonus_id: &str) -> String {
    let trimmed = bonus_id.trim();
    let characters: Vec<char> = trimmed.chars().collect();
    if characters.len() <= 7 {
        return "*".repeat(characters.len());
    }
    characters
        .iter()
        .enumerate()
        .map(|(index, &character)| {
            if index < 4 || index >= characters.len() - 3 {
                character
            } else {
                '*'
            }
        })
        .collect()
}

fn log_call<T>(
    command: &str,
    bonus_id: &str,
    amount: Option<i64>,
    started: Instant,
    result: &Result<T, Error>,
    describe: impl Fn(&T) -> String,
) {
    let card = mask_bonus_id(bonus_id);
    let duration_ms = started.elapsed().as_millis();
    let amount = amount
        .map(|amount| format!(" amount={amount}"))
        .unwrap_or_default();
    match result {
        Ok(value) => log::info!(
            "{command} card={card}{amount} duration_ms={duration_ms} status=ESBYT_OK {}",
            describe(value)
        ),
        Err(error) => log::info!(
            "{command} card={card}{amount} duration_ms={duration_ms} status={} server_code={} error={}",
            error.status(),
            error
                .server_code()
                .map(|code| code.to_string())
                .unwrap_or_else(|| "-".to_owned()),
            error.message()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_bonus_id_keeps_four_and_three() {
        assert_eq!(mask_bonus_id("2700009601205"), "2700******205");
        assert_eq!(mask_bonus_id(" 12345678\r\n"), "1234*678");
        assert_eq!(mask_bonus_id("1234567"), "*******");
    }

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            reason: "Reason".to_owned(),
            content_type: None,
            location: Some("http://elsewhere/".to_owned()),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn error_document_is_server_error_whatever_the_status() {
        let body = "<response><result>4</result><message>Ошибка</message></response>";
        for status in [200, 400, 500] {
            let error =
                interpret(&response(status, body), protocol::parse_spend_bonus).unwrap_err();
            assert_eq!(error.status(), Status::Server);
            assert_eq!(error.server_code(), Some(4));
            assert_eq!(error.http_status(), Some(status));
            assert_eq!(error.message(), "Ошибка");
        }
    }

    #[test]
    fn non_2xx_without_document_is_http_error() {
        for (status, body) in [
            (502, "<html>bad gateway</html>"),
            (500, ""),
            (
                404,
                "<response><spend_id>1</spend_id><result>0</result></response>",
            ),
        ] {
            let error =
                interpret(&response(status, body), protocol::parse_spend_bonus).unwrap_err();
            assert_eq!(error.status(), Status::Http, "{status}");
            assert_eq!(error.http_status(), Some(status));
            assert!(
                error
                    .message()
                    .starts_with(&format!("the server responded with HTTP {status}"))
            );
        }
        let error = interpret(&response(302, ""), protocol::parse_spend_bonus).unwrap_err();
        assert!(
            error
                .message()
                .contains("redirect to http://elsewhere/ was not followed"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn success_status_with_bad_body_is_protocol_error() {
        let error =
            interpret(&response(200, "<response>"), protocol::parse_spend_bonus).unwrap_err();
        assert_eq!(error.status(), Status::Protocol);
        assert_eq!(error.http_status(), Some(200));
    }
}
