//! `esbyt doctor` run as a user runs it, against emulators, a CONNECT proxy
//! and closed ports, all on 127.0.0.1.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::thread;

use esbyt_emulator::{
    Emulator, EmulatorConfig, TEST_BONUS_ID, TestPki, TlsConfig, generate_test_pki,
};
use rcgen::{CertificateParams, DnType, KeyPair};
use time::{Duration, OffsetDateTime};

/// PKCS#12 password of the generated test PKIs. It must never appear in a report.
const PKI_PASSWORD: &str = "doctor-pfx-secret";

/// The test card as the report shows it.
const MASKED_TEST_CARD: &str = "2700******205";

const STEP_NAMES: [&str; 7] = [
    "configuration",
    "dns",
    "tcp",
    "proxy",
    "tls",
    "http",
    "check_bonus",
];

fn doctor(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_esbyt"))
        .arg("doctor")
        .args(arguments)
        .output()
        .expect("run the esbyt binary")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// One step of a text report: status, name, time and its indented lines.
#[derive(Debug)]
struct ReportStep {
    status: String,
    name: String,
    time_ms: u64,
    lines: Vec<String>,
}

impl ReportStep {
    fn has_line(&self, expected: &str) -> bool {
        self.lines.iter().any(|line| line == expected)
    }

    fn has_line_containing(&self, expected: &str) -> bool {
        self.lines.iter().any(|line| line.contains(expected))
    }

    fn line_starting(&self, prefix: &str) -> Option<&str> {
        self.lines
            .iter()
            .find(|line| line.starts_with(prefix))
            .map(String::as_str)
    }
}

/// Parses the text report into its steps. A step starts with a line such
/// as `PASS  dns (0 ms)`, and its lines are indented by six spaces.
fn parse_steps(text: &str) -> Vec<ReportStep> {
    let mut steps: Vec<ReportStep> = Vec::new();
    for line in text.lines() {
        let header = ["PASS  ", "FAIL  ", "WARN  ", "SKIP  "]
            .iter()
            .find(|prefix| line.starts_with(**prefix));
        if let Some(prefix) = header {
            let rest = &line[prefix.len()..];
            let (name, time) = rest.split_once(" (").expect("step header has a time");
            let time_ms = time
                .strip_suffix(" ms)")
                .expect("time in ms")
                .parse()
                .unwrap();
            steps.push(ReportStep {
                status: prefix.trim().to_owned(),
                name: name.to_owned(),
                time_ms,
                lines: Vec::new(),
            });
        } else if let Some(detail) = line.strip_prefix("      ") {
            steps
                .last_mut()
                .expect("detail after a step header")
                .lines
                .push(detail.to_owned());
        }
    }
    steps
}

fn step<'a>(steps: &'a [ReportStep], name: &str) -> &'a ReportStep {
    steps
        .iter()
        .find(|step| step.name == name)
        .unwrap_or_else(|| panic!("no step {name} in {steps:#?}"))
}

fn statuses(steps: &[ReportStep]) -> Vec<(&str, &str)> {
    steps
        .iter()
        .map(|step| (step.name.as_str(), step.status.as_str()))
        .collect()
}

/// Checks that neither stdout nor stderr contains any of `secrets`.
fn assert_no_secrets(output: &Output, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !stdout(output).contains(secret),
            "stdout contains {secret:?}:\n{}",
            stdout(output)
        );
        assert!(
            !stderr(output).contains(secret),
            "stderr contains {secret:?}:\n{}",
            stderr(output)
        );
    }
}

/// A new, empty folder under the target folder's temporary folder, removed on drop.
struct TestFolder(PathBuf);

impl TestFolder {
    fn new(name: &str) -> TestFolder {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("doctor-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TestFolder(path)
    }
}

impl Drop for TestFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn plain_emulator() -> Emulator {
    Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap()
}

/// Starts an HTTPS emulator that requires client certificates of a new test PKI.
fn mutual_tls_emulator(name: &str) -> (Emulator, TestPki, TestFolder) {
    let folder = TestFolder::new(name);
    let pki = generate_test_pki(&folder.0, PKI_PASSWORD, true).unwrap();
    let config = EmulatorConfig {
        tls: Some(TlsConfig::from_pki_dir(&pki.dir).unwrap()),
        ..EmulatorConfig::with_default_cards()
    };
    let emulator = Emulator::start("127.0.0.1:0", config).unwrap();
    (emulator, pki, folder)
}

fn path_text(path: &std::path::Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// Writes a self-signed client certificate valid from `not_before` to
/// `not_after` and its key, and returns the folder and the two files.
fn client_certificate(
    name: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> (TestFolder, PathBuf, PathBuf) {
    let folder = TestFolder::new(name);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("doctor test client {name}"));
    params.not_before = not_before;
    params.not_after = not_after;
    let certificate = params.self_signed(&key).unwrap();
    let cert_file = folder.0.join("client.pem");
    let key_file = folder.0.join("client.key");
    std::fs::write(&cert_file, certificate.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (folder, cert_file, key_file)
}

#[test]
fn plain_emulator_all_steps_pass() {
    let emulator = plain_emulator();
    let url = format!("{}bonus/", emulator.base_url());

    let output = doctor(&[
        "--url",
        &url,
        "--allow-http",
        "--supplier",
        "1111",
        "--card",
        TEST_BONUS_ID,
    ]);

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    let steps = parse_steps(&text);
    assert_eq!(
        statuses(&steps),
        [
            ("configuration", "PASS"),
            ("dns", "PASS"),
            ("tcp", "PASS"),
            ("proxy", "SKIP"),
            ("tls", "SKIP"),
            ("http", "PASS"),
            ("check_bonus", "PASS"),
        ]
    );
    let address = emulator.local_addr();
    assert!(step(&steps, "tcp").has_line(&format!("connected to {address}")));
    let http = step(&steps, "http");
    assert!(http.has_line("request GET /bonus/ without a command, so the server executes nothing"));
    assert!(
        http.has_line_containing("document of the bonus protocol: result 1"),
        "{http:#?}"
    );
    let check = step(&steps, "check_bonus");
    assert!(
        check.has_line(&format!("card {MASKED_TEST_CARD}")),
        "{check:#?}"
    );
    assert!(check.has_line("account 1055444444"), "{check:#?}");
    assert!(check.has_line("balance 500"), "{check:#?}");
    assert!(text.ends_with("result: every step passed\n"), "{text}");
    assert_no_secrets(&output, &[TEST_BONUS_ID]);
    assert!(
        emulator.executed_spends().is_empty(),
        "doctor wrote bonuses off"
    );
    assert_eq!(emulator.balance(TEST_BONUS_ID), Some(500));
}

#[test]
fn mutual_tls_all_steps_pass() {
    let (emulator, pki, _folder) = mutual_tls_emulator("mutual-tls");
    let url = emulator.base_url();

    let output = doctor(&[
        "--url",
        &url,
        "--supplier",
        "1111",
        "--extra-ca-file",
        &path_text(&pki.ca_cert),
        "--pkcs12-file",
        &path_text(&pki.client_p12),
        "--pkcs12-password",
        PKI_PASSWORD,
        "--card",
        TEST_BONUS_ID,
    ]);

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    let steps = parse_steps(&text);
    assert_eq!(
        statuses(&steps),
        [
            ("configuration", "PASS"),
            ("dns", "PASS"),
            ("tcp", "PASS"),
            ("proxy", "SKIP"),
            ("tls", "PASS"),
            ("http", "PASS"),
            ("check_bonus", "PASS"),
        ]
    );

    let configuration = step(&steps, "configuration");
    assert!(
        configuration.has_line(
            "client certificate: subject O=esbyt test PKI, CN=esbyt-emulator test client"
        ),
        "{configuration:#?}"
    );
    assert!(configuration.has_line("TLS configuration builds (TLS 1.2 and 1.3)"));

    let tls = step(&steps, "tls");
    assert!(tls.has_line("protocol TLS 1.3"), "{tls:#?}");
    assert!(
        tls.has_line("server certificate 1: subject O=esbyt test PKI, CN=localhost"),
        "{tls:#?}"
    );
    let issuer = tls.line_starting("  issuer ").expect("issuer line");
    assert!(
        issuer.starts_with("  issuer O=esbyt test PKI, CN=esbyt-emulator test CA "),
        "{issuer}"
    );
    assert!(tls.line_starting("  valid from ").is_some(), "{tls:#?}");
    let fingerprint = tls.line_starting("  SHA-256 ").expect("fingerprint line");
    assert_eq!(
        fingerprint.len(),
        "  SHA-256 ".len() + 32 * 3 - 1,
        "{fingerprint}"
    );
    assert!(
        tls.has_line("client certificate requested: yes"),
        "{tls:#?}"
    );
    assert!(
        tls.has_line("client certificate configured: yes"),
        "{tls:#?}"
    );

    assert!(step(&steps, "check_bonus").has_line("balance 500"));
    assert_no_secrets(&output, &[PKI_PASSWORD, TEST_BONUS_ID]);
    assert!(
        emulator.executed_spends().is_empty(),
        "doctor wrote bonuses off"
    );
}

#[test]
fn unknown_issuer_fails_tls_and_shows_chain() {
    let (emulator, pki, _folder) = mutual_tls_emulator("unknown-issuer");

    let output = doctor(&[
        "--url",
        &emulator.base_url(),
        "--supplier",
        "1111",
        "--pkcs12-file",
        &path_text(&pki.client_p12),
        "--pkcs12-password",
        PKI_PASSWORD,
        "--card",
        TEST_BONUS_ID,
    ]);

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    let steps = parse_steps(&text);
    assert_eq!(
        statuses(&steps),
        [
            ("configuration", "PASS"),
            ("dns", "PASS"),
            ("tcp", "PASS"),
            ("proxy", "SKIP"),
            ("tls", "FAIL"),
            ("http", "SKIP"),
            ("check_bonus", "SKIP"),
        ]
    );
    let tls = step(&steps, "tls");
    assert!(
        tls.has_line("server certificate 1: subject O=esbyt test PKI, CN=localhost"),
        "{tls:#?}"
    );
    assert!(tls.line_starting("  SHA-256 ").is_some(), "{tls:#?}");
    assert!(
        tls.has_line("library detail ESBYT_DETAIL_TLS_UNKNOWN_ISSUER"),
        "{tls:#?}"
    );
    assert_eq!(
        tls.line_starting("cause: "),
        Some("cause: the certificate of localhost is not trusted: unknown issuer")
    );
    let fix = tls.line_starting("fix:   ").expect("fix line");
    assert!(fix.contains("extra_ca_file"), "{fix}");
    assert!(
        text.ends_with("result: 1 of 7 steps failed: tls\n"),
        "{text}"
    );
    assert_no_secrets(&output, &[PKI_PASSWORD, TEST_BONUS_ID]);
}

#[test]
fn missing_client_certificate_fails_http() {
    let (emulator, pki, _folder) = mutual_tls_emulator("no-client-certificate");

    let output = doctor(&[
        "--url",
        &emulator.base_url(),
        "--supplier",
        "1111",
        "--extra-ca-file",
        &path_text(&pki.ca_cert),
    ]);

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    let steps = parse_steps(&text);
    let tls = step(&steps, "tls");
    assert_eq!(tls.status, "WARN", "{tls:#?}");
    assert!(
        tls.has_line("client certificate requested: yes"),
        "{tls:#?}"
    );
    assert!(
        tls.has_line("client certificate configured: no"),
        "{tls:#?}"
    );
    assert_eq!(
        tls.line_starting("cause: "),
        Some("cause: the server requested a client certificate, but none is configured")
    );
    // With TLS 1.3 the server rejects the missing certificate after the
    // client's side of the handshake, so the rejection arrives with the request.
    let http = step(&steps, "http");
    assert_eq!(http.status, "FAIL", "{http:#?}");
    assert!(
        http.has_line("library detail ESBYT_DETAIL_TLS_CLIENT_CERTIFICATE_REJECTED"),
        "{http:#?}"
    );
    assert!(
        http.has_line_containing("fix:   no client certificate is configured"),
        "{http:#?}"
    );
    assert_eq!(step(&steps, "check_bonus").status, "SKIP");
}

#[test]
fn refused_port_fails_tcp() {
    // A port that was just free: nothing listens on it once the listener is dropped.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/bonus/");

    let output = doctor(&["--url", &url, "--allow-http", "--supplier", "1111"]);

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    let steps = parse_steps(&text);
    assert_eq!(
        statuses(&steps),
        [
            ("configuration", "PASS"),
            ("dns", "PASS"),
            ("tcp", "FAIL"),
            ("proxy", "SKIP"),
            ("tls", "SKIP"),
            ("http", "SKIP"),
            ("check_bonus", "SKIP"),
        ]
    );
    let tcp = step(&steps, "tcp");
    assert!(
        tcp.has_line(&format!("127.0.0.1:{port}: connection refused")),
        "{tcp:#?}"
    );
    assert_eq!(
        tcp.line_starting("cause: ").unwrap(),
        format!("cause: 127.0.0.1:{port} refused the connection")
    );
    assert_eq!(
        tcp.line_starting("fix: ").unwrap(),
        format!("fix:   check the port in the URL ({port}) and that the server runs")
    );
    assert!(step(&steps, "http").has_line("skipped because the tcp step failed"));
}

#[test]
fn expired_client_certificate_fails_configuration() {
    let (emulator, pki, _folder) = mutual_tls_emulator("expired-server");
    let now = OffsetDateTime::now_utc();
    let (_client_folder, cert_file, key_file) = client_certificate(
        "expired",
        now - Duration::days(400),
        now - Duration::days(2),
    );

    let output = doctor(&[
        "--url",
        &emulator.base_url(),
        "--supplier",
        "1111",
        "--extra-ca-file",
        &path_text(&pki.ca_cert),
        "--client-cert",
        &path_text(&cert_file),
        "--client-key",
        &path_text(&key_file),
    ]);

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    let steps = parse_steps(&text);
    let configuration = step(&steps, "configuration");
    assert_eq!(configuration.status, "FAIL", "{configuration:#?}");
    assert!(
        configuration.has_line("client certificate: subject CN=doctor test client expired"),
        "{configuration:#?}"
    );
    let cause = configuration.line_starting("cause: ").expect("cause line");
    assert!(
        cause.starts_with("cause: the client certificate expired on "),
        "{cause}"
    );
    let expiry = (now - Duration::days(2)).date();
    assert!(
        cause.contains(&format!(
            "{:04}-{:02}-{:02}",
            expiry.year(),
            u8::from(expiry.month()),
            expiry.day()
        )),
        "{cause}"
    );
    let fix = configuration.line_starting("fix: ").expect("fix line");
    assert!(
        fix.contains("ask the bonus programme for a new client certificate"),
        "{fix}"
    );
    // The network steps still run and show what the server makes of the certificate.
    assert_eq!(step(&steps, "tls").status, "PASS");
    let http = step(&steps, "http");
    assert_eq!(http.status, "FAIL", "{http:#?}");
    assert!(
        http.has_line_containing("rejected the client certificate"),
        "{http:#?}"
    );
}

#[test]
fn expiring_client_certificate_warns() {
    let emulator = plain_emulator();
    let now = OffsetDateTime::now_utc();
    let (_client_folder, cert_file, key_file) = client_certificate(
        "expiring",
        now - Duration::days(300),
        now + Duration::days(10),
    );

    let output = doctor(&[
        "--url",
        &emulator.base_url(),
        "--allow-http",
        "--supplier",
        "1111",
        "--client-cert",
        &path_text(&cert_file),
        "--client-key",
        &path_text(&key_file),
    ]);

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    let configuration = &parse_steps(&text)[0];
    assert_eq!(configuration.status, "WARN", "{configuration:#?}");
    let cause = configuration.line_starting("cause: ").expect("cause line");
    assert!(
        cause.starts_with("cause: the client certificate expires on "),
        "{cause}"
    );
    assert!(
        cause.ends_with(", in 9 days") || cause.ends_with(", in 10 days"),
        "{cause}"
    );
}

#[test]
fn json_report_has_every_step() {
    let emulator = plain_emulator();
    let url = format!("{}bonus/", emulator.base_url());

    let output = doctor(&[
        "--url",
        &url,
        "--allow-http",
        "--supplier",
        "1111",
        "--card",
        TEST_BONUS_ID,
        "--json",
    ]);

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["passed"], true);
    assert_eq!(report["url"], url);
    let steps = report["steps"].as_array().unwrap();
    let names: Vec<&str> = steps
        .iter()
        .map(|step| step["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, STEP_NAMES);
    for step in steps {
        assert!(step["time_ms"].is_u64(), "{step}");
        assert!(step["details"].is_array(), "{step}");
        assert!(step["cause"].is_null(), "{step}");
        assert!(step["fix"].is_null(), "{step}");
    }
    assert_eq!(steps[0]["status"], "PASS");
    assert_eq!(steps[3]["status"], "SKIP");
    assert_eq!(steps[4]["status"], "SKIP");
    assert_eq!(steps[6]["status"], "PASS");
    let check_details = steps[6]["details"].as_array().unwrap();
    assert_eq!(check_details[0], format!("card {MASKED_TEST_CARD}"));
    assert_eq!(check_details[2], "balance 500");
    assert_no_secrets(&output, &[TEST_BONUS_ID]);
}

#[test]
fn json_report_of_failure_has_cause_and_fix() {
    let (emulator, pki, _folder) = mutual_tls_emulator("json-failure");

    let output = doctor(&[
        "--url",
        &emulator.base_url(),
        "--supplier",
        "1111",
        "--pkcs12-file",
        &path_text(&pki.client_p12),
        "--pkcs12-password",
        PKI_PASSWORD,
        "--json",
    ]);

    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["passed"], false);
    let tls = &report["steps"][4];
    assert_eq!(tls["name"], "tls");
    assert_eq!(tls["status"], "FAIL");
    assert_eq!(
        tls["cause"],
        "the certificate of localhost is not trusted: unknown issuer"
    );
    assert!(
        tls["fix"].as_str().unwrap().contains("extra_ca_file"),
        "{tls}"
    );
    let details: Vec<&str> = tls["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|detail| detail.as_str().unwrap())
        .collect();
    assert!(
        details.contains(&"server certificate 1: subject O=esbyt test PKI, CN=localhost"),
        "{details:#?}"
    );
    assert_no_secrets(&output, &[PKI_PASSWORD]);
}

#[test]
fn invalid_card_masked_in_library_error() {
    let emulator = plain_emulator();
    let card = "27000096012O5";

    let output = doctor(&[
        "--url",
        &emulator.base_url(),
        "--allow-http",
        "--supplier",
        "1111",
        "--card",
        card,
    ]);

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    let steps = parse_steps(&text);
    let check = step(&steps, "check_bonus");
    assert_eq!(check.status, "FAIL", "{check:#?}");
    assert!(check.has_line("card 2700******2O5"), "{check:#?}");
    assert!(
        check.has_line("library status ESBYT_INVALID_ARGUMENT"),
        "{check:#?}"
    );
    assert!(
        check.has_line_containing("bonus_id \"2700******2O5\" is invalid"),
        "{check:#?}"
    );
    assert_no_secrets(&output, &[card]);
}

#[test]
fn unreadable_file_fails_configuration() {
    let emulator = plain_emulator();
    let folder = TestFolder::new("missing-file");
    let missing = folder.0.join("partner.pfx");

    let output = doctor(&[
        "--url",
        &emulator.base_url(),
        "--allow-http",
        "--supplier",
        "1111",
        "--pkcs12-file",
        &path_text(&missing),
        "--pkcs12-password",
        PKI_PASSWORD,
    ]);

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    let configuration = &parse_steps(&text)[0];
    assert_eq!(configuration.status, "FAIL", "{configuration:#?}");
    let cause = configuration.line_starting("cause: ").expect("cause line");
    assert!(
        cause.starts_with(&format!(
            "cause: pkcs12_file {:?} cannot be read: ",
            path_text(&missing)
        )),
        "{cause}"
    );
    assert!(
        configuration.has_line("TLS configuration not built, because a file cannot be read"),
        "{configuration:#?}"
    );
    assert_no_secrets(&output, &[PKI_PASSWORD]);
}

#[test]
fn missing_url_fails_configuration() {
    let output = doctor(&[]);

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    let steps = parse_steps(&text);
    assert_eq!(steps.len(), STEP_NAMES.len(), "{steps:#?}");
    assert_eq!(steps[0].status, "FAIL");
    assert!(
        steps[0].has_line_containing("cause: --url is required"),
        "{:#?}",
        steps[0]
    );
    for later in &steps[1..] {
        assert_eq!(later.status, "SKIP", "{later:#?}");
        assert!(later.has_line("skipped because the configuration cannot be used"));
    }
}

#[test]
fn step_times_are_reported() {
    let emulator = plain_emulator();

    let output = doctor(&["--url", &emulator.base_url(), "--allow-http"]);

    let steps = parse_steps(&stdout(&output));
    assert_eq!(steps.len(), STEP_NAMES.len());
    // Loopback steps take far less than the 5 s connect timeout.
    for step in &steps {
        assert!(step.time_ms < 5_000, "{step:#?}");
    }
}

/// Starts a CONNECT proxy on 127.0.0.1 that opens every tunnel, or responds
/// to every request with `status_line` when one is given. Returns its port.
fn start_proxy(status_line: Option<&'static str>, expected_authorization: Option<String>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let expected = expected_authorization.clone();
            thread::spawn(move || {
                let _ = serve_tunnel(client, status_line, expected);
            });
        }
    });
    port
}

fn serve_tunnel(
    mut client: TcpStream,
    status_line: Option<&str>,
    expected_authorization: Option<String>,
) -> io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head
        .strip_prefix("CONNECT ")
        .and_then(|rest| rest.split_once(' '))
        .map(|(target, _)| target.to_owned());
    let authorized = match &expected_authorization {
        None => true,
        Some(expected) => head.contains(&format!("Proxy-Authorization: {expected}\r\n")),
    };
    let (Some(target), None, true) = (target, status_line, authorized) else {
        let status = status_line.unwrap_or("HTTP/1.1 407 Proxy Authentication Required");
        client.write_all(format!("{status}\r\nContent-Length: 0\r\n\r\n").as_bytes())?;
        return Ok(());
    };

    let server = TcpStream::connect(target)?;
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    let (mut client_reader, mut server_writer) = (client.try_clone()?, server.try_clone()?);
    let upstream = thread::spawn(move || {
        let _ = io::copy(&mut client_reader, &mut server_writer);
        let _ = server_writer.shutdown(Shutdown::Write);
    });
    let (mut server_reader, mut client_writer) = (server, client);
    let _ = io::copy(&mut server_reader, &mut client_writer);
    let _ = client_writer.shutdown(Shutdown::Write);
    let _ = upstream.join();
    Ok(())
}

#[test]
fn proxy_tunnel_passes() {
    let emulator = plain_emulator();
    // The expected Proxy-Authorization is base64 of "user:proxy-secret-9".
    let proxy_port = start_proxy(None, Some("Basic dXNlcjpwcm94eS1zZWNyZXQtOQ==".to_owned()));
    let url = format!("{}bonus/", emulator.base_url());
    let proxy = format!("http://user:proxy-secret-9@127.0.0.1:{proxy_port}");

    let output = doctor(&[
        "--url",
        &url,
        "--allow-http",
        "--supplier",
        "1111",
        "--proxy",
        &proxy,
        "--card",
        TEST_BONUS_ID,
    ]);

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    let steps = parse_steps(&text);
    assert_eq!(
        statuses(&steps),
        [
            ("configuration", "PASS"),
            ("dns", "PASS"),
            ("tcp", "PASS"),
            ("proxy", "PASS"),
            ("tls", "SKIP"),
            ("http", "PASS"),
            ("check_bonus", "PASS"),
        ]
    );
    let address = emulator.local_addr();
    assert!(
        step(&steps, "configuration")
            .has_line(&format!("proxy http://user:***@127.0.0.1:{proxy_port}"))
    );
    assert!(step(&steps, "tcp").has_line(&format!("connected to 127.0.0.1:{proxy_port}")));
    let proxy_step = step(&steps, "proxy");
    assert!(
        proxy_step.has_line(&format!("CONNECT {address}")),
        "{proxy_step:#?}"
    );
    assert!(proxy_step.has_line("the proxy opened the tunnel (HTTP 200)"));
    assert!(step(&steps, "check_bonus").has_line("balance 500"));
    assert_no_secrets(&output, &["proxy-secret-9", TEST_BONUS_ID]);
}

#[test]
fn proxy_authentication_required_fails_proxy() {
    let emulator = plain_emulator();
    let proxy_port = start_proxy(Some("HTTP/1.1 407 Proxy Authentication Required"), None);
    let proxy = format!("http://127.0.0.1:{proxy_port}");

    let output = doctor(&[
        "--url",
        &emulator.base_url(),
        "--allow-http",
        "--supplier",
        "1111",
        "--proxy",
        &proxy,
    ]);

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    let steps = parse_steps(&text);
    let proxy_step = step(&steps, "proxy");
    assert_eq!(proxy_step.status, "FAIL", "{proxy_step:#?}");
    assert_eq!(
        proxy_step.line_starting("cause: "),
        Some("cause: the proxy requires authentication (HTTP 407)")
    );
    assert!(
        proxy_step.has_line("fix:   put the user name and password into the proxy URL: http://USER:PASSWORD@proxy:3128"),
        "{proxy_step:#?}"
    );
    assert_eq!(step(&steps, "http").status, "SKIP");
}

#[test]
fn wrong_path_warns_http() {
    let emulator = plain_emulator();
    let url = format!("{}wrong/", emulator.base_url());

    let output = doctor(&["--url", &url, "--allow-http", "--supplier", "1111"]);

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    let steps = parse_steps(&text);
    let http = step(&steps, "http");
    assert_eq!(http.status, "WARN", "{http:#?}");
    assert!(
        http.has_line_containing("response HTTP 404 Not Found"),
        "{http:#?}"
    );
    let cause = http.line_starting("cause: ").expect("cause line");
    assert!(
        cause.starts_with("cause: the response is not a document of the bonus protocol"),
        "{cause}"
    );
    let fix = http.line_starting("fix: ").expect("fix line");
    assert!(fix.contains("check the path of the URL"), "{fix}");
}

#[test]
fn pinned_fingerprint_checks_server_certificate() {
    let (emulator, pki, _folder) = mutual_tls_emulator("pinned");
    let url = emulator.base_url();
    let p12 = path_text(&pki.client_p12);
    let run = |pin: &str| {
        doctor(&[
            "--url",
            &url,
            "--supplier",
            "1111",
            "--server-cert-sha256",
            pin,
            "--pkcs12-file",
            &p12,
            "--pkcs12-password",
            PKI_PASSWORD,
        ])
    };

    let wrong_pin = ["00"; 32].join(":");
    let rejected = run(&wrong_pin);

    let text = stdout(&rejected);
    assert_eq!(
        rejected.status.code(),
        Some(1),
        "{text}{}",
        stderr(&rejected)
    );
    let steps = parse_steps(&text);
    let tls = step(&steps, "tls");
    assert_eq!(tls.status, "FAIL", "{tls:#?}");
    assert!(
        tls.has_line("library detail ESBYT_DETAIL_TLS_PIN_MISMATCH"),
        "{tls:#?}"
    );
    let fingerprint_line = tls.line_starting("  SHA-256 ").expect("server chain shown");
    let fingerprint = fingerprint_line.trim_start_matches("  SHA-256 ");
    let cause = tls.line_starting("cause: ").expect("cause line");
    assert!(cause.contains(fingerprint), "{cause}");

    let accepted = run(fingerprint);

    let text = stdout(&accepted);
    assert_eq!(
        accepted.status.code(),
        Some(0),
        "{text}{}",
        stderr(&accepted)
    );
    let steps = parse_steps(&text);
    assert_eq!(step(&steps, "tls").status, "PASS");
    assert!(
        step(&steps, "configuration")
            .has_line("server certificate pinned: 1 SHA-256 fingerprint replaces the CA checks")
    );
}

/// Starts a server on 127.0.0.1 that responds to whatever arrives with an
/// HTTP 400 page and closes, as web servers treat a TLS handshake on a plain
/// HTTP port. Returns its port.
fn start_plain_http_rejecter() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let mut buffer = [0u8; 1024];
            let _ = client.read(&mut buffer);
            let _ = client.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    port
}

#[test]
fn https_url_on_plain_port_fails_tls() {
    let port = start_plain_http_rejecter();
    let url = format!("https://127.0.0.1:{port}/");

    let output = doctor(&["--url", &url, "--supplier", "1111"]);

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    let steps = parse_steps(&text);
    let tls = step(&steps, "tls");
    assert_eq!(tls.status, "FAIL", "{tls:#?}");
    assert!(
        tls.has_line("library detail ESBYT_DETAIL_TLS_NOT_TLS"),
        "{tls:#?}"
    );
    let fix = tls.line_starting("fix: ").expect("fix line");
    assert!(
        fix.contains("check that the server speaks HTTPS on this port"),
        "{fix}"
    );
}

#[test]
fn silent_tls_handshake_times_out() {
    // The emulator waits for an HTTP request head, which a TLS ClientHello never completes.
    let emulator = plain_emulator();
    let url = format!("https://127.0.0.1:{}/", emulator.local_addr().port());

    let output = doctor(&[
        "--url",
        &url,
        "--supplier",
        "1111",
        "--connect-timeout-ms",
        "500",
    ]);

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    let steps = parse_steps(&text);
    let tls = step(&steps, "tls");
    assert_eq!(tls.status, "FAIL", "{tls:#?}");
    assert_eq!(
        tls.line_starting("cause: "),
        Some(
            "cause: the server accepted the TCP connection but did not complete the TLS \
             handshake within 500 ms"
        )
    );
    assert!(tls.time_ms >= 500, "{tls:#?}");
    assert!(tls.time_ms < 2_000, "{tls:#?}");
}
