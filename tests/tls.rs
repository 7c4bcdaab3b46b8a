//! HTTPS against a rustls server on loopback with certificates generated in
//! the test: trust through the extra CA file, and the TLS failures a
//! cashier's administrator must be able to tell apart.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use esbyt::{Client, Config, Status};
use esbyt_emulator::TEST_BONUS_ID;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use support::protocol_body;
use time::{Duration, OffsetDateTime};

/// A private CA and a server certificate it signed.
struct Pki {
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
}

fn make_pki(server_names: &[&str], not_after: OffsetDateTime) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_certificate = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let names: Vec<String> = server_names.iter().map(|name| (*name).to_owned()).collect();
    let mut server_params = CertificateParams::new(names).unwrap();
    server_params.not_before = OffsetDateTime::now_utc() - Duration::days(30);
    server_params.not_after = not_after;
    let server_certificate = server_params.signed_by(&server_key, &issuer).unwrap();

    Pki {
        ca_pem: ca_certificate.pem(),
        server_chain: vec![server_certificate.der().clone()],
        server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
    }
}

fn valid_pki() -> Pki {
    make_pki(
        &["localhost", "127.0.0.1"],
        OffsetDateTime::now_utc() + Duration::days(30),
    )
}

/// Starts an HTTPS server that responds to every request like the bonus server.
/// Returns its port.
fn start_https_server(pki: &Pki) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let config = config.clone();
            thread::spawn(move || {
                let Ok(connection) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(connection, stream);
                while let Some(head) = read_tls_head(&mut tls) {
                    let body = protocol_body(&head);
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if tls.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn read_tls_head(stream: &mut impl std::io::Read) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

fn write_temp_file(name: &str, content: &str) -> PathBuf {
    let directory =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("tls-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn https_client(url: &str, extra_ca_file: Option<PathBuf>) -> Client {
    Client::new(Config {
        supplier: Some(1111),
        extra_ca_file,
        ..Config::new(url)
    })
    .unwrap()
}

#[test]
fn extra_ca_file_makes_private_ca_trusted() {
    let pki = valid_pki();
    let port = start_https_server(&pki);
    let ca_file = write_temp_file("ca-trusted.pem", &pki.ca_pem);
    let client = https_client(&format!("https://localhost:{port}/"), Some(ca_file));

    let balance = client.check_bonus(TEST_BONUS_ID).unwrap();
    let write_off = client.spend_bonus(TEST_BONUS_ID, 10).unwrap();

    assert_eq!(balance.amount, 500);
    assert_eq!(write_off.spend_id, "000000005");
}

#[test]
fn unknown_issuer_names_extra_ca_option() {
    let pki = valid_pki();
    let port = start_https_server(&pki);
    let client = https_client(&format!("https://localhost:{port}/"), None);

    let check = client.check_bonus(TEST_BONUS_ID).unwrap_err();
    let spend = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();

    assert_eq!(check.status(), Status::Tls);
    assert!(
        check.message().contains("unknown issuer"),
        "{}",
        check.message()
    );
    assert!(
        check.message().contains("extra_ca_file"),
        "{}",
        check.message()
    );
    assert_eq!(
        spend.status(),
        Status::Tls,
        "nothing was sent, so the outcome is known"
    );
}

#[test]
fn name_mismatch_names_the_host() {
    let pki = make_pki(
        &["bonus.test"],
        OffsetDateTime::now_utc() + Duration::days(30),
    );
    let port = start_https_server(&pki);
    let ca_file = write_temp_file("ca-mismatch.pem", &pki.ca_pem);
    let client = https_client(&format!("https://localhost:{port}/"), Some(ca_file));

    let error = client.check_bonus(TEST_BONUS_ID).unwrap_err();

    assert_eq!(error.status(), Status::Tls);
    assert!(
        error
            .message()
            .contains("not valid for the name \"localhost\""),
        "{}",
        error.message()
    );
}

#[test]
fn expired_certificate_is_reported() {
    let pki = make_pki(
        &["localhost"],
        OffsetDateTime::now_utc() - Duration::days(1),
    );
    let port = start_https_server(&pki);
    let ca_file = write_temp_file("ca-expired.pem", &pki.ca_pem);
    let client = https_client(&format!("https://localhost:{port}/"), Some(ca_file));

    let error = client.check_bonus(TEST_BONUS_ID).unwrap_err();

    assert_eq!(error.status(), Status::Tls);
    assert!(
        error.message().contains("has expired"),
        "{}",
        error.message()
    );
}

#[test]
fn plain_http_server_on_https_url() {
    // A plain HTTP server responds to the TLS client hello with an HTTP error.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut hello = [0u8; 512];
            let _ = std::io::Read::read(&mut stream, &mut hello);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        }
    });
    let client = https_client(&format!("https://{address}/"), None);

    let error = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();

    assert_eq!(error.status(), Status::Tls, "{error}");
    assert!(
        error
            .message()
            .contains("check that the server speaks HTTPS on this port"),
        "{}",
        error.message()
    );
}

#[test]
fn silent_server_times_out_during_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let client = Client::new(Config {
        supplier: Some(1111),
        connect_timeout: std::time::Duration::from_millis(300),
        ..Config::new(format!("https://{address}/"))
    })
    .unwrap();

    let error = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();

    assert_eq!(error.status(), Status::Timeout, "{error}");
    assert!(
        error.message().starts_with("connecting to"),
        "{}",
        error.message()
    );
    drop(listener);
}

#[test]
fn unreadable_extra_ca_file_is_config_error() {
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-such-ca.pem");
    let error = Client::new(Config {
        extra_ca_file: Some(missing),
        ..Config::new("https://localhost/")
    })
    .unwrap_err();

    assert_eq!(error.status(), Status::Config);
    assert!(
        error.message().contains("no-such-ca.pem"),
        "{}",
        error.message()
    );
    assert!(
        error.message().contains("cannot be read"),
        "{}",
        error.message()
    );
}

#[test]
fn extra_ca_file_without_certificates_is_config_error() {
    let path = write_temp_file("not-a-ca.pem", "this is not a certificate\n");
    let error = Client::new(Config {
        extra_ca_file: Some(path),
        ..Config::new("https://localhost/")
    })
    .unwrap_err();

    assert_eq!(error.status(), Status::Config);
    assert!(
        error
            .message()
            .contains("contains no usable CA certificate"),
        "{}",
        error.message()
    );
}
