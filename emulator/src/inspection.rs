//! Read-only HTTP endpoints under `/emulator/` that show testers on other hosts what the
//! server executed. They change no state, and faults do not apply to them, apart from
//! the reset that the idle-drop fault leaves on its connection.

use std::fmt::Write as _;

use crate::bonus::{BonusState, find_param, parse_query};
use crate::http::{Request, Response};

/// Path of the list of executed write-offs.
pub const SPENDS_PATH: &str = "/emulator/spends";

/// Path of the balance of one card, `?bonus_id=ID`.
pub const BALANCE_PATH: &str = "/emulator/balance";

/// Returns whether the request is for one of the inspection endpoints.
pub(crate) fn is_inspection_path(path: &str) -> bool {
    path == SPENDS_PATH || path == BALANCE_PATH
}

/// Builds the response of an inspection endpoint. The caller has checked the path with
/// [`is_inspection_path`].
pub(crate) fn respond(state: &BonusState, request: &Request) -> Response {
    if request.method != "GET" {
        let mut response = Response::text(
            405,
            format!(
                "Method {} is not allowed: {} accepts GET only.\n",
                request.method, request.path
            ),
        );
        response.extra_headers.push(("Allow", "GET".to_string()));
        return response;
    }
    if request.path == SPENDS_PATH {
        return Response::text(200, render_spends(state));
    }
    let params = parse_query(&request.query);
    let Some(bonus_id) = find_param(&params, "bonus_id") else {
        return Response::text(
            400,
            format!("Missing parameter bonus_id: request {BALANCE_PATH}?bonus_id=CARD.\n"),
        );
    };
    match state.balance(bonus_id) {
        Some(balance) => Response::text(200, format!("{balance}\n")),
        None => Response::text(404, format!("Unknown card {bonus_id:?}.\n")),
    }
}

/// Renders one line per executed write-off, oldest first: `spend_id bonus_id supplier
/// amount`, separated by single spaces and ended by LF.
fn render_spends(state: &BonusState) -> String {
    let mut text = String::new();
    for spend in state.executed_spends() {
        let _ = writeln!(
            text,
            "{} {} {} {}",
            spend.spend_id, spend.bonus_id, spend.supplier, spend.amount
        );
    }
    text
}
