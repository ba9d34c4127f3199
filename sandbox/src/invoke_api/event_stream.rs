//! The body of an `InvokeWithResponseStream` answer: an AWS event stream
//! (`application/vnd.amazon.eventstream`) of `PayloadChunk` events carrying
//! the response's bytes, then one `InvokeComplete` event. The framing (a
//! length-prefixed message with typed headers and two CRC32s) is the one the
//! AWS SDKs read, written by the smithy crate they share.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;
use serde_json::json;

use crate::lifecycle::invocation::{InvokeResult, Status};

/// The payload of one `PayloadChunk` event at most.
const CHUNK_BYTES: usize = 256 * 1024;

/// The events of one invocation's answer, framed. A failed invocation has
/// no payload chunk; its `InvokeComplete` names the error (`ErrorCode`, the
/// error type) and carries its body (`ErrorDetails`). `log_result` is the
/// base64 log tail a `Tail` request asked for.
pub fn body(result: &InvokeResult, log_result: Option<String>) -> Bytes {
    let mut out = Vec::with_capacity(result.payload.len() + 1024);
    if result.status == Status::Success {
        out.extend_from_slice(&payload_chunks(&result.payload));
    }
    out.extend_from_slice(&invoke_complete(result, log_result));
    Bytes::from(out)
}

/// `PayloadChunk` events carrying `payload`, 256 KiB at most each.
pub fn payload_chunks(payload: &Bytes) -> Bytes {
    let mut out = Vec::with_capacity(payload.len() + 64);
    for chunk in payload.chunks(CHUNK_BYTES) {
        push(
            &mut out,
            "PayloadChunk",
            "application/octet-stream",
            payload.slice_ref(chunk),
        );
    }
    Bytes::from(out)
}

/// The last event: how the invocation ended.
pub fn invoke_complete(result: &InvokeResult, log_result: Option<String>) -> Bytes {
    let mut complete = json!({});
    if result.status != Status::Success {
        complete["ErrorCode"] = json!(result.error_type.clone().unwrap_or_default());
        complete["ErrorDetails"] = json!(String::from_utf8_lossy(&result.payload));
    }
    if let Some(log) = log_result {
        complete["LogResult"] = json!(log);
    }
    let mut out = Vec::new();
    push(
        &mut out,
        "InvokeComplete",
        "application/json",
        Bytes::from(complete.to_string()),
    );
    Bytes::from(out)
}

fn push(out: &mut Vec<u8>, event_type: &'static str, content_type: &'static str, payload: Bytes) {
    let message = Message::new(payload)
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String("event".into()),
        ))
        .add_header(Header::new(
            ":event-type",
            HeaderValue::String(event_type.into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String(content_type.into()),
        ));
    write_message_to(&message, out).expect("an event of at most 256 KiB is framed");
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::read_message_from;

    fn result(status: Status, payload: &[u8], error_type: Option<&str>) -> InvokeResult {
        InvokeResult {
            request_id: "id".into(),
            status,
            payload: Bytes::copy_from_slice(payload),
            content_type: "application/octet-stream".into(),
            error_type: error_type.map(str::to_string),
        }
    }

    fn event_type(message: &Message) -> String {
        message
            .headers()
            .iter()
            .find(|h| h.name().as_str() == ":event-type")
            .and_then(|h| h.value().as_string().ok())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default()
    }

    #[test]
    fn chunks_then_complete_read_back_byte_for_byte() {
        let payload: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        let mut framed = body(&result(Status::Success, &payload, None), None);
        let mut kinds = Vec::new();
        let mut back = Vec::new();
        while !framed.is_empty() {
            let message = read_message_from(&mut framed).unwrap();
            if event_type(&message) == "PayloadChunk" {
                back.extend_from_slice(message.payload());
            }
            kinds.push(event_type(&message));
        }
        assert_eq!(back, payload);
        assert_eq!(
            kinds,
            [
                "PayloadChunk",
                "PayloadChunk",
                "PayloadChunk",
                "InvokeComplete"
            ]
        );
    }

    #[test]
    fn an_error_is_named_in_invoke_complete() {
        let mut framed = body(
            &result(
                Status::Error,
                br#"{"errorMessage":"boom"}"#,
                Some("Function.Boom"),
            ),
            Some("bG9n".into()),
        );
        let message = read_message_from(&mut framed).unwrap();
        assert_eq!(event_type(&message), "InvokeComplete");
        let complete: serde_json::Value = serde_json::from_slice(message.payload()).unwrap();
        assert_eq!(complete["ErrorCode"], "Function.Boom");
        assert_eq!(complete["ErrorDetails"], r#"{"errorMessage":"boom"}"#);
        assert_eq!(complete["LogResult"], "bG9n");
        assert!(framed.is_empty());
    }
}
