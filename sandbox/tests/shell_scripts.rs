//! An extension and a bootstrap written only as shell scripts with curl, as
//! the Lambda documentation shows them, run unmodified.

mod support;

use std::time::Duration;

use lambda_sandbox::{Config, Environment, InvokeRequest, Package, Status};
use serde_json::json;
use support::lines;

#[tokio::test]
async fn documentation_scripts_run_unmodified() {
    let package = Package::temporary("scripts").unwrap();
    package
        .bootstrap_script(include_str!("scripts/bootstrap.sh"))
        .unwrap()
        .extension_script("extension1.sh", include_str!("scripts/extension1.sh"))
        .unwrap();
    std::fs::write(
        package.task_root().join("function.sh"),
        include_str!("scripts/function.sh"),
    )
    .unwrap();
    // The samples' mktemp files land in the environment's private /tmp,
    // which ends with it.
    let env = Environment::start(Config {
        // The sample extension works for 5 s after each event.
        timeout: Duration::from_secs(10),
        ..package.config()
    })
    .await
    .unwrap();

    let result = env
        .invoke(InvokeRequest::json(&json!({"key": "value"})))
        .await;
    assert_eq!(result.status, Status::Success);
    assert_eq!(
        String::from_utf8_lossy(&result.payload),
        r#"Echoing request: '{"key":"value"}'"#
    );
    env.wait_idle().await;
    env.shutdown().await;

    let records = env.records();
    let extension = lines(&records, "extension");
    assert!(
        extension
            .iter()
            .any(|l| l.starts_with("[extension1.sh] Registration response: {\"functionName\"")),
        "{extension:#?}"
    );
    let received = extension
        .iter()
        .find(|l| l.starts_with("[extension1.sh] Received event:"))
        .unwrap();
    assert!(
        received.contains(&format!("\"requestId\":\"{}\"", result.request_id)),
        "{received}"
    );
    assert!(
        extension.contains(&"[extension1.sh] PROCESSING COMPLETE".to_string()),
        "the phase waited for the extension"
    );
    assert!(
        extension
            .contains(&"[extension: extension1.sh] Received SHUTDOWN event. Exiting.".to_string()),
        "{extension:#?}"
    );
    assert!(lines(&records, "function").contains(&r#"{"key":"value"}"#.to_string()));
    let report = records
        .iter()
        .find(|r| r.kind == "platform.report")
        .unwrap();
    let overhead = report.record["spans"][0]["durationMs"].as_f64().unwrap();
    // The work started with the INVOKE, a little before the runtime was done.
    assert!(
        (4500.0..6000.0).contains(&overhead),
        "the extension's 5 s of work is extension overhead, got {overhead}"
    );
}
