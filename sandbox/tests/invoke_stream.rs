//! `InvokeWithResponseStream` through `serve`, read by the real AWS SDK
//! client: a large stream arrives whole, one past Lambda's 200 MB is cut
//! with its error, a function error is named in `InvokeComplete`, the
//! chunks reach the caller as the function writes them, shaping holds them
//! to the rate, and another runtime's binary stream passes untouched.

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
    /// What the first chunk held, byte for byte.
    first_chunk: Vec<u8>,
    error_code: Option<String>,
    content_type: Option<String>,
    request_id: Option<String>,
}

/// A client of `serve`'s Invoke API: the real AWS SDK.
struct Caller {
    client: aws_sdk_lambda::Client,
    api: invoke_api::InvokeApi,
    env: Environment,
}

impl Caller {
    async fn new(config: Config) -> Caller {
        let env = Environment::start(Config {
            timeout: Duration::from_secs(120),
            ..config
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
        Caller {
            client: aws_sdk_lambda::Client::new(&sdk),
            api,
            env,
        }
    }

    /// Streams an invocation; `on_first_chunk` runs when the first chunk
    /// has arrived.
    async fn stream(&self, payload: &str, on_first_chunk: impl FnOnce()) -> Read {
        let mut output = self
            .client
            .invoke_with_response_stream()
            .function_name(&self.env.config().function_name)
            .payload(Blob::new(payload))
            .send()
            .await
            .expect("the SDK reads the answer");
        let mut read = Read {
            bytes: 0,
            only_x: true,
            first_chunk: Vec::new(),
            error_code: None,
            content_type: output.response_stream_content_type().map(str::to_string),
            request_id: aws_sdk_lambda::operation::RequestId::request_id(&output)
                .map(str::to_string),
        };
        let mut on_first_chunk = Some(on_first_chunk);
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
                    if let Some(first) = on_first_chunk.take() {
                        read.first_chunk = bytes.to_vec();
                        first();
                    }
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
        read
    }

    async fn stop(self) {
        self.api.stop().await;
        self.env.shutdown().await;
    }
}

async fn stream(bootstrap: &str, payload: &str) -> Read {
    let package = Package::temporary("invoke-stream").unwrap();
    package.bootstrap(&fixture(bootstrap)).unwrap();
    let caller = Caller::new(package.config()).await;
    let read = caller.stream(payload, || {}).await;
    caller.stop().await;
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
    // What came before the cap reached the caller; then the error.
    assert!(
        read.bytes > 150 * MIB && read.bytes <= 200 * MIB,
        "{} bytes",
        read.bytes
    );
    assert_eq!(
        read.error_code.as_deref(),
        Some("Function.ResponseSizeTooLarge")
    );
}

#[tokio::test]
async fn the_first_chunk_reaches_the_caller_while_the_function_still_writes() {
    // The function sends one chunk, then waits for the caller to have it.
    let package = Package::temporary("invoke-stream-gate").unwrap();
    package.bootstrap(&fixture("stream_function")).unwrap();
    let gate = package.root().join("first-chunk-arrived");
    let caller = Caller::new(support::on_host_folders(package.config())).await;
    let payload = format!(
        r#"{{"bytes":{},"gate":{}}}"#,
        3 * MIB,
        serde_json::Value::from(gate.display().to_string())
    );
    let read = caller
        .stream(&payload, || std::fs::write(&gate, b"").unwrap())
        .await;
    // A sandbox that gathered the stream first would never open the gate,
    // and the function would stop after its first chunk.
    assert_eq!(read.bytes, 3 * MIB);
    assert!(read.request_id.is_some_and(|id| !id.is_empty()));
    caller.stop().await;
}

#[tokio::test]
async fn with_shaping_a_stream_past_the_burst_goes_at_the_rate() {
    let package = Package::temporary("invoke-stream-shaped").unwrap();
    package.bootstrap(&fixture("stream_function")).unwrap();
    let caller = Caller::new(Config {
        stream_shaping: Some(lambda_sandbox::config::StreamShaping {
            burst_bytes: MIB,
            bytes_per_second: 4 * MIB,
        }),
        ..package.config()
    })
    .await;
    let started = std::time::Instant::now();
    let read = caller
        .stream(&format!(r#"{{"bytes":{}}}"#, 3 * MIB), || {})
        .await;
    let elapsed = started.elapsed();
    assert_eq!(read.bytes, 3 * MIB);
    // 1 MiB at once, the other 2 MiB at 4 MiB a second: half a second at least.
    assert!(elapsed >= Duration::from_millis(480), "{elapsed:?}");
    caller.stop().await;
}

/// A runtime that is the test itself streams a binary response that is not
/// an HTTP-integration one, NUL bytes and all, as a runtime in another
/// language would.
#[tokio::test]
async fn a_binary_stream_from_another_runtime_passes_untouched() {
    let raw = support::raw_runtime(Duration::from_secs(10), |_| {}).await;
    let api_addr = raw.addr;
    let next = tokio::spawn(support::http(
        api_addr,
        "GET",
        "/2018-06-01/runtime/invocation/next",
        &[],
        b"",
    ));
    let env = raw.starting.await.unwrap();
    let caller_env = env.clone();
    let api = invoke_api::serve(caller_env, "127.0.0.1:0".parse().unwrap(), None)
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
    let caller = Caller {
        client: aws_sdk_lambda::Client::new(&sdk),
        api,
        env,
    };
    let binary: Vec<u8> = [0u8; 8]
        .into_iter()
        .chain((0..=255u8).cycle().take(4096))
        .collect();
    let runtime = {
        let binary = binary.clone();
        tokio::spawn(async move {
            let event = next.await.unwrap();
            let id = event.headers["lambda-runtime-aws-request-id"].clone();
            support::http(
                api_addr,
                "POST",
                &format!("/2018-06-01/runtime/invocation/{id}/response"),
                &[
                    ("Lambda-Runtime-Function-Response-Mode", "streaming"),
                    ("Content-Type", "application/octet-stream"),
                ],
                &binary,
            )
            .await
            .status
        })
    };
    let read = caller.stream("{}", || {}).await;
    assert_eq!(runtime.await.unwrap(), 202);
    assert_eq!(read.bytes, binary.len());
    assert_eq!(read.first_chunk, binary, "the NUL bytes are payload here");
    assert_eq!(
        read.content_type.as_deref(),
        Some("application/octet-stream")
    );
    caller.env.terminate();
    caller.stop().await;
}

#[tokio::test]
async fn a_function_error_is_named_in_invoke_complete() {
    let read = stream("echo_function", r#"{"fail":"boom"}"#).await;
    assert_eq!(read.bytes, 0);
    assert!(read.error_code.is_some_and(|code| !code.is_empty()));
}
