//! What the lifecycle picture is drawn from: who talked to whom, and when.
//!
//! The journal holds what the platform reports; the picture also needs what
//! it does not report: each `next`, the events handed out, SHUTDOWN, the
//! freeze. The phases and the APIs mark those here, with their time.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};

/// The picture keeps this many marks; a longer run (`serve`) stops
/// marking and counts what it left out.
const MAX_MARKS: usize = 20_000;

/// A column of the picture.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Lane {
    Caller,
    Platform,
    Runtime,
    Extension(String),
}

impl Lane {
    pub fn name(&self) -> &str {
        match self {
            Lane::Caller => "caller",
            Lane::Platform => "platform",
            Lane::Runtime => "runtime",
            Lane::Extension(name) => name,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Init,
    /// SnapStart: a new environment from the snapshot.
    Restore,
    Invoke,
    Shutdown,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Init => "init",
            Phase::Restore => "restore",
            Phase::Invoke => "invoke",
            Phase::Shutdown => "shutdown",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Mark {
    /// A request, an event or an answer from one lane to another.
    Message {
        from: Lane,
        to: Lane,
        label: String,
    },
    /// A phase begins; the label says which (a request id, a reason).
    Begin {
        phase: Phase,
        label: String,
    },
    /// The newest phase of this kind ends.
    End {
        phase: Phase,
    },
    /// The phase begun with this label ends: one of several invocations
    /// in flight at once on Managed Instances.
    EndOf {
        phase: Phase,
        label: String,
    },
    Freeze,
    Thaw,
    /// Something failed on this lane.
    Failure {
        lane: Lane,
        label: String,
    },
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub mark: Mark,
}

#[derive(Default)]
pub struct Timeline {
    entries: Mutex<Vec<Entry>>,
    left_out: AtomicUsize,
}

impl Timeline {
    pub fn mark(&self, mark: Mark) {
        let mut entries = self.entries.lock().unwrap();
        if entries.len() < MAX_MARKS {
            entries.push(Entry {
                at: Utc::now(),
                mark,
            });
        } else {
            self.left_out.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn message(&self, from: Lane, to: Lane, label: impl Into<String>) {
        self.mark(Mark::Message {
            from,
            to,
            label: label.into(),
        });
    }

    /// The marks so far, and how many were left out.
    pub fn entries(&self) -> (Vec<Entry>, usize) {
        (
            self.entries.lock().unwrap().clone(),
            self.left_out.load(Ordering::Relaxed),
        )
    }
}
