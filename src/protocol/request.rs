//! Validation of request values and construction of the request URL.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::Error;

/// Maximum number of digits in a participant id: the protocol types `bonus_id` as varchar(13),
/// the length of an EAN-13 barcode.
pub const BONUS_ID_MAX_DIGITS: usize = 13;

/// Largest `amount` and `supplier` value: the protocol types both as `integer`,
/// which the library reads as a signed 32-bit SQL integer.
pub const PROTOCOL_INT_MAX: i64 = i32::MAX as i64;

/// Characters that stay unescaped in a query value: RFC 3986 unreserved ones.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A validated participant id: 1 to 13 ASCII digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BonusId(String);

impl BonusId {
    /// Validates a participant id after trimming surrounding whitespace, which
    /// barcode scanners append as CR/LF or spaces.
    pub fn parse(raw: &str) -> Result<BonusId, Error> {
        let trimmed = raw.trim();
        let digit_count = trimmed.chars().count();
        let all_digits = trimmed.bytes().all(|b| b.is_ascii_digit());

        if trimmed.is_empty() || digit_count > BONUS_ID_MAX_DIGITS || !all_digits {
            return Err(Error::invalid_argument(format!(
                "bonus_id {:?} is invalid: expected 1 to {} digits",
                raw, BONUS_ID_MAX_DIGITS
            )));
        }
        Ok(BonusId(trimmed.to_owned()))
    }

    /// Returns the id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Validates an amount of bonuses to write off: a positive protocol integer.
pub fn validate_amount(amount: i64) -> Result<i64, Error> {
    validate_positive_int("amount", amount)
}

/// Validates a partner (supplier) code: a positive protocol integer.
pub fn validate_supplier(supplier: i64) -> Result<i64, Error> {
    validate_positive_int("supplier", supplier)
}

fn validate_positive_int(name: &str, value: i64) -> Result<i64, Error> {
    if (1..=PROTOCOL_INT_MAX).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid_argument(format!(
            "{name} {value} is invalid: expected an integer from 1 to {PROTOCOL_INT_MAX}"
        )))
    }
}

/// One protocol request with validated values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `command=check_bonus`: the balance of a participant.
    CheckBonus { bonus_id: BonusId },
    /// `command=spend_bonus`: a write-off of `amount` bonuses.
    SpendBonus {
        bonus_id: BonusId,
        supplier: i64,
        amount: i64,
    },
}

impl Request {
    /// Returns the value of the `command` parameter.
    pub fn command(&self) -> &'static str {
        match self {
            Request::CheckBonus { .. } => "check_bonus",
            Request::SpendBonus { .. } => "spend_bonus",
        }
    }

    /// Builds the query string, without the leading `?`.
    pub fn query(&self) -> String {
        let mut query = format!("command={}", self.command());
        match self {
            Request::CheckBonus { bonus_id } => {
                push_param(&mut query, "bonus_id", bonus_id.as_str());
            }
            Request::SpendBonus {
                bonus_id,
                supplier,
                amount,
            } => {
                push_param(&mut query, "bonus_id", bonus_id.as_str());
                push_param(&mut query, "supplier", &supplier.to_string());
                push_param(&mut query, "amount", &amount.to_string());
            }
        }
        query
    }

    /// Appends the query to a base URL without touching its path, so
    /// `https://host:888/` and `http://host:8808/bonus/` both keep their form.
    /// A base URL that already has a query gets the parameters after `&`.
    pub fn url(&self, base_url: &str) -> String {
        let separator = if base_url.contains('?') { '&' } else { '?' };
        format!("{base_url}{separator}{}", self.query())
    }
}

fn push_param(query: &mut String, name: &str, value: &str) {
    query.push('&');
    query.push_str(name);
    query.push('=');
    query.extend(utf8_percent_encode(value, QUERY_VALUE));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;

    fn bonus_id(raw: &str) -> BonusId {
        BonusId::parse(raw).unwrap()
    }

    #[test]
    fn bonus_id_trims_scanner_line_ends() {
        assert_eq!(bonus_id("2700009601205\r\n").as_str(), "2700009601205");
        assert_eq!(bonus_id("  2700009601205\t").as_str(), "2700009601205");
        assert_eq!(bonus_id("1").as_str(), "1");
    }

    #[test]
    fn bonus_id_rejects_bad_values() {
        for raw in [
            "",
            "   ",
            "\r\n",
            "27000096012O5",
            "27000096012055",
            "-270000960",
            "12 34",
            "١٢٣",
            "+1",
        ] {
            let error = BonusId::parse(raw).unwrap_err();
            assert_eq!(error.status(), Status::InvalidArgument, "{raw:?}");
            assert!(
                error.message().contains("expected 1 to 13 digits"),
                "{}",
                error.message()
            );
            assert!(
                error.message().contains(&format!("{raw:?}")),
                "{}",
                error.message()
            );
        }
    }

    #[test]
    fn amount_and_supplier_ranges() {
        assert_eq!(validate_amount(1).unwrap(), 1);
        assert_eq!(validate_amount(PROTOCOL_INT_MAX).unwrap(), PROTOCOL_INT_MAX);
        for bad in [0, -1, PROTOCOL_INT_MAX + 1, i64::MIN, i64::MAX] {
            let error = validate_amount(bad).unwrap_err();
            assert_eq!(error.status(), Status::InvalidArgument);
            assert!(
                error
                    .message()
                    .starts_with(&format!("amount {bad} is invalid")),
                "{}",
                error.message()
            );
        }
        let error = validate_supplier(0).unwrap_err();
        assert_eq!(
            error.message(),
            "supplier 0 is invalid: expected an integer from 1 to 2147483647"
        );
    }

    #[test]
    fn check_bonus_url_on_production_base() {
        let request = Request::CheckBonus {
            bonus_id: bonus_id("2700009601205"),
        };
        assert_eq!(
            request.url("https://bonus.example:888/"),
            "https://bonus.example:888/?command=check_bonus&bonus_id=2700009601205"
        );
    }

    #[test]
    fn spend_bonus_url_on_test_base() {
        let request = Request::SpendBonus {
            bonus_id: bonus_id("2700009601205"),
            supplier: 1111,
            amount: 10,
        };
        assert_eq!(
            request.url("http://127.0.0.1:8808/bonus/"),
            "http://127.0.0.1:8808/bonus/?command=spend_bonus&bonus_id=2700009601205&supplier=1111&amount=10"
        );
    }

    #[test]
    fn url_keeps_existing_query_and_path_without_slash() {
        let request = Request::CheckBonus {
            bonus_id: bonus_id("42"),
        };
        assert_eq!(
            request.url("http://h/api.php?key=a"),
            "http://h/api.php?key=a&command=check_bonus&bonus_id=42"
        );
        assert_eq!(
            request.url("http://h/bonus"),
            "http://h/bonus?command=check_bonus&bonus_id=42"
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        let mut query = String::new();
        push_param(&mut query, "x", "a b&c=д");
        assert_eq!(query, "&x=a%20b%26c%3D%D0%B4");
    }
}
