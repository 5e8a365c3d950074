//! The context nginx appends to an error-log line about a request
//! (`ngx_http_log_error_handler`): `, client: ..., server: ..., request: "...", upstream:
//! "...", host: "..."`. Built from references (the request head stays in its buffer), so a
//! line that is never written costs nothing.

/// The `, request: "…", upstream: "…", host: "…"` tail of an error-log line about a
/// client's request: the request line as far as it was read, the upstream for the proxy's
/// lines, and the `Host` header as sent, each when known (`ngx_http_log_error_handler`).
/// Bytes of the request that are not printable ASCII are written `\xNN`.
pub struct RequestContext<'a> {
    request: &'a [u8],
    /// The request came over HTTP/2: its line (rendered as HTTP/1.1) ends in `HTTP/2.0`.
    http2: bool,
    upstream: Option<String>,
    host: Option<&'a [u8]>,
}

impl<'a> RequestContext<'a> {
    /// The context of the request whose (possibly partial) head is at the start of `buf`.
    pub fn of(buf: &'a [u8], head: &crate::http::request::RequestHead) -> RequestContext<'a> {
        let request = if head.request_line.is_empty() {
            // The line did not parse: show what arrived of it, as nginx does.
            let from = buf
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap_or(buf.len());
            let rest = &buf[from..];
            &rest[..memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len())]
        } else {
            head.request_line.get(buf)
        };
        let host = head
            .headers
            .iter()
            .find(|h| h.name.get(buf).eq_ignore_ascii_case(b"host"))
            .map(|h| h.value.get(buf));
        RequestContext {
            request,
            http2: head.http2,
            upstream: None,
            host,
        }
    }

    /// The context of a request known only by its request line.
    pub fn line(request: &'a [u8]) -> RequestContext<'a> {
        RequestContext {
            request,
            http2: false,
            upstream: None,
            host: None,
        }
    }

    /// The same, naming the upstream the request went to (`http://ADDR/URI`).
    pub fn with_upstream(mut self, upstream: Option<String>) -> RequestContext<'a> {
        self.upstream = upstream;
        self
    }
}

impl std::fmt::Display for RequestContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.request.is_empty() {
            f.write_str(", request: \"")?;
            match self.request.strip_suffix(b"HTTP/1.1") {
                Some(line) if self.http2 => {
                    write_escaped(f, line)?;
                    f.write_str("HTTP/2.0")?;
                }
                _ => write_escaped(f, self.request)?,
            }
            f.write_str("\"")?;
        }
        if let Some(upstream) = &self.upstream {
            write!(f, ", upstream: \"{upstream}\"")?;
        }
        if let Some(host) = self.host {
            f.write_str(", host: \"")?;
            write_escaped(f, host)?;
            f.write_str("\"")?;
        }
        Ok(())
    }
}

fn write_escaped(f: &mut std::fmt::Formatter<'_>, bytes: &[u8]) -> std::fmt::Result {
    use std::fmt::Write as _;
    for &b in bytes {
        if (0x20..0x7f).contains(&b) {
            f.write_char(b as char)?;
        } else {
            write!(f, "\\x{b:02X}")?;
        }
    }
    Ok(())
}
