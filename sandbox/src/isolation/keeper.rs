//! The keeper: PID 1 of an isolated environment, and the namespaces it holds.
//!
//! The sandbox forks a helper, which creates a user namespace (no root
//! needed), then the mount, UTS and PID namespaces, builds the root from the
//! plan, and forks the keeper: the first process of the new PID namespace,
//! so its init. The keeper mounts `/proc`, switches to the new root, and
//! then only waits for one-byte commands. When it ends, the kernel ends
//! every process of the namespace: that is what makes a daemon started with
//! `setsid`, or the whole tree after the sandbox was killed, go away. It
//! ends when its command socket closes, which the kernel does for the
//! sandbox however the sandbox ends.
//!
//! With a private network the helper also creates a network namespace and
//! brings its loopback interface up, and the keeper, which lives in it,
//! hands the sandbox sockets of that network on request (see
//! `network.rs`).
//!
//! Everything after `fork` runs in a copy of a multi-threaded program, where
//! only async-signal-safe calls are allowed: the code below makes system
//! calls on data prepared before the fork, and allocates nothing.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use nix::libc;

use super::plan::Step;

/// Commands the keeper understands: the signal it sends to every other
/// process of the namespace (`kill(-1, …)` from init reaches them all).
/// `END_ALL` is answered with the same byte once sent.
pub const END_ALL: u8 = b'K';
/// Freeze and thaw are not answered: they sit on every invoke's path, and
/// the sandbox signals the runtime's and the extensions' groups itself. The
/// keeper reaches what those started on their own a moment later, in the
/// order the commands were sent, so the last one always wins.
pub const STOP_ALL: u8 = b'S';
pub const CONTINUE_ALL: u8 = b'C';
/// Asks for a new TCP socket of the environment's network, answered with
/// an errno (0 when it worked) and, then, the socket's descriptor.
const NEW_SOCKET: u8 = b'N';

/// The namespaces the keeper holds, as Linux's `unshare` flags.
pub fn namespace_flags(private_network: bool) -> libc::c_int {
    let flags = libc::CLONE_NEWNS | libc::CLONE_NEWUTS | libc::CLONE_NEWPID;
    if private_network {
        flags | libc::CLONE_NEWNET
    } else {
        flags
    }
}

/// Everything the helper and the keeper need, made before the fork.
pub struct Prepared {
    pub steps: Vec<Step>,
    pub root: CString,
    pub proc_at: CString,
    pub uid_map: CString,
    pub gid_map: CString,
    pub hostname: CString,
    pub private_network: bool,
}

/// Where the set-up stopped, as reported on the pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    UserNamespace,
    IdMaps,
    Namespaces,
    PrivateMounts,
    Hostname,
    Step(usize),
    Fork,
    Proc,
    PivotRoot,
    Loopback,
}

impl Stage {
    fn code(self) -> i32 {
        match self {
            Stage::UserNamespace => -1,
            Stage::IdMaps => -2,
            Stage::Namespaces => -3,
            Stage::PrivateMounts => -4,
            Stage::Hostname => -5,
            Stage::Fork => -6,
            Stage::Proc => -7,
            Stage::PivotRoot => -8,
            Stage::Loopback => -9,
            Stage::Step(index) => index as i32,
        }
    }

    fn from_code(code: i32) -> Stage {
        match code {
            -1 => Stage::UserNamespace,
            -2 => Stage::IdMaps,
            -3 => Stage::Namespaces,
            -4 => Stage::PrivateMounts,
            -5 => Stage::Hostname,
            -6 => Stage::Fork,
            -7 => Stage::Proc,
            -8 => Stage::PivotRoot,
            -9 => Stage::Loopback,
            index => Stage::Step(index.max(0) as usize),
        }
    }
}

/// Why no keeper runs.
#[derive(Debug)]
pub enum Failure {
    At {
        stage: Stage,
        errno: i32,
    },
    /// The helper could not be forked, or ended without a word.
    Io(std::io::Error),
}

/// A running keeper. Dropping it ends the namespace.
pub struct Keeper {
    helper: libc::pid_t,
    /// The keeper's pid as the sandbox sees it.
    pub pid: libc::pid_t,
    commands: Option<Arc<Commands>>,
}

/// The sandbox's end of the keeper's command socket.
pub struct Commands {
    /// One exchange at a time: a socket request waits for its answer.
    socket: Mutex<OwnedFd>,
}

// Report records: three i32 written at once. Twelve bytes are below
// PIPE_BUF, so the helper's and the keeper's records never interleave.
const KEEPER_PID: i32 = 1;
const READY: i32 = 2;
const FAILED: i32 = 3;

/// How long the set-up may take before the sandbox gives up on it.
const SETUP_LIMIT_MS: libc::c_int = 10_000;

impl Keeper {
    /// Forks the helper and waits until the keeper is ready. Blocking.
    pub fn start(prepared: &Prepared) -> Result<Keeper, Failure> {
        let (report_r, report_w) = pipe().map_err(Failure::Io)?;
        let (commands_keeper, commands_sandbox) = socket_pair().map_err(Failure::Io)?;
        // SAFETY: the child only runs `helper`, which makes system calls on
        // memory prepared before the fork and never returns.
        let helper = unsafe { libc::fork() };
        if helper < 0 {
            return Err(Failure::Io(std::io::Error::last_os_error()));
        }
        if helper == 0 {
            unsafe { helper_main(prepared, report_w.as_raw_fd(), commands_keeper.as_raw_fd()) }
        }
        drop(report_w);
        drop(commands_keeper);
        let mut keeper = Keeper {
            helper,
            pid: 0,
            commands: Some(Arc::new(Commands {
                socket: Mutex::new(commands_sandbox),
            })),
        };
        let mut ready = false;
        while !(ready && keeper.pid > 0) {
            match read_report(&report_r) {
                Ok([KEEPER_PID, pid, _]) => keeper.pid = pid,
                Ok([READY, _, _]) => ready = true,
                Ok([FAILED, stage, errno]) => {
                    return Err(Failure::At {
                        stage: Stage::from_code(stage),
                        errno,
                    });
                }
                Ok(_) => {}
                Err(err) => return Err(Failure::Io(err)),
            }
        }
        Ok(keeper)
    }

    /// Sends a command and waits until the keeper has sent its signal: a
    /// reset must not launch the next generation while an `END_ALL` is
    /// still on its way, or the signal would end the new processes. A
    /// keeper that is gone has nothing left to act on.
    pub fn command(&self, command: u8) {
        if let Some(commands) = &self.commands
            && let Ok(socket) = commands.ask(command)
        {
            let mut done = 0u8;
            // SAFETY: a one-byte receive into a live buffer on an open socket.
            unsafe { libc::recv(socket.as_raw_fd(), (&mut done as *mut u8).cast(), 1, 0) };
        }
    }

    /// Sends a command that has no answer (`STOP_ALL`, `CONTINUE_ALL`).
    pub fn tell(&self, command: u8) {
        if let Some(commands) = &self.commands {
            // Nothing to wait for, so the lock goes at once; a keeper that
            // is gone has nothing left to act on.
            drop(commands.send(command));
        }
    }

    /// The command socket, for as long as the keeper lives.
    pub fn commands(&self) -> Weak<Commands> {
        self.commands
            .as_ref()
            .map_or_else(Weak::new, Arc::downgrade)
    }
}

impl Commands {
    /// Sends `command` and waits until the keeper's answer can be read;
    /// the socket stays locked for the caller to read it.
    fn ask(&self, command: u8) -> std::io::Result<MutexGuard<'_, OwnedFd>> {
        let socket = self.send(command)?;
        wait_readable(&socket, "the environment's keeper did not answer in 10 s")?;
        Ok(socket)
    }

    /// Sends `command`; the socket stays locked for an answer, if any.
    fn send(&self, command: u8) -> std::io::Result<MutexGuard<'_, OwnedFd>> {
        let socket = self.socket.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: a one-byte send from a live buffer to an open socket.
        if unsafe {
            libc::send(
                socket.as_raw_fd(),
                [command].as_ptr().cast(),
                1,
                libc::MSG_NOSIGNAL,
            )
        } != 1
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(socket)
    }

    /// A new TCP socket (IPv4, non-blocking) of the environment's network,
    /// made by the keeper. Blocking, for the moment the keeper takes.
    pub fn socket(&self) -> std::io::Result<OwnedFd> {
        let socket = self.ask(NEW_SOCKET)?;
        let fd = socket.as_raw_fd();
        // SAFETY: a recvmsg into buffers that live on this stack for the
        // length of the call.
        unsafe {
            let mut answer = [0u8; 4];
            let mut control = [0u64; 4];
            let mut iov = libc::iovec {
                iov_base: answer.as_mut_ptr().cast(),
                iov_len: answer.len(),
            };
            let mut message: libc::msghdr = std::mem::zeroed();
            message.msg_iov = &mut iov;
            message.msg_iovlen = 1;
            message.msg_control = control.as_mut_ptr().cast();
            message.msg_controllen = std::mem::size_of_val(&control) as _;
            let n = libc::recvmsg(fd, &mut message, libc::MSG_CMSG_CLOEXEC);
            if n != answer.len() as isize {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the environment's keeper has ended",
                ));
            }
            let errno = i32::from_ne_bytes(answer);
            if errno != 0 {
                return Err(std::io::Error::from_raw_os_error(errno));
            }
            let header = libc::CMSG_FIRSTHDR(&message);
            if header.is_null()
                || (*header).cmsg_level != libc::SOL_SOCKET
                || (*header).cmsg_type != libc::SCM_RIGHTS
            {
                return Err(std::io::Error::other(
                    "the environment's keeper answered without a socket",
                ));
            }
            let received = std::ptr::read_unaligned(libc::CMSG_DATA(header).cast::<RawFd>());
            Ok(OwnedFd::from_raw_fd(received))
        }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        // The keeper ends at the end of its pipe, once the kernel has ended
        // every process of its namespace; the helper follows it. A set-up
        // that hung is cut short: the helper's death ends the keeper too
        // (its parent-death signal).
        self.commands = None;
        let mut status = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        // SAFETY: signalling and reaping our own child.
        unsafe {
            while libc::waitpid(self.helper, &mut status, libc::WNOHANG) == 0 {
                if std::time::Instant::now() > deadline {
                    libc::kill(self.helper, libc::SIGKILL);
                    libc::waitpid(self.helper, &mut status, 0);
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
}

/// Waits until `fd` can be read, for as long as a set-up may take at most;
/// `late` says what did not come in time.
fn wait_readable(fd: &OwnedFd, late: &str) -> std::io::Result<()> {
    let mut poll = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd, valid for the call.
    match unsafe { libc::poll(&mut poll, 1, SETUP_LIMIT_MS) } {
        0 => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, late)),
        n if n < 0 => Err(std::io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// A connected pair of Unix stream sockets: one end for the keeper, one
/// for the sandbox. A stream socket, unlike a pipe, carries descriptors.
fn socket_pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } != 0
    {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just opened and are owned here only.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just opened and are owned here only.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn read_report(fd: &OwnedFd) -> std::io::Result<[i32; 3]> {
    wait_readable(fd, "the namespace set-up did not finish in 10 s")?;
    let mut record = [0i32; 3];
    // SAFETY: reading into a buffer of exactly the record's size.
    let n = unsafe { libc::read(fd.as_raw_fd(), record.as_mut_ptr().cast(), 12) };
    if n == 12 {
        Ok(record)
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the namespace helper ended without saying why",
        ))
    }
}

fn errno() -> i32 {
    nix::errno::Errno::last_raw()
}

unsafe fn report(fd: RawFd, record: [i32; 3]) {
    unsafe { libc::write(fd, record.as_ptr().cast(), 12) };
}

unsafe fn fail(fd: RawFd, stage: Stage) -> ! {
    unsafe {
        report(fd, [FAILED, stage.code(), errno()]);
        libc::_exit(1)
    }
}

unsafe fn write_file(path: &CStr, data: &CStr) -> bool {
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let bytes = data.to_bytes();
        let written = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        libc::close(fd);
        written == bytes.len() as isize
    }
}

/// Closes every descriptor from `first` on.
pub unsafe fn close_from(first: libc::c_uint) {
    unsafe {
        if libc::syscall(libc::SYS_close_range, first, libc::c_uint::MAX, 0) != 0 {
            // Kernels before 5.9.
            for fd in first..4096 {
                libc::close(fd as libc::c_int);
            }
        }
    }
}

/// Ignores every signal that can be ignored, but SIGCHLD, which `waitpid`
/// needs: the helper and the shims must outlive signals meant for others.
pub unsafe fn ignore_signals() {
    for signal in 1..32 {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP && signal != libc::SIGCHLD {
            unsafe { libc::signal(signal, libc::SIG_IGN) };
        }
    }
}

unsafe fn helper_main(prepared: &Prepared, report_fd: RawFd, commands: RawFd) -> ! {
    unsafe {
        // Out of the sandbox's process group, so that Ctrl-C in a terminal
        // reaches the sandbox, which then shuts the environment down.
        libc::setpgid(0, 0);
        ignore_signals();
        if libc::unshare(libc::CLONE_NEWUSER) != 0 {
            fail(report_fd, Stage::UserNamespace);
        }
        // Without `deny`, an unprivileged process may not write gid_map;
        // kernels before 3.19 have no such file.
        write_file(c"/proc/self/setgroups", c"deny");
        if !write_file(c"/proc/self/uid_map", &prepared.uid_map)
            || !write_file(c"/proc/self/gid_map", &prepared.gid_map)
        {
            fail(report_fd, Stage::IdMaps);
        }
        if libc::unshare(namespace_flags(prepared.private_network)) != 0 {
            fail(report_fd, Stage::Namespaces);
        }
        // A new network has only a loopback interface, and it is down.
        if prepared.private_network && !loopback_up() {
            fail(report_fd, Stage::Loopback);
        }
        // Nothing mounted here may reach the host's mount table.
        let root = c"/";
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            fail(report_fd, Stage::PrivateMounts);
        }
        let name = prepared.hostname.to_bytes();
        if libc::sethostname(name.as_ptr().cast(), name.len()) != 0 {
            fail(report_fd, Stage::Hostname);
        }
        for (index, step) in prepared.steps.iter().enumerate() {
            if !run(step) {
                fail(report_fd, Stage::Step(index));
            }
        }
        match libc::fork() {
            -1 => fail(report_fd, Stage::Fork),
            0 => keeper_main(prepared, report_fd, commands),
            keeper => {
                report(report_fd, [KEEPER_PID, keeper, 0]);
                close_from(0);
                let mut status = 0;
                while libc::waitpid(keeper, &mut status, 0) < 0 && errno() == libc::EINTR {}
                libc::_exit(0)
            }
        }
    }
}

unsafe fn keeper_main(prepared: &Prepared, report_fd: RawFd, commands: RawFd) -> ! {
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        // Lambda's first process is its `init`; `ps` inside says so here too.
        libc::prctl(libc::PR_SET_NAME, c"init".as_ptr());
        // `/proc` shows the namespace of the process that mounts it, and
        // the host's must still be visible for the kernel to allow it.
        if libc::mount(
            c"proc".as_ptr(),
            prepared.proc_at.as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        ) != 0
        {
            fail(report_fd, Stage::Proc);
        }
        // pivot_root(".", ".") stacks the old root under the new one, and
        // the lazy unmount then takes the host's tree out of sight.
        let here = c".";
        if libc::chdir(prepared.root.as_ptr()) != 0
            || libc::syscall(libc::SYS_pivot_root, here.as_ptr(), here.as_ptr()) != 0
            || libc::umount2(here.as_ptr(), libc::MNT_DETACH) != 0
            || libc::chdir(c"/".as_ptr()) != 0
        {
            fail(report_fd, Stage::PivotRoot);
        }
        // Orphans of the environment come here; ignoring SIGCHLD makes the
        // kernel reap them.
        libc::signal(libc::SIGCHLD, libc::SIG_IGN);
        report(report_fd, [READY, 0, 0]);
        libc::close(report_fd);
        libc::dup2(commands, 0);
        close_from(1);
        loop {
            let mut command = 0u8;
            match libc::read(0, (&mut command as *mut u8).cast(), 1) {
                1 => {
                    let signal = match command {
                        END_ALL => libc::SIGKILL,
                        STOP_ALL => libc::SIGSTOP,
                        CONTINUE_ALL => libc::SIGCONT,
                        NEW_SOCKET => {
                            hand_over_socket(0);
                            continue;
                        }
                        _ => continue,
                    };
                    // Every signal is pending when kill returns: the
                    // answer tells the sandbox it may go on.
                    libc::kill(-1, signal);
                    if command == END_ALL {
                        libc::send(0, [command].as_ptr().cast(), 1, libc::MSG_NOSIGNAL);
                    }
                }
                n if n < 0 && errno() == libc::EINTR => {}
                _ => libc::_exit(0),
            }
        }
    }
}

/// Brings the network namespace's `lo` up, as `ip link set lo up` does.
unsafe fn loopback_up() -> bool {
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return false;
        }
        let mut request: libc::ifreq = std::mem::zeroed();
        for (at, byte) in b"lo".iter().enumerate() {
            request.ifr_name[at] = *byte as libc::c_char;
        }
        request.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        let done = libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &request) == 0;
        libc::close(fd);
        done
    }
}

/// Answers a socket request on `commands`: a TCP socket made here belongs
/// to this network wherever the sandbox uses it afterwards.
unsafe fn hand_over_socket(commands: RawFd) {
    unsafe {
        let socket = libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        let mut answer = if socket < 0 { errno() } else { 0 }.to_ne_bytes();
        let mut iov = libc::iovec {
            iov_base: answer.as_mut_ptr().cast(),
            iov_len: answer.len(),
        };
        let mut control = [0u64; 4];
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &mut iov;
        message.msg_iovlen = 1;
        if socket >= 0 {
            let fd_size = std::mem::size_of::<RawFd>() as libc::c_uint;
            message.msg_control = control.as_mut_ptr().cast();
            message.msg_controllen = libc::CMSG_SPACE(fd_size) as _;
            let header = libc::CMSG_FIRSTHDR(&message);
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_RIGHTS;
            (*header).cmsg_len = libc::CMSG_LEN(fd_size) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<RawFd>(), socket);
        }
        libc::sendmsg(commands, &message, libc::MSG_NOSIGNAL);
        if socket >= 0 {
            libc::close(socket);
        }
    }
}

/// One step of the plan; false, with `errno` set, when it failed.
unsafe fn run(step: &Step) -> bool {
    unsafe {
        match step {
            Step::Dir(at) => libc::mkdir(at.as_ptr(), 0o755) == 0 || errno() == libc::EEXIST,
            Step::File(at) => {
                let fd = libc::open(
                    at.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                    0o644,
                );
                fd >= 0 && libc::close(fd) == 0
            }
            Step::Symlink { target, at } => libc::symlink(target.as_ptr(), at.as_ptr()) == 0,
            Step::Bind {
                from,
                to,
                read_only,
            } => {
                libc::mount(
                    from.as_ptr(),
                    to.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ) == 0
                    && (!read_only || remount_read_only(to))
            }
            Step::Tmpfs { at, options } => {
                libc::mount(
                    c"tmpfs".as_ptr(),
                    at.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    options.as_ptr().cast(),
                ) == 0
            }
            Step::ReadOnly(at) => remount_read_only(at),
        }
    }
}

/// A bind remount keeps the flags the host locked (nosuid, nodev, …): the
/// kernel refuses one that would drop them.
unsafe fn remount_read_only(at: &CStr) -> bool {
    unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(at.as_ptr(), &mut stat) != 0 {
            return false;
        }
        let mut flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
        for (kept, flag) in [
            (libc::ST_NOSUID, libc::MS_NOSUID),
            (libc::ST_NODEV, libc::MS_NODEV),
            (libc::ST_NOEXEC, libc::MS_NOEXEC),
            (libc::ST_NOATIME, libc::MS_NOATIME),
            (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
            (libc::ST_RELATIME, libc::MS_RELATIME),
        ] {
            if stat.f_flag & kept != 0 {
                flags |= flag;
            }
        }
        libc::mount(
            std::ptr::null(),
            at.as_ptr(),
            std::ptr::null(),
            flags,
            std::ptr::null(),
        ) == 0
    }
}
