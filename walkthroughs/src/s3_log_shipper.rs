//! The S3 log shipper walkthrough: the custom runtime writes log lines,
//! the Telemetry API streams them with the platform's records to the
//! shipper, and the shipper writes them to a bucket of the sandbox's local
//! S3 endpoint.

use std::path::{Path, PathBuf};

use anyhow::Context;
use lambda_sandbox::{Config, Environment, Package, Record};

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
    let package = settings
        .place
        .runtime_with_extension(binaries, "s3-log-shipper")?;
    let s3_dir = settings.place.folder(&package, "s3");
    let env = Environment::start(Config {
        handler: "function.handler".into(),
        env: vec![("S3_BUCKET_NAME".into(), BUCKET.into())],
        s3_buckets: vec![BUCKET.into()],
        s3_dir: Some(s3_dir.clone()),
        echo: settings.echo,
        ..package.config()
    })
    .await?;
    let mut invocations = Vec::new();
    for _ in 0..INVOKES {
        invocations.push(crate::invoke(&env, EVENT, settings.echo).await);
        env.wait_idle().await;
    }
    // The shipper uploads what it still holds when it hears SHUTDOWN.
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
