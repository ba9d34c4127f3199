//! What the phases work on: the environment's fixed parts (`Core`: its
//! configuration and state, files, servers, stand-ins and namespaces) and
//! its processes of the current generation (`Instance`), held for one
//! phase at a time.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Mutex;

use crate::isolation::{self, Isolation};
use crate::packaging::env_vars::{Endpoints, Folders};
use crate::packaging::layers::Layout;
use crate::packaging::process::Process;
use crate::stand_ins::appconfig_agent::AppConfigAgent;
use crate::stand_ins::s3::S3Endpoint;
use crate::state::Shared;
use crate::streams::timeline::Mark;

/// The processes of the current generation and whether Init has completed.
#[derive(Default)]
pub(crate) struct Instance {
    pub runtime: Option<Process>,
    pub extensions: Vec<Process>,
    pub initialized: bool,
    /// The Init duration, reported with the first invoke after it.
    pub init_duration_ms: Option<f64>,
    /// SnapStart: an Init has succeeded, so there is a snapshot to restore
    /// (kept across resets, as a published version keeps its snapshot).
    pub snapshot_taken: bool,
    /// SnapStart: the processes have been restored from the snapshot.
    pub restored: bool,
    /// The restore's duration, reported with the first invoke after it.
    pub restore_duration_ms: Option<f64>,
}

impl Instance {
    pub fn processes(&self) -> impl Iterator<Item = &Process> {
        self.runtime.iter().chain(self.extensions.iter())
    }

    /// Stops every process, unless an invoke is already waiting: Lambda
    /// freezes only when there are no pending events. Whether the processes
    /// are frozen has one home, `Shared::frozen`, which the deliveries
    /// watch; this returns it.
    pub fn freeze(&mut self, core: &Core) -> bool {
        if core.shared.config.freezes() && core.queued.load(Ordering::SeqCst) == 0 {
            core.shared.frozen.send_replace(true);
            self.processes().for_each(Process::freeze);
            core.shared.timeline.mark(Mark::Freeze);
            // What the processes started on their own is frozen too.
            if let Some(isolation) = &core.isolation {
                isolation.freeze();
            }
        }
        *core.shared.frozen.borrow()
    }

    pub fn thaw(&mut self, core: &Core) {
        if *core.shared.frozen.borrow() {
            if let Some(isolation) = &core.isolation {
                isolation.thaw();
            }
            self.processes().for_each(Process::thaw);
            core.shared.timeline.mark(Mark::Thaw);
            core.shared.frozen.send_replace(false);
        }
    }
}

pub(crate) struct Core {
    pub shared: Arc<Shared>,
    pub layout: Layout,
    pub runtime_api: SocketAddr,
    /// `AWS_LAMBDA_RUNTIME_API` as the processes see it: the same address,
    /// or `127.0.0.1:9001` in a private network.
    pub runtime_api_inside: SocketAddr,
    /// Held for a whole phase: Lambda runs one phase at a time per environment.
    pub instance: Arc<Mutex<Instance>>,
    /// Invokes waiting for their turn.
    pub queued: AtomicUsize,
    /// One permit per invocation the environment serves at once: one, or
    /// the maximum concurrency of Managed Instances. A caller holds one
    /// until it has its answer.
    pub slots: tokio::sync::Semaphore,
    /// Tasks that watch the environment, ended with it.
    pub watchers: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Variables pointing the processes at the local stand-ins for AWS services.
    pub service_env: Vec<(String, String)>,
    /// The namespaces the processes run in, when isolated.
    pub isolation: Option<Isolation>,
    pub s3: Option<S3Endpoint>,
    /// The S3 folder the environment made itself, removed with it.
    pub s3_scratch: Option<PathBuf>,
    pub appconfig: Option<AppConfigAgent>,
    pub server: tokio::task::JoinHandle<()>,
    /// What carries the private network's connections to the servers.
    pub relays: Vec<tokio::task::JoinHandle<()>>,
}

impl Core {
    /// Where the processes find the platform.
    pub fn endpoints(&self) -> Endpoints<'_> {
        Endpoints {
            runtime_api: self.runtime_api_inside.to_string(),
            services: &self.service_env,
            credentials_token: &self.shared.credentials.token,
        }
    }

    /// The task root and the layers as the processes see them.
    pub fn process_folders(&self) -> Folders {
        match &self.isolation {
            Some(_) => Folders {
                task_root: PathBuf::from(isolation::TASK_ROOT),
                layers: vec![PathBuf::from(isolation::OPT)],
            },
            None => Folders {
                task_root: self.layout.task_root.clone(),
                layers: self.shared.config.opt_dirs.clone(),
            },
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.server.abort();
        self.watchers
            .lock()
            .unwrap()
            .iter()
            .for_each(tokio::task::JoinHandle::abort);
        self.relays.iter().for_each(tokio::task::JoinHandle::abort);
        if let Some(dir) = &self.s3_scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
