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
