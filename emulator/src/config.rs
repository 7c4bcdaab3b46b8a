//! Cards, partner codes and the cards file.

use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::fault::{DEFAULT_FAULT_DELAY, Fault, fault_cards};
use crate::http::IDLE_TIMEOUT;
use crate::tls::TlsConfig;

/// Card id of the test participant named in the partner document.
pub const TEST_BONUS_ID: &str = "2700009601205";

/// Partner code that the partner document gives for test requests.
pub const DEFAULT_SUPPLIER: i64 = 1111;

/// Maximum number of digits in a card id (the protocol types `bonus_id` as varchar(13)).
pub const MAX_BONUS_ID_DIGITS: usize = 13;

/// Default time that a kept-alive connection may stay idle between requests before the
/// server closes it.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = IDLE_TIMEOUT;

/// A programme participant known to the emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// Card number, 1 to 13 ASCII digits.
    pub bonus_id: String,
    /// Personal account number at the retailer. It is text because it can have leading zeros.
    pub account: String,
    /// Bonus balance at start-up, not negative.
    pub balance: i64,
}

impl Card {
    /// Creates a card from its three fields.
    pub fn new(bonus_id: &str, account: &str, balance: i64) -> Self {
        Card {
            bonus_id: bonus_id.to_string(),
            account: account.to_string(),
            balance,
        }
    }

    /// Checks the fields and returns a message that names the invalid one.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !is_valid_bonus_id(&self.bonus_id) {
            return Err(format!(
                "invalid bonus_id {:?}: expected 1 to {MAX_BONUS_ID_DIGITS} digits",
                self.bonus_id
            ));
        }
        if self.account.is_empty()
            || self
                .account
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "invalid account {:?}: expected a non-empty value without spaces or control characters",
                self.account
            ));
        }
        if self.balance < 0 {
            return Err(format!(
                "invalid balance {}: expected a non-negative integer",
                self.balance
            ));
        }
        Ok(())
    }
}

/// Returns whether `value` is 1 to 13 ASCII digits.
pub(crate) fn is_valid_bonus_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_BONUS_ID_DIGITS
        && value.bytes().all(|b| b.is_ascii_digit())
}

/// Returns the built-in cards: the four below, then [`fault_cards`], one per [`Fault`].
/// Every id is a valid EAN-13 number.
///
/// | bonus_id | account | balance | purpose |
/// |---|---|---|---|
/// | 2700009601205 | 1055444444 | 500 | test card of the partner document |
/// | 2700009601212 | 0012345678 | 1000 | account with leading zeros |
/// | 2700009601229 | 1055000000 | 0 | empty balance |
/// | 2700009601236 | 1055999999 | 3000000000 | balance above `i32::MAX` |
pub fn default_cards() -> Vec<Card> {
    let mut cards = vec![
        Card::new(TEST_BONUS_ID, "1055444444", 500),
        Card::new("2700009601212", "0012345678", 1000),
        Card::new("2700009601229", "1055000000", 0),
        Card::new("2700009601236", "1055999999", 3_000_000_000),
    ];
    cards.extend(fault_cards());
    cards
}

/// Settings of one emulator instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// Participants and their starting balances. Ids must be unique.
    pub cards: Vec<Card>,
    /// Partner codes that `spend_bonus` accepts.
    pub suppliers: Vec<i64>,
    /// Whether to write one line per request, and one per failed TLS handshake, to stderr.
    pub log_requests: bool,
    /// HTTPS settings. `None` serves plain HTTP.
    pub tls: Option<TlsConfig>,
    /// Fault applied to every GET request on the protocol paths, in place of the faults of
    /// the fault cards. `None` leaves only the fault cards.
    pub fault: Option<Fault>,
    /// Pause of the [`Fault::Delay`] fault, whether the fault comes from `fault` or from
    /// its card.
    pub fault_delay: Duration,
    /// Time that a kept-alive connection may stay idle after a response before the server
    /// closes it (FIN). The wait for the first request on a new connection is always 5
    /// seconds. Must not be zero.
    pub keep_alive_timeout: Duration,
}

impl EmulatorConfig {
    /// Creates a configuration with [`default_cards`], partner code [`DEFAULT_SUPPLIER`],
    /// request logging off, plain HTTP, no fault beyond the fault cards, a fault delay of
    /// [`DEFAULT_FAULT_DELAY`] and a keep-alive timeout of [`DEFAULT_KEEP_ALIVE_TIMEOUT`].
    pub fn with_default_cards() -> Self {
        EmulatorConfig {
            cards: default_cards(),
            suppliers: vec![DEFAULT_SUPPLIER],
            log_requests: false,
            tls: None,
            fault: None,
            fault_delay: DEFAULT_FAULT_DELAY,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
        }
    }

    /// Reads a cards file in the format described in the crate documentation. The error
    /// names the file and, for an invalid line, the line number and the problem.
    pub fn load_cards_file(path: impl AsRef<Path>) -> Result<Vec<Card>, CardsFileError> {
        let path = path.as_ref();
        let text = fs::read_to_string(path).map_err(|source| CardsFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        parse_cards(&text).map_err(|(line, message)| CardsFileError::InvalidLine {
            path: path.to_path_buf(),
            line,
            message,
        })
    }

    /// Checks the settings and returns a message naming the first invalid one: a zero
    /// keep-alive timeout, or an invalid or repeated card.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.keep_alive_timeout.is_zero() {
            return Err("keep_alive_timeout is zero: expected at least 1 ms".to_string());
        }
        let mut seen = HashMap::new();
        for (index, card) in self.cards.iter().enumerate() {
            card.validate()
                .map_err(|message| format!("card {}: {message}", index + 1))?;
            if let Some(first) = seen.insert(card.bonus_id.as_str(), index) {
                return Err(format!(
                    "card {}: duplicate bonus_id {}, first given as card {}",
                    index + 1,
                    card.bonus_id,
                    first + 1
                ));
            }
        }
        Ok(())
    }
}

/// Parses the text of a cards file. An error carries the 1-based line number and a message.
pub fn parse_cards(text: &str) -> Result<Vec<Card>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut cards = Vec::new();
    let mut first_line_of_id: HashMap<String, usize> = HashMap::new();

    for (index, raw_line) in text.lines().enumerate() {
        let line_number = index + 1;
        let content = match raw_line.find('#') {
            Some(comment_start) => &raw_line[..comment_start],
            None => raw_line,
        };
        let fields: Vec<&str> = content.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let card = parse_card_fields(&fields).map_err(|message| (line_number, message))?;
        if let Some(first) = first_line_of_id.get(&card.bonus_id) {
            return Err((
                line_number,
                format!(
                    "duplicate bonus_id {}, first defined on line {first}",
                    card.bonus_id
                ),
            ));
        }
        first_line_of_id.insert(card.bonus_id.clone(), line_number);
        cards.push(card);
    }
    Ok(cards)
}

fn parse_card_fields(fields: &[&str]) -> Result<Card, String> {
    let [bonus_id, account, balance] = fields else {
        return Err(format!(
            "expected 3 fields BONUS_ID ACCOUNT BALANCE, found {}",
            fields.len()
        ));
    };
    let balance: i64 = balance
        .parse()
        .map_err(|_| format!("invalid balance {balance:?}: expected a non-negative integer"))?;
    let card = Card::new(bonus_id, account, balance);
    card.validate()?;
    Ok(card)
}

/// Failure to load a cards file.
#[derive(Debug)]
pub enum CardsFileError {
    /// The file could not be read, or is not UTF-8.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A line is not a valid card.
    InvalidLine {
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        message: String,
    },
}

impl fmt::Display for CardsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CardsFileError::Read { path, source } => {
                write!(f, "failed to read cards file {}: {source}", path.display())
            }
            CardsFileError::InvalidLine {
                path,
                line,
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
        }
    }
}

impl Error for CardsFileError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            CardsFileError::Read { source, .. } => Some(source),
            CardsFileError::InvalidLine { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ean13_check_digit(first_twelve: &str) -> u32 {
        let sum: u32 = first_twelve
            .bytes()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
            .sum();
        (10 - sum % 10) % 10
    }

    #[test]
    fn default_cards_have_valid_ean13_ids() {
        for card in default_cards() {
            assert_eq!(card.bonus_id.len(), 13, "{}", card.bonus_id);
            let expected = ean13_check_digit(&card.bonus_id[..12]);
            let actual = u32::from(card.bonus_id.as_bytes()[12] - b'0');
            assert_eq!(actual, expected, "check digit of {}", card.bonus_id);
        }
    }

    #[test]
    fn default_config_is_valid() {
        assert_eq!(EmulatorConfig::with_default_cards().validate(), Ok(()));
    }

    #[test]
    fn parse_skips_comments_and_blank_lines() {
        let text = "\u{feff}# header\n\n  2700009601205 1055444444 500  # test card\r\n1 0001 0\n";
        let cards = parse_cards(text).unwrap();
        assert_eq!(
            cards,
            vec![
                Card::new("2700009601205", "1055444444", 500),
                Card::new("1", "0001", 0)
            ]
        );
    }

    #[test]
    fn parse_rejects_bad_lines() {
        let cases = [
            (
                "1 2\n",
                1,
                "expected 3 fields BONUS_ID ACCOUNT BALANCE, found 2",
            ),
            (
                "\n1 2 3 4\n",
                2,
                "expected 3 fields BONUS_ID ACCOUNT BALANCE, found 4",
            ),
            (
                "12345678901234 1 0\n",
                1,
                "invalid bonus_id \"12345678901234\": expected 1 to 13 digits",
            ),
            (
                "12a 1 0\n",
                1,
                "invalid bonus_id \"12a\": expected 1 to 13 digits",
            ),
            (
                "1 1 abc\n",
                1,
                "invalid balance \"abc\": expected a non-negative integer",
            ),
            (
                "1 1 -5\n",
                1,
                "invalid balance -5: expected a non-negative integer",
            ),
            (
                "1 1 1\n# x\n1 2 2\n",
                3,
                "duplicate bonus_id 1, first defined on line 1",
            ),
        ];
        for (text, line, message) in cases {
            assert_eq!(
                parse_cards(text),
                Err((line, message.to_string())),
                "{text:?}"
            );
        }
    }

    #[test]
    fn config_rejects_duplicate_ids() {
        let mut config = EmulatorConfig::with_default_cards();
        config.cards.push(Card::new(TEST_BONUS_ID, "1", 1));
        assert_eq!(
            config.validate(),
            Err("card 16: duplicate bonus_id 2700009601205, first given as card 1".to_string())
        );
    }

    #[test]
    fn config_rejects_zero_keep_alive_timeout() {
        let config = EmulatorConfig {
            keep_alive_timeout: Duration::ZERO,
            ..EmulatorConfig::with_default_cards()
        };
        assert_eq!(
            config.validate(),
            Err("keep_alive_timeout is zero: expected at least 1 ms".to_string())
        );
    }

    #[test]
    fn default_cards_include_fault_cards() {
        let cards = default_cards();
        for fault in Fault::all() {
            let card = cards
                .iter()
                .find(|card| card.bonus_id == fault.bonus_id())
                .unwrap_or_else(|| panic!("no card for fault {fault}"));
            assert_eq!(card.balance, 1000, "{fault}");
        }
    }
}
