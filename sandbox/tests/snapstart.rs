//! SnapStart: one Init ending in a snapshot, then a Restore phase for each
//! new environment, with its records, its after-restore hooks and their
//! limit, fresh credentials from the credentials endpoint, and the
//! service's errors when a restore fails. The runtime is the official
//! `lambda_runtime` crate with a `SnapStartResource`; its credentials come
//! through the AWS SDK's own default chain; the extension is the official
//! `lambda-extension` crate.

mod support;

use std::time::Duration;

use lambda_sandbox::config::InitType;
use lambda_sandbox::{Config, Environment, InvokeRequest, Package, Status, invoke_api};
use serde_json::{Value, json};
use support::{fixture, http, lines, of_type};

fn snapstart(package: &Package, env: &[(&str, &str)]) -> Config {
    let mut config = Config {
        init_type: InitType::SnapStart,
        ..package.config()
    };
    config
        .env
        .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    config
}

/// The SnapStart function and an extension subscribed to INVOKE and SHUTDOWN.
fn package(label: &str) -> Package {
    let package = Package::temporary(label).unwrap();
    package.bootstrap(&fixture("snapstart_function")).unwrap();
    package
        .extension("noop_extension", &fixture("noop_extension"))
        .unwrap();
    package
}

fn platform_kinds(env: &Environment) -> Vec<String> {
    env.records()
        .into_iter()
        .filter(|r| r.kind.starts_with("platform."))
        .map(|r| r.kind)
        .collect()
}

#[tokio::test]
async fn each_of_three_restores_runs_the_hooks_and_reports_its_restore() {
    let package = package("snapstart-restores");
    let env = Environment::start(snapstart(&package, &[])).await.unwrap();
    let mut answers = Vec::new();
    for restore in 0..3 {
        if restore > 0 {
            env.restore_anew().await.unwrap();
        }
        let result = env.invoke(InvokeRequest::json(&json!({}))).await;
        assert_eq!(result.status, Status::Success, "{result:?}");
        answers.push(serde_json::from_slice::<Value>(&result.payload).unwrap());
        env.wait_idle().await;
    }
    env.shutdown().await;

    // Init shows once, as it ran once on Lambda; each environment after it
    // starts with a restore, and its first report carries the restore.
    let per_restore = [
        "platform.restoreStart",
        "platform.restoreRuntimeDone",
        "platform.restoreReport",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
    ];
    let mut expected = vec![
        "platform.initStart",
        "platform.initRuntimeDone",
        "platform.extension",
        "platform.initReport",
    ];
    for _ in 0..3 {
        expected.extend(per_restore);
    }
    assert_eq!(platform_kinds(&env), expected);
    let records = env.records();
    assert_eq!(
        of_type(&records, "platform.initStart")[0].record["initializationType"],
        "snap-start"
    );
    for report in of_type(&records, "platform.restoreReport") {
        assert_eq!(report.record["status"], "success");
        assert!(report.record["metrics"]["durationMs"].as_f64().unwrap() > 0.0);
    }
    for report in of_type(&records, "platform.report") {
        let metrics = &report.record["metrics"];
        assert!(metrics["restoreDurationMs"].as_f64().is_some(), "{metrics}");
        assert!(metrics.get("initDurationMs").is_none(), "{metrics}");
    }

    // The first environment is the snapshot's own processes: the id its
    // Init drew, and printed once, is the one it answers with.
    let function = lines(&records, "function");
    let printed_init: Vec<&String> = function
        .iter()
        .filter(|l| l.starts_with("init: id"))
        .collect();
    assert_eq!(printed_init.len(), 1, "{function:?}");
    assert_eq!(
        printed_init[0].trim(),
        format!("init: id {}", answers[0]["initId"].as_str().unwrap())
    );
    // Each restore ran the hook, which drew an id of its own, and found
    // credentials of its own through the SDK's container provider.
    let restore_ids: std::collections::HashSet<&str> = answers
        .iter()
        .map(|a| a["restoreId"].as_str().unwrap())
        .collect();
    assert_eq!(restore_ids.len(), 3, "{answers:?}");
    let tokens: std::collections::HashSet<&str> = answers
        .iter()
        .map(|a| a["sessionToken"].as_str().unwrap())
        .collect();
    assert_eq!(tokens.len(), 3, "{answers:?}");
    assert!(
        tokens.iter().all(|t| t.starts_with("sandbox-session-")),
        "{answers:?}"
    );
    // Extensions get no event at a restore: one INVOKE per invocation.
    let invokes = lines(&records, "extension")
        .iter()
        .filter(|l| l.starts_with("INVOKE"))
        .count();
    assert_eq!(invokes, 3);
}

#[tokio::test]
async fn a_hook_that_overruns_gets_the_timeout_and_a_reset() {
    let package = package("snapstart-slow-hook");
    let env = Environment::start(Config {
        restore_timeout: Duration::from_millis(500),
        ..snapstart(&package, &[("SNAPSTART_HOOK", "sleep:5000")])
    })
    .await
    .unwrap();
    let snapshot_pids = env.pids().await;
    let result = env.invoke(InvokeRequest::json(&json!({}))).await;
    assert_eq!(result.status, Status::Failure);
    assert_eq!(
        result.error_type.as_deref(),
        Some("SnapStartTimeoutException")
    );
    env.wait_idle().await;
    let records = env.records();
    let done = of_type(&records, "platform.restoreRuntimeDone");
    assert_eq!(done[0].record["status"], "timeout");
    assert_eq!(done[0].record["errorType"], "Runtime.Unknown");
    assert_eq!(
        of_type(&records, "platform.restoreReport")[0].record["status"],
        "timeout"
    );
    assert!(
        of_type(&records, "platform.start").is_empty(),
        "the invocation never started"
    );
    // The environment was reset: its processes are gone.
    assert!(env.pids().await.is_empty());
    assert!(snapshot_pids.iter().all(|pid| !support::alive(*pid)));

    // The next invoke restores the snapshot into new processes, which time
    // out the same way.
    let again = env.invoke(InvokeRequest::json(&json!({}))).await;
    assert_eq!(
        again.error_type.as_deref(),
        Some("SnapStartTimeoutException")
    );
    env.shutdown().await;
    assert_eq!(of_type(&env.records(), "platform.restoreStart").len(), 2);
}

#[tokio::test]
async fn a_failing_hook_is_the_services_snapstart_exception_for_the_sdk() {
    let package = package("snapstart-failing-hook");
    let env = Environment::start(snapstart(&package, &[("SNAPSTART_HOOK", "fail")]))
        .await
        .unwrap();
    let api = invoke_api::serve(env.clone(), "127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "sandbox", "sandbox", None, None, "tests",
        ))
        .endpoint_url(format!("http://{}", api.addr))
        .load()
        .await;
    let client = aws_sdk_lambda::Client::new(&sdk);
    let err = client
        .invoke()
        .function_name(&env.config().function_name)
        .send()
        .await
        .expect_err("a failed restore is an error of the service");
    let service = err.into_service_error();
    assert!(service.is_snap_start_exception(), "{service:?}");
    assert!(
        service
            .to_string()
            .contains("the after-restore hook was told to fail"),
        "{service}"
    );
    let records = env.records();
    let done = of_type(&records, "platform.restoreRuntimeDone");
    assert_eq!(done[0].record["status"], "error");
    api.stop().await;
    env.shutdown().await;
}

#[tokio::test]
async fn a_runtime_that_never_asks_for_restore_is_restored_at_once() {
    // The echo function ends its Init in next, as runtimes without
    // SnapStart support do.
    let package = Package::temporary("snapstart-no-hooks").unwrap();
    package.bootstrap(&fixture("echo_function")).unwrap();
    let env = Environment::start(snapstart(&package, &[])).await.unwrap();
    let result = env.invoke(InvokeRequest::json(&json!({"n": 1}))).await;
    assert_eq!(result.status, Status::Success, "{result:?}");
    env.shutdown().await;
    let records = env.records();
    assert_eq!(
        of_type(&records, "platform.restoreReport")[0].record["status"],
        "success"
    );
}

/// A bootstrap that hands the test the Runtime API's address and the
/// credentials variables, then idles: the test is the runtime.
const CREDENTIALS_BOOTSTRAP: &str = r#"#!/bin/sh
printf '%s\n%s\n' "$AWS_CONTAINER_CREDENTIALS_FULL_URI" "$AWS_CONTAINER_AUTHORIZATION_TOKEN" > "$LAMBDA_TASK_ROOT/credentials"
echo "$AWS_LAMBDA_RUNTIME_API" > "$LAMBDA_TASK_ROOT/api.partial"
mv "$LAMBDA_TASK_ROOT/api.partial" "$LAMBDA_TASK_ROOT/api"
exec sleep 600
"#;

async fn credentials(addr: std::net::SocketAddr, token: &str) -> support::Reply {
    http(
        addr,
        "GET",
        "/2021-04-23/credentials",
        &[("Authorization", token)],
        b"",
    )
    .await
}

#[tokio::test]
async fn restore_next_ends_init_and_the_restore_brings_new_credentials() {
    let raw = support::raw_runtime_with(
        |package| {
            package.bootstrap_script(CREDENTIALS_BOOTSTRAP).unwrap();
        },
        |config| Config {
            init_type: InitType::SnapStart,
            ..config
        },
    )
    .await;
    let addr = raw.addr;
    let written = std::fs::read_to_string(raw.package.task_root().join("credentials")).unwrap();
    let (uri, token) = written.trim().split_once('\n').unwrap();
    assert_eq!(uri, format!("http://{addr}/2021-04-23/credentials"));

    let wrong = credentials(addr, "not-the-token").await;
    assert_eq!(wrong.status, 404);
    assert_eq!(wrong.body, "cannot get credentials for the provided token");
    let before = credentials(addr, token).await;
    assert_eq!(before.status, 200);
    let issued = before.json();
    for field in ["AccessKeyId", "SecretAccessKey", "Token", "Expiration"] {
        assert!(
            issued[field].as_str().is_some_and(|v| !v.is_empty()),
            "{issued}"
        );
    }
    assert!(chrono::DateTime::parse_from_rfc3339(issued["Expiration"].as_str().unwrap()).is_ok());

    // Nothing is restoring yet.
    let early = http(
        addr,
        "POST",
        "/2018-06-01/runtime/restore/error",
        &[("Lambda-Runtime-Function-Error-Type", "Runtime.Hook")],
        b"{}",
    )
    .await;
    assert_eq!(early.status, 403);
    assert_eq!(early.error_type(), "InvalidStateTransition");

    // /restore/next ends Init and holds the runtime until a restore.
    let parked = tokio::spawn(http(
        addr,
        "GET",
        "/2018-06-01/runtime/restore/next",
        &[],
        b"",
    ));
    let env = raw.starting.await.unwrap();
    assert!(!parked.is_finished());
    let invoke = {
        let env = env.clone();
        tokio::spawn(async move { env.invoke(InvokeRequest::json(&json!({"n": 1}))).await })
    };
    let released = parked.await.unwrap();
    assert_eq!(released.status, 200);
    assert_eq!(released.body, "");
    let after = credentials(addr, token).await.json();
    assert_ne!(
        after["Token"], issued["Token"],
        "the restore issued new credentials"
    );

    let event = http(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], b"").await;
    let request_id = event.headers["lambda-runtime-aws-request-id"].clone();
    let answered = http(
        addr,
        "POST",
        &format!("/2018-06-01/runtime/invocation/{request_id}/response"),
        &[],
        b"\"ok\"",
    )
    .await;
    assert_eq!(answered.status, 202);
    assert_eq!(invoke.await.unwrap().status, Status::Success);
    env.terminate();
    env.shutdown().await;
}

#[tokio::test]
async fn without_snapstart_there_is_no_restore_or_credentials_endpoint() {
    let raw = support::raw_runtime(Duration::from_secs(10), |_| {}).await;
    for (method, path) in [
        ("GET", "/2018-06-01/runtime/restore/next"),
        ("POST", "/2018-06-01/runtime/restore/error"),
        ("GET", "/2021-04-23/credentials"),
    ] {
        assert_eq!(
            http(raw.addr, method, path, &[], b"").await.status,
            404,
            "{path}"
        );
    }
    raw.starting.abort();
}
