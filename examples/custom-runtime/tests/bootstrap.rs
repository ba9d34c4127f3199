//! The hand-written runtime in the sandbox: the Runtime API from the
//! runtime's side, including its error routes.

use std::path::Path;
use std::time::Duration;

use lambda_sandbox::{Config, Environment, InvokeRequest, Package, Record, Status};
use serde_json::json;

/// An extension subscribed to no event: it only makes Lambda send SIGTERM
/// to the runtime at Shutdown, as it does when any extension is registered.
const QUIET_EXTENSION: &str = r#"#!/bin/sh
headers=$(mktemp)
curl -sS -D "$headers" -X POST "http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension/register" \
  -H "Lambda-Extension-Name: quiet" -d '{"events":[]}' >/dev/null
id=$(grep -Fi Lambda-Extension-Identifier "$headers" | tr -d '[:space:]' | cut -d: -f2)
rm -f "$headers"
exec curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension/event/next" -H "Lambda-Extension-Identifier: $id"
"#;

/// A package kept until the test ends, and the configuration that runs it.
fn setup(handler: &str) -> (Package, Config) {
    let package = Package::temporary("custom-runtime").unwrap();
    package
        .bootstrap(Path::new(env!("CARGO_BIN_EXE_bootstrap")))
        .unwrap();
    package.extension_script("quiet", QUIET_EXTENSION).unwrap();
    let config = Config {
        handler: handler.into(),
        ..package.config()
    };
    (package, config)
}

fn function_lines(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .filter(|r| r.kind == "function")
        .map(|r| r.record.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_event_can_ask_for_numbered_log_lines() {
    let (_package, config) = setup("function.handler");
    let env = Environment::start(config).await.unwrap();
    let result = env.invoke(InvokeRequest::json(&json!({"lines": 3}))).await;
    env.wait_idle().await;
    env.shutdown().await;
    let numbered: Vec<String> = function_lines(&env.records())
        .into_iter()
        .filter(|l| l.contains("Function: line "))
        .collect();
    let expected: Vec<String> = (1..=3)
        .map(|n| {
            format!(
                "INFO Function: line {n} of 3 for request {}",
                result.request_id
            )
        })
        .collect();
    assert_eq!(numbered, expected);
}

#[tokio::test]
async fn echoes_each_event_and_logs_a_line_per_request() {
    let (_package, config) = setup("function.handler");
    let env = Environment::start(config).await.unwrap();
    let mut ids = Vec::new();
    for event in [json!({"n": 1}), json!({"message": "hello"})] {
        let result = env.invoke(InvokeRequest::json(&event)).await;
        assert_eq!(result.status, Status::Success);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&result.payload).unwrap(),
            event
        );
        ids.push(result.request_id);
        env.wait_idle().await;
    }
    env.shutdown().await;
    let lines = function_lines(&env.records());
    for id in &ids {
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains(&format!("Function: handling request {id}")))
                .count(),
            1,
            "{lines:#?}"
        );
    }
    // SIGTERM (sent because an extension is registered) ends the runtime cleanly.
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("Runtime: received SIGTERM, shutting down")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn an_unknown_handler_is_reported_as_an_init_error() {
    let (_package, config) = setup("function.nope");
    let env = Environment::start(config).await.unwrap();
    let result = env.invoke(InvokeRequest::json(&json!({}))).await;
    env.shutdown().await;
    assert_eq!(result.status, Status::Error);
    assert_eq!(
        result.error_type.as_deref(),
        Some("Runtime.HandlerNotFound")
    );
    let body: serde_json::Value = serde_json::from_slice(&result.payload).unwrap();
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("unknown handler \"function.nope\"")
    );
    let records = env.records();
    let inits: Vec<_> = records
        .iter()
        .filter(|r| r.kind == "platform.initReport")
        .collect();
    assert_eq!(
        inits.len(),
        2,
        "Init at start, then the suppressed Init of the invoke"
    );
    for (init, phase) in inits.iter().zip(["init", "invoke"]) {
        assert_eq!(init.record["phase"], phase);
        assert_eq!(init.record["errorType"], "Runtime.HandlerNotFound");
    }
}

#[tokio::test]
async fn handler_errors_use_the_error_route() {
    let (_package, config) = setup("function.fail");
    let env = Environment::start(config).await.unwrap();
    let result = env.invoke(InvokeRequest::json(&json!({}))).await;
    env.wait_idle().await;
    env.shutdown().await;
    assert_eq!(result.status, Status::Error);
    assert_eq!(result.error_type.as_deref(), Some("Function.Failed"));
    let report = env
        .records()
        .into_iter()
        .find(|r| r.kind == "platform.report")
        .unwrap();
    assert_eq!(report.record["errorType"], "Function.Failed");
}

#[tokio::test]
async fn work_stops_at_the_deadline_instead_of_timing_out() {
    let (_package, config) = setup("function.handler");
    let env = Environment::start(Config {
        timeout: Duration::from_secs(1),
        ..config
    })
    .await
    .unwrap();
    let result = env
        .invoke(InvokeRequest::json(&json!({"workMs": 5000})))
        .await;
    env.wait_idle().await;
    env.shutdown().await;
    assert_eq!(result.status, Status::Error, "{result:?}");
    assert_eq!(
        result.error_type.as_deref(),
        Some("Function.DeadlineExceeded")
    );
}

#[tokio::test]
async fn a_url_with_a_path_prefix_is_accepted_as_the_runtime_api() {
    // cargo lambda watch hands out a URL, not host:port.
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        tx.send(listener.local_addr().unwrap()).unwrap();
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let n = std::io::Read::read(&mut stream, &mut buf).unwrap();
        let request = String::from_utf8_lossy(&buf[..n]).into_owned();
        std::io::Write::write_all(
            &mut stream,
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        request
    });
    let addr = rx.recv().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .env("AWS_LAMBDA_RUNTIME_API", format!("http://{addr}/.rt/"))
        .env("_HANDLER", "function.handler")
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "a 500 from next makes the runtime exit"
    );
    let request = server.join().unwrap();
    assert!(
        request.starts_with("GET /.rt/2018-06-01/runtime/invocation/next HTTP/1.1"),
        "{request}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("GET /runtime/invocation/next: 500"),
        "{stdout}"
    );
}

#[tokio::test]
async fn logging_follows_the_functions_log_format_and_level() {
    let (_json_package, mut json) = setup("function.handler");
    json.env
        .push(("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()));
    let env = Environment::start(json).await.unwrap();
    env.invoke(InvokeRequest::json(&json!({}))).await;
    env.wait_idle().await;
    env.shutdown().await;
    let lines = function_lines(&env.records());
    assert!(!lines.is_empty());
    for line in &lines {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(parsed["level"], "INFO", "{line}");
    }

    let (_quiet_package, mut quiet) = setup("function.handler");
    quiet
        .env
        .push(("AWS_LAMBDA_LOG_LEVEL".into(), "WARN".into()));
    let env = Environment::start(quiet).await.unwrap();
    env.invoke(InvokeRequest::json(&json!({}))).await;
    env.wait_idle().await;
    env.shutdown().await;
    assert_eq!(
        function_lines(&env.records()),
        Vec::<String>::new(),
        "INFO lines hidden at WARN"
    );
}

#[tokio::test]
async fn the_s3_handler_reads_a_typed_s3_notification() {
    let fields = [
        ("bucket".to_string(), "my-uploads".to_string()),
        ("key".to_string(), "2026/Q1 report.csv".to_string()),
    ];
    let event = lambda_sandbox::sample_events::sample("s3-put", &fields).unwrap();
    let (_package, config) = setup("function.s3");
    let env = Environment::start(config).await.unwrap();
    let result = env.invoke(InvokeRequest::json(&event)).await;
    env.wait_idle().await;
    env.shutdown().await;
    assert_eq!(result.status, Status::Success, "{result:?}");
    let body: serde_json::Value = serde_json::from_slice(&result.payload).unwrap();
    assert_eq!(body, json!({"objects": ["my-uploads/2026/Q1 report.csv"]}));
    let lines = function_lines(&env.records());
    assert!(
        lines.iter().any(|l| l.ends_with(
            "Function: ObjectCreated:Put s3://my-uploads/2026/Q1 report.csv (1024 bytes)"
        )),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn on_managed_instances_its_workers_take_invocations_at_once() {
    const WORKERS: usize = 4;
    const WORK_MS: u64 = 500;
    let (_package, config) = setup("function.handler");
    let env = Environment::start(Config {
        init_type: lambda_sandbox::InitType::ManagedInstances,
        max_concurrency: WORKERS as u32,
        ..config
    })
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let callers: Vec<_> = (0..WORKERS)
        .map(|n| {
            let env = env.clone();
            tokio::spawn(async move {
                env.invoke(InvokeRequest::json(&json!({"n": n, "workMs": WORK_MS})))
                    .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for caller in callers {
        let result = caller.await.unwrap();
        assert_eq!(result.status, Status::Success);
        // Each answer went to its own caller.
        let body: serde_json::Value = serde_json::from_slice(&result.payload).unwrap();
        answers.push(body["n"].as_u64().unwrap());
    }
    let elapsed = started.elapsed();
    env.shutdown().await;
    answers.sort();
    assert_eq!(answers, [0, 1, 2, 3]);
    assert!(
        elapsed < Duration::from_millis(3 * WORK_MS),
        "{WORKERS} invocations of {WORK_MS} ms took {elapsed:?}: the workers did not run at once"
    );
    assert_eq!(env.most_in_flight(), WORKERS);
    let lines = function_lines(&env.records());
    assert!(
        lines
            .iter()
            .any(|l| l.contains("4 workers waiting for events")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn with_snapstart_each_restore_reads_its_credentials_again() {
    let (_package, config) = setup("function.handler");
    let env = Environment::start(Config {
        init_type: lambda_sandbox::InitType::SnapStart,
        ..config
    })
    .await
    .unwrap();
    for restore in 0..2 {
        if restore > 0 {
            env.restore_anew().await.unwrap();
        }
        let result = env
            .invoke(InvokeRequest::json(&json!({"n": restore})))
            .await;
        assert_eq!(result.status, Status::Success, "{result:?}");
        env.wait_idle().await;
    }
    env.shutdown().await;
    let records = env.records();
    // Init ended in /restore/next, and each restore ran the hook once,
    // which found credentials of its own.
    let lines = function_lines(&records);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("waiting in /restore/next"))
            .count(),
        1,
        "{lines:?}"
    );
    let tokens: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split("session token #").nth(1))
        .map(|rest| rest.split(',').next().unwrap())
        .collect();
    assert_eq!(tokens.len(), 2, "{lines:?}");
    assert_ne!(tokens[0], tokens[1]);
    let restores: Vec<&Record> = records
        .iter()
        .filter(|r| r.kind == "platform.restoreReport")
        .collect();
    assert_eq!(restores.len(), 2);
    assert!(restores.iter().all(|r| r.record["status"] == "success"));
}

#[tokio::test]
async fn the_stream_handler_sends_each_chunk_when_it_is_written() {
    let (_package, config) = setup("function.stream");
    let env = Environment::start(config).await.unwrap();
    let (sink, mut parts) = tokio::sync::mpsc::channel(16);
    let invoking = {
        let env = env.clone();
        tokio::spawn(async move {
            env.invoke(InvokeRequest {
                stream_to: Some(sink),
                ..InvokeRequest::json(&json!({"chunks": 3, "intervalMs": 300}))
            })
            .await
        })
    };
    let mut content_type = None;
    let mut chunks = Vec::new();
    while let Some(part) = parts.recv().await {
        match part {
            lambda_sandbox::StreamPart::Start {
                content_type: kind, ..
            } => content_type = Some(kind),
            lambda_sandbox::StreamPart::Chunk(bytes) => {
                chunks.push((std::time::Instant::now(), bytes));
            }
        }
        if chunks.len() == 3 {
            break;
        }
    }
    let result = invoking.await.unwrap();
    assert_eq!(result.status, Status::Success, "{result:?}");
    env.shutdown().await;
    assert_eq!(content_type.as_deref(), Some("text/plain"));
    let text: Vec<String> = chunks
        .iter()
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert_eq!(text, ["chunk 1 of 3\n", "chunk 2 of 3\n", "chunk 3 of 3\n"]);
    // Written 300 ms apart, they arrive apart: nothing gathered them first.
    let spread = chunks[2].0 - chunks[0].0;
    assert!(spread >= Duration::from_millis(400), "{spread:?}");
}

#[tokio::test]
async fn a_stream_that_cannot_end_before_the_deadline_is_refused() {
    let (_package, config) = setup("function.stream");
    let env = Environment::start(config).await.unwrap();
    let result = env
        .invoke(InvokeRequest::json(
            &json!({"chunks": 100, "intervalMs": 1000}),
        ))
        .await;
    env.shutdown().await;
    assert_eq!(result.status, Status::Error);
    assert_eq!(result.error_type.as_deref(), Some("Function.InvalidEvent"));
}
