//! The streaming walkthrough: the hand-written runtime's `function.stream`
//! handler sends its lines in streaming mode, and each reaches the caller
//! when it is written, as `InvokeWithResponseStream` callers get them.

use std::time::Duration;

use lambda_sandbox::{Config, Environment, InvokeRequest, Package, Record, StreamPart};

use crate::{Binaries, Invocation, Place};

/// The event the walkthrough sends: three lines, 200 ms apart.
pub const EVENT: &str = r#"{"chunks":3,"intervalMs":200}"#;

/// What happened.
pub struct Story {
    pub invocation: Invocation,
    /// The stream's content type, as the caller was told at its start.
    pub content_type: Option<String>,
    /// Each chunk, with how long after the first it arrived.
    pub chunks: Vec<(Duration, String)>,
    pub records: Vec<Record>,
    pub picture: String,
    _package: Package,
}

/// Settings as the other walkthroughs take them.
#[derive(Debug, Clone)]
pub struct Settings {
    pub echo: bool,
    pub place: Place,
}

pub async fn run(binaries: &Binaries, settings: &Settings) -> anyhow::Result<Story> {
    let bootstrap = binaries.get("bootstrap", "custom-runtime")?;
    settings.place.prepare()?;
    let package = settings.place.package("function")?;
    package.bootstrap(&bootstrap)?;
    let env = Environment::start(Config {
        handler: "function.stream".into(),
        echo: settings.echo,
        ..package.config()
    })
    .await?;
    let (sink, mut parts) = tokio::sync::mpsc::channel(16);
    let invoking = {
        let env = env.clone();
        tokio::spawn(async move {
            let result = env
                .invoke(InvokeRequest {
                    stream_to: Some(sink),
                    ..InvokeRequest {
                        payload: EVENT.into(),
                        ..InvokeRequest::default()
                    }
                })
                .await;
            (result, std::time::SystemTime::now())
        })
    };
    let mut content_type = None;
    let mut chunks = Vec::new();
    let mut first = None;
    while let Some(part) = parts.recv().await {
        match part {
            StreamPart::Start {
                content_type: kind, ..
            } => {
                if settings.echo {
                    println!("         [caller] the stream starts ({kind})");
                }
                content_type = Some(kind);
            }
            StreamPart::Chunk(bytes) => {
                let at = *first.get_or_insert_with(std::time::Instant::now);
                let text = String::from_utf8_lossy(&bytes).trim_end().to_string();
                if settings.echo {
                    println!("         [caller] received {text:?}");
                }
                chunks.push((at.elapsed(), text));
            }
        }
    }
    let (result, answered_at) = invoking.await?;
    if settings.echo {
        println!(
            "         [caller] the stream ends ({}), {} chunks",
            result.status,
            chunks.len()
        );
    }
    env.wait_idle().await;
    env.shutdown().await;
    Ok(Story {
        invocation: Invocation {
            result,
            answered_at,
        },
        content_type,
        chunks,
        records: env.records(),
        picture: env.timeline_svg(),
        _package: package,
    })
}
