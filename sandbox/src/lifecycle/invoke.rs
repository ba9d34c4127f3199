//! The Invoke phase (docs/src/lifecycle.md#invoke): release the runtime and the INVOKE
//! subscribers together, hand the answer to the caller at once, wait for the
//! runtime's and every extension's `next`, report, freeze. The function
//! timeout bounds the whole phase; a timeout or a crash resets the
//! environment (docs/src/lifecycle.md#reset).

use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::core::{Core, Instance};
use super::invocation::{InvokeRequest, InvokeResult, Status};
use super::{init, restore, shutdown};
use crate::packaging::process::Process;
use crate::state::{FunctionError, Invocation, Outcome, RuntimeEvent, Shared, State};
use crate::streams::journal::{round2, span};
use crate::streams::timeline::{Lane, Mark, Phase};

/// How the phase ended when it did not end well.
pub(super) struct Failure {
    pub status: Status,
    pub error: FunctionError,
}

pub(crate) async fn run(
    core: &Core,
    inst: &mut Instance,
    request: InvokeRequest,
    respond: oneshot::Sender<InvokeResult>,
) {
    let shared = &core.shared;
    let config = &shared.config;
    let request_id = Uuid::new_v4().to_string();

    if shared.terminating() {
        let _ = respond.send(error_result(
            &request_id,
            Status::Failure,
            &terminated_error(&request_id),
        ));
        return;
    }

    // With SnapStart, processes brought up after the first snapshot are
    // brought to it out of sight: Lambda restores the snapshot instead.
    let init_phase = if inst.snapshot_taken {
        init::Phase::Replay
    } else {
        init::Phase::Invoke
    };
    if !inst.initialized
        && let Err(failure) = init::run(core, inst, init_phase).await
    {
        // The invoke carries the Init error; the environment was reset.
        let status = if failure.timed_out {
            Status::Timeout
        } else {
            Status::Error
        };
        shared.timeline.mark(Mark::Begin {
            phase: Phase::Invoke,
            label: request_id.clone(),
        });
        let mut start = json!({"requestId": request_id, "version": config.function_version});
        if let Some(tenant) = &config.tenant_id {
            start["tenantId"] = json!(tenant);
        }
        shared.journal.platform("platform.start", start);
        shared
            .timeline
            .message(Lane::Platform, Lane::Caller, &failure.error.error_type);
        let _ = respond.send(error_result(&request_id, status, &failure.error));
        let report = report_record(
            core,
            inst,
            &request_id,
            status,
            Some(&failure.error),
            0.0,
            None,
            None,
        );
        shared.journal.platform("platform.report", report);
        shared.timeline.mark(Mark::End {
            phase: Phase::Invoke,
        });
        return;
    }

    // A new SnapStart environment starts from the snapshot. When that
    // fails the invocation never starts: the caller gets the service's error.
    if config.snapstart()
        && !inst.restored
        && let Err(error) = restore::run(core, inst).await
    {
        shared
            .timeline
            .message(Lane::Platform, Lane::Caller, &error.error_type);
        let _ = respond.send(error_result(&request_id, Status::Failure, &error));
        return;
    }

    inst.thaw(core);
    let started = Instant::now();
    let started_at = Utc::now();
    let deadline = started + config.timeout;
    let deadline_ms = started_at.timestamp_millis() + config.timeout.as_millis() as i64;
    let trace_id = trace_header(started_at.timestamp());
    shared.timeline.mark(Mark::Begin {
        phase: Phase::Invoke,
        label: request_id.clone(),
    });
    let mut start = json!({
        "requestId": request_id,
        "version": config.function_version,
        "tracing": {"type": "X-Amzn-Trace-Id", "value": trace_id},
    });
    if let Some(tenant) = &config.tenant_id {
        start["tenantId"] = json!(tenant);
    }
    shared.journal.platform("platform.start", start);
    let subscribers = shared.update(|st| {
        // One at a time here: the most in flight is one once any has run.
        st.concurrent.peak = st.concurrent.peak.max(1);
        st.invocation = Some(Invocation::begun(
            &request_id,
            None,
            request.stream_to.clone(),
            (started, started_at),
        ));
        st.runtime.event = Some(RuntimeEvent {
            request_id: request_id.clone(),
            deadline_ms,
            payload: request.payload.clone(),
            content_type: request
                .content_type
                .clone()
                .unwrap_or_else(|| "application/json".into()),
            function_arn: config.function_arn(),
            trace_id: trace_id.clone(),
            client_context: request.client_context.clone(),
            cognito_identity: request.cognito_identity.clone(),
            invocation_id: None,
            tenant_id: config.tenant_id.clone(),
        });
        let event = json!({
            "eventType": "INVOKE",
            "deadlineMs": deadline_ms,
            "requestId": request_id,
            "invokedFunctionArn": config.function_arn(),
            "tracing": {"type": "X-Amzn-Trace-Id", "value": trace_id},
        });
        let mut names = Vec::new();
        for ext in st.extensions.registered.iter_mut().filter(|e| e.invoke) {
            ext.pending = Some(event.clone());
            ext.idle = false;
            names.push(ext.name.clone());
        }
        names
    });
    shared
        .timeline
        .message(Lane::Platform, Lane::Runtime, "event");
    for name in &subscribers {
        shared
            .timeline
            .message(Lane::Platform, Lane::Extension(name.clone()), "INVOKE");
    }
    shared.journal.note(format!(
        "invoke {request_id}: event released to the runtime and to {} INVOKE subscriber(s) {subscribers:?}",
        subscribers.len()
    ));

    // The runtime's answer goes to the caller the moment it arrives.
    let answered = shared
        .wait_until(Some(deadline), |st| {
            if let Some(outcome) = st.invocation.as_ref().and_then(|i| i.outcome.clone()) {
                return Some(Ok(outcome));
            }
            fatal(shared, st, &request_id).map(Err)
        })
        .await;
    let mut respond = Some(respond);
    let mut answer = |result: InvokeResult| {
        if let Some(tx) = respond.take() {
            let label = result.error_type.as_deref().unwrap_or("response");
            shared.timeline.message(Lane::Platform, Lane::Caller, label);
            let _ = tx.send(result);
        }
    };
    let failure = match answered {
        Some(Ok(outcome)) => {
            answer(outcome_result(&request_id, &outcome));
            finish(core, &request_id, deadline, &outcome).await
        }
        Some(Err(failure)) => Some(failure),
        None => Some(timeout_failure(&request_id, config.timeout)),
    };
    if let Some(failure) = &failure {
        answer(error_result(&request_id, failure.status, &failure.error));
    }
    complete(core, inst, &request_id, failure).await;
}

/// After the answer: wait for the runtime's `next` (runtimeDone), then for
/// every INVOKE subscriber's `next`. Returns the failure, if any.
async fn finish(
    core: &Core,
    request_id: &str,
    deadline: Instant,
    outcome: &Outcome,
) -> Option<Failure> {
    let shared = &core.shared;
    let runtime_ready = shared
        .wait_until(Some(deadline), |st| {
            if st.invocation.as_ref()?.runtime_ready.is_some() {
                return Some(Ok(()));
            }
            fatal(shared, st, request_id).map(Err)
        })
        .await;
    match runtime_ready {
        Some(Ok(())) => {}
        Some(Err(failure)) => return Some(failure),
        None => return Some(timeout_failure(request_id, shared.config.timeout)),
    }
    let (status, error) = match outcome {
        Outcome::Success { .. } => (Status::Success, None),
        Outcome::Error(e) => (Status::Error, Some(e)),
    };
    shared.journal.platform(
        "platform.runtimeDone",
        runtime_done_record(core, request_id, status, error),
    );
    let extensions_ready = shared
        .wait_until(Some(deadline), |st| {
            if st
                .extensions
                .registered
                .iter()
                .filter(|e| e.invoke)
                .all(|e| e.idle)
            {
                return Some(Ok(()));
            }
            fatal(shared, st, request_id).map(Err)
        })
        .await;
    match extensions_ready {
        Some(Ok(())) => None,
        Some(Err(failure)) => Some(failure),
        None => Some(timeout_failure(request_id, shared.config.timeout)),
    }
}

/// The report, then a freeze, or a reset after a failure.
async fn complete(core: &Core, inst: &mut Instance, request_id: &str, failure: Option<Failure>) {
    let shared = &core.shared;
    let now = Instant::now();
    let inv = shared.lock().invocation.clone().expect("set by this phase");
    let runtime_done_emitted = inv.runtime_ready.is_some();
    let runtime_end = inv.runtime_ready.map_or(now, |(at, _)| at);
    let duration_ms = (runtime_end - inv.started).as_secs_f64() * 1000.0;
    // Without extensions there is no extension overhead to report.
    let has_extensions = !shared.lock().extensions.registered.is_empty();
    let overhead = inv
        .runtime_ready
        .filter(|_| has_extensions)
        .map(|(at, at_utc)| {
            let ms = (now - at).as_secs_f64() * 1000.0;
            span("extensionOverhead", at_utc, ms)
        });
    let (status, error) = match &failure {
        None => match &inv.outcome {
            Some(Outcome::Error(e)) => (Status::Error, Some(e.clone())),
            _ => (Status::Success, None),
        },
        Some(f) => (f.status, Some(f.error.clone())),
    };
    if failure.is_some() && !runtime_done_emitted {
        shared.journal.platform(
            "platform.runtimeDone",
            runtime_done_record(core, request_id, status, error.as_ref()),
        );
    }
    let total_ms = (now - inv.started).as_secs_f64() * 1000.0;
    let report = report_record(
        core,
        inst,
        request_id,
        status,
        error.as_ref(),
        duration_ms,
        Some(total_ms),
        overhead,
    );
    shared.journal.platform("platform.report", report);
    shared.timeline.mark(Mark::End {
        phase: Phase::Invoke,
    });
    shared.update(|st| st.invocation = None);
    match failure {
        None => {
            inst.freeze(core);
        }
        // The stop that ended it shuts the environment down next.
        Some(_) if shared.terminating() => {}
        Some(f) => {
            shared.timeline.mark(Mark::Failure {
                lane: Lane::Platform,
                label: format!("reset: {}", f.error.error_type),
            });
            shared.journal.note(format!(
                "resetting the environment after {} ({}); the next invoke re-runs Init",
                f.status, f.error.error_type
            ));
            let reason = if f.status == Status::Timeout {
                shutdown::Reason::Timeout
            } else {
                shutdown::Reason::Failure
            };
            shutdown::run(core, inst, reason).await;
        }
    }
}

/// A crash, a reported extension error or a stop ends the invocation.
pub(super) fn fatal(shared: &Shared, st: &State, request_id: &str) -> Option<Failure> {
    if shared.terminating() {
        return Some(Failure {
            status: Status::Failure,
            error: terminated_error(request_id),
        });
    }
    if let Some(exit) = &st.runtime.exit {
        return Some(Failure {
            status: Status::Error,
            error: FunctionError::platform(
                "Runtime.ExitError",
                format!("RequestId: {request_id} Error: Runtime exited with error: {exit}"),
            ),
        });
    }
    st.extensions.failure.as_ref().map(|f| Failure {
        status: Status::Error,
        error: FunctionError::platform(
            f.error_type,
            format!("RequestId: {request_id} Error: {}", f.message),
        ),
    })
}

fn terminated_error(request_id: &str) -> FunctionError {
    FunctionError::platform(
        "Sandbox.Failure",
        format!(
            "RequestId: {request_id} Error: the sandbox was stopped before the invocation could finish"
        ),
    )
}

fn timeout_failure(request_id: &str, timeout: Duration) -> Failure {
    Failure {
        status: Status::Timeout,
        error: FunctionError::platform(
            "Sandbox.Timeout",
            format!(
                "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                timeout.as_secs_f64()
            ),
        ),
    }
}

pub(super) fn outcome_result(request_id: &str, outcome: &Outcome) -> InvokeResult {
    match outcome {
        Outcome::Success { body, content_type } => InvokeResult {
            request_id: request_id.to_string(),
            status: Status::Success,
            payload: body.clone(),
            content_type: content_type.clone(),
            error_type: None,
        },
        Outcome::Error(error) => error_result(request_id, Status::Error, error),
    }
}

pub(super) fn error_result(
    request_id: &str,
    status: Status,
    error: &FunctionError,
) -> InvokeResult {
    InvokeResult {
        request_id: request_id.to_string(),
        status,
        payload: Bytes::from(error.body.to_string()),
        content_type: "application/json".into(),
        error_type: Some(error.caller_error_type()),
    }
}

fn runtime_done_record(
    core: &Core,
    request_id: &str,
    status: Status,
    error: Option<&FunctionError>,
) -> Value {
    let st = core.shared.lock();
    let mut record = json!({"requestId": request_id, "status": status.to_string()});
    if let Some(tenant) = &core.shared.config.tenant_id {
        record["tenantId"] = json!(tenant);
    }
    if let Some(error) = error {
        record["errorType"] = json!(error.error_type);
    }
    if let Some(inv) = &st.invocation {
        let ms = |from: Instant, to: Instant| {
            (to.saturating_duration_since(from)).as_secs_f64() * 1000.0
        };
        let mut spans = Vec::new();
        if let (Some((rs, rs_utc)), Some((rd, rd_utc))) = (inv.response_started, inv.responded) {
            spans.push(span("responseLatency", inv.started_at, ms(inv.started, rs)));
            spans.push(span("responseDuration", rs_utc, ms(rs, rd)));
            if let Some((ready, _)) = inv.runtime_ready {
                spans.push(span("runtimeOverhead", rd_utc, ms(rd, ready)));
            }
        }
        let end = inv.runtime_ready.map_or_else(Instant::now, |(at, _)| at);
        let mut metrics = json!({"durationMs": round2(ms(inv.started, end))});
        if let Some(Outcome::Success { body, .. }) = &inv.outcome {
            metrics["producedBytes"] = json!(inv.streamed_bytes.unwrap_or(body.len()));
        }
        record["metrics"] = metrics;
        if !spans.is_empty() {
            record["spans"] = json!(spans);
        }
    }
    record
}

#[allow(clippy::too_many_arguments)]
fn report_record(
    core: &Core,
    inst: &mut Instance,
    request_id: &str,
    status: Status,
    error: Option<&FunctionError>,
    duration_ms: f64,
    total_ms: Option<f64>,
    overhead: Option<Value>,
) -> Value {
    let config = &core.shared.config;
    let peak_kib: u64 = inst.processes().map(Process::peak_rss_kib).sum();
    let mut metrics = json!({
        "durationMs": round2(duration_ms),
        "billedDurationMs": total_ms.unwrap_or(duration_ms).ceil().max(1.0) as u64,
        "memorySizeMB": config.memory_mb,
        "maxMemoryUsedMB": peak_kib.div_ceil(1024),
    });
    if let Some(init) = inst.init_duration_ms.take() {
        metrics["initDurationMs"] = json!(round2(init));
    }
    if let Some(restore) = inst.restore_duration_ms.take() {
        metrics["restoreDurationMs"] = json!(round2(restore));
    }
    let mut record =
        json!({"requestId": request_id, "status": status.to_string(), "metrics": metrics});
    if let Some(error) = error {
        record["errorType"] = json!(error.error_type);
    }
    if let Some(overhead) = overhead {
        record["spans"] = json!([overhead]);
    }
    record
}

/// An X-Ray trace header, `Root=1-<epoch hex>-<96-bit id>;Parent=…;Sampled=0`.
pub(super) fn trace_header(epoch_secs: i64) -> String {
    let id = Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{epoch_secs:08x}-{};Parent={};Sampled=0",
        &id[..24],
        &id[16..32]
    )
}
