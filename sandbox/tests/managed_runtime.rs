//! Managed runtimes that cannot start say what to install, at once.

use lambda_sandbox::managed_runtime::Runtime;
use lambda_sandbox::{Config, Environment, Package};

#[tokio::test]
async fn a_missing_interpreter_or_task_root_is_a_clear_error() {
    let package = Package::temporary("managed-missing").unwrap();
    let started = std::time::Instant::now();
    let no_python = Environment::start(Config {
        runtime: Runtime::Python { minor: 12 },
        interpreter: Some("/nonexistent/python3".into()),
        ..package.config()
    })
    .await
    .err()
    .expect("no interpreter, no environment")
    .to_string();
    assert!(
        no_python.contains("python3.12 needs /nonexistent/python3")
            && no_python.contains("apt-get install python3"),
        "{no_python}"
    );
    let no_task = Environment::start(Config {
        runtime: Runtime::Node { major: 22 },
        task_root: None,
        ..package.config()
    })
    .await
    .err()
    .expect("a managed runtime needs the code")
    .to_string();
    assert!(no_task.contains("pass --task-root"), "{no_task}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "nothing hangs"
    );
}

#[test]
fn an_unknown_runtime_is_refused_with_the_ones_there_are() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lambda-sandbox"))
        .args(["run", "--runtime", "ruby3.3", "--task-root", "/tmp"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown runtime \"ruby3.3\""), "{stderr}");
    assert!(stderr.contains("python3.12"), "{stderr}");
}
