//! The spend journal with the real client against the emulator and raw
//! loopback servers: what it records for each outcome, what stays pending,
//! and that threads sharing one journal keep it intact.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use esbyt::{Client, Config, PendingState, Status};
use esbyt_emulator::{Emulator, EmulatorConfig, TEST_BONUS_ID};
use support::{RawServer, Reply};

fn journal_path(name: &str) -> PathBuf {
    let directory =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("journal-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

fn client_with_journal(url: &str, journal: &Path) -> Client {
    Client::new(Config {
        allow_http: true,
        supplier: Some(1111),
        timeout: Duration::from_secs(5),
        journal_file: Some(journal.to_path_buf()),
        ..Config::new(url)
    })
    .unwrap()
}

fn lines_of_kind(journal: &Path, kind: &str) -> usize {
    let text = std::fs::read_to_string(journal).unwrap();
    text.lines()
        .filter(|line| line.starts_with(&format!("{kind}\t")))
        .count()
}

#[test]
fn successful_write_off_is_settled() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let journal = journal_path("success");
    let client = client_with_journal(&emulator.base_url(), &journal);

    let write_off = client.spend_bonus(TEST_BONUS_ID, 10).unwrap();

    let attempt_id = write_off
        .attempt_id
        .clone()
        .expect("an attempt id with a journal");
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.contains(&format!("A\t{attempt_id}\t")), "{text}");
    assert!(text.contains("\t2700009601205\t1111\t10\t"), "{text}");
    assert!(
        text.contains(&format!("\tok\t{}\t", write_off.spend_id)),
        "{text}"
    );
    assert!(client.pending_spends().unwrap().is_empty());
}

#[test]
fn lost_response_stays_pending_until_resolved() {
    let server = RawServer::start(|_stream, _head| Reply::Close);
    let journal = journal_path("unknown");
    let client = client_with_journal(&server.url(), &journal);

    let error = client.spend_bonus(TEST_BONUS_ID, 25).unwrap_err();

    assert_eq!(error.status(), Status::OutcomeUnknown);
    let attempt_id = error
        .attempt_id()
        .expect("the failed attempt is named")
        .to_owned();
    let pending = client.pending_spends().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].attempt_id, attempt_id);
    assert_eq!(pending[0].state, PendingState::OutcomeUnknown);
    assert_eq!(pending[0].cause, Some(Status::Connection));
    assert_eq!(pending[0].amount, 25);

    client
        .resolve_spend(&attempt_id, "balance checked: not written off")
        .unwrap();

    assert!(client.pending_spends().unwrap().is_empty());
    assert_eq!(lines_of_kind(&journal, "R"), 1);
}

#[test]
fn refused_and_unsent_write_offs_are_settled() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let journal = journal_path("settled");
    let refused_address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };

    let refused =
        client_with_journal(&emulator.base_url(), &journal).spend_bonus(TEST_BONUS_ID, 100_000);
    let unsent = client_with_journal(&format!("http://{refused_address}/"), &journal)
        .spend_bonus(TEST_BONUS_ID, 10);

    assert_eq!(refused.unwrap_err().status(), Status::Server);
    assert_eq!(unsent.unwrap_err().status(), Status::Connection);
    let client = client_with_journal(&emulator.base_url(), &journal);
    assert!(client.pending_spends().unwrap().is_empty());
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.contains("\trefused\t6\t"), "{text}");
    assert!(text.contains("\tnot-sent\tESBYT_CONNECTION\t"), "{text}");
}

#[test]
fn invalid_input_records_nothing() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let journal = journal_path("invalid");
    let client = client_with_journal(&emulator.base_url(), &journal);

    let error = client.spend_bonus("12a", 10).unwrap_err();

    assert_eq!(error.status(), Status::InvalidArgument);
    assert_eq!(error.attempt_id(), None);
    assert_eq!(lines_of_kind(&journal, "A"), 0);
}

#[test]
fn unwritable_journal_stops_write_off_before_sending() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let journal = journal_path("unwritable");
    let client = client_with_journal(&emulator.base_url(), &journal);
    // Replacing the file with a directory makes every append fail, whatever
    // the permissions of the user running the test.
    std::fs::remove_file(&journal).unwrap();
    std::fs::create_dir(&journal).unwrap();

    let error = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();

    assert_eq!(error.status(), Status::Config);
    assert!(
        error.message().contains("journal_file"),
        "{}",
        error.message()
    );
    assert!(
        emulator.executed_spends().is_empty(),
        "nothing may be sent without a journal record"
    );
    std::fs::remove_dir(&journal).unwrap();
}

#[test]
fn missing_journal_folder_fails_at_creation() {
    let path = journal_path("missing")
        .join("no-such-folder")
        .join("spends.journal");

    let error = Client::new(Config {
        allow_http: true,
        journal_file: Some(path),
        ..Config::new("http://127.0.0.1:1/")
    })
    .unwrap_err();

    assert_eq!(error.status(), Status::Config);
    assert!(
        error.message().contains("cannot be opened for writing"),
        "{}",
        error.message()
    );
}

#[test]
fn threads_and_clients_share_one_journal() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let journal = journal_path("shared");
    let clients = [
        Arc::new(client_with_journal(&emulator.base_url(), &journal)),
        Arc::new(client_with_journal(&emulator.base_url(), &journal)),
    ];

    let workers: Vec<_> = (0..8)
        .map(|index| {
            let client = clients[index % 2].clone();
            thread::spawn(move || {
                for _ in 0..10 {
                    client.spend_bonus("2700009601212", 1).unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }

    assert_eq!(lines_of_kind(&journal, "A"), 80);
    assert_eq!(lines_of_kind(&journal, "O"), 80);
    assert_eq!(emulator.executed_spends().len(), 80);
    assert!(
        clients[0].pending_spends().unwrap().is_empty(),
        "every record must parse"
    );
}

#[test]
fn journal_without_setting_is_config_error() {
    let client = Client::new(Config {
        allow_http: true,
        ..Config::new("http://127.0.0.1:1/")
    })
    .unwrap();

    let error = client.pending_spends().unwrap_err();

    assert_eq!(error.status(), Status::Config);
    assert!(
        error.message().starts_with("journal_file is not set"),
        "{}",
        error.message()
    );
}
