//! HTTPS against a rustls server on loopback with certificates generated in
//! the test. Every case runs through the Rust API and through the C ABI of
//! libesbyt.so.
//!
//! The cases cover trust through the extra CA file or a pinned fingerprint,
//! and the failures of the server certificate that a cashier's administrator
//! must be able to tell apart. They also cover unusable CA files and plain HTTP.

#![cfg(target_os = "linux")]

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::thread;

use esbyt::{Detail, Status};
use esbyt_emulator::{DEFAULT_SUPPLIER, Emulator, EmulatorConfig, TEST_BONUS_ID};
use support::calls::{Api, Calls, Operation};
use support::pki::{self, Authority, Leaf, path_text, write_file};
use support::tls_server::{TlsServer, TlsServerConfig};
use time::{Duration, OffsetDateTime};

/// Account of the test card, in the balance responses of the server and the emulator.
const TEST_ACCOUNT: &str = "1055444444";

/// Write-off number in the test server's write-off response.
const SPEND_ID: &str = "000000005";

/// Settings of a test, in the order they are applied.
type Settings = Vec<(&'static str, String)>;

/// A root CA and a folder for the test's files.
struct Fixture {
    dir: PathBuf,
    ca: Authority,
    ca_file: String,
}

impl Fixture {
    fn new(test: &str) -> Fixture {
        let dir = pki::test_dir(test);
        let ca = Authority::root("esbyt test root CA");
        let ca_file = path_text(&write_file(&dir, "ca.pem", &ca.pem));
        Fixture { dir, ca, ca_file }
    }

    fn write(&self, name: &str, content: impl AsRef<[u8]>) -> String {
        path_text(&write_file(&self.dir, name, content))
    }
}

/// Starts a server that presents the certificate and accepts any client.
fn start_server(certificate: &Leaf) -> TlsServer {
    TlsServer::start(TlsServerConfig::new(
        vec![certificate.der.clone()],
        certificate.key(),
    ))
}

fn base_settings(url: String) -> Settings {
    vec![("url", url), ("supplier", "1111".to_owned())]
}

/// Asserts that a balance check and a write-off succeeded and that the server
/// responded to exactly that one write-off.
fn assert_both_succeeded(calls: &Calls, server: &TlsServer) {
    let api = calls.api;
    calls.assert_ok("client_new");
    let balance = calls.assert_ok("check_bonus");
    assert_eq!(balance.amount, 500, "{api}");
    assert_eq!(balance.account, TEST_ACCOUNT, "{api}");
    assert_eq!(balance.bonus_id, TEST_BONUS_ID, "{api}");
    let write_off = calls.assert_ok("spend_bonus");
    assert_eq!(write_off.spend_id, SPEND_ID, "{api}");

    server.wait_until_idle();
    assert_eq!(server.write_offs(), 1, "{api}: write-offs responded to");
}

/// Asserts that a balance check and a write-off failed with `Status::Tls` and
/// this detail, and that the server responded to no request.
fn assert_both_failed(calls: &Calls, server: &TlsServer, detail: Detail, fragments: &[&str]) {
    calls.assert_ok("client_new");
    for call in ["check_bonus", "spend_bonus"] {
        calls.assert_failed(call, Status::Tls, detail, fragments);
    }
    server.wait_until_idle();
    assert_eq!(
        server.write_offs(),
        0,
        "{}: write-offs responded to",
        calls.api
    );
    assert_eq!(
        server.responded_requests(),
        Vec::<String>::new(),
        "{}",
        calls.api
    );
}

const BOTH_CALLS: [Operation; 2] = [Operation::Check, Operation::Spend(10)];

#[test]
fn extra_ca_file_makes_private_ca_trusted() {
    let fixture = Fixture::new("extra_ca_file_makes_private_ca_trusted");
    let certificate = fixture.ca.server(&["localhost", "127.0.0.1"]);

    for api in Api::ALL {
        let server = start_server(&certificate);
        let mut settings = base_settings(server.url());
        settings.push(("extra_ca_file", fixture.ca_file.clone()));
        let calls = api.run(&settings, &BOTH_CALLS);

        assert_both_succeeded(&calls, &server);
    }
}

#[test]
fn ip_address_in_certificate() {
    let fixture = Fixture::new("ip_address_in_certificate");
    let certificate = fixture.ca.server(&["127.0.0.1"]);

    for api in Api::ALL {
        let server = start_server(&certificate);
        let mut settings = base_settings(server.url_for_host("127.0.0.1"));
        settings.push(("extra_ca_file", fixture.ca_file.clone()));
        let calls = api.run(&settings, &BOTH_CALLS);

        assert_both_succeeded(&calls, &server);
    }
}

#[test]
fn unknown_issuer_names_extra_ca_option() {
    let fixture = Fixture::new("unknown_issuer_names_extra_ca_option");
    let certificate = fixture.ca.server(&["localhost"]);

    for api in Api::ALL {
        let server = start_server(&certificate);
        let calls = api.run(&base_settings(server.url()), &BOTH_CALLS);

        assert_both_failed(
            &calls,
            &server,
            Detail::TlsUnknownIssuer,
            &[
                "the certificate of localhost is not trusted: unknown issuer",
                "extra_ca_file",
                "server_cert_sha256",
            ],
        );
    }
}

#[test]
fn name_mismatch_names_the_host() {
    let fixture = Fixture::new("name_mismatch_names_the_host");
    let certificate = fixture.ca.server(&["bonus.test"]);

    for api in Api::ALL {
        for host in ["localhost", "127.0.0.1"] {
            let server = start_server(&certificate);
            let mut settings = base_settings(server.url_for_host(host));
            settings.push(("extra_ca_file", fixture.ca_file.clone()));
            let calls = api.run(&settings, &BOTH_CALLS);

            let expected = format!("not valid for the name \"{host}\"");
            assert_both_failed(
                &calls,
                &server,
                Detail::TlsNameMismatch,
                &[&expected, "use a host name in the URL"],
            );
        }
    }
}

#[test]
fn expired_certificate_is_reported() {
    let fixture = Fixture::new("expired_certificate_is_reported");
    let now = OffsetDateTime::now_utc();
    let certificate = fixture.ca.server_valid(
        &["localhost"],
        now - Duration::days(60),
        now - Duration::days(1),
    );

    for api in Api::ALL {
        let server = start_server(&certificate);
        let mut settings = base_settings(server.url());
        settings.push(("extra_ca_file", fixture.ca_file.clone()));
        let calls = api.run(&settings, &BOTH_CALLS);

        assert_both_failed(
            &calls,
            &server,
            Detail::TlsCertificateExpired,
            &["the certificate of localhost has expired", "clock"],
        );
    }
}

#[test]
fn not_yet_valid_certificate() {
    let fixture = Fixture::new("not_yet_valid_certificate");
    let now = OffsetDateTime::now_utc();
    let certificate = fixture.ca.server_valid(
        &["localhost"],
        now + Duration::days(1),
        now + Duration::days(30),
    );

    for api in Api::ALL {
        let server = start_server(&certificate);
        let mut settings = base_settings(server.url());
        settings.push(("extra_ca_file", fixture.ca_file.clone()));
        let calls = api.run(&settings, &BOTH_CALLS);

        assert_both_failed(
            &calls,
            &server,
            Detail::TlsCertificateNotYetValid,
            &["the certificate of localhost is not valid yet", "clock"],
        );
    }
}

#[test]
fn pin_accepts_untrusted_issuer() {
    let fixture = Fixture::new("pin_accepts_untrusted_issuer");
    let certificate = fixture.ca.server(&["localhost"]);
    let other = fixture.ca.server(&["localhost"]);
    let notations = [
        certificate.sha256_hex(),
        certificate.sha256_colons(),
        format!("{}, {}", other.sha256_hex(), certificate.sha256_colons()),
    ];

    for api in Api::ALL {
        for pin in &notations {
            let server = start_server(&certificate);
            let mut settings = base_settings(server.url());
            settings.push(("server_cert_sha256", pin.clone()));
            let calls = api.run(&settings, &BOTH_CALLS);

            assert_both_succeeded(&calls, &server);
        }
    }
}

#[test]
fn pin_mismatch_shows_fingerprint() {
    let fixture = Fixture::new("pin_mismatch_shows_fingerprint");
    let certificate = fixture.ca.server(&["localhost"]);
    let other = fixture.ca.server(&["localhost"]);

    for api in Api::ALL {
        let server = start_server(&certificate);
        let mut settings = base_settings(server.url());
        // The CA is trusted too: a pin replaces the chain check, so a
        // certificate of a trusted CA that is not pinned is still rejected.
        settings.push(("extra_ca_file", fixture.ca_file.clone()));
        settings.push(("server_cert_sha256", other.sha256_hex()));
        let calls = api.run(&settings, &BOTH_CALLS);

        let expected = format!(
            "the certificate of localhost has SHA-256 fingerprint {}, which is not in server_cert_sha256",
            certificate.sha256_colons()
        );
        assert_both_failed(&calls, &server, Detail::TlsPinMismatch, &[&expected]);
    }
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

    for api in Api::ALL {
        let calls = api.run(&base_settings(format!("https://{address}/")), &BOTH_CALLS);

        calls.assert_ok("client_new");
        for call in ["check_bonus", "spend_bonus"] {
            calls.assert_failed(
                call,
                Status::Tls,
                Detail::TlsNotTls,
                &["check that the server speaks HTTPS on this port"],
            );
        }
    }
}

#[test]
fn silent_server_times_out_during_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();

    for api in Api::ALL {
        let mut settings = base_settings(format!("https://{address}/"));
        settings.push(("connect_timeout_ms", "300".to_owned()));
        let calls = api.run(&settings, &[Operation::Spend(10)]);

        calls.assert_ok("client_new");
        calls.assert_failed(
            "spend_bonus",
            Status::Timeout,
            Detail::None,
            &["the TLS handshake with", "timed out", "speaks HTTPS"],
        );
    }
    drop(listener);
}

/// Asserts that creating a client with this CA file fails with
/// `Status::Config` and a message with every fragment.
fn assert_ca_file_rejected(ca_file: &str, fragments: &[&str]) {
    for api in Api::ALL {
        let mut settings = base_settings("https://localhost/".to_owned());
        settings.push(("extra_ca_file", ca_file.to_owned()));
        let calls = api.run(&settings, &[]);

        calls.assert_failed("client_new", Status::Config, Detail::None, fragments);
    }
}

#[test]
fn unreadable_extra_ca_file_is_config_error() {
    let fixture = Fixture::new("unreadable_extra_ca_file_is_config_error");
    let missing = path_text(&fixture.dir.join("no-such-ca.pem"));

    assert_ca_file_rejected(&missing, &["extra_ca_file", &missing, "cannot be read"]);
}

#[test]
fn extra_ca_file_without_certificates_is_config_error() {
    let fixture = Fixture::new("extra_ca_file_without_certificates_is_config_error");
    let path = fixture.write("not-a-ca.pem", "this is not a certificate\n");

    assert_ca_file_rejected(
        &path,
        &[
            "extra_ca_file",
            &path,
            "contains no usable CA certificate",
            "BEGIN CERTIFICATE",
        ],
    );
}

#[test]
fn empty_ca_file() {
    let fixture = Fixture::new("empty_ca_file");
    let path = fixture.write("empty.pem", "");

    assert_ca_file_rejected(&path, &["extra_ca_file", &path, "is empty"]);
}

#[test]
fn corrupt_ca_file() {
    let fixture = Fixture::new("corrupt_ca_file");
    let pem = &fixture.ca.pem;
    // Base64 that breaks off in the middle of the certificate.
    let truncated = format!("{}\n-----END CERTIFICATE-----\n", &pem[..pem.len() / 2]);
    // Valid base64 of bytes that are no certificate.
    let not_der = "-----BEGIN CERTIFICATE-----\nMIIBAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n-----END CERTIFICATE-----\n";
    // A PEM block without its end line.
    let unterminated = &pem[..pem.len() - "-----END CERTIFICATE-----\n".len()];

    for (name, content) in [
        ("truncated.pem", truncated.as_str()),
        ("not-der.pem", not_der),
        ("unterminated.pem", unterminated),
    ] {
        let path = fixture.write(name, content);
        assert_ca_file_rejected(
            &path,
            &["extra_ca_file", &path, "contains no usable CA certificate"],
        );
    }
}

#[test]
fn ca_file_saved_by_notepad() {
    let fixture = Fixture::new("ca_file_saved_by_notepad");
    let certificate = fixture.ca.server(&["localhost"]);
    let crlf_only = fixture.write("ca-crlf.pem", fixture.ca.pem.replace('\n', "\r\n"));
    let notepad = fixture.write("ca-notepad.pem", pki::as_notepad_saves(&fixture.ca.pem));

    for api in Api::ALL {
        for ca_file in [&crlf_only, &notepad] {
            let server = start_server(&certificate);
            let mut settings = base_settings(server.url());
            settings.push(("extra_ca_file", ca_file.clone()));
            settings.push(("system_roots", "0".to_owned()));
            let calls = api.run(&settings, &BOTH_CALLS);

            assert_both_succeeded(&calls, &server);
        }
    }
}

#[test]
fn plain_http_refused_by_default() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards())
        .expect("failed to start the emulator on 127.0.0.1");

    for api in Api::ALL {
        let calls = api.run(&base_settings(emulator.base_url()), &BOTH_CALLS);

        calls.assert_failed(
            "client_new",
            Status::Config,
            Detail::None,
            &["uses plain HTTP", "set allow_http to 1", "https://"],
        );
        assert_eq!(calls.outcomes.len(), 1, "{api}: a call ran");
    }
    assert!(emulator.executed_spends().is_empty());
}

#[test]
fn plain_http_allowed() {
    for api in Api::ALL {
        let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards())
            .expect("failed to start the emulator on 127.0.0.1");
        let mut settings = base_settings(emulator.base_url());
        settings.push(("allow_http", "1".to_owned()));
        let calls = api.run(&settings, &BOTH_CALLS);

        calls.assert_ok("client_new");
        let balance = calls.assert_ok("check_bonus");
        assert_eq!(balance.amount, 500, "{api}");
        assert_eq!(balance.account, TEST_ACCOUNT, "{api}");
        let write_off = calls.assert_ok("spend_bonus");
        assert_eq!(write_off.spend_id, "000000001", "{api}");
        let spends = emulator.executed_spends();
        assert_eq!(spends.len(), 1, "{api}: {spends:?}");
        assert_eq!(spends[0].amount, 10, "{api}");
        assert_eq!(spends[0].supplier, DEFAULT_SUPPLIER, "{api}");
        assert_eq!(emulator.balance(TEST_BONUS_ID), Some(490), "{api}");
    }
}
