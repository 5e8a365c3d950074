//! Request heads: the request line and header lines, kept as offsets into the connection's
//! buffer, with nginx's checks (`ngx_http_process_request_header` and friends).
//!
//! [`parse_head`] is called with the whole unparsed head every time bytes arrive; it fills
//! a reusable [`RequestHead`] without allocating (the header `Vec` keeps its capacity) and
//! never borrows the buffer, so the connection can keep reading into it.
//!
//! Header lines are read by [`super::header_line`] as nginx reads them.
//!
//! Where this differs from nginx 1.22: HTTP/0.9 requests (no version) are refused (400)
//! instead of served.

pub use super::error::HttpError;
use super::header_line::{self, HeaderLine};
use super::request_line;

/// Most header lines a head may carry, not counting those dropped as invalid; more is
/// [`HttpError::HeaderTooLarge`]. This is nginx's `max_headers` default: newer nginx, and
/// nginx 1.22 as Debian ships it, refuse the 1001st line with 494 ("client sent too many
/// header lines").
pub const MAX_HEADERS: usize = 1000;

/// A `(start, end)` byte range in the connection's buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// Offset of the first byte.
    pub start: u32,
    /// Offset just past the last byte.
    pub end: u32,
}

impl Span {
    /// The empty span at offset 0.
    pub const EMPTY: Span = Span { start: 0, end: 0 };

    /// The bytes this span covers in `buf` (empty if `buf` is too short, never a panic).
    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    /// Whether the span covers no byte.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The request method. Methods nginx does not single out are [`Method::Other`]; their
/// name is in [`RequestHead::method_span`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    #[default]
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
    /// `PATCH`
    Patch,
    /// `TRACE` (refused with 405 by [`parse_head`], as nginx does)
    Trace,
    /// `CONNECT` (refused with 405 by [`parse_head`], as nginx does)
    Connect,
    /// Any other name of `A`–`Z`, `_` and `-` (WebDAV's, custom ones).
    Other,
}

impl Method {
    /// The method named by `name` (case-sensitive, as HTTP says).
    pub fn from_bytes(name: &[u8]) -> Method {
        match name {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"PATCH" => Method::Patch,
            b"TRACE" => Method::Trace,
            b"CONNECT" => Method::Connect,
            _ => Method::Other,
        }
    }
}

/// The protocol version. Any `HTTP/1.x` with x > 1 behaves as 1.1, as in nginx.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`
    Http10,
    /// `HTTP/1.1` (and later 1.x)
    #[default]
    Http11,
}

impl Version {
    /// `HTTP/1.0` or `HTTP/1.1`, for status lines and `$server_protocol`.
    pub fn as_bytes(&self) -> &'static [u8] {
        match self {
            Version::Http10 => b"HTTP/1.0",
            Version::Http11 => b"HTTP/1.1",
        }
    }
}

/// One header line: where its name and value are (value trimmed of surrounding blanks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeaderSpan {
    /// The name, as sent (compare case-insensitively).
    pub name: Span,
    /// The value.
    pub value: Span,
}

impl HeaderSpan {
    /// The whole `Name: value` line (without CRLF), as nginx quotes it in logs.
    pub fn line(&self) -> Span {
        Span {
            start: self.name.start,
            end: self.value.end.max(self.name.end),
        }
    }
}

/// nginx's settings that change how a head is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseOptions {
    /// `underscores_in_headers` (default off): a name with `_` is otherwise invalid.
    pub underscores_in_headers: bool,
    /// `ignore_invalid_headers` (default on): drop lines whose name has bytes other than
    /// letters, digits and `-` (and `_` when allowed). Off keeps them, as nginx does.
    pub ignore_invalid_headers: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            underscores_in_headers: false,
            ignore_invalid_headers: true,
        }
    }
}

/// A parsed request head. Reused from one request to the next: [`RequestHead::clear`]
/// keeps the capacity of `headers`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The method's name as sent.
    pub method_span: Span,
    /// The request line without its CRLF (`$request`).
    pub request_line: Span,
    /// The raw request-target as sent, e.g. `http://host/a?b` or `/a?b`.
    pub target: Span,
    /// nginx's `$request_uri`: the target from its path on (`/a?b` in both cases above).
    pub request_uri: Span,
    /// The path, before any `?` or `#`, still percent-encoded; always starts with `/`
    /// (for `http://host` it is the `/` of `://`, nginx's trick). See [`super::uri`].
    pub path: Span,
    /// The query after `?` (without it), up to any `#`; `None` when absent or empty,
    /// like nginx's `$args`.
    pub query: Option<Span>,
    /// The version.
    pub version: Version,
    /// Header lines in order, without the ones dropped as invalid.
    pub headers: Vec<HeaderSpan>,
    /// The validated host without port or trailing dot, from an absolute-form target if
    /// there is one, else from `Host`. Not lowercased: compare case-insensitively.
    pub host: Option<Span>,
    /// `Content-Length`, when sent.
    pub content_length: Option<u64>,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// Whether the connection may stay open after this request, from the version and
    /// `Connection` (a substring `close` wins over `keep-alive`, as in nginx).
    pub keep_alive: bool,
    /// `Expect: 100-continue` on HTTP/1.1.
    pub expect_continue: bool,
    /// The first `Upgrade` header's value.
    pub upgrade: Option<Span>,
    /// Bytes of the head, from the buffer's start through the empty line.
    pub head_len: usize,
    // ---- http2 ----
    /// The head was rendered from an HTTP/2 stream's HEADERS: its request line reads
    /// `HTTP/2.0` in error-log lines, as nginx writes it.
    pub http2: bool,
}

impl RequestHead {
    /// An empty head.
    pub fn new() -> RequestHead {
        RequestHead::default()
    }

    /// Forgets the last request, keeping the header vector's capacity.
    pub fn clear(&mut self) {
        let mut headers = std::mem::take(&mut self.headers);
        headers.clear();
        *self = RequestHead {
            headers,
            ..RequestHead::default()
        };
    }

    /// The value of the first header called `name` (ASCII case-insensitive).
    pub fn header<'a>(&self, buf: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.get(buf).eq_ignore_ascii_case(name))
            .map(|h| h.value.get(buf))
    }
}

/// Parses the head at the start of `buf` into `head`.
///
/// `Ok(None)`: incomplete, read more (or answer [`overflow_error`] if the buffers are
/// full). `Ok(Some(n))`: the head is the first `n` bytes; the body or the next pipelined
/// request starts at `n`. Leading empty lines are skipped, as nginx does.
///
/// On error, the request-line fields (`request_line`, `method`, `path`…) are filled when
/// the request line itself was read, for the access log; the rest is unspecified.
pub fn parse_head(
    buf: &[u8],
    head: &mut RequestHead,
    opts: &ParseOptions,
) -> Result<Option<usize>, HttpError> {
    head.clear();
    // Spans are u32; a head is a few KB, so this cap never bites in practice.
    let buf = buf.get(..u32::MAX as usize).unwrap_or(buf);

    let Some(line) = request_line::parse(buf)? else {
        return Ok(None);
    };
    // Filled before the headers are read so that an error answer can still log `$request`.
    head.method_span = line.method_span;
    head.method = Method::from_bytes(line.method_span.get(buf));
    head.request_line = line.line;
    head.target = line.target;
    head.request_uri = line.request_uri;
    head.version = line.version;
    split_uri(buf, &line, head);
    if let Some(host) = line.host {
        head.host = Some(request_line::validate_host(buf, host)?);
    }

    // Each line is checked as it is read, as nginx does: a duplicate `Host` is refused
    // before the head is complete.
    let mut seen = Seen::default();
    let mut pos = line.end;
    loop {
        let rest = buf.get(pos..).unwrap_or_default();
        let (name, value, len) = match header_line::parse(rest)? {
            None => return Ok(None),
            Some(HeaderLine::End { len }) => {
                head.head_len = pos + len;
                break;
            }
            Some(HeaderLine::Field { name, value, len }) => (name, value, len),
        };
        let span = HeaderSpan {
            name: span_at(pos, name),
            value: span_at(pos, value),
        };
        pos += len;
        let name = span.name.get(buf);
        if opts.ignore_invalid_headers && !is_valid_name(name, opts.underscores_in_headers) {
            continue;
        }
        if head.headers.len() == MAX_HEADERS {
            return Err(HttpError::HeaderTooLarge);
        }
        head.headers.push(span);
        seen.process(buf, name, span, head)?;
    }
    seen.finish(buf, head)?;
    Ok(Some(head.head_len))
}

/// The error to answer when the head did not complete within the header buffers.
///
/// 414 while the request line itself is incomplete (nginx: "client sent too long URI");
/// in the headers, the line being read is "too long" (494); between two lines the whole
/// request is "too large" (494).
pub fn overflow_error(buf: &[u8]) -> HttpError {
    let mut lines = Lines::new(buf);
    match lines.next() {
        None
        | Some(Line {
            complete: false, ..
        }) => return HttpError::UriTooLong,
        Some(_) => {}
    }
    for line in lines {
        if !line.complete {
            return if line.span.is_empty() {
                HttpError::HeaderTooLarge
            } else {
                HttpError::TooLongHeaderLine(line.span)
            };
        }
    }
    HttpError::HeaderTooLarge
}

/// Checks that every line of a head that outgrew `client_header_buffer_size` fits in one
/// large header buffer of `limit` bytes, as nginx's buffer switching requires: a longer
/// request line is 414, a longer header line 494. `buf` is the head so far (complete or
/// not); a partial last line counts with what arrived of it.
pub fn check_line_lengths(buf: &[u8], limit: usize) -> Result<(), HttpError> {
    let mut lines = Lines::new(buf);
    if lines.next().is_some_and(|l| l.len_with_eol > limit) {
        return Err(HttpError::UriTooLong);
    }
    for line in lines {
        if line.len_with_eol > limit {
            return Err(HttpError::TooLongHeaderLine(line.span));
        }
    }
    Ok(())
}

/// A line of a head: its span without CR LF.
struct Line {
    span: Span,
    len_with_eol: usize,
    complete: bool,
}

/// The lines of a head, from the request line (leading empty lines skipped) to the
/// empty line that ends it.
struct Lines<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Lines<'a> {
    fn new(buf: &'a [u8]) -> Lines<'a> {
        let pos = buf
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(buf.len());
        Lines {
            buf,
            pos,
            done: false,
        }
    }
}

impl Iterator for Lines<'_> {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        if self.done || self.pos >= self.buf.len() && self.pos > 0 {
            return None;
        }
        let rest = &self.buf[self.pos..];
        let start = self.pos;
        let (end, len_with_eol, complete) = match memchr::memchr(b'\n', rest) {
            Some(i) => {
                let end = if i > 0 && rest[i - 1] == b'\r' {
                    i - 1
                } else {
                    i
                };
                (start + end, i + 1, true)
            }
            None => (self.buf.len(), rest.len(), false),
        };
        self.pos = start + len_with_eol;
        if !complete || end == start {
            // The head's last line (the empty one) or a partial one.
            self.done = true;
        }
        if complete && end == start {
            return None;
        }
        Some(Line {
            span: Span {
                start: start as u32,
                end: end as u32,
            },
            len_with_eol,
            complete,
        })
    }
}

/// What the header lines said, checked once all are read (nginx's order of checks).
#[derive(Default)]
struct Seen {
    host: Option<HeaderSpan>,
    content_length: Option<HeaderSpan>,
    transfer_encoding: Option<HeaderSpan>,
    /// `Some(true)`: close, `Some(false)`: keep-alive; the last `Connection` that says
    /// either wins.
    connection_close: Option<bool>,
    expect: Option<HeaderSpan>,
    unique: u8,
}

/// Headers nginx takes once only (`ngx_http_process_unique_header_line`), besides
/// `Host`, `Content-Length` and `Transfer-Encoding` which are handled by name.
const UNIQUE: [&[u8]; 7] = [
    b"if-modified-since",
    b"if-unmodified-since",
    b"if-match",
    b"if-none-match",
    b"content-range",
    b"if-range",
    b"authorization",
];

impl Seen {
    fn process(
        &mut self,
        buf: &[u8],
        name: &[u8],
        header: HeaderSpan,
        head: &mut RequestHead,
    ) -> Result<(), HttpError> {
        let value = header.value;
        let is = |known: &[u8]| name.eq_ignore_ascii_case(known);
        if is(b"host") {
            if let Some(previous) = self.host {
                return Err(HttpError::DuplicateHost {
                    line: header.line(),
                    previous: previous.line(),
                });
            }
            self.host = Some(header);
            let host = request_line::validate_host(buf, value)?;
            // The host of an absolute-form target wins.
            head.host.get_or_insert(host);
        } else if is(b"content-length") {
            once(&mut self.content_length, header)?;
        } else if is(b"transfer-encoding") {
            once(&mut self.transfer_encoding, header)?;
        } else if is(b"expect") {
            once(&mut self.expect, header)?;
        } else if is(b"connection") {
            let v = value.get(buf);
            if contains_ignore_case(v, b"close") {
                self.connection_close = Some(true);
            } else if contains_ignore_case(v, b"keep-alive") {
                self.connection_close = Some(false);
            }
        } else if is(b"upgrade") {
            head.upgrade.get_or_insert(value);
        } else if let Some(i) = UNIQUE.iter().position(|u| is(u)) {
            let bit = 1 << i;
            if self.unique & bit != 0 {
                // The error path only: find the first line of that name again.
                let previous = head
                    .headers
                    .iter()
                    .find(|h| h.name.get(buf).eq_ignore_ascii_case(name))
                    .map_or(Span::EMPTY, HeaderSpan::line);
                return Err(HttpError::DuplicateHeader {
                    line: header.line(),
                    previous,
                });
            }
            self.unique |= bit;
        }
        Ok(())
    }

    fn finish(&self, buf: &[u8], head: &mut RequestHead) -> Result<(), HttpError> {
        let http11 = head.version == Version::Http11;
        if self.host.is_none() && http11 {
            return Err(HttpError::MissingHost);
        }
        if let Some(length) = self.content_length {
            if self.transfer_encoding.is_some() {
                return Err(HttpError::LengthAndTransferEncoding);
            }
            head.content_length = Some(parse_content_length(length.value.get(buf))?);
        }
        if let Some(encoding) = self.transfer_encoding {
            if !http11 {
                return Err(HttpError::TransferEncodingHttp10);
            }
            if !encoding.value.get(buf).eq_ignore_ascii_case(b"chunked") {
                return Err(HttpError::UnknownTransferEncoding(encoding.value));
            }
            head.chunked = true;
        }
        head.keep_alive = match self.connection_close {
            Some(close) => !close,
            None => http11,
        };
        head.expect_continue = http11
            && self
                .expect
                .is_some_and(|e| e.value.get(buf).eq_ignore_ascii_case(b"100-continue"));
        if matches!(head.method, Method::Trace | Method::Connect) {
            return Err(HttpError::MethodNotAllowed);
        }
        Ok(())
    }
}

fn once(slot: &mut Option<HeaderSpan>, header: HeaderSpan) -> Result<(), HttpError> {
    if let Some(previous) = slot {
        return Err(HttpError::DuplicateHeader {
            line: header.line(),
            previous: previous.line(),
        });
    }
    *slot = Some(header);
    Ok(())
}

/// Splits `$request_uri` into path and query. nginx ends the path at the first `?` or
/// `#` and the query at the first `#` after it (the fragment is dropped).
fn split_uri(buf: &[u8], line: &request_line::RequestLine, head: &mut RequestHead) {
    let uri = line.request_uri;
    let bytes = uri.get(buf);
    let path_len = memchr::memchr2(b'?', b'#', bytes).unwrap_or(bytes.len());
    let path_end = uri.start + path_len as u32;
    head.path = match (path_len, line.root_slash) {
        (0, Some(slash)) => Span {
            start: slash,
            end: slash + 1,
        },
        _ => Span {
            start: uri.start,
            end: path_end,
        },
    };
    if bytes.get(path_len) == Some(&b'?') {
        let query = bytes.get(path_len + 1..).unwrap_or_default();
        let query_len = memchr::memchr(b'#', query).unwrap_or(query.len());
        if query_len > 0 {
            let start = path_end + 1;
            head.query = Some(Span {
                start,
                end: start + query_len as u32,
            });
        }
    }
}

/// The span of `(start, end)`, offsets into the part of the buffer that starts at `base`.
fn span_at(base: usize, (start, end): (usize, usize)) -> Span {
    // parse_head caps the buffer at u32::MAX bytes, so offsets fit.
    Span {
        start: (base + start) as u32,
        end: (base + end) as u32,
    }
}

/// nginx's valid header name bytes: letters, digits, `-`, and `_` when allowed.
fn is_valid_name(name: &[u8], underscores: bool) -> bool {
    name.iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || (underscores && b == b'_'))
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// `ngx_atoof`: decimal digits only, at least one, at most `i64::MAX`.
fn parse_content_length(value: &[u8]) -> Result<u64, HttpError> {
    if value.is_empty() {
        return Err(HttpError::InvalidContentLength);
    }
    let mut n: u64 = 0;
    for &b in value {
        if !b.is_ascii_digit() {
            return Err(HttpError::InvalidContentLength);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .filter(|&n| n <= i64::MAX as u64)
            .ok_or(HttpError::InvalidContentLength)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
