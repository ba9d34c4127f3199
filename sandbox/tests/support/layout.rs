//! Fixtures laid out as extensions and runtimes written for Lambda's own
//! paths lay themselves out (`lambda_layout/`), and isolated environments
//! to run them in.

use std::path::Path;
use std::time::Duration;

use lambda_sandbox::{Config, Environment, Package};

pub const PYTHON_EXTENSION: &str = include_str!("../lambda_layout/telemetry_extension.py");
pub const NODE_EXTENSION: &str = include_str!("../lambda_layout/telemetry_extension.js");
const BOOTSTRAP: &str = include_str!("../lambda_layout/bootstrap.sh");
const FUNCTION: &str = include_str!("../lambda_layout/function.sh");
const WRAPPER: &str = include_str!("../lambda_layout/extension_wrapper.sh");

/// A package with the `/var/task` bootstrap and its handler.
pub fn function_package(label: &str) -> Package {
    let package = Package::temporary(label).unwrap();
    package.bootstrap_script(BOOTSTRAP).unwrap();
    std::fs::write(package.task_root().join("function.sh"), FUNCTION).unwrap();
    package
}

/// Adds an extension as the AWS samples lay one out: the wrapper in
/// `extensions/`, the code in `<name>/`.
pub fn add_extension(package: &Package, name: &str, file: &str, code: &str) {
    package.extension_script(name, WRAPPER).unwrap();
    let dir = package.layer().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, code).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

pub fn isolated(package: &Package, env: Vec<(String, String)>) -> Config {
    Config {
        isolation: true,
        env,
        timeout: Duration::from_secs(10),
        ..package.config()
    }
}

pub async fn start(config: Config) -> Environment {
    let env = Environment::start(config).await.unwrap();
    assert!(
        env.is_isolated(),
        "isolation was refused on this machine: run `lambda-sandbox run` to see why"
    );
    env
}

/// `lambda-sandbox run ARGS` inside a user namespace whose limit
/// `user.max_<limit>_namespaces` is 0: the kernel itself refuses what the
/// sandbox asks for, as a sysctl or AppArmor would on a user's machine.
/// Returns what it printed; the run must succeed all the same.
pub fn run_refused(limit: &str, args: &[&str], task_root: &Path) -> String {
    let output = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "sh", "-c"])
        .arg(format!(
            r#"echo 0 > /proc/sys/user/max_{limit}_namespaces && exec "$0" "$@""#
        ))
        .arg(env!("CARGO_BIN_EXE_lambda-sandbox"))
        .args(["run"])
        .args(args)
        .arg("--task-root")
        .arg(task_root)
        .output()
        .expect("unshare (util-linux) is installed");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
