//! `valid_referers` and `$invalid_referer` (`ngx_http_referer_module`): whether a request's
//! `Referer` is one the location accepts.
//!
//! As nginx: a missing `Referer` passes with `none`; one that does not start with
//! `http://` or `https://` (or is shorter than `http://i.ru`) passes with `blocked`; else
//! its host (up to `/` or `:`, at most 255 bytes, lowercased) is looked up among the
//! names and wildcards (`*.example.com`, `.example.com`, `www.example.*`), a name written
//! with a path (`example.com/galleries/`) also requiring the URI to start with it; then
//! the regexes of `server_name ~...` (with `server_names`) against the host; then the
//! `~regex` entries (caseless) against the referer after its scheme.

use super::hostnames::HostTable;

/// A regex of `valid_referers` or of a `server_name`.
pub type RefererRegex = crate::regex::Regex;

/// Whether one of `regexes` matches; a failed match (a PCRE2 limit) is nginx's alert and
/// counts as none.
fn any_match(regexes: &[RefererRegex], subject: &[u8]) -> bool {
    regexes.iter().any(|r| {
        r.is_match(subject).unwrap_or_else(|e| {
            crate::elog!(crate::log::LogLevel::Alert, "{}", e.message(subject, r));
            false
        })
    })
}

/// The longest host nginx looks up (its buffer is 256 bytes).
const MAX_HOST: usize = 256;

/// A location's `valid_referers`.
#[derive(Clone, Debug, Default)]
pub struct ValidReferers {
    /// `none`: a request without `Referer` is valid.
    pub none: bool,
    /// `blocked`: a `Referer` without `http://` or `https://` is valid.
    pub blocked: bool,
    /// Names and wildcards, each with the URI prefix it requires (if written with one).
    pub hosts: HostTable<Option<Box<[u8]>>>,
    /// `server_name ~regex` entries (with `server_names`), matched against the host.
    pub server_name_regexes: Vec<RefererRegex>,
    /// `~regex` entries, matched against the referer after its scheme.
    pub regexes: Vec<RefererRegex>,
    /// `server_names` was given: the server's names are added once they are all known
    /// (at load).
    pub server_names: bool,
    /// Where the level's first `valid_referers` is, for errors found at load.
    pub declared_at: Option<(std::path::PathBuf, usize)>,
}

fn strip_scheme(referer: &[u8]) -> Option<&[u8]> {
    if referer.len() < b"http://i.ru".len() {
        return None;
    }
    let starts = |p: &[u8]| referer[..p.len()].eq_ignore_ascii_case(p);
    if starts(b"http://") {
        Some(&referer[7..])
    } else if starts(b"https://") {
        Some(&referer[8..])
    } else {
        None
    }
}

impl ValidReferers {
    /// Whether `referer` (the request's first `Referer` header) makes `$invalid_referer`
    /// true.
    pub fn invalid(&self, referer: Option<&[u8]>) -> bool {
        let Some(referer) = referer else {
            return !self.none;
        };
        let Some(rest) = strip_scheme(referer) else {
            return !self.blocked;
        };
        let host_len = memchr::memchr2(b'/', b':', rest).unwrap_or(rest.len());
        if host_len > MAX_HOST {
            return true;
        }
        let mut buf = [0u8; MAX_HOST];
        let host = &mut buf[..host_len];
        host.copy_from_slice(&rest[..host_len]);
        host.make_ascii_lowercase();
        if let Some(uri) = self.hosts.find(host) {
            let Some(prefix) = uri else {
                return false;
            };
            let path =
                memchr::memchr(b'/', &rest[host_len..]).map_or(&b""[..], |i| &rest[host_len + i..]);
            return !path.starts_with(prefix);
        }
        if any_match(&self.server_name_regexes, host) {
            return false;
        }
        !any_match(&self.regexes, rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn referers(hosts: &[(&str, Option<&str>)], none: bool, blocked: bool) -> ValidReferers {
        let mut v = ValidReferers {
            none,
            blocked,
            ..ValidReferers::default()
        };
        for (host, uri) in hosts {
            let uri = uri.map(|u| u.as_bytes().into());
            v.hosts.add(host.as_bytes(), uri, true).unwrap();
        }
        v
    }

    #[test]
    fn none_blocked_and_hosts() {
        let v = referers(
            &[("example.com", None), ("*.example.org", Some("/img/"))],
            true,
            false,
        );
        assert!(!v.invalid(None));
        assert!(v.invalid(Some(b"example.com")));
        assert!(v.invalid(Some(b"ftp://example.com/")));
        assert!(!v.invalid(Some(b"http://example.com")));
        assert!(!v.invalid(Some(b"HTTPS://EXAMPLE.COM:8080/x")));
        assert!(v.invalid(Some(b"http://example.net/")));
        assert!(!v.invalid(Some(b"http://www.example.org/img/a.png")));
        assert!(v.invalid(Some(b"http://www.example.org/css/a.css")));
        assert!(v.invalid(Some(b"http://www.example.org")));
        let blocked = referers(&[("example.com", None)], false, true);
        assert!(blocked.invalid(None));
        assert!(!blocked.invalid(Some(b"example.com")));
        assert!(!blocked.invalid(Some(b"http://x")));
        let long = format!("http://{}.com/", "a".repeat(300));
        assert!(blocked.invalid(Some(long.as_bytes())));
    }

    #[test]
    fn regexes() {
        let mut v = referers(&[], false, false);
        v.regexes
            .push(RefererRegex::new(r"\.google\.", true).unwrap());
        v.server_name_regexes
            .push(RefererRegex::new(r"^www\d\.", false).unwrap());
        assert!(!v.invalid(Some(b"http://www.GOOGLE.com/search")));
        assert!(!v.invalid(Some(b"http://WWW7.x.net/")));
        assert!(v.invalid(Some(b"http://www.x.net/")));
    }
}
