//! Settings of a client, settable one at a time by name so every host
//! (C, C#, 1C, Python) can set each of them with one simple call.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
use crate::protocol::validate_supplier;

/// Default time allowed for DNS resolution and the TCP and TLS connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Default deadline for a whole call, connection included. A customer is
/// waiting at the till, so it is far shorter than the usual HTTP client default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Default time a kept-alive connection may stay idle before it is closed
/// instead of reused: below the 5 s keep-alive timeout that Apache httpd uses
/// by default, so the library rarely picks a connection the server is closing.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// Default limit of a response body. The protocol's responses are a few hundred bytes.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 64 * 1024;

const MAX_TIMEOUT_MS: u64 = 600_000;
const MIN_BODY_BYTES: u64 = 1024;
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;

/// Names of the settings accepted by [`Config::set`].
pub const SETTING_NAMES: [&str; 9] = [
    "url",
    "supplier",
    "connect_timeout_ms",
    "timeout_ms",
    "idle_timeout_ms",
    "max_body_bytes",
    "extra_ca_file",
    "allow_http",
    "proxy",
];

/// Settings of a [`crate::Client`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Base URL that the query string is appended to, such as `https://bonus.e-sbyt.ru:888/`.
    pub url: String,
    /// Partner (supplier) code issued with the contract; required for write-offs.
    pub supplier: Option<i64>,
    /// Time allowed for DNS resolution and the TCP and TLS connection.
    pub connect_timeout: Duration,
    /// Deadline for a whole call, connection included.
    pub timeout: Duration,
    /// Time a kept-alive connection may stay idle and still be reused.
    pub idle_timeout: Duration,
    /// Maximum size of a response body in bytes.
    pub max_body_bytes: u64,
    /// PEM file with CA certificates trusted in addition to Mozilla's roots.
    pub extra_ca_file: Option<PathBuf>,
    /// Whether a plain `http://` URL is allowed. Only the partner's test server
    /// and the emulator speak plain HTTP, and there bonus ids travel unencrypted.
    pub allow_http: bool,
    /// HTTP proxy (CONNECT) URL such as `http://proxy:3128`. Proxy environment
    /// variables are never read.
    pub proxy: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            url: String::new(),
            supplier: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            extra_ca_file: None,
            allow_http: false,
            proxy: None,
        }
    }
}

impl Config {
    /// Creates a configuration for a base URL with every other setting at its default.
    pub fn new(url: impl Into<String>) -> Config {
        Config {
            url: url.into(),
            ..Config::default()
        }
    }

    /// Sets one setting by name from its text form, as the C ABI, the 1C
    /// component and configuration files pass them. The names are in
    /// [`SETTING_NAMES`]; an empty value clears an optional setting.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let value = value.trim();
        match name {
            "url" => self.url = value.to_owned(),
            "supplier" => self.supplier = parse_optional(name, value, parse_supplier)?,
            "connect_timeout_ms" => self.connect_timeout = parse_timeout(name, value)?,
            "timeout_ms" => self.timeout = parse_timeout(name, value)?,
            "idle_timeout_ms" => self.idle_timeout = parse_idle_timeout(value)?,
            "max_body_bytes" => self.max_body_bytes = parse_body_limit(value)?,
            "extra_ca_file" => {
                self.extra_ca_file = parse_optional(name, value, |_, v| Ok(PathBuf::from(v)))?
            }
            "allow_http" => self.allow_http = parse_flag(name, value)?,
            "proxy" => self.proxy = parse_optional(name, value, |_, v| Ok(v.to_owned()))?,
            _ => {
                return Err(Error::invalid_argument(format!(
                    "unknown setting {name:?}: expected one of {}",
                    SETTING_NAMES.join(", ")
                )));
            }
        }
        Ok(())
    }
}

fn parse_optional<T>(
    name: &str,
    value: &str,
    parse: impl Fn(&str, &str) -> Result<T, Error>,
) -> Result<Option<T>, Error> {
    if value.is_empty() {
        Ok(None)
    } else {
        parse(name, value).map(Some)
    }
}

fn parse_integer(name: &str, value: &str, rule: &str) -> Result<i64, Error> {
    value.parse::<i64>().map_err(|_| {
        Error::invalid_argument(format!("{name} {value:?} is invalid: expected {rule}"))
    })
}

fn parse_supplier(name: &str, value: &str) -> Result<i64, Error> {
    let supplier = parse_integer(name, value, "an integer from 1 to 2147483647")?;
    validate_supplier(supplier)
}

fn parse_ranged(name: &str, value: &str, min: u64, max: u64) -> Result<u64, Error> {
    let rule = format!("an integer from {min} to {max}");
    let number = parse_integer(name, value, &rule)?;
    match u64::try_from(number) {
        Ok(number) if (min..=max).contains(&number) => Ok(number),
        _ => Err(Error::invalid_argument(format!(
            "{name} {value:?} is invalid: expected {rule}"
        ))),
    }
}

fn parse_timeout(name: &str, value: &str) -> Result<Duration, Error> {
    parse_ranged(name, value, 1, MAX_TIMEOUT_MS).map(Duration::from_millis)
}

fn parse_idle_timeout(value: &str) -> Result<Duration, Error> {
    parse_ranged("idle_timeout_ms", value, 0, MAX_TIMEOUT_MS).map(Duration::from_millis)
}

fn parse_body_limit(value: &str) -> Result<u64, Error> {
    parse_ranged("max_body_bytes", value, MIN_BODY_BYTES, MAX_BODY_BYTES)
}

fn parse_flag(name: &str, value: &str) -> Result<bool, Error> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" | "" => Ok(false),
        _ => Err(Error::invalid_argument(format!(
            "{name} {value:?} is invalid: expected 1 or 0 (true or false)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;

    #[test]
    fn defaults() {
        let config = Config::new("https://h:888/");
        assert_eq!(config.url, "https://h:888/");
        assert_eq!(config.timeout, Duration::from_secs(15));
        assert_eq!(config.connect_timeout, Duration::from_secs(5));
        assert!(!config.allow_http);
        assert_eq!(config.proxy, None);
        assert_eq!(config.supplier, None);
    }

    #[test]
    fn set_every_setting() {
        let mut config = Config::default();
        config.set("url", " http://127.0.0.1:8808/bonus/ ").unwrap();
        config.set("supplier", "1111").unwrap();
        config.set("connect_timeout_ms", "250").unwrap();
        config.set("timeout_ms", "3000").unwrap();
        config.set("idle_timeout_ms", "0").unwrap();
        config.set("max_body_bytes", "2048").unwrap();
        config.set("extra_ca_file", "/etc/ca.pem").unwrap();
        config.set("allow_http", "TRUE").unwrap();
        config.set("proxy", "http://proxy:3128").unwrap();
        assert_eq!(config.url, "http://127.0.0.1:8808/bonus/");
        assert_eq!(config.supplier, Some(1111));
        assert_eq!(config.connect_timeout, Duration::from_millis(250));
        assert_eq!(config.timeout, Duration::from_secs(3));
        assert_eq!(config.idle_timeout, Duration::ZERO);
        assert_eq!(config.max_body_bytes, 2048);
        assert_eq!(config.extra_ca_file, Some(PathBuf::from("/etc/ca.pem")));
        assert!(config.allow_http);
        assert_eq!(config.proxy.as_deref(), Some("http://proxy:3128"));

        config.set("proxy", "").unwrap();
        config.set("supplier", "").unwrap();
        assert_eq!(config.proxy, None);
        assert_eq!(config.supplier, None);
    }

    #[test]
    fn bad_values_name_the_setting_and_rule() {
        let mut config = Config::default();
        let cases = [
            (
                "supplier",
                "0",
                "supplier 0 is invalid: expected an integer from 1 to 2147483647",
            ),
            (
                "supplier",
                "12a",
                "supplier \"12a\" is invalid: expected an integer from 1 to 2147483647",
            ),
            (
                "timeout_ms",
                "0",
                "timeout_ms \"0\" is invalid: expected an integer from 1 to 600000",
            ),
            (
                "timeout_ms",
                "-5",
                "timeout_ms \"-5\" is invalid: expected an integer from 1 to 600000",
            ),
            (
                "max_body_bytes",
                "10",
                "max_body_bytes \"10\" is invalid: expected an integer from 1024 to 16777216",
            ),
            (
                "allow_http",
                "maybe",
                "allow_http \"maybe\" is invalid: expected 1 or 0 (true or false)",
            ),
        ];
        for (name, value, expected) in cases {
            let error = config.set(name, value).unwrap_err();
            assert_eq!(error.status(), Status::InvalidArgument);
            assert_eq!(error.message(), expected);
        }
        assert_eq!(
            config,
            Config::default(),
            "a rejected value must leave the setting unchanged"
        );
    }

    #[test]
    fn unknown_setting_lists_the_names() {
        let error = Config::default().set("timeout", "5").unwrap_err();
        assert!(
            error
                .message()
                .starts_with("unknown setting \"timeout\": expected one of url, supplier")
        );
    }
}
