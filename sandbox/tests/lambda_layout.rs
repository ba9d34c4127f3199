//! Isolation: a runtime written for Lambda's own paths and process tree
//! runs unmodified, and nothing it starts outlives the environment.
//! (Extensions in the AWS samples' layout: `sample_extensions.rs`.)

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use lambda_sandbox::{Config, InvokeRequest, Package, Status};
use serde_json::{Value, json};
use support::layout::{function_package, isolated, run_refused, start};

/// Host pids of the processes whose environment holds `marker`.
fn processes_with(marker: &str) -> Vec<i32> {
    let needle = marker.as_bytes();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| support::alive(*pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|environ| environ.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
        .collect()
}

/// Waits up to `limit` for `done`; the kernel ends a namespace's
/// processes asynchronously.
async fn eventually(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

#[tokio::test]
async fn the_function_sees_lambdas_machine() {
    let package = function_package("layout-facts");
    let marker = format!("marker-{}", uuid::Uuid::new_v4().simple());
    let env = start(Config {
        ephemeral_storage_mb: 1024,
        ..isolated(&package, vec![("TMP_MARKER".into(), marker.clone())])
    })
    .await;
    let result = env.invoke(InvokeRequest::json(&json!({"hello": 1}))).await;
    assert_eq!(result.status, Status::Success, "{:?}", result.payload);
    let facts: Value = serde_json::from_slice(&result.payload).unwrap();
    assert_eq!(facts["task_root"], "read-only");
    assert_eq!(facts["opt"], "read-only");
    assert_eq!(facts["cwd"], "/var/task");
    // The processes' PID 1 is the environment's, not the host's.
    assert_eq!(facts["pid1"], "init");
    assert_eq!(facts["tmp_mb"], 1024);
    assert_eq!(
        facts["sandbox_localdomain"],
        env.runtime_api().ip().to_string()
    );

    // What the function wrote to /tmp is in the environment's /tmp only.
    let file = format!("{marker}.json");
    let written = std::fs::read_to_string(env.tmp_dir().join(&file)).unwrap();
    assert_eq!(written.trim(), r#"{"hello":1}"#);
    assert!(!std::env::temp_dir().join(&file).exists());
    let other_package = function_package("layout-other");
    let other = start(isolated(&other_package, vec![])).await;
    assert!(!other.tmp_dir().join(&file).exists());
    other.shutdown().await;
    env.shutdown().await;
}

#[tokio::test]
async fn a_daemon_that_ignores_sigterm_ends_with_the_environment() {
    let package = function_package("layout-daemon");
    let marker = format!("daemon-{}", uuid::Uuid::new_v4().simple());
    let env = start(isolated(
        &package,
        vec![("DAEMON_NAME".into(), marker.clone())],
    ))
    .await;
    let result = env.invoke(InvokeRequest::json(&json!({}))).await;
    assert_eq!(result.status, Status::Success);
    assert!(
        eventually(Duration::from_secs(5), || !processes_with(&marker)
            .is_empty())
        .await,
        "the bootstrap's daemon never started"
    );
    env.shutdown().await;
    assert!(
        eventually(Duration::from_secs(2), || processes_with(&marker)
            .is_empty())
        .await,
        "still running after Shutdown: {:?}",
        processes_with(&marker)
    );
}

#[tokio::test]
async fn nothing_of_the_environment_survives_a_sigkill_of_the_sandbox() {
    let package = function_package("layout-sigkill");
    let marker = format!("killed-{}", uuid::Uuid::new_v4().simple());
    let mut sandbox = tokio::process::Command::new(env!("CARGO_BIN_EXE_lambda-sandbox"))
        .args(["serve", "--invoke-addr", "127.0.0.1:0", "--task-root"])
        .arg(package.task_root())
        .arg("--env")
        .arg(format!("DAEMON_NAME={marker}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The runtime and its daemon carry the variable.
    assert!(
        eventually(Duration::from_secs(10), || processes_with(&marker).len()
            >= 2)
        .await,
        "the environment never started: {:?}",
        processes_with(&marker)
    );
    sandbox.start_kill().unwrap();
    sandbox.wait().await.unwrap();
    assert!(
        eventually(Duration::from_secs(2), || processes_with(&marker)
            .is_empty())
        .await,
        "left running after SIGKILL: {:?}",
        processes_with(&marker)
    );
}

#[test]
fn a_machine_that_refuses_user_namespaces_runs_without_isolation_and_says_why() {
    // The documentation's bootstrap, which runs on the host's folders too.
    let package = Package::temporary("layout-refused").unwrap();
    package
        .bootstrap_script(include_str!("scripts/bootstrap.sh"))
        .unwrap();
    std::fs::write(
        package.task_root().join("function.sh"),
        include_str!("scripts/function.sh"),
    )
    .unwrap();
    // The kernel refuses the sandbox's user namespace.
    let stdout = run_refused("user", &[], &package.task_root());
    let refusals: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("running without isolation"))
        .collect();
    assert_eq!(refusals.len(), 1, "{stdout}");
    assert!(
        refusals[0].contains("user.max_user_namespaces is 0")
            && refusals[0].contains("sudo sysctl -w user.max_user_namespaces="),
        "{stdout}"
    );
    // And the function still ran.
    assert!(stdout.contains("Echoing request: '{}'"), "{stdout}");
}
