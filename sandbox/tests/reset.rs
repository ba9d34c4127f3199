//! Timeouts and crashes reset the environment; the next invoke re-runs Init.

mod support;

use std::time::Duration;

use lambda_sandbox::{Config, Environment, InvokeRequest, Package, Status};
use serde_json::json;
use support::{fixture, lines, of_type};

/// A package kept until the test ends, and the configuration that runs it.
fn package(crashing_extension: bool) -> (Package, Config) {
    let package = Package::temporary("reset").unwrap();
    package.bootstrap(&fixture("echo_function")).unwrap();
    package
        .extension("noop_extension", &fixture("noop_extension"))
        .unwrap();
    let mut config = package.config();
    if crashing_extension {
        config.env.push(("CRASH_ON_INVOKE".into(), "1".into()));
    }
    config.timeout = Duration::from_millis(500);
    (package, config)
}

#[tokio::test]
async fn timeout_resets_and_the_next_invoke_reinitialises() {
    let (_package, config) = package(false);
    let env = Environment::start(config).await.unwrap();
    let first = env.pids().await;
    let result = env
        .invoke(InvokeRequest::json(&json!({"sleepMs": 2000})))
        .await;
    assert_eq!(result.status, Status::Timeout);
    assert_eq!(result.error_type.as_deref(), Some("Sandbox.Timeout"));
    assert!(String::from_utf8_lossy(&result.payload).contains("Task timed out after 0.50 seconds"));
    env.wait_idle().await;
    assert!(
        env.pids().await.is_empty(),
        "a timeout leaves no process running"
    );

    let result = env.invoke(InvokeRequest::json(&json!({}))).await;
    assert_eq!(result.status, Status::Success);
    env.wait_idle().await;
    let second = env.pids().await;
    assert!(
        first.iter().all(|p| !second.contains(p)),
        "new processes after the reset"
    );
    env.shutdown().await;

    let records = env.records();
    let starts: Vec<_> = of_type(&records, "platform.initStart")
        .iter()
        .map(|r| r.record["phase"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(starts, ["init", "invoke"]);
    let reports = of_type(&records, "platform.report");
    assert_eq!(reports[0].record["status"], "timeout");
    assert_eq!(reports[0].record["errorType"], "Sandbox.Timeout");
    assert!(
        lines(&records, "extension")
            .iter()
            .any(|l| l.starts_with("SHUTDOWN timeout "))
    );
}

#[tokio::test]
async fn runtime_crash_is_an_exit_error_and_resets() {
    let (_package, config) = package(false);
    let env = Environment::start(config).await.unwrap();
    let result = env
        .invoke(InvokeRequest::json(&json!({"crash": true})))
        .await;
    assert_eq!(result.status, Status::Error);
    assert_eq!(result.error_type.as_deref(), Some("Runtime.ExitError"));
    assert!(String::from_utf8_lossy(&result.payload).contains("exit status 3"));
    env.wait_idle().await;
    assert_eq!(
        env.invoke(InvokeRequest::json(&json!({}))).await.status,
        Status::Success
    );
    env.shutdown().await;
    let records = env.records();
    assert!(
        lines(&records, "extension")
            .iter()
            .any(|l| l.starts_with("SHUTDOWN failure "))
    );
    assert_eq!(
        of_type(&records, "platform.initStart").len(),
        2,
        "{records:#?}"
    );
}

#[tokio::test]
async fn extension_crash_fails_the_invoke_with_extension_crash() {
    let (_package, config) = package(true);
    let env = Environment::start(config).await.unwrap();
    let result = env.invoke(InvokeRequest::json(&json!({}))).await;
    env.wait_idle().await;
    assert!(
        env.pids().await.is_empty(),
        "the crash reset the environment"
    );
    env.shutdown().await;
    let records = env.records();
    let report = &of_type(&records, "platform.report")[0].record;
    assert_eq!(report["status"], "error", "{report}");
    assert_eq!(report["errorType"], "Extension.Crash");
    // The runtime may have answered before the crash was seen; either way
    // the caller got an answer and the environment was reset.
    assert!(matches!(result.status, Status::Success | Status::Error));
}
