//! The Init phase (docs/src/lifecycle.md#init): launch the extensions, wait for them to
//! register, start the runtime, close registration at its first `next`, wait
//! for every extension's first `next`, then freeze.

use std::time::Instant;

use chrono::Utc;
use serde_json::json;

use super::core::{Core, Instance};
use super::shutdown;
use crate::config::InitType;
use crate::packaging::env_vars;
use crate::packaging::process::{Process, Spec, describe_exit, launch_error_hint};
use crate::state::{ExtensionFailure, Extensions, FunctionError, Gates, RuntimePhase, State};
use crate::streams::journal::{Source, round2, span};
use crate::streams::timeline::{Lane, Mark, Phase as TimelinePhase};

/// `init` at start-up; `invoke` for the suppressed Init that the first invoke
/// runs after a failed one or after a reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Init,
    Invoke,
    /// SnapStart: Init run again, unrecorded, to bring new processes to the
    /// snapshot (docs/src/snapstart.md#what-the-sandbox-cannot-copy).
    Replay,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Init | Phase::Replay => "init",
            Phase::Invoke => "invoke",
        }
    }

    fn title(self) -> String {
        match self {
            Phase::Replay => "Init (re-creating the snapshot)".into(),
            phase => format!("Init ({})", phase.as_str()),
        }
    }
}

/// Why Init failed, in the form the first invoke reports it.
#[derive(Debug, Clone)]
pub struct InitFailure {
    pub timed_out: bool,
    pub error: FunctionError,
}

/// Every failure but the Init limit is an error.
impl From<FunctionError> for InitFailure {
    fn from(error: FunctionError) -> Self {
        InitFailure {
            timed_out: false,
            error,
        }
    }
}

/// Runs Init; on success returns its duration in milliseconds. On failure
/// the environment has been reset.
pub(crate) async fn run(
    core: &Core,
    inst: &mut Instance,
    phase: Phase,
) -> Result<f64, InitFailure> {
    let shared = &core.shared;
    let config = &shared.config;
    let started = Instant::now();
    let started_at = Utc::now();
    let deadline = started + config.init_limit();
    let init_type = config.init_type.as_str();
    shared.timeline.mark(Mark::Begin {
        phase: TimelinePhase::Init,
        label: phase.title(),
    });
    // Lambda's records show the Init behind a snapshot once, when it ran.
    shared.journal.mute(phase == Phase::Replay);
    if phase == Phase::Replay {
        shared.journal.note(
            "re-creating the snapshot: the sandbox cannot copy a process, so it runs Init again into new processes, unrecorded",
        );
    }
    let mut init_start = json!({
        "initializationType": init_type,
        "phase": phase.as_str(),
        "functionName": config.function_name,
        "functionVersion": config.function_version,
        "instanceMaxMemory": u64::from(config.memory_mb) * 1024 * 1024,
    });
    if config.managed_instances() {
        // Managed Instances name the runtime and the instance, not the function's ARN.
        init_start["runtimeVersion"] = json!(config.runtime.version_name());
        init_start["runtimeVersionArn"] = json!(format!(
            "arn:aws:lambda:{}::runtime:{}",
            config.region,
            config.runtime.version_name().replace([':', '.'], "-")
        ));
        init_start["instanceId"] = json!(env_vars::log_stream_name(config));
    } else {
        init_start["functionArn"] = json!(config.function_arn());
    }
    shared.journal.platform("platform.initStart", init_start);
    let launched: Vec<String> = core
        .layout
        .extensions
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    let generation = shared.update(|st| {
        *st = State {
            generation: st.generation + 1,
            gates: Gates {
                registration_open: true,
                subscriptions_open: true,
                shutting_down: false,
            },
            extensions: Extensions {
                launched: launched.clone(),
                ..Extensions::default()
            },
            ..State::default()
        };
        st.generation
    });

    let result = async {
        launch_extensions(core, inst, generation).await?;
        wait_for(core, deadline, "every extension to register", |st| {
            st.extensions.unregistered_launched().is_empty()
        })
        .await?;
        launch_runtime(core, inst, generation).await?;
        // With SnapStart, `/restore/next` ends the runtime's Init too.
        wait_for(core, deadline, "the runtime's first next", |st| {
            matches!(
                st.runtime.phase,
                RuntimePhase::Ready | RuntimePhase::RestoreReady
            )
        })
        .await?;
        wait_for(core, deadline, "every extension's first next", |st| {
            st.extensions.registered.iter().all(|e| e.initialized)
        })
        .await
    }
    .await;
    shared.update(|st| st.gates.subscriptions_open = false);

    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let init_span = span("initPhase", started_at, duration_ms);
    let outcome = match result {
        Ok(()) => {
            shared.journal.platform(
                "platform.initRuntimeDone",
                json!({"initializationType": init_type, "phase": phase.as_str(), "status": "success", "spans": [init_span]}),
            );
            let extensions = shared.lock().extensions.registered.clone();
            for ext in &extensions {
                shared.journal.platform(
                    "platform.extension",
                    json!({"name": ext.name, "state": "Ready", "events": ext.events()}),
                );
            }
            shared.journal.platform(
                "platform.initReport",
                json!({
                    "initializationType": init_type,
                    "phase": phase.as_str(),
                    "status": "success",
                    "metrics": {"durationMs": round2(duration_ms)},
                    "spans": [init_span],
                }),
            );
            shared.timeline.mark(Mark::End {
                phase: TimelinePhase::Init,
            });
            let frozen = inst.freeze(core);
            if config.snapstart() {
                inst.snapshot_taken = true;
                shared.journal.note(if frozen {
                    "snapshot: the processes are frozen as they are until a restore"
                } else {
                    "snapshot: the processes wait, unfrozen (--no-freeze), for a restore"
                });
            } else if frozen {
                shared
                    .journal
                    .note("environment frozen until the next invoke");
            }
            inst.initialized = true;
            // A provisioned Init ran ahead of traffic: no invocation waited
            // for it. A restored environment reports its restore instead.
            inst.init_duration_ms = (config.init_type == InitType::OnDemand
                || phase == Phase::Invoke)
                .then_some(duration_ms);
            Ok(duration_ms)
        }
        Err(failure) => {
            let status = if failure.timed_out {
                "timeout"
            } else {
                "error"
            };
            let error_type = failure.error.error_type.clone();
            shared.journal.note(format!(
                "Init failed ({error_type}): {}",
                failure.error.body["errorMessage"]
                    .as_str()
                    .unwrap_or_default()
            ));
            shared.journal.platform(
                "platform.initRuntimeDone",
                json!({"initializationType": init_type, "phase": phase.as_str(), "status": status, "errorType": error_type}),
            );
            shared.journal.platform(
                "platform.initReport",
                json!({
                    "initializationType": init_type,
                    "phase": phase.as_str(),
                    "status": status,
                    "errorType": error_type,
                    "metrics": {"durationMs": round2(duration_ms)},
                }),
            );
            shared.timeline.mark(Mark::Failure {
                lane: Lane::Platform,
                label: error_type.clone(),
            });
            shared.timeline.mark(Mark::End {
                phase: TimelinePhase::Init,
            });
            shutdown::run(core, inst, shutdown::Reason::Failure).await;
            Err(failure)
        }
    };
    shared.journal.mute(false);
    outcome
}

async fn launch_extensions(
    core: &Core,
    inst: &mut Instance,
    generation: u64,
) -> Result<(), InitFailure> {
    let shared = &core.shared;
    let env = env_vars::extension(&shared.config, &core.endpoints(), &core.process_folders());
    for (name, path) in &core.layout.extensions {
        let watcher = shared.clone();
        let exited = name.clone();
        let on_exit = move |status| {
            let subscription = watcher.update(|st| {
                if st.generation != generation {
                    return None;
                }
                st.extensions.exited.push(exited.clone());
                if st.gates.shutting_down {
                    // Shutdown stops every subscriber itself, in order.
                    return None;
                }
                st.extensions.failure.get_or_insert(ExtensionFailure {
                    error_type: "Extension.Crash",
                    message: format!("extension {exited} exited ({})", describe_exit(&status)),
                });
                st.extensions
                    .registered
                    .iter_mut()
                    .find(|e| e.external && e.name == exited)
                    .and_then(|e| e.subscription.take())
            });
            // Nobody listens for a process that is gone: stop delivering to
            // it (the reset's flush would wait for it), and count what it
            // still had coming as dropped.
            if let Some(subscriber) = subscription {
                watcher.journal.unsubscribe(&subscriber);
                let journal = watcher.journal.clone();
                tokio::spawn(async move { subscriber.stop(&*journal).await });
            }
        };
        let cwd = path.parent().unwrap_or(&core.layout.task_root);
        shared.update(|st| {
            st.extensions
                .launch_times
                .push((name.clone(), Instant::now()))
        });
        let spec = Spec {
            program: path,
            args: &[],
            cwd,
            env: &env,
            isolation: core.isolation.as_ref(),
        };
        match Process::spawn(
            spec,
            Source::Extension(name.clone()),
            shared.journal.clone(),
            shared.config.max_log_line_bytes,
            on_exit,
        )
        .await
        {
            Ok(process) => {
                shared
                    .journal
                    .note(format!("launched extension {name} (pid {})", process.pid));
                inst.extensions.push(process);
            }
            Err(err) => {
                return Err(FunctionError::platform(
                    "Extension.LaunchError",
                    format!(
                        "cannot launch extension {}: {} ({err})",
                        path.display(),
                        launch_error_hint(&err)
                    ),
                )
                .into());
            }
        }
    }
    Ok(())
}

async fn launch_runtime(
    core: &Core,
    inst: &mut Instance,
    generation: u64,
) -> Result<(), InitFailure> {
    let shared = &core.shared;
    // A managed runtime's own variables come first, so that the function's
    // variables can override them, as on Lambda.
    let mut env: Vec<(String, String)> = match &core.isolation {
        Some(isolation) => core
            .layout
            .runtime_env
            .iter()
            .map(|(k, v)| (k.clone(), isolation.view().inside_list(v)))
            .collect(),
        None => core.layout.runtime_env.clone(),
    };
    env.extend(env_vars::runtime(
        &shared.config,
        &core.endpoints(),
        &core.process_folders(),
    ));
    shared.update(|st| st.runtime.phase = RuntimePhase::Initializing);
    let watcher = shared.clone();
    let on_exit = move |status| {
        watcher.update(|st| {
            if st.generation == generation && !st.gates.shutting_down {
                st.runtime.exit = Some(describe_exit(&status));
            }
        });
    };
    let path = &core.layout.bootstrap;
    let spec = Spec {
        program: path,
        args: &core.layout.runtime_args,
        cwd: &core.layout.task_root,
        env: &env,
        isolation: core.isolation.as_ref(),
    };
    match Process::spawn(
        spec,
        Source::Function,
        shared.journal.clone(),
        shared.config.max_log_line_bytes,
        on_exit,
    )
    .await
    {
        Ok(process) => {
            shared.journal.note(format!(
                "started runtime {} (pid {})",
                path.display(),
                process.pid
            ));
            inst.runtime = Some(process);
            Ok(())
        }
        Err(err) => Err(FunctionError::platform(
            "Runtime.InvalidEntrypoint",
            format!(
                "cannot start {}: {} ({err})",
                path.display(),
                launch_error_hint(&err)
            ),
        )
        .into()),
    }
}

/// Waits for `done`, failing on the first fatal event or at the deadline.
async fn wait_for(
    core: &Core,
    deadline: Instant,
    what: &str,
    done: impl Fn(&State) -> bool,
) -> Result<(), InitFailure> {
    let outcome = core
        .shared
        .wait_until(Some(deadline), |st| {
            if let Some(error) = &st.runtime.init_error {
                return Some(Err(error.clone()));
            }
            if let Some(failure) = &st.extensions.failure {
                return Some(Err(FunctionError::platform(
                    failure.error_type,
                    failure.message.clone(),
                )));
            }
            if let Some(exit) = &st.runtime.exit {
                return Some(Err(FunctionError::platform(
                    "Runtime.ExitError",
                    format!("Runtime exited with error: {exit}"),
                )));
            }
            done(st).then_some(Ok(()))
        })
        .await;
    match outcome {
        Some(Ok(())) => Ok(()),
        Some(Err(error)) => Err(error.into()),
        None => {
            let config = &core.shared.config;
            let mut message = format!(
                "Init did not complete within {:.1} s while waiting for {what}",
                config.init_limit().as_secs_f64()
            );
            let st = core.shared.lock();
            let missing = st.extensions.unregistered_launched();
            if !missing.is_empty() {
                message.push_str(&format!(
                    ": extension(s) {missing:?} never registered under their file name"
                ));
            }
            Err(InitFailure {
                timed_out: true,
                error: FunctionError::platform("Sandbox.Timeout", message),
            })
        }
    }
}
