//! The JSON text of `PendingSpends`, which 1C reads with `ПрочитатьJSON`.
//! A list of records has no other form a Native API method can return.

use std::fmt::Write;

use crate::journal::{PendingSpend, PendingState};

/// Formats pending write-off attempts as a JSON array of objects, oldest
/// first:
///
/// ```text
/// [{"attempt_id":"1733-42-1","time_ms":1733000000000,"bonus_id":"2700009601205",
///   "supplier":1111,"amount":10,"state":"outcome_unknown","cause":"ESBYT_CONNECTION"}]
/// ```
///
/// `state` is `no_outcome` (the process stopped mid-call) or
/// `outcome_unknown`, and `cause` is the status name of the underlying
/// failure for `outcome_unknown`, otherwise `null`.
pub(crate) fn pending_spends_json(pending: &[PendingSpend]) -> String {
    let mut json = String::from("[");
    for (index, spend) in pending.iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        let state = match spend.state {
            PendingState::NoOutcome => "no_outcome",
            PendingState::OutcomeUnknown => "outcome_unknown",
        };
        let cause = spend
            .cause
            .map_or_else(|| "null".to_owned(), |cause| quote(cause.name()));
        // Writing to a String cannot fail.
        let _ = write!(
            json,
            "{{\"attempt_id\":{},\"time_ms\":{},\"bonus_id\":{},\"supplier\":{},\"amount\":{},\"state\":{},\"cause\":{}}}",
            quote(&spend.attempt_id),
            spend.time_ms,
            quote(&spend.bonus_id),
            spend.supplier,
            spend.amount,
            quote(state),
            cause,
        );
    }
    json.push(']');
    json
}

/// Quotes a JSON string, escaping quotes, backslashes and control characters.
fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            control if control < ' ' => {
                let _ = write!(quoted, "\\u{:04x}", u32::from(control));
            }
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;

    #[test]
    fn empty_list_is_empty_array() {
        assert_eq!(pending_spends_json(&[]), "[]");
    }

    #[test]
    fn records_in_order_with_cause() {
        let spend = |attempt_id: &str, state, cause| PendingSpend {
            attempt_id: attempt_id.to_owned(),
            time_ms: 1_733_000_000_000,
            bonus_id: "2700009601205".to_owned(),
            supplier: 1111,
            amount: 10,
            state,
            cause,
        };
        let json = pending_spends_json(&[
            spend("1-2-1", PendingState::NoOutcome, None),
            spend(
                "1-2-2",
                PendingState::OutcomeUnknown,
                Some(Status::Connection),
            ),
        ]);
        assert_eq!(
            json,
            "[{\"attempt_id\":\"1-2-1\",\"time_ms\":1733000000000,\"bonus_id\":\"2700009601205\",\
             \"supplier\":1111,\"amount\":10,\"state\":\"no_outcome\",\"cause\":null},\
             {\"attempt_id\":\"1-2-2\",\"time_ms\":1733000000000,\"bonus_id\":\"2700009601205\",\
             \"supplier\":1111,\"amount\":10,\"state\":\"outcome_unknown\",\"cause\":\"ESBYT_CONNECTION\"}]"
        );
    }

    #[test]
    fn quote_escapes_specials() {
        assert_eq!(quote("a\"b\\c\nd\u{1}é"), "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }
}
