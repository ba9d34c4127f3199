//! The benchmark's floor: the smallest responder that serves the HTTP
//! exchanges of one invoke as the sandbox does (the caller's POST to the
//! Invoke API, the runtime's `next` and `response`, each extension's
//! `register` and `next`) and nothing else: no records, no log capture, no
//! freeze, no checks, no timeouts. The bench runs it as a process, like the
//! tools it compares, on the same function and client; the sandbox's time
//! above it is what the sandbox itself costs per invoke.
//!
//! `runtime_api_floor ADDR EXTENSIONS` serves the Runtime, Extensions and
//! Invoke APIs on ADDR and, as Lambda, hands each event out only once the
//! runtime and EXTENSIONS registered extensions wait at their `next`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:floor";

#[derive(Clone)]
struct Event {
    id: String,
    deadline_ms: u128,
    body: Bytes,
}

#[derive(Default)]
struct Waiting {
    runtime: Option<oneshot::Sender<Event>>,
    extensions: Vec<oneshot::Sender<Event>>,
    caller: Option<oneshot::Sender<Bytes>>,
    registered: usize,
    sequence: u64,
}

struct Floor {
    waiting: Mutex<Waiting>,
    /// Someone came to wait at a `next`.
    arrived: Notify,
    extensions: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(extensions)) = (args.next(), args.next()) else {
        eprintln!("usage: runtime_api_floor ADDR EXTENSIONS");
        std::process::exit(2);
    };
    let floor = Arc::new(Floor {
        waiting: Mutex::default(),
        arrived: Notify::new(),
        extensions: extensions.parse().expect("EXTENSIONS is a number"),
    });
    let listener = TcpListener::bind(&addr).await.expect("ADDR is free");
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let _ = socket.set_nodelay(true);
        let floor = floor.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(floor.clone(), request));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
    }
}

async fn answer(
    floor: Arc<Floor>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    let post = request.method() == Method::POST;
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Ok(if post && path.ends_with("/extension/register") {
        let id = {
            let mut waiting = floor.waiting.lock().unwrap();
            waiting.registered += 1;
            waiting.registered
        };
        Response::builder()
            .header("lambda-extension-identifier", format!("floor-{id}"))
            .body(Full::new(Bytes::from_static(
                br#"{"functionName":"floor","functionVersion":"$LATEST","handler":"bootstrap"}"#,
            )))
            .unwrap()
    } else if path.ends_with("/extension/event/next") {
        match wait_at_next(&floor, false).await {
            Some(event) => ok(Bytes::from(format!(
                r#"{{"eventType":"INVOKE","deadlineMs":{},"requestId":"{}","invokedFunctionArn":"{ARN}","tracing":{{"type":"X-Amzn-Trace-Id","value":"Root=1-00000000-000000000000000000000000"}}}}"#,
                event.deadline_ms, event.id
            ))),
            None => status(StatusCode::INTERNAL_SERVER_ERROR),
        }
    } else if path.ends_with("/runtime/invocation/next") {
        match wait_at_next(&floor, true).await {
            Some(event) => Response::builder()
                .header("lambda-runtime-aws-request-id", &event.id)
                .header("lambda-runtime-deadline-ms", event.deadline_ms.to_string())
                .header("lambda-runtime-invoked-function-arn", ARN)
                .header(
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000",
                )
                .body(Full::new(event.body))
                .unwrap(),
            None => status(StatusCode::INTERNAL_SERVER_ERROR),
        }
    } else if post && (path.ends_with("/response") || path.ends_with("/error")) {
        if let Some(caller) = floor.waiting.lock().unwrap().caller.take() {
            let _ = caller.send(body);
        }
        status(StatusCode::ACCEPTED)
    } else if post && path.ends_with("/invocations") {
        ok(invoke(&floor, body).await)
    } else {
        status(StatusCode::NOT_FOUND)
    })
}

/// Parks a `next` until the invoke hands it the event.
async fn wait_at_next(floor: &Floor, runtime: bool) -> Option<Event> {
    let (tx, rx) = oneshot::channel();
    {
        let mut waiting = floor.waiting.lock().unwrap();
        if runtime {
            waiting.runtime = Some(tx);
        } else {
            waiting.extensions.push(tx);
        }
    }
    floor.arrived.notify_one();
    rx.await.ok()
}

/// Waits for the runtime and every extension to be at their `next`, hands
/// them the event and returns the runtime's answer.
async fn invoke(floor: &Floor, body: Bytes) -> Bytes {
    let (caller, answer) = oneshot::channel();
    loop {
        {
            let mut waiting = floor.waiting.lock().unwrap();
            if waiting.runtime.is_some() && waiting.extensions.len() >= floor.extensions {
                waiting.sequence += 1;
                let deadline_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis()
                    + 3000;
                let event = Event {
                    id: format!("floor-{}", waiting.sequence),
                    deadline_ms,
                    body,
                };
                waiting.caller = Some(caller);
                for extension in waiting.extensions.drain(..) {
                    let _ = extension.send(event.clone());
                }
                let runtime = waiting.runtime.take().expect("checked above");
                let _ = runtime.send(event);
                break;
            }
        }
        floor.arrived.notified().await;
    }
    answer.await.unwrap_or_default()
}

fn ok(body: Bytes) -> Response<Full<Bytes>> {
    Response::new(Full::new(body))
}

fn status(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
