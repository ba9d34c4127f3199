//! The local AppConfig agent: the paths, answers and caching of the real
//! agent's HTTP interface, checked with raw HTTP as a function would call it.

mod support;

use std::time::Duration;

use lambda_sandbox::Package;
use lambda_sandbox::appconfig_agent::{self, Profile};
use support::http;

const FLAGS: &str = r#"{
  "version": "1",
  "flags": {"newCheckout": {"name": "New checkout"}, "darkMode": {"name": "Dark mode"}},
  "values": {"newCheckout": {"enabled": true, "percent": 10}}
}"#;

fn profiles(package: &Package) -> Vec<Profile> {
    let level = package.root().join("level.json");
    std::fs::write(&level, r#"{"loglevel":"normal"}"#).unwrap();
    let flags = package.root().join("flags.json");
    std::fs::write(&flags, FLAGS).unwrap();
    vec![
        format!("App/Prod/Logging={}", level.display())
            .parse()
            .unwrap(),
        format!("App/Prod/Flags={}", flags.display())
            .parse()
            .unwrap(),
    ]
}

const LOGGING: &str = "/applications/App/environments/Prod/configurations/Logging";
const FLAGS_PATH: &str = "/applications/App/environments/Prod/configurations/Flags";

#[tokio::test]
async fn a_freeform_profile_is_served_with_its_content_type_and_version() {
    let package = Package::temporary("appconfig-agent").unwrap();
    let agent = appconfig_agent::serve(profiles(&package), Duration::from_secs(45), 0)
        .await
        .unwrap();
    let reply = http(agent.addr, "GET", LOGGING, &[], b"").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, r#"{"loglevel":"normal"}"#);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.headers["configuration-version"], "1");

    let reply = http(agent.addr, "GET", &format!("{LOGGING}?flag=x"), &[], b"").await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.body.contains("needs a feature flag profile"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn unknown_names_get_404_saying_which_name() {
    let package = Package::temporary("appconfig-agent").unwrap();
    let agent = appconfig_agent::serve(profiles(&package), Duration::from_secs(45), 0)
        .await
        .unwrap();
    for (path, says) in [
        (
            "/applications/Nope/environments/Prod/configurations/Logging",
            "application \"Nope\"",
        ),
        (
            "/applications/App/environments/Beta/configurations/Logging",
            "environment \"Beta\"",
        ),
        (
            "/applications/App/environments/Prod/configurations/Colour",
            "configuration profile \"Colour\"",
        ),
    ] {
        let reply = http(agent.addr, "GET", path, &[], b"").await;
        assert_eq!(reply.status, 404, "{path}");
        assert!(reply.body.contains(says), "{}", reply.body);
        assert!(
            reply
                .body
                .contains("this agent serves App/Prod/Logging, App/Prod/Flags"),
            "{}",
            reply.body
        );
    }
}

#[tokio::test]
async fn feature_flag_profiles_serve_values_whole_or_by_flag() {
    let package = Package::temporary("appconfig-agent").unwrap();
    let agent = appconfig_agent::serve(profiles(&package), Duration::from_secs(45), 0)
        .await
        .unwrap();
    let whole = http(agent.addr, "GET", FLAGS_PATH, &[], b"").await;
    assert_eq!(whole.status, 200);
    assert_eq!(
        whole.json(),
        serde_json::json!({"newCheckout": {"enabled": true, "percent": 10}, "darkMode": {"enabled": false}})
    );
    let one = http(
        agent.addr,
        "GET",
        &format!("{FLAGS_PATH}?flag=newCheckout"),
        &[],
        b"",
    )
    .await;
    assert_eq!(
        one.json(),
        serde_json::json!({"enabled": true, "percent": 10})
    );
    let two = http(
        agent.addr,
        "GET",
        &format!("{FLAGS_PATH}?flag=newCheckout&flag=darkMode"),
        &[],
        b"",
    )
    .await;
    assert_eq!(
        two.json(),
        serde_json::json!({"newCheckout": {"enabled": true, "percent": 10}, "darkMode": {"enabled": false}})
    );
    let unknown = http(
        agent.addr,
        "GET",
        &format!("{FLAGS_PATH}?flag=sepia"),
        &[],
        b"",
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert!(
        unknown.body.contains("flag \"sepia\" not found"),
        "{}",
        unknown.body
    );
}

#[tokio::test]
async fn an_edited_file_is_served_after_the_poll_interval() {
    let package = Package::temporary("appconfig-agent").unwrap();
    let profiles = profiles(&package);
    let file = profiles[0].path.clone();
    let agent = appconfig_agent::serve(profiles, Duration::from_millis(500), 0)
        .await
        .unwrap();
    assert_eq!(
        http(agent.addr, "GET", LOGGING, &[], b"").await.body,
        r#"{"loglevel":"normal"}"#
    );

    std::fs::write(&file, r#"{"loglevel":"verbose"}"#).unwrap();
    let cached = http(agent.addr, "GET", LOGGING, &[], b"").await;
    assert_eq!(
        cached.body, r#"{"loglevel":"normal"}"#,
        "the cached copy, within the interval"
    );

    tokio::time::sleep(Duration::from_millis(600)).await;
    let fresh = http(agent.addr, "GET", LOGGING, &[], b"").await;
    assert_eq!(fresh.body, r#"{"loglevel":"verbose"}"#);
    assert_eq!(fresh.headers["configuration-version"], "2");

    // A file that disappears keeps the last good copy served.
    std::fs::remove_file(&file).unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        http(agent.addr, "GET", LOGGING, &[], b"").await.body,
        r#"{"loglevel":"verbose"}"#
    );
}

#[tokio::test]
async fn the_environment_exports_the_agents_port_and_side_by_side_runs_differ() {
    let package = Package::temporary("appconfig-agent").unwrap();
    package
        .bootstrap_script(
            "#!/bin/sh\necho \"port=$AWS_APPCONFIG_EXTENSION_HTTP_PORT\"\nexec sleep 600\n",
        )
        .unwrap();
    let config = lambda_sandbox::Config {
        appconfig: profiles(&package),
        init_timeout: Duration::from_millis(300),
        freeze: false,
        ..package.config()
    };
    let a = lambda_sandbox::Environment::start(config.clone())
        .await
        .unwrap();
    let b = lambda_sandbox::Environment::start(config).await.unwrap();
    let (port_a, port_b) = (a.appconfig_agent().unwrap(), b.appconfig_agent().unwrap());
    assert_ne!(port_a.port(), port_b.port());
    let said = format!("{:?}", a.records());
    assert!(said.contains(&format!("port={}", port_a.port())), "{said}");
    a.shutdown().await;
    b.shutdown().await;
}
