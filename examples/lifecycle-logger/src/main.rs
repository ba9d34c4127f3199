//! An external extension that logs every lifecycle event it receives.
//!
//! Lambda launches it from `/opt/extensions/lifecycle-logger` before the
//! runtime starts. It registers for INVOKE and SHUTDOWN, and after each
//! INVOKE it keeps working for a while (`LIFECYCLE_LOGGER_WORK_MS`, 5000 by
//! default) to stand in for a companion process, such as one that ships
//! telemetry. The runtime's response reaches the caller without waiting for
//! that work; the next invoke does wait for it, because Lambda only freezes
//! the environment once every extension has asked for its next event.
//!
//! On Lambda Managed Instances (`AWS_LAMBDA_INITIALIZATION_TYPE` is
//! `lambda-managed-instances`) it registers for SHUTDOWN alone and does its
//! work on a timer, every `LIFECYCLE_LOGGER_WORK_MS`.
//!
//! With SnapStart (`snap-start`) its Init runs once, before a snapshot, and
//! it lives on in every environment restored from it. Lambda sends
//! extensions no event at a restore, so it notices at its first INVOKE,
//! and says so: that is where an extension refreshes what it must not keep
//! from the snapshot.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lambda_extension::{Error, Extension, LambdaEvent, NextEvent, service_fn};
use shared::config::Env;
use shared::deadline::remaining;
use tracing::{info, warn};

/// Simulated companion work after each INVOKE.
const WORK_MS_VAR: &str = "LIFECYCLE_LOGGER_WORK_MS";
/// Work stops this long before the invoke deadline, so the extension never
/// makes its function time out.
const DEADLINE_MARGIN: Duration = Duration::from_millis(100);

// One thread is plenty for an extension that mostly waits, and keeps its
// memory footprint, which the function pays for, small.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let env = Env::process();
    let work = env
        .millis(WORK_MS_VAR, Duration::from_secs(5))
        .inspect_err(|err| eprintln!("lifecycle-logger: {err}"))?;
    if env.managed_instances() {
        return run_on_managed_instances(work).await;
    }
    info!(
        "starting: registering for INVOKE and SHUTDOWN, {} ms of work per invoke",
        work.as_millis()
    );

    // With SnapStart, the first event this process sees comes after a restore.
    let restored = Arc::new(AtomicBool::new(env.snapstart()));
    let processor = service_fn(move |event: LambdaEvent| {
        if restored.swap(false, Ordering::SeqCst) {
            info!(
                "first event since Init: this environment was restored from a SnapStart \
                 snapshot (extensions get no event at a restore); refresh here what \
                 must not be shared across environments"
            );
        }
        handle(event, work)
    });
    Extension::new()
        .with_events(&["INVOKE", "SHUTDOWN"])
        .with_events_processor(processor)
        .run()
        .await
}

/// On Lambda Managed Instances one environment serves several invocations
/// at once and is never frozen, and an extension may register for SHUTDOWN
/// alone: asking for INVOKE fails Init. So the companion work runs on the
/// extension's own timer, and SHUTDOWN is the one event it waits for.
async fn run_on_managed_instances(period: Duration) -> Result<(), Error> {
    info!(
        "starting on Lambda Managed Instances: registering for SHUTDOWN only \
         (INVOKE is refused there), companion work every {} ms on its own timer",
        period.as_millis()
    );
    // A zero period would spin; the timer then runs every millisecond.
    let period = period.max(Duration::from_millis(1));
    tokio::spawn(async move {
        let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        for round in 1u64.. {
            timer.tick().await;
            info!("companion work, round {round}, done on the extension's timer");
        }
    });
    let processor = service_fn(move |event: LambdaEvent| handle(event, period));
    Extension::new()
        .with_events(&["SHUTDOWN"])
        .with_events_processor(processor)
        .run()
        .await
}

async fn handle(event: LambdaEvent, work: Duration) -> Result<(), Error> {
    match event.next {
        NextEvent::Invoke(invoke) => {
            info!(
                "INVOKE received: request {} deadline in {} ms",
                invoke.request_id,
                remaining(invoke.deadline_ms).as_millis()
            );
            let available = remaining(invoke.deadline_ms).saturating_sub(DEADLINE_MARGIN);
            if work > available {
                warn!(
                    "cutting work to {} ms to finish before the deadline",
                    available.as_millis()
                );
            }
            let work = work.min(available);
            // Even a zero sleep waits for the timer's next millisecond tick.
            if !work.is_zero() {
                tokio::time::sleep(work).await;
            }
            info!(
                "companion work for request {} done; asking for the next event",
                invoke.request_id
            );
        }
        NextEvent::Shutdown(shutdown) => {
            info!(
                "SHUTDOWN received: reason {} deadline in {} ms",
                shutdown.shutdown_reason,
                remaining(shutdown.deadline_ms).as_millis()
            );
            info!("flushed and exiting before the deadline");
            // The crate would ask for another event; after SHUTDOWN there is
            // none, so the extension ends here, well within its deadline.
            std::process::exit(0);
        }
    }
    Ok(())
}
