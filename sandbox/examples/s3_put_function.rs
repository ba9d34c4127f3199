//! Test fixture: a `lambda_runtime` function that writes its event to S3
//! with the AWS SDK's default configuration, exactly as it would on Lambda.
//! The event names the bucket and key: `{"bucket","key","body"}`.

use aws_config::BehaviorVersion;
use aws_sdk_s3::primitives::ByteStream;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let s3 = &aws_sdk_s3::Client::new(&config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let field = |name: &str| event.payload[name].as_str().unwrap_or_default().to_string();
        s3.put_object()
            .bucket(field("bucket"))
            .key(field("key"))
            .body(ByteStream::from(field("body").into_bytes()))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "put_object failed: {}",
                    aws_sdk_s3::error::DisplayErrorContext(e)
                )
            })?;
        Ok::<Value, Error>(json!({"written": format!("{}/{}", field("bucket"), field("key"))}))
    }))
    .await
}
