//! The response head of a FastCGI, uwsgi or SCGI application: CGI header lines (a
//! `Status:` line for the status, `Location:` alone meaning 302), read with nginx's header
//! line grammar (`ngx_http_parse_header_line`); uwsgi and SCGI applications may start with
//! an HTTP status line instead (`ngx_http_parse_status_line`), which is tried first. The
//! head is kept as offsets into the upstream's buffer, never copied
//! ([`super::client_head`] says which of its lines the client gets).

use crate::http::header_line::{self, HeaderLine};
use crate::proxy::field::Field;

/// A byte range `(start, end)` of the head's buffer.
pub type Span = (usize, usize);

/// A parsed response head.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CgiHead {
    /// The status.
    pub status: u16,
    /// The reason phrase the client gets (`Status: 404 Not Found` gives `Not Found`;
    /// empty when the line has none, and nginx then sends the code alone).
    pub reason: Span,
    /// The reason is a fixed one nginx supplies (`200 OK`, `302 Moved Temporarily`).
    pub default_reason: Option<&'static [u8]>,
    /// Header lines: (name, value).
    pub headers: Vec<(Span, Span)>,
    /// Each line's field, named once here (`fields[i]` is `headers[i]`'s), so that
    /// writing the client's head compares no names ([`super::client_head`]).
    pub fields: Vec<Field>,
    /// Bytes of the head; the body follows.
    pub len: usize,
    /// `Content-Length`, when it is a number (`ngx_atoof`); the body is that long.
    pub content_length: Option<u64>,
}

/// Whether a line named `name` is the CGI `Status` line.
pub fn is_status(name: &[u8]) -> bool {
    name.len() == 6 && name.eq_ignore_ascii_case(b"status")
}

/// Why a head is not acceptable; the text is nginx's log line.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidHead(pub String);

/// How a parse ended.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadParse {
    /// More bytes are needed.
    Incomplete,
    /// The head is complete.
    Done,
}

impl CgiHead {
    /// The value of the first header line `name` (ASCII case-insensitive).
    pub fn header<'b>(&self, buf: &'b [u8], name: &str) -> Option<&'b [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| span(buf, *n).eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| span(buf, *v))
    }

    /// Parses the head at the start of `buf`; `status_line`: an HTTP status line may come
    /// first (uwsgi, SCGI).
    pub fn parse(&mut self, buf: &[u8], status_line: bool) -> Result<HeadParse, InvalidHead> {
        self.status = 0;
        self.reason = (0, 0);
        self.default_reason = None;
        self.headers.clear();
        self.fields.clear();
        self.len = 0;
        self.content_length = None;
        let mut pos = 0;
        if status_line {
            match parse_status_line(buf) {
                StatusLine::Incomplete => return Ok(HeadParse::Incomplete),
                StatusLine::NotOne => {}
                StatusLine::Line { code, text, len } => {
                    self.status = code;
                    let mut start = text.0 + 3;
                    while start < text.1 && buf.get(start) == Some(&b' ') {
                        start += 1;
                    }
                    self.reason = (start.min(text.1), text.1);
                    pos = len;
                }
            }
        }
        let mut status_value = None;
        let mut location = false;
        loop {
            let rest = buf.get(pos..).unwrap_or_default();
            match header_line::parse(rest) {
                Ok(None) => return Ok(HeadParse::Incomplete),
                Ok(Some(HeaderLine::End { len })) => {
                    self.len = pos + len;
                    break;
                }
                Ok(Some(HeaderLine::Field { name, value, len })) => {
                    let name = (pos + name.0, pos + name.1);
                    let value = (pos + value.0, pos + value.1);
                    let n = span(buf, name);
                    let field = Field::of(n);
                    match field {
                        Field::Location => location = true,
                        Field::ContentLength => {
                            self.content_length = parse_length(span(buf, value));
                        }
                        Field::Other if is_status(n) => status_value = Some(value),
                        _ => {}
                    }
                    self.headers.push((name, value));
                    self.fields.push(field);
                    pos += len;
                }
                Err(_) => return Err(InvalidHead(invalid_line(rest))),
            }
        }
        if self.status != 0 {
            return Ok(HeadParse::Done);
        }
        match status_value {
            Some(v) => {
                let text = span(buf, v);
                let code = text
                    .get(..3)
                    .filter(|d| d.iter().all(u8::is_ascii_digit))
                    .map(|d| d.iter().fold(0u16, |n, &b| n * 10 + u16::from(b - b'0')));
                let Some(code) = code else {
                    return Err(InvalidHead(format!(
                        "upstream sent invalid status \"{}\"",
                        String::from_utf8_lossy(text)
                    )));
                };
                self.status = code;
                let mut start = v.0 + 3;
                while buf.get(start) == Some(&b' ') {
                    start += 1;
                }
                self.reason = (start.min(v.1), v.1);
            }
            None if location => {
                self.status = 302;
                self.default_reason = Some(b"Moved Temporarily");
            }
            None => {
                self.status = 200;
                self.default_reason = Some(b"OK");
            }
        }
        Ok(HeadParse::Done)
    }
}

/// Whether the head at the start of `buf` is complete, without keeping it: `Err` for a
/// line nginx would refuse.
pub fn head_state(buf: &[u8], status_line: bool) -> Result<bool, InvalidHead> {
    let mut pos = 0;
    if status_line {
        match parse_status_line(buf) {
            StatusLine::Incomplete => return Ok(false),
            StatusLine::NotOne => {}
            StatusLine::Line { len, .. } => pos = len,
        }
    }
    loop {
        let rest = buf.get(pos..).unwrap_or_default();
        match header_line::parse(rest) {
            Ok(None) => return Ok(false),
            Ok(Some(HeaderLine::End { .. })) => return Ok(true),
            Ok(Some(HeaderLine::Field { len, .. })) => pos += len,
            Err(_) => return Err(InvalidHead(invalid_line(rest))),
        }
    }
}

pub(super) fn span(buf: &[u8], s: Span) -> &[u8] {
    buf.get(s.0..s.1).unwrap_or_default()
}

/// `ngx_atoof`: digits only, else unknown.
fn parse_length(text: &[u8]) -> Option<u64> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    text.iter().try_fold(0u64, |n, &b| {
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// nginx's `upstream sent invalid header: "NAME\xHH..."`: the line up to the byte it
/// refused, then that byte.
fn invalid_line(line: &[u8]) -> String {
    let bad = line
        .iter()
        .position(|&b| b == 0 || b == b'\r' || b <= 0x20 || b == 0x7f || b == b':')
        .map(|i| {
            // A colon ends the name: the refusal is in the value then (a NUL or a lone CR).
            if line[i] == b':' && i > 0 {
                i + 1
                    + line[i + 1..]
                        .iter()
                        .position(|&b| b == 0 || b == b'\r')
                        .unwrap_or(0)
            } else {
                i
            }
        })
        .unwrap_or(0)
        .min(line.len().saturating_sub(1));
    let shown = String::from_utf8_lossy(&line[..bad]);
    let byte = line.get(bad).copied().unwrap_or(0);
    format!("upstream sent invalid header: \"{shown}\\x{byte:02X}...\"")
}

/// What starts the buffer, as a status line.
enum StatusLine {
    Incomplete,
    /// Not a status line: the head is CGI header lines.
    NotOne,
    Line {
        code: u16,
        /// From the code to the line's end (`200 OK`): the client's reason is after the
        /// code and its space.
        text: Span,
        len: usize,
    },
}

/// `ngx_http_parse_status_line`: `HTTP/MAJOR.MINOR SP+ CODE [SP|. TEXT] CRLF`.
fn parse_status_line(buf: &[u8]) -> StatusLine {
    const H: &[u8] = b"HTTP/";
    let head = &buf[..buf.len().min(H.len())];
    if head != &H[..head.len()] {
        return StatusLine::NotOne;
    }
    if buf.len() < H.len() {
        return StatusLine::Incomplete;
    }
    let mut i = H.len();
    // MAJOR "." MINOR: a non-zero first digit, at most three digits each.
    let digits = |i: &mut usize, first_nonzero: bool| -> Option<bool> {
        let start = *i;
        while let Some(&b) = buf.get(*i) {
            if !b.is_ascii_digit() {
                break;
            }
            if *i == start && first_nonzero && b == b'0' {
                return Some(false);
            }
            if *i - start == 3 {
                return Some(false);
            }
            *i += 1;
        }
        Some(*i > start || buf.get(*i).is_none())
    };
    match digits(&mut i, true) {
        Some(false) => return StatusLine::NotOne,
        _ if buf.get(i).is_none() => return StatusLine::Incomplete,
        _ => {}
    }
    if buf.get(i) != Some(&b'.') || i == H.len() {
        return StatusLine::NotOne;
    }
    i += 1;
    let minor_start = i;
    match digits(&mut i, false) {
        Some(false) => return StatusLine::NotOne,
        _ if buf.get(i).is_none() => return StatusLine::Incomplete,
        _ => {}
    }
    if i == minor_start || buf.get(i) != Some(&b' ') {
        return StatusLine::NotOne;
    }
    while buf.get(i) == Some(&b' ') {
        i += 1;
    }
    let code_start = i;
    for _ in 0..3 {
        match buf.get(i) {
            None => return StatusLine::Incomplete,
            Some(b) if b.is_ascii_digit() => i += 1,
            Some(_) => return StatusLine::NotOne,
        }
    }
    let code = buf[code_start..i]
        .iter()
        .fold(0u16, |n, &b| n * 10 + u16::from(b - b'0'));
    match buf.get(i) {
        None => return StatusLine::Incomplete,
        Some(b' ' | b'.' | b'\r' | b'\n') => {}
        Some(_) => return StatusLine::NotOne,
    }
    let Some(eol) = memchr::memchr(b'\n', &buf[i..]) else {
        return StatusLine::Incomplete;
    };
    let line_end = i + eol;
    let text_end = if line_end > code_start && buf[line_end - 1] == b'\r' {
        line_end - 1
    } else {
        line_end
    };
    StatusLine::Line {
        code,
        text: (code_start, text_end),
        len: line_end + 1,
    }
}

#[cfg(test)]
mod tests;
