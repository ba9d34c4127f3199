//! An S3 client configured the way Lambda configures the SDK: region,
//! credentials and endpoint all come from the environment
//! (`AWS_REGION`, `AWS_ACCESS_KEY_ID`…, and `AWS_ENDPOINT_URL_S3` when an
//! S3-compatible endpoint stands in for Amazon S3, as in the sandbox).
//! Only the retry and timeout policy is the caller's choice.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

pub use aws_sdk_s3::Client;

/// How hard one call tries before the caller sees an error.
#[derive(Debug, Clone, Copy)]
pub struct CallPolicy {
    /// Attempts per call, including the first (1 = the caller retries).
    pub max_attempts: u32,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one attempt, connection included.
    pub attempt_timeout: Duration,
}

/// A client from the environment's configuration and `policy`.
pub async fn client(policy: CallPolicy) -> Client {
    // The SDK's default client runs rustls on aws-lc; on ring it is the
    // same client and TLS stack in a binary megabytes smaller, which an
    // extension's every cold start pays for. Set on the loader, it also
    // serves the credential providers (the container endpoint of SnapStart).
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .retry_config(RetryConfig::standard().with_max_attempts(policy.max_attempts))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(policy.connect_timeout)
                .operation_attempt_timeout(policy.attempt_timeout)
                .build(),
        )
        .load()
        .await;
    Client::new(&config)
}

/// An SDK error with its whole chain of causes, which is where the useful
/// part ("connection refused", "NoSuchBucket") is.
pub fn describe<E: std::error::Error>(error: E) -> String {
    aws_sdk_s3::error::DisplayErrorContext(error).to_string()
}
