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
