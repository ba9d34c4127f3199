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

mod handler;
mod runtime_api;

use std::process::ExitCode;

use handler::Handler;
use runtime_api::RuntimeApi;
use signal_hook::consts::SIGTERM;
use signal_hook::iterator::Signals;
use tracing::{error, info};

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
    info!("Runtime: ready, waiting for events");

    loop {
        let invocation = match api.next() {
            Ok(invocation) => invocation,
            Err(err) => {
                // The platform only fails `next` when the environment is broken.
                error!("Runtime: {err}");
                return ExitCode::FAILURE;
            }
        };
        if let Some(trace_id) = &invocation.trace_id {
            // SAFETY: the only other thread waits for signals and touches no
            // environment variables.
            unsafe { std::env::set_var("_X_AMZN_TRACE_ID", trace_id) };
        }
        info!(
            "Runtime: invoking handler for request {} ({})",
            invocation.request_id, invocation.function_arn
        );
        let sent = match handler.call(&invocation) {
            Ok(body) => api.respond(&invocation.request_id, &body),
            Err(err) => {
                error!(
                    "Runtime: handler failed: {}: {}",
                    err.error_type, err.message
                );
                api.fail(&invocation.request_id, &err)
            }
        };
        match sent {
            Ok(()) => info!("Runtime: request {} answered", invocation.request_id),
            Err(err) => error!("Runtime: {err}"),
        }
    }
}
