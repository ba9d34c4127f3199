//! The one HTTP/1.1 endpoint of the environment (reference §1): the Runtime API
//! and the Extensions API under their version prefixes, on loopback.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use serde_json::json;

use crate::extensions_api;
use crate::runtime_api;
use crate::state::Shared;
use crate::subscription_api;

/// An API error: a status code and the platform's `{errorMessage, errorType}` body.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error_type: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error_type,
            message: message.into(),
        }
    }

    pub fn forbidden(error_type: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, error_type, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"errorMessage": self.message, "errorType": self.error_type});
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

/// The platform's 202 answer.
pub fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

/// A request body of at most `LIMIT` bytes. A larger one is refused with
/// the platform's 413 as soon as its `Content-Length` says so, or once
/// `LIMIT` bytes have been read: never buffered whole.
pub struct LimitedBody<const LIMIT: usize>(pub Bytes);

pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        format!("Exceeded maximum allowed payload size ({limit} bytes)."),
    )
}

impl<S: Send + Sync, const LIMIT: usize> FromRequest<S> for LimitedBody<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, ApiError> {
        let declared = header_str(request.headers(), "content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > LIMIT as u64) {
            return Err(too_large(LIMIT));
        }
        match Limited::new(request.into_body(), LIMIT).collect().await {
            Ok(collected) => Ok(LimitedBody(collected.to_bytes())),
            Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(too_large(LIMIT)),
            Err(_) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "TruncatedHTTPRequest",
                "the request body was truncated",
            )),
        }
    }
}

/// A header's value as text, if present and readable.
pub fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/2018-06-01/runtime/invocation/next",
            get(runtime_api::next),
        )
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/response",
            post(runtime_api::response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/error",
            post(runtime_api::error),
        )
        .route(
            "/2018-06-01/runtime/init/error",
            post(runtime_api::init_error),
        )
        .route(
            "/2020-01-01/extension/register",
            post(extensions_api::register),
        )
        .route(
            "/2020-01-01/extension/event/next",
            get(extensions_api::next),
        )
        .route(
            "/2020-01-01/extension/init/error",
            post(extensions_api::init_error),
        )
        .route(
            "/2020-01-01/extension/exit/error",
            post(extensions_api::exit_error),
        )
        .route("/2020-08-15/logs", put(subscription_api::logs))
        .route("/2022-07-01/telemetry", put(subscription_api::telemetry))
        .fallback(not_found)
        // Every handler reads its body with its own limit (`LimitedBody`).
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

/// Binds the endpoint (an ephemeral loopback port unless one is given) and
/// serves it in the background.
pub async fn serve(
    shared: Arc<Shared>,
    addr: Option<SocketAddr>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let addr = addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(shared);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        // Long polls answer with small bodies; Nagle would add 40 ms to each.
        let _ = tcp.set_nodelay(true);
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((local, task))
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        "no such API route: the Runtime API lives under /2018-06-01 and the Extensions API under /2020-01-01",
    )
}
