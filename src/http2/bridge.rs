//! Between HTTP/2 streams and Portico's one request model, whose heads are HTTP/1 bytes: a
//! request's pseudo-headers and fields become the head the HTTP/1.1 parser reads (so
//! routing, variables, access and the upstream machine see one kind of request), and a
//! response head the handlers rendered becomes a HEADERS block. Nothing here is specific to
//! a transport; the connection that wires a stream to a request uses both.

use super::hpack::{self, HeaderList};
use super::validate::RequestHead;

/// How a stream's request body is framed for the request model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// HEADERS ended the stream: no body.
    None,
    /// `content-length` said how long (the session checks the DATA against it).
    Length(u64),
    /// A body whose end is END_STREAM (HTTP/2 needs no length; nginx reads such a body
    /// whole, or streams it chunked to an HTTP/1.1 upstream).
    UntilEnd,
}

/// Renders the request as the head the HTTP/1.1 parser takes: the request line (version
/// `HTTP/1.1`: the caller marks the request as HTTP/2 for `$server_protocol`), `Host` from
/// `:authority` unless a `host` field came (nginx 1.22), the `cookie` fields joined with
/// "; " into one line (RFC 9113 8.2.3, as nginx does), then the other fields in order.
/// The fields were validated ([`super::validate`]): no CR, LF or NUL can get through.
pub fn request_head(
    head: &RequestHead,
    list: &HeaderList,
    end_stream: bool,
    out: &mut Vec<u8>,
) -> BodyFraming {
    let bytes = |r: &std::ops::Range<usize>| list.bytes.get(r.clone()).unwrap_or_default();
    out.extend_from_slice(bytes(&head.method));
    out.push(b' ');
    out.extend_from_slice(bytes(&head.path));
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let has_host = list.iter().any(|(n, _)| n == b"host");
    if let (Some(authority), false) = (&head.authority, has_host) {
        out.extend_from_slice(b"Host: ");
        out.extend_from_slice(bytes(authority));
        out.extend_from_slice(b"\r\n");
    }
    let mut cookies = list.iter().filter(|(n, _)| *n == b"cookie").peekable();
    if cookies.peek().is_some() {
        out.extend_from_slice(b"Cookie: ");
        for (i, (_, v)) in cookies.enumerate() {
            if i > 0 {
                out.extend_from_slice(b"; ");
            }
            out.extend_from_slice(v);
        }
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in list.iter() {
        if name.starts_with(b":") || name == b"cookie" {
            continue;
        }
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    match (end_stream, head.content_length) {
        (true, _) => BodyFraming::None,
        (false, Some(n)) => BodyFraming::Length(n),
        (false, None) => BodyFraming::UntilEnd,
    }
}

/// What a response head said about its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status.
    pub status: u16,
    /// `Content-Length`, if given.
    pub content_length: Option<u64>,
    /// The head announced `Transfer-Encoding: chunked`: the writer must not chunk the
    /// body for this stream (DATA frames carry it).
    pub chunked: bool,
}

/// Fields that mean something only to an HTTP/1 connection (RFC 9113 8.2.2).
const HOP_BY_HOP: [&[u8]; 5] = [
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"transfer-encoding",
    b"upgrade",
];

/// Encodes a rendered HTTP/1 response head (status line to the blank line) as an HPACK
/// block in `out`: names lowercased, hop-by-hop fields dropped. `None` if `http1` is not
/// a response head (it always is when the handlers rendered it).
pub fn response_block(http1: &[u8], out: &mut Vec<u8>) -> Option<ResponseHead> {
    let mut lines = http1
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next()?;
    let code = status_line.get(9..12)?;
    if !status_line.starts_with(b"HTTP/1.") || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    hpack::encode_status(out, status);
    let mut head = ResponseHead {
        status,
        content_length: None,
        chunked: false,
    };
    let mut name = Vec::with_capacity(32);
    for line in lines {
        if line.is_empty() {
            break;
        }
        let colon = memchr::memchr(b':', line)?;
        let (n, v) = line.split_at(colon);
        let value = v[1..].trim_ascii();
        name.clear();
        name.extend(n.iter().map(u8::to_ascii_lowercase));
        if name == b"transfer-encoding" {
            head.chunked |= value.eq_ignore_ascii_case(b"chunked");
        }
        if HOP_BY_HOP.contains(&name.as_slice()) {
            continue;
        }
        if name == b"content-length" {
            head.content_length = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok());
        }
        hpack::encode_field(out, &name, value);
    }
    Some(head)
}

/// Encodes the trailer section of a chunked HTTP/1 body (from its last-chunk line, `0`, to
/// the blank line, as the chunked decoder consumed it) as an HPACK block in `out`: names
/// lowercased, connection-specific fields dropped. False if it has no fields.
pub fn trailer_block(last_chunk: &[u8], out: &mut Vec<u8>) -> bool {
    let mut lines = last_chunk
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .skip_while(|l| l.is_empty());
    // The last-chunk line itself (`0`, maybe with extensions).
    lines.next();
    let mut name = Vec::with_capacity(32);
    let mut any = false;
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let (n, v) = line.split_at(colon);
        name.clear();
        name.extend(n.trim_ascii().iter().map(u8::to_ascii_lowercase));
        if name.is_empty() || HOP_BY_HOP.contains(&name.as_slice()) {
            continue;
        }
        hpack::encode_field(out, &name, v[1..].trim_ascii());
        any = true;
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http2::validate;

    fn list(fields: &[(&str, &str)]) -> HeaderList {
        HeaderList::of(fields)
    }

    #[test]
    fn request_becomes_an_http1_head() {
        let l = list(&[
            (":method", "POST"),
            (":scheme", "https"),
            (":path", "/a?b=c"),
            (":authority", "example.com"),
            ("cookie", "a=1"),
            ("user-agent", "curl"),
            ("cookie", "b=2"),
            ("content-length", "5"),
        ]);
        let head = validate::request(&l).unwrap();
        let mut out = Vec::new();
        assert_eq!(
            request_head(&head, &l, false, &mut out),
            BodyFraming::Length(5)
        );
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(
            text,
            "POST /a?b=c HTTP/1.1\r\nHost: example.com\r\nCookie: a=1; b=2\r\n\
             user-agent: curl\r\ncontent-length: 5\r\n\r\n"
        );
        // The HTTP/1 parser reads it as the same request.
        let mut parsed = crate::http::request::RequestHead::new();
        let n = crate::http::request::parse_head(&out, &mut parsed, &Default::default());
        assert_eq!(n, Ok(Some(out.len())));
        assert_eq!(parsed.header(&out, b"cookie"), Some(&b"a=1; b=2"[..]));
        assert_eq!(parsed.host.map(|h| h.get(&out)), Some(&b"example.com"[..]));
        let l = list(&[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "b"),
            ("host", "b"),
        ]);
        let head = validate::request(&l).unwrap();
        let mut out = Vec::new();
        assert_eq!(request_head(&head, &l, true, &mut out), BodyFraming::None);
        assert_eq!(out, b"GET / HTTP/1.1\r\nhost: b\r\n\r\n");
        let mut out = Vec::new();
        assert_eq!(
            request_head(&head, &l, false, &mut out),
            BodyFraming::UntilEnd
        );
    }

    #[test]
    fn response_head_becomes_a_headers_block() {
        let http1 = b"HTTP/1.1 404 Not Found\r\nServer: portico\r\nContent-Type: text/html\r\n\
            Content-Length: 12\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\
            Transfer-Encoding: chunked\r\nX-Multi:  a b \r\n\r\n";
        let mut block = Vec::new();
        let head = response_block(http1, &mut block).unwrap();
        assert_eq!(
            head,
            ResponseHead {
                status: 404,
                content_length: Some(12),
                chunked: true
            }
        );
        let mut d = hpack::Decoder::new(4096);
        let mut l = HeaderList::default();
        d.decode(
            &block,
            &mut l,
            hpack::Limits {
                field: 8192,
                list: 32768,
            },
        )
        .unwrap();
        let fields: Vec<_> = l.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
        assert_eq!(
            fields,
            [
                (b":status".to_vec(), b"404".to_vec()),
                (b"server".to_vec(), b"portico".to_vec()),
                (b"content-type".to_vec(), b"text/html".to_vec()),
                (b"content-length".to_vec(), b"12".to_vec()),
                (b"x-multi".to_vec(), b"a b".to_vec()),
            ]
        );
        assert!(response_block(b"garbage\r\n\r\n", &mut block).is_none());
    }

    #[test]
    fn trailer_section_becomes_a_headers_block() {
        let mut block = Vec::new();
        assert!(!trailer_block(b"\r\n0\r\n\r\n", &mut block));
        assert!(block.is_empty());
        assert!(trailer_block(
            b"\r\n0;ext=1\r\nX-Var: a b\r\nConnection: close\r\nX-Sum:1\r\n\r\n",
            &mut block
        ));
        let mut d = hpack::Decoder::new(4096);
        let mut l = HeaderList::default();
        let big = hpack::Limits {
            field: 8192,
            list: 32768,
        };
        d.decode(&block, &mut l, big).unwrap();
        let fields: Vec<_> = l.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
        assert_eq!(
            fields,
            [
                (b"x-var".to_vec(), b"a b".to_vec()),
                (b"x-sum".to_vec(), b"1".to_vec())
            ]
        );
    }
}
