//! The lifecycle walkthrough: the lifecycle logger (an external extension
//! that logs every event and does companion work after each invoke) beside
//! the hand-written custom runtime; Init, two invokes, Shutdown.

use std::time::Duration;

use lambda_sandbox::config::InitType;
use lambda_sandbox::{Config, Environment, Package, Record, Registration};

use crate::{Binaries, Invocation, Place};

/// The two events the walkthrough sends, in order.
pub const EVENTS: [&str; 2] = [
    r#"{"message":"first invoke"}"#,
    r#"{"message":"second invoke"}"#,
];

/// How the walkthrough runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The extension's companion work after each invoke
    /// (`LIFECYCLE_LOGGER_WORK_MS`).
    pub work_ms: u64,
    /// Print the timeline and the caller's view as they happen.
    pub echo: bool,
    pub place: Place,
}

/// What happened.
pub struct Story {
    /// The runtime's and the extension's pids while they ran.
    pub pids: Vec<i32>,
    pub invocations: Vec<Invocation>,
    /// Every platform record and log line, in order.
    pub records: Vec<Record>,
    /// The run drawn as a sequence diagram (SVG).
    pub picture: String,
    _package: Package,
}

pub async fn run(binaries: &Binaries, settings: &Settings) -> anyhow::Result<Story> {
    let package = settings
        .place
        .runtime_with_extension(binaries, "lifecycle-logger")?;
    let env = Environment::start(Config {
        handler: "function.handler".into(),
        env: vec![(
            "LIFECYCLE_LOGGER_WORK_MS".into(),
            settings.work_ms.to_string(),
        )],
        echo: settings.echo,
        ..package.config()
    })
    .await?;
    let pids = env.pids().await;
    // The caller sends the second event as soon as it has the first
    // response; the platform holds it until the extension's work is done.
    let mut invocations = Vec::new();
    for event in EVENTS {
        invocations.push(crate::invoke(&env, event, settings.echo).await);
    }
    env.wait_idle().await;
    env.shutdown().await;
    Ok(Story {
        pids,
        invocations,
        records: env.records(),
        picture: env.timeline_svg(),
        _package: package,
    })
}

/// How many invocations the Managed Instances walkthrough sends at once,
/// and the environment's maximum concurrency.
pub const CONCURRENT_INVOKES: usize = 4;
/// The extension's timer on Managed Instances, in the walkthrough.
pub const TIMER_MS: u64 = 300;

/// What happened on Managed Instances.
pub struct ManagedStory {
    pub registrations: Vec<Registration>,
    /// In the order the answers came.
    pub invocations: Vec<Invocation>,
    /// The most invocations in flight at once.
    pub most_in_flight: usize,
    pub records: Vec<Record>,
    pub picture: String,
    _package: Package,
}

/// The same two binaries on Lambda Managed Instances: the runtime runs
/// `CONCURRENT_INVOKES` workers, the extension registers for SHUTDOWN alone
/// and works on its own timer; four invocations arrive at once, each with
/// `work_ms` of handler work.
pub async fn run_managed_instances(
    binaries: &Binaries,
    settings: &Settings,
) -> anyhow::Result<ManagedStory> {
    let package = settings
        .place
        .runtime_with_extension(binaries, "lifecycle-logger")?;
    let env = Environment::start(Config {
        handler: "function.handler".into(),
        init_type: InitType::ManagedInstances,
        max_concurrency: CONCURRENT_INVOKES as u32,
        env: vec![
            ("LIFECYCLE_LOGGER_WORK_MS".into(), TIMER_MS.to_string()),
            // Plain lines for the reader; the mode's default is JSON.
            ("AWS_LAMBDA_LOG_FORMAT".into(), "Text".into()),
        ],
        echo: settings.echo,
        ..package.config()
    })
    .await?;
    let registrations = env.registrations();
    let events = (1..=CONCURRENT_INVOKES)
        .map(|n| {
            format!(
                r#"{{"message":"invoke {n}","workMs":{}}}"#,
                settings.work_ms
            )
        })
        .collect();
    let invocations = crate::invoke_all(&env, events, settings.echo).await;
    env.wait_for_waiting_workers(CONCURRENT_INVOKES, Duration::from_secs(5))
        .await;
    // The extension's first round of timer work, then Shutdown.
    crate::wait_for_record(&env, "extension", "round 1", Duration::from_secs(5)).await;
    env.shutdown().await;
    Ok(ManagedStory {
        registrations,
        invocations,
        most_in_flight: env.most_in_flight(),
        records: env.records(),
        picture: env.timeline_svg(),
        _package: package,
    })
}

/// How many environments the SnapStart walkthrough restores its snapshot into.
pub const RESTORES: usize = 2;

/// What happened with SnapStart.
pub struct SnapStartStory {
    /// One per restored environment, in order.
    pub invocations: Vec<Invocation>,
    pub records: Vec<Record>,
    pub picture: String,
    _package: Package,
}

/// The same two binaries with SnapStart: Init once, ending in a snapshot
/// (the runtime waits in `/restore/next`), then `RESTORES` environments
/// restored from it in turn, each invoked once. The runtime reads its
/// credentials again after each restore; the extension notices the restore
/// at its first INVOKE.
pub async fn run_snapstart(
    binaries: &Binaries,
    settings: &Settings,
) -> anyhow::Result<SnapStartStory> {
    let package = settings
        .place
        .runtime_with_extension(binaries, "lifecycle-logger")?;
    let env = Environment::start(Config {
        handler: "function.handler".into(),
        init_type: InitType::SnapStart,
        env: vec![(
            "LIFECYCLE_LOGGER_WORK_MS".into(),
            settings.work_ms.to_string(),
        )],
        echo: settings.echo,
        ..package.config()
    })
    .await?;
    let mut invocations = Vec::new();
    for restore in 1..=RESTORES {
        if restore > 1 {
            if settings.echo {
                println!(
                    "         [caller] a new environment from the snapshot ({restore} of {RESTORES})"
                );
            }
            env.restore_anew().await?;
        }
        let event = format!(r#"{{"message":"environment {restore}"}}"#);
        invocations.push(crate::invoke(&env, &event, settings.echo).await);
        env.wait_idle().await;
    }
    env.shutdown().await;
    Ok(SnapStartStory {
        invocations,
        records: env.records(),
        picture: env.timeline_svg(),
        _package: package,
    })
}
