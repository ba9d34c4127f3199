//! The Logs API (`PUT /2020-08-15/logs`) and the Telemetry API
//! (`PUT /2022-07-01/telemetry`), as docs/src/streams.md describes them:
//! one registry, one subscription per extension, the platform's validation
//! and error bodies.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::extensions::identify;
use super::http::{ApiError, LimitedBody};
use crate::config::MAX_CONTROL_BODY_BYTES;
use crate::state::Shared;
use crate::streams::delivery::{
    Api, Buffering, DeliverySettings, Destination, Subscriber, Subscription,
};

/// The only Telemetry schema Managed Instances accept.
const MANAGED_SCHEMA: &str = "2025-01-29";

/// The platform's reserved port: the Runtime API itself.
const RESERVED_PORT: u16 = 9001;

/// A subscription body, bounded.
type Body = LimitedBody<MAX_CONTROL_BODY_BYTES>;

pub async fn logs(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    LimitedBody(body): Body,
) -> Response {
    if shared.config.managed_instances() {
        // Not offered there: AWS's emulator has no such route.
        let status = StatusCode::from_u16(shared.config.managed_logs_api_status)
            .unwrap_or(StatusCode::NOT_FOUND);
        return (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "the Logs API is not offered on Lambda Managed Instances: subscribe to the Telemetry API with schemaVersion 2025-01-29\n",
        )
            .into_response();
    }
    subscribe(&shared, &headers, &body, Api::Logs).unwrap_or_else(IntoResponse::into_response)
}

pub async fn telemetry(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    LimitedBody(body): Body,
) -> Response {
    subscribe(&shared, &headers, &body, Api::Telemetry).unwrap_or_else(IntoResponse::into_response)
}

fn validation_error(api: Api, message: impl Into<String>) -> ApiError {
    let error_type = match api {
        Api::Logs => "Logs.ValidationError",
        Api::Telemetry => "ValidationError",
    };
    ApiError::new(StatusCode::BAD_REQUEST, error_type, message)
}

fn subscribe(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    body: &[u8],
    api: Api,
) -> Result<Response, ApiError> {
    let id = identify(shared, headers)?;
    let subscription = parse(api, body)?;
    if shared.config.managed_instances() && subscription.schema_version != MANAGED_SCHEMA {
        return Err(validation_error(
            api,
            format!(
                "schema validation error: schemaVersion {:?} is not accepted on Lambda Managed Instances: use {MANAGED_SCHEMA}",
                subscription.schema_version
            ),
        ));
    }
    let config = &shared.config;
    let json_format = config
        .log_format()
        .is_some_and(|f| f.eq_ignore_ascii_case("json"));

    let (name, replaced) = shared.update(|st| {
        if !st.gates.subscriptions_open {
            let (error_type, what) = match api {
                Api::Logs => ("Logs.SubscriptionClosed", "Logs"),
                Api::Telemetry => ("Telemetry.SubscriptionClosed", "Telemetry"),
            };
            return Err(ApiError::forbidden(
                error_type,
                format!("{what} API subscription is closed: subscribe before the extension's first /event/next"),
            ));
        }
        let ext = st.extensions.find_mut(&id).expect("identified above");
        match &ext.subscription {
            Some(existing) if existing.subscription.api != api => Err(validation_error(
                api,
                format!(
                    "this extension already subscribed to the {} API; the Logs and Telemetry APIs exclude each other",
                    existing.subscription.api.name()
                ),
            )),
            Some(_) if api == Api::Telemetry => Err(validation_error(api, "subscriber already exists")),
            // The Logs API is idempotent: a repeated subscription replaces the first.
            existing => Ok((ext.name.clone(), existing.clone())),
        }
    })?;
    if let Some(old) = replaced {
        shared.journal.unsubscribe(&old);
        let journal = shared.journal.clone();
        tokio::spawn(async move { old.stop(&*journal).await });
    }
    let subscriber = Arc::new(Subscriber::new(
        name.clone(),
        subscription.clone(),
        DeliverySettings {
            json_format,
            buffer_factor: config.stream_buffer_factor,
            delivery_timeout: config.delivery_timeout,
            frozen: shared.frozen.subscribe(),
            network: shared.network.get().cloned().unwrap_or_default(),
        },
    ));
    shared.update(|st| {
        if let Some(ext) = st.extensions.find_mut(&id) {
            ext.subscription = Some(subscriber.clone());
        }
    });
    shared.journal.subscribe(subscriber.clone());
    subscriber.start(shared.journal.clone());
    let kind = match api {
        Api::Logs => "platform.logsSubscription",
        Api::Telemetry => "platform.telemetrySubscription",
    };
    shared.journal.platform(
        kind,
        json!({"name": name, "state": "Subscribed", "types": subscription.types}),
    );
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "\"OK\"",
    )
        .into_response())
}

/// Validates a subscription body with the platform's limits.
pub fn parse(api: Api, body: &[u8]) -> Result<Subscription, ApiError> {
    let invalid = |message: String| validation_error(api, message);
    let request: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("the body is not JSON: {e}")))?;
    let schema_version = match (api, request.get("schemaVersion").and_then(Value::as_str)) {
        (Api::Logs, None) => "2020-08-15".to_string(),
        (Api::Logs, Some(v @ ("2020-08-15" | "2021-03-18"))) => v.to_string(),
        (Api::Telemetry, Some(v @ ("2022-07-01" | "2022-12-13" | "2025-01-29"))) => v.to_string(),
        (Api::Telemetry, None) => {
            return Err(invalid(
                "schemaVersion is required: 2022-07-01, 2022-12-13 or 2025-01-29".into(),
            ));
        }
        (_, Some(other)) => {
            let known = match api {
                Api::Logs => "2020-08-15 or 2021-03-18",
                Api::Telemetry => "2022-07-01, 2022-12-13 or 2025-01-29",
            };
            return Err(invalid(format!(
                "schemaVersion {other:?} is not supported: use {known}"
            )));
        }
    };
    let types: Vec<String> = match request.get("types").and_then(Value::as_array) {
        Some(types) if !types.is_empty() => types
            .iter()
            .map(|t| match t.as_str() {
                Some(t @ ("platform" | "function" | "extension")) => Ok(t.to_string()),
                _ => Err(invalid(format!(
                    "unknown type {t}: the types are platform, function and extension"
                ))),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(invalid(
                "types should not be empty: name one or more of platform, function, extension"
                    .into(),
            ));
        }
    };
    let buffering = request.get("buffering").cloned().unwrap_or(json!({}));
    let limit = |name: &str, default: u64, min: u64, max: u64| -> Result<u64, ApiError> {
        match buffering.get(name) {
            None => Ok(default),
            Some(v) => match v.as_u64() {
                Some(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(invalid(format!(
                    "buffering.{name} is {v}: it must be a whole number from {min} to {max}"
                ))),
            },
        }
    };
    let buffering = Buffering {
        timeout: Duration::from_millis(limit("timeoutMs", 1000, 25, 30_000)?),
        max_bytes: limit("maxBytes", 262_144, 262_144, 1_048_576)? as usize,
        max_items: limit("maxItems", 10_000, 1_000, 10_000)? as usize,
    };
    let destination = parse_destination(request.get("destination")).map_err(invalid)?;
    Ok(Subscription {
        api,
        schema_version,
        types,
        buffering,
        destination,
    })
}

/// `{"protocol":"HTTP","URI":"http://sandbox.localdomain:PORT/PATH"}`, or TCP
/// with a `tcp://` URI or a `port`.
fn parse_destination(destination: Option<&Value>) -> Result<Destination, String> {
    let destination = destination.ok_or("destination is required")?;
    let protocol = destination
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let uri = destination.get("URI").and_then(Value::as_str);
    let port = match (protocol, uri) {
        ("TCP", None) => destination
            .get("port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or("a TCP destination needs a URI or a port")?,
        ("HTTP" | "TCP", Some(uri)) => {
            let scheme = if protocol == "HTTP" {
                "http://"
            } else {
                "tcp://"
            };
            let rest = uri.strip_prefix(scheme).ok_or_else(|| {
                format!("destination URI {uri:?} must start with {scheme} (HTTPS is not supported)")
            })?;
            let authority = rest.split('/').next().unwrap_or_default();
            let (host, port) = authority
                .rsplit_once(':')
                .ok_or("URI port is not provided")?;
            if host != "sandbox" && host != "sandbox.localdomain" {
                return Err(format!(
                    "destination host {host:?} is outside the execution environment: use sandbox.localdomain"
                ));
            }
            port.parse()
                .map_err(|_| format!("URI port {port:?} is not a port number"))?
        }
        _ => {
            return Err(format!(
                "destination protocol {protocol:?} is not supported: use HTTP or TCP"
            ));
        }
    };
    if port == RESERVED_PORT {
        return Err(format!(
            "port {RESERVED_PORT} is reserved for the Runtime API"
        ));
    }
    if port == 0 {
        return Err("URI port is not provided".into());
    }
    Ok(match (protocol, uri) {
        ("HTTP", Some(uri)) => {
            let after_host = uri.splitn(4, '/').nth(3).unwrap_or_default();
            Destination::Http {
                port,
                path: format!("/{after_host}"),
            }
        }
        _ => Destination::Tcp { port },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(api: Api, body: Value) -> String {
        let err = parse(api, body.to_string().as_bytes()).unwrap_err();
        format!("{} {}", err.error_type, err.message)
    }

    #[test]
    fn defaults_and_limits() {
        let ok = parse(
            Api::Logs,
            json!({"types": ["platform"], "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:8080/lambda_logs"}})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(ok.schema_version, "2020-08-15");
        assert_eq!(
            ok.buffering,
            Buffering {
                max_items: 10_000,
                max_bytes: 262_144,
                timeout: Duration::from_millis(1000)
            }
        );
        assert_eq!(
            ok.destination,
            Destination::Http {
                port: 8080,
                path: "/lambda_logs".into()
            }
        );
        let tcp = parse(
            Api::Telemetry,
            json!({"schemaVersion": "2022-12-13", "types": ["function"], "destination": {"protocol": "TCP", "port": 9999}})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(tcp.destination, Destination::Tcp { port: 9999 });
    }

    #[test]
    fn validation_errors_say_what_is_wrong() {
        let dest = json!({"protocol": "HTTP", "URI": "http://sandbox.localdomain:8080"});
        assert!(
            error(Api::Logs, json!({"types": [], "destination": dest}))
                .starts_with("Logs.ValidationError types should not be empty")
        );
        assert!(
            error(
                Api::Telemetry,
                json!({"types": ["platform"], "destination": dest})
            )
            .starts_with("ValidationError schemaVersion is required")
        );
        assert!(
            error(
                Api::Logs,
                json!({"types": ["platform"], "buffering": {"timeoutMs": 10}, "destination": dest})
            )
            .contains("from 25 to 30000")
        );
        assert!(
            error(
                Api::Logs,
                json!({"types": ["platform"], "buffering": {"maxBytes": 1}, "destination": dest})
            )
            .contains("from 262144 to 1048576")
        );
        assert!(error(Api::Logs, json!({"types": ["platform"], "buffering": {"maxItems": 20000}, "destination": dest})).contains("from 1000 to 10000"));
        assert!(error(Api::Logs, json!({"types": ["platform"], "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain"}})).contains("URI port is not provided"));
        assert!(error(Api::Logs, json!({"types": ["platform"], "destination": {"protocol": "HTTP", "URI": "http://sandbox:9001"}})).contains("reserved"));
        assert!(error(Api::Logs, json!({"types": ["platform"], "destination": {"protocol": "HTTP", "URI": "https://sandbox:8080"}})).contains("HTTPS"));
        assert!(error(Api::Logs, json!({"types": ["platform"], "destination": {"protocol": "HTTP", "URI": "http://example.com:8080"}})).contains("outside the execution environment"));
        assert!(
            error(Api::Logs, json!({"types": ["logs"], "destination": dest}))
                .contains("unknown type")
        );
        assert!(
            error(
                Api::Logs,
                json!({"schemaVersion": "2022-07-01", "types": ["platform"], "destination": dest})
            )
            .contains("not supported")
        );
    }
}
