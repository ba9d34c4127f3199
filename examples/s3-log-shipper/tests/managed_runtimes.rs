//! The shipper beside a function on a managed runtime, run by the official
//! Runtime Interface Client: the function's lines reach S3 through the
//! Telemetry stream, and the shipper lives through INVOKE and SHUTDOWN. The
//! environment is isolated, as by default: the runtime finds its handler
//! at `/var/task` and the wrapper at `/opt`, Lambda's own paths.

mod support;

use lambda_sandbox::managed_runtime::Runtime;
use lambda_sandbox::{Environment, InvokeRequest, Status};
use serde_json::json;
use support::*;

const HANDLER: &str = r#"import os

def handler(event, context):
    for n in range(event.get("lines", 0)):
        print(f"python line {n} for {context.aws_request_id}")
    return {
        "wrappedBy": os.environ.get("WRAPPED_BY"),
        "executionEnv": os.environ.get("AWS_EXECUTION_ENV"),
        "taskRoot": os.getcwd(),
        "requestId": context.aws_request_id,
    }
"#;

const NODE_HANDLER: &str = r#"export const handler = async (event, context) => {
  for (let n = 0; n < (event.lines ?? 0); n++) {
    console.log(`node line ${n} for ${context.awsRequestId}`);
  }
  return {
    wrappedBy: process.env.WRAPPED_BY ?? null,
    executionEnv: process.env.AWS_EXECUTION_ENV,
    taskRoot: process.cwd(),
    requestId: context.awsRequestId,
  };
};
"#;

/// Adds a variable, then runs the runtime's own command line.
const WRAPPER: &str = "#!/bin/sh\nexport WRAPPED_BY=exec-wrapper\nexec \"$@\"\n";

/// The shipper beside `handler` (saved as `file` in the task root) on
/// `runtime`, behind an exec wrapper: two invokes, each one's lines in S3
/// before its report, then SHUTDOWN.
async fn shipped_beside(runtime: Runtime, file: &str, source: &str, handler: &str, prefix: &str) {
    let (package, mut config) = setup(&[
        ("SHIPPER_FLUSH_INTERVAL_MS", "0"),
        ("AWS_LAMBDA_EXEC_WRAPPER", "/opt/wrapper.sh"),
    ]);
    std::fs::remove_file(package.task_root().join("bootstrap")).unwrap();
    std::fs::write(package.task_root().join(file), source).unwrap();
    let wrapper = package.layer().join("wrapper.sh");
    std::fs::write(&wrapper, WRAPPER).unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    config.runtime = runtime;
    config.handler = handler.into();
    config.timeout = std::time::Duration::from_secs(10);
    let env = Environment::start(config.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        env.is_isolated(),
        "isolation was refused on this machine: run `lambda-sandbox run` to see why"
    );

    let mut ids = Vec::new();
    for _ in 0..2 {
        let result = env.invoke(InvokeRequest::json(&json!({"lines": 3}))).await;
        assert_eq!(result.status, Status::Success, "{result:?}");
        let answer: serde_json::Value = serde_json::from_slice(&result.payload).unwrap();
        assert_eq!(answer["wrappedBy"], "exec-wrapper", "{answer}");
        assert_eq!(answer["executionEnv"], format!("AWS_Lambda_{runtime}"));
        assert_eq!(answer["taskRoot"], "/var/task", "{answer}");
        assert_eq!(answer["requestId"], result.request_id.as_str());
        env.wait_idle().await;
        // INVOKE made the shipper upload this invoke's lines before its report.
        let shipped = records(&config);
        let lines = shipped
            .iter()
            .filter_map(message)
            .filter(|l| l.contains(prefix) && l.contains(result.request_id.as_str()))
            .count();
        assert_eq!(lines, 3, "{}: {shipped:#?}", result.request_id);
        ids.push(result.request_id);
    }
    env.shutdown().await;
    let extension = extension_lines(&env);
    assert!(
        extension
            .iter()
            .any(|l| l.contains("SHUTDOWN (spindown): shipped")),
        "{extension:?}"
    );
    for id in &ids {
        assert_eq!(count_for(&records(&config), "platform.report", id), 1);
    }
}

#[tokio::test]
async fn a_python_function_through_awslambdaric_is_shipped_to_s3() {
    shipped_beside(
        Runtime::Python { minor: 12 },
        "app.py",
        HANDLER,
        "app.handler",
        "python line",
    )
    .await;
}

#[tokio::test]
async fn a_node_function_through_aws_lambda_ric_is_shipped_to_s3() {
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("node is not installed here: the Node.js runtime is not tried");
        return;
    }
    shipped_beside(
        Runtime::Node { major: 22 },
        "index.mjs",
        NODE_HANDLER,
        "index.handler",
        "node line",
    )
    .await;
}
