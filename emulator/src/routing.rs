//! Routing of a request to its response, and the faults that change the response or
//! how, and whether, it is delivered.

use std::time::Duration;

use crate::bonus::{find_param, parse_query};
use crate::fault::{self, Fault, MOVED_PATH};
use crate::http::{Framing, Request, Response};
use crate::inspection;
use crate::server::{SERVED_PATHS, Shared};

/// Delivery of the outcome of a request.
pub(crate) enum Action {
    /// Sends the response after `delay`, then keeps or closes the connection by the
    /// usual rules. With `reset_next_request`, the next request on the kept-alive
    /// connection is read and reset without being executed.
    Respond {
        response: Response,
        delay: Duration,
        reset_next_request: bool,
    },
    /// Sends the head and the first half of the body, then closes the connection.
    SendTruncated {
        response: Response,
        framing: Framing,
    },
    /// Closes the connection (FIN) without sending anything.
    Close,
    /// Resets the connection (RST) without sending anything.
    Reset,
}

/// The outcome of one request.
pub(crate) struct Exchange {
    pub action: Action,
    /// Fault that fires on this request, for the log. The idle-drop fault fires on the
    /// next request, so it is `None` on the request that precedes the reset.
    pub fault: Option<Fault>,
    /// `<spend_id>` of the write-off that this request executed.
    pub spend_id: Option<String>,
}

impl Exchange {
    fn respond(response: Response) -> Exchange {
        Exchange {
            spend_id: response.spend_id.clone(),
            action: Action::Respond {
                response,
                delay: Duration::ZERO,
                reset_next_request: false,
            },
            fault: None,
        }
    }
}

/// Routes a request and, for a protocol command, executes it unless a fault prevents that.
pub(crate) fn respond(shared: &Shared, request: &Request) -> Exchange {
    if inspection::is_inspection_path(&request.path) {
        return Exchange::respond(inspection::respond(&shared.state(), request));
    }
    if request.path == MOVED_PATH {
        return Exchange::respond(Response::text(
            404,
            format!(
                "Not found: {MOVED_PATH}. The redirect fault points here, and this path \
                 executes nothing.\n"
            ),
        ));
    }
    if !SERVED_PATHS.contains(&request.path.as_str()) {
        return Exchange::respond(Response::text(
            404,
            format!(
                "Not found: {}. The bonus protocol is served at / and /bonus/.\n",
                request.path
            ),
        ));
    }
    if request.method != "GET" {
        let mut response = Response::text(
            405,
            format!(
                "Method {} is not allowed: the bonus protocol uses GET.\n",
                request.method
            ),
        );
        response.extra_headers.push(("Allow", "GET".to_string()));
        return Exchange::respond(response);
    }
    match shared.fault.or_else(|| card_fault(shared, &request.query)) {
        None => Exchange::respond(execute(shared, request)),
        Some(fault) => respond_with_fault(shared, request, fault),
    }
}

/// Returns the fault of the card in the query's `bonus_id`, if it is a fault card.
fn card_fault(shared: &Shared, query: &str) -> Option<Fault> {
    let params = parse_query(query);
    let bonus_id = find_param(&params, "bonus_id")?;
    shared.card_faults.get(bonus_id).copied()
}

/// Runs the protocol command. A write-off lowers the balance and enters the journal in
/// one step under the state lock.
fn execute(shared: &Shared, request: &Request) -> Response {
    let reply = shared.state().execute_query(&request.query);
    Response::xml(reply.xml, reply.result_code, reply.spend_id)
}

fn respond_with_fault(shared: &Shared, request: &Request, fault: Fault) -> Exchange {
    let respond_now = |response: Response| Action::Respond {
        response,
        delay: Duration::ZERO,
        reset_next_request: false,
    };
    let (action, spend_id) = match fault {
        Fault::Delay => {
            let response = execute(shared, request);
            let spend_id = response.spend_id.clone();
            let action = Action::Respond {
                response,
                delay: shared.fault_delay,
                reset_next_request: false,
            };
            (action, spend_id)
        }
        Fault::CloseAfterExecute => (Action::Close, execute(shared, request).spend_id),
        Fault::ResetBeforeExecute => (Action::Reset, None),
        Fault::Http500Xml => (respond_now(fault::internal_error_response()), None),
        Fault::Http502Html => (respond_now(fault::bad_gateway_response()), None),
        Fault::Empty200 => {
            let executed = execute(shared, request);
            let spend_id = executed.spend_id.clone();
            let response = fault::empty_response(executed.result_code, executed.spend_id);
            (respond_now(response), spend_id)
        }
        Fault::TruncatedLength | Fault::TruncatedClose => {
            let response = execute(shared, request);
            let spend_id = response.spend_id.clone();
            let framing = if fault == Fault::TruncatedLength {
                Framing::ContentLength
            } else {
                Framing::UntilClose
            };
            (Action::SendTruncated { response, framing }, spend_id)
        }
        Fault::Windows1251 => (respond_now(fault::card_blocked_response()), None),
        Fault::IdleDrop => {
            let response = execute(shared, request);
            let spend_id = response.spend_id.clone();
            let action = Action::Respond {
                response,
                delay: Duration::ZERO,
                reset_next_request: true,
            };
            return Exchange {
                action,
                fault: None,
                spend_id,
            };
        }
        Fault::Redirect => (respond_now(fault::redirect_response(&request.query)), None),
    };
    Exchange {
        action,
        fault: Some(fault),
        spend_id,
    }
}
