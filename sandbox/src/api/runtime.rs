//! The Runtime API, `/2018-06-01` (docs/src/runtime-api.md): what the
//! `bootstrap` calls.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt, Limited};
use serde_json::{Value, json};

use super::http::{ApiError, LimitedBody, accepted, header_str, too_large};
use super::response_stream::{
    self, Cut, HTTP_INTEGRATION_RESPONSE, INLINE_ERROR, find, prelude_content_type,
};
use super::runtime_concurrent;
use crate::config::{MAX_ERROR_BODY_BYTES, MAX_RESPONSE_BYTES};
use crate::state::{FunctionError, Outcome, RuntimeEvent, RuntimePhase, Shared};
use crate::streams::timeline::{Lane, Mark};

const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";
const RESPONSE_MODE_HEADER: &str = "lambda-runtime-function-response-mode";
const ERROR_BODY_TRAILER: &str = "lambda-runtime-function-error-body";

/// `GET /runtime/invocation/next`: the runtime is ready; block until an event.
pub async fn next(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    if shared.config.managed_instances() {
        return runtime_concurrent::next(&shared).await.map(event_response);
    }
    shared
        .timeline
        .message(Lane::Runtime, Lane::Platform, "next");
    let generation = shared.update(|st| {
        match &st.runtime.phase {
            // The first `next` ends the runtime's Init and closes registration.
            RuntimePhase::Initializing => {
                st.runtime.phase = RuntimePhase::Ready;
                st.gates.registration_open = false;
            }
            // The first `next` after a restore ends the restore.
            RuntimePhase::Restoring => st.runtime.phase = RuntimePhase::Ready,
            RuntimePhase::Invoking {
                responded: true, ..
            } => {
                st.runtime.phase = RuntimePhase::Ready;
                if let Some(inv) = st.invocation.as_mut() {
                    inv.runtime_ready = Some((Instant::now(), Utc::now()));
                }
            }
            // A poll whose connection dropped may be repeated.
            RuntimePhase::Ready if !st.runtime.waiting => {}
            other => {
                return Err(ApiError::forbidden(
                    "InvalidStateTransition",
                    format!(
                        "State transition from {} to Ready failed: {}",
                        phase_name(other),
                        match other {
                            RuntimePhase::Invoking { .. } =>
                                "respond to the current invocation first",
                            RuntimePhase::Ready => "another next request is already waiting",
                            _ => "the runtime is not running",
                        }
                    ),
                ));
            }
        }
        st.runtime.waiting = true;
        Ok(st.generation)
    })?;
    let _waiting = WaitingGuard(&shared, generation);
    let event = shared
        .wait_until(None, |st| {
            if st.generation != generation {
                return Some(None);
            }
            let event = st.runtime.event.take()?;
            st.runtime.phase = RuntimePhase::Invoking {
                request_id: event.request_id.clone(),
                responded: false,
            };
            Some(Some(event))
        })
        .await
        .flatten();
    match event {
        Some(event) => Ok(event_response(event)),
        None => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Runtime.Reset",
            "the execution environment was reset; this runtime process is being replaced",
        )),
    }
}

/// Clears the waiting flag however the long poll ends, including a dropped connection.
struct WaitingGuard<'a>(&'a Shared, u64);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        // Nobody waits for a poll to end, so no one needs waking.
        let mut st = self.0.lock();
        if st.generation == self.1 {
            st.runtime.waiting = false;
        }
    }
}

fn event_response(event: RuntimeEvent) -> Response {
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set("content-type", &event.content_type);
    set("lambda-runtime-aws-request-id", &event.request_id);
    set("lambda-runtime-deadline-ms", &event.deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", &event.function_arn);
    set("lambda-runtime-trace-id", &event.trace_id);
    if let Some(ctx) = &event.client_context {
        set("lambda-runtime-client-context", ctx);
    }
    if let Some(identity) = &event.cognito_identity {
        set("lambda-runtime-cognito-identity", identity);
    }
    if let Some(id) = &event.invocation_id {
        set("lambda-runtime-invocation-id", id);
    }
    if let Some(tenant) = event.tenant_id.as_deref().filter(|t| !t.is_empty()) {
        set("lambda-runtime-aws-tenant-id", tenant);
    }
    (StatusCode::OK, headers, event.payload).into_response()
}

/// `POST /runtime/invocation/{id}/response`.
pub async fn response(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    start_answer(&shared, &request_id, &headers, "response")?;
    let streaming = match header_str(&headers, RESPONSE_MODE_HEADER) {
        None => false,
        Some("streaming") => true,
        Some(other) => {
            let message = format!(
                "Invalid function response mode: {other:?}; the only mode is \"streaming\""
            );
            finish_answer(
                &shared,
                &request_id,
                Outcome::Error(FunctionError::platform(
                    "Runtime.InvalidResponseModeHeader",
                    message.clone(),
                )),
            );
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidFunctionResponseMode",
                message,
            ));
        }
    };
    let limit = if streaming {
        shared.config.streaming_response_limit
    } else {
        MAX_RESPONSE_BYTES
    };
    let content_type = header_str(&headers, "content-type")
        .unwrap_or("application/json")
        .to_string();
    // A caller that reads the stream as it comes gets it so.
    let sink = streaming
        .then(|| {
            shared.update(|st| {
                st.invocation_mut(&request_id)
                    .and_then(|inv| inv.stream_to.take())
            })
        })
        .flatten();
    if let Some(sink) = sink {
        return forward_stream(&shared, &request_id, body, content_type, &sink, limit).await;
    }
    let (payload, trailers) = read_body(&shared, &request_id, body, limit).await?;
    let outcome = if streaming {
        streamed_outcome(&payload, trailers.as_ref(), content_type)
    } else {
        Outcome::Success {
            body: payload,
            content_type,
        }
    };
    finish_answer(&shared, &request_id, outcome);
    Ok(accepted())
}

/// A streamed response passed on to its caller as it comes.
async fn forward_stream(
    shared: &Shared,
    request_id: &str,
    body: Body,
    content_type: String,
    sink: &crate::lifecycle::invocation::StreamSink,
    limit: usize,
) -> Result<Response, ApiError> {
    let shaping = shared.config.stream_shaping;
    match response_stream::forward(body, request_id, content_type, sink, limit, shaping).await {
        Ok(done) => {
            let outcome =
                match stream_error(done.error_trailers.as_ref(), done.inline_error.as_deref()) {
                    Some(error) => Outcome::Error(error),
                    None => Outcome::Success {
                        body: Bytes::new(),
                        content_type: done.content_type,
                    },
                };
            shared.update(|st| {
                if let Some(inv) = st.invocation_mut(request_id) {
                    inv.streamed_bytes = Some(done.bytes);
                }
            });
            finish_answer(shared, request_id, outcome);
            Ok(accepted())
        }
        Err(Cut::TooLarge(limit)) => {
            finish_answer(shared, request_id, Outcome::Error(too_large_error(limit)));
            Err(too_large(limit))
        }
        Err(Cut::Truncated) => {
            finish_answer(shared, request_id, Outcome::Error(truncated_error()));
            Err(truncated())
        }
    }
}

/// `POST /runtime/invocation/{id}/error`.
pub async fn error(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    start_answer(&shared, &request_id, &headers, "error")?;
    let (payload, _) = read_body(&shared, &request_id, body, MAX_RESPONSE_BYTES).await?;
    finish_answer(
        &shared,
        &request_id,
        Outcome::Error(function_error(&headers, &payload)),
    );
    Ok(accepted())
}

/// `POST /runtime/init/error`: Init failed; the error answers the first invoke.
pub async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    LimitedBody(payload): LimitedBody<MAX_ERROR_BODY_BYTES>,
) -> Result<Response, ApiError> {
    let error = function_error(&headers, &payload);
    shared.timeline.mark(Mark::Failure {
        lane: Lane::Runtime,
        label: error.error_type.clone(),
    });
    shared.update(|st| {
        // While restoring, an Init error is a restore error (older runtimes
        // know no other).
        if st.runtime.phase == RuntimePhase::Restoring {
            st.runtime.restore_error.get_or_insert(error);
            return Ok(());
        }
        if st.runtime.phase != RuntimePhase::Initializing {
            return Err(ApiError::forbidden(
                "InvalidStateTransition",
                format!(
                    "State transition from {} to InitError failed: init errors are accepted only before the first next",
                    phase_name(&st.runtime.phase)
                ),
            ));
        }
        st.runtime.phase = RuntimePhase::InitFailed;
        st.runtime.init_error = Some(error);
        Ok(())
    })?;
    Ok(accepted())
}

/// Checks that `request_id` is the invocation the runtime may answer now,
/// and marks the `answer` (a response or an error) on the timeline.
fn start_answer(
    shared: &Shared,
    request_id: &str,
    headers: &HeaderMap,
    answer: &str,
) -> Result<(), ApiError> {
    if shared.config.managed_instances() {
        runtime_concurrent::start_answer(shared, request_id, headers)?;
    } else {
        start_only_answer(shared, request_id)?;
    }
    // Several answers may be under way at once there: say whose.
    let label = if shared.config.managed_instances() {
        format!(
            "{answer} {}",
            request_id.split('-').next().unwrap_or(request_id)
        )
    } else {
        answer.to_string()
    };
    shared
        .timeline
        .message(Lane::Runtime, Lane::Platform, label);
    Ok(())
}

/// The classic rule: the one invocation in progress, answered once.
fn start_only_answer(shared: &Shared, request_id: &str) -> Result<(), ApiError> {
    shared.update(|st| match &st.runtime.phase {
        RuntimePhase::Invoking {
            request_id: current,
            responded: false,
        } if current == request_id => {
            if let Some(inv) = st.invocation.as_mut() {
                inv.response_started.get_or_insert((Instant::now(), Utc::now()));
            }
            Ok(())
        }
        RuntimePhase::Invoking { .. } => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "Invalid request ID",
        )),
        other => Err(ApiError::forbidden(
            "InvalidStateTransition",
            format!(
                "State transition from {} to InvocationResponse failed: there is no invocation in progress",
                phase_name(other)
            ),
        )),
    })
}

fn finish_answer(shared: &Shared, request_id: &str, outcome: Outcome) {
    if shared.config.managed_instances() {
        return runtime_concurrent::finish_answer(shared, request_id, outcome);
    }
    shared.update(|st| {
        if let RuntimePhase::Invoking { responded, .. } = &mut st.runtime.phase {
            *responded = true;
        }
        if let Some(inv) = st.invocation.as_mut() {
            inv.responded = Some((Instant::now(), Utc::now()));
            inv.outcome.get_or_insert(outcome);
        }
    });
}

async fn read_body(
    shared: &Shared,
    request_id: &str,
    body: Body,
    limit: usize,
) -> Result<(Bytes, Option<HeaderMap>), ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => {
            let trailers = collected.trailers().cloned();
            Ok((collected.to_bytes(), trailers))
        }
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            finish_answer(shared, request_id, Outcome::Error(too_large_error(limit)));
            Err(too_large(limit))
        }
        Err(_) => {
            finish_answer(shared, request_id, Outcome::Error(truncated_error()));
            Err(truncated())
        }
    }
}

/// What the caller gets for a response over the limit.
fn too_large_error(limit: usize) -> FunctionError {
    FunctionError::platform(
        "Function.ResponseSizeTooLarge",
        format!("Response payload size exceeded maximum allowed payload size ({limit} bytes)."),
    )
}

/// What the caller gets for a response cut short.
fn truncated_error() -> FunctionError {
    FunctionError::platform(
        "Runtime.TruncatedResponse",
        "The runtime's response body was cut short".into(),
    )
}

/// What the runtime gets for a request cut short.
fn truncated() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "TruncatedHTTPRequest",
        "the request body was truncated",
    )
}

/// A streamed response gathered whole: the payload, after a JSON prelude
/// and eight NUL bytes when it is an HTTP-integration response (the Rust
/// runtime's framing for API Gateway and function URLs). Errors arrive as
/// trailers, or, from the Rust runtime, as trailer text written inline
/// into the last chunk.
fn streamed_outcome(
    payload: &Bytes,
    trailers: Option<&HeaderMap>,
    content_type: String,
) -> Outcome {
    let (body, inline_error) = match find(payload, INLINE_ERROR) {
        Some(at) => (payload.slice(..at), Some(payload.slice(at..))),
        None => (payload.clone(), None),
    };
    if let Some(error) = stream_error(trailers, inline_error.as_deref()) {
        return Outcome::Error(error);
    }
    // Only this content type carries the JSON prelude: any other stream,
    // binary ones included, reaches the caller untouched. The prelude's own
    // headers say what the payload is.
    match find(&body, &[0u8; 8]) {
        Some(at) if content_type == HTTP_INTEGRATION_RESPONSE => Outcome::Success {
            content_type: prelude_content_type(&body[..at]).unwrap_or(content_type),
            body: body.slice(at + 8..),
        },
        _ => Outcome::Success { body, content_type },
    }
}

/// The error a stream ended with: in its trailers, or in the text the Rust
/// runtime writes inline (`Lambda-Runtime-Function-Error-Type: …` lines).
fn stream_error(trailers: Option<&HeaderMap>, inline: Option<&[u8]>) -> Option<FunctionError> {
    let mut error_type = trailers
        .and_then(|t| header_str(t, ERROR_TYPE_HEADER))
        .map(str::to_string);
    let mut error_body = trailers
        .and_then(|t| header_str(t, ERROR_BODY_TRAILER))
        .map(str::to_string);
    if let Some(inline) = inline {
        for line in String::from_utf8_lossy(inline).lines() {
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim().to_string();
                match name.trim().to_ascii_lowercase().as_str() {
                    ERROR_TYPE_HEADER => error_type = Some(value),
                    ERROR_BODY_TRAILER => error_body = Some(value),
                    _ => {}
                }
            }
        }
    }
    let error_type = error_type?;
    let decoded = error_body
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&error_type) {
        headers.insert(ERROR_TYPE_HEADER, v);
    }
    Some(function_error(&headers, &decoded))
}

pub(super) fn function_error(headers: &HeaderMap, payload: &[u8]) -> FunctionError {
    let error_type = normalise_error_type(header_str(headers, ERROR_TYPE_HEADER).unwrap_or(""));
    let body = match serde_json::from_slice::<Value>(payload) {
        Ok(v @ Value::Object(_)) => v,
        _ if payload.is_empty() => json!({"errorType": error_type, "errorMessage": ""}),
        _ => json!({"errorType": error_type, "errorMessage": String::from_utf8_lossy(payload)}),
    };
    FunctionError { error_type, body }
}

/// `(Runtime|Function).Reason` is kept, any other `Function.*` becomes
/// `Function.Unknown`, anything else `Runtime.Unknown` (docs/src/runtime-api.md#reporting-an-error).
pub fn normalise_error_type(raw: &str) -> String {
    let well_formed = |rest: &str| {
        let mut chars = rest.chars();
        chars.next().is_some_and(|c| c.is_ascii_uppercase())
            && chars.all(|c| c.is_ascii_alphabetic())
    };
    for category in ["Runtime.", "Function."] {
        if let Some(rest) = raw.strip_prefix(category)
            && rest.len() >= 2
            && well_formed(rest)
        {
            return raw.to_string();
        }
    }
    if raw.starts_with("Function.") {
        "Function.Unknown".into()
    } else {
        "Runtime.Unknown".into()
    }
}

pub(super) fn phase_name(phase: &RuntimePhase) -> &'static str {
    match phase {
        RuntimePhase::NotStarted => "NotStarted",
        RuntimePhase::Initializing => "Initializing",
        RuntimePhase::Ready => "Ready",
        RuntimePhase::RestoreReady => "RestoreReady",
        RuntimePhase::Restoring => "Restoring",
        RuntimePhase::Invoking {
            responded: false, ..
        } => "Invoking",
        RuntimePhase::Invoking {
            responded: true, ..
        } => "ResponseSent",
        RuntimePhase::InitFailed => "InitError",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_are_normalised_like_the_platform() {
        assert_eq!(
            normalise_error_type("Runtime.ExitError"),
            "Runtime.ExitError"
        );
        assert_eq!(
            normalise_error_type("Function.MyFailure"),
            "Function.MyFailure"
        );
        assert_eq!(normalise_error_type("Function.bad"), "Function.Unknown");
        assert_eq!(normalise_error_type("unhandled"), "Runtime.Unknown");
        assert_eq!(normalise_error_type(""), "Runtime.Unknown");
    }

    #[test]
    fn streamed_payload_drops_the_prelude_and_reads_inline_errors() {
        let mut body = br#"{"statusCode":200}"#.to_vec();
        body.extend_from_slice(&[0u8; 8]);
        body.extend_from_slice(b"hello");
        match streamed_outcome(
            &Bytes::from(body.clone()),
            None,
            HTTP_INTEGRATION_RESPONSE.into(),
        ) {
            Outcome::Success { body, .. } => assert_eq!(&body[..], b"hello"),
            other => panic!("{other:?}"),
        }
        let b64 = base64::engine::general_purpose::STANDARD
            .encode(br#"{"errorType":"Boom","errorMessage":"mid-stream"}"#);
        body.extend_from_slice(
            format!("Lambda-Runtime-Function-Error-Type: Runtime.StreamError\r\nLambda-Runtime-Function-Error-Body: {b64}\r\n").as_bytes(),
        );
        match streamed_outcome(&Bytes::from(body), None, HTTP_INTEGRATION_RESPONSE.into()) {
            Outcome::Error(e) => {
                assert_eq!(e.error_type, "Runtime.StreamError");
                assert_eq!(e.body["errorMessage"], "mid-stream");
            }
            other => panic!("{other:?}"),
        }
    }
}
