//! The original post's AppConfig walkthrough, in the sandbox: two functions
//! read `loglevel` through the agent, a new configuration is deployed, both
//! pick it up on their next invoke without a cold start. The story itself is
//! `walkthroughs::appconfig`, which `cargo walkthroughs` prints.

use std::path::Path;

use lambda_sandbox::{Config, Environment, InvokeRequest, InvokeResult, Package, Status};
use serde_json::{Value, json};
use walkthroughs::{Binaries, Place, appconfig};

const PROFILE: &str = "DemoExtensionApplication/Production/LoggingLevel";

/// A package with the reader as its `bootstrap` and a configuration file.
fn setup(config_text: &str, vars: &[(&str, &str)]) -> (Package, Config) {
    let package = Package::temporary("appconfig-reader").unwrap();
    package
        .bootstrap(Path::new(env!("CARGO_BIN_EXE_appconfig-reader")))
        .unwrap();
    let file = package.root().join("level.json");
    std::fs::write(&file, config_text).unwrap();
    let mut env = vec![
        (
            "APPCONFIG_PROFILE".to_string(),
            format!("{PROFILE}/LogLevel"),
        ),
        (
            "AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS".into(),
            "1".into(),
        ),
    ];
    env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = Config {
        appconfig: vec![format!("{PROFILE}={}", file.display()).parse().unwrap()],
        env,
        ..package.config()
    };
    (package, config)
}

async fn hello(env: &Environment) -> InvokeResult {
    let result = env
        .invoke(InvokeRequest::json(&json!({"hello": "world"})))
        .await;
    env.wait_idle().await;
    result
}

fn answer(result: &InvokeResult) -> Value {
    assert_eq!(result.status, Status::Success, "{result:?}");
    serde_json::from_slice(&result.payload).unwrap()
}

fn expected(cold: bool, level: &str) -> Value {
    json!({"event": {"hello": "world"}, "ColdStart": cold, "LogLevel": level})
}

#[tokio::test]
async fn a_new_configuration_reaches_both_functions_without_a_cold_start() {
    // The walkthrough `cargo walkthroughs appconfig` prints.
    let binaries = Binaries::beside(Path::new(env!("CARGO_BIN_EXE_appconfig-reader")));
    let story = appconfig::run(
        &binaries,
        &appconfig::Settings {
            echo: false,
            place: Place::Temporary,
        },
    )
    .await
    .unwrap();
    let [cold, warm, updated] = &story.rounds[..] else {
        panic!("three rounds, got {}", story.rounds.len());
    };
    let debug_lines = |answer: &appconfig::Answer| {
        answer
            .log_lines
            .iter()
            .filter(|l| l.starts_with("DEBUG "))
            .count()
    };
    for (round, cold_start, level) in [
        (cold, true, "normal"),
        (warm, false, "normal"),
        (updated, false, "verbose"),
    ] {
        let functions: Vec<&str> = round.answers.iter().map(|a| a.function).collect();
        assert_eq!(functions, appconfig::FUNCTIONS, "{}", round.label);
        for answer in &round.answers {
            assert_eq!(
                self::answer(&answer.invocation.result),
                expected(cold_start, level),
                "{}: {}",
                round.label,
                answer.function
            );
            // normal logs at INFO; verbose turns on DEBUG lines.
            assert_eq!(
                debug_lines(answer) > 0,
                level == "verbose",
                "{}: {:?}",
                round.label,
                answer.log_lines
            );
        }
    }
}

#[tokio::test]
async fn cold_start_is_true_again_after_the_environment_resets() {
    let (_package, config) = setup(r#"{"loglevel":"normal"}"#, &[]);
    let env = Environment::start(config).await.unwrap();
    assert_eq!(answer(&hello(&env).await)["ColdStart"], true);
    assert_eq!(answer(&hello(&env).await)["ColdStart"], false);
    // The runtime dies between invokes; Lambda resets the environment.
    for pid in env.pids().await {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    }
    let mut result = hello(&env).await;
    for _ in 0..3 {
        if result.status == Status::Success {
            break;
        }
        result = hello(&env).await;
    }
    assert_eq!(
        answer(&result)["ColdStart"],
        true,
        "a new process is a cold start"
    );
    env.shutdown().await;
}

/// The error type and message of one invoke with this configuration.
async fn failure(
    config_text: &str,
    vars: &[(&str, &str)],
    without_agent: bool,
) -> (String, String) {
    let (_package, mut config) = setup(config_text, vars);
    if without_agent {
        config.appconfig.clear();
    }
    let env = Environment::start(config).await.unwrap();
    let result = hello(&env).await;
    env.shutdown().await;
    assert_eq!(result.status, Status::Error, "{result:?}");
    let body: Value = serde_json::from_slice(&result.payload).unwrap();
    (
        body["errorType"].as_str().unwrap().to_string(),
        body["errorMessage"].as_str().unwrap().to_string(),
    )
}

/// A configuration that makes the function fail, and how.
struct Case<'a> {
    config: &'a str,
    vars: &'a [(&'a str, &'a str)],
    without_agent: bool,
    error_type: &'a str,
    says: &'a str,
}

#[tokio::test]
async fn each_failure_has_its_own_error_type_and_says_what_to_check() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let unused_port = [("AWS_APPCONFIG_EXTENSION_HTTP_PORT", port.as_str())];
    let cases = [
        Case {
            config: r#"{"loglevel":"normal"}"#,
            vars: &unused_port,
            without_agent: true,
            error_type: "AppConfigReader.AgentUnreachable",
            says: "check that the function has the AppConfig agent layer",
        },
        Case {
            config: r#"{"loglevel":"normal"}"#,
            vars: &[(
                "APPCONFIG_PROFILE",
                "DemoExtensionApplication/Staging/LoggingLevel",
            )],
            without_agent: false,
            error_type: "AppConfigReader.ProfileNotFound",
            says: "environment \"Staging\"",
        },
        Case {
            config: r#"{"colour":"blue"}"#,
            vars: &[],
            without_agent: false,
            error_type: "AppConfigReader.KeyMissing",
            says: "no key \"LogLevel\"",
        },
        Case {
            config: "loglevel=normal",
            vars: &[],
            without_agent: false,
            error_type: "AppConfigReader.NotJson",
            says: "is not a JSON object",
        },
        Case {
            config: r#"{"loglevel":"normal"}"#,
            vars: &[("APPCONFIG_PROFILE", "DemoExtensionApplication/Production")],
            without_agent: false,
            error_type: "AppConfigReader.InvalidSetting",
            says: "application/environment/profile[/key]",
        },
    ];
    for case in cases {
        let (got_type, message) = failure(case.config, case.vars, case.without_agent).await;
        assert_eq!(got_type, case.error_type, "{message}");
        assert!(
            message.contains(case.says),
            "{}: {message}",
            case.error_type
        );
    }
}

#[tokio::test]
async fn on_managed_instances_concurrent_invocations_share_one_cold_start() {
    let binaries = Binaries::beside(Path::new(env!("CARGO_BIN_EXE_appconfig-reader")));
    let story = appconfig::run_managed_instances(
        &binaries,
        &appconfig::Settings {
            echo: false,
            place: Place::Temporary,
        },
    )
    .await
    .unwrap();
    assert_eq!(story.invocations.len(), appconfig::CONCURRENT_INVOKES);
    let mut cold = 0;
    for invocation in &story.invocations {
        assert_eq!(
            invocation.result.status,
            Status::Success,
            "{:?}",
            invocation.result
        );
        let body: serde_json::Value = serde_json::from_slice(&invocation.result.payload).unwrap();
        assert_eq!(body["LogLevel"], "normal");
        cold += usize::from(body["ColdStart"] == true);
    }
    // One environment, however many invocations it serves at once.
    assert_eq!(cold, 1);
}
