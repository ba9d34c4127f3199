//! The walkthrough `cargo walkthroughs s3-log-shipper` prints
//! (`walkthroughs::s3_log_shipper`): three invokes of three lines each,
//! with the shipper's default settings, and what the bucket holds after
//! Shutdown.

mod support;

use std::path::Path;

use lambda_sandbox::Status;
use serde_json::Value;
use support::*;
use walkthroughs::{Binaries, Place, s3_log_shipper};

#[tokio::test]
async fn every_line_and_report_of_the_walkthrough_is_in_the_bucket_once() {
    let binaries = Binaries::beside(Path::new(env!("CARGO_BIN_EXE_s3-log-shipper")));
    let story = s3_log_shipper::run(
        &binaries,
        &s3_log_shipper::Settings {
            echo: false,
            place: Place::Temporary,
            listener_port: Some(free_port()),
        },
    )
    .await
    .unwrap();
    assert_eq!(story.invocations.len(), s3_log_shipper::INVOKES);
    let ids: Vec<String> = story
        .invocations
        .iter()
        .map(|i| {
            assert_eq!(i.result.status, Status::Success, "{:?}", i.result);
            i.result.request_id.clone()
        })
        .collect();
    assert!(!story.objects.is_empty(), "nothing reached the bucket");
    let records: Vec<Value> = story
        .objects
        .iter()
        .flat_map(|o| o.text.lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The runtime logs as many numbered lines as the event asks for.
    assert_eq!(
        sorted(numbered_lines(&records)),
        sorted(expected_lines(&ids, 3)),
        "every line once, none lost, none duplicated"
    );
    for id in &ids {
        for kind in ["platform.start", "platform.runtimeDone", "platform.report"] {
            assert_eq!(count_for(&records, kind, id), 1, "{kind} of {id}");
        }
    }
    // And the shipper said so at SHUTDOWN.
    let said: Vec<String> = story
        .records
        .iter()
        .filter(|r| r.kind == "extension")
        .map(|r| r.record.to_string())
        .collect();
    assert!(
        said.iter()
            .any(|l| l.contains("SHUTDOWN (spindown): shipped") && l.contains(" records in ")),
        "{said:#?}"
    );
}

/// The Managed Instances walkthrough's bucket: every line of every
/// concurrent invocation once, and the mode's records.
fn assert_shipped_once(story: &s3_log_shipper::Story) {
    assert_eq!(story.invocations.len(), s3_log_shipper::CONCURRENT_INVOKES);
    let ids: Vec<String> = story
        .invocations
        .iter()
        .map(|i| {
            assert_eq!(i.result.status, Status::Success, "{:?}", i.result);
            i.result.request_id.clone()
        })
        .collect();
    let records: Vec<Value> = story
        .objects
        .iter()
        .flat_map(|o| o.text.lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        sorted(numbered_lines(&records)),
        sorted(expected_lines(&ids, s3_log_shipper::LINES_PER_INVOKE)),
        "every line once, none lost, none duplicated"
    );
    for id in &ids {
        for kind in ["platform.start", "platform.report"] {
            assert_eq!(count_for(&records, kind, id), 1, "{kind} of {id}");
        }
        // Managed Instances emit no runtimeDone.
        assert_eq!(count_for(&records, "platform.runtimeDone", id), 0);
    }
    let said: Vec<String> = story
        .records
        .iter()
        .filter(|r| r.kind == "extension")
        .map(|r| r.record.to_string())
        .collect();
    assert!(
        said.iter()
            .any(|l| l.contains("SHUTDOWN only, uploads every")),
        "{said:#?}"
    );
}

#[tokio::test]
async fn on_managed_instances_the_timer_cuts_objects_and_every_line_lands_once() {
    let binaries = Binaries::beside(Path::new(env!("CARGO_BIN_EXE_s3-log-shipper")));
    let settings = s3_log_shipper::Settings {
        echo: false,
        place: Place::Temporary,
        listener_port: Some(free_port()),
    };
    let story = s3_log_shipper::run_managed_instances(
        &binaries,
        &settings,
        s3_log_shipper::ShutdownAt::AfterTimerUpload,
    )
    .await
    .unwrap();
    assert_shipped_once(&story);
    // The timer's object came before SHUTDOWN, which uploaded the rest.
    assert!(story.objects.len() >= 2, "{}", story.objects.len());
}

#[tokio::test]
async fn on_managed_instances_shutdown_uploads_what_the_timer_had_not() {
    let binaries = Binaries::beside(Path::new(env!("CARGO_BIN_EXE_s3-log-shipper")));
    let settings = s3_log_shipper::Settings {
        echo: false,
        place: Place::Temporary,
        listener_port: Some(free_port()),
    };
    let story = s3_log_shipper::run_managed_instances(
        &binaries,
        &settings,
        s3_log_shipper::ShutdownAt::AtOnce,
    )
    .await
    .unwrap();
    assert_shipped_once(&story);
    // No timer upload came first: SHUTDOWN shipped it all in one object.
    assert_eq!(story.objects.len(), 1);
}
