//! The one HTTP/1.1 endpoint of the environment: the Runtime API
//! (`runtime`), the Extensions API (`extensions`) and the Logs and Telemetry
//! subscriptions (`subscriptions`) under their version prefixes, on
//! loopback. What they share, errors and bounded bodies, is in `http`.

pub mod credentials;
pub mod extensions;
pub mod http;
pub mod response_stream;
pub mod runtime;
pub mod runtime_concurrent;
pub mod runtime_restore;
pub mod subscriptions;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post, put};

use crate::state::Shared;
use http::ApiError;

pub fn router(shared: Arc<Shared>) -> Router {
    let routes = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(runtime::next))
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/response",
            post(runtime::response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/error",
            post(runtime::error),
        )
        .route("/2018-06-01/runtime/init/error", post(runtime::init_error))
        .route("/2020-01-01/extension/register", post(extensions::register))
        .route("/2020-01-01/extension/event/next", get(extensions::next))
        .route(
            "/2020-01-01/extension/init/error",
            post(extensions::init_error),
        )
        .route(
            "/2020-01-01/extension/exit/error",
            post(extensions::exit_error),
        )
        .route("/2020-08-15/logs", put(subscriptions::logs))
        .route("/2022-07-01/telemetry", put(subscriptions::telemetry));
    // The restore endpoints and the credentials exist only with SnapStart.
    let routes = if shared.config.snapstart() {
        routes
            .route(
                "/2018-06-01/runtime/restore/next",
                get(runtime_restore::next),
            )
            .route(
                "/2018-06-01/runtime/restore/error",
                post(runtime_restore::error),
            )
            .route("/2021-04-23/credentials", get(credentials::get))
    } else {
        routes
    };
    routes
        .fallback(not_found)
        // Every handler reads its body with its own limit (`LimitedBody`).
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

/// Binds the endpoint (an ephemeral loopback port unless one is given) and
/// serves it in the background.
pub async fn serve(
    shared: Arc<Shared>,
    addr: Option<SocketAddr>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let addr = addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(shared);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        // Long polls answer with small bodies; Nagle would add 40 ms to each.
        let _ = tcp.set_nodelay(true);
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((local, task))
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        "no such API route: the Runtime API lives under /2018-06-01 and the Extensions API under /2020-01-01",
    )
}
