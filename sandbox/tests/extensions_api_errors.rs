//! Every error route of the Extensions API, driven with raw HTTP: the test
//! plays both the runtime and the extensions.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use support::{Reply, http, raw_runtime};

const REGISTER: &str = "/2020-01-01/extension/register";
const NEXT: &str = "/2020-01-01/extension/event/next";

async fn register(addr: SocketAddr, name: &str, body: &str) -> Reply {
    http(
        addr,
        "POST",
        REGISTER,
        &[("Lambda-Extension-Name", name)],
        body.as_bytes(),
    )
    .await
}

async fn runtime_next(addr: SocketAddr) -> tokio::task::JoinHandle<Reply> {
    tokio::spawn(
        async move { http(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], b"").await },
    )
}

#[tokio::test]
async fn registration_errors() {
    let raw = raw_runtime(Duration::from_secs(20), |_| {}).await;
    let addr = raw.addr;

    let empty = register(addr, "", r#"{"events":["INVOKE"]}"#).await;
    assert_eq!(
        (empty.status, empty.error_type()),
        (403, "Extension.InvalidExtensionName".into())
    );
    let unknown = register(addr, "x", r#"{"events":["INVOKE","RESTART"]}"#).await;
    assert_eq!(
        (unknown.status, unknown.error_type()),
        (403, "Extension.InvalidEventType".into())
    );
    let keys = register(addr, "x", r#"{"events":[],"configurationKeys":["a"]}"#).await;
    assert_eq!(
        (keys.status, keys.error_type()),
        (403, "InvalidRequestFormat".into())
    );
    // A name that matches no file is an internal extension: no SHUTDOWN.
    let internal = register(addr, "in-process", r#"{"events":["INVOKE","SHUTDOWN"]}"#).await;
    assert_eq!(
        (internal.status, internal.json()["errorMessage"].as_str()),
        (403, Some("ShutdownEventNotSupportedForInternalExtension"))
    );

    let ok = http(
        addr,
        "POST",
        REGISTER,
        &[
            ("Lambda-Extension-Name", "in-process"),
            ("Lambda-Extension-Accept-Feature", "accountId"),
        ],
        br#"{"events":["INVOKE"]}"#,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(uuid_like(&ok.headers["lambda-extension-identifier"]));
    assert_eq!(
        ok.json(),
        json!({"functionName": "sandbox-function", "functionVersion": "$LATEST", "handler": "function.handler", "accountId": "123456789012"})
    );
    let twice = register(addr, "in-process", "{}").await;
    assert_eq!(
        (twice.status, twice.error_type()),
        (403, "Extension.InvalidExtensionState".into())
    );
    let plain = register(addr, "no-features", "").await;
    assert_eq!(plain.status, 200);
    assert!(plain.json().get("accountId").is_none());

    // Ten in all, internal and external together.
    for i in 2..10 {
        assert_eq!(
            register(addr, &format!("internal-{i}"), "{}").await.status,
            200
        );
    }
    let eleventh = register(addr, "one-too-many", "{}").await;
    assert_eq!(
        (eleventh.status, eleventh.error_type()),
        (403, "Extension.TooManyExtensions".into())
    );
    assert_eq!(
        eleventh.json()["errorMessage"],
        "Extension limit (10) reached"
    );

    // The runtime's first next closes registration. The registered internal
    // extensions must each call next before Init completes.
    let next = runtime_next(addr).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let late = register(addr, "late", "{}").await;
    assert_eq!(
        (late.status, late.error_type()),
        (403, "Extension.RegistrationClosed".into())
    );
    next.abort();
    raw.starting.abort();
}

#[tokio::test]
async fn identifier_and_header_errors() {
    let raw = raw_runtime(Duration::from_secs(20), |_| {}).await;
    let addr = raw.addr;
    let id = register(addr, "checker", r#"{"events":["INVOKE"]}"#)
        .await
        .headers["lambda-extension-identifier"]
        .clone();

    let missing = http(addr, "GET", NEXT, &[], b"").await;
    assert_eq!(
        (missing.status, missing.error_type()),
        (403, "Extension.MissingExtensionIdentifier".into())
    );
    let invalid = http(
        addr,
        "GET",
        NEXT,
        &[("Lambda-Extension-Identifier", "not-a-uuid")],
        b"",
    )
    .await;
    assert_eq!(
        (invalid.status, invalid.error_type()),
        (403, "Extension.InvalidExtensionIdentifier".into())
    );
    let unknown = http(
        addr,
        "GET",
        NEXT,
        &[(
            "Lambda-Extension-Identifier",
            "6f1c3a9e-0000-4000-8000-000000000000",
        )],
        b"",
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.error_type()),
        (403, "Extension.UnknownExtensionIdentifier".into())
    );

    let no_type = http(
        addr,
        "POST",
        "/2020-01-01/extension/init/error",
        &[("Lambda-Extension-Identifier", &id)],
        b"",
    )
    .await;
    assert_eq!(
        (no_type.status, no_type.error_type()),
        (403, "Extension.MissingHeader".into())
    );
    assert_eq!(
        no_type.json()["errorMessage"],
        "Lambda-Extension-Function-Error-Type not found"
    );

    let exit = http(
        addr,
        "POST",
        "/2020-01-01/extension/exit/error",
        &[
            ("Lambda-Extension-Identifier", &id),
            ("Lambda-Extension-Function-Error-Type", "Extension.Broken"),
        ],
        b"",
    )
    .await;
    assert_eq!(
        (exit.status, exit.body.as_str()),
        (202, r#"{"status":"OK"}"#)
    );
    // After an error report no further call succeeds.
    let after = http(
        addr,
        "GET",
        NEXT,
        &[("Lambda-Extension-Identifier", &id)],
        b"",
    )
    .await;
    assert_eq!(
        (after.status, after.error_type()),
        (403, "Extension.InvalidExtensionState".into())
    );
    raw.starting.abort();
}

#[tokio::test]
async fn an_init_error_fails_init_with_extension_init_error() {
    let raw = raw_runtime(Duration::from_secs(20), |_| {}).await;
    let addr = raw.addr;
    let id = register(addr, "failing", r#"{"events":["INVOKE"]}"#)
        .await
        .headers["lambda-extension-identifier"]
        .clone();
    let next = runtime_next(addr).await;
    let reported = http(
        addr,
        "POST",
        "/2020-01-01/extension/init/error",
        &[
            ("Lambda-Extension-Identifier", &id),
            ("Lambda-Extension-Function-Error-Type", "Extension.NoConfig"),
        ],
        br#"{"errorMessage":"config missing","errorType":"Extension.NoConfig"}"#,
    )
    .await;
    assert_eq!(reported.status, 202);
    let env = raw.starting.await.unwrap();
    next.abort();
    let records = env.records();
    let report = records
        .iter()
        .find(|r| r.kind == "platform.initReport")
        .unwrap();
    assert_eq!(report.record["status"], "error");
    assert_eq!(report.record["errorType"], "Extension.InitError");
    env.shutdown().await;
}

#[tokio::test]
async fn an_extension_registered_under_another_name_stalls_init() {
    // The file is `named-right`, but it registers as `named-wrong`: the
    // platform takes it as internal and waits for `named-right` forever.
    let package = lambda_sandbox::Package::temporary("misnamed").unwrap();
    package
        .bootstrap_script("#!/bin/sh\nexec sleep 600\n")
        .unwrap();
    package
        .extension_script(
            "named-right",
            "#!/bin/sh\ncurl -sS -X POST \"http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension/register\" \
             -H 'Lambda-Extension-Name: named-wrong' -d '{\"events\":[\"INVOKE\"]}' >/dev/null\nexec sleep 600\n",
        )
        .unwrap();
    let env = lambda_sandbox::Environment::start(lambda_sandbox::Config {
        init_timeout: Duration::from_millis(800),
        ..package.config()
    })
    .await
    .unwrap();
    // The first invoke retries Init, which stalls the same way, and its
    // error says why.
    let result = env
        .invoke(lambda_sandbox::InvokeRequest::json(&json!({})))
        .await;
    env.shutdown().await;
    assert_eq!(result.status, lambda_sandbox::Status::Timeout);
    let message = String::from_utf8_lossy(&result.payload).into_owned();
    assert!(
        message.contains(r#"[\"named-right\"] never registered under their file name"#),
        "{message}"
    );
    let records = env.records();
    let report = records
        .iter()
        .find(|r| r.kind == "platform.initReport")
        .unwrap();
    assert_eq!(report.record["status"], "timeout");
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}
