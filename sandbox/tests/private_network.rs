//! `--private-network`: each environment has a network of its own, where
//! the Runtime API is at Lambda's address, the S3 endpoint and the
//! AppConfig agent are reachable, and what the extensions listen on stays
//! inside. Its own test binary, so that its Python extensions do not slow
//! the timing checks of `lambda_layout.rs`.

mod support;

use lambda_sandbox::appconfig_agent::Profile;
use lambda_sandbox::{Config, InvokeRequest, Status};
use serde_json::{Value, json};
use support::layout::{add_extension, function_package, isolated, run_refused, start};
use support::lines;

#[tokio::test]
async fn private_networks_keep_listeners_inside_and_ports_per_environment() {
    // A port free on the host: the extensions' listeners must not show up
    // there, though both bind it on every interface.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let mut packages = Vec::new();
    let mut envs = Vec::new();
    let labels = ["network-a", "network-b"];
    for label in labels {
        let package = function_package(label);
        add_extension(
            &package,
            "py-telemetry",
            "extension.py",
            support::layout::PYTHON_EXTENSION,
        );
        let listen = vec![
            ("LISTEN_HOST".into(), "0.0.0.0".into()),
            ("LISTEN_PORT".into(), port.to_string()),
        ];
        let settings = package.root().join("settings.txt");
        std::fs::write(&settings, format!("served-in-{label}")).unwrap();
        let env = start(Config {
            private_network: true,
            s3_buckets: vec!["network-bucket".into()],
            appconfig: vec![Profile {
                application: "app".into(),
                environment: "env".into(),
                profile: "profile".into(),
                path: settings,
            }],
            ..isolated(&package, listen)
        })
        .await;
        packages.push(package);
        envs.push(env);
    }
    for (env, label) in envs.iter().zip(labels) {
        let result = env.invoke(InvokeRequest::json(&json!({}))).await;
        assert_eq!(result.status, Status::Success, "{:?}", result.payload);
        let facts: Value = serde_json::from_slice(&result.payload).unwrap();
        assert_eq!(facts["runtime_api"], "127.0.0.1:9001", "{facts}");
        assert_eq!(facts["sandbox_localdomain"], "127.0.0.1", "{facts}");
        let s3 = facts["s3"].as_str().unwrap();
        assert!(
            s3.len() == 3 && s3 != "000",
            "the S3 endpoint is not reachable inside: {facts}"
        );
        assert_eq!(facts["appconfig"], format!("served-in-{label}"), "{facts}");
        env.wait_idle().await;
    }
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "an extension's listener on 0.0.0.0:{port} is reachable from the host"
    );
    for env in &envs {
        env.shutdown().await;
        let extension = lines(&env.records(), "extension");
        for kind in ["platform.start", "platform.report"] {
            let wanted = format!("[py-telemetry] record {kind}");
            assert!(extension.contains(&wanted), "no {kind}: {extension:#?}");
        }
    }
}

#[test]
fn a_machine_that_refuses_network_namespaces_runs_on_the_hosts_network_and_says_so() {
    let package = function_package("network-refused");
    // The kernel refuses the sandbox's network namespace.
    let stdout = run_refused("net", &["--private-network"], &package.task_root());
    let refusals: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("no private network here"))
        .collect();
    assert_eq!(refusals.len(), 1, "{stdout}");
    assert!(refusals[0].contains("user.max_*_namespaces"), "{stdout}");
    // Still isolated, on the host's network: the function ran at /var/task
    // and was given the API's host address, not Lambda's 127.0.0.1:9001.
    assert!(stdout.contains("isolated: layers at /opt"), "{stdout}");
    assert!(stdout.contains(r#""cwd":"/var/task""#), "{stdout}");
    assert!(
        !stdout.contains(r#""runtime_api":"127.0.0.1:9001""#),
        "{stdout}"
    );
}

#[test]
fn private_network_and_no_isolation_are_refused_together() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lambda-sandbox"))
        .args([
            "run",
            "--private-network",
            "--no-isolation",
            "--task-root",
            ".",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--private-network") && stderr.contains("--no-isolation"),
        "{stderr}"
    );
}
