//! An S3 client configured the way Lambda configures the SDK: region,
//! credentials and endpoint all come from the environment
//! (`AWS_REGION`, `AWS_ACCESS_KEY_ID`…, and `AWS_ENDPOINT_URL_S3` when an
//! S3-compatible endpoint stands in for Amazon S3, as in the sandbox).
//! Only the retry and timeout policy is the caller's choice.
//!
//! It reads only the two credential sources a Lambda environment has
//! rather than `aws_config`'s whole default chain (profiles, SSO, web
//! identity through STS, the EC2 instance metadata service): the chain's
//! code is linked into the binary whether it runs or not, and an
//! extension's size is paid at every cold start.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::config::Region;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use crate::config::Env;

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
    // same client and TLS stack in a binary megabytes smaller.
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    // Lambda gives an environment its role's credentials one of two ways:
    // as variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    // AWS_SESSION_TOKEN), or, with SnapStart, from a container endpoint
    // (AWS_CONTAINER_CREDENTIALS_FULL_URI and its authorization token),
    // re-read after each restore.
    let container = EcsCredentialsProvider::builder()
        .configure(&ProviderConfig::default().with_http_client(http_client.clone()))
        .build();
    let credentials = CredentialsProviderChain::first_try(
        "Environment",
        EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else("Container", container);
    let env = Env::process();
    let region = env
        .optional("AWS_REGION")
        .or_else(|| env.optional("AWS_DEFAULT_REGION"));
    let mut config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region.map(Region::new))
        .credentials_provider(credentials)
        .http_client(http_client)
        .retry_config(RetryConfig::standard().with_max_attempts(policy.max_attempts))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(policy.connect_timeout)
                .operation_attempt_timeout(policy.attempt_timeout)
                .build(),
        );
    if let Some(endpoint) = env
        .optional("AWS_ENDPOINT_URL_S3")
        .or_else(|| env.optional("AWS_ENDPOINT_URL"))
    {
        config = config.endpoint_url(endpoint);
    }
    Client::from_conf(config.build())
}

/// An SDK error with its whole chain of causes, which is where the useful
/// part ("connection refused", "NoSuchBucket") is.
pub fn describe<E: std::error::Error>(error: E) -> String {
    aws_sdk_s3::error::DisplayErrorContext(error).to_string()
}
