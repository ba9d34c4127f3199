//! An external extension that ships the function's logs to S3.
//!
//! Lambda launches it from `/opt/extensions/s3-log-shipper` before the
//! runtime. During Init it registers for INVOKE and SHUTDOWN, starts an HTTP
//! listener and subscribes it to the Telemetry API (or the Logs API) for
//! `platform` and `function` records. The platform then POSTs batches of
//! records to the listener; the shipper writes them to
//! `s3://$S3_BUCKET_NAME/...` as NDJSON objects, flushing after an invoke
//! (see `lifecycle`) and on SHUTDOWN. On Lambda Managed Instances, where no
//! INVOKE event comes, it registers for SHUTDOWN alone, subscribes with the
//! Telemetry schema those require, and uploads on a timer.

mod lifecycle;
mod listener;
mod objects;
mod records;
mod settings;
mod shipper;
mod subscription;

use std::sync::Arc;

use lambda_extension::{Error, Extension, LambdaEvent, service_fn};
use lambda_runtime_api_client::PooledClient;
use shared::config::Env;
use tokio::net::TcpListener;
use tracing::info;

use crate::lifecycle::Lifecycle;
use crate::objects::Naming;
use crate::settings::Settings;
use crate::shipper::Shipper;

// One thread: the extension mostly waits, and the function pays for its
// memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    give_back_freed_buffers();
    shared::logging::init();
    let env = Env::process();
    // On Lambda Managed Instances an extension may register for SHUTDOWN
    // alone, and only the Telemetry API is offered (see `lifecycle`).
    let managed = env.managed_instances();
    let events: &[&str] = if managed {
        &["SHUTDOWN"]
    } else {
        &["INVOKE", "SHUTDOWN"]
    };
    let settings = match Settings::from_env(&env) {
        Ok(settings) => settings,
        Err(e) => return fail_init(events, "Extension.ConfigError", &e.to_string()).await,
    };
    if managed && settings.api == settings::Api::Logs {
        let message = "SHIPPER_API=logs: Lambda Managed Instances offer no Logs API; \
                       set SHIPPER_API=telemetry (or leave it unset)";
        return fail_init(events, "Extension.ConfigError", message).await;
    }
    // Bound before registering, so a port clash fails Init with a message
    // instead of a listener that silently never receives anything. Loopback
    // only: the platform delivers to sandbox.localdomain, which is this
    // machine, and no one else may post records into the bucket.
    let listener = match TcpListener::bind(("127.0.0.1", settings.port)).await {
        Ok(listener) => listener,
        Err(e) => {
            let message = format!(
                "cannot listen on port {}: {e}; set SHIPPER_LISTENER_PORT to a free port (each extension of a function needs its own)",
                settings.port
            );
            return fail_init(events, "Extension.ListenerError", &message).await;
        }
    };

    let (handle, inbox) = shipper::channel(settings.buffer_bytes);
    let lifecycle = Arc::new(Lifecycle::new(
        handle.clone(),
        settings.flush_interval,
        settings.flush_timeout,
    ));
    let timer_lifecycle = lifecycle.clone();
    let processor = service_fn(move |event: LambdaEvent| {
        let lifecycle = lifecycle.clone();
        async move { lifecycle.on_event(event).await }
    });
    let registered = Extension::new()
        .with_events(events)
        .with_events_processor(processor)
        .register()
        .await?;

    tokio::spawn(listener::serve(listener, handle.clone()));
    let client = PooledClient::builder().build();
    if let Err(message) =
        subscription::subscribe(&client, &registered.extension_id, &settings, managed).await
    {
        let message = format!("the subscription failed: {message}");
        subscription::report_init_error(
            &client,
            &registered.extension_id,
            "Extension.SubscriptionError",
            &message,
        )
        .await;
        return Err(message.into());
    }
    let naming = Naming {
        prefix: settings.key_prefix.clone(),
        function: registered.function_name.clone(),
        instance: registered
            .extension_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect(),
        gzip: settings.gzip,
    };
    info!(
        "shipping {:?} platform and function records to s3://{}/{}",
        settings.api,
        settings.bucket,
        naming.key_pattern()
    );
    let shipper = Shipper::new(
        settings.bucket,
        naming,
        settings.object_bytes,
        handle.stats.clone(),
    );
    tokio::spawn(shipper.run(inbox));
    if managed {
        // No INVOKE events to flush after: objects are cut on a timer.
        info!(
            "on Lambda Managed Instances: SHUTDOWN only, uploads every {} ms",
            settings.flush_interval.as_millis()
        );
        tokio::spawn(timer_lifecycle.flush_on_timer());
    }
    registered.run().await
}

/// glibc's malloc raises its mmap threshold each time a large block is
/// freed, so later deliveries and objects come from the heap, whose pages
/// stay with the process once freed: the function would pay for the largest
/// flush for the rest of the environment's life. A fixed threshold keeps
/// every block of 128 KiB or more in a mapping of its own, given back when
/// freed; one arena, as one thread allocates.
fn give_back_freed_buffers() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes malloc's settings; it is called before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Registers only to report why Init cannot go on, then exits: the platform
/// fails Init with `error_type` and shows `message` in the function's logs.
async fn fail_init(events: &[&str], error_type: &str, message: &str) -> Result<(), Error> {
    eprintln!("s3-log-shipper: {message}");
    let registered = Extension::new().with_events(events).register().await?;
    let client = PooledClient::builder().build();
    subscription::report_init_error(&client, &registered.extension_id, error_type, message).await;
    Err(message.into())
}
