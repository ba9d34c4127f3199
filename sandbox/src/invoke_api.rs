//! The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) in
//! front of an environment, so that `aws lambda invoke --endpoint-url` and
//! the AWS SDKs can call the function.
//!
//! One environment serves one request at a time, as one Lambda execution
//! environment does; further requests wait their turn.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::api::header_str;
use crate::environment::{Environment, InvokeRequest, Status};
use crate::journal::cloudwatch_text;

/// Synchronous invocations accept at most 6 MB of payload.
const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;
/// `X-Amz-Log-Result` carries the last 4 KB of the invocation's log.
const LOG_TAIL_BYTES: usize = 4096;

#[derive(Clone)]
struct Front {
    env: Environment,
    /// Sent when a request arrives with an empty payload.
    default_event: Option<Bytes>,
    function_name: String,
    function_arn: String,
    version: String,
}

pub fn router(env: Environment, default_event: Option<Bytes>) -> Router {
    let config = env.config();
    let front = Front {
        default_event,
        function_name: config.function_name.clone(),
        function_arn: config.function_arn(),
        version: config.function_version.clone(),
        env,
    };
    Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES + 1))
        .with_state(front)
}

/// Serves the Invoke API on `addr` until the task is dropped. Requests with
/// an empty payload get `default_event`, when there is one.
pub async fn serve(
    env: Environment,
    addr: SocketAddr,
    default_event: Option<Bytes>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(env, default_event);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((local, task))
}

/// The Lambda service's error shape.
fn service_error(status: StatusCode, error_type: &str, message: String) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::HeaderName::from_static("x-amzn-errortype"),
                HeaderValue::from_str(error_type)
                    .unwrap_or(HeaderValue::from_static("ServiceException")),
            ),
        ],
        json!({"Type": "User", "message": message}).to_string(),
    )
        .into_response()
}

async fn invoke(
    State(front): State<Front>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The function may be named plainly, by ARN, or with a qualifier.
    let unqualified = name
        .split(':')
        .rev()
        .find(|part| !part.is_empty() && *part != front.version)
        .unwrap_or("");
    if name != front.function_name
        && name != front.function_arn
        && unqualified != front.function_name
    {
        return service_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!(
                "Function not found: {name}. This sandbox runs {} ({})",
                front.function_name, front.function_arn
            ),
        );
    }
    if body.len() > MAX_REQUEST_BYTES {
        return service_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            format!(
                "Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction operation"
            ),
        );
    }
    let client_context = match header_str(&headers, "x-amz-client-context") {
        None => None,
        Some(encoded) => match STANDARD.decode(encoded) {
            Ok(decoded) => Some(String::from_utf8_lossy(&decoded).into_owned()),
            Err(_) => {
                return service_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestContentException",
                    "X-Amz-Client-Context must be base64-encoded JSON".into(),
                );
            }
        },
    };
    let payload = match &front.default_event {
        Some(event) if body.is_empty() => event.clone(),
        _ => body,
    };
    let request = InvokeRequest {
        payload,
        content_type: None,
        client_context,
        cognito_identity: None,
    };
    match header_str(&headers, "x-amz-invocation-type").unwrap_or("RequestResponse") {
        "RequestResponse" => {}
        "Event" => {
            let env = front.env.clone();
            tokio::spawn(async move { env.invoke(request).await });
            return StatusCode::ACCEPTED.into_response();
        }
        "DryRun" => return StatusCode::NO_CONTENT.into_response(),
        other => {
            return service_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                format!("Invalid invocation type {other:?}: use RequestResponse, Event or DryRun"),
            );
        }
    }

    let tail = header_str(&headers, "x-amz-log-type") == Some("Tail");
    let mark = front.env.journal_len();
    let result = front.env.invoke(request).await;
    let mut response = (StatusCode::OK, result.payload.clone()).into_response();
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&result.content_type)
            .unwrap_or(HeaderValue::from_static("application/json")),
    );
    out.insert(
        "x-amz-executed-version",
        HeaderValue::from_str(&front.version).unwrap_or(HeaderValue::from_static("$LATEST")),
    );
    out.insert(
        "x-amzn-requestid",
        HeaderValue::from_str(&result.request_id).expect("a UUID is a valid header"),
    );
    if result.status != Status::Success {
        out.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    if tail {
        // The log ends with the REPORT line, so the phase must be over.
        front.env.wait_idle().await;
        let text = cloudwatch_text(&front.env.records_from(mark));
        let start = text.len().saturating_sub(LOG_TAIL_BYTES);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(text.len());
        let encoded = STANDARD.encode(&text.as_bytes()[start..]);
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            response.headers_mut().insert("x-amz-log-result", value);
        }
    }
    response
}
