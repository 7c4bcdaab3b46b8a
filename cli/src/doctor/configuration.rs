//! The configuration step: the settings as the library reads them, the
//! files they name, the client certificate and the rustls configuration.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use esbyt::{Config, Error, diagnostics};
use ureq::http::Uri;

use super::certificate::{self, CertificateSummary};
use super::{Step, split_message};

/// A client certificate that expires within this many days gives a warning.
const EXPIRY_WARNING_DAYS: i64 = 30;

const FIX_SETTING: &str =
    "correct the setting named in the cause, in the --config file or on the command line";

/// The destination of the network steps, worked out from a usable configuration.
pub struct Target {
    pub config: Config,
    pub https: bool,
    /// Host of the base URL, without the brackets of an IPv6 address.
    pub host: String,
    pub port: u16,
    /// Path and query of the base URL, as sent in the request line.
    pub request_target: String,
    pub proxy: Option<Proxy>,
    /// The rustls configuration of the library, when it could be built.
    pub tls_config: Option<Arc<rustls::ClientConfig>>,
    pub client_certificate: bool,
}

impl Target {
    /// Returns `host:port` as in a CONNECT request, with brackets around an IPv6 address.
    pub fn authority(&self) -> String {
        format!("{}:{}", bracketed(&self.host), self.port)
    }

    /// Returns the Host header value: the port is left out when it is the scheme's default.
    pub fn host_header(&self) -> String {
        let default_port = if self.https { 443 } else { 80 };
        if self.port == default_port {
            bracketed(&self.host)
        } else {
            self.authority()
        }
    }

    /// Returns the host and port of the first hop: the proxy when one is set.
    pub fn first_hop(&self) -> (&str, u16) {
        match &self.proxy {
            Some(proxy) => (&proxy.host, proxy.port),
            None => (&self.host, self.port),
        }
    }
}

/// An HTTP proxy from the `proxy` setting.
pub struct Proxy {
    pub host: String,
    pub port: u16,
    /// Value of the Proxy-Authorization header when the URL has credentials.
    pub authorization: Option<String>,
}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// Runs the configuration step. Returns the target of the network steps,
/// or `None` when the URL or the proxy cannot be used at all. A problem with
/// a file or the client certificate fails the step but still returns the
/// target, so the network steps show what the server makes of it.
pub fn check(config: Result<Config, Error>, step: &mut Step) -> Option<Target> {
    let config = match config {
        Ok(config) => config,
        Err(error) => {
            let (cause, fix) = split_message(error.message(), FIX_SETTING);
            step.fail(cause, fix);
            return None;
        }
    };
    step.detail(format!("url {}", redact_password(&config.url)));
    if let Err(error) = diagnostics::check_base_url(&config) {
        let (cause, fix) = split_message(error.message(), FIX_SETTING);
        step.fail(cause, fix);
        return None;
    }
    let Some((https, host, port, request_target)) = parse_base_url(&config.url) else {
        step.fail(
            format!("url {:?} has no usable host", config.url),
            "set the base URL of the bonus server, such as https://bonus.e-sbyt.ru:888/",
        );
        return None;
    };
    describe_settings(&config, step);

    let proxy = match &config.proxy {
        None => None,
        Some(url) => match parse_proxy(url) {
            Ok(proxy) => Some(proxy),
            Err(cause) => {
                step.fail(
                    cause,
                    "set proxy to an HTTP proxy URL such as http://proxy:3128",
                );
                return None;
            }
        },
    };

    let files_readable = check_files(&config, step);
    let client_certificate = files_readable && check_client_certificate(&config, step);
    let tls_config = if files_readable {
        build_tls_config(&config, step)
    } else {
        step.detail("TLS configuration not built, because a file cannot be read");
        None
    };

    Some(Target {
        config,
        https,
        host,
        port,
        request_target,
        proxy,
        tls_config,
        client_certificate,
    })
}

/// Splits a checked base URL into scheme, host, port and request target.
fn parse_base_url(url: &str) -> Option<(bool, String, u16, String)> {
    let uri: Uri = url.parse().ok()?;
    let https = uri.scheme_str()?.eq_ignore_ascii_case("https");
    let host = uri
        .host()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let request_target = match uri.path_and_query().map(|target| target.as_str()) {
        Some(target) if target.starts_with('/') => target.to_owned(),
        Some(target) => format!("/{target}"),
        None => "/".to_owned(),
    };
    Some((https, host, port, request_target))
}

/// Parses the proxy URL as the library's HTTP client (ureq) does.
fn parse_proxy(url: &str) -> Result<Proxy, String> {
    let redacted = redact_password(url);
    if !url.starts_with("http://") {
        return Err(format!(
            "proxy {redacted:?} is invalid: expected an HTTP proxy URL such as http://proxy:3128"
        ));
    }
    let proxy =
        ureq::Proxy::new(url).map_err(|error| format!("proxy {redacted:?} is invalid: {error}"))?;
    let authorization = (proxy.username().is_some() || proxy.password().is_some()).then(|| {
        let credentials = format!(
            "{}:{}",
            proxy.username().unwrap_or_default(),
            proxy.password().unwrap_or_default()
        );
        format!("Basic {}", BASE64_STANDARD.encode(credentials))
    });
    Ok(Proxy {
        host: proxy
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port: proxy.port(),
        authorization,
    })
}

/// Returns the password of a proxy URL, for removing it from the report.
pub fn proxy_password(url: &str) -> Option<String> {
    let proxy = ureq::Proxy::new(url).ok()?;
    proxy.password().map(str::to_owned)
}

/// Returns a URL with the password of any `user:password@` replaced by `***`.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn describe_settings(config: &Config, step: &mut Step) {
    match config.supplier {
        Some(supplier) => step.detail(format!("supplier {supplier}")),
        None => step.warn(
            "supplier is not set, so write-offs will fail",
            "set supplier to the partner code of the contract (1111 on the test server)",
        ),
    }
    step.detail(format!(
        "connect timeout {} ms, call timeout {} ms",
        config.connect_timeout.as_millis(),
        config.timeout.as_millis()
    ));
    if config.server_cert_sha256.is_empty() {
        let mut sources = vec!["Mozilla's roots".to_owned()];
        if config.system_roots {
            sources.push("the system's CA store".to_owned());
        }
        if let Some(path) = &config.extra_ca_file {
            sources.push(format!("extra_ca_file {}", quoted(path)));
        }
        step.detail(format!("trusted CAs: {}", sources.join(", ")));
    } else {
        let pins = match config.server_cert_sha256.len() {
            1 => "1 SHA-256 fingerprint replaces".to_owned(),
            count => format!("{count} SHA-256 fingerprints replace"),
        };
        step.detail(format!("server certificate pinned: {pins} the CA checks"));
    }
    match &config.proxy {
        Some(url) => step.detail(format!("proxy {}", redact_password(url))),
        None => step.detail("proxy none"),
    }
}

/// Checks that every certificate, key and CA file that the configuration
/// names can be opened. Returns whether all of them can.
fn check_files(config: &Config, step: &mut Step) -> bool {
    let files = [
        ("extra_ca_file", &config.extra_ca_file),
        ("pkcs12_file", &config.pkcs12_file),
        ("client_cert_file", &config.client_cert_file),
        ("client_key_file", &config.client_key_file),
    ];
    let mut all_readable = true;
    for (setting, path) in files {
        let Some(path) = path else { continue };
        match std::fs::File::open(path).and_then(|file| file.metadata()) {
            Ok(metadata) if metadata.is_file() => step.detail(format!(
                "{setting} {} readable, {} bytes",
                quoted(path),
                metadata.len()
            )),
            Ok(_) => {
                all_readable = false;
                step.fail(
                    format!("{setting} {} is not a regular file", quoted(path)),
                    format!("set {setting} to the path of the file itself"),
                );
            }
            Err(error) => {
                all_readable = false;
                step.fail(
                    format!("{setting} {} cannot be read: {error}", quoted(path)),
                    format!(
                        "check the path and the permissions of {setting}; relative paths in a \
                         --config file resolve against that file's folder"
                    ),
                );
            }
        }
    }
    all_readable
}

/// Loads the client certificate chain with the library's checks and checks
/// the validity dates of each certificate. Returns whether a client
/// certificate is configured and loads.
fn check_client_certificate(config: &Config, step: &mut Step) -> bool {
    let chain = match diagnostics::client_certificate_chain(config) {
        Ok(Some(chain)) => chain,
        Ok(None) => {
            step.detail("client certificate none configured");
            return false;
        }
        Err(error) => {
            let (cause, fix) = split_message(error.message(), FIX_SETTING);
            step.fail(cause, fix);
            return false;
        }
    };
    let count = match chain.len() {
        1 => "1 certificate".to_owned(),
        count => format!("{count} certificates"),
    };
    step.detail(format!(
        "client certificate loads, and its key matches ({count} in the chain)"
    ));
    let now = unix_now();
    for (index, der) in chain.iter().enumerate() {
        let label = if index == 0 {
            "client certificate".to_owned()
        } else {
            format!("client chain certificate {}", index + 1)
        };
        match certificate::summarize(der) {
            Ok(summary) => {
                for line in summary.describe(&label) {
                    step.detail(line);
                }
                check_validity(&summary, &label, now, step);
            }
            Err(error) => step.warn(
                format!("{label} cannot be parsed to show its dates: {error}"),
                "check the certificate with `openssl x509 -text -noout -in FILE`",
            ),
        }
    }
    true
}

fn check_validity(summary: &CertificateSummary, label: &str, now: i64, step: &mut Step) {
    const FIX_RENEW: &str = "ask the bonus programme for a new client certificate and set it \
                             with pkcs12_file, or client_cert_file and client_key_file";
    if now < summary.not_before {
        step.fail(
            format!(
                "the {label} is not valid before {}",
                summary.not_before_text
            ),
            "check the date and time of this computer; if they are right, the certificate \
             becomes usable on that date",
        );
    } else if now > summary.not_after {
        step.fail(
            format!("the {label} expired on {}", summary.not_after_text),
            FIX_RENEW,
        );
    } else {
        let days_left = (summary.not_after - now) / 86_400;
        if days_left < EXPIRY_WARNING_DAYS {
            step.warn(
                format!(
                    "the {label} expires on {}, in {days_left} days",
                    summary.not_after_text
                ),
                FIX_RENEW,
            );
        }
    }
}

fn build_tls_config(config: &Config, step: &mut Step) -> Option<Arc<rustls::ClientConfig>> {
    match diagnostics::tls_client_config(config) {
        Ok(tls_config) => {
            step.detail("TLS configuration builds (TLS 1.2 and 1.3)");
            Some(tls_config)
        }
        Err(error) => {
            let (cause, fix) = split_message(error.message(), FIX_SETTING);
            step.fail(cause, fix);
            None
        }
    }
}

fn quoted(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// Returns the current time in seconds since 1970 UTC.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_password_of_proxy_url() {
        assert_eq!(
            redact_password("http://user:secret@proxy:3128/"),
            "http://user:***@proxy:3128/"
        );
        assert_eq!(redact_password("http://proxy:3128"), "http://proxy:3128");
        assert_eq!(
            redact_password("http://user@proxy:3128"),
            "http://user@proxy:3128"
        );
    }

    #[test]
    fn base_url_parts() {
        assert_eq!(
            parse_base_url("https://bonus.example:888/"),
            Some((true, "bonus.example".to_owned(), 888, "/".to_owned()))
        );
        assert_eq!(
            parse_base_url("http://127.0.0.1/bonus/?x=1"),
            Some((false, "127.0.0.1".to_owned(), 80, "/bonus/?x=1".to_owned()))
        );
        assert_eq!(
            parse_base_url("https://[::1]:8443"),
            Some((true, "::1".to_owned(), 8443, "/".to_owned()))
        );
    }

    #[test]
    fn proxy_credentials_become_basic_authorization() {
        let proxy = parse_proxy("http://user:pa%3Ass@127.0.0.1:3128").unwrap();
        assert_eq!(proxy.host, "127.0.0.1");
        assert_eq!(proxy.port, 3128);
        // base64 of "user:pa:ss"
        assert_eq!(
            proxy.authorization.as_deref(),
            Some("Basic dXNlcjpwYTpzcw==")
        );
        assert!(parse_proxy("socks5://127.0.0.1:1080").is_err());
    }
}
