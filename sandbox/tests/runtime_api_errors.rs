//! Every error route of the Runtime API, driven with raw HTTP: the test plays
//! the runtime.

mod support;

use std::time::Duration;

use lambda_sandbox::{InvokeRequest, Status};
use serde_json::json;
use support::{Reply, http, raw_runtime};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";

/// The runtime's next `next`, which ends the invoke phase without waiting
/// for the function timeout.
fn finish_phase(addr: std::net::SocketAddr) -> tokio::task::JoinHandle<Reply> {
    tokio::spawn(async move { http(addr, "GET", NEXT, &[], b"").await })
}

fn path(request_id: &str, what: &str) -> String {
    format!("/2018-06-01/runtime/invocation/{request_id}/{what}")
}

/// Starts an environment, finishes its Init with a first `next`, and sends
/// one invoke; returns the `next` reply carrying that invoke, and the package
/// to keep until the test ends.
async fn invoked(
    payload: serde_json::Value,
) -> (
    lambda_sandbox::Package,
    std::net::SocketAddr,
    lambda_sandbox::Environment,
    tokio::task::JoinHandle<lambda_sandbox::InvokeResult>,
    Reply,
) {
    let raw = raw_runtime(Duration::from_secs(20), |_| {}).await;
    let addr = raw.addr;
    let next = tokio::spawn(async move { http(addr, "GET", NEXT, &[], b"").await });
    let env = raw.starting.await.unwrap();
    let caller = env.clone();
    let invoke = tokio::spawn(async move { caller.invoke(InvokeRequest::json(&payload)).await });
    let reply = next.await.unwrap();
    assert_eq!(reply.status, 200);
    (raw.package, addr, env, invoke, reply)
}

#[tokio::test]
async fn next_carries_the_headers_the_official_runtime_requires() {
    let (_package, addr, env, invoke, reply) = invoked(json!({"hello": "world"})).await;
    assert_eq!(reply.body, r#"{"hello":"world"}"#);
    assert_eq!(reply.headers["content-type"], "application/json");
    let id = reply.headers["lambda-runtime-aws-request-id"].clone();
    let deadline: i64 = reply.headers["lambda-runtime-deadline-ms"].parse().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    assert!(
        deadline > now && deadline <= now + 3_000,
        "deadline {deadline} is about 3 s ahead of {now}"
    );
    assert!(
        reply.headers["lambda-runtime-invoked-function-arn"]
            .starts_with("arn:aws:lambda:us-east-1:123456789012:function:")
    );
    assert!(reply.headers["lambda-runtime-trace-id"].starts_with("Root=1-"));

    let ok = http(addr, "POST", &path(&id, "response"), &[], b"\"done\"").await;
    assert_eq!((ok.status, ok.body.as_str()), (202, r#"{"status":"OK"}"#));
    let result = invoke.await.unwrap();
    assert_eq!(
        (result.status, &result.payload[..]),
        (Status::Success, &b"\"done\""[..])
    );
    let _next = finish_phase(addr);
    env.wait_idle().await;
    env.shutdown().await;
}

#[tokio::test]
async fn wrong_request_ids_and_states_are_refused() {
    let (_package, addr, env, invoke, reply) = invoked(json!({})).await;
    let id = reply.headers["lambda-runtime-aws-request-id"].clone();

    // A second next while the invoke is open is a state error.
    let again = http(addr, "GET", NEXT, &[], b"").await;
    assert_eq!(
        (again.status, again.error_type()),
        (403, "InvalidStateTransition".into())
    );
    // init/error is only for Init.
    let init_error = http(addr, "POST", "/2018-06-01/runtime/init/error", &[], b"{}").await;
    assert_eq!(
        (init_error.status, init_error.error_type()),
        (403, "InvalidStateTransition".into())
    );
    // Another request id.
    let wrong = http(addr, "POST", &path("not-the-one", "response"), &[], b"{}").await;
    assert_eq!(
        (wrong.status, wrong.error_type()),
        (400, "InvalidRequestID".into())
    );
    assert_eq!(wrong.json()["errorMessage"], "Invalid request ID");

    assert_eq!(
        http(addr, "POST", &path(&id, "response"), &[], b"{}")
            .await
            .status,
        202
    );
    // A second answer to the same invoke.
    let twice = http(addr, "POST", &path(&id, "error"), &[], b"{}").await;
    assert_eq!(
        (twice.status, twice.error_type()),
        (400, "InvalidRequestID".into())
    );
    assert_eq!(invoke.await.unwrap().status, Status::Success);

    // Between invokes there is nothing to answer.
    let next = finish_phase(addr);
    env.wait_idle().await;
    let idle = http(addr, "POST", &path(&id, "response"), &[], b"{}").await;
    assert_eq!(
        (idle.status, idle.error_type()),
        (403, "InvalidStateTransition".into())
    );
    next.abort();
    env.shutdown().await;
}

#[tokio::test]
async fn error_posts_keep_the_body_and_normalise_the_type() {
    let (_package, addr, env, invoke, reply) = invoked(json!({})).await;
    let id = reply.headers["lambda-runtime-aws-request-id"].clone();
    let body = br#"{"errorMessage":"bad input","errorType":"InputError","stackTrace":[]}"#;
    let posted = http(
        addr,
        "POST",
        &path(&id, "error"),
        &[
            ("Lambda-Runtime-Function-Error-Type", "InputError"),
            ("Content-Type", "application/vnd.aws.lambda.error+json"),
        ],
        body,
    )
    .await;
    assert_eq!(posted.status, 202);
    let result = invoke.await.unwrap();
    assert_eq!(result.status, Status::Error);
    assert_eq!(result.error_type.as_deref(), Some("InputError"));
    assert_eq!(&result.payload[..], &body[..]);
    let _next = finish_phase(addr);
    env.wait_idle().await;
    env.shutdown().await;
    let records = env.records();
    let done = records
        .iter()
        .find(|r| r.kind == "platform.runtimeDone")
        .unwrap();
    assert_eq!(done.record["status"], "error");
    assert_eq!(done.record["errorType"], "Runtime.Unknown");
}

#[tokio::test]
async fn oversized_response_gets_413_and_the_caller_a_size_error() {
    let (_package, addr, env, invoke, reply) = invoked(json!({})).await;
    let id = reply.headers["lambda-runtime-aws-request-id"].clone();
    let big = vec![b'x'; 6 * 1024 * 1024 + 101];
    let refused = http(addr, "POST", &path(&id, "response"), &[], &big).await;
    assert_eq!(refused.status, 413);
    assert_eq!(
        refused.json(),
        json!({"errorType": "RequestEntityTooLarge", "errorMessage": "Exceeded maximum allowed payload size (6291556 bytes)."})
    );
    let result = invoke.await.unwrap();
    assert_eq!(
        result.error_type.as_deref(),
        Some("Function.ResponseSizeTooLarge")
    );
    let _next = finish_phase(addr);
    env.wait_idle().await;
    env.shutdown().await;
}

#[tokio::test]
async fn exactly_the_limit_is_accepted() {
    let (_package, addr, env, invoke, reply) = invoked(json!({})).await;
    let id = reply.headers["lambda-runtime-aws-request-id"].clone();
    let body = vec![b'x'; 6 * 1024 * 1024 + 100];
    assert_eq!(
        http(addr, "POST", &path(&id, "response"), &[], &body)
            .await
            .status,
        202
    );
    assert_eq!(invoke.await.unwrap().payload.len(), body.len());
    let _next = finish_phase(addr);
    env.wait_idle().await;
    env.shutdown().await;
}

#[tokio::test]
async fn response_modes_other_than_streaming_are_refused() {
    let (_package, addr, env, invoke, reply) = invoked(json!({})).await;
    let id = reply.headers["lambda-runtime-aws-request-id"].clone();
    let refused = http(
        addr,
        "POST",
        &path(&id, "response"),
        &[("Lambda-Runtime-Function-Response-Mode", "buffered")],
        b"{}",
    )
    .await;
    assert_eq!(
        (refused.status, refused.error_type()),
        (400, "InvalidFunctionResponseMode".into())
    );
    assert_eq!(
        invoke.await.unwrap().error_type.as_deref(),
        Some("Runtime.InvalidResponseModeHeader")
    );
    let _next = finish_phase(addr);
    env.wait_idle().await;
    env.shutdown().await;
}

#[tokio::test]
async fn streamed_responses_are_accepted() {
    let (_package, addr, env, invoke, reply) = invoked(json!({})).await;
    let id = reply.headers["lambda-runtime-aws-request-id"].clone();
    let mut body = br#"{"statusCode":200,"headers":{}}"#.to_vec();
    body.extend_from_slice(&[0u8; 8]);
    body.extend_from_slice(b"streamed payload");
    let posted = http(
        addr,
        "POST",
        &path(&id, "response"),
        &[
            ("Lambda-Runtime-Function-Response-Mode", "streaming"),
            (
                "Content-Type",
                "application/vnd.awslambda.http-integration-response",
            ),
        ],
        &body,
    )
    .await;
    assert_eq!(posted.status, 202);
    let result = invoke.await.unwrap();
    assert_eq!(
        (result.status, &result.payload[..]),
        (Status::Success, &b"streamed payload"[..])
    );
    let _next = finish_phase(addr);
    env.wait_idle().await;
    env.shutdown().await;
}

#[tokio::test]
async fn a_binary_stream_reaches_the_caller_untouched() {
    let (_package, addr, env, invoke, reply) = invoked(json!({})).await;
    let id = reply.headers["lambda-runtime-aws-request-id"].clone();
    // Eight NUL bytes inside a binary stream are data, not a prelude's end.
    let mut body = b"\x89PNG header".to_vec();
    body.extend_from_slice(&[0u8; 8]);
    body.extend_from_slice(b"pixels");
    let posted = http(
        addr,
        "POST",
        &path(&id, "response"),
        &[
            ("Lambda-Runtime-Function-Response-Mode", "streaming"),
            ("Content-Type", "image/png"),
        ],
        &body,
    )
    .await;
    assert_eq!(posted.status, 202);
    let result = invoke.await.unwrap();
    assert_eq!(result.status, Status::Success);
    assert_eq!(&result.payload[..], &body[..]);
    assert_eq!(result.content_type, "image/png");
    let _next = finish_phase(addr);
    env.wait_idle().await;
    env.shutdown().await;
}

#[tokio::test]
async fn a_stream_over_200_mb_is_cut_with_the_size_error() {
    const LIMIT: usize = 200 * 1024 * 1024;
    assert_eq!(
        lambda_sandbox::Config::default().streaming_response_limit,
        LIMIT
    );
    let (_package, addr, env, invoke, reply) = invoked(json!({})).await;
    let id = reply.headers["lambda-runtime-aws-request-id"].clone();
    let body = vec![b'x'; LIMIT + 1024 * 1024];
    let posted = http(
        addr,
        "POST",
        &path(&id, "response"),
        &[
            ("Lambda-Runtime-Function-Response-Mode", "streaming"),
            ("Content-Type", "application/octet-stream"),
        ],
        &body,
    )
    .await;
    assert_eq!(posted.status, 413, "{}", posted.body);
    let result = invoke.await.unwrap();
    assert_eq!(
        result.error_type.as_deref(),
        Some("Function.ResponseSizeTooLarge")
    );
    let _next = finish_phase(addr);
    env.wait_idle().await;
    env.shutdown().await;
}

#[tokio::test]
async fn init_error_answers_the_first_invoke_after_a_suppressed_init() {
    let raw = raw_runtime(Duration::from_secs(1), |_| {}).await;
    let addr = raw.addr;
    let reported = http(
        addr,
        "POST",
        "/2018-06-01/runtime/init/error",
        &[(
            "Lambda-Runtime-Function-Error-Type",
            "Runtime.ConfigMissing",
        )],
        br#"{"errorMessage":"no config","errorType":"Runtime.ConfigMissing"}"#,
    )
    .await;
    assert_eq!(reported.status, 202);
    let env = raw.starting.await.unwrap();
    // The suppressed Init runs the same sleeping bootstrap, which never
    // calls next, so the first invoke fails when the Init limit runs out.
    let result = env.invoke(InvokeRequest::json(&json!({}))).await;
    assert_eq!(result.status, Status::Timeout);
    assert_eq!(result.error_type.as_deref(), Some("Sandbox.Timeout"));
    env.shutdown().await;
    let records = env.records();
    let inits: Vec<_> = records
        .iter()
        .filter(|r| r.kind == "platform.initReport")
        .collect();
    assert_eq!(inits[0].record["status"], "error");
    assert_eq!(inits[0].record["errorType"], "Runtime.ConfigMissing");
    assert_eq!(inits[1].record["phase"], "invoke");
    assert_eq!(inits[1].record["status"], "timeout");
}
