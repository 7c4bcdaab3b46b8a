//! The partner's client certificate and key, from the files partners are
//! actually handed: PEM in one file or two (PKCS#8, PKCS#1 or SEC1 keys,
//! encrypted PKCS#8 with a password), or PKCS#12 with a password.
//!
//! Everything is checked here, when the client is created: a file that
//! cannot be read, holds no certificate, has a wrong password, or a key that
//! rustls cannot use or that does not match the certificate, is a
//! configuration error that names the file and the reason.

use std::path::Path;

use rustls::pki_types::pem::{PemObject, SectionKind};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::config::{Config, Secret};
use crate::error::Error;

/// A client certificate chain, leaf first, with its private key.
pub struct ClientIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// Loads the client identity the configuration names, if any.
pub fn load(config: &Config) -> Result<Option<ClientIdentity>, Error> {
    match (
        &config.pkcs12_file,
        &config.client_cert_file,
        &config.client_key_file,
    ) {
        (None, None, None) => Ok(None),
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(Error::config(
            "both pkcs12_file and client_cert_file/client_key_file are set: set either the PKCS#12 file \
             or the PEM files, not both",
        )),
        (Some(path), None, None) => load_pkcs12(path, config.pkcs12_password.as_ref()).map(Some),
        (None, Some(cert_path), key_path) => load_pem(
            cert_path,
            key_path.as_deref(),
            config.client_key_password.as_ref(),
        )
        .map(Some),
        (None, None, Some(key_path)) => Err(Error::config(format!(
            "client_key_file {} is set but client_cert_file is not: set the certificate file too",
            quoted(key_path)
        ))),
    }
}

fn quoted(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

fn read_file(path: &Path, setting: &str) -> Result<Vec<u8>, Error> {
    crate::files::read_setting_file(path, setting)
}

/// The PEM sections of a file that matter here.
#[derive(Default)]
struct PemContents {
    certificates: Vec<CertificateDer<'static>>,
    keys: Vec<PrivateKeyDer<'static>>,
    encrypted_keys: Vec<Vec<u8>>,
    legacy_encrypted_key: bool,
}

fn parse_pem(bytes: &[u8]) -> PemContents {
    let mut contents = PemContents {
        // OpenSSL's traditional key encryption writes these headers inside
        // an "RSA PRIVATE KEY" or "EC PRIVATE KEY" section.
        legacy_encrypted_key: contains(bytes, b"Proc-Type: 4,ENCRYPTED"),
        ..PemContents::default()
    };
    for (kind, der) in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes).filter_map(Result::ok) {
        match kind {
            SectionKind::Certificate => contents.certificates.push(CertificateDer::from(der)),
            SectionKind::PrivateKey => contents.keys.push(PrivateKeyDer::Pkcs8(der.into())),
            SectionKind::RsaPrivateKey => contents.keys.push(PrivateKeyDer::Pkcs1(der.into())),
            SectionKind::EcPrivateKey => contents.keys.push(PrivateKeyDer::Sec1(der.into())),
            _ => {}
        }
    }
    contents.encrypted_keys = encrypted_pkcs8_blocks(bytes);
    contents
}

/// Returns the DER of each "ENCRYPTED PRIVATE KEY" PEM block, a label the
/// rustls PEM reader skips.
fn encrypted_pkcs8_blocks(bytes: &[u8]) -> Vec<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
    let text = String::from_utf8_lossy(bytes);
    let mut blocks = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find(BEGIN) {
        let Some(length) = rest[start..].find(END) else {
            break;
        };
        let block = &rest[start..start + length + END.len()];
        // Carriage returns are dropped so files saved with CRLF line ends parse too.
        let block = block.replace('\r', "");
        if let Ok((_, document)) = pkcs8::der::Document::from_pem(&block) {
            blocks.push(document.as_bytes().to_vec());
        }
        rest = &rest[start + length + END.len()..];
    }
    blocks
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn load_pem(
    cert_path: &Path,
    key_path: Option<&Path>,
    password: Option<&Secret>,
) -> Result<ClientIdentity, Error> {
    let cert_contents = parse_pem(&read_file(cert_path, "client_cert_file")?);
    if cert_contents.certificates.is_empty() {
        return Err(Error::config(format!(
            "client_cert_file {} contains no certificate: expected a PEM block \"-----BEGIN CERTIFICATE-----\"",
            quoted(cert_path)
        )));
    }

    let key = match key_path {
        Some(path) => {
            let key_contents = parse_pem(&read_file(path, "client_key_file")?);
            select_key(&key_contents, "client_key_file", path, password)?
        }
        None => select_key(&cert_contents, "client_cert_file", cert_path, password)?,
    };
    let key_file = key_path.unwrap_or(cert_path);
    check_identity(&cert_contents.certificates, &key, key_file)?;
    Ok(ClientIdentity {
        chain: cert_contents.certificates,
        key,
    })
}

/// Picks the one private key of a file, decrypting an encrypted PKCS#8 key.
fn select_key(
    sections: &PemContents,
    setting: &str,
    path: &Path,
    password: Option<&Secret>,
) -> Result<PrivateKeyDer<'static>, Error> {
    let file = quoted(path);
    if sections.legacy_encrypted_key {
        return Err(Error::config(format!(
            "{setting} {file} holds a key encrypted in the legacy OpenSSL format, which is not supported: \
             convert it with `openssl pkcs8 -topk8 -in KEY -out key-pkcs8.pem` (then set \
             client_key_password) or use the PKCS#12 file"
        )));
    }
    let key_count = sections.keys.len() + sections.encrypted_keys.len();
    if key_count == 0 {
        return Err(Error::config(format!(
            "{setting} {file} contains no private key: expected a PEM block \"-----BEGIN PRIVATE KEY-----\", \
             \"-----BEGIN RSA PRIVATE KEY-----\" or \"-----BEGIN EC PRIVATE KEY-----\"; set client_key_file \
             if the key is in a separate file"
        )));
    }
    if key_count > 1 {
        return Err(Error::config(format!(
            "{setting} {file} contains {key_count} private keys: keep only the key of the client certificate"
        )));
    }
    if let Some(key) = sections.keys.first() {
        return Ok(key.clone_key());
    }

    let encrypted = &sections.encrypted_keys[0];
    let Some(password) = password else {
        return Err(Error::config(format!(
            "{setting} {file} holds an encrypted private key: set client_key_password, or convert the key \
             with `openssl pkcs8 -in KEY -out key-plain.pem`, or use the PKCS#12 file"
        )));
    };
    decrypt_pkcs8(encrypted, password).map_err(|reason| {
        Error::config(format!(
            "{setting} {file}: the encrypted private key could not be decrypted ({reason}); check \
             client_key_password, or convert the key with `openssl pkcs8 -in KEY -out key-plain.pem`, \
             or use the PKCS#12 file"
        ))
    })
}

fn decrypt_pkcs8(encrypted: &[u8], password: &Secret) -> Result<PrivateKeyDer<'static>, String> {
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(encrypted)
        .map_err(|error| error.to_string())?;
    let document = info
        .decrypt(password.expose().as_bytes())
        .map_err(|_| "wrong password or unsupported encryption".to_owned())?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        document.as_bytes().to_vec(),
    )))
}

fn load_pkcs12(path: &Path, password: Option<&Secret>) -> Result<ClientIdentity, Error> {
    let file = quoted(path);
    let bytes = read_file(path, "pkcs12_file")?;
    let password = password.map(Secret::expose).unwrap_or_default();

    let store = p12_keystore::KeyStore::from_pkcs12(
        &bytes,
        password,
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .map_err(|error| {
        let reason = match error {
            p12_keystore::error::Error::MacError(_) => {
                "wrong password: check pkcs12_password".to_owned()
            }
            other => format!("not a readable PKCS#12 file ({other})"),
        };
        Error::config(format!("pkcs12_file {file}: {reason}"))
    })?;
    let Some((_, chain)) = store.private_key_chain() else {
        return Err(Error::config(format!(
            "pkcs12_file {file} contains no private key with its certificate: export the client \
             certificate together with its private key"
        )));
    };

    let certificates: Vec<CertificateDer<'static>> = chain
        .certs()
        .iter()
        .map(|certificate| CertificateDer::from(certificate.as_der().to_vec()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
    check_identity(&certificates, &key, path)?;
    Ok(ClientIdentity {
        chain: certificates,
        key,
    })
}

/// Checks what rustls would otherwise reject only during a handshake: the
/// key type and size, the certificate's form, and that key and certificate
/// belong together.
fn check_identity(
    certificates: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    path: &Path,
) -> Result<(), Error> {
    let file = quoted(path);
    let Some(leaf) = certificates.first() else {
        return Err(Error::config(format!(
            "{file} contains no client certificate"
        )));
    };
    rustls::server::ParsedCertificate::try_from(leaf).map_err(|error| {
        Error::config(format!(
            "the client certificate in {file} is not usable for TLS ({error}); certificates must be X.509 v3"
        ))
    })?;

    let provider = rustls::crypto::ring::default_provider();
    let signing_key = provider.key_provider.load_private_key(key.clone_key()).map_err(|error| {
        Error::config(format!(
            "the private key in {file} is not usable ({error}); RSA keys need at least 2048 bits, \
             EC keys the P-256 or P-384 curve"
        ))
    })?;
    let certified = rustls::sign::CertifiedKey::new(certificates.to_vec(), signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(()),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(Error::config(format!(
                "the private key in {file} does not belong to the client certificate: use the key the certificate was issued for"
            )))
        }
        Err(error) => Err(Error::config(format!(
            "the client certificate in {file} is not usable: {error}"
        ))),
    }
}
