//! The request line, byte by byte, after nginx's `ngx_http_parse_request_line`.
//!
//! httparse's request-line parser is not used here (its header parser is, in
//! [`super::request`]): it rejects targets that are not UTF-8 where nginx takes any byte
//! but controls, space and DEL; it cannot tell `HTTP/2.0` (505) from garbage (400); and it
//! knows nothing of the absolute-form host, which nginx validates and prefers to `Host`.
//!
//! Like nginx, errors are found as soon as the offending byte arrives, even before the line
//! is complete: `GET / HTTP/2` is a 505 without waiting for the CRLF.

use super::error::HttpError;
use super::request::{Span, Version};

/// Where the parts of a complete request line lie in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RequestLine {
    /// From the method to the end of the version (trailing spaces included, CRLF not).
    pub line: Span,
    /// The method name.
    pub method_span: Span,
    /// The request-target as sent.
    pub target: Span,
    /// nginx's unparsed URI (`$request_uri`): the target from its path on. Empty, or
    /// starting with `?`, for an absolute-form target without a path.
    pub request_uri: Span,
    /// The second `/` of `scheme://`: nginx's stand-in path for `http://host`.
    pub root_slash: Option<u32>,
    /// The host of an absolute-form target, without the port (not yet validated).
    pub host: Option<Span>,
    /// `HTTP/1.0`, or `HTTP/1.1` for any later 1.x.
    pub version: Version,
    /// Offset just past the line's LF.
    pub end: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Method,
    SpacesBeforeUri,
    Schema,
    SchemaSlash,
    SchemaSlashSlash,
    HostStart,
    Host,
    HostIpLiteral,
    HostEnd,
    Port,
    Uri,
    SpacesBeforeVersion,
    H,
    Ht,
    Htt,
    Http,
    FirstMajorDigit,
    MajorDigit,
    FirstMinorDigit,
    MinorDigit,
    SpacesAfterDigit,
    AlmostDone,
}

fn span(start: usize, end: usize) -> Span {
    // parse_head caps the buffer at u32::MAX bytes, so offsets fit.
    Span {
        start: start as u32,
        end: end as u32,
    }
}

fn is_method_byte(ch: u8) -> bool {
    ch.is_ascii_uppercase() || ch == b'_' || ch == b'-'
}

fn is_host_byte(ch: u8) -> bool {
    ch.is_ascii_alphanumeric() || ch == b'.' || ch == b'-'
}

fn is_ip_literal_byte(ch: u8) -> bool {
    ch.is_ascii_alphanumeric() || b":-._~!$&'()*+,;=".contains(&ch)
}

/// Parses the request line at the start of `buf`, skipping empty lines before it.
/// `Ok(None)`: the line is not complete yet and nothing in it is wrong so far.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<RequestLine>, HttpError> {
    use HttpError::BadRequest;

    let mut state = State::Start;
    let (mut start, mut method_end, mut target_start) = (0, 0, 0);
    let (mut uri_start, mut host_start, mut target_end) = (None, 0, 0);
    let mut root_slash = None;
    let mut host = None;
    let mut minor: u32 = 0;
    let mut done_at = None;

    for (i, &ch) in buf.iter().enumerate() {
        // A byte that ends the authority of an absolute-form target.
        let after_host = |ch: u8, state: &mut State, uri: &mut Option<usize>, end: &mut usize| {
            match ch {
                b':' => *state = State::Port,
                b'/' | b'?' => {
                    *uri = Some(i);
                    *state = State::Uri;
                }
                b' ' => {
                    *end = i;
                    *state = State::SpacesBeforeVersion;
                }
                _ => return Err(BadRequest),
            }
            Ok(())
        };

        match state {
            State::Start => match ch {
                b'\r' | b'\n' => {}
                c if is_method_byte(c) => {
                    start = i;
                    state = State::Method;
                }
                _ => return Err(HttpError::InvalidMethod),
            },
            State::Method => match ch {
                b' ' => {
                    method_end = i;
                    state = State::SpacesBeforeUri;
                }
                c if is_method_byte(c) => {}
                _ => return Err(HttpError::InvalidMethod),
            },
            State::SpacesBeforeUri => match ch {
                b' ' => {}
                b'/' => {
                    target_start = i;
                    uri_start = Some(i);
                    state = State::Uri;
                }
                c if c.is_ascii_alphabetic() => {
                    target_start = i;
                    state = State::Schema;
                }
                _ => return Err(BadRequest),
            },
            State::Schema => match ch {
                b':' => {
                    root_slash = Some(span(i + 1, i + 1).start);
                    state = State::SchemaSlash;
                }
                c if c.is_ascii_alphanumeric() || c == b'+' || c == b'-' || c == b'.' => {}
                _ => return Err(BadRequest),
            },
            State::SchemaSlash | State::SchemaSlashSlash if ch != b'/' => return Err(BadRequest),
            State::SchemaSlash => state = State::SchemaSlashSlash,
            State::SchemaSlashSlash => state = State::HostStart,
            State::HostStart => {
                host_start = i;
                if ch == b'[' {
                    state = State::HostIpLiteral;
                } else if is_host_byte(ch) {
                    state = State::Host;
                } else {
                    host = Some(span(i, i));
                    after_host(ch, &mut state, &mut uri_start, &mut target_end)?;
                }
            }
            State::Host if is_host_byte(ch) => {}
            State::Host | State::HostEnd => {
                host = Some(span(host_start, i));
                after_host(ch, &mut state, &mut uri_start, &mut target_end)?;
            }
            State::HostIpLiteral => match ch {
                b']' => state = State::HostEnd,
                c if is_ip_literal_byte(c) => {}
                _ => return Err(BadRequest),
            },
            State::Port => match ch {
                c if c.is_ascii_digit() => {}
                b':' => return Err(BadRequest),
                _ => after_host(ch, &mut state, &mut uri_start, &mut target_end)?,
            },
            State::Uri => match ch {
                b' ' => {
                    target_end = i;
                    state = State::SpacesBeforeVersion;
                }
                // CR or LF here would make it an HTTP/0.9 request, which we do not serve.
                c if c < 0x20 || c == 0x7f => return Err(BadRequest),
                _ => {}
            },
            State::SpacesBeforeVersion => match ch {
                b' ' => {}
                b'H' => state = State::H,
                _ => return Err(BadRequest),
            },
            State::H | State::Ht if ch != b'T' => return Err(BadRequest),
            State::H => state = State::Ht,
            State::Ht => state = State::Htt,
            State::Htt if ch != b'P' => return Err(BadRequest),
            State::Htt => state = State::Http,
            State::Http if ch != b'/' => return Err(BadRequest),
            State::Http => state = State::FirstMajorDigit,
            State::FirstMajorDigit => match ch {
                b'1' => state = State::MajorDigit,
                b'2'..=b'9' => return Err(HttpError::VersionNotSupported),
                _ => return Err(BadRequest),
            },
            State::MajorDigit => match ch {
                b'.' => state = State::FirstMinorDigit,
                // 10 and up.
                b'0'..=b'9' => return Err(HttpError::VersionNotSupported),
                _ => return Err(BadRequest),
            },
            State::FirstMinorDigit => match ch {
                b'0'..=b'9' => {
                    minor = u32::from(ch - b'0');
                    state = State::MinorDigit;
                }
                _ => return Err(BadRequest),
            },
            State::MinorDigit => match ch {
                b'\r' => state = State::AlmostDone,
                b'\n' => {
                    done_at = Some(i);
                    break;
                }
                b' ' => state = State::SpacesAfterDigit,
                b'0'..=b'9' if minor <= 99 => minor = minor * 10 + u32::from(ch - b'0'),
                _ => return Err(BadRequest),
            },
            State::SpacesAfterDigit => match ch {
                b' ' => {}
                b'\r' => state = State::AlmostDone,
                b'\n' => {
                    done_at = Some(i);
                    break;
                }
                _ => return Err(BadRequest),
            },
            State::AlmostDone => match ch {
                b'\n' => {
                    done_at = Some(i);
                    break;
                }
                _ => return Err(BadRequest),
            },
        }
    }

    let Some(lf) = done_at else {
        return Ok(None);
    };
    let line_end = if lf > 0 && buf.get(lf - 1) == Some(&b'\r') {
        lf - 1
    } else {
        lf
    };
    // Without a path the request URI is empty or starts with '?'.
    let request_uri = span(uri_start.unwrap_or(target_end), target_end);
    Ok(Some(RequestLine {
        line: span(start, line_end),
        method_span: span(start, method_end),
        target: span(target_start, target_end),
        request_uri,
        root_slash,
        host,
        version: if minor == 0 {
            Version::Http10
        } else {
            Version::Http11
        },
        end: lf + 1,
    }))
}

/// `ngx_http_validate_host`: no `..`, no `/`, no controls or spaces; strips the port
/// (after `:`, or after `]` of an IPv6 literal) and one trailing dot. Returns the host.
pub(crate) fn validate_host(buf: &[u8], host: Span) -> Result<Span, HttpError> {
    #[derive(PartialEq)]
    enum State {
        Usual,
        Literal,
        Rest,
    }
    let bytes = host.get(buf);
    let mut state = State::Usual;
    let mut dot_pos = None;
    let mut host_len = bytes.len();
    for (i, &ch) in bytes.iter().enumerate() {
        match ch {
            b'.' => {
                if i > 0 && dot_pos == Some(i - 1) {
                    return Err(HttpError::InvalidHost);
                }
                dot_pos = Some(i);
            }
            b':' if state == State::Usual => {
                host_len = i;
                state = State::Rest;
            }
            b'[' if i == 0 => state = State::Literal,
            b']' if state == State::Literal => {
                host_len = i + 1;
                state = State::Rest;
            }
            b'/' => return Err(HttpError::InvalidHost),
            c if c <= 0x20 || c == 0x7f => return Err(HttpError::InvalidHost),
            _ => {}
        }
    }
    if host_len > 0 && dot_pos == Some(host_len - 1) {
        host_len -= 1;
    }
    if host_len == 0 {
        return Err(HttpError::InvalidHost);
    }
    Ok(Span {
        start: host.start,
        end: host.start + host_len as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(buf: &[u8], s: Span) -> &str {
        std::str::from_utf8(s.get(buf)).unwrap()
    }

    #[test]
    fn spans_of_an_absolute_form_line() {
        let buf = b"\r\nGET  http://h.example:80/p?q  HTTP/1.1 \r\n";
        let line = parse(buf).unwrap().unwrap();
        assert_eq!(
            text(buf, line.line),
            "GET  http://h.example:80/p?q  HTTP/1.1 "
        );
        assert_eq!(text(buf, line.method_span), "GET");
        assert_eq!(text(buf, line.target), "http://h.example:80/p?q");
        assert_eq!(text(buf, line.request_uri), "/p?q");
        assert_eq!(text(buf, line.host.unwrap()), "h.example");
        assert_eq!(buf[line.root_slash.unwrap() as usize], b'/');
        assert_eq!(line.end, buf.len());
    }

    #[test]
    fn authority_only_target() {
        let buf = b"GET http://h HTTP/1.0\n";
        let line = parse(buf).unwrap().unwrap();
        assert_eq!(text(buf, line.target), "http://h");
        assert!(line.request_uri.is_empty());
        assert_eq!(line.version, Version::Http10);
    }

    #[test]
    fn validate_host_strips_port_and_dot() {
        let check = |h: &[u8]| {
            validate_host(
                h,
                Span {
                    start: 0,
                    end: h.len() as u32,
                },
            )
            .map(|s| h[s.start as usize..s.end as usize].to_vec())
        };
        assert_eq!(check(b"a.b.:1"), Ok(b"a.b".to_vec()));
        assert_eq!(check(b"[::1]"), Ok(b"[::1]".to_vec()));
        assert_eq!(check(b"[::1].:8"), Ok(b"[::1]".to_vec()));
        assert_eq!(check(b".a"), Ok(b".a".to_vec()));
        assert_eq!(check(b"a:1..2"), Err(HttpError::InvalidHost));
        assert_eq!(check(b"a\x7f"), Err(HttpError::InvalidHost));
        assert_eq!(check(b"a\\b"), Ok(b"a\\b".to_vec()));
    }
}
