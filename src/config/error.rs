//! The configuration error type: nginx's message plus where it was found.

use std::fmt;
use std::path::{Path, PathBuf};

use super::parser::Directive;

/// The file name shown for `-g` directives; errors there print `in command line`.
pub const COMMAND_LINE: &str = "command line";

/// A configuration error, worded as nginx words it.
///
/// Displays as `{message} in {file}:{line}`; as `{message} in {file}` when `line` is 0 (the
/// `-g` text, whose file is [`COMMAND_LINE`]); and as the bare message when `file` is `None`
/// (errors about the configuration as a whole, such as a missing `events` section).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfError {
    /// nginx's message, e.g. `unknown directive "lsten"`.
    pub message: String,
    /// The file the error is in, if it is in one.
    pub file: Option<PathBuf>,
    /// 1-based line in `file` (0 for the command line).
    pub line: usize,
}

impl ConfError {
    /// An error at `file:line`.
    pub fn new(message: impl Into<String>, file: &Path, line: usize) -> ConfError {
        ConfError {
            message: message.into(),
            file: Some(file.to_path_buf()),
            line,
        }
    }

    /// An error with no location.
    pub fn bare(message: impl Into<String>) -> ConfError {
        ConfError {
            message: message.into(),
            file: None,
            line: 0,
        }
    }

    /// An error at the line of directive `d`.
    pub fn at(d: &Directive, message: impl Into<String>) -> ConfError {
        ConfError::new(message, &d.file, d.line)
    }

    /// `"name" directive {what}`: how nginx reports a setter's short complaint
    /// (`is duplicate`, `invalid value`, `invalid number`).
    pub fn directive(d: &Directive, what: &str) -> ConfError {
        ConfError::at(d, format!("\"{}\" directive {what}", d.name))
    }
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            None => f.write_str(&self.message),
            Some(file) if self.line == 0 => write!(f, "{} in {}", self.message, file.display()),
            Some(file) => write!(f, "{} in {}:{}", self.message, file.display(), self.line),
        }
    }
}

impl std::error::Error for ConfError {}

/// `(2: No such file or directory)`: nginx's rendering of an OS error.
pub fn os_error_suffix(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => format!("({code}: {})", nix::errno::Errno::from_raw(code).desc()),
        None => format!("({err})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_forms() {
        let e = ConfError::new("unknown directive \"lsten\"", Path::new("/etc/p.conf"), 3);
        assert_eq!(
            e.to_string(),
            "unknown directive \"lsten\" in /etc/p.conf:3"
        );
        let e = ConfError::new("x", Path::new(COMMAND_LINE), 0);
        assert_eq!(e.to_string(), "x in command line");
        assert_eq!(
            ConfError::bare("no \"events\" section in configuration").to_string(),
            "no \"events\" section in configuration"
        );
    }

    #[test]
    fn os_errors_read_like_nginx() {
        let err = std::io::Error::from_raw_os_error(2);
        assert_eq!(os_error_suffix(&err), "(2: No such file or directory)");
    }
}
