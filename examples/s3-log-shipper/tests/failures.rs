//! The shipper when things go wrong: S3 down or slow, a flood of logs, bad
//! configuration. Nothing accepted is lost without a count and a message.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use lambda_sandbox::{Environment, InvokeRequest, Status};
use serde_json::json;
use support::*;

const LINES: usize = 20;

/// The sandbox's S3 endpoint address.
fn s3_addr(env: &Environment) -> SocketAddr {
    let (url, _) = env.s3_endpoint().unwrap();
    url.trim_start_matches("http://").parse().unwrap()
}

/// `extensionOverhead` of each invoke's report, in milliseconds.
fn extension_overheads(env: &Environment) -> Vec<f64> {
    env.records()
        .iter()
        .filter(|r| r.kind == "platform.report")
        .filter_map(|r| {
            r.record["spans"]
                .as_array()?
                .iter()
                .find(|s| s["name"] == "extensionOverhead")?["durationMs"]
                .as_f64()
        })
        .collect()
}

/// The shipper pointed at a port where S3 is not yet (the tests' proxy
/// starts there to bring it back), flushing after every invoke within 300 ms.
async fn with_s3_unreachable() -> (
    u16,
    lambda_sandbox::Package,
    lambda_sandbox::Config,
    Environment,
) {
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let (package, config) = setup(&[
        ("AWS_ENDPOINT_URL_S3", &endpoint),
        ("SHIPPER_FLUSH_INTERVAL_MS", "0"),
        ("SHIPPER_FLUSH_TIMEOUT_MS", "300"),
    ]);
    let env = Environment::start(config.clone()).await.unwrap();
    (port, package, config, env)
}

#[tokio::test]
async fn records_wait_while_s3_is_down_and_arrive_once_it_is_back() {
    let (port, _package, config, env) = with_s3_unreachable().await;
    let mut ids = invoke_lines(&env, 3, LINES).await;
    assert!(records(&config).is_empty(), "nothing can be uploaded yet");
    assert!(
        extension_lines(&env)
            .iter()
            .any(|l| l.contains("records are kept and retried")),
        "{:?}",
        extension_lines(&env)
    );
    assert!(
        extension_overheads(&env).iter().all(|&ms| ms < 1000.0),
        "a failing S3 costs an invoke at most the flush timeout: {:?}",
        extension_overheads(&env)
    );

    let _s3 = proxy(port, s3_addr(&env), Duration::ZERO).await;
    ids.extend(invoke_lines(&env, 2, LINES).await);
    env.shutdown().await;

    let records = records(&config);
    assert_eq!(
        sorted(numbered_lines(&records)),
        sorted(expected_lines(&ids, LINES))
    );
    for id in &ids {
        assert_eq!(count_for(&records, "platform.start", id), 1);
    }
    assert!(
        extension_lines(&env)
            .iter()
            .any(|l| l.contains("S3 accepts uploads again")),
        "{:?}",
        extension_lines(&env)
    );
}

#[tokio::test]
async fn records_reach_s3_that_comes_back_during_shutdown() {
    let (port, _package, config, env) = with_s3_unreachable().await;
    // Eight invokes with S3 unreachable: enough failures that the
    // shipper's backoff (3.2 to 5 s) is longer than the SHUTDOWN budget.
    let ids = invoke_lines(&env, 8, LINES).await;
    assert!(records(&config).is_empty(), "nothing can be uploaded yet");
    // S3 comes back 300 ms after the shipper's first failed upload of its
    // SHUTDOWN flush, with most of the budget still left.
    let mark = env.journal_len();
    let shutting_down = tokio::spawn({
        let env = env.clone();
        async move { env.shutdown().await }
    });
    let failed_in_shutdown = || {
        env.records_from(mark).iter().any(|r| {
            r.kind == "extension"
                && r.record
                    .as_str()
                    .unwrap_or_default()
                    .contains("failed (attempt")
        })
    };
    let waiting = std::time::Instant::now();
    while !failed_in_shutdown() {
        assert!(
            waiting.elapsed() < Duration::from_secs(3),
            "no upload attempt in SHUTDOWN"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _s3 = proxy(port, s3_addr(&env), Duration::ZERO).await;
    shutting_down.await.unwrap();

    let records = records(&config);
    assert_eq!(
        sorted(numbered_lines(&records)),
        sorted(expected_lines(&ids, LINES)),
        "every record reached S3: {:?}",
        extension_lines(&env)
    );
    let lines = extension_lines(&env);
    assert!(
        !lines.iter().any(|l| l.contains("are lost")),
        "nothing reported lost: {lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("S3 accepts uploads again")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_slow_s3_does_not_hold_invokes_past_the_flush_timeout() {
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let (_package, config) = setup(&[
        ("AWS_ENDPOINT_URL_S3", &endpoint),
        ("SHIPPER_FLUSH_INTERVAL_MS", "0"),
        ("SHIPPER_FLUSH_TIMEOUT_MS", "200"),
    ]);
    let env = Environment::start(config.clone()).await.unwrap();
    // Every new connection to S3 waits 500 ms: longer than a flush may take.
    let _s3 = proxy(port, s3_addr(&env), Duration::from_millis(500)).await;
    let ids = invoke_lines(&env, 3, LINES).await;
    let overheads = extension_overheads(&env);
    assert_eq!(overheads.len(), 3);
    assert!(
        overheads.iter().all(|&ms| (150.0..450.0).contains(&ms)),
        "each invoke waits about the flush timeout, no longer: {overheads:?}"
    );
    // SHUTDOWN has two seconds: enough for the slow uploads to complete.
    env.shutdown().await;
    let records = records(&config);
    assert_eq!(
        sorted(numbered_lines(&records)),
        sorted(expected_lines(&ids, LINES))
    );
}

#[tokio::test]
async fn a_flood_of_ten_times_the_buffer_is_shipped_or_counted() {
    // The sandbox buffers 4 × maxBytes (1 MiB) per subscriber; this invoke
    // writes about 10 MiB of records in one go.
    const FLOOD: usize = 70_000;
    let (_package, mut config) = setup(&[]);
    config.timeout = Duration::from_secs(60);
    let env = Environment::start(config.clone()).await.unwrap();
    let result = env
        .invoke(InvokeRequest::json(&json!({ "lines": FLOOD })))
        .await;
    assert_eq!(result.status, Status::Success);
    env.wait_idle().await;
    env.shutdown().await;

    let shipped = records(&config);
    let delivered = |r: &&serde_json::Value| {
        let kind = r["type"].as_str().unwrap_or_default();
        kind == "function" || (kind.starts_with("platform.") && kind != "platform.logsDropped")
    };
    let dropped: u64 = shipped
        .iter()
        .filter(|r| r["type"] == "platform.logsDropped")
        .map(|r| r["record"]["droppedRecords"].as_u64().unwrap())
        .sum();
    // What the platform emitted for the subscription (platform and function
    // records), against what reached the bucket plus what was reported dropped.
    let emitted = env
        .records()
        .iter()
        .filter(|r| r.kind == "function" || r.kind.starts_with("platform."))
        .count() as u64;
    let in_bucket = shipped.iter().filter(delivered).count() as u64;
    assert_eq!(
        in_bucket + dropped,
        emitted,
        "{in_bucket} shipped + {dropped} reported dropped must be all {emitted} records"
    );
    let numbered = numbered_lines(&shipped);
    let mut unique = numbered.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), numbered.len(), "no line shipped twice");
    if dropped > 0 {
        assert!(
            extension_lines(&env)
                .iter()
                .any(|l| l.contains("the platform dropped")),
            "the shipper reports the drops in its own log"
        );
    }
}

#[tokio::test]
async fn a_missing_bucket_fails_init_with_a_message_naming_the_variable() {
    let (_package, mut config) = setup(&[]);
    config.env.retain(|(k, _)| k != "S3_BUCKET_NAME");
    let env = Environment::start(config).await.unwrap();
    let result = env.invoke(InvokeRequest::json(&json!({}))).await;
    env.shutdown().await;
    assert_eq!(result.status, Status::Error, "{result:?}");
    // The platform's name for any extension's init/error; the shipper's own
    // type and message go with it into the function's logs.
    assert_eq!(result.error_type.as_deref(), Some("Extension.InitError"));
    let said = format!("{:?}", env.records());
    assert!(
        said.contains("environment variable S3_BUCKET_NAME is not set"),
        "{said}"
    );
}

#[tokio::test]
async fn a_taken_listener_port_fails_init_and_says_which_variable_to_change() {
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (_package, config) = setup(&[("SHIPPER_LISTENER_PORT", &port)]);
    let env = Environment::start(config).await.unwrap();
    let result = env.invoke(InvokeRequest::json(&json!({}))).await;
    env.shutdown().await;
    assert_eq!(result.error_type.as_deref(), Some("Extension.InitError"));
    let said = format!("{:?}", env.records());
    assert!(
        said.contains("set SHIPPER_LISTENER_PORT to a free port"),
        "{said}"
    );
}

#[tokio::test]
async fn the_logs_api_on_managed_instances_fails_init_with_what_to_do() {
    let (_package, config) = setup(&[("SHIPPER_API", "logs")]);
    let env = Environment::start(lambda_sandbox::Config {
        init_type: lambda_sandbox::InitType::ManagedInstances,
        ..config
    })
    .await
    .unwrap();
    let result = env.invoke(InvokeRequest::json(&json!({}))).await;
    env.shutdown().await;
    assert_eq!(result.status, Status::Failure);
    assert_eq!(result.error_type.as_deref(), Some("Extension.InitError"));
    let said = extension_lines(&env).join("\n");
    assert!(
        said.contains("Lambda Managed Instances offer no Logs API; set SHIPPER_API=telemetry"),
        "{said}"
    );
}
