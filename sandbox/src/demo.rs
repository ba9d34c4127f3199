//! `lambda-sandbox demo`: build the examples, then run their walkthroughs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lambda_sandbox::{Config, Environment, InvokeRequest, Package, Status};

/// The repository root, where the examples live.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the sandbox sits in the workspace")
        .to_path_buf()
}

/// The demo's own folder under `target/`, emptied: each run starts clean.
fn demo_folder(name: &str) -> std::io::Result<PathBuf> {
    let dir = workspace().join("target/sandbox-demo").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(dir)
}

fn build(packages: &[&str]) -> Result<PathBuf, String> {
    let root = workspace();
    println!(
        "building {} (cargo build --release)...",
        packages.join(", ")
    );
    let mut cmd =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&root)
        .args(["build", "--release", "--quiet"]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build failed ({status})"));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("release"))
}

async fn lifecycle() -> Result<ExitCode, String> {
    let bin = build(&["custom-runtime", "lifecycle-logger"])?;
    let io = |e: std::io::Error| e.to_string();
    let package = Package::at(demo_folder("lifecycle").map_err(io)?).map_err(io)?;
    package.bootstrap(&bin.join("bootstrap")).map_err(io)?;
    package
        .extension("lifecycle-logger", &bin.join("lifecycle-logger"))
        .map_err(io)?;
    println!(
        "\n== lifecycle: an external extension, a hand-written runtime, Init, two invokes, Shutdown ==\n"
    );
    let config = Config {
        handler: "function.handler".into(),
        env: vec![("LIFECYCLE_LOGGER_WORK_MS".into(), "1000".into())],
        echo: true,
        ..package.config()
    };
    let events = vec![
        r#"{"message":"first invoke"}"#.to_string(),
        r#"{"message":"second invoke"}"#.to_string(),
    ];
    let output = package.root().join("output");
    Ok(crate::run(config, events, 1, Some(output)).await)
}

async fn s3_log_shipper() -> Result<ExitCode, String> {
    let bin = build(&["custom-runtime", "s3-log-shipper"])?;
    let io = |e: std::io::Error| e.to_string();
    let package = Package::at(demo_folder("s3-log-shipper").map_err(io)?).map_err(io)?;
    package.bootstrap(&bin.join("bootstrap")).map_err(io)?;
    package
        .extension("s3-log-shipper", &bin.join("s3-log-shipper"))
        .map_err(io)?;
    println!(
        "\n== s3-log-shipper: the Telemetry API streams the logs, the extension writes them to a local S3 bucket ==\n"
    );
    let bucket = "demo-logs";
    let s3_dir = package.root().join("s3");
    let config = Config {
        handler: "function.handler".into(),
        env: vec![("S3_BUCKET_NAME".into(), bucket.into())],
        s3_buckets: vec![bucket.into()],
        s3_dir: Some(s3_dir.clone()),
        echo: true,
        ..package.config()
    };
    let events = vec![r#"{"lines":3}"#.to_string()];
    let output = package.root().join("output");
    let code = crate::run(config, events, 3, Some(output)).await;
    show_objects(&s3_dir.join(bucket))?;
    Ok(code)
}

/// Lists the objects under `bucket_dir` and prints the start of the first.
fn show_objects(bucket_dir: &Path) -> Result<(), String> {
    let mut objects = Vec::new();
    let mut folders = vec![bucket_dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                objects.push(path);
            }
        }
    }
    objects.sort();
    println!(
        "\n{} objects landed in {}:",
        objects.len(),
        bucket_dir.display()
    );
    for object in &objects {
        let key = object.strip_prefix(bucket_dir).unwrap_or(object);
        println!("  {}", key.display());
    }
    if let Some(first) = objects.first() {
        let text = std::fs::read_to_string(first).map_err(|e| e.to_string())?;
        println!("\nthe first lines of {}:", first.display());
        for line in text.lines().take(4) {
            println!("  {line}");
        }
    }
    Ok(())
}

async fn appconfig() -> Result<ExitCode, String> {
    let bin = build(&["appconfig-reader"])?;
    let io = |e: std::io::Error| e.to_string();
    let root = demo_folder("appconfig").map_err(io)?;
    let profile = "DemoExtensionApplication/Production/LoggingLevel";
    println!(
        "\n== appconfig: two functions read their log level through the AppConfig agent; a new version reaches both ==\n"
    );
    let mut functions = Vec::new();
    for name in ["appconfig-reader-a", "appconfig-reader-b"] {
        let package = Package::at(root.join(name)).map_err(io)?;
        package
            .bootstrap(&bin.join("appconfig-reader"))
            .map_err(io)?;
        functions.push((name, package));
    }
    let file = root.join("level.json");
    std::fs::write(&file, "{\"loglevel\": \"normal\"}\n").map_err(io)?;
    println!("{profile} is {}", file.display());
    println!("  {{\"loglevel\": \"normal\"}}\n");
    let mut environments = Vec::new();
    for (name, package) in &functions {
        let config = Config {
            function_name: name.to_string(),
            appconfig: vec![format!("{profile}={}", file.display()).parse()?],
            env: vec![
                ("APPCONFIG_PROFILE".into(), format!("{profile}/LogLevel")),
                (
                    "AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS".into(),
                    "1".into(),
                ),
            ],
            ..package.config()
        };
        let env = Environment::start(config)
            .await
            .map_err(|e| e.to_string())?;
        let port = env.appconfig_agent().map(|a| a.port()).unwrap_or_default();
        println!(
            "{name}: its AppConfig agent listens on port {port} (AWS_APPCONFIG_EXTENSION_HTTP_PORT)"
        );
        environments.push((*name, env));
    }
    let mut ok = true;
    ok &= round("first invokes (cold starts):", &environments).await;
    ok &= round("second invokes:", &environments).await;
    std::fs::write(&file, "{\"loglevel\": \"verbose\"}\n").map_err(io)?;
    println!(
        "\nnew version deployed: {} now says {{\"loglevel\": \"verbose\"}}; waiting out the agents' 1 s poll interval",
        file.display()
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    ok &= round("third invokes (no redeploy, no cold start):", &environments).await;
    for (_, env) in &environments {
        env.shutdown().await;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One invoke of each function.
async fn round(label: &str, environments: &[(&str, Environment)]) -> bool {
    println!("\n{label}");
    let mut ok = true;
    for (name, env) in environments {
        ok &= invoke_and_show(name, env).await;
    }
    ok
}

/// One invoke, its response and the function's log lines.
async fn invoke_and_show(name: &str, env: &Environment) -> bool {
    let mark = env.journal_len();
    let result = env
        .invoke(InvokeRequest::json(&serde_json::json!({"hello": "world"})))
        .await;
    env.wait_idle().await;
    println!("  {name} -> {}", String::from_utf8_lossy(&result.payload));
    for record in env.records_from(mark) {
        if record.kind == "function" {
            println!("      log: {}", record.record.as_str().unwrap_or_default());
        }
    }
    result.status == Status::Success
}

const DEMOS: &str = "lifecycle, s3-log-shipper, appconfig";

/// Every demo in turn, stopping at the first that fails.
async fn all() -> Result<ExitCode, String> {
    let code = lifecycle().await?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let code = s3_log_shipper().await?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    appconfig().await
}

pub async fn run(name: Option<&str>) -> ExitCode {
    let result = match name {
        None => all().await,
        Some("lifecycle") => lifecycle().await,
        Some("s3-log-shipper") => s3_log_shipper().await,
        Some("appconfig") => appconfig().await,
        Some(other) => Err(format!("unknown demo {other:?}; the demos are: {DEMOS}")),
    };
    result.unwrap_or_else(|err| {
        eprintln!("lambda-sandbox demo: {err}");
        ExitCode::from(2)
    })
}
