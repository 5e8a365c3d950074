//! The upstream's response head: parsing (httparse, offsets kept, not borrows), the body's
//! framing, and the upstream's header lines the client gets (in nginx's header filter
//! order, hidden and hop-by-hop headers dropped, `proxy_redirect` applied to `Location` and
//! `Refresh`, `proxy_cookie_*` to `Set-Cookie`, the range filter's fields); the
//! connection's one head builder writes the rest of the head around them.

use std::io::Write;

pub use super::field::Field;

/// Most header lines accepted in an upstream response head.
pub const MAX_UPSTREAM_HEADERS: usize = 100;

/// How the response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the upstream closes.
    UntilClose,
}

/// A parsed upstream response head: offsets into the buffer it was parsed from.
#[derive(Debug, Default, Clone)]
pub struct ResponseHead {
    /// Status code.
    pub status: u16,
    /// `HTTP/1.x` minor version.
    pub minor: u8,
    /// The reason phrase.
    pub reason: (usize, usize),
    /// Header (name, value) spans.
    pub headers: Vec<((usize, usize), (usize, usize))>,
    /// Each header's field, by the same index (set with `headers` by the parse).
    pub fields: Vec<Field>,
    /// Head length in bytes.
    pub len: usize,
    /// `Content-Length`, when valid.
    pub content_length: Option<u64>,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// `Connection: close` (or HTTP/1.0 without keep-alive).
    pub close: bool,
}

/// Why a head is not acceptable.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadError {
    /// Not HTTP (`upstream sent invalid header`).
    Invalid,
    /// Does not fit the buffer (`upstream sent too big header`).
    TooBig,
}

fn span(buf: &[u8], part: &[u8]) -> (usize, usize) {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    (start, start + part.len())
}

/// Parses a response head at the start of `buf`; `Ok(None)` means more bytes are needed.
pub fn parse_head(buf: &[u8], out: &mut ResponseHead) -> Result<Option<()>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_UPSTREAM_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooBig),
        Err(_) => return Err(HeadError::Invalid),
    };
    let (Some(status), Some(minor)) = (resp.code, resp.version) else {
        return Err(HeadError::Invalid);
    };
    out.status = status;
    out.minor = minor;
    out.reason = span(buf, resp.reason.unwrap_or("").as_bytes());
    out.len = len;
    out.headers.clear();
    out.fields.clear();
    out.content_length = None;
    out.chunked = false;
    out.close = minor == 0;
    for h in resp.headers.iter() {
        let (name, value) = (h.name.as_bytes(), h.value);
        let field = Field::of(name);
        if field == Field::ContentLength {
            let text = std::str::from_utf8(value).map_err(|_| HeadError::Invalid)?;
            let n = text.trim().parse::<u64>().map_err(|_| HeadError::Invalid)?;
            if out.content_length.is_some_and(|m| m != n) {
                return Err(HeadError::Invalid);
            }
            out.content_length = Some(n);
        } else if field == Field::TransferEncoding {
            if value.eq_ignore_ascii_case(b"chunked") {
                out.chunked = true;
            } else if !value.eq_ignore_ascii_case(b"identity") {
                return Err(HeadError::Invalid);
            }
        } else if field == Field::Connection {
            let lower = value.to_ascii_lowercase();
            if memchr::memmem::find(&lower, b"close").is_some() {
                out.close = true;
            } else if memchr::memmem::find(&lower, b"keep-alive").is_some() {
                out.close = false;
            }
        }
        out.headers.push((span(buf, name), span(buf, value)));
        out.fields.push(field);
    }
    if out.chunked {
        out.content_length = None;
    }
    Ok(Some(()))
}

impl ResponseHead {
    /// Becomes a copy of `other`, keeping this one's header list allocation (a derived
    /// `clone_from` would allocate a new one).
    pub fn copy_from(&mut self, other: &ResponseHead) {
        self.status = other.status;
        self.minor = other.minor;
        self.reason = other.reason;
        self.headers.clear();
        self.headers.extend_from_slice(&other.headers);
        self.fields.clear();
        self.fields.extend_from_slice(&other.fields);
        self.len = other.len;
        self.content_length = other.content_length;
        self.chunked = other.chunked;
        self.close = other.close;
    }

    /// How the body ends, for a response to `head_request`.
    pub fn framing(&self, head_request: bool) -> Framing {
        if head_request || self.status < 200 || self.status == 204 || self.status == 304 {
            Framing::Empty
        } else if self.chunked {
            Framing::Chunked
        } else if let Some(n) = self.content_length {
            Framing::Length(n)
        } else {
            Framing::UntilClose
        }
    }

    /// The value of header `name`, if present.
    pub fn header<'b>(&self, buf: &'b [u8], name: &str) -> Option<&'b [u8]> {
        match Field::of(name.as_bytes()) {
            Field::Other => self
                .headers
                .iter()
                .find(|(n, _)| buf[n.0..n.1].eq_ignore_ascii_case(name.as_bytes()))
                .map(|(_, v)| &buf[v.0..v.1]),
            field => self.field(buf, field),
        }
    }

    /// The header lines `proxy::accel` looks through for `X-Accel-*` fields: none when the
    /// head has no such field, so the usual response costs those scans nothing.
    pub fn accel_lines(&self) -> &super::accel::Lines {
        if self.fields.iter().any(|f| f.accel()) {
            &self.headers
        } else {
            &[]
        }
    }

    /// The value of the first `field` line, if present.
    pub fn field<'b>(&self, buf: &'b [u8], field: Field) -> Option<&'b [u8]> {
        let i = self.fields.iter().position(|f| *f == field)?;
        self.headers.get(i).map(|(_, v)| &buf[v.0..v.1])
    }

    /// The lines of the head with their fields: (field, name span, value span).
    fn lines(
        &self,
    ) -> impl DoubleEndedIterator<Item = (Field, (usize, usize), (usize, usize))> + ExactSizeIterator
    {
        self.fields
            .iter()
            .zip(&self.headers)
            .map(|(f, (n, v))| (*f, *n, *v))
    }
}

/// What decides which upstream header lines the client gets, and how.
pub struct ClientHeadInput<'a> {
    /// `proxy_pass_header` names (lowercase).
    pub pass: &'a [String],
    /// `proxy_hide_header` names (lowercase).
    pub hide: &'a [String],
    /// `proxy_redirect` rules, resolved to (from, to) pairs.
    pub redirects: &'a [Redirect],
    /// `http://host[:port]` for a `Location` a rule rewrote to a path (`None` with
    /// `absolute_redirect off`: it stays relative).
    pub location_base: Option<&'a [u8]>,
    /// `proxy_cookie_*` rules for `Set-Cookie` fields.
    pub cookies: Option<&'a super::cookie::CookieRules>,
    /// `proxy_force_ranges on`: the upstream's `Accept-Ranges` is not passed.
    pub force_ranges: bool,
    /// What the range filter makes of the response.
    pub ranged: super::ranges::Ranged,
    /// The `Content-Type` of a multipart answer (`Ranged::Multi`).
    pub multipart_type: &'a [u8],
}

#[inline]
fn hidden(field: Field, name: &[u8], input: &ClientHeadInput<'_>) -> bool {
    let eq = |n: &String| n.as_bytes().eq_ignore_ascii_case(name);
    // The usual location names no field: the field alone decides.
    if !input.hide.is_empty() && input.hide.iter().any(eq) {
        return true;
    }
    field.hidden_by_default() && !input.pass.iter().any(eq)
}

pub use crate::config::proxy_values::Redirect;

/// nginx's `proxy_redirect`/`proxy_cookie_*` rule walk (`ngx_http_proxy_rewrite_*_handler`)
/// over `value[prefix..]`: the first matching rule writes the new value (the bytes before
/// `prefix` kept) to `out` and returns true. A `FROM TO` rule matches a prefix, case
/// sensitively; in `domain` mode (`proxy_cookie_domain`) it must match the whole value,
/// case-insensitively, after one leading dot, which stays. A regex rule replaces
/// everything from `prefix` on.
pub fn rewrite_value(
    value: &[u8],
    prefix: usize,
    rules: &[Redirect],
    domain: bool,
    out: &mut Vec<u8>,
) -> bool {
    let Some(rest) = value.get(prefix..) else {
        return false;
    };
    for rule in rules {
        match rule {
            Redirect::Prefix { from, to } => {
                let (kept, rest) = match (domain, rest.first()) {
                    (true, Some(b'.')) => (prefix + 1, &rest[1..]),
                    _ => (prefix, rest),
                };
                let hit = if domain {
                    rest.eq_ignore_ascii_case(from)
                } else {
                    rest.starts_with(from)
                };
                if hit {
                    out.extend_from_slice(&value[..kept]);
                    out.extend_from_slice(to);
                    out.extend_from_slice(&rest[from.len()..]);
                    return true;
                }
            }
            Redirect::Regex { re, to } => {
                // nginx takes a match error for no match here.
                let mut caps = crate::regex::Captures::default();
                if let Ok(true) = re.captures(rest, &mut caps) {
                    out.extend_from_slice(&value[..prefix]);
                    caps.expand(to, out);
                    return true;
                }
            }
        }
    }
    false
}

/// The values of the upstream's `name` lines (lowercase) the client gets: not hidden,
/// not hop-by-hop, and no `Content-Length` beside chunks.
pub fn client_values<'b>(
    head: &ResponseHead,
    buf: &'b [u8],
    input: &ClientHeadInput<'_>,
    name: &str,
) -> impl Iterator<Item = &'b [u8]> {
    let field = Field::of(name.as_bytes());
    let passes = !(field.hop_by_hop()
        || hidden(field, name.as_bytes(), input)
        || (field == Field::ContentLength && head.chunked));
    head.lines()
        .filter(move |(f, n, _)| {
            passes
                && *f == field
                && (field != Field::Other || buf[n.0..n.1].eq_ignore_ascii_case(name.as_bytes()))
        })
        .map(move |(_, _, v)| &buf[v.0..v.1])
}

/// The `Location` field of an upstream head as nginx passes it on
/// (`ngx_http_upstream_rewrite_location`, then the header filter).
enum LocationOut {
    /// As sent (no rule matched, or none applies).
    AsSent,
    /// Rewritten by a `proxy_redirect` rule, in its place among the headers.
    Rewritten(Vec<u8>),
    /// Rewritten to a path: made absolute with the server's `http://host[:port]` and
    /// written before `Connection`, where the header filter writes a location it completes.
    Completed(Vec<u8>),
}

fn location_out(value: &[u8], input: &ClientHeadInput<'_>) -> LocationOut {
    let mut rewritten = Vec::new();
    if !rewrite_value(value, 0, input.redirects, false, &mut rewritten) {
        return LocationOut::AsSent;
    }
    match input.location_base {
        Some(base) if rewritten.starts_with(b"/") => {
            let mut full = Vec::with_capacity(base.len() + rewritten.len());
            full.extend_from_slice(base);
            full.extend_from_slice(&rewritten);
            LocationOut::Completed(full)
        }
        _ => LocationOut::Rewritten(rewritten),
    }
}

/// The upstream headers nginx's header filter writes itself, once, with the last value the
/// upstream sent (their lines are not kept in the list).
const EARLY: [Field; 2] = [Field::ContentType, Field::ContentLength];

/// Whether `proxy_pass_header` passes the upstream's own `name` (`server`, `date`): the
/// client then gets the upstream's instead of ours, and none when the upstream sent none
/// (nginx's proxy module adds an empty one then, ngx_http_proxy_process_header).
pub fn passes(input: &ClientHeadInput<'_>, name: &str) -> bool {
    input.pass.iter().any(|p| p == name)
}

/// nginx's `r->headers_out.location`: the last `Location` a rule rewrote (only that one may
/// be completed), with its index among the head's fields.
fn location_choice(
    head: &ResponseHead,
    buf: &[u8],
    input: &ClientHeadInput<'_>,
) -> Option<(usize, LocationOut)> {
    // No rule: every Location goes as sent.
    if input.redirects.is_empty() {
        return None;
    }
    head.lines()
        .enumerate()
        .rev()
        .filter(|(_, (f, n, _))| *f == Field::Location && !hidden(*f, &buf[n.0..n.1], input))
        .find_map(|(i, (_, _, v))| match location_out(&buf[v.0..v.1], input) {
            LocationOut::AsSent => None,
            out => Some((i, out)),
        })
}

/// Appends the lines nginx's header filter writes after `Date`: the upstream's
/// `Content-Type` and `Content-Length` (a 206's length when the range filter answers), and a
/// `Location` a rule rewrote to a path, made absolute.
pub fn write_early_headers(
    head: &ResponseHead,
    buf: &[u8],
    input: &ClientHeadInput<'_>,
    out: &mut Vec<u8>,
) {
    use super::ranges::Ranged;
    for field in EARLY {
        let name = if field == Field::ContentType {
            "content-type"
        } else {
            "content-length"
        };
        // A 304 has no length (ngx_http_clear_content_length in the not-modified filter).
        if field == Field::ContentLength
            && (head.chunked || input.ranged == super::ranges::Ranged::NotModified)
        {
            continue;
        }
        if let Some((_, n, v)) = head.lines().rfind(|(f, _, _)| *f == field) {
            if hidden(field, &buf[n.0..n.1], input) {
                continue;
            }
            out.extend_from_slice(&buf[n.0..n.1]);
            out.extend_from_slice(b": ");
            match input.ranged {
                Ranged::Part { start, end, .. } if name == "content-length" => {
                    let _ = write!(out, "{}", end - start);
                }
                Ranged::Multi { length } if name == "content-length" => {
                    let _ = write!(out, "{length}");
                }
                Ranged::Multi { .. } if name == "content-type" => {
                    out.extend_from_slice(input.multipart_type);
                }
                _ => out.extend_from_slice(&buf[v.0..v.1]),
            }
            out.extend_from_slice(b"\r\n");
        } else if let Ranged::Multi { .. } = input.ranged {
            // A multipart answer has its type even when the stored response had none.
            if name == "content-type" {
                out.extend_from_slice(b"Content-Type: ");
                out.extend_from_slice(input.multipart_type);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    if let Some((_, LocationOut::Completed(value))) = location_choice(head, buf, input) {
        out.extend_from_slice(b"Location: ");
        out.extend_from_slice(&value);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends the other upstream header lines in their order, after `Connection`: hidden and
/// hop-by-hop ones dropped, `Location` and `Refresh` rewritten by `proxy_redirect`,
/// `Set-Cookie` by the `proxy_cookie_*` rules, then the range filter's own field.
/// `skip_cache`: `Expires` and `Cache-Control` are left out (the `expires` directive
/// replaces them, as nginx's headers filter does).
pub fn write_other_headers(
    head: &ResponseHead,
    buf: &[u8],
    input: &ClientHeadInput<'_>,
    skip_cache: bool,
    out: &mut Vec<u8>,
) {
    use super::ranges::Ranged;
    let location = location_choice(head, buf, input);
    let mut value_buf = Vec::new();
    for (i, (field, n, v)) in head.lines().enumerate() {
        let name = &buf[n.0..n.1];
        let value = &buf[v.0..v.1];
        if EARLY.contains(&field)
            || field.hop_by_hop()
            || hidden(field, name, input)
            || (input.force_ranges && field == Field::AcceptRanges)
            || (skip_cache && matches!(field, Field::Expires | Field::CacheControl))
        {
            continue;
        }
        let value: &[u8] = match &location {
            Some((at, LocationOut::Completed(_))) if *at == i => continue,
            Some((at, LocationOut::Rewritten(new))) if *at == i => new,
            _ if field == Field::Location && input.redirects.is_empty() => value,
            _ if field == Field::Location => {
                value_buf.clear();
                if rewrite_value(value, 0, input.redirects, false, &mut value_buf) {
                    &value_buf
                } else {
                    value
                }
            }
            _ if field == Field::Refresh && input.redirects.is_empty() => value,
            _ if field == Field::Refresh => {
                // Only the URL after `url=` is rewritten (ngx_http_upstream_rewrite_refresh).
                value_buf.clear();
                let at = memchr::memmem::find(&value.to_ascii_lowercase(), b"url=");
                match at {
                    Some(at)
                        if rewrite_value(value, at + 4, input.redirects, false, &mut value_buf) =>
                    {
                        &value_buf
                    }
                    _ => value,
                }
            }
            _ if field == Field::SetCookie => {
                value_buf.clear();
                match input.cookies {
                    Some(rules)
                        if super::cookie::rewrite_set_cookie(value, rules, &mut value_buf) =>
                    {
                        &value_buf
                    }
                    _ => value,
                }
            }
            _ => value,
        };
        out.reserve(name.len() + value.len() + 4);
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    // The range filter's own field comes last.
    match input.ranged {
        Ranged::Full => out.extend_from_slice(b"Accept-Ranges: bytes\r\n"),
        Ranged::Part { start, end, total } => {
            let _ = write!(out, "Content-Range: bytes {start}-{}/{total}\r\n", end - 1);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Option<ResponseHead>, HeadError> {
        let mut h = ResponseHead::default();
        parse_head(raw, &mut h).map(|o| o.map(|()| h))
    }

    #[test]
    fn parses_heads_and_framing() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: TornadoServer/6\r\n\r\nhello";
        let h = parse(raw).unwrap().unwrap();
        assert_eq!((h.status, h.minor, h.len), (200, 1, raw.len() - 5));
        assert_eq!(h.framing(false), Framing::Length(5));
        assert_eq!(h.framing(true), Framing::Empty);
        assert!(!h.close);
        let h =
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!(h.framing(false), Framing::Chunked);
        let h = parse(b"HTTP/1.0 200 OK\r\n\r\n").unwrap().unwrap();
        assert!(h.close);
        assert_eq!(h.framing(false), Framing::UntilClose);
        let h = parse(b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.close);
        assert_eq!(h.framing(false), Framing::Empty);
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap().is_none());
        assert_eq!(parse(b"garbage\r\n\r\n").err(), Some(HeadError::Invalid));
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").err(),
            Some(HeadError::Invalid)
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").err(),
            Some(HeadError::Invalid)
        );
    }

    #[test]
    fn client_head_hides_and_orders_like_nginx() {
        let raw = b"HTTP/1.1 302 Found\r\nServer: TornadoServer/6.4\r\nDate: x\r\n\
                    X-Custom: 1\r\nLocation: http://backend/next\r\nContent-Type: text/html\r\n\
                    Connection: keep-alive\r\nX-Accel-Redirect: /no\r\nContent-Length: 0\r\n\r\n";
        let h = parse(raw).unwrap().unwrap();
        let redirects = vec![Redirect::Prefix {
            from: b"http://backend/".to_vec(),
            to: b"/".to_vec(),
        }];
        let input = ClientHeadInput {
            pass: &["server".to_string()],
            hide: &["x-custom".to_string()],
            redirects: &redirects,
            location_base: None,
            cookies: None,
            force_ranges: false,
            ranged: crate::proxy::ranges::Ranged::No,
            multipart_type: b"",
        };
        assert!(passes(&input, "server") && !passes(&input, "date"));
        let mut out = Vec::new();
        write_early_headers(&h, raw, &input, &mut out);
        out.extend_from_slice(b"--\r\n");
        write_other_headers(&h, raw, &input, false, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Content-Type: text/html\r\nContent-Length: 0\r\n--\r\n\
             Server: TornadoServer/6.4\r\nLocation: /next\r\n"
        );
    }
}
