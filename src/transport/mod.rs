//! The network: one HTTP GET over a ureq agent built once per client.
//!
//! The agent follows no redirects and reads no proxy from the environment.
//! It keeps the body of a 4xx or 5xx response instead of turning the status
//! into an error, reads the body as raw bytes up to a limit, and applies a
//! connect timeout and a total deadline. ureq 3.5 has no retry logic of its
//! own, so it never resends a request.

pub(crate) mod identity;
mod resolver;
pub(crate) mod tls;
mod trace;
pub(crate) mod trust;

use std::io;
use std::time::Instant;

use ureq::Agent;
use ureq::unversioned::transport::{ConnectProxyConnector, Connector, TcpConnector};

pub use trace::CallTrace;

use crate::config::Config;
use crate::error::{Error, Status};

/// An HTTP response, whatever its status.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub reason: String,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// A call that produced no complete HTTP response, with what happened on the wire.
#[derive(Debug)]
pub struct TransportFailure {
    pub error: Error,
    pub trace: CallTrace,
}

impl TransportFailure {
    /// Returns whether the request may have reached the server's application.
    /// A TLS failure means no: the server rejected the TLS session, which
    /// with TLS 1.3 can happen after the request was written but before the
    /// server processed it.
    pub fn request_may_have_arrived(&self) -> bool {
        self.trace.wrote_request && self.error.status() != Status::Tls
    }

    /// Returns whether a kept-alive connection from the pool failed before any response
    /// arrived: the usual sign of a connection the server closed while idle.
    pub fn is_dead_pooled_connection(&self) -> bool {
        !self.trace.opened_connection
            && !self.trace.received_response
            && self.error.status() == Status::Connection
    }
}

/// Choice of connection for a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionChoice {
    /// A kept-alive connection from the pool, or a new one.
    Pooled,
    /// Always a new connection, closed after the call.
    Fresh,
}

/// The HTTP side of a client. Safe to share across threads.
#[derive(Debug)]
pub struct Transport {
    pooled: Agent,
    fresh: Agent,
    max_body_bytes: u64,
}

impl Transport {
    /// Builds the agents from the configuration. Certificate files are read
    /// here, so a bad file fails at creation time, not on the first call.
    pub fn new(config: &Config) -> Result<Transport, Error> {
        let tls_config = trust::client_config(config)?;
        let proxy = match &config.proxy {
            Some(url) => Some(parse_proxy(url)?),
            None => None,
        };

        let build = |max_idle_connections: usize| {
            let agent_config = Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .max_redirects_will_error(false)
                .proxy(proxy.clone())
                .timeout_connect(Some(config.connect_timeout))
                .timeout_global(Some(config.timeout))
                .max_idle_connections(max_idle_connections)
                .max_idle_connections_per_host(max_idle_connections)
                .max_idle_age(config.idle_timeout)
                .user_agent(concat!("esbyt/", env!("CARGO_PKG_VERSION")))
                .build();
            let connector =
                ().chain(ConnectProxyConnector::default())
                    .chain(TcpConnector::default())
                    .chain(tls::TlsConnector::new(tls_config.clone()))
                    .chain(trace::TracingConnector::new(proxy.is_some()));
            let resolver = resolver::CachingResolver::new(config.idle_timeout);
            Agent::with_parts(agent_config, connector, resolver)
        };

        // A cash register needs one cached connection. A back office that
        // checks cards from many threads reuses at most this many.
        let pooled = build(16);
        let fresh = build(0);
        Ok(Transport {
            pooled,
            fresh,
            max_body_bytes: config.max_body_bytes,
        })
    }

    /// Sends one GET and returns the response with its raw body.
    ///
    /// The call ends by `deadline`, so a retry shares the deadline of the
    /// first attempt instead of getting a new one.
    pub fn get(
        &self,
        url: &str,
        choice: ConnectionChoice,
        deadline: Instant,
    ) -> Result<HttpResponse, TransportFailure> {
        let agent = match choice {
            ConnectionChoice::Pooled => &self.pooled,
            ConnectionChoice::Fresh => &self.fresh,
        };

        trace::start();
        let result = self.call(agent, url, deadline);
        let trace = trace::finish();

        result.map_err(|error| {
            let mut error = classify(error, url, self.max_body_bytes);
            // Before the request is written, only a CONNECT proxy can have
            // sent an HTTP response, so an invalid one is the proxy's.
            if !trace.wrote_request && error.status() == Status::Protocol {
                error = Error::new(
                    Status::Connection,
                    format!(
                        "the proxy sent an invalid response to CONNECT: {}",
                        error.message()
                    ),
                );
            }
            TransportFailure { error, trace }
        })
    }

    fn call(
        &self,
        agent: &Agent,
        url: &str,
        deadline: Instant,
    ) -> Result<HttpResponse, ureq::Error> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(ureq::Error::Timeout(ureq::Timeout::Global));
        }
        let mut response = agent
            .get(url)
            .config()
            .timeout_global(Some(remaining))
            .build()
            .call()?;

        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type");
        let location = header("location");
        let status = response.status();

        let body = response
            .body_mut()
            .with_config()
            .limit(self.max_body_bytes)
            .read_to_vec()?;

        Ok(HttpResponse {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or_default().to_owned(),
            content_type,
            location,
            body,
        })
    }
}

fn parse_proxy(url: &str) -> Result<ureq::Proxy, Error> {
    let shown = crate::base_url::redact_password(url);
    let invalid = |rule: &str| Error::config(format!("proxy {shown:?} is invalid: {rule}"));
    if !url.starts_with("http://") {
        return Err(invalid(
            "expected an HTTP proxy URL such as http://proxy:3128",
        ));
    }
    let uri: ureq::http::Uri = url
        .parse()
        .map_err(|_| invalid("expected an HTTP proxy URL such as http://proxy:3128"))?;
    crate::base_url::check_authority(&uri, true).map_err(|rule| invalid(&rule))?;
    ureq::Proxy::new(url).map_err(|error| invalid(&error.to_string()))
}

/// Maps a ureq error to a failure class with a message that names the server.
fn classify(error: ureq::Error, url: &str, max_body_bytes: u64) -> Error {
    let server = server_of(url);
    match error {
        ureq::Error::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => Error::new(
            Status::Timeout,
            format!(
                "connecting to {server} timed out; check the address, the network and the server's IP allow-list"
            ),
        ),
        ureq::Error::Timeout(_) => {
            Error::new(Status::Timeout, format!("{server} did not respond in time"))
        }
        ureq::Error::HostNotFound => Error::new(
            Status::Connection,
            format!("host of {server} not found; check the URL and the DNS settings"),
        ),
        ureq::Error::ConnectionFailed => {
            Error::new(Status::Connection, format!("connecting to {server} failed"))
        }
        ureq::Error::ConnectProxyFailed(reason) => Error::new(
            Status::Connection,
            format!("the proxy refused the connection to {server}: {reason}"),
        ),
        ureq::Error::Io(io_error) => classify_io(&io_error, &server),
        ureq::Error::BodyExceedsLimit(_) => Error::protocol(format!(
            "the response of {server} is larger than max_body_bytes ({max_body_bytes} bytes)"
        )),
        ureq::Error::Protocol(protocol_error) => Error::protocol(format!(
            "{server} sent an invalid HTTP response: {protocol_error}"
        )),
        ureq::Error::LargeResponseHeader(size, limit) => Error::protocol(format!(
            "{server} sent HTTP headers of {size} bytes, more than the limit of {limit}"
        )),
        ureq::Error::BadUri(reason) => Error::config(format!("url {url:?} is invalid: {reason}")),
        ureq::Error::Other(inner) => match inner.downcast::<tls::HandshakeError>() {
            Ok(handshake) if handshake.timed_out => Error::new(Status::Timeout, handshake.message),
            Ok(handshake) => {
                Error::new(Status::Tls, handshake.message).with_detail(handshake.detail)
            }
            Err(other) => Error::new(
                Status::Connection,
                format!("request to {server} failed: {other}"),
            ),
        },
        other => Error::new(
            Status::Connection,
            format!("request to {server} failed: {other}"),
        ),
    }
}

fn classify_io(error: &io::Error, server: &str) -> Error {
    match error.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            Error::new(Status::Timeout, format!("{server} did not respond in time"))
        }
        io::ErrorKind::ConnectionRefused => Error::new(
            Status::Connection,
            format!(
                "{server} refused the connection; check the port in the URL and that the server runs"
            ),
        ),
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Error::new(
            Status::Connection,
            format!("{server} reset the connection ({error})"),
        ),
        io::ErrorKind::UnexpectedEof => Error::new(
            Status::Connection,
            format!("{server} closed the connection before the response was complete"),
        ),
        _ => Error::new(
            Status::Connection,
            format!("connection to {server} failed: {error}"),
        ),
    }
}

/// Returns `host:port` of a URL for messages, without the query.
fn server_of(url: &str) -> String {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let end = without_scheme
        .find(['/', '?'])
        .unwrap_or(without_scheme.len());
    without_scheme[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_of_strips_scheme_path_and_query() {
        assert_eq!(
            server_of("https://bonus.example:888/?command=x"),
            "bonus.example:888"
        );
        assert_eq!(
            server_of("http://127.0.0.1:8808/bonus/?a=1"),
            "127.0.0.1:8808"
        );
        assert_eq!(server_of("http://h?x"), "h");
    }
}
