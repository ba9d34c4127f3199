//! The AWS AppConfig agent's HTTP interface on loopback, backed by files,
//! standing in for the AppConfig agent extension (`localhost:2772` on
//! Lambda). Functions find it through `AWS_APPCONFIG_EXTENSION_HTTP_PORT`,
//! the agent's own port setting, so their code does not know it runs locally.
//!
//! As the agent does, it serves a cached copy and refreshes it once the poll
//! interval (`AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS`, 45 s by
//! default) has passed: an edit to the file is what deploying a new
//! configuration version is on AWS, and shows on the first request after
//! the interval.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// The agent's default port, and the variable that changes it.
pub const PORT_VAR: &str = "AWS_APPCONFIG_EXTENSION_HTTP_PORT";
pub const POLL_INTERVAL_VAR: &str = "AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS";
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(45);

/// One configuration profile, `APPLICATION/ENVIRONMENT/PROFILE=PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub application: String,
    pub environment: String,
    pub profile: String,
    pub path: PathBuf,
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || format!("{s:?} is not APPLICATION/ENVIRONMENT/PROFILE=PATH");
        let (names, path) = s.split_once('=').ok_or_else(usage)?;
        let parts: Vec<&str> = names.split('/').collect();
        match parts.as_slice() {
            [a, e, p] if !a.is_empty() && !e.is_empty() && !p.is_empty() && !path.is_empty() => {
                Ok(Profile {
                    application: a.to_string(),
                    environment: e.to_string(),
                    profile: p.to_string(),
                    path: PathBuf::from(path),
                })
            }
            _ => Err(usage()),
        }
    }
}

impl Profile {
    fn names(&self) -> String {
        format!("{}/{}/{}", self.application, self.environment, self.profile)
    }
}

/// A running agent endpoint; it stops when dropped.
pub struct AppConfigAgent {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AppConfigAgent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What was read from a profile's file, and when.
struct Cached {
    read_at: Instant,
    raw: Vec<u8>,
    version: u64,
}

struct Agent {
    profiles: Vec<Profile>,
    poll_interval: Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

/// Serves `profiles` on `port` of the loopback address (0: any free port).
pub async fn serve(
    profiles: Vec<Profile>,
    poll_interval: Duration,
    port: u16,
) -> std::io::Result<AppConfigAgent> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let addr = listener.local_addr()?;
    let agent = Arc::new(Agent {
        profiles,
        poll_interval,
        cache: Mutex::new(HashMap::new()),
    });
    let task = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let agent = agent.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let agent = agent.clone();
                    async move { Ok::<_, std::convert::Infallible>(agent.answer(&request)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    Ok(AppConfigAgent { addr, task })
}

fn text(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(message.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    response
}

impl Agent {
    fn answer<B>(&self, request: &Request<B>) -> Response<Full<Bytes>> {
        if request.method() != Method::GET {
            return text(
                StatusCode::METHOD_NOT_ALLOWED,
                "the agent answers GET requests",
            );
        }
        let segments: Vec<String> = request
            .uri()
            .path()
            .trim_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let [a, app, e, env, c, profile] = segments.as_slice() else {
            return text(
                StatusCode::NOT_FOUND,
                "the agent serves /applications/{application}/environments/{environment}/configurations/{profile}",
            );
        };
        if (a.as_str(), e.as_str(), c.as_str())
            != ("applications", "environments", "configurations")
        {
            return text(
                StatusCode::NOT_FOUND,
                "the agent serves /applications/{application}/environments/{environment}/configurations/{profile}",
            );
        }
        let Some(found) = self
            .profiles
            .iter()
            .find(|p| &p.application == app && &p.environment == env && &p.profile == profile)
        else {
            return text(StatusCode::NOT_FOUND, &self.not_found(app, env, profile));
        };
        let (raw, version) = match self.current(found) {
            Ok(current) => current,
            Err(message) => return text(StatusCode::INTERNAL_SERVER_ERROR, &message),
        };
        let flags: Vec<String> = request
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| pair.strip_prefix("flag="))
            .map(percent_decode)
            .collect();
        let (body, content_type) = match feature_flags(&raw) {
            Some(values) => match select_flags(values, &flags, found) {
                Ok(body) => (body, "application/json".to_string()),
                Err(message) => return text(StatusCode::NOT_FOUND, &message),
            },
            None if !flags.is_empty() => {
                return text(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "{} is a freeform configuration; the flag parameter needs a feature flag profile (AWS.AppConfig.FeatureFlags)",
                        found.names()
                    ),
                );
            }
            None => (raw, content_type(found)),
        };
        let mut response = Response::new(Full::new(Bytes::from(body)));
        let headers = response.headers_mut();
        headers.insert(hyper::header::CONTENT_TYPE, content_type.parse().unwrap());
        headers.insert(
            "Configuration-Version",
            version.to_string().parse().unwrap(),
        );
        response
    }

    /// The names the agent does not know, and the ones it does.
    fn not_found(&self, app: &str, env: &str, profile: &str) -> String {
        let missing = if !self.profiles.iter().any(|p| p.application == app) {
            format!("application {app:?}")
        } else if !self
            .profiles
            .iter()
            .any(|p| p.application == app && p.environment == env)
        {
            format!("environment {env:?} of application {app:?}")
        } else {
            format!("configuration profile {profile:?} in {app}/{env}")
        };
        let known: Vec<String> = self.profiles.iter().map(Profile::names).collect();
        format!(
            "ResourceNotFoundException: {missing} not found; this agent serves {}",
            known.join(", ")
        )
    }

    /// The file's content, re-read once the poll interval has passed. A file
    /// that cannot be read after a good read keeps the cached copy served,
    /// as the agent keeps its cache when AppConfig cannot be reached.
    fn current(&self, profile: &Profile) -> Result<(Vec<u8>, u64), String> {
        let mut cache = self.cache.lock().unwrap();
        let key = profile.names();
        let stale = cache
            .get(&key)
            .is_none_or(|c| c.read_at.elapsed() >= self.poll_interval);
        if stale {
            match std::fs::read(&profile.path) {
                Ok(raw) => {
                    let version = match cache.get(&key) {
                        Some(old) if old.raw == raw => old.version,
                        Some(old) => old.version + 1,
                        None => 1,
                    };
                    cache.insert(
                        key.clone(),
                        Cached {
                            read_at: Instant::now(),
                            raw,
                            version,
                        },
                    );
                }
                Err(e) if !cache.contains_key(&key) => {
                    return Err(format!(
                        "cannot read the configuration of {key} from {}: {e}",
                        profile.path.display()
                    ));
                }
                Err(_) => {}
            }
        }
        let cached = &cache[&key];
        Ok((cached.raw.clone(), cached.version))
    }
}

/// A feature flag profile's values, if `raw` is one: AppConfig stores those
/// as `{"version":"1","flags":{…},"values":{…}}` and the agent serves the
/// values, one object per flag.
fn feature_flags(raw: &[u8]) -> Option<serde_json::Map<String, Value>> {
    let document: Value = serde_json::from_slice(raw).ok()?;
    let flags = document.get("flags")?.as_object()?;
    document.get("version")?;
    let values = document.get("values").and_then(Value::as_object);
    Some(
        flags
            .keys()
            .map(|name| {
                let value = values
                    .and_then(|v| v.get(name))
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({"enabled": false}));
                (name.clone(), value)
            })
            .collect(),
    )
}

/// The whole set of flags, one flag's object, or several flags by name; an
/// unknown flag is named in the error.
fn select_flags(
    mut values: serde_json::Map<String, Value>,
    wanted: &[String],
    profile: &Profile,
) -> Result<Vec<u8>, String> {
    if let Some(unknown) = wanted.iter().find(|f| !values.contains_key(*f)) {
        return Err(format!("flag {unknown:?} not found in {}", profile.names()));
    }
    let body = match wanted {
        [] => Value::Object(values),
        [one] => values.remove(one).unwrap_or_default(),
        many => Value::Object(many.iter().filter_map(|f| values.remove_entry(f)).collect()),
    };
    Ok(serde_json::to_vec(&body).expect("JSON values serialize"))
}

/// The content type a hosted configuration of this kind carries.
fn content_type(profile: &Profile) -> String {
    match profile.path.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("yaml") | Some("yml") => "application/x-yaml",
        _ => "text/plain",
    }
    .to_string()
}

/// Names may be URL-encoded (a name with `/` must be).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_from_the_command_line_form() {
        let p: Profile = "App/Prod/Logging=/tmp/level.json".parse().unwrap();
        assert_eq!(
            (
                p.application.as_str(),
                p.environment.as_str(),
                p.profile.as_str()
            ),
            ("App", "Prod", "Logging")
        );
        assert!("App/Prod=/tmp/x".parse::<Profile>().is_err());
        assert!("App/Prod/Logging".parse::<Profile>().is_err());
    }

    #[test]
    fn names_are_url_decoded() {
        assert_eq!(
            percent_decode("test-backend%2Ftest-service"),
            "test-backend/test-service"
        );
        assert_eq!(percent_decode("plain"), "plain");
    }
}
