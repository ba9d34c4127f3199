//! The shipper's benchmark, in the sandbox with its local S3 endpoint:
//! throughput at 10k lines per invoke, extensionOverhead at 100 lines per
//! invoke with the default flush policy, peak memory and start-up.
//!
//! Run it with `scripts/bench`, which builds everything in release first.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lambda_sandbox::{Config, Environment, InvokeRequest, Package, Status};
use serde_json::json;

const BUCKET: &str = "bench";

/// `--quick`: every count a fiftieth, the same table. The tests run it on
/// debug builds to check that the README's table is this bench's own.
static QUICK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A count of the full bench, or its share in `--quick`.
fn count(full: usize) -> usize {
    if QUICK.load(std::sync::atomic::Ordering::Relaxed) {
        (full / 50).max(1)
    } else {
        full
    }
}

fn environment(release: &Path, package: &Package) -> Config {
    package.bootstrap(&release.join("bootstrap")).unwrap();
    package
        .extension("s3-log-shipper", &release.join("s3-log-shipper"))
        .unwrap();
    // SHIPPER_* variables of the benchmark's own environment go to the
    // shipper, to measure other settings than the defaults.
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("SHIPPER_"))
        .collect();
    env.push(("S3_BUCKET_NAME".into(), BUCKET.into()));
    Config {
        env,
        s3_buckets: vec![BUCKET.into()],
        s3_dir: Some(package.root().join("s3")),
        timeout: Duration::from_secs(60),
        ..package.config()
    }
}

async fn invoke(env: &Environment, lines: usize) {
    let result = env
        .invoke(InvokeRequest::json(&json!({ "lines": lines })))
        .await;
    assert_eq!(result.status, Status::Success, "{result:?}");
}

/// Function lines in the bucket, and `droppedRecords` the platform reported.
fn bucket_counts(dir: &Path) -> (usize, u64) {
    let (mut lines, mut dropped) = (0, 0);
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                if line.contains("Function: line ") {
                    lines += 1;
                } else if line.contains("\"platform.logsDropped\"") {
                    let record: serde_json::Value = serde_json::from_str(line).unwrap();
                    dropped += record["record"]["droppedRecords"].as_u64().unwrap();
                }
            }
        }
    }
    (lines, dropped)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn throughput(release: &Path) {
    let (invokes, lines) = (10, count(10_000));
    let package = Package::temporary("shipper-bench").unwrap();
    let config = environment(release, &package);
    let env = Environment::start(config.clone()).await.unwrap();
    let started = Instant::now();
    for _ in 0..invokes {
        invoke(&env, lines).await;
    }
    env.wait_idle().await;
    let rss = env.peak_rss_kib().await;
    env.shutdown().await;
    let elapsed = started.elapsed();
    let (shipped, dropped) = bucket_counts(&config.s3_dir.unwrap().join(BUCKET));
    println!(
        "| throughput, {invokes} invokes × {lines} lines | {:.0} lines/s | {shipped} of {} lines shipped, {dropped} records dropped | shipper peak RSS {} KiB |",
        shipped as f64 / elapsed.as_secs_f64(),
        invokes * lines,
        rss.last().copied().unwrap_or_default(),
    );
}

async fn overhead(release: &Path) {
    let (invokes, lines) = (count(1000), 100);
    let package = Package::temporary("shipper-bench").unwrap();
    let config = environment(release, &package);
    let env = Environment::start(config.clone()).await.unwrap();
    for _ in 0..invokes {
        invoke(&env, lines).await;
    }
    env.wait_idle().await;
    let rss = env.peak_rss_kib().await;
    let records = env.records();
    env.shutdown().await;
    let mut overheads: Vec<f64> = records
        .iter()
        .filter(|r| r.kind == "platform.report")
        .filter_map(|r| {
            r.record["spans"]
                .as_array()?
                .iter()
                .find(|s| s["name"] == "extensionOverhead")?["durationMs"]
                .as_f64()
        })
        .collect();
    overheads.sort_by(f64::total_cmp);
    let (shipped, dropped) = bucket_counts(&config.s3_dir.unwrap().join(BUCKET));
    println!(
        "| extensionOverhead, {invokes} invokes × {lines} lines, default policy | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms | {shipped} of {} lines shipped, {dropped} records dropped | shipper peak RSS {} KiB |",
        percentile(&overheads, 0.5),
        percentile(&overheads, 0.99),
        overheads.last().unwrap(),
        invokes * lines,
        rss.last().copied().unwrap_or_default(),
    );
}

async fn start_up(release: &Path) {
    // Twenty even in --quick: a median and a maximum need a few.
    const RUNS: usize = 20;
    let (mut registered, mut subscribed) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let package = Package::temporary("shipper-bench").unwrap();
        let env = Environment::start(environment(release, &package))
            .await
            .unwrap();
        let records = env.records();
        let time_of = |kind: &str| records.iter().find(|r| r.kind == kind).unwrap().time;
        let launch_to_register = env.registrations()[0].after_launch.unwrap();
        registered.push(launch_to_register.as_secs_f64() * 1000.0);
        // The extension is launched right after platform.initStart.
        let init_to_subscribed =
            time_of("platform.telemetrySubscription") - time_of("platform.initStart");
        subscribed.push(init_to_subscribed.num_microseconds().unwrap() as f64 / 1000.0);
        env.shutdown().await;
    }
    registered.sort_by(f64::total_cmp);
    subscribed.sort_by(f64::total_cmp);
    println!(
        "| start-up, {RUNS} Inits | launch → registered p50 {:.2} ms, max {:.2} ms | Init start → subscribed p50 {:.2} ms, max {:.2} ms | |",
        percentile(&registered, 0.5),
        registered.last().unwrap(),
        percentile(&subscribed, 0.5),
        subscribed.last().unwrap(),
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let examples: PathBuf = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let release = examples.parent().unwrap().to_path_buf();
    // `shipper_bench [--quick] [SECTION…]` runs only those sections:
    // throughput, overhead, start-up; no section runs them all.
    let mut asked: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = asked.iter().position(|a| a == "--quick") {
        asked.remove(at);
        QUICK.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let wanted = |section: &str| asked.is_empty() || asked.iter().any(|a| a == section);
    for binary in ["bootstrap", "s3-log-shipper"] {
        assert!(
            release.join(binary).exists(),
            "{binary} is missing: run scripts/bench"
        );
    }
    println!("\ns3-log-shipper in the sandbox, custom-runtime function, local S3 endpoint\n");
    println!("| scenario | figure | records | memory |");
    println!("|---|---|---|---|");
    // Start-up first: with isolation, launching a process forks the
    // sandbox, and a fork costs more the more memory the forking process
    // holds. This bench keeps every record of its environments in memory
    // (the library's default, unlike `lambda-sandbox run` and `serve`),
    // which after the other scenarios would add milliseconds of its own.
    if wanted("start-up") {
        start_up(&release).await;
    }
    if wanted("throughput") {
        throughput(&release).await;
    }
    if wanted("overhead") {
        overhead(&release).await;
    }
    let size = std::fs::metadata(release.join("s3-log-shipper"))
        .map(|m| m.len())
        .unwrap_or_default();
    println!("\ns3-log-shipper binary: {} KiB", size / 1024);
}
