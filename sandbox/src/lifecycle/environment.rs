//! The library API: start an execution environment, invoke it, read what it
//! recorded, shut it down.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use lambda_sandbox::{Config, Environment, InvokeRequest};
//! let env = Environment::start(Config {
//!     task_root: Some("target/debug/my-function".into()),
//!     ..Config::default()
//! })
//! .await?;
//! let result = env.invoke(InvokeRequest::json(&serde_json::json!({"hello": "world"}))).await;
//! println!("{} {}", result.status, String::from_utf8_lossy(&result.payload));
//! env.shutdown().await;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, oneshot};

use super::core::{Core, Instance};
use super::invocation::{InvokeRequest, InvokeResult};
use super::{concurrent_invoke, init, invoke, shutdown};
use crate::api;
use crate::config::Config;
use crate::isolation::{self, Isolation};
use crate::packaging::layers::{Layout, PackagingError};
use crate::packaging::managed_runtime::{self, RuntimeError};
use crate::packaging::process::Process;
use crate::stand_ins::appconfig_agent::{self, AppConfigAgent};
use crate::stand_ins::s3;
use crate::state::Shared;
use crate::streams::journal::{Journal, Record, Retention};
use crate::streams::timeline::Lane;

/// Why an environment could not start at all.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Packaging(#[from] PackagingError),
    #[error("cannot listen for the Runtime API on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot listen at {addr} in the environment's private network: {source}")]
    PrivateNetwork {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the local S3 endpoint: {0}")]
    S3(std::io::Error),
    #[error("cannot start the local AppConfig agent: {0}")]
    AppConfig(String),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("cannot write the records to {}: {source}", path.display())]
    JournalFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Every slot of the environment is taken.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the environment already serves {in_flight} invocation(s) at once")]
pub struct Busy {
    pub in_flight: usize,
}

/// Only a SnapStart environment has a snapshot to restore.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the environment does not run with SnapStart: there is no snapshot to restore")]
pub struct NoSnapshot;

/// An extension as it registered.
#[derive(Debug, Clone)]
pub struct Registration {
    pub name: String,
    pub external: bool,
    pub events: Vec<String>,
    /// From launch to `/register`; `None` for internal extensions.
    pub after_launch: Option<std::time::Duration>,
}

/// A running execution environment.
#[derive(Clone)]
pub struct Environment {
    core: Arc<Core>,
}

impl Environment {
    /// Checks the files, opens the Runtime API and runs Init. An Init that
    /// fails is not an error here: as on Lambda, the first invoke retries it.
    pub async fn start(mut config: Config) -> Result<Environment, StartError> {
        config.check().map_err(StartError::Config)?;
        // The processes run in other folders: a relative layer path would
        // give them a PATH and LD_LIBRARY_PATH that point nowhere.
        for dir in &mut config.opt_dirs {
            if let Ok(absolute) = std::path::absolute(&*dir) {
                *dir = absolute;
            }
        }
        let layout = Layout::resolve_with(&config, managed_launch(&config).await?)?;
        let s3_scratch = (config.s3_dir.is_none() && !config.s3_buckets.is_empty()).then(|| {
            std::env::temp_dir().join(format!(
                "lambda-sandbox-s3-{}",
                uuid::Uuid::new_v4().simple()
            ))
        });
        let s3 = match config.s3_dir.as_ref().or(s3_scratch.as_ref()) {
            Some(dir) if !config.s3_buckets.is_empty() => Some(
                s3::serve(dir, &config.s3_buckets)
                    .await
                    .map_err(StartError::S3)?,
            ),
            _ => None,
        };
        let appconfig = if config.appconfig.is_empty() {
            None
        } else {
            Some(start_appconfig_agent(&config).await?)
        };
        let service_env = s3
            .iter()
            .map(|s3| ("AWS_ENDPOINT_URL_S3".to_string(), s3.url()))
            .chain(appconfig.iter().map(|agent| {
                (
                    appconfig_agent::PORT_VAR.to_string(),
                    agent.addr.port().to_string(),
                )
            }))
            .collect();
        let journal = Journal::with_retention(
            config.echo,
            Retention {
                max_bytes: config.journal_memory,
            },
        )
        .labelled(config.tenant_id.as_ref().map(|t| format!("tenant {t}")));
        if let Some(path) = &config.journal_file {
            journal
                .write_to(path)
                .map_err(|source| StartError::JournalFile {
                    path: path.clone(),
                    source,
                })?;
        }
        let journal = Arc::new(journal);
        let requested = config.runtime_api;
        let shared = Arc::new(Shared::new(Arc::new(config), journal));
        let (runtime_api, server) =
            api::serve(shared.clone(), requested)
                .await
                .map_err(|source| StartError::Bind {
                    addr: requested.map_or("127.0.0.1:0".into(), |a| a.to_string()),
                    source,
                })?;
        shared
            .journal
            .note(format!("Runtime API listening on {runtime_api}"));
        if let Some(s3) = &s3 {
            let kept = if s3_scratch.is_some() {
                " (removed at exit; --s3-dir keeps it)"
            } else {
                ""
            };
            shared.journal.note(format!(
                "S3 endpoint on {} (AWS_ENDPOINT_URL_S3), buckets {:?} in {}{kept}",
                s3.url(),
                shared.config.s3_buckets,
                s3.dir.display()
            ));
        }
        if let Some(agent) = &appconfig {
            let served: Vec<String> = shared
                .config
                .appconfig
                .iter()
                .map(|p| format!("{}/{}/{}", p.application, p.environment, p.profile))
                .collect();
            shared.journal.note(format!(
                "AppConfig agent on {} ({}), serving {}",
                agent.addr,
                appconfig_agent::PORT_VAR,
                served.join(", ")
            ));
        }
        let isolation = if shared.config.isolation {
            start_isolation(&shared, &layout, runtime_api).await
        } else {
            None
        };
        let network = isolation
            .as_ref()
            .map(Isolation::network)
            .unwrap_or_default();
        let _ = shared.network.set(network.clone());
        let (runtime_api_inside, relays) = if network.is_private() {
            let services = s3
                .iter()
                .map(|s3| s3.addr)
                .chain(appconfig.iter().map(|agent| agent.addr));
            reach_from_inside(&network, runtime_api, services)?
        } else {
            (runtime_api, Vec::new())
        };
        let shared_concurrency = shared.config.concurrency();
        let core = Arc::new(Core {
            isolation,
            shared,
            layout,
            runtime_api,
            runtime_api_inside,
            relays,
            instance: Arc::new(Mutex::new(Instance::default())),
            queued: AtomicUsize::new(0),
            slots: tokio::sync::Semaphore::new(shared_concurrency),
            watchers: std::sync::Mutex::new(Vec::new()),
            service_env,
            s3,
            s3_scratch,
            appconfig,
            server,
        });
        let init = {
            let mut instance = core.instance.lock().await;
            init::run(&core, &mut instance, init::Phase::Init).await
        };
        if core.shared.config.managed_instances() {
            match init {
                // No Init is retried there: every invocation gets its error.
                Err(failure) => core
                    .shared
                    .update(|st| st.concurrent.unhealthy = Some(failure.error)),
                Ok(_) => {
                    let watcher = tokio::spawn(concurrent_invoke::supervise(
                        core.shared.clone(),
                        Arc::downgrade(&core),
                    ));
                    core.watchers.lock().unwrap().push(watcher);
                }
            }
        }
        Ok(Environment { core })
    }

    /// Whether the processes run isolated: asked for, and allowed here.
    pub fn is_isolated(&self) -> bool {
        self.core.isolation.is_some()
    }

    /// The environment's own `/tmp` as this program can read it: inside the
    /// namespaces when isolated, else the host's.
    pub fn tmp_dir(&self) -> PathBuf {
        self.core
            .isolation
            .as_ref()
            .map_or_else(std::env::temp_dir, Isolation::tmp)
    }

    /// `AWS_LAMBDA_RUNTIME_API` of this environment.
    pub fn runtime_api(&self) -> SocketAddr {
        self.core.runtime_api
    }

    /// Invokes the function and returns as soon as the runtime answers;
    /// the rest of the phase (extensions finishing, the report, the freeze)
    /// goes on in the background, and the next call waits for it. When the
    /// environment already serves all it can at once (one invocation, or
    /// the maximum concurrency of Managed Instances), this waits its turn.
    pub async fn invoke(&self, request: InvokeRequest) -> InvokeResult {
        let slot = self.core.slots.acquire().await.expect("never closed");
        let result = self.invoke_in(request).await;
        drop(slot);
        result
    }

    /// Invokes the function if the environment has a free slot; when every
    /// slot is taken, returns [`Busy`] at once, as Lambda refuses a call
    /// beyond a function's concurrency.
    pub async fn try_invoke(&self, request: InvokeRequest) -> Result<InvokeResult, Busy> {
        let slot = self.core.slots.try_acquire().map_err(|_| Busy {
            in_flight: self.core.shared.config.concurrency(),
        })?;
        let result = self.invoke_in(request).await;
        drop(slot);
        Ok(result)
    }

    async fn invoke_in(&self, request: InvokeRequest) -> InvokeResult {
        self.core
            .shared
            .timeline
            .message(Lane::Caller, Lane::Platform, "invoke");
        if self.core.shared.config.managed_instances() {
            return concurrent_invoke::run(&self.core, request).await;
        }
        // An owned guard, so that the phase can outlive this call.
        self.core.queued.fetch_add(1, Ordering::SeqCst);
        let instance = self.core.instance.clone().lock_owned().await;
        self.core.queued.fetch_sub(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        let core = self.core.clone();
        tokio::spawn(async move {
            let mut instance = instance;
            invoke::run(&core, &mut instance, request, tx).await;
        });
        rx.await.expect("the invoke phase always answers")
    }

    /// Waits until `workers` runtime workers wait in `next` (Managed
    /// Instances: each asks for more after its answer), for at most
    /// `within`; whether they did.
    pub async fn wait_for_waiting_workers(&self, workers: usize, within: Duration) -> bool {
        self.wait_for_concurrent(within, |c| c.parked >= workers)
            .await
    }

    /// Waits until `invocations` have been in flight at once (one at most
    /// in the classic environment), for at most `within`; whether they were.
    pub async fn wait_for_in_flight(&self, invocations: usize, within: Duration) -> bool {
        self.wait_for_concurrent(within, |c| c.peak >= invocations)
            .await
    }

    async fn wait_for_concurrent(
        &self,
        within: Duration,
        done: impl Fn(&crate::state::Concurrent) -> bool,
    ) -> bool {
        let deadline = std::time::Instant::now() + within;
        self.core
            .shared
            .wait_until(Some(deadline), |st| done(&st.concurrent).then_some(()))
            .await
            .is_some()
    }

    /// The most invocations that were in flight at once: one in the classic
    /// environment once any has run, up to the maximum concurrency on
    /// Managed Instances.
    pub fn most_in_flight(&self) -> usize {
        self.core.shared.lock().concurrent.peak
    }

    /// The run so far as a sequence diagram (SVG): lanes for the caller,
    /// the platform, the runtime and each extension, the phases as bands.
    pub fn timeline_svg(&self) -> String {
        let (entries, left_out) = self.core.shared.timeline.entries();
        crate::output::timeline::svg(&entries, left_out)
    }

    /// Waits until the current phase has finished (the report is out); on
    /// Managed Instances, until no invocation is in flight.
    pub async fn wait_idle(&self) {
        drop(self.core.instance.lock().await);
        if self.core.shared.config.managed_instances() {
            self.core
                .shared
                .wait_until(None, |st| st.concurrent.in_flight.is_empty().then_some(()))
                .await;
        }
    }

    /// Every platform event and log line so far, in emission order.
    pub fn records(&self) -> Vec<Record> {
        self.core.shared.journal.records()
    }

    /// How many records there are so far: a mark for [`Environment::records_from`].
    pub fn journal_len(&self) -> usize {
        self.core.shared.journal.len()
    }

    /// The records emitted since `mark`.
    pub fn records_from(&self, mark: usize) -> Vec<Record> {
        self.core.shared.journal.records_from(mark)
    }

    /// Where the local AppConfig agent listens, when profiles are served.
    pub fn appconfig_agent(&self) -> Option<SocketAddr> {
        self.core.appconfig.as_ref().map(|agent| agent.addr)
    }

    /// The local S3 endpoint's URL and folder, when buckets were named.
    pub fn s3_endpoint(&self) -> Option<(String, std::path::PathBuf)> {
        self.core.s3.as_ref().map(|s3| (s3.url(), s3.dir.clone()))
    }

    /// The configuration this environment runs with.
    pub fn config(&self) -> &Config {
        &self.core.shared.config
    }

    /// The extensions registered in the current generation.
    pub fn registrations(&self) -> Vec<Registration> {
        self.core
            .shared
            .lock()
            .extensions
            .registered
            .iter()
            .map(|e| Registration {
                name: e.name.clone(),
                external: e.external,
                events: e.events().iter().map(|s| s.to_string()).collect(),
                after_launch: e.registered_after_launch,
            })
            .collect()
    }

    /// Peak resident memory (`VmHWM`, KiB) of the runtime, then the
    /// extensions, now running: the figures the reports add up.
    pub async fn peak_rss_kib(&self) -> Vec<u64> {
        self.core
            .instance
            .lock()
            .await
            .processes()
            .map(Process::peak_rss_kib)
            .collect()
    }

    /// Process ids of the runtime, then the extensions, now running.
    pub async fn pids(&self) -> Vec<i32> {
        self.core
            .instance
            .lock()
            .await
            .processes()
            .map(|p| p.pid)
            .collect()
    }

    /// Ends the invocation in flight at once (its caller gets a
    /// `Sandbox.Failure` error) and fails any that follow, so that a
    /// [`Environment::shutdown`] can start without waiting for them.
    pub fn terminate(&self) {
        self.core.shared.terminate();
    }

    /// With SnapStart: ends the restored processes (a Shutdown, reason
    /// `spindown`), so that the next invoke restores the snapshot into new
    /// ones, as Lambda does for each environment it adds when it scales
    /// out. Without SnapStart there is no snapshot: this is refused.
    pub async fn restore_anew(&self) -> Result<(), NoSnapshot> {
        if !self.core.shared.config.snapstart() {
            return Err(NoSnapshot);
        }
        let mut instance = self.core.instance.lock().await;
        if instance.initialized {
            shutdown::run(&self.core, &mut instance, shutdown::Reason::Spindown).await;
        }
        Ok(())
    }

    /// Shuts the environment down with reason `spindown`.
    pub async fn shutdown(&self) {
        let mut instance = self.core.instance.lock().await;
        shutdown::run(&self.core, &mut instance, shutdown::Reason::Spindown).await;
        if let Err(err) = self.core.shared.journal.flush_file() {
            eprintln!("lambda-sandbox: the records file is incomplete: {err}");
        }
    }
}

/// A managed runtime's command line, its client installed on first use
/// (with a note, as that takes a few seconds); `None` for a custom runtime.
async fn managed_launch(config: &Config) -> Result<Option<managed_runtime::Launch>, StartError> {
    if config.runtime == managed_runtime::Runtime::Provided {
        return Ok(None);
    }
    let task_root = config
        .task_root
        .as_deref()
        .ok_or(RuntimeError::NoTaskRoot)?;
    let echo = config.echo;
    let launch = managed_runtime::prepare(
        config.runtime,
        &config.handler,
        config.interpreter.as_deref(),
        &config.runtime_cache,
        &config.opt_dirs,
        |warning| eprintln!("lambda-sandbox: warning: {warning}"),
    )
    .await?;
    if echo {
        println!(
            "         [sandbox] {} runs through its Runtime Interface Client, kept in {}",
            config.runtime,
            config.runtime_cache.display()
        );
    }
    Ok(launch.map(|launch| {
        managed_runtime::wrapped(
            launch,
            config.customer_var(managed_runtime::EXEC_WRAPPER),
            &config.opt_dirs,
            task_root,
        )
    }))
}

/// The local AppConfig agent, with the function's own agent settings: its
/// port when the function sets one (the agent listens where it is told),
/// and its poll interval.
async fn start_appconfig_agent(config: &Config) -> Result<AppConfigAgent, StartError> {
    let setting = |name: &str| {
        config
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
    };
    let port = match setting(appconfig_agent::PORT_VAR) {
        None => 0,
        Some(v) => v.parse().map_err(|_| {
            StartError::AppConfig(format!(
                "{}={v:?} is not a port number",
                appconfig_agent::PORT_VAR
            ))
        })?,
    };
    let poll_interval = match setting(appconfig_agent::POLL_INTERVAL_VAR) {
        None => appconfig_agent::DEFAULT_POLL_INTERVAL,
        Some(v) => v.parse().map(std::time::Duration::from_secs).map_err(|_| {
            StartError::AppConfig(format!(
                "{}={v:?} is not a whole number of seconds",
                appconfig_agent::POLL_INTERVAL_VAR
            ))
        })?,
    };
    appconfig_agent::serve(config.appconfig.clone(), poll_interval, port)
        .await
        .map_err(|e| StartError::AppConfig(format!("cannot listen on port {port}: {e}")))
}

/// The environment's namespaces, or none, with the reason noted once.
async fn start_isolation(
    shared: &Shared,
    layout: &Layout,
    runtime_api: SocketAddr,
) -> Option<Isolation> {
    let task_root = layout.task_root.clone();
    let layers = shared.config.opt_dirs.clone();
    let tmp_megabytes = shared.config.ephemeral_storage_mb;
    let private_network = shared.config.private_network;
    let started = tokio::task::spawn_blocking(move || {
        let start = |private_network: bool| {
            Isolation::start(&isolation::Settings {
                task_root: &task_root,
                layers: &layers,
                tmp_megabytes,
                // Inside a private network the APIs are on its loopback.
                api_address: if private_network {
                    isolation::PRIVATE_RUNTIME_API.ip()
                } else {
                    runtime_api.ip()
                },
                private_network,
            })
        };
        match start(private_network) {
            Err(refused) if private_network => (start(false), Some(refused)),
            started => (started, None),
        }
    })
    .await;
    let started = started.map(|(started, network_refused)| {
        if let Some(refused) = network_refused {
            shared.journal.note(format!(
                "running on the host's network: no private network here ({refused})"
            ));
        }
        started
    });
    match started {
        Ok(Ok(isolation)) => {
            let network = if isolation.network().is_private() {
                format!(
                    ", a private network with the Runtime API at {}",
                    isolation::PRIVATE_RUNTIME_API
                )
            } else {
                String::new()
            };
            shared.journal.note(format!(
                "isolated: layers at {}, task root at {}, private /tmp of {} MB{network}",
                isolation::OPT,
                isolation::TASK_ROOT,
                shared.config.ephemeral_storage_mb
            ));
            Some(isolation)
        }
        Ok(Err(refused)) => {
            shared.journal.note(format!(
                "running without isolation: {refused} (--no-isolation hides this line)"
            ));
            None
        }
        Err(join) => {
            shared
                .journal
                .note(format!("running without isolation: {join}"));
            None
        }
    }
}

/// Listeners in the private network at the addresses the processes are
/// given, each relaying to the sandbox's server on the host: the Runtime
/// API at Lambda's `127.0.0.1:9001`, and each stand-in at its own address.
fn reach_from_inside(
    network: &isolation::Network,
    runtime_api: SocketAddr,
    services: impl Iterator<Item = SocketAddr>,
) -> Result<(SocketAddr, Vec<tokio::task::JoinHandle<()>>), StartError> {
    let inside = isolation::PRIVATE_RUNTIME_API;
    let mut relays = Vec::new();
    for (at, to) in std::iter::once((inside, runtime_api)).chain(services.map(|addr| (addr, addr)))
    {
        let listener = network
            .listen(at)
            .map_err(|source| StartError::PrivateNetwork { addr: at, source })?;
        relays.push(isolation::relay(listener, to));
    }
    Ok((inside, relays))
}
