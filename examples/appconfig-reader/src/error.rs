//! Every way reading the configuration can fail, each with its own
//! `errorType`, so that a caller (or an alarm on the function's errors) can
//! tell them apart, and a message that says what to check.

use lambda_runtime::Diagnostic;

#[derive(Debug)]
pub enum ReaderError {
    /// `APPCONFIG_PROFILE` is missing or malformed.
    Setting(String),
    /// Nothing answers on the agent's port.
    AgentUnreachable(String),
    /// The agent does not know the application, environment or profile.
    ProfileNotFound(String),
    /// The agent answered with another error.
    Agent(String),
    /// The configuration is not a JSON object.
    NotJson(String),
    /// The configuration has no such key.
    KeyMissing(String),
}

impl ReaderError {
    pub fn error_type(&self) -> &'static str {
        match self {
            ReaderError::Setting(_) => "AppConfigReader.InvalidSetting",
            ReaderError::AgentUnreachable(_) => "AppConfigReader.AgentUnreachable",
            ReaderError::ProfileNotFound(_) => "AppConfigReader.ProfileNotFound",
            ReaderError::Agent(_) => "AppConfigReader.AgentError",
            ReaderError::NotJson(_) => "AppConfigReader.NotJson",
            ReaderError::KeyMissing(_) => "AppConfigReader.KeyMissing",
        }
    }
}

impl std::fmt::Display for ReaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReaderError::Setting(m)
            | ReaderError::AgentUnreachable(m)
            | ReaderError::ProfileNotFound(m)
            | ReaderError::Agent(m)
            | ReaderError::NotJson(m)
            | ReaderError::KeyMissing(m) => f.write_str(m),
        }
    }
}

impl From<ReaderError> for Diagnostic {
    fn from(error: ReaderError) -> Diagnostic {
        Diagnostic {
            error_type: error.error_type().into(),
            error_message: error.to_string(),
        }
    }
}
