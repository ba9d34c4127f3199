//! The walkthrough of "Building Extensions for AWS Lambda", checked step by
//! step: the lifecycle logger with the hand-written custom runtime. The
//! story itself is `walkthroughs::lifecycle`, which `cargo walkthroughs`
//! prints; these tests assert on what it returns.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lambda_sandbox::{Config, Environment, InvokeRequest, Package, Record, Status};
use serde_json::json;
use walkthroughs::{Binaries, Place, lifecycle};

/// The custom runtime's `bootstrap`, built beside this crate's binary by
/// `cargo test --workspace` (or `cargo build --workspace`).
fn bootstrap() -> PathBuf {
    let logger = Path::new(env!("CARGO_BIN_EXE_lifecycle-logger"));
    let path = logger.with_file_name("bootstrap");
    assert!(
        path.exists(),
        "{} is missing: run cargo build --workspace first",
        path.display()
    );
    path
}

/// A package kept until the test ends, and the configuration that runs it.
fn setup(work_ms: &str) -> (Package, Config) {
    let package = Package::temporary("lifecycle").unwrap();
    package.bootstrap(&bootstrap()).unwrap();
    package
        .extension(
            "lifecycle-logger",
            Path::new(env!("CARGO_BIN_EXE_lifecycle-logger")),
        )
        .unwrap();
    let config = Config {
        env: vec![("LIFECYCLE_LOGGER_WORK_MS".into(), work_ms.into())],
        ..package.config()
    };
    (package, config)
}

/// Where in the journal the first record of `kind` containing `text` is.
fn position(records: &[Record], kind: &str, text: &str) -> usize {
    records
        .iter()
        .position(|r| r.kind == kind && r.record.to_string().contains(text))
        .unwrap_or_else(|| panic!("no {kind} record containing {text:?} in {records:#?}"))
}

#[tokio::test]
async fn the_eleven_steps_happen_in_order() {
    // The walkthrough `cargo walkthroughs lifecycle` prints, with shorter work.
    let binaries = Binaries::beside(Path::new(env!("CARGO_BIN_EXE_lifecycle-logger")));
    let story = lifecycle::run(
        &binaries,
        &lifecycle::Settings {
            work_ms: 300,
            echo: false,
            place: Place::Temporary,
        },
    )
    .await
    .unwrap();
    let [first, second] = &story.invocations[..] else {
        panic!("two invocations, got {}", story.invocations.len());
    };
    assert_eq!(first.result.status, Status::Success);
    assert_eq!(second.result.status, Status::Success);
    let answered_at = first
        .answered_at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let records = &story.records;
    let id = first.result.request_id.as_str();

    let steps = [
        // 1. The extension launches and registers before the runtime starts.
        position(
            records,
            "extension",
            "starting: registering for INVOKE and SHUTDOWN",
        ),
        // 2. The runtime initialises from the bootstrap.
        position(records, "function", "Runtime: initialising handler"),
        // 3. Both wait for their next event: Init ends.
        position(records, "platform.initReport", "success"),
        // 4. The invoke reaches the extension and the runtime.
        position(
            records,
            "extension",
            &format!("INVOKE received: request {id}"),
        ),
        // 5. The runtime runs the handler with the event.
        position(
            records,
            "function",
            &format!("Function: handling request {id}"),
        ),
        // 6. The response goes back through the Runtime API.
        position(
            records,
            "function",
            &format!("Runtime: request {id} answered"),
        ),
        // 7. The runtime waits for the next event.
        position(records, "platform.runtimeDone", id),
        // 8. The extension finishes its companion work, then asks for the next event.
        position(
            records,
            "extension",
            &format!("companion work for request {id} done"),
        ),
        // 9. The invocation report.
        position(records, "platform.report", id),
        // 10. Shutdown: the runtime gets SIGTERM.
        position(records, "function", "Runtime: received SIGTERM"),
        // 11. Then the extension gets SHUTDOWN and exits after the runtime.
        position(records, "extension", "SHUTDOWN received: reason spindown"),
    ];
    // Step 4 reaches the extension and the runtime at the same moment, so the
    // extension's line may come before or after the handler's (step 5).
    let chain: Vec<usize> = steps
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3)
        .map(|(_, p)| *p)
        .collect();
    assert!(
        chain.windows(2).all(|w| w[0] < w[1]),
        "steps out of order: {steps:?}"
    );
    assert!(
        position(records, "platform.start", id) < steps[3] && steps[3] < steps[7],
        "{steps:?}"
    );

    // The caller had the response while the extension was still working.
    let work_done = &records[steps[7]];
    assert!(
        work_done.time.timestamp_millis() > answered_at,
        "the response waited for the extension's work"
    );
    // The next invoke waited for that work.
    assert!(position(records, "platform.start", &second.result.request_id) > steps[7]);

    let report = &records[steps[8]].record;
    let overhead = report["spans"][0]["durationMs"].as_f64().unwrap();
    assert!(
        overhead >= 250.0,
        "300 ms of work shows as extension overhead, got {overhead}"
    );

    tokio::time::sleep(Duration::from_millis(50)).await;
    for &pid in &story.pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} survived"
        );
    }
}

#[tokio::test]
async fn work_is_cut_short_before_the_invoke_deadline() {
    let (_package, config) = setup("5000");
    let env = Environment::start(Config {
        timeout: Duration::from_secs(1),
        ..config
    })
    .await
    .unwrap();
    let result = env.invoke(InvokeRequest::json(&json!({}))).await;
    env.wait_idle().await;
    env.shutdown().await;
    assert_eq!(result.status, Status::Success);
    let records = env.records();
    position(&records, "extension", "cutting work to");
    let report = records
        .iter()
        .find(|r| r.kind == "platform.report")
        .unwrap();
    assert_eq!(
        report.record["status"], "success",
        "the extension never made the function time out"
    );
}

#[tokio::test]
async fn a_bad_work_setting_fails_init_with_a_clear_message() {
    let (_package, config) = setup("5s");
    let env = Environment::start(config).await.unwrap();
    let result = env.invoke(InvokeRequest::json(&json!({}))).await;
    env.shutdown().await;
    assert_eq!(result.error_type.as_deref(), Some("Extension.Crash"));
    let records = env.records();
    position(
        &records,
        "extension",
        r#"environment variable LIFECYCLE_LOGGER_WORK_MS=\"5s\" is not valid: expected a whole number of milliseconds"#,
    );
}

#[tokio::test]
async fn on_managed_instances_it_registers_for_shutdown_and_works_on_its_timer() {
    // The walkthrough `cargo walkthroughs lifecycle-managed-instances` prints.
    let binaries = Binaries::beside(Path::new(env!("CARGO_BIN_EXE_lifecycle-logger")));
    let story = lifecycle::run_managed_instances(
        &binaries,
        &lifecycle::Settings {
            work_ms: 300,
            echo: false,
            place: Place::Temporary,
        },
    )
    .await
    .unwrap();
    // INVOKE would be refused there: SHUTDOWN alone.
    let [registration] = &story.registrations[..] else {
        panic!("one registration, got {:?}", story.registrations);
    };
    assert_eq!(registration.events, ["SHUTDOWN"]);
    let records = &story.records;
    position(records, "extension", "registering for SHUTDOWN only");
    assert_eq!(story.invocations.len(), lifecycle::CONCURRENT_INVOKES);
    for invocation in &story.invocations {
        assert_eq!(invocation.result.status, Status::Success);
    }
    // The hand-written runtime's workers took them all at once.
    assert_eq!(story.most_in_flight, lifecycle::CONCURRENT_INVOKES);
    let extension_lines: Vec<String> = records
        .iter()
        .filter(|r| r.kind == "extension")
        .map(|r| r.record.as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        !extension_lines
            .iter()
            .any(|l| l.contains("INVOKE received")),
        "{extension_lines:?}"
    );
    // Its companion work ran on its own timer, then SHUTDOWN came.
    let tick = position(records, "extension", "companion work, round 1");
    let shutdown = position(records, "extension", "SHUTDOWN received: reason spindown");
    assert!(tick < shutdown);
}

#[tokio::test]
async fn with_snapstart_it_notices_each_restore_at_its_first_invoke() {
    // The walkthrough `cargo walkthroughs lifecycle-snapstart` prints.
    let binaries = Binaries::beside(Path::new(env!("CARGO_BIN_EXE_lifecycle-logger")));
    let story = lifecycle::run_snapstart(
        &binaries,
        &lifecycle::Settings {
            work_ms: 50,
            echo: false,
            place: Place::Temporary,
        },
    )
    .await
    .unwrap();
    assert_eq!(story.invocations.len(), lifecycle::RESTORES);
    for invocation in &story.invocations {
        assert_eq!(invocation.result.status, Status::Success);
    }
    let records = &story.records;
    // One Init on record, one restore per environment, each noticed by
    // the extension only when its first INVOKE came, after the restore.
    assert_eq!(
        records
            .iter()
            .filter(|r| r.kind == "platform.initStart")
            .count(),
        1
    );
    let kinds_and_lines: Vec<(usize, &Record)> = records.iter().enumerate().collect();
    let restores: Vec<usize> = kinds_and_lines
        .iter()
        .filter(|(_, r)| r.kind == "platform.restoreReport")
        .map(|(i, _)| *i)
        .collect();
    let noticed: Vec<usize> = kinds_and_lines
        .iter()
        .filter(|(_, r)| {
            r.kind == "extension"
                && r.record
                    .to_string()
                    .contains("restored from a SnapStart snapshot")
        })
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(restores.len(), lifecycle::RESTORES);
    assert_eq!(noticed.len(), lifecycle::RESTORES);
    let invokes: Vec<usize> = kinds_and_lines
        .iter()
        .filter(|(_, r)| r.kind == "extension" && r.record.to_string().contains("INVOKE received"))
        .map(|(i, _)| *i)
        .collect();
    for n in 0..lifecycle::RESTORES {
        assert!(restores[n] < noticed[n] && noticed[n] < invokes[n]);
    }
}
