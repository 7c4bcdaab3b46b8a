//! Benchmark of the esbyt library against a raw-socket floor and libcurl,
//! all talking to one loopback server. `scripts/bench.sh` builds everything
//! and runs `esbyt-bench run`; see BENCHMARKS.md for the cases and results.
//!
//! Commands, each followed by `name=value` arguments:
//!
//! - `run`: the orchestrator. Starts the servers and runs every client as a
//!   child process, then prints the report.
//! - `floor`, `library`: the raw Rust client and the library's Rust API,
//!   started by `run` with a `mode=` and the server's `url=`.
//! - `parse`: the response parser alone on one `document=`.
//! - `serve`: starts the servers as `run` does, prints their URLs and waits,
//!   for profiling one client by hand.

mod affinity;
mod args;
mod documents;
mod drive;
mod floor;
mod library;
mod orchestrator;
mod parser;
mod samples;
mod server;

use std::process::ExitCode;

use args::Args;

fn main() -> ExitCode {
    let mut words = std::env::args().skip(1);
    let command = words.next().unwrap_or_default();
    let result = Args::parse(words).and_then(|args| match command.as_str() {
        "run" => orchestrator::Orchestrator::new(&args)?
            .run()
            .map(|()| String::new()),
        "serve" => orchestrator::Orchestrator::new(&args)?
            .serve()
            .map(|()| String::new()),
        "floor" => floor::run(&args),
        "library" => library::run(&args),
        "parse" => parser::run(&args),
        _ => Err(format!(
            "unknown command {command:?}: expected run, serve, floor, library or parse \
             (run it through scripts/bench.sh)"
        )),
    });
    match result {
        Ok(fields) => {
            if !fields.is_empty() {
                println!("{fields}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("esbyt-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
