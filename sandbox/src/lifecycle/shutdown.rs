//! The Shutdown phase (docs/src/lifecycle.md#shutdown), also the end of
//! every reset (#reset): SIGTERM to the runtime when extensions are
//! registered, SHUTDOWN to the subscribed external extensions with an
//! absolute deadline, SIGKILL to whatever is left at the deadline.

use std::time::{Duration, Instant};

use chrono::Utc;
use nix::sys::signal::Signal;
use serde_json::json;

use super::core::{Core, Instance};
use crate::streams::timeline::{Lane, Mark, Phase};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Spindown,
    Timeout,
    Failure,
}

impl Reason {
    /// Lowercase on the wire, whatever the docs print.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Spindown => "spindown",
            Reason::Timeout => "timeout",
            Reason::Failure => "failure",
        }
    }
}

pub(crate) async fn run(core: &Core, inst: &mut Instance, reason: Reason) {
    let shared = &core.shared;
    let budgets = shared.config.shutdown_budgets();
    let (external, internal) = shared.update(|st| {
        st.gates.shutting_down = true;
        st.gates.registration_open = false;
        (
            st.extensions.external_registered(),
            st.extensions.internal_registered(),
        )
    });
    // Frozen processes cannot handle signals or events.
    inst.thaw(core);

    let (budget, runtime_share) = match (external, internal) {
        (false, false) => (budgets.no_extensions, Duration::ZERO),
        (false, true) => (budgets.internal, budgets.runtime_with_internal),
        (true, false) => (budgets.external, budgets.runtime),
        (true, true) => (budgets.external, budgets.runtime_with_internal),
    };
    let started = Instant::now();
    let deadline = started + budget;
    let deadline_ms = Utc::now().timestamp_millis() + budget.as_millis() as i64;
    shared.timeline.mark(Mark::Begin {
        phase: Phase::Shutdown,
        label: format!("Shutdown ({})", reason.as_str()),
    });
    shared.journal.note(format!(
        "SHUTDOWN ({}) with a budget of {} ms",
        reason.as_str(),
        budget.as_millis()
    ));

    if let Some(runtime) = inst.runtime.as_ref().filter(|r| !r.has_exited()) {
        if external || internal {
            shared.journal.note("SIGTERM to the runtime");
            shared
                .timeline
                .message(Lane::Platform, Lane::Runtime, "SIGTERM");
            runtime.signal_group(Signal::SIGTERM);
            if !runtime.wait_exit(runtime_share).await {
                shared.journal.note(format!(
                    "runtime still running after {} ms: SIGKILL",
                    runtime_share.as_millis()
                ));
            }
        } else {
            shared
                .journal
                .note("no extension registered: the runtime is stopped at once");
        }
        runtime.kill().await;
    }

    flush_streams(core, started + budget / 2).await;

    let event = json!({
        "eventType": "SHUTDOWN",
        "shutdownReason": reason.as_str(),
        "deadlineMs": deadline_ms,
    });
    let subscribers = shared.update(|st| {
        let mut names = Vec::new();
        for ext in st.extensions.registered.iter_mut() {
            if ext.external
                && ext.shutdown
                && !ext.failed
                && !st.extensions.exited.contains(&ext.name)
            {
                ext.pending = Some(event.clone());
                ext.idle = false;
                ext.shutdown_delivered = true;
                names.push(ext.name.clone());
            }
        }
        names
    });
    for name in &subscribers {
        shared
            .timeline
            .message(Lane::Platform, Lane::Extension(name.clone()), "SHUTDOWN");
    }
    for process in &inst.extensions {
        if !subscribers.contains(&process.name) {
            process.kill().await;
        }
    }
    if !subscribers.is_empty() {
        shared.journal.note(format!(
            "SHUTDOWN event sent to {subscribers:?}, deadline in {} ms",
            deadline
                .saturating_duration_since(Instant::now())
                .as_millis()
        ));
        // Done means exited, or back in `next` with nothing left to do.
        let finished = shared
            .wait_until(Some(deadline), |st| {
                st.extensions
                    .registered
                    .iter()
                    .filter(|e| subscribers.contains(&e.name))
                    .all(|e| {
                        st.extensions.exited.contains(&e.name) || (e.shutdown_delivered && e.idle)
                    })
                    .then_some(())
            })
            .await;
        if finished.is_none() {
            shared.journal.note(format!(
                "deadline reached after {} ms: SIGKILL to the extensions still running",
                started.elapsed().as_millis()
            ));
        }
    }
    for process in inst.processes() {
        process.kill().await;
    }
    // Whatever they started, daemons included, ends with them.
    if let Some(isolation) = &core.isolation {
        isolation.end_processes();
    }
    // The last lines an extension wrote before exiting are still in its pipe.
    for process in inst.processes() {
        process.drain_output(Duration::from_secs(1)).await;
    }
    // What a subscriber still holds now is lost: its delivery task says so.
    for subscriber in shared.journal.unsubscribe_all() {
        subscriber.stop(&*shared.journal).await;
    }
    inst.runtime = None;
    inst.extensions.clear();
    inst.initialized = false;
    inst.init_duration_ms = None;
    inst.restored = false;
    inst.restore_duration_ms = None;
    shared.timeline.mark(Mark::End {
        phase: Phase::Shutdown,
    });
    shared.journal.note(format!(
        "environment shut down in {} ms",
        started.elapsed().as_millis()
    ));
}

/// Delivers what the Logs and Telemetry subscribers still hold before the
/// extensions hear SHUTDOWN, so that a shipper can send it on; at most until
/// `deadline`, which leaves the extensions the rest of the budget.
async fn flush_streams(core: &Core, deadline: Instant) {
    let subscribers = core.shared.journal.subscribers();
    if subscribers.is_empty() {
        return;
    }
    // What was buffered when Shutdown began goes out once. A subscriber
    // that logs every delivery makes new records as it receives them;
    // those go in the usual batches, so the flush cannot feed itself.
    let marks: Vec<u64> = subscribers.iter().map(|s| s.request_flush()).collect();
    let settled = || {
        subscribers
            .iter()
            .zip(&marks)
            .all(|(s, &mark)| s.settled_through(mark))
    };
    while Instant::now() < deadline && !settled() {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
