//! Side by side: one function and one client through `lambda-sandbox serve`,
//! `cargo lambda watch --only-lambda-apis` (the local emulator Rust users
//! run today) and the floor (`runtime_api_floor`: the same HTTP exchanges,
//! nothing else). Each target is a process of its own with its own function
//! process, and the targets take turns round by round, so a slow moment of
//! the machine falls on all of them alike.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use lambda_sandbox::{Config, Package};
use tokio::process::{Child, Command};

use crate::{Client, WARMUP, count, free_addr, micros, percentile, serve, wait_for};

const ROUNDS: usize = 3;
const ROUND_INVOKES: usize = 2000;
/// How long a target may take to listen: cargo lambda reads the workspace first.
const START_LIMIT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, PartialEq)]
enum Tool {
    Floor,
    Sandbox { freeze: bool },
    CargoLambda,
}

struct Target {
    tool: Tool,
    extension: bool,
    client: Client,
    times: Vec<Duration>,
    /// Killed when the target is dropped.
    _processes: Vec<Child>,
    _package: Option<Package>,
}

/// The programs a target runs.
pub struct Binaries<'a> {
    pub echo: &'a Path,
    pub noop: &'a Path,
    pub floor: &'a Path,
    pub sandbox: &'a Path,
}

pub async fn run(binaries: &Binaries<'_>) {
    let cargo_lambda = cargo_lambda();
    let mut targets = Vec::new();
    for extension in [false, true] {
        for tool in [
            Tool::Floor,
            Tool::Sandbox { freeze: true },
            Tool::Sandbox { freeze: false },
            Tool::CargoLambda,
        ] {
            targets.push(start(tool, extension, binaries, &cargo_lambda).await);
        }
    }
    for target in &mut targets {
        for _ in 0..count(WARMUP) {
            target.client.invoke().await;
        }
    }
    for _ in 0..ROUNDS {
        for target in &mut targets {
            for _ in 0..count(ROUND_INVOKES) {
                let time = target.client.invoke().await;
                target.times.push(time);
            }
        }
    }
    for target in &mut targets {
        target.times.sort();
    }
    let find = |tool: Tool, extension: bool| {
        let target = targets
            .iter()
            .find(|t| t.tool == tool && t.extension == extension)
            .expect("every target was started");
        (
            percentile(&target.times, 0.5),
            percentile(&target.times, 0.99),
        )
    };
    let function = |extension: bool| {
        if extension {
            "lambda_runtime echo + no-op INVOKE extension"
        } else {
            "lambda_runtime echo, no extension"
        }
    };

    println!(
        "\nside by side: each tool's Invoke API, one keep-alive client, {ROUNDS} interleaved rounds of {} invokes per target\n",
        count(ROUND_INVOKES)
    );
    println!(
        "| function | lambda-sandbox serve p50 / p99 | cargo lambda watch p50 / p99 | sandbox ÷ cargo lambda, p50 |"
    );
    println!("|---|---|---|---|");
    for extension in [false, true] {
        let sandbox = find(Tool::Sandbox { freeze: true }, extension);
        let cargo = find(Tool::CargoLambda, extension);
        println!(
            "| {} | {} / {} | {} / {} | {:.2} |",
            function(extension),
            micros(sandbox.0),
            micros(sandbox.1),
            micros(cargo.0),
            micros(cargo.1),
            sandbox.0.as_secs_f64() / cargo.0.as_secs_f64(),
        );
    }
    println!(
        "\nPer invoke, lambda-sandbox also waits for every INVOKE extension's next before the next event, freezes and thaws the processes, and keeps each log line as a record; cargo lambda watch does none of these (an extension still busy when an invoke comes is not sent that INVOKE)."
    );

    println!(
        "\nthe sandbox above the floor (runtime_api_floor: the same HTTP exchanges and nothing else), same rounds\n"
    );
    println!(
        "| lambda-sandbox serve | function | p50 | p99 | floor p50 | floor p99 | above the floor, p50 | above the floor, p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for freeze in [true, false] {
        for extension in [false, true] {
            let sandbox = find(Tool::Sandbox { freeze }, extension);
            let floor = find(Tool::Floor, extension);
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                if freeze { "freeze" } else { "--no-freeze" },
                function(extension),
                micros(sandbox.0),
                micros(sandbox.1),
                micros(floor.0),
                micros(floor.1),
                difference(sandbox.0, floor.0),
                difference(sandbox.1, floor.1),
            );
        }
    }
}

fn difference(a: Duration, b: Duration) -> String {
    format!("{:+.0} µs", (a.as_secs_f64() - b.as_secs_f64()) * 1e6)
}

async fn start(
    tool: Tool,
    extension: bool,
    binaries: &Binaries<'_>,
    cargo_lambda: &Path,
) -> Target {
    let addr = free_addr();
    let mut processes = Vec::new();
    let mut package = None;
    let function = match tool {
        Tool::Floor => {
            let mut floor = Command::new(binaries.floor);
            floor
                .arg(addr.to_string())
                .arg(u8::from(extension).to_string());
            processes.push(spawn(floor));
            wait_for(addr, START_LIMIT).await;
            // The floor takes the address as Lambda gives it: host:port.
            processes.extend(function_processes(binaries, extension, &addr.to_string()));
            "floor".to_string()
        }
        Tool::Sandbox { freeze } => {
            let built = Package::temporary("side-by-side").unwrap();
            built.bootstrap(binaries.echo).unwrap();
            if extension {
                built.extension("noop_extension", binaries.noop).unwrap();
            }
            let mut sandbox = serve(binaries.sandbox, addr, &built);
            sandbox.arg("--opt").arg(built.layer());
            if !freeze {
                sandbox.arg("--no-freeze");
            }
            processes.push(spawn(sandbox));
            package = Some(built);
            wait_for(addr, START_LIMIT).await;
            Config::default().function_name
        }
        Tool::CargoLambda => {
            let mut watch = Command::new(cargo_lambda);
            watch
                .args(["lambda", "watch", "--only-lambda-apis", "-A"])
                .arg(addr.ip().to_string())
                .arg("-P")
                .arg(addr.port().to_string())
                // It reads the workspace's Cargo.toml, though it builds nothing.
                .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
            processes.push(spawn(watch));
            wait_for(addr, START_LIMIT).await;
            // Its Runtime API lives under /.rt, and its function is named `_`.
            let api = format!("http://{addr}/.rt");
            processes.extend(function_processes(binaries, extension, &api));
            "_".to_string()
        }
    };
    Target {
        tool,
        extension,
        client: Client::connect(addr, &function).await,
        times: Vec::new(),
        _processes: processes,
        _package: package,
    }
}

/// The function (and its extension) as a tool without process management
/// needs them started: by hand, with the variables Lambda would set.
fn function_processes(binaries: &Binaries<'_>, extension: bool, api: &str) -> Vec<Child> {
    let programs = if extension {
        vec![binaries.noop, binaries.echo]
    } else {
        vec![binaries.echo]
    };
    programs
        .into_iter()
        .map(|program| {
            let mut command = Command::new(program);
            command
                .env("AWS_LAMBDA_RUNTIME_API", api)
                .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
                .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
                .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench");
            spawn(command)
        })
        .collect()
}

fn spawn(mut command: Command) -> Child {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.as_std().get_program()))
}

/// cargo-lambda as scripts/bench installs it (`.venv`), or on PATH.
fn cargo_lambda() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/cargo-lambda");
    if venv.exists() {
        return venv;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("cargo-lambda"))
                .find(|path| path.exists())
        })
        .expect("cargo-lambda is missing: scripts/bench installs it into .venv (scripts/venv.sh)")
}
