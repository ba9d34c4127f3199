//! `GET /2021-04-23/credentials` (docs/src/snapstart.md#credentials): with
//! SnapStart, the processes' AWS credentials, in the format of a
//! container's credentials endpoint, so that every SDK's container
//! credentials provider reads them through `AWS_CONTAINER_CREDENTIALS_FULL_URI`
//! and `AWS_CONTAINER_AUTHORIZATION_TOKEN`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::http::header_str;
use crate::stand_ins::s3;
use crate::state::Shared;

pub async fn get(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    // The raw token, without a scheme such as `Bearer`.
    if header_str(&headers, "authorization") != Some(shared.credentials.token.as_str()) {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain")],
            "cannot get credentials for the provided token",
        )
            .into_response();
    }
    let issued = shared.credentials.current();
    let body = json!({
        "AccessKeyId": s3::ACCESS_KEY_ID,
        "SecretAccessKey": s3::SECRET_ACCESS_KEY,
        "Token": issued.session_token,
        "Expiration": issued.expiration.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
