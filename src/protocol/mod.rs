//! The partner protocol without I/O: request URLs from validated values, and
//! response bodies (bytes) into typed results or typed errors.

mod encoding;
mod request;
mod response;

pub use encoding::decode_body;
pub use request::{
    BONUS_ID_MAX_DIGITS, BonusId, PROTOCOL_INT_MAX, Request, validate_amount, validate_supplier,
};
pub use response::{Balance, MAX_TEXT_VALUE_BYTES, WriteOff, parse_check_bonus, parse_spend_bonus};
