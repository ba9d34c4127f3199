//! `timeline.svg`: the run as a sequence diagram, well-formed, with one
//! lane per process and one band per phase, and a picture when a browser
//! draws it (Debian's chromium, headless, which scripts/test installs).

mod support;

use std::collections::HashMap;

use lambda_sandbox::{InvokeRequest, Status};
use serde_json::json;
use support::layout::{PYTHON_EXTENSION, add_extension, function_package, isolated, start};

/// The bash runtime and the Python Telemetry extension: Init, two invokes,
/// Shutdown.
async fn two_invokes_svg() -> String {
    let package = function_package("timeline");
    add_extension(&package, "py-telemetry", "extension.py", PYTHON_EXTENSION);
    // The tests run side by side: each extension listens on its own port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let env = start(isolated(
        &package,
        vec![("LISTEN_PORT".into(), port.to_string())],
    ))
    .await;
    for _ in 0..2 {
        let result = env.invoke(InvokeRequest::json(&json!({}))).await;
        assert_eq!(result.status, Status::Success, "{:?}", result.payload);
    }
    env.wait_idle().await;
    env.shutdown().await;
    env.timeline_svg()
}

#[tokio::test]
async fn one_lane_per_process_one_band_per_phase() {
    let svg = two_invokes_svg().await;
    let document = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(document.root_element().tag_name().name(), "svg");
    let mut classes: HashMap<&str, usize> = HashMap::new();
    for node in document.descendants() {
        if let Some(class) = node.attribute("class") {
            *classes.entry(class).or_default() += 1;
        }
    }
    // The caller, the platform, the runtime and the extension.
    assert_eq!(classes.get("lane"), Some(&4), "{classes:?}");
    assert_eq!(classes.get("band init"), Some(&1), "{classes:?}");
    assert_eq!(classes.get("band invoke"), Some(&2), "{classes:?}");
    assert_eq!(classes.get("band shutdown"), Some(&1), "{classes:?}");
    let texts: Vec<&str> = document
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    for label in [
        "caller",
        "platform",
        "runtime",
        "py-telemetry",
        "register",
        "INVOKE",
        "event",
        "response",
        "SIGTERM",
        "SHUTDOWN",
        "frozen",
        "thawed",
    ] {
        assert!(texts.contains(&label), "no {label:?} in {texts:?}");
    }
    // Each invoke: the caller's request and the answer it got.
    let answers = texts.iter().filter(|t| **t == "response").count();
    assert_eq!(
        answers, 4,
        "runtime → platform and platform → caller, twice"
    );
}

#[tokio::test]
async fn a_browser_draws_it() {
    let Some(chromium) = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|name| support::which(name))
    else {
        eprintln!(
            "chromium is not installed here: the picture is not drawn (scripts/test installs it)"
        );
        return;
    };
    let svg = two_invokes_svg().await;
    let dir = lambda_sandbox::Package::temporary("timeline-render").unwrap();
    let file = dir.root().join("timeline.svg");
    std::fs::write(&file, &svg).unwrap();
    let png = dir.root().join("timeline.png");
    let profile = dir.root().join("profile");
    let output = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=800,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap();
    assert!(
        png.exists(),
        "chromium wrote no screenshot: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let channels = frame.color_type.samples();
    let drawn = pixels[..frame.buffer_size()]
        .chunks(channels)
        .filter(|p| p.iter().take(3).any(|&c| c < 245))
        .count();
    let total = (frame.width * frame.height) as usize;
    // Lanes, bands, arrows and labels: a blank page has none.
    assert!(
        drawn * 100 > total * 10,
        "only {drawn} of {total} pixels are drawn"
    );
}
