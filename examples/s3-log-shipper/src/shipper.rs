//! The part that owns the records: it receives deliveries through a channel,
//! groups them into objects and uploads them, away from the listener, so a
//! slow or failing S3 never holds a delivery connection open.
//!
//! Memory is bounded by a semaphore counting buffer bytes: the listener takes
//! space for a delivery before accepting it, and the space comes back only
//! when S3 has the object holding those records.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::objects::{Naming, Object, Pending};
use crate::records::Batch;

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Below this much time before a flush deadline, another upload attempt
/// could not finish: stop there and report what is left.
const LAST_ATTEMPT_ROOM: Duration = Duration::from_millis(10);

enum Message {
    Batch(Batch, OwnedSemaphorePermit),
    Flush {
        deadline: Instant,
        done: oneshot::Sender<usize>,
    },
}

/// Running totals, for the shutdown summary and the tests.
#[derive(Default)]
pub struct Stats {
    pub received: AtomicU64,
    pub shipped: AtomicU64,
    pub objects: AtomicU64,
    pub platform_dropped: AtomicU64,
}

/// What the listener and the lifecycle use to talk to the shipper.
#[derive(Clone)]
pub struct Handle {
    inbox: mpsc::UnboundedSender<Message>,
    space: Arc<Semaphore>,
    buffer_bytes: usize,
    runtime_done: watch::Sender<Option<String>>,
    pub stats: Arc<Stats>,
}

impl Handle {
    /// Takes in one delivery, waiting for buffer space first: while the
    /// buffer is full, the platform keeps its records (and reports what it
    /// has to drop) instead of the shipper losing records it accepted.
    pub async fn deliver(&self, mut batch: Batch) {
        // A delivery is at most a few MiB (the listener's limit), so it fits
        // in u32; one larger than the whole buffer takes all of it.
        let bytes = batch.ndjson.len().clamp(1, self.buffer_bytes) as u32;
        let Ok(space) = self.space.clone().acquire_many_owned(bytes).await else {
            return;
        };
        let stats = &self.stats;
        stats
            .received
            .fetch_add(batch.records as u64, Ordering::Relaxed);
        if batch.platform_dropped > 0 {
            stats
                .platform_dropped
                .fetch_add(batch.platform_dropped, Ordering::Relaxed);
            warn!(
                "the platform dropped {} records before they reached this extension (see the platform.logsDropped record)",
                batch.platform_dropped
            );
        }
        let done = std::mem::take(&mut batch.runtime_done);
        // The batch goes in first, so a flush asked for after this
        // runtimeDone is seen finds the invoke's records already queued.
        let _ = self.inbox.send(Message::Batch(batch, space));
        for request_id in done {
            self.runtime_done.send_replace(Some(request_id));
        }
    }

    /// Waits until `platform.runtimeDone` of `request_id` has been delivered;
    /// `false` if the deadline came first.
    pub async fn wait_runtime_done(&self, request_id: &str, deadline: Instant) -> bool {
        let mut done = self.runtime_done.subscribe();
        let seen = done.wait_for(|last| last.as_deref() == Some(request_id));
        tokio::time::timeout_at(deadline, seen).await.is_ok()
    }

    /// Uploads everything received so far, retrying until `deadline`.
    /// Returns the number of records still held.
    pub async fn flush(&self, deadline: Instant) -> usize {
        let (done, result) = oneshot::channel();
        if self.inbox.send(Message::Flush { deadline, done }).is_err() {
            return 0;
        }
        result.await.unwrap_or(0)
    }
}

pub struct Shipper {
    bucket: String,
    client: shared::s3::CallPolicy,
    pending: Pending,
    stats: Arc<Stats>,
    failures: u32,
    retry_at: Instant,
}

/// The channel between the listener and lifecycle (the handle) and the
/// shipper (the inbox), with room for `buffer_bytes` of records.
pub fn channel(buffer_bytes: usize) -> (Handle, Inbox) {
    let (inbox, receiver) = mpsc::unbounded_channel();
    let handle = Handle {
        inbox,
        space: Arc::new(Semaphore::new(buffer_bytes)),
        buffer_bytes,
        runtime_done: watch::Sender::new(None),
        stats: Arc::new(Stats::default()),
    };
    (handle, Inbox(receiver))
}

/// The receiving end of the channel.
pub struct Inbox(mpsc::UnboundedReceiver<Message>);

impl Shipper {
    pub fn new(bucket: String, naming: Naming, object_bytes: usize, stats: Arc<Stats>) -> Self {
        Shipper {
            bucket,
            client: shared::s3::CallPolicy {
                // Retries are ours: they keep the records and respect deadlines.
                max_attempts: 1,
                connect_timeout: Duration::from_secs(1),
                attempt_timeout: Duration::from_secs(10),
            },
            pending: Pending::new(naming, object_bytes),
            stats,
            failures: 0,
            retry_at: Instant::now(),
        }
    }

    pub async fn run(mut self, mut inbox: Inbox) {
        let s3 = shared::s3::client(self.client).await;
        while let Some(message) = inbox.0.recv().await {
            match message {
                Message::Batch(batch, space) => {
                    self.pending.push(batch, space);
                    // A full object goes out now, one attempt per object;
                    // after a failure, not before its backoff has passed.
                    if self.pending.has_sealed() && Instant::now() >= self.retry_at {
                        self.upload(&s3, None).await;
                    }
                }
                Message::Flush { deadline, done } => {
                    self.pending.seal();
                    self.upload(&s3, Some(deadline)).await;
                    let _ = done.send(self.pending.records());
                }
            }
        }
    }

    /// Uploads the sealed objects in order. With a deadline, failures are
    /// retried until just before it: the backoff starts again at its first
    /// step and never waits past half the time left, so an S3 that comes
    /// back late in a SHUTDOWN still gets the records. Without one, the
    /// first failure ends the round. Records of a failed object stay for
    /// the next round.
    async fn upload(&mut self, s3: &shared::s3::Client, deadline: Option<Instant>) {
        let mut retry_in = FIRST_BACKOFF;
        while let Some(object) = self.pending.next_sealed() {
            let attempt = put(s3, &self.bucket, object);
            let result = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, attempt)
                    .await
                    .unwrap_or_else(|_| Err("no answer before the flush deadline".into())),
                None => attempt.await,
            };
            match result {
                Ok(()) => {
                    let object = self.pending.uploaded().expect("the object just uploaded");
                    info!(
                        "uploaded s3://{}/{} ({} records)",
                        self.bucket, object.key, object.records
                    );
                    self.stats
                        .shipped
                        .fetch_add(object.records as u64, Ordering::Relaxed);
                    self.stats.objects.fetch_add(1, Ordering::Relaxed);
                    if self.failures > 0 {
                        info!(
                            "S3 accepts uploads again after {} failed attempts",
                            self.failures
                        );
                    }
                    self.failures = 0;
                    retry_in = FIRST_BACKOFF;
                }
                Err(error) => {
                    self.failures += 1;
                    let backoff = FIRST_BACKOFF
                        .saturating_mul(1 << self.failures.min(10))
                        .min(MAX_BACKOFF);
                    self.retry_at = Instant::now() + backoff;
                    warn!(
                        "upload to s3://{}/{} failed (attempt {}): {error}; its {} records are kept and retried",
                        self.bucket, object.key, self.failures, object.records
                    );
                    let Some(deadline) = deadline else { return };
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left < LAST_ATTEMPT_ROOM {
                        return;
                    }
                    tokio::time::sleep(retry_in.min(left / 2)).await;
                    retry_in = (retry_in * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

async fn put(s3: &shared::s3::Client, bucket: &str, object: &Object) -> Result<(), String> {
    let content_type = if object.key.ends_with(".gz") {
        "application/gzip"
    } else {
        "application/x-ndjson"
    };
    s3.put_object()
        .bucket(bucket)
        .key(&object.key)
        .content_type(content_type)
        .body(ByteStream::from(object.body.clone()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| hint(&shared::s3::describe(e)))
}

/// The SDK's message, with what to do about the usual causes.
fn hint(message: &str) -> String {
    let advice = if message.contains("NoSuchBucket") {
        "; check S3_BUCKET_NAME: the bucket does not exist"
    } else if message.contains("AccessDenied") {
        "; the function's role needs s3:PutObject on the bucket"
    } else if message.contains("dispatch failure") || message.contains("Connection refused") {
        "; S3 is unreachable from the function (VPC without an S3 endpoint, or AWS_ENDPOINT_URL_S3 wrong)"
    } else {
        ""
    };
    format!("{message}{advice}")
}
