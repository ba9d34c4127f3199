//! The state the APIs and the lifecycle phases share.
//!
//! One mutex guards it and one `Notify` announces every change. The API
//! handlers and the phases wait with [`Shared::wait_until`], which re-checks
//! its condition after every change and can never miss one: the waiter is
//! registered before the condition is read.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::Config;
use crate::isolation::Network;
use crate::lifecycle::invocation::StreamSink;
use crate::streams::delivery::Subscriber;
use crate::streams::journal::Journal;
use crate::streams::timeline::Timeline;

pub struct Shared {
    pub config: Arc<Config>,
    pub journal: Arc<Journal>,
    state: Mutex<State>,
    changed: Notify,
    /// Set by a stop that cannot wait: the invocation in flight ends now.
    terminating: AtomicBool,
    /// Whether the processes are frozen, for the stream deliveries.
    pub frozen: tokio::sync::watch::Sender<bool>,
    /// The processes' network, set once isolation has started (the host's
    /// until then, and without isolation): deliveries connect through it.
    pub network: std::sync::OnceLock<Network>,
    /// Who talked to whom and when, for the lifecycle picture.
    pub timeline: Timeline,
    /// With SnapStart: what the credentials endpoint serves.
    pub credentials: Credentials,
}

/// Everything the APIs and the phases share about the current generation,
/// in five parts, each with one job: what the platform accepts now
/// (`gates`), the runtime, the extensions, the invocation in flight (or, on
/// Managed Instances, the several in flight), and the generation itself.
#[derive(Default)]
pub struct State {
    /// Bumped on every (re-)initialisation, so that a long poll left over from
    /// a killed process never takes an event meant for its successor.
    pub generation: u64,
    pub gates: Gates,
    pub runtime: RuntimeState,
    pub extensions: Extensions,
    /// The classic environment's one invocation in flight.
    pub invocation: Option<Invocation>,
    /// On Managed Instances: the invocations in flight at once.
    pub concurrent: Concurrent,
}

impl State {
    /// The invocation a runtime's answer names: the one in flight, or on
    /// Managed Instances the one of that request id.
    pub fn invocation_mut(&mut self, request_id: &str) -> Option<&mut Invocation> {
        match self.invocation.as_mut() {
            Some(inv) if inv.request_id == request_id => Some(inv),
            _ => self.concurrent.in_flight.get_mut(request_id),
        }
    }
}

/// What the platform accepts at this point of the lifecycle.
#[derive(Default)]
pub struct Gates {
    /// Extensions may register until the runtime's first `next`.
    pub registration_open: bool,
    /// Logs and Telemetry subscriptions are accepted until Init completes.
    pub subscriptions_open: bool,
    /// Shutdown has begun: processes exiting now are expected to.
    pub shutting_down: bool,
}

/// The runtime process, as the Runtime API sees it.
#[derive(Default)]
pub struct RuntimeState {
    pub phase: RuntimePhase,
    /// A `next` is blocked waiting for an event.
    pub waiting: bool,
    /// The event waiting for the runtime's `next`.
    pub event: Option<RuntimeEvent>,
    /// What the runtime reported through `/runtime/init/error`.
    pub init_error: Option<FunctionError>,
    /// With SnapStart: what the runtime reported through
    /// `/runtime/restore/error` (or `/runtime/init/error`) while restoring.
    pub restore_error: Option<FunctionError>,
    /// Set when the runtime process exits, with Lambda's description.
    pub exit: Option<String>,
}

/// The extensions, launched and registered.
#[derive(Default)]
pub struct Extensions {
    /// File names of the external extensions launched in this generation.
    pub launched: Vec<String>,
    /// When each of them was launched.
    pub launch_times: Vec<(String, Instant)>,
    /// Every registration, external and internal, in order.
    pub registered: Vec<ExtensionState>,
    /// External extensions whose process has exited, by file name.
    pub exited: Vec<String>,
    /// The first fatal extension error of this generation.
    pub failure: Option<ExtensionFailure>,
}

/// What a Managed Instances environment works on at once: the runtime's
/// workers each wait in `next`, take the oldest event, and answer it by its
/// request id (docs/src/managed-instances.md#the-runtime-api-under-concurrency).
#[derive(Default)]
pub struct Concurrent {
    /// Events admitted and not yet taken by a worker, oldest first.
    pub queued: std::collections::VecDeque<RuntimeEvent>,
    /// Workers blocked in `next`.
    pub parked: usize,
    /// Every admitted invocation until its caller has the answer.
    pub in_flight: std::collections::HashMap<String, Invocation>,
    /// Request ids that timed out, oldest first, so that a late answer gets
    /// 410 rather than 400.
    pub timed_out: std::collections::VecDeque<String>,
    /// Why the environment takes no more invocations: a failed Init or a
    /// process that exited. Managed Instances are not reset.
    pub unhealthy: Option<FunctionError>,
    /// The most invocations in flight at once so far (in the classic
    /// environment too, where it is one).
    pub peak: usize,
}

impl Concurrent {
    /// Lambda's emulator keeps this many timed-out ids.
    pub const TIMED_OUT_KEPT: usize = 1000;
    /// And parks at most this many `next` calls.
    pub const MAX_PARKED: usize = 10_000;

    pub fn remember_timeout(&mut self, request_id: String) {
        if self.timed_out.len() == Self::TIMED_OUT_KEPT {
            self.timed_out.pop_front();
        }
        self.timed_out.push_back(request_id);
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum RuntimePhase {
    #[default]
    NotStarted,
    /// Started, has not called `next` yet.
    Initializing,
    /// Waiting in `next` with no invocation.
    Ready,
    /// SnapStart: waiting in `/runtime/restore/next`, which ends Init; the
    /// snapshot holds the runtime here.
    RestoreReady,
    /// SnapStart: released from `/runtime/restore/next`, running its
    /// after-restore hooks until its first `next`.
    Restoring,
    Invoking {
        request_id: String,
        responded: bool,
    },
    /// Reported `/runtime/init/error`.
    InitFailed,
}

#[derive(Debug, Clone)]
pub struct RuntimeEvent {
    pub request_id: String,
    pub deadline_ms: i64,
    pub payload: Bytes,
    pub content_type: String,
    pub function_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    /// On Managed Instances: `Lambda-Runtime-Invocation-Id`, new for every
    /// invocation, which the runtime may echo on its answer.
    pub invocation_id: Option<String>,
    /// With tenant isolation: `Lambda-Runtime-Aws-Tenant-Id`.
    pub tenant_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    /// On Managed Instances: the nonce sent with the event.
    pub invocation_id: Option<String>,
    /// A worker has taken the event.
    pub dispatched: bool,
    pub started: Instant,
    pub started_at: DateTime<Utc>,
    pub outcome: Option<Outcome>,
    /// When the runtime's response or error request arrived.
    pub response_started: Option<(Instant, DateTime<Utc>)>,
    /// When its body had been read.
    pub responded: Option<(Instant, DateTime<Utc>)>,
    /// When the runtime called `next` again after responding.
    pub runtime_ready: Option<(Instant, DateTime<Utc>)>,
    /// Where a streamed response goes as it is written, until it starts.
    pub stream_to: Option<StreamSink>,
    /// The bytes a response streamed on to the caller.
    pub streamed_bytes: Option<usize>,
}

impl Invocation {
    /// An invocation begun at `started`, not yet taken or answered.
    pub fn begun(
        request_id: &str,
        invocation_id: Option<String>,
        stream_to: Option<StreamSink>,
        (started, started_at): (Instant, DateTime<Utc>),
    ) -> Self {
        Invocation {
            request_id: request_id.to_string(),
            invocation_id,
            dispatched: false,
            started,
            started_at,
            outcome: None,
            response_started: None,
            responded: None,
            runtime_ready: None,
            stream_to,
            streamed_bytes: None,
        }
    }
}

/// What the runtime answered.
#[derive(Debug, Clone)]
pub enum Outcome {
    Success { body: Bytes, content_type: String },
    Error(FunctionError),
}

/// An error the runtime posted, or one the platform raises for it.
#[derive(Debug, Clone)]
pub struct FunctionError {
    /// The platform's normalised `Category.Reason` (docs/src/runtime-api.md#reporting-an-error).
    pub error_type: String,
    /// The error body as the caller receives it.
    pub body: Value,
}

impl FunctionError {
    /// An error raised by the platform itself, such as `Sandbox.Timeout`.
    pub fn platform(error_type: &str, message: String) -> Self {
        FunctionError {
            error_type: error_type.to_string(),
            body: serde_json::json!({"errorType": error_type, "errorMessage": message}),
        }
    }

    /// The `errorType` the caller sees: the body's own when it has one.
    pub fn caller_error_type(&self) -> String {
        self.body
            .get("errorType")
            .and_then(Value::as_str)
            .unwrap_or(&self.error_type)
            .to_string()
    }
}

#[derive(Debug, Clone)]
pub struct ExtensionFailure {
    /// `Extension.Crash`, `Extension.InitError`, `Extension.ExitError` or `Extension.LaunchError`.
    pub error_type: &'static str,
    pub message: String,
}

#[derive(Clone)]
pub struct ExtensionState {
    pub id: Uuid,
    pub name: String,
    pub external: bool,
    pub invoke: bool,
    pub shutdown: bool,
    /// Blocked in `/extension/event/next`.
    pub waiting: bool,
    /// Has called `next` at least once: its Init is done.
    pub initialized: bool,
    /// Has called `next` since the current event was delivered.
    pub idle: bool,
    pub pending: Option<Value>,
    /// Reported `init/error` or `exit/error`; no further calls succeed.
    pub failed: bool,
    pub shutdown_delivered: bool,
    /// From launch to `/register`, for external extensions.
    pub registered_after_launch: Option<std::time::Duration>,
    /// Its Logs or Telemetry subscription.
    pub subscription: Option<Arc<Subscriber>>,
}

impl ExtensionState {
    pub fn events(&self) -> Vec<&'static str> {
        let mut events = Vec::new();
        if self.invoke {
            events.push("INVOKE");
        }
        if self.shutdown {
            events.push("SHUTDOWN");
        }
        events
    }
}

impl Extensions {
    pub fn find_mut(&mut self, id: &Uuid) -> Option<&mut ExtensionState> {
        self.registered.iter_mut().find(|e| &e.id == id)
    }

    pub fn external_registered(&self) -> bool {
        self.registered.iter().any(|e| e.external)
    }

    pub fn internal_registered(&self) -> bool {
        self.registered.iter().any(|e| !e.external)
    }

    /// A launched external extension that has not registered yet.
    pub fn unregistered_launched(&self) -> Vec<String> {
        self.launched
            .iter()
            .filter(|name| {
                !self
                    .registered
                    .iter()
                    .any(|e| e.external && &e.name == *name)
            })
            .cloned()
            .collect()
    }
}

/// With SnapStart the processes get no keys: they ask the Runtime API's
/// credentials endpoint, with a token from their environment, as a
/// container does (docs/src/snapstart.md#credentials). The keys are the
/// ones the local S3 endpoint accepts; each restore issues a new session
/// token, as Lambda hands a restored environment fresh credentials.
pub struct Credentials {
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN`: fixed for the environment's
    /// life, as the snapshot holds the processes' variables.
    pub token: String,
    issued: Mutex<Issued>,
}

/// One issue of credentials: a session token and when it expires.
#[derive(Clone)]
pub struct Issued {
    pub session_token: String,
    pub expiration: DateTime<Utc>,
}

impl Credentials {
    /// How long issued credentials last, as Lambda's do.
    const LIFETIME: chrono::TimeDelta = chrono::TimeDelta::hours(6);

    pub fn issue() -> Self {
        Credentials {
            token: Uuid::new_v4().to_string(),
            issued: Mutex::new(Self::fresh()),
        }
    }

    fn fresh() -> Issued {
        Issued {
            session_token: format!("sandbox-session-{}", Uuid::new_v4().simple()),
            expiration: Utc::now() + Self::LIFETIME,
        }
    }

    /// New credentials for a restored environment; the old token is spent.
    pub fn rotate(&self) {
        *self.issued.lock().unwrap() = Self::fresh();
    }

    pub fn current(&self) -> Issued {
        self.issued.lock().unwrap().clone()
    }
}

impl Shared {
    pub fn new(config: Arc<Config>, journal: Arc<Journal>) -> Self {
        Shared {
            config,
            journal,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            terminating: AtomicBool::new(false),
            frozen: tokio::sync::watch::Sender::new(false),
            network: std::sync::OnceLock::new(),
            timeline: Timeline::default(),
            credentials: Credentials::issue(),
        }
    }

    /// The state, for a short critical section that never awaits.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Changes the state and wakes every waiter.
    pub fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        let out = change(&mut self.lock());
        self.changed.notify_waiters();
        out
    }

    /// Waits until `check` returns `Some`, or until `deadline`; `None` then.
    pub async fn wait_until<T>(
        &self,
        deadline: Option<Instant>,
        mut check: impl FnMut(&mut State) -> Option<T>,
    ) -> Option<T> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(value) = check(&mut self.lock()) {
                return Some(value);
            }
            match deadline {
                Some(deadline) => {
                    if tokio::time::timeout_at(deadline.into(), notified)
                        .await
                        .is_err()
                    {
                        return check(&mut self.lock());
                    }
                }
                None => notified.await,
            }
        }
    }

    pub fn notify(&self) {
        self.changed.notify_waiters();
    }

    /// Ends the invocation in flight and refuses the ones that follow, for
    /// a shutdown that cannot wait for them.
    pub fn terminate(&self) {
        self.terminating.store(true, Ordering::SeqCst);
        self.notify();
    }

    pub fn terminating(&self) -> bool {
        self.terminating.load(Ordering::SeqCst)
    }
}
