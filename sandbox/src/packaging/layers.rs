//! The `/opt` folder as Lambda builds it from layers, and the checks that turn
//! the most common packaging mistakes into messages a person can act on.
//!
//! Lambda extracts the layers into `/opt` in order, so a later layer's file
//! replaces an earlier one with the same path. It then lists `/opt/extensions`
//! (sorted by name, regular entries only) and launches every entry.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::config::{Config, MAX_EXTENSIONS, MAX_LAYERS};
use crate::isolation::View;
use crate::packaging::managed_runtime::Launch;

/// A problem with the files of the environment, found before anything runs.
#[derive(Debug, thiserror::Error)]
pub enum PackagingError {
    #[error("{0} layers given; Lambda merges at most {MAX_LAYERS} layers into /opt")]
    TooManyLayers(usize),
    #[error("layer folder {0} does not exist or is not a folder")]
    MissingLayer(PathBuf),
    #[error(
        "{count} extensions found in the layers' extensions/ folders; Lambda launches at most {MAX_EXTENSIONS} \
         (Extension.TooManyExtensions): remove layers or merge extensions"
    )]
    TooManyExtensions { count: usize },
    #[error(
        "no bootstrap found: looked for {looked}. Pass --task-root with a folder holding an executable \
         named bootstrap, give a layer that has one at its top level, or name the file with --bootstrap"
    )]
    NoBootstrap { looked: String },
    #[error(
        "{what} {named} is not executable: Lambda fails it with Extension.LaunchError (permission denied). \
         Run `chmod +x {}`; git checkouts, zip tools and Terraform's archive_file can drop the bit",
        .named.host.display()
    )]
    NotExecutable { what: &'static str, named: Named },
    #[error(
        "{what} {named} is a script with Windows (CRLF) line endings: the kernel looks for an interpreter \
         named {interpreter:?} and fails with 'no such file or directory'. Convert it with \
         `sed -i 's/\\r$//' {}` or dos2unix",
        .named.host.display()
    )]
    CrlfScript {
        what: &'static str,
        named: Named,
        interpreter: String,
    },
    #[error(
        "{what} {named} is a {found} binary but this machine runs {host}: it would fail with \
         'exec format error'. Build it for {host} (cargo lambda build{flag})"
    )]
    WrongArchitecture {
        what: &'static str,
        named: Named,
        found: &'static str,
        host: &'static str,
        flag: &'static str,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A file as Lambda names it (`/opt/extensions/foo`, `/var/task/bootstrap`),
/// then, where that differs, as this machine does.
#[derive(Debug)]
pub struct Named {
    lambda: PathBuf,
    host: PathBuf,
}

impl std::fmt::Display for Named {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.lambda.display())?;
        if self.lambda != self.host {
            write!(f, " ({} here)", self.host.display())?;
        }
        Ok(())
    }
}

/// The files the environment runs, after merging the layers.
#[derive(Debug, Clone)]
pub struct Layout {
    /// External extensions in launch order: (file name, path).
    pub extensions: Vec<(String, PathBuf)>,
    /// What starts the runtime: the `bootstrap`, or a managed runtime's
    /// interpreter (or its exec wrapper).
    pub bootstrap: PathBuf,
    /// The runtime's arguments (a managed runtime's client and handler).
    pub runtime_args: Vec<String>,
    /// Variables a managed runtime adds to the runtime's set.
    pub runtime_env: Vec<(String, String)>,
    /// `LAMBDA_TASK_ROOT`: the task root, else the folder of the bootstrap.
    pub task_root: PathBuf,
}

impl Layout {
    /// The layout of a custom runtime (`bootstrap`).
    pub fn resolve(config: &Config) -> Result<Layout, PackagingError> {
        Self::resolve_with(config, None)
    }

    /// The layout, with a managed runtime's command instead of a `bootstrap`
    /// when one is given.
    pub fn resolve_with(
        config: &Config,
        managed: Option<Launch>,
    ) -> Result<Layout, PackagingError> {
        if config.opt_dirs.len() > MAX_LAYERS {
            return Err(PackagingError::TooManyLayers(config.opt_dirs.len()));
        }
        for dir in &config.opt_dirs {
            if !dir.is_dir() {
                return Err(PackagingError::MissingLayer(dir.clone()));
            }
        }
        let extensions = merged_extensions(&config.opt_dirs)?;
        if extensions.len() > MAX_EXTENSIONS {
            return Err(PackagingError::TooManyExtensions {
                count: extensions.len(),
            });
        }
        // How the processes will name the files: without a task root, the
        // folder of a --bootstrap becomes it; a bootstrap found in a layer
        // is at /opt, so no host folder stands for /var/task then.
        let task_root = config
            .task_root
            .clone()
            .or_else(|| config.bootstrap.as_ref()?.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("/var/task"));
        let view = View::new(&task_root, &config.opt_dirs);
        for (_, path) in &extensions {
            check_executable("extension", path, &view)?;
        }
        let (bootstrap, runtime_args, runtime_env) = match managed {
            Some(launch) => {
                // The interpreter is this machine's; a wrapper is the user's.
                if config
                    .customer_var(crate::packaging::managed_runtime::EXEC_WRAPPER)
                    .is_some()
                {
                    check_executable("AWS_LAMBDA_EXEC_WRAPPER", &launch.program, &view)?;
                }
                (launch.program, launch.args, launch.env)
            }
            None => {
                let bootstrap = find_bootstrap(config)?;
                check_executable("bootstrap", &bootstrap, &view)?;
                (bootstrap, Vec::new(), Vec::new())
            }
        };
        let task_root = match &config.task_root {
            Some(dir) => dir.clone(),
            None => bootstrap
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
        };
        // Processes start in other folders than ours, so relative paths
        // given on the command line must not reach them.
        let absolute = |path: PathBuf| std::path::absolute(&path).unwrap_or(path);
        Ok(Layout {
            extensions: extensions
                .into_iter()
                .map(|(name, path)| (name, absolute(path)))
                .collect(),
            bootstrap: absolute(bootstrap),
            runtime_args,
            runtime_env,
            task_root: absolute(task_root),
        })
    }
}

fn merged_extensions(opt_dirs: &[PathBuf]) -> Result<Vec<(String, PathBuf)>, PackagingError> {
    // A BTreeMap gives Lambda's order (sorted by name) and lets a later layer
    // replace an earlier layer's file of the same name.
    let mut merged = BTreeMap::new();
    for dir in opt_dirs {
        let ext_dir = dir.join("extensions");
        let Ok(entries) = fs::read_dir(&ext_dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.map_err(|source| PackagingError::Io {
                path: ext_dir.clone(),
                source,
            })?;
            let path = entry.path();
            if path.is_dir() {
                continue;
            }
            merged.insert(entry.file_name().to_string_lossy().into_owned(), path);
        }
    }
    Ok(merged.into_iter().collect())
}

fn find_bootstrap(config: &Config) -> Result<PathBuf, PackagingError> {
    if let Some(path) = &config.bootstrap {
        return if path.is_file() {
            Ok(path.clone())
        } else {
            Err(PackagingError::NoBootstrap {
                looked: format!("{} (given with --bootstrap)", path.display()),
            })
        };
    }
    // Lambda's order: the function's own bootstrap, then the one a layer put at /opt.
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(task_root) = &config.task_root {
        candidates.push(task_root.join("bootstrap"));
    }
    candidates.extend(config.opt_dirs.iter().rev().map(|d| d.join("bootstrap")));
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let looked = if candidates.is_empty() {
        "nothing: no --task-root and no --opt layer were given".to_string()
    } else {
        candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(PackagingError::NoBootstrap { looked })
}

/// The checks Lambda does not do for you: it would only say "permission
/// denied", "no such file or directory" or "exec format error".
pub fn check_executable(
    what: &'static str,
    path: &Path,
    view: &View,
) -> Result<(), PackagingError> {
    let io = |source| PackagingError::Io {
        path: path.to_path_buf(),
        source,
    };
    let named = || Named {
        lambda: view.inside(path),
        host: path.to_path_buf(),
    };
    let meta = fs::metadata(path).map_err(io)?;
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(PackagingError::NotExecutable {
            what,
            named: named(),
        });
    }
    let mut head = [0u8; 256];
    let n = fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(io)?;
    let head = &head[..n];
    if head.starts_with(b"#!") {
        let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
        if line.ends_with(b"\r") {
            let interpreter = String::from_utf8_lossy(&line[2..])
                .trim_start()
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_string();
            return Err(PackagingError::CrlfScript {
                what,
                named: named(),
                interpreter,
            });
        }
    }
    if let Some(found) = elf_machine(head) {
        let host = host_architecture();
        if found != host {
            return Err(PackagingError::WrongArchitecture {
                what,
                named: named(),
                found,
                host,
                flag: if host == "arm64" {
                    " --arm64"
                } else {
                    " without --arm64"
                },
            });
        }
    }
    Ok(())
}

/// The architecture an ELF header declares, in Lambda's names.
fn elf_machine(head: &[u8]) -> Option<&'static str> {
    if head.len() < 20 || &head[..4] != b"\x7fELF" {
        return None;
    }
    let machine = if head[5] == 1 {
        u16::from_le_bytes([head[18], head[19]])
    } else {
        u16::from_be_bytes([head[18], head[19]])
    };
    Some(match machine {
        0x3e => "x86_64",
        0xb7 => "arm64",
        0x03 => "x86 (32-bit)",
        0x28 => "arm (32-bit)",
        _ => "foreign-architecture",
    })
}

fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        "x86_64" => "x86_64",
        _ => "an unsupported architecture",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, body: &[u8], mode: u32) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn later_layers_replace_files_and_order_is_by_name() {
        let package = crate::packaging::package::Package::temporary("layers-merge").unwrap();
        let root = package.root();
        let (a, b) = (root.join("a"), root.join("b"));
        write(&a.join("extensions/zeta"), b"#!/bin/sh\n", 0o755);
        write(&a.join("extensions/alpha"), b"#!/bin/sh\n", 0o755);
        write(&b.join("extensions/alpha"), b"#!/bin/sh\n", 0o755);
        fs::create_dir_all(b.join("extensions/subdir")).unwrap();
        write(&b.join("bootstrap"), b"#!/bin/sh\n", 0o755);
        let config = Config {
            opt_dirs: vec![a, b.clone()],
            ..Config::default()
        };
        let layout = Layout::resolve(&config).unwrap();
        let names: Vec<_> = layout.extensions.iter().map(|(n, _)| n.as_str()).collect();
        assert!(layout.extensions.iter().all(|(_, p)| p.is_absolute()));
        assert_eq!(names, ["alpha", "zeta"]);
        assert_eq!(layout.extensions[0].1, b.join("extensions/alpha"));
        assert_eq!(layout.bootstrap, b.join("bootstrap"));
    }

    #[test]
    fn packaging_mistakes_are_explained() {
        let package = crate::packaging::package::Package::temporary("layers-mistakes").unwrap();
        let root = package.root();
        // The package's root is a layer here.
        let view = View::new(&root.join("task"), &[root.to_path_buf()]);
        let plain = root.join("extensions/plain");
        write(&plain, b"#!/bin/sh\n", 0o644);
        let err = check_executable("extension", &plain, &view).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "extension /opt/extensions/plain ({} here) is not executable",
                plain.display()
            )),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("chmod +x {}", plain.display())),
            "{err}"
        );

        write(&root.join("crlf"), b"#!/bin/bash\r\necho hi\r\n", 0o755);
        let err = check_executable("extension", &root.join("crlf"), &view).unwrap_err();
        assert!(err.to_string().contains("CRLF"), "{err}");
        assert!(err.to_string().contains("\"/bin/bash\\r\""), "{err}");

        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[5] = 1;
        let foreign: u16 = if host_architecture() == "arm64" {
            0x3e
        } else {
            0xb7
        };
        elf[18..20].copy_from_slice(&foreign.to_le_bytes());
        write(&root.join("foreign"), &elf, 0o755);
        let err = check_executable("extension", &root.join("foreign"), &view).unwrap_err();
        assert!(err.to_string().contains("exec format error"), "{err}");
    }

    #[test]
    fn missing_bootstrap_says_where_it_looked() {
        let package = crate::packaging::package::Package::temporary("layers-nobootstrap").unwrap();
        let root = package.root();
        let config = Config {
            task_root: Some(root.to_path_buf()),
            ..Config::default()
        };
        let err = Layout::resolve(&config).unwrap_err().to_string();
        assert!(
            err.contains(&root.join("bootstrap").display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn more_than_ten_extensions_is_refused() {
        let package = crate::packaging::package::Package::temporary("layers-toomany").unwrap();
        let root = package.root();
        for i in 0..11 {
            write(
                &root.join(format!("extensions/e{i:02}")),
                b"#!/bin/sh\n",
                0o755,
            );
        }
        write(&root.join("bootstrap"), b"#!/bin/sh\n", 0o755);
        let config = Config {
            opt_dirs: vec![root.to_path_buf()],
            ..Config::default()
        };
        let err = Layout::resolve(&config).unwrap_err().to_string();
        assert!(err.contains("11 extensions"), "{err}");
    }
}
