//! What the APIs share: the platform's error answers and request bodies
//! read with a limit.

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use serde_json::json;

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
