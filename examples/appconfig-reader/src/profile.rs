//! Which configuration to read: `APPCONFIG_PROFILE`, in the original
//! sample's form `application/environment/profile[/key]`.

use crate::error::ReaderError;

pub const PROFILE_VAR: &str = "APPCONFIG_PROFILE";
/// The key read when the setting names none.
pub const DEFAULT_KEY: &str = "loglevel";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSetting {
    pub application: String,
    pub environment: String,
    pub profile: String,
    /// Matched against the configuration's keys without regard to case.
    pub key: String,
}

impl ProfileSetting {
    pub fn parse(value: Option<&str>) -> Result<ProfileSetting, ReaderError> {
        let value = value.map(str::trim).unwrap_or_default();
        let invalid = |why: &str| {
            ReaderError::Setting(format!(
                "{PROFILE_VAR}={value:?} {why}: set it to application/environment/profile[/key], such as DemoExtensionApplication/Production/LoggingLevel/LogLevel"
            ))
        };
        if value.is_empty() {
            return Err(invalid("is not set"));
        }
        let parts: Vec<&str> = value.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(invalid("has an empty part"));
        }
        let (names, key) = match parts.as_slice() {
            [a, e, p] => ([a, e, p], DEFAULT_KEY),
            [a, e, p, k] => ([a, e, p], *k),
            _ => return Err(invalid("does not have three or four parts")),
        };
        Ok(ProfileSetting {
            application: names[0].to_string(),
            environment: names[1].to_string(),
            profile: names[2].to_string(),
            key: key.to_string(),
        })
    }

    /// The agent's path for this profile, each name URL-encoded.
    pub fn path(&self) -> String {
        format!(
            "/applications/{}/environments/{}/configurations/{}",
            encode(&self.application),
            encode(&self.environment),
            encode(&self.profile)
        )
    }
}

fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_samples_setting_works() {
        let s = ProfileSetting::parse(Some(
            "DemoExtensionApplication/Production/LoggingLevel/LogLevel",
        ))
        .unwrap();
        assert_eq!(s.application, "DemoExtensionApplication");
        assert_eq!(s.key, "LogLevel");
        assert_eq!(
            s.path(),
            "/applications/DemoExtensionApplication/environments/Production/configurations/LoggingLevel"
        );
    }

    #[test]
    fn the_key_defaults_to_loglevel_and_names_are_encoded() {
        let s = ProfileSetting::parse(Some("my app/prod/level")).unwrap();
        assert_eq!(s.key, "loglevel");
        assert!(
            s.path().starts_with("/applications/my%20app/"),
            "{}",
            s.path()
        );
    }

    #[test]
    fn malformed_settings_say_what_the_form_is() {
        for bad in [None, Some(""), Some("a/b"), Some("a//c"), Some("a/b/c/d/e")] {
            let err = ProfileSetting::parse(bad).unwrap_err().to_string();
            assert!(
                err.contains("application/environment/profile[/key]"),
                "{err}"
            );
        }
    }
}
