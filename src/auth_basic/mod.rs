//! `ngx_http_auth_basic_module`: HTTP Basic authentication against an htpasswd file, read
//! per request as nginx reads it (so a changed file counts at once), with every password
//! scheme nginx's docs list ([`crypt`]).
//!
//! The worker's access phase ([`crate::worker`]) calls [`check`] and turns its answer into
//! a 401 with `WWW-Authenticate`, a 403/500, or a pass, combined with the other access
//! modules by `satisfy`.

pub mod crypt;
pub mod digest;

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::log::LogLevel;

/// How a request fared.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The user and password match.
    Allowed,
    /// Answer 401 and ask for credentials (`WWW-Authenticate: Basic realm="..."`).
    Unauthorized,
    /// Answer with this status (403: no such file; 500: unreadable, or `crypt` failed).
    Status(u16),
}

/// `ngx_http_auth_basic_user`: the user and password of `Authorization: Basic ...`, or
/// `None` when there are none nginx would take (no header, another scheme, bad base64, no
/// `:`, an empty user name).
pub fn credentials(authorization: Option<&[u8]>) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = authorization?;
    if value.len() < 6 || !value[..6].eq_ignore_ascii_case(b"Basic ") {
        return None;
    }
    let encoded = &value[6..];
    let start = encoded.iter().position(|&c| c != b' ')?;
    let decoded = digest::base64_decode(&encoded[start..])?;
    let colon = memchr::memchr(b':', &decoded)?;
    if colon == 0 {
        return None;
    }
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

/// The stored password of `user` in an htpasswd file, with nginx's reading rules: lines
/// `user:password[:comment]`, `#` comments, CR or LF line ends, the last line without one.
pub fn find_user(file: &mut impl Read, user: &[u8]) -> io::Result<Option<Vec<u8>>> {
    enum State {
        Login(usize),
        Passwd,
        Skip,
    }
    let mut state = State::Login(0);
    let mut passwd = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for &c in &buf[..n] {
            state = match state {
                State::Login(0) if c == b'#' || c == b'\r' => State::Skip,
                State::Login(0) if c == b'\n' => State::Login(0),
                State::Login(i) if i == user.len() => {
                    if c == b':' {
                        State::Passwd
                    } else {
                        State::Skip
                    }
                }
                State::Login(i) => {
                    if user.get(i) == Some(&c) {
                        State::Login(i + 1)
                    } else {
                        State::Skip
                    }
                }
                State::Passwd => {
                    if c == b'\n' || c == b'\r' || c == b':' {
                        return Ok(Some(passwd));
                    }
                    passwd.push(c);
                    State::Passwd
                }
                State::Skip => {
                    if c == b'\n' {
                        State::Login(0)
                    } else {
                        State::Skip
                    }
                }
            };
        }
    }
    Ok(match state {
        State::Passwd => Some(passwd),
        _ => None,
    })
}

/// The checks after the realm: credentials, the file, the password. `log` receives nginx's
/// lines for the request.
pub fn check(
    user_file: &Path,
    authorization: Option<&[u8]>,
    log: &mut dyn FnMut(LogLevel, String),
) -> Outcome {
    let Some((user, password)) = credentials(authorization) else {
        log(
            LogLevel::Info,
            "no user/password was provided for basic authentication".to_string(),
        );
        return Outcome::Unauthorized;
    };
    let shown = user_file.display();
    let mut file = match File::open(user_file) {
        Ok(f) => f,
        Err(e) => {
            let line = format!(
                "open() \"{shown}\" failed {}",
                crate::config::error::os_error_suffix(&e)
            );
            if e.kind() == io::ErrorKind::NotFound {
                log(LogLevel::Error, line);
                return Outcome::Status(403);
            }
            log(LogLevel::Crit, line);
            return Outcome::Status(500);
        }
    };
    let stored = match find_user(&mut file, &user) {
        Ok(s) => s,
        Err(e) => {
            let line = format!(
                "pread() \"{shown}\" failed {}",
                crate::config::error::os_error_suffix(&e)
            );
            log(LogLevel::Crit, line);
            return Outcome::Status(500);
        }
    };
    let user_text = String::from_utf8_lossy(&user);
    let Some(stored) = stored else {
        log(
            LogLevel::Error,
            format!("user \"{user_text}\" was not found in \"{shown}\""),
        );
        return Outcome::Unauthorized;
    };
    match crypt::crypt(&password, &stored) {
        Ok(encrypted) if encrypted == stored => Outcome::Allowed,
        Ok(_) => {
            log(
                LogLevel::Error,
                format!("user \"{user_text}\": password mismatch"),
            );
            Outcome::Unauthorized
        }
        Err(e) => {
            log(
                LogLevel::Crit,
                format!(
                    "crypt_r() failed {}",
                    crate::config::error::os_error_suffix(&e)
                ),
            );
            Outcome::Status(500)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_as_nginx_reads_them() {
        let cred = |v: &[u8]| credentials(Some(v));
        assert_eq!(
            cred(b"Basic dXNlcjpwYXNz"),
            Some((b"user".to_vec(), b"pass".to_vec()))
        );
        assert_eq!(
            cred(b"basic   dXNlcjo="),
            Some((b"user".to_vec(), b"".to_vec()))
        );
        assert_eq!(cred(b"Basic OnBhc3M="), None); // ":pass"
        assert_eq!(cred(b"Basic dXNlcg=="), None); // no colon
        assert_eq!(cred(b"Bearer x"), None);
        assert_eq!(cred(b"Basic "), None);
        assert_eq!(credentials(None), None);
    }

    #[test]
    fn htpasswd_lines() {
        let file = b"# comment\n\nalice:{PLAIN}a:x\r\nbob:{PLAIN}b\nbo:short\ncarol:{PLAIN}c";
        let find = |u: &[u8]| find_user(&mut &file[..], u).unwrap();
        assert_eq!(find(b"alice"), Some(b"{PLAIN}a".to_vec()));
        assert_eq!(find(b"bob"), Some(b"{PLAIN}b".to_vec()));
        assert_eq!(find(b"bo"), Some(b"short".to_vec()));
        assert_eq!(find(b"carol"), Some(b"{PLAIN}c".to_vec()));
        assert_eq!(find(b"# comment"), None);
        assert_eq!(find(b"dave"), None);
    }
}
