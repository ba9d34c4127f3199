//! The examples' walkthroughs, each written once as a function over
//! [`lambda_sandbox::Environment`]: it runs the scripted story and returns
//! what happened. `cargo walkthroughs` prints them as they run; each
//! example's tests run the same function and assert on what it returns.
//!
//! The sandbox knows no example: the walkthroughs reach the examples as a
//! user would, as built binaries placed in a function package and layers.

pub mod appconfig;
pub mod lifecycle;
pub mod s3_log_shipper;
pub mod streaming;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, bail};
use lambda_sandbox::{Environment, InvokeRequest, InvokeResult, Package};

/// The folder holding the examples' binaries (`bootstrap`,
/// `lifecycle-logger`, `s3-log-shipper`, `appconfig-reader`).
#[derive(Debug, Clone)]
pub struct Binaries(PathBuf);

impl Binaries {
    pub fn in_folder(dir: impl Into<PathBuf>) -> Binaries {
        Binaries(dir.into())
    }

    /// The folder of `binary`, as a test finds its own crate's binary
    /// (`env!("CARGO_BIN_EXE_…")`): `cargo test --workspace` builds the
    /// other examples' binaries there too.
    pub fn beside(binary: &Path) -> Binaries {
        Binaries(binary.parent().unwrap_or(Path::new(".")).to_path_buf())
    }

    pub fn folder(&self) -> &Path {
        &self.0
    }

    /// One binary, or what to build when it is missing.
    pub fn get(&self, name: &str, package: &str) -> anyhow::Result<PathBuf> {
        let path = self.0.join(name);
        if !path.is_file() {
            bail!(
                "{} is missing: build it with `cargo build -p {package}` (or `cargo build --workspace`)",
                path.display()
            );
        }
        Ok(path)
    }
}

/// Where a walkthrough keeps its packages and files.
#[derive(Debug, Clone)]
pub enum Place {
    /// Temporary folders, removed when the story is dropped (tests).
    Temporary,
    /// This folder, emptied first, kept afterwards so that the files can be
    /// looked at (`cargo walkthroughs`).
    Folder(PathBuf),
}

impl Place {
    /// A function package named `name` here.
    fn package(&self, name: &str) -> anyhow::Result<Package> {
        match self {
            Place::Temporary => Package::temporary(name),
            Place::Folder(dir) => Package::at(dir.join(name)),
        }
        .with_context(|| format!("cannot lay out the package {name}"))
    }

    /// The function package of the lifecycle and S3 walkthroughs, emptied
    /// first: the custom runtime as its `bootstrap`, and the extension named
    /// `extension` (binary and cargo package of the same name) in its layer.
    fn runtime_with_extension(
        &self,
        binaries: &Binaries,
        extension: &str,
    ) -> anyhow::Result<Package> {
        let bootstrap = binaries.get("bootstrap", "custom-runtime")?;
        let extension_binary = binaries.get(extension, extension)?;
        self.prepare()?;
        let package = self.package("function")?;
        package.bootstrap(&bootstrap)?;
        package.extension(extension, &extension_binary)?;
        Ok(package)
    }

    /// A folder for other files (a bucket, a configuration).
    fn folder(&self, package: &Package, name: &str) -> PathBuf {
        match self {
            Place::Temporary => package.root().join(name),
            Place::Folder(dir) => dir.join(name),
        }
    }

    /// Empties the folder before a run.
    fn prepare(&self) -> anyhow::Result<()> {
        if let Place::Folder(dir) = self
            && dir.exists()
        {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot empty {}", dir.display()))?;
        }
        Ok(())
    }
}

/// One invocation as the caller saw it.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub result: InvokeResult,
    /// When the caller had the response.
    pub answered_at: SystemTime,
}

/// Sends every event at once, as concurrent callers do, and returns the
/// invocations in the order their answers came.
async fn invoke_all(env: &Environment, events: Vec<String>, echo: bool) -> Vec<Invocation> {
    let mut callers = tokio::task::JoinSet::new();
    for event in events {
        let env = env.clone();
        callers.spawn(async move { invoke(&env, &event, echo).await });
    }
    let mut invocations = Vec::new();
    while let Some(done) = callers.join_next().await {
        invocations.push(done.expect("a caller task does not panic"));
    }
    invocations
}

/// Waits until a record of `kind` containing `text` is in the journal, for
/// at most `within`; whether it came.
async fn wait_for_record(
    env: &Environment,
    kind: &str,
    text: &str,
    within: std::time::Duration,
) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        let seen = env
            .records()
            .iter()
            .any(|r| r.kind == kind && r.record.to_string().contains(text));
        if seen {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    false
}

/// Invokes `env` with `event`, printing the caller's view when `echo`.
async fn invoke(env: &Environment, event: &str, echo: bool) -> Invocation {
    let result = env
        .invoke(InvokeRequest {
            payload: event.to_string().into(),
            ..InvokeRequest::default()
        })
        .await;
    let answered_at = SystemTime::now();
    if echo {
        println!(
            "         [caller] response {} ({}): {}",
            result.request_id,
            result.status,
            String::from_utf8_lossy(&result.payload)
        );
    }
    Invocation {
        result,
        answered_at,
    }
}
