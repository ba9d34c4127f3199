//! Everything that shapes one execution environment.
//!
//! Defaults follow `lambda-execution-environment.md`; the values the reference
//! marks as inferred are fields here so that a user can change them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The payload limit of a buffered response: 6 MiB plus the 100 bytes of slack
/// the platform allows.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;

/// Lambda's limit on external plus internal extensions.
pub const MAX_EXTENSIONS: usize = 10;

/// Lambda merges at most five layers into `/opt`.
pub const MAX_LAYERS: usize = 5;

#[derive(Debug, Clone)]
pub struct Config {
    /// Layer folders, merged in order as Lambda extracts layers into `/opt`.
    pub opt_dirs: Vec<PathBuf>,
    /// The function's code folder, `LAMBDA_TASK_ROOT`.
    pub task_root: Option<PathBuf>,
    /// An explicit runtime executable, overriding the lookup.
    pub bootstrap: Option<PathBuf>,
    pub handler: String,
    /// Customer environment variables, given to the runtime and the extensions.
    pub env: Vec<(String, String)>,
    pub function_name: String,
    pub function_version: String,
    pub memory_mb: u32,
    pub region: String,
    pub account_id: String,
    /// The function timeout, enforced over the whole invoke phase.
    pub timeout: Duration,
    /// The Init phase limit (10 s for on-demand functions).
    pub init_timeout: Duration,
    /// Stop the processes between invokes with SIGSTOP, as Lambda freezes them.
    pub freeze: bool,
    /// Where the Runtime API listens; an ephemeral loopback port when `None`.
    pub runtime_api: Option<SocketAddr>,
    pub shutdown: ShutdownBudgets,
    /// Cap on a streamed response. The platform's figure is not confirmed
    /// (20 MB soft limit, possibly raised since), so it is a setting.
    pub streaming_response_limit: usize,
    /// Each Logs or Telemetry subscriber buffers up to this many times its
    /// `maxBytes` before records are dropped (and reported). Lambda only says
    /// the buffer is proportional to the buffering settings.
    pub stream_buffer_factor: usize,
    /// Buckets of the local S3 endpoint; it runs only when some are named.
    pub s3_buckets: Vec<String>,
    /// Where the local S3 endpoint keeps objects, as `DIR/<bucket>/<key>`
    /// (a temporary folder when unset).
    pub s3_dir: Option<PathBuf>,
    /// Configuration profiles the local AppConfig agent serves; it runs only
    /// when some are named.
    pub appconfig: Vec<crate::appconfig_agent::Profile>,
    /// Print the timeline and every log line as they happen.
    pub echo: bool,
}

/// How long Shutdown may take, by what is registered (reference §4.4).
#[derive(Debug, Clone, Copy)]
pub struct ShutdownBudgets {
    /// No extension registered. Most versions of the docs say 0 ms, one says 300 ms.
    pub no_extensions: Duration,
    /// Only internal extensions registered.
    pub internal: Duration,
    /// At least one external extension registered.
    pub external: Duration,
    /// The runtime's share of the budget after SIGTERM.
    pub runtime: Duration,
    /// The runtime's share when an internal extension runs inside it.
    pub runtime_with_internal: Duration,
}

impl Default for ShutdownBudgets {
    fn default() -> Self {
        ShutdownBudgets {
            no_extensions: Duration::ZERO,
            internal: Duration::from_millis(500),
            external: Duration::from_millis(2000),
            runtime: Duration::from_millis(300),
            runtime_with_internal: Duration::from_millis(500),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            opt_dirs: Vec::new(),
            task_root: None,
            bootstrap: None,
            handler: "function.handler".into(),
            env: Vec::new(),
            function_name: "sandbox-function".into(),
            function_version: "$LATEST".into(),
            memory_mb: 128,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            timeout: Duration::from_secs(3),
            init_timeout: Duration::from_secs(10),
            freeze: true,
            runtime_api: None,
            shutdown: ShutdownBudgets::default(),
            streaming_response_limit: 20 * 1024 * 1024,
            stream_buffer_factor: 4,
            s3_buckets: Vec::new(),
            s3_dir: None,
            appconfig: Vec::new(),
            echo: false,
        }
    }
}

impl Config {
    pub fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.function_name
        )
    }

    /// The value of a customer variable, if the user set one.
    pub fn customer_var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
