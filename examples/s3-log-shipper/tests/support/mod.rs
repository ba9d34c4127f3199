//! Helpers for running the shipper in the sandbox and reading the bucket.

#![allow(dead_code)]

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lambda_sandbox::{Config, Environment, InvokeRequest, Package};
use serde_json::{Value, json};

pub const BUCKET: &str = "logs";

/// The custom runtime's `bootstrap`, built beside the shipper by
/// `cargo test --workspace` (or `cargo build --workspace`).
pub fn bootstrap() -> PathBuf {
    let shipper = Path::new(env!("CARGO_BIN_EXE_s3-log-shipper"));
    let path = shipper.with_file_name("bootstrap");
    assert!(
        path.exists(),
        "{} is missing: run cargo build --workspace first",
        path.display()
    );
    path
}

/// A port no one listens on right now, for the shipper's listener: tests
/// run in parallel, and each shipper needs its own.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The function (custom runtime) and the shipper, with a local bucket in the
/// package folder; `vars` are the function's environment variables.
pub fn setup(vars: &[(&str, &str)]) -> (Package, Config) {
    let package = Package::temporary("s3-log-shipper").unwrap();
    package.bootstrap(&bootstrap()).unwrap();
    package
        .extension(
            "s3-log-shipper",
            Path::new(env!("CARGO_BIN_EXE_s3-log-shipper")),
        )
        .unwrap();
    let mut env: Vec<(String, String)> = vec![
        ("S3_BUCKET_NAME".into(), BUCKET.into()),
        ("SHIPPER_LISTENER_PORT".into(), free_port().to_string()),
    ];
    env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = Config {
        env,
        s3_buckets: vec![BUCKET.into()],
        s3_dir: Some(package.root().join("s3")),
        ..package.config()
    };
    (package, config)
}

/// Runs `invokes` invokes asking for `lines` log lines each; returns their
/// request ids.
pub async fn invoke_lines(env: &Environment, invokes: usize, lines: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..invokes {
        let result = env
            .invoke(InvokeRequest::json(&json!({ "lines": lines })))
            .await;
        assert_eq!(result.status, lambda_sandbox::Status::Success, "{result:?}");
        ids.push(result.request_id);
        env.wait_idle().await;
    }
    ids
}

/// An object of the bucket: its key and its records.
pub struct Object {
    pub key: String,
    pub records: Vec<Value>,
}

/// Every object in the bucket, oldest key first.
pub fn objects(config: &Config) -> Vec<Object> {
    let root = config.s3_dir.as_ref().unwrap().join(BUCKET);
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut objects: Vec<Object> = files
        .into_iter()
        .map(|path| {
            let key = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&path).unwrap();
            let text = if key.ends_with(".gz") {
                let mut text = String::new();
                flate2::read::GzDecoder::new(&bytes[..])
                    .read_to_string(&mut text)
                    .unwrap();
                text
            } else {
                String::from_utf8(bytes).unwrap()
            };
            let records = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{key}: {l}: {e}")))
                .collect();
            Object { key, records }
        })
        .collect();
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    objects
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// All records in the bucket, in key order.
pub fn records(config: &Config) -> Vec<Value> {
    objects(config)
        .into_iter()
        .flat_map(|o| o.records)
        .collect()
}

/// The text of a `function` record, in Text or JSON log format.
pub fn message(record: &Value) -> Option<String> {
    if record["type"] != "function" {
        return None;
    }
    match &record["record"] {
        Value::String(line) => Some(line.clone()),
        object => object["message"].as_str().map(str::to_string),
    }
}

/// The numbered lines the function wrote ("line N of M for request ID").
pub fn numbered_lines(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .filter_map(message)
        .filter(|m| m.contains("Function: line "))
        .collect()
}

/// What each request's numbered lines should be.
pub fn expected_lines(ids: &[String], lines: usize) -> Vec<String> {
    ids.iter()
        .flat_map(|id| {
            (1..=lines).map(move |n| format!("Function: line {n} of {lines} for request {id}"))
        })
        .collect()
}

/// Sorted, to compare as multisets: duplicates would show.
pub fn sorted(mut lines: Vec<String>) -> Vec<String> {
    for line in &mut lines {
        if let Some(at) = line.find("Function: line ") {
            line.drain(..at);
        }
    }
    lines.sort();
    lines
}

/// Records of `kind` for `request_id`.
pub fn count_for(records: &[Value], kind: &str, request_id: &str) -> usize {
    records
        .iter()
        .filter(|r| r["type"] == kind && r["record"]["requestId"] == request_id)
        .count()
}

/// A TCP proxy to `target` on `port` that waits `delay` before passing on
/// each new connection: a slow S3, or (until it starts) an unreachable one.
pub async fn proxy(port: u16, target: SocketAddr, delay: Duration) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    })
}

/// The extension's own log lines.
pub fn extension_lines(env: &Environment) -> Vec<String> {
    env.records()
        .iter()
        .filter(|r| r.kind == "extension")
        .map(|r| r.record.as_str().unwrap_or_default().to_string())
        .collect()
}
