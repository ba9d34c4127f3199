//! The S3 log shipper walkthrough: the custom runtime writes log lines,
//! the Telemetry API streams them with the platform's records to the
//! shipper, and the shipper writes them to a bucket of the sandbox's local
//! S3 endpoint.

use std::path::{Path, PathBuf};

use anyhow::Context;
use std::time::Duration;

use lambda_sandbox::{Config, Environment, InitType, Package, Record};

use crate::{Binaries, Invocation, Place};

/// The bucket the walkthrough ships to.
pub const BUCKET: &str = "demo-logs";
/// The event each invoke sends: the custom runtime logs that many lines.
pub const EVENT: &str = r#"{"lines":3}"#;
/// How many invokes it makes.
pub const INVOKES: usize = 3;

#[derive(Debug, Clone)]
pub struct Settings {
    pub echo: bool,
    pub place: Place,
    /// The shipper's listener port (`SHIPPER_LISTENER_PORT`); its default,
    /// 9003, when `None`. Runs side by side on one machine need their own.
    pub listener_port: Option<u16>,
}

impl Settings {
    /// The function's environment variables.
    fn variables(&self) -> Vec<(String, String)> {
        let mut vars = vec![("S3_BUCKET_NAME".to_string(), BUCKET.to_string())];
        if let Some(port) = self.listener_port {
            vars.push(("SHIPPER_LISTENER_PORT".into(), port.to_string()));
        }
        vars
    }
}

/// An object in the bucket, as the shipper wrote it.
pub struct Object {
    pub key: String,
    pub text: String,
}

pub struct Story {
    pub invocations: Vec<Invocation>,
    pub records: Vec<Record>,
    /// The run drawn as a sequence diagram (SVG).
    pub picture: String,
    /// The bucket's folder on this machine.
    pub bucket_dir: PathBuf,
    /// Every object, by key.
    pub objects: Vec<Object>,
    _package: Package,
}

pub async fn run(binaries: &Binaries, settings: &Settings) -> anyhow::Result<Story> {
    let (package, s3_dir, env) = start(binaries, settings, |config| config).await?;
    let mut invocations = Vec::new();
    for _ in 0..INVOKES {
        invocations.push(crate::invoke(&env, EVENT, settings.echo).await);
        env.wait_idle().await;
    }
    story(env, package, &s3_dir, invocations).await
}

/// The function package (the custom runtime, the shipper in its layer) and
/// its environment with a local bucket; `configure` adds a walkthrough's own
/// settings.
async fn start(
    binaries: &Binaries,
    settings: &Settings,
    configure: impl FnOnce(Config) -> Config,
) -> anyhow::Result<(Package, PathBuf, Environment)> {
    let package = settings
        .place
        .runtime_with_extension(binaries, "s3-log-shipper")?;
    let s3_dir = settings.place.folder(&package, "s3");
    let env = Environment::start(configure(Config {
        handler: "function.handler".into(),
        env: settings.variables(),
        s3_buckets: vec![BUCKET.into()],
        s3_dir: Some(s3_dir.clone()),
        echo: settings.echo,
        ..package.config()
    }))
    .await?;
    Ok((package, s3_dir, env))
}

/// Shuts the environment down (the shipper uploads what it still holds when
/// it hears SHUTDOWN) and reads what reached the bucket.
async fn story(
    env: Environment,
    package: Package,
    s3_dir: &Path,
    invocations: Vec<Invocation>,
) -> anyhow::Result<Story> {
    env.shutdown().await;
    let bucket_dir = s3_dir.join(BUCKET);
    let objects = objects(&bucket_dir)?;
    Ok(Story {
        invocations,
        records: env.records(),
        picture: env.timeline_svg(),
        bucket_dir,
        objects,
        _package: package,
    })
}

/// How many invocations the Managed Instances walkthrough sends at once.
pub const CONCURRENT_INVOKES: usize = 4;
/// The log lines each of them writes.
pub const LINES_PER_INVOKE: usize = 5;

/// When the Managed Instances walkthrough shuts the environment down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownAt {
    /// Once the shipper's timer has uploaded an object.
    AfterTimerUpload,
    /// As soon as every caller has its answer: SHUTDOWN uploads it all.
    AtOnce,
}

/// On Lambda Managed Instances: `CONCURRENT_INVOKES` invocations at once,
/// `LINES_PER_INVOKE` log lines each; the shipper registers for SHUTDOWN
/// alone, subscribes with the Telemetry schema 2025-01-29, and uploads on
/// its timer (`SHIPPER_FLUSH_INTERVAL_MS`, 1 s) and at SHUTDOWN.
pub async fn run_managed_instances(
    binaries: &Binaries,
    settings: &Settings,
    shutdown: ShutdownAt,
) -> anyhow::Result<Story> {
    let (package, s3_dir, env) = start(binaries, settings, |config| Config {
        init_type: InitType::ManagedInstances,
        max_concurrency: CONCURRENT_INVOKES as u32,
        env: [("AWS_LAMBDA_LOG_FORMAT".to_string(), "Text".to_string())]
            .into_iter()
            .chain(config.env.iter().cloned())
            .collect(),
        ..config
    })
    .await?;
    let events = (0..CONCURRENT_INVOKES)
        .map(|_| format!(r#"{{"lines":{LINES_PER_INVOKE}}}"#))
        .collect();
    let invocations = crate::invoke_all(&env, events, settings.echo).await;
    env.wait_for_waiting_workers(CONCURRENT_INVOKES, Duration::from_secs(5))
        .await;
    if shutdown == ShutdownAt::AfterTimerUpload {
        crate::wait_for_record(&env, "extension", "uploaded s3://", Duration::from_secs(10)).await;
    }
    story(env, package, &s3_dir, invocations).await
}

/// Every file under the bucket's folder, by key.
fn objects(bucket_dir: &Path) -> anyhow::Result<Vec<Object>> {
    let mut objects = Vec::new();
    let mut folders = vec![bucket_dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder)
            .with_context(|| format!("cannot list {}", folder.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let key = path
                .strip_prefix(bucket_dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            objects.push(Object { key, text });
        }
    }
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(objects)
}
