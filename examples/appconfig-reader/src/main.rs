//! A function that reads its log level through the AWS AppConfig agent.
//!
//! The agent is a Lambda extension (a layer from AWS) that fetches the
//! configuration from AppConfig, caches it, and serves it on localhost. On
//! each invoke the function asks the agent for the profile named by
//! `APPCONFIG_PROFILE`, takes the log level from it, logs with that level,
//! and answers `{"event", "ColdStart", "LogLevel"}` as in the original post.
//! A new configuration deployed to AppConfig reaches the function on a later
//! invoke: no redeploy, no cold start.

mod agent;
mod error;
mod profile;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use shared::config::Env;
use shared::logging::LevelControl;
use tracing::{debug, info, warn};

use crate::agent::Agent;
use crate::error::ReaderError;
use crate::profile::ProfileSetting;

/// True until the first invoke of this process: a new process is a new
/// execution environment (a cold start, or a start after a reset). When
/// invocations arrive together, the swap gives the cold start to one alone.
static COLD: AtomicBool = AtomicBool::new(true);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let levels = shared::logging::init_adjustable();
    let env = Env::process();
    let timeout = env.millis("APPCONFIG_READER_TIMEOUT_MS", Duration::from_secs(3))?;
    let agent = Agent::new(env.optional(agent::PORT_VAR).as_deref(), timeout);
    // What the invocations share: on Lambda Managed Instances several run
    // at once, each on its own task, so the shared parts live behind an
    // `Arc` (the agent's client, the log level) or an atomic (`COLD`).
    let shared = Arc::new((agent, levels));
    // One worker, or `AWS_LAMBDA_MAX_CONCURRENCY` of them on Managed
    // Instances: the same binary runs in both kinds of environment.
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Value>| {
        let shared = shared.clone();
        async move {
            let (agent, levels) = &*shared;
            let agent = agent
                .as_ref()
                .map_err(|e| ReaderError::Setting(e.to_string()))?;
            handle(event.payload, agent, levels).await
        }
    }))
    .await
}

async fn handle(event: Value, agent: &Agent, levels: &LevelControl) -> Result<Value, ReaderError> {
    let cold_start = COLD.swap(false, Ordering::Relaxed);
    let setting = ProfileSetting::parse(std::env::var(profile::PROFILE_VAR).ok().as_deref())?;
    let config = agent.fetch(&setting).await?;
    let level = agent::value_of(&config, &setting.key)?;
    match levels.set(&directive(&level)) {
        Ok(()) => {}
        Err(e) => warn!("keeping the current log level: {e}"),
    }
    debug!("verbose logging is on: the event is {event}");
    info!("LogLevel {level} (ColdStart {cold_start})");
    Ok(json!({"event": event, "ColdStart": cold_start, "LogLevel": level}))
}

/// The filter for an AppConfig log level: the post's `normal` and `verbose`,
/// or a level name. Verbose means this function's own debug lines, not those
/// of every library it links.
fn directive(level: &str) -> String {
    match level.to_ascii_lowercase().as_str() {
        "verbose" => "info,appconfig_reader=debug".into(),
        "normal" => "info".into(),
        _ => level.into(),
    }
}
