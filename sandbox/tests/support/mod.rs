//! Helpers shared by the sandbox's integration tests.
#![allow(dead_code)]

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

/// A loopback address with a port that was free a moment ago.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
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
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
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

/// Waits until something listens on `addr`.
pub async fn wait_listening(addr: SocketAddr) {
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("nothing listens on {addr}");
}

/// An environment whose runtime is the test itself: the bootstrap only
/// sleeps, and the test calls the Runtime API with raw HTTP. Init completes
/// when the test sends its first `next`.
pub struct RawRuntime {
    pub addr: SocketAddr,
    pub package: Package,
    pub starting: tokio::task::JoinHandle<Environment>,
}

pub async fn raw_runtime(init_timeout: Duration, prepare: impl FnOnce(&Package)) -> RawRuntime {
    let package = Package::temporary("raw").unwrap();
    package
        .bootstrap_script("#!/bin/sh\nexec sleep 600\n")
        .unwrap();
    prepare(&package);
    let addr = free_addr();
    let config = Config {
        runtime_api: Some(addr),
        init_timeout,
        freeze: false,
        ..package.config()
    };
    let starting = tokio::spawn(async move {
        Environment::start(config)
            .await
            .expect("environment starts")
    });
    wait_listening(addr).await;
    RawRuntime {
        addr,
        package,
        starting,
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
