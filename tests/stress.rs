//! Many threads sharing one client make thousands of mixed calls against
//! the emulator. Every call must end in success or its expected status, the
//! emulator must have executed exactly the write-offs that succeeded, and
//! the process's resident memory must stay flat.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use esbyt::{Client, Config, Status};
use esbyt_emulator::{Emulator, EmulatorConfig};

const THREADS: usize = 8;
const ROUNDS_PER_THREAD: usize = 250;
/// Card with a balance above the 32-bit range, so write-offs never run out.
const RICH_CARD: &str = "2700009601236";
/// Card with a zero balance: every write-off is refused.
const EMPTY_CARD: &str = "2700009601229";

/// Resident set size of this process in KiB, from /proc/self/status.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// One round of four calls; returns the number of successful write-offs.
fn round(client: &Client, index: usize) -> usize {
    let balance = client.check_bonus(RICH_CARD).expect("balance check");
    assert_eq!(balance.account, "1055999999");

    let refused = client.spend_bonus(EMPTY_CARD, 1).unwrap_err();
    assert_eq!(refused.status(), Status::Server, "{refused}");
    assert_eq!(refused.server_code(), Some(6));

    let invalid = client.check_bonus(&format!("card-{index}")).unwrap_err();
    assert_eq!(invalid.status(), Status::InvalidArgument);

    let write_off = client.spend_bonus(RICH_CARD, 1).expect("write-off");
    assert_eq!(write_off.spend_id.len(), 9);
    1
}

fn run_rounds(client: &Arc<Client>, rounds: usize, successes: &Arc<AtomicUsize>) {
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let client = client.clone();
            let successes = successes.clone();
            thread::spawn(move || {
                for index in 0..rounds {
                    successes.fetch_add(round(&client, index), Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a worker thread panicked");
    }
}

#[test]
fn mixed_calls_from_many_threads() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let client = Arc::new(
        Client::new(Config {
            allow_http: true,
            supplier: Some(1111),
            timeout: Duration::from_secs(10),
            ..Config::new(emulator.base_url())
        })
        .unwrap(),
    );
    let successes = Arc::new(AtomicUsize::new(0));

    // The first rounds warm up allocator pools, TLS-free connection pools and
    // thread stacks; memory is measured from there on.
    run_rounds(&client, ROUNDS_PER_THREAD / 5, &successes);
    let warm_kib = resident_kib();
    run_rounds(&client, ROUNDS_PER_THREAD, &successes);
    let final_kib = resident_kib();

    let expected = THREADS * (ROUNDS_PER_THREAD + ROUNDS_PER_THREAD / 5);
    assert_eq!(successes.load(Ordering::Relaxed), expected);
    assert_eq!(
        emulator.executed_spends().len(),
        expected,
        "executed write-offs must equal successful ones"
    );
    assert_eq!(
        emulator.balance(RICH_CARD),
        Some(3_000_000_000 - expected as i64)
    );
    assert_eq!(emulator.balance(EMPTY_CARD), Some(0));
    // NOTE: a bound, not a measurement: 8000 further calls that leaked even
    // 2 KiB each would exceed it. Benchmarks record the actual figures.
    let growth_kib = final_kib.saturating_sub(warm_kib);
    assert!(
        growth_kib < 16 * 1024,
        "resident memory grew by {growth_kib} KiB, from {warm_kib} to {final_kib} KiB"
    );
}
