//! Lambda Managed Instances: several invocations at once in one
//! environment, SHUTDOWN-only extensions, the mode's records, and failures
//! under concurrency. The runtime is the official `lambda_runtime` crate's
//! `run_concurrent`; the extension the official `lambda-extension` crate.

mod support;

use std::time::{Duration, Instant};

use lambda_sandbox::config::InitType;
use lambda_sandbox::{
    Config, Environment, InvokeRequest, InvokeResult, Package, Status, invoke_api,
};
use serde_json::{Value, json};
use support::{fixture, http, lines, of_type, raw_runtime_with};

const SLEEP_MS: u64 = 500;

fn managed(package: &Package, max_concurrency: u32) -> Config {
    Config {
        init_type: InitType::ManagedInstances,
        max_concurrency,
        ..package.config()
    }
}

/// The echo function and an extension that registers for SHUTDOWN alone.
fn package(label: &str) -> Package {
    let package = Package::temporary(label).unwrap();
    package.bootstrap(&fixture("echo_function")).unwrap();
    package
        .extension("noop_extension", &fixture("noop_extension"))
        .unwrap();
    package
}

fn shutdown_only(config: Config) -> Config {
    let mut config = config;
    config.env.push(("NOOP_EVENTS".into(), "SHUTDOWN".into()));
    config
}

fn sleeping(ms: u64) -> InvokeRequest {
    InvokeRequest::json(&json!({"sleepMs": ms}))
}

/// Waits until `n` invocations have been in flight at once.
async fn in_flight(env: &Environment, n: usize) {
    assert!(
        env.wait_for_in_flight(n, Duration::from_secs(10)).await,
        "never {n} invocations at once"
    );
}

fn spawn_invoke(
    env: &Environment,
    request: InvokeRequest,
) -> tokio::task::JoinHandle<InvokeResult> {
    let env = env.clone();
    tokio::spawn(async move { env.invoke(request).await })
}

#[tokio::test]
async fn invocations_run_at_once_up_to_the_maximum() {
    let package = package("lmi-concurrency");
    let env = Environment::start(shutdown_only(managed(&package, 4)))
        .await
        .unwrap();
    let registrations = env.registrations();
    assert_eq!(registrations.len(), 1);
    assert_eq!(registrations[0].events, ["SHUTDOWN"]);

    // Four slow invocations take about one sleep, not four.
    let started = Instant::now();
    let first: Vec<_> = (0..4)
        .map(|_| spawn_invoke(&env, sleeping(SLEEP_MS)))
        .collect();
    in_flight(&env, 4).await;
    // A fifth caller is refused at once when it asks not to wait, and
    // waits for a free slot when it does.
    assert!(env.try_invoke(sleeping(0)).await.is_err());
    let fifth = spawn_invoke(&env, sleeping(SLEEP_MS));
    let mut ids = Vec::new();
    for handle in first {
        let result = handle.await.unwrap();
        assert_eq!(result.status, Status::Success, "{result:?}");
        ids.push(result.request_id);
    }
    let four = started.elapsed();
    assert!(
        four < Duration::from_millis(3 * SLEEP_MS),
        "4 invocations of {SLEEP_MS} ms took {four:?}: they did not run at once"
    );
    let fifth = fifth.await.unwrap();
    assert_eq!(fifth.status, Status::Success);
    assert!(
        started.elapsed() >= Duration::from_millis(2 * SLEEP_MS),
        "the fifth invocation did not wait for a slot"
    );
    ids.push(fifth.request_id);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "every invocation has its own request id");
    assert_eq!(env.most_in_flight(), 4);
    env.shutdown().await;

    let records = env.records();
    let init_start = &of_type(&records, "platform.initStart")[0].record;
    assert_eq!(init_start["initializationType"], "lambda-managed-instances");
    assert!(init_start.get("functionArn").is_none(), "{init_start}");
    for field in ["runtimeVersion", "runtimeVersionArn", "instanceId"] {
        assert!(
            init_start[field].is_string(),
            "{field} missing: {init_start}"
        );
    }
    assert!(
        of_type(&records, "platform.runtimeDone").is_empty(),
        "Managed Instances emit no runtimeDone"
    );
    let starts = of_type(&records, "platform.start");
    assert_eq!(starts.len(), 5);
    assert!(starts.iter().all(|s| s.record["functionArn"].is_string()));
    let reports = of_type(&records, "platform.report");
    assert_eq!(reports.len(), 5);
    for report in reports {
        let r = &report.record;
        assert_eq!(r["status"], "success");
        assert!(r["metrics"]["durationMs"].as_f64().unwrap() >= SLEEP_MS as f64);
        for absent in [
            "billedDurationMs",
            "memorySizeMB",
            "maxMemoryUsedMB",
            "initDurationMs",
        ] {
            assert!(r["metrics"].get(absent).is_none(), "{absent} in {r}");
        }
        let spans: Vec<&str> = r["spans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(spans, ["responseLatency", "responseDuration"]);
    }
    let extension = lines(&records, "extension");
    assert!(
        extension.iter().any(|l| l.starts_with("SHUTDOWN spindown")),
        "{extension:?}"
    );
    assert!(!extension.iter().any(|l| l.starts_with("INVOKE")));
}

#[tokio::test]
async fn a_timeout_fails_that_invocation_alone() {
    let package = package("lmi-timeout");
    let env = Environment::start(Config {
        timeout: Duration::from_secs(1),
        ..shutdown_only(managed(&package, 2))
    })
    .await
    .unwrap();
    let pids = env.pids().await;
    let slow = spawn_invoke(&env, sleeping(1500));
    let quick = spawn_invoke(&env, sleeping(100));
    let quick = quick.await.unwrap();
    assert_eq!(quick.status, Status::Success);
    let slow = slow.await.unwrap();
    assert_eq!(slow.status, Status::Timeout);
    assert_eq!(slow.error_type.as_deref(), Some("Sandbox.Timedout"));
    let body: Value = serde_json::from_slice(&slow.payload).unwrap();
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Task timed out after 1.00 seconds"),
        "{body}"
    );
    // Nothing was reset: the same processes serve the next invocations,
    // the timed-out handler's worker included once it is done and asks
    // for more.
    assert!(
        env.wait_for_waiting_workers(2, Duration::from_secs(5))
            .await,
        "the timed-out handler's worker never came back to next"
    );
    let after: Vec<_> = (0..2).map(|_| spawn_invoke(&env, sleeping(50))).collect();
    for handle in after {
        assert_eq!(handle.await.unwrap().status, Status::Success);
    }
    assert_eq!(env.pids().await, pids);
    env.shutdown().await;
    let records = env.records();
    assert_eq!(of_type(&records, "platform.initStart").len(), 1);
    let timed_out: Vec<_> = of_type(&records, "platform.report")
        .into_iter()
        .filter(|r| r.record["status"] == "timeout")
        .collect();
    assert_eq!(timed_out.len(), 1);
    assert_eq!(timed_out[0].record["errorType"], "Sandbox.Timedout");
}

#[tokio::test]
async fn a_crash_fails_every_invocation_in_flight_and_the_environment() {
    let package = package("lmi-crash");
    let env = Environment::start(shutdown_only(managed(&package, 3)))
        .await
        .unwrap();
    let sleepers: Vec<_> = (0..2).map(|_| spawn_invoke(&env, sleeping(2000))).collect();
    in_flight(&env, 2).await;
    let crash = env
        .invoke(InvokeRequest::json(&json!({"crash": true})))
        .await;
    assert_eq!(crash.error_type.as_deref(), Some("Runtime.ExitError"));
    for handle in sleepers {
        let result = handle.await.unwrap();
        assert_eq!(
            result.error_type.as_deref(),
            Some("Runtime.ExitError"),
            "{result:?}"
        );
    }
    // The environment is not reset: it shuts down and refuses what follows.
    env.wait_idle().await;
    let later = env.invoke(sleeping(0)).await;
    assert_eq!(
        later.error_type.as_deref(),
        Some("Client.ExecutionEnvironmentUnhealthy")
    );
    env.shutdown().await;
    let records = env.records();
    assert_eq!(of_type(&records, "platform.initStart").len(), 1);
    let extension = lines(&records, "extension");
    assert!(
        extension.iter().any(|l| l.starts_with("SHUTDOWN failure")),
        "{extension:?}"
    );
}

#[tokio::test]
async fn an_extension_that_asks_for_invoke_fails_init_once() {
    // The extension as written for the classic model: INVOKE and SHUTDOWN.
    let package = package("lmi-classic-extension");
    let env = Environment::start(managed(&package, 2)).await.unwrap();
    let first = env.invoke(sleeping(0)).await;
    let error = first.error_type.clone().unwrap_or_default();
    assert!(error.starts_with("Extension."), "{first:?}");
    // No Init is retried: the next invocation gets the same error.
    let second = env.invoke(sleeping(0)).await;
    assert_eq!(second.error_type, first.error_type);
    env.shutdown().await;
    let records = env.records();
    assert_eq!(of_type(&records, "platform.initStart").len(), 1);
    // The crate reports the refusal of its registration by status alone.
    let extension = lines(&records, "extension").join("\n");
    assert!(extension.contains("403 Forbidden"), "{extension}");
}

#[tokio::test]
async fn the_apis_refuse_what_managed_instances_do_not_offer() {
    let raw = raw_runtime_with(
        |_| {},
        |config| Config {
            init_type: InitType::ManagedInstances,
            ..config
        },
    )
    .await;
    let addr = raw.addr;
    let register = |name: &'static str, body: &'static str| async move {
        http(
            addr,
            "POST",
            "/2020-01-01/extension/register",
            &[("Lambda-Extension-Name", name)],
            body.as_bytes(),
        )
        .await
    };
    // A name that matches no launched file is an internal extension.
    for body in [r#"{"events":["INVOKE"]}"#, r#"{"events":["SHUTDOWN"]}"#] {
        let refused = register("in-process", body).await;
        assert_eq!(
            (refused.status, refused.error_type()),
            (403, "Extension.InvalidEventType".into()),
            "{body}"
        );
    }
    let ok = register("in-process", r#"{"events":[]}"#).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let id = ok.headers["lambda-extension-identifier"].clone();

    let logs = http(
        addr,
        "PUT",
        "/2020-08-15/logs",
        &[("Lambda-Extension-Identifier", &id)],
        br#"{"schemaVersion":"2021-03-18","types":["function"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:1234/"}}"#,
    )
    .await;
    assert_eq!(logs.status, 404, "{}", logs.body);
    let subscribe = |schema: &'static str| {
        let id = id.clone();
        async move {
            let body = format!(
                r#"{{"schemaVersion":"{schema}","types":["platform"],"destination":{{"protocol":"HTTP","URI":"http://sandbox.localdomain:1234/"}}}}"#
            );
            http(
                addr,
                "PUT",
                "/2022-07-01/telemetry",
                &[("Lambda-Extension-Identifier", &id)],
                body.as_bytes(),
            )
            .await
        }
    };
    let old = subscribe("2022-12-13").await;
    assert_eq!(
        (old.status, old.error_type()),
        (400, "ValidationError".into())
    );
    assert!(
        old.json()["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("schema validation error")
    );
    let current = subscribe("2025-01-29").await;
    assert_eq!(current.status, 200, "{}", current.body);
    raw.starting.abort();
}

#[tokio::test]
async fn serve_throttles_callers_beyond_the_concurrency() {
    for (init_type, concurrency, reason) in [
        (
            InitType::ManagedInstances,
            2,
            "ConcurrentInvocationLimitExceeded",
        ),
        (
            InitType::OnDemand,
            1,
            "ReservedFunctionConcurrentInvocationLimitExceeded",
        ),
    ] {
        let package = package("lmi-serve");
        let env = Environment::start(shutdown_only(Config {
            init_type,
            max_concurrency: 2,
            ..package.config()
        }))
        .await
        .unwrap();
        let server = invoke_api::serve(env.clone(), "127.0.0.1:0".parse().unwrap(), None)
            .await
            .unwrap();
        let path = "/2015-03-31/functions/sandbox-function/invocations";
        let addr = server.addr;
        let slow: Vec<_> = (0..concurrency)
            .map(|_| {
                tokio::spawn(
                    async move { http(addr, "POST", path, &[], br#"{"sleepMs":800}"#).await },
                )
            })
            .collect();
        in_flight(&env, concurrency).await;
        let throttled = http(addr, "POST", path, &[], b"{}").await;
        assert_eq!(throttled.status, 429, "{init_type:?}: {}", throttled.body);
        assert_eq!(
            throttled.headers["x-amzn-errortype"],
            "TooManyRequestsException"
        );
        assert_eq!(throttled.json()["Reason"], reason);
        for handle in slow {
            assert_eq!(handle.await.unwrap().status, 200);
        }
        // Once the callers have their answers, a caller is served again.
        let after = http(addr, "POST", path, &[], b"{}").await;
        assert_eq!(after.status, 200, "{}", after.body);
        drop(server);
        env.shutdown().await;
    }
}

#[tokio::test]
async fn answers_are_matched_by_request_id() {
    const NEXT: &str = "/2018-06-01/runtime/invocation/next";
    let raw = raw_runtime_with(
        |_| {},
        |config| Config {
            init_type: InitType::ManagedInstances,
            max_concurrency: 2,
            timeout: Duration::from_secs(1),
            ..config
        },
    )
    .await;
    let addr = raw.addr;
    let worker = || tokio::spawn(async move { http(addr, "GET", NEXT, &[], b"").await });
    let answer = |id: String, invocation_id: Option<String>, body: &'static str| async move {
        let path = format!("/2018-06-01/runtime/invocation/{id}/response");
        let mut headers = Vec::new();
        if let Some(nonce) = &invocation_id {
            headers.push(("Lambda-Runtime-Invocation-Id", nonce.as_str()));
        }
        http(addr, "POST", &path, &headers, body.as_bytes()).await
    };
    // Two workers wait; the first `next` completes Init.
    let (first, second) = (worker(), worker());
    let env = raw.starting.await.unwrap();
    let a = spawn_invoke(&env, InvokeRequest::json(&json!({"caller": "a"})));
    let b = spawn_invoke(&env, InvokeRequest::json(&json!({"caller": "b"})));
    let events = [first.await.unwrap(), second.await.unwrap()];
    let mut by_caller = std::collections::HashMap::new();
    for event in &events {
        assert_eq!(event.status, 200);
        let id = event.headers["lambda-runtime-aws-request-id"].clone();
        let nonce = event.headers["lambda-runtime-invocation-id"].clone();
        assert_ne!(id, nonce);
        // Optional headers with nothing to say are left out.
        assert!(!event.headers.contains_key("lambda-runtime-client-context"));
        assert!(
            !event
                .headers
                .contains_key("lambda-runtime-cognito-identity")
        );
        let caller = event.json()["caller"].as_str().unwrap().to_string();
        by_caller.insert(caller, (id, nonce));
    }
    let (a_id, a_nonce) = by_caller["a"].clone();
    let (b_id, b_nonce) = by_caller["b"].clone();

    // Answered in the other order, each by its own id.
    let to_b = answer(b_id.clone(), Some(b_nonce), r#""for b""#).await;
    assert_eq!(to_b.status, 202, "{}", to_b.body);
    let again = answer(b_id.clone(), None, r#""twice""#).await;
    assert_eq!(
        (again.status, again.error_type()),
        (400, "InvalidRequestID".into())
    );
    let unknown = answer("not-an-invocation".into(), None, "{}").await;
    assert_eq!(
        (unknown.status, unknown.error_type()),
        (400, "InvalidRequestID".into())
    );
    let wrong_nonce = answer(a_id.clone(), Some(b_id.clone()), "{}").await;
    assert_eq!(
        (wrong_nonce.status, wrong_nonce.error_type()),
        (400, "InvalidRequestID".into())
    );
    let to_a = answer(a_id.clone(), Some(a_nonce), r#""for a""#).await;
    assert_eq!(to_a.status, 202, "{}", to_a.body);
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!((a.request_id, &a.payload[..]), (a_id, &br#""for a""#[..]));
    assert_eq!((b.request_id, &b.payload[..]), (b_id, &br#""for b""#[..]));

    // An answer after the timeout is gone, not unknown.
    let waiting = worker();
    let late = env.invoke(InvokeRequest::json(&json!({}))).await;
    assert_eq!(late.error_type.as_deref(), Some("Sandbox.Timedout"));
    let event = waiting.await.unwrap();
    let id = event.headers["lambda-runtime-aws-request-id"].clone();
    let gone = answer(id, None, "{}").await;
    assert_eq!(
        (gone.status, gone.error_type()),
        (410, "InvokeTimeout".into())
    );
    env.terminate();
    env.shutdown().await;
}
