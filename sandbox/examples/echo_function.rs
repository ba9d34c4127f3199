//! Test fixture: a function on the official `lambda_runtime` crate.
//!
//! It echoes the event with the invocation context, so tests can check what
//! the Runtime API delivered. Fields of the event drive failure cases:
//! `sleepMs` waits, `fail` returns an error, `crash` exits the process,
//! `bigBytes` returns a string that long, `lines` prints that many log lines.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    println!("echo function starting");
    // One worker, or AWS_LAMBDA_MAX_CONCURRENCY of them on Managed Instances.
    lambda_runtime::run_concurrent(service_fn(handler)).await
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    println!("echo function handling {}", context.request_id);
    if let Some(ms) = payload.get("sleepMs").and_then(Value::as_u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    if let Some(n) = payload.get("lines").and_then(Value::as_u64) {
        for i in 0..n {
            println!("line {i} of {n}");
        }
    }
    if payload.get("crash").is_some() {
        std::process::exit(3);
    }
    if let Some(message) = payload.get("fail").and_then(Value::as_str) {
        return Err(message.into());
    }
    if let Some(n) = payload.get("bigBytes").and_then(Value::as_u64) {
        return Ok(Value::String("x".repeat(n as usize)));
    }
    Ok(json!({
        "requestId": context.request_id,
        "deadlineMs": context.deadline,
        "functionArn": context.invoked_function_arn,
        "traceId": context.xray_trace_id,
        "tenantId": context.tenant_id,
        "event": payload,
    }))
}
