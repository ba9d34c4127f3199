//! A streamed response handed on as the function writes it
//! (docs/src/runtime-api.md#streaming-a-response), for a caller that reads
//! it as a stream (`InvokeWithResponseStream`).
//!
//! Each piece of the body goes on as it arrives, after three things are
//! taken out of it: the JSON prelude and its eight NUL bytes that an
//! HTTP-integration response starts with (its content type is the
//! payload's), the error the official Rust runtime writes inline at the
//! end, and nothing else. The size cap cuts the stream where it is passed,
//! and with shaping on, a token bucket holds the function to the
//! bandwidth Lambda allows: the function's writes block meanwhile, as they
//! do on Lambda. A caller that goes away does not stop the function: the
//! rest is read and dropped.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde_json::Value;

use crate::config::{MAX_ERROR_BODY_BYTES, StreamShaping};
use crate::lifecycle::invocation::{StreamPart, StreamSink};

/// The content type of a streamed response that starts with a prelude.
pub const HTTP_INTEGRATION_RESPONSE: &str = "application/vnd.awslambda.http-integration-response";
/// The text that starts an error the Rust runtime writes inline.
pub const INLINE_ERROR: &[u8] = b"Lambda-Runtime-Function-Error-Type:";
/// A prelude is a small JSON object; past this, the stream has none.
const MAX_PRELUDE_BYTES: usize = 64 * 1024;
const PRELUDE_END: [u8; 8] = [0; 8];

/// A stream that ended as the function ended it.
pub struct Forwarded {
    /// The payload bytes passed on (the prelude not counted).
    pub bytes: usize,
    pub content_type: String,
    /// An error sent at the end: its trailers, or the inline text.
    pub error_trailers: Option<HeaderMap>,
    pub inline_error: Option<Bytes>,
}

/// Why a stream ended early.
pub enum Cut {
    /// More than the limit.
    TooLarge(usize),
    /// The runtime's request ended before its body did.
    Truncated,
}

/// Reads `body` piece by piece and passes its payload to `sink`.
pub async fn forward(
    mut body: Body,
    request_id: &str,
    content_type: String,
    sink: &StreamSink,
    limit: usize,
    shaping: Option<StreamShaping>,
) -> Result<Forwarded, Cut> {
    let mut out = Out {
        request_id,
        sink: Some(sink),
        bucket: shaping.map(Bucket::new),
        started: false,
    };
    let mut prelude = (content_type == HTTP_INTEGRATION_RESPONSE).then(BytesMut::new);
    let mut content_type = content_type;
    let mut inline_error: Option<BytesMut> = None;
    let mut read = 0usize;
    let mut passed = 0usize;
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Cut::Truncated)?;
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                trailers = frame.into_trailers().ok();
                continue;
            }
        };
        read += data.len();
        if read > limit {
            return Err(Cut::TooLarge(limit));
        }
        if let Some(error) = inline_error.as_mut() {
            if error.len() + data.len() <= MAX_ERROR_BODY_BYTES {
                error.extend_from_slice(&data);
            }
            continue;
        }
        let mut data = data;
        if let Some(held) = prelude.as_mut() {
            held.extend_from_slice(&data);
            match find(held, &PRELUDE_END) {
                Some(at) => {
                    if let Some(kind) = prelude_content_type(&held[..at]) {
                        content_type = kind;
                    }
                    data = held.split_off(at + PRELUDE_END.len()).freeze();
                    prelude = None;
                }
                None if held.len() > MAX_PRELUDE_BYTES => {
                    data = prelude.take().unwrap_or_default().freeze();
                }
                None => continue,
            }
        }
        if let Some(at) = find(&data, INLINE_ERROR) {
            inline_error = Some(BytesMut::from(&data[at..]));
            data = data.slice(..at);
        }
        passed += data.len();
        out.send(&content_type, data).await;
    }
    // A stream that ended inside what looked like a prelude had none.
    if let Some(held) = prelude.filter(|held| !held.is_empty()) {
        passed += held.len();
        out.send(&content_type, held.freeze()).await;
    }
    out.start(&content_type).await;
    Ok(Forwarded {
        bytes: passed,
        content_type,
        error_trailers: trailers,
        inline_error: inline_error.map(BytesMut::freeze),
    })
}

/// Where the payload goes: the caller, until it goes away.
struct Out<'a> {
    request_id: &'a str,
    sink: Option<&'a StreamSink>,
    bucket: Option<Bucket>,
    started: bool,
}

impl Out<'_> {
    async fn start(&mut self, content_type: &str) {
        if !self.started {
            self.started = true;
            let start = StreamPart::Start {
                content_type: content_type.to_string(),
                request_id: self.request_id.to_string(),
            };
            self.deliver(start).await;
        }
    }

    async fn send(&mut self, content_type: &str, data: Bytes) {
        if data.is_empty() {
            return;
        }
        self.start(content_type).await;
        if let Some(bucket) = self.bucket.as_mut() {
            bucket.take(data.len()).await;
        }
        self.deliver(StreamPart::Chunk(data)).await;
    }

    async fn deliver(&mut self, part: StreamPart) {
        if let Some(sink) = self.sink
            && sink.send(part).await.is_err()
        {
            // The caller went away; the function goes on.
            self.sink = None;
        }
    }
}

/// A token bucket: starts full at the burst, refills at the rate.
struct Bucket {
    shaping: StreamShaping,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(shaping: StreamShaping) -> Self {
        Bucket {
            shaping,
            tokens: shaping.burst_bytes as f64,
            last: Instant::now(),
        }
    }

    /// Waits until `bytes` may pass.
    async fn take(&mut self, bytes: usize) {
        let rate = self.shaping.bytes_per_second as f64;
        let now = Instant::now();
        let refilled = self.tokens + (now - self.last).as_secs_f64() * rate;
        self.tokens = refilled.min(self.shaping.burst_bytes as f64);
        self.last = now;
        let missing = bytes as f64 - self.tokens;
        if missing > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(missing / rate)).await;
            self.tokens = 0.0;
            self.last = Instant::now();
        } else {
            self.tokens -= bytes as f64;
        }
    }
}

/// `headers.content-type` of an HTTP-integration prelude, in any case.
pub fn prelude_content_type(prelude: &[u8]) -> Option<String> {
    let prelude: Value = serde_json::from_slice(prelude).ok()?;
    prelude
        .get("headers")?
        .as_object()?
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))?
        .1
        .as_str()
        .map(str::to_string)
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn forwarded(
        content_type: &str,
        pieces: &[&[u8]],
        shaping: Option<StreamShaping>,
    ) -> (Vec<StreamPart>, Forwarded) {
        let (mut writer, body) = http_body_util::channel::Channel::<Bytes>::new(pieces.len() + 1);
        for piece in pieces {
            writer
                .send_data(Bytes::copy_from_slice(piece))
                .await
                .unwrap();
        }
        drop(writer);
        let (sink, mut parts) = tokio::sync::mpsc::channel(64);
        let done = forward(
            Body::new(body),
            "id",
            content_type.into(),
            &sink,
            1 << 20,
            shaping,
        )
        .await
        .ok()
        .unwrap();
        drop(sink);
        let mut received = Vec::new();
        while let Some(part) = parts.recv().await {
            received.push(part);
        }
        (received, done)
    }

    fn bytes(parts: &[StreamPart]) -> Vec<u8> {
        parts
            .iter()
            .flat_map(|p| match p {
                StreamPart::Chunk(b) => b.to_vec(),
                StreamPart::Start { .. } => Vec::new(),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_prelude_split_over_pieces_is_taken_out_and_names_the_type() {
        let (parts, done) = forwarded(
            HTTP_INTEGRATION_RESPONSE,
            &[
                br#"{"statusCode":200,"headers":{"Content-Type":"#,
                b"\"text/plain\"}}\0\0\0\0",
                b"\0\0\0\0hello ",
                b"world",
            ],
            None,
        )
        .await;
        assert!(
            matches!(&parts[0], StreamPart::Start { content_type, .. } if content_type == "text/plain")
        );
        assert_eq!(bytes(&parts), b"hello world");
        assert_eq!(done.bytes, 11);
    }

    #[tokio::test]
    async fn other_streams_pass_untouched_nul_bytes_and_all() {
        let binary: &[u8] = &[0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3];
        let (parts, _) = forwarded("application/octet-stream", &[binary, binary], None).await;
        assert_eq!(bytes(&parts), [binary, binary].concat());
    }

    #[tokio::test]
    async fn an_inline_error_is_kept_out_of_the_payload() {
        let (parts, done) = forwarded(
            "application/octet-stream",
            &[
                b"partial",
                b"Lambda-Runtime-Function-Error-Type: Runtime.Boom\r\n",
            ],
            None,
        )
        .await;
        assert_eq!(bytes(&parts), b"partial");
        assert!(done.inline_error.is_some());
    }

    #[tokio::test]
    async fn shaping_holds_what_passes_the_burst_to_the_rate() {
        let shaping = StreamShaping {
            burst_bytes: 1000,
            bytes_per_second: 10_000,
        };
        let piece = [b'x'; 1000];
        let started = Instant::now();
        let (parts, _) = forwarded("text/plain", &[&piece, &piece, &piece], Some(shaping)).await;
        // The first 1000 bytes at once, 2000 more at 10,000 a second.
        assert!(
            started.elapsed() >= Duration::from_millis(190),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(bytes(&parts).len(), 3000);
    }
}
