//! The shipper end to end in the sandbox: the function's log lines and the
//! platform's records land in the local bucket, each exactly once.

mod support;

use lambda_sandbox::Environment;
use support::*;

const INVOKES: usize = 5;
const LINES: usize = 20;

/// Every request's records, exactly once: its numbered lines, and the
/// platform records of both APIs.
fn assert_complete(records: &[serde_json::Value], ids: &[String], platform: &[&str]) {
    assert_eq!(
        sorted(numbered_lines(records)),
        sorted(expected_lines(ids, LINES)),
        "every line once, none lost, none duplicated"
    );
    for id in ids {
        for kind in platform {
            assert_eq!(count_for(records, kind, id), 1, "{kind} of {id}");
        }
    }
}

#[tokio::test]
async fn each_invokes_logs_are_in_the_bucket_before_the_next_invoke() {
    let (_package, config) = setup(&[("SHIPPER_FLUSH_INTERVAL_MS", "0")]);
    let env = Environment::start(config.clone()).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..INVOKES {
        ids.extend(invoke_lines(&env, 1, LINES).await);
        // The shipper held back its next until the invoke's runtimeDone was
        // delivered and uploaded: the lines are there now, not one invoke late.
        let shipped = numbered_lines(&records(&config));
        assert_eq!(sorted(shipped), sorted(expected_lines(&ids, LINES)));
    }
    env.shutdown().await;

    let records = records(&config);
    assert_complete(
        &records,
        &ids,
        &["platform.start", "platform.runtimeDone", "platform.report"],
    );
    assert!(records.iter().any(|r| r["type"] == "platform.initStart"));
    assert!(
        records.iter().all(|r| r["type"] != "extension"),
        "the shipper does not ship its own log lines"
    );
    for object in objects(&config) {
        let parts: Vec<&str> = object.key.split('/').collect();
        assert_eq!(parts.len(), 5, "{}", object.key);
        assert_eq!(parts[0], "sandbox-function");
        assert!(
            parts[1].starts_with("year=") && parts[1].len() == 9,
            "{}",
            object.key
        );
        assert!(parts[2].starts_with("month=") && parts[3].starts_with("day="));
        assert!(parts[4].ends_with(".ndjson") && !object.key.contains(':'));
        let year = &parts[1][5..];
        assert!(
            parts[4].starts_with(year),
            "named after its first record's time"
        );
    }
}

#[tokio::test]
async fn the_logs_api_flow_delivers_the_same_lines() {
    let (_package, config) = setup(&[("SHIPPER_API", "logs"), ("S3_KEY_PREFIX", "team/app")]);
    let env = Environment::start(config.clone()).await.unwrap();
    let ids = invoke_lines(&env, INVOKES, LINES).await;
    env.shutdown().await;

    let records = records(&config);
    assert_complete(
        &records,
        &ids,
        &[
            "platform.start",
            "platform.end",
            "platform.runtimeDone",
            "platform.report",
        ],
    );
    assert!(
        records.iter().all(|r| r["type"] != "platform.initStart"),
        "the Logs API has no init events"
    );
    assert!(
        objects(&config)
            .iter()
            .all(|o| o.key.starts_with("team/app/sandbox-function/"))
    );
}

#[tokio::test]
async fn json_log_lines_are_shipped_as_json_objects() {
    let (_package, config) = setup(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    let env = Environment::start(config.clone()).await.unwrap();
    let ids = invoke_lines(&env, INVOKES, LINES).await;
    env.shutdown().await;

    let records = records(&config);
    assert_complete(&records, &ids, &["platform.start", "platform.report"]);
    let functions: Vec<_> = records.iter().filter(|r| r["type"] == "function").collect();
    assert!(!functions.is_empty());
    for record in functions {
        assert_eq!(record["record"]["level"], "INFO", "{record}");
    }
}

#[tokio::test]
async fn frequent_invokes_share_objects_and_gzip_objects_read_back() {
    let (_package, config) = setup(&[("SHIPPER_GZIP", "true")]);
    let env = Environment::start(config.clone()).await.unwrap();
    let ids = invoke_lines(&env, 20, LINES).await;
    env.shutdown().await;

    let objects = objects(&config);
    assert!(objects.iter().all(|o| o.key.ends_with(".ndjson.gz")));
    assert!(
        objects.len() < 10,
        "20 back-to-back invokes within the 1 s flush interval make few objects, not {}",
        objects.len()
    );
    let records: Vec<_> = objects.into_iter().flat_map(|o| o.records).collect();
    assert_eq!(
        sorted(numbered_lines(&records)),
        sorted(expected_lines(&ids, LINES))
    );
}

#[tokio::test]
async fn records_held_at_shutdown_are_uploaded_before_the_deadline() {
    let (_package, config) = setup(&[("SHIPPER_FLUSH_INTERVAL_MS", "600000")]);
    let env = Environment::start(config.clone()).await.unwrap();
    let ids = invoke_lines(&env, INVOKES, LINES).await;
    // Only the first invoke was due for a flush; the others wait in memory.
    let before = numbered_lines(&records(&config));
    assert_eq!(sorted(before), sorted(expected_lines(&ids[..1], LINES)));
    env.shutdown().await;

    let records = records(&config);
    assert_complete(&records, &ids, &["platform.start", "platform.report"]);
    assert!(
        extension_lines(&env)
            .iter()
            .any(|l| l.contains("SHUTDOWN (spindown): shipped")),
        "{:?}",
        extension_lines(&env)
    );
}

/// The local address of the TCP socket listening on `port`, from the
/// kernel's table (`/proc/net/tcp`: hex address, state 0A for LISTEN).
fn listening_address(port: u16) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (address, listening_port) = fields[1].split_once(':')?;
        (fields[3] == "0A" && u16::from_str_radix(listening_port, 16).ok()? == port)
            .then(|| address.to_string())
    })
}

/// The port `setup` gave the shipper's listener.
fn listener_port(config: &lambda_sandbox::Config) -> u16 {
    config
        .env
        .iter()
        .find(|(k, _)| k == "SHIPPER_LISTENER_PORT")
        .unwrap()
        .1
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_listener_takes_deliveries_on_loopback_only() {
    let (_package, config) = setup(&[]);
    let port = listener_port(&config);
    let env = Environment::start(config.clone()).await.unwrap();
    // 127.0.0.1, in the kernel's little-endian hex: no other host can post
    // records into the bucket.
    assert_eq!(listening_address(port).as_deref(), Some("0100007F"));
    env.shutdown().await;
}

#[tokio::test]
async fn with_snapstart_the_restores_records_reach_s3_with_the_endpoints_credentials() {
    // No access keys with SnapStart: the SDK in the shipper finds its
    // credentials at the credentials endpoint, and each restore's records
    // (types the official crate's parser does not know) arrive as they are.
    let (_package, config) = setup(&[("SHIPPER_FLUSH_INTERVAL_MS", "0")]);
    let config = lambda_sandbox::Config {
        init_type: lambda_sandbox::InitType::SnapStart,
        ..config
    };
    let env = Environment::start(config.clone()).await.unwrap();
    let mut ids = invoke_lines(&env, 1, LINES).await;
    env.restore_anew().await.unwrap();
    ids.extend(invoke_lines(&env, 1, LINES).await);
    env.shutdown().await;

    let records = records(&config);
    assert_complete(
        &records,
        &ids,
        &["platform.start", "platform.runtimeDone", "platform.report"],
    );
    for kind in ["platform.restoreStart", "platform.restoreReport"] {
        let shipped = records.iter().filter(|r| r["type"] == kind).count();
        assert_eq!(shipped, 2, "{kind}");
    }
}

/// One raw delivery to the listener: its status code.
async fn deliver(port: u16, body: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: sandbox.localdomain\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    // A listener that refuses a body may answer and close before reading it all.
    let _ = socket.write_all(body).await;
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"))
}

#[tokio::test]
async fn deliveries_are_checked_on_the_wire_and_a_good_one_is_shipped_as_sent() {
    let (_package, mut config) = setup(&[]);
    // Frozen processes answer nobody: keep the listener running between invokes.
    config.freeze = false;
    let port = listener_port(&config);
    let env = Environment::start(config.clone()).await.unwrap();
    assert_eq!(deliver(port, b"{\"not\":\"an array\"}").await, 400);
    assert_eq!(deliver(port, &vec![b' '; (4 << 20) + 1]).await, 413);
    let sent = br#"[ {"time":"2026-01-15T12:00:00.001Z","type":"function","record":"raw delivery one"},
        {"time":"2026-01-15T12:00:00.002Z","type":"function","record":{"message":"raw delivery two"}} ]"#;
    assert_eq!(deliver(port, sent).await, 200);
    env.shutdown().await;
    let shipped: Vec<serde_json::Value> = records(&config)
        .into_iter()
        .filter(|r| r.to_string().contains("raw delivery"))
        .collect();
    assert_eq!(
        shipped,
        vec![
            serde_json::json!({"time":"2026-01-15T12:00:00.001Z","type":"function","record":"raw delivery one"}),
            serde_json::json!({"time":"2026-01-15T12:00:00.002Z","type":"function","record":{"message":"raw delivery two"}}),
        ]
    );
}
