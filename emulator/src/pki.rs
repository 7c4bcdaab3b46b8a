//! A throwaway PKI for trying mutual TLS against the emulator: a CA, a server certificate
//! for the loopback names and a client certificate, in PEM and PKCS#12 files.

use std::error::Error;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKey,
    PrivateKeyChain,
};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use time::OffsetDateTime;

/// PKCS#12 password that the `pki` command uses when none is given.
pub const DEFAULT_PKI_PASSWORD: &str = "esbyt-test";

/// Validity of the generated certificates in days, counted from generation.
pub const PKI_VALIDITY_DAYS: i64 = 730;

/// How far `notBefore` lies before the generation time, so that a client whose clock
/// runs a little behind still accepts the certificates.
const CLOCK_SKEW_ALLOWANCE: time::Duration = time::Duration::hours(1);

/// PBKDF2 iterations for the PKCS#12 encryption and MAC keys. 10,000 is the p12-keystore
/// 0.4 default and higher than the 2,048 that OpenSSL 3 uses.
const PKCS12_ITERATIONS: u32 = 10_000;

pub(crate) const CA_CERT_FILE: &str = "ca.pem";
pub(crate) const SERVER_CERT_FILE: &str = "server.pem";
pub(crate) const SERVER_KEY_FILE: &str = "server.key";
const CLIENT_CERT_FILE: &str = "client.pem";
const CLIENT_KEY_FILE: &str = "client.key";
const CLIENT_P12_FILE: &str = "client.p12";
const README_FILE: &str = "README.txt";

/// Names in the server certificate. Clients reach the emulator as `localhost`, which
/// [`Emulator::base_url`](crate::Emulator::base_url) returns, or by loopback address.
const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Friendly name of the key and certificate in `client.p12`, shown by Windows and OpenSSL.
const CLIENT_P12_ALIAS: &str = "esbyt-emulator test client";

/// Paths of the files that [`generate_test_pki`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPki {
    /// Directory that contains all the files.
    pub dir: PathBuf,
    /// `ca.pem`: the CA certificate. Clients add it as an extra trusted CA, and the
    /// emulator uses it as the client CA. Its private key is discarded.
    pub ca_cert: PathBuf,
    /// `server.pem`: the server certificate, signed by the CA.
    pub server_cert: PathBuf,
    /// `server.key`: the server's private key, PKCS#8 PEM.
    pub server_key: PathBuf,
    /// `client.pem`: the client certificate, signed by the CA.
    pub client_cert: PathBuf,
    /// `client.key`: the client's private key, PKCS#8 PEM.
    pub client_key: PathBuf,
    /// `client.p12`: the client key with the client and CA certificates, PKCS#12.
    pub client_p12: PathBuf,
    /// `README.txt`: what each file is for.
    pub readme: PathBuf,
    /// End of validity of all three certificates.
    pub not_after: SystemTime,
}

impl TestPki {
    /// Returns the paths of all written files, in the order of the fields.
    pub fn files(&self) -> [&Path; 7] {
        [
            &self.ca_cert,
            &self.server_cert,
            &self.server_key,
            &self.client_cert,
            &self.client_key,
            &self.client_p12,
            &self.readme,
        ]
    }
}

/// Failure to generate or write the test PKI.
#[derive(Debug)]
pub enum PkiError {
    /// The PKCS#12 password is empty or not printable ASCII.
    InvalidPassword(String),
    /// A file that would be written already exists, and overwriting was not allowed.
    FileExists { path: PathBuf },
    /// A file or the directory could not be written.
    Write { path: PathBuf, source: io::Error },
    /// Generating a key, a certificate or the PKCS#12 file failed.
    Generate(String),
}

impl fmt::Display for PkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PkiError::InvalidPassword(message) => write!(f, "invalid PKCS#12 password: {message}"),
            PkiError::FileExists { path } => write!(
                f,
                "{} already exists. Remove it, choose another directory or allow overwriting",
                path.display()
            ),
            PkiError::Write { path, source } => {
                write!(f, "failed to write {}: {source}", path.display())
            }
            PkiError::Generate(message) => write!(f, "failed to generate the test PKI: {message}"),
        }
    }
}

impl Error for PkiError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            PkiError::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Generates a test CA, a server certificate for `localhost`, `127.0.0.1` and `::1`, and a
/// client certificate, and writes them into `dir`, which is created if missing.
///
/// The files are `ca.pem`, `server.pem`, `server.key`, `client.pem`, `client.key`,
/// `client.p12` and `README.txt` (see [`TestPki`]). Keys are ECDSA P-256, because
/// generating them takes milliseconds and RFC 8446 requires every TLS 1.3 implementation
/// to verify P-256 signatures. The certificates are valid from one hour before now for [`PKI_VALIDITY_DAYS`] days.
/// `client.p12` is encrypted with PBES2 (PBKDF2 with HMAC-SHA-256, AES-256-CBC) and has an
/// HMAC-SHA-256 MAC, both keyed by `password`.
///
/// Unless `overwrite` is true, the function fails with [`PkiError::FileExists`] before it
/// writes anything when one of the files exists. The key files and `client.p12` get mode
/// 0600 on Unix.
pub fn generate_test_pki(dir: &Path, password: &str, overwrite: bool) -> Result<TestPki, PkiError> {
    check_password(password)?;
    let pki = TestPki {
        dir: dir.to_path_buf(),
        ca_cert: dir.join(CA_CERT_FILE),
        server_cert: dir.join(SERVER_CERT_FILE),
        server_key: dir.join(SERVER_KEY_FILE),
        client_cert: dir.join(CLIENT_CERT_FILE),
        client_key: dir.join(CLIENT_KEY_FILE),
        client_p12: dir.join(CLIENT_P12_FILE),
        readme: dir.join(README_FILE),
        not_after: SystemTime::UNIX_EPOCH,
    };
    if !overwrite {
        // symlink_metadata also finds a dangling symbolic link, which writing would follow.
        if let Some(path) = pki
            .files()
            .into_iter()
            .find(|p| p.symlink_metadata().is_ok())
        {
            return Err(PkiError::FileExists {
                path: path.to_path_buf(),
            });
        }
    }

    let generated = generate(password)?;
    let pki = TestPki {
        not_after: generated.not_after.into(),
        ..pki
    };
    fs::create_dir_all(dir).map_err(|source| PkiError::Write {
        path: dir.to_path_buf(),
        source,
    })?;

    let readme = readme_text(&pki, password, generated.not_after);
    let files: [(&Path, &[u8], bool); 7] = [
        (&pki.ca_cert, generated.ca_cert_pem.as_bytes(), false),
        (
            &pki.server_cert,
            generated.server_cert_pem.as_bytes(),
            false,
        ),
        (&pki.server_key, generated.server_key_pem.as_bytes(), true),
        (
            &pki.client_cert,
            generated.client_cert_pem.as_bytes(),
            false,
        ),
        (&pki.client_key, generated.client_key_pem.as_bytes(), true),
        (&pki.client_p12, &generated.client_p12, true),
        (&pki.readme, readme.as_bytes(), false),
    ];
    for (path, contents, secret) in files {
        write_file(path, contents, secret, overwrite)?;
    }
    Ok(pki)
}

/// Rejects passwords that PKCS#12 tools could encode differently.
// PKCS#12 encodes the password as a BMPString for its MAC but as raw bytes for PBES2, and
// OpenSSL before 1.1.0 reads non-ASCII passwords as ISO-8859-1 (OpenSSL's
// passphrase-encoding(7) manual). Printable ASCII encodes the same everywhere.
fn check_password(password: &str) -> Result<(), PkiError> {
    if password.is_empty() {
        return Err(PkiError::InvalidPassword(
            "the password is empty. Give at least one printable ASCII character".to_string(),
        ));
    }
    if let Some(bad) = password.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(PkiError::InvalidPassword(format!(
            "character {bad:?} is not printable ASCII. Use letters, digits, spaces and ASCII \
             punctuation"
        )));
    }
    Ok(())
}

/// The generated PKI in memory, before anything is written.
struct GeneratedPki {
    ca_cert_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
    client_p12: Vec<u8>,
    not_after: OffsetDateTime,
}

fn generate(password: &str) -> Result<GeneratedPki, PkiError> {
    let rcgen_error =
        |what: &str, error: rcgen::Error| PkiError::Generate(format!("{what}: {error}"));
    let now = OffsetDateTime::now_utc();
    let not_before = now - CLOCK_SKEW_ALLOWANCE;
    let not_after = now + time::Duration::days(PKI_VALIDITY_DAYS);

    let ca_key = new_key().map_err(|e| rcgen_error("CA key", e))?;
    let mut ca_params = CertificateParams::default();
    // Each CA gets its own name. Verifiers find the issuer of a certificate by name, so a
    // client certificate of an earlier PKI would otherwise fail with a bad signature
    // instead of an unknown issuer.
    let ca_name = format!("esbyt-emulator test CA {}", key_id_hex(&ca_key));
    ca_params.distinguished_name = common_name(&ca_name);
    // Path length 0: the CA signs only end-entity certificates.
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .map_err(|e| rcgen_error("CA certificate", e))?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = new_key().map_err(|e| rcgen_error("server key", e))?;
    let server_names: Vec<String> = SERVER_NAMES.iter().map(|name| name.to_string()).collect();
    let mut server_params =
        CertificateParams::new(server_names).map_err(|e| rcgen_error("server names", e))?;
    server_params.distinguished_name = common_name("localhost");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_defaults(&mut server_params, not_before, not_after);
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .map_err(|e| rcgen_error("server certificate", e))?;

    let client_key = new_key().map_err(|e| rcgen_error("client key", e))?;
    let mut client_params = CertificateParams::default();
    client_params.distinguished_name = common_name("esbyt-emulator test client");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    leaf_defaults(&mut client_params, not_before, not_after);
    let client_cert = client_params
        .signed_by(&client_key, &issuer)
        .map_err(|e| rcgen_error("client certificate", e))?;

    let client_p12 = pkcs12(
        client_key.serialized_der(),
        &[client_cert.der(), ca_cert.der()],
        password,
    )
    .map_err(|error| PkiError::Generate(format!("client.p12: {error}")))?;

    Ok(GeneratedPki {
        ca_cert_pem: ca_cert.pem(),
        server_cert_pem: server_cert.pem(),
        server_key_pem: server_key.serialize_pem(),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
        client_p12,
        not_after,
    })
}

fn new_key() -> Result<KeyPair, rcgen::Error> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
}

/// Returns the first 4 bytes of the public key's x coordinate in hex, a short random id.
fn key_id_hex(key: &KeyPair) -> String {
    // An uncompressed P-256 point is 0x04, then x and y of 32 bytes each.
    key.public_key_raw()
        .iter()
        .skip(1)
        .take(4)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn common_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "esbyt test PKI");
    dn.push(DnType::CommonName, name);
    dn
}

/// Sets what server and client certificates share: validity, key usage, and the authority
/// key identifier that Windows uses to find the issuing CA.
fn leaf_defaults(
    params: &mut CertificateParams,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) {
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
}

/// Encodes a PKCS#8 key and its certificate chain, the key's certificate first, as PKCS#12.
// NOTE: OpenSSL 3.0 and p12-keystore read this file in tests, but Windows import was not
// tested. Older Windows versions may need PBES1 with 3DES, which p12-keystore writes only
// with its `pbes1` feature.
fn pkcs12(key_pkcs8: &[u8], chain: &[&[u8]], password: &str) -> p12_keystore::Result<Vec<u8>> {
    let key = PrivateKey::from_der(key_pkcs8)?;
    let certs = chain
        .iter()
        .map(|der| Certificate::from_der(der))
        .collect::<p12_keystore::Result<Vec<_>>>()?;
    // The local key id pairs the key with its certificate. Its value is free, and there is
    // only one key in the file.
    let entry = PrivateKeyChain::new(CLIENT_P12_ALIAS.as_bytes(), key, certs);
    let mut store = KeyStore::new();
    store.add_entry(CLIENT_P12_ALIAS, KeyStoreEntry::PrivateKeyChain(entry));
    store
        .writer(password)
        .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .encryption_iterations(PKCS12_ITERATIONS)
        .mac_algorithm(MacAlgorithm::HmacSha256)
        .mac_iterations(PKCS12_ITERATIONS)
        .write()
}

/// Writes one file. `secret` files get mode 0600 on Unix. Without `overwrite`, the file
/// must not exist, which also catches a file created since the check at the start.
fn write_file(path: &Path, contents: &[u8], secret: bool, overwrite: bool) -> Result<(), PkiError> {
    let write_error = |source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut options = OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }

    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            return Err(PkiError::FileExists {
                path: path.to_path_buf(),
            });
        }
        Err(error) => return Err(write_error(error)),
    };
    // The mode of `open` applies only to new files, so an overwritten key file is
    // restricted here.
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(write_error)?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    file.write_all(contents).map_err(write_error)?;
    file.sync_all().map_err(write_error)
}

/// Quotes a value for a POSIX shell when it has characters that the shell would interpret.
fn shell_quote(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        return value.to_string();
    }
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// Returns the text of `README.txt`. Its commands use absolute paths, so that they work
/// from any directory.
fn readme_text(pki: &TestPki, password: &str, not_after: OffsetDateTime) -> String {
    let dir = std::path::absolute(&pki.dir).unwrap_or_else(|_| pki.dir.clone());
    let path = |name: &str| shell_quote(&dir.join(name).display().to_string());
    let (dir_arg, ca, server_cert, server_key) = (
        shell_quote(&dir.display().to_string()),
        path(CA_CERT_FILE),
        path(SERVER_CERT_FILE),
        path(SERVER_KEY_FILE),
    );
    let (client_cert, client_key, client_p12) = (
        path(CLIENT_CERT_FILE),
        path(CLIENT_KEY_FILE),
        path(CLIENT_P12_FILE),
    );
    let password_arg = shell_quote(password);
    // Setting values are not shell words, so they stay unquoted.
    let ca_setting = dir.join(CA_CERT_FILE).display().to_string();
    let p12_setting = dir.join(CLIENT_P12_FILE).display().to_string();
    let valid_until = not_after.date();
    format!(
        "\
Test PKI for mutual TLS with esbyt-emulator. For tests only: the keys are not
protected, and anyone who can read this directory can use them.

Generated by 'esbyt-emulator pki'. The certificates are valid until {valid_until}.
Keys are ECDSA P-256. The CA's private key was discarded, so the CA cannot
sign anything else.

Files:
  ca.pem       CA certificate that signed server.pem and client.pem. Clients
               add it as an extra trusted CA, and the emulator uses it as the
               CA for client certificates.
  server.pem   Server certificate for localhost, 127.0.0.1 and ::1.
  server.key   Private key of server.pem (PKCS#8 PEM).
  client.pem   Client certificate (CN 'esbyt-emulator test client').
  client.key   Private key of client.pem (PKCS#8 PEM).
  client.p12   client.key with client.pem and ca.pem as PKCS#12, for Windows
               and other clients that import a .p12 or .pfx file.
               Password: {password}
               Encryption: PBES2 with PBKDF2-HMAC-SHA-256 and AES-256-CBC,
               MAC: HMAC-SHA-256.

Emulator, serving HTTPS that requires a client certificate signed by ca.pem:
  esbyt-emulator --tls-dir {dir_arg}
which is the same as
  esbyt-emulator --tls-cert {server_cert} \\
      --tls-key {server_key} \\
      --client-ca {ca}
The emulator prints its URL, such as https://localhost:8808/.

Clients:
  URL          https://localhost:PORT/ or https://localhost:PORT/bonus/
  trusted CA   ca.pem
  certificate  client.p12 with its password, or client.pem with client.key

The esbyt library takes them as the settings
  url              https://localhost:PORT/bonus/
  extra_ca_file    {ca_setting}
  pkcs12_file      {p12_setting}
  pkcs12_password  {password}
or, with PEM files, client_cert_file and client_key_file in place of the
two PKCS#12 settings.

The esbyt command-line tool takes the same files:
  esbyt check 2700009601205 --url https://localhost:8808/bonus/ \\
      --extra-ca-file {ca} \\
      --pkcs12-file {client_p12} \\
      --pkcs12-password {password_arg}

curl takes the PEM files:
  curl --cacert {ca} \\
      --cert {client_cert} \\
      --key {client_key} \\
      'https://localhost:8808/bonus/?command=check_bonus&bonus_id=2700009601205'
"
    )
}
