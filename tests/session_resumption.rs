//! A new client reconnecting to the same HTTPS server resumes the TLS
//! session of an earlier client with the same identity, and never one made
//! with another client certificate.

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use esbyt::{Client, Config};
use rcgen::{CertificateParams, KeyPair};
use rustls::HandshakeKind;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const BALANCE: &str = "<response><account>1</account><bonus_id>2700009601205</bonus_id><amount>5</amount><result>0</result></response>";

/// Starts an HTTPS server that answers each connection once and records
/// whether its handshake was full or resumed. Returns the port and the record.
fn start_server(
    certificate: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> (u16, Arc<Mutex<Vec<HandshakeKind>>>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let kinds = Arc::new(Mutex::new(Vec::new()));
    let recorded = kinds.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut connection = rustls::ServerConnection::new(config.clone()).unwrap();
            while connection.is_handshaking() {
                if connection.complete_io(&mut stream).is_err() {
                    break;
                }
            }
            if let Some(kind) = connection.handshake_kind() {
                recorded.lock().unwrap().push(kind);
            }
            let mut tls = rustls::StreamOwned::new(connection, stream);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n")
                && std::io::Read::read(&mut tls, &mut byte).unwrap_or(0) == 1
            {
                head.push(byte[0]);
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{BALANCE}",
                BALANCE.len()
            );
            let _ = tls.write_all(response.as_bytes());
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (port, kinds)
}

#[test]
fn new_client_resumes_session() {
    let key = KeyPair::generate().unwrap();
    let certificate = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pin = esbyt::diagnostics::certificate_fingerprint(certificate.der());
    let (port, kinds) = start_server(
        certificate.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    );
    let make_client = |system_roots: &str| {
        let mut config = Config::new(format!("https://localhost:{port}/"));
        config.set("server_cert_sha256", &pin).unwrap();
        config.set("system_roots", system_roots).unwrap();
        Client::new(config).unwrap()
    };

    make_client("1").check_bonus("2700009601205").unwrap();
    make_client("1").check_bonus("2700009601205").unwrap();
    // Other trust settings make another configuration, which must not
    // resume a session that the first one made.
    make_client("0").check_bonus("2700009601205").unwrap();

    let kinds = kinds.lock().unwrap().clone();
    assert_eq!(
        kinds,
        [
            HandshakeKind::Full,
            HandshakeKind::Resumed,
            HandshakeKind::Full
        ]
    );
}
