//! `lambda-sandbox demo`: build the examples, then run their walkthroughs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lambda_sandbox::{Config, Package};

/// The repository root, where the examples live.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the sandbox sits in the workspace")
        .to_path_buf()
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
    let package = Package::at(workspace().join("target/sandbox-demo/lifecycle")).map_err(io)?;
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

pub async fn run(name: Option<&str>) -> ExitCode {
    let result = match name {
        None | Some("lifecycle") => lifecycle().await,
        Some(other) => Err(format!("unknown demo {other:?}; the demos are: lifecycle")),
    };
    result.unwrap_or_else(|err| {
        eprintln!("lambda-sandbox demo: {err}");
        ExitCode::from(2)
    })
}
