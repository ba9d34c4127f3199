//! One record of the streams: the Telemetry API's `{"time","type","record"}`,
//! what the journal keeps and the Logs and Telemetry subscribers receive.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize)]
pub struct Record {
    #[serde(serialize_with = "millis_utc")]
    pub time: DateTime<Utc>,
    #[serde(rename = "type")]
    pub kind: String,
    pub record: Value,
}

fn millis_utc<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&timestamp(t))
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, the only time format the platform uses.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
