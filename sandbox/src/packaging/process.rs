//! The processes of the environment: each in its own process group, its
//! output captured line by line, frozen and killed as a group (the book: docs/src/environment.md#processes).

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

use crate::isolation::Isolation;
use crate::streams::journal::{Journal, Source};

/// A running runtime or extension process.
pub struct Process {
    pub name: String,
    pub pid: i32,
    exit: watch::Receiver<Option<ExitStatus>>,
    /// The tasks copying stdout and stderr into the journal.
    capture: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// `/proc/<pid>/status`, opened on first use.
    status: std::sync::Mutex<Option<std::fs::File>>,
}

/// What to start: the program, its arguments, its folder and its variables.
/// Paths are the host's; with isolation, the program, its folder and the
/// arguments that are paths are given to the process in Lambda's terms.
pub struct Spec<'a> {
    pub program: &'a Path,
    pub args: &'a [String],
    pub cwd: &'a Path,
    pub env: &'a [(String, String)],
    pub isolation: Option<&'a Isolation>,
}

/// Why a process could not start, with the hint Lambda would not give.
pub fn launch_error_hint(err: &std::io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(code) if code == nix::libc::EACCES => {
            "permission denied: the file lost its executable bit (chmod +x)"
        }
        Some(code) if code == nix::libc::ENOEXEC => {
            "exec format error: the file is not a binary for this architecture, or a script without a #! line"
        }
        Some(code) if code == nix::libc::ENOENT => {
            "no such file or directory: the file or its #! interpreter is missing (CRLF line endings cause this)"
        }
        _ => "the process could not be started",
    }
}

impl Process {
    /// Starts `spec` in a new process group with exactly its variables,
    /// capturing its output into the journal, each line cut at `max_line`
    /// bytes. `on_exit` runs once the process has exited.
    pub async fn spawn(
        spec: Spec<'_>,
        source: Source,
        journal: Arc<Journal>,
        max_line: usize,
        on_exit: impl FnOnce(ExitStatus) + Send + 'static,
    ) -> std::io::Result<Process> {
        let Spec {
            program: path,
            args,
            cwd,
            env,
            isolation,
        } = spec;
        let program = match isolation {
            Some(isolation) => isolation.view().inside(path),
            None => path.to_path_buf(),
        };
        let mut command = Command::new(&program);
        command
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        #[cfg(target_os = "linux")]
        let program_pid = match isolation {
            Some(isolation) => {
                let view = isolation.view();
                command.args(args.iter().map(|arg| view.inside_list(arg)));
                Some(isolation.enter(&mut command, &view.inside(cwd))?)
            }
            None => {
                command.args(args).current_dir(cwd);
                None
            }
        };
        #[cfg(not(target_os = "linux"))]
        command.args(args).current_dir(cwd);
        // A file that was just written can be briefly busy: a process forked
        // elsewhere in this program may still hold the writer's descriptor
        // until it execs. The kernel then refuses to run it (ETXTBSY).
        let mut attempts = 0;
        let mut child = loop {
            match command.spawn() {
                Err(err) if err.raw_os_error() == Some(nix::libc::ETXTBSY) && attempts < 50 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                other => break other?,
            }
        };
        let pid = child.id().map(|p| p as i32).unwrap_or_default();
        // Inside, the child is a shim; the program is its child.
        #[cfg(target_os = "linux")]
        let pid = program_pid.and_then(|p| p.get()).unwrap_or(pid);
        let mut capturing = Vec::new();
        if let Some(out) = child.stdout.take() {
            capturing.push(tokio::spawn(capture(
                out,
                source.clone(),
                journal.clone(),
                max_line,
            )));
        }
        if let Some(err) = child.stderr.take() {
            capturing.push(tokio::spawn(capture(err, source, journal, max_line)));
        }
        let (tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            let status = child.wait().await;
            if let Ok(status) = status {
                let _ = tx.send(Some(status));
                on_exit(status);
            }
        });
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Process {
            name,
            pid,
            exit,
            capture: std::sync::Mutex::new(capturing),
            status: std::sync::Mutex::new(None),
        })
    }

    pub fn has_exited(&self) -> bool {
        self.exit.borrow().is_some()
    }

    /// Waits up to `limit` for the process to exit; true if it did.
    pub async fn wait_exit(&self, limit: Duration) -> bool {
        let mut exit = self.exit.clone();
        tokio::time::timeout(limit, exit.wait_for(Option::is_some))
            .await
            .is_ok()
    }

    /// Sends `signal` to the whole process group, so that the children of a
    /// shell-script bootstrap get it too. A group that is gone is not an error.
    pub fn signal_group(&self, signal: Signal) {
        if self.pid > 0 {
            let _ = killpg(Pid::from_raw(self.pid), signal);
        }
    }

    pub fn freeze(&self) {
        self.signal_group(Signal::SIGSTOP);
    }

    pub fn thaw(&self) {
        self.signal_group(Signal::SIGCONT);
    }

    /// SIGKILL to the group, then wait until the leader has been reaped.
    pub async fn kill(&self) {
        self.signal_group(Signal::SIGKILL);
        // SIGKILL cannot be ignored; the wait only covers reaping.
        self.wait_exit(Duration::from_secs(5)).await;
    }

    /// Waits until every line the process group wrote has reached the
    /// journal: its pipes close once the group is gone. `limit` bounds the
    /// wait for a descendant that escaped the group and holds a pipe open.
    pub async fn drain_output(&self, limit: Duration) {
        let tasks: Vec<_> = std::mem::take(&mut *self.capture.lock().unwrap());
        let _ = tokio::time::timeout(limit, async {
            for task in tasks {
                let _ = task.await;
            }
        })
        .await;
    }

    /// The peak resident set size of the process, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        use std::os::unix::fs::FileExt;
        // Every report reads this, so the file stays open: re-reading from
        // offset 0 makes the kernel render it afresh without a new open.
        let mut status = self.status.lock().unwrap();
        if status.is_none() {
            *status = std::fs::File::open(format!("/proc/{}/status", self.pid)).ok();
        }
        let mut buf = [0u8; 4096];
        let n = status
            .as_ref()
            .and_then(|f| f.read_at(&mut buf, 0).ok())
            .unwrap_or(0);
        String::from_utf8_lossy(&buf[..n])
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

/// Copies a stream into the journal one line at a time. A line longer than
/// `max_line` bytes goes out as several records of at most that size, cut
/// at a character boundary, as it arrives: a process that writes without
/// newlines cannot make the sandbox hold more than one such piece.
async fn capture(
    stream: impl AsyncRead + Unpin,
    source: Source,
    journal: Arc<Journal>,
    max_line: usize,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut line: Vec<u8> = Vec::new();
    loop {
        let available = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(available) => available,
        };
        let (taken, ended) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        line.extend_from_slice(&available[..taken]);
        reader.consume(taken);
        if ended {
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
        }
        while line.len() > max_line {
            let cut = char_boundary(&line, max_line);
            let rest = line.split_off(cut);
            emit(&journal, &source, std::mem::replace(&mut line, rest));
        }
        if ended {
            emit(&journal, &source, std::mem::take(&mut line));
        }
    }
    if !line.is_empty() {
        emit(&journal, &source, line);
    }
}

/// The largest cut at or below `at` that does not split a UTF-8 character.
fn char_boundary(bytes: &[u8], at: usize) -> usize {
    let mut cut = at;
    // Continuation bytes are 0b10xxxxxx; a character has at most three.
    while cut > at.saturating_sub(3) && cut > 0 && (bytes[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    if cut == 0 { at } else { cut }
}

fn emit(journal: &Journal, source: &Source, line: Vec<u8>) {
    journal.log_line(source, String::from_utf8_lossy(&line).into_owned());
}

/// How a process ended, in the words of Lambda's error messages.
pub fn describe_exit(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!(
            "signal: {}",
            Signal::try_from(sig)
                .map(|s| s.as_str())
                .unwrap_or("unknown")
        ),
        _ => "unknown exit".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn long_lines_are_cut_into_pieces_at_character_boundaries() {
        let journal = Arc::new(Journal::new(false));
        // 'é' is two bytes: a cut at 5 would split the third one.
        let text = format!("{}\nshort\r\n{}", "éééé", "x".repeat(12));
        capture(text.as_bytes(), Source::Function, journal.clone(), 5).await;
        let lines: Vec<String> = journal
            .records()
            .iter()
            .map(|r| r.record.as_str().unwrap().to_string())
            .collect();
        assert_eq!(lines, ["éé", "éé", "short", "xxxxx", "xxxxx", "xx"]);
    }
}
