//! The test PKI: `generate_test_pki`, the `pki` command, and the binary serving HTTPS with
//! the generated files.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::TempDir;
use common::tls::{VERSIONS, client_config, connect, pki_client_config, read_certs, read_key};
use esbyt_emulator::pki_types::PrivateKeyDer;
use esbyt_emulator::{DEFAULT_PKI_PASSWORD, PkiError, TestPki, generate_test_pki};
use p12_keystore::{KeyStore, Pkcs12ImportPolicy};

const BINARY: &str = env!("CARGO_BIN_EXE_esbyt-emulator");

const FILE_NAMES: [&str; 7] = [
    "ca.pem",
    "server.pem",
    "server.key",
    "client.pem",
    "client.key",
    "client.p12",
    "README.txt",
];

fn new_pki(dir: &TempDir) -> TestPki {
    generate_test_pki(dir.path(), DEFAULT_PKI_PASSWORD, false).expect("generate test PKI")
}

#[test]
fn generate_writes_all_files() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);

    assert_eq!(pki.dir, dir.path());
    for (path, name) in pki.files().into_iter().zip(FILE_NAMES) {
        assert_eq!(path, dir.path().join(name), "{name}");
        assert!(path.is_file(), "{} missing", path.display());
    }
    let mut listed: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    listed.sort();
    let mut expected: Vec<String> = FILE_NAMES.iter().map(|name| name.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected, "no other files");
}

#[test]
fn generated_pem_files_parse() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);

    for path in [&pki.ca_cert, &pki.server_cert, &pki.client_cert] {
        assert_eq!(read_certs(path).len(), 1, "{}", path.display());
    }
    for path in [&pki.server_key, &pki.client_key] {
        assert!(
            matches!(read_key(path), PrivateKeyDer::Pkcs8(_)),
            "{} is not PKCS#8",
            path.display()
        );
        let text = fs::read_to_string(path).unwrap();
        assert!(
            text.starts_with("-----BEGIN PRIVATE KEY-----\n"),
            "{}",
            path.display()
        );
    }
}

#[test]
fn generated_validity_is_two_years() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let days = pki
        .not_after
        .duration_since(std::time::SystemTime::now())
        .unwrap()
        .as_secs()
        / 86_400;
    assert!((729..=730).contains(&days), "{days} days left");
}

#[cfg(unix)]
#[test]
fn generated_keys_are_private() {
    use std::os::unix::fs::PermissionsExt;

    let dir = TempDir::new();
    let pki = new_pki(&dir);
    for path in [&pki.server_key, &pki.client_key, &pki.client_p12] {
        let mode = fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
}

#[test]
fn client_p12_reads_back_with_password() {
    let dir = TempDir::new();
    let pki = generate_test_pki(dir.path(), "another pass", false).unwrap();
    let p12 = fs::read(&pki.client_p12).unwrap();

    let store = KeyStore::from_pkcs12(&p12, "another pass", Pkcs12ImportPolicy::Strict)
        .expect("read client.p12 with the right password");
    let (_, chain) = store.private_key_chain().expect("a key with its chain");
    let PrivateKeyDer::Pkcs8(client_key) = read_key(&pki.client_key) else {
        panic!("client.key is not PKCS#8");
    };
    assert_eq!(chain.key().as_der(), client_key.secret_pkcs8_der());
    let chain_der: Vec<&[u8]> = chain.certs().iter().map(|cert| cert.as_der()).collect();
    let client_cert = read_certs(&pki.client_cert);
    let ca_cert = read_certs(&pki.ca_cert);
    assert_eq!(
        chain_der,
        vec![client_cert[0].as_ref(), ca_cert[0].as_ref()]
    );
}

#[test]
fn client_p12_rejects_wrong_password() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let p12 = fs::read(&pki.client_p12).unwrap();
    let result = KeyStore::from_pkcs12(&p12, "wrong", Pkcs12ImportPolicy::Strict);
    assert!(result.is_err(), "read with a wrong password");
}

#[test]
fn readme_describes_each_file() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let readme = fs::read_to_string(&pki.readme).unwrap();
    for name in &FILE_NAMES[..6] {
        assert!(readme.contains(name), "README.txt does not mention {name}");
    }
    assert!(readme.contains(DEFAULT_PKI_PASSWORD), "{readme}");
    assert!(readme.contains("--tls-dir"), "{readme}");
    assert!(readme.contains("extra_ca_file"), "{readme}");
}

#[test]
fn generate_rejects_existing_files() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let old_ca = fs::read(&pki.ca_cert).unwrap();

    let error = generate_test_pki(dir.path(), DEFAULT_PKI_PASSWORD, false).unwrap_err();
    match &error {
        PkiError::FileExists { path } => assert_eq!(path, &pki.ca_cert),
        other => panic!("expected FileExists, got {other:?}"),
    }
    assert!(
        error
            .to_string()
            .contains(&pki.ca_cert.display().to_string()),
        "{error}"
    );
    assert_eq!(fs::read(&pki.ca_cert).unwrap(), old_ca, "ca.pem changed");

    generate_test_pki(dir.path(), DEFAULT_PKI_PASSWORD, true).expect("overwrite");
    assert_ne!(
        fs::read(&pki.ca_cert).unwrap(),
        old_ca,
        "ca.pem not replaced"
    );
}

#[test]
fn generate_rejects_any_existing_file() {
    let dir = TempDir::new();
    fs::write(dir.path().join("client.p12"), "keep me").unwrap();
    let error = generate_test_pki(dir.path(), DEFAULT_PKI_PASSWORD, false).unwrap_err();
    assert!(
        matches!(&error, PkiError::FileExists { path } if path.ends_with("client.p12")),
        "{error:?}"
    );
    assert!(!dir.path().join("ca.pem").exists(), "wrote ca.pem anyway");
    assert_eq!(
        fs::read_to_string(dir.path().join("client.p12")).unwrap(),
        "keep me"
    );
}

#[test]
fn generate_creates_missing_directory() {
    let dir = TempDir::new();
    let nested = dir.path().join("a").join("b");
    let pki = generate_test_pki(&nested, DEFAULT_PKI_PASSWORD, false).unwrap();
    assert!(pki.ca_cert.is_file());
}

#[test]
fn generate_rejects_bad_passwords() {
    let dir = TempDir::new();
    for password in ["", "пароль", "tab\there"] {
        let error = generate_test_pki(dir.path(), password, false).unwrap_err();
        assert!(
            matches!(error, PkiError::InvalidPassword(_)),
            "{password:?}: {error:?}"
        );
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "wrote files");
}

/// Kills the child process on drop, so that a failed assertion leaves no server behind.
struct RunningBinary(Child);

impl Drop for RunningBinary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_pki_command(dir: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(BINARY)
        .arg("pki")
        .arg(dir)
        .args(extra)
        .output()
        .expect("run esbyt-emulator pki")
}

#[test]
fn pki_command_writes_all_files() {
    let dir = TempDir::new();
    let output = run_pki_command(dir.path(), &[]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("Password of client.p12: esbyt-test\n"),
        "{stdout}"
    );
    for name in FILE_NAMES {
        assert!(dir.path().join(name).is_file(), "{name} missing");
        assert!(stdout.contains(name), "{name} not listed in {stdout}");
    }
}

#[test]
fn pki_command_uses_given_password() {
    let dir = TempDir::new();
    let output = run_pki_command(dir.path(), &["--password", "s3cret!"]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("Password of client.p12: s3cret!\n"),
        "{stdout}"
    );

    let p12 = fs::read(dir.path().join("client.p12")).unwrap();
    assert!(KeyStore::from_pkcs12(&p12, "s3cret!", Pkcs12ImportPolicy::Strict).is_ok());
}

#[test]
fn pki_command_requires_force_to_overwrite() {
    let dir = TempDir::new();
    assert!(run_pki_command(dir.path(), &[]).status.success());
    let ca = dir.path().join("ca.pem");
    let old_ca = fs::read(&ca).unwrap();

    let rejected = run_pki_command(dir.path(), &[]);
    assert_eq!(rejected.status.code(), Some(1));
    let stderr = String::from_utf8(rejected.stderr).unwrap();
    let expected = format!(
        "esbyt-emulator: {} already exists. Add --force to replace the files in {}\n",
        ca.display(),
        dir.path().display()
    );
    assert_eq!(stderr, expected);
    assert_eq!(fs::read(&ca).unwrap(), old_ca, "ca.pem changed");

    let forced = run_pki_command(dir.path(), &["--force"]);
    assert!(forced.status.success(), "{forced:?}");
    assert_ne!(fs::read(&ca).unwrap(), old_ca, "ca.pem not replaced");
}

/// Starts the binary with stderr piped and returns it with the URL from its first stdout
/// line and a channel of its stderr lines.
fn spawn_binary(args: &[&str]) -> (RunningBinary, String, mpsc::Receiver<String>) {
    let child = Command::new(BINARY)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start esbyt-emulator");
    let mut running = RunningBinary(child);

    let stderr = running.0.stderr.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if sender.send(line).is_err() {
                return;
            }
        }
    });

    let stdout = running.0.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .trim_end()
        .strip_prefix("esbyt-emulator listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (running, url, receiver)
}

/// Waits for a stderr line that contains `text`.
fn wait_for_line(lines: &mpsc::Receiver<String>, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(text) => return line,
            Ok(_) => {}
            Err(error) => panic!("no stderr line with {text:?}: {error}"),
        }
    }
}

#[test]
fn binary_tls_dir_serves_mutual_tls() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let tls_dir = dir.path().to_str().unwrap();
    let (_binary, url, stderr) = spawn_binary(&["--listen", "127.0.0.1:0", "--tls-dir", tls_dir]);

    let port = url
        .strip_prefix("https://localhost:")
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("expected https://localhost:PORT/, got {url:?}"));
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();

    for version in VERSIONS {
        let config = pki_client_config(&pki, version);
        let response =
            connect(addr, &config).get("/bonus/?command=check_bonus&bonus_id=2700009601205");
        assert_eq!(response.body, common::TEST_CARD_XML, "{version:?}");
    }

    // A client without a certificate fails, and the failure is logged with its address.
    let anonymous = client_config(&pki.ca_cert, None, &rustls::version::TLS13);
    let mut stream = common::tls::connect_as(addr, &anonymous, "localhost").unwrap();
    let client_addr = stream.sock.local_addr().unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut byte = [0u8; 1];
    let error = stream.read(&mut byte).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidData, "{error}");
    let line = wait_for_line(&stderr, "TLS handshake failed");
    assert_eq!(
        line,
        format!(
            "esbyt-emulator: {client_addr} TLS handshake failed: the client sent no certificate, \
             but a client certificate signed by the client CA is required"
        )
    );

    let config = pki_client_config(&pki, &rustls::version::TLS13);
    let response = connect(addr, &config).get("/?command=check_bonus&bonus_id=2700009601205");
    assert_eq!(response.body, common::TEST_CARD_XML);
}

#[test]
fn binary_serves_https_without_client_ca() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let cert = pki.server_cert.to_str().unwrap();
    let key = pki.server_key.to_str().unwrap();
    let args = [
        "--listen=127.0.0.1:0",
        "--quiet",
        "--tls-cert",
        cert,
        "--tls-key",
        key,
    ];
    let (_binary, url, _stderr) = spawn_binary(&args);
    assert!(url.starts_with("https://localhost:"), "{url}");
    let port = url
        .trim_start_matches("https://localhost:")
        .trim_end_matches('/');
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();

    // No --client-ca, so a client without a certificate is served.
    let config = client_config(&pki.ca_cert, None, &rustls::version::TLS12);
    let response = connect(addr, &config).get("/?command=check_bonus&bonus_id=2700009601205");
    assert_eq!(response.body, common::TEST_CARD_XML);
}

#[test]
fn binary_reports_invalid_tls_files() {
    let dir = TempDir::new();
    let pki = new_pki(&dir);
    let missing = dir.path().join("missing.pem");
    let cases = [
        (
            vec![
                "--tls-cert",
                missing.to_str().unwrap(),
                "--tls-key",
                pki.server_key.to_str().unwrap(),
            ],
            format!("esbyt-emulator: failed to read {}: ", missing.display()),
        ),
        (
            vec![
                "--tls-cert",
                pki.server_cert.to_str().unwrap(),
                "--tls-key",
                pki.client_key.to_str().unwrap(),
            ],
            format!(
                "esbyt-emulator: {}: the private key does not belong to the first certificate in {}\n",
                pki.client_key.display(),
                pki.server_cert.display()
            ),
        ),
        (
            vec![
                "--tls-cert",
                pki.server_cert.to_str().unwrap(),
                "--tls-key",
                pki.server_key.to_str().unwrap(),
                "--client-ca",
                pki.readme.to_str().unwrap(),
            ],
            format!(
                "esbyt-emulator: {}: no client CA certificate found: expected a PEM block \"-----BEGIN CERTIFICATE-----\"\n",
                pki.readme.display()
            ),
        ),
    ];
    for (args, expected_start) in cases {
        let output = Command::new(BINARY)
            .args(["--listen", "127.0.0.1:0"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.starts_with(&expected_start), "{args:?}: {stderr}");
    }
}

#[test]
fn binary_help_describes_tls() {
    let output = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for text in [
        "--tls-cert",
        "--tls-key",
        "--client-ca",
        "--tls-dir",
        "pki DIR",
        "--force",
    ] {
        assert!(help.contains(text), "help does not mention {text}");
    }
}
