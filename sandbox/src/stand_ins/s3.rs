//! An S3-compatible endpoint on loopback, backed by a folder, standing in for
//! Amazon S3 (`s3s` implements the S3 REST API, `s3s-fs` stores objects as
//! plain files at `DIR/<bucket>/<key>`). The processes of the environment
//! find it through the SDKs' standard `AWS_ENDPOINT_URL_S3`, so their code
//! does not know it runs locally.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::dto::{CopyObjectInput, CopySource, DeleteObjectsInput, UploadPartCopyInput};
use s3s::path::S3Path;
use s3s::service::S3ServiceBuilder;
use s3s::{S3Request, S3Result, s3_error};

/// The dummy credentials the environment hands out; the endpoint checks
/// request signatures against them, as S3 would.
pub const ACCESS_KEY_ID: &str = "AKIASANDBOXEXAMPLE00";
pub const SECRET_ACCESS_KEY: &str = "sandbox/secret/access/key/not/a/real/one";

/// A running endpoint; it stops when dropped.
pub struct S3Endpoint {
    pub addr: SocketAddr,
    pub dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for S3Endpoint {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl S3Endpoint {
    /// `AWS_ENDPOINT_URL_S3`: an IP address, which makes the SDKs address
    /// buckets path-style (`/bucket/key`), as no DNS name is involved.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Checks a bucket name against S3's rules for new buckets.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let ends_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if (3..=63).contains(&name.len()) && valid_chars && ends_ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid S3 bucket name: 3 to 63 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit"
        ))
    }
}

/// S3 keys are at most 1,024 bytes of UTF-8.
const MAX_KEY_BYTES: usize = 1024;

/// Checks an object key before it becomes a path under its bucket's folder.
///
/// S3 itself stores `a/../b` as a key like any other; a folder cannot, so a
/// key with a `.` or `..` segment is refused rather than resolved, which
/// would reach another bucket or leave the endpoint's folder.
pub fn check_key(key: &str) -> S3Result<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(s3_error!(
            KeyTooLongError,
            "Your key is too long: S3 keys are at most {MAX_KEY_BYTES} bytes"
        ));
    }
    if key
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err(s3_error!(
            InvalidArgument,
            "The key {key:?} has a '.' or '..' segment, which the sandbox's S3 endpoint cannot store as a file; use another key"
        ));
    }
    if key.contains('\0') {
        return Err(s3_error!(
            InvalidArgument,
            "The key {key:?} contains a NUL character, which the sandbox's S3 endpoint cannot store"
        ));
    }
    Ok(())
}

fn check_copy_source(source: &CopySource) -> S3Result<()> {
    match source {
        CopySource::Bucket { key, .. } => check_key(key),
        _ => Err(s3_error!(
            NotImplemented,
            "the sandbox's S3 endpoint copies from bucket/key sources only"
        )),
    }
}

/// Only signed requests, and only to the buckets that were created: `s3s-fs`
/// alone would make a folder for any bucket a client names, so a mistyped
/// bucket would work here and fail on AWS.
struct ExistingBuckets {
    root: PathBuf,
}

#[async_trait::async_trait]
impl S3Access for ExistingBuckets {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_none() {
            return Err(s3_error!(
                AccessDenied,
                "sign requests with the environment's credentials"
            ));
        }
        match cx.s3_path() {
            S3Path::Bucket { bucket } | S3Path::Object { bucket, .. }
                if !self.root.join(&**bucket).is_dir() =>
            {
                Err(s3_error!(
                    NoSuchBucket,
                    "The specified bucket does not exist (the sandbox creates the buckets named with --s3-bucket)"
                ))
            }
            S3Path::Object { key, .. } => check_key(key),
            _ => Ok(()),
        }
    }

    // Keys that travel outside the request path are checked too.
    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        check_copy_source(&req.input.copy_source)
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        check_copy_source(&req.input.copy_source)
    }

    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        req.input
            .delete
            .objects
            .iter()
            .try_for_each(|object| check_key(&object.key))
    }
}

/// Creates the buckets as folders of `dir` and serves them on loopback.
pub async fn serve(dir: &Path, buckets: &[String]) -> std::io::Result<S3Endpoint> {
    let invalid = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, message);
    for bucket in buckets {
        check_bucket_name(bucket).map_err(invalid)?;
        std::fs::create_dir_all(dir.join(bucket))?;
    }
    let fs = s3s_fs::FileSystem::new(dir)
        .map_err(|e| invalid(format!("cannot serve {} as S3: {e:?}", dir.display())))?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
    builder.set_access(ExistingBuckets {
        root: dir.to_path_buf(),
    });
    let service = builder.build();
    let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // S3 is another machine on AWS: its own thread keeps its hashing and file
    // writes from slowing the platform's work (deliveries, log capture).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("s3-endpoint".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let accept = async {
                    while let Ok((socket, _)) = listener.accept().await {
                        let service = service.clone();
                        tokio::spawn(async move {
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(socket), service)
                                .await;
                        });
                    }
                };
                tokio::select! {
                    () = accept => {}
                    _ = stopped => {}
                }
            });
        })?;
    Ok(S3Endpoint {
        addr,
        dir: dir.to_path_buf(),
        stop: Some(stop),
    })
}
