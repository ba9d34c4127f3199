//! The calls to the Extensions, Logs and Telemetry APIs that the
//! `lambda-extension` crate does not make for us: subscribing with our own
//! listener, and reporting an Init failure.

use http_body_util::BodyExt;
use lambda_extension::requests::{self, ErrorRequest};
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{PooledClient, build_request};

use crate::settings::{Api, Settings};

/// Subscribes to the configured stream for `platform` and `function`
/// records, delivered to our listener; on Managed Instances, with the
/// Telemetry schema `2025-01-29`. Not `extension`: the shipper's own
/// log lines would be shipped, and each upload it logs would make more.
pub async fn subscribe(
    client: &PooledClient,
    extension_id: &str,
    settings: &Settings,
    managed_instances: bool,
) -> Result<(), String> {
    let (path, schema_version) = match settings.api {
        // Managed Instances accept this schema alone.
        Api::Telemetry if managed_instances => ("/2022-07-01/telemetry", "2025-01-29"),
        Api::Telemetry => ("/2022-07-01/telemetry", "2022-12-13"),
        // 2021-03-18 is the Logs API version that has platform.runtimeDone.
        Api::Logs => ("/2020-08-15/logs", "2021-03-18"),
    };
    let body = serde_json::json!({
        "schemaVersion": schema_version,
        "types": ["platform", "function"],
        "buffering": {
            "maxItems": settings.buffering.max_items,
            "maxBytes": settings.buffering.max_bytes,
            "timeoutMs": settings.buffering.timeout_ms,
        },
        "destination": {
            "protocol": "HTTP",
            "URI": format!("http://sandbox.localdomain:{}", settings.port),
        },
    });
    let request = build_request()
        .method("PUT")
        .uri(path)
        .header("Lambda-Extension-Identifier", extension_id)
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_string()))
        .map_err(|e| e.to_string())?;
    let response = client
        .call(request)
        .await
        .map_err(|e| format!("cannot reach {path}: {e}"))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = match response.into_body().collect().await {
        Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        Err(e) => e.to_string(),
    };
    Err(format!("PUT {path} answered {status}: {text}"))
}

/// Tells the platform that Init failed and why; it then fails the Init
/// phase with `error_type`, and the message shows in the function's logs.
pub async fn report_init_error(
    client: &PooledClient,
    extension_id: &str,
    error_type: &str,
    message: &str,
) {
    let request = requests::init_error(
        extension_id,
        error_type,
        Some(ErrorRequest {
            error_message: message,
            error_type,
            stack_trace: Vec::new(),
        }),
    );
    match request {
        Ok(request) => {
            if let Err(e) = client.call(request).await {
                eprintln!("s3-log-shipper: could not report the Init error: {e}");
            }
        }
        Err(e) => eprintln!("s3-log-shipper: could not build the Init error report: {e}"),
    }
}
