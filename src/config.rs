//! Settings of a client, settable one at a time by name so every host
//! (C, C#, 1C, Python) can set each of them with one simple call.

use std::fmt;
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
pub const SETTING_NAMES: [&str; 21] = [
    "url",
    "supplier",
    "connect_timeout_ms",
    "timeout_ms",
    "idle_timeout_ms",
    "max_body_bytes",
    "extra_ca_file",
    "system_roots",
    "server_cert_sha256",
    "client_cert_file",
    "client_key_file",
    "client_key_password",
    "pkcs12_file",
    "pkcs12_password",
    "allow_http",
    "proxy",
    "journal_file",
    "log_file",
    "log_level",
    "log_max_bytes",
    "log_max_files",
];

/// A password: compared and cloned like a string, but never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// Returns the secret text, for the code that decrypts with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// SHA-256 fingerprint of a server certificate, 32 bytes.
pub type Fingerprint = [u8; 32];

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
    /// PEM file with CA certificates trusted in addition to Mozilla's roots
    /// and the system's, for example the Russian Trusted Root CA.
    pub extra_ca_file: Option<PathBuf>,
    /// Whether the operating system's trusted CA certificates are used besides Mozilla's.
    pub system_roots: bool,
    /// SHA-256 fingerprints of the server certificates to accept. When set,
    /// the server's certificate must be one of them, and chain and name
    /// checks are replaced by this comparison.
    pub server_cert_sha256: Vec<Fingerprint>,
    /// PEM file with the partner's client certificate, leaf first, followed
    /// by its intermediates; it may also hold the private key.
    pub client_cert_file: Option<PathBuf>,
    /// PEM file with the private key of the client certificate, when it is
    /// not in `client_cert_file`.
    pub client_key_file: Option<PathBuf>,
    /// Password of an encrypted PKCS#8 client key.
    pub client_key_password: Option<Secret>,
    /// PKCS#12 file (`.pfx`, `.p12`) with the client certificate and key.
    pub pkcs12_file: Option<PathBuf>,
    /// Password of the PKCS#12 file.
    pub pkcs12_password: Option<Secret>,
    /// Whether a plain `http://` URL is allowed. Only the partner's test server
    /// and the emulator speak plain HTTP, and there bonus ids travel unencrypted.
    pub allow_http: bool,
    /// HTTP proxy (CONNECT) URL such as `http://proxy:3128`. Proxy environment
    /// variables are never read.
    pub proxy: Option<String>,
    /// File of the spend journal, which records every write-off attempt
    /// before it is sent and its outcome afterwards.
    pub journal_file: Option<PathBuf>,
    /// Log file of the process, rotated by size. The last client created
    /// with this setting decides where the process's log goes.
    pub log_file: Option<PathBuf>,
    /// Most detailed level written to `log_file`; `ESBYT_LOG_LEVEL` overrides it.
    pub log_level: log::LevelFilter,
    /// Size in bytes at which the log file is rotated.
    pub log_max_bytes: u64,
    /// Number of rotated log files kept besides the current one.
    pub log_max_files: u32,
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
            system_roots: true,
            server_cert_sha256: Vec::new(),
            client_cert_file: None,
            client_key_file: None,
            client_key_password: None,
            pkcs12_file: None,
            pkcs12_password: None,
            allow_http: false,
            proxy: None,
            journal_file: None,
            log_file: None,
            log_level: log::LevelFilter::Info,
            log_max_bytes: crate::logging::DEFAULT_LOG_MAX_BYTES,
            log_max_files: crate::logging::DEFAULT_LOG_MAX_FILES,
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

    /// Reads every setting from a TOML file, then applies the `ESBYT_*`
    /// environment overrides; see [`crate::config_file`].
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Config, Error> {
        crate::config_file::load(path.as_ref())
    }

    /// Sets one setting by name from its text form, as the C ABI, the 1C
    /// component and configuration files pass them. The names are in
    /// [`SETTING_NAMES`]; an empty value clears an optional setting.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), Error> {
        // Passwords are taken as they are: spaces may be part of them.
        if let "client_key_password" | "pkcs12_password" = name {
            let secret = (!value.is_empty()).then(|| Secret::new(value));
            if name == "client_key_password" {
                self.client_key_password = secret;
            } else {
                self.pkcs12_password = secret;
            }
            return Ok(());
        }

        let value = value.trim();
        let path = |_: &str, v: &str| Ok(PathBuf::from(v));
        match name {
            "url" => self.url = value.to_owned(),
            "supplier" => self.supplier = parse_optional(name, value, parse_supplier)?,
            "connect_timeout_ms" => self.connect_timeout = parse_timeout(name, value)?,
            "timeout_ms" => self.timeout = parse_timeout(name, value)?,
            "idle_timeout_ms" => self.idle_timeout = parse_idle_timeout(value)?,
            "max_body_bytes" => self.max_body_bytes = parse_body_limit(value)?,
            "extra_ca_file" => self.extra_ca_file = parse_optional(name, value, path)?,
            "system_roots" => self.system_roots = parse_flag(name, value, true)?,
            "server_cert_sha256" => self.server_cert_sha256 = parse_fingerprints(value)?,
            "client_cert_file" => self.client_cert_file = parse_optional(name, value, path)?,
            "client_key_file" => self.client_key_file = parse_optional(name, value, path)?,
            "pkcs12_file" => self.pkcs12_file = parse_optional(name, value, path)?,
            "allow_http" => self.allow_http = parse_flag(name, value, false)?,
            "proxy" => self.proxy = parse_optional(name, value, |_, v| Ok(v.to_owned()))?,
            "journal_file" => self.journal_file = parse_optional(name, value, path)?,
            "log_file" => self.log_file = parse_optional(name, value, path)?,
            "log_level" => self.log_level = parse_log_level(value)?,
            "log_max_bytes" => self.log_max_bytes = parse_ranged(name, value, 4096, 1 << 40)?,
            "log_max_files" => self.log_max_files = parse_ranged(name, value, 0, 100)? as u32,
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

/// Parses `1`/`0` (also `true`/`false`, `yes`/`no`); an empty value gives the default.
fn parse_flag(name: &str, value: &str, default: bool) -> Result<bool, Error> {
    match value.to_ascii_lowercase().as_str() {
        "" => Ok(default),
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(Error::invalid_argument(format!(
            "{name} {value:?} is invalid: expected 1 or 0 (true or false)"
        ))),
    }
}

fn parse_log_level(value: &str) -> Result<log::LevelFilter, Error> {
    if value.is_empty() {
        return Ok(log::LevelFilter::Info);
    }
    crate::logging::parse_level(value).ok_or_else(|| {
        Error::invalid_argument(format!(
            "log_level {value:?} is invalid: expected off, error, warn, info, debug or trace (or 0 to 5)"
        ))
    })
}

/// Parses SHA-256 fingerprints separated by commas or semicolons. Each is 64
/// hex digits, optionally in colon-separated pairs as certificate viewers
/// and `openssl x509 -fingerprint -sha256` print them.
fn parse_fingerprints(value: &str) -> Result<Vec<Fingerprint>, Error> {
    value
        .split([',', ';'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(parse_fingerprint)
        .collect()
}

fn parse_fingerprint(text: &str) -> Result<Fingerprint, Error> {
    let digits: String = text
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    let invalid = || {
        Error::invalid_argument(format!(
            "server_cert_sha256 {text:?} is invalid: expected 64 hex digits of a SHA-256 fingerprint"
        ))
    };
    // from_str_radix alone would accept a sign, such as "+0", in each pair.
    if digits.len() != 64 || !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let mut fingerprint = [0u8; 32];
    for (index, byte) in fingerprint.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[2 * index..2 * index + 2], 16).map_err(|_| invalid())?;
    }
    Ok(fingerprint)
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
        config.set("system_roots", "0").unwrap();
        config.set("client_cert_file", "client.pem").unwrap();
        config.set("client_key_file", "client.key").unwrap();
        config.set("client_key_password", " with spaces ").unwrap();
        config.set("pkcs12_file", "client.p12").unwrap();
        config.set("pkcs12_password", "secret").unwrap();
        config.set("journal_file", "spends.journal").unwrap();
        assert_eq!(config.journal_file, Some(PathBuf::from("spends.journal")));
        assert!(!config.system_roots);
        assert_eq!(config.client_cert_file, Some(PathBuf::from("client.pem")));
        assert_eq!(config.client_key_file, Some(PathBuf::from("client.key")));
        assert_eq!(
            config.client_key_password,
            Some(Secret::new(" with spaces "))
        );
        assert_eq!(config.pkcs12_file, Some(PathBuf::from("client.p12")));
        assert_eq!(config.pkcs12_password, Some(Secret::new("secret")));
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
    fn fingerprints_in_common_notations() {
        let hex = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
        let colons: Vec<String> = hex
            .as_bytes()
            .chunks(2)
            .map(|pair| String::from_utf8(pair.to_vec()).unwrap())
            .collect();
        let mut config = Config::default();
        config
            .set(
                "server_cert_sha256",
                &format!("{}, {}", hex.to_lowercase(), colons.join(":")),
            )
            .unwrap();
        assert_eq!(config.server_cert_sha256.len(), 2);
        assert_eq!(config.server_cert_sha256[0], config.server_cert_sha256[1]);
        assert_eq!(config.server_cert_sha256[0][0], 0x9F);
        assert_eq!(config.server_cert_sha256[0][31], 0x08);

        let signed = config
            .set("server_cert_sha256", &"+0".repeat(32))
            .unwrap_err();
        assert_eq!(signed.status(), Status::InvalidArgument);
        let error = config.set("server_cert_sha256", "abcd").unwrap_err();
        assert_eq!(
            error.message(),
            "server_cert_sha256 \"abcd\" is invalid: expected 64 hex digits of a SHA-256 fingerprint"
        );
        config.set("server_cert_sha256", "").unwrap();
        assert!(config.server_cert_sha256.is_empty());
    }

    #[test]
    fn passwords_never_printed() {
        let mut config = Config::default();
        config.set("pkcs12_password", "hunter2").unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("Secret(***)"), "{printed}");
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
