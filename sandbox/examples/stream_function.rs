//! Test fixture: a function on the official `lambda_runtime` crate that
//! streams its response: `{"bytes": N}` streams N bytes of `x`, in chunks
//! of 1 MiB. With `"gate": PATH` it sends one chunk, then waits (up to
//! 10 s) for PATH to exist before sending the rest, so a test can show that
//! the first chunk reached the caller while the function was still
//! writing; if the gate never opens, the stream ends there, short.

use std::time::Duration;

use lambda_runtime::streaming::{Body, Response, channel};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

const CHUNK: usize = 1024 * 1024;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}

async fn handler(event: LambdaEvent<Value>) -> Result<Response<Body>, Error> {
    let mut left = event.payload["bytes"].as_u64().unwrap_or(0) as usize;
    let gate = event.payload["gate"].as_str().map(std::path::PathBuf::from);
    let (mut tx, rx) = channel();
    tokio::spawn(async move {
        let mut sent = 0;
        while left > 0 {
            if sent == 1
                && let Some(gate) = &gate
                && !opened(gate).await
            {
                return;
            }
            let size = left.min(CHUNK);
            if tx.send_data(vec![b'x'; size].into()).await.is_err() {
                return;
            }
            left -= size;
            sent += 1;
        }
    });
    Ok(Response::from(rx))
}

async fn opened(gate: &std::path::Path) -> bool {
    for _ in 0..1000 {
        if gate.exists() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
