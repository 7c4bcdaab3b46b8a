//! Every fault of the emulator, triggered by its card, against the real
//! client: the status of a balance check and of a write-off, and whether the
//! emulator executed the write-off. This is the table in the README.
//!
//! For every row the money rules hold: a write-off call executes at most one
//! write-off; success means exactly one; a "nothing was sent" status means
//! none; every other failure of a write-off is `OutcomeUnknown`.

use std::time::Duration;

use esbyt::{Client, Config, Error, Status};
use esbyt_emulator::{Emulator, EmulatorConfig, Fault};

/// What a row of the table expects.
struct Row {
    fault: Fault,
    check: Expected,
    spend: Expected,
    executed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected {
    Success,
    Failure {
        status: Status,
        cause: Option<Status>,
    },
}

const fn fails(status: Status) -> Expected {
    Expected::Failure {
        status,
        cause: None,
    }
}

const fn unknown(cause: Status) -> Expected {
    Expected::Failure {
        status: Status::OutcomeUnknown,
        cause: Some(cause),
    }
}

/// The client's deadline; the emulator's delay fault waits 3 s, longer.
const TIMEOUT: Duration = Duration::from_millis(1000);

fn rows() -> Vec<Row> {
    vec![
        Row {
            fault: Fault::Delay,
            check: fails(Status::Timeout),
            spend: unknown(Status::Timeout),
            executed: true,
        },
        Row {
            fault: Fault::CloseAfterExecute,
            check: fails(Status::Connection),
            spend: unknown(Status::Connection),
            executed: true,
        },
        Row {
            fault: Fault::ResetBeforeExecute,
            check: fails(Status::Connection),
            spend: unknown(Status::Connection),
            executed: false,
        },
        Row {
            fault: Fault::Http500Xml,
            check: fails(Status::Server),
            spend: fails(Status::Server),
            executed: false,
        },
        Row {
            fault: Fault::Http502Html,
            check: fails(Status::Http),
            spend: unknown(Status::Http),
            executed: false,
        },
        Row {
            fault: Fault::Empty200,
            check: fails(Status::Protocol),
            spend: unknown(Status::Protocol),
            executed: true,
        },
        Row {
            fault: Fault::TruncatedLength,
            check: fails(Status::Connection),
            spend: unknown(Status::Connection),
            executed: true,
        },
        Row {
            fault: Fault::TruncatedClose,
            check: fails(Status::Protocol),
            spend: unknown(Status::Protocol),
            executed: true,
        },
        Row {
            fault: Fault::Windows1251,
            check: fails(Status::Server),
            spend: fails(Status::Server),
            executed: false,
        },
        Row {
            fault: Fault::IdleDrop,
            check: Expected::Success,
            spend: Expected::Success,
            executed: true,
        },
        Row {
            fault: Fault::Redirect,
            check: fails(Status::Http),
            spend: unknown(Status::Http),
            executed: false,
        },
    ]
}

fn client_for(emulator: &Emulator) -> Client {
    Client::new(Config {
        allow_http: true,
        supplier: Some(1111),
        timeout: TIMEOUT,
        ..Config::new(format!("{}bonus/", emulator.base_url()))
    })
    .unwrap()
}

fn outcome<T>(result: &Result<T, Error>) -> Expected {
    match result {
        Ok(_) => Expected::Success,
        Err(error) => Expected::Failure {
            status: error.status(),
            cause: error.cause(),
        },
    }
}

#[test]
fn every_fault_row_holds() {
    for row in rows() {
        let emulator =
            Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
        let client = client_for(&emulator);
        let card = row.fault.bonus_id();

        // The idle-drop fault hits the second request on a kept-alive
        // connection, so the row's balance check is the second one.
        if row.fault == Fault::IdleDrop {
            client.check_bonus(card).unwrap();
        }
        let check = client.check_bonus(card);
        assert_eq!(
            outcome(&check),
            row.check,
            "{}: check_bonus returned {check:?}",
            row.fault
        );

        let spend = client.spend_bonus(card, 10);
        assert_eq!(
            outcome(&spend),
            row.spend,
            "{}: spend_bonus returned {spend:?}",
            row.fault
        );

        let executed = emulator.executed_spends();
        assert_eq!(
            executed.len(),
            usize::from(row.executed),
            "{}: executed {executed:?}",
            row.fault
        );
        assert_money_rules(row.fault, &spend, executed.len());
        if let (Ok(write_off), Some(record)) = (&spend, executed.first()) {
            assert_eq!(write_off.spend_id, record.spend_id, "{}", row.fault);
        }
    }
}

fn assert_money_rules<T>(fault: Fault, spend: &Result<T, Error>, executed: usize) {
    assert!(
        executed <= 1,
        "{fault}: one call executed {executed} write-offs"
    );
    match spend {
        Ok(_) => assert_eq!(
            executed, 1,
            "{fault}: success without exactly one write-off"
        ),
        Err(error) => match error.status() {
            Status::OutcomeUnknown => {}
            status => assert_eq!(
                executed, 0,
                "{fault}: {status} although a write-off was executed"
            ),
        },
    }
}

#[test]
fn windows_1251_message_reaches_caller() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let client = client_for(&emulator);

    let error = client
        .check_bonus(Fault::Windows1251.bonus_id())
        .unwrap_err();

    assert_eq!(error.status(), Status::Server);
    assert_eq!(error.server_code(), Some(7));
    let cyrillic = error
        .message()
        .chars()
        .filter(|c| ('А'..='я').contains(c))
        .count();
    assert!(
        cyrillic > 5,
        "the Russian message arrived garbled: {}",
        error.message()
    );
}

#[test]
fn http_500_error_document_is_server_error() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let client = client_for(&emulator);

    let error = client
        .spend_bonus(Fault::Http500Xml.bonus_id(), 10)
        .unwrap_err();

    assert_eq!(error.status(), Status::Server);
    assert_eq!(error.http_status(), Some(500));
    assert_eq!(error.server_code(), Some(8));
}

#[test]
fn fault_switch_applies_to_every_card() {
    let emulator = Emulator::start(
        "127.0.0.1:0",
        EmulatorConfig {
            fault: Some(Fault::CloseAfterExecute),
            ..EmulatorConfig::with_default_cards()
        },
    )
    .unwrap();
    let client = client_for(&emulator);

    let error = client.spend_bonus("2700009601205", 10).unwrap_err();

    assert_eq!(error.status(), Status::OutcomeUnknown);
    assert_eq!(
        emulator.executed_spends().len(),
        1,
        "the write-off happened although no response came"
    );
    assert_eq!(emulator.balance("2700009601205"), Some(490));
}
