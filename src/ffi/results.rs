//! Result records that the caller owns and the library fills.

use std::ffi::c_char;

use super::strings::copy_value;
use crate::error::{Error, Status};
use crate::journal::{PendingSpend, PendingState};
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

/// A write-off, filled by `esbyt_spend_bonus`.
///
/// The caller owns it. On failure `spend_id` is empty, and `attempt_id`
/// still names the journal attempt when one was recorded.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct esbyt_write_off {
    /// The number of the write-off document, NUL-terminated. Text, because
    /// its leading zeros are part of the number printed on the receipt.
    pub spend_id: [c_char; ESBYT_TEXT_SIZE],
    /// The spend journal's id of this attempt, NUL-terminated; empty when no
    /// `journal_file` is set. Pass it to `esbyt_journal_resolve` after
    /// reconciling an `ESBYT_OUTCOME_UNKNOWN`.
    pub attempt_id: [c_char; ESBYT_TEXT_SIZE],
}

/// `esbyt_pending_spend.state`: the attempt was recorded but has no outcome,
/// because the process stopped during the call.
pub const ESBYT_PENDING_NO_OUTCOME: i32 = 1;
/// `esbyt_pending_spend.state`: the call returned `ESBYT_OUTCOME_UNKNOWN`.
pub const ESBYT_PENDING_OUTCOME_UNKNOWN: i32 = 2;

/// A write-off attempt of the spend journal that must be reconciled, filled
/// by `esbyt_journal_pending`. The caller owns it.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct esbyt_pending_spend {
    /// When the attempt was recorded, in milliseconds since 1970-01-01 UTC.
    pub time_ms: i64,
    /// The partner (supplier) code sent.
    pub supplier: i64,
    /// The bonuses to write off.
    pub amount: i64,
    /// `ESBYT_PENDING_NO_OUTCOME` or `ESBYT_PENDING_OUTCOME_UNKNOWN`.
    pub state: i32,
    /// For `ESBYT_PENDING_OUTCOME_UNKNOWN`, the status of the underlying
    /// failure, such as `ESBYT_TIMEOUT`; otherwise 0.
    pub cause: i32,
    /// The attempt's id, NUL-terminated, for `esbyt_journal_resolve`.
    pub attempt_id: [c_char; ESBYT_TEXT_SIZE],
    /// The participant id, NUL-terminated.
    pub bonus_id: [c_char; ESBYT_TEXT_SIZE],
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
            attempt_id: [0; ESBYT_TEXT_SIZE],
        }
    }

    pub(crate) fn from_write_off(write_off: &WriteOff) -> Result<esbyt_write_off, Error> {
        let mut record = esbyt_write_off::with_attempt_id(write_off.attempt_id.as_deref());
        copy_value(&mut record.spend_id, &write_off.spend_id, "spend_id")?;
        Ok(record)
    }

    /// Returns a record with only the attempt id, as a failed write-off leaves it.
    pub(crate) fn with_attempt_id(attempt_id: Option<&str>) -> esbyt_write_off {
        let mut record = esbyt_write_off::zeroed();
        // Attempt ids are "MILLISECONDS-PID-SEQUENCE", far below the field size.
        let _ = copy_value(
            &mut record.attempt_id,
            attempt_id.unwrap_or_default(),
            "attempt_id",
        );
        record
    }
}

impl esbyt_pending_spend {
    pub(crate) fn from_pending(spend: &PendingSpend) -> Result<esbyt_pending_spend, Error> {
        let mut record = esbyt_pending_spend {
            time_ms: spend.time_ms,
            supplier: spend.supplier,
            amount: spend.amount,
            state: match spend.state {
                PendingState::NoOutcome => ESBYT_PENDING_NO_OUTCOME,
                PendingState::OutcomeUnknown => ESBYT_PENDING_OUTCOME_UNKNOWN,
            },
            cause: spend.cause.map_or(0, Status::code),
            attempt_id: [0; ESBYT_TEXT_SIZE],
            bonus_id: [0; ESBYT_TEXT_SIZE],
        };
        copy_value(&mut record.attempt_id, &spend.attempt_id, "attempt_id")?;
        copy_value(&mut record.bonus_id, &spend.bonus_id, "bonus_id")?;
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
            attempt_id: None,
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
        assert_eq!(std::mem::size_of::<esbyt_write_off>(), 2 * ESBYT_TEXT_SIZE);
        assert_eq!(
            std::mem::size_of::<esbyt_pending_spend>(),
            32 + 2 * ESBYT_TEXT_SIZE
        );
    }
}
