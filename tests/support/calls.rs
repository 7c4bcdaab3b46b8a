//! Runs the same settings and calls through the Rust API or through the C ABI
//! of the real shared library, and returns the outcome of each call in one
//! form, so a test asserts the same facts on both.

use std::collections::HashMap;
use std::fmt;

use esbyt::{Client, Config, Detail, Error, Status};
use esbyt_emulator::TEST_BONUS_ID;

use super::c_program::{ProgramRun, run_tls_call};

/// Every detail code, for reading the numbers the C program prints.
const DETAILS: [Detail; 10] = [
    Detail::None,
    Detail::TlsUnknownIssuer,
    Detail::TlsNameMismatch,
    Detail::TlsCertificateExpired,
    Detail::TlsCertificateNotYetValid,
    Detail::TlsClientCertificateRejected,
    Detail::TlsNoCommonProtocol,
    Detail::TlsPinMismatch,
    Detail::TlsNotTls,
    Detail::TlsOther,
];

/// Size of `esbyt_error.message` in the C ABI, terminating NUL included.
const MESSAGE_SIZE: usize = 1024;

/// The interface a test drives the library through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// `esbyt::Client` in this process.
    Rust,
    /// `tests/c/tls_call.c` linked to libesbyt.so, in a child process.
    C,
}

impl Api {
    pub const ALL: [Api; 2] = [Api::Rust, Api::C];

    /// Applies the settings in order, creates a client and runs the calls.
    /// Stops after a setting or the client creation fails. The client is
    /// dropped before this returns, so its connections are closed.
    pub fn run(self, settings: &[(&str, String)], operations: &[Operation]) -> Calls {
        match self {
            Api::Rust => run_rust(settings, operations),
            Api::C => run_c(settings, operations),
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Api::Rust => f.write_str("Rust API"),
            Api::C => f.write_str("C ABI"),
        }
    }
}

/// A call on the test card 2700009601205.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Check,
    Spend(i64),
}

/// The outcome of one call. Fields that the call does not fill are 0 or empty.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// `config_set`, `client_new`, `check_bonus` or `spend_bonus`.
    pub call: String,
    pub status: Option<Status>,
    pub detail: Option<Detail>,
    pub http_status: i64,
    pub server_code: i64,
    pub cause: Option<Status>,
    pub message: String,
    pub amount: i64,
    pub account: String,
    pub bonus_id: String,
    pub spend_id: String,
}

impl Outcome {
    fn from_error(call: &str, error: &Error) -> Outcome {
        Outcome {
            call: call.to_owned(),
            status: Some(error.status()),
            detail: Some(error.detail()),
            http_status: error.http_status().map_or(0, i64::from),
            server_code: error.server_code().unwrap_or(0),
            cause: error.cause(),
            message: error.message().to_owned(),
            ..Outcome::default()
        }
    }

    fn success(call: &str) -> Outcome {
        Outcome {
            call: call.to_owned(),
            status: Some(Status::Ok),
            detail: Some(Detail::None),
            ..Outcome::default()
        }
    }
}

/// The outcomes of one run, in call order, with a transcript for assertion messages.
pub struct Calls {
    pub api: Api,
    pub outcomes: Vec<Outcome>,
    transcript: String,
}

impl Calls {
    /// Returns the outcome of the first call with this name. Panics with the
    /// transcript when there is none.
    pub fn get(&self, call: &str) -> &Outcome {
        self.outcomes
            .iter()
            .find(|outcome| outcome.call == call)
            .unwrap_or_else(|| panic!("{}: no {call} call ran\n{}", self.api, self.transcript))
    }

    /// Returns the outcomes of every call with this name.
    pub fn all(&self, call: &str) -> Vec<&Outcome> {
        self.outcomes
            .iter()
            .filter(|outcome| outcome.call == call)
            .collect()
    }

    /// Asserts that a call succeeded.
    pub fn assert_ok(&self, call: &str) -> &Outcome {
        let outcome = self.get(call);
        assert_eq!(
            outcome.status,
            Some(Status::Ok),
            "{}: {call} failed\n{}",
            self.api,
            self.transcript
        );
        assert_eq!(outcome.message, "", "{}: {call}", self.api);
        outcome
    }

    /// Asserts that every call with this name failed with this status and
    /// detail before a response arrived, so without an underlying cause, HTTP
    /// status or server code, and that each message contains every fragment.
    /// Returns the first of them.
    pub fn assert_failed(
        &self,
        call: &str,
        status: Status,
        detail: Detail,
        fragments: &[&str],
    ) -> &Outcome {
        let outcomes = self.all(call);
        assert!(
            !outcomes.is_empty(),
            "{}: no {call} call ran\n{}",
            self.api,
            self.transcript
        );
        for (index, outcome) in outcomes.iter().enumerate() {
            assert_eq!(
                outcome.status,
                Some(status),
                "{}: status of {call} number {}\n{}",
                self.api,
                index + 1,
                self.transcript
            );
            assert_eq!(
                outcome.detail,
                Some(detail),
                "{}: detail of {call} number {}\n{}",
                self.api,
                index + 1,
                self.transcript
            );
            assert_eq!(
                outcome.cause,
                None,
                "{}: cause of {call} number {}",
                self.api,
                index + 1
            );
            assert_eq!(
                outcome.http_status,
                0,
                "{}: HTTP status of {call} number {}",
                self.api,
                index + 1
            );
            assert_eq!(
                outcome.server_code,
                0,
                "{}: server code of {call} number {}",
                self.api,
                index + 1
            );
            for fragment in fragments {
                assert!(
                    outcome.message.contains(fragment),
                    "{}: the message of {call} does not contain {fragment:?}: {}",
                    self.api,
                    outcome.message
                );
            }
        }
        outcomes[0]
    }

    /// Returns every outcome as text, for assertion messages.
    pub fn transcript(&self) -> &str {
        &self.transcript
    }
}

fn run_rust(settings: &[(&str, String)], operations: &[Operation]) -> Calls {
    let mut outcomes = Vec::new();
    let mut config = Config::default();
    let mut failed = false;
    for (name, value) in settings {
        if let Err(error) = config.set(name, value) {
            outcomes.push(Outcome::from_error("config_set", &error));
            failed = true;
            break;
        }
    }
    if !failed {
        match Client::new(config) {
            Ok(client) => {
                outcomes.push(Outcome::success("client_new"));
                for operation in operations {
                    outcomes.push(run_rust_operation(&client, *operation));
                }
            }
            Err(error) => outcomes.push(Outcome::from_error("client_new", &error)),
        }
    }
    let transcript = format!("{outcomes:#?}");
    Calls {
        api: Api::Rust,
        outcomes,
        transcript,
    }
}

fn run_rust_operation(client: &Client, operation: Operation) -> Outcome {
    match operation {
        Operation::Check => match client.check_bonus(TEST_BONUS_ID) {
            Ok(balance) => Outcome {
                amount: balance.amount,
                account: balance.account,
                bonus_id: balance.bonus_id,
                ..Outcome::success("check_bonus")
            },
            Err(error) => Outcome::from_error("check_bonus", &error),
        },
        Operation::Spend(amount) => match client.spend_bonus(TEST_BONUS_ID, amount) {
            Ok(write_off) => Outcome {
                spend_id: write_off.spend_id,
                ..Outcome::success("spend_bonus")
            },
            Err(error) => Outcome::from_error("spend_bonus", &error),
        },
    }
}

fn run_c(settings: &[(&str, String)], operations: &[Operation]) -> Calls {
    let mut args: Vec<String> = settings
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    for operation in operations {
        args.push(match operation {
            Operation::Check => "check".to_owned(),
            Operation::Spend(amount) => format!("spend:{amount}"),
        });
    }
    let run = run_tls_call(&args);
    assert_eq!(
        run.exit_code,
        Some(0),
        "tls_call {args:?} failed\n{}",
        run.describe()
    );
    assert_eq!(
        run.stderr,
        "",
        "tls_call wrote to stderr\n{}",
        run.describe()
    );
    let outcomes = run
        .stdout
        .lines()
        .map(|line| parse_c_line(line, &run))
        .collect();
    Calls {
        api: Api::C,
        outcomes,
        transcript: run.describe(),
    }
}

/// Parses one line of `tls_call` and checks what the C ABI promises about
/// the records: the error record repeats the returned status, the message
/// length is right, and a failed call zeroes its output record.
fn parse_c_line(line: &str, run: &ProgramRun) -> Outcome {
    let fields: HashMap<&str, &str> = line
        .split('\t')
        .map(|field| {
            field
                .split_once('=')
                .unwrap_or_else(|| panic!("field {field:?} has no '='\n{}", run.describe()))
        })
        .collect();
    let field = |name: &str| -> &str {
        fields
            .get(name)
            .copied()
            .unwrap_or_else(|| panic!("no {name} field in {line:?}\n{}", run.describe()))
    };
    let number = |name: &str| -> i64 {
        let text = field(name);
        text.parse()
            .unwrap_or_else(|_| panic!("{name} {text:?} is not a number\n{}", run.describe()))
    };
    let call = field("call");

    let status = i32::try_from(number("status"))
        .ok()
        .and_then(Status::from_code)
        .unwrap_or_else(|| panic!("unknown status in {line:?}"));
    assert_eq!(
        field("status_name"),
        status.name(),
        "{call}: esbyt_status_name"
    );
    assert_eq!(
        number("error_status"),
        i64::from(status.code()),
        "{call}: esbyt_error.status differs from the returned status"
    );
    let detail_code = number("detail");
    let detail = DETAILS
        .iter()
        .copied()
        .find(|detail| i64::from(detail.code()) == detail_code)
        .unwrap_or_else(|| panic!("{call}: unknown detail {detail_code}"));
    assert_eq!(
        field("detail_name"),
        detail.name(),
        "{call}: the header's detail macro with value {detail_code}"
    );
    let cause_code = number("cause");
    let cause = i32::try_from(cause_code).ok().and_then(Status::from_code);
    let message = field("message");
    if message.len() < MESSAGE_SIZE {
        assert_eq!(
            number("message_length"),
            i64::try_from(message.len()).unwrap(),
            "{call}: esbyt_error.message_length"
        );
    }

    let failed = status != Status::Ok;
    match call {
        "client_new" => assert_eq!(
            field("client_is_null"),
            if failed { "1" } else { "0" },
            "esbyt_client_new must set the client to NULL exactly when it fails"
        ),
        "check_bonus" if failed => {
            assert_eq!(number("amount"), 0, "a failed check must zero the balance");
            assert_eq!(field("account"), "", "a failed check must zero the balance");
            assert_eq!(
                field("bonus_id"),
                "",
                "a failed check must zero the balance"
            );
        }
        "spend_bonus" if failed => {
            assert_eq!(
                field("spend_id"),
                "",
                "a failed write-off must zero its record"
            );
        }
        _ => {}
    }

    let text = |name: &str| fields.get(name).copied().unwrap_or_default().to_owned();
    Outcome {
        call: call.to_owned(),
        status: Some(status),
        detail: Some(detail),
        http_status: number("http_status"),
        server_code: number("server_code"),
        cause: if cause_code == 0 { None } else { cause },
        message: message.to_owned(),
        amount: fields.get("amount").map_or(0, |_| number("amount")),
        account: text("account"),
        bonus_id: text("bonus_id"),
        spend_id: text("spend_id"),
    }
}
