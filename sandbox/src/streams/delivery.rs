//! Delivering the Logs and Telemetry streams to one subscriber
//! (docs/src/streams.md): a bounded buffer, batches cut by `maxItems`,
//! `maxBytes` and `timeoutMs`, one batch in flight, retries with capped
//! backoff for a listener that refuses, a deadline for one that does not
//! answer, drops counted and reported with `platform.logsDropped`, never
//! silently.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

use super::record::{Record, timestamp};
use crate::isolation::Network;

/// Which API the subscription came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Logs,
    Telemetry,
}

impl Api {
    pub fn name(self) -> &'static str {
        match self {
            Api::Logs => "Logs",
            Api::Telemetry => "Telemetry",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// POST of a JSON array to this loopback port and path.
    Http { port: u16, path: String },
    /// Newline-delimited JSON to this loopback port.
    Tcp { port: u16 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffering {
    pub max_items: usize,
    pub max_bytes: usize,
    pub timeout: Duration,
}

/// What a subscription asked for, once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub api: Api,
    pub schema_version: String,
    pub types: Vec<String>,
    pub buffering: Buffering,
    pub destination: Destination,
}

/// The record types the Logs API defines; its subscribers get nothing else,
/// because the official crate answers 400 to a batch with any other type.
const LOGS_API_PLATFORM_TYPES: &[&str] = &[
    "platform.start",
    "platform.end",
    "platform.report",
    "platform.fault",
    "platform.extension",
    "platform.logsSubscription",
    "platform.logsDropped",
];

#[derive(Default)]
struct Buffer {
    /// Serialized records, oldest first, with their sizes.
    items: VecDeque<String>,
    bytes: usize,
    /// When the oldest buffered record arrived: `timeoutMs` counts from it.
    oldest: Option<Instant>,
    /// Dropped and not yet told to the subscriber (in-band logsDropped).
    dropped_records: u64,
    dropped_bytes: u64,
    /// The part of those already reported in the journal.
    journaled_records: u64,
    journaled_bytes: u64,
}

/// A batch on its way: the lines to send, and how many of them are records
/// taken from the buffer (a `platform.logsDropped` line may lead them).
struct Batch {
    lines: Vec<String>,
    records: usize,
    bytes: usize,
}

/// How one delivery attempt ended.
enum Attempt {
    Delivered,
    /// Refused or unreachable: worth another try.
    Failed,
    /// No answer within the delivery timeout.
    TimedOut,
    /// The subscriber was stopped meanwhile.
    Stopped,
}

/// One subscriber: its buffer and its delivery task's controls.
pub struct Subscriber {
    pub extension: String,
    pub subscription: Subscription,
    /// Function and extension lines as JSON objects (Telemetry 2022-12-13
    /// and later, with the function's log format set to JSON).
    json_lines: bool,
    capacity_bytes: usize,
    /// How long one delivery may go unanswered, frozen time not counted.
    delivery_timeout: Duration,
    /// Whether the environment's processes are frozen: a frozen listener
    /// cannot answer, so its clock stops.
    frozen: watch::Receiver<bool>,
    network: Network,
    buffer: Mutex<Buffer>,
    changed: Notify,
    /// Wakes a delivery in progress when the subscriber is stopped.
    stopping: Notify,
    /// Records accepted before this count go out now, whatever the
    /// batching settings.
    flush_mark: AtomicU64,
    stopped: AtomicBool,
    /// Records taken into the buffer, and records that have left it
    /// (delivered, or dropped and counted): a flush waits for the second
    /// to reach what the first was when it began.
    accepted: AtomicU64,
    settled: AtomicU64,
    /// Records of the batch being delivered.
    in_flight: AtomicUsize,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("extension", &self.extension)
            .field("subscription", &self.subscription)
            .finish_non_exhaustive()
    }
}

/// Where a subscriber reports what it could not deliver: the journal, as
/// a `platform.logsDropped` record the other subscribers do not receive.
pub trait Reporter: Send + Sync {
    fn platform_unshared(&self, kind: &str, record: Value);
}

/// How a subscriber is delivered to, beside what it asked for.
pub struct DeliverySettings {
    /// The function's log format is JSON.
    pub json_format: bool,
    /// The buffer holds this many times `maxBytes`.
    pub buffer_factor: usize,
    pub delivery_timeout: Duration,
    pub frozen: watch::Receiver<bool>,
    /// Where the subscriber's listener is: the host's network or the
    /// environment's own.
    pub network: Network,
}

impl Subscriber {
    pub fn new(extension: String, subscription: Subscription, settings: DeliverySettings) -> Self {
        let json_lines = subscription.api == Api::Telemetry
            && settings.json_format
            && subscription.schema_version.as_str() >= "2022-12-13";
        let capacity_bytes = subscription.buffering.max_bytes * settings.buffer_factor.max(1);
        Subscriber {
            extension,
            subscription,
            json_lines,
            capacity_bytes,
            delivery_timeout: settings.delivery_timeout,
            frozen: settings.frozen,
            network: settings.network,
            buffer: Mutex::new(Buffer::default()),
            changed: Notify::new(),
            stopping: Notify::new(),
            flush_mark: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            accepted: AtomicU64::new(0),
            settled: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            task: Mutex::new(None),
        }
    }

    /// Starts delivering to the subscriber.
    pub fn start(self: &Arc<Self>, journal: Arc<dyn Reporter>) {
        let task = tokio::spawn(run(self.clone(), journal));
        *self.task.lock().unwrap() = Some(task);
    }

    /// Whether this subscriber receives records of `kind`.
    fn wants(&self, kind: &str) -> bool {
        let category = if kind.starts_with("platform.") {
            "platform"
        } else {
            kind
        };
        if !self.subscription.types.iter().any(|t| t == category) {
            return false;
        }
        match self.subscription.api {
            Api::Telemetry => true,
            Api::Logs => {
                category != "platform"
                    || LOGS_API_PLATFORM_TYPES.contains(&kind)
                    || (kind == "platform.runtimeDone"
                        && self.subscription.schema_version == "2021-03-18")
            }
        }
    }

    /// The record as this subscriber's API and schema present it.
    fn shape(&self, record: &Record) -> Vec<Value> {
        let envelope = |kind: &str, body: Value| json!({"time": timestamp(&record.time), "type": kind, "record": body});
        match (self.subscription.api, record.kind.as_str()) {
            // The Logs API closes each invocation with an END record.
            (Api::Logs, "platform.report") => vec![
                envelope(
                    "platform.end",
                    json!({"requestId": record.record["requestId"]}),
                ),
                envelope("platform.report", record.record.clone()),
            ],
            (_, "function" | "extension") if self.json_lines => {
                let line = record.record.as_str().unwrap_or_default();
                let body = match serde_json::from_str::<Value>(line) {
                    Ok(object @ Value::Object(_)) => object,
                    _ => json!({"timestamp": timestamp(&record.time), "message": line}),
                };
                vec![envelope(&record.kind, body)]
            }
            _ => vec![envelope(&record.kind, record.record.clone())],
        }
    }

    /// Takes a record from the journal, or counts it as dropped when the
    /// buffer is full.
    pub fn offer(&self, record: &Record) {
        if !self.wants(&record.kind) {
            return;
        }
        let mut buffer = self.buffer.lock().unwrap();
        for item in self.shape(record) {
            let text = item.to_string();
            if buffer.bytes + text.len() > self.capacity_bytes {
                buffer.dropped_records += 1;
                buffer.dropped_bytes += text.len() as u64;
                continue;
            }
            buffer.bytes += text.len();
            buffer.items.push_back(text);
            buffer.oldest.get_or_insert_with(Instant::now);
            self.accepted.fetch_add(1, Ordering::SeqCst);
        }
        drop(buffer);
        self.changed.notify_one();
    }

    /// Delivers everything buffered now, whatever the batching settings;
    /// returns a mark for [`Subscriber::settled_through`]. What arrives
    /// after the call goes out in the usual batches.
    pub fn request_flush(&self) -> u64 {
        let mark = self.accepted.load(Ordering::SeqCst);
        self.flush_mark.fetch_max(mark, Ordering::SeqCst);
        self.changed.notify_one();
        mark
    }

    /// Whether every record accepted before `mark` has been delivered, or
    /// dropped and counted.
    pub fn settled_through(&self, mark: u64) -> bool {
        self.settled.load(Ordering::SeqCst) >= mark
    }

    /// Stops delivery, ending a delivery in progress, and waits until the
    /// task has reported what it could not deliver.
    pub async fn stop(&self, journal: &dyn Reporter) {
        self.stopped.store(true, Ordering::SeqCst);
        self.changed.notify_one();
        self.stopping.notify_waiters();
        let task = self.task.lock().unwrap().take();
        if let Some(mut task) = task
            && tokio::time::timeout(Duration::from_secs(1), &mut task)
                .await
                .is_err()
        {
            // Only a task that ignores its stop gets here; say what it held.
            task.abort();
            let in_flight = self.in_flight.swap(0, Ordering::SeqCst);
            report_undelivered_to(self, journal, in_flight);
        }
    }

    /// The next batch, when one is due: full, old enough, or flushed.
    fn due_batch(&self) -> Result<Batch, Option<Instant>> {
        let buffering = self.subscription.buffering;
        let mut buffer = self.buffer.lock().unwrap();
        let Some(oldest) = buffer.oldest else {
            return Err(None);
        };
        let due_at = oldest + buffering.timeout;
        let flushing = self.settled.load(Ordering::SeqCst) < self.flush_mark.load(Ordering::SeqCst);
        let due = buffer.items.len() >= buffering.max_items
            || buffer.bytes >= buffering.max_bytes
            || Instant::now() >= due_at
            || flushing;
        if !due {
            return Err(Some(due_at));
        }
        let mut batch = Vec::new();
        if buffer.dropped_records > 0 {
            let dropped = json!({
                "time": timestamp(&chrono::Utc::now()),
                "type": "platform.logsDropped",
                "record": {
                    "reason": "Some logs were dropped because the downstream consumer is slower than the logs production rate",
                    "droppedRecords": buffer.dropped_records,
                    "droppedBytes": buffer.dropped_bytes,
                },
            });
            batch.push(dropped.to_string());
            buffer.dropped_records = 0;
            buffer.dropped_bytes = 0;
            buffer.journaled_records = 0;
            buffer.journaled_bytes = 0;
        }
        let mut bytes = 0;
        let mut records = 0;
        while let Some(next) = buffer.items.front() {
            if !batch.is_empty()
                && (batch.len() >= buffering.max_items || bytes + next.len() > buffering.max_bytes)
            {
                break;
            }
            bytes += next.len();
            buffer.bytes -= next.len();
            batch.push(buffer.items.pop_front().expect("front exists"));
            records += 1;
        }
        buffer.oldest = (!buffer.items.is_empty()).then(Instant::now);
        self.in_flight.store(records, Ordering::SeqCst);
        Ok(Batch {
            lines: batch,
            records,
            bytes,
        })
    }

    /// The batch has left the buffer for good.
    fn settle(&self, batch: &Batch) {
        self.in_flight.store(0, Ordering::SeqCst);
        self.settled
            .fetch_add(batch.records as u64, Ordering::SeqCst);
    }

    /// Runs one delivery attempt until it ends, the subscriber is stopped,
    /// or it has gone `delivery_timeout` unanswered while the environment
    /// was running. A freeze restarts the clock.
    async fn attempt(&self, send: impl std::future::Future<Output = bool>) -> Attempt {
        tokio::pin!(send);
        let mut frozen = self.frozen.clone();
        let mut watching = true;
        loop {
            let stopping = self.stopping.notified();
            tokio::pin!(stopping);
            stopping.as_mut().enable();
            if self.stopped.load(Ordering::SeqCst) {
                return Attempt::Stopped;
            }
            let is_frozen = *frozen.borrow_and_update();
            tokio::select! {
                sent = &mut send => return if sent { Attempt::Delivered } else { Attempt::Failed },
                () = &mut stopping => return Attempt::Stopped,
                () = tokio::time::sleep(self.delivery_timeout), if !is_frozen => return Attempt::TimedOut,
                changed = frozen.changed(), if watching => watching = changed.is_ok(),
            }
        }
    }
}

/// Runs until the subscriber is stopped, then reports what it could not deliver.
async fn run(subscriber: Arc<Subscriber>, journal: Arc<dyn Reporter>) {
    // One connection each, kept alive between batches as Lambda's is.
    let mut http: Option<SendRequest<Full<Bytes>>> = None;
    let mut tcp: Option<TcpStream> = None;
    loop {
        let batch = loop {
            let notified = subscriber.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if subscriber.stopped.load(Ordering::SeqCst) {
                return report_undelivered_to(&subscriber, &*journal, 0);
            }
            match subscriber.due_batch() {
                Ok(batch) => break batch,
                Err(None) => notified.await,
                Err(Some(due_at)) => {
                    let _ = tokio::time::timeout_at(due_at.into(), notified).await;
                }
            }
        };
        let mut backoff = Duration::from_millis(25);
        loop {
            let send = async {
                match &subscriber.subscription.destination {
                    Destination::Http { port, path } => {
                        post(&subscriber.network, &mut http, *port, path, &batch.lines).await
                    }
                    Destination::Tcp { port } => {
                        write_lines(&subscriber.network, &mut tcp, *port, &batch.lines).await
                    }
                }
            };
            match subscriber.attempt(send).await {
                Attempt::Delivered => break,
                Attempt::Stopped => {
                    subscriber.in_flight.store(0, Ordering::SeqCst);
                    return report_undelivered_to(&subscriber, &*journal, batch.records);
                }
                Attempt::TimedOut => {
                    // The listener may be working on it still; sending it
                    // again could deliver it twice. Count it as dropped.
                    http = None;
                    tcp = None;
                    journal.platform_unshared(
                        "platform.logsDropped",
                        json!({
                            "reason": format!(
                                "{} subscriber {} did not answer a delivery within {} ms",
                                subscriber.subscription.api.name(),
                                subscriber.extension,
                                subscriber.delivery_timeout.as_millis()
                            ),
                            "droppedRecords": batch.records,
                            "droppedBytes": batch.bytes,
                        }),
                    );
                    let mut buffer = subscriber.buffer.lock().unwrap();
                    buffer.dropped_records += batch.records as u64;
                    buffer.dropped_bytes += batch.bytes as u64;
                    buffer.journaled_records += batch.records as u64;
                    buffer.journaled_bytes += batch.bytes as u64;
                    break;
                }
                Attempt::Failed => {
                    // The listener is absent or failing: try again, a little later each time.
                    let _ = tokio::time::timeout(backoff, subscriber.stopping.notified()).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
        subscriber.settle(&batch);
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn post(
    network: &Network,
    connection: &mut Option<SendRequest<Full<Bytes>>>,
    port: u16,
    path: &str,
    batch: &[String],
) -> bool {
    let request = hyper::Request::post(path)
        .header("host", format!("sandbox.localdomain:{port}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(format!("[{}]", batch.join(",")))));
    let Ok(mut request) = request else {
        return false;
    };
    // A kept-alive connection the listener has closed since is found out
    // before the request leaves: it then goes on a new one, once.
    for fresh in [false, true] {
        let ready = match connection.as_mut() {
            Some(sender) if !fresh => sender.ready().await.is_ok(),
            _ => false,
        };
        if !ready {
            *connection = open_http(network, port).await;
        }
        let Some(sender) = connection.as_mut() else {
            return false;
        };
        match sender.try_send_request(request).await {
            Ok(response) => {
                let keep_alive = response.version() == hyper::Version::HTTP_11
                    && !response
                        .headers()
                        .get(hyper::header::CONNECTION)
                        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                let delivered =
                    response.status().is_success() && response.into_body().collect().await.is_ok();
                if !keep_alive || !delivered {
                    *connection = None;
                }
                return delivered;
            }
            Err(mut unsent) => {
                *connection = None;
                match unsent.take_message() {
                    Some(again) => request = again,
                    None => return false,
                }
            }
        }
    }
    false
}

/// An HTTP/1.1 connection to the subscriber's listener.
async fn open_http(network: &Network, port: u16) -> Option<SendRequest<Full<Bytes>>> {
    let stream = network.connect(loopback(port)).await.ok()?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    // Ends by itself when the listener closes or the sender is dropped.
    tokio::spawn(connection);
    Some(sender)
}

async fn write_lines(
    network: &Network,
    connection: &mut Option<TcpStream>,
    port: u16,
    batch: &[String],
) -> bool {
    if connection.is_none() {
        *connection = network.connect(loopback(port)).await.ok();
    }
    let Some(stream) = connection.as_mut() else {
        return false;
    };
    let mut text = batch.join("\n");
    text.push('\n');
    if stream.write_all(text.as_bytes()).await.is_ok() {
        true
    } else {
        *connection = None;
        false
    }
}

/// Records still buffered when the subscriber stops are lost to it: say so.
fn report_undelivered_to(subscriber: &Subscriber, journal: &dyn Reporter, in_flight: usize) {
    // Counted first: the journal must not be entered with the buffer locked.
    let (records, bytes) = {
        let mut buffer = subscriber.buffer.lock().unwrap();
        let counted = (
            buffer.items.len()
                + in_flight
                + (buffer.dropped_records - buffer.journaled_records) as usize,
            buffer.bytes as u64 + buffer.dropped_bytes - buffer.journaled_bytes,
        );
        *buffer = Buffer::default();
        counted
    };
    if records > 0 {
        journal.platform_unshared(
            "platform.logsDropped",
            json!({
                "reason": format!(
                    "{} subscriber {} stopped before these records could be delivered",
                    subscriber.subscription.api.name(),
                    subscriber.extension
                ),
                "droppedRecords": records,
                "droppedBytes": bytes,
            }),
        );
    }
}
