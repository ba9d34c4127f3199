//! An external extension that logs every lifecycle event it receives.
//!
//! Lambda launches it from `/opt/extensions/lifecycle-logger` before the
//! runtime starts. It registers for INVOKE and SHUTDOWN, and after each
//! INVOKE it keeps working for a while (`LIFECYCLE_LOGGER_WORK_MS`, 5000 by
//! default) to stand in for a companion process, such as one that ships
//! telemetry. The runtime's response reaches the caller without waiting for
//! that work; the next invoke does wait for it, because Lambda only freezes
//! the environment once every extension has asked for its next event.

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
    let work = Env::process()
        .millis(WORK_MS_VAR, Duration::from_secs(5))
        .inspect_err(|err| eprintln!("lifecycle-logger: {err}"))?;
    info!(
        "starting: registering for INVOKE and SHUTDOWN, {} ms of work per invoke",
        work.as_millis()
    );

    let processor = service_fn(move |event: LambdaEvent| handle(event, work));
    Extension::new()
        .with_events(&["INVOKE", "SHUTDOWN"])
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
