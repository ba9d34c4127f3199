//! Test fixture: an external extension on the official `lambda-extension`
//! crate that subscribes to INVOKE and SHUTDOWN and does no work.
//!
//! It prints each event so tests can compare it with what the runtime got.
//! `COUNTER_FILE` makes it count in the background and write the count to
//! that file, which shows whether the process is frozen. `CRASH_ON_INVOKE`
//! makes it exit on its first INVOKE; `NOOP_EVENTS` names the events it
//! registers for (`INVOKE,SHUTDOWN` by default).

use std::time::Duration;

use lambda_extension::{Error, Extension, LambdaEvent, NextEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    if let Ok(path) = std::env::var("COUNTER_FILE") {
        tokio::spawn(async move {
            // Written aside, then renamed: a reader never sees a half-written count.
            let partial = format!("{path}.partial");
            for count in 0u64.. {
                let _ = std::fs::write(&partial, count.to_string());
                let _ = std::fs::rename(&partial, &path);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }
    let crash = std::env::var("CRASH_ON_INVOKE").is_ok();
    // `NOOP_EVENTS=SHUTDOWN` registers for SHUTDOWN alone, as Managed Instances require.
    let events = std::env::var("NOOP_EVENTS").unwrap_or_else(|_| "INVOKE,SHUTDOWN".into());
    let events: Vec<&str> = events.split(',').collect();
    Extension::new()
        .with_events(&events)
        .with_events_processor(service_fn(move |event: LambdaEvent| async move {
            match event.next {
                NextEvent::Invoke(invoke) => {
                    println!("INVOKE {} {}", invoke.request_id, invoke.deadline_ms);
                    if crash {
                        std::process::exit(5);
                    }
                }
                NextEvent::Shutdown(shutdown) => {
                    println!(
                        "SHUTDOWN {} {}",
                        shutdown.shutdown_reason, shutdown.deadline_ms
                    );
                    std::process::exit(0);
                }
            }
            Ok::<(), Error>(())
        }))
        .run()
        .await
}
