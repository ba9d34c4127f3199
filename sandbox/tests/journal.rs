//! What the environment keeps of its records: bounded memory, every record
//! in the journal file, long log lines cut as they arrive.

mod support;

use std::time::Duration;

use lambda_sandbox::{Config, Environment, InvokeRequest, Package, Status};
use serde_json::json;
use support::fixture;

#[tokio::test]
async fn with_a_memory_limit_the_newest_records_stay_and_the_file_gets_them_all() {
    let package = Package::temporary("journal-limit").unwrap();
    package.bootstrap(&fixture("echo_function")).unwrap();
    let file = package.root().join("platform.ndjson");
    let env = Environment::start(Config {
        journal_memory: Some(256 * 1024),
        journal_file: Some(file.clone()),
        timeout: Duration::from_secs(30),
        ..package.config()
    })
    .await
    .unwrap();
    let lines = 50_000;
    let result = env
        .invoke(InvokeRequest::json(&json!({ "lines": lines })))
        .await;
    assert_eq!(result.status, Status::Success);
    env.wait_idle().await;
    env.shutdown().await;

    let kept = env.records();
    assert!(
        kept.len() < 5_000,
        "{} records kept in memory under a 256 KiB limit",
        kept.len()
    );
    assert_eq!(
        kept.last().map(|r| r.kind.as_str()),
        Some("platform.report"),
        "the newest records are the ones kept"
    );
    assert!(env.journal_len() > lines, "the count covers every record");
    let written = support::read_ndjson(&file);
    assert_eq!(
        written.len(),
        env.journal_len(),
        "the file has every record"
    );
    let numbered = written
        .iter()
        .filter(|r| r["type"] == "function" && r["record"].as_str().unwrap().starts_with("line "))
        .count();
    assert_eq!(numbered, lines);
}

#[tokio::test]
async fn a_line_without_a_newline_is_delivered_in_pieces_of_the_log_event_limit() {
    let package = Package::temporary("journal-long-line").unwrap();
    // 4 MiB with no newline, during Init; Init then times out.
    package
        .bootstrap_script("#!/bin/sh\nhead -c 4194304 /dev/zero | tr '\\0' x\nexec sleep 600\n")
        .unwrap();
    let env = Environment::start(Config {
        init_timeout: Duration::from_millis(1500),
        ..package.config()
    })
    .await
    .unwrap();
    env.shutdown().await;
    let pieces: Vec<usize> = env
        .records()
        .iter()
        .filter(|r| r.kind == "function")
        .map(|r| r.record.as_str().unwrap().len())
        .collect();
    assert_eq!(pieces.len(), 16, "{pieces:?}");
    assert!(pieces.iter().all(|&n| n == 256 * 1024), "{pieces:?}");
}
