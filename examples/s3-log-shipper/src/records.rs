//! One delivery from the platform, turned into NDJSON lines.
//!
//! Every record is kept exactly as the platform sent it (one JSON value per
//! line), whatever its `type`: a record type this code has never heard of,
//! such as SnapStart's `platform.restoreStart`, is stored like any other.
//! Only two types are looked into: `platform.runtimeDone`, which tells the
//! flush policy that an invoke's logs are complete, and
//! `platform.logsDropped`, which counts what the platform had to drop.

use std::ops::Range;

use serde::Deserialize;
use serde_json::value::RawValue;

/// The records of one delivery, as NDJSON.
#[derive(Debug, Default)]
pub struct Batch {
    pub ndjson: Vec<u8>,
    pub records: usize,
    /// The `time` of the first record, for the object's key.
    pub first_time: Option<String>,
    /// Request ids of the `platform.runtimeDone` records, in order.
    pub runtime_done: Vec<String>,
    /// `droppedRecords` summed over `platform.logsDropped` records.
    pub platform_dropped: u64,
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    record: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuntimeDone {
    request_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogsDropped {
    dropped_records: u64,
}

/// Parses a delivery: the body must be a JSON array (that is the whole
/// contract of both APIs); its elements may be anything. The lines are
/// written over the body itself, so a delivery is held in memory once: a
/// record's line is never longer than the record plus the comma after it.
pub fn parse(mut body: Vec<u8>) -> Result<Batch, serde_json::Error> {
    let mut batch = Batch::default();
    let spans: Vec<Range<usize>> = {
        let items: Vec<&RawValue> = serde_json::from_slice(&body)?;
        let start = body.as_ptr() as usize;
        items
            .iter()
            .map(|item| {
                look_into(&mut batch, item);
                // A `RawValue` from a slice borrows its text from the slice.
                let at = item.get().as_ptr() as usize - start;
                at..at + item.get().len()
            })
            .collect()
    };
    let mut written = 0;
    for span in spans {
        written = write_line(&mut body, span, written);
        batch.records += 1;
    }
    body.truncate(written);
    batch.ndjson = body;
    Ok(batch)
}

/// Reads what the flush policy and the counters need from one record.
fn look_into(batch: &mut Batch, item: &RawValue) {
    // Anything that is not an object with a `type` is stored and not
    // looked at further.
    let Ok(head) = serde_json::from_str::<Head>(item.get()) else {
        return;
    };
    if batch.first_time.is_none() {
        batch.first_time = head.time.map(|t| t.into_owned());
    }
    match (head.kind.as_deref(), head.record) {
        (Some("platform.runtimeDone"), Some(record)) => {
            if let Ok(done) = serde_json::from_str::<RuntimeDone>(record.get()) {
                batch.runtime_done.push(done.request_id);
            }
        }
        (Some("platform.logsDropped"), Some(record)) => {
            if let Ok(dropped) = serde_json::from_str::<LogsDropped>(record.get()) {
                batch.platform_dropped += dropped.dropped_records;
            }
        }
        _ => {}
    }
}

/// Writes the record at `span` as one line at `at`, which is never past the
/// span's start, and returns where the next line goes. JSON strings cannot
/// hold a raw line break, so a line break in the text is whitespace between
/// tokens: only then is the whitespace outside strings removed, keeping
/// everything else (key order included) as the platform sent it.
fn write_line(buf: &mut [u8], span: Range<usize>, at: usize) -> usize {
    let mut next = at;
    if buf[span.clone()].iter().any(|&b| b == b'\n' || b == b'\r') {
        let (mut in_string, mut escaped) = (false, false);
        for from in span {
            let b = buf[from];
            let keep = if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
                true
            } else if b.is_ascii_whitespace() {
                false
            } else {
                in_string = b == b'"';
                true
            };
            if keep {
                buf[next] = b;
                next += 1;
            }
        }
    } else {
        let len = span.len();
        buf.copy_within(span, at);
        next += len;
    }
    // The comma or bracket after the record is there to take the break.
    buf[next] = b'\n';
    next + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_becomes_one_line_unknown_types_included() {
        let body = br#"[
            {"time":"2026-01-15T12:00:00.001Z","type":"function","record":"hello"},
            {"time":"2026-01-15T12:00:00.002Z","type":"function","record":{"level":"INFO","message":"json log"}},
            {"time":"2026-01-15T12:00:00.003Z","type":"platform.restoreStart","record":{"runtimeVersion":"x"}},
            {"time":"2026-01-15T12:00:00.004Z",
             "type":"platform.runtimeDone",
             "record":{"requestId":"r-1","status":"success","note":"a \" quote, spaces  "}},
            {"time":"2026-01-15T12:00:00.005Z","type":"platform.logsDropped","record":{"reason":"slow","droppedRecords":7,"droppedBytes":700}},
            42
        ]"#;
        let batch = parse(body.to_vec()).unwrap();
        let text = String::from_utf8(batch.ndjson).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(batch.records, 6);
        for line in &lines {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
        assert_eq!(
            lines[0],
            r#"{"time":"2026-01-15T12:00:00.001Z","type":"function","record":"hello"}"#
        );
        assert_eq!(
            lines[3],
            r#"{"time":"2026-01-15T12:00:00.004Z","type":"platform.runtimeDone","record":{"requestId":"r-1","status":"success","note":"a \" quote, spaces  "}}"#
        );
        assert_eq!(lines[5], "42");
        assert_eq!(
            batch.first_time.as_deref(),
            Some("2026-01-15T12:00:00.001Z")
        );
        assert_eq!(batch.runtime_done, vec!["r-1".to_string()]);
        assert_eq!(batch.platform_dropped, 7);
    }

    #[test]
    fn a_body_that_is_not_a_json_array_is_an_error() {
        assert!(parse(b"{\"type\":\"function\"}".to_vec()).is_err());
        assert!(parse(b"[{\"type\":".to_vec()).is_err());
        assert_eq!(parse(b"[]".to_vec()).unwrap().records, 0);
    }

    #[test]
    fn lines_written_over_a_tightly_packed_body_keep_every_byte() {
        // No whitespace between records: each line takes exactly the room
        // of its record and the comma after it.
        let body = b"[{\"a\":\n1,\"s\":\"x y\"},\"two\",3,{\"b\":\"\\\"\"}]".to_vec();
        let batch = parse(body).unwrap();
        assert_eq!(batch.records, 4);
        assert_eq!(
            String::from_utf8(batch.ndjson).unwrap(),
            "{\"a\":1,\"s\":\"x y\"}\n\"two\"\n3\n{\"b\":\"\\\"\"}\n"
        );
    }
}
