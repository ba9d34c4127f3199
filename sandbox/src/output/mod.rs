//! The files `run --output DIR` writes: `responses.ndjson`, one line per
//! invocation as it is answered, `platform.ndjson`, every record as the
//! journal emits it (see [`crate::streams::journal::Journal::write_to`]),
//! and `timeline.svg`, the run as a sequence diagram (`timeline`).

pub mod timeline;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::lifecycle::invocation::InvokeResult;

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

/// The output folder, written as the run goes.
pub struct Output {
    dir: PathBuf,
    responses: BufWriter<File>,
}

impl Output {
    /// Creates the folder and `responses.ndjson`.
    pub fn create(dir: &Path) -> std::io::Result<Output> {
        fs::create_dir_all(dir)?;
        let responses = BufWriter::new(File::create(dir.join("responses.ndjson"))?);
        Ok(Output {
            dir: dir.to_path_buf(),
            responses,
        })
    }

    /// Where the journal writes the records.
    pub fn platform_file(&self) -> PathBuf {
        self.dir.join("platform.ndjson")
    }

    pub fn response(&mut self, result: &InvokeResult) -> std::io::Result<()> {
        writeln!(self.responses, "{}", response_line(result))
    }

    /// Writes `timeline.svg`, once the run is over.
    pub fn timeline(&self, svg: &str) -> std::io::Result<()> {
        fs::write(self.dir.join("timeline.svg"), svg)
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.responses.flush()
    }
}
