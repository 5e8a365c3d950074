//! What the client gets of a CGI response head, as `ngx_http_upstream_process_headers`
//! and nginx's header filter decide: the module's hidden lines (`Status`, `X-Accel-*`)
//! and `*_hide_header` left out unless `*_pass_header` names them, the framing lines
//! replaced by ours (`Content-Length` written from its value), `Content-Type` early under
//! nginx's name (its header filter writes `r->headers_out.content_type` itself), the rest
//! in the application's order and spelling (`Last-Modified` included: nginx keeps the
//! upstream's line in its list); a body of unknown length in chunks to an HTTP/1.1 client,
//! until the close to an HTTP/1.0 one.

use super::head::{CgiHead, is_status, span};
use crate::config::cgi_values::CgiConf;
use crate::proxy::field::Field;
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
    /// The body goes to the client in chunks the writer frames.
    pub chunked: bool,
    /// The body ends only when the connection closes.
    pub until_close: bool,
    /// `*_force_ranges on`: the application's `Accept-Ranges` is not passed.
    pub force_ranges: bool,
    /// What the range filter makes of the response.
    pub ranged: Ranged,
}

/// Hidden unless `*_pass_header` names it: `Status` and the `X-Accel-*` lines (nginx's
/// `ngx_http_fastcgi_hide_headers` and uwsgi's and SCGI's). `Date` and `Server` are the
/// header writer's business (`passes_date`, `passes_server`).
fn hidden_by_default(field: Field, name: &[u8]) -> bool {
    field.accel() || (field == Field::Other && is_status(name))
}

impl ClientView<'_> {
    /// Whether line `i`, named `name`, is kept from the client.
    fn hidden(&self, i: usize, name: &[u8]) -> bool {
        let eq = |n: &String| n.as_bytes().eq_ignore_ascii_case(name);
        if self.conf.hide_header().iter().any(eq) {
            return true;
        }
        let field = self.head.fields.get(i).copied().unwrap_or_default();
        hidden_by_default(field, name) && !self.conf.pass_header().iter().any(eq)
    }

    /// The lines of `field` the client gets, in order.
    fn fields(&self, field: Field) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.head
            .headers
            .iter()
            .zip(&self.head.fields)
            .enumerate()
            .filter(move |(_, (_, f))| **f == field)
            .map(|(i, ((n, v), _))| (i, span(self.buf, *n), span(self.buf, *v)))
            .filter(|(i, n, _)| !self.hidden(*i, n))
            .map(|(_, n, v)| (n, v))
    }

    /// The lines `name` the client gets, in order.
    fn lines<'s, 'n>(
        &'s self,
        name: &'n str,
    ) -> impl Iterator<Item = (&'s [u8], &'s [u8])> + use<'s, 'n> {
        self.head
            .headers
            .iter()
            .enumerate()
            .map(|(i, (n, v))| (i, span(self.buf, *n), span(self.buf, *v)))
            .filter(move |(i, n, _)| n.eq_ignore_ascii_case(name.as_bytes()) && !self.hidden(*i, n))
            .map(|(_, n, v)| (n, v))
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
        self.fields(Field::Server).next().is_some()
    }

    fn passes_date(&self) -> bool {
        self.fields(Field::Date).next().is_some()
    }

    fn write_early(&self, out: &mut Vec<u8>) {
        // nginx copies each line into `content_type`: the last one is sent.
        if let Some((_, v)) = self.fields(Field::ContentType).last() {
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
        for (i, ((n, v), &field)) in self.head.headers.iter().zip(&self.head.fields).enumerate() {
            // Framing lines are ours (NOT_RELAYED); Content-Type went early.
            let skipped = match field {
                Field::Connection
                | Field::KeepAlive
                | Field::TransferEncoding
                | Field::ContentLength
                | Field::ContentType => true,
                Field::Expires | Field::CacheControl => skip_cache,
                // ngx_http_upstream_copy_allow_ranges: the range filter's own field
                // replaces it.
                Field::AcceptRanges => self.force_ranges,
                _ => false,
            };
            let name = span(self.buf, *n);
            if skipped || self.hidden(i, name) {
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
