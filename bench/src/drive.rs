//! Measurement loops shared by the Rust clients, the floor and the library.
//! The C programs implement the same loops, so every client is timed the
//! same way: inside its own process, after its warm-up calls.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// One client's way of making a balance check, owned by one thread.
pub type Worker = Box<dyn FnMut() -> Result<(), String> + Send>;

/// Makes `warmup` calls, then times `iterations` calls and returns the mean
/// time of a call in nanoseconds.
pub fn sequential(worker: &mut Worker, warmup: u64, iterations: u64) -> Result<f64, String> {
    for _ in 0..warmup {
        worker()?;
    }
    let started = Instant::now();
    for _ in 0..iterations {
        worker()?;
    }
    Ok(started.elapsed().as_nanos() as f64 / iterations as f64)
}

/// Runs `threads` workers for `duration` after each made `warmup` calls, and
/// returns the total calls per second.
///
/// Calls in flight when the time is up still finish and count, and the time
/// is taken when the last of them finishes.
pub fn throughput(
    threads: usize,
    duration: Duration,
    warmup: u64,
    make_worker: &(dyn Fn() -> Result<Worker, String> + Sync),
) -> Result<f64, String> {
    let barrier = Barrier::new(threads + 1);
    let stop = AtomicBool::new(false);
    let failure = Mutex::new(None::<String>);

    let (calls, elapsed) = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let prepared = prepare(make_worker, warmup);
                    // Every thread reaches the barrier, also after a failed
                    // setup, so the main thread does not wait for it forever.
                    barrier.wait();
                    let mut worker = match prepared {
                        Ok(worker) => worker,
                        Err(error) => {
                            record_failure(&failure, error);
                            return 0u64;
                        }
                    };
                    let mut calls = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        if let Err(error) = worker() {
                            record_failure(&failure, error);
                            break;
                        }
                        calls += 1;
                    }
                    calls
                })
            })
            .collect();

        barrier.wait();
        let started = Instant::now();
        thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        let calls: u64 = handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or(0))
            .sum();
        (calls, started.elapsed())
    });

    if let Some(error) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(error);
    }
    Ok(calls as f64 / elapsed.as_secs_f64())
}

fn prepare(
    make_worker: &(dyn Fn() -> Result<Worker, String> + Sync),
    warmup: u64,
) -> Result<Worker, String> {
    let mut worker = make_worker()?;
    for _ in 0..warmup {
        worker()?;
    }
    Ok(worker)
}

fn record_failure(failure: &Mutex<Option<String>>, error: String) {
    let mut slot = failure.lock().unwrap_or_else(|p| p.into_inner());
    slot.get_or_insert(error);
}

/// Timing of one new client: its creation, and creation plus first call.
#[derive(Clone, Copy, Debug)]
pub struct NewClientTiming {
    pub create: Duration,
    pub total: Duration,
}

/// Formats the timings of consecutive new clients as the `create_ns` and
/// `total_ns` result fields, comma-separated in client order.
pub fn format_new_clients(timings: &[NewClientTiming]) -> String {
    let join = |pick: fn(&NewClientTiming) -> Duration| {
        timings
            .iter()
            .map(|timing| pick(timing).as_nanos().to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "create_ns={} total_ns={}",
        join(|timing| timing.create),
        join(|timing| timing.total)
    )
}
