//! Test fixture: an extension that subscribes to the Logs API or the
//! Telemetry API with the official `lambda-extension` crate, and appends
//! every record it receives to `RECEIVED_FILE`, one Debug line each.
//! `STREAM_API` is `logs` or `telemetry`; `STREAM_PORT` the listener port.

use std::io::Write;

use lambda_extension::{
    Error, Extension, LambdaEvent, LambdaLog, LambdaTelemetry, NextEvent, SharedService, service_fn,
};

fn append(path: &str, lines: Vec<String>) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("RECEIVED_FILE opens");
    for line in lines {
        writeln!(file, "{line}").expect("RECEIVED_FILE is writable");
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let out: &'static str = std::env::var("RECEIVED_FILE")?.leak();
    let port: u16 = std::env::var("STREAM_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9002);
    let events = service_fn(|event: LambdaEvent| async move {
        if let NextEvent::Shutdown(_) = event.next {
            // The platform delivered what it held before SHUTDOWN.
            std::process::exit(0);
        }
        Ok::<(), Error>(())
    });
    let extension = Extension::new()
        .with_events(&["INVOKE", "SHUTDOWN"])
        .with_events_processor(events);
    match std::env::var("STREAM_API").as_deref() {
        Ok("logs") => {
            let processor =
                SharedService::new(service_fn(move |logs: Vec<LambdaLog>| async move {
                    append(
                        out,
                        logs.into_iter()
                            .map(|l| format!("{:?}", l.record))
                            .collect(),
                    );
                    Ok::<(), Error>(())
                }));
            extension
                .with_logs_processor(processor)
                .with_log_types(&["platform", "function"])
                .with_log_port_number(port)
                .run()
                .await
        }
        _ => {
            let processor =
                SharedService::new(service_fn(move |events: Vec<LambdaTelemetry>| async move {
                    append(
                        out,
                        events
                            .into_iter()
                            .map(|e| format!("{:?}", e.record))
                            .collect(),
                    );
                    Ok::<(), Error>(())
                }));
            extension
                .with_telemetry_processor(processor)
                .with_telemetry_types(&["platform", "function"])
                .with_telemetry_port_number(port)
                .run()
                .await
        }
    }
}
