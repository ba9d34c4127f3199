//! The function code: what `_HANDLER` names, as `file.function`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::runtime_api::{Invocation, RuntimeError};

/// The handlers this runtime can run.
#[derive(Debug, Clone, Copy)]
pub enum Handler {
    /// `function.handler`: logs a line and echoes the event back.
    Echo,
    /// `function.fail`: always fails, to show the error route.
    Fail,
}

impl Handler {
    pub fn resolve(name: &str) -> Result<Handler, RuntimeError> {
        match name {
            "function.handler" => Ok(Handler::Echo),
            "function.fail" => Ok(Handler::Fail),
            other => Err(RuntimeError {
                error_type: "Runtime.HandlerNotFound".into(),
                message: format!(
                    "unknown handler {other:?}: set the function's handler to function.handler or function.fail"
                ),
            }),
        }
    }

    /// Runs the handler. An event may ask for simulated work with
    /// `{"workMs": N}`; the work stops short of the deadline, so the handler
    /// reports an error instead of being killed by the timeout.
    pub fn call(self, invocation: &Invocation) -> Result<Vec<u8>, RuntimeError> {
        let event: Value = serde_json::from_slice(&invocation.event).map_err(|e| RuntimeError {
            error_type: "Function.InvalidEvent".into(),
            message: format!("the event is not JSON: {e}"),
        })?;
        tracing::info!(
            "Function: handling request {} event {event}",
            invocation.request_id
        );
        if let Some(work) = event.get("workMs").and_then(Value::as_u64) {
            let remaining =
                remaining(invocation.deadline_ms).saturating_sub(Duration::from_millis(50));
            std::thread::sleep(Duration::from_millis(work).min(remaining));
            if Duration::from_millis(work) > remaining {
                return Err(RuntimeError {
                    error_type: "Function.DeadlineExceeded".into(),
                    message: format!("stopped {work} ms of work at the deadline"),
                });
            }
        }
        match self {
            Handler::Echo => Ok(invocation.event.clone()),
            Handler::Fail => Err(RuntimeError {
                error_type: "Function.Failed".into(),
                message: "the fail handler always fails".into(),
            }),
        }
    }
}

fn remaining(deadline_ms: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    Duration::from_millis(deadline_ms.saturating_sub(now))
}
