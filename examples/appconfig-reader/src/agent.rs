//! The AppConfig agent, as the function sees it: an HTTP server on
//! localhost, on the port `AWS_APPCONFIG_EXTENSION_HTTP_PORT` names (2772 by
//! default), serving the cached configuration.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::error::ReaderError;
use crate::profile::ProfileSetting;

pub const PORT_VAR: &str = "AWS_APPCONFIG_EXTENSION_HTTP_PORT";
const DEFAULT_PORT: u16 = 2772;

pub struct Agent {
    client: reqwest::Client,
    base: String,
}

impl Agent {
    /// A client for the agent on `port`, giving up after `timeout`: the
    /// agent answers from memory, so a slow answer means something is wrong.
    pub fn new(port: Option<&str>, timeout: Duration) -> Result<Agent, ReaderError> {
        let port = match port.map(str::trim) {
            None | Some("") => DEFAULT_PORT,
            Some(p) => p.parse().map_err(|_| {
                ReaderError::Setting(format!("{PORT_VAR}={p:?} is not a port number"))
            })?,
        };
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(|e| ReaderError::Setting(format!("cannot build the HTTP client: {e}")))?;
        Ok(Agent {
            client,
            base: format!("http://localhost:{port}"),
        })
    }

    /// The profile's configuration, parsed as a JSON object.
    pub async fn fetch(
        &self,
        profile: &ProfileSetting,
    ) -> Result<serde_json::Map<String, Value>, ReaderError> {
        let url = format!("{}{}", self.base, profile.path());
        let response = self.client.get(&url).send().await.map_err(|e| {
            ReaderError::AgentUnreachable(format!(
                "the AppConfig agent does not answer at {url}: {e}; check that the function has the AppConfig agent layer and that {PORT_VAR} matches its port"
            ))
        })?;
        let status = response.status();
        let body = response.text().await.map_err(|e| {
            ReaderError::AgentUnreachable(format!("the AppConfig agent's answer broke off: {e}"))
        })?;
        match status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => {
                return Err(ReaderError::ProfileNotFound(format!(
                    "the AppConfig agent has no {}/{}/{}: {}; check APPCONFIG_PROFILE against the application, environment and profile names, and that a deployment to that environment has completed",
                    profile.application,
                    profile.environment,
                    profile.profile,
                    body.trim()
                )));
            }
            other => {
                return Err(ReaderError::Agent(format!(
                    "the AppConfig agent answered {other}: {}; the function's role needs appconfig:StartConfigurationSession and appconfig:GetLatestConfiguration",
                    body.trim()
                )));
            }
        }
        match serde_json::from_str::<Value>(&body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) | Err(_) => Err(ReaderError::NotJson(format!(
                "the configuration {}/{}/{} is not a JSON object (it starts {:?}); store it as JSON, such as {{\"loglevel\": \"normal\"}}",
                profile.application,
                profile.environment,
                profile.profile,
                body.chars().take(40).collect::<String>()
            ))),
        }
    }
}

/// The value of `key`, matched without regard to case.
pub fn value_of(config: &serde_json::Map<String, Value>, key: &str) -> Result<String, ReaderError> {
    let value = config
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v);
    match value {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => {
            let keys: Vec<&String> = config.keys().collect();
            Err(ReaderError::KeyMissing(format!(
                "the configuration has no key {key:?} (it has {keys:?}); set the key as the fourth part of APPCONFIG_PROFILE"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_without_regard_to_case() {
        let config = serde_json::json!({"loglevel": "normal", "retries": 3});
        let config = config.as_object().unwrap();
        assert_eq!(value_of(config, "LogLevel").unwrap(), "normal");
        assert_eq!(value_of(config, "RETRIES").unwrap(), "3");
        let err = value_of(config, "colour").unwrap_err();
        assert_eq!(err.error_type(), "AppConfigReader.KeyMissing");
        assert!(err.to_string().contains("\"loglevel\""), "{err}");
    }

    #[test]
    fn a_bad_port_is_a_setting_error() {
        let err = Agent::new(Some("twenty"), Duration::from_secs(1))
            .err()
            .unwrap();
        assert_eq!(err.error_type(), "AppConfigReader.InvalidSetting");
    }
}
