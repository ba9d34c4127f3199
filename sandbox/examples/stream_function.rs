//! Test fixture: a function on the official `lambda_runtime` crate that
//! streams its response: `{"bytes": N}` streams N bytes of `x`, in chunks
//! of 1 MiB.

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
    let (mut tx, rx) = channel();
    tokio::spawn(async move {
        while left > 0 {
            let size = left.min(CHUNK);
            if tx.send_data(vec![b'x'; size].into()).await.is_err() {
                return;
            }
            left -= size;
        }
    });
    Ok(Response::from(rx))
}
