//! `InvokeWithResponseStream` through `serve`, read by the real AWS SDK
//! client: a large stream arrives whole, one past Lambda's 200 MB is cut
//! with its error, and a function error is named in `InvokeComplete`.

mod support;

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvokeWithResponseStreamResponseEvent as Event;
use lambda_sandbox::{Config, Environment, Package, invoke_api};
use support::fixture;

const MIB: usize = 1024 * 1024;

/// What the SDK read: the streamed bytes, and `InvokeComplete`'s error code.
struct Read {
    bytes: usize,
    only_x: bool,
    error_code: Option<String>,
    content_type: Option<String>,
}

async fn stream(bootstrap: &str, payload: &str) -> Read {
    let package = Package::temporary("invoke-stream").unwrap();
    package.bootstrap(&fixture(bootstrap)).unwrap();
    let env = Environment::start(Config {
        timeout: Duration::from_secs(120),
        ..package.config()
    })
    .await
    .unwrap();
    let api = invoke_api::serve(env.clone(), "127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "sandbox", "sandbox", None, None, "tests",
        ))
        .endpoint_url(format!("http://{}", api.addr))
        .load()
        .await;
    let client = aws_sdk_lambda::Client::new(&sdk);
    let mut output = client
        .invoke_with_response_stream()
        .function_name(&env.config().function_name)
        .payload(Blob::new(payload))
        .send()
        .await
        .expect("the SDK reads the answer");
    let mut read = Read {
        bytes: 0,
        only_x: true,
        error_code: None,
        content_type: output.response_stream_content_type().map(str::to_string),
    };
    let mut completed = false;
    while let Some(event) = output
        .event_stream
        .recv()
        .await
        .expect("well-formed events")
    {
        match event {
            Event::PayloadChunk(chunk) => {
                let bytes = chunk.payload().map(|b| b.as_ref()).unwrap_or_default();
                read.bytes += bytes.len();
                read.only_x &= bytes.iter().all(|b| *b == b'x');
            }
            Event::InvokeComplete(complete) => {
                read.error_code = complete.error_code().map(str::to_string);
                completed = true;
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert!(completed, "the stream ends with InvokeComplete");
    env.shutdown().await;
    read
}

#[tokio::test]
async fn a_150_mb_stream_arrives_whole_through_the_sdk() {
    let read = stream("stream_function", &format!(r#"{{"bytes":{}}}"#, 150 * MIB)).await;
    assert_eq!(read.bytes, 150 * MIB);
    assert!(read.only_x);
    assert_eq!(read.error_code, None);
    // The prelude's content type, the Rust runtime's default.
    assert_eq!(
        read.content_type.as_deref(),
        Some("application/octet-stream")
    );
}

#[tokio::test]
async fn a_stream_past_200_mb_is_cut_with_the_size_error() {
    let read = stream("stream_function", &format!(r#"{{"bytes":{}}}"#, 201 * MIB)).await;
    assert_eq!(read.bytes, 0);
    assert_eq!(
        read.error_code.as_deref(),
        Some("Function.ResponseSizeTooLarge")
    );
}

#[tokio::test]
async fn a_function_error_is_named_in_invoke_complete() {
    let read = stream("echo_function", r#"{"fail":"boom"}"#).await;
    assert_eq!(read.bytes, 0);
    assert!(read.error_code.is_some_and(|code| !code.is_empty()));
}
