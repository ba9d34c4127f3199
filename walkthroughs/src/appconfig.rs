//! The AppConfig walkthrough: two functions read their log level through
//! the AppConfig agent on localhost; a new configuration version is
//! deployed and reaches both on their next invoke, without a redeploy and
//! without a cold start.

use std::time::Duration;

use anyhow::Context;
use lambda_sandbox::{Config, Environment, InitType, Package};

use crate::{Binaries, Invocation, Place};

/// The configuration profile, as the agent's URL path names it.
pub const PROFILE: &str = "DemoExtensionApplication/Production/LoggingLevel";
/// The two functions.
pub const FUNCTIONS: [&str; 2] = ["appconfig-reader-a", "appconfig-reader-b"];
/// The event every invoke sends.
pub const EVENT: &str = r#"{"hello":"world"}"#;
/// The agents' poll interval (`AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS`).
const POLL_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct Settings {
    pub echo: bool,
    pub place: Place,
}

/// One function's invoke in a round.
pub struct Answer {
    pub function: &'static str,
    pub invocation: Invocation,
    /// The function's log lines during that invoke.
    pub log_lines: Vec<String>,
}

/// One invoke of each function.
pub struct Round {
    pub label: &'static str,
    pub answers: Vec<Answer>,
}

pub struct Story {
    /// Cold starts, warm invokes, then after the new version.
    pub rounds: Vec<Round>,
    /// The first function's run drawn as a sequence diagram (SVG).
    pub picture: String,
    _packages: Vec<Package>,
}

pub async fn run(binaries: &Binaries, settings: &Settings) -> anyhow::Result<Story> {
    let reader = binaries.get("appconfig-reader", "appconfig-reader")?;
    let echo = settings.echo;
    settings.place.prepare()?;
    let mut packages = Vec::new();
    for name in FUNCTIONS {
        let package = settings.place.package(name)?;
        package.bootstrap(&reader)?;
        packages.push(package);
    }
    let file = settings.place.folder(&packages[0], "level.json");
    write(&file, "{\"loglevel\": \"normal\"}\n")?;
    say(echo, format!("{PROFILE} is {}", file.display()));
    say(echo, "  {\"loglevel\": \"normal\"}\n".to_string());
    let mut environments = Vec::new();
    for (name, package) in FUNCTIONS.into_iter().zip(&packages) {
        let env = Environment::start(Config {
            function_name: name.to_string(),
            appconfig: vec![
                format!("{PROFILE}={}", file.display())
                    .parse()
                    .map_err(anyhow::Error::msg)?,
            ],
            env: vec![
                ("APPCONFIG_PROFILE".into(), format!("{PROFILE}/LogLevel")),
                (
                    "AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS".into(),
                    POLL_INTERVAL.as_secs().to_string(),
                ),
            ],
            ..package.config()
        })
        .await?;
        let port = env.appconfig_agent().map(|a| a.port()).unwrap_or_default();
        say(
            echo,
            format!(
                "{name}: its AppConfig agent listens on port {port} (AWS_APPCONFIG_EXTENSION_HTTP_PORT)"
            ),
        );
        environments.push((name, env));
    }
    let mut rounds = vec![
        round("first invokes (cold starts):", &environments, echo).await,
        round("second invokes:", &environments, echo).await,
    ];
    write(&file, "{\"loglevel\": \"verbose\"}\n")?;
    say(
        echo,
        format!(
            "\nnew version deployed: {} now says {{\"loglevel\": \"verbose\"}}; waiting out the agents' {} s poll interval",
            file.display(),
            POLL_INTERVAL.as_secs()
        ),
    );
    tokio::time::sleep(POLL_INTERVAL + Duration::from_millis(100)).await;
    rounds.push(
        round(
            "third invokes (no redeploy, no cold start):",
            &environments,
            echo,
        )
        .await,
    );
    for (_, env) in &environments {
        env.shutdown().await;
    }
    Ok(Story {
        rounds,
        picture: environments[0].1.timeline_svg(),
        _packages: packages,
    })
}

async fn round(
    label: &'static str,
    environments: &[(&'static str, Environment)],
    echo: bool,
) -> Round {
    say(echo, format!("\n{label}"));
    let mut answers = Vec::new();
    for (function, env) in environments {
        let mark = env.journal_len();
        let invocation = crate::invoke(env, EVENT, false).await;
        env.wait_idle().await;
        let log_lines: Vec<String> = env
            .records_from(mark)
            .into_iter()
            .filter(|r| r.kind == "function")
            .map(|r| r.record.as_str().unwrap_or_default().to_string())
            .collect();
        say(
            echo,
            format!(
                "  {function} -> {}",
                String::from_utf8_lossy(&invocation.result.payload)
            ),
        );
        for line in &log_lines {
            say(echo, format!("      log: {line}"));
        }
        answers.push(Answer {
            function,
            invocation,
            log_lines,
        });
    }
    Round { label, answers }
}

/// How many invocations the Managed Instances walkthrough sends at once.
pub const CONCURRENT_INVOKES: usize = 4;

/// What happened on Managed Instances.
pub struct ManagedStory {
    /// In the order the answers came, with their response bodies.
    pub invocations: Vec<Invocation>,
    /// The run drawn as a sequence diagram (SVG).
    pub picture: String,
    _package: Package,
}

/// One function on Lambda Managed Instances: `lambda_runtime` runs
/// `CONCURRENT_INVOKES` workers; that many invocations arrive at once, and
/// exactly one of them is the cold start.
pub async fn run_managed_instances(
    binaries: &Binaries,
    settings: &Settings,
) -> anyhow::Result<ManagedStory> {
    let reader = binaries.get("appconfig-reader", "appconfig-reader")?;
    settings.place.prepare()?;
    let package = settings.place.package(FUNCTIONS[0])?;
    package.bootstrap(&reader)?;
    let file = settings.place.folder(&package, "level.json");
    write(&file, "{\"loglevel\": \"normal\"}\n")?;
    let env = Environment::start(Config {
        function_name: FUNCTIONS[0].to_string(),
        init_type: InitType::ManagedInstances,
        max_concurrency: CONCURRENT_INVOKES as u32,
        appconfig: vec![
            format!("{PROFILE}={}", file.display())
                .parse()
                .map_err(anyhow::Error::msg)?,
        ],
        env: vec![
            ("APPCONFIG_PROFILE".into(), format!("{PROFILE}/LogLevel")),
            ("AWS_LAMBDA_LOG_FORMAT".into(), "Text".into()),
        ],
        echo: settings.echo,
        ..package.config()
    })
    .await?;
    let events = vec![EVENT.to_string(); CONCURRENT_INVOKES];
    let invocations = crate::invoke_all(&env, events, settings.echo).await;
    env.wait_for_waiting_workers(CONCURRENT_INVOKES, Duration::from_secs(5))
        .await;
    env.shutdown().await;
    Ok(ManagedStory {
        invocations,
        picture: env.timeline_svg(),
        _package: package,
    })
}

fn write(file: &std::path::Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(file, text).with_context(|| format!("cannot write {}", file.display()))
}

fn say(echo: bool, line: String) {
    if echo {
        println!("{line}");
    }
}
