//! The Invoke phase on Managed Instances (docs/src/managed-instances.md):
//! several at once, none waiting for another. Each invocation is queued
//! for the next free worker's `next`, answered by its request id, and
//! reported on its own. Nothing is frozen, and no extension hears INVOKE.
//!
//! A timeout fails that invocation alone (`Sandbox.Timedout`): the worker
//! carries on and its late answer gets 410. A process that exits fails
//! every invocation in flight with its error, and the environment shuts
//! down and stays down: Managed Instances are replaced, not reset.

use std::sync::{Arc, Weak};
use std::time::Instant;

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use super::core::Core;
use super::invocation::{InvokeRequest, InvokeResult, Status};
use super::invoke::{Failure, error_result, fatal, outcome_result, trace_header};
use super::shutdown;
use crate::state::{FunctionError, Invocation, Outcome, RuntimeEvent, Shared, State};
use crate::streams::journal::span;
use crate::streams::timeline::{Lane, Mark, Phase};

/// Runs one invocation; the caller has a slot (see `Environment::invoke`).
pub(crate) async fn run(core: &Core, request: InvokeRequest) -> InvokeResult {
    let shared = &core.shared;
    let config = &shared.config;
    let request_id = Uuid::new_v4().to_string();
    let started = Instant::now();
    let started_at = Utc::now();
    let deadline = started + config.timeout;
    let trace_id = trace_header(started_at.timestamp());
    let stream_to = request.stream_to.clone();
    let event = RuntimeEvent {
        request_id: request_id.clone(),
        deadline_ms: started_at.timestamp_millis() + config.timeout.as_millis() as i64,
        payload: request.payload,
        content_type: request
            .content_type
            .unwrap_or_else(|| "application/json".into()),
        function_arn: config.function_arn(),
        trace_id: trace_id.clone(),
        client_context: request.client_context,
        cognito_identity: request.cognito_identity,
        invocation_id: Some(Uuid::new_v4().to_string()),
        tenant_id: None,
    };
    let admitted = shared.update(|st| {
        if let Some(refusal) = refusal(shared, st, &request_id) {
            return Err(refusal);
        }
        let concurrent = &mut st.concurrent;
        concurrent.in_flight.insert(
            request_id.clone(),
            Invocation::begun(
                &request_id,
                event.invocation_id.clone(),
                stream_to,
                (started, started_at),
            ),
        );
        concurrent.queued.push_back(event);
        concurrent.peak = concurrent.peak.max(concurrent.in_flight.len());
        Ok(())
    });
    if let Err(error) = admitted {
        let result = error_result(&request_id, Status::Failure, &error);
        answer(shared, &request_id, &result);
        return result;
    }
    shared.timeline.mark(Mark::Begin {
        phase: Phase::Invoke,
        label: request_id.clone(),
    });
    shared.journal.platform(
        "platform.start",
        json!({
            "requestId": request_id,
            "version": config.function_version,
            "functionArn": config.function_arn(),
            "tracing": {"type": "X-Amzn-Trace-Id", "value": trace_id},
        }),
    );
    shared.timeline.message(
        Lane::Platform,
        Lane::Runtime,
        format!("event {}", short(&request_id)),
    );

    let answered = shared
        .wait_until(Some(deadline), |st| {
            let inv = st.concurrent.in_flight.get(&request_id)?;
            if let Some(outcome) = &inv.outcome {
                return Some(Ok(outcome.clone()));
            }
            stopped(shared, st, &request_id).map(Err)
        })
        .await;
    let (result, error) = match answered {
        Some(Ok(outcome)) => {
            let error = match &outcome {
                Outcome::Error(e) => Some(e.clone()),
                Outcome::Success { .. } => None,
            };
            (outcome_result(&request_id, &outcome), error)
        }
        Some(Err(failure)) => (
            error_result(&request_id, failure.status, &failure.error),
            Some(failure.error),
        ),
        None => {
            let error = FunctionError::platform(
                "Sandbox.Timedout",
                format!(
                    "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                    config.timeout.as_secs_f64()
                ),
            );
            (
                error_result(&request_id, Status::Timeout, &error),
                Some(error),
            )
        }
    };
    let inv = shared.update(|st| {
        let inv = st.concurrent.in_flight.remove(&request_id);
        // Not taken by a worker yet: no worker will see it now.
        st.concurrent.queued.retain(|e| e.request_id != request_id);
        if result.status == Status::Timeout {
            st.concurrent.remember_timeout(request_id.clone());
        }
        inv
    });
    answer(shared, &request_id, &result);
    if let Some(inv) = inv {
        shared.journal.platform(
            "platform.report",
            report_record(&inv, result.status, error.as_ref()),
        );
    }
    shared.timeline.mark(Mark::EndOf {
        phase: Phase::Invoke,
        label: request_id,
    });
    result
}

/// Why an invocation is not admitted at all.
fn refusal(shared: &Shared, st: &State, request_id: &str) -> Option<FunctionError> {
    if let Some(unhealthy) = &st.concurrent.unhealthy {
        return Some(unhealthy.clone());
    }
    stopped(shared, st, request_id).map(|failure| failure.error)
}

/// A process that exited, a reported extension error, a stop, or a
/// shutdown under way ends an invocation in flight.
fn stopped(shared: &Shared, st: &State, request_id: &str) -> Option<Failure> {
    fatal(shared, st, request_id).or_else(|| {
        st.gates.shutting_down.then(|| Failure {
            status: Status::Failure,
            error: FunctionError::platform(
                "Sandbox.Failure",
                format!(
                    "RequestId: {request_id} Error: the execution environment shut down before the invocation finished"
                ),
            ),
        })
    })
}

fn answer(shared: &Shared, request_id: &str, result: &InvokeResult) {
    let label = result.error_type.as_deref().unwrap_or("response");
    shared.timeline.message(
        Lane::Platform,
        Lane::Caller,
        format!("{label} {}", short(request_id)),
    );
}

/// The report of Managed Instances: the duration and the response spans,
/// no billed duration, memory or Init duration.
fn report_record(inv: &Invocation, status: Status, error: Option<&FunctionError>) -> Value {
    let ms = |from: Instant, to: Instant| to.saturating_duration_since(from).as_secs_f64() * 1000.0;
    let end = inv.responded.map_or_else(Instant::now, |(at, _)| at);
    let mut record = json!({
        "requestId": inv.request_id,
        "status": status.to_string(),
        "metrics": {"durationMs": round3(ms(inv.started, end))},
    });
    if let Some(error) = error {
        record["errorType"] = json!(error.error_type);
    }
    if let (Some((rs, rs_utc)), Some((rd, _))) = (inv.response_started, inv.responded) {
        record["spans"] = json!([
            span("responseLatency", inv.started_at, ms(inv.started, rs)),
            span("responseDuration", rs_utc, ms(rs, rd)),
        ]);
    }
    record
}

fn round3(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// The first group of a request id, to tell invocations apart in the picture.
fn short(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}

/// Watches a Managed Instances environment after its Init: the first
/// process to exit (or an extension's reported error) ends it. The
/// invocations in flight see the error themselves; later ones are refused
/// with `Client.ExecutionEnvironmentUnhealthy`.
pub(crate) async fn supervise(shared: Arc<Shared>, core: Weak<Core>) {
    let generation = shared.lock().generation;
    let failure = shared
        .wait_until(None, |st| {
            // A stop or a shutdown ends the environment its own way.
            if st.generation != generation || st.gates.shutting_down || shared.terminating() {
                return Some(None);
            }
            fatal(&shared, st, "-").map(|failure| Some(failure.error))
        })
        .await
        .flatten();
    let Some(error) = failure else { return };
    shared.update(|st| {
        st.concurrent.unhealthy = Some(FunctionError::platform(
            "Client.ExecutionEnvironmentUnhealthy",
            format!(
                "The execution environment is unhealthy after {}; Managed Instances replace it rather than reset it",
                error.error_type
            ),
        ));
    });
    shared.journal.note(format!(
        "{}: the environment shuts down and takes no more invocations (Managed Instances are not reset)",
        error.error_type
    ));
    if let Some(core) = core.upgrade() {
        let mut instance = core.instance.lock().await;
        shutdown::run(&core, &mut instance, shutdown::Reason::Failure).await;
    }
}
