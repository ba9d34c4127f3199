//! The Lambda Invoke API in front of an environment, as `aws lambda invoke
//! --endpoint-url` and the SDKs call it.

mod support;

use std::time::Duration;

use base64::Engine;
use lambda_sandbox::{Environment, Package, invoke_api};
use serde_json::{Value, json};
use support::{fixture, http};

const PATH: &str = "/2015-03-31/functions/sandbox-function/invocations";

async fn started() -> (Environment, invoke_api::InvokeApi) {
    let package = Package::temporary("invoke-api").unwrap();
    package.bootstrap(&fixture("echo_function")).unwrap();
    package
        .extension("noop_extension", &fixture("noop_extension"))
        .unwrap();
    let env = Environment::start(package.config()).await.unwrap();
    let server = invoke_api::serve(env.clone(), "127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    (env, server)
}

#[tokio::test]
async fn invoke_returns_the_payload_and_the_log_tail() {
    let (env, server) = started().await;
    let addr = server.addr;
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
    let (env, server) = started().await;
    let addr = server.addr;
    let reply = http(addr, "POST", PATH, &[], br#"{"fail":"nope"}"#).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["x-amz-function-error"], "Unhandled");
    assert_eq!(reply.json()["errorMessage"], "nope");
    env.shutdown().await;
}

#[tokio::test]
async fn names_invocation_types_and_sizes_are_checked() {
    let (env, server) = started().await;
    let addr = server.addr;
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

#[tokio::test]
async fn refusals_have_lambdas_status_error_type_and_json_body() {
    let (env, server) = started().await;
    let addr = server.addr;
    let refused = |reply: &support::Reply| {
        (
            reply.status,
            reply
                .headers
                .get("x-amzn-errortype")
                .cloned()
                .unwrap_or_default(),
            reply.json()["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    };
    // 7 MB: over the 6 MB of a synchronous invocation.
    let seven = vec![b'1'; 7_000_000];
    let (status, kind, message) = refused(&http(addr, "POST", PATH, &[], &seven).await);
    assert_eq!(
        (status, kind.as_str()),
        (413, "RequestEntityTooLargeException")
    );
    assert!(message.contains("6291456 bytes"), "{message}");
    // 2 MiB is fine synchronously, too much for an Event invocation (1 MB).
    let two = format!("\"{}\"", "x".repeat(2 << 20));
    let (status, kind, message) = refused(
        &http(
            addr,
            "POST",
            PATH,
            &[("X-Amz-Invocation-Type", "Event")],
            two.as_bytes(),
        )
        .await,
    );
    assert_eq!(
        (status, kind.as_str()),
        (413, "RequestEntityTooLargeException")
    );
    assert!(message.contains("1048576 bytes"), "{message}");
    let (status, kind, message) = refused(&http(addr, "POST", PATH, &[], b"{not json").await);
    assert_eq!(
        (status, kind.as_str()),
        (400, "InvalidRequestContentException")
    );
    assert!(
        message.starts_with("Could not parse request body into json"),
        "{message}"
    );
    for name in [
        "arn:aws:lambda:us-east-1:999999999999:function:sandbox-function",
        "arn:aws:lambda:eu-west-1:123456789012:function:sandbox-function",
        "999999999999:function:sandbox-function",
        "sandbox-function:prod",
    ] {
        let path = format!("/2015-03-31/functions/{name}/invocations");
        let (status, kind, _) = refused(&http(addr, "POST", &path, &[], b"{}").await);
        assert_eq!(
            (status, kind.as_str()),
            (404, "ResourceNotFoundException"),
            "{name}"
        );
    }
    let malformed = "/2015-03-31/functions/a:b:c:d:e/invocations";
    let (status, kind, _) = refused(&http(addr, "POST", malformed, &[], b"{}").await);
    assert_eq!((status, kind.as_str()), (400, "ValidationException"));
    // What Lambda accepts: a partial ARN, a qualifier in the name or the query.
    for path in [
        "/2015-03-31/functions/123456789012:function:sandbox-function/invocations",
        "/2015-03-31/functions/sandbox-function:$LATEST/invocations",
        "/2015-03-31/functions/sandbox-function/invocations?Qualifier=$LATEST",
    ] {
        assert_eq!(
            http(addr, "POST", path, &[], b"{}").await.status,
            200,
            "{path}"
        );
    }
    env.wait_idle().await;
    // None of the refused requests reached the function.
    let reports = env
        .records()
        .iter()
        .filter(|r| r.kind == "platform.report")
        .count();
    assert_eq!(reports, 3);
    env.shutdown().await;
}

#[tokio::test]
async fn idle_and_slow_connections_cannot_starve_a_client() {
    let package = Package::temporary("invoke-api-connections").unwrap();
    package.bootstrap(&fixture("echo_function")).unwrap();
    let env = Environment::start(package.config()).await.unwrap();
    let limits = invoke_api::Limits {
        max_connections: 64,
        header_timeout: Duration::from_millis(500),
        ..invoke_api::Limits::default()
    };
    let server = invoke_api::serve_with(env.clone(), "127.0.0.1:0".parse().unwrap(), None, limits)
        .await
        .unwrap();
    let addr = server.addr;
    // 2,000 connections that never send a byte, and slowloris ones that
    // send half a request line and stall.
    let mut idle = Vec::new();
    for _ in 0..2000 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    for stream in idle.iter_mut().take(10) {
        use tokio::io::AsyncWriteExt;
        let _ = stream.write_all(b"POST /2015-03-31/func").await;
    }
    // Over the cap: a clear refusal at once, not a hang.
    let refused =
        tokio::time::timeout(Duration::from_secs(5), http(addr, "POST", PATH, &[], b"{}"))
            .await
            .expect("an answer, not a hang");
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(
        refused.headers["x-amzn-errortype"],
        "TooManyRequestsException"
    );
    // The stalled connections are closed at the header deadline (or were
    // refused): wait for each to end, then the client is served.
    let mut closed = 0;
    for stream in &mut idle {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 512];
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await
        {
            closed += 1;
        }
    }
    let served = http(addr, "POST", PATH, &[], br#"{"ok":1}"#).await;
    assert_eq!(served.status, 200, "{}", served.body);
    assert_eq!(served.json()["event"]["ok"], 1);
    assert_eq!(
        closed,
        idle.len(),
        "every idle connection was closed or refused"
    );
    env.shutdown().await;
}

/// `lambda-sandbox serve` with the echo function and the no-op extension:
/// the child, the Invoke API's address, and its output so far.
async fn serve_process(
    extra: &[&str],
) -> (
    tokio::process::Child,
    std::net::SocketAddr,
    tokio::io::BufReader<tokio::process::ChildStdout>,
    Package,
) {
    let package = Package::temporary("serve-signals").unwrap();
    package.bootstrap(&fixture("echo_function")).unwrap();
    package
        .extension("noop_extension", &fixture("noop_extension"))
        .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_lambda-sandbox"))
        .args(["serve", "--invoke-addr", "127.0.0.1:0", "--task-root"])
        .arg(package.task_root())
        .arg("--opt")
        .arg(package.layer())
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let addr = read_until(&mut stdout, "Invoke API on http://").await;
    let addr = addr
        .split("Invoke API on http://")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (child, addr, stdout, package)
}

/// Reads lines until one contains `needle`; returns everything read.
async fn read_until(
    stdout: &mut tokio::io::BufReader<tokio::process::ChildStdout>,
    needle: &str,
) -> String {
    let mut out = String::new();
    loop {
        let mut line = String::new();
        let n = tokio::io::AsyncBufReadExt::read_line(stdout, &mut line)
            .await
            .unwrap();
        assert!(
            n > 0,
            "the sandbox ended before printing {needle:?}:\n{out}"
        );
        out.push_str(&line);
        if line.contains(needle) {
            return out;
        }
    }
}

fn signal(child: &tokio::process::Child, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id().unwrap() as i32),
        signal,
    )
    .unwrap();
}

#[tokio::test]
async fn a_first_sigterm_finishes_the_invocation_in_flight_and_refuses_new_ones() {
    let (mut child, addr, mut stdout, _package) = serve_process(&[]).await;
    let slow =
        tokio::spawn(async move { http(addr, "POST", PATH, &[], br#"{"sleepMs":1500}"#).await });
    read_until(&mut stdout, "START RequestId").await;
    signal(&child, nix::sys::signal::Signal::SIGTERM);
    read_until(&mut stdout, "refusing new invocations").await;
    let late = http(addr, "POST", PATH, &[], b"{}").await;
    assert_eq!(late.status, 503, "{}", late.body);
    assert_eq!(late.headers["x-amzn-errortype"], "ServiceException");
    let slow = slow.await.unwrap();
    assert_eq!(slow.status, 200);
    assert!(
        !slow.headers.contains_key("x-amz-function-error"),
        "{}",
        slow.body
    );
    assert_eq!(slow.json()["event"]["sleepMs"], 1500);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut rest)
        .await
        .unwrap();
    assert!(rest.contains("SHUTDOWN spindown"), "{rest}");
}

#[tokio::test]
async fn a_second_sigterm_ends_the_invocation_and_shuts_down_at_once() {
    let (mut child, addr, mut stdout, _package) = serve_process(&["--timeout", "60"]).await;
    let slow =
        tokio::spawn(async move { http(addr, "POST", PATH, &[], br#"{"sleepMs":30000}"#).await });
    read_until(&mut stdout, "START RequestId").await;
    let started = std::time::Instant::now();
    signal(&child, nix::sys::signal::Signal::SIGTERM);
    read_until(&mut stdout, "refusing new invocations").await;
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let slow = tokio::time::timeout(Duration::from_secs(5), slow)
        .await
        .expect("the client in flight gets its answer at once")
        .unwrap();
    assert_eq!(slow.status, 200);
    assert_eq!(slow.headers["x-amz-function-error"], "Unhandled");
    assert_eq!(slow.json()["errorType"], "Sandbox.Failure");
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("the sandbox exits within its shutdown budget")
        .unwrap();
    assert!(status.success());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let mut rest = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut rest)
        .await
        .unwrap();
    // The runtime's SIGTERM, then the extension's SHUTDOWN: the usual order.
    let sigterm = rest.find("SIGTERM to the runtime").expect(&rest);
    let shutdown = rest.find("SHUTDOWN spindown").expect(&rest);
    assert!(sigterm < shutdown, "{rest}");
}
