//! Error log (nginx's line format and levels) and access logs.

/// nginx's error-log levels, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
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

/// An access-log destination: an index into the process's table of open log files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessLogTarget {
    /// The file's path.
    pub path: std::path::PathBuf,
}
