//! Everything that shapes one execution environment.
//!
//! Defaults follow the platform as the book (docs/src) describes it; what no
//! source settles is a field here, with its default documented, so that a
//! user can change it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The payload limit of a buffered response: 6 MiB plus the 100 bytes of slack
/// the platform allows.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;

/// The bodies of `/extension/register` and of the Logs and Telemetry
/// subscriptions are a few hundred bytes; the platform's limit is not
/// documented, so this one is the sandbox's own (`[INF]`).
pub const MAX_CONTROL_BODY_BYTES: usize = 64 * 1024;

/// Error reports (`/runtime/init/error`, `/extension/init/error`,
/// `/extension/exit/error`) are held to the payload limit of an invocation
/// error, as the Runtime API holds `/invocation/{id}/error`.
pub const MAX_ERROR_BODY_BYTES: usize = MAX_RESPONSE_BYTES;

/// Lambda's limit on external plus internal extensions.
pub const MAX_EXTENSIONS: usize = 10;

/// Lambda merges at most five layers into `/opt`.
pub const MAX_LAYERS: usize = 5;

/// A function's timeout is at most 15 minutes.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(900);

/// A function's memory size, in MB.
pub const MEMORY_MB: std::ops::RangeInclusive<u32> = 128..=10_240;

/// The sandbox's own bound on a Shutdown budget; Lambda's are 2 s at most.
pub const MAX_SHUTDOWN_BUDGET: Duration = Duration::from_secs(60);

/// How the environment is initialised, as `AWS_LAMBDA_INITIALIZATION_TYPE`
/// and the `platform.init*` records say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitType {
    /// Init for the invocation that needed an environment (a cold start).
    #[default]
    OnDemand,
    /// Init ahead of any traffic, with a longer limit; the first report
    /// carries no Init duration, as no invocation waited for it.
    ProvisionedConcurrency,
    /// Lambda Managed Instances (docs/src/managed-instances.md): one
    /// environment serves up to `max_concurrency` invocations at once, is
    /// never frozen, and takes no INVOKE subscribers and no Logs API.
    ManagedInstances,
    /// SnapStart (docs/src/snapstart.md): Init runs once and ends in a
    /// snapshot; each new environment starts with a Restore phase instead,
    /// and takes its credentials from an endpoint rather than from keys.
    SnapStart,
}

impl InitType {
    pub fn as_str(self) -> &'static str {
        match self {
            InitType::OnDemand => "on-demand",
            InitType::ProvisionedConcurrency => "provisioned-concurrency",
            InitType::ManagedInstances => "lambda-managed-instances",
            InitType::SnapStart => "snap-start",
        }
    }
}

impl std::str::FromStr for InitType {
    type Err = String;

    fn from_str(name: &str) -> Result<InitType, String> {
        match name {
            "on-demand" => Ok(InitType::OnDemand),
            "provisioned-concurrency" => Ok(InitType::ProvisionedConcurrency),
            "lambda-managed-instances" => Ok(InitType::ManagedInstances),
            "snap-start" => Ok(InitType::SnapStart),
            other => Err(format!(
                "unknown init type {other:?}: on-demand, provisioned-concurrency, lambda-managed-instances or snap-start"
            )),
        }
    }
}

/// Provisioned concurrency's Init limit: 130 s, or the function timeout if
/// that is longer. Managed Instances and SnapStart have the same.
pub const PROVISIONED_INIT_LIMIT: Duration = Duration::from_secs(130);

/// SnapStart: how long the runtime may take, from the restore to its
/// first `next` (its after-restore hooks included).
pub const RESTORE_LIMIT: Duration = Duration::from_secs(10);

/// The invocations one Managed Instances environment may serve at once:
/// the sandbox's bound (Lambda's depends on the runtime and the vCPUs).
pub const MAX_CONCURRENCY: std::ops::RangeInclusive<u32> = 1..=1024;

/// A tenant id as Lambda takes it in `X-Amz-Tenant-Id`: 1 to 256
/// characters, letters, digits, spaces and `._:/=+-@`.
pub fn check_tenant_id(id: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || " ._:/=+-@".contains(c);
    if id.is_empty() || id.len() > 256 || !id.chars().all(allowed) {
        return Err(format!(
            "tenant id {id:?} is not valid: 1 to 256 characters, letters, digits, spaces and ._:/=+-@"
        ));
    }
    Ok(())
}

/// How fast a streamed response may reach its caller: a token bucket that
/// starts full, holds `burst_bytes`, and refills at `bytes_per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamShaping {
    pub burst_bytes: usize,
    pub bytes_per_second: usize,
}

impl StreamShaping {
    /// Lambda's: the first 6 MB at once, then 2 MB a second (AWS's emulator
    /// counts these in MiB).
    pub const LAMBDA: StreamShaping = StreamShaping {
        burst_bytes: 6 * 1024 * 1024,
        bytes_per_second: 2 * 1024 * 1024,
    };
}

/// What a caller gets when every slot of the environment is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BusyAnswer {
    /// 429 `TooManyRequestsException`, as the Lambda service answers when
    /// a function has no concurrency left (the default).
    #[default]
    TooManyRequests,
    /// 400 `Runtime.Unavailable`, as AWS's local emulator answers in its
    /// Managed Instances mode.
    RuntimeUnavailable,
}

impl std::str::FromStr for BusyAnswer {
    type Err = String;

    fn from_str(status: &str) -> Result<BusyAnswer, String> {
        match status {
            "429" => Ok(BusyAnswer::TooManyRequests),
            "400" => Ok(BusyAnswer::RuntimeUnavailable),
            other => Err(format!(
                "unknown busy answer {other:?}: 429 (TooManyRequestsException) or 400 (Runtime.Unavailable)"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Layer folders, merged in order as Lambda extracts layers into `/opt`.
    pub opt_dirs: Vec<PathBuf>,
    /// The function's code folder, `LAMBDA_TASK_ROOT`.
    pub task_root: Option<PathBuf>,
    /// An explicit runtime executable, overriding the lookup.
    pub bootstrap: Option<PathBuf>,
    /// The function's runtime: a custom one (`bootstrap`) by default, or a
    /// managed one run through its language's Runtime Interface Client.
    pub runtime: crate::packaging::managed_runtime::Runtime,
    /// The `python3` or `node` a managed runtime runs on; the one on `PATH`
    /// when unset.
    pub interpreter: Option<PathBuf>,
    /// Where the Runtime Interface Clients are installed on first use.
    pub runtime_cache: PathBuf,
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
    /// The Init phase limit of an on-demand Init (10 s).
    pub init_timeout: Duration,
    /// On-demand (the default), provisioned concurrency or Managed Instances.
    pub init_type: InitType,
    /// On Managed Instances: how many invocations the environment serves
    /// at once, `AWS_LAMBDA_MAX_CONCURRENCY` for the runtime. Lambda's
    /// default depends on the runtime and the instance's vCPUs; the
    /// sandbox's is 8.
    pub max_concurrency: u32,
    /// What a caller of `serve` gets when every slot is taken.
    pub busy_answer: BusyAnswer,
    /// With SnapStart: how long a restore may take, from the release of
    /// `/runtime/restore/next` to the runtime's first `next`. Lambda
    /// documents 10 s.
    pub restore_timeout: Duration,
    /// The tenant this environment serves, with tenant isolation: the
    /// runtime gets it with each event (`Lambda-Runtime-Aws-Tenant-Id`), and
    /// `platform.start` and `platform.runtimeDone` carry it (`tenantId`).
    /// `serve --tenant-isolation` starts one environment per tenant.
    pub tenant_id: Option<String>,
    /// The status of a Logs API subscription on Managed Instances, where
    /// Lambda does not offer that API. AWS's emulator answers 404 (no such
    /// route); what Lambda itself answers is not documented.
    pub managed_logs_api_status: u16,
    /// Stop the processes between invokes with SIGSTOP, as Lambda freezes them.
    pub freeze: bool,
    /// Where the Runtime API listens; an ephemeral loopback port when `None`.
    pub runtime_api: Option<SocketAddr>,
    pub shutdown: ShutdownBudgets,
    /// Cap on a streamed response: 200 MB (209,715,200 bytes) as Lambda
    /// documents it since 2025; a setting, for a function held to less.
    pub streaming_response_limit: usize,
    /// Hold a streamed response to Lambda's bandwidth, or to another's;
    /// off by default, so that a large stream arrives at once.
    pub stream_shaping: Option<StreamShaping>,
    /// Each Logs or Telemetry subscriber buffers up to this many times its
    /// `maxBytes` before records are dropped (and reported). Lambda only says
    /// the buffer is proportional to the buffering settings.
    pub stream_buffer_factor: usize,
    /// How long a Logs or Telemetry delivery may go unanswered (frozen time
    /// not counted) before its batch is dropped and reported in
    /// `platform.logsDropped`. Lambda documents no figure.
    pub delivery_timeout: Duration,
    /// Buckets of the local S3 endpoint; it runs only when some are named.
    pub s3_buckets: Vec<String>,
    /// Where the local S3 endpoint keeps objects, as `DIR/<bucket>/<key>`
    /// (a temporary folder when unset).
    pub s3_dir: Option<PathBuf>,
    /// Configuration profiles the local AppConfig agent serves; it runs only
    /// when some are named.
    pub appconfig: Vec<crate::stand_ins::appconfig_agent::Profile>,
    /// Print the timeline and every log line as they happen.
    pub echo: bool,
    /// Keep only the newest records, up to about this many bytes, in memory
    /// (all of them when `None`, for tests and short runs). `serve` and
    /// `run` set a limit so that memory stays flat however long they run.
    pub journal_memory: Option<usize>,
    /// Also append every record to this file as NDJSON as it is emitted.
    pub journal_file: Option<PathBuf>,
    /// A log line longer than this is delivered as several records of at
    /// most this many bytes. Lambda's log events are capped at 256 KB;
    /// how it cuts a longer line is not documented.
    pub max_log_line_bytes: usize,
    /// Run the processes in private namespaces that show Lambda's paths
    /// (`/opt`, `/var/task`, a private `/tmp`), resolve `sandbox.localdomain`,
    /// and end everything they start with the environment (Linux). Where
    /// the kernel refuses, the environment runs without and notes why. On
    /// by default; `--no-isolation` (or `false` here) runs the processes
    /// on the host's folders, for a program that must write to them.
    pub isolation: bool,
    /// Give the isolated environment a network of its own, with loopback
    /// only: the Runtime API at `127.0.0.1:9001` as on Lambda, the local
    /// S3 endpoint and AppConfig agent at their usual ports inside, a
    /// listener on `0.0.0.0` reachable from inside only, and the same
    /// ports free for each environment. Off by default, so that the
    /// processes reach services on the host as they reach the internet on
    /// Lambda. Needs `isolation`; where the kernel refuses a network
    /// namespace, the environment runs on the host's network and says so.
    pub private_network: bool,
    /// The size of the private `/tmp`, in MB (Lambda's ephemeral storage:
    /// 512 by default, up to 10,240). A write past it fails with "No space
    /// left on device", as on Lambda.
    pub ephemeral_storage_mb: u32,
}

/// Lambda's ephemeral storage (`/tmp`), in MB.
pub const EPHEMERAL_STORAGE_MB: std::ops::RangeInclusive<u32> = 512..=10_240;

/// The journal's memory limit for the command line: thousands of records,
/// far more than the last 4 KB that `LogType: Tail` asks for.
pub const CLI_JOURNAL_MEMORY: usize = 4 * 1024 * 1024;

/// How long Shutdown may take, by what is registered (docs/src/lifecycle.md#shutdown).
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
            runtime: crate::packaging::managed_runtime::Runtime::Provided,
            interpreter: None,
            runtime_cache: crate::packaging::managed_runtime::default_cache(),
            handler: "function.handler".into(),
            env: Vec::new(),
            function_name: "sandbox-function".into(),
            function_version: "$LATEST".into(),
            memory_mb: 128,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            timeout: Duration::from_secs(3),
            init_timeout: Duration::from_secs(10),
            init_type: InitType::OnDemand,
            max_concurrency: 8,
            busy_answer: BusyAnswer::TooManyRequests,
            restore_timeout: RESTORE_LIMIT,
            tenant_id: None,
            managed_logs_api_status: 404,
            freeze: true,
            runtime_api: None,
            shutdown: ShutdownBudgets::default(),
            streaming_response_limit: 200 * 1024 * 1024,
            stream_shaping: None,
            stream_buffer_factor: 4,
            delivery_timeout: Duration::from_secs(5),
            s3_buckets: Vec::new(),
            s3_dir: None,
            appconfig: Vec::new(),
            echo: false,
            journal_memory: None,
            journal_file: None,
            max_log_line_bytes: 256 * 1024,
            isolation: true,
            private_network: false,
            ephemeral_storage_mb: 512,
        }
    }
}

impl Config {
    /// Checks the values Lambda bounds, with a message that says what is
    /// accepted.
    pub fn check(&self) -> Result<(), String> {
        let within = |name: &str, value: Duration, max: Duration| {
            if value.is_zero() || value > max {
                Err(format!(
                    "{name} is {:.3} s: it must be above 0 and at most {} s",
                    value.as_secs_f64(),
                    max.as_secs()
                ))
            } else {
                Ok(())
            }
        };
        within("the function timeout", self.timeout, MAX_TIMEOUT)?;
        within("the Init timeout", self.init_timeout, MAX_TIMEOUT)?;
        within("the restore timeout", self.restore_timeout, MAX_TIMEOUT)?;
        if self.max_log_line_bytes < 1024 {
            return Err(format!(
                "the log line limit is {} bytes: it must be at least 1024",
                self.max_log_line_bytes
            ));
        }
        let megabytes = |name: &str, value: u32, range: std::ops::RangeInclusive<u32>| {
            if range.contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "{name} is {value} MB: Lambda accepts {} to {} MB",
                    range.start(),
                    range.end()
                ))
            }
        };
        if self.private_network && !self.isolation {
            return Err(
                "a private network is part of isolation: drop --no-isolation (isolation: false) \
                 or --private-network"
                    .into(),
            );
        }
        if self
            .stream_shaping
            .is_some_and(|s| s.bytes_per_second == 0 || s.burst_bytes == 0)
        {
            return Err(
                "the stream shaping's burst and rate must be above 0 bytes (Lambda's: 6 MiB, 2 MiB/s)"
                    .into(),
            );
        }
        if !MAX_CONCURRENCY.contains(&self.max_concurrency) {
            return Err(format!(
                "the maximum concurrency is {}: it must be {} to {}",
                self.max_concurrency,
                MAX_CONCURRENCY.start(),
                MAX_CONCURRENCY.end()
            ));
        }
        if !(400..=599).contains(&self.managed_logs_api_status) {
            return Err(format!(
                "the Logs API status on Managed Instances is {}: it must be an error status, 400 to 599",
                self.managed_logs_api_status
            ));
        }
        if let Some(tenant) = &self.tenant_id {
            check_tenant_id(tenant)?;
            if self.init_type != InitType::OnDemand {
                return Err(format!(
                    "tenant isolation works with on-demand Init only, as on Lambda: drop --init-type {}",
                    self.init_type.as_str()
                ));
            }
        }
        megabytes("the memory size", self.memory_mb, MEMORY_MB)?;
        megabytes(
            "the ephemeral storage",
            self.ephemeral_storage_mb,
            EPHEMERAL_STORAGE_MB,
        )?;
        let budgets = &self.shutdown;
        for (name, budget) in [
            (
                "the Shutdown budget without extensions",
                budgets.no_extensions,
            ),
            (
                "the Shutdown budget with internal extensions",
                budgets.internal,
            ),
            (
                "the Shutdown budget with external extensions",
                budgets.external,
            ),
        ] {
            if budget > MAX_SHUTDOWN_BUDGET {
                return Err(format!(
                    "{name} is {} ms: at most {} ms",
                    budget.as_millis(),
                    MAX_SHUTDOWN_BUDGET.as_millis()
                ));
            }
        }
        if budgets.runtime > budgets.external {
            return Err(format!(
                "the runtime's share of the Shutdown budget ({} ms) is larger than the budget ({} ms)",
                budgets.runtime.as_millis(),
                budgets.external.as_millis()
            ));
        }
        Ok(())
    }

    pub fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.function_name
        )
    }

    /// How long Init may take: `init_timeout` on demand; with provisioned
    /// concurrency, on Managed Instances and with SnapStart 130 s or the
    /// function timeout, whichever is longer.
    pub fn init_limit(&self) -> Duration {
        match self.init_type {
            InitType::OnDemand => self.init_timeout,
            InitType::ProvisionedConcurrency | InitType::ManagedInstances | InitType::SnapStart => {
                PROVISIONED_INIT_LIMIT.max(self.timeout)
            }
        }
    }

    /// Whether the environment runs as a Managed Instances one.
    pub fn managed_instances(&self) -> bool {
        self.init_type == InitType::ManagedInstances
    }

    /// Whether Init ends in a snapshot that each environment restores.
    pub fn snapstart(&self) -> bool {
        self.init_type == InitType::SnapStart
    }

    /// How many invocations the environment serves at once.
    pub fn concurrency(&self) -> usize {
        if self.managed_instances() {
            self.max_concurrency as usize
        } else {
            1
        }
    }

    /// Whether the processes are stopped between invokes: Managed
    /// Instances never freeze.
    pub fn freezes(&self) -> bool {
        self.freeze && !self.managed_instances()
    }

    /// The Shutdown budgets in force. On Managed Instances the runtime has
    /// 600 ms after SIGTERM and the extensions 2 s in all, whatever is set.
    pub fn shutdown_budgets(&self) -> ShutdownBudgets {
        if self.managed_instances() {
            let runtime = Duration::from_millis(600);
            ShutdownBudgets {
                no_extensions: Duration::ZERO,
                internal: runtime,
                external: Duration::from_secs(2),
                runtime,
                runtime_with_internal: runtime,
            }
        } else {
            self.shutdown
        }
    }

    /// `AWS_LAMBDA_LOG_FORMAT` as the processes get it: the user's, or
    /// `JSON` on Managed Instances (the default of AWS's emulator there).
    pub fn log_format(&self) -> Option<&str> {
        self.customer_var("AWS_LAMBDA_LOG_FORMAT")
            .or(self.managed_instances().then_some("JSON"))
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
