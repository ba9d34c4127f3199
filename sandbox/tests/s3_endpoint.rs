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

/// The S3 error code of an SDK error, or what went wrong instead.
fn code<E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    result: Result<R, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> String {
    match result {
        Ok(output) => format!("accepted: {output:?}"),
        Err(aws_sdk_s3::error::SdkError::ServiceError(e)) => {
            e.err().code().unwrap_or("no code").to_string()
        }
        Err(other) => format!("no S3 answer: {other:?}"),
    }
}

#[tokio::test]
async fn keys_with_dot_segments_are_refused_and_never_leave_their_bucket() {
    let package = lambda_sandbox::Package::temporary("s3-keys").unwrap();
    let dir = package.root().join("s3");
    let endpoint = s3_endpoint::serve(&dir, &["logs".into(), "other".into()])
        .await
        .unwrap();
    let s3 = client(&endpoint.url(), SECRET_ACCESS_KEY).await;

    // Each of these once panicked the server or resolved outside "logs".
    for key in [
        "..",
        "../..",
        "a/../../x",
        "../other/x",
        "./x",
        "../../../../tmp/x",
    ] {
        let put = s3
            .put_object()
            .bucket("logs")
            .key(key)
            .body(ByteStream::from_static(b"escaped"))
            .send()
            .await;
        assert_eq!(code(put), "InvalidArgument", "put {key}");
        let get = s3.get_object().bucket("logs").key(key).send().await;
        assert_eq!(code(get), "InvalidArgument", "get {key}");
        let delete = s3.delete_object().bucket("logs").key(key).send().await;
        assert_eq!(code(delete), "InvalidArgument", "delete {key}");
        // HEAD answers carry no body, so no code: the status says it.
        let head = s3.head_object().bucket("logs").key(key).send().await;
        let status = head
            .unwrap_err()
            .raw_response()
            .map(|r| r.status().as_u16());
        assert_eq!(status, Some(400), "head {key}");
    }
    let copy = s3
        .copy_object()
        .bucket("logs")
        .key("copy")
        .copy_source("logs/../other/x")
        .send()
        .await;
    assert_eq!(code(copy), "InvalidArgument");
    let batch = aws_sdk_s3::types::Delete::builder()
        .objects(
            aws_sdk_s3::types::ObjectIdentifier::builder()
                .key("../other/x")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let delete_many = s3
        .delete_objects()
        .bucket("logs")
        .delete(batch)
        .send()
        .await;
    assert_eq!(code(delete_many), "InvalidArgument");
    let long = "k".repeat(1025);
    let too_long = s3
        .put_object()
        .bucket("logs")
        .key(&long)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(code(too_long), "KeyTooLongError");

    // Nothing was written anywhere, and the endpoint still serves.
    let mut files = Vec::new();
    let mut folders = vec![dir.clone(), package.root().to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.starts_with(&dir) {
                    folders.push(path);
                }
            } else if std::fs::read(&path).is_ok_and(|b| b == b"escaped") {
                files.push(path);
            }
        }
    }
    assert!(files.is_empty(), "written outside the rules: {files:?}");
    s3.put_object()
        .bucket("logs")
        .key("still/served..ok")
        .body(ByteStream::from_static(b"fine"))
        .send()
        .await
        .expect("the endpoint still answers");
    assert_eq!(
        std::fs::read_to_string(dir.join("logs/still/served..ok")).unwrap(),
        "fine"
    );
}
