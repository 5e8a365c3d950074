//! The error log: nginx's line format, its levels, its `stderr` behaviour.
//!
//! A line is `2026/11/25 20:23:22 [error] 9582#0: MESSAGE\n`, written with one `write(2)` to
//! every configured `error_log` whose level lets it through. Until [`init_error_log`] has
//! run (config errors, `-t`), lines go to stderr as `portico: [emerg] MESSAGE`, and after it,
//! `warn` and above are echoed there too until the master calls [`set_stderr_echo`]`(false)`
//! (nginx clears `ngx_use_stderr` once it has daemonized).
//!
//! The state is per thread, which for Portico means per process: a worker is
//! single-threaded, and the fds opened by the master are inherited across `fork`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{self, Write as _};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;

use super::file::{chown_fd, open_append, reopen_onto, write_once};
use super::{LogLevel, time};
use crate::config::{ErrorLogConf, ErrorLogTarget};

/// Longest error-log line, newline included (nginx's `NGX_MAX_ERROR_STR`); longer messages
/// are cut.
pub const MAX_ERROR_LINE: usize = 2048;

/// Level written before any configuration is loaded (nginx's `ngx_log_init`).
const STARTUP_LEVEL: LogLevel = LogLevel::Notice;

/// Where one `error_log` writes.
enum Dest {
    Stderr,
    File { path: PathBuf, fd: OwnedFd },
}

struct Target {
    level: LogLevel,
    dest: Dest,
    /// The second a write failed with `ENOSPC`: nginx skips that log for the rest of it.
    disk_full_sec: i64,
}

struct ErrorLog {
    targets: Vec<Target>,
    echo_stderr: bool,
    stderr_redirected: bool,
}

thread_local! {
    static ERROR_LOG: RefCell<ErrorLog> = const {
        RefCell::new(ErrorLog { targets: Vec::new(), echo_stderr: true, stderr_redirected: false })
    };
    static MIN_LEVEL: Cell<LogLevel> = const { Cell::new(STARTUP_LEVEL) };
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(MAX_ERROR_LINE));
}

/// Whether a message at `level` would be written anywhere: checked before formatting.
#[inline]
pub fn enabled(level: LogLevel) -> bool {
    MIN_LEVEL.with(|m| level >= m.get())
}

/// The most verbose level any target accepts (what [`enabled`] compares with).
pub fn min_level() -> LogLevel {
    MIN_LEVEL.with(|m| m.get())
}

/// Opens every `error_log` file of the configuration (in the master, before forking) and
/// makes them the process's error log, replacing the previous ones only if all opened.
/// An error's text is nginx's (`open() "/path" failed (13: Permission denied)`).
pub fn init_error_log(confs: &[ErrorLogConf]) -> io::Result<()> {
    let mut targets = Vec::with_capacity(confs.len());
    for conf in confs {
        let dest = match &conf.target {
            ErrorLogTarget::Stderr => Dest::Stderr,
            ErrorLogTarget::File(path) => Dest::File {
                path: path.clone(),
                fd: open_append(path)?,
            },
        };
        targets.push(Target {
            level: conf.level,
            dest,
            disk_full_sec: -1,
        });
    }
    let min = targets
        .iter()
        .map(|t| t.level)
        .min()
        .unwrap_or(STARTUP_LEVEL);
    let redirected = ERROR_LOG.with(|log| {
        let mut log = log.borrow_mut();
        log.targets = targets;
        log.stderr_redirected
    });
    MIN_LEVEL.with(|m| m.set(min));
    ::log::set_max_level(super::facade_filter(min));
    if redirected {
        redirect_stderr()
    } else {
        Ok(())
    }
}

/// Points fd 2 at the first error-log file, as nginx's `ngx_log_redirect_stderr` does, so a
/// panic message or stray library output lands in the error log. Done again after every
/// reopen; a no-op when no `error_log` is a file. Ends the stderr echo (see
/// [`set_stderr_echo`]), which would now write into the log itself.
pub fn redirect_stderr() -> io::Result<()> {
    ERROR_LOG.with(|log| {
        let mut log = log.borrow_mut();
        log.stderr_redirected = true;
        log.echo_stderr = false;
        for t in &log.targets {
            if let Dest::File { fd, .. } = &t.dest {
                return nix::unistd::dup2_stderr(fd).map_err(io::Error::from);
            }
        }
        Ok(())
    })
}

/// Whether `warn` and more severe messages are echoed to stderr as `portico: [warn] ...`
/// (on until the master has daemonized, like nginx's `ngx_use_stderr`).
pub fn set_stderr_echo(on: bool) {
    ERROR_LOG.with(|log| log.borrow_mut().echo_stderr = on);
}

/// Writes one error-log line at `level`. Callers normally use [`elog!`](crate::elog), which
/// skips the formatting when the level is filtered out.
pub fn write_error(level: LogLevel, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let now = time::now_secs();
    let write = |line: &mut Vec<u8>| {
        line.clear();
        time::append_err_log_time(now, line);
        line.extend_from_slice(b" [");
        line.extend_from_slice(level.as_str().as_bytes());
        line.extend_from_slice(b"] ");
        let _ = write!(line, "{}#0: ", std::process::id());
        let msg_start = line.len();
        let _ = line.write_fmt(args);
        line.truncate(MAX_ERROR_LINE - 1);
        line.push(b'\n');
        emit(level, now, line, msg_start);
    };
    // A `Display` impl that logs while the line is being formatted gets a buffer of its own.
    let reused = LINE.try_with(|buf| buf.try_borrow_mut().map(|mut b| write(&mut b)).is_ok());
    if reused != Ok(true) {
        write(&mut Vec::new());
    }
}

/// Writes one error-log line about a request whose location (or server) has its own
/// `error_log`s (`logs`), as nginx switches a request's log to the location's
/// (`ngx_http_set_connection_log`): to each of them whose level admits it, instead of the
/// main logs. A list equal to the main one (the inherited default) takes the usual way.
pub fn write_error_to(logs: &[ErrorLogConf], level: LogLevel, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let is_main = ERROR_LOG.with(|log| {
        let log = log.borrow();
        log.targets.len() == logs.len()
            && log.targets.iter().zip(logs).all(|(t, c)| {
                t.level == c.level
                    && match (&t.dest, &c.target) {
                        (Dest::Stderr, ErrorLogTarget::Stderr) => true,
                        (Dest::File { path, .. }, ErrorLogTarget::File(p)) => path == p,
                        _ => false,
                    }
            })
    });
    if is_main || logs.is_empty() {
        write_error(level, args);
        return;
    }
    let mut line = Vec::with_capacity(256);
    time::append_err_log_time(time::now_secs(), &mut line);
    let _ = write!(line, " [{}] {}#0: ", level.as_str(), std::process::id());
    let _ = line.write_fmt(args);
    line.truncate(MAX_ERROR_LINE - 1);
    line.push(b'\n');
    for conf in logs.iter().filter(|c| level >= c.level) {
        match &conf.target {
            ErrorLogTarget::Stderr => {
                let _ = write_once(io::stderr().as_fd(), &line, b"");
            }
            // Opened by the master with the access logs (`open_access_log`).
            ErrorLogTarget::File(path) => {
                super::access::write_access(&super::AccessLogTarget { path: path.clone() }, &line)
            }
        }
    }
}

/// Lets lines of `level` through [`enabled`] for the `error_log`s of locations, which
/// [`init_error_log`] does not know (call it after each `init_error_log`).
pub fn admit_level(level: LogLevel) {
    MIN_LEVEL.with(|m| {
        if level < m.get() {
            m.set(level);
        }
    });
}

fn emit(level: LogLevel, now: i64, line: &[u8], msg_start: usize) {
    let msg = &line[msg_start..];
    let done = ERROR_LOG.try_with(|log| {
        let Ok(mut log) = log.try_borrow_mut() else {
            return false;
        };
        if log.targets.is_empty() {
            write_prefixed(level, msg);
            return true;
        }
        let mut wrote_stderr = false;
        for t in log.targets.iter_mut().filter(|t| level >= t.level) {
            match &t.dest {
                Dest::Stderr => {
                    let _ = write_once(io::stderr().as_fd(), line, b"");
                    wrote_stderr = true;
                }
                Dest::File { fd, .. } => {
                    if t.disk_full_sec == now {
                        continue;
                    }
                    if write_once(fd, line, b"") == Err(Errno::ENOSPC) {
                        t.disk_full_sec = now;
                    }
                }
            }
        }
        if log.echo_stderr && level >= LogLevel::Warn && !wrote_stderr {
            write_prefixed(level, msg);
        }
        true
    });
    if done != Ok(true) {
        write_prefixed(level, msg);
    }
}

/// `portico: [level] message` on stderr (nginx's `nginx: [emerg] ...`).
fn write_prefixed(level: LogLevel, msg_with_newline: &[u8]) {
    let mut prefix = [0u8; 32];
    let mut w = &mut prefix[..];
    let _ = write!(w, "{}: [{}] ", crate::NAME, level.as_str());
    let len = 32 - w.len();
    let _ = write_once(io::stderr().as_fd(), &prefix[..len], msg_with_newline);
}

/// `portico: message` on stderr, without a level: what `-t` and `-v` print (nginx's
/// `ngx_log_stderr`).
pub fn write_stderr(args: fmt::Arguments<'_>) {
    let mut line = Vec::with_capacity(128);
    let _ = writeln!(line, "{}: {}", crate::NAME, args);
    let _ = write_once(io::stderr().as_fd(), &line, b"");
}

/// Reopens every error-log file; returns the failures as messages to log (the caller logs
/// them once this module's state is free again).
pub(super) fn reopen(owner: Option<(u32, Option<u32>)>) -> Vec<io::Error> {
    let mut errors = Vec::new();
    let redirected = ERROR_LOG.with(|log| {
        let mut log = log.borrow_mut();
        for t in &mut log.targets {
            if let Dest::File { path, fd } = &mut t.dest
                && let Err(e) = reopen_onto(path, fd, owner)
            {
                errors.push(e);
            }
        }
        log.stderr_redirected
    });
    if redirected && let Err(e) = redirect_stderr() {
        errors.push(e);
    }
    errors
}

/// `fchown`s every error-log file.
pub(super) fn chown(uid: u32, gid: Option<u32>) -> Vec<io::Error> {
    ERROR_LOG.with(|log| {
        let log = log.borrow();
        let files = log.targets.iter().filter_map(|t| match &t.dest {
            Dest::File { path, fd } => Some((path, fd)),
            Dest::Stderr => None,
        });
        files
            .filter_map(|(path, fd)| chown_fd(fd, path, uid, gid).err())
            .collect()
    })
}
