//! The official crates as clients: a `lambda_runtime` function and a
//! `lambda-extension` extension go through Init, several invokes and Shutdown.

mod support;

use std::time::Duration;

use lambda_sandbox::{Config, Environment, InvokeRequest, Package, Status};
use serde_json::{Value, json};
use support::{alive, fixture, lines, of_type};

fn package() -> Package {
    let package = Package::temporary("conformance").unwrap();
    package.bootstrap(&fixture("echo_function")).unwrap();
    package
        .extension("noop_extension", &fixture("noop_extension"))
        .unwrap();
    package
}

#[tokio::test]
async fn official_crates_run_through_the_whole_lifecycle() {
    let package = package();
    let env = Environment::start(package.config()).await.unwrap();
    let pids = env.pids().await;
    assert_eq!(pids.len(), 2, "runtime and extension running after Init");
    let registrations = env.registrations();
    assert_eq!(registrations.len(), 1);
    assert!(registrations[0].external);
    assert_eq!(registrations[0].events, ["INVOKE", "SHUTDOWN"]);
    assert!(registrations[0].after_launch.unwrap() < Duration::from_secs(2));

    let mut responses = Vec::new();
    for i in 0..3 {
        let result = env.invoke(InvokeRequest::json(&json!({"n": i}))).await;
        assert_eq!(result.status, Status::Success, "{result:?}");
        let body: Value = serde_json::from_slice(&result.payload).unwrap();
        assert_eq!(body["event"], json!({"n": i}));
        assert_eq!(body["requestId"], result.request_id.as_str());
        assert_eq!(
            body["functionArn"],
            "arn:aws:lambda:us-east-1:123456789012:function:sandbox-function"
        );
        responses.push(body);
        env.wait_idle().await;
    }
    env.shutdown().await;
    let records = env.records();

    // Every INVOKE event carried the runtime's request id and deadline.
    let invokes: Vec<String> = lines(&records, "extension")
        .into_iter()
        .filter(|l| l.starts_with("INVOKE "))
        .collect();
    assert_eq!(invokes.len(), 3);
    for (line, body) in invokes.iter().zip(&responses) {
        assert_eq!(
            line,
            &format!(
                "INVOKE {} {}",
                body["requestId"].as_str().unwrap(),
                body["deadlineMs"]
            )
        );
    }

    // The platform events of a healthy run, in order.
    let platform: Vec<&str> = records
        .iter()
        .filter(|r| r.kind.starts_with("platform."))
        .map(|r| r.kind.as_str())
        .collect();
    let mut expected = vec![
        "platform.initStart",
        "platform.initRuntimeDone",
        "platform.extension",
        "platform.initReport",
    ];
    for _ in 0..3 {
        expected.extend(["platform.start", "platform.runtimeDone", "platform.report"]);
    }
    assert_eq!(platform, expected);

    let reports = of_type(&records, "platform.report");
    assert!(
        reports[0].record["metrics"]["initDurationMs"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(reports[1].record["metrics"].get("initDurationMs").is_none());
    for report in &reports {
        let r = &report.record;
        assert_eq!(r["status"], "success");
        assert_eq!(r["metrics"]["memorySizeMB"], 128);
        assert!(
            r["metrics"]["maxMemoryUsedMB"].as_u64().unwrap() >= 1,
            "{r}"
        );
        assert_eq!(r["spans"][0]["name"], "extensionOverhead");
    }
    let extension = &of_type(&records, "platform.extension")[0].record;
    assert_eq!(
        extension,
        &json!({"name": "noop_extension", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]})
    );

    // SHUTDOWN reached the extension, lowercase, and nothing survived.
    assert!(
        lines(&records, "extension")
            .iter()
            .any(|l| l.starts_with("SHUTDOWN spindown ")),
        "{records:?}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    for pid in pids {
        assert!(!alive(pid), "process {pid} survived the shutdown");
    }
}

#[tokio::test]
async fn function_errors_reach_the_caller_with_their_type() {
    let package = package();
    let env = Environment::start(package.config()).await.unwrap();
    let result = env
        .invoke(InvokeRequest::json(&json!({"fail": "no luck"})))
        .await;
    assert_eq!(result.status, Status::Error);
    let body: Value = serde_json::from_slice(&result.payload).unwrap();
    assert_eq!(body["errorMessage"], "no luck");
    // The caller sees the type the runtime put in the body (a Rust type name).
    assert_eq!(result.error_type.as_deref(), body["errorType"].as_str());
    env.wait_idle().await;
    // A handled error does not reset the environment.
    let ok = env.invoke(InvokeRequest::json(&json!({}))).await;
    assert_eq!(ok.status, Status::Success);
    env.shutdown().await;
    let records = env.records();
    let reports = of_type(&records, "platform.report");
    assert_eq!(reports[0].record["status"], "error");
    assert_eq!(reports[0].record["errorType"], "Runtime.Unknown");
    assert_eq!(of_type(&records, "platform.initStart").len(), 1);
}

#[tokio::test]
async fn oversized_response_is_refused_with_413_and_reported() {
    let package = package();
    let env = Environment::start(package.config()).await.unwrap();
    let result = env
        .invoke(InvokeRequest::json(
            &json!({"bigBytes": 6 * 1024 * 1024 + 200}),
        ))
        .await;
    assert_eq!(result.status, Status::Error);
    assert_eq!(
        result.error_type.as_deref(),
        Some("Function.ResponseSizeTooLarge")
    );
    env.shutdown().await;
}

#[tokio::test]
async fn freeze_stops_the_processes_between_invokes() {
    let package = package();
    let name = format!("counter-{}", uuid::Uuid::new_v4().simple());
    let config = Config {
        env: vec![("COUNTER_FILE".into(), format!("/tmp/{name}"))],
        ..package.config()
    };
    // The environment's own /tmp, isolated or not.
    let read =
        |env: &Environment| std::fs::read_to_string(env.tmp_dir().join(&name)).unwrap_or_default();

    let env = Environment::start(config.clone()).await.unwrap();
    env.invoke(InvokeRequest::json(&json!({}))).await;
    env.wait_idle().await;
    let before = read(&env);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        read(&env),
        before,
        "the counter advanced while the environment was frozen"
    );
    env.shutdown().await;

    let env = Environment::start(Config {
        freeze: false,
        ..config
    })
    .await
    .unwrap();
    env.invoke(InvokeRequest::json(&json!({}))).await;
    env.wait_idle().await;
    let before: u64 = read(&env).parse().unwrap_or_default();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after: u64 = read(&env).parse().unwrap_or_default();
    assert!(
        after > before,
        "with --no-freeze the counter keeps going ({before} -> {after})"
    );
    env.shutdown().await;
}
