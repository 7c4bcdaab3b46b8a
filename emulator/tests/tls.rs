//! HTTPS and mutual TLS over real sockets on 127.0.0.1, with a rustls client and
//! certificates from `generate_test_pki`.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::tls::{
    VERSIONS, client_config, connect, connect_as, pki_client_config, read_certs, read_key,
    rejected_request,
};
use common::{Client, TEST_CARD_XML, TempDir, spend_xml};
use esbyt_emulator::{
    Emulator, EmulatorConfig, TestPki, TlsConfig, TlsFileError, generate_test_pki,
};
use rustls::AlertDescription;

const CHECK_TARGET: &str = "/bonus/?command=check_bonus&bonus_id=2700009601205";

fn new_pki(dir: &TempDir) -> TestPki {
    generate_test_pki(dir.path(), "esbyt-test", false).expect("generate test PKI")
}

fn start(tls: TlsConfig) -> Emulator {
    let config = EmulatorConfig {
        tls: Some(tls),
        ..EmulatorConfig::with_default_cards()
    };
    Emulator::start("127.0.0.1:0", config).expect("start the emulator")
}

/// Starts an emulator that requires client certificates signed by the PKI's CA.
fn start_mutual_tls(pki: &TestPki) -> Emulator {
    start(TlsConfig::from_pki_dir(&pki.dir).expect("load the test PKI"))
}

#[test]
fn https_check_bonus_returns_test_card() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    // DER in memory, as an in-process caller would pass it.
    let tls = TlsConfig::new(read_certs(&pki.server_cert), read_key(&pki.server_key));
    let emulator = start(tls);
    let port = emulator.local_addr().port();
    assert_eq!(emulator.base_url(), format!("https://localhost:{port}/"));

    for version in VERSIONS {
        let config = client_config(&pki.ca_cert, None, version);
        let mut client = connect(emulator.local_addr(), &config);
        let response = client.get(CHECK_TARGET);
        assert_eq!(response.status, 200, "{version:?}");
        assert_eq!(response.body, TEST_CARD_XML, "{version:?}");
        assert_eq!(
            client.stream().conn.protocol_version(),
            Some(version.version),
            "negotiated version"
        );
    }
}

#[test]
fn server_certificate_names_loopback_address() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let emulator = start_mutual_tls(&pki);
    let config = pki_client_config(&pki, &rustls::version::TLS13);

    let stream = connect_as(emulator.local_addr(), &config, "127.0.0.1")
        .expect("handshake with the server name 127.0.0.1");
    let mut client = Client::new(stream);
    assert_eq!(client.get(CHECK_TARGET).body, TEST_CARD_XML);
}

#[test]
fn mutual_tls_accepts_generated_client() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let emulator = start_mutual_tls(&pki);

    for version in VERSIONS {
        let config = pki_client_config(&pki, version);
        let response = connect(emulator.local_addr(), &config).get(CHECK_TARGET);
        assert_eq!(response.body, TEST_CARD_XML, "{version:?}");
    }
}

#[test]
fn mutual_tls_rejects_client_without_certificate() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let emulator = start_mutual_tls(&pki);

    for version in VERSIONS {
        let anonymous = client_config(&pki.ca_cert, None, version);
        let error = rejected_request(emulator.local_addr(), &anonymous);
        assert_eq!(
            error,
            rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
            "{version:?}"
        );

        // The failed handshake leaves the server serving the next client.
        let config = pki_client_config(&pki, version);
        let response = connect(emulator.local_addr(), &config).get(CHECK_TARGET);
        assert_eq!(response.body, TEST_CARD_XML, "{version:?}");
    }
}

#[test]
fn mutual_tls_rejects_other_ca_client() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let other_dir = TempDir::new();
    let other = new_pki(&other_dir);
    let emulator = start_mutual_tls(&pki);

    for version in VERSIONS {
        // Trusts the right server CA, but presents a client certificate of another CA.
        let config = client_config(
            &pki.ca_cert,
            Some((&other.client_cert, &other.client_key)),
            version,
        );
        let error = rejected_request(emulator.local_addr(), &config);
        assert_eq!(
            error,
            rustls::Error::AlertReceived(AlertDescription::UnknownCA),
            "{version:?}"
        );
    }

    let config = pki_client_config(&pki, &rustls::version::TLS13);
    let response = connect(emulator.local_addr(), &config).get(CHECK_TARGET);
    assert_eq!(response.body, TEST_CARD_XML);
}

#[test]
fn client_rejects_server_of_other_ca() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let other_dir = TempDir::new();
    let other = new_pki(&other_dir);
    let emulator = start_mutual_tls(&pki);

    let config = client_config(
        &other.ca_cert,
        Some((&pki.client_cert, &pki.client_key)),
        &rustls::version::TLS13,
    );
    let error = rejected_request(emulator.local_addr(), &config);
    assert!(
        matches!(error, rustls::Error::InvalidCertificate(_)),
        "{error:?}"
    );
}

#[test]
fn keep_alive_over_tls() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let emulator = start_mutual_tls(&pki);

    for version in VERSIONS {
        let config = pki_client_config(&pki, version);
        let mut client = connect(emulator.local_addr(), &config);
        let first = client.get(CHECK_TARGET);
        assert_eq!(first.body, TEST_CARD_XML, "{version:?}");
        assert_eq!(first.header("Connection"), None, "{version:?}");

        let second = client.get(CHECK_TARGET);
        assert_eq!(second.body, TEST_CARD_XML, "{version:?}");

        client.send_get(CHECK_TARGET, "Connection: close\r\n");
        let last = client.read_response();
        assert_eq!(last.header("Connection"), Some("close"), "{version:?}");
        assert!(client.is_closed_by_server(), "{version:?}");
    }
}

#[test]
fn spend_over_tls_changes_balance() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let emulator = start_mutual_tls(&pki);
    let config = pki_client_config(&pki, &rustls::version::TLS12);

    let mut client = connect(emulator.local_addr(), &config);
    let spent = client.get("/?command=spend_bonus&bonus_id=2700009601205&supplier=1111&amount=10");
    assert_eq!(spent.body, spend_xml("000000001"));
    assert_eq!(emulator.balance("2700009601205"), Some(490));
}

#[test]
fn plain_http_to_https_port_fails() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let emulator = start_mutual_tls(&pki);

    let mut plain = TcpStream::connect(emulator.local_addr()).unwrap();
    plain
        .set_read_timeout(Some(common::CLIENT_TIMEOUT))
        .unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    let _ = plain.read_to_end(&mut reply);
    // The server sends a TLS alert record (content type 21) and closes.
    assert_eq!(reply.first(), Some(&21), "{reply:?}");

    let config = pki_client_config(&pki, &rustls::version::TLS13);
    let response = connect(emulator.local_addr(), &config).get(CHECK_TARGET);
    assert_eq!(response.body, TEST_CARD_XML);
}

#[test]
fn silent_client_does_not_block_others() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let emulator = start_mutual_tls(&pki);

    // A client that connects and never starts the handshake. The handshake runs on the
    // connection thread, so the accept thread keeps serving others.
    let silent = TcpStream::connect(emulator.local_addr()).unwrap();
    let config = pki_client_config(&pki, &rustls::version::TLS13);
    let response = connect(emulator.local_addr(), &config).get(CHECK_TARGET);
    assert_eq!(response.body, TEST_CARD_XML);

    // Shutdown interrupts the waiting handshake instead of waiting for its timeout.
    let started = Instant::now();
    emulator.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    drop(silent);
}

#[test]
fn mismatched_key_fails_start() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let tls = TlsConfig::new(read_certs(&pki.server_cert), read_key(&pki.client_key));
    let config = EmulatorConfig {
        tls: Some(tls),
        ..EmulatorConfig::with_default_cards()
    };
    let error = Emulator::start("127.0.0.1:0", config).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(
        error
            .to_string()
            .starts_with("invalid emulator configuration: TLS: invalid server certificate or key:"),
        "{error}"
    );
}

#[test]
fn empty_client_ca_fails_start() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let tls = TlsConfig::new(read_certs(&pki.server_cert), read_key(&pki.server_key))
        .with_client_ca(Vec::new());
    let config = EmulatorConfig {
        tls: Some(tls),
        ..EmulatorConfig::with_default_cards()
    };
    let error = Emulator::start("127.0.0.1:0", config).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(
        error
            .to_string()
            .starts_with("invalid emulator configuration: TLS: invalid client CA:"),
        "{error}"
    );
}

#[test]
fn pem_file_errors_name_the_file() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let missing = dir.path().join("missing.pem");

    let error = TlsConfig::from_pem_files(&missing, &pki.server_key).unwrap_err();
    assert!(matches!(error, TlsFileError::Read { .. }), "{error:?}");
    let prefix = format!("failed to read {}: ", missing.display());
    assert!(error.to_string().starts_with(&prefix), "{error}");

    // A key file where the certificate belongs.
    let error = TlsConfig::from_pem_files(&pki.server_key, &pki.server_key).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}: no server certificate found: expected a PEM block \"-----BEGIN CERTIFICATE-----\"",
            pki.server_key.display()
        )
    );

    // A certificate file where the key belongs.
    let error = TlsConfig::from_pem_files(&pki.server_cert, &pki.server_cert).unwrap_err();
    let expected_start = format!(
        "{}: no private key found: expected",
        pki.server_cert.display()
    );
    assert!(error.to_string().starts_with(&expected_start), "{error}");

    // The client's key with the server's certificate.
    let error = TlsConfig::from_pem_files(&pki.server_cert, &pki.client_key).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}: the private key does not belong to the first certificate in {}",
            pki.client_key.display(),
            pki.server_cert.display()
        )
    );

    let broken = dir.path().join("broken.pem");
    std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap();
    let error = TlsConfig::from_pem_files(&pki.server_cert, &pki.server_key)
        .unwrap()
        .with_client_ca_file(&broken)
        .unwrap_err();
    let expected_start = format!("{}: invalid PEM: ", broken.display());
    assert!(error.to_string().starts_with(&expected_start), "{error}");
}

#[test]
fn pki_dir_config_requires_client_certificates() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let tls = TlsConfig::from_pki_dir(&pki.dir).unwrap();
    assert_eq!(tls.cert_chain, read_certs(&pki.server_cert));
    assert_eq!(tls.key, read_key(&pki.server_key));
    assert_eq!(tls.client_ca, Some(read_certs(&pki.ca_cert)));
}
