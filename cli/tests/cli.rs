//! The `esbyt` binary run as a user runs it.

use std::process::{Command, Output};

use esbyt_emulator::{Emulator, EmulatorConfig, TEST_BONUS_ID};

fn esbyt(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_esbyt"))
        .args(arguments)
        .output()
        .expect("run the esbyt binary")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn demo_on_bundled_emulator() {
    let output = esbyt(&["demo"]);

    let text = stdout(&output);
    assert!(output.status.success(), "{text}{}", stderr(&output));
    let balances: Vec<&str> = text
        .lines()
        .filter(|line| line.trim_start().starts_with("balance"))
        .collect();
    assert_eq!(balances, ["  balance   500", "  balance   490"]);
    assert!(text.contains("  account   1055444444"), "{text}");
    assert!(text.contains("  spend_id  000000001"), "{text}");
}

#[test]
fn demo_over_mutual_tls() {
    let output = esbyt(&["demo", "--mutual-tls"]);

    let text = stdout(&output);
    assert!(output.status.success(), "{text}{}", stderr(&output));
    assert!(
        text.contains("demo over mutual TLS against the bundled emulator at https://localhost:"),
        "{text}"
    );
    let balances: Vec<&str> = text
        .lines()
        .filter(|line| line.trim_start().starts_with("balance"))
        .collect();
    assert_eq!(balances, ["  balance   500", "  balance   490"]);
    assert!(text.contains("  spend_id  000000001"), "{text}");
}

#[test]
fn demo_against_given_url() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let url = emulator.base_url();

    let output = esbyt(&[
        "demo",
        "--url",
        &url,
        "--supplier",
        "1111",
        "--allow-http",
        "--amount",
        "25",
    ]);

    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("  balance   475"),
        "{}",
        stdout(&output)
    );
    assert_eq!(emulator.executed_spends().len(), 1);
    assert_eq!(emulator.executed_spends()[0].amount, 25);
}

#[test]
fn check_and_spend_subcommands() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let url = format!("{}bonus/", emulator.base_url());

    let spend = esbyt(&[
        "spend",
        TEST_BONUS_ID,
        "100",
        "--url",
        &url,
        "--supplier",
        "1111",
        "--allow-http",
    ]);
    let check = esbyt(&["check", TEST_BONUS_ID, "--url", &url, "--allow-http"]);

    assert!(spend.status.success(), "{}", stderr(&spend));
    assert!(
        stdout(&spend).contains("  spend_id  000000001"),
        "{}",
        stdout(&spend)
    );
    assert!(
        stdout(&check).contains("  balance   400"),
        "{}",
        stdout(&check)
    );
}

#[test]
fn server_refusal_exit_code_and_message() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let url = emulator.base_url();

    let output = esbyt(&[
        "spend",
        TEST_BONUS_ID,
        "100000",
        "--url",
        &url,
        "--supplier",
        "1111",
        "--allow-http",
    ]);

    assert_eq!(output.status.code(), Some(18), "ESBYT_SERVER is status 8");
    assert!(
        stderr(&output).contains("ESBYT_SERVER (server result 6): Недостаточно бонусов"),
        "{}",
        stderr(&output)
    );
    assert!(emulator.executed_spends().is_empty());
}

#[test]
fn invalid_card_exit_code() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();

    let output = esbyt(&[
        "check",
        "27000096012O5",
        "--url",
        &emulator.base_url(),
        "--allow-http",
    ]);

    assert_eq!(output.status.code(), Some(11));
    assert!(
        stderr(&output).contains("bonus_id \"27000096012O5\" is invalid: expected 1 to 13 digits"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn missing_url_explains_demo() {
    let output = esbyt(&["check", TEST_BONUS_ID]);

    assert_eq!(output.status.code(), Some(12));
    assert!(
        stderr(&output).contains("--url is required"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn processes_share_one_journal() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let url = emulator.base_url();
    let journal = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-journal-{}", std::process::id()));
    let _ = std::fs::remove_file(&journal);
    let journal_arg = journal.to_str().unwrap().to_owned();

    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (url, journal_arg) = (url.clone(), journal_arg.clone());
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let arguments = [
                        "spend",
                        "2700009601212",
                        "1",
                        "--url",
                        &url,
                        "--supplier",
                        "1111",
                        "--allow-http",
                        "--journal-file",
                        &journal_arg,
                    ];
                    let output = esbyt(&arguments);
                    assert!(output.status.success(), "{}", stderr(&output));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let pending = esbyt(&["pending", "--journal-file", &journal_arg]);

    assert_eq!(
        stdout(&pending).trim(),
        "no write-off attempts to reconcile"
    );
    let text = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(
        text.lines().filter(|line| line.starts_with("A\t")).count(),
        20
    );
    assert_eq!(
        text.lines().filter(|line| line.starts_with("O\t")).count(),
        20
    );
    assert_eq!(emulator.executed_spends().len(), 20);
}

#[test]
fn pending_and_resolve_subcommands() {
    let journal = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-pending-{}", std::process::id()));
    let _ = std::fs::remove_file(&journal);
    let journal_arg = journal.to_str().unwrap();
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            // Accept, read the request, close without a response.
            if let Ok((mut stream, _)) = listener.accept() {
                let mut buffer = [0u8; 1024];
                let _ = std::io::Read::read(&mut stream, &mut buffer);
            }
        });
        format!("http://{address}/")
    };

    let spend = esbyt(&[
        "spend",
        TEST_BONUS_ID,
        "10",
        "--url",
        &dead,
        "--supplier",
        "1111",
        "--allow-http",
        "--journal-file",
        journal_arg,
    ]);
    let listed = esbyt(&["pending", "--journal-file", journal_arg]);

    assert_eq!(spend.status.code(), Some(19), "{}", stderr(&spend));
    let listing = stdout(&listed);
    assert!(
        listing.contains("card 2700009601205 amount 10 supplier 1111"),
        "{listing}"
    );
    assert!(
        listing.contains("outcome-unknown (ESBYT_CONNECTION)"),
        "{listing}"
    );
    let attempt_id = listing.split_whitespace().next().unwrap().to_owned();
    assert!(
        stderr(&spend).contains(&format!("journal attempt {attempt_id}")),
        "{}",
        stderr(&spend)
    );

    let resolved = esbyt(&[
        "resolve",
        &attempt_id,
        "--note",
        "not written off",
        "--journal-file",
        journal_arg,
    ]);

    assert!(resolved.status.success(), "{}", stderr(&resolved));
    assert_eq!(
        stdout(&esbyt(&["pending", "--journal-file", journal_arg])).trim(),
        "no write-off attempts to reconcile"
    );
}

#[test]
fn server_message_control_characters_escaped() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buffer = [0u8; 1024];
            let _ = std::io::Read::read(&mut stream, &mut buffer);
            let body = "<response><result>5</result><message>bad\u{1b}[2Jcard</message></response>";
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = std::io::Write::write_all(&mut stream, response.as_bytes());
        }
    });

    let output = esbyt(&["check", TEST_BONUS_ID, "--url", &url, "--allow-http"]);

    let text = stderr(&output);
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(text.contains("bad\\u{1b}[2Jcard"), "{text}");
}

#[test]
fn config_file_with_relative_journal() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let folder = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-config-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let config = folder.join("esbyt.toml");
    let text = format!(
        "# till 3\nurl = \"{}bonus/\"\nsupplier = 1111\nallow_http = true\njournal_file = \"spends.journal\"\n",
        emulator.base_url()
    );
    std::fs::write(&config, text).unwrap();

    let output = esbyt(&[
        "spend",
        TEST_BONUS_ID,
        "7",
        "--config",
        config.to_str().unwrap(),
    ]);

    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("  spend_id  000000001"),
        "{}",
        stdout(&output)
    );
    let journal = std::fs::read_to_string(folder.join("spends.journal")).unwrap();
    assert!(journal.contains("\tok\t000000001\t"), "{journal}");
}

#[test]
fn config_file_error_names_line() {
    let folder = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-config-bad-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let config = folder.join("esbyt.toml");
    std::fs::write(&config, "url = \"https://h/\"\nsuplier = 1111\n").unwrap();

    let output = esbyt(&["check", TEST_BONUS_ID, "--config", config.to_str().unwrap()]);

    assert_eq!(output.status.code(), Some(12));
    assert!(
        stderr(&output).contains("line 2: unknown setting \"suplier\""),
        "{}",
        stderr(&output)
    );
}
