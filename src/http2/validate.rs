//! What makes a request's header list malformed (RFC 9113 8.2, 8.3): such a stream is reset
//! with PROTOCOL_ERROR and never becomes a request, so nothing a client smuggles in a field
//! (a line break, a second request line) can reach an upstream.

use super::hpack::HeaderList;
use std::ops::Range;

/// A request's pseudo-headers (ranges into its [`HeaderList`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestHead {
    /// `:method`
    pub method: Range<usize>,
    /// `:scheme`
    pub scheme: Range<usize>,
    /// `:path`
    pub path: Range<usize>,
    /// `:authority`, if sent.
    pub authority: Option<Range<usize>>,
    /// `content-length`, if sent (checked against the DATA received).
    pub content_length: Option<u64>,
}

/// Why a list is malformed (the log line's words).
pub type Malformed = &'static str;

/// Connection-specific fields (8.2.2).
const CONNECTION_SPECIFIC: [&[u8]; 5] = [
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"transfer-encoding",
    b"upgrade",
];

/// `ngx_atoof`: digits only, at least one, at most `i64::MAX`.
fn decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(u64::from(b - b'0')))
            .flatten()
            .filter(|&n| n <= i64::MAX as u64)
    })
}

fn name_ok(name: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|&b| b > 0x20 && b < 0x7f && b != b':' && !b.is_ascii_uppercase())
}

fn value_ok(value: &[u8]) -> bool {
    !value.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n')
}

fn regular(name: &[u8], value: &[u8]) -> Result<(), Malformed> {
    if !name_ok(name) {
        return Err("client sent invalid header name");
    }
    if !value_ok(value) {
        return Err("client sent invalid header value");
    }
    if CONNECTION_SPECIFIC.contains(&name) {
        return Err("client sent connection-specific header");
    }
    if name == b"te" && value != b"trailers" {
        return Err("client sent invalid \"te\" header");
    }
    Ok(())
}

/// Checks a request's header list and finds its pseudo-headers.
pub fn request(list: &HeaderList) -> Result<RequestHead, Malformed> {
    let (mut method, mut scheme, mut path, mut authority) = (None, None, None, None);
    let mut content_length = None;
    let mut regular_seen = false;
    for (n, v) in &list.fields {
        let name = list.bytes.get(n.clone()).unwrap_or_default();
        let value = list.bytes.get(v.clone()).unwrap_or_default();
        if let Some(pseudo) = name.strip_prefix(b":") {
            if regular_seen {
                return Err("client sent pseudo-header after a regular header");
            }
            let slot = match pseudo {
                b"method" => &mut method,
                b"scheme" => &mut scheme,
                b"path" => &mut path,
                b"authority" => &mut authority,
                _ => return Err("client sent unknown pseudo-header"),
            };
            if slot.is_some() {
                return Err("client sent duplicate pseudo-header");
            }
            if !value_ok(value) || value.is_empty() {
                return Err("client sent invalid pseudo-header value");
            }
            *slot = Some(v.clone());
            continue;
        }
        regular_seen = true;
        regular(name, value)?;
        if name == b"content-length" {
            let parsed = decimal(value).ok_or("client sent invalid \"content-length\" header")?;
            if content_length.is_some_and(|c| c != parsed) {
                return Err("client sent duplicate \"content-length\" header");
            }
            content_length = Some(parsed);
        }
    }
    let method = method.ok_or("client sent no :method header")?;
    let scheme = scheme.ok_or("client sent no :scheme header")?;
    let path = path.ok_or("client sent no :path header")?;
    let m = list.bytes.get(method.clone()).unwrap_or_default();
    if !m
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b))
    {
        return Err("client sent invalid method");
    }
    let p = list.bytes.get(path.clone()).unwrap_or_default();
    if p.iter().any(|&b| b <= 0x20 || b == 0x7f) {
        return Err("client sent invalid :path header");
    }
    // nginx 1.29.1: both given, they must agree (the request has one host).
    if let Some(a) = &authority {
        let a = list.bytes.get(a.clone()).unwrap_or_default();
        if list.iter().any(|(n, v)| n == b"host" && v != a) {
            return Err("client sent \":authority\" and \"Host\" headers with different values");
        }
    }
    Ok(RequestHead {
        method,
        scheme,
        path,
        authority,
        content_length,
    })
}

/// Checks a trailer list: regular fields only.
pub fn trailers(list: &HeaderList) -> Result<(), Malformed> {
    for (name, value) in list.iter() {
        if name.starts_with(b":") {
            return Err("client sent pseudo-header in trailers");
        }
        regular(name, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(fields: &[(&str, &str)]) -> HeaderList {
        HeaderList::of(fields)
    }

    const BASE: [(&str, &str); 3] = [(":method", "GET"), (":scheme", "http"), (":path", "/")];

    #[test]
    fn a_good_request() {
        let mut f = BASE.to_vec();
        f.push((":authority", "example.com"));
        f.push(("content-length", "3"));
        f.push(("te", "trailers"));
        let l = list(&f);
        let h = request(&l).unwrap();
        assert_eq!(&l.bytes[h.path.clone()], b"/");
        assert_eq!(h.content_length, Some(3));
    }

    #[test]
    fn malformed_requests() {
        for extra in [
            ("Host", "x"),
            ("connection", "close"),
            ("transfer-encoding", "chunked"),
            ("te", "gzip"),
            ("x", "a\r\nGET /smuggled HTTP/1.1"),
            ("x", "a\0b"),
            (":method", "GET"),
            (":status", "200"),
            ("content-length", "x"),
        ] {
            let mut f = BASE.to_vec();
            f.push(extra);
            assert!(request(&list(&f)).is_err(), "{extra:?}");
        }
        assert!(request(&list(&BASE[..2])).is_err());
        assert!(request(&list(&[("x", "y"), BASE[0], BASE[1], BASE[2]])).is_err());
        assert!(request(&list(&[(":method", "G T"), BASE[1], BASE[2]])).is_err());
        let mut f = BASE.to_vec();
        f.push((":authority", "a:1"));
        f.push(("host", "a:1"));
        assert!(request(&list(&f)).is_ok());
        f.pop();
        f.push(("host", "a:2"));
        assert!(request(&list(&f)).is_err());
        assert!(trailers(&list(&[(":path", "/")])).is_err());
        assert!(trailers(&list(&[("x-sum", "1")])).is_ok());
    }
}
