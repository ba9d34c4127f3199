//! Oversized request bodies on the Runtime, Extensions, Logs and Telemetry
//! APIs: each is refused with the platform's 413 before it is buffered.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use support::raw_runtime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const GIB: u64 = 1 << 30;

/// What a client sending a huge body sees: the status, the error body, and
/// how much of the body the server let it write before it answered.
struct Refusal {
    status: u16,
    body: Value,
    written: u64,
}

/// Declares `declared` bytes (or sends chunks without a length), writes
/// until the server stops reading, and reads its answer.
async fn send_huge(addr: SocketAddr, route: &str, declared: Option<u64>) -> Refusal {
    let (method, path) = route.split_once(' ').unwrap();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let length = match declared {
        Some(n) => format!("Content-Length: {n}\r\n"),
        None => "Transfer-Encoding: chunked\r\n".to_string(),
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nLambda-Extension-Name: x\r\n{length}\r\n"
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    let writing = tokio::spawn(async move {
        let chunk = vec![b'x'; 64 * 1024];
        let framed = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk.clone(),
            b"\r\n".to_vec(),
        ]
        .concat();
        let mut written = 0u64;
        // 64 MiB at most: far past every limit, far short of the declared GiB.
        while written < 64 << 20 {
            let data = if declared.is_some() { &chunk } else { &framed };
            if writer.write_all(data).await.is_err() {
                break;
            }
            written += chunk.len() as u64;
        }
        written
    });
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    // The answer ends where the server closes the connection.
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf)).await
    {
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(at) = find(&raw, b"\r\n\r\n")
            && raw[at + 4..].ends_with(b"}")
        {
            break;
        }
    }
    drop(reader);
    let written = tokio::time::timeout(Duration::from_secs(10), writing)
        .await
        .map(|r| r.unwrap())
        .unwrap_or(u64::MAX);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Refusal {
        status,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
        written,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test]
async fn a_gibibyte_body_is_refused_before_it_is_read() {
    let raw = raw_runtime(Duration::from_secs(20), |_| {}).await;
    for path in [
        "POST /2020-01-01/extension/register",
        "POST /2020-01-01/extension/init/error",
        "POST /2020-01-01/extension/exit/error",
        "PUT /2020-08-15/logs",
        "PUT /2022-07-01/telemetry",
        "POST /2018-06-01/runtime/init/error",
    ] {
        let refusal = send_huge(raw.addr, path, Some(GIB)).await;
        assert_eq!(refusal.status, 413, "{path}: {}", refusal.body);
        assert_eq!(refusal.body["errorType"], "RequestEntityTooLarge", "{path}");
        assert!(
            refusal.written < 32 << 20,
            "{path}: the server read {} bytes of a body it had to refuse",
            refusal.written
        );
    }
}

#[tokio::test]
async fn a_body_without_a_length_is_cut_at_the_limit() {
    let raw = raw_runtime(Duration::from_secs(20), |_| {}).await;
    for (path, limit) in [
        ("POST /2020-01-01/extension/register", 64 << 10),
        ("PUT /2022-07-01/telemetry", 64 << 10),
        ("POST /2018-06-01/runtime/init/error", 6 * (1 << 20) + 100),
    ] {
        let refusal = send_huge(raw.addr, path, None).await;
        assert_eq!(refusal.status, 413, "{path}: {}", refusal.body);
        assert_eq!(
            refusal.body["errorMessage"],
            format!("Exceeded maximum allowed payload size ({limit} bytes)."),
            "{path}"
        );
    }
    // The environment is still there: Init goes on as if nothing happened.
    let next = support::http(raw.addr, "POST", "/2020-01-01/extension/register", &[], b"").await;
    assert_eq!(next.status, 403, "{}", next.body);
    assert_eq!(next.error_type(), "Extension.InvalidExtensionName");
}
