//! What the client gets of a CGI response head, as `ngx_http_upstream_process_headers`
//! and nginx's header filter decide: the module's hidden lines (`Status`, `X-Accel-*`)
//! and `*_hide_header` left out unless `*_pass_header` names them, the framing lines
//! replaced by ours (`Content-Length` written from its value), `Content-Type` early under
//! nginx's name (its header filter writes `r->headers_out.content_type` itself), the rest
//! in the application's order and spelling (`Last-Modified` included: nginx keeps the
//! upstream's line in its list); a body of unknown length in chunks to an HTTP/1.1 client,
//! until the close to an HTTP/1.0 one.

use super::head::{CgiHead, span};
use crate::config::cgi_values::CgiConf;
use crate::upstream::protocol::ClientHeaders;
use crate::upstream::ranges::Ranged;

/// Upstream lines the client never gets as lines: the framing is ours (`Content-Length`
/// is written from its value, early).
const NOT_RELAYED: [&str; 4] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
];

/// The client's view of a CGI head: the parsed head, its bytes and the location's
/// `*_pass_header`/`*_hide_header`.
pub struct ClientView<'a> {
    /// The head.
    pub head: &'a CgiHead,
    /// Its bytes.
    pub buf: &'a [u8],
    /// The module's settings.
    pub conf: &'a CgiConf,
    /// Lines hidden unless passed.
    pub hidden_by_default: &'a [&'static str],
    /// The body goes to the client in chunks the writer frames.
    pub chunked: bool,
    /// The body ends only when the connection closes.
    pub until_close: bool,
    /// `*_force_ranges on`: the application's `Accept-Ranges` is not passed.
    pub force_ranges: bool,
    /// What the range filter makes of the response.
    pub ranged: Ranged,
}

impl ClientView<'_> {
    fn hidden(&self, name: &[u8]) -> bool {
        let eq = |n: &String| n.as_bytes().eq_ignore_ascii_case(name);
        if self.conf.hide_header().iter().any(eq) {
            return true;
        }
        self.hidden_by_default
            .iter()
            .any(|h| h.as_bytes().eq_ignore_ascii_case(name))
            && !self.conf.pass_header().iter().any(eq)
    }

    /// The first line `name` the client gets.
    fn shown(&self, name: &str) -> Option<(&[u8], &[u8])> {
        self.lines(name).next()
    }

    /// The lines `name` the client gets, in order.
    fn lines<'s, 'n>(
        &'s self,
        name: &'n str,
    ) -> impl Iterator<Item = (&'s [u8], &'s [u8])> + use<'s, 'n> {
        self.head
            .headers
            .iter()
            .map(|(n, v)| (span(self.buf, *n), span(self.buf, *v)))
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()) && !self.hidden(n))
    }
}

/// `n` in decimal, formatted in `buf`.
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Appends `n` in decimal.
pub fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(decimal(n, &mut buf));
}

fn push(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

impl ClientHeaders for ClientView<'_> {
    fn status(&self) -> u16 {
        match self.ranged {
            Ranged::Part { .. } => 206,
            _ => self.head.status,
        }
    }

    fn reason(&self) -> &[u8] {
        if let Ranged::Part { .. } = self.ranged {
            return b"Partial Content";
        }
        self.head
            .default_reason
            .unwrap_or_else(|| span(self.buf, self.head.reason))
    }

    fn passes_server(&self) -> bool {
        self.shown("server").is_some()
    }

    fn passes_date(&self) -> bool {
        self.shown("date").is_some()
    }

    fn write_early(&self, out: &mut Vec<u8>) {
        // nginx copies each line into `content_type`: the last one is sent.
        if let Some((_, v)) = self.lines("content-type").last() {
            push(out, b"Content-Type", v);
        }
        if let Some(len) = self.head.content_length {
            let len = match self.ranged {
                Ranged::Part { start, end, .. } => end - start,
                _ => len,
            };
            out.extend_from_slice(b"Content-Length: ");
            push_decimal(out, len);
            out.extend_from_slice(b"\r\n");
        }
    }

    fn write_rest(&self, out: &mut Vec<u8>, skip_cache: bool) {
        for (n, v) in &self.head.headers {
            let name = span(self.buf, *n);
            if self.hidden(name)
                || NOT_RELAYED
                    .iter()
                    .any(|h| h.as_bytes().eq_ignore_ascii_case(name))
            {
                continue;
            }
            if name.eq_ignore_ascii_case(b"content-type") {
                continue;
            }
            if skip_cache
                && (name.eq_ignore_ascii_case(b"expires")
                    || name.eq_ignore_ascii_case(b"cache-control"))
            {
                continue;
            }
            // ngx_http_upstream_copy_allow_ranges: the range filter's own field replaces it.
            if self.force_ranges && name.eq_ignore_ascii_case(b"accept-ranges") {
                continue;
            }
            push(out, name, span(self.buf, *v));
        }
        // The range filter's own field comes last.
        match self.ranged {
            Ranged::Full => out.extend_from_slice(b"Accept-Ranges: bytes\r\n"),
            Ranged::Part { start, end, total } => {
                out.extend_from_slice(b"Content-Range: bytes ");
                push_decimal(out, start);
                out.push(b'-');
                push_decimal(out, end - 1);
                out.push(b'/');
                push_decimal(out, total);
                out.extend_from_slice(b"\r\n");
            }
            _ => {}
        }
    }

    fn upgrade(&self) -> Option<&[u8]> {
        None
    }

    fn each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        match name {
            // One line of each, written by us (the last Content-Type, as nginx keeps it).
            "content-type" | "content-length" => {
                if let Some(v) = self.header(name) {
                    f(v);
                }
            }
            _ if NOT_RELAYED.contains(&name) => {}
            _ => self.lines(name).for_each(|(_, v)| f(v)),
        }
    }

    fn header(&self, name: &str) -> Option<&[u8]> {
        match name {
            // The application's line, whose value the head's length was read from.
            "content-length" => self
                .head
                .content_length
                .and_then(|_| self.lines(name).last())
                .map(|(_, v)| v),
            _ if NOT_RELAYED.contains(&name) => None,
            _ => self.lines(name).last().map(|(_, v)| v),
        }
    }

    fn chunked(&self) -> bool {
        self.chunked
    }

    fn until_close(&self) -> bool {
        self.until_close
    }

    fn frames_chunks(&self) -> bool {
        self.chunked
    }
}
