//! Faults that the server injects between reading a request and writing the response, so
//! that clients can be tested against the failures of real networks and servers.

use std::error::Error;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::bonus::{render_error_document, result_code};
use crate::config::Card;
use crate::http::{Response, XML_CONTENT_TYPE};

/// Default pause of the [`Fault::Delay`] fault.
pub const DEFAULT_FAULT_DELAY: Duration = Duration::from_millis(3000);

/// Balance of every fault card at start-up.
pub const FAULT_CARD_BALANCE: i64 = 1000;

/// Path that the [`Fault::Redirect`] fault sends clients to. A request there gets 404 and
/// executes nothing.
pub const MOVED_PATH: &str = "/moved/";

/// A failure that the emulator produces on demand.
///
/// A fault applies to GET requests on the protocol paths (`/` and `/bonus/`), whatever
/// the command. It fires for a request whose `bonus_id` is the fault's card
/// ([`Fault::bonus_id`]) when that card is in the emulator's card set, or for every such
/// request when [`EmulatorConfig::fault`](crate::EmulatorConfig::fault) is set. The
/// configured fault takes precedence over a fault card.
///
/// "Executed" means that the balance was lowered and the write-off was added to
/// [`Emulator::executed_spends`](crate::Emulator::executed_spends), which happens in one
/// step under a lock. A fault that executes runs the request exactly as without a fault,
/// so an invalid request still gets its error document and executes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Executes the request, waits [`EmulatorConfig::fault_delay`](crate::EmulatorConfig::fault_delay),
    /// then sends the correct response.
    Delay,
    /// Executes the request, then closes the connection (FIN) without sending anything.
    CloseAfterExecute,
    /// Resets the connection (RST) without executing the request.
    ResetBeforeExecute,
    /// Sends HTTP 500 with an error document, result
    /// [`INTERNAL_ERROR`](result_code::INTERNAL_ERROR). Executes nothing.
    Http500Xml,
    /// Sends HTTP 502 with the HTML error page of nginx. Executes nothing.
    Http502Html,
    /// Executes the request, then sends HTTP 200 with an empty body.
    Empty200,
    /// Executes the request, sends the head with the full `Content-Length` and the first
    /// half of the body, then closes the connection.
    TruncatedLength,
    /// Executes the request, sends the head without `Content-Length`, with
    /// `Connection: close`, and the first half of the body, then closes the connection.
    TruncatedClose,
    /// Sends an error document with result [`CARD_BLOCKED`](result_code::CARD_BLOCKED),
    /// encoded in windows-1251 and declared so in the XML declaration and in
    /// `Content-Type`. Executes nothing.
    Windows1251,
    /// Executes the request and keeps the connection open. When the next request arrives
    /// on that connection, whatever its path, the server reads it and resets the
    /// connection without executing it, as a NAT or firewall that forgot an idle
    /// connection does.
    IdleDrop,
    /// Sends `302 Found` with `Location: /moved/?QUERY`. Executes nothing, and
    /// a request on [`MOVED_PATH`] gets 404.
    Redirect,
}

/// Every fault, in the order of their cards.
const ALL_FAULTS: [Fault; 11] = [
    Fault::Delay,
    Fault::CloseAfterExecute,
    Fault::ResetBeforeExecute,
    Fault::Http500Xml,
    Fault::Http502Html,
    Fault::Empty200,
    Fault::TruncatedLength,
    Fault::TruncatedClose,
    Fault::Windows1251,
    Fault::IdleDrop,
    Fault::Redirect,
];

impl Fault {
    /// Returns every fault, in the order of their cards.
    pub fn all() -> &'static [Fault] {
        &ALL_FAULTS
    }

    /// Returns the kebab-case name used on the command line and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Delay => "delay",
            Fault::CloseAfterExecute => "close-after-execute",
            Fault::ResetBeforeExecute => "reset-before-execute",
            Fault::Http500Xml => "http-500-xml",
            Fault::Http502Html => "http-502-html",
            Fault::Empty200 => "empty-200",
            Fault::TruncatedLength => "truncated-length",
            Fault::TruncatedClose => "truncated-close",
            Fault::Windows1251 => "windows-1251",
            Fault::IdleDrop => "idle-drop",
            Fault::Redirect => "redirect",
        }
    }

    /// Returns the fault with this name, or `None` for an unknown name.
    pub fn from_name(name: &str) -> Option<Fault> {
        ALL_FAULTS.into_iter().find(|fault| fault.name() == name)
    }

    /// Returns the number of the card that triggers this fault. Each number is a valid
    /// EAN-13 code of the form `2700009609NNC`, where `NN` counts the faults from 01 in
    /// the order of [`Fault::all`] and `C` is the check digit.
    pub fn bonus_id(self) -> &'static str {
        match self {
            Fault::Delay => "2700009609010",
            Fault::CloseAfterExecute => "2700009609027",
            Fault::ResetBeforeExecute => "2700009609034",
            Fault::Http500Xml => "2700009609041",
            Fault::Http502Html => "2700009609058",
            Fault::Empty200 => "2700009609065",
            Fault::TruncatedLength => "2700009609072",
            Fault::TruncatedClose => "2700009609089",
            Fault::Windows1251 => "2700009609096",
            Fault::IdleDrop => "2700009609102",
            Fault::Redirect => "2700009609119",
        }
    }

    /// Returns the fault whose card has this number, or `None` for any other number.
    pub fn from_bonus_id(bonus_id: &str) -> Option<Fault> {
        ALL_FAULTS
            .into_iter()
            .find(|fault| fault.bonus_id() == bonus_id)
    }

    /// Returns whether a valid `spend_bonus` request on which the fault fires is executed.
    /// [`Fault::IdleDrop`] fires on the request that it resets, so it returns `false`,
    /// although the request before it on the connection was executed.
    pub fn executes_spend(self) -> bool {
        match self {
            Fault::Delay
            | Fault::CloseAfterExecute
            | Fault::Empty200
            | Fault::TruncatedLength
            | Fault::TruncatedClose => true,
            Fault::ResetBeforeExecute
            | Fault::Http500Xml
            | Fault::Http502Html
            | Fault::Windows1251
            | Fault::IdleDrop
            | Fault::Redirect => false,
        }
    }

    /// Returns one sentence on what the server does, for help text and tables.
    pub fn description(self) -> &'static str {
        match self {
            Fault::Delay => {
                "Executes the request, waits --delay-ms milliseconds, then sends the correct \
                 response."
            }
            Fault::CloseAfterExecute => {
                "Executes the request, then closes the connection (FIN) without sending \
                 anything."
            }
            Fault::ResetBeforeExecute => {
                "Reads the request and resets the connection (RST) without executing it."
            }
            Fault::Http500Xml => {
                "Sends HTTP 500 with an error document, result 8 and a Russian message."
            }
            Fault::Http502Html => "Sends HTTP 502 with the HTML error page of nginx.",
            Fault::Empty200 => {
                "Executes the request, then sends HTTP 200 with an empty body \
                 (Content-Length: 0)."
            }
            Fault::TruncatedLength => {
                "Executes the request, sends the first half of the document with the full \
                 Content-Length, then closes the connection."
            }
            Fault::TruncatedClose => {
                "Executes the request, sends the first half of the document without \
                 Content-Length, with Connection: close, then closes the connection."
            }
            Fault::Windows1251 => {
                "Sends an error document in windows-1251, result 7 (card blocked) and a \
                 Cyrillic message."
            }
            Fault::IdleDrop => {
                "Executes the request and keeps the connection open, then resets it (RST) \
                 when the next request arrives on it, without executing that request."
            }
            Fault::Redirect => {
                "Sends 302 Found with Location: /moved/?QUERY. A request on /moved/ gets \
                 404 and executes nothing."
            }
        }
    }

    /// Returns what happens to a valid write-off on which the fault acts, as a short
    /// phrase for help text and tables.
    pub fn spend_outcome(self) -> &'static str {
        match self {
            Fault::IdleDrop => "the first executed, the reset one not",
            fault if fault.executes_spend() => "executed",
            _ => "not executed",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Fault {
    type Err = UnknownFaultError;

    fn from_str(name: &str) -> Result<Fault, UnknownFaultError> {
        Fault::from_name(name).ok_or_else(|| UnknownFaultError {
            name: name.to_string(),
        })
    }
}

/// A fault name that matches no [`Fault`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFaultError {
    /// The name as given.
    pub name: String,
}

impl fmt::Display for UnknownFaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = ALL_FAULTS.iter().map(|fault| fault.name()).collect();
        write!(
            f,
            "unknown fault {:?}: expected one of {}",
            self.name,
            names.join(", ")
        )
    }
}

impl Error for UnknownFaultError {}

/// Returns one card per fault, each with balance [`FAULT_CARD_BALANCE`] and account
/// `10559000NN`, where `NN` is the number in the card's id.
pub fn fault_cards() -> Vec<Card> {
    ALL_FAULTS
        .iter()
        .map(|fault| {
            let bonus_id = fault.bonus_id();
            let account = format!("10559000{}", &bonus_id[10..12]);
            Card::new(bonus_id, &account, FAULT_CARD_BALANCE)
        })
        .collect()
}

/// Message of the [`Fault::Http500Xml`] document.
const INTERNAL_ERROR_MESSAGE: &str = "Внутренняя ошибка сервера, запрос не выполнен";

/// Message of the [`Fault::Windows1251`] document.
const CARD_BLOCKED_MESSAGE: &str = "Карта заблокирована, операции с бонусами невозможны";

/// Body of [`Fault::Http502Html`]: the page nginx sends for 502, with its CRLF line ends.
const BAD_GATEWAY_PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n\
<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n\
</body>\r\n</html>\r\n";

/// Body of [`Fault::Redirect`], in the style of nginx.
const FOUND_PAGE: &str = "<html>\r\n<head><title>302 Found</title></head>\r\n\
<body>\r\n<center><h1>302 Found</h1></center>\r\n<hr><center>nginx</center>\r\n\
</body>\r\n</html>\r\n";

const HTML_CONTENT_TYPE: &str = "text/html";
const WINDOWS_1251_XML_CONTENT_TYPE: &str = "text/xml; charset=windows-1251";

/// Builds the HTTP 500 response of [`Fault::Http500Xml`].
pub(crate) fn internal_error_response() -> Response {
    let xml = render_error_document("utf-8", result_code::INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE);
    let mut response = Response::xml(xml, result_code::INTERNAL_ERROR, None);
    response.status = 500;
    response
}

/// Builds the HTTP 502 response of [`Fault::Http502Html`].
pub(crate) fn bad_gateway_response() -> Response {
    let mut response = Response::text(502, BAD_GATEWAY_PAGE.to_string());
    response.content_type = HTML_CONTENT_TYPE;
    response.extra_headers.push(("Server", "nginx".to_string()));
    response
}

/// Builds the windows-1251 error document of [`Fault::Windows1251`].
pub(crate) fn card_blocked_response() -> Response {
    let xml = render_error_document(
        "windows-1251",
        result_code::CARD_BLOCKED,
        CARD_BLOCKED_MESSAGE,
    );
    let (body, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&xml);
    debug_assert!(
        !unmappable,
        "the document has a character outside windows-1251"
    );
    let mut response = Response::xml(String::new(), result_code::CARD_BLOCKED, None);
    response.content_type = WINDOWS_1251_XML_CONTENT_TYPE;
    response.body = body.into_owned();
    response
}

/// Builds the HTTP 200 response with an empty body of [`Fault::Empty200`], for a request
/// whose document had `result_code` and `spend_id` (both only logged).
pub(crate) fn empty_response(result_code: Option<i32>, spend_id: Option<String>) -> Response {
    let mut response = Response::xml(String::new(), 0, spend_id);
    response.content_type = XML_CONTENT_TYPE;
    response.result_code = result_code;
    response
}

/// Builds the `302 Found` response of [`Fault::Redirect`]. The `Location` is a relative
/// reference, which RFC 9110 section 10.2.2 allows, so it always resolves to the server
/// that the client connected to.
pub(crate) fn redirect_response(query: &str) -> Response {
    let location = if query.is_empty() {
        MOVED_PATH.to_string()
    } else {
        format!("{MOVED_PATH}?{query}")
    };
    let mut response = Response::text(302, FOUND_PAGE.to_string());
    response.content_type = HTML_CONTENT_TYPE;
    response.extra_headers.push(("Location", location));
    response.extra_headers.push(("Server", "nginx".to_string()));
    response
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
    fn fault_cards_are_valid_ean13() {
        for (index, fault) in Fault::all().iter().enumerate() {
            let bonus_id = fault.bonus_id();
            assert_eq!(bonus_id.len(), 13, "{fault}");
            assert_eq!(&bonus_id[..10], "2700009609", "{fault}");
            assert_eq!(bonus_id[10..12], format!("{:02}", index + 1), "{fault}");
            let check_digit = u32::from(bonus_id.as_bytes()[12] - b'0');
            assert_eq!(check_digit, ean13_check_digit(&bonus_id[..12]), "{fault}");
        }
    }

    #[test]
    fn names_and_cards_round_trip() {
        for &fault in Fault::all() {
            assert_eq!(Fault::from_name(fault.name()), Some(fault));
            assert_eq!(fault.name().parse::<Fault>(), Ok(fault));
            assert_eq!(Fault::from_bonus_id(fault.bonus_id()), Some(fault));
            assert_eq!(fault.to_string(), fault.name());
        }
        assert_eq!(Fault::from_name("Delay"), None);
        assert_eq!(Fault::from_bonus_id("2700009601205"), None);
    }

    #[test]
    fn names_are_kebab_case() {
        for fault in Fault::all() {
            let name = fault.name();
            assert!(!name.starts_with('-'), "{name}");
            assert!(!name.ends_with('-'), "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{name}"
            );
        }
    }

    #[test]
    fn unknown_name_error_lists_faults() {
        let error = "slow".parse::<Fault>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown fault \"slow\": expected one of delay, close-after-execute, \
             reset-before-execute, http-500-xml, http-502-html, empty-200, truncated-length, \
             truncated-close, windows-1251, idle-drop, redirect"
        );
    }

    #[test]
    fn fault_cards_have_balance_and_account() {
        let cards = fault_cards();
        assert_eq!(cards.len(), Fault::all().len());
        assert_eq!(cards[0], Card::new("2700009609010", "1055900001", 1000));
        assert_eq!(cards[10], Card::new("2700009609119", "1055900011", 1000));
        for card in &cards {
            assert_eq!(card.validate(), Ok(()), "{}", card.bonus_id);
        }
    }

    /// The crate documentation has a hand-written table of the fault cards, and this test
    /// keeps it in step with the code.
    #[test]
    fn crate_docs_list_every_fault_card() {
        let docs = include_str!("lib.rs");
        for fault in Fault::all() {
            let row = format!("//! | {} | `{}` |", fault.bonus_id(), fault.name());
            assert!(docs.contains(&row), "lib.rs has no row starting {row:?}");
        }
    }

    #[test]
    fn card_blocked_document_is_windows_1251() {
        let response = card_blocked_response();
        let (text, _, malformed) = encoding_rs::WINDOWS_1251.decode(&response.body);
        assert!(!malformed);
        assert!(
            text.starts_with("<?xml version=\"1.0\" encoding=\"windows-1251\"?>"),
            "{text}"
        );
        assert!(text.contains(CARD_BLOCKED_MESSAGE), "{text}");
        // "К" of "Карта" is 0xCA in windows-1251.
        assert!(response.body.contains(&0xCA));
    }
}
