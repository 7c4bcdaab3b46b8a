//! The orchestrator: starts the loopback servers, runs every client in its
//! own process against them, case by case, and writes the results as
//! Markdown tables.
//!
//! Runs of the different clients alternate (run 1 of each client, then run
//! 2 of each, and so on), so a change in the machine's load during the
//! benchmark spreads over every client instead of hitting one.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::affinity::Affinity;
use crate::args::Args;
use crate::documents::CHECK_BONUS_QUERY;
use crate::parser::DOCUMENTS;
use crate::samples::{Samples, micros, millis, ratio};
use crate::server::{Server, Stats};

/// Thread counts of the throughput case.
const THREAD_COUNTS: [usize; 4] = [1, 2, 4, 8];

/// The clients compared in every network case, in table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ClientKind {
    Floor,
    Curl,
    LibraryC,
    LibraryRust,
}

const CLIENTS: [ClientKind; 4] = [
    ClientKind::Floor,
    ClientKind::Curl,
    ClientKind::LibraryC,
    ClientKind::LibraryRust,
];

impl ClientKind {
    fn label(self) -> &'static str {
        match self {
            ClientKind::Floor => "floor (raw Rust client)",
            ClientKind::Curl => "libcurl (C)",
            ClientKind::LibraryC => "esbyt, C ABI",
            ClientKind::LibraryRust => "esbyt, Rust API",
        }
    }
}

/// Iteration and repetition counts of every case.
struct Counts {
    runs: usize,
    warmup: u64,
    iterations: u64,
    thread_runs: usize,
    thread_seconds: f64,
    clients: usize,
    memory_runs: usize,
    memory_calls: u64,
    parse_iterations: u64,
    callgrind_calls: (u64, u64),
    callgrind_parses: (u64, u64),
}

impl Counts {
    fn full() -> Counts {
        Counts {
            runs: 7,
            warmup: 500,
            iterations: 5000,
            thread_runs: 5,
            thread_seconds: 0.5,
            clients: 5,
            memory_runs: 3,
            memory_calls: 100_000,
            parse_iterations: 200_000,
            callgrind_calls: (100, 600),
            callgrind_parses: (1000, 6000),
        }
    }

    /// Returns counts for a run of about a minute that checks that every case works.
    fn quick() -> Counts {
        Counts {
            runs: 3,
            warmup: 50,
            iterations: 500,
            thread_runs: 1,
            thread_seconds: 0.2,
            clients: 3,
            memory_runs: 1,
            memory_calls: 2000,
            parse_iterations: 20_000,
            callgrind_calls: (20, 70),
            callgrind_parses: (100, 600),
        }
    }
}

/// One server and what a client needs to reach it.
struct Endpoint {
    label: &'static str,
    url: String,
    stats: Arc<Stats>,
    /// `ca=`, `cert=` and `key=` arguments for HTTPS, none for HTTP.
    tls_args: Vec<String>,
    /// The library's request bytes, which the floor sends.
    request_file: PathBuf,
}

/// Result fields of one client process, from its `name=value` output line.
type Fields = HashMap<String, String>;

pub struct Orchestrator {
    bench_program: PathBuf,
    esbyt_client: PathBuf,
    curl_client: PathBuf,
    library: PathBuf,
    work_dir: PathBuf,
    callgrind: bool,
    counts: Counts,
    response_bytes: usize,
    endpoints: Vec<Endpoint>,
    affinity: Affinity,
    report: String,
}

impl Orchestrator {
    /// Generates the test PKI in `work_dir` and starts both servers.
    pub fn new(args: &Args) -> Result<Orchestrator, String> {
        let work_dir = args.path("work_dir")?;
        let pki = esbyt_emulator::generate_test_pki(&work_dir.join("pki"), "esbyt-bench", true)
            .map_err(|error| format!("test PKI: {error}"))?;
        let plain = Server::start_plain().map_err(|error| error.to_string())?;
        let tls = Server::start_tls(&pki.ca_cert, &pki.server_cert, &pki.server_key)
            .map_err(|error| error.to_string())?;
        let tls_args = vec![
            format!("ca={}", pki.ca_cert.display()),
            format!("cert={}", pki.client_cert.display()),
            format!("key={}", pki.client_key.display()),
        ];
        let endpoints = vec![
            Endpoint {
                label: "HTTP",
                url: format!("http://{}/", plain.address),
                stats: plain.stats,
                tls_args: Vec::new(),
                request_file: work_dir.join("request-http.bin"),
            },
            Endpoint {
                label: "HTTPS, mutual TLS",
                url: format!("https://{}/", tls.address),
                stats: tls.stats,
                tls_args,
                request_file: work_dir.join("request-https.bin"),
            },
        ];
        let quick = args.optional_text("quick") == Some("1");
        Ok(Orchestrator {
            bench_program: std::env::current_exe().map_err(|error| error.to_string())?,
            esbyt_client: optional_path(args, "esbyt_client"),
            curl_client: optional_path(args, "curl_client"),
            library: optional_path(args, "library"),
            work_dir,
            callgrind: args.optional_text("callgrind") != Some("0"),
            counts: if quick {
                Counts::quick()
            } else {
                Counts::full()
            },
            response_bytes: Server::balance_response_bytes(),
            endpoints,
            affinity: Affinity::new().map_err(|error| format!("CPU affinity: {error}"))?,
            report: String::new(),
        })
    }

    /// Prints the servers' URLs and the client arguments for them, then
    /// serves until the process is killed, for profiling one client by hand.
    pub fn serve(self) -> Result<(), String> {
        for endpoint in &self.endpoints {
            println!(
                "{}: url={} {}",
                endpoint.label,
                endpoint.url,
                endpoint.tls_args.join(" ")
            );
        }
        loop {
            std::thread::park();
        }
    }

    /// Runs every case and prints the report to stdout.
    pub fn run(mut self) -> Result<(), String> {
        for (name, path) in [
            ("esbyt_client", &self.esbyt_client),
            ("curl_client", &self.curl_client),
            ("library", &self.library),
        ] {
            if !path.is_file() {
                return Err(format!("{name}={} is not a file", path.display()));
            }
        }
        self.pin(true)?;
        self.capture_requests()?;
        self.parser()?;
        self.sequential()?;
        self.new_clients()?;
        self.pin(false)?;
        self.threads()?;
        self.pin(true)?;
        self.memory()?;
        self.load_to_first_answer()?;
        self.library_size()?;
        if self.callgrind {
            self.instruction_counts()?;
        }
        self.pin(false)?;
        self.requests_served();
        print!("{}", self.report);
        Ok(())
    }

    /// Runs the server threads and the clients started from now on one CPU,
    /// or again on every allowed CPU.
    fn pin(&self, one_cpu: bool) -> Result<(), String> {
        let result = if one_cpu {
            self.affinity.pin()
        } else {
            self.affinity.unpin()
        };
        result.map_err(|error| format!("CPU affinity: {error}"))
    }

    /// Lists how many requests each server served, a check that every
    /// call reached the server.
    fn requests_served(&mut self) {
        writeln!(self.report, "## Requests served\n").ok();
        for endpoint in &self.endpoints {
            writeln!(
                self.report,
                "- {}: {}",
                endpoint.label,
                endpoint.stats.requests.load(Ordering::Relaxed)
            )
            .ok();
        }
        writeln!(self.report).ok();
    }

    /// Returns the program and arguments that start `client`, aimed at `endpoint`.
    fn invocation(&self, client: ClientKind, endpoint: Option<&Endpoint>) -> Vec<String> {
        let mut words = match client {
            ClientKind::Floor => vec![path_text(&self.bench_program), "floor".to_owned()],
            ClientKind::LibraryRust => vec![path_text(&self.bench_program), "library".to_owned()],
            ClientKind::Curl => vec![path_text(&self.curl_client)],
            ClientKind::LibraryC => vec![
                path_text(&self.esbyt_client),
                format!("library={}", self.library.display()),
            ],
        };
        if let Some(endpoint) = endpoint {
            words.push(format!("url={}", endpoint.url));
            words.extend(endpoint.tls_args.iter().cloned());
            words.push(format!("request={}", endpoint.request_file.display()));
            words.push(format!("response_bytes={}", self.response_bytes));
            if client == ClientKind::Curl {
                words.push(format!("user_agent={}", self.user_agent(endpoint)));
            }
        }
        words
    }

    /// Returns the library's User-Agent from its captured request, which
    /// libcurl then sends too, so both requests have the same headers.
    fn user_agent(&self, endpoint: &Endpoint) -> String {
        let request = std::fs::read(&endpoint.request_file).unwrap_or_default();
        String::from_utf8_lossy(&request)
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("user-agent")
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default()
    }

    fn run_client(
        &self,
        client: ClientKind,
        endpoint: Option<&Endpoint>,
        extra: &[String],
    ) -> Result<Fields, String> {
        let mut words = self.invocation(client, endpoint);
        words.extend(extra.iter().cloned());
        run_process(&words)
    }

    /// Records the first request head of one library call on each server,
    /// for the floor to send, and shows it next to libcurl's.
    fn capture_requests(&mut self) -> Result<(), String> {
        let one_call = args(&[("mode", "sequential"), ("warmup", "0"), ("iterations", "1")]);
        let mut heads = Vec::new();
        for index in 0..self.endpoints.len() {
            let endpoint = &self.endpoints[index];
            // The floor's request file must exist before any client reads it.
            std::fs::write(&endpoint.request_file, b"")
                .map_err(|error| format!("{}: {error}", endpoint.request_file.display()))?;
            self.run_client(ClientKind::LibraryRust, Some(endpoint), &one_call)?;
            let library_head = first_request(&endpoint.stats);
            std::fs::write(&endpoint.request_file, &library_head)
                .map_err(|error| format!("{}: {error}", endpoint.request_file.display()))?;
            self.run_client(ClientKind::Curl, Some(endpoint), &one_call)?;
            let curl_head = first_request(&endpoint.stats);
            heads.push((endpoint.label, library_head, curl_head));
        }

        let report = &mut self.report;
        writeln!(report, "## Setup\n").ok();
        writeln!(
            report,
            "Every case except the threads case runs the loopback server and the client on \
             CPU {}, so a call measures the work of the client, the server and the kernel \
             rather than the time to wake an idle CPU (bench/src/affinity.rs says why). The \
             threads case uses every allowed CPU.\n",
            self.affinity.pinned_cpu()
        )
        .ok();
        writeln!(report, "## Requests\n").ok();
        writeln!(
            report,
            "Every client requests `{CHECK_BONUS_QUERY}`. The floor sends the library's \
             request bytes, recorded from one library call. libcurl sends the library's \
             User-Agent. Each response is {} bytes, head and body.\n",
            self.response_bytes
        )
        .ok();
        for (label, library_head, curl_head) in heads {
            writeln!(
                report,
                "{label}, library and floor ({} bytes):\n",
                library_head.len()
            )
            .ok();
            writeln!(report, "```text\n{}```\n", show_head(&library_head)).ok();
            writeln!(report, "{label}, libcurl ({} bytes):\n", curl_head.len()).ok();
            writeln!(report, "```text\n{}```\n", show_head(&curl_head)).ok();
        }
        Ok(())
    }

    fn parser(&mut self) -> Result<(), String> {
        progress("response parser");
        let mut samples: HashMap<&str, Samples> = HashMap::new();
        let iterations = self.counts.parse_iterations.to_string();
        for _ in 0..self.counts.runs {
            for document in DOCUMENTS {
                let words = parse_invocation(&self.bench_program, document, &iterations);
                let fields = run_process(&words)?;
                samples
                    .entry(document)
                    .or_default()
                    .push(number(&fields, "ns_per_document")?);
            }
        }

        let report = &mut self.report;
        writeln!(report, "## Response parser\n").ok();
        writeln!(
            report,
            "`parse_check_bonus` on the balance and error documents, `parse_spend_bonus` on \
             the write-off document; {} parses per run, median of {} runs.\n",
            self.counts.parse_iterations, self.counts.runs
        )
        .ok();
        writeln!(report, "| document | ns per document | min | max |").ok();
        writeln!(report, "|---|---:|---:|---:|").ok();
        for document in DOCUMENTS {
            let values = &samples[document];
            writeln!(
                report,
                "| {document} | {:.0} | {:.0} | {:.0} |",
                values.median(),
                values.min(),
                values.max()
            )
            .ok();
        }
        writeln!(report).ok();
        Ok(())
    }

    fn sequential(&mut self) -> Result<(), String> {
        let counts = &self.counts;
        let extra = args(&[
            ("mode", "sequential"),
            ("warmup", &counts.warmup.to_string()),
            ("iterations", &counts.iterations.to_string()),
        ]);
        writeln!(
            self.report,
            "## Sequential balance checks on a kept-alive connection\n"
        )
        .ok();
        writeln!(
            self.report,
            "One thread, with the client and the server on CPU {}; {} warm-up calls, then {} \
             timed calls per run; median of {} runs. The ratio is the median time per call \
             divided by the floor's.\n",
            self.affinity.pinned_cpu(),
            counts.warmup,
            counts.iterations,
            counts.runs
        )
        .ok();

        for index in 0..self.endpoints.len() {
            let endpoint = &self.endpoints[index];
            progress(&format!("sequential, {}", endpoint.label));
            let mut samples: HashMap<ClientKind, Samples> = HashMap::new();
            let mut tls_parameters: HashMap<ClientKind, String> = HashMap::new();
            for _ in 0..self.counts.runs {
                for client in CLIENTS {
                    let fields = self.run_client(client, Some(endpoint), &extra)?;
                    samples
                        .entry(client)
                        .or_default()
                        .push(number(&fields, "ns_per_call")?);
                    let parameters = lock_text(&endpoint.stats.last_tls_parameters);
                    tls_parameters.insert(client, parameters);
                }
            }

            let floor = samples[&ClientKind::Floor].median();
            let mut table = format!(
                "### {}\n\n| client | µs per call | min | max | ÷ floor |\n|---|---:|---:|---:|---:|\n",
                endpoint.label
            );
            for client in CLIENTS {
                let values = &samples[&client];
                writeln!(
                    table,
                    "| {} | {} | {} | {} | {} |",
                    client.label(),
                    micros(values.median()),
                    micros(values.min()),
                    micros(values.max()),
                    ratio(values.median() / floor)
                )
                .ok();
            }
            if !endpoint.tls_args.is_empty() {
                writeln!(table, "\nNegotiated with each client:\n").ok();
                for client in CLIENTS {
                    writeln!(table, "- {}: {}", client.label(), tls_parameters[&client]).ok();
                }
            }
            writeln!(self.report, "{table}").ok();
        }
        Ok(())
    }

    fn new_clients(&mut self) -> Result<(), String> {
        let endpoint = &self.endpoints[1];
        progress("new clients, HTTPS");
        let clients = self.counts.clients;
        let extra = args(&[("mode", "new-clients"), ("clients", &clients.to_string())]);
        // Per client kind and per position: creation time and total time.
        let mut create: HashMap<(ClientKind, usize), Samples> = HashMap::new();
        let mut total: HashMap<(ClientKind, usize), Samples> = HashMap::new();
        let mut handshakes: HashMap<ClientKind, Vec<(u64, u64)>> = HashMap::new();
        for _ in 0..self.counts.runs {
            for client in CLIENTS {
                let (full_before, resumed_before) = endpoint.stats.handshakes();
                let fields = self.run_client(client, Some(endpoint), &extra)?;
                let (full_after, resumed_after) = endpoint.stats.handshakes();
                handshakes
                    .entry(client)
                    .or_default()
                    .push((full_after - full_before, resumed_after - resumed_before));
                for (position, value) in number_list(&fields, "create_ns")?.into_iter().enumerate()
                {
                    create.entry((client, position)).or_default().push(value);
                }
                for (position, value) in number_list(&fields, "total_ns")?.into_iter().enumerate() {
                    total.entry((client, position)).or_default().push(value);
                }
            }
        }

        let report = &mut self.report;
        writeln!(report, "## New clients over HTTPS with mutual TLS\n").ok();
        writeln!(
            report,
            "Each run is a new process that creates {clients} clients one after another; each \
             makes one balance check on a new connection and is freed. Times run from the \
             start of the client's creation to the answer: for the library \
             `esbyt_client_new` or `Client::new` (with the default `system_roots=1`), for \
             libcurl `curl_easy_init` and its options, for the floor building the rustls \
             configuration, which only the first client does. Creation is the part before the \
             call. The handshakes column counts what the server saw per run: full and resumed. \
             Median of {} runs.\n",
            self.counts.runs
        )
        .ok();
        writeln!(
            report,
            "| client | 1st: ms total | 1st: ms creation | 2nd: ms total | 2nd: ms creation | \
             later: ms total | handshakes per run (full + resumed) | 1st ÷ floor | 2nd ÷ floor |"
        )
        .ok();
        writeln!(report, "|---|---:|---:|---:|---:|---:|---|---:|---:|").ok();
        let floor_first = total[&(ClientKind::Floor, 0)].median();
        let floor_second = total[&(ClientKind::Floor, 1)].median();
        for client in CLIENTS {
            let mut later = Samples::default();
            for position in 2..clients {
                later.push(total[&(client, position)].median());
            }
            let first = total[&(client, 0)].median();
            let second = total[&(client, 1)].median();
            writeln!(
                report,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                client.label(),
                millis(first),
                millis(create[&(client, 0)].median()),
                millis(second),
                millis(create[&(client, 1)].median()),
                if later.is_empty() {
                    "-".to_owned()
                } else {
                    millis(later.median())
                },
                describe_handshakes(&handshakes[&client]),
                ratio(first / floor_first),
                ratio(second / floor_second),
            )
            .ok();
        }
        writeln!(report).ok();
        Ok(())
    }

    fn threads(&mut self) -> Result<(), String> {
        let counts = &self.counts;
        writeln!(self.report, "## Threads sharing one client\n").ok();
        writeln!(
            self.report,
            "Calls per second of all threads together, each thread calling in a loop for \
             {} s after 20 warm-up calls; median of {} runs. The library's threads share one \
             client and so its connection pool. libcurl and the floor have one connection per \
             thread, because an easy handle or a socket serves one thread at a time. The \
             server runs on the same machine and takes its share of the cores. The ratio is \
             the throughput divided by the floor's.\n",
            counts.thread_seconds, counts.thread_runs
        )
        .ok();
        for index in 0..self.endpoints.len() {
            let endpoint = &self.endpoints[index];
            let mut samples: HashMap<(ClientKind, usize), Samples> = HashMap::new();
            for threads in THREAD_COUNTS {
                progress(&format!("{threads} threads, {}", endpoint.label));
                let extra = args(&[
                    ("mode", "threads"),
                    ("threads", &threads.to_string()),
                    ("seconds", &self.counts.thread_seconds.to_string()),
                    ("warmup", "20"),
                ]);
                for _ in 0..self.counts.thread_runs {
                    for client in CLIENTS {
                        let fields = self.run_client(client, Some(endpoint), &extra)?;
                        samples
                            .entry((client, threads))
                            .or_default()
                            .push(number(&fields, "calls_per_second")?);
                    }
                }
            }

            let mut table = format!("### {}\n\n| client |", endpoint.label);
            for threads in THREAD_COUNTS {
                write!(table, " {threads} thr. calls/s | ÷ floor |").ok();
            }
            table.push_str("\n|---|");
            table.push_str(&"---:|---:|".repeat(THREAD_COUNTS.len()));
            table.push('\n');
            for client in CLIENTS {
                write!(table, "| {} |", client.label()).ok();
                for threads in THREAD_COUNTS {
                    let value = samples[&(client, threads)].median();
                    let floor = samples[&(ClientKind::Floor, threads)].median();
                    write!(table, " {value:.0} | {} |", ratio(value / floor)).ok();
                }
                table.push('\n');
            }
            writeln!(self.report, "{table}").ok();
        }
        Ok(())
    }

    fn memory(&mut self) -> Result<(), String> {
        let calls = self.counts.memory_calls;
        let extra = args(&[("mode", "memory"), ("calls", &calls.to_string())]);
        writeln!(self.report, "## Resident memory of a host\n").ok();
        writeln!(
            self.report,
            "VmRSS of the C driver process, which loads libesbyt.so with dlopen and calls \
             `esbyt_check_bonus` on one client over one kept-alive connection. Median of {} \
             runs, in KiB.\n",
            self.counts.memory_runs
        )
        .ok();
        writeln!(
            self.report,
            "| connection | after client creation | after 1,000 calls | after {} calls | growth from 1,000 |",
            thousands(calls)
        )
        .ok();
        writeln!(self.report, "|---|---:|---:|---:|---:|").ok();
        for index in 0..self.endpoints.len() {
            let endpoint = &self.endpoints[index];
            progress(&format!("memory, {}", endpoint.label));
            let mut created = Samples::default();
            let mut after_1000 = Samples::default();
            let mut after_all = Samples::default();
            for _ in 0..self.counts.memory_runs {
                let fields = self.run_client(ClientKind::LibraryC, Some(endpoint), &extra)?;
                created.push(number(&fields, "rss_kib_after_create")?);
                after_1000.push(number(&fields, "rss_kib_after_1000")?);
                after_all.push(number(&fields, "rss_kib_after_all")?);
            }
            writeln!(
                self.report,
                "| {} | {:.0} | {:.0} | {:.0} | {:+.0} |",
                endpoint.label,
                created.median(),
                after_1000.median(),
                after_all.median(),
                after_all.median() - after_1000.median()
            )
            .ok();
        }
        writeln!(self.report).ok();
        Ok(())
    }

    fn load_to_first_answer(&mut self) -> Result<(), String> {
        let extra = args(&[("mode", "load")]);
        writeln!(self.report, "## From dlopen to the first answer\n").ok();
        writeln!(
            self.report,
            "A new process each run: `dlopen` and `dlsym` of libesbyt.so, then \
             `esbyt_config_new`, the settings and `esbyt_client_new`, then the first \
             `esbyt_check_bonus` on a new connection. Median of {} runs, in ms.\n",
            self.counts.runs
        )
        .ok();
        writeln!(
            self.report,
            "| connection | dlopen + dlsym | client creation | first call | total |"
        )
        .ok();
        writeln!(self.report, "|---|---:|---:|---:|---:|").ok();
        for index in 0..self.endpoints.len() {
            let endpoint = &self.endpoints[index];
            progress(&format!("dlopen to first answer, {}", endpoint.label));
            let mut fields_by_name: HashMap<&str, Samples> = HashMap::new();
            for _ in 0..self.counts.runs {
                let fields = self.run_client(ClientKind::LibraryC, Some(endpoint), &extra)?;
                for name in ["load_ns", "create_ns", "call_ns", "total_ns"] {
                    fields_by_name
                        .entry(name)
                        .or_default()
                        .push(number(&fields, name)?);
                }
            }
            writeln!(
                self.report,
                "| {} | {} | {} | {} | {} |",
                endpoint.label,
                millis(fields_by_name["load_ns"].median()),
                millis(fields_by_name["create_ns"].median()),
                millis(fields_by_name["call_ns"].median()),
                millis(fields_by_name["total_ns"].median()),
            )
            .ok();
        }
        writeln!(self.report).ok();
        Ok(())
    }

    fn library_size(&mut self) -> Result<(), String> {
        let stripped = self.work_dir.join("libesbyt-stripped.so");
        let status = Command::new("strip")
            .arg("--strip-all")
            .arg("-o")
            .arg(&stripped)
            .arg(&self.library)
            .status()
            .map_err(|error| format!("strip: {error}"))?;
        if !status.success() {
            return Err(format!("strip {} failed", self.library.display()));
        }

        let size = |path: &Path| {
            std::fs::metadata(path)
                .map(|metadata| metadata.len())
                .map_err(|error| format!("{}: {error}", path.display()))
        };
        let built = size(&self.library)?;
        let stripped_size = size(&stripped)?;

        let report = &mut self.report;
        writeln!(report, "## Size of the shared library\n").ok();
        writeln!(report, "| file | bytes | MiB |").ok();
        writeln!(report, "|---|---:|---:|").ok();
        writeln!(
            report,
            "| target/release/libesbyt.so as built | {built} | {:.2} |",
            built as f64 / 1_048_576.0
        )
        .ok();
        writeln!(
            report,
            "| the same after `strip --strip-all` | {stripped_size} | {:.2} |\n",
            stripped_size as f64 / 1_048_576.0
        )
        .ok();
        Ok(())
    }

    /// Counts instructions per call with callgrind: the difference between a
    /// run with many calls and one with few, divided by the difference in
    /// calls, so process start and warm-up cancel out.
    fn instruction_counts(&mut self) -> Result<(), String> {
        let (few, many) = self.counts.callgrind_calls;
        let mut rows = Vec::new();
        for index in 0..self.endpoints.len() {
            let endpoint = &self.endpoints[index];
            progress(&format!("callgrind, {}", endpoint.label));
            let mut counts = Vec::new();
            for client in CLIENTS {
                let mut instructions = Vec::new();
                for calls in [few, many] {
                    let mut words = self.invocation(client, Some(endpoint));
                    words.extend(args(&[
                        ("mode", "sequential"),
                        ("warmup", "10"),
                        ("iterations", &calls.to_string()),
                    ]));
                    let scheme = if endpoint.tls_args.is_empty() {
                        "http"
                    } else {
                        "https"
                    };
                    let name = format!("{scheme}-{client:?}-{calls}");
                    instructions.push(self.callgrind(&words, &name)?);
                }
                let per_call = (instructions[1] - instructions[0]) as f64 / (many - few) as f64;
                counts.push((client, per_call));
            }
            rows.push((endpoint.label, counts));
        }

        let (few_parses, many_parses) = self.counts.callgrind_parses;
        let mut parse_rows = Vec::new();
        for document in DOCUMENTS {
            let mut instructions = Vec::new();
            for parses in [few_parses, many_parses] {
                let words = parse_invocation(&self.bench_program, document, &parses.to_string());
                instructions.push(self.callgrind(&words, &format!("parse-{document}-{parses}"))?);
            }
            let per_parse =
                (instructions[1] - instructions[0]) as f64 / (many_parses - few_parses) as f64;
            parse_rows.push((document, per_parse));
        }

        let report = &mut self.report;
        writeln!(report, "## Instructions per call (callgrind)\n").ok();
        writeln!(
            report,
            "User-space instructions of the client process only, counted by \
             `valgrind --tool=callgrind`: (count with {many} calls − count with {few} calls) \
             ÷ {}. Independent of the machine's load. The kernel's work (TCP on loopback) and \
             the server are not included, so the floor, which only calls `write` and `read`, \
             comes close to zero over HTTP. The ratio is to libcurl.\n",
            many - few
        )
        .ok();
        writeln!(report, "| client | HTTP | ÷ libcurl | HTTPS | ÷ libcurl |").ok();
        writeln!(report, "|---|---:|---:|---:|---:|").ok();
        for (position, client) in CLIENTS.iter().enumerate() {
            let http = rows[0].1[position].1;
            let https = rows[1].1[position].1;
            writeln!(
                report,
                "| {} | {:.0} | {} | {:.0} | {} |",
                client.label(),
                http,
                ratio(http / rows[0].1[1].1),
                https,
                ratio(https / rows[1].1[1].1)
            )
            .ok();
        }
        writeln!(report, "\n| document | instructions per parse |").ok();
        writeln!(report, "|---|---:|").ok();
        for (document, per_parse) in parse_rows {
            writeln!(report, "| {document} | {per_parse:.0} |").ok();
        }
        writeln!(report).ok();
        Ok(())
    }

    /// Runs `words` under callgrind and returns the instructions executed.
    /// The profile is written to the work directory, from where
    /// `scripts/bench.sh` copies it to target/bench/callgrind/.
    fn callgrind(&self, words: &[String], name: &str) -> Result<u64, String> {
        let profile = self.work_dir.join(format!("callgrind-{name}.out"));
        let mut command = vec![
            "valgrind".to_owned(),
            "--tool=callgrind".to_owned(),
            format!("--callgrind-out-file={}", profile.display()),
        ];
        command.extend(words.iter().cloned());
        run_process(&command)?;
        let text = std::fs::read_to_string(&profile)
            .map_err(|error| format!("{}: {error}", profile.display()))?;
        text.lines()
            .find_map(|line| line.strip_prefix("summary:"))
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| format!("{}: no summary line", profile.display()))
    }
}

/// Formats a count with commas between thousands, such as `100,000`.
fn thousands(count: u64) -> String {
    let digits = count.to_string();
    let mut text = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

fn progress(case: &str) {
    eprintln!("esbyt-bench: {case}");
}

fn args(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect()
}

/// Returns a path argument, or an empty path when it is missing; `run`
/// checks the paths it needs.
fn optional_path(args: &Args, name: &str) -> PathBuf {
    args.optional_text(name)
        .map(PathBuf::from)
        .unwrap_or_default()
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn parse_invocation(bench_program: &Path, document: &str, iterations: &str) -> Vec<String> {
    let mut words = vec![path_text(bench_program), "parse".to_owned()];
    words.extend(args(&[("document", document), ("iterations", iterations)]));
    words
}

/// Runs a client process and returns the fields of the last line it printed.
fn run_process(words: &[String]) -> Result<Fields, String> {
    let output = Command::new(&words[0])
        .args(&words[1..])
        .output()
        .map_err(|error| format!("cannot start {}: {error}", words[0]))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}): {}{}",
            words.join(" "),
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let line = stdout.lines().last().unwrap_or_default();
    Ok(line
        .split_whitespace()
        .filter_map(|word| word.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

fn number(fields: &Fields, name: &str) -> Result<f64, String> {
    fields
        .get(name)
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| format!("result field {name} missing in {fields:?}"))
}

fn number_list(fields: &Fields, name: &str) -> Result<Vec<f64>, String> {
    let text = fields
        .get(name)
        .ok_or_else(|| format!("result field {name} missing in {fields:?}"))?;
    text.split(',')
        .map(|value| {
            value
                .parse()
                .map_err(|_| format!("invalid {name} value {value:?}"))
        })
        .collect()
}

fn first_request(stats: &Stats) -> Vec<u8> {
    stats
        .last_first_request
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

fn lock_text(text: &std::sync::Mutex<String>) -> String {
    text.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// Shows a request head with its line ends, one header a line.
fn show_head(head: &[u8]) -> String {
    String::from_utf8_lossy(head).replace("\r\n", "\\r\\n\n")
}

/// Summarizes the handshake counts of the runs, such as `1 + 4`, or the
/// distinct counts when runs differed.
fn describe_handshakes(runs: &[(u64, u64)]) -> String {
    let mut distinct: Vec<(u64, u64)> = runs.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    distinct
        .iter()
        .map(|(full, resumed)| format!("{full} + {resumed}"))
        .collect::<Vec<_>>()
        .join(" or ")
}
