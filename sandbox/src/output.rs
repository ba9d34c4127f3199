//! The files `run --output DIR` writes: `responses.ndjson` and `platform.ndjson`.

use std::fs;
use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use crate::environment::InvokeResult;
use crate::journal::Record;

/// One line of `responses.ndjson`: the payload as JSON when it parses.
pub fn response_line(result: &InvokeResult) -> Value {
    let payload = serde_json::from_slice::<Value>(&result.payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&result.payload).into_owned()));
    let mut line = json!({
        "requestId": result.request_id,
        "status": result.status,
        "payload": payload,
    });
    if let Some(error_type) = &result.error_type {
        line["errorType"] = json!(error_type);
    }
    line
}

pub fn write(dir: &Path, results: &[InvokeResult], records: &[Record]) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut responses = fs::File::create(dir.join("responses.ndjson"))?;
    for result in results {
        writeln!(responses, "{}", response_line(result))?;
    }
    let mut platform = fs::File::create(dir.join("platform.ndjson"))?;
    for record in records {
        writeln!(platform, "{}", serde_json::to_string(record)?)?;
    }
    Ok(())
}
