//! Helpers shared by the sandbox's integration tests.
#![allow(dead_code)]

pub mod layout;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use lambda_sandbox::{Config, Environment, Package, Record};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A fixture binary from this crate's `examples/`, built by `cargo test`.
pub fn fixture(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with cargo test, which builds the fixtures",
        path.display()
    );
    path
}

pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn error_type(&self) -> String {
        self.json()["errorType"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// One raw HTTP/1.1 request, the way a shell script with curl would send it.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("connect to the Runtime API");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    // A server may answer (a 413, say) and close before the body is all
    // sent, as curl finds too: the answer is what counts.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap_or_default()
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// An environment whose runtime is the test itself: the bootstrap only
/// tells the test where the Runtime API is and idles, and the test calls the
/// API with raw HTTP. Init completes when the test sends its first `next`.
/// The address comes through the task root, once the bootstrap runs, so
/// these environments run on the host's folders.
pub struct RawRuntime {
    pub addr: SocketAddr,
    pub package: Package,
    pub starting: tokio::task::JoinHandle<Environment>,
}

const IDLE_BOOTSTRAP: &str = r#"#!/bin/sh
echo "$AWS_LAMBDA_RUNTIME_API" > "$LAMBDA_TASK_ROOT/api.partial"
mv "$LAMBDA_TASK_ROOT/api.partial" "$LAMBDA_TASK_ROOT/api"
exec sleep 600
"#;

pub async fn raw_runtime(init_timeout: Duration, prepare: impl FnOnce(&Package)) -> RawRuntime {
    raw_runtime_with(prepare, |config| Config {
        init_timeout,
        ..config
    })
    .await
}

/// [`raw_runtime`] with the configuration changed by `configure`.
pub async fn raw_runtime_with(
    prepare: impl FnOnce(&Package),
    configure: impl FnOnce(Config) -> Config,
) -> RawRuntime {
    let package = Package::temporary("raw").unwrap();
    package.bootstrap_script(IDLE_BOOTSTRAP).unwrap();
    prepare(&package);
    let config = configure(on_host_folders(Config {
        freeze: false,
        ..package.config()
    }));
    let starting = tokio::spawn(async move {
        Environment::start(config)
            .await
            .expect("environment starts")
    });
    let api_file = package.task_root().join("api");
    let mut addr = None;
    for _ in 0..500 {
        if let Ok(text) = std::fs::read_to_string(&api_file) {
            addr = text.trim().parse().ok();
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    RawRuntime {
        addr: addr.expect("the bootstrap wrote the Runtime API address"),
        package,
        starting,
    }
}

/// `config` for a fixture that hands the test what it received through a
/// file on the host, read after Shutdown. An isolated environment cannot
/// write one (its folders are Lambda's and read-only, and its `/tmp` ends
/// with it), so these run on the host's folders; `lambda_layout.rs` runs
/// the streams isolated.
pub fn on_host_folders(config: Config) -> Config {
    Config {
        isolation: false,
        ..config
    }
}

/// Records of one type.
pub fn of_type<'a>(records: &'a [Record], kind: &str) -> Vec<&'a Record> {
    records.iter().filter(|r| r.kind == kind).collect()
}

/// The log lines one source wrote (`function` or `extension`).
pub fn lines(records: &[Record], kind: &str) -> Vec<String> {
    of_type(records, kind)
        .iter()
        .map(|r| r.record.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Whether a process with this pid still exists.
pub fn alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// The JSON lines of an NDJSON file; none when it does not exist (yet).
pub fn read_ndjson(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// Whether `program` is on `PATH`.
pub fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .any(|dir| std::path::Path::new(&dir).join(program).is_file())
        })
        .unwrap_or(false)
}
