//! The two protocol commands, their error documents and the state they change.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use percent_encoding::percent_decode_str;

use crate::config::{EmulatorConfig, MAX_BONUS_ID_DIGITS, is_valid_bonus_id};

/// Values of `<result>`. The real server's codes are undocumented, so these are the
/// emulator's own. Clients must not rely on them.
pub mod result_code {
    /// The command succeeded.
    pub const SUCCESS: i32 = 0;
    /// `command` is missing, empty or neither `check_bonus` nor `spend_bonus`.
    pub const UNKNOWN_COMMAND: i32 = 1;
    /// A parameter that the command requires is missing or empty.
    pub const MISSING_PARAMETER: i32 = 2;
    /// A parameter has an invalid value.
    pub const INVALID_PARAMETER: i32 = 3;
    /// No card has the requested `bonus_id`.
    pub const UNKNOWN_CARD: i32 = 4;
    /// `supplier` is not an accepted partner code.
    pub const UNKNOWN_SUPPLIER: i32 = 5;
    /// `amount` is larger than the card's balance.
    pub const INSUFFICIENT_BALANCE: i32 = 6;
    /// The card is blocked. Only the `windows-1251` fault sends this code.
    pub const CARD_BLOCKED: i32 = 7;
    /// The server failed internally. Only the `http-500-xml` fault sends this code, with
    /// HTTP status 500.
    pub const INTERNAL_ERROR: i32 = 8;
}

/// Maximum number of characters of a rejected value quoted in an error message.
const MAX_QUOTED_CHARS: usize = 32;

/// A rejected request, sent to the client as an error document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BonusError {
    /// `command` is missing or empty (`None`), or has an unknown value.
    UnknownCommand(Option<String>),
    /// A required parameter, named here, is missing or empty.
    MissingParameter(&'static str),
    /// A parameter, named here, has an invalid value.
    InvalidParameter { name: &'static str, value: String },
    /// No card has this `bonus_id`.
    UnknownCard(String),
    /// This partner code is not accepted.
    UnknownSupplier(i64),
    /// The write-off `amount` exceeds the card's `balance`.
    InsufficientBalance { balance: i64, amount: i64 },
}

impl BonusError {
    /// Returns the `<result>` code, one of [`result_code`].
    pub fn code(&self) -> i32 {
        match self {
            BonusError::UnknownCommand(_) => result_code::UNKNOWN_COMMAND,
            BonusError::MissingParameter(_) => result_code::MISSING_PARAMETER,
            BonusError::InvalidParameter { .. } => result_code::INVALID_PARAMETER,
            BonusError::UnknownCard(_) => result_code::UNKNOWN_CARD,
            BonusError::UnknownSupplier(_) => result_code::UNKNOWN_SUPPLIER,
            BonusError::InsufficientBalance { .. } => result_code::INSUFFICIENT_BALANCE,
        }
    }

    /// Returns the Russian `<message>` text, before XML escaping.
    pub fn message(&self) -> String {
        match self {
            BonusError::UnknownCommand(None) => "Не указана команда (параметр command)".to_string(),
            BonusError::UnknownCommand(Some(command)) => format!(
                "Неизвестная команда {}: ожидается check_bonus или spend_bonus",
                quote(command)
            ),
            BonusError::MissingParameter(name) => {
                format!("Не указан обязательный параметр {name}")
            }
            BonusError::InvalidParameter { name, value } => {
                let expected = if *name == "bonus_id" {
                    format!("от 1 до {MAX_BONUS_ID_DIGITS} цифр")
                } else {
                    format!("целое положительное число не больше {}", i32::MAX)
                };
                format!(
                    "Неверное значение параметра {name} {}: ожидается {expected}",
                    quote(value)
                )
            }
            BonusError::UnknownCard(bonus_id) => {
                format!("Участник с идентификатором {bonus_id} не найден")
            }
            BonusError::UnknownSupplier(code) => format!("Неизвестный код партнёра {code}"),
            BonusError::InsufficientBalance { balance, amount } => {
                format!("Недостаточно бонусов: на балансе {balance}, к списанию {amount}")
            }
        }
    }
}

/// Puts a value in Russian quotation marks, shortened to [`MAX_QUOTED_CHARS`] characters.
/// Control characters appear as Rust escapes such as `\r`, so that a trailing CR/LF from
/// a barcode scanner is visible in the message.
fn quote(value: &str) -> String {
    let mut quoted = String::from("«");
    for c in value.chars().take(MAX_QUOTED_CHARS) {
        if c.is_control() {
            quoted.extend(c.escape_debug());
        } else {
            quoted.push(c);
        }
    }
    if value.chars().count() > MAX_QUOTED_CHARS {
        quoted.push('…');
    }
    quoted.push('»');
    quoted
}

/// One write-off that the emulator executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutedSpend {
    pub bonus_id: String,
    pub supplier: i64,
    pub amount: i64,
    /// Document number sent to the client, zero-padded to 9 digits.
    pub spend_id: String,
}

/// Result of one protocol request: the XML document and the facts for the request log.
pub(crate) struct CommandReply {
    pub xml: String,
    pub result_code: i32,
    pub spend_id: Option<String>,
}

struct Account {
    account: String,
    balance: i64,
}

/// Balances, accepted partner codes and the write-off journal of one server.
pub(crate) struct BonusState {
    accounts: HashMap<String, Account>,
    suppliers: HashSet<i64>,
    spends: Vec<ExecutedSpend>,
    last_spend_number: u64,
}

impl BonusState {
    /// Creates the state from a configuration that has passed `EmulatorConfig::validate`.
    pub fn new(config: &EmulatorConfig) -> Self {
        let accounts = config
            .cards
            .iter()
            .map(|card| {
                let account = Account {
                    account: card.account.clone(),
                    balance: card.balance,
                };
                (card.bonus_id.clone(), account)
            })
            .collect();
        BonusState {
            accounts,
            suppliers: config.suppliers.iter().copied().collect(),
            spends: Vec::new(),
            last_spend_number: 0,
        }
    }

    pub fn balance(&self, bonus_id: &str) -> Option<i64> {
        self.accounts.get(bonus_id).map(|account| account.balance)
    }

    pub fn executed_spends(&self) -> &[ExecutedSpend] {
        &self.spends
    }

    /// Runs the command in a raw query string (without `?`) and renders the response document.
    pub fn execute_query(&mut self, query: &str) -> CommandReply {
        let params = parse_query(query);
        match self.execute(&params) {
            Ok(Success::Balance {
                account,
                bonus_id,
                amount,
            }) => CommandReply {
                xml: render_check_success(&account, &bonus_id, amount),
                result_code: result_code::SUCCESS,
                spend_id: None,
            },
            Ok(Success::Spent { spend_id }) => CommandReply {
                xml: render_spend_success(&spend_id),
                result_code: result_code::SUCCESS,
                spend_id: Some(spend_id),
            },
            Err(error) => CommandReply {
                xml: render_error(error.code(), &error.message()),
                result_code: error.code(),
                spend_id: None,
            },
        }
    }

    fn execute(&mut self, params: &[(String, String)]) -> Result<Success, BonusError> {
        match find_param(params, "command") {
            None => Err(BonusError::UnknownCommand(None)),
            Some("check_bonus") => self.check_bonus(params),
            Some("spend_bonus") => self.spend_bonus(params),
            Some(other) => Err(BonusError::UnknownCommand(Some(other.to_string()))),
        }
    }

    fn check_bonus(&self, params: &[(String, String)]) -> Result<Success, BonusError> {
        let bonus_id = required_bonus_id(params)?;
        let account = self
            .accounts
            .get(bonus_id)
            .ok_or_else(|| BonusError::UnknownCard(bonus_id.to_string()))?;
        Ok(Success::Balance {
            account: account.account.clone(),
            bonus_id: bonus_id.to_string(),
            amount: account.balance,
        })
    }

    fn spend_bonus(&mut self, params: &[(String, String)]) -> Result<Success, BonusError> {
        let bonus_id = required_bonus_id(params)?;
        let supplier = required_positive_i32(params, "supplier")?;
        let amount = required_positive_i32(params, "amount")?;

        if !self.suppliers.contains(&supplier) {
            return Err(BonusError::UnknownSupplier(supplier));
        }
        let account = self
            .accounts
            .get_mut(bonus_id)
            .ok_or_else(|| BonusError::UnknownCard(bonus_id.to_string()))?;
        if account.balance < amount {
            return Err(BonusError::InsufficientBalance {
                balance: account.balance,
                amount,
            });
        }
        account.balance -= amount;

        self.last_spend_number += 1;
        let spend_id = format!("{:09}", self.last_spend_number);
        self.spends.push(ExecutedSpend {
            bonus_id: bonus_id.to_string(),
            supplier,
            amount,
            spend_id: spend_id.clone(),
        });
        Ok(Success::Spent { spend_id })
    }
}

enum Success {
    Balance {
        account: String,
        bonus_id: String,
        amount: i64,
    },
    Spent {
        spend_id: String,
    },
}

/// Splits a query string into decoded name/value pairs. `+` decodes to a space, as in
/// HTML form encoding, and invalid UTF-8 becomes U+FFFD.
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(name), decode_component(value))
        })
        .collect()
}

fn decode_component(encoded: &str) -> String {
    let with_spaces = encoded.replace('+', " ");
    percent_decode_str(&with_spaces)
        .decode_utf8_lossy()
        .into_owned()
}

/// Returns the first non-empty value of the parameter. An empty value counts as missing.
pub(crate) fn find_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

fn required_bonus_id(params: &[(String, String)]) -> Result<&str, BonusError> {
    let value = find_param(params, "bonus_id").ok_or(BonusError::MissingParameter("bonus_id"))?;
    if !is_valid_bonus_id(value) {
        return Err(BonusError::InvalidParameter {
            name: "bonus_id",
            value: value.to_string(),
        });
    }
    Ok(value)
}

/// Reads a parameter that must be a positive integer that fits `i32`, written as ASCII
/// digits only: no sign, no spaces and no fraction.
fn required_positive_i32(
    params: &[(String, String)],
    name: &'static str,
) -> Result<i64, BonusError> {
    let value = find_param(params, name).ok_or(BonusError::MissingParameter(name))?;
    let invalid = || BonusError::InvalidParameter {
        name,
        value: value.to_string(),
    };
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match value.parse::<i32>() {
        Ok(number) if number > 0 => Ok(i64::from(number)),
        _ => Err(invalid()),
    }
}

const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

/// Renders the check_bonus success document with the 4-space indentation of the partner document.
fn render_check_success(account: &str, bonus_id: &str, amount: i64) -> String {
    let mut xml = String::from(XML_DECLARATION);
    xml.push_str("<response>\n");
    let _ = writeln!(xml, "    <account>{}</account>", escape_xml(account));
    let _ = writeln!(xml, "    <bonus_id>{}</bonus_id>", escape_xml(bonus_id));
    let _ = writeln!(xml, "    <amount>{amount}</amount>");
    xml.push_str("    <result>0</result>\n");
    xml.push_str("</response>");
    xml
}

fn render_spend_success(spend_id: &str) -> String {
    let mut xml = String::from(XML_DECLARATION);
    xml.push_str("<response>\n");
    let _ = writeln!(xml, "    <spend_id>{}</spend_id>", escape_xml(spend_id));
    xml.push_str("    <result>0</result>\n");
    xml.push_str("</response>");
    xml
}

/// Renders an error document. The tab indentation and the space in `</message >` copy the
/// partner document, so that clients are tested against the real shape.
fn render_error(code: i32, message: &str) -> String {
    render_error_document("utf-8", code, message)
}

/// Renders an error document whose XML declaration names `encoding`. The caller encodes
/// the returned text in that encoding.
pub(crate) fn render_error_document(encoding: &str, code: i32, message: &str) -> String {
    let mut xml = format!("<?xml version=\"1.0\" encoding=\"{encoding}\"?>\n");
    xml.push_str("<response>\n");
    let _ = writeln!(xml, "\t<result>{code}</result>");
    let _ = writeln!(xml, "\t<message>{}</message >", escape_xml(message));
    xml.push_str("</response>");
    xml
}

fn escape_xml(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            // XML 1.0 forbids most control characters even as references.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => escaped.push('\u{fffd}'),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let params = parse_query("a=1&&b=%D0%B1+x&c&d=%ZZ&e=%FF");
        let expected = [
            ("a", "1"),
            ("b", "б x"),
            ("c", ""),
            ("d", "%ZZ"),
            ("e", "\u{fffd}"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(params, expected);
    }

    #[test]
    fn first_value_of_repeated_parameter_wins() {
        let params = parse_query("amount=5&amount=7");
        assert_eq!(find_param(&params, "amount"), Some("5"));
    }

    #[test]
    fn positive_i32_bounds() {
        let check = |value: &str| {
            let params = vec![("amount".to_string(), value.to_string())];
            required_positive_i32(&params, "amount")
        };
        assert_eq!(check("1"), Ok(1));
        assert_eq!(check("007"), Ok(7));
        assert_eq!(check("2147483647"), Ok(2_147_483_647));
        for bad in ["0", "2147483648", "-1", "+1", " 1", "1.0", "1e3", "abc"] {
            assert_eq!(
                check(bad),
                Err(BonusError::InvalidParameter {
                    name: "amount",
                    value: bad.to_string()
                }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let error = BonusError::UnknownCommand(Some("x".repeat(100)));
        let expected = format!(
            "Неизвестная команда «{}…»: ожидается check_bonus или spend_bonus",
            "x".repeat(MAX_QUOTED_CHARS)
        );
        assert_eq!(error.message(), expected);
    }

    #[test]
    fn xml_escaping() {
        assert_eq!(
            escape_xml("<a&b>\"'\u{1}"),
            "&lt;a&amp;b&gt;&quot;&apos;\u{fffd}"
        );
    }
}
