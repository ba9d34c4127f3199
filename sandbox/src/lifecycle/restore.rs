//! SnapStart's Restore phase (docs/src/snapstart.md#restore): a new
//! environment from the snapshot Init left. The processes are thawed, the
//! credentials endpoint issues fresh credentials, and the runtime is
//! released from `/runtime/restore/next` to run its after-restore hooks; it
//! has the restore limit to reach `next`. Extensions get no event: they
//! wake at the first INVOKE. A failed restore resets the environment, and
//! the caller gets `SnapStartException` or `SnapStartTimeoutException`.

use std::time::Instant;

use serde_json::json;

use super::core::{Core, Instance};
use super::shutdown;
use crate::state::{FunctionError, RuntimePhase};
use crate::streams::journal::round2;
use crate::streams::timeline::{Lane, Mark, Phase};

/// How a restore went wrong.
enum Failure {
    /// The runtime reported an after-restore error.
    Hook(FunctionError),
    /// The runtime exited.
    Exit(String),
    /// It did not reach `next` within the limit.
    Timeout,
}

/// Runs the Restore phase. On failure the environment has been reset and
/// the error is the one its caller gets.
pub(crate) async fn run(core: &Core, inst: &mut Instance) -> Result<(), FunctionError> {
    let shared = &core.shared;
    let config = &shared.config;
    let started = Instant::now();
    let deadline = started + config.restore_timeout;
    inst.thaw(core);
    shared.timeline.mark(Mark::Begin {
        phase: Phase::Restore,
        label: "Restore".into(),
    });
    let runtime_version = config.runtime.version_name();
    shared.journal.platform(
        "platform.restoreStart",
        json!({
            "functionName": config.function_name,
            "functionVersion": config.function_version,
            "instanceMaxMemory": u64::from(config.memory_mb) * 1024 * 1024,
            "runtimeVersion": runtime_version,
            "runtimeVersionArn": format!(
                "arn:aws:lambda:{}::runtime:{}",
                config.region,
                runtime_version.replace([':', '.'], "-")
            ),
        }),
    );
    // What the snapshot holds was issued before it: a restored environment
    // gets its own.
    shared.credentials.rotate();
    let hooks = shared.update(|st| {
        st.runtime.restore_error = None;
        let parked = st.runtime.phase == RuntimePhase::RestoreReady;
        if parked {
            st.runtime.phase = RuntimePhase::Restoring;
        }
        parked
    });
    if hooks {
        shared
            .timeline
            .message(Lane::Platform, Lane::Runtime, "restore");
        shared.journal.note(format!(
            "restore: the runtime leaves /restore/next; its after-restore hooks have {:.1} s to reach next",
            config.restore_timeout.as_secs_f64()
        ));
    } else {
        shared.journal.note(
            "restore: the runtime ended its Init in next, not /restore/next: it has no after-restore hooks to run",
        );
    }
    let outcome = shared
        .wait_until(Some(deadline), |st| {
            if let Some(exit) = &st.runtime.exit {
                return Some(Err(Failure::Exit(exit.clone())));
            }
            if let Some(error) = &st.runtime.restore_error {
                return Some(Err(Failure::Hook(error.clone())));
            }
            (st.runtime.phase != RuntimePhase::Restoring).then_some(Ok(()))
        })
        .await
        .unwrap_or(Err(Failure::Timeout));
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok(()) => {
            shared
                .journal
                .platform("platform.restoreRuntimeDone", json!({"status": "success"}));
            shared.journal.platform(
                "platform.restoreReport",
                json!({"status": "success", "metrics": {"durationMs": round2(duration_ms)}}),
            );
            shared.timeline.mark(Mark::End {
                phase: Phase::Restore,
            });
            inst.restored = true;
            inst.restore_duration_ms = Some(duration_ms);
            Ok(())
        }
        Err(failure) => {
            let (status, error_type, caller_error) = describe(failure, config.restore_timeout);
            shared.journal.note(format!(
                "restore failed: {}",
                caller_error.body["errorMessage"]
                    .as_str()
                    .unwrap_or_default()
            ));
            shared.journal.platform(
                "platform.restoreRuntimeDone",
                json!({"status": status, "errorType": error_type}),
            );
            shared.journal.platform(
                "platform.restoreReport",
                json!({
                    "status": status,
                    "errorType": error_type,
                    "metrics": {"durationMs": round2(duration_ms)},
                }),
            );
            shared.timeline.mark(Mark::Failure {
                lane: Lane::Platform,
                label: caller_error.error_type.clone(),
            });
            shared.timeline.mark(Mark::End {
                phase: Phase::Restore,
            });
            shared.journal.note(
                "resetting the environment; the next invoke restores the snapshot into new processes",
            );
            shutdown::run(core, inst, shutdown::Reason::Failure).await;
            Err(caller_error)
        }
    }
}

/// The records' status and error type, and the caller's error. The records
/// say `Runtime.Unknown` unless the runtime exited, as AWS's emulator
/// writes them (what Lambda writes is not documented).
fn describe(
    failure: Failure,
    limit: std::time::Duration,
) -> (&'static str, &'static str, FunctionError) {
    match failure {
        Failure::Hook(error) => (
            "error",
            "Runtime.Unknown",
            FunctionError::platform(
                "SnapStartException",
                format!(
                    "An after-restore hook failed ({}): {}",
                    error.error_type,
                    error.body["errorMessage"].as_str().unwrap_or_default()
                ),
            ),
        ),
        Failure::Exit(exit) => (
            "error",
            "Runtime.ExitError",
            FunctionError::platform(
                "SnapStartException",
                format!("The runtime exited during the restore: {exit}"),
            ),
        ),
        Failure::Timeout => (
            "timeout",
            "Runtime.Unknown",
            FunctionError::platform(
                "SnapStartTimeoutException",
                format!(
                    "The runtime did not call next within {:.1} s of the restore: its after-restore hooks took too long",
                    limit.as_secs_f64()
                ),
            ),
        ),
    }
}
