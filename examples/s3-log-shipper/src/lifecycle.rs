//! What the shipper does on each lifecycle event: the flush policy.
//!
//! Lambda freezes the environment once the runtime and every extension have
//! asked for their next event, so records still held at that point wait,
//! frozen, until the next invoke. To ship an invoke's logs before its
//! report, the shipper holds back its `/event/next` after an INVOKE until
//! `platform.runtimeDone` of that request has been delivered and uploaded.
//! That costs about one delivery timeout (`SHIPPER_BATCH_TIMEOUT_MS`, 25 ms)
//! per invoke, so it only happens when the last upload is older than
//! `SHIPPER_FLUSH_INTERVAL_MS`: rare invokes are each shipped before their
//! report; frequent ones are gathered into one object per interval.
//!
//! On Lambda Managed Instances no INVOKE event comes and nothing is frozen:
//! the shipper uploads what it holds every `SHIPPER_FLUSH_INTERVAL_MS` on
//! its own timer (a full object still goes out at once), and SHUTDOWN
//! uploads the rest.

use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use lambda_extension::{Error, LambdaEvent, NextEvent};
use shared::deadline::remaining;
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::shipper::Handle;

/// Work ends this long before an invoke's deadline, so the shipper never
/// makes its function time out.
const INVOKE_MARGIN: Duration = Duration::from_millis(100);
/// Time kept after the last upload attempt at SHUTDOWN to log and exit.
const SHUTDOWN_MARGIN: Duration = Duration::from_millis(50);

pub struct Lifecycle {
    pub handle: Handle,
    pub flush_interval: Duration,
    pub flush_timeout: Duration,
    last_flush: Mutex<Option<Instant>>,
}

impl Lifecycle {
    pub fn new(handle: Handle, flush_interval: Duration, flush_timeout: Duration) -> Self {
        Lifecycle {
            handle,
            flush_interval,
            flush_timeout,
            last_flush: Mutex::new(None),
        }
    }

    pub async fn on_event(&self, event: LambdaEvent) -> Result<(), Error> {
        match event.next {
            NextEvent::Invoke(invoke) => {
                if self.flush_is_due() {
                    let budget = self
                        .flush_timeout
                        .min(remaining(invoke.deadline_ms).saturating_sub(INVOKE_MARGIN));
                    let deadline = Instant::now() + budget;
                    if !self
                        .handle
                        .wait_runtime_done(&invoke.request_id, deadline)
                        .await
                    {
                        warn!(
                            "platform.runtimeDone of {} did not arrive within {} ms; its records go with the next upload",
                            invoke.request_id,
                            budget.as_millis()
                        );
                    }
                    self.handle.flush(deadline).await;
                    *self.last_flush.lock().unwrap() = Some(Instant::now());
                }
            }
            NextEvent::Shutdown(shutdown) => {
                let budget = remaining(shutdown.deadline_ms).saturating_sub(SHUTDOWN_MARGIN);
                // The platform delivers what it buffered before SHUTDOWN.
                let lost = self.handle.flush(Instant::now() + budget).await;
                let stats = &self.handle.stats;
                info!(
                    "SHUTDOWN ({}): shipped {} of {} records in {} objects",
                    shutdown.shutdown_reason,
                    stats.shipped.load(Ordering::Relaxed),
                    stats.received.load(Ordering::Relaxed),
                    stats.objects.load(Ordering::Relaxed),
                );
                if lost > 0 {
                    error!(
                        "{lost} records could not be uploaded before the shutdown deadline and are lost"
                    );
                }
                let dropped = stats.platform_dropped.load(Ordering::Relaxed);
                if dropped > 0 {
                    warn!(
                        "the platform dropped {dropped} records in all, reported by platform.logsDropped"
                    );
                }
                // There is no event after SHUTDOWN; end here, within the deadline.
                std::process::exit(0);
            }
        }
        Ok(())
    }

    /// Uploads what has arrived every flush interval, for as long as the
    /// extension runs: the flush policy where no INVOKE event comes.
    pub async fn flush_on_timer(self: std::sync::Arc<Self>) {
        let period = self.flush_interval.max(Duration::from_millis(1));
        let mut timer = tokio::time::interval_at(Instant::now() + period, period);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            timer.tick().await;
            let held = self.handle.flush(Instant::now() + self.flush_timeout).await;
            if held > 0 {
                warn!("{held} records could not be uploaded yet; they are kept and retried");
            }
        }
    }

    fn flush_is_due(&self) -> bool {
        self.last_flush
            .lock()
            .unwrap()
            .is_none_or(|last| last.elapsed() >= self.flush_interval)
    }
}
