//! A small rustls client for testing the emulator over HTTPS.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;

use esbyt_emulator::TestPki;
use esbyt_emulator::pki_types::pem::PemObject;
use esbyt_emulator::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, StreamOwned, SupportedProtocolVersion,
};

use super::{CLIENT_TIMEOUT, Client};

pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Both TLS versions that the emulator offers, for tests that run once per version.
pub const VERSIONS: [&SupportedProtocolVersion; 2] =
    [&rustls::version::TLS12, &rustls::version::TLS13];

pub fn read_certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|error| panic!("parse {}: {error}", path.display()))
}

pub fn read_key(path: &Path) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path)
        .unwrap_or_else(|error| panic!("read key {}: {error}", path.display()))
}

/// Builds a client configuration that trusts `ca_file` and, with `identity`, presents that
/// certificate and key. `version` limits the client to one TLS version.
pub fn client_config(
    ca_file: &Path,
    identity: Option<(&Path, &Path)>,
    version: &'static SupportedProtocolVersion,
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(ca_file) {
        roots.add(cert).expect("add CA certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .expect("protocol version")
        .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(read_certs(cert), read_key(key))
            .expect("client certificate and key"),
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// Builds a client that trusts the PKI's CA and presents its client certificate.
pub fn pki_client_config(
    pki: &TestPki,
    version: &'static SupportedProtocolVersion,
) -> Arc<ClientConfig> {
    client_config(
        &pki.ca_cert,
        Some((&pki.client_cert, &pki.client_key)),
        version,
    )
}

/// Connects to `addr`, sends `server_name` in SNI and checks the certificate against it,
/// and completes the handshake.
pub fn connect_as(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    server_name: &str,
) -> io::Result<TlsStream> {
    let socket = TcpStream::connect(addr)?;
    socket.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    let name = ServerName::try_from(server_name.to_string()).expect("valid server name");
    let connection = ClientConnection::new(Arc::clone(config), name).expect("client session");
    let mut stream = StreamOwned::new(connection, socket);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// Connects to `addr` as `localhost` and returns an HTTP client on the TLS stream.
pub fn connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> Client<TlsStream> {
    let stream = connect_as(addr, config, "localhost").expect("TLS handshake with the emulator");
    Client::new(stream)
}

/// Sends a check_bonus request and returns the TLS error that ends the exchange, either
/// during the handshake or on the first read. Panics when a response arrives instead.
pub fn rejected_request(addr: SocketAddr, config: &Arc<ClientConfig>) -> rustls::Error {
    let result = connect_as(addr, config, "localhost").and_then(|mut stream| {
        stream.write_all(
            b"GET /?command=check_bonus&bonus_id=1 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        )?;
        stream.flush()?;
        let mut byte = [0u8; 1];
        stream.read(&mut byte)
    });
    let error = match result {
        Ok(count) => panic!("expected a TLS failure, but read {count} bytes of a response"),
        Err(error) => error,
    };
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls_error) => tls_error.clone(),
        None => panic!("expected a TLS error, got {error:?}"),
    }
}
