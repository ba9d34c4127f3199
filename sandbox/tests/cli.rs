//! The `lambda-sandbox run` command: its output files and exit statuses.

mod support;

use std::process::Command;

use lambda_sandbox::Package;
use serde_json::Value;

fn sandbox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lambda-sandbox"))
}

#[test]
fn run_writes_responses_and_platform_records() {
    let package = Package::temporary("cli").unwrap();
    package
        .bootstrap(&support::fixture("echo_function"))
        .unwrap();
    let out = package.root().join("out");
    let status = sandbox()
        .args(["run", "--task-root"])
        .arg(package.task_root())
        .args([
            "--event",
            r#"{"a":1}"#,
            "--event",
            r#"{"fail":"boom"}"#,
            "--invocations",
            "2",
            "--output",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        status.status.code(),
        Some(1),
        "one invocation failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );

    let responses = support::read_ndjson(&out.join("responses.ndjson"));
    let statuses: Vec<&str> = responses
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["success", "error", "success", "error"]);
    assert_eq!(responses[0]["payload"]["event"]["a"], 1);
    assert_eq!(responses[1]["payload"]["errorMessage"], "boom");
    assert!(responses[1]["errorType"].is_string());
    assert!(responses[0].get("errorType").is_none());

    let platform = support::read_ndjson(&out.join("platform.ndjson"));
    assert!(
        platform
            .iter()
            .all(|r| r["time"].as_str().unwrap().len() == 24
                && r["time"].as_str().unwrap().ends_with('Z'))
    );
    let kinds: Vec<&str> = platform
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "platform.report").count(), 4);
    assert!(platform.iter().any(|r| {
        r["type"] == "function"
            && r["record"]
                .as_str()
                .unwrap()
                .starts_with("echo function handling ")
    }));
    assert_eq!(kinds.first(), Some(&"platform.initStart"));
}

#[test]
fn packaging_mistakes_exit_with_status_2_and_say_what_to_do() {
    let package = Package::temporary("cli-bad").unwrap();
    package
        .bootstrap(&support::fixture("echo_function"))
        .unwrap();
    let ext = package.layer().join("extensions/not-executable");
    std::fs::write(&ext, "#!/bin/sh\n").unwrap();
    let output = sandbox()
        .args(["run", "--opt"])
        .arg(package.layer())
        .arg("--task-root")
        .arg(package.task_root())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("chmod +x {}", ext.display())),
        "{stderr}"
    );

    let output = sandbox()
        .args(["run", "--task-root", "/nonexistent-task"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("no bootstrap found: looked for /nonexistent-task/bootstrap")
    );
}

#[test]
fn events_that_are_not_json_are_refused_before_anything_runs() {
    let output = sandbox()
        .args(["run", "--task-root", "/tmp", "--event", "{not json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not JSON"));
}

#[test]
fn event_prints_samples_and_lists_the_sources() {
    let list = sandbox().args(["event", "--list"]).output().unwrap();
    assert!(list.status.success());
    let listed = String::from_utf8_lossy(&list.stdout);
    for source in lambda_sandbox::sample_events::SOURCES {
        assert!(listed.contains(source.name), "{listed}");
    }

    let printed = sandbox()
        .args(["event", "sqs", "--field", "body=hello"])
        .output()
        .unwrap();
    assert!(printed.status.success());
    let event: Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(event["Records"][0]["body"], "hello");

    let unknown = sandbox()
        .args(["event", "carrier-pigeon"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("unknown event source \"carrier-pigeon\"; the sources are: apigw-rest"),
        "{stderr}"
    );
}

#[test]
fn run_invokes_with_a_sample_event() {
    let package = Package::temporary("cli-sample").unwrap();
    package
        .bootstrap(&support::fixture("echo_function"))
        .unwrap();
    let out = package.root().join("out");
    let status = sandbox()
        .args(["run", "--task-root"])
        .arg(package.task_root())
        .args([
            "--event-source",
            "s3-put",
            "--field",
            "bucket=from-the-cli",
            "--output",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let responses = support::read_ndjson(&out.join("responses.ndjson"));
    assert_eq!(
        responses[0]["payload"]["event"]["Records"][0]["s3"]["bucket"]["name"],
        "from-the-cli"
    );

    let both = sandbox()
        .args([
            "run",
            "--task-root",
            "/tmp",
            "--event",
            "{}",
            "--event-source",
            "sqs",
        ])
        .output()
        .unwrap();
    assert_eq!(
        both.status.code(),
        Some(2),
        "--event and --event-source exclude each other"
    );
}

#[test]
fn run_keeps_the_s3_objects_in_the_output_folder() {
    let package = Package::temporary("cli-s3").unwrap();
    package
        .bootstrap(&support::fixture("s3_put_function"))
        .unwrap();
    let out = package.root().join("out");
    let status = sandbox()
        .args(["run", "--task-root"])
        .arg(package.task_root())
        .args([
            "--s3-bucket",
            "uploads",
            "--event",
            r#"{"bucket":"uploads","key":"a/b.txt","body":"kept"}"#,
            "--output",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("s3/uploads/a/b.txt")).unwrap(),
        "kept",
        "--output without --s3-dir keeps the objects in OUTPUT/s3"
    );
}

#[test]
fn numbers_outside_lambdas_limits_are_refused_with_what_is_accepted() {
    for (flag, value, accepted) in [
        ("--timeout", "inf", "above 0 and at most 900"),
        ("--timeout=-1", "", "above 0 and at most 900"),
        ("--timeout", "NaN", "above 0 and at most 900"),
        ("--timeout", "901", "above 0 and at most 900"),
        ("--timeout", "0", "above 0 and at most 900"),
        ("--init-timeout", "1e400", "above 0 and at most 900"),
        ("--memory", "64", "from 128 to 10240"),
        ("--memory", "10241", "from 128 to 10240"),
        ("--shutdown-ms=-5", "", "from 0 to 60000"),
        ("--shutdown-ms", "3600000", "from 0 to 60000"),
    ] {
        let mut command = sandbox();
        command.args(["run", "--task-root", "/tmp", flag]);
        if !value.is_empty() {
            command.arg(value);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(accepted), "{flag} {value}: {stderr}");
    }
    let output = sandbox()
        .args(["run", "--task-root", "/tmp", "--shutdown-ms", "100"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "the runtime's share of the Shutdown budget (300 ms) is larger than the budget (100 ms)"
        ),
        "{stderr}"
    );
}

#[test]
fn ctrl_c_during_run_finishes_the_invocation_then_shuts_down() {
    use std::io::{BufRead, BufReader};
    let package = Package::temporary("cli-signal").unwrap();
    package
        .bootstrap(&support::fixture("echo_function"))
        .unwrap();
    let out = package.root().join("out");
    let mut child = sandbox()
        .args(["run", "--task-root"])
        .arg(package.task_root())
        .args([
            "--event",
            r#"{"sleepMs":800}"#,
            "--invocations",
            "5",
            "--output",
        ])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("START RequestId") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "no START line");
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    // The invocation in flight finished and was written; no other started.
    let responses = support::read_ndjson(&out.join("responses.ndjson"));
    assert_eq!(responses.len(), 1, "{rest}");
    assert_eq!(responses[0]["status"], "success");
    assert!(rest.contains("environment shut down"), "{rest}");
}

#[test]
fn relative_layer_folders_give_the_processes_a_path_that_works() {
    let package = Package::temporary("cli-relative").unwrap();
    let bin = package.layer().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(
        bin.join("greet"),
        "#!/bin/sh\necho greeted from the layer\n",
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("greet"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::copy(
        support::fixture("echo_function"),
        package.task_root().join("echo"),
    )
    .unwrap();
    package
        .bootstrap_script("#!/bin/sh\ngreet\nexec \"$LAMBDA_TASK_ROOT/echo\"\n")
        .unwrap();
    let output = sandbox()
        .current_dir(package.root())
        .args(["run", "--opt", "layer", "--task-root", "task"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("[function] greeted from the layer"),
        "{stdout}"
    );
}

#[test]
fn run_on_managed_instances_sends_its_events_at_once() {
    const SLEEP_MS: u64 = 400;
    let package = Package::temporary("cli-managed").unwrap();
    package
        .bootstrap(&support::fixture("echo_function"))
        .unwrap();
    let out = package.root().join("out");
    let started = std::time::Instant::now();
    let status = sandbox()
        .args(["run", "--managed-instances", "--max-concurrency", "2"])
        .arg("--task-root")
        .arg(package.task_root())
        .args(["--event", &format!(r#"{{"sleepMs":{SLEEP_MS}}}"#)])
        .args(["--invocations", "4", "--output"])
        .arg(&out)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(
        status.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let responses = support::read_ndjson(&out.join("responses.ndjson"));
    assert_eq!(responses.len(), 4);
    assert!(responses.iter().all(|r| r["status"] == "success"));
    // Two at a time: about two sleeps, not four, and not one.
    assert!(
        elapsed >= std::time::Duration::from_millis(2 * SLEEP_MS)
            && elapsed < std::time::Duration::from_millis(4 * SLEEP_MS),
        "4 invocations of {SLEEP_MS} ms, 2 at once, took {elapsed:?}"
    );
    let platform = support::read_ndjson(&out.join("platform.ndjson"));
    let init = platform
        .iter()
        .find(|r| r["type"] == "platform.initStart")
        .unwrap();
    assert_eq!(
        init["record"]["initializationType"],
        "lambda-managed-instances"
    );
}

#[test]
fn a_bad_max_concurrency_is_refused_with_the_range() {
    let output = sandbox()
        .args(["run", "--managed-instances", "--max-concurrency", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("from 1 to 1024"), "{stderr}");
}

#[test]
fn run_with_snapstart_restores_into_each_environment_it_is_asked_for() {
    let package = Package::temporary("cli-snapstart").unwrap();
    package
        .bootstrap(&support::fixture("snapstart_function"))
        .unwrap();
    let out = package.root().join("out");
    let status = sandbox()
        .args(["run", "--snapstart", "--restores", "3"])
        .arg("--task-root")
        .arg(package.task_root())
        .args(["--event", "{}", "--invocations", "2", "--output"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        status.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    // Each of the 3 environments got the 2 invocations; the hook ran once
    // in each, so each pair shares an id that no other pair has.
    let responses = support::read_ndjson(&out.join("responses.ndjson"));
    let ids: Vec<&str> = responses
        .iter()
        .map(|r| r["payload"]["restoreId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 6);
    for pair in ids.chunks(2) {
        assert_eq!(pair[0], pair[1], "{ids:?}");
    }
    assert!(
        ids[0] != ids[2] && ids[2] != ids[4] && ids[0] != ids[4],
        "{ids:?}"
    );
    let platform = support::read_ndjson(&out.join("platform.ndjson"));
    let count = |kind: &str| platform.iter().filter(|r| r["type"] == kind).count();
    assert_eq!(count("platform.initStart"), 1);
    assert_eq!(count("platform.restoreStart"), 3);
    assert_eq!(count("platform.start"), 6);
}

#[test]
fn restores_without_snapstart_are_refused() {
    let output = sandbox().args(["run", "--restores", "2"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("add --snapstart"), "{stderr}");
}
