//! A custom Lambda runtime, written by hand against the Runtime API.
//!
//! Lambda starts this program as `bootstrap` (from the function package, or
//! from a layer) for functions on the `provided.al2023` runtime. It:
//! 1. reads `_HANDLER` and `LAMBDA_TASK_ROOT` and sets up the handler, or
//!    reports `/runtime/init/error` and exits if it cannot;
//! 2. loops: `GET next` (blocks until an invoke), run the handler, then
//!    `POST response` or `POST error`;
//! 3. exits cleanly on SIGTERM, which Lambda sends at Shutdown when
//!    extensions are registered.
//!
//! On Lambda Managed Instances it runs `AWS_LAMBDA_MAX_CONCURRENCY` copies
//! of that loop at once, one thread each: that is all concurrent use of the
//! Runtime API asks of a runtime. With SnapStart it ends Init in
//! `/runtime/restore/next` and, once restored, reads its credentials again
//! before its first `next` (`restore.rs`).

mod handler;
mod restore;
mod runtime_api;

use std::process::ExitCode;

use handler::{Answer, Handler};
use runtime_api::RuntimeApi;
use signal_hook::consts::SIGTERM;
use signal_hook::iterator::Signals;
use tracing::{error, info};

/// How many invocations the runtime should work on at once.
const MAX_CONCURRENCY_VAR: &str = "AWS_LAMBDA_MAX_CONCURRENCY";
/// A bound on the threads a bad value could ask for.
const MAX_WORKERS: usize = 1024;

fn main() -> ExitCode {
    shared::logging::init();
    let api = match RuntimeApi::from_env() {
        Ok(api) => api,
        Err(err) => {
            eprintln!("bootstrap: {err}");
            return ExitCode::FAILURE;
        }
    };
    // The loop below blocks in `next`; a separate thread sees SIGTERM.
    match Signals::new([SIGTERM]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                if signals.forever().next().is_some() {
                    info!("Runtime: received SIGTERM, shutting down");
                    std::process::exit(0);
                }
            });
        }
        Err(err) => error!("cannot listen for SIGTERM: {err}"),
    }

    let handler_name = std::env::var("_HANDLER").unwrap_or_default();
    let task_root = std::env::var("LAMBDA_TASK_ROOT").unwrap_or_default();
    info!("Runtime: initialising handler {handler_name:?} from {task_root}");
    let handler = match Handler::resolve(&handler_name) {
        Ok(handler) => handler,
        Err(err) => {
            error!("Runtime: init failed: {}", err.message);
            if let Err(post) = api.init_error(&err) {
                error!("Runtime: could not report the init error: {post}");
            }
            return ExitCode::FAILURE;
        }
    };
    if shared::config::Env::process().snapstart() {
        info!("Runtime: SnapStart: Init done; waiting in /restore/next for a restore");
        if let Err(err) = api.restore_next() {
            error!("Runtime: {err}");
            return ExitCode::FAILURE;
        }
        match restore::after_restore() {
            Ok(done) => info!("Runtime: restored from the snapshot; {done}"),
            Err(err) => {
                error!("Runtime: after-restore hook failed: {}", err.message);
                if let Err(post) = api.restore_error(&err) {
                    error!("Runtime: could not report the restore error: {post}");
                }
                return ExitCode::FAILURE;
            }
        }
    }
    // On Lambda Managed Instances the platform sends several invocations at
    // once and says how many workers to run; elsewhere the variable is unset.
    let workers = match max_concurrency() {
        Ok(workers) => workers,
        Err(err) => {
            error!("Runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    if workers == 1 {
        info!("Runtime: ready, waiting for events");
        return serve(&api, handler, true);
    }
    info!("Runtime: ready, {workers} workers waiting for events ({MAX_CONCURRENCY_VAR}={workers})");
    // Each worker is the same loop on its own thread: its own `next`, its
    // own handler call, its own answer, matched by request id.
    let exits: Vec<_> = (0..workers)
        .map(|_| {
            let api = api.clone();
            std::thread::spawn(move || serve(&api, handler, false))
        })
        .collect();
    // The first worker to stop ends the runtime: the platform's `next`
    // fails only when the environment is broken.
    for exit in exits {
        if let Ok(code) = exit.join() {
            return code;
        }
    }
    ExitCode::FAILURE
}

/// The worker count: `AWS_LAMBDA_MAX_CONCURRENCY`, or 1 when unset.
fn max_concurrency() -> Result<usize, String> {
    match std::env::var(MAX_CONCURRENCY_VAR) {
        Err(_) => Ok(1),
        Ok(value) => value
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_WORKERS).contains(n))
            .ok_or_else(|| {
                format!(
                    "{MAX_CONCURRENCY_VAR}={value:?} is not a worker count from 1 to {MAX_WORKERS}"
                )
            }),
    }
}

/// One worker: `next`, the handler, the answer, again. With one worker the
/// trace id also goes into `_X_AMZN_TRACE_ID`, for libraries that read it;
/// with several, a process-wide variable cannot say which invocation it
/// belongs to, so the trace id stays with the invocation.
fn serve(api: &RuntimeApi, handler: Handler, set_trace_var: bool) -> ExitCode {
    loop {
        let invocation = match api.next() {
            Ok(invocation) => invocation,
            Err(err) => {
                // The platform only fails `next` when the environment is broken.
                error!("Runtime: {err}");
                return ExitCode::FAILURE;
            }
        };
        if set_trace_var && let Some(trace_id) = &invocation.trace_id {
            // SAFETY: with one worker, the only other thread waits for
            // signals and touches no environment variables.
            unsafe { std::env::set_var("_X_AMZN_TRACE_ID", trace_id) };
        }
        info!(
            "Runtime: invoking handler for request {} ({})",
            invocation.request_id, invocation.function_arn
        );
        let sent = match handler.call(&invocation) {
            Ok(Answer::Whole(body)) => api.respond(&invocation, &body),
            Ok(Answer::Streamed(chunks)) => {
                api.respond_streaming(&invocation, "text/plain", chunks)
            }
            Err(err) => {
                error!(
                    "Runtime: handler failed: {}: {}",
                    err.error_type, err.message
                );
                api.fail(&invocation, &err)
            }
        };
        match sent {
            Ok(()) => info!("Runtime: request {} answered", invocation.request_id),
            Err(err) => error!("Runtime: {err}"),
        }
    }
}
