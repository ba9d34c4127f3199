//! The environment variables of the runtime and of the extensions (the book:
//! docs/src/environment.md#environment-variables).
//!
//! The two sets differ: extensions do not see the handler, the task root, the
//! log group or anything that starts with `_`. Values are offline defaults:
//! dummy credentials, one region, one account.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::stand_ins::s3;

/// The task root and the layer folders as the processes see them: the
/// host's folders, or `/var/task` and `/opt` inside an isolated environment.
pub struct Folders {
    pub task_root: PathBuf,
    pub layers: Vec<PathBuf>,
}

/// Variables both sets take from the host, so that scripts find their tools.
/// Lambda's own `PATH` would point at folders this machine does not have.
fn host_path(opt_dirs: &[std::path::PathBuf]) -> String {
    let mut parts: Vec<String> = opt_dirs
        .iter()
        .rev()
        .map(|d| d.join("bin").display().to_string())
        .collect();
    parts.push(std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()));
    parts.join(":")
}

fn library_path(task_root: &Path, opt_dirs: &[std::path::PathBuf]) -> String {
    let mut parts = vec![
        task_root.display().to_string(),
        task_root.join("lib").display().to_string(),
    ];
    parts.extend(
        opt_dirs
            .iter()
            .rev()
            .map(|d| d.join("lib").display().to_string()),
    );
    if let Ok(host) = std::env::var("LD_LIBRARY_PATH") {
        parts.push(host);
    }
    parts.join(":")
}

/// Where the processes find the platform: the Runtime API, the stand-ins
/// for AWS services, and, with SnapStart, the token of the credentials
/// endpoint.
pub struct Endpoints<'a> {
    pub runtime_api: String,
    pub services: &'a [(String, String)],
    pub credentials_token: &'a str,
}

/// The processes' AWS credentials: static keys, or with SnapStart the
/// credentials endpoint and its token, as a container gets them.
fn credentials(config: &Config, endpoints: &Endpoints) -> Vec<(String, String)> {
    if config.snapstart() {
        return vec![
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI".into(),
                format!("http://{}/2021-04-23/credentials", endpoints.runtime_api),
            ),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN".into(),
                endpoints.credentials_token.into(),
            ),
        ];
    }
    vec![
        ("AWS_ACCESS_KEY_ID".into(), s3::ACCESS_KEY_ID.into()),
        ("AWS_SECRET_ACCESS_KEY".into(), s3::SECRET_ACCESS_KEY.into()),
        ("AWS_SESSION_TOKEN".into(), "sandbox-session-token".into()),
    ]
}

/// Variables the runtime and the extensions both receive.
fn common(config: &Config, endpoints: &Endpoints, folders: &Folders) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = vec![
        (
            "AWS_LAMBDA_RUNTIME_API".into(),
            endpoints.runtime_api.clone(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_NAME".into(),
            config.function_name.clone(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            config.memory_mb.to_string(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_VERSION".into(),
            config.function_version.clone(),
        ),
        (
            "AWS_LAMBDA_INITIALIZATION_TYPE".into(),
            config.init_type.as_str().into(),
        ),
        ("AWS_REGION".into(), config.region.clone()),
        ("AWS_DEFAULT_REGION".into(), config.region.clone()),
        ("TZ".into(), ":UTC".into()),
        ("LANG".into(), "en_US.UTF-8".into()),
        ("PATH".into(), host_path(&folders.layers)),
        (
            "LD_LIBRARY_PATH".into(),
            library_path(&folders.task_root, &folders.layers),
        ),
    ];
    vars.extend(credentials(config, endpoints));
    if let Some(format) = config.log_format() {
        vars.push(("AWS_LAMBDA_LOG_FORMAT".into(), format.into()));
    }
    // Where the sandbox's stand-ins for AWS services listen.
    vars.extend(endpoints.services.iter().cloned());
    // Customer variables come last so that they can override the defaults, as
    // on AWS; names starting with `_` are reserved and filtered out.
    vars.extend(
        config
            .env
            .iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .cloned(),
    );
    vars
}

/// The environment's log stream, `YYYY/MM/DD/[version]sandbox`; on
/// Managed Instances also the `instanceId` of its records.
pub fn log_stream_name(config: &Config) -> String {
    format!(
        "{}/[{}]sandbox",
        chrono::Utc::now().format("%Y/%m/%d"),
        config.function_version
    )
}

/// The runtime (`bootstrap`) set.
pub fn runtime(config: &Config, endpoints: &Endpoints, folders: &Folders) -> Vec<(String, String)> {
    let mut vars = vec![
        ("_HANDLER".to_string(), config.handler.clone()),
        (
            "LAMBDA_TASK_ROOT".into(),
            folders.task_root.display().to_string(),
        ),
        ("LAMBDA_RUNTIME_DIR".into(), "/var/runtime".into()),
        (
            "AWS_XRAY_DAEMON_ADDRESS".into(),
            "169.254.79.129:2000".into(),
        ),
        ("_AWS_XRAY_DAEMON_ADDRESS".into(), "169.254.79.129".into()),
        ("_AWS_XRAY_DAEMON_PORT".into(), "2000".into()),
        ("AWS_XRAY_CONTEXT_MISSING".into(), "LOG_ERROR".into()),
    ];
    // A restored environment writes to a log stream of its own, so the
    // snapshot cannot name one.
    if !config.snapstart() {
        vars.push((
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{}", config.function_name),
        ));
        vars.push(("AWS_LAMBDA_LOG_STREAM_NAME".into(), log_stream_name(config)));
    }
    // How many invocations the runtime may work on at once: for the
    // runtime only, not for the extensions.
    if config.managed_instances() {
        vars.push((
            "AWS_LAMBDA_MAX_CONCURRENCY".into(),
            config.max_concurrency.to_string(),
        ));
    }
    // Custom runtimes get no AWS_EXECUTION_ENV.
    vars.extend(common(config, endpoints, folders));
    vars
}

/// The extension set: no handler, task root, log group or `_` variables.
pub fn extension(
    config: &Config,
    endpoints: &Endpoints,
    folders: &Folders,
) -> Vec<(String, String)> {
    common(config, endpoints, folders)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(vars: &[(String, String)]) -> Vec<&str> {
        vars.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn extensions_do_not_see_runtime_only_variables() {
        let config = Config {
            env: vec![
                ("GREETING".into(), "hi".into()),
                ("_SECRET".into(), "x".into()),
            ],
            ..Config::default()
        };
        let root = Folders {
            task_root: "/var/task".into(),
            layers: Vec::new(),
        };
        let services = [(
            "AWS_ENDPOINT_URL_S3".to_string(),
            "http://127.0.0.1:1".to_string(),
        )];
        let endpoints = Endpoints {
            runtime_api: "127.0.0.1:9001".into(),
            services: &services,
            credentials_token: "token",
        };
        let rt = runtime(&config, &endpoints, &root);
        let ext = extension(&config, &endpoints, &root);
        assert!(
            names(&rt).contains(&"AWS_ENDPOINT_URL_S3")
                && names(&ext).contains(&"AWS_ENDPOINT_URL_S3")
        );
        for var in [
            "_HANDLER",
            "LAMBDA_TASK_ROOT",
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_RUNTIME_API",
            "GREETING",
        ] {
            assert!(names(&rt).contains(&var), "runtime lacks {var}");
        }
        for var in [
            "_HANDLER",
            "LAMBDA_TASK_ROOT",
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "_AWS_XRAY_DAEMON_PORT",
            "AWS_EXECUTION_ENV",
        ] {
            assert!(!names(&ext).contains(&var), "extension sees {var}");
        }
        assert!(names(&ext).contains(&"GREETING"));
        assert!(!names(&rt).contains(&"_SECRET") && !names(&ext).contains(&"_SECRET"));
    }

    #[test]
    fn on_managed_instances_only_the_runtime_gets_the_concurrency() {
        let config = Config {
            init_type: crate::config::InitType::ManagedInstances,
            max_concurrency: 4,
            ..Config::default()
        };
        let root = Folders {
            task_root: "/var/task".into(),
            layers: Vec::new(),
        };
        let endpoints = Endpoints {
            runtime_api: "127.0.0.1:9001".into(),
            services: &[],
            credentials_token: "token",
        };
        let rt = runtime(&config, &endpoints, &root);
        let ext = extension(&config, &endpoints, &root);
        let value = |vars: &[(String, String)], name: &str| {
            vars.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            value(&rt, "AWS_LAMBDA_MAX_CONCURRENCY").as_deref(),
            Some("4")
        );
        assert_eq!(value(&ext, "AWS_LAMBDA_MAX_CONCURRENCY"), None);
        for vars in [&rt, &ext] {
            assert_eq!(
                value(vars, "AWS_LAMBDA_INITIALIZATION_TYPE").as_deref(),
                Some("lambda-managed-instances")
            );
            assert_eq!(
                value(vars, "AWS_LAMBDA_LOG_FORMAT").as_deref(),
                Some("JSON")
            );
        }
    }

    #[test]
    fn with_snapstart_credentials_come_from_the_endpoint_and_no_log_stream_is_named() {
        let config = Config {
            init_type: crate::config::InitType::SnapStart,
            ..Config::default()
        };
        let root = Folders {
            task_root: "/var/task".into(),
            layers: Vec::new(),
        };
        let endpoints = Endpoints {
            runtime_api: "127.0.0.1:9001".into(),
            services: &[],
            credentials_token: "the-token",
        };
        for vars in [
            runtime(&config, &endpoints, &root),
            extension(&config, &endpoints, &root),
        ] {
            let value = |name: &str| {
                vars.iter()
                    .rev()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            };
            assert_eq!(
                value("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
                Some("http://127.0.0.1:9001/2021-04-23/credentials")
            );
            assert_eq!(
                value("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
                Some("the-token")
            );
            assert_eq!(value("AWS_LAMBDA_INITIALIZATION_TYPE"), Some("snap-start"));
            for absent in [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "AWS_LAMBDA_LOG_STREAM_NAME",
            ] {
                assert_eq!(value(absent), None, "{absent} is set");
            }
        }
    }
}
