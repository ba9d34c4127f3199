//! The function code: what `_HANDLER` names, as `file.function`.

use std::io::Read;
use std::time::Duration;

use aws_lambda_events::s3::S3Event;
use serde_json::Value;

use crate::runtime_api::{Invocation, RuntimeError};

/// A streamed answer holds at most this many chunks.
const MAX_CHUNKS: u64 = 1000;

/// What a handler answers: the whole response at once, or a stream the
/// runtime sends on as it is produced.
pub enum Answer {
    Whole(Vec<u8>),
    Streamed(Chunks),
}

/// The handlers this runtime can run.
#[derive(Debug, Clone, Copy)]
pub enum Handler {
    /// `function.handler`: logs a line and echoes the event back.
    Echo,
    /// `function.fail`: always fails, to show the error route.
    Fail,
    /// `function.s3`: reads an S3 notification and lists the objects it names.
    S3,
    /// `function.stream`: streams `{"chunks": N}` lines, `{"intervalMs": M}`
    /// apart (100 by default), as the caller of `InvokeWithResponseStream`
    /// receives them.
    Stream,
}

impl Handler {
    pub fn resolve(name: &str) -> Result<Handler, RuntimeError> {
        match name {
            "function.handler" => Ok(Handler::Echo),
            "function.fail" => Ok(Handler::Fail),
            "function.s3" => Ok(Handler::S3),
            "function.stream" => Ok(Handler::Stream),
            other => Err(RuntimeError {
                error_type: "Runtime.HandlerNotFound".into(),
                message: format!(
                    "unknown handler {other:?}: set the function's handler to function.handler, function.fail, function.s3 or function.stream"
                ),
            }),
        }
    }

    /// Runs the handler. An event may ask for log lines with `{"lines": N}`
    /// (what a log shipper has to carry), and for simulated work with
    /// `{"workMs": N}`; the work stops short of the deadline, so the handler
    /// reports an error instead of being killed by the timeout.
    pub fn call(self, invocation: &Invocation) -> Result<Answer, RuntimeError> {
        let event: Value = serde_json::from_slice(&invocation.event).map_err(|e| RuntimeError {
            error_type: "Function.InvalidEvent".into(),
            message: format!("the event is not JSON: {e}"),
        })?;
        tracing::info!(
            "Function: handling request {} event {event}",
            invocation.request_id
        );
        if let Some(lines) = event.get("lines").and_then(Value::as_u64) {
            for n in 1..=lines {
                tracing::info!(
                    "Function: line {n} of {lines} for request {}",
                    invocation.request_id
                );
            }
        }
        if let Some(work) = event.get("workMs").and_then(Value::as_u64) {
            let remaining = shared::deadline::remaining(invocation.deadline_ms)
                .saturating_sub(Duration::from_millis(50));
            std::thread::sleep(Duration::from_millis(work).min(remaining));
            if Duration::from_millis(work) > remaining {
                return Err(RuntimeError {
                    error_type: "Function.DeadlineExceeded".into(),
                    message: format!("stopped {work} ms of work at the deadline"),
                });
            }
        }
        match self {
            Handler::Echo => Ok(Answer::Whole(invocation.event.clone())),
            Handler::Fail => Err(RuntimeError {
                error_type: "Function.Failed".into(),
                message: "the fail handler always fails".into(),
            }),
            Handler::S3 => s3_objects(&invocation.event).map(Answer::Whole),
            Handler::Stream => Chunks::asked_for(&event, invocation).map(Answer::Streamed),
        }
    }
}

/// The lines of `function.stream`, produced one at a time: the runtime
/// reads them as the request body of a streamed response, so each goes to
/// the caller when it is written, not when the last one is.
pub struct Chunks {
    next: u64,
    total: u64,
    interval: Duration,
    request_id: String,
    line: Vec<u8>,
    at: usize,
}

impl Chunks {
    fn asked_for(event: &Value, invocation: &Invocation) -> Result<Chunks, RuntimeError> {
        let invalid = |message: String| RuntimeError {
            error_type: "Function.InvalidEvent".into(),
            message,
        };
        let total = event.get("chunks").and_then(Value::as_u64).unwrap_or(3);
        if !(1..=MAX_CHUNKS).contains(&total) {
            return Err(invalid(format!(
                "\"chunks\" is {total}: ask for 1 to {MAX_CHUNKS}"
            )));
        }
        let interval = Duration::from_millis(
            event
                .get("intervalMs")
                .and_then(Value::as_u64)
                .unwrap_or(100),
        );
        // The whole stream must end before the deadline, with a margin.
        let needed = interval.saturating_mul(total as u32 - 1);
        let remaining = shared::deadline::remaining(invocation.deadline_ms)
            .saturating_sub(Duration::from_millis(50));
        if needed > remaining {
            return Err(invalid(format!(
                "{total} chunks {} ms apart take {} ms; {} ms are left before the deadline",
                interval.as_millis(),
                needed.as_millis(),
                remaining.as_millis()
            )));
        }
        Ok(Chunks {
            next: 1,
            total,
            interval,
            request_id: invocation.request_id.clone(),
            line: Vec::new(),
            at: 0,
        })
    }
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.line.len() {
            if self.next > self.total {
                return Ok(0);
            }
            if self.next > 1 {
                std::thread::sleep(self.interval);
            }
            tracing::info!(
                "Function: streaming chunk {} of {} for request {}",
                self.next,
                self.total,
                self.request_id
            );
            self.line = format!("chunk {} of {}\n", self.next, self.total).into_bytes();
            self.at = 0;
            self.next += 1;
        }
        let n = buf.len().min(self.line.len() - self.at);
        buf[..n].copy_from_slice(&self.line[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The objects of an S3 notification, as `{"objects": ["bucket/key", …]}`.
fn s3_objects(event: &[u8]) -> Result<Vec<u8>, RuntimeError> {
    let event: S3Event = serde_json::from_slice(event).map_err(|e| RuntimeError {
        error_type: "Function.InvalidEvent".into(),
        message: format!("not an S3 notification: {e}"),
    })?;
    let mut objects = Vec::new();
    for record in &event.records {
        let bucket = record.s3.bucket.name.as_deref().unwrap_or_default();
        // Keys arrive URL-encoded, a space as '+': decode before using them.
        let key = url_decode(record.s3.object.key.as_deref().unwrap_or_default());
        tracing::info!(
            "Function: {} s3://{bucket}/{key} ({} bytes)",
            record.event_name.as_deref().unwrap_or("event for"),
            record.s3.object.size.unwrap_or_default()
        );
        objects.push(format!("{bucket}/{key}"));
    }
    Ok(serde_json::json!({ "objects": objects })
        .to_string()
        .into_bytes())
}

fn url_decode(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::url_decode;

    #[test]
    fn keys_are_url_decoded() {
        assert_eq!(
            url_decode("reports/2026+Q1/r%26d.csv"),
            "reports/2026 Q1/r&d.csv"
        );
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(url_decode("a%2"), "a%2");
    }
}
