//! Result records that the caller owns and the library fills.

use std::ffi::c_char;

use super::strings::copy_value;
use crate::error::Error;
use crate::protocol::{Balance, WriteOff};

/// Size in bytes of the text fields of result records, terminating NUL included.
pub const ESBYT_TEXT_SIZE: usize = 64;

/// The balance of a participant, filled by `esbyt_check_bonus`.
///
/// The caller owns it. On failure the library zeroes it. Text fields are
/// NUL-terminated UTF-8.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct esbyt_balance {
    /// The bonus balance.
    pub amount: i64,
    /// The participant's personal account number. Text, because account
    /// numbers can have leading zeros.
    pub account: [c_char; ESBYT_TEXT_SIZE],
    /// The participant id as the server echoed it.
    pub bonus_id: [c_char; ESBYT_TEXT_SIZE],
}

/// An executed write-off, filled by `esbyt_spend_bonus`.
///
/// The caller owns it. On failure the library zeroes it.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct esbyt_write_off {
    /// The number of the write-off document, NUL-terminated. Text, because
    /// its leading zeros are part of the number printed on the receipt.
    pub spend_id: [c_char; ESBYT_TEXT_SIZE],
}

impl esbyt_balance {
    pub(crate) fn zeroed() -> esbyt_balance {
        esbyt_balance {
            amount: 0,
            account: [0; ESBYT_TEXT_SIZE],
            bonus_id: [0; ESBYT_TEXT_SIZE],
        }
    }

    pub(crate) fn from_balance(balance: &Balance) -> Result<esbyt_balance, Error> {
        let mut record = esbyt_balance::zeroed();
        record.amount = balance.amount;
        copy_value(&mut record.account, &balance.account, "account")?;
        copy_value(&mut record.bonus_id, &balance.bonus_id, "bonus_id")?;
        Ok(record)
    }
}

impl esbyt_write_off {
    pub(crate) fn zeroed() -> esbyt_write_off {
        esbyt_write_off {
            spend_id: [0; ESBYT_TEXT_SIZE],
        }
    }

    pub(crate) fn from_write_off(write_off: &WriteOff) -> Result<esbyt_write_off, Error> {
        let mut record = esbyt_write_off::zeroed();
        copy_value(&mut record.spend_id, &write_off.spend_id, "spend_id")?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::MAX_TEXT_VALUE_BYTES;

    #[test]
    fn text_fields_hold_every_value_the_parser_accepts() {
        assert_eq!(MAX_TEXT_VALUE_BYTES + 1, ESBYT_TEXT_SIZE);
        let write_off = WriteOff {
            spend_id: "9".repeat(MAX_TEXT_VALUE_BYTES),
        };
        let record = esbyt_write_off::from_write_off(&write_off).unwrap();
        assert_eq!(record.spend_id[MAX_TEXT_VALUE_BYTES], 0);
    }

    #[test]
    fn record_layout() {
        assert_eq!(
            std::mem::size_of::<esbyt_balance>(),
            8 + 2 * ESBYT_TEXT_SIZE
        );
        assert_eq!(std::mem::size_of::<esbyt_write_off>(), ESBYT_TEXT_SIZE);
    }
}
