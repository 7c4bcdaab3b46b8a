//! Where the library's log records go: a host callback, a log file with
//! size-based rotation, or both.
//!
//! The library logs through the `log` facade. Nothing is installed until a
//! host asks for a sink (a callback through the C ABI, or the `log_file`
//! setting), so a Rust host that installed its own logger keeps it. Inside
//! the shared library the facade is the library's own copy, so installing
//! the forwarder there never touches a logger of the host or another library.
//!
//! Every message passes through [`mask_card_numbers`] before it leaves, so
//! no full card number reaches a log, whichever crate wrote the record.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{SystemTime, UNIX_EPOCH};

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::error::Error;

/// A host function that receives log records: its user data, the level (1
/// error, 2 warning, 3 info, 4 debug, 5 trace) and the NUL-terminated UTF-8
/// message, valid only during the call.
pub type LogCallback =
    extern "C" fn(user_data: *mut std::ffi::c_void, level: i32, message: *const std::ffi::c_char);

/// Default size at which the log file is rotated.
pub const DEFAULT_LOG_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Default number of rotated log files kept besides the current one.
pub const DEFAULT_LOG_MAX_FILES: u32 = 5;

struct CallbackSink {
    callback: LogCallback,
    /// The host's pointer, stored as an integer because the library never
    /// dereferences it and hands it back on the host's behalf.
    user_data: usize,
    level: LevelFilter,
}

struct FileSink {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    max_files: u32,
    level: LevelFilter,
}

#[derive(Default)]
struct Sinks {
    callback: Option<CallbackSink>,
    file: Option<FileSink>,
}

static SINKS: Mutex<Sinks> = Mutex::new(Sinks {
    callback: None,
    file: None,
});
static INSTALL: Once = Once::new();

fn sinks() -> MutexGuard<'static, Sinks> {
    SINKS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Converts the C ABI's level number to a filter; 0 or less turns logging off.
pub fn level_from_number(level: i32) -> LevelFilter {
    match level {
        i32::MIN..=0 => LevelFilter::Off,
        1 => LevelFilter::Error,
        2 => LevelFilter::Warn,
        3 => LevelFilter::Info,
        4 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    }
}

/// Parses a level name such as `info` or a number from 0 to 5.
pub fn parse_level(text: &str) -> Option<LevelFilter> {
    match text.trim().to_ascii_lowercase().as_str() {
        "off" | "0" => Some(LevelFilter::Off),
        "error" | "1" => Some(LevelFilter::Error),
        "warn" | "warning" | "2" => Some(LevelFilter::Warn),
        "info" | "3" => Some(LevelFilter::Info),
        "debug" | "4" => Some(LevelFilter::Debug),
        "trace" | "5" => Some(LevelFilter::Trace),
        _ => None,
    }
}

/// Sets or, with `None`, removes the host callback.
pub fn set_callback(callback: Option<LogCallback>, user_data: usize, level: LevelFilter) {
    install();
    sinks().callback = callback.map(|callback| CallbackSink {
        callback,
        user_data,
        level,
    });
    update_max_level();
}

/// Opens (or replaces) the log file.
pub fn set_file(
    path: &Path,
    level: LevelFilter,
    max_bytes: u64,
    max_files: u32,
) -> Result<(), Error> {
    crate::files::check_regular_or_missing(path, "log_file")?;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|error| {
            Error::config(format!(
                "log_file {:?} cannot be opened for writing: {error}",
                path.display().to_string()
            ))
        })?;
    let size = file.metadata().map(|metadata| metadata.len()).unwrap_or(0);
    install();
    sinks().file = Some(FileSink {
        path: path.to_path_buf(),
        file,
        size,
        max_bytes,
        max_files,
        level,
    });
    update_max_level();
    Ok(())
}

fn install() {
    INSTALL.call_once(|| {
        if log::set_logger(&FORWARDER).is_err() {
            // Only a Rust host that linked the library and installed its own
            // logger gets here; its logger then receives the records.
            log::debug!(
                "esbyt: a logger is already installed; the host's logger receives the records"
            );
        }
    });
}

fn update_max_level() {
    let sinks = sinks();
    let callback = sinks
        .callback
        .as_ref()
        .map_or(LevelFilter::Off, |sink| sink.level);
    let file = sinks
        .file
        .as_ref()
        .map_or(LevelFilter::Off, |sink| sink.level);
    log::set_max_level(callback.max(file));
}

struct Forwarder;

static FORWARDER: Forwarder = Forwarder;

impl Log for Forwarder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = mask_card_numbers(&record.args().to_string());
        let level = record.level();

        // The callback runs without the lock held, so it may log or call the
        // library itself without deadlocking.
        let callback = {
            let mut sinks = sinks();
            if let Some(file) = sinks.file.as_mut().filter(|file| level <= file.level) {
                file.write(level, record.target(), &message);
            }
            sinks
                .callback
                .as_ref()
                .filter(|sink| level <= sink.level)
                .map(|sink| (sink.callback, sink.user_data))
        };
        if let Some((callback, user_data)) = callback {
            let text = std::ffi::CString::new(message.replace('\0', " ")).unwrap_or_default();
            callback(
                user_data as *mut std::ffi::c_void,
                level as i32,
                text.as_ptr(),
            );
        }
    }

    fn flush(&self) {
        if let Some(file) = sinks().file.as_mut() {
            let _ = file.file.flush();
        }
    }
}

impl FileSink {
    fn write(&mut self, level: Level, target: &str, message: &str) {
        let line = format!("{} {:<5} {target}: {message}\n", timestamp(), level);
        if self.size + line.len() as u64 > self.max_bytes {
            self.rotate();
        }
        if self.file.write_all(line.as_bytes()).is_ok() {
            self.size += line.len() as u64;
        }
    }

    /// Renames `FILE` to `FILE.1`, `FILE.1` to `FILE.2` and so on, dropping the
    /// oldest, then starts a new `FILE`.
    fn rotate(&mut self) {
        let numbered = |index: u32| PathBuf::from(format!("{}.{index}", self.path.display()));
        let _ = std::fs::remove_file(numbered(self.max_files));
        for index in (1..self.max_files).rev() {
            let _ = std::fs::rename(numbered(index), numbered(index + 1));
        }
        if self.max_files > 0 {
            let _ = std::fs::rename(&self.path, numbered(1));
        } else {
            let _ = std::fs::remove_file(&self.path);
        }
        if let Ok(file) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            self.file = file;
            self.size = 0;
        }
    }
}

/// Formats the current time as UTC, `2026-12-04T16:40:00.123Z`.
fn timestamp() -> String {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = elapsed.as_secs();
    let (days, day_seconds) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        day_seconds / 3600,
        day_seconds / 60 % 60,
        day_seconds % 60,
        elapsed.subsec_millis()
    )
}

/// Converts days since 1970-01-01 to a calendar date (proleptic Gregorian),
/// after Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Masks every run of 8 or more digits, keeping the first four and the last
/// three, as card numbers appear in logs: `2700009601205` becomes
/// `2700******205`. Shorter numbers (amounts, codes, ports) stay.
pub fn mask_card_numbers(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, masked: &mut String| {
        if digits.len() >= 8 {
            masked.push_str(&digits[..4]);
            masked.push_str(&"*".repeat(digits.len() - 7));
            masked.push_str(&digits[digits.len() - 3..]);
        } else {
            masked.push_str(digits);
        }
        digits.clear();
    };
    for character in text.chars() {
        if character.is_ascii_digit() {
            digits.push(character);
        } else {
            flush(&mut digits, &mut masked);
            masked.push(character);
        }
    }
    flush(&mut digits, &mut masked);
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_masked_anywhere() {
        assert_eq!(
            mask_card_numbers("GET /?command=check_bonus&bonus_id=2700009601205 took 12 ms"),
            "GET /?command=check_bonus&bonus_id=2700******205 took 12 ms"
        );
        assert_eq!(
            mask_card_numbers("amount=10 supplier=1111 port 8808"),
            "amount=10 supplier=1111 port 8808"
        );
        assert_eq!(mask_card_numbers("12345678"), "1234*678");
    }

    #[test]
    fn levels_by_name_and_number() {
        assert_eq!(parse_level("INFO"), Some(LevelFilter::Info));
        assert_eq!(parse_level("4"), Some(LevelFilter::Debug));
        assert_eq!(parse_level("verbose"), None);
        assert_eq!(level_from_number(0), LevelFilter::Off);
        assert_eq!(level_from_number(99), LevelFilter::Trace);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_791), (2026, 12, 4));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
