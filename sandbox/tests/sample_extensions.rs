//! Extensions written for Lambda's own paths and host names, in the AWS
//! samples' layout (a wrapper in `/opt/extensions` execing
//! `/opt/<name>/…`, a Telemetry listener on `sandbox.localdomain`), run
//! unmodified, and hear SHUTDOWN within 100 ms of the runtime's exit. Its
//! own test binary, so that the 100 ms are not shared with the other
//! isolation tests' processes.

mod support;

use lambda_sandbox::{InvokeRequest, Status};
use serde_json::json;
use support::layout::{add_extension, function_package, isolated, start};
use support::lines;

#[tokio::test]
async fn extensions_written_for_lambdas_paths_and_names_run_unmodified() {
    let package = function_package("layout-extensions");
    add_extension(
        &package,
        "py-telemetry",
        "extension.py",
        support::layout::PYTHON_EXTENSION,
    );
    let node = support::which("node");
    if node {
        add_extension(
            &package,
            "node-telemetry",
            "index.js",
            support::layout::NODE_EXTENSION,
        );
    }
    let env = start(isolated(&package, vec![])).await;
    let result = env.invoke(InvokeRequest::json(&json!({"n": 1}))).await;
    assert_eq!(result.status, Status::Success, "{:?}", result.payload);
    env.wait_idle().await;
    env.shutdown().await;

    let records = env.records();
    let extension = lines(&records, "extension");
    let function = lines(&records, "function");
    let exited_at: i64 = function
        .iter()
        .find_map(|l| l.strip_prefix("runtime exiting at "))
        .unwrap_or_else(|| panic!("the runtime never heard SIGTERM: {function:#?}"))
        .parse()
        .unwrap();
    let mut names = vec!["py-telemetry"];
    if node {
        names.push("node-telemetry");
    }
    for name in names {
        for kind in ["platform.start", "platform.report"] {
            let wanted = format!("[{name}] record {kind}");
            assert!(
                extension.contains(&wanted),
                "{name} lacks {kind}: {extension:#?}"
            );
        }
        let shutdown_at: i64 = extension
            .iter()
            .find_map(|l| l.strip_prefix(&format!("[{name}] SHUTDOWN at ")))
            .unwrap_or_else(|| panic!("{name} never got SHUTDOWN: {extension:#?}"))
            .parse()
            .unwrap();
        let delay = shutdown_at - exited_at;
        assert!(
            delay <= 100,
            "{name} got SHUTDOWN {delay} ms after the runtime exited"
        );
    }
}
