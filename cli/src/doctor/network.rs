//! The dns, tcp and proxy steps: the host name lookup, the TCP connection
//! and the CONNECT tunnel through an HTTP proxy.
//!
//! With a proxy the library's HTTP client resolves and connects to the
//! proxy only, and the proxy resolves the bonus server's host. These steps
//! do the same.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::Step;
use super::configuration::{Proxy, Target};

/// Largest CONNECT response head read from a proxy.
const MAX_PROXY_HEAD_BYTES: usize = 16 * 1024;

/// Runs the dns step and returns the addresses found, empty on failure.
pub fn resolve(target: &Target, step: &mut Step) -> Vec<SocketAddr> {
    let (host, port) = target.first_hop();
    let url_setting = if target.proxy.is_some() {
        step.detail(format!(
            "the proxy resolves {}; this step resolves the proxy's host",
            target.host
        ));
        "the proxy URL"
    } else {
        "the URL"
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        step.detail(format!("{host} is an IP address, so no lookup is needed"));
        return vec![SocketAddr::new(ip, port)];
    }

    let timeout = target.config.connect_timeout;
    match lookup(host, port, timeout) {
        Some(Ok(addresses)) if !addresses.is_empty() => {
            let address_list: Vec<String> = addresses.iter().map(|a| a.ip().to_string()).collect();
            step.detail(format!("{host} resolves to {}", address_list.join(", ")));
            addresses
        }
        Some(Ok(_)) => {
            step.fail(
                format!("{host} resolves to no address"),
                format!(
                    "check the host name in {url_setting} and the DNS settings of this computer"
                ),
            );
            Vec::new()
        }
        Some(Err(error)) => {
            step.fail(
                format!("the host name {host:?} cannot be resolved: {error}"),
                format!(
                    "check the host name in {url_setting} and the DNS settings of this computer, for \
                     example with `nslookup {host}`"
                ),
            );
            Vec::new()
        }
        None => {
            step.fail(
                format!(
                    "the lookup of {host} did not finish within {} ms (connect_timeout_ms)",
                    timeout.as_millis()
                ),
                "check the DNS server settings of this computer",
            );
            Vec::new()
        }
    }
}

/// Resolves a host on another thread and waits at most `timeout`, because
/// the system resolver has no timeout of its own. `None` means timed out.
// NOTE: a lookup that times out keeps its thread blocked in the system
// resolver until the process exits. Doctor exits right after its steps.
fn lookup(host: &str, port: u16, timeout: Duration) -> Option<io::Result<Vec<SocketAddr>>> {
    let (sender, receiver) = mpsc::channel();
    let host = host.to_owned();
    thread::spawn(move || {
        let result = (host.as_str(), port)
            .to_socket_addrs()
            .map(|addresses| addresses.collect());
        let _ = sender.send(result);
    });
    receiver.recv_timeout(timeout).ok()
}

/// Runs the tcp step: connects to the addresses in order and returns the
/// first connection made, with its address.
pub fn connect(
    target: &Target,
    addresses: &[SocketAddr],
    step: &mut Step,
) -> Option<(TcpStream, SocketAddr)> {
    let timeout = target.config.connect_timeout;
    let mut first_error = None;
    for &address in addresses {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => {
                step.detail(format!("connected to {address}"));
                return Some((stream, address));
            }
            Err(error) => {
                step.detail(format!("{address}: {}", describe_io(&error)));
                first_error.get_or_insert((address, error));
            }
        }
    }
    if let Some((address, error)) = first_error {
        let (cause, fix) = explain_connect_failure(target, address, &error);
        step.fail(cause, fix);
    }
    None
}

fn describe_io(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".to_owned(),
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        _ => error.to_string(),
    }
}

fn explain_connect_failure(
    target: &Target,
    address: SocketAddr,
    error: &io::Error,
) -> (String, String) {
    let timeout_ms = target.config.connect_timeout.as_millis();
    let proxied = target.proxy.is_some();
    match error.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock if proxied => (
            format!("the connection to the proxy at {address} timed out after {timeout_ms} ms"),
            "check the proxy URL; a firewall between this computer and the proxy may drop the \
             connection"
                .to_owned(),
        ),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => (
            format!("the connection to {address} timed out after {timeout_ms} ms"),
            "the server drops connections from IP addresses that are not on its allow-list: ask \
             the bonus programme to register the public IP address of this computer. Otherwise a \
             firewall blocks the port"
                .to_owned(),
        ),
        io::ErrorKind::ConnectionRefused if proxied => (
            format!("the proxy at {address} refused the connection"),
            "check the port in the proxy URL and that the proxy runs".to_owned(),
        ),
        io::ErrorKind::ConnectionRefused => (
            format!("{address} refused the connection"),
            format!(
                "check the port in the URL ({}) and that the server runs",
                target.port
            ),
        ),
        _ => (
            format!("the connection to {address} failed: {error}"),
            "check the network connection and the routing of this computer".to_owned(),
        ),
    }
}

/// Runs the proxy step: sends CONNECT to the proxy to open a tunnel to the
/// bonus server, and returns the stream that carries the tunnel.
pub fn open_tunnel(
    target: &Target,
    proxy: &Proxy,
    stream: TcpStream,
    step: &mut Step,
) -> Option<TcpStream> {
    let authority = target.authority();
    step.detail(format!("CONNECT {authority}"));
    match request_tunnel(target, proxy, stream) {
        Ok(stream) => {
            step.detail("the proxy opened the tunnel (HTTP 200)");
            Some(stream)
        }
        Err(TunnelError::Status(status, reason)) => {
            step.detail(format!("the proxy responded HTTP {status} {reason}"));
            let (cause, fix) = explain_proxy_status(status, proxy, &authority);
            step.fail(cause, fix);
            None
        }
        Err(TunnelError::Invalid(message)) => {
            step.fail(
                format!("the proxy sent an invalid response to CONNECT: {message}"),
                "check that the proxy URL names an HTTP proxy that supports CONNECT",
            );
            None
        }
        Err(TunnelError::Io(error)) => {
            let cause = match error.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!(
                    "the proxy did not respond to CONNECT within {} ms",
                    target.config.connect_timeout.as_millis()
                ),
                io::ErrorKind::UnexpectedEof => {
                    "the proxy closed the connection without responding to CONNECT".to_owned()
                }
                _ => format!("the CONNECT request to the proxy failed: {error}"),
            };
            step.fail(
                cause,
                "check that the proxy URL names an HTTP proxy that supports CONNECT",
            );
            None
        }
    }
}

fn explain_proxy_status(status: u16, proxy: &Proxy, authority: &str) -> (String, String) {
    match status {
        407 if proxy.authorization.is_some() => (
            "the proxy rejected the user name and password (HTTP 407)".to_owned(),
            "check the user name and password in the proxy URL".to_owned(),
        ),
        407 => (
            "the proxy requires authentication (HTTP 407)".to_owned(),
            "put the user name and password into the proxy URL: \
             http://USER:PASSWORD@proxy:3128"
                .to_owned(),
        ),
        403 => (
            format!("the proxy does not allow connections to {authority} (HTTP 403)"),
            format!("ask the proxy's administrator to allow CONNECT to {authority}"),
        ),
        502..=504 => (
            format!("the proxy could not reach {authority} (HTTP {status})"),
            "check the host and port in the URL; the server's allow-list must contain the \
             public IP address of the proxy"
                .to_owned(),
        ),
        _ => (
            format!("the proxy refused the tunnel to {authority} (HTTP {status})"),
            "ask the proxy's administrator why it rejects CONNECT requests".to_owned(),
        ),
    }
}

#[derive(Debug)]
enum TunnelError {
    Io(io::Error),
    Status(u16, String),
    Invalid(String),
}

impl TunnelError {
    fn into_io_error(self) -> io::Error {
        match self {
            TunnelError::Io(error) => error,
            TunnelError::Status(status, reason) => io::Error::other(format!(
                "the proxy responded to CONNECT with HTTP {status} {reason}"
            )),
            TunnelError::Invalid(message) => io::Error::other(format!(
                "the proxy sent an invalid response to CONNECT: {message}"
            )),
        }
    }
}

fn request_tunnel(
    target: &Target,
    proxy: &Proxy,
    mut stream: TcpStream,
) -> Result<TcpStream, TunnelError> {
    let timeout = Some(target.config.connect_timeout);
    stream.set_read_timeout(timeout).map_err(TunnelError::Io)?;
    stream.set_write_timeout(timeout).map_err(TunnelError::Io)?;

    let authority = target.authority();
    let mut request = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: esbyt-doctor/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(authorization) = &proxy.authorization {
        request.push_str(&format!("Proxy-Authorization: {authorization}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(TunnelError::Io)?;

    let head = read_head(&mut stream)?;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(TunnelError::Invalid("incomplete response head".to_owned()));
        }
        Err(error) => return Err(TunnelError::Invalid(error.to_string())),
    }
    match response.code {
        Some(200) => Ok(stream),
        Some(status) => Err(TunnelError::Status(
            status,
            crate::printable(response.reason.unwrap_or_default()),
        )),
        None => Err(TunnelError::Invalid("no status code".to_owned())),
    }
}

/// Reads a response head byte by byte, so that no byte of the tunnel after
/// the head is consumed.
fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, TunnelError> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_PROXY_HEAD_BYTES {
            return Err(TunnelError::Invalid(format!(
                "the response head is longer than {MAX_PROXY_HEAD_BYTES} bytes"
            )));
        }
        match stream.read(&mut byte) {
            Ok(0) => {
                return Err(TunnelError::Io(io::Error::from(
                    io::ErrorKind::UnexpectedEof,
                )));
            }
            Ok(_) => head.push(byte[0]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(TunnelError::Io(error)),
        }
    }
    Ok(head)
}

/// Opens a new connection to the same address and, through a proxy, a new
/// tunnel, for the TLS step's second handshake.
pub fn reopen(target: &Target, address: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&address, target.config.connect_timeout)?;
    match &target.proxy {
        None => Ok(stream),
        Some(proxy) => request_tunnel(target, proxy, stream).map_err(TunnelError::into_io_error),
    }
}
