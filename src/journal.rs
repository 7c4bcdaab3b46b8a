//! The spend journal: a durable record of every write-off attempt, so a host
//! that crashed or lost power in the middle of a write-off finds the attempt
//! on restart and can reconcile it.
//!
//! The file is UTF-8 text, one record a line, fields separated by tabs:
//!
//! ```text
//! A  ATTEMPT_ID  TIME_MS  BONUS_ID  SUPPLIER  AMOUNT            CHECKSUM
//! O  ATTEMPT_ID  TIME_MS  ok        SPEND_ID                    CHECKSUM
//! O  ATTEMPT_ID  TIME_MS  refused   SERVER_CODE  MESSAGE        CHECKSUM
//! O  ATTEMPT_ID  TIME_MS  not-sent  STATUS                      CHECKSUM
//! O  ATTEMPT_ID  TIME_MS  unknown   CAUSE_STATUS  MESSAGE       CHECKSUM
//! R  ATTEMPT_ID  TIME_MS  NOTE                                  CHECKSUM
//! ```
//!
//! `A` is written and flushed to stable storage before the request is sent,
//! `O` after the outcome is known, `R` when the host marks an attempt
//! resolved. `TIME_MS` is milliseconds since the Unix epoch, UTC. Text
//! fields escape backslash, tab, CR and LF as `\\`, `\t`, `\r`, `\n`.
//! `CHECKSUM` is the first 8 hex digits of the SHA-256 of the line before
//! its last tab. A line with a wrong checksum, such as the torn last record
//! of a crash, is skipped when the journal is read.
//!
//! Each record is appended with one write while the file is locked
//! (`flock` on Unix, `LockFileEx` on Windows), so threads and processes that
//! share one journal never interleave records.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Status};

/// State of an attempt whose outcome the host must reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingState {
    /// The attempt was recorded, but no outcome: the process stopped mid-call.
    NoOutcome,
    /// The call returned `Status::OutcomeUnknown`.
    OutcomeUnknown,
}

/// A write-off attempt without a known outcome and not yet marked resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingSpend {
    pub attempt_id: String,
    /// When the attempt was recorded, in milliseconds since the Unix epoch.
    pub time_ms: i64,
    pub bonus_id: String,
    pub supplier: i64,
    pub amount: i64,
    pub state: PendingState,
    /// For `OutcomeUnknown`, the status of the underlying failure.
    pub cause: Option<Status>,
}

/// The outcome of an attempt, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok { spend_id: String },
    Refused { server_code: i64, message: String },
    NotSent { status: Status },
    Unknown { cause: Status, message: String },
}

/// An open journal file.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
}

/// Sequence number of attempts made by this process, part of every attempt id.
static NEXT_ATTEMPT: AtomicU64 = AtomicU64::new(1);

impl Journal {
    /// Opens the journal, creating the file if it does not exist, and checks
    /// that it can be written.
    pub fn open(path: &Path) -> Result<Journal, Error> {
        open_for_append(path)?;
        Ok(Journal {
            path: path.to_path_buf(),
        })
    }

    /// Returns the path of the journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records an attempt and flushes it to stable storage. Returns its id.
    pub fn record_attempt(
        &self,
        bonus_id: &str,
        supplier: i64,
        amount: i64,
    ) -> Result<String, Error> {
        let now = now_ms();
        let sequence = NEXT_ATTEMPT.fetch_add(1, Ordering::Relaxed);
        let attempt_id = format!("{now}-{}-{sequence}", std::process::id());
        let fields = [
            "A",
            &attempt_id,
            &now.to_string(),
            bonus_id,
            &supplier.to_string(),
            &amount.to_string(),
        ];
        self.append(&fields)?;
        Ok(attempt_id)
    }

    /// Records the outcome of an attempt.
    pub fn record_outcome(&self, attempt_id: &str, outcome: &Outcome) -> Result<(), Error> {
        let now = now_ms().to_string();
        let line: Vec<String> = match outcome {
            Outcome::Ok { spend_id } => vec!["ok".into(), escape(spend_id)],
            Outcome::Refused {
                server_code,
                message,
            } => {
                vec!["refused".into(), server_code.to_string(), escape(message)]
            }
            Outcome::NotSent { status } => vec!["not-sent".into(), status.name().into()],
            Outcome::Unknown { cause, message } => {
                vec!["unknown".into(), cause.name().into(), escape(message)]
            }
        };
        let mut fields = vec!["O", attempt_id, &now];
        fields.extend(line.iter().map(String::as_str));
        self.append(&fields)
    }

    /// Marks an attempt resolved after the host reconciled it. Returns an
    /// invalid-argument error when the journal has no such attempt.
    pub fn resolve(&self, attempt_id: &str, note: &str) -> Result<(), Error> {
        let records = self.read_records()?;
        let known = records
            .iter()
            .any(|record| record.kind == "A" && record.attempt_id == attempt_id);
        if !known {
            return Err(Error::invalid_argument(format!(
                "attempt_id {attempt_id:?} is not in the spend journal {}",
                display(&self.path)
            )));
        }
        let now = now_ms().to_string();
        self.append(&["R", attempt_id, &now, &escape(note)])
    }

    /// Returns the attempts whose outcome is missing or unknown and that are
    /// not marked resolved, oldest first.
    pub fn pending(&self) -> Result<Vec<PendingSpend>, Error> {
        let records = self.read_records()?;
        let mut pending: Vec<PendingSpend> = Vec::new();
        for record in &records {
            match record.kind.as_str() {
                "A" => {
                    if let Some(spend) = parse_attempt(record) {
                        pending.push(spend);
                    }
                }
                "O" => {
                    let Some(spend) = pending
                        .iter_mut()
                        .find(|spend| spend.attempt_id == record.attempt_id)
                    else {
                        continue;
                    };
                    if record.fields.first().map(String::as_str) == Some("unknown") {
                        spend.state = PendingState::OutcomeUnknown;
                        spend.cause = record.fields.get(1).and_then(|name| status_from_name(name));
                    } else {
                        pending.retain(|spend| spend.attempt_id != record.attempt_id);
                    }
                }
                "R" => pending.retain(|spend| spend.attempt_id != record.attempt_id),
                _ => {}
            }
        }
        Ok(pending)
    }

    fn read_records(&self) -> Result<Vec<Record>, Error> {
        crate::files::check_regular_or_missing(&self.path, "journal_file")?;
        let mut text = String::new();
        File::open(&self.path)
            .and_then(|mut file| {
                file.lock_shared()?;
                file.read_to_string(&mut text)
            })
            .map_err(|error| journal_error(&self.path, "cannot be read", &error))?;
        let mut skipped = 0usize;
        let records: Vec<Record> = text
            .split_terminator('\n')
            .filter_map(|line| {
                let record = Record::parse(line);
                if record.is_none() && !line.is_empty() {
                    skipped += 1;
                }
                record
            })
            .collect();
        if skipped > 0 {
            log::warn!(
                "spend journal {}: skipped {skipped} damaged or torn lines",
                display(&self.path)
            );
        }
        Ok(records)
    }

    /// Appends one record with a single write while holding an exclusive lock.
    fn append(&self, fields: &[&str]) -> Result<(), Error> {
        let mut line = fields.join("\t");
        let checksum = checksum(&line);
        line.push('\t');
        line.push_str(&checksum);
        line.push('\n');

        let mut file = open_for_append(&self.path)?;
        let written = (|| {
            file.lock()?;
            // A crash can leave a torn last record without its line end; the
            // next record must start on a line of its own.
            if !ends_with_newline(&mut file)? {
                line.insert(0, '\n');
            }
            file.write_all(line.as_bytes())?;
            file.sync_data()
        })();
        written.map_err(|error| journal_error(&self.path, "cannot be written", &error))
    }
}

fn open_for_append(path: &Path) -> Result<File, Error> {
    crate::files::check_regular_or_missing(path, "journal_file")?;
    let mut options = OpenOptions::new();
    options.create(true).append(true).read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The journal contains full card numbers.
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(|error| journal_error(path, "cannot be opened for writing", &error))
}

fn ends_with_newline(file: &mut File) -> std::io::Result<bool> {
    let length = file.seek(SeekFrom::End(0))?;
    if length == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    file.seek(SeekFrom::End(0))?;
    Ok(last[0] == b'\n')
}

fn journal_error(path: &Path, what: &str, error: &std::io::Error) -> Error {
    Error::config(format!(
        "the spend journal {} {what} ({error}); check the journal_file setting and the folder's permissions",
        display(path)
    ))
}

fn display(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

fn now_ms() -> i64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

fn checksum(content: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, content.as_bytes());
    digest.as_ref()[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\\' => escaped.push_str("\\\\"),
            '\t' => escaped.push_str("\\t"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn status_from_name(name: &str) -> Option<Status> {
    Status::ALL.into_iter().find(|status| status.name() == name)
}

/// One valid line of the journal.
#[derive(Debug)]
struct Record {
    kind: String,
    attempt_id: String,
    time_ms: i64,
    fields: Vec<String>,
}

impl Record {
    fn parse(line: &str) -> Option<Record> {
        let (content, sum) = line.rsplit_once('\t')?;
        if checksum(content) != sum {
            return None;
        }
        let mut parts = content.split('\t');
        let kind = parts.next()?.to_owned();
        let attempt_id = parts.next()?.to_owned();
        let time_ms = parts.next()?.parse().ok()?;
        Some(Record {
            kind,
            attempt_id,
            time_ms,
            fields: parts.map(str::to_owned).collect(),
        })
    }
}

fn parse_attempt(record: &Record) -> Option<PendingSpend> {
    let [bonus_id, supplier, amount] = record.fields.as_slice() else {
        return None;
    };
    Some(PendingSpend {
        attempt_id: record.attempt_id.clone(),
        time_ms: record.time_ms,
        bonus_id: bonus_id.clone(),
        supplier: supplier.parse().ok()?,
        amount: amount.parse().ok()?,
        state: PendingState::NoOutcome,
        cause: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_journal(name: &str) -> Journal {
        let directory =
            std::env::temp_dir().join(format!("esbyt-journal-unit-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join(name);
        let _ = std::fs::remove_file(&path);
        Journal::open(&path).unwrap()
    }

    #[test]
    fn attempt_without_outcome_is_pending() {
        let journal = temp_journal("no-outcome");
        let id = journal.record_attempt("2700009601205", 1111, 10).unwrap();

        let pending = journal.pending().unwrap();

        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].attempt_id, id);
        assert_eq!(pending[0].bonus_id, "2700009601205");
        assert_eq!(pending[0].supplier, 1111);
        assert_eq!(pending[0].amount, 10);
        assert_eq!(pending[0].state, PendingState::NoOutcome);
    }

    #[test]
    fn outcomes_settle_or_keep_attempts() {
        let journal = temp_journal("outcomes");
        let done = journal.record_attempt("1", 1111, 1).unwrap();
        let refused = journal.record_attempt("2", 1111, 2).unwrap();
        let not_sent = journal.record_attempt("3", 1111, 3).unwrap();
        let unknown = journal.record_attempt("4", 1111, 4).unwrap();
        journal
            .record_outcome(
                &done,
                &Outcome::Ok {
                    spend_id: "000000001".into(),
                },
            )
            .unwrap();
        let refusal = Outcome::Refused {
            server_code: 6,
            message: "Недостаточно\tбонусов\n".into(),
        };
        journal.record_outcome(&refused, &refusal).unwrap();
        journal
            .record_outcome(
                &not_sent,
                &Outcome::NotSent {
                    status: Status::Connection,
                },
            )
            .unwrap();
        let lost = Outcome::Unknown {
            cause: Status::Timeout,
            message: "timed out".into(),
        };
        journal.record_outcome(&unknown, &lost).unwrap();

        let pending = journal.pending().unwrap();

        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].attempt_id, unknown);
        assert_eq!(pending[0].state, PendingState::OutcomeUnknown);
        assert_eq!(pending[0].cause, Some(Status::Timeout));
    }

    #[test]
    fn resolved_attempt_is_no_longer_pending() {
        let journal = temp_journal("resolved");
        let id = journal.record_attempt("2700009601205", 1111, 10).unwrap();

        journal
            .resolve(&id, "balance checked: written off")
            .unwrap();

        assert!(journal.pending().unwrap().is_empty());
        let error = journal.resolve("no-such-attempt", "").unwrap_err();
        assert_eq!(error.status(), Status::InvalidArgument);
        assert!(
            error
                .message()
                .contains("\"no-such-attempt\" is not in the spend journal")
        );
    }

    #[test]
    fn torn_record_skipped() {
        let journal = temp_journal("torn");
        let first = journal.record_attempt("1", 1111, 1).unwrap();
        let mut file = OpenOptions::new()
            .append(true)
            .open(journal.path())
            .unwrap();
        // A crash in the middle of writing an outcome record.
        file.write_all(format!("O\t{first}\t1\tok\t0000").as_bytes())
            .unwrap();
        drop(file);

        let second = journal.record_attempt("2", 1111, 2).unwrap();
        let pending = journal.pending().unwrap();

        let ids: Vec<&str> = pending
            .iter()
            .map(|spend| spend.attempt_id.as_str())
            .collect();
        assert_eq!(
            ids,
            [first.as_str(), second.as_str()],
            "the torn outcome must not settle the attempt"
        );
    }

    #[test]
    fn device_rejected_as_journal() {
        let error = Journal::open(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(error.status(), Status::Config);
        assert!(
            error.message().contains("is not a regular file"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn escaping_round_trips_control_characters() {
        assert_eq!(escape("a\\b\tc\nd\re"), "a\\\\b\\tc\\nd\\re");
    }
}
