//! The root file system of an isolated environment, as a list of mount
//! steps. The list is built here, in the sandbox, where allocating is
//! allowed; the keeper runs it after `fork`, where it is not.
//!
//! The root is a fresh tmpfs holding the host's system folders read-only
//! (`/usr`, `/etc`, `/home`, …), `/dev` as the host has it, and Lambda's own
//! folders: the merged layers read-only at `/opt`, the task root read-only at
//! `/var/task`, and a private tmpfs at `/tmp` of the ephemeral storage size.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{OPT, TASK_ROOT};

/// One mount-table or file-system change, every path absolute.
#[derive(Debug)]
pub enum Step {
    /// `mkdir`, for a mount point.
    Dir(CString),
    /// An empty file, for a file mount point.
    File(CString),
    Symlink {
        target: CString,
        at: CString,
    },
    /// A recursive bind mount, then made read-only when asked.
    Bind {
        from: CString,
        to: CString,
        read_only: bool,
    },
    Tmpfs {
        at: CString,
        options: CString,
    },
    /// Remount a tmpfs read-only once everything under it is in place.
    ReadOnly(CString),
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = |c: &CString| c.to_string_lossy().into_owned();
        match self {
            Step::Dir(at) => write!(f, "create the folder {}", s(at)),
            Step::File(at) => write!(f, "create the file {}", s(at)),
            Step::Symlink { at, .. } => write!(f, "create the link {}", s(at)),
            Step::Bind { from, to, .. } => write!(f, "mount {} at {}", s(from), s(to)),
            Step::Tmpfs { at, .. } => write!(f, "mount a tmpfs at {}", s(at)),
            Step::ReadOnly(at) => write!(f, "make {} read-only", s(at)),
        }
    }
}

/// What the root is made of.
pub struct RootSpec<'a> {
    /// An empty host folder the new root is mounted on.
    pub mount_point: &'a Path,
    pub task_root: &'a Path,
    pub layers: &'a [PathBuf],
    /// `/etc/hosts` of the environment, written by the sandbox.
    pub hosts_file: &'a Path,
    pub tmp_megabytes: u32,
}

/// Every step, in order.
pub fn steps(spec: &RootSpec) -> std::io::Result<Vec<Step>> {
    let mut plan = Plan {
        root: spec.mount_point.to_path_buf(),
        steps: Vec::new(),
    };
    plan.steps.push(Step::Tmpfs {
        at: cstring(spec.mount_point),
        options: c"mode=0755".into(),
    });
    for entry in std::fs::read_dir("/")? {
        let entry = entry?;
        let name = entry.file_name();
        let host = Path::new("/").join(&name);
        match name.as_bytes() {
            // Mounted by the keeper, which is inside the PID namespace.
            b"proc" => plan.dir("/proc"),
            b"dev" => {
                plan.dir(&host);
                plan.bind(&host, &host, false);
            }
            b"tmp" => {
                plan.dir("/tmp");
                plan.steps.push(Step::Tmpfs {
                    at: plan.inside("/tmp"),
                    options: CString::new(format!("mode=1777,size={}m", spec.tmp_megabytes))
                        .expect("no NUL in the options"),
                });
            }
            b"opt" | b"var" => {}
            _ => plan.mirror(&host)?,
        }
    }
    plan.var(spec.task_root)?;
    plan.opt(spec.layers)?;
    // `/etc` is the host's, read-only: the file is laid over the host's.
    if Path::new("/etc/hosts").is_file() {
        plan.bind(spec.hosts_file, Path::new("/etc/hosts"), true);
    }
    Ok(plan.steps)
}

struct Plan {
    root: PathBuf,
    steps: Vec<Step>,
}

impl Plan {
    /// `path` (absolute, as the processes see it) under the new root.
    fn inside(&self, path: impl AsRef<Path>) -> CString {
        let relative = path.as_ref().strip_prefix("/").unwrap_or(path.as_ref());
        cstring(&self.root.join(relative))
    }

    fn dir(&mut self, path: impl AsRef<Path>) {
        let at = self.inside(path);
        self.steps.push(Step::Dir(at));
    }

    fn bind(&mut self, from: &Path, to: &Path, read_only: bool) {
        let to = self.inside(to);
        self.steps.push(Step::Bind {
            from: cstring(from),
            to,
            read_only,
        });
    }

    /// A host entry at the same path, read-only: links as links, folders
    /// and files bound onto a mount point of their kind.
    fn mirror(&mut self, host: &Path) -> std::io::Result<()> {
        self.place(host, host)
    }

    fn place(&mut self, from: &Path, to: &Path) -> std::io::Result<()> {
        let kind = std::fs::symlink_metadata(from)?.file_type();
        if kind.is_symlink() {
            let target = std::fs::read_link(from)?;
            let at = self.inside(to);
            self.steps.push(Step::Symlink {
                target: cstring(&target),
                at,
            });
        } else if kind.is_dir() {
            self.dir(to);
            self.bind(from, to, true);
        } else if kind.is_file() {
            let at = self.inside(to);
            self.steps.push(Step::File(at));
            self.bind(from, to, true);
        }
        // Sockets and devices at the top of `/` are not Lambda's business.
        Ok(())
    }

    /// `/var` from the host's entries, plus the task root at `/var/task`.
    fn var(&mut self, task_root: &Path) -> std::io::Result<()> {
        self.dir("/var");
        if let Ok(entries) = std::fs::read_dir("/var") {
            for entry in entries.flatten() {
                if entry.file_name() != "task" {
                    self.mirror(&entry.path())?;
                }
            }
        }
        self.dir(TASK_ROOT);
        self.bind(task_root, Path::new(TASK_ROOT), true);
        Ok(())
    }

    /// `/opt` as Lambda extracts the layers into it, in order: a later
    /// layer's file replaces an earlier one's, folders are merged. A folder
    /// only one layer has is bound whole, so one layer is one mount.
    fn opt(&mut self, layers: &[PathBuf]) -> std::io::Result<()> {
        match layers {
            [] => {
                self.dir(OPT);
                self.tmpfs_read_only(Path::new(OPT));
            }
            [layer] => {
                self.dir(OPT);
                self.bind(layer, Path::new(OPT), true);
            }
            _ => {
                self.dir(OPT);
                let at = self.inside(OPT);
                self.steps.push(Step::Tmpfs {
                    at,
                    options: c"mode=0755".into(),
                });
                self.merge(Path::new(OPT), layers)?;
                let at = self.inside(OPT);
                self.steps.push(Step::ReadOnly(at));
            }
        }
        Ok(())
    }

    fn tmpfs_read_only(&mut self, path: &Path) {
        let at = self.inside(path);
        self.steps.push(Step::Tmpfs {
            at,
            options: c"mode=0755".into(),
        });
        let at = self.inside(path);
        self.steps.push(Step::ReadOnly(at));
    }

    /// The entries of several layers' folders at `to`, which exists.
    fn merge(&mut self, to: &Path, folders: &[PathBuf]) -> std::io::Result<()> {
        let mut entries: BTreeMap<std::ffi::OsString, Vec<PathBuf>> = BTreeMap::new();
        for folder in folders {
            for entry in std::fs::read_dir(folder)? {
                let entry = entry?;
                entries
                    .entry(entry.file_name())
                    .or_default()
                    .push(entry.path());
            }
        }
        for (name, providers) in entries {
            let to = to.join(&name);
            // The last layer decides; the folders just before it that it
            // merges with are the ones since the last non-folder.
            let is_dir = |p: &PathBuf| {
                std::fs::symlink_metadata(p)
                    .map(|m| m.is_dir())
                    .unwrap_or(false)
            };
            let start = providers
                .iter()
                .rposition(|p| !is_dir(p))
                .map_or(0, |last_other| last_other + 1);
            match &providers[start..] {
                [] => self.place(providers.last().expect("one provider"), &to)?,
                [only] => self.place(only, &to)?,
                several => {
                    self.dir(&to);
                    self.merge(&to, several)?;
                }
            }
        }
        Ok(())
    }
}

fn cstring(path: &Path) -> CString {
    // Paths from the file system and from `std::path::absolute` hold no NUL.
    CString::new(path.as_os_str().as_bytes()).expect("a path without NUL")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binds(steps: &[Step]) -> Vec<(String, String)> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Bind { from, to, .. } => Some((
                    from.to_string_lossy().into_owned(),
                    to.to_string_lossy().into_owned(),
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn later_layers_win_and_folders_merge() {
        let base = std::env::temp_dir().join(format!("plan-test-{}", std::process::id()));
        let (a, b) = (base.join("a"), base.join("b"));
        for (dir, file) in [
            (&a, "extensions/one"),
            (&b, "extensions/two"),
            (&a, "x"),
            (&b, "x"),
        ] {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "").unwrap();
        }
        std::fs::create_dir_all(a.join("only-a/deep")).unwrap();
        let mut plan = Plan {
            root: PathBuf::from("/root-mnt"),
            steps: Vec::new(),
        };
        plan.opt(&[a.clone(), b.clone()]).unwrap();
        let binds = binds(&plan.steps);
        let from = |p: &Path| p.display().to_string();
        assert!(binds.contains(&(
            from(&a.join("extensions/one")),
            "/root-mnt/opt/extensions/one".into()
        )));
        assert!(binds.contains(&(
            from(&b.join("extensions/two")),
            "/root-mnt/opt/extensions/two".into()
        )));
        assert!(binds.contains(&(from(&b.join("x")), "/root-mnt/opt/x".into())));
        assert!(!binds.contains(&(from(&a.join("x")), "/root-mnt/opt/x".into())));
        // A folder one layer has is one mount.
        assert!(binds.contains(&(from(&a.join("only-a")), "/root-mnt/opt/only-a".into())));
        assert!(matches!(plan.steps.last(), Some(Step::ReadOnly(_))));
        std::fs::remove_dir_all(base).unwrap();
    }
}
