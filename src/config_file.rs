//! Configuration files: every setting of [`Config::set`] in a TOML file, so a
//! shop's administrator changes the server or a certificate without touching
//! the cash-register program.
//!
//! ```toml
//! url = "https://bonus.e-sbyt.ru:888/"
//! supplier = 4242
//! pkcs12_file = "partner.pfx"      # relative to this file's folder
//! pkcs12_password = "..."
//! journal_file = "spends.journal"
//! timeout_ms = 15000
//! ```
//!
//! Keys are the setting names. Values are strings, integers or `true` and
//! `false`; `server_cert_sha256` may also be an array of strings. An unknown
//! key, a value of another type or a value a setting rejects is an error
//! that names the file, the line and the key. Relative paths of the `*_file`
//! settings resolve against the folder of the configuration file.
//!
//! After the file, environment variables named `ESBYT_` plus the setting
//! name in capitals (`ESBYT_URL`, `ESBYT_PROXY`, `ESBYT_TIMEOUT_MS`, ...)
//! override single settings for support situations. Passwords are not read
//! from the environment.

use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use crate::config::{Config, SETTING_NAMES};
use crate::error::Error;

/// Settings never taken from environment variables.
const SECRET_SETTINGS: [&str; 2] = ["client_key_password", "pkcs12_password"];

/// Reads a configuration file and applies the environment overrides.
pub fn load(path: &Path) -> Result<Config, Error> {
    let mut config = Config::default();
    apply_file(&mut config, path)?;
    apply_environment(&mut config, |name| std::env::var(name).ok())?;
    Ok(config)
}

/// Applies the settings of a configuration file to `config`.
pub fn apply_file(config: &mut Config, path: &Path) -> Result<(), Error> {
    let shown = format!("{:?}", path.display().to_string());
    let bytes = crate::files::read_setting_file(path, "configuration file")?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::config(format!(
            "configuration file {shown} is not valid UTF-8 text"
        ))
    })?;
    let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();

    let table = DeTable::parse(&text).map_err(|error| {
        let line = error.span().map_or(1, |span| line_of(&text, span.start));
        Error::config(format!(
            "configuration file {shown}, line {line}: {}",
            error.message()
        ))
    })?;
    for (key, value) in table.get_ref() {
        let name = key.get_ref().as_ref();
        let line = line_of(&text, key.span().start);
        let located = |message: &str| {
            Error::config(format!(
                "configuration file {shown}, line {line}: {message}"
            ))
        };

        if !SETTING_NAMES.contains(&name) {
            return Err(located(&format!(
                "unknown setting {name:?}: expected one of {}",
                SETTING_NAMES.join(", ")
            )));
        }
        let text_value =
            value_text(value.get_ref()).map_err(|rule| located(&format!("{name}: {rule}")))?;
        let text_value = resolve_path(name, &text_value, &folder);
        config
            .set(name, &text_value)
            .map_err(|error| located(error.message()))?;
    }
    Ok(())
}

/// Applies `ESBYT_<NAME>` overrides; `lookup` reads a variable.
pub fn apply_environment(
    config: &mut Config,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(), Error> {
    for name in SETTING_NAMES {
        if SECRET_SETTINGS.contains(&name) {
            continue;
        }
        let variable = format!("ESBYT_{}", name.to_ascii_uppercase());
        if let Some(value) = lookup(&variable) {
            config.set(name, &value).map_err(|error| {
                Error::config(format!(
                    "environment variable {variable}: {}",
                    error.message()
                ))
            })?;
            log::info!("setting {name} taken from the environment variable {variable}");
        }
    }
    Ok(())
}

fn value_text(value: &DeValue<'_>) -> Result<String, String> {
    match value {
        DeValue::String(text) => Ok(text.to_string()),
        DeValue::Integer(integer) => i64::from_str_radix(integer.as_str(), integer.radix())
            .map(|number| number.to_string())
            .map_err(|_| format!("integer {} is out of range", integer.as_str())),
        DeValue::Boolean(flag) => Ok(if *flag { "1" } else { "0" }.to_owned()),
        DeValue::Array(items) => {
            let texts: Result<Vec<String>, String> = items
                .into_iter()
                .map(|item| match item.get_ref() {
                    DeValue::String(text) => Ok(text.to_string()),
                    _ => Err("expected an array of strings".to_owned()),
                })
                .collect();
            texts.map(|texts| texts.join(","))
        }
        _ => Err("expected a string, an integer, true or false".to_owned()),
    }
}

/// Resolves a relative path of a `*_file` setting against the folder of the
/// configuration file.
fn resolve_path(name: &str, value: &str, folder: &Path) -> String {
    if !name.ends_with("_file") || value.is_empty() {
        return value.to_owned();
    }
    let path = PathBuf::from(value);
    if path.is_absolute() {
        value.to_owned()
    } else {
        folder.join(path).display().to_string()
    }
}

/// Returns the 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;
    use std::time::Duration;

    fn write_config(name: &str, text: &str) -> PathBuf {
        let folder = std::env::temp_dir().join(format!("esbyt-config-file-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn every_value_type_applies() {
        let path = write_config(
            "full.toml",
            "# shop 12\nurl = \"https://bonus.example:888/\"\nsupplier = 4242\nallow_http = false\n\
             timeout_ms = 9000\npkcs12_file = \"partner.pfx\"\npkcs12_password = \" secret \"\n\
             server_cert_sha256 = [\"{a}\", \"{a}\"]\njournal_file = \"/var/lib/esbyt/spends.journal\"\n"
                .replace("{a}", &"ab".repeat(32))
                .as_str(),
        );

        let mut config = Config::default();
        apply_file(&mut config, &path).unwrap();

        assert_eq!(config.url, "https://bonus.example:888/");
        assert_eq!(config.supplier, Some(4242));
        assert!(!config.allow_http);
        assert_eq!(config.timeout, Duration::from_millis(9000));
        assert_eq!(
            config.pkcs12_file,
            Some(path.parent().unwrap().join("partner.pfx"))
        );
        assert_eq!(
            config
                .pkcs12_password
                .as_ref()
                .map(|secret| secret.expose()),
            Some(" secret ")
        );
        assert_eq!(config.server_cert_sha256.len(), 2);
        assert_eq!(
            config.journal_file,
            Some(PathBuf::from("/var/lib/esbyt/spends.journal"))
        );
    }

    #[test]
    fn unknown_key_names_line() {
        let path = write_config("unknown.toml", "url = \"https://h/\"\n\ntimeout = 5\n");

        let error = apply_file(&mut Config::default(), &path).unwrap_err();

        assert_eq!(error.status(), Status::Config);
        assert!(
            error
                .message()
                .contains(", line 3: unknown setting \"timeout\""),
            "{}",
            error.message()
        );
    }

    #[test]
    fn bad_value_names_line_and_rule() {
        let path = write_config("bad.toml", "url = \"https://h/\"\nsupplier = 0\n");

        let error = apply_file(&mut Config::default(), &path).unwrap_err();

        assert!(
            error.message().contains(", line 2: supplier 0 is invalid"),
            "{}",
            error.message()
        );
        let path = write_config("float.toml", "timeout_ms = 1.5\n");
        let error = apply_file(&mut Config::default(), &path).unwrap_err();
        assert!(
            error
                .message()
                .contains("line 1: timeout_ms: expected a string"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn syntax_error_names_line() {
        let path = write_config("syntax.toml", "url = \"https://h/\"\nsupplier = = 5\n");

        let error = apply_file(&mut Config::default(), &path).unwrap_err();

        assert!(
            error.message().contains("syntax.toml\", line 2:"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn environment_overrides_but_not_passwords() {
        let mut config = Config::new("https://from-file/");
        let lookup = |name: &str| match name {
            "ESBYT_URL" => Some("https://from-environment/".to_owned()),
            "ESBYT_PKCS12_PASSWORD" => Some("leaked".to_owned()),
            _ => None,
        };

        apply_environment(&mut config, lookup).unwrap();

        assert_eq!(config.url, "https://from-environment/");
        assert_eq!(config.pkcs12_password, None);
        let error = apply_environment(&mut config, |name: &str| {
            (name == "ESBYT_TIMEOUT_MS").then(|| "soon".to_owned())
        })
        .unwrap_err();
        assert!(
            error
                .message()
                .starts_with("environment variable ESBYT_TIMEOUT_MS: timeout_ms"),
            "{}",
            error.message()
        );
    }
}
