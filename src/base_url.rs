//! Checks of the base URL (and the proxy URL) before any connection is made.

use crate::config::Config;
use crate::error::Error;

/// Query parameters the library sends. A base URL that already carries one
/// would send it twice, and the server might act on the wrong copy.
const PROTOCOL_PARAMETERS: [&str; 4] = ["command", "bonus_id", "supplier", "amount"];

/// Rejects a base URL the client cannot use safely.
pub fn check_base_url(config: &Config) -> Result<(), Error> {
    let url = config.url.as_str();
    if url.is_empty() {
        return Err(Error::config(
            "url is not set: set it to the base URL of the bonus server, such as https://bonus.e-sbyt.ru:888/",
        ));
    }
    let invalid = |rule: &str| Error::config(format!("url {url:?} is invalid: {rule}"));

    let uri: ureq::http::Uri = url
        .parse()
        .map_err(|_| invalid("expected http:// or https:// followed by a host"))?;
    if url.contains('#') {
        return Err(invalid("a base URL must not contain a fragment (#)"));
    }
    check_authority(&uri, false).map_err(|rule| invalid(&rule))?;
    if let Some(query) = uri.query() {
        check_query(query).map_err(|rule| invalid(&rule))?;
    }

    match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("https") => Ok(()),
        Some("http") if config.allow_http => Ok(()),
        Some("http") => Err(Error::config(format!(
            "url {url:?} uses plain HTTP, which sends participant ids unencrypted; \
             set allow_http to 1 for the partner's test server or the emulator, \
             and use the https:// URL in production"
        ))),
        _ => Err(invalid("expected http:// or https:// followed by a host")),
    }
}

/// Checks the host and port of a URL. A port outside 1 to 65535 is an error:
/// the HTTP client would otherwise fall back to the scheme's default port
/// and send the request somewhere else. Credentials (`user:password@`) are
/// allowed only where `allow_credentials` says so: a proxy may need them, the
/// bonus server never does.
pub fn check_authority(uri: &ureq::http::Uri, allow_credentials: bool) -> Result<(), String> {
    let Some(authority) = uri.authority() else {
        return Err("expected http:// or https:// followed by a host".to_owned());
    };
    if !allow_credentials && authority.as_str().contains('@') {
        return Err(
            "a URL must not contain a user name or password (user:password@), which would end up in logs"
                .to_owned(),
        );
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("expected http:// or https:// followed by a host".to_owned());
    }
    // The port is the text after the last colon that follows any credentials
    // and IPv6 brackets.
    let host_and_port = authority
        .as_str()
        .rsplit_once('@')
        .map_or(authority.as_str(), |(_, rest)| rest);
    let after_host = host_and_port
        .rsplit_once(']')
        .map_or(host_and_port, |(_, rest)| rest);
    if let Some((_, port)) = after_host.rsplit_once(':') {
        match port.parse::<u16>() {
            Ok(number) if number > 0 => {}
            _ => return Err(format!("port {port:?} is not a number from 1 to 65535")),
        }
    }
    Ok(())
}

/// Returns a URL with the password of any `user:password@` replaced by `***`,
/// for messages and logs.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials
                .split_once(':')
                .map_or(credentials, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

fn check_query(query: &str) -> Result<(), String> {
    for pair in query.split('&') {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        if PROTOCOL_PARAMETERS
            .iter()
            .any(|parameter| parameter.eq_ignore_ascii_case(name))
        {
            return Err(format!(
                "its query sets {name:?}, which the library sends itself; remove it from the base URL"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;

    fn config(url: &str, allow_http: bool) -> Config {
        Config {
            allow_http,
            ..Config::new(url)
        }
    }

    #[test]
    fn accepted_urls() {
        for url in [
            "https://bonus.example:888/",
            "HTTPS://bonus.example/",
            "https://[::1]:8443/bonus/",
            "https://bonus.example/api?key=abc",
        ] {
            assert!(check_base_url(&config(url, false)).is_ok(), "{url}");
        }
        assert!(check_base_url(&config("http://127.0.0.1:8808/bonus/", true)).is_ok());
    }

    #[test]
    fn passwords_redacted() {
        assert_eq!(
            redact_password("http://user:secret@proxy:3128"),
            "http://user:***@proxy:3128"
        );
        assert_eq!(redact_password("http://proxy:3128/"), "http://proxy:3128/");
        assert_eq!(
            redact_password("http://user@proxy:3128"),
            "http://user:***@proxy:3128"
        );
    }

    #[test]
    fn rejected_urls() {
        let cases = [
            ("", "url is not set"),
            (
                "bonus.example",
                "expected http:// or https:// followed by a host",
            ),
            (
                "ftp://h/",
                "expected http:// or https:// followed by a host",
            ),
            (
                "https:///x",
                "expected http:// or https:// followed by a host",
            ),
            ("https://h/#x", "must not contain a fragment"),
            ("http://127.0.0.1:8808/bonus/", "uses plain HTTP"),
            (
                "https://127.0.0.1:99999/",
                "port \"99999\" is not a number from 1 to 65535",
            ),
            (
                "https://127.0.0.1:65536/",
                "port \"65536\" is not a number from 1 to 65535",
            ),
            (
                "https://127.0.0.1:0/",
                "port \"0\" is not a number from 1 to 65535",
            ),
            (
                "https://[::1]:70000/",
                "port \"70000\" is not a number from 1 to 65535",
            ),
            (
                "https://user:secret@bonus.example/",
                "must not contain a user name or password",
            ),
            (
                "https://h/?bonus_id=2700009601212",
                "its query sets \"bonus_id\"",
            ),
            ("https://h/?x=1&Amount=100", "its query sets \"Amount\""),
        ];
        for (url, expected) in cases {
            let error = check_base_url(&config(url, false)).unwrap_err();
            assert_eq!(error.status(), Status::Config, "{url}");
            assert!(
                error.message().contains(expected),
                "{url}: {}",
                error.message()
            );
        }
    }
}
