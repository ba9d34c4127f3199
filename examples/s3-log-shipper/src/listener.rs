//! The HTTP listener the platform delivers the stream to.
//!
//! It does as little as possible: read the body, split it into records,
//! hand them to the shipper, answer. It answers 200 to every delivery that
//! is a JSON array, whatever the records in it, because every record can be
//! stored as a line; the official crate's listener answers 400 to a whole
//! delivery when one record has a type it does not know.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::warn;

use crate::records;
use crate::shipper::Handle;

/// Larger than any delivery: one is at most twice `maxBytes` (1 MiB at most)
/// plus the envelope.
const MAX_DELIVERY_BYTES: usize = 4 << 20;

/// How much of a delivery hyper reads ahead before handing it over: each
/// piece is copied out and freed at once (see `read_body`), so a small
/// buffer costs a few more reads and saves the function the rest.
const READ_BUFFER_BYTES: usize = 64 << 10;

/// Accepts deliveries until the process ends.
pub async fn serve(listener: TcpListener, handle: Handle) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let _ = socket.set_nodelay(true);
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| receive(handle.clone(), request));
            let _ = hyper::server::conn::http1::Builder::new()
                .max_buf_size(READ_BUFFER_BYTES)
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
    }
}

async fn receive(
    handle: Handle,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() != Method::POST {
        return Ok(answer(
            StatusCode::METHOD_NOT_ALLOWED,
            "deliveries are POST requests",
        ));
    }
    let body = match read_body(request.into_body()).await {
        Ok(body) => body,
        Err(error) => {
            warn!("could not read a delivery: {error}");
            return Ok(answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                "a delivery must be at most 4 MiB",
            ));
        }
    };
    match records::parse(body) {
        Ok(batch) => {
            handle.deliver(batch).await;
            Ok(answer(StatusCode::OK, "OK"))
        }
        Err(error) => {
            // Nothing in it can be stored as a record: say why, loudly.
            let message = format!("a delivery is not a JSON array of records: {error}");
            warn!("{message}");
            Ok(answer(StatusCode::BAD_REQUEST, &message))
        }
    }
}

/// The whole body in one buffer of its announced size: the pieces are
/// copied in as they arrive instead of being kept until the end and then
/// joined, which would hold the delivery twice.
async fn read_body(body: Incoming) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    let announced = body.size_hint().lower() as usize;
    let mut body = Limited::new(body, MAX_DELIVERY_BYTES);
    let mut bytes = Vec::with_capacity(announced.min(MAX_DELIVERY_BYTES));
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

fn answer(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(text.as_bytes())));
    *response.status_mut() = status;
    response
}
