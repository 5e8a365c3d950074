//! Access-log files: the process's table of open files, one `write(2)` per line.
//!
//! The master opens every `access_log` file while loading the configuration (so `-t` and a
//! reload fail on an unwritable path, as in nginx) and the workers inherit the fds. A
//! [`AccessLogTarget`] names its file by path; the table maps it to the open fd. A target
//! named `syslog:...` (the directive's text) sends each line as a syslog datagram instead
//! (see [`super::syslog`]).

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::file::{chown_fd, open_append, reopen_onto, write_once};
use super::syslog::{SyslogConf, SyslogPeer};
use super::{AccessLogTarget, LogBuffer, LogLevel, OsErr, time};
use std::time::Instant;

/// What names a syslog target instead of a path.
pub const SYSLOG_PREFIX: &str = "syslog:";

/// Seconds between two error-log reports about the same failing access log, so a full disk
/// does not turn every request into an error-log line.
pub const ACCESS_LOG_ERROR_INTERVAL_SECS: i64 = 1;

/// Where an access log's lines go.
enum Sink {
    File(OwnedFd),
    Syslog(SyslogPeer),
}

struct AccessFile {
    path: PathBuf,
    sink: Sink,
    /// When a failure was last reported to the error log.
    error_reported_sec: i64,
    /// The second a write failed with `ENOSPC`: the file is skipped for the rest of it.
    disk_full_sec: i64,
    /// `buffer=`: lines waiting to be written.
    buffer: Option<Buffered>,
}

/// The lines of a buffered access log (`access_log ... buffer=SIZE [flush=TIME]`).
struct Buffered {
    conf: LogBuffer,
    data: Vec<u8>,
    /// When the first line still waiting came in (the flush timer's start).
    since: Option<Instant>,
}

thread_local! {
    static FILES: RefCell<Vec<AccessFile>> = const { RefCell::new(Vec::new()) };
    /// `gzip=` logs: the one-shot compressor and its output buffer, kept for the next write.
    static GZIP: RefCell<(crate::compress::OneShot, Vec<u8>)> = RefCell::new(Default::default());
    /// Index of the last file written: most workers log to one file.
    static LAST: Cell<usize> = const { Cell::new(0) };
    /// When a failure to open a log lazily was last reported.
    static OPEN_ERROR_SEC: Cell<i64> = const { Cell::new(i64::MIN) };
    /// The earliest `flush=` deadline of a buffered log, checked once per loop turn.
    static NEXT_FLUSH: Cell<Option<Instant>> = const { Cell::new(None) };
}

fn find(files: &[AccessFile], path: &Path) -> Option<usize> {
    let key = path.as_os_str().as_bytes();
    let last = LAST.with(|l| l.get());
    if files
        .get(last)
        .is_some_and(|f| f.path.as_os_str().as_bytes() == key)
    {
        return Some(last);
    }
    let i = files
        .iter()
        .position(|f| f.path.as_os_str().as_bytes() == key)?;
    LAST.with(|l| l.set(i));
    Some(i)
}

/// Opens `path` for appending (`O_APPEND|O_CREAT`, mode 0644) unless this process already
/// has it open, and returns the target that names it. The error's text is nginx's
/// (`open() "/path" failed (13: Permission denied)`).
pub fn open_access_log(path: &Path) -> io::Result<AccessLogTarget> {
    let target = AccessLogTarget {
        path: path.to_path_buf(),
    };
    if FILES.with(|f| find(&f.borrow(), path).is_some()) {
        return Ok(target);
    }
    let text = path.to_string_lossy();
    let sink = match text.strip_prefix(SYSLOG_PREFIX) {
        Some(params) => Sink::Syslog(SyslogPeer::new(
            SyslogConf::parse(params)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
        )),
        None => Sink::File(open_append(path)?),
    };
    FILES.with(|f| {
        f.borrow_mut().push(AccessFile {
            path: path.to_path_buf(),
            sink,
            error_reported_sec: i64::MIN,
            disk_full_sec: -1,
            buffer: None,
        })
    });
    Ok(target)
}

/// Makes the open file `path` a buffered one (`buffer=`): its lines are kept in memory and
/// written when the buffer is full, when [`flush_access_logs`] finds them older than
/// `flush`, before a reopen, and at exit.
pub fn set_buffer(path: &Path, conf: LogBuffer) {
    FILES.with(|f| {
        let mut files = f.borrow_mut();
        if let Some(i) = find(&files, path) {
            files[i].buffer = Some(Buffered {
                conf,
                data: Vec::with_capacity(conf.size),
                since: None,
            });
        }
    });
}

/// Makes every file unbuffered again (before a configuration's `buffer=`s are applied).
pub fn clear_buffers() {
    FILES.with(|f| {
        f.borrow_mut()
            .iter_mut()
            .for_each(|file| file.buffer = None)
    });
}

/// Writes the buffered lines that have waited `flush` or longer by `now` (all of them with
/// `now` as `None`: before a reopen, at exit).
pub fn flush_access_logs(now: Option<Instant>) {
    let failures: Vec<(PathBuf, Failure)> = FILES.with(|f| {
        let mut files = f.borrow_mut();
        let mut failures = Vec::new();
        for file in files.iter_mut() {
            let Some(buffer) = file.buffer.as_mut() else {
                continue;
            };
            let due = match (now, buffer.since, buffer.conf.flush) {
                (None, _, _) => !buffer.data.is_empty(),
                (Some(now), Some(since), Some(flush)) => now >= since + flush,
                _ => false,
            };
            let Sink::File(fd) = &file.sink else {
                continue;
            };
            if due {
                let data = std::mem::take(&mut buffer.data);
                buffer.since = None;
                if let Some(failure) = write_block(fd, &data, buffer.conf.gzip) {
                    failures.push((file.path.clone(), failure));
                }
                if let Some(buffer) = file.buffer.as_mut() {
                    buffer.data = data;
                    buffer.data.clear();
                }
            }
        }
        failures
    });
    for (path, failure) in failures {
        report(&path, failure);
    }
}

/// When the next buffered line is due (for the worker's poll timeout).
pub fn next_access_flush() -> Option<Instant> {
    NEXT_FLUSH.with(|n| n.get())
}

/// Writes the buffered lines due by `now`: one comparison when none is.
pub fn flush_due_access_logs(now: Instant) {
    if NEXT_FLUSH.with(|n| n.get()).is_none_or(|at| now < at) {
        return;
    }
    flush_access_logs(Some(now));
    let next = FILES.with(|f| {
        f.borrow()
            .iter()
            .filter_map(|file| {
                let buffer = file.buffer.as_ref()?;
                Some(buffer.since? + buffer.conf.flush?)
            })
            .min()
    });
    NEXT_FLUSH.with(|n| n.set(next));
}

fn write_block(fd: &OwnedFd, data: &[u8], gzip: Option<u8>) -> Option<Failure> {
    let Some(level) = gzip else {
        return match write_once(fd, data, b"") {
            Ok(n) if n == data.len() => None,
            Ok(n) => Some(Failure::Incomplete(n, data.len())),
            Err(e) => Some(Failure::Write(e)),
        };
    };
    // nginx's ngx_http_log_gzip: each write is a gzip member of its own (a file of
    // members is one gzip stream to zcat), made here with the worker's one-shot compressor.
    GZIP.with(|g| {
        let (compressor, out) = &mut *g.borrow_mut();
        out.clear();
        if compressor.compress(level, data, out).is_err() {
            crate::elog!(LogLevel::Alert, "deflate() failed for an access log buffer");
            return None;
        }
        match write_once(fd, out, b"") {
            Ok(n) if n == out.len() => None,
            Ok(n) => Some(Failure::Incomplete(n, out.len())),
            Err(e) => Some(Failure::Write(e)),
        }
    })
}

fn report(path: &Path, failure: Failure) {
    let path = path.display();
    match failure {
        Failure::Write(e) => {
            let err = io::Error::from_raw_os_error(e as i32);
            crate::elog!(
                LogLevel::Alert,
                "write() to \"{path}\" failed ({})",
                OsErr(&err)
            );
        }
        Failure::Incomplete(n, len) => {
            crate::elog!(
                LogLevel::Alert,
                "write() to \"{path}\" was incomplete: {n} of {len}"
            );
        }
    }
}

/// Closes the access logs for which `keep` says false (after a reload in the master, the
/// files only the old configuration used).
pub fn retain_access_logs(mut keep: impl FnMut(&Path) -> bool) {
    FILES.with(|f| f.borrow_mut().retain(|file| keep(&file.path)));
    LAST.with(|l| l.set(0));
}

/// What went wrong with one write, reported once the table is no longer borrowed.
enum Failure {
    Write(Errno),
    Incomplete(usize, usize),
}

/// Appends `line` to the target's file in one `write(2)` (a newline is added if `line` lacks
/// one). Failures are reported to the error log at most once per
/// [`ACCESS_LOG_ERROR_INTERVAL_SECS`] per file and never stop the caller.
pub fn write_access(target: &AccessLogTarget, line: &[u8]) {
    let outcome = match append(target, line) {
        Some(outcome) => outcome,
        None => {
            // Not opened at config load (e.g. a target built by hand): open it now.
            if let Err(e) = open_access_log(&target.path) {
                let now = time::now_secs();
                let last = OPEN_ERROR_SEC.with(|c| c.get());
                if now.saturating_sub(last) >= ACCESS_LOG_ERROR_INTERVAL_SECS {
                    OPEN_ERROR_SEC.with(|c| c.set(now));
                    crate::elog!(LogLevel::Crit, "{e}");
                }
                return;
            }
            append(target, line).flatten()
        }
    };
    let path = target.path.display();
    match outcome {
        None => {}
        Some(Failure::Write(e)) => {
            let err = io::Error::from_raw_os_error(e as i32);
            crate::elog!(
                LogLevel::Alert,
                "write() to \"{path}\" failed ({})",
                OsErr(&err)
            );
        }
        Some(Failure::Incomplete(n, len)) => {
            crate::elog!(
                LogLevel::Alert,
                "write() to \"{path}\" was incomplete: {n} of {len}"
            );
        }
    }
}

/// Writes the line if the file is open here (`None` if not); the inner value is a failure
/// due for a report to the error log.
fn append(target: &AccessLogTarget, line: &[u8]) -> Option<Option<Failure>> {
    let tail: &[u8] = if line.ends_with(b"\n") { b"" } else { b"\n" };
    FILES.with(|f| {
        let mut files = f.borrow_mut();
        let i = find(&files, &target.path)?;
        let file = &mut files[i];
        let fd = match &mut file.sink {
            Sink::File(fd) => fd,
            Sink::Syslog(peer) => {
                // A datagram per line, without the newline (ngx_http_log_handler).
                let line = line.strip_suffix(b"\n").unwrap_or(line);
                peer.send_access_line(line, time::now_secs());
                return Some(None);
            }
        };
        if file.disk_full_sec >= 0 && time::now_secs() == file.disk_full_sec {
            return Some(None);
        }
        // nginx's ngx_http_log_write: a line that does not fit flushes the buffer first;
        // one longer than the buffer is written by itself.
        let mut flushed = None;
        if let Some(buffer) = file.buffer.as_mut() {
            let len = line.len() + tail.len();
            if buffer.data.len() + len > buffer.conf.size && !buffer.data.is_empty() {
                flushed = write_block(fd, &buffer.data, buffer.conf.gzip);
                buffer.data.clear();
                buffer.since = None;
            }
            if len <= buffer.conf.size {
                if buffer.data.is_empty() {
                    let now = Instant::now();
                    buffer.since = Some(now);
                    if let Some(flush) = buffer.conf.flush {
                        let at = now + flush;
                        NEXT_FLUSH.with(|n| n.set(Some(n.get().map_or(at, |t| t.min(at)))));
                    }
                }
                buffer.data.extend_from_slice(line);
                buffer.data.extend_from_slice(tail);
                return Some(flushed);
            }
        }
        // A line longer than a gzip log's buffer is a gzip member by itself.
        let gzip = file.buffer.as_ref().and_then(|b| b.conf.gzip);
        let failure = if gzip.is_some() {
            match write_block(fd, &[line, tail].concat(), gzip) {
                None => return Some(None),
                Some(failure) => failure,
            }
        } else {
            match write_once(&*fd, line, tail) {
                Ok(n) if n == line.len() + tail.len() => return Some(None),
                Ok(n) => Failure::Incomplete(n, line.len() + tail.len()),
                Err(e) => Failure::Write(e),
            }
        };
        let now = time::now_secs();
        if matches!(failure, Failure::Write(Errno::ENOSPC)) {
            file.disk_full_sec = now;
        }
        if now.saturating_sub(file.error_reported_sec) < ACCESS_LOG_ERROR_INTERVAL_SECS {
            return Some(None);
        }
        file.error_reported_sec = now;
        Some(Some(failure))
    })
}

/// Reopens every access-log file by path, keeping the fd numbers.
pub(super) fn reopen(owner: Option<u32>) -> Vec<io::Error> {
    FILES.with(|f| {
        let mut files = f.borrow_mut();
        files
            .iter_mut()
            .filter_map(|file| match &mut file.sink {
                Sink::File(fd) => reopen_onto(&file.path, fd, owner).err(),
                Sink::Syslog(_) => None,
            })
            .collect()
    })
}

/// `fchown`s every access-log file.
pub(super) fn chown(uid: u32) -> Vec<io::Error> {
    FILES.with(|f| {
        let files = f.borrow();
        files
            .iter()
            .filter_map(|file| match &file.sink {
                Sink::File(fd) => chown_fd(fd, &file.path, uid).err(),
                Sink::Syslog(_) => None,
            })
            .collect()
    })
}
