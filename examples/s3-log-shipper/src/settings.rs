//! Every setting of the shipper, read from the function's environment
//! variables. Errors name the variable and what a valid value looks like;
//! `main` reports them through `/extension/init/error`.

use std::time::Duration;

use shared::config::{ConfigError, Env};

pub const BUCKET_VAR: &str = "S3_BUCKET_NAME";

/// Which stream to subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `PUT /2022-07-01/telemetry`, schema 2022-12-13 (the default).
    Telemetry,
    /// `PUT /2020-08-15/logs`, schema 2021-03-18: the original post's flow.
    Logs,
}

/// The platform's batching of deliveries to our listener (the `buffering`
/// object of the subscription).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffering {
    pub max_items: u32,
    pub max_bytes: u32,
    pub timeout_ms: u32,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub bucket: String,
    /// Prepended to every key, without surrounding slashes; may be empty.
    pub key_prefix: String,
    pub api: Api,
    /// The port our listener binds; `sandbox.localdomain:<port>` is what we
    /// subscribe with. Two extensions on one function need different ports.
    pub port: u16,
    pub gzip: bool,
    pub buffering: Buffering,
    /// An invoke waits for its own logs and uploads them when the last upload
    /// is at least this old; otherwise its records join the next upload.
    pub flush_interval: Duration,
    /// The longest an invoke waits for its `platform.runtimeDone` and the
    /// upload, before asking for the next event anyway.
    pub flush_timeout: Duration,
    /// Records held in memory at most; the listener stops accepting
    /// deliveries (the platform then buffers, and drops with a report) when
    /// they would not fit.
    pub buffer_bytes: usize,
    /// An object is cut and uploaded at once when it reaches this size.
    pub object_bytes: usize,
}

impl Settings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Settings, ConfigError> {
        let bucket = env.required(
            BUCKET_VAR,
            "set it to the name of the bucket that receives the logs",
        )?;
        let api = match env.optional("SHIPPER_API").as_deref().map(str::trim) {
            None | Some("telemetry") => Api::Telemetry,
            Some("logs") => Api::Logs,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "SHIPPER_API".into(),
                    value: other.into(),
                    expected: "telemetry or logs".into(),
                });
            }
        };
        let buffering = Buffering {
            max_items: in_range(env, "SHIPPER_BATCH_MAX_ITEMS", 10_000, 1_000..=10_000)?,
            // The largest deliveries the APIs allow: fewer round trips, and
            // a platform buffer large enough for a burst of logs.
            max_bytes: in_range(
                env,
                "SHIPPER_BATCH_MAX_BYTES",
                1_048_576,
                262_144..=1_048_576,
            )?,
            timeout_ms: in_range(env, "SHIPPER_BATCH_TIMEOUT_MS", 25, 25..=30_000)?,
        };
        let buffer_bytes = env.parsed("SHIPPER_BUFFER_BYTES", 4 << 20, "a number of bytes")?;
        // A delivery can carry up to twice maxBytes; the buffer must hold one.
        let smallest_buffer = 2 * buffering.max_bytes as usize + 65_536;
        if buffer_bytes < smallest_buffer {
            return Err(ConfigError::Invalid {
                name: "SHIPPER_BUFFER_BYTES".into(),
                value: buffer_bytes.to_string(),
                expected: format!(
                    "at least {smallest_buffer} bytes (two deliveries of SHIPPER_BATCH_MAX_BYTES)"
                ),
            });
        }
        Ok(Settings {
            bucket,
            key_prefix: env
                .optional("S3_KEY_PREFIX")
                .unwrap_or_default()
                .trim_matches('/')
                .to_string(),
            api,
            port: env.parsed(
                "SHIPPER_LISTENER_PORT",
                9003,
                "a TCP port number, such as 9003",
            )?,
            gzip: env.flag("SHIPPER_GZIP", false)?,
            buffering,
            flush_interval: env.millis("SHIPPER_FLUSH_INTERVAL_MS", Duration::from_secs(1))?,
            flush_timeout: env.millis("SHIPPER_FLUSH_TIMEOUT_MS", Duration::from_secs(2))?,
            buffer_bytes,
            object_bytes: env.parsed("SHIPPER_OBJECT_BYTES", 1 << 20, "a number of bytes")?,
        })
    }
}

/// A number within the limits the Logs and Telemetry APIs accept.
fn in_range<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    name: &str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let expected = format!("a number from {} to {}", range.start(), range.end());
    let value = env.parsed(name, default, &expected)?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            name: name.into(),
            value: value.to_string(),
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_env(&Env::from_fn(move |k: &str| map.get(k).cloned()))
    }

    #[test]
    fn a_missing_bucket_names_the_variable() {
        let err = settings(&[]).unwrap_err().to_string();
        assert!(err.contains("S3_BUCKET_NAME is not set"), "{err}");
    }

    #[test]
    fn defaults_are_timely_and_within_the_apis_limits() {
        let s = settings(&[("S3_BUCKET_NAME", "logs"), ("S3_KEY_PREFIX", "/a/b/")]).unwrap();
        assert_eq!(s.api, Api::Telemetry);
        assert_eq!(s.key_prefix, "a/b");
        assert_eq!(s.port, 9003);
        assert_eq!(
            s.buffering,
            Buffering {
                max_items: 10_000,
                max_bytes: 1_048_576,
                timeout_ms: 25
            }
        );
        assert!(!s.gzip);
    }

    #[test]
    fn values_outside_the_apis_limits_are_refused() {
        let err = settings(&[
            ("S3_BUCKET_NAME", "logs"),
            ("SHIPPER_BATCH_TIMEOUT_MS", "10"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("a number from 25 to 30000"), "{err}");
        let err = settings(&[("S3_BUCKET_NAME", "logs"), ("SHIPPER_API", "kinesis")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("telemetry or logs"), "{err}");
        let err = settings(&[("S3_BUCKET_NAME", "logs"), ("SHIPPER_BUFFER_BYTES", "1000")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("two deliveries"), "{err}");
    }
}
