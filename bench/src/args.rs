//! Arguments of the client processes: `name=value` words, the same for the
//! Rust clients and the two C programs, so the orchestrator builds one
//! argument list for every client.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;

/// The `name=value` arguments of one process.
#[derive(Debug, Default)]
pub struct Args {
    values: HashMap<String, String>,
}

impl Args {
    pub fn parse(words: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut values = HashMap::new();
        for word in words {
            let Some((name, value)) = word.split_once('=') else {
                return Err(format!("invalid argument {word:?}: expected name=value"));
            };
            values.insert(name.to_owned(), value.to_owned());
        }
        Ok(Args { values })
    }

    pub fn text(&self, name: &str) -> Result<&str, String> {
        self.values
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("missing argument {name}=..."))
    }

    pub fn optional_text(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn path(&self, name: &str) -> Result<PathBuf, String> {
        self.text(name).map(PathBuf::from)
    }

    pub fn number<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.values.get(name) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|_| format!("invalid {name}={text}: expected a number")),
        }
    }
}
