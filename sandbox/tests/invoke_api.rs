//! The Lambda Invoke API in front of an environment, as `aws lambda invoke
//! --endpoint-url` and the SDKs call it.

mod support;

use std::time::Duration;

use base64::Engine;
use lambda_sandbox::{Environment, Package, invoke_api};
use serde_json::{Value, json};
use support::{fixture, http};

const PATH: &str = "/2015-03-31/functions/sandbox-function/invocations";

async fn started() -> (Environment, std::net::SocketAddr) {
    let package = Package::temporary("invoke-api").unwrap();
    package.bootstrap(&fixture("echo_function")).unwrap();
    package
        .extension("noop_extension", &fixture("noop_extension"))
        .unwrap();
    let env = Environment::start(package.config()).await.unwrap();
    let (addr, _task) = invoke_api::serve(env.clone(), "127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    (env, addr)
}

#[tokio::test]
async fn invoke_returns_the_payload_and_the_log_tail() {
    let (env, addr) = started().await;
    let reply = http(
        addr,
        "POST",
        PATH,
        &[("X-Amz-Log-Type", "Tail")],
        br#"{"hi":1}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["event"], json!({"hi": 1}));
    let id = body["requestId"].as_str().unwrap();
    assert_eq!(reply.headers["x-amzn-requestid"], id);
    assert_eq!(reply.headers["x-amz-executed-version"], "$LATEST");
    assert!(!reply.headers.contains_key("x-amz-function-error"));
    let log = base64::engine::general_purpose::STANDARD
        .decode(&reply.headers["x-amz-log-result"])
        .unwrap();
    let log = String::from_utf8(log).unwrap();
    let start = log.find(&format!("START RequestId: {id}")).expect(&log);
    let line = log
        .find(&format!("echo function handling {id}"))
        .expect(&log);
    let end = log.find(&format!("END RequestId: {id}")).expect(&log);
    let report = log.find(&format!("REPORT RequestId: {id}")).expect(&log);
    assert!(start < line && line < end && end < report, "{log}");
    env.shutdown().await;
}

#[tokio::test]
async fn function_errors_are_flagged_unhandled() {
    let (env, addr) = started().await;
    let reply = http(addr, "POST", PATH, &[], br#"{"fail":"nope"}"#).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["x-amz-function-error"], "Unhandled");
    assert_eq!(reply.json()["errorMessage"], "nope");
    env.shutdown().await;
}

#[tokio::test]
async fn names_invocation_types_and_sizes_are_checked() {
    let (env, addr) = started().await;
    let missing = http(
        addr,
        "POST",
        "/2015-03-31/functions/other/invocations",
        &[],
        b"{}",
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.headers["x-amzn-errortype"],
        "ResourceNotFoundException"
    );
    let by_arn = http(
        addr,
        "POST",
        "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:sandbox-function/invocations",
        &[],
        b"{}",
    )
    .await;
    assert_eq!(by_arn.status, 200);
    let dry = http(
        addr,
        "POST",
        PATH,
        &[("X-Amz-Invocation-Type", "DryRun")],
        b"{}",
    )
    .await;
    assert_eq!(dry.status, 204);
    let event = http(
        addr,
        "POST",
        PATH,
        &[("X-Amz-Invocation-Type", "Event")],
        b"{}",
    )
    .await;
    assert_eq!(event.status, 202);
    let big = vec![b' '; 6 * 1024 * 1024 + 1];
    let too_big = http(addr, "POST", PATH, &[], &big).await;
    assert_eq!(too_big.status, 413);
    env.wait_idle().await;
    env.shutdown().await;
    let records = env.records();
    // The Event invocation ran in the background.
    assert_eq!(
        records
            .iter()
            .filter(|r| r.kind == "platform.report")
            .count(),
        2
    );
}

#[tokio::test]
async fn serve_answers_until_sigterm_then_shuts_down() {
    let package = Package::temporary("serve").unwrap();
    package.bootstrap(&fixture("echo_function")).unwrap();
    package
        .extension("noop_extension", &fixture("noop_extension"))
        .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_lambda-sandbox"))
        .args([
            "serve",
            "--invoke-addr",
            "127.0.0.1:0",
            "--event-source",
            "sns",
            "--task-root",
        ])
        .arg(package.task_root())
        .arg("--opt")
        .arg(package.layer())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The sandbox prints the address it bound.
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut out = String::new();
    let addr: std::net::SocketAddr = loop {
        let mut line = String::new();
        assert!(
            tokio::io::AsyncBufReadExt::read_line(&mut stdout, &mut line)
                .await
                .unwrap()
                > 0,
            "{out}"
        );
        out.push_str(&line);
        if let Some(rest) = line.split("Invoke API on http://").nth(1) {
            break rest.split(';').next().unwrap().parse().unwrap();
        }
    };
    let reply = http(addr, "POST", PATH, &[], br#"{"via":"serve"}"#).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["event"]["via"], "serve");
    // An empty payload gets the sample event given with --event-source.
    let sampled = http(addr, "POST", PATH, &[], b"").await;
    assert_eq!(
        sampled.json()["event"]["Records"][0]["EventSource"],
        "aws:sns"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id().unwrap() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut out)
        .await
        .unwrap();
    assert!(
        out.contains("[extension noop_extension] SHUTDOWN spindown"),
        "{out}"
    );
}
