//! `portico -s SIGNAL[=TIME]`: signals the running master, as nginx's `-s` does, and then says
//! what came of it in one line, with an exit status a script or systemd can act on.
//!
//! `reload` and `reopen` wait (60 s and 10 s by default) for the master's record of the
//! outcome in its status file ([`crate::master::Status`]), `stop` waits (10 s) for the master
//! to exit, `quit` does not wait unless given a time (a graceful stop lasts as long as the
//! connections it finishes). `=TIME` sets the wait in nginx's time syntax (`-s reload=5s`,
//! `-s quit=2m`); `=0` only sends the signal, as nginx does. A plain `-s reload` thus keeps
//! working as with nginx, and now fails when the new configuration was refused.
//!
//! Success goes to stdout, failure to stderr; the exit status says which failure
//! ([`exit`]).

use std::io::{self, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::{self, LoadOptions};
use crate::master::{Outcome, Record, Status, monotonic_ns, status_path};
use crate::sys;

/// The exit statuses of `portico -s`, each a different reason.
pub mod exit {
    /// Done: the reload applied, the logs reopened, the master exited, or the signal sent.
    pub const OK: i32 = 0;
    /// The master (or this command, reading the same configuration) refused the new
    /// configuration, or could not reopen a log; the old state is kept.
    pub const FAILED: i32 = 1;
    /// No master is running: the pid file does not exist.
    pub const NO_MASTER: i32 = 3;
    /// The pid file names no live process (a master that died without removing it), or
    /// holds no pid.
    pub const STALE_PID_FILE: i32 = 4;
    /// The master did not answer (or exit) within the wait.
    pub const TIMEOUT: i32 = 5;
    /// Not allowed: the pid file cannot be read or the master not signalled by this user.
    pub const DENIED: i32 = 6;
}

/// What `-s` is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `stop`: `TERM`, a fast stop.
    Stop,
    /// `quit`: `QUIT`, a graceful stop.
    Quit,
    /// `reopen`: `USR1`, reopen the log files.
    Reopen,
    /// `reload`: `HUP`, read the configuration again.
    Reload,
}

impl Command {
    /// The word of `-s`.
    pub fn name(self) -> &'static str {
        match self {
            Command::Stop => "stop",
            Command::Quit => "quit",
            Command::Reopen => "reopen",
            Command::Reload => "reload",
        }
    }

    fn signal(self) -> libc::c_int {
        match self {
            Command::Stop => libc::SIGTERM,
            Command::Quit => libc::SIGQUIT,
            Command::Reopen => libc::SIGUSR1,
            Command::Reload => libc::SIGHUP,
        }
    }

    /// How long it waits without `=TIME`.
    fn default_wait(self) -> Duration {
        match self {
            Command::Reload => Duration::from_secs(60),
            Command::Reopen | Command::Stop => Duration::from_secs(10),
            Command::Quit => Duration::ZERO,
        }
    }
}

/// A parsed `-s` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// The signal's word.
    pub command: Command,
    /// `=TIME`, if given.
    pub wait: Option<Duration>,
}

impl Request {
    /// Parses `reload`, `quit=30s`, `reload=0`...; `None` for anything else (the command
    /// line then refuses it in nginx's words).
    pub fn parse(value: &str) -> Option<Request> {
        let (word, wait) = match value.split_once('=') {
            Some((word, time)) => (word, Some(crate::config::values::parse_time(time, false)?)),
            None => (value, None),
        };
        let command = match word {
            "stop" => Command::Stop,
            "quit" => Command::Quit,
            "reopen" => Command::Reopen,
            "reload" => Command::Reload,
            _ => return None,
        };
        Some(Request { command, wait })
    }

    fn wait(&self) -> Duration {
        self.wait.unwrap_or_else(|| self.command.default_wait())
    }
}

/// The line `-s` prints and its exit status.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    /// The exit status (one of [`exit`]).
    pub code: i32,
    /// The line, without the command's name (`applied, generation 7, 4 workers`).
    pub text: String,
}

impl Report {
    fn new(code: i32, text: impl Into<String>) -> Report {
        Report {
            code,
            text: text.into(),
        }
    }
}

/// Runs `-s`: prints one line (stdout on success, stderr otherwise) and returns the exit
/// status.
pub fn run(opts: &LoadOptions, request: Request) -> i32 {
    let report = execute(opts, request);
    let line = format!("{}: {}\n", request.command.name(), report.text);
    // A closed stdout or stderr must not turn the answer into a panic.
    let _ = if report.code == exit::OK {
        io::stdout().write_all(line.as_bytes())
    } else {
        io::stderr().write_all(line.as_bytes())
    };
    report.code
}

fn execute(opts: &LoadOptions, request: Request) -> Report {
    let command = request.command;
    // As nginx, the configuration names the pid file; one that does not load is what the
    // master would refuse too, so a reload is reported rejected without disturbing it.
    let config = match config::load(opts) {
        Ok(c) => c,
        Err(e) if command == Command::Reload => {
            return Report::new(exit::FAILED, format!("rejected: {e}"));
        }
        Err(e) => return Report::new(exit::FAILED, format!("{e}")),
    };
    let pid_file = &config.main.pid;
    if pid_file.as_os_str().is_empty() {
        return Report::new(
            exit::NO_MASTER,
            "the configuration says \"pid off\": no pid file names the master process",
        );
    }
    let pid = match master_pid(pid_file) {
        Ok(pid) => pid,
        Err(report) => return report,
    };
    // A master that writes no status (a binary from before this report existed, or
    // `master_process off`) gets the signal as nginx sends it, and nothing is awaited.
    let reports = Status::read(&status_path(pid_file)).is_some_and(|s| s.pid == pid);
    let sent_at = monotonic_ns();
    if let Err(e) = sys::kill(pid, command.signal()) {
        return not_signalled(pid, &e);
    }
    let wait = request.wait();
    if wait.is_zero() {
        return Report::new(exit::OK, format!("signal sent to master process {pid}"));
    }
    match command {
        Command::Stop | Command::Quit => wait_for_exit(pid, wait),
        Command::Reload | Command::Reopen if !reports => Report::new(
            exit::OK,
            format!(
                "signal sent to master process {pid}, which keeps no status to report from \
                 (see its error log)"
            ),
        ),
        Command::Reload => wait_for_record(pid_file, pid, sent_at, wait, |s| s.reload.as_ref()),
        Command::Reopen => wait_for_record(pid_file, pid, sent_at, wait, |s| s.reopen.as_ref()),
    }
}

/// The live master's pid from the pid file, or the report of why there is none.
fn master_pid(pid_file: &Path) -> Result<i32, Report> {
    let shown = pid_file.display();
    let text = std::fs::read_to_string(pid_file).map_err(|e| {
        let why = format!("open() \"{shown}\" failed ({})", sys::errno_text(&e));
        match e.kind() {
            io::ErrorKind::NotFound => Report::new(
                exit::NO_MASTER,
                format!("no master process is running: {why}"),
            ),
            io::ErrorKind::PermissionDenied => Report::new(exit::DENIED, why),
            _ => Report::new(exit::STALE_PID_FILE, why),
        }
    })?;
    let Some(pid) = text.trim().parse::<i32>().ok().filter(|&p| p > 0) else {
        return Err(Report::new(
            exit::STALE_PID_FILE,
            format!("invalid PID number \"{}\" in \"{shown}\"", text.trim()),
        ));
    };
    match sys::kill(pid, 0) {
        Ok(()) if !exited(pid) => Ok(pid),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => Err(not_signalled(pid, &e)),
        _ => Err(Report::new(
            exit::STALE_PID_FILE,
            format!(
                "stale pid file \"{shown}\": no process {pid} (the master process is not running)"
            ),
        )),
    }
}

fn not_signalled(pid: i32, e: &io::Error) -> Report {
    let code = if e.raw_os_error() == Some(libc::EPERM) {
        exit::DENIED
    } else {
        exit::STALE_PID_FILE
    };
    Report::new(
        code,
        format!(
            "cannot signal master process {pid}: kill() failed ({})",
            sys::errno_text(e)
        ),
    )
}

/// Whether `pid` is gone or a zombie (its parent has not reaped it yet: it answers
/// `kill(pid, 0)` but will never act on a signal).
fn exited(pid: i32) -> bool {
    if sys::kill(pid, 0).is_err_and(|e| e.raw_os_error() == Some(libc::ESRCH)) {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        matches!(state, Some("Z" | "X"))
    })
}

/// Polls (every few milliseconds) until `done` or `wait` has passed.
fn poll_until(wait: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(2);
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

fn wait_for_exit(pid: i32, wait: Duration) -> Report {
    if poll_until(wait, || exited(pid)) {
        Report::new(exit::OK, format!("master process {pid} exited"))
    } else {
        Report::new(
            exit::TIMEOUT,
            format!(
                "master process {pid} still running after {}",
                show_duration(wait)
            ),
        )
    }
}

/// Waits for the master's record of an action it started after `sent_at`, and reports it.
fn wait_for_record(
    pid_file: &Path,
    pid: i32,
    sent_at: u64,
    wait: Duration,
    which: impl Fn(&Status) -> Option<&Record>,
) -> Report {
    let path = status_path(pid_file);
    let mut found: Option<Record> = None;
    let mut gone = false;
    poll_until(wait, || {
        found = Status::read(&path)
            .filter(|s| s.pid == pid)
            .and_then(|s| which(&s).filter(|r| r.started_ns >= sent_at).cloned());
        gone = found.is_none() && exited(pid);
        found.is_some() || gone
    });
    match found {
        Some(record) => describe(record.outcome),
        None if gone => Report::new(
            exit::FAILED,
            format!("master process {pid} exited before answering"),
        ),
        None => Report::new(
            exit::TIMEOUT,
            format!(
                "no answer from master process {pid} within {}",
                show_duration(wait)
            ),
        ),
    }
}

fn describe(outcome: Outcome) -> Report {
    match outcome {
        Outcome::Applied {
            generation,
            workers,
        } => {
            let plural = if workers == 1 { "" } else { "s" };
            Report::new(
                exit::OK,
                format!("applied, generation {generation}, {workers} worker{plural}"),
            )
        }
        Outcome::Rejected(e) => Report::new(exit::FAILED, format!("rejected: {e}")),
        Outcome::Ignored(why) => Report::new(exit::FAILED, format!("not applied: {why}")),
        Outcome::Reopened => Report::new(exit::OK, "logs reopened"),
        Outcome::ReopenFailed(e) => Report::new(exit::FAILED, format!("failed: {e}")),
    }
}

/// `60s`, `1500ms`.
fn show_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_words_take_an_optional_wait() {
        let r = |s| Request::parse(s);
        assert_eq!(
            r("reload"),
            Some(Request {
                command: Command::Reload,
                wait: None
            })
        );
        assert_eq!(
            r("quit=2m").map(|r| r.wait()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            r("reload=500ms").map(|r| r.wait()),
            Some(Duration::from_millis(500))
        );
        assert_eq!(r("stop=0").map(|r| r.wait()), Some(Duration::ZERO));
        assert_eq!(r("reload").map(|r| r.wait()), Some(Duration::from_secs(60)));
        assert_eq!(r("quit").map(|r| r.wait()), Some(Duration::ZERO));
        assert_eq!(r("bogus"), None);
        assert_eq!(r("reload="), None);
        assert_eq!(r("reload=soon"), None);
        assert_eq!(r("=5s"), None);
    }

    #[test]
    fn outcomes_read_as_one_line_each() {
        let applied = describe(Outcome::Applied {
            generation: 7,
            workers: 4,
        });
        assert_eq!(
            applied,
            Report::new(exit::OK, "applied, generation 7, 4 workers")
        );
        assert_eq!(
            describe(Outcome::Applied {
                generation: 1,
                workers: 1
            })
            .text,
            "applied, generation 1, 1 worker"
        );
        assert_eq!(
            describe(Outcome::Rejected(
                "unknown directive \"lsten\" in /a.conf:12".into()
            )),
            Report::new(
                exit::FAILED,
                "rejected: unknown directive \"lsten\" in /a.conf:12"
            )
        );
        assert_eq!(show_duration(Duration::from_secs(60)), "60s");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1500ms");
    }
}
