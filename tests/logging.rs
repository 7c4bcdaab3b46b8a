//! Logs as the host receives them: through the C ABI's callback and in a
//! rotated log file, over a run of every kind of call, with the test card's
//! full number and the PKCS#12 password never appearing at any level.
//!
//! One test only, because the log sinks are process-wide.

use std::ffi::{CStr, c_char, c_void};
use std::path::PathBuf;
use std::sync::Mutex;

use esbyt::config::Secret;
use esbyt::{Client, Config, Status};
use esbyt_emulator::{Emulator, EmulatorConfig, Fault, TlsConfig, generate_test_pki};

const PASSWORD: &str = "Pkcs12-Secret-7731";

static RECORDS: Mutex<Vec<(i32, String)>> = Mutex::new(Vec::new());

extern "C" fn collect(user_data: *mut c_void, level: i32, message: *const c_char) {
    assert_eq!(
        user_data as usize, 0x5EED,
        "user_data must come back unchanged"
    );
    // SAFETY: the library passes a NUL-terminated string valid during the call.
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    RECORDS.lock().unwrap().push((level, text));
}

fn scratch_dir() -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("logging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs balance checks, write-offs and failures over plain HTTP, and over
/// mutual TLS with a PKCS#12 client certificate.
fn run_every_kind_of_call(dir: &std::path::Path, log_file: &std::path::Path) {
    let plain = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let client = Client::new(Config {
        allow_http: true,
        supplier: Some(1111),
        log_file: Some(log_file.to_path_buf()),
        log_level: log::LevelFilter::Trace,
        log_max_bytes: 16 * 1024,
        log_max_files: 2,
        journal_file: Some(dir.join("spends.journal")),
        ..Config::new(plain.base_url())
    })
    .unwrap();
    for _ in 0..20 {
        client.check_bonus("2700009601205").unwrap();
        client.spend_bonus("2700009601205", 1).unwrap();
    }
    assert_eq!(
        client.check_bonus("4600000000003").unwrap_err().status(),
        Status::Server
    );
    let lost = client
        .spend_bonus(Fault::CloseAfterExecute.bonus_id(), 1)
        .unwrap_err();
    assert_eq!(lost.status(), Status::OutcomeUnknown);

    let pki = generate_test_pki(&dir.join("pki"), PASSWORD, true).unwrap();
    let secure = Emulator::start(
        "127.0.0.1:0",
        EmulatorConfig {
            tls: Some(TlsConfig::from_pki_dir(&pki.dir).unwrap()),
            ..EmulatorConfig::with_default_cards()
        },
    )
    .unwrap();
    let tls_client = Client::new(Config {
        supplier: Some(1111),
        extra_ca_file: Some(pki.ca_cert.clone()),
        pkcs12_file: Some(pki.client_p12.clone()),
        pkcs12_password: Some(Secret::new(PASSWORD)),
        ..Config::new(secure.base_url())
    })
    .unwrap();
    tls_client.check_bonus("2700009601205").unwrap();
    tls_client.spend_bonus("2700009601205", 1).unwrap();
}

fn read_logs(log_file: &std::path::Path) -> String {
    let mut text = String::new();
    for suffix in ["", ".1", ".2"] {
        let path = PathBuf::from(format!("{}{suffix}", log_file.display()));
        text.push_str(&std::fs::read_to_string(path).unwrap_or_default());
    }
    text
}

#[test]
fn logs_reach_host_without_secrets() {
    let dir = scratch_dir();
    let log_file = dir.join("esbyt.log");
    // SAFETY: `collect` matches the callback type and lives for the whole process.
    let status = unsafe {
        esbyt::ffi::esbyt_set_log_callback(
            Some(collect),
            0x5EED as *mut c_void,
            5,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(status, 0);

    run_every_kind_of_call(&dir, &log_file);

    let records = RECORDS.lock().unwrap().clone();
    let file_text = read_logs(&log_file);
    let callback_text: String = records
        .iter()
        .map(|(_, text)| format!("{text}\n"))
        .collect();
    for (name, text) in [("callback", &callback_text), ("log file", &file_text)] {
        assert!(
            !text.contains("2700009601205"),
            "{name}: a full card number was logged"
        );
        assert!(
            !text.contains(PASSWORD),
            "{name}: the PKCS#12 password was logged"
        );
        assert!(
            text.contains("card=2700******205"),
            "{name}: no masked operation line"
        );
    }

    let startup = records
        .iter()
        .find(|(_, text)| text.starts_with("esbyt "))
        .expect("a startup line");
    assert_eq!(startup.0, 3, "the startup line is at info level");
    assert!(
        startup.1.contains(&format!(
            "esbyt {} (ABI 1, linux",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        startup.1
    );
    let operations: Vec<&(i32, String)> = records
        .iter()
        .filter(|(_, text)| text.starts_with("spend_bonus card="))
        .collect();
    assert_eq!(operations.len(), 22, "one line per write-off");
    assert!(operations.iter().all(|(level, _)| *level == 3));
    assert!(
        operations
            .iter()
            .any(|(_, text)| text.contains("status=ESBYT_OUTCOME_UNKNOWN"))
    );
    assert!(
        records.iter().any(|(level, _)| *level == 5),
        "trace records of the HTTP and TLS libraries arrive"
    );

    assert!(
        PathBuf::from(format!("{}.1", log_file.display())).exists(),
        "the log file was rotated"
    );
    assert!(
        !PathBuf::from(format!("{}.3", log_file.display())).exists(),
        "at most 2 rotated files are kept"
    );
    let current = std::fs::metadata(&log_file).unwrap().len();
    assert!(
        current <= 16 * 1024,
        "the current log file is {current} bytes"
    );
}
