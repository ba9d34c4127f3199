//! The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) in
//! front of an environment, so that `aws lambda invoke --endpoint-url` and
//! the AWS SDKs can call the function.
//!
//! One environment serves one request at a time, as one Lambda execution
//! environment does, or up to its maximum concurrency on Managed Instances.
//! A caller beyond that is throttled (429 `TooManyRequestsException`), as
//! Lambda throttles a function whose concurrency is used up; a request that
//! arrives once the previous caller has its answer waits for the end of
//! that phase. `Event` invocations queue. Every refusal has
//! the Lambda service's shape: a status, an `x-amzn-ErrorType` header and a
//! JSON body. The server itself is bounded: a cap on open connections and a
//! deadline for request headers, so one client cannot starve the others.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt, Limited};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};

mod event_stream;
mod tenants;

pub use tenants::TENANT_HEADER;
use tenants::{Environments, Refusal};

use crate::api::http::header_str;
use crate::config::BusyAnswer;
use crate::config::Config;
use crate::lifecycle::environment::{Busy, Environment};
use crate::lifecycle::invocation::{InvokeRequest, InvokeResult, Status, StreamPart};
use crate::streams::journal::cloudwatch_text;

/// How many pieces of a streamed response wait between the function and
/// a caller of `InvokeWithResponseStream`: a slow caller soon slows the
/// function down.
const STREAM_PARTS_BUFFERED: usize = 8;

/// Synchronous invocations accept at most 6 MB of payload.
pub const MAX_SYNC_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Asynchronous (`Event`) invocations accept at most 1 MB.
pub const MAX_EVENT_PAYLOAD_BYTES: usize = 1024 * 1024;
/// `X-Amz-Log-Result` carries the last 4 KB of the invocation's log.
const LOG_TAIL_BYTES: usize = 4096;

/// How much the server takes on at once. Lambda's own front end has no
/// published figures for these; they are the sandbox's (`[INF]`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections; one more is answered 429 and closed.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how long
    /// an idle keep-alive connection stays open.
    pub header_timeout: Duration,
    /// `Event` invocations waiting to run; one more is answered 429.
    pub max_queued_events: usize,
    /// With tenant isolation, the tenants served at once, each with its own
    /// environment; one more is answered 429. Lambda allows 2,500 per 1,000
    /// of concurrency; a laptop holds fewer.
    pub max_tenants: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            max_queued_events: 100,
            max_tenants: 64,
        }
    }
}

/// The requests in flight, so that a stop can refuse new ones and wait for
/// those already taken.
#[derive(Default)]
struct Gate {
    draining: AtomicBool,
    in_flight: AtomicUsize,
    queued_events: AtomicUsize,
    idle: Notify,
}

/// One request counted in flight until dropped.
struct Ticket(Arc<Gate>);

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Gate {
    fn enter(self: &Arc<Self>) -> Option<Ticket> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let ticket = Ticket(self.clone());
        (!self.draining.load(Ordering::SeqCst)).then_some(ticket)
    }
}

#[derive(Clone)]
struct Front {
    environments: Arc<Environments>,
    /// Sent when a request arrives with an empty payload.
    default_event: Option<Bytes>,
    function_name: String,
    version: String,
    region: String,
    account_id: String,
    limits: Limits,
    gate: Arc<Gate>,
}

/// The Invoke API being served; it stops accepting connections when dropped.
pub struct InvokeApi {
    pub addr: SocketAddr,
    gate: Arc<Gate>,
    environments: Arc<Environments>,
    task: tokio::task::JoinHandle<()>,
}

impl InvokeApi {
    /// Every environment it has started or was given.
    pub async fn environments(&self) -> Vec<Environment> {
        self.environments.all().await
    }

    /// One tenant's environment, once it has served that tenant.
    pub async fn tenant(&self, tenant: &str) -> Option<Environment> {
        self.environments.tenant(tenant).await
    }
}

impl InvokeApi {
    /// Answers new invocations with 503 from now on, and waits until those
    /// already accepted (including queued `Event` invocations) are done.
    pub async fn drain(&self) {
        self.gate.draining.store(true, Ordering::SeqCst);
        loop {
            let idle = self.gate.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.gate.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl InvokeApi {
    /// Stops accepting connections and waits until the server, and the
    /// environment it holds, are let go: dropping it only asks for that.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for InvokeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn router(front: Front) -> Router {
    Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .route(
            "/2021-11-15/functions/{name}/response-streaming-invocations",
            post(invoke_with_response_stream),
        )
        .with_state(front)
}

/// Serves the Invoke API on `addr` with the default [`Limits`]. Requests
/// with an empty payload get `default_event`, when there is one.
pub async fn serve(
    env: Environment,
    addr: SocketAddr,
    default_event: Option<Bytes>,
) -> std::io::Result<InvokeApi> {
    serve_with(env, addr, default_event, Limits::default()).await
}

/// [`serve`] with other limits.
pub async fn serve_with(
    env: Environment,
    addr: SocketAddr,
    default_event: Option<Bytes>,
    limits: Limits,
) -> std::io::Result<InvokeApi> {
    serve_environments(Environments::Shared(env), addr, default_event, limits).await
}

/// The Invoke API of a function with tenant isolation: every request names
/// its tenant in `X-Amz-Tenant-Id`, and each tenant gets an environment of
/// its own, started from `config` on its first invocation.
pub async fn serve_tenants(
    config: Config,
    addr: SocketAddr,
    default_event: Option<Bytes>,
    limits: Limits,
) -> std::io::Result<InvokeApi> {
    let environments = Environments::per_tenant(config, limits.max_tenants);
    serve_environments(environments, addr, default_event, limits).await
}

async fn serve_environments(
    environments: Environments,
    addr: SocketAddr,
    default_event: Option<Bytes>,
    limits: Limits,
) -> std::io::Result<InvokeApi> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let config = environments.config();
    let gate = Arc::new(Gate::default());
    let front = Front {
        default_event,
        function_name: config.function_name.clone(),
        version: config.function_version.clone(),
        region: config.region.clone(),
        account_id: config.account_id.clone(),
        limits,
        gate: gate.clone(),
        environments: Arc::new(environments),
    };
    let environments = front.environments.clone();
    let app = router(front);
    let task = tokio::spawn(accept(listener, app, limits));
    Ok(InvokeApi {
        addr: local,
        gate,
        environments,
        task,
    })
}

async fn accept(listener: TcpListener, app: Router, limits: Limits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let socket = match listener.accept().await {
            Ok((socket, _)) => socket,
            // Out of file descriptors, most likely: wait for some to close.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small answers; Nagle would add 40 ms to each.
        let _ = socket.set_nodelay(true);
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let service = TowerToHyperService::new(app.clone());
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(limits.header_timeout)
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                    drop(slot);
                });
            }
            Err(_) => {
                tokio::spawn(refuse_connection(socket, limits.max_connections));
            }
        }
    }
}

/// The answer to a connection over the cap: Lambda's throttling error, then
/// the connection is closed.
async fn refuse_connection(mut socket: TcpStream, max: usize) {
    let body = json!({
        "Type": "User",
        "message": format!(
            "Rate Exceeded: the sandbox's Invoke API already has {max} open connections; close idle ones or retry later"
        ),
    })
    .to_string();
    let answer = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nx-amzn-errortype: TooManyRequestsException\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = socket.write_all(answer.as_bytes()).await;
        let _ = socket.shutdown().await;
    })
    .await;
}

/// A refusal in the Lambda service's shape: a status, the error's type in
/// `x-amzn-ErrorType`, and `{"Type","message"}`.
struct ServiceError {
    status: StatusCode,
    error_type: &'static str,
    message: String,
    /// Why a throttle happened, as `TooManyRequestsException` says.
    reason: Option<&'static str>,
}

fn service_error(status: StatusCode, error_type: &'static str, message: String) -> ServiceError {
    ServiceError {
        status,
        error_type,
        message,
        reason: None,
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        (
            self.status,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (
                    header::HeaderName::from_static("x-amzn-errortype"),
                    HeaderValue::from_static(self.error_type),
                ),
            ],
            match self.reason {
                Some(reason) => json!({"Reason": reason, "Type": "User", "message": self.message}),
                None => json!({"Type": "User", "message": self.message}),
            }
            .to_string(),
        )
            .into_response()
    }
}

impl Front {
    fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.function_name
        )
    }

    /// Whether the path names this function: by name, partial ARN
    /// (`ACCOUNT:function:NAME`) or full ARN, each with an optional
    /// qualifier, here or in `?Qualifier=`.
    fn resolve(&self, name: &str, query_qualifier: Option<&str>) -> Result<(), ServiceError> {
        let parts: Vec<&str> = name.split(':').collect();
        let (region, account, rest) = match parts.as_slice() {
            [
                "arn",
                "aws",
                "lambda",
                region,
                account,
                "function",
                rest @ ..,
            ] => (Some(*region), Some(*account), rest),
            [account, "function", rest @ ..] => (None, Some(*account), rest),
            rest => (None, None, rest),
        };
        let (function, qualifier) = match rest {
            [function] => (*function, None),
            [function, qualifier] => (*function, Some(*qualifier)),
            _ => {
                return Err(service_error(
                    StatusCode::BAD_REQUEST,
                    "ValidationException",
                    format!(
                        "1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint: use a function name, a partial ARN (ACCOUNT:function:NAME) or a full ARN"
                    ),
                ));
            }
        };
        let qualifier = qualifier.or(query_qualifier);
        let ours = function == self.function_name
            && account.is_none_or(|a| a == self.account_id)
            && region.is_none_or(|r| r == self.region)
            && qualifier.is_none_or(|q| q == "$LATEST" || q == self.version);
        if ours {
            return Ok(());
        }
        let asked = match qualifier {
            Some(q) => format!("{name}:{q}"),
            None => name.to_string(),
        };
        Err(service_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!(
                "Function not found: {asked}. This sandbox runs {} (version {}) in account {} and region {}",
                self.arn(),
                self.version,
                self.account_id,
                self.region
            ),
        ))
    }
}

fn too_large(limit: usize) -> ServiceError {
    service_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLargeException",
        format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
    )
}

/// The request's payload, refused with 413 as soon as its length shows it
/// is over `limit`, without buffering more than `limit` bytes.
async fn read_payload(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ServiceError> {
    let declared = header_str(headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(too_large(limit)),
        Err(_) => Err(service_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "The request body was cut short before its end".into(),
        )),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

fn invocation_type(headers: &HeaderMap) -> Result<InvocationType, ServiceError> {
    match header_str(headers, "x-amz-invocation-type").unwrap_or("RequestResponse") {
        "RequestResponse" => Ok(InvocationType::RequestResponse),
        "Event" => Ok(InvocationType::Event),
        "DryRun" => Ok(InvocationType::DryRun),
        other => Err(service_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            format!("Invalid invocation type {other:?}: use RequestResponse, Event or DryRun"),
        )),
    }
}

fn client_context(headers: &HeaderMap) -> Result<Option<String>, ServiceError> {
    let Some(encoded) = header_str(headers, "x-amz-client-context") else {
        return Ok(None);
    };
    match STANDARD.decode(encoded) {
        Ok(decoded) => Ok(Some(String::from_utf8_lossy(&decoded).into_owned())),
        Err(_) => Err(service_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "X-Amz-Client-Context must be base64-encoded JSON".into(),
        )),
    }
}

fn query_qualifier(uri: &Uri) -> Option<String> {
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("Qualifier="))
        .map(str::to_string)
}

async fn invoke(
    State(front): State<Front>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(ticket) = front.gate.enter() else {
        return shutting_down();
    };
    let env = match accept_invocation(&front, &name, &uri, &headers, body).await {
        Ok(accepted) => match environment(&front, &headers).await {
            Ok(env) => Ok((accepted, env)),
            Err(refusal) => Err(refusal),
        },
        Err(refusal) => Err(refusal),
    };
    match env {
        Ok(((InvocationType::RequestResponse, request), env)) => {
            let tail = header_str(&headers, "x-amz-log-type") == Some("Tail");
            invoke_sync(&front, &env, request, tail).await
        }
        Ok(((InvocationType::Event, request), env)) => queue_event(&front, env, request, ticket),
        Ok(((InvocationType::DryRun, _), _)) => StatusCode::NO_CONTENT.into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// Checks everything Lambda checks before it runs anything.
async fn accept_invocation(
    front: &Front,
    name: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<(InvocationType, InvokeRequest), ServiceError> {
    front.resolve(name, query_qualifier(uri).as_deref())?;
    let kind = invocation_type(headers)?;
    let limit = match kind {
        InvocationType::Event => MAX_EVENT_PAYLOAD_BYTES,
        _ => MAX_SYNC_PAYLOAD_BYTES,
    };
    let body = read_payload(headers, body, limit).await?;
    let client_context = client_context(headers)?;
    if !body.is_empty()
        && let Err(err) = serde_json::from_slice::<serde::de::IgnoredAny>(&body)
    {
        return Err(service_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            format!("Could not parse request body into json: {err}"),
        ));
    }
    let payload = match &front.default_event {
        Some(event) if body.is_empty() => event.clone(),
        _ => body,
    };
    Ok((
        kind,
        InvokeRequest {
            payload,
            content_type: None,
            client_context,
            cognito_identity: None,
            stream_to: None,
        },
    ))
}

/// Every slot of the environment is taken: Lambda's throttle, as a
/// function whose concurrency is used up gets it (or, when asked for,
/// the answer of AWS's local emulator on Managed Instances).
fn busy_answer(env: &Environment, busy: Busy) -> Response {
    let config = env.config();
    match config.busy_answer {
        BusyAnswer::TooManyRequests => ServiceError {
            status: StatusCode::TOO_MANY_REQUESTS,
            error_type: "TooManyRequestsException",
            message: format!("Rate Exceeded: {busy}; retry when one has its answer"),
            // One classic environment is a function with a reserved
            // concurrency of one; the Managed Instances reason is not
            // documented.
            reason: Some(if config.managed_instances() {
                "ConcurrentInvocationLimitExceeded"
            } else {
                "ReservedFunctionConcurrentInvocationLimitExceeded"
            }),
        }
        .into_response(),
        BusyAnswer::RuntimeUnavailable => service_error(
            StatusCode::BAD_REQUEST,
            "Runtime.Unavailable",
            format!("No runtime worker is free: {busy}"),
        )
        .into_response(),
    }
}

/// A SnapStart restore that failed is the service's error, not the
/// function's: 400 `SnapStartException` when an after-restore hook failed,
/// 408 `SnapStartTimeoutException` when the hooks overran.
fn restore_refusal(result: &InvokeResult) -> Option<ServiceError> {
    let (status, error_type) = match result.error_type.as_deref()? {
        "SnapStartException" => (StatusCode::BAD_REQUEST, "SnapStartException"),
        "SnapStartTimeoutException" => (StatusCode::REQUEST_TIMEOUT, "SnapStartTimeoutException"),
        _ => return None,
    };
    let message = serde_json::from_slice::<serde_json::Value>(&result.payload)
        .ok()
        .and_then(|body| body["errorMessage"].as_str().map(str::to_string))
        .unwrap_or_default();
    Some(service_error(status, error_type, message))
}

/// The environment that serves this request: the function's one, or, with
/// tenant isolation, the tenant's own.
async fn environment(front: &Front, headers: &HeaderMap) -> Result<Environment, ServiceError> {
    let tenant = header_str(headers, TENANT_HEADER);
    front.environments.for_tenant(tenant).await.map_err(|refusal| {
        let invalid = |message: String| {
            service_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                message,
            )
        };
        match refusal {
            Refusal::Missing => invalid(
                "This function has tenant isolation: name the tenant in the X-Amz-Tenant-Id header (aws lambda invoke --tenant-id ID)".into(),
            ),
            Refusal::Unexpected => invalid(
                "X-Amz-Tenant-Id was passed to a function without tenant isolation: drop the header, or serve with --tenant-isolation".into(),
            ),
            Refusal::Invalid(message) => invalid(message),
            Refusal::TooMany(max) => service_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                format!("Rate exceeded: the sandbox already runs {max} tenants' environments"),
            ),
            Refusal::Start(message) => service_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                format!("the tenant's environment could not start: {message}"),
            ),
        }
    })
}

/// An `Event` invocation runs in the background; the caller gets 202 at once.
fn queue_event(
    front: &Front,
    env: Environment,
    request: InvokeRequest,
    ticket: Ticket,
) -> Response {
    let gate = &front.gate;
    if gate.queued_events.fetch_add(1, Ordering::SeqCst) >= front.limits.max_queued_events {
        gate.queued_events.fetch_sub(1, Ordering::SeqCst);
        return service_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            format!(
                "Rate Exceeded: {} asynchronous invocations are already waiting in the sandbox",
                front.limits.max_queued_events
            ),
        )
        .into_response();
    }
    let gate = gate.clone();
    tokio::spawn(async move {
        env.invoke(request).await;
        gate.queued_events.fetch_sub(1, Ordering::SeqCst);
        drop(ticket);
    });
    StatusCode::ACCEPTED.into_response()
}

async fn invoke_sync(
    front: &Front,
    env: &Environment,
    request: InvokeRequest,
    tail: bool,
) -> Response {
    let mark = env.journal_len();
    let result = match env.try_invoke(request).await {
        Ok(result) => result,
        Err(busy) => return busy_answer(env, busy),
    };
    if let Some(refusal) = restore_refusal(&result) {
        return refusal.into_response();
    }
    let mut response = (StatusCode::OK, result.payload.clone()).into_response();
    let out = response.headers_mut();
    answer_headers(out, front, &result);
    if result.status != Status::Success {
        out.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    if tail && let Ok(value) = HeaderValue::from_str(&log_tail(env, mark).await) {
        response.headers_mut().insert("x-amz-log-result", value);
    }
    response
}

/// The last 4 KB of the invocation's log, base64, once its phase is over
/// (the log ends with the REPORT line).
async fn log_tail(env: &Environment, mark: usize) -> String {
    env.wait_idle().await;
    let text = cloudwatch_text(&env.records_from(mark));
    let start = text.len().saturating_sub(LOG_TAIL_BYTES);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    STANDARD.encode(&text.as_bytes()[start..])
}

/// `InvokeWithResponseStream`: the same checks and the same invocation as
/// `Invoke`, answered as an event stream: the response's bytes as
/// `PayloadChunk` events while the function writes them, then
/// `InvokeComplete` (with the log tail on `Tail`). A function that answers
/// buffered gets its whole payload sent at once.
async fn invoke_with_response_stream(
    State(front): State<Front>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(ticket) = front.gate.enter() else {
        return shutting_down();
    };
    let accepted = match accept_invocation(&front, &name, &uri, &headers, body).await {
        Ok(accepted) => accepted,
        Err(refusal) => return refusal.into_response(),
    };
    let mut request = match accepted {
        (InvocationType::RequestResponse, request) => request,
        (InvocationType::DryRun, _) => return StatusCode::NO_CONTENT.into_response(),
        (InvocationType::Event, _) => {
            return service_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                "InvokeWithResponseStream takes X-Amz-Invocation-Type RequestResponse or DryRun; use Invoke for Event".into(),
            )
            .into_response();
        }
    };
    let env = match environment(&front, &headers).await {
        Ok(env) => env,
        Err(refusal) => return refusal.into_response(),
    };
    let mark = env.journal_len();
    let tail = header_str(&headers, "x-amz-log-type") == Some("Tail");
    let (sink, mut parts) = tokio::sync::mpsc::channel(STREAM_PARTS_BUFFERED);
    request.stream_to = Some(sink);
    let mut invoking = {
        let env = env.clone();
        tokio::spawn(async move { env.try_invoke(request).await })
    };
    // The answer starts when the stream does, or when the invocation has
    // ended without one (a buffered answer, an error, a refusal).
    let start = tokio::select! {
        biased;
        part = parts.recv() => match part {
            Some(StreamPart::Start { content_type, request_id }) => Ok((content_type, request_id)),
            _ => Err(None),
        },
        ended = &mut invoking => Err(Some(ended)),
    };
    let (content_type, request_id) = match start {
        Ok(start) => start,
        Err(ended) => {
            let ended = match ended {
                Some(ended) => ended,
                None => invoking.await,
            };
            return buffered_stream_answer(&front, &env, ended, tail.then_some(mark)).await;
        }
    };
    let (mut writer, body) = http_body_util::channel::Channel::<Bytes>::new(STREAM_PARTS_BUFFERED);
    tokio::spawn(async move {
        let _ticket = ticket;
        // Each piece goes on as it comes; a caller that has gone away is
        // not written to, but the function is read to its end all the same.
        let mut reading = true;
        let result = loop {
            tokio::select! {
                biased;
                part = parts.recv() => match part {
                    Some(StreamPart::Chunk(bytes)) => {
                        if reading && writer.send_data(event_stream::payload_chunks(&bytes)).await.is_err() {
                            reading = false;
                        }
                    }
                    Some(StreamPart::Start { .. }) => {}
                    None => break (&mut invoking).await,
                },
                result = &mut invoking => {
                    // What was sent before the answer is still buffered.
                    while let Ok(part) = parts.try_recv() {
                        if let StreamPart::Chunk(bytes) = part
                            && reading
                            && writer.send_data(event_stream::payload_chunks(&bytes)).await.is_err()
                        {
                            reading = false;
                        }
                    }
                    break result;
                }
            }
        };
        if let Ok(Ok(result)) = result {
            let log = if tail {
                Some(log_tail(&env, mark).await)
            } else {
                None
            };
            let _ = writer
                .send_data(event_stream::invoke_complete(&result, log))
                .await;
        }
    });
    let mut response = (StatusCode::OK, Body::new(body)).into_response();
    let out = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        out.insert(header::CONTENT_TYPE, value);
    }
    out.insert(
        "x-amz-executed-version",
        HeaderValue::from_str(&front.version).unwrap_or(HeaderValue::from_static("$LATEST")),
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        out.insert("x-amzn-requestid", value);
    }
    response
}

/// An `InvokeWithResponseStream` answer sent whole: the function answered
/// buffered, failed, or never ran. `tail_from` is the journal mark of a
/// `Tail` request.
async fn buffered_stream_answer(
    front: &Front,
    env: &Environment,
    ended: Result<Result<InvokeResult, Busy>, tokio::task::JoinError>,
    tail_from: Option<usize>,
) -> Response {
    let result = match ended {
        Ok(Ok(result)) => result,
        Ok(Err(busy)) => return busy_answer(env, busy),
        Err(_) => return shutting_down(),
    };
    if let Some(refusal) = restore_refusal(&result) {
        return refusal.into_response();
    }
    let log = match tail_from {
        Some(mark) => Some(log_tail(env, mark).await),
        None => None,
    };
    let mut response = (StatusCode::OK, event_stream::body(&result, log)).into_response();
    // The API binds the stream's content type (the function's) to
    // Content-Type, as Invoke does the payload's.
    answer_headers(response.headers_mut(), front, &result);
    response
}

/// What every answer of an invocation says: the payload's content type,
/// the version that ran, the request id.
fn answer_headers(out: &mut HeaderMap, front: &Front, result: &InvokeResult) {
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
}

/// The answer to a request that arrives once a stop has begun.
fn shutting_down() -> Response {
    service_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceException",
        "The sandbox is shutting down: it finishes the invocations it has and takes no new ones"
            .into(),
    )
    .into_response()
}
