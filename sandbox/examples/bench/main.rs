//! The sandbox's benchmark: invoke round trips through the Invoke API, Init
//! durations, the examples' peak memory and start-up, the sandbox side by
//! side with `cargo lambda watch` and above a floor (`side_by_side`), binary
//! sizes, and a soak of `lambda-sandbox serve` whose memory must stay flat.
//!
//! Run it with `scripts/bench`, which builds everything in release first.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod side_by_side;

use lambda_sandbox::{Config, Environment, Package, invoke_api};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const WARMUP: usize = 200;
const INVOKES: usize = 5000;

/// `--quick`: every count a fiftieth, the same tables. The tests run it on
/// debug builds to check that the README's tables are this bench's own.
static QUICK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A count of the full bench, or its share in `--quick`.
fn count(full: usize) -> usize {
    if QUICK.load(std::sync::atomic::Ordering::Relaxed) {
        (full / 50).max(1)
    } else {
        full
    }
}

/// A keep-alive HTTP/1.1 client for the Invoke API, as an SDK holds one.
struct Client {
    stream: BufReader<TcpStream>,
    request: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr, function: &str) -> Client {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let body = b"{\"bench\":true}";
        let mut request = format!(
            "POST /2015-03-31/functions/{function}/invocations HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        Client {
            stream: BufReader::new(stream),
            request,
        }
    }

    /// A client that sends `body` instead of the benchmark's own event.
    async fn with_body(addr: SocketAddr, function: &str, body: &str) -> Client {
        let mut client = Client::connect(addr, function).await;
        client.request = format!(
            "POST /2015-03-31/functions/{function}/invocations HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes();
        client
    }

    async fn invoke(&mut self) -> Duration {
        let started = Instant::now();
        self.stream
            .get_mut()
            .write_all(&self.request)
            .await
            .unwrap();
        let mut length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            assert!(
                !line.starts_with("HTTP/1.1 ") || line.starts_with("HTTP/1.1 200"),
                "{line}"
            );
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await.unwrap();
        started.elapsed()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

struct Scenario {
    name: &'static str,
    bootstrap: PathBuf,
    extension: Option<(&'static str, PathBuf)>,
    freeze: bool,
}

async fn run(scenario: &Scenario) {
    let package = Package::temporary("bench").unwrap();
    package.bootstrap(&scenario.bootstrap).unwrap();
    if let Some((name, path)) = &scenario.extension {
        package.extension(name, path).unwrap();
    }
    let env = Environment::start(Config {
        freeze: scenario.freeze,
        env: vec![("LIFECYCLE_LOGGER_WORK_MS".into(), "0".into())],
        ..package.config()
    })
    .await
    .unwrap();
    let server = invoke_api::serve(env.clone(), "127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let addr = server.addr;
    let mut client = Client::connect(addr, &env.config().function_name).await;
    for _ in 0..count(WARMUP) {
        client.invoke().await;
    }
    let started = Instant::now();
    let mut times = Vec::with_capacity(count(INVOKES));
    for _ in 0..count(INVOKES) {
        times.push(client.invoke().await);
    }
    let total = started.elapsed();
    env.wait_idle().await;
    times.sort();
    let records = env.records();
    let init_ms = records
        .iter()
        .find(|r| r.kind == "platform.initReport")
        .and_then(|r| r.record["metrics"]["durationMs"].as_f64())
        .unwrap_or_default();
    let rss: Vec<String> = env
        .peak_rss_kib()
        .await
        .iter()
        .map(|kib| format!("{kib} KiB"))
        .collect();
    let registered = env
        .registrations()
        .iter()
        .filter_map(|r| r.after_launch)
        .map(|d| format!("{:.2} ms", d.as_secs_f64() * 1000.0))
        .collect::<Vec<_>>();
    println!(
        "| {} | {} | {} | {} | {:.0} | {:.2} ms | {} | {} |",
        scenario.name,
        micros(percentile(&times, 0.5)),
        micros(percentile(&times, 0.99)),
        micros(*times.last().unwrap()),
        count(INVOKES) as f64 / total.as_secs_f64(),
        init_ms,
        rss.join(" / "),
        if registered.is_empty() {
            "-".to_string()
        } else {
            registered.join(", ")
        },
    );
    env.shutdown().await;
    // Let go of this environment now, not during the next one's Init:
    // freeing its records would hold up the next scenario's thread. The
    // client's connection task sees the close at the next I/O poll.
    drop(client);
    server.stop().await;
    drop(env);
    tokio::time::sleep(Duration::from_millis(20)).await;
}

// One thread for the sandbox and the client leaves the other cores to the
// function and its extension, as the sandbox binary's own runtime would.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let examples = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let release = examples.parent().unwrap().to_path_buf();
    let echo = examples.join("echo_function");
    let noop = examples.join("noop_extension");
    let floor = examples.join("runtime_api_floor");
    let bootstrap = release.join("bootstrap");
    let logger = release.join("lifecycle-logger");
    let sandbox = release.join("lambda-sandbox");
    for binary in [&echo, &noop, &floor, &bootstrap, &logger, &sandbox] {
        assert!(
            binary.exists(),
            "{} is missing: run scripts/bench",
            binary.display()
        );
    }

    // `bench [--quick] [SECTION…]` runs only those sections: classic,
    // side-by-side, managed-instances, soak, sizes; no section runs them all.
    let mut asked: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = asked.iter().position(|a| a == "--quick") {
        asked.remove(at);
        QUICK.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let wanted = |section: &str| asked.is_empty() || asked.iter().any(|a| a == section);
    if wanted("classic") {
        classic(&echo, &noop, &bootstrap, &logger).await;
    }
    if wanted("side-by-side") {
        side_by_side::run(&side_by_side::Binaries {
            echo: &echo,
            noop: &noop,
            floor: &floor,
            sandbox: &sandbox,
        })
        .await;
    }
    if wanted("managed-instances") {
        managed_instances(&[
            ("custom-runtime bootstrap", &bootstrap),
            ("lambda_runtime echo (run_concurrent)", &echo),
        ])
        .await;
    }
    if wanted("soak") {
        soak(&echo, &sandbox).await;
    }
    if wanted("sizes") {
        sizes(&[&bootstrap, &logger, &sandbox]);
    }
}

/// Round trips, Init and memory of the classic environment, one scenario each.
async fn classic(echo: &Path, noop: &Path, bootstrap: &Path, logger: &Path) {
    println!(
        "{} invokes through the Invoke API after {} warm-up, one keep-alive client, on {} cores\n",
        count(INVOKES),
        count(WARMUP),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "| scenario | p50 | p99 | max | invokes/s | Init | peak RSS (runtime / extension) | launch → registered |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let scenarios = [
        Scenario {
            name: "lambda_runtime echo, no extension",
            bootstrap: echo.to_path_buf(),
            extension: None,
            freeze: true,
        },
        Scenario {
            name: "lambda_runtime echo + no-op INVOKE extension",
            bootstrap: echo.to_path_buf(),
            extension: Some(("noop_extension", noop.to_path_buf())),
            freeze: true,
        },
        Scenario {
            name: "same, --no-freeze",
            bootstrap: echo.to_path_buf(),
            extension: Some(("noop_extension", noop.to_path_buf())),
            freeze: false,
        },
        Scenario {
            name: "custom-runtime bootstrap, no extension",
            bootstrap: bootstrap.to_path_buf(),
            extension: None,
            freeze: true,
        },
        Scenario {
            name: "custom-runtime + lifecycle-logger (0 ms work)",
            bootstrap: bootstrap.to_path_buf(),
            extension: Some(("lifecycle-logger", logger.to_path_buf())),
            freeze: true,
        },
    ];
    for scenario in &scenarios {
        run(scenario).await;
    }
}

fn sizes(binaries: &[&Path]) {
    println!("\nbinary sizes (release profile: strip, LTO, one codegen unit, abort on panic)\n");
    println!("| binary | size |");
    println!("|---|---|");
    for binary in binaries {
        let size = std::fs::metadata(binary)
            .map(|m| m.len())
            .unwrap_or_default();
        println!("| {} | {} KiB |", file_name(binary), size / 1024);
    }
}

/// Invocations per Managed Instances measurement, over all clients.
const MANAGED_INVOKES: usize = 4000;
/// The concurrencies measured; the latency columns are the last one's.
const MANAGED_CONCURRENCY: [usize; 3] = [1, 2, 8];

/// Managed Instances: `N` keep-alive clients at once through the Invoke
/// API, against an environment of maximum concurrency `N` whose runtime
/// runs `N` workers. Throughput at each `N`, and at the largest the round
/// trip each client sees with a handler that does nothing: what the
/// sandbox's path (Invoke API, queue, Runtime API, answer) adds.
async fn managed_instances(functions: &[(&str, &Path)]) {
    println!(
        "\nManaged Instances (--managed-instances --max-concurrency N): {} invokes from N keep-alive clients at once\n",
        count(MANAGED_INVOKES)
    );
    let columns: Vec<String> = MANAGED_CONCURRENCY
        .iter()
        .map(|n| format!("invokes/s, N = {n}"))
        .collect();
    let last = MANAGED_CONCURRENCY[MANAGED_CONCURRENCY.len() - 1];
    println!(
        "| function | {} | p50, N = {last} | p99, N = {last} |",
        columns.join(" | ")
    );
    println!("|---|{}---|---|", "---|".repeat(columns.len()));
    for (name, bootstrap) in functions {
        let mut rates = Vec::new();
        let mut times = Vec::new();
        for &n in &MANAGED_CONCURRENCY {
            let (rate, round_trips) = concurrent_run(bootstrap, n).await;
            rates.push(format!("{rate:.0}"));
            times = round_trips;
        }
        times.sort();
        println!(
            "| {name} | {} | {} | {} |",
            rates.join(" | "),
            micros(percentile(&times, 0.5)),
            micros(percentile(&times, 0.99)),
        );
    }
}

/// Invocations per second with `n` clients, and every round trip.
async fn concurrent_run(bootstrap: &Path, n: usize) -> (f64, Vec<Duration>) {
    let package = Package::temporary("bench-managed").unwrap();
    package.bootstrap(bootstrap).unwrap();
    let env = Environment::start(Config {
        init_type: lambda_sandbox::InitType::ManagedInstances,
        max_concurrency: n as u32,
        ..package.config()
    })
    .await
    .unwrap();
    let server = invoke_api::serve(env.clone(), "127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let function = env.config().function_name.clone();
    let per_client = count(MANAGED_INVOKES) / n;
    let mut clients = Vec::new();
    for _ in 0..n {
        let mut client = Client::connect(server.addr, &function).await;
        for _ in 0..count(WARMUP) / n {
            client.invoke().await;
        }
        clients.push(client);
    }
    let started = Instant::now();
    let runs: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                let mut times = Vec::with_capacity(per_client);
                for _ in 0..per_client {
                    times.push(client.invoke().await);
                }
                times
            })
        })
        .collect();
    let mut times = Vec::with_capacity(per_client * n);
    for run in runs {
        times.extend(run.await.unwrap());
    }
    let rate = times.len() as f64 / started.elapsed().as_secs_f64();
    env.shutdown().await;
    server.stop().await;
    (rate, times)
}

/// The resident memory of a process now (`VmRSS`, KiB).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

const SOAK_INVOKES: usize = 100_000;
const SOAK_STEP: usize = 10_000;
const FLOOD_INVOKES: usize = 10;
const FLOOD_LINES: usize = 1_000_000;

/// `lambda-sandbox serve` as a user runs it (timeline printed, here to
/// /dev/null): its resident memory every 10,000 invocations, then through
/// a flood of 10 million log lines. Flat is the target.
async fn soak(echo: &Path, sandbox: &Path) {
    let package = Package::temporary("soak").unwrap();
    package.bootstrap(echo).unwrap();
    let addr = free_addr();
    let mut child = serve(sandbox, addr, &package)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    wait_for(addr, Duration::from_secs(10)).await;
    println!(
        "\nsoak: lambda-sandbox serve (lambda_runtime echo), one keep-alive client; the sandbox's resident memory (VmRSS)\n"
    );
    println!("| after | sandbox RSS |");
    println!("|---|---|");
    let function = Config::default().function_name;
    let mut client = Client::connect(addr, &function).await;
    client.invoke().await;
    println!("| 1 invocation | {} KiB |", rss_kib(pid));
    let step = count(SOAK_STEP);
    for done in (step..=count(SOAK_INVOKES)).step_by(step) {
        for _ in 0..step {
            client.invoke().await;
        }
        println!("| {done} invocations | {} KiB |", rss_kib(pid));
    }
    let mut flood = Client::with_body(
        addr,
        &function,
        &format!("{{\"lines\":{}}}", count(FLOOD_LINES)),
    )
    .await;
    for round in 1..=FLOOD_INVOKES {
        flood.invoke().await;
        println!(
            "| {} log lines | {} KiB |",
            round * count(FLOOD_LINES),
            rss_kib(pid)
        );
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let _ = child.wait().await;
}

/// `lambda-sandbox serve` of `package`'s task root on `addr`, as a user runs it.
fn serve(sandbox: &Path, addr: SocketAddr, package: &Package) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(sandbox);
    command
        .args(["serve", "--timeout", "120", "--invoke-addr"])
        .arg(addr.to_string())
        .arg("--task-root")
        .arg(package.task_root());
    command
}

/// A loopback address nothing listens on, for a server about to start.
fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Waits until a server listens on `addr`, for at most `limit`.
async fn wait_for(addr: SocketAddr, limit: Duration) {
    let started = Instant::now();
    while TcpStream::connect(addr).await.is_err() {
        assert!(
            started.elapsed() < limit,
            "nothing listens on {addr} after {} s",
            limit.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}
