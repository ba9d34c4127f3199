//! The Runtime API's SnapStart endpoints (docs/src/snapstart.md#the-runtime-api),
//! mounted only when the environment runs with SnapStart. A runtime that
//! supports restore ends its Init in `/restore/next` rather than in `next`:
//! the snapshot holds it there, and each restore releases it to run its
//! after-restore hooks, which end at its first `next` or in
//! `/restore/error`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::http::{ApiError, LimitedBody, accepted};
use super::runtime::{function_error, phase_name};
use crate::config::MAX_ERROR_BODY_BYTES;
use crate::state::{RuntimePhase, Shared};
use crate::streams::timeline::{Lane, Mark};

/// `GET /runtime/restore/next`: Init is done; block until a restore.
/// Answered with 200 and nothing else, as Lambda answers it.
pub async fn next(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    shared
        .timeline
        .message(Lane::Runtime, Lane::Platform, "restore/next");
    let generation = shared.update(|st| {
        if st.runtime.phase != RuntimePhase::Initializing {
            return Err(ApiError::forbidden(
                "InvalidStateTransition",
                format!(
                    "State transition from {} to RestoreReady failed: /restore/next ends Init, and is called once, in place of the first next",
                    phase_name(&st.runtime.phase)
                ),
            ));
        }
        // Like the first `next`, it ends the runtime's Init.
        st.runtime.phase = RuntimePhase::RestoreReady;
        st.gates.registration_open = false;
        Ok(st.generation)
    })?;
    let released = shared
        .wait_until(None, |st| {
            if st.generation != generation {
                return Some(false);
            }
            (st.runtime.phase == RuntimePhase::Restoring).then_some(true)
        })
        .await;
    if released == Some(true) {
        Ok(StatusCode::OK.into_response())
    } else {
        Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Runtime.Reset",
            "the execution environment was reset; this runtime process is being replaced",
        ))
    }
}

/// `POST /runtime/restore/error`: an after-restore hook failed; the
/// restore fails, and the invocation that needed it gets
/// `SnapStartException`.
pub async fn error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    LimitedBody(payload): LimitedBody<MAX_ERROR_BODY_BYTES>,
) -> Result<Response, ApiError> {
    let error = function_error(&headers, &payload);
    shared.update(|st| {
        if st.runtime.phase != RuntimePhase::Restoring {
            return Err(ApiError::forbidden(
                "InvalidStateTransition",
                format!(
                    "State transition from {} to RestoreError failed: restore errors are accepted only while restoring",
                    phase_name(&st.runtime.phase)
                ),
            ));
        }
        st.runtime.restore_error.get_or_insert(error.clone());
        Ok(())
    })?;
    shared.timeline.mark(Mark::Failure {
        lane: Lane::Runtime,
        label: error.error_type,
    });
    Ok(accepted())
}
