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
use super::memory::MemoryLog;
use super::syslog::SyslogPeer;
use super::{ErrorLogConf, ErrorLogTarget, LogLevel, scope, time};

/// Longest error-log line, newline included (nginx's `NGX_MAX_ERROR_STR`); longer messages
/// are cut.
pub const MAX_ERROR_LINE: usize = 2048;

/// Level written before any configuration is loaded (nginx's `ngx_log_init`).
const STARTUP_LEVEL: LogLevel = LogLevel::Notice;

/// How one destination is written.
enum Sink {
    Stderr,
    File { path: PathBuf, fd: OwnedFd },
    Syslog(SyslogPeer),
    Memory(MemoryLog),
}

/// One destination named by some `error_log`, opened once however many directives name it.
struct Dest {
    target: ErrorLogTarget,
    sink: Sink,
    /// The second a write failed with `ENOSPC`: nginx skips that log for the rest of it.
    disk_full_sec: i64,
}

struct ErrorLog {
    /// Every destination of the configuration: the main context's and those of http,
    /// server and location levels (used while a request of theirs is handled).
    dests: Vec<Dest>,
    /// The main context's logs: index into `dests`, and level.
    main: Vec<(usize, LogLevel)>,
    echo_stderr: bool,
    stderr_redirected: bool,
}

impl ErrorLog {
    fn find(&self, target: &ErrorLogTarget) -> Option<usize> {
        self.dests.iter().position(|d| d.target == *target)
    }
}

thread_local! {
    static ERROR_LOG: RefCell<ErrorLog> = const {
        RefCell::new(ErrorLog {
            dests: Vec::new(),
            main: Vec::new(),
            echo_stderr: true,
            stderr_redirected: false,
        })
    };
    static MIN_LEVEL: Cell<LogLevel> = const { Cell::new(STARTUP_LEVEL) };
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(MAX_ERROR_LINE));
}

/// Whether a message at `level` would be written anywhere: checked before formatting. A
/// `debug_connection` client's connection writes every level.
#[inline]
pub fn enabled(level: LogLevel) -> bool {
    MIN_LEVEL.with(|m| level >= m.get()) || scope::debug_connection()
}

/// The most verbose level any target accepts (what [`enabled`] compares with).
pub fn min_level() -> LogLevel {
    MIN_LEVEL.with(|m| m.get())
}

/// [`init_error_logs`] with the main context's logs only.
pub fn init_error_log(confs: &[ErrorLogConf]) -> io::Result<()> {
    init_error_logs(confs, &[])
}

/// Opens every error log of the configuration (in the master, before forking): `main`, the
/// main context's, and `scoped`, those of http, server and location levels. They become the
/// process's error logs, replacing the previous ones only if all opened. An error's text is
/// nginx's (`open() "/path" failed (13: Permission denied)`).
pub fn init_error_logs(main: &[ErrorLogConf], scoped: &[ErrorLogConf]) -> io::Result<()> {
    let mut log = ErrorLog {
        dests: Vec::new(),
        main: Vec::with_capacity(main.len()),
        echo_stderr: true,
        stderr_redirected: false,
    };
    for (i, conf) in main.iter().chain(scoped).enumerate() {
        let index = match log.find(&conf.target) {
            Some(index) => index,
            None => {
                log.dests.push(open(&conf.target)?);
                log.dests.len() - 1
            }
        };
        if i < main.len() {
            log.main.push((index, conf.level));
        }
    }
    let min = main
        .iter()
        .chain(scoped)
        .map(|c| c.level)
        .min()
        .unwrap_or(STARTUP_LEVEL);
    let redirected = ERROR_LOG.with(|cell| {
        let mut current = cell.borrow_mut();
        log.echo_stderr = current.echo_stderr;
        log.stderr_redirected = current.stderr_redirected;
        *current = log;
        current.stderr_redirected
    });
    MIN_LEVEL.with(|m| m.set(min));
    ::log::set_max_level(super::facade_filter(min));
    if redirected {
        redirect_stderr()
    } else {
        Ok(())
    }
}

fn open(target: &ErrorLogTarget) -> io::Result<Dest> {
    let sink = match target {
        ErrorLogTarget::Stderr => Sink::Stderr,
        ErrorLogTarget::File(path) => Sink::File {
            path: path.clone(),
            fd: open_append(path)?,
        },
        ErrorLogTarget::Syslog(conf) => Sink::Syslog(SyslogPeer::new(conf.clone())),
        ErrorLogTarget::Memory { size, origin } => Sink::Memory(MemoryLog::new(*size, origin)),
    };
    Ok(Dest {
        target: target.clone(),
        sink,
        disk_full_sec: -1,
    })
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
        for &(index, _) in &log.main {
            if let Some(Sink::File { fd, .. }) = log.dests.get(index).map(|d| &d.sink) {
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

fn emit(level: LogLevel, now: i64, line: &[u8], msg_start: usize) {
    let msg = &line[msg_start..];
    let done = ERROR_LOG.try_with(|log| {
        let Ok(mut log) = log.try_borrow_mut() else {
            return false;
        };
        if log.dests.is_empty() {
            write_prefixed(level, msg);
            return true;
        }
        // nginx's ngx_log_error_core: a debug_connection client's lines pass every log's
        // level.
        let debug = scope::debug_connection();
        let log = &mut *log;
        let mut wrote_stderr = false;
        let passes = |log_level: LogLevel| level >= log_level || debug;
        let scoped = scope::with_request_logs(|logs| {
            for conf in logs? {
                // Every target was opened with the configuration; one that was not (a
                // configuration being tested) is skipped.
                if passes(conf.level)
                    && let Some(index) = log.find(&conf.target)
                {
                    wrote_stderr |= log.dests[index].write(level, now, line);
                }
            }
            Some(())
        });
        if scoped.is_none() {
            for &(index, log_level) in &log.main {
                if passes(log_level)
                    && let Some(dest) = log.dests.get_mut(index)
                {
                    wrote_stderr |= dest.write(level, now, line);
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

impl Dest {
    /// Writes one line; returns whether it went to stderr.
    fn write(&mut self, level: LogLevel, now: i64, line: &[u8]) -> bool {
        match &mut self.sink {
            Sink::Stderr => {
                let _ = write_once(io::stderr().as_fd(), line, b"");
                return true;
            }
            Sink::File { fd, .. } => {
                if self.disk_full_sec != now && write_once(&*fd, line, b"") == Err(Errno::ENOSPC) {
                    self.disk_full_sec = now;
                }
            }
            Sink::Syslog(peer) => peer.send_error_line(level, line, now),
            Sink::Memory(memory) => memory.write(line),
        }
        false
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
pub(super) fn reopen(owner: Option<u32>) -> Vec<io::Error> {
    let mut errors = Vec::new();
    let redirected = ERROR_LOG.with(|log| {
        let mut log = log.borrow_mut();
        for d in &mut log.dests {
            if let Sink::File { path, fd } = &mut d.sink
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
pub(super) fn chown(uid: u32) -> Vec<io::Error> {
    ERROR_LOG.with(|log| {
        let log = log.borrow();
        let files = log.dests.iter().filter_map(|d| match &d.sink {
            Sink::File { path, fd } => Some((path, fd)),
            _ => None,
        });
        files
            .filter_map(|(path, fd)| chown_fd(fd, path, uid).err())
            .collect()
    })
}
