//! Certificates, keys and the files holding them, generated inside the tests.
//!
//! rcgen signs every certificate. The forms that rcgen with ring cannot write
//! come from the `openssl` command: RSA keys, PKCS#1 and SEC1 key files,
//! encrypted keys, legacy PKCS#12 files and X.509 v1 certificates. A missing
//! `openssl` fails the test instead of skipping it, so a machine without it
//! cannot report these formats as tested.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SignatureAlgorithm,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use time::{Duration, OffsetDateTime};

/// Creates an empty folder for the files of one test under Cargo's scratch
/// directory. The folder name contains the test binary and the process id,
/// so concurrent runs never share files.
pub fn test_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!(
            "{}-{}",
            env!("CARGO_CRATE_NAME"),
            std::process::id()
        ))
        .join(test);
    match fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => panic!("failed to empty {}: {error}", dir.display()),
    }
    fs::create_dir_all(&dir)
        .unwrap_or_else(|error| panic!("failed to create {}: {error}", dir.display()));
    dir
}

/// Writes `content` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, content)
        .unwrap_or_else(|error| panic!("failed to write {}: {error}", path.display()));
    path
}

/// Returns the text as Windows Notepad saves it: a UTF-8 byte-order mark
/// first and CRLF line ends.
pub fn as_notepad_saves(text: &str) -> String {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    format!("\u{FEFF}{crlf}")
}

/// Returns a path as the text of a setting value.
pub fn path_text(path: &Path) -> String {
    path.to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()))
        .to_owned()
}

/// A certificate with its private key.
pub struct Leaf {
    pub der: CertificateDer<'static>,
    pub cert_pem: String,
    /// The private key in PEM, PKCS#8 unless the test wrote another form.
    pub key_pem: String,
}

impl Leaf {
    /// Returns the private key for a rustls server.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .unwrap_or_else(|error| panic!("the generated key is not readable PEM: {error}"))
    }

    /// Returns the SHA-256 fingerprint of the certificate as 64 lowercase hex digits.
    pub fn sha256_hex(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.der);
        digest
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Returns the SHA-256 fingerprint as colon-separated uppercase hex
    /// pairs, as certificate viewers and `openssl x509 -fingerprint` show it.
    pub fn sha256_colons(&self) -> String {
        let hex = self.sha256_hex().to_uppercase();
        let pairs: Vec<&str> = (0..hex.len())
            .step_by(2)
            .map(|index| &hex[index..index + 2])
            .collect();
        pairs.join(":")
    }
}

/// A certificate authority that signs server, client and intermediate CA certificates.
pub struct Authority {
    pub der: CertificateDer<'static>,
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    /// Creates a self-signed root CA.
    pub fn root(common_name: &str) -> Authority {
        let key = generate_key();
        let params = ca_params(common_name);
        let certificate = params
            .self_signed(&key)
            .expect("failed to self-sign the root CA certificate");
        Authority {
            der: certificate.der().clone(),
            pem: certificate.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Creates an intermediate CA signed by this CA.
    pub fn intermediate(&self, common_name: &str) -> Authority {
        let key = generate_key();
        let params = ca_params(common_name);
        let certificate = params
            .signed_by(&key, &self.issuer)
            .expect("failed to sign the intermediate CA certificate");
        Authority {
            der: certificate.der().clone(),
            pem: certificate.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Returns the CA's private key as PKCS#8 PEM, for `openssl x509 -CAkey`.
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// Issues a server certificate for the names, valid from 30 days ago for 30 more days.
    pub fn server(&self, names: &[&str]) -> Leaf {
        let now = OffsetDateTime::now_utc();
        self.server_valid(names, now - Duration::days(30), now + Duration::days(30))
    }

    /// Issues a server certificate for the names with the given validity.
    pub fn server_valid(
        &self,
        names: &[&str],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Leaf {
        let key = generate_key();
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("invalid server name");
        params
            .distinguished_name
            .push(DnType::CommonName, "esbyt test server");
        params.not_before = not_before;
        params.not_after = not_after;
        params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::ServerAuth);
        let certificate = params
            .signed_by(&key, &self.issuer)
            .expect("failed to sign the server certificate");
        Leaf {
            der: certificate.der().clone(),
            cert_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Issues a client certificate with a new P-256 key.
    pub fn client(&self, common_name: &str) -> Leaf {
        let key = generate_key();
        let (der, cert_pem) = self.sign_client(common_name, &key);
        Leaf {
            der,
            cert_pem,
            key_pem: key.serialize_pem(),
        }
    }

    /// Issues a client certificate with a new P-256 key and the given validity.
    pub fn client_valid(
        &self,
        common_name: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Leaf {
        let key = generate_key();
        let (der, cert_pem) = self.sign_client_valid(common_name, &key, not_before, not_after);
        Leaf {
            der,
            cert_pem,
            key_pem: key.serialize_pem(),
        }
    }

    /// Issues a client certificate for a public key, valid from a day ago for
    /// 30 more days, and returns its DER and PEM.
    pub fn sign_client(
        &self,
        common_name: &str,
        public_key: &impl PublicKeyData,
    ) -> (CertificateDer<'static>, String) {
        let now = OffsetDateTime::now_utc();
        self.sign_client_valid(
            common_name,
            public_key,
            now - Duration::days(1),
            now + Duration::days(30),
        )
    }

    fn sign_client_valid(
        &self,
        common_name: &str,
        public_key: &impl PublicKeyData,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> (CertificateDer<'static>, String) {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("empty name list");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.not_before = not_before;
        params.not_after = not_after;
        params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::ClientAuth);
        let certificate = params
            .signed_by(public_key, &self.issuer)
            .expect("failed to sign the client certificate");
        (certificate.der().clone(), certificate.pem())
    }
}

fn generate_key() -> KeyPair {
    KeyPair::generate().expect("failed to generate a P-256 key")
}

fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("empty name list");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(60);
    params.not_after = now + Duration::days(365);
    params
}

/// An RSA public key in the PKCS#1 `RSAPublicKey` form, for signing a
/// certificate for a key that ring cannot load, such as a 1024-bit one.
pub struct RsaPublicKey(pub Vec<u8>);

impl PublicKeyData for RsaPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

/// Runs `openssl` in `dir` and returns its standard output followed by its
/// standard error, where OpenSSL 3.0 prints some reports such as the
/// algorithms of a PKCS#12 file. Panics with openssl's messages when it
/// fails, and when it is not installed.
pub fn openssl(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| openssl_failed_to_start(&error));
    assert!(
        output.status.success(),
        "`openssl {}` in {} failed with {}:\n{}",
        args.join(" "),
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    text
}

/// Panics with the reason `openssl` did not start, and how to install it
/// when it is missing.
pub fn openssl_failed_to_start(error: &io::Error) -> ! {
    if error.kind() == io::ErrorKind::NotFound {
        panic!(
            "the `openssl` command was not found on PATH: install OpenSSL 3 (on Debian: \
             apt-get install openssl). The tests that need it fail rather than skip without it."
        );
    }
    panic!("failed to start `openssl`: {error}");
}

/// Reads a file that a test wrote.
pub fn read_text(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()))
}

/// Generates an RSA key with `openssl genrsa -traditional`, so it is written
/// as PKCS#1 ("BEGIN RSA PRIVATE KEY"), and returns the file's path.
pub fn rsa_key_pkcs1(dir: &Path, name: &str, bits: u32) -> PathBuf {
    openssl(
        dir,
        &["genrsa", "-traditional", "-out", name, &bits.to_string()],
    );
    let path = dir.join(name);
    assert!(
        read_text(&path).starts_with("-----BEGIN RSA PRIVATE KEY-----"),
        "openssl did not write a PKCS#1 key to {}",
        path.display()
    );
    path
}

/// Issues a client certificate for an RSA key of any size and returns it with
/// the key in the form the file at `key_path` contains.
pub fn rsa_client(authority: &Authority, dir: &Path, key_path: &Path) -> Leaf {
    let key_file = path_text(key_path);
    let public_key_name = format!("{key_file}.public.der");
    openssl(
        dir,
        &[
            "rsa",
            "-in",
            &key_file,
            "-RSAPublicKey_out",
            "-outform",
            "DER",
            "-out",
            &public_key_name,
        ],
    );
    let public_key = fs::read(dir.join(&public_key_name))
        .unwrap_or_else(|error| panic!("failed to read {public_key_name}: {error}"));
    let (der, cert_pem) = authority.sign_client("esbyt rsa client", &RsaPublicKey(public_key));
    Leaf {
        der,
        cert_pem,
        key_pem: read_text(key_path),
    }
}

/// Converts a PKCS#8 key to SEC1 ("BEGIN EC PRIVATE KEY") with `openssl ec`.
pub fn ec_key_sec1(dir: &Path, pkcs8_pem: &str, name: &str) -> PathBuf {
    let input = write_file(dir, &format!("{name}.pkcs8.pem"), pkcs8_pem);
    openssl(dir, &["ec", "-in", &path_text(&input), "-out", name]);
    let path = dir.join(name);
    assert!(
        read_text(&path).starts_with("-----BEGIN EC PRIVATE KEY-----"),
        "openssl did not write a SEC1 key to {}",
        path.display()
    );
    path
}

/// Encrypts a key as PKCS#8 with PBES2 and AES-256-CBC ("BEGIN ENCRYPTED
/// PRIVATE KEY") with `openssl pkcs8 -topk8`.
pub fn encrypted_pkcs8(dir: &Path, key_pem: &str, name: &str, password: &str) -> PathBuf {
    let input = write_file(dir, &format!("{name}.plain.pem"), key_pem);
    let password_argument = format!("pass:{password}");
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            &path_text(&input),
            "-out",
            name,
            "-passout",
            &password_argument,
        ],
    );
    let path = dir.join(name);
    assert!(
        read_text(&path).starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "openssl did not write an encrypted PKCS#8 key to {}",
        path.display()
    );
    path
}

/// Encrypts a PKCS#1 RSA key in OpenSSL's legacy PEM form, with
/// "Proc-Type: 4,ENCRYPTED" headers, with `openssl rsa -traditional -aes256`.
pub fn legacy_encrypted_rsa(dir: &Path, key_path: &Path, name: &str, password: &str) -> PathBuf {
    let password_argument = format!("pass:{password}");
    openssl(
        dir,
        &[
            "rsa",
            "-traditional",
            "-aes256",
            "-in",
            &path_text(key_path),
            "-out",
            name,
            "-passout",
            &password_argument,
        ],
    );
    let path = dir.join(name);
    assert!(
        read_text(&path).contains("Proc-Type: 4,ENCRYPTED"),
        "openssl did not write a legacy encrypted key to {}",
        path.display()
    );
    path
}

/// Writes a PKCS#12 file the way older Windows versions export one, with
/// `openssl pkcs12 -export -legacy`: certificates under RC2-40, the key
/// under 3DES, and a SHA-1 MAC.
pub fn legacy_pkcs12(dir: &Path, client: &Leaf, name: &str, password: &str) -> PathBuf {
    let cert = write_file(dir, &format!("{name}.cert.pem"), &client.cert_pem);
    let key = write_file(dir, &format!("{name}.key.pem"), &client.key_pem);
    let password_argument = format!("pass:{password}");
    openssl(
        dir,
        &[
            "pkcs12",
            "-export",
            "-legacy",
            "-in",
            &path_text(&cert),
            "-inkey",
            &path_text(&key),
            "-out",
            name,
            "-passout",
            &password_argument,
        ],
    );
    let path = dir.join(name);
    let info = openssl(
        dir,
        &[
            "pkcs12",
            "-info",
            "-noout",
            "-legacy",
            "-in",
            name,
            "-passin",
            &password_argument,
        ],
    );
    for algorithm in [
        "pbeWithSHA1And40BitRC2-CBC",
        "pbeWithSHA1And3-KeyTripleDES-CBC",
    ] {
        assert!(
            info.contains(algorithm),
            "{} is not encrypted with {algorithm}:\n{info}",
            path.display()
        );
    }
    path
}

/// Writes a PKCS#12 file with p12-keystore: PBES2 with AES-256 and an
/// HMAC-SHA-256 MAC, as current tools export it.
pub fn pkcs12(
    dir: &Path,
    client: &Leaf,
    chain: &[&CertificateDer<'_>],
    name: &str,
    password: &str,
) -> PathBuf {
    let key_der = match client.key() {
        PrivateKeyDer::Pkcs8(key) => key.secret_pkcs8_der().to_vec(),
        _ => panic!("pkcs12 needs a PKCS#8 key"),
    };
    let key = p12_keystore::PrivateKey::from_der(&key_der).expect("PKCS#8 key for PKCS#12");
    let mut certificates = vec![
        p12_keystore::Certificate::from_der(&client.der).expect("client certificate for PKCS#12"),
    ];
    for certificate in chain {
        certificates.push(
            p12_keystore::Certificate::from_der(certificate)
                .expect("chain certificate for PKCS#12"),
        );
    }
    let key_chain = p12_keystore::PrivateKeyChain::new(b"esbyt-client".to_vec(), key, certificates);
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "esbyt client",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(key_chain),
    );
    let bytes = store
        .writer(password)
        .write()
        .expect("p12-keystore failed to write the PKCS#12 file");
    write_file(dir, name, bytes)
}

/// Issues an X.509 v1 client certificate (no extensions) for a key with
/// `openssl req` and `openssl x509 -req`, and returns its PEM.
pub fn v1_client_certificate(authority: &Authority, dir: &Path, key_pem: &str) -> String {
    let key = write_file(dir, "v1-client.key.pem", key_pem);
    let ca_cert = write_file(dir, "v1-ca.pem", &authority.pem);
    let ca_key = write_file(dir, "v1-ca.key.pem", authority.key_pem());
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &path_text(&key),
            "-subj",
            "/CN=esbyt v1 client",
            "-out",
            "v1-client.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "v1-client.csr",
            "-CA",
            &path_text(&ca_cert),
            "-CAkey",
            &path_text(&ca_key),
            "-set_serial",
            "1001",
            "-days",
            "30",
            "-out",
            "v1-client.pem",
        ],
    );
    let text = openssl(dir, &["x509", "-in", "v1-client.pem", "-noout", "-text"]);
    assert!(
        text.contains("Version: 1 (0x0)"),
        "openssl did not issue an X.509 v1 certificate:\n{text}"
    );
    read_text(&dir.join("v1-client.pem"))
}
