//! Lambda's managed runtimes: the handler (`module.function`) runs through the
//! official Runtime Interface Client of its language, as Lambda runs it, so a
//! Rust extension can be tried beside the Python or Node function it will
//! really meet.
//!
//! The client is installed on first use into a cache folder outside the
//! repository (`awslambdaric` from PyPI into a virtualenv, `aws-lambda-ric`
//! from npm), and run by the `python3` or `node` found on `PATH`, or the one
//! given with `--interpreter`. `provided.al2023`, the default, is the custom
//! runtime: the `bootstrap` lookup of [`crate::packaging::layers`].

use std::path::{Path, PathBuf};
use std::str::FromStr;

use tokio::process::Command;

/// The versions of the clients the sandbox installs: pinned, so that every
/// machine runs the same one.
const PYTHON_RIC: &str = "awslambdaric==4.2.2";
const NODE_RIC: &str = "aws-lambda-ric@4.0.2";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Runtime {
    /// A custom runtime: the function's own `bootstrap`.
    #[default]
    Provided,
    Python {
        minor: u32,
    },
    Node {
        major: u32,
    },
}

impl FromStr for Runtime {
    type Err = String;

    fn from_str(name: &str) -> Result<Runtime, String> {
        match name {
            "provided.al2023" | "provided.al2" | "provided" => Ok(Runtime::Provided),
            "python3.12" => Ok(Runtime::Python { minor: 12 }),
            "python3.13" => Ok(Runtime::Python { minor: 13 }),
            "python3.14" => Ok(Runtime::Python { minor: 14 }),
            "nodejs20.x" => Ok(Runtime::Node { major: 20 }),
            "nodejs22.x" => Ok(Runtime::Node { major: 22 }),
            "nodejs24.x" => Ok(Runtime::Node { major: 24 }),
            other => Err(format!(
                "unknown runtime {other:?}: the sandbox runs provided.al2023 (a bootstrap), \
                 python3.12, python3.13, python3.14, nodejs20.x, nodejs22.x and nodejs24.x"
            )),
        }
    }
}

impl std::fmt::Display for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Runtime::Provided => f.write_str("provided.al2023"),
            Runtime::Python { minor } => write!(f, "python3.{minor}"),
            Runtime::Node { major } => write!(f, "nodejs{major}.x"),
        }
    }
}

impl Runtime {
    /// The runtime version as Lambda's records name it (`python:3.13.v16`);
    /// the sandbox's own build is `sandbox`.
    pub fn version_name(self) -> String {
        match self {
            Runtime::Provided => "provided:al2023.sandbox".into(),
            Runtime::Python { minor } => format!("python:3.{minor}.sandbox"),
            Runtime::Node { major } => format!("nodejs:{major}.sandbox"),
        }
    }
}

/// How the runtime process starts: the program, its arguments, and the
/// variables the managed runtime adds.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// Why a managed runtime cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "{runtime} needs {program}, which is not on PATH: install it (Debian: apt-get install {package}), \
         or name one with --interpreter"
    )]
    NoInterpreter {
        runtime: Runtime,
        program: String,
        package: &'static str,
    },
    #[error("cannot install {what} into {}: {detail}", dir.display())]
    Install {
        what: &'static str,
        dir: PathBuf,
        detail: String,
    },
    #[error("a managed runtime needs the function's code: pass --task-root")]
    NoTaskRoot,
}

/// Where installed clients are kept: `LAMBDA_SANDBOX_CACHE`, else the
/// user's cache folder (`XDG_CACHE_HOME`, `~/.cache`).
pub fn default_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("LAMBDA_SANDBOX_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("lambda-sandbox")
}

/// What a managed runtime runs, its client installed first if needed;
/// `None` for a custom runtime. `warn` hears one line when the interpreter
/// is not the version the runtime name asks for.
pub async fn prepare(
    runtime: Runtime,
    handler: &str,
    interpreter: Option<&Path>,
    cache: &Path,
    layers: &[PathBuf],
    warn: impl Fn(String),
) -> Result<Option<Launch>, RuntimeError> {
    match runtime {
        Runtime::Provided => Ok(None),
        Runtime::Python { minor } => {
            let python = find(runtime, interpreter, "python3", "python3")?;
            let expected = format!("Python 3.{minor}.");
            check_version(
                runtime,
                &python,
                &expected,
                |v| v.contains(&expected),
                &warn,
            )
            .await;
            let venv = install_python_client(&python, cache).await?;
            // Lambda puts a layer's python/ and its site-packages on the path.
            let mut path = Vec::new();
            for layer in layers.iter().rev() {
                path.push(layer.join("python"));
                path.push(layer.join(format!("python/lib/python3.{minor}/site-packages")));
            }
            Ok(Some(Launch {
                program: venv.join("bin/python"),
                args: vec!["-m".into(), "awslambdaric".into(), handler.into()],
                env: vec![
                    ("AWS_EXECUTION_ENV".into(), format!("AWS_Lambda_{runtime}")),
                    ("PYTHONPATH".into(), join(&path)),
                    ("PYTHONUNBUFFERED".into(), "1".into()),
                ],
            }))
        }
        Runtime::Node { major } => {
            let node = find(runtime, interpreter, "node", "nodejs")?;
            let expected = format!("v{major}.");
            check_version(
                runtime,
                &node,
                &expected,
                |v| v.starts_with(&expected),
                &warn,
            )
            .await;
            let client = install_node_client(cache).await?;
            let mut path = Vec::new();
            for layer in layers.iter().rev() {
                path.push(layer.join(format!("nodejs/node{major}/node_modules")));
                path.push(layer.join("nodejs/node_modules"));
            }
            path.push(client.join("node_modules"));
            Ok(Some(Launch {
                program: node,
                args: vec![
                    client
                        .join("node_modules/aws-lambda-ric/index.mjs")
                        .display()
                        .to_string(),
                    handler.into(),
                ],
                env: vec![
                    ("AWS_EXECUTION_ENV".into(), format!("AWS_Lambda_{runtime}")),
                    ("NODE_PATH".into(), join(&path)),
                ],
            }))
        }
    }
}

/// The variable naming a managed runtime's wrapper script.
pub const EXEC_WRAPPER: &str = "AWS_LAMBDA_EXEC_WRAPPER";

/// `AWS_LAMBDA_EXEC_WRAPPER`, as Lambda honours it for managed runtimes:
/// the wrapper runs with the runtime's command line as its arguments. A
/// wrapper named by its Lambda path (`/opt/…` in a layer, `/var/task/…`)
/// is found in the layer folders or the task root.
pub fn wrapped(
    launch: Launch,
    wrapper: Option<&str>,
    layers: &[PathBuf],
    task_root: &Path,
) -> Launch {
    let Some(wrapper) = wrapper.map(str::trim).filter(|w| !w.is_empty()) else {
        return launch;
    };
    let local = if let Some(rest) = wrapper.strip_prefix("/opt/") {
        layers
            .iter()
            .rev()
            .map(|layer| layer.join(rest))
            .find(|path| path.exists())
            .unwrap_or_else(|| PathBuf::from(wrapper))
    } else if let Some(rest) = wrapper.strip_prefix("/var/task/") {
        task_root.join(rest)
    } else {
        PathBuf::from(wrapper)
    };
    let mut args = vec![launch.program.display().to_string()];
    args.extend(launch.args);
    Launch {
        program: local,
        args,
        env: launch.env,
    }
}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

fn find(
    runtime: Runtime,
    given: Option<&Path>,
    program: &str,
    package: &'static str,
) -> Result<PathBuf, RuntimeError> {
    if let Some(path) = given {
        return if path.is_file() {
            Ok(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
        } else {
            Err(RuntimeError::NoInterpreter {
                runtime,
                program: path.display().to_string(),
                package,
            })
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .ok_or(RuntimeError::NoInterpreter {
            runtime,
            program: program.into(),
            package,
        })
}

/// One warning when `program --version` is not the version `runtime` runs
/// on Lambda (`label`, such as Python 3.12).
async fn check_version(
    runtime: Runtime,
    program: &Path,
    label: &str,
    is_expected: impl Fn(&str) -> bool,
    warn: &impl Fn(String),
) {
    let found = match Command::new(program).arg("--version").output().await {
        Ok(out) => String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).into_owned(),
        Err(err) => format!("not runnable ({err})"),
    };
    if !is_expected(&found) {
        warn(format!(
            "{runtime} runs {label} on Lambda; {} is {}: pass --interpreter for a closer match",
            program.display(),
            found.trim()
        ));
    }
}

/// Runs an install step, turning its failure into the command's last words.
async fn run_step(command: &mut Command) -> Result<(), String> {
    let out = command
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).into_owned();
    let tail: Vec<&str> = text.lines().rev().take(6).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!(
        "{} ({}); the registry must be reachable on first use",
        tail.join(" | "),
        out.status
    ))
}

/// A virtualenv with `awslambdaric`, made once per interpreter.
async fn install_python_client(python: &Path, cache: &Path) -> Result<PathBuf, RuntimeError> {
    let key = python.display().to_string().replace(['/', '\\'], "_");
    let dir = cache.join(format!("python-{}{key}", PYTHON_RIC.replace("==", "-")));
    if dir.join("bin/python").exists() {
        return Ok(dir);
    }
    install(cache, &dir, "awslambdaric", async |partial| {
        let venv = Command::new(python)
            .args(["-m", "venv"])
            .arg(partial)
            .output()
            .await
            .map_err(|e| e.to_string())?;
        if !venv.status.success() {
            return Err(format!(
                "{} -m venv failed: {}; on Debian, apt-get install python3-venv",
                python.display(),
                String::from_utf8_lossy(&venv.stderr).trim()
            ));
        }
        run_step(Command::new(partial.join("bin/python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-cache-dir",
            PYTHON_RIC,
        ]))
        .await
    })
    .await?;
    Ok(dir)
}

/// `aws-lambda-ric` from npm, built once (its native part needs cmake and a
/// C++ compiler).
async fn install_node_client(cache: &Path) -> Result<PathBuf, RuntimeError> {
    let dir = cache.join(format!("node-{}", NODE_RIC.replace('@', "-")));
    if dir.join("node_modules/aws-lambda-ric/index.mjs").exists() {
        return Ok(dir);
    }
    let what = "aws-lambda-ric (its native part needs cmake and g++: apt-get install cmake g++)";
    install(cache, &dir, what, async |partial| {
        std::fs::create_dir_all(partial).map_err(|e| e.to_string())?;
        run_step(
            Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--prefix",
                ])
                .arg(partial)
                .arg(NODE_RIC),
        )
        .await
    })
    .await?;
    Ok(dir)
}

/// Runs `steps` in a temporary folder of `cache`, then renames it to `dir`:
/// an interrupted install is never taken for a finished one.
async fn install(
    cache: &Path,
    dir: &Path,
    what: &'static str,
    steps: impl AsyncFnOnce(&Path) -> Result<(), String>,
) -> Result<(), RuntimeError> {
    let failed = |detail: String| RuntimeError::Install {
        what,
        dir: dir.to_path_buf(),
        detail,
    };
    std::fs::create_dir_all(cache).map_err(|e| failed(e.to_string()))?;
    let partial = cache.join(format!(".partial-{}", uuid::Uuid::new_v4().simple()));
    if let Err(detail) = steps(&partial).await {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(failed(detail));
    }
    finish_install(&partial, dir).map_err(|e| failed(e.to_string()))
}

/// Moves a finished install into place; another run that finished first wins.
fn finish_install(partial: &Path, dir: &Path) -> std::io::Result<()> {
    match std::fs::rename(partial, dir) {
        Ok(()) => Ok(()),
        Err(_) if dir.exists() => {
            let _ = std::fs::remove_dir_all(partial);
            Ok(())
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_names_are_lambdas() {
        assert_eq!(
            "python3.13".parse::<Runtime>(),
            Ok(Runtime::Python { minor: 13 })
        );
        assert_eq!(
            "nodejs22.x".parse::<Runtime>(),
            Ok(Runtime::Node { major: 22 })
        );
        assert_eq!("provided.al2023".parse::<Runtime>(), Ok(Runtime::Provided));
        let unknown = "python2.7".parse::<Runtime>().unwrap_err();
        assert!(unknown.contains("python3.12, python3.13"), "{unknown}");
        assert_eq!(Runtime::Node { major: 24 }.to_string(), "nodejs24.x");
    }

    #[test]
    fn the_exec_wrapper_gets_the_runtimes_command_line() {
        let launch = Launch {
            program: "/usr/bin/python3".into(),
            args: vec!["-m".into(), "awslambdaric".into(), "app.handler".into()],
            env: Vec::new(),
        };
        let layer = std::env::temp_dir().join(format!("wrapper-layer-{}", std::process::id()));
        std::fs::create_dir_all(&layer).unwrap();
        std::fs::write(layer.join("wrapper.sh"), "#!/bin/sh\nexec \"$@\"\n").unwrap();
        let task = Path::new("/srv/task");
        let layers = [layer.clone()];
        let wrapped = wrapped(launch.clone(), Some("/opt/wrapper.sh"), &layers, task);
        assert_eq!(
            wrapped.program,
            layer.join("wrapper.sh"),
            "found in the layer"
        );
        assert_eq!(
            wrapped.args,
            ["/usr/bin/python3", "-m", "awslambdaric", "app.handler"]
        );
        let in_task = super::wrapped(launch.clone(), Some("/var/task/w.sh"), &layers, task);
        assert_eq!(in_task.program, task.join("w.sh"));
        let none = super::wrapped(launch, Some(" "), &layers, task);
        assert_eq!(none.program, PathBuf::from("/usr/bin/python3"));
        std::fs::remove_dir_all(layer).unwrap();
    }
}
