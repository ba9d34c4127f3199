//! Configuration from the environment.
//!
//! Lambda hands configuration to functions and extensions only through
//! environment variables, so every setting here is read from one, and every
//! error names the variable and says what a valid value looks like.

use std::time::Duration;

/// `AWS_LAMBDA_INITIALIZATION_TYPE` on Lambda Managed Instances, where one
/// environment serves several invocations at once and extensions get
/// SHUTDOWN only.
pub const MANAGED_INSTANCES: &str = "lambda-managed-instances";
/// `AWS_LAMBDA_INITIALIZATION_TYPE` of a SnapStart function: Init ran once,
/// before a snapshot, and this process was restored from it.
pub const SNAP_START: &str = "snap-start";

/// A setting that is missing or malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {name} is not set{hint}")]
    Missing { name: String, hint: String },
    #[error("environment variable {name} is empty{hint}")]
    Empty { name: String, hint: String },
    #[error("environment variable {name}={value:?} is not valid: expected {expected}")]
    Invalid {
        name: String,
        value: String,
        expected: String,
    },
}

/// Reads configuration from a source of variables (the process environment,
/// or a map in tests).
#[derive(Clone)]
pub struct Env<F = fn(&str) -> Option<String>> {
    lookup: F,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Env {
            lookup: |name| std::env::var(name).ok(),
        }
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// Any lookup function; tests pass a closure over a map.
    pub fn from_fn(lookup: F) -> Self {
        Env { lookup }
    }

    /// The value, or `None` when the variable is unset or empty.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// A variable that must be set to a non-empty value. `hint` tells the user
    /// how to set it (for example which template parameter feeds it).
    pub fn required(&self, name: &str, hint: &str) -> Result<String, ConfigError> {
        let hint = if hint.is_empty() {
            String::new()
        } else {
            format!(": {hint}")
        };
        match (self.lookup)(name) {
            None => Err(ConfigError::Missing {
                name: name.into(),
                hint,
            }),
            Some(v) if v.trim().is_empty() => Err(ConfigError::Empty {
                name: name.into(),
                hint,
            }),
            Some(v) => Ok(v),
        }
    }

    /// A whole number of milliseconds, or `default` when unset.
    pub fn millis(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        self.parsed(
            name,
            default.as_millis() as u64,
            "a whole number of milliseconds, such as 5000",
        )
        .map(Duration::from_millis)
    }

    /// Any value `FromStr` understands, or `default` when unset; `expected`
    /// describes a valid value for the error message.
    pub fn parsed<T: std::str::FromStr>(
        &self,
        name: &str,
        default: T,
        expected: &str,
    ) -> Result<T, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => v.trim().parse::<T>().map_err(|_| ConfigError::Invalid {
                name: name.into(),
                value: v,
                expected: expected.into(),
            }),
        }
    }

    /// Whether this process runs on Lambda Managed Instances.
    pub fn managed_instances(&self) -> bool {
        self.optional("AWS_LAMBDA_INITIALIZATION_TYPE")
            .is_some_and(|t| t.trim() == MANAGED_INSTANCES)
    }

    /// Whether this process was initialised for a SnapStart snapshot.
    pub fn snapstart(&self) -> bool {
        self.optional("AWS_LAMBDA_INITIALIZATION_TYPE")
            .is_some_and(|t| t.trim() == SNAP_START)
    }

    /// `true`/`false` (also `1`/`0`), or `default` when unset.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v == "true" || v == "1" => Ok(true),
            Some(v) if v == "false" || v == "0" => Ok(false),
            Some(v) => Err(ConfigError::Invalid {
                name: name.into(),
                value: v,
                expected: "true or false".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::from_fn(move |k| map.get(k).cloned())
    }

    #[test]
    fn required_names_the_variable_and_the_fix() {
        let err = env(&[])
            .required("S3_BUCKET_NAME", "set it to the bucket")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable S3_BUCKET_NAME is not set: set it to the bucket"
        );
        let err = env(&[("S3_BUCKET_NAME", " ")])
            .required("S3_BUCKET_NAME", "")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable S3_BUCKET_NAME is empty"
        );
    }

    #[test]
    fn millis_defaults_parses_and_rejects() {
        let d = Duration::from_millis(5000);
        assert_eq!(env(&[]).millis("WORK_MS", d), Ok(d));
        assert_eq!(
            env(&[("WORK_MS", "0")]).millis("WORK_MS", d),
            Ok(Duration::ZERO)
        );
        let err = env(&[("WORK_MS", "5s")]).millis("WORK_MS", d).unwrap_err();
        assert!(err.to_string().contains("WORK_MS=\"5s\""), "{err}");
    }

    #[test]
    fn parsed_and_flag_default_parse_and_name_what_is_expected() {
        let vars = env(&[("PORT", "9004"), ("GZIP", "TRUE"), ("BAD", "yes")]);
        assert_eq!(vars.parsed::<u16>("PORT", 9003, "a port"), Ok(9004));
        assert_eq!(vars.parsed::<u16>("UNSET", 9003, "a port"), Ok(9003));
        assert_eq!(vars.flag("GZIP", false), Ok(true));
        assert_eq!(vars.flag("UNSET", false), Ok(false));
        let err = vars.flag("BAD", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable BAD=\"yes\" is not valid: expected true or false"
        );
        let err = vars.parsed::<u16>("GZIP", 1, "a port number").unwrap_err();
        assert!(err.to_string().ends_with("expected a port number"), "{err}");
    }

    #[test]
    fn managed_instances_is_told_by_the_initialization_type() {
        assert!(
            env(&[("AWS_LAMBDA_INITIALIZATION_TYPE", "lambda-managed-instances")])
                .managed_instances()
        );
        assert!(!env(&[("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")]).managed_instances());
        assert!(!env(&[]).managed_instances());
    }

    #[test]
    fn snapstart_is_told_by_the_initialization_type() {
        assert!(env(&[("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")]).snapstart());
        assert!(!env(&[("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")]).snapstart());
        assert!(!env(&[]).snapstart());
    }
}
