//! The library through its Rust API, `esbyt::Client`, with the settings that
//! the C driver passes to `esbyt_config_set`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use esbyt::{Client, Config};

use crate::args::Args;
use crate::documents::{BALANCE, CARD};
use crate::drive::{self, NewClientTiming, Worker};

/// Builds the configuration from the `url`, `ca`, `cert` and `key` arguments.
fn config(args: &Args) -> Result<Config, String> {
    let url = args.text("url")?;
    let mut settings = vec![("url", url)];
    if url.starts_with("http://") {
        settings.push(("allow_http", "1"));
    }
    for (argument, setting) in [
        ("ca", "extra_ca_file"),
        ("cert", "client_cert_file"),
        ("key", "client_key_file"),
    ] {
        if let Some(value) = args.optional_text(argument) {
            settings.push((setting, value));
        }
    }

    let mut config = Config::default();
    for (name, value) in settings {
        config
            .set(name, value)
            .map_err(|error| format!("setting {name}: {error}"))?;
    }
    Ok(config)
}

fn check_balance(client: &Client) -> Result<(), String> {
    let balance = client
        .check_bonus(CARD)
        .map_err(|error| format!("check_bonus: {error}"))?;
    if balance.amount != BALANCE {
        return Err(format!(
            "check_bonus returned {}, expected {BALANCE}",
            balance.amount
        ));
    }
    Ok(())
}

fn worker(client: &Arc<Client>) -> Worker {
    let client = client.clone();
    Box::new(move || check_balance(&client))
}

fn new_client(config: &Config) -> Result<Client, String> {
    Client::new(config.clone()).map_err(|error| format!("Client::new: {error}"))
}

/// Runs one measurement mode and returns its result fields.
pub fn run(args: &Args) -> Result<String, String> {
    let config = config(args)?;
    match args.text("mode")? {
        "sequential" => {
            let client = Arc::new(new_client(&config)?);
            let ns = drive::sequential(
                &mut worker(&client),
                args.number("warmup", 100)?,
                args.number("iterations", 1000)?,
            )?;
            Ok(format!("ns_per_call={ns:.0}"))
        }
        "threads" => {
            // One client shared by every thread, as the library recommends.
            let client = Arc::new(new_client(&config)?);
            let per_second = drive::throughput(
                args.number("threads", 1)?,
                Duration::from_secs_f64(args.number("seconds", 1.0)?),
                args.number("warmup", 20)?,
                &|| Ok(worker(&client)),
            )?;
            Ok(format!("calls_per_second={per_second:.0}"))
        }
        "new-clients" => {
            let mut timings = Vec::new();
            for _ in 0..args.number("clients", 5usize)? {
                let started = Instant::now();
                let client = new_client(&config)?;
                let create = started.elapsed();
                check_balance(&client)?;
                timings.push(NewClientTiming {
                    create,
                    total: started.elapsed(),
                });
            }
            Ok(drive::format_new_clients(&timings))
        }
        other => Err(format!(
            "mode {other:?} is not supported by the Rust client"
        )),
    }
}
