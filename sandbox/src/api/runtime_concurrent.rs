//! The Runtime API on Managed Instances
//! (docs/src/managed-instances.md#the-runtime-api-under-concurrency): the
//! same endpoints, called by several workers at once. Each `next` parks in
//! a queue and takes the oldest event; each answer is matched by the
//! request id in its path alone, against the invocations in flight.

use std::sync::Arc;
use std::time::Instant;

use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;

use super::http::{ApiError, header_str};
use crate::state::{Concurrent, Outcome, RuntimeEvent, RuntimePhase, Shared};
use crate::streams::timeline::Lane;

const INVOCATION_ID_HEADER: &str = "lambda-runtime-invocation-id";

/// `GET /runtime/invocation/next` from one worker: the event it takes.
pub async fn next(shared: &Arc<Shared>) -> Result<RuntimeEvent, ApiError> {
    shared
        .timeline
        .message(Lane::Runtime, Lane::Platform, "next");
    let generation = shared.update(|st| {
        match st.runtime.phase {
            // The first worker's `next` ends the runtime's Init.
            RuntimePhase::Initializing => {
                st.runtime.phase = RuntimePhase::Ready;
                st.gates.registration_open = false;
            }
            RuntimePhase::Ready => {}
            _ => {
                return Err(ApiError::forbidden(
                    "InvalidStateTransition",
                    "the runtime reported an Init error or is not running",
                ));
            }
        }
        if st.concurrent.parked >= Concurrent::MAX_PARKED {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                format!(
                    "{} next requests are already waiting",
                    Concurrent::MAX_PARKED
                ),
            ));
        }
        st.concurrent.parked += 1;
        Ok(st.generation)
    })?;
    let _parked = Parked(shared, generation);
    let event = shared
        .wait_until(None, |st| {
            // At Shutdown a parked worker stays parked: the runtime gets
            // SIGTERM and exits, and its connections go with it.
            if st.generation != generation {
                return Some(None);
            }
            let event = st.concurrent.queued.pop_front()?;
            if let Some(inv) = st.concurrent.in_flight.get_mut(&event.request_id) {
                inv.dispatched = true;
            }
            Some(Some(event))
        })
        .await
        .flatten();
    event.ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "the execution environment was replaced",
        )
    })
}

/// One worker counted as parked until its `next` ends, however it ends.
struct Parked<'a>(&'a Shared, u64);

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        if st.generation == self.1 {
            st.concurrent.parked -= 1;
        }
    }
}

/// Checks that `request_id` is an invocation a worker holds and has not
/// answered yet; when the worker echoes the invocation id, that it is this
/// invocation's.
pub fn start_answer(
    shared: &Shared,
    request_id: &str,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let echoed = header_str(headers, INVOCATION_ID_HEADER);
    shared.update(|st| {
        let concurrent = &mut st.concurrent;
        let Some(inv) = concurrent.in_flight.get_mut(request_id) else {
            if concurrent.timed_out.iter().any(|id| id == request_id) {
                return Err(ApiError::new(
                    StatusCode::GONE,
                    "InvokeTimeout",
                    format!("Invocation {request_id} has already timed out"),
                ));
            }
            return Err(invalid_request_id(
                request_id,
                "no invocation in flight has it",
            ));
        };
        if !inv.dispatched {
            return Err(invalid_request_id(request_id, "no worker has taken it yet"));
        }
        if inv.response_started.is_some() {
            return Err(invalid_request_id(
                request_id,
                "it has been answered already",
            ));
        }
        if let (Some(echoed), Some(sent)) = (echoed, inv.invocation_id.as_deref())
            && echoed != sent
        {
            return Err(invalid_request_id(
                request_id,
                "its Lambda-Runtime-Invocation-Id belongs to another invocation",
            ));
        }
        inv.response_started = Some((Instant::now(), Utc::now()));
        Ok(())
    })
}

/// Records the answer for the invocation's caller.
pub fn finish_answer(shared: &Shared, request_id: &str, outcome: Outcome) {
    shared.update(|st| {
        if let Some(inv) = st.concurrent.in_flight.get_mut(request_id) {
            inv.responded = Some((Instant::now(), Utc::now()));
            inv.outcome.get_or_insert(outcome);
        }
    });
}

fn invalid_request_id(request_id: &str, why: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        format!("Invalid request ID {request_id}: {why}"),
    )
}
