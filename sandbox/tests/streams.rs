//! The Logs and Telemetry APIs: subscriptions, delivery, batching, drops.

mod support;

use std::time::Duration;

use lambda_sandbox::{Config, Environment, InvokeRequest, Package, Record, Status};
use serde_json::{Value, json};
use support::{fixture, http, raw_runtime};

/// An environment with the echo function and one subscriber extension.
fn with_subscriber(
    label: &str,
    name: &str,
    subscriber: &std::path::Path,
    env: &[(&str, &str)],
) -> (Package, Config) {
    let package = Package::temporary(label).unwrap();
    package.bootstrap(&fixture("echo_function")).unwrap();
    package.extension(name, subscriber).unwrap();
    let mut config = package.config();
    config.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (package, config)
}

async fn invoke_all(env: &Environment, events: &[Value]) {
    for event in events {
        let result = env.invoke(InvokeRequest::json(event)).await;
        assert_eq!(result.status, Status::Success, "{result:?}");
        env.wait_idle().await;
    }
}

fn dropped(records: &[Record]) -> Vec<&Record> {
    records
        .iter()
        .filter(|r| r.kind == "platform.logsDropped")
        .collect()
}

/// Runs the official crate's subscriber (`STREAM_API` logs or telemetry)
/// through `events` and Shutdown; returns what it received, one Debug line
/// per record, and the journal.
async fn crate_subscriber(api: &str, events: &[Value]) -> (String, Vec<Record>) {
    let (package, mut config) =
        with_subscriber(api, "stream_extension", &fixture("stream_extension"), &[]);
    let out = package.root().join("received");
    config.env = vec![
        ("STREAM_API".into(), api.into()),
        ("RECEIVED_FILE".into(), out.display().to_string()),
    ];
    let env = Environment::start(support::on_host_folders(config))
        .await
        .unwrap();
    invoke_all(&env, events).await;
    env.shutdown().await;
    (std::fs::read_to_string(&out).unwrap(), env.records())
}

#[tokio::test]
async fn the_official_crate_receives_the_telemetry_stream() {
    let (received, records) =
        crate_subscriber("telemetry", &[json!({"lines": 3}), json!({"lines": 3})]).await;
    let count = |needle: &str| received.lines().filter(|l| l.contains(needle)).count();
    // Init's records were replayed to the subscriber.
    assert_eq!(count("PlatformInitStart"), 1, "{received}");
    assert_eq!(
        count("Function(\"echo function starting\")"),
        1,
        "{received}"
    );
    assert_eq!(count("PlatformTelemetrySubscription"), 1, "{received}");
    assert_eq!(count("PlatformStart"), 2);
    assert_eq!(count("PlatformRuntimeDone"), 2);
    assert_eq!(
        count("PlatformReport"),
        2,
        "the last report was flushed before SHUTDOWN"
    );
    assert_eq!(count("Function(\"line 2 of 3\")"), 2);
    assert!(
        dropped(&records).is_empty(),
        "the crate accepted every batch"
    );
}

#[tokio::test]
async fn the_official_crate_receives_the_logs_stream() {
    let (received, records) =
        crate_subscriber("logs", &[json!({"lines": 2}), json!({"lines": 2})]).await;
    let count = |needle: &str| received.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(count("PlatformLogsSubscription"), 1, "{received}");
    assert_eq!(count("PlatformStart"), 2, "{received}");
    assert_eq!(count("PlatformEnd"), 2);
    assert_eq!(count("PlatformReport"), 2);
    assert_eq!(
        count("PlatformRuntimeDone"),
        2,
        "schema 2021-03-18 adds runtimeDone"
    );
    assert_eq!(count("Function(\"line 1 of 2\")"), 2);
    assert_eq!(count("PlatformInit"), 0, "the Logs API has no init events");
    assert!(
        dropped(&records).is_empty(),
        "the crate accepted every batch: {:?}",
        dropped(&records)
    );
}

fn python_subscriber(label: &str, env: &[(&str, &str)]) -> (Package, Config, std::path::PathBuf) {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/python_subscriber.py");
    let (package, mut config) = with_subscriber(label, "python_subscriber.py", &script, env);
    let out = package.root().join("received.ndjson");
    config.env.push(("OUT".into(), out.display().to_string()));
    (package, support::on_host_folders(config), out)
}

fn function_lines(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .filter(|r| r["type"] == "function")
        .map(|r| match &r["record"] {
            Value::String(s) => s.clone(),
            other => other["message"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

#[tokio::test]
async fn a_python_subscriber_gets_the_stream_over_tcp_and_http() {
    for protocol in ["HTTP", "TCP"] {
        let (_package, config, out) =
            python_subscriber(&format!("py-{protocol}"), &[("PROTOCOL", protocol)]);
        let env = Environment::start(config).await.unwrap();
        invoke_all(&env, &[json!({"lines": 5})]).await;
        env.shutdown().await;
        let records = support::read_ndjson(&out);
        let lines = function_lines(&records);
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("line ")).count(),
            5,
            "{protocol}: {records:#?}"
        );
        assert!(
            records.iter().any(|r| r["type"] == "platform.report"),
            "{protocol}"
        );
        assert!(dropped(&env.records()).is_empty(), "{protocol}");
    }
}

#[tokio::test]
async fn json_log_format_turns_lines_into_objects_for_telemetry_2022_12_13() {
    let (_package, mut config, out) = python_subscriber("py-json", &[]);
    config
        .env
        .push(("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()));
    let env = Environment::start(config).await.unwrap();
    invoke_all(&env, &[json!({"lines": 1})]).await;
    env.shutdown().await;
    let records = support::read_ndjson(&out);
    let line = records
        .iter()
        .find(|r| r["type"] == "function" && r["record"]["message"] == "line 0 of 1")
        .expect("an object record");
    assert!(line["record"]["timestamp"].is_string(), "{line}");
}

#[tokio::test]
async fn a_listener_that_fails_is_retried_until_it_recovers() {
    let (_package, config, out) = python_subscriber("py-500", &[("FAIL_FIRST", "3")]);
    let env = Environment::start(config).await.unwrap();
    invoke_all(&env, &[json!({"lines": 4}), json!({"lines": 4})]).await;
    env.shutdown().await;
    let lines = function_lines(&support::read_ndjson(&out));
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("line ")).count(),
        8,
        "{lines:#?}"
    );
    assert!(dropped(&env.records()).is_empty());
}

#[tokio::test]
async fn a_slow_consumer_loses_records_and_the_counts_add_up() {
    // Each batch takes 100 ms to accept; the buffer holds 4 x 256 KiB.
    let (_package, config, out) = python_subscriber("py-slow", &[("DELAY_MS", "100")]);
    let env = Environment::start(Config {
        timeout: Duration::from_secs(20),
        ..config
    })
    .await
    .unwrap();
    let total = 60_000;
    invoke_all(&env, &[json!({"lines": total})]).await;
    env.shutdown().await;
    let records = support::read_ndjson(&out);
    let delivered = function_lines(&records)
        .iter()
        .filter(|l| l.starts_with("line "))
        .count() as u64;
    let reported: u64 = records
        .iter()
        .filter(|r| r["type"] == "platform.logsDropped")
        .map(|r| r["record"]["droppedRecords"].as_u64().unwrap())
        .sum();
    let journal_reported: u64 = dropped(&env.records())
        .iter()
        .map(|r| r.record["droppedRecords"].as_u64().unwrap())
        .sum();
    assert!(
        reported + journal_reported > 0,
        "60,000 lines into a 1 MiB buffer drop some"
    );
    // Every function line was delivered or counted as dropped; the dropped
    // counts may also include platform records.
    assert!(
        delivered + reported + journal_reported >= total,
        "{delivered} + {reported} + {journal_reported} < {total}"
    );
    assert!(delivered < total);
}

#[tokio::test]
async fn subscription_errors() {
    let raw = raw_runtime(Duration::from_secs(20), |_| {}).await;
    let addr = raw.addr;
    let register = http(
        addr,
        "POST",
        "/2020-01-01/extension/register",
        &[("Lambda-Extension-Name", "sub")],
        br#"{"events":["INVOKE"]}"#,
    )
    .await;
    let id = register.headers["lambda-extension-identifier"].clone();
    let headers = [("Lambda-Extension-Identifier", id.as_str())];
    let logs = br#"{"schemaVersion":"2021-03-18","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:9555"}}"#;
    let telemetry = br#"{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:9556"}}"#;

    let missing = http(addr, "PUT", "/2020-08-15/logs", &[], logs).await;
    assert_eq!(
        (missing.status, missing.error_type()),
        (403, "Extension.MissingExtensionIdentifier".into())
    );
    let ok = http(addr, "PUT", "/2020-08-15/logs", &headers, logs).await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "\"OK\""));
    let again = http(addr, "PUT", "/2020-08-15/logs", &headers, logs).await;
    assert_eq!(again.status, 200, "the Logs API is idempotent");
    let other = http(addr, "PUT", "/2022-07-01/telemetry", &headers, telemetry).await;
    assert_eq!(
        (other.status, other.error_type()),
        (400, "ValidationError".into())
    );
    assert!(other.body.contains("exclude each other"));
    let invalid = http(
        addr,
        "PUT",
        "/2022-07-01/telemetry",
        &headers,
        br#"{"types":["platform"]}"#,
    )
    .await;
    assert_eq!(
        (invalid.status, invalid.error_type()),
        (400, "ValidationError".into())
    );

    // Init completes: the extension and the runtime call next.
    let poller = id.clone();
    let ext_next = tokio::spawn(async move {
        http(
            addr,
            "GET",
            "/2020-01-01/extension/event/next",
            &[("Lambda-Extension-Identifier", &poller)],
            b"",
        )
        .await
    });
    let runtime_next = tokio::spawn(async move {
        http(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], b"").await
    });
    let env = raw.starting.await.unwrap();
    let register2 = env.registrations();
    assert_eq!(register2.len(), 1);
    let closed = http(addr, "PUT", "/2020-08-15/logs", &headers, logs).await;
    assert_eq!(
        (closed.status, closed.error_type()),
        (403, "Logs.SubscriptionClosed".into())
    );
    let closed = http(addr, "PUT", "/2022-07-01/telemetry", &headers, telemetry).await;
    assert_eq!(
        (closed.status, closed.error_type()),
        (403, "Telemetry.SubscriptionClosed".into())
    );
    ext_next.abort();
    runtime_next.abort();
    env.shutdown().await;
}

/// A listener that accepts connections and never answers: a subscriber
/// stuck in its own work, or a process that is not the extension at all.
async fn stalling_listener() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}

/// Records the platform offered the subscriber (platform and function).
fn offered(records: &[Record]) -> u64 {
    records
        .iter()
        .filter(|r| {
            r.kind == "function"
                || (r.kind.starts_with("platform.") && r.kind != "platform.logsDropped")
        })
        .count() as u64
}

fn dropped_count(records: &[Record]) -> u64 {
    dropped(records)
        .iter()
        .map(|r| r.record["droppedRecords"].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn a_subscriber_that_never_answers_has_its_batches_counted_as_dropped() {
    let (port, _listener) = stalling_listener().await;
    let port = port.to_string();
    let (_package, mut config, _out) = python_subscriber("py-stall", &[("DEST_PORT", &port)]);
    config.delivery_timeout = Duration::from_millis(300);
    // A frozen environment's deliveries wait for the thaw; stay thawed.
    config.freeze = false;
    let env = Environment::start(config).await.unwrap();
    invoke_all(&env, &[json!({"lines": 5}), json!({"lines": 5})]).await;
    // Each batch is given up after the delivery timeout and said so.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !dropped(&env.records()).iter().any(|r| {
        r.record["reason"]
            .as_str()
            .unwrap()
            .contains("did not answer a delivery within 300 ms")
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "no logsDropped for the stalled batch"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    env.shutdown().await;
    let records = env.records();
    assert_eq!(
        dropped_count(&records),
        offered(&records),
        "every record offered to the subscriber is counted as dropped"
    );
}

#[tokio::test]
async fn a_subscriber_that_never_answers_does_not_hold_shutdown_past_its_budget() {
    let (port, _listener) = stalling_listener().await;
    let port = port.to_string();
    // The default delivery timeout (5 s) is longer than the whole budget.
    let (_package, config, _out) = python_subscriber("py-stall-shutdown", &[("DEST_PORT", &port)]);
    let env = Environment::start(config).await.unwrap();
    invoke_all(&env, &[json!({"lines": 5})]).await;
    let started = std::time::Instant::now();
    env.shutdown().await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2500), "Shutdown took {took:?}");
    let records = env.records();
    assert_eq!(
        dropped_count(&records),
        offered(&records),
        "{:#?}",
        dropped(&records)
    );
}

#[tokio::test]
async fn a_subscriber_that_logs_every_delivery_does_not_hold_shutdown() {
    // Each delivery makes an extension log line, which is itself a record
    // for this subscriber: a flush that waited for an empty buffer would
    // feed itself until its deadline.
    let (_package, config, out) = python_subscriber(
        "py-chatty",
        &[("CHATTY", "1"), ("TYPES", "platform,function,extension")],
    );
    let env = Environment::start(config).await.unwrap();
    invoke_all(&env, &[json!({"lines": 3}), json!({"lines": 3})]).await;
    let started = std::time::Instant::now();
    env.shutdown().await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(500), "Shutdown took {took:?}");
    let received = support::read_ndjson(&out);
    assert_eq!(
        received
            .iter()
            .filter(|r| r["type"] == "platform.report")
            .count(),
        2,
        "the last report was flushed before SHUTDOWN"
    );
    let chatter = env
        .records()
        .iter()
        .filter(|r| r.kind == "extension" && r.record.as_str().unwrap().contains("POST /"))
        .count();
    assert!(chatter > 0, "the subscriber logged its deliveries");
}

#[tokio::test]
async fn a_subscriber_whose_extension_died_is_not_waited_for() {
    // The extension subscribes, then exits on its first INVOKE: a crash,
    // and a reset whose flush must not wait for a listener that is gone.
    let script = r#"#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API"
id=$(curl -s -D - -o /dev/null -X POST "$api/2020-01-01/extension/register" \
  -H 'Lambda-Extension-Name: dying.sh' -d '{"events":["INVOKE","SHUTDOWN"]}' \
  | tr -d '\r' | awk -F': ' 'tolower($1)=="lambda-extension-identifier"{print $2}')
curl -s -X PUT "$api/2022-07-01/telemetry" -H "Lambda-Extension-Identifier: $id" \
  -d '{"schemaVersion":"2022-12-13","types":["platform","function"],"buffering":{"timeoutMs":25},"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:1"}}' >/dev/null
curl -s "$api/2020-01-01/extension/event/next" -H "Lambda-Extension-Identifier: $id" >/dev/null
exit 0
"#;
    let package = Package::temporary("dead-subscriber").unwrap();
    package.bootstrap(&fixture("echo_function")).unwrap();
    package.extension_script("dying.sh", script).unwrap();
    let env = Environment::start(package.config()).await.unwrap();
    env.invoke(InvokeRequest::json(&json!({}))).await;
    let started = std::time::Instant::now();
    env.wait_idle().await;
    let took = started.elapsed();
    let report = env
        .records()
        .into_iter()
        .find(|r| r.kind == "platform.report")
        .unwrap();
    assert_eq!(report.record["errorType"], "Extension.Crash", "{report:?}");
    assert!(
        took < Duration::from_millis(700),
        "the reset waited {took:?} for a subscriber whose extension is gone"
    );
    env.shutdown().await;
    let records = env.records();
    assert!(
        dropped(&records).iter().any(|r| r.record["reason"]
            .as_str()
            .unwrap()
            .contains("dying.sh stopped")),
        "what it had coming is counted: {:#?}",
        dropped(&records)
    );
}
