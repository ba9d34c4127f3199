//! The lifecycle walkthrough: the lifecycle logger (an external extension
//! that logs every event and does companion work after each invoke) beside
//! the hand-written custom runtime; Init, two invokes, Shutdown.

use lambda_sandbox::{Config, Environment, Package, Record};

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
