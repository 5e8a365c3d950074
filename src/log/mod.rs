//! Logging: the error log in nginx's line format and levels, and the access-log files.
//!
//! - [`error`]: `TIME [LEVEL] PID#0: MESSAGE`, one `write(2)` per line to every `error_log`
//!   whose level admits it; `portico: [emerg] ...` on stderr before the config is loaded.
//!   Callers write `elog!(LogLevel::Error, "...")`; `log::error!` and friends reach the same
//!   writer once [`install_log_facade`] has run.
//! - [`access`]: the process's table of open access-log files, one `write(2)` per line.
//! - [`escape`]: `log_format escape=default|json` applied to a value in place.
//! - [`time`]: the error log's timestamp, `$time_local` and `$time_iso8601`, formatted once a
//!   second, and the worker's cached clock (`timer_resolution`).
//! - [`syslog`]: `syslog:` targets (RFC 3164 datagrams); [`memory`]: `memory:` ring buffers.
//! - [`scope`]: which logs a line goes to while a worker drives one connection: that
//!   request's location's `error_log`s, and every level for a `debug_connection` client.
//!
//! All state is thread-local, which for Portico means process-local: processes are
//! single-threaded and log fds opened in the master are inherited across `fork`. On USR1,
//! [`reopen_logs`] reopens every file by path and `dup3`s the new file onto the old fd number.

pub mod access;
pub mod context;
pub mod error;
pub mod escape;
mod file;
mod memory;
pub mod named;
pub mod scope;
pub mod syslog;
pub mod time;

use std::cell::Cell;
use std::fmt;
use std::io;
use std::path::PathBuf;

pub use access::{
    clear_buffers, flush_access_logs, flush_due_access_logs, next_access_flush, open_access_log,
    retain_access_logs, set_buffer, write_access,
};
pub use error::{
    enabled, init_error_log, init_error_logs, min_level, redirect_stderr, set_stderr_echo,
    write_error, write_stderr,
};
pub use scope::{ConnScope, use_request_logs};

/// nginx's error-log levels, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `notice`
    Notice,
    /// `warn`
    Warn,
    /// `error`
    Error,
    /// `crit`
    Crit,
    /// `alert`
    Alert,
    /// `emerg`
    Emerg,
}

impl LogLevel {
    /// Every level, lowest first.
    pub const ALL: [LogLevel; 8] = [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Notice,
        LogLevel::Warn,
        LogLevel::Error,
        LogLevel::Crit,
        LogLevel::Alert,
        LogLevel::Emerg,
    ];

    /// The name nginx prints between brackets and accepts in `error_log`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Notice => "notice",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Crit => "crit",
            LogLevel::Alert => "alert",
            LogLevel::Emerg => "emerg",
        }
    }

    /// Parses an `error_log` level name (`warn`, `error`, ...), case-sensitively as nginx.
    pub fn from_name(name: &str) -> Option<LogLevel> {
        LogLevel::ALL.into_iter().find(|l| l.as_str() == name)
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `access_log ... buffer=SIZE [flush=TIME]`: lines for a file are kept in a buffer of
/// `size` bytes and written when it is full, `flush` after its first line, before a reopen
/// and when the worker exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogBuffer {
    /// Bytes kept.
    pub size: usize,
    /// Longest time a line waits.
    pub flush: Option<std::time::Duration>,
    /// `gzip[=LEVEL]`: each write is a gzip member compressed at this level (1–9).
    pub gzip: Option<u8>,
}

/// One `error_log` directive: where lines go and the least severe level written there.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorLogConf {
    /// Where the lines go.
    pub target: ErrorLogTarget,
    /// Lowest level written.
    pub level: LogLevel,
}

/// Where an error log goes.
#[derive(Clone, Debug, PartialEq)]
pub enum ErrorLogTarget {
    /// `stderr`
    Stderr,
    /// A file, opened in append mode.
    File(PathBuf),
    /// `syslog:server=...`: one datagram per line.
    Syslog(syslog::SyslogConf),
    /// `memory:SIZE`: a ring buffer of SIZE bytes in each process, to be read from a core
    /// dump or a debugger; it starts with `MEMLOG SIZE FILE:LINE` (the directive's place).
    Memory {
        /// The buffer's size in bytes, header included.
        size: usize,
        /// `FILE:LINE` of the directive.
        origin: String,
    },
}

/// An access-log destination: the path of a file in this process's table of open log files
/// (see [`open_access_log`]), or the `syslog:...` text of a syslog target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessLogTarget {
    /// The file's path (or `syslog:PARAMETERS`).
    pub path: PathBuf,
}

/// Formats an OS error the way nginx appends it: `2: No such file or directory`.
/// Write it inside parentheses: `open() "/x" failed ({})`.
pub struct OsErr<'a>(pub &'a io::Error);

impl fmt::Display for OsErr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.raw_os_error() {
            Some(code) => write!(f, "{code}: {}", nix::errno::Errno::from_raw(code).desc()),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Writes an error-log line in nginx's format, skipping the formatting entirely when no log
/// takes `level`: `elog!(LogLevel::Error, "*{} open() \"{}\" failed ({})", conn, path, OsErr(&e))`.
/// The `*CONN ` prefix and the `, client: ...` context are part of the caller's message.
#[macro_export]
macro_rules! elog {
    ($level:expr, $($arg:tt)+) => {{
        let level: $crate::log::LogLevel = $level;
        if $crate::log::enabled(level) {
            $crate::log::write_error(level, format_args!($($arg)+));
        }
    }};
}

/// `debug_points stop|abort;`: what a process does where it finds its own state broken
/// (nginx's `ngx_debug_point`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugPoints {
    /// Stop itself (`SIGSTOP`), to be attached to with a debugger.
    Stop,
    /// Abort, leaving a core file (see `worker_rlimit_core` and `working_directory`).
    Abort,
}

thread_local! {
    static DEBUG_POINTS: Cell<Option<DebugPoints>> = const { Cell::new(None) };
}

/// Sets what [`debug_point`] does in this process (from `debug_points`).
pub fn set_debug_points(points: Option<DebugPoints>) {
    DEBUG_POINTS.with(|p| p.set(points));
}

/// Called right after an `[alert]` that means Portico's own state is broken (a state machine
/// that does not advance, a request whose phases do not finish): with `debug_points stop` the
/// process stops for a debugger to attach, with `debug_points abort` it dumps core; without
/// the directive nothing happens and the caller recovers as it can.
pub fn debug_point() {
    match DEBUG_POINTS.with(Cell::get) {
        Some(DebugPoints::Stop) => {
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
        }
        Some(DebugPoints::Abort) => std::process::abort(),
        None => {}
    }
}

thread_local! {
    /// The worker user, once [`chown_logs`] has named it: files reopened later go to it too.
    static OWNER: Cell<Option<u32>> = const { Cell::new(None) };
}

/// [`reopen_logs`] for a `USR1` in any process: a failure is also logged at `[alert]`
/// ("reopening logs failed"), as nginx's processes log it, and returned.
pub fn reopen_logs_alerting() -> io::Result<()> {
    let reopened = reopen_logs();
    if let Err(e) = &reopened {
        crate::elog!(
            LogLevel::Alert,
            "reopening logs failed ({})",
            crate::sys::errno_text(e)
        );
    }
    reopened
}

/// Reopens every error-log and access-log file by path (USR1): the new file is opened first
/// and then takes over the old fd number, so nothing that holds the fd needs to know. A file
/// that cannot be reopened keeps its old one; each failure is logged at `[emerg]` (as nginx
/// does) and the first is returned.
pub fn reopen_logs() -> io::Result<()> {
    #[cfg(feature = "count-alloc")]
    crate::elog!(
        LogLevel::Notice,
        "heap allocations: {}",
        crate::alloc_count::allocations()
    );
    access::flush_access_logs(None);
    named::close_all();
    let owner = OWNER.with(|o| o.get());
    let mut errors = error::reopen(owner);
    errors.extend(access::reopen(owner));
    first_logged(errors)
}

/// Gives every open log file to the worker user (`fchown`, plus `u+rw` if missing), as the
/// nginx master does before its workers reopen logs; files reopened later are given too.
/// The group is left alone, as nginx leaves it. Failures are logged at `[emerg]`; the first is returned.
pub fn chown_logs(uid: u32) -> io::Result<()> {
    OWNER.with(|o| o.set(Some(uid)));
    let mut errors = error::chown(uid);
    errors.extend(access::chown(uid));
    first_logged(errors)
}

fn first_logged(errors: Vec<io::Error>) -> io::Result<()> {
    for e in &errors {
        crate::elog!(LogLevel::Emerg, "{e}");
    }
    errors.into_iter().next().map_or(Ok(()), Err)
}

/// Routes the `log` crate's macros (`log::error!`, `log::warn!`, `log::info!`,
/// `log::debug!`, `log::trace!`) to the error log. Safe to call more than once.
pub fn install_log_facade() {
    static FACADE: Facade = Facade;
    let _ = ::log::set_logger(&FACADE);
    ::log::set_max_level(facade_filter(min_level()));
}

struct Facade;

impl ::log::Log for Facade {
    fn enabled(&self, metadata: &::log::Metadata<'_>) -> bool {
        enabled(from_facade(metadata.level()))
    }

    fn log(&self, record: &::log::Record<'_>) {
        write_error(from_facade(record.level()), *record.args());
    }

    fn flush(&self) {}
}

fn from_facade(level: ::log::Level) -> LogLevel {
    match level {
        ::log::Level::Error => LogLevel::Error,
        ::log::Level::Warn => LogLevel::Warn,
        ::log::Level::Info => LogLevel::Info,
        ::log::Level::Debug | ::log::Level::Trace => LogLevel::Debug,
    }
}

/// The `log` crate filter that lets through what the error log would write at `min`.
fn facade_filter(min: LogLevel) -> ::log::LevelFilter {
    match min {
        LogLevel::Debug => ::log::LevelFilter::Trace,
        LogLevel::Info | LogLevel::Notice => ::log::LevelFilter::Info,
        LogLevel::Warn => ::log::LevelFilter::Warn,
        _ => ::log::LevelFilter::Error,
    }
}

#[cfg(test)]
mod tests;
