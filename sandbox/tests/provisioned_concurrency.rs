//! Provisioned concurrency: Init ahead of traffic, as the records and the
//! processes' environment say, with no Init duration in the first report.

mod support;

use std::time::Duration;

use lambda_sandbox::config::{Config, InitType};
use lambda_sandbox::{Environment, InvokeRequest, Package, Status};
use serde_json::json;
use support::fixture;

#[tokio::test]
async fn provisioned_init_runs_before_the_first_invoke_and_says_so() {
    let package = Package::temporary("provisioned").unwrap();
    std::fs::copy(fixture("echo_function"), package.task_root().join("echo")).unwrap();
    package
        .bootstrap_script(
            "#!/bin/sh\necho \"init type $AWS_LAMBDA_INITIALIZATION_TYPE\"\nexec \"$LAMBDA_TASK_ROOT/echo\"\n",
        )
        .unwrap();
    let env = Environment::start(Config {
        init_type: InitType::ProvisionedConcurrency,
        ..package.config()
    })
    .await
    .unwrap();
    // Init is over before anyone invokes.
    let before = env.records();
    let init = before
        .iter()
        .find(|r| r.kind == "platform.initReport")
        .expect("Init ran at start");
    assert_eq!(init.record["initializationType"], "provisioned-concurrency");
    assert_eq!(init.record["status"], "success");
    assert!(before.iter().all(|r| r.kind != "platform.start"));
    assert!(
        before
            .iter()
            .any(|r| r.kind == "function" && r.record == "init type provisioned-concurrency")
    );

    let result = env.invoke(InvokeRequest::json(&json!({}))).await;
    assert_eq!(result.status, Status::Success);
    env.wait_idle().await;
    env.shutdown().await;
    let report = env
        .records()
        .into_iter()
        .find(|r| r.kind == "platform.report")
        .unwrap();
    assert!(
        report.record["metrics"].get("initDurationMs").is_none(),
        "no invocation waited for a provisioned Init: {}",
        report.record
    );
}

#[test]
fn provisioned_init_has_the_longer_limit() {
    let on_demand = Config::default();
    assert_eq!(on_demand.init_limit(), Duration::from_secs(10));
    let provisioned = Config {
        init_type: InitType::ProvisionedConcurrency,
        ..Config::default()
    };
    assert_eq!(provisioned.init_limit(), Duration::from_secs(130));
    let long = Config {
        timeout: Duration::from_secs(300),
        ..provisioned
    };
    assert_eq!(long.init_limit(), Duration::from_secs(300));
}
