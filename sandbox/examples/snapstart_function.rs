//! Test fixture: a SnapStart function on the official `lambda_runtime` crate.
//!
//! Init draws an id; an after-restore hook (a `SnapStartResource`) draws
//! another, as code must for a value no two restored environments may
//! share. Each answer names both ids and the session token the AWS SDK's
//! default credentials chain found, so tests can see what each restore
//! changed. `SNAPSTART_HOOK` drives the hook: `fail` makes it fail,
//! `sleep:MS` makes it take that long.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::ProvideCredentials;
use lambda_runtime::{BoxFuture, Error, LambdaEvent, Runtime, SnapStartResource, service_fn};
use serde_json::{Value, json};

/// What the hook refreshes: an id of this environment's own.
#[derive(Default)]
struct RestoreId(Mutex<Option<String>>);

impl SnapStartResource for RestoreId {
    fn after_restore(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            let hook = std::env::var("SNAPSTART_HOOK").unwrap_or_default();
            if hook == "fail" {
                return Err("the after-restore hook was told to fail".into());
            }
            if let Some(ms) = hook.strip_prefix("sleep:").and_then(|ms| ms.parse().ok()) {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            let id = uuid::Uuid::new_v4().to_string();
            println!("after restore: environment id {id}");
            *self.0.lock().unwrap() = Some(id);
            Ok(())
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let init_id = uuid::Uuid::new_v4().to_string();
    println!("init: id {init_id}");
    let restore_id = Arc::new(RestoreId::default());
    let answers = restore_id.clone();
    Runtime::new(service_fn(move |event: LambdaEvent<Value>| {
        let init_id = init_id.clone();
        let restore_id = answers.0.lock().unwrap().clone();
        async move { handler(event, init_id, restore_id).await }
    }))
    .register_snapstart_resource(restore_id)
    .run()
    .await
}

async fn handler(
    event: LambdaEvent<Value>,
    init_id: String,
    restore_id: Option<String>,
) -> Result<Value, Error> {
    // Loaded for each invocation, so that no cache hides a rotation.
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let token = match config.credentials_provider() {
        Some(provider) => match provider.provide_credentials().await {
            Ok(credentials) => json!(credentials.session_token()),
            Err(err) => json!(format!("no credentials: {err}")),
        },
        None => Value::Null,
    };
    Ok(json!({
        "requestId": event.context.request_id,
        "initId": init_id,
        "restoreId": restore_id,
        "sessionToken": token,
    }))
}
