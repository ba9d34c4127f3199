//! `lambda-sandbox`: run Lambda functions and extensions locally.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use lambda_sandbox::{
    Config, Environment, InvokeRequest, InvokeResult, Status, invoke_api, output::Output,
    sample_events,
};

#[derive(Parser)]
#[command(
    name = "lambda-sandbox",
    version,
    about = "A local AWS Lambda execution environment: extensions, runtime, Init/Invoke/Shutdown, no Docker"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One Init, the given invocations, then Shutdown (reason spindown).
    Run(Box<RunArgs>),
    /// Keep the environment up and serve the Lambda Invoke API until Ctrl-C.
    Serve(Box<ServeArgs>),
    /// Print a sample event for a trigger, built from the aws_lambda_events types.
    Event(EventArgs),
}

#[derive(Args, Clone)]
pub struct EnvironmentArgs {
    /// A layer folder, merged into /opt in order (repeatable, at most 5).
    #[arg(long = "opt", value_name = "DIR")]
    opt: Vec<PathBuf>,
    /// The function's code folder (LAMBDA_TASK_ROOT), searched for `bootstrap`.
    #[arg(long, value_name = "DIR")]
    task_root: Option<PathBuf>,
    /// The runtime executable, overriding the lookup in --task-root and the layers.
    #[arg(long, value_name = "PATH", conflicts_with = "runtime")]
    bootstrap: Option<PathBuf>,
    /// The function's runtime: provided.al2023 (a bootstrap), or python3.12,
    /// python3.13, python3.14, nodejs20.x, nodejs22.x, nodejs24.x, run through
    /// the language's official Runtime Interface Client (installed on first use).
    #[arg(long, default_value = "provided.al2023")]
    runtime: lambda_sandbox::managed_runtime::Runtime,
    /// The python3 or node a managed runtime runs on (default: the one on PATH).
    #[arg(long, value_name = "PATH")]
    interpreter: Option<PathBuf>,
    /// The handler string given to the runtime as _HANDLER (module.function
    /// for a managed runtime, from --task-root).
    #[arg(long, default_value = "function.handler")]
    handler: String,
    /// A customer environment variable for the runtime and the extensions (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    env: Vec<(String, String)>,
    /// The function timeout in seconds, over the whole invoke phase (above 0, at most 900).
    #[arg(long, default_value = "3", value_parser = parse_seconds)]
    timeout: Duration,
    /// The Init phase limit in seconds (above 0, at most 900).
    #[arg(long, default_value = "10", value_parser = parse_seconds)]
    init_timeout: Duration,
    /// on-demand, provisioned-concurrency (Init ahead of any invocation,
    /// within 130 s or the function timeout), lambda-managed-instances
    /// (as --managed-instances) or snap-start (as --snapstart).
    #[arg(long, default_value = "on-demand")]
    init_type: lambda_sandbox::config::InitType,
    /// SnapStart: Init once, ending in a snapshot; each new environment
    /// starts with a Restore phase (after-restore hooks, fresh credentials
    /// from a credentials endpoint) instead of an Init.
    #[arg(long, conflicts_with_all = ["init_type", "managed_instances"])]
    snapstart: bool,
    /// Hold a streamed response to Lambda's bandwidth: the first 6 MiB at
    /// once, then 2 MiB a second.
    #[arg(long)]
    stream_shaping: bool,
    /// SnapStart: how long the runtime may take from the restore to its
    /// first next, its after-restore hooks included, in seconds (Lambda: 10).
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    restore_timeout: Duration,
    /// Run as Lambda Managed Instances: up to --max-concurrency invocations
    /// at once, no freeze, SHUTDOWN-only extensions, no Logs API, Telemetry
    /// with schema 2025-01-29 only.
    #[arg(long, conflicts_with = "init_type")]
    managed_instances: bool,
    /// On Managed Instances, how many invocations the environment serves at
    /// once (AWS_LAMBDA_MAX_CONCURRENCY, 1 to 1024).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = parse_concurrency)]
    max_concurrency: u32,
    /// What `serve` answers a caller when every slot is taken: 429
    /// (TooManyRequestsException, as Lambda) or 400 (Runtime.Unavailable,
    /// as AWS's local emulator on Managed Instances).
    #[arg(long, value_name = "STATUS", default_value = "429")]
    busy_status: lambda_sandbox::config::BusyAnswer,
    /// The function's memory size in MB (128 to 10240).
    #[arg(long, default_value_t = 128, value_parser = parse_memory)]
    memory: u32,
    /// The function's name.
    #[arg(long, default_value = "sandbox-function")]
    function_name: String,
    /// Do not stop the processes between invokes.
    #[arg(long)]
    no_freeze: bool,
    /// Run the processes on this machine's own file system, names and
    /// process tree, instead of private namespaces that show Lambda's
    /// (/opt, /var/task, a private /tmp, sandbox.localdomain).
    #[arg(long)]
    no_isolation: bool,
    /// Give the environment a network of its own (loopback only): the
    /// Runtime API at 127.0.0.1:9001 as on Lambda, the S3 endpoint and the
    /// AppConfig agent reachable inside, listeners unreachable from outside.
    #[arg(long, conflicts_with = "no_isolation")]
    private_network: bool,
    /// The size of the private /tmp in MB (512 to 10240), with isolation.
    #[arg(long, value_name = "MB", default_value_t = 512, value_parser = parse_ephemeral_storage)]
    ephemeral_storage: u32,
    /// Listen for the Runtime API on this address instead of an ephemeral loopback port.
    #[arg(long, value_name = "ADDR")]
    runtime_api: Option<std::net::SocketAddr>,
    /// Shutdown budget with external extensions, in milliseconds (at most 60000).
    #[arg(long, default_value = "2000", value_parser = parse_shutdown_ms)]
    shutdown_ms: Duration,
    /// The runtime's share of the shutdown budget after SIGTERM, in milliseconds.
    #[arg(long, default_value = "300", value_parser = parse_shutdown_ms)]
    runtime_shutdown_ms: Duration,
    /// Serve a local S3 endpoint with this bucket (repeatable); the processes
    /// find it through AWS_ENDPOINT_URL_S3.
    #[arg(long = "s3-bucket", value_name = "NAME")]
    s3_buckets: Vec<String>,
    /// Where the local S3 endpoint keeps objects, as DIR/<bucket>/<key>
    /// (default: OUTPUT/s3 with --output, else a temporary folder removed at exit).
    #[arg(long, value_name = "DIR")]
    s3_dir: Option<PathBuf>,
    /// Serve a configuration profile through a local AppConfig agent
    /// (repeatable); the function finds it through AWS_APPCONFIG_EXTENSION_HTTP_PORT.
    #[arg(long, value_name = "APP/ENV/PROFILE=PATH")]
    appconfig: Vec<lambda_sandbox::appconfig_agent::Profile>,
}

#[derive(Args)]
struct EventArgs {
    /// The trigger, such as s3-put or sqs (see --list).
    source: Option<String>,
    /// List the triggers and their fields.
    #[arg(long)]
    list: bool,
    /// Override a field of the sample, such as bucket=my-bucket (repeatable).
    #[arg(long = "field", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    fields: Vec<(String, String)>,
}

/// Invoke with a sample event instead of a literal one.
#[derive(Args)]
struct EventSourceArgs {
    /// Send the sample event of this trigger (see `lambda-sandbox event --list`).
    #[arg(long, value_name = "SOURCE")]
    event_source: Option<String>,
    /// Override a field of the sample event (repeatable).
    #[arg(long = "field", value_name = "KEY=VALUE", value_parser = parse_key_value, requires = "event_source")]
    fields: Vec<(String, String)>,
}

impl EventSourceArgs {
    fn sample(&self) -> Result<Option<String>, String> {
        self.event_source
            .as_deref()
            .map(|source| {
                sample_events::sample(source, &self.fields).map(|event| event.to_string())
            })
            .transpose()
            .map_err(|e| e.to_string())
    }
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    environment: EnvironmentArgs,
    /// An event as JSON, or @FILE (repeatable; default one `{}`).
    #[arg(
        long = "event",
        value_name = "JSON|@FILE",
        conflicts_with = "event_source"
    )]
    events: Vec<String>,
    #[command(flatten)]
    sample: EventSourceArgs,
    /// How many times to send the list of events.
    #[arg(long, default_value_t = 1)]
    invocations: usize,
    /// SnapStart: restore the snapshot into this many environments, one
    /// after another, each sent the events (1 to 100).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse_restores)]
    restores: u32,
    /// Write responses.ndjson and platform.ndjson here.
    #[arg(long, value_name = "DIR")]
    output: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    environment: EnvironmentArgs,
    /// Where the Invoke API listens (`aws lambda invoke --endpoint-url http://ADDR`).
    #[arg(long, default_value = "127.0.0.1:3001")]
    invoke_addr: std::net::SocketAddr,
    /// A sample event for invocations that arrive with an empty payload.
    #[command(flatten)]
    sample: EventSourceArgs,
    /// Tenant isolation: every invocation names its tenant in X-Amz-Tenant-Id
    /// (aws lambda invoke --tenant-id), and each tenant gets an execution
    /// environment of its own, started on its first invocation.
    #[arg(long)]
    tenant_isolation: bool,
}

/// Seconds as Lambda takes them: a finite number above 0, at most 900.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let max = lambda_sandbox::config::MAX_TIMEOUT.as_secs();
    match s.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= max as f64 => {
            Ok(Duration::from_secs_f64(secs))
        }
        _ => Err(format!(
            "{s:?} is not a number of seconds above 0 and at most {max} (Lambda's limit), such as 3 or 0.5"
        )),
    }
}

fn parse_concurrency(s: &str) -> Result<u32, String> {
    let range = lambda_sandbox::config::MAX_CONCURRENCY;
    s.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            format!(
                "{s:?} is not a concurrency the sandbox accepts: a whole number from {} to {}",
                range.start(),
                range.end()
            )
        })
}

fn parse_restores(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if (1..=100).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a number of restores: 1 to 100")),
    }
}

fn parse_memory(s: &str) -> Result<u32, String> {
    parse_megabytes(s, "a memory size", lambda_sandbox::config::MEMORY_MB)
}

fn parse_ephemeral_storage(s: &str) -> Result<u32, String> {
    parse_megabytes(
        s,
        "an ephemeral storage size",
        lambda_sandbox::config::EPHEMERAL_STORAGE_MB,
    )
}

/// A whole number of MB within Lambda's range for `what`.
fn parse_megabytes(
    s: &str,
    what: &str,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, String> {
    s.trim()
        .parse::<u32>()
        .ok()
        .filter(|mb| range.contains(mb))
        .ok_or_else(|| {
            format!(
                "{s:?} is not {what} Lambda accepts: a whole number of MB from {} to {}",
                range.start(),
                range.end()
            )
        })
}

fn parse_shutdown_ms(s: &str) -> Result<Duration, String> {
    let max = lambda_sandbox::config::MAX_SHUTDOWN_BUDGET;
    s.trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_millis)
        .filter(|budget| *budget <= max)
        .ok_or_else(|| {
            format!(
                "{s:?} is not a whole number of milliseconds from 0 to {}",
                max.as_millis()
            )
        })
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

impl EnvironmentArgs {
    pub fn to_config(&self) -> Config {
        let mut config = Config {
            opt_dirs: self.opt.clone(),
            task_root: self.task_root.clone(),
            bootstrap: self.bootstrap.clone(),
            runtime: self.runtime,
            interpreter: self.interpreter.clone(),
            handler: self.handler.clone(),
            env: self.env.clone(),
            function_name: self.function_name.clone(),
            memory_mb: self.memory,
            timeout: self.timeout,
            init_timeout: self.init_timeout,
            init_type: if self.managed_instances {
                lambda_sandbox::config::InitType::ManagedInstances
            } else if self.snapstart {
                lambda_sandbox::config::InitType::SnapStart
            } else {
                self.init_type
            },
            restore_timeout: self.restore_timeout,
            stream_shaping: self
                .stream_shaping
                .then_some(lambda_sandbox::config::StreamShaping::LAMBDA),
            max_concurrency: self.max_concurrency,
            busy_answer: self.busy_status,
            freeze: !self.no_freeze,
            isolation: !self.no_isolation,
            private_network: self.private_network,
            ephemeral_storage_mb: self.ephemeral_storage,
            runtime_api: self.runtime_api,
            s3_buckets: self.s3_buckets.clone(),
            s3_dir: self.s3_dir.clone(),
            appconfig: self.appconfig.clone(),
            echo: true,
            // However long the sandbox runs, its memory stays flat.
            journal_memory: Some(lambda_sandbox::config::CLI_JOURNAL_MEMORY),
            ..Config::default()
        };
        config.shutdown.external = self.shutdown_ms;
        config.shutdown.runtime = self.runtime_shutdown_ms;
        config
    }
}

fn read_event(arg: &str) -> Result<String, String> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read event file {path}: {e}"))?,
        None => arg.to_string(),
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| format!("event {arg:?} is not JSON: {e}"))?;
    Ok(text)
}

/// How often `run` sends its events.
struct Repeats {
    /// The list of events, this many times.
    invocations: usize,
    /// SnapStart: into this many environments restored from the snapshot.
    restores: u32,
}

/// Exit status: 0 when every invocation succeeded, 1 when one failed, 2 when
/// the environment could not start, 130 when a signal stopped the run, 70
/// when a task of the sandbox failed (the environment is shut down first).
async fn run(
    config: Config,
    events: Vec<String>,
    repeats: Repeats,
    output_dir: Option<PathBuf>,
) -> ExitCode {
    let mut config = config;
    if repeats.restores > 1 && !config.snapstart() {
        eprintln!(
            "lambda-sandbox: --restores {} restores a SnapStart snapshot: add --snapstart",
            repeats.restores
        );
        return ExitCode::from(2);
    }
    if let (None, Some(dir)) = (&config.s3_dir, &output_dir) {
        config.s3_dir = Some(dir.join("s3"));
    }
    let mut output = match output_dir.as_deref().map(Output::create).transpose() {
        Ok(output) => output,
        Err(err) => {
            let dir = output_dir.as_deref().unwrap_or(std::path::Path::new("."));
            eprintln!("lambda-sandbox: cannot write to {}: {err}", dir.display());
            return ExitCode::from(2);
        }
    };
    if let Some(output) = &output {
        config.journal_file = Some(output.platform_file());
    }
    let mut signals = match Signals::install() {
        Ok(signals) => signals,
        Err(err) => {
            eprintln!("lambda-sandbox: {err}");
            return ExitCode::from(2);
        }
    };
    let env = match Environment::start(config).await {
        Ok(env) => env,
        Err(err) => {
            eprintln!("lambda-sandbox: the environment could not start: {err}");
            return ExitCode::from(2);
        }
    };
    // A first signal lets the invocation in flight finish, a second (or a
    // failed task) ends it.
    let stopping = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (env, stopping, failed) = (env.clone(), stopping.clone(), failed.clone());
        tokio::spawn(async move {
            let mut stop = signals.next().await;
            stopping.store(true, Ordering::SeqCst);
            if let Stop::Signal(_) = stop {
                eprintln!(
                    "lambda-sandbox: {stop}: no further invocations; the one in flight may finish (again to stop at once)"
                );
                stop = signals.next().await;
            }
            failed.store(matches!(stop, Stop::Panic(_)), Ordering::SeqCst);
            eprintln!("lambda-sandbox: {stop}: stopping now");
            env.terminate();
        })
    };
    let mut all_succeeded = true;
    let mut write_error = None;
    let mut record = |result: &InvokeResult| {
        println!(
            "         [caller] response {} ({}): {}",
            result.request_id,
            result.status,
            String::from_utf8_lossy(&result.payload)
        );
        all_succeeded &= result.status == Status::Success;
        if let Some(output) = output.as_mut()
            && let Err(err) = output.response(result)
        {
            write_error.get_or_insert(err);
        }
    };
    let payloads = (0..repeats.invocations).flat_map(|_| events.iter().cloned());
    if env.config().managed_instances() {
        // All at once: the environment takes as many as it serves at once,
        // and the rest wait for a free slot.
        let mut in_flight = tokio::task::JoinSet::new();
        for payload in payloads {
            let env = env.clone();
            in_flight.spawn(async move {
                env.invoke(InvokeRequest {
                    payload: payload.into(),
                    ..InvokeRequest::default()
                })
                .await
            });
        }
        while let Some(done) = in_flight.join_next().await {
            if let Ok(result) = done {
                record(&result);
            }
        }
    } else {
        for restore in 1..=repeats.restores {
            if restore > 1 && !stopping.load(Ordering::SeqCst) {
                println!(
                    "         [caller] a new environment from the snapshot ({restore} of {})",
                    repeats.restores
                );
                // Refused only without SnapStart, which was checked above.
                let _ = env.restore_anew().await;
            }
            for payload in payloads.clone() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let result = env
                    .invoke(InvokeRequest {
                        payload: payload.into(),
                        ..InvokeRequest::default()
                    })
                    .await;
                record(&result);
                env.wait_idle().await;
            }
        }
    }
    env.shutdown().await;
    watcher.abort();
    let stopped_early = stopping.load(Ordering::SeqCst);
    if let (Some(output), Some(dir)) = (output, output_dir) {
        let timeline = output.timeline(&env.timeline_svg()).err();
        if let Some(err) = write_error.or(timeline).or(output.finish().err()) {
            eprintln!("lambda-sandbox: cannot write {}: {err}", dir.display());
            return ExitCode::from(2);
        }
        println!(
            "wrote {}/responses.ndjson, platform.ndjson and timeline.svg",
            dir.display()
        );
    }
    if failed.load(Ordering::SeqCst) {
        ExitCode::from(70)
    } else if stopped_early {
        ExitCode::from(130)
    } else if all_succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_event(args: &EventArgs) -> ExitCode {
    if args.list {
        for source in sample_events::SOURCES {
            println!(
                "{:<22} {} (fields: {})",
                source.name,
                source.description,
                source.fields.join(", ")
            );
        }
        return ExitCode::SUCCESS;
    }
    match sample_events::sample(args.source.as_deref().unwrap_or_default(), &args.fields) {
        Ok(event) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&event).expect("JSON prints")
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("lambda-sandbox: {err}");
            ExitCode::from(2)
        }
    }
}

/// Serves invocations until Ctrl-C or SIGTERM. The first signal refuses new
/// invocations (503) and lets those already accepted finish within their
/// timeout; a second one ends them at once. Then Shutdown (spindown).
async fn serve(
    config: Config,
    invoke_addr: std::net::SocketAddr,
    default_event: Option<String>,
    tenant_isolation: bool,
) -> ExitCode {
    let function_name = config.function_name.clone();
    // Installed before the address is printed: whoever reads it may signal at once.
    let mut signals = match Signals::install() {
        Ok(signals) => signals,
        Err(err) => {
            eprintln!("lambda-sandbox: {err}");
            return ExitCode::from(2);
        }
    };
    let default_event = default_event.map(Into::into);
    let limits = invoke_api::Limits::default();
    let api = if tenant_isolation {
        // Each tenant's environment starts later: check the settings now.
        if let Err(err) = tenant_settings(&config) {
            eprintln!("lambda-sandbox: {err}");
            return ExitCode::from(2);
        }
        invoke_api::serve_tenants(config, invoke_addr, default_event, limits).await
    } else {
        let env = match Environment::start(config).await {
            Ok(env) => env,
            Err(err) => {
                eprintln!("lambda-sandbox: the environment could not start: {err}");
                return ExitCode::from(2);
            }
        };
        let api = invoke_api::serve_with(env.clone(), invoke_addr, default_event, limits).await;
        if api.is_err() {
            env.shutdown().await;
        }
        api
    };
    let api = match api {
        Ok(api) => api,
        Err(err) => {
            eprintln!("lambda-sandbox: cannot listen for the Invoke API on {invoke_addr}: {err}");
            return ExitCode::from(2);
        }
    };
    let addr = api.addr;
    let tenant = if tenant_isolation {
        " --tenant-id TENANT"
    } else {
        ""
    };
    println!(
        "         [sandbox] Invoke API on http://{addr}; try (AWS CLI v1 or v2):\n           echo '{{}}' > event.json\n           aws lambda invoke --endpoint-url http://{addr} --function-name {function_name}{tenant} --payload fileb://event.json --log-type Tail out.json\n         Ctrl-C shuts down."
    );
    let stop = signals.next().await;
    let mut failed = matches!(stop, Stop::Panic(_));
    let terminate = || async {
        for env in api.environments().await {
            env.terminate();
        }
    };
    if failed {
        eprintln!("lambda-sandbox: {stop}: shutting the environment down");
        terminate().await;
        api.drain().await;
    } else {
        println!(
            "         [sandbox] {stop}: refusing new invocations, finishing those in flight (again to stop at once)"
        );
        tokio::select! {
            () = api.drain() => {}
            stop = signals.next() => {
                failed = matches!(stop, Stop::Panic(_));
                println!("         [sandbox] {stop}: ending the invocations in flight");
                terminate().await;
                api.drain().await;
            }
        }
    }
    for env in api.environments().await {
        env.shutdown().await;
    }
    if failed {
        ExitCode::from(70)
    } else {
        ExitCode::SUCCESS
    }
}

/// Checks what a tenant's environment will start with, and what tenant
/// isolation cannot share between environments.
fn tenant_settings(config: &Config) -> Result<(), String> {
    if config.runtime_api.is_some() {
        return Err(
            "--runtime-api with --tenant-isolation: each tenant's environment needs its own Runtime API; drop --runtime-api".into(),
        );
    }
    Config {
        tenant_id: Some("tenant".into()),
        ..config.clone()
    }
    .check()
}

/// What ends a run before its end: a signal, or a panic in one of the
/// sandbox's tasks (the sandbox unwinds, so the failed task ends alone and
/// the environment can still be shut down in order).
enum Stop {
    Signal(&'static str),
    Panic(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Signal(name) => f.write_str(name),
            Stop::Panic(message) => write!(f, "a task of the sandbox failed ({message})"),
        }
    }
}

static PANIC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
static PANICKED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Keeps the default report of a panic, and tells [`Signals::next`].
fn watch_for_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        let _ = PANIC.set(info.to_string());
        PANICKED.notify_one();
    }));
}

/// SIGINT and SIGTERM, and panics, in the order they arrive.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals, String> {
        use tokio::signal::unix::{SignalKind, signal};
        let handler =
            |kind, name| signal(kind).map_err(|e| format!("cannot install a {name} handler: {e}"));
        Ok(Signals {
            interrupt: handler(SignalKind::interrupt(), "SIGINT")?,
            terminate: handler(SignalKind::terminate(), "SIGTERM")?,
        })
    }

    async fn next(&mut self) -> Stop {
        tokio::select! {
            _ = self.interrupt.recv() => Stop::Signal("SIGINT"),
            _ = self.terminate.recv() => Stop::Signal("SIGTERM"),
            () = PANICKED.notified() => Stop::Panic(PANIC.get().cloned().unwrap_or_default()),
        }
    }
}

// One thread serves the APIs and drives the phases; the cores are left to the
// function and its extensions, which is where Lambda spends them too.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    watch_for_panics();
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => {
            let events: Result<Vec<String>, String> = match args.sample.sample() {
                Err(err) => Err(err),
                Ok(Some(sample)) => Ok(vec![sample]),
                Ok(None) if args.events.is_empty() => Ok(vec!["{}".to_string()]),
                Ok(None) => args.events.iter().map(|e| read_event(e)).collect(),
            };
            match events {
                Ok(events) => {
                    run(
                        args.environment.to_config(),
                        events,
                        Repeats {
                            invocations: args.invocations,
                            restores: args.restores,
                        },
                        args.output,
                    )
                    .await
                }
                Err(err) => {
                    eprintln!("lambda-sandbox: {err}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Serve(args) => match args.sample.sample() {
            Ok(sample) => {
                serve(
                    args.environment.to_config(),
                    args.invoke_addr,
                    sample,
                    args.tenant_isolation,
                )
                .await
            }
            Err(err) => {
                eprintln!("lambda-sandbox: {err}");
                ExitCode::from(2)
            }
        },
        Command::Event(args) => print_event(&args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_any_task_is_a_stop_that_says_what_failed() {
        watch_for_panics();
        let mut signals = Signals::install().unwrap();
        let failed = tokio::spawn(async { panic!("the S3 endpoint tripped") });
        assert!(failed.await.is_err(), "the task failed alone");
        match signals.next().await {
            Stop::Panic(message) => {
                assert!(message.contains("the S3 endpoint tripped"), "{message}")
            }
            Stop::Signal(name) => panic!("a panic, not {name}"),
        }
    }
}
