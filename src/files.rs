//! Reading the small files a configuration names: certificates, keys, CA
//! bundles.

use std::path::Path;

use crate::error::Error;

/// Largest certificate, key, PKCS#12, CA bundle or configuration file
/// accepted. Mozilla's whole CA bundle as PEM is about 250 KiB.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads a file named by the setting `setting`. Only regular files up to
/// 4 MiB are read, so a FIFO or a device path cannot block or exhaust the
/// host, and a UTF-8 byte-order mark, which Windows Notepad adds, is dropped.
pub fn read_setting_file(path: &Path, setting: &str) -> Result<Vec<u8>, Error> {
    let shown = format!("{:?}", path.display().to_string());
    let unreadable =
        |error: std::io::Error| Error::config(format!("{setting} {shown} cannot be read: {error}"));

    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    if !metadata.is_file() {
        return Err(Error::config(format!(
            "{setting} {shown} is not a regular file"
        )));
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(Error::config(format!(
            "{setting} {shown} is {} bytes long, more than the maximum of {MAX_FILE_BYTES} bytes",
            metadata.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    if bytes.is_empty() {
        return Err(Error::config(format!("{setting} {shown} is empty")));
    }
    Ok(match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    })
}

/// Rejects a path that exists but is not a regular file, before it is
/// opened: opening a FIFO for writing blocks until a reader appears, and a
/// device such as /dev/zero reads without end.
pub fn check_regular_or_missing(path: &Path, setting: &str) -> Result<(), Error> {
    match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => Err(Error::config(format!(
            "{setting} {:?} is not a regular file",
            path.display().to_string()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_and_folder_rejected() {
        let error = read_setting_file(Path::new("/dev/zero"), "extra_ca_file").unwrap_err();
        assert_eq!(
            error.message(),
            "extra_ca_file \"/dev/zero\" is not a regular file"
        );
        let error = read_setting_file(&std::env::temp_dir(), "pkcs12_file").unwrap_err();
        assert!(
            error.message().ends_with("is not a regular file"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn special_files_rejected_before_opening() {
        let error = check_regular_or_missing(Path::new("/dev/zero"), "journal_file").unwrap_err();
        assert_eq!(
            error.message(),
            "journal_file \"/dev/zero\" is not a regular file"
        );
        assert!(check_regular_or_missing(Path::new("/no/such/file"), "log_file").is_ok());
    }

    #[test]
    fn byte_order_mark_dropped() {
        let path = std::env::temp_dir().join(format!("esbyt-files-bom-{}", std::process::id()));
        std::fs::write(&path, b"\xEF\xBB\xBF-----BEGIN").unwrap();
        assert_eq!(
            read_setting_file(&path, "client_cert_file").unwrap(),
            b"-----BEGIN"
        );
        std::fs::remove_file(&path).unwrap();
    }
}
