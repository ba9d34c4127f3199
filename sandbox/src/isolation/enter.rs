//! Starting a process inside the keeper's namespaces.
//!
//! A process cannot move itself into another PID namespace; only its
//! children are born there. So the child the sandbox forks joins the
//! namespaces (the user namespace first, which gives it the rights for the
//! others), forks once more, and stays as a shim: the grandchild execs the
//! program inside the environment, the shim waits for it and ends the same
//! way, exit code or signal, so the sandbox sees the program's end as if the
//! program were its own child. The shim ignores signals and holds no
//! descriptor: the program's output pipes close when the program's do.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::libc;

use super::keeper::{close_from, ignore_signals};

/// The keeper's namespaces, opened from `/proc/<pid>/ns`.
pub struct Namespaces {
    /// In the order they must be joined.
    files: Vec<(OwnedFd, libc::c_int)>,
}

impl Namespaces {
    pub fn of(pid: libc::pid_t, private_network: bool) -> std::io::Result<Namespaces> {
        let mut files = Vec::new();
        let network = private_network.then_some(("net", libc::CLONE_NEWNET));
        for (name, flag) in [
            ("user", libc::CLONE_NEWUSER),
            ("mnt", libc::CLONE_NEWNS),
            ("uts", libc::CLONE_NEWUTS),
            ("pid", libc::CLONE_NEWPID),
        ]
        .into_iter()
        .chain(network)
        {
            let file = std::fs::File::open(format!("/proc/{pid}/ns/{name}"))?;
            files.push((OwnedFd::from(file), flag));
        }
        Ok(Namespaces { files })
    }

    /// Makes `command` start its program inside the namespaces, in `cwd`
    /// (a path inside the environment). The returned pipe yields the
    /// program's pid once the command has been spawned.
    pub fn enter(
        &self,
        command: &mut tokio::process::Command,
        cwd: &Path,
    ) -> std::io::Result<ProgramPid> {
        use std::os::unix::ffi::OsStrExt;
        let cwd = CString::new(cwd.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::other("a folder name with a NUL byte"))?;
        let (read, write) = super::keeper::pipe()?;
        let joins: Vec<(RawFd, libc::c_int)> = self
            .files
            .iter()
            .map(|(fd, flag)| (fd.as_raw_fd(), *flag))
            .collect();
        let report = write.as_raw_fd();
        // SAFETY: the closure runs after fork; it makes system calls on the
        // captured, already allocated values only.
        unsafe {
            command.pre_exec(move || {
                for &(fd, flag) in &joins {
                    if libc::setns(fd, flag) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                // Joining a mount namespace moves the process to its root.
                if libc::chdir(cwd.as_ptr()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                match libc::fork() {
                    -1 => Err(std::io::Error::last_os_error()),
                    0 => {
                        // Its own group, so that freezing and signalling the
                        // program never reach the shim.
                        libc::setpgid(0, 0);
                        Ok(())
                    }
                    program => shim(program, report),
                }
            });
        }
        Ok(ProgramPid {
            read,
            write: Some(write),
        })
    }
}

/// The pid of the program a shim started, as the sandbox sees it.
pub struct ProgramPid {
    read: OwnedFd,
    write: Option<OwnedFd>,
}

impl ProgramPid {
    /// After the spawn: the shim wrote the pid before it let go of its
    /// descriptors, and the spawn returns only once they are closed. A
    /// spawn that was retried left one pid per attempt: the last is the
    /// program's.
    pub fn get(mut self) -> Option<i32> {
        self.write = None;
        let mut pids = std::fs::File::from(self.read);
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut pids, &mut bytes).ok()?;
        let last = bytes.rchunks_exact(4).next()?;
        Some(i32::from_ne_bytes(last.try_into().ok()?))
    }
}

unsafe fn shim(program: libc::pid_t, report: RawFd) -> ! {
    unsafe {
        let pid = program.to_ne_bytes();
        libc::write(report, pid.as_ptr().cast(), 4);
        close_from(0);
        ignore_signals();
        let mut status = 0;
        while libc::waitpid(program, &mut status, 0) < 0 {
            if nix::errno::Errno::last_raw() != libc::EINTR {
                libc::_exit(127);
            }
        }
        if libc::WIFEXITED(status) {
            libc::_exit(libc::WEXITSTATUS(status));
        }
        // The same signal, without a core file of the shim.
        let signal = libc::WTERMSIG(status);
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::kill(libc::getpid(), signal);
        libc::_exit(128 + signal)
    }
}
