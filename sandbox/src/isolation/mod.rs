//! Isolation: each environment's processes see Lambda's machine, not the host.
//!
//! Inside, the merged layers are at `/opt` and the task root at `/var/task`,
//! both read-only; `/tmp` is the environment's own, of the ephemeral storage
//! size; `/etc/hosts` resolves `sandbox` and `sandbox.localdomain` to the
//! address of the environment's APIs; the processes form one PID namespace,
//! so none of them outlives the environment. The network stays the host's,
//! unless a private one is asked for: then the environment has its own,
//! with loopback only, and the sandbox's APIs and stand-ins reachable in it
//! at the addresses Lambda's processes expect (`network.rs`).
//!
//! All of it comes from Linux namespaces that need no root: a user namespace
//! first, then mount, UTS and PID namespaces owned by it. Where the kernel
//! refuses them (macOS, a kernel without them, Ubuntu's AppArmor policy, a
//! sysctl), the environment runs without isolation and says why once.

// Off Linux only the refusal is built.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

#[cfg(target_os = "linux")]
mod enter;
#[cfg(target_os = "linux")]
mod keeper;
mod network;
#[cfg(target_os = "linux")]
mod plan;

pub use network::{Network, RUNTIME_API as PRIVATE_RUNTIME_API, relay};

use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Where the layers are inside.
pub const OPT: &str = "/opt";
/// Where the task root is inside.
pub const TASK_ROOT: &str = "/var/task";
/// The environment's host name (`[INF]`: Lambda's is not documented; this
/// one resolves, through `/etc/hosts`, to the environment's APIs).
pub const HOSTNAME: &str = "sandbox";

/// How the host's paths appear inside the environment.
#[derive(Debug, Clone)]
pub struct View {
    task_root: PathBuf,
    layers: Vec<PathBuf>,
}

impl View {
    pub fn new(task_root: &Path, layers: &[PathBuf]) -> View {
        View {
            task_root: task_root.to_path_buf(),
            layers: layers.to_vec(),
        }
    }

    /// A host path under the task root or a layer, in Lambda's terms; any
    /// other path is the same inside (the host's system folders are there).
    pub fn inside(&self, host: &Path) -> PathBuf {
        let under = |base: &str, rest: &Path| {
            let mut path = PathBuf::from(base);
            // `join("")` would add a trailing slash.
            if !rest.as_os_str().is_empty() {
                path.push(rest);
            }
            path
        };
        if let Ok(rest) = host.strip_prefix(&self.task_root) {
            return under(TASK_ROOT, rest);
        }
        // The last layer wins in the merged `/opt`, so it is asked first.
        for layer in self.layers.iter().rev() {
            if let Ok(rest) = host.strip_prefix(layer) {
                return under(OPT, rest);
            }
        }
        host.to_path_buf()
    }

    /// A `:`-separated list of paths (`PYTHONPATH`, `NODE_PATH`), each
    /// translated; a value that is not a path comes back as it was.
    pub fn inside_list(&self, value: &str) -> String {
        value
            .split(':')
            .map(|part| {
                if part.starts_with('/') {
                    self.inside(Path::new(part)).display().to_string()
                } else {
                    part.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// What an isolated environment is made of.
pub struct Settings<'a> {
    pub task_root: &'a Path,
    pub layers: &'a [PathBuf],
    pub tmp_megabytes: u32,
    /// Where `sandbox.localdomain` points: the address of the APIs.
    pub api_address: IpAddr,
    /// A network namespace of the environment's own.
    pub private_network: bool,
}

/// Why the environment runs without isolation, in one line that says how
/// to get it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A running isolated environment: its keeper and how to enter it.
#[cfg(target_os = "linux")]
pub struct Isolation {
    keeper: keeper::Keeper,
    namespaces: enter::Namespaces,
    view: View,
    private_network: bool,
    /// Last, so that it goes once the keeper and the namespaces have.
    _scratch: Scratch,
}

/// The folder holding the root's mount point and `/etc/hosts`, removed
/// with the environment. A mount point in use is not removed from under
/// the namespace: the fields before it end the namespace first.
#[cfg(target_os = "linux")]
struct Scratch(PathBuf);

#[cfg(target_os = "linux")]
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(target_os = "linux")]
impl Isolation {
    /// Builds the namespaces and the root. Blocking: a few milliseconds.
    pub fn start(settings: &Settings) -> Result<Isolation, Refused> {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let scratch = std::env::temp_dir().join(format!(
            "lambda-sandbox-root-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let mount_point = scratch.join("root");
        let hosts_file = scratch.join("hosts");
        let prepare = || -> std::io::Result<keeper::Prepared> {
            std::fs::create_dir_all(&mount_point)?;
            std::fs::write(&hosts_file, hosts(settings.api_address))?;
            let steps = plan::steps(&plan::RootSpec {
                mount_point: &mount_point,
                task_root: settings.task_root,
                layers: settings.layers,
                hosts_file: &hosts_file,
                tmp_megabytes: settings.tmp_megabytes,
            })?;
            let c = |text: String| CString::new(text).expect("no NUL");
            // The processes keep the user's own ids: what they write to
            // /tmp is the user's, and no one inside is root.
            // SAFETY: getuid and getgid cannot fail.
            let (uid, gid) = unsafe { (nix::libc::getuid(), nix::libc::getgid()) };
            Ok(keeper::Prepared {
                steps,
                root: CString::new(mount_point.as_os_str().as_bytes()).expect("no NUL"),
                proc_at: CString::new(mount_point.join("proc").as_os_str().as_bytes())
                    .expect("no NUL"),
                uid_map: c(format!("{uid} {uid} 1\n")),
                gid_map: c(format!("{gid} {gid} 1\n")),
                hostname: c(HOSTNAME.to_string()),
                private_network: settings.private_network,
            })
        };
        let result = prepare()
            .map_err(|err| Refused(format!("cannot prepare the environment's root: {err}")))
            .and_then(|prepared| {
                let keeper = keeper::Keeper::start(&prepared)
                    .map_err(|failure| Refused(explain(&failure, &prepared.steps)))?;
                let namespaces = enter::Namespaces::of(keeper.pid, settings.private_network)
                    .map_err(|err| {
                        Refused(format!("cannot open the environment's namespaces: {err}"))
                    })?;
                Ok((keeper, namespaces))
            });
        match result {
            Ok((keeper, namespaces)) => Ok(Isolation {
                keeper,
                namespaces,
                view: View::new(settings.task_root, settings.layers),
                private_network: settings.private_network,
                _scratch: Scratch(scratch),
            }),
            Err(refused) => {
                let _ = std::fs::remove_dir_all(&scratch);
                Err(refused)
            }
        }
    }

    pub fn view(&self) -> &View {
        &self.view
    }

    /// Makes `command` start inside; see [`enter`].
    pub fn enter(
        &self,
        command: &mut tokio::process::Command,
        cwd: &Path,
    ) -> std::io::Result<enter::ProgramPid> {
        self.namespaces.enter(command, cwd)
    }

    /// SIGKILL to every process of the environment: what the runtime and the
    /// extensions left behind (daemons, `setsid` children) ends with them.
    pub fn end_processes(&self) {
        self.keeper.command(keeper::END_ALL);
    }

    /// SIGSTOP to every process of the environment, daemons included.
    pub fn freeze(&self) {
        self.keeper.tell(keeper::STOP_ALL);
    }

    pub fn thaw(&self) {
        self.keeper.tell(keeper::CONTINUE_ALL);
    }

    /// The environment's `/tmp`, as the sandbox can read it.
    pub fn tmp(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/tmp", self.keeper.pid))
    }

    /// How the sandbox reaches the processes' network.
    pub fn network(&self) -> Network {
        if self.private_network {
            Network::Private(self.keeper.commands())
        } else {
            Network::Host
        }
    }
}

/// Lambda's names first, then the host's entries, so that a name the user
/// set up for a local collector still resolves.
#[cfg(target_os = "linux")]
fn hosts(api: IpAddr) -> String {
    let host = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    format!(
        "127.0.0.1\tlocalhost localhost.localdomain\n::1\tlocalhost localhost.localdomain\n\
         {api}\tsandbox.localdomain sandbox\n# the host's entries\n{host}"
    )
}

#[cfg(target_os = "linux")]
fn explain(failure: &keeper::Failure, steps: &[plan::Step]) -> String {
    use keeper::{Failure, Stage};
    let err = |errno: i32| std::io::Error::from_raw_os_error(errno);
    match failure {
        Failure::At {
            stage: Stage::UserNamespace,
            errno,
        } => match *errno {
            nix::libc::EPERM | nix::libc::EACCES => format!(
                "this machine does not let users create user namespaces ({}). On Ubuntu 23.10 and later \
                 AppArmor restricts them: `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`; \
                 on older Debian kernels: `sudo sysctl -w kernel.unprivileged_userns_clone=1`",
                err(*errno)
            ),
            nix::libc::ENOSPC => format!(
                "no user namespace may be created here ({}): user.max_user_namespaces is 0 or reached; \
                 raise it with `sudo sysctl -w user.max_user_namespaces=15000`",
                err(*errno)
            ),
            nix::libc::EINVAL => format!(
                "this kernel has no user namespaces ({}): it was built without CONFIG_USER_NS",
                err(*errno)
            ),
            other => format!("cannot create a user namespace: {}", err(other)),
        },
        Failure::At { stage, errno } => {
            let what = match stage {
                Stage::Step(index) => steps
                    .get(*index)
                    .map_or_else(|| "build the root".to_string(), ToString::to_string),
                Stage::IdMaps => "map the user's ids into the namespace".into(),
                Stage::Namespaces => {
                    "create the mount, UTS and PID (and, when private, network) namespaces".into()
                }
                Stage::Loopback => "bring up the private network's loopback interface".into(),
                Stage::PrivateMounts => "make the mounts private".into(),
                Stage::Hostname => "set the host name".into(),
                Stage::Fork => "start the environment's first process".into(),
                Stage::Proc => "mount /proc".into(),
                Stage::PivotRoot => "switch to the environment's root".into(),
                Stage::UserNamespace => unreachable!("handled above"),
            };
            let limit = if *stage == Stage::Namespaces && *errno == nix::libc::ENOSPC {
                " (a namespace limit, sysctl user.max_*_namespaces, is 0 or reached)"
            } else {
                ""
            };
            format!("cannot {what}: {}{limit}", err(*errno))
        }
        Failure::Io(err) => format!("cannot start the environment's namespaces: {err}"),
    }
}

/// Off Linux there are no namespaces to build.
#[cfg(not(target_os = "linux"))]
pub struct Isolation {
    view: View,
}

#[cfg(not(target_os = "linux"))]
impl Isolation {
    pub fn start(_settings: &Settings) -> Result<Isolation, Refused> {
        Err(Refused(
            "isolation needs Linux namespaces, which this system does not have".into(),
        ))
    }

    pub fn view(&self) -> &View {
        &self.view
    }

    pub fn end_processes(&self) {}

    pub fn freeze(&self) {}

    pub fn thaw(&self) {}

    pub fn tmp(&self) -> PathBuf {
        PathBuf::from("/tmp")
    }

    pub fn network(&self) -> Network {
        Network::Host
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_become_lambda_paths() {
        let view = View::new(
            Path::new("/work/fn"),
            &[PathBuf::from("/work/a"), PathBuf::from("/work/b")],
        );
        assert_eq!(
            view.inside(Path::new("/work/fn/bootstrap")),
            Path::new("/var/task/bootstrap")
        );
        assert_eq!(
            view.inside(Path::new("/work/b/extensions/x")),
            Path::new("/opt/extensions/x")
        );
        assert_eq!(
            view.inside(Path::new("/usr/bin/python3")),
            Path::new("/usr/bin/python3")
        );
        assert_eq!(
            view.inside_list("/work/a/python:/work/fn:x"),
            "/opt/python:/var/task:x"
        );
    }
}
