//! `lambda-sandbox demo`: build the examples, then run their walkthroughs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lambda_sandbox::Config;

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

/// Copies `binary` into `dir/name`, as a layer or a function package holds it.
fn install(binary: &Path, dir: &Path, name: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    std::fs::copy(binary, dir.join(name))
        .map(|_| ())
        .map_err(|e| format!("cannot copy {}: {e}", binary.display()))
}

async fn lifecycle() -> Result<ExitCode, String> {
    let bin = build(&["custom-runtime", "lifecycle-logger"])?;
    let root = workspace().join("target/sandbox-demo/lifecycle");
    let _ = std::fs::remove_dir_all(&root);
    install(&bin.join("bootstrap"), &root.join("task"), "bootstrap")?;
    install(
        &bin.join("lifecycle-logger"),
        &root.join("layer/extensions"),
        "lifecycle-logger",
    )?;
    println!(
        "\n== lifecycle: an external extension, a hand-written runtime, Init, two invokes, Shutdown ==\n"
    );
    let config = Config {
        opt_dirs: vec![root.join("layer")],
        task_root: Some(root.join("task")),
        handler: "function.handler".into(),
        env: vec![("LIFECYCLE_LOGGER_WORK_MS".into(), "1000".into())],
        echo: true,
        ..Config::default()
    };
    let events = vec![
        r#"{"message":"first invoke"}"#.to_string(),
        r#"{"message":"second invoke"}"#.to_string(),
    ];
    Ok(crate::run(config, events, 1, Some(root.join("output"))).await)
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
