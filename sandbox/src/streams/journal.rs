//! The journal: every platform event and every log line, in emission order.
//!
//! Records have the Telemetry API's shape (`{"time","type","record"}`), so the
//! journal is both what `platform.ndjson` holds and what the Logs and
//! Telemetry streams will deliver. With `echo` on it also prints a readable
//! timeline: the sandbox's own narration, each log line prefixed with the
//! process that wrote it, and CloudWatch-style START/END/REPORT lines.
//!
//! A long-running environment (`serve`) cannot keep every record: with a
//! memory limit the journal keeps the newest records up to that many bytes
//! and lets older ones go, and it can append every record to a file as it
//! is emitted, so nothing is lost to the reader of that file.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::delivery::{Reporter, Subscriber};
pub use super::record::{Record, timestamp};

/// Who wrote a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Function,
    Extension(String),
}

/// What a journal keeps, and where else it writes.
#[derive(Debug, Clone, Default)]
pub struct Retention {
    /// Keep the newest records up to about this many bytes; all when `None`.
    pub max_bytes: Option<usize>,
}

/// The records kept in memory: the newest ones, numbered from `first`.
#[derive(Default)]
struct Kept {
    records: VecDeque<(Record, usize)>,
    /// The number of the oldest record kept: records before it were let go.
    first: usize,
    bytes: usize,
}

impl Kept {
    /// How many records there have been.
    fn total(&self) -> usize {
        self.first + self.records.len()
    }
}

pub struct Journal {
    kept: Mutex<Kept>,
    retention: Retention,
    /// Every record as an NDJSON line, when a file was given.
    file: Mutex<Option<BufWriter<File>>>,
    /// Where the current Init began: Init's records are replayed to late subscribers.
    init_mark: Mutex<usize>,
    /// The Logs and Telemetry subscribers, fed every new record.
    subscribers: Mutex<Vec<Arc<Subscriber>>>,
    echo: bool,
    /// While set, platform events and log lines are printed (marked) but
    /// neither kept nor delivered: SnapStart's re-creation of a snapshot,
    /// which no record of Lambda's shows.
    muted: std::sync::atomic::AtomicBool,
    /// Printed before every echoed line: which environment speaks, when
    /// several print to one terminal (a tenant's, with tenant isolation).
    label: Option<String>,
    started: Instant,
}

impl Journal {
    pub fn new(echo: bool) -> Self {
        Self::with_retention(echo, Retention::default())
    }

    pub fn with_retention(echo: bool, retention: Retention) -> Self {
        Journal {
            kept: Mutex::new(Kept::default()),
            retention,
            file: Mutex::new(None),
            init_mark: Mutex::new(0),
            subscribers: Mutex::new(Vec::new()),
            echo,
            muted: std::sync::atomic::AtomicBool::new(false),
            label: None,
            started: Instant::now(),
        }
    }

    /// The same journal, its echoed lines headed by `label`.
    pub fn labelled(self, label: Option<String>) -> Self {
        Journal { label, ..self }
    }

    /// Appends every record from now on to `path`, one JSON line each.
    pub fn write_to(&self, path: &Path) -> std::io::Result<()> {
        let file = File::create(path)?;
        *self.file.lock().unwrap() = Some(BufWriter::new(file));
        Ok(())
    }

    /// Writes out what the file buffer holds.
    pub fn flush_file(&self) -> std::io::Result<()> {
        match self.file.lock().unwrap().as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }

    /// A `platform.*` event.
    pub fn platform(&self, kind: &str, record: Value) {
        let line = self
            .echo
            .then(|| format!("[platform] {}", describe(kind, &record)));
        if self.is_muted() {
            return self.print_muted(line);
        }
        self.push(kind, record, line, true);
    }

    /// Keeps and delivers nothing from the platform or the processes until
    /// unmuted (the narration still prints). A subscriber that comes while
    /// muted is a new process's: it gets nothing from before, as the
    /// earlier Init's records were not its own.
    pub fn mute(&self, muted: bool) {
        if muted {
            *self.init_mark.lock().unwrap() = self.len();
        }
        self.muted.store(muted, std::sync::atomic::Ordering::SeqCst);
    }

    fn is_muted(&self) -> bool {
        self.muted.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn print_muted(&self, line: Option<String>) {
        if let Some(line) = line {
            self.print(&format!("(not recorded) {line}"));
        }
    }

    /// Adds a subscriber; it first gets the records of the current Init, as
    /// Lambda replays them to extensions that subscribe during Init.
    pub fn subscribe(&self, subscriber: Arc<Subscriber>) {
        let kept = self.kept.lock().unwrap();
        let mark = *self.init_mark.lock().unwrap();
        let skip = mark.saturating_sub(kept.first);
        for (record, _) in kept.records.iter().skip(skip) {
            subscriber.offer(record);
        }
        self.subscribers.lock().unwrap().push(subscriber);
    }

    pub fn unsubscribe(&self, subscriber: &Arc<Subscriber>) {
        self.subscribers
            .lock()
            .unwrap()
            .retain(|s| !Arc::ptr_eq(s, subscriber));
    }

    /// Removes every subscriber, for the end of a generation.
    pub fn unsubscribe_all(&self) -> Vec<Arc<Subscriber>> {
        std::mem::take(&mut *self.subscribers.lock().unwrap())
    }

    pub fn subscribers(&self) -> Vec<Arc<Subscriber>> {
        self.subscribers.lock().unwrap().clone()
    }

    /// One line a process wrote to stdout or stderr.
    pub fn log_line(&self, source: &Source, line: String) {
        let (kind, label) = match source {
            Source::Function => ("function", "function".to_string()),
            Source::Extension(name) => ("extension", format!("extension {name}")),
        };
        let printed = self.echo.then(|| format!("[{label}] {line}"));
        if self.is_muted() {
            return self.print_muted(printed);
        }
        self.push(kind, Value::String(line), printed, true);
    }

    /// The sandbox's narration of what it does; printed, never delivered.
    pub fn note(&self, message: impl AsRef<str>) {
        if self.echo {
            self.print(&format!("[sandbox] {}", message.as_ref()));
        }
    }

    /// A copy of every record kept (all of them, unless a memory limit
    /// let the oldest go).
    pub fn records(&self) -> Vec<Record> {
        self.records_from(0)
    }

    /// How many records there have been; a mark for [`Journal::records_from`].
    pub fn len(&self) -> usize {
        self.kept.lock().unwrap().total()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records emitted since `mark` that are still kept.
    pub fn records_from(&self, mark: usize) -> Vec<Record> {
        let kept = self.kept.lock().unwrap();
        let skip = mark.saturating_sub(kept.first);
        kept.records
            .iter()
            .skip(skip)
            .map(|(record, _)| record.clone())
            .collect()
    }

    fn push(&self, kind: &str, record: Value, printed: Option<String>, shared: bool) {
        let mut kept = self.kept.lock().unwrap();
        if kind == "platform.initStart" {
            *self.init_mark.lock().unwrap() = kept.total();
        }
        let record = Record {
            time: Utc::now(),
            kind: kind.to_string(),
            record,
        };
        if shared {
            for subscriber in self.subscribers.lock().unwrap().iter() {
                subscriber.offer(&record);
            }
        }
        if let Some(file) = self.file.lock().unwrap().as_mut()
            && let Ok(line) = serde_json::to_string(&record)
        {
            // A full disk must not stop the environment; the memory copy stays.
            let _ = writeln!(file, "{line}");
        }
        let size = approximate_size(&record);
        kept.bytes += size;
        kept.records.push_back((record, size));
        if let Some(max) = self.retention.max_bytes {
            while kept.bytes > max && kept.records.len() > 1 {
                let (_, size) = kept.records.pop_front().expect("more than one");
                kept.bytes -= size;
                kept.first += 1;
            }
        }
        // Printing under the lock keeps the timeline in the journal's order.
        if let Some(line) = printed {
            self.print(&line);
        }
    }

    fn print(&self, line: &str) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let mut out = std::io::stdout().lock();
        let _ = match &self.label {
            Some(label) => writeln!(out, "{elapsed:>8.3}s [{label}] {line}"),
            None => writeln!(out, "{elapsed:>8.3}s {line}"),
        };
    }
}

/// About what a record takes in memory: the envelope, a log line's text,
/// or a platform record's JSON tree, which takes about four times its text
/// (every map, key and value is an allocation of its own). Measured with the
/// benchmark's soak, the estimate is within a factor of two of the
/// process's real growth.
impl Reporter for Journal {
    /// A platform event about one subscriber's stream, kept in the journal
    /// but not sent to the other subscribers.
    fn platform_unshared(&self, kind: &str, record: Value) {
        let line = self
            .echo
            .then(|| format!("[platform] {}", describe(kind, &record)));
        self.push(kind, record, line, false);
    }
}

fn approximate_size(record: &Record) -> usize {
    let body = match &record.record {
        Value::String(text) => text.len(),
        other => other.to_string().len() * 4,
    };
    std::mem::size_of::<Record>() + 64 + record.kind.len() + body
}

/// The CloudWatch-style line for a platform event.
fn describe(kind: &str, r: &Value) -> String {
    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    let metric = |k: &str| {
        r.pointer(&format!("/metrics/{k}"))
            .and_then(Value::as_f64)
            .unwrap_or_default()
    };
    let status = || match r.get("errorType").and_then(Value::as_str) {
        Some(e) => format!("{} ({e})", s("status")),
        None => s("status"),
    };
    match kind {
        "platform.initStart" => format!(
            "INIT_START phase: {} type: {}",
            s("phase"),
            s("initializationType")
        ),
        "platform.initRuntimeDone" => format!("INIT_RUNTIME_DONE status: {}", status()),
        "platform.initReport" => format!(
            "INIT_REPORT phase: {} status: {} Init Duration: {:.2} ms",
            s("phase"),
            status(),
            metric("durationMs")
        ),
        "platform.restoreStart" => {
            format!("RESTORE_START Runtime Version: {}", s("runtimeVersion"))
        }
        "platform.restoreRuntimeDone" => format!("RESTORE_RUNTIME_DONE status: {}", status()),
        "platform.restoreReport" => format!(
            "RESTORE_REPORT status: {} Restore Duration: {:.2} ms",
            status(),
            metric("durationMs")
        ),
        "platform.extension" => format!(
            "EXTENSION Name: {} State: {} Events: {}",
            s("name"),
            s("state"),
            r.get("events").map(Value::to_string).unwrap_or_default()
        ),
        "platform.start" => format!(
            "START RequestId: {} Version: {}",
            s("requestId"),
            s("version")
        ),
        "platform.runtimeDone" => format!(
            "RUNTIME_DONE RequestId: {} status: {}",
            s("requestId"),
            status()
        ),
        "platform.report" => {
            let mut line = format!(
                "REPORT RequestId: {} Status: {} Duration: {:.2} ms",
                s("requestId"),
                status(),
                metric("durationMs"),
            );
            // Managed Instances report no billed duration and no memory.
            if r.pointer("/metrics/billedDurationMs").is_some() {
                line.push_str(&format!(
                    " Billed Duration: {} ms Memory Size: {} MB Max Memory Used: {} MB",
                    metric("billedDurationMs"),
                    metric("memorySizeMB"),
                    metric("maxMemoryUsedMB"),
                ));
            }
            if r.pointer("/metrics/initDurationMs").is_some() {
                line.push_str(&format!(
                    " Init Duration: {:.2} ms",
                    metric("initDurationMs")
                ));
            }
            if r.pointer("/metrics/restoreDurationMs").is_some() {
                line.push_str(&format!(
                    " Restore Duration: {:.2} ms",
                    metric("restoreDurationMs")
                ));
            }
            if let Some(spans) = r.get("spans").and_then(Value::as_array) {
                for span in spans {
                    if span["name"] == "extensionOverhead" {
                        line.push_str(&format!(
                            " Extension Overhead: {:.2} ms",
                            span["durationMs"].as_f64().unwrap_or_default()
                        ));
                    }
                }
            }
            line
        }
        other => format!("{other} {r}"),
    }
}

/// The log as CloudWatch Logs shows it: each log line as written, and the
/// platform's START, END and REPORT lines.
pub fn cloudwatch_text(records: &[Record]) -> String {
    let mut text = String::new();
    for r in records {
        match r.kind.as_str() {
            "function" | "extension" => text.push_str(r.record.as_str().unwrap_or_default()),
            "platform.start" => text.push_str(&describe(&r.kind, &r.record)),
            "platform.report" => {
                let id = r.record["requestId"].as_str().unwrap_or_default();
                text.push_str(&format!(
                    "END RequestId: {id}\n{}",
                    describe(&r.kind, &r.record)
                ));
            }
            _ => continue,
        }
        text.push('\n');
    }
    text
}

/// A span of the Telemetry API: `{name, start, durationMs}`.
pub fn span(name: &str, start: DateTime<Utc>, duration_ms: f64) -> Value {
    json!({"name": name, "start": timestamp(&start), "durationMs": round2(duration_ms)})
}

/// Durations are reported with two decimals, as Lambda prints them.
pub fn round2(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_millis_and_z() {
        let t = DateTime::parse_from_rfc3339("2022-10-12T00:00:15.064123Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(timestamp(&t), "2022-10-12T00:00:15.064Z");
    }

    #[test]
    fn a_memory_limit_keeps_the_newest_records_and_their_numbers() {
        let journal = Journal::with_retention(
            false,
            Retention {
                max_bytes: Some(10 * 1024),
            },
        );
        for i in 0..10_000 {
            journal.log_line(&Source::Function, format!("line {i}"));
        }
        assert_eq!(journal.len(), 10_000, "the count covers every record");
        let kept = journal.records();
        assert!(kept.len() < 200, "{} records kept", kept.len());
        assert_eq!(kept.last().unwrap().record, "line 9999");
        let tail = journal.records_from(9_998);
        assert_eq!(tail.len(), 2);
        assert_eq!(tail[0].record, "line 9998");
        assert_eq!(journal.records_from(0).len(), kept.len());
    }

    #[test]
    fn records_keep_emission_order_and_shape() {
        let journal = Journal::new(false);
        journal.platform("platform.start", json!({"requestId": "r1"}));
        journal.log_line(&Source::Function, "hello".into());
        let records = journal.records();
        assert_eq!(records.len(), 2);
        let line = serde_json::to_value(&records[1]).unwrap();
        assert_eq!(line["type"], "function");
        assert_eq!(line["record"], "hello");
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
    }
}
