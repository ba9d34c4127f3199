//! The local S3 endpoint, through the official AWS SDK for Rust.

mod support;

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use lambda_sandbox::s3_endpoint::{self, ACCESS_KEY_ID, SECRET_ACCESS_KEY};

async fn client(url: &str, secret: &str) -> aws_sdk_s3::Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new(
            ACCESS_KEY_ID,
            secret,
            None,
            None,
            "sandbox",
        ))
        .load()
        .await;
    aws_sdk_s3::Client::new(&config)
}

#[tokio::test]
async fn objects_written_with_the_sdk_land_as_plain_files() {
    let package = lambda_sandbox::Package::temporary("s3-sdk").unwrap();
    let dir = package.root().join("s3");
    let _ = std::fs::remove_dir_all(&dir);
    let endpoint = s3_endpoint::serve(&dir, &["logs".into()]).await.unwrap();
    let s3 = client(&endpoint.url(), SECRET_ACCESS_KEY).await;

    let key = "my-function/year=2026/month=01/day=15/20260115T120000Z-1.ndjson";
    s3.put_object()
        .bucket("logs")
        .key(key)
        .body(ByteStream::from_static(b"{\"type\":\"function\"}\n"))
        .send()
        .await
        .expect("put_object succeeds");
    assert_eq!(
        std::fs::read_to_string(dir.join("logs").join(key)).unwrap(),
        "{\"type\":\"function\"}\n"
    );

    let listed = s3.list_objects_v2().bucket("logs").send().await.unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, [key]);

    let missing = s3
        .put_object()
        .bucket("no-such-bucket")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert!(
        missing.is_err(),
        "a bucket that was not created does not exist"
    );

    let forged = client(&endpoint.url(), "not-the-secret").await;
    let refused = forged
        .put_object()
        .bucket("logs")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert!(refused.is_err(), "a wrong signature is refused");
}

#[tokio::test]
async fn bad_bucket_names_are_refused_with_the_rule() {
    let package = lambda_sandbox::Package::temporary("s3-bad").unwrap();
    let dir = package.root().join("s3");
    let err = s3_endpoint::serve(&dir, &["My_Bucket".into()])
        .await
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("not a valid S3 bucket name"),
        "{err}"
    );
}

#[tokio::test]
async fn a_function_using_the_sdk_defaults_writes_to_the_local_bucket() {
    let package = lambda_sandbox::Package::temporary("s3-function").unwrap();
    let fixture = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/s3_put_function");
    package.bootstrap(&fixture).unwrap();
    let dir = package.root().join("s3");
    let env = lambda_sandbox::Environment::start(lambda_sandbox::Config {
        s3_buckets: vec!["uploads".into()],
        s3_dir: Some(dir.clone()),
        ..package.config()
    })
    .await
    .unwrap();
    let ok = env
        .invoke(lambda_sandbox::InvokeRequest::json(
            &serde_json::json!({"bucket": "uploads", "key": "a/b.txt", "body": "hello"}),
        ))
        .await;
    let missing = env
        .invoke(lambda_sandbox::InvokeRequest::json(
            &serde_json::json!({"bucket": "typo", "key": "a", "body": "x"}),
        ))
        .await;
    env.wait_idle().await;
    env.shutdown().await;
    assert_eq!(ok.status, lambda_sandbox::Status::Success, "{ok:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("uploads/a/b.txt")).unwrap(),
        "hello"
    );
    assert_eq!(missing.status, lambda_sandbox::Status::Error);
    assert!(
        String::from_utf8_lossy(&missing.payload).contains("NoSuchBucket"),
        "{missing:?}"
    );
}
