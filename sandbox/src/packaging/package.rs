//! Function packages and layers on disk, laid out as Lambda unpacks them:
//! `task/bootstrap` for the function, `layer/extensions/<name>` for the
//! extensions. Tests and the demos build their environments with it.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::config::Config;

pub struct Package {
    root: PathBuf,
    /// Removed on drop: test suites make hundreds of these.
    temporary: bool,
}

impl Package {
    /// A fresh, empty package under the system's temporary folder, removed
    /// with everything in it when the `Package` is dropped.
    pub fn temporary(label: &str) -> io::Result<Package> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let root =
            std::env::temp_dir().join(format!("lambda-sandbox-{label}-{}-{n}", std::process::id()));
        let mut package = Package::at(root)?;
        package.temporary = true;
        Ok(package)
    }

    /// A package in `root`, kept after use. `root` must not exist yet, or be
    /// empty: a package never deletes what it did not create.
    pub fn at(root: impl Into<PathBuf>) -> io::Result<Package> {
        let root = root.into();
        let occupied = fs::read_dir(&root).map(|mut entries| entries.next().is_some());
        if occupied.unwrap_or(false) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} already exists and is not empty: a package is only made in a new or empty folder (remove it, or choose another)",
                    root.display()
                ),
            ));
        }
        fs::create_dir_all(root.join("task"))?;
        fs::create_dir_all(root.join("layer/extensions"))?;
        Ok(Package {
            root,
            temporary: false,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn task_root(&self) -> PathBuf {
        self.root.join("task")
    }

    pub fn layer(&self) -> PathBuf {
        self.root.join("layer")
    }

    /// Copies an executable in as the function's `bootstrap`.
    pub fn bootstrap(&self, binary: &Path) -> io::Result<&Self> {
        copy(binary, &self.task_root().join("bootstrap"))?;
        Ok(self)
    }

    /// Writes a script as the function's `bootstrap`.
    pub fn bootstrap_script(&self, text: &str) -> io::Result<&Self> {
        script(&self.task_root().join("bootstrap"), text)?;
        Ok(self)
    }

    /// Copies an executable in as the external extension `name`.
    pub fn extension(&self, name: &str, binary: &Path) -> io::Result<&Self> {
        copy(binary, &self.layer().join("extensions").join(name))?;
        Ok(self)
    }

    /// Writes a script as the external extension `name`.
    pub fn extension_script(&self, name: &str, text: &str) -> io::Result<&Self> {
        script(&self.layer().join("extensions").join(name), text)?;
        Ok(self)
    }

    /// A configuration that runs this package.
    pub fn config(&self) -> Config {
        Config {
            opt_dirs: vec![self.layer()],
            task_root: Some(self.task_root()),
            ..Config::default()
        }
    }
}

impl Drop for Package {
    fn drop(&mut self) {
        if self.temporary {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

fn copy(from: &Path, to: &Path) -> io::Result<()> {
    fs::copy(from, to).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot copy {} (build it first): {e}", from.display()),
        )
    })?;
    fs::set_permissions(to, fs::Permissions::from_mode(0o755))
}

fn script(path: &Path, text: &str) -> io::Result<()> {
    fs::write(path, text)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_is_never_made_over_files_it_did_not_create() {
        let scratch = Package::temporary("package-at").unwrap();
        let occupied = scratch.root().join("occupied");
        fs::create_dir_all(&occupied).unwrap();
        fs::write(occupied.join("precious.txt"), "keep me").unwrap();
        let err = Package::at(&occupied)
            .err()
            .expect("an occupied folder is refused");
        assert!(
            err.to_string().contains("already exists and is not empty"),
            "{err}"
        );
        assert_eq!(
            fs::read_to_string(occupied.join("precious.txt")).unwrap(),
            "keep me"
        );
        // A new folder, or an empty one, is fine, and is kept after use.
        let fresh = scratch.root().join("fresh");
        drop(Package::at(&fresh).unwrap());
        assert!(fresh.join("task").is_dir() && fresh.join("layer/extensions").is_dir());
        let empty = scratch.root().join("empty");
        fs::create_dir_all(&empty).unwrap();
        assert!(Package::at(&empty).is_ok());
    }
}
