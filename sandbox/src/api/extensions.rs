//! The Extensions API, `/2020-01-01` (docs/src/extensions-api.md): what extensions
//! call.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::http::{ApiError, LimitedBody, accepted, header_str};
use crate::config::{MAX_CONTROL_BODY_BYTES, MAX_ERROR_BODY_BYTES, MAX_EXTENSIONS};
use crate::state::{ExtensionFailure, ExtensionState, Shared};
use crate::streams::timeline::{Lane, Mark};

const IDENTIFIER: &str = "lambda-extension-identifier";

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RegisterBody {
    #[serde(default)]
    events: Vec<String>,
    configuration_keys: Option<Value>,
}

/// On Managed Instances an external extension may ask for SHUTDOWN only
/// (invocations reach it through the Telemetry API), and an internal one
/// for no event at all (docs/src/managed-instances.md#extensions).
fn managed_instances_events(external: bool, invoke: bool, shutdown: bool) -> Result<(), ApiError> {
    if !external && (invoke || shutdown) {
        return Err(ApiError::forbidden(
            "Extension.InvalidEventType",
            "No events allowed for internal extensions on Lambda Managed Instances: register with {\"events\":[]}",
        ));
    }
    if invoke {
        return Err(ApiError::forbidden(
            "Extension.InvalidEventType",
            "INVOKE: ErrorInvalidEventType: Lambda Managed Instances send SHUTDOWN only; \
             register with {\"events\":[\"SHUTDOWN\"]} and follow invocations through the Telemetry API",
        ));
    }
    Ok(())
}

/// `POST /extension/register`.
pub async fn register(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody<MAX_CONTROL_BODY_BYTES>,
) -> Result<Response, ApiError> {
    let name = header_str(&headers, "lambda-extension-name")
        .unwrap_or("")
        .trim()
        .to_string();
    if name.is_empty() {
        return Err(ApiError::forbidden(
            "Extension.InvalidExtensionName",
            "Empty extension name",
        ));
    }
    let request: RegisterBody = if body.iter().all(u8::is_ascii_whitespace) {
        RegisterBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::forbidden(
                "InvalidRequestFormat",
                format!(
                    "the body must be JSON such as {{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}}: {e}"
                ),
            )
        })?
    };
    if request.configuration_keys.is_some() {
        return Err(ApiError::forbidden(
            "InvalidRequestFormat",
            "configurationKeys are deprecated; use environment variables instead",
        ));
    }
    let (mut invoke, mut shutdown) = (false, false);
    for event in &request.events {
        match event.as_str() {
            "INVOKE" => invoke = true,
            "SHUTDOWN" => shutdown = true,
            other => {
                return Err(ApiError::forbidden(
                    "Extension.InvalidEventType",
                    format!("unknown event type {other:?}: the events are INVOKE and SHUTDOWN"),
                ));
            }
        }
    }
    let wants_account_id = header_str(&headers, "lambda-extension-accept-feature")
        .is_some_and(|f| f.split(',').any(|f| f.trim() == "accountId"));

    let id = Uuid::new_v4();
    let (after_launch, stalled) = shared.update(|st| {
        if !st.gates.registration_open {
            return Err(ApiError::forbidden(
                "Extension.RegistrationClosed",
                "Extension registration closed already: extensions register before the runtime's first next",
            ));
        }
        if st.extensions.registered.len() >= MAX_EXTENSIONS {
            return Err(ApiError::forbidden(
                "Extension.TooManyExtensions",
                format!("Extension limit ({MAX_EXTENSIONS}) reached"),
            ));
        }
        if st.extensions.registered.iter().any(|e| e.name == name) {
            return Err(ApiError::forbidden(
                "Extension.InvalidExtensionState",
                format!("an extension named {name:?} is already registered"),
            ));
        }
        // The platform tells external from internal by the file name alone.
        let external = st.extensions.launched.contains(&name);
        if shared.config.managed_instances()
            && let Err(refusal) = managed_instances_events(external, invoke, shutdown)
        {
            // Clients often report the status alone; the reason goes here.
            shared.journal.note(format!(
                "registration of {name} refused: {}",
                refusal.message
            ));
            return Err(refusal);
        }
        if !external && shutdown {
            return Err(ApiError::forbidden(
                "Extension.InvalidEventType",
                "ShutdownEventNotSupportedForInternalExtension",
            ));
        }
        let registered_after_launch = st
            .extensions
            .launch_times
            .iter()
            .find(|(launched, _)| external && *launched == name)
            .map(|(_, at)| at.elapsed());
        st.extensions.registered.push(ExtensionState {
            id,
            name: name.clone(),
            external,
            invoke,
            shutdown,
            waiting: false,
            initialized: false,
            idle: false,
            pending: None,
            failed: false,
            shutdown_delivered: false,
            registered_after_launch,
            subscription: None,
        });
        Ok((registered_after_launch, st.extensions.unregistered_launched()))
    })?;
    let external = after_launch.is_some();
    let kind = match after_launch {
        Some(after) => format!(
            "external, {:.1} ms after launch",
            after.as_secs_f64() * 1000.0
        ),
        None => "internal".to_string(),
    };
    shared.timeline.message(
        Lane::Extension(name.to_string()),
        Lane::Platform,
        "register",
    );
    shared.journal.note(format!(
        "extension {name} registered ({kind}) for [{}]",
        request.events.join(", ")
    ));
    if !external && !stalled.is_empty() {
        shared.journal.note(format!(
            "warning: {name:?} matches no file in /opt/extensions, so it counts as an internal extension; \
             the launched extension(s) {stalled:?} have not registered and Init will stall until they do. \
             An external extension must register under its own file name"
        ));
    }

    let config = &shared.config;
    let mut body = json!({
        "functionName": config.function_name,
        "functionVersion": config.function_version,
        "handler": config.handler,
    });
    if wants_account_id {
        body["accountId"] = json!(config.account_id);
    }
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::HeaderName::from_static(IDENTIFIER),
                HeaderValue::from_str(&id.to_string()).expect("a UUID is a valid header"),
            ),
        ],
        body.to_string(),
    )
        .into_response())
}

/// The `Lambda-Extension-Identifier` of a registered extension.
pub(crate) fn identify(shared: &Shared, headers: &HeaderMap) -> Result<Uuid, ApiError> {
    let raw = header_str(headers, IDENTIFIER).ok_or_else(|| {
        ApiError::forbidden(
            "Extension.MissingExtensionIdentifier",
            "Missing Lambda-Extension-Identifier header: send the identifier /register returned",
        )
    })?;
    let id = Uuid::parse_str(raw.trim()).map_err(|_| {
        ApiError::forbidden(
            "Extension.InvalidExtensionIdentifier",
            format!("Invalid Lambda-Extension-Identifier {raw:?}: it must be a UUID"),
        )
    })?;
    if shared
        .lock()
        .extensions
        .registered
        .iter()
        .any(|e| e.id == id)
    {
        Ok(id)
    } else {
        Err(ApiError::forbidden(
            "Extension.UnknownExtensionIdentifier",
            format!("Unknown extension identifier {id}: register first"),
        ))
    }
}

/// `GET /extension/event/next`: the extension is done; block until an event.
pub async fn next(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = identify(&shared, &headers)?;
    let (generation, ext_name) = shared.update(|st| {
        let generation = st.generation;
        let ext = st.extensions.find_mut(&id).expect("identified above");
        if ext.failed {
            return Err(ApiError::forbidden(
                "Extension.InvalidExtensionState",
                "the extension reported an error; no further calls succeed and it should exit",
            ));
        }
        if ext.waiting {
            return Err(ApiError::forbidden(
                "Extension.InvalidExtensionState",
                "a next request from this extension is already waiting",
            ));
        }
        ext.waiting = true;
        ext.initialized = true;
        ext.idle = true;
        Ok((generation, ext.name.clone()))
    })?;
    shared
        .timeline
        .message(Lane::Extension(ext_name), Lane::Platform, "next");
    let _waiting = WaitingGuard {
        shared: &shared,
        id,
        generation,
    };
    let event = shared
        .wait_until(None, |st| {
            if st.generation != generation {
                return Some(None);
            }
            let ext = st.extensions.find_mut(&id)?;
            let event = ext.pending.take()?;
            ext.idle = false;
            Some(Some(event))
        })
        .await
        .flatten();
    let Some(event) = event else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "the execution environment was reset; this extension process is being replaced",
        ));
    };
    let event_id = Uuid::new_v4().to_string();
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::HeaderName::from_static("lambda-extension-event-identifier"),
                event_id,
            ),
            (header::HeaderName::from_static(IDENTIFIER), id.to_string()),
        ],
        event.to_string(),
    )
        .into_response())
}

struct WaitingGuard<'a> {
    shared: &'a Shared,
    id: Uuid,
    generation: u64,
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        // Nobody waits for a poll to end, so no one needs waking.
        let mut st = self.shared.lock();
        if st.generation == self.generation
            && let Some(ext) = st.extensions.find_mut(&self.id)
        {
            ext.waiting = false;
        }
    }
}

/// `POST /extension/init/error`.
pub async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody<MAX_ERROR_BODY_BYTES>,
) -> Result<Response, ApiError> {
    report_error(&shared, &headers, &body, "Extension.InitError")
}

/// `POST /extension/exit/error`.
pub async fn exit_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody<MAX_ERROR_BODY_BYTES>,
) -> Result<Response, ApiError> {
    report_error(&shared, &headers, &body, "Extension.ExitError")
}

fn report_error(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    platform_type: &'static str,
) -> Result<Response, ApiError> {
    let id = identify(shared, headers)?;
    let reported =
        header_str(headers, "lambda-extension-function-error-type").ok_or_else(|| {
            ApiError::forbidden(
                "Extension.MissingHeader",
                "Lambda-Extension-Function-Error-Type not found",
            )
        })?;
    let detail = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        v.get("errorMessage")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let name = shared.update(|st| {
        let ext = st.extensions.find_mut(&id).expect("identified above");
        ext.failed = true;
        let name = ext.name.clone();
        let message = match &detail {
            Some(detail) => format!("extension {name} reported {reported}: {detail}"),
            None => format!("extension {name} reported {reported}"),
        };
        st.extensions.failure.get_or_insert(ExtensionFailure {
            error_type: platform_type,
            message,
        });
        name
    });
    shared.timeline.mark(Mark::Failure {
        lane: Lane::Extension(name.clone()),
        label: platform_type.to_string(),
    });
    shared.journal.note(format!(
        "extension {name} reported {platform_type}: {reported}"
    ));
    Ok(accepted())
}
