//! One invocation as the caller sends it and as the caller gets it back.

use bytes::Bytes;
use serde::Serialize;

/// One invocation, as a caller sends it.
#[derive(Debug, Clone, Default)]
pub struct InvokeRequest {
    pub payload: Bytes,
    pub content_type: Option<String>,
    /// Base64-decoded client context, passed through as Lambda does.
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    /// Where a streamed response goes as the function writes it, as
    /// `InvokeWithResponseStream` hands it on. The result's payload is then
    /// empty. Without it, a streamed response is gathered whole.
    pub stream_to: Option<StreamSink>,
}

/// What a streamed response sends on, in order: its start, with the
/// payload's content type, then its bytes. The result follows once the
/// function has ended the stream.
#[derive(Debug)]
pub enum StreamPart {
    Start {
        content_type: String,
        request_id: String,
    },
    Chunk(Bytes),
}

/// The receiving end is the caller's; a few parts are buffered, so a slow
/// caller slows the function down, as a slow client does on Lambda.
pub type StreamSink = tokio::sync::mpsc::Sender<StreamPart>;

impl InvokeRequest {
    pub fn json(value: &serde_json::Value) -> Self {
        InvokeRequest {
            payload: Bytes::from(value.to_string()),
            ..Self::default()
        }
    }
}

/// How an invocation ended, in the platform's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Success,
    Error,
    Timeout,
    Failure,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Status::Success => "success",
            Status::Error => "error",
            Status::Timeout => "timeout",
            Status::Failure => "failure",
        };
        f.write_str(text)
    }
}

/// What the caller receives, as soon as the runtime answers.
#[derive(Debug, Clone)]
pub struct InvokeResult {
    pub request_id: String,
    pub status: Status,
    pub payload: Bytes,
    pub content_type: String,
    /// The error's type as the caller sees it, when the invocation failed.
    pub error_type: Option<String>,
}
