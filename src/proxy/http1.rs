//! HTTP/1.x as an upstream protocol: the response head (`response::parse_head`), the body's
//! framing (a length, chunks, or the upstream's close), and the upstream header lines the
//! client gets. Chunks pass through to an HTTP/1.1 client as they came; an HTTP/1.0 client
//! gets them removed, and its connection then closes after the body.

use std::borrow::Cow;
use std::sync::Arc;

use super::cookie::CookieRules;
use super::response::{self, ClientHeadInput, Framing, HeadError, Redirect, ResponseHead};
use crate::config::LocSettings;
use crate::http::chunked::{Chunk, ChunkedDecoder};
use crate::upstream::protocol::{
    BodyEnd, ClientHeaders, Decoded, HeadFacts, Parsed, ProtoLog, Protocol,
};
use crate::upstream::ranges::{RangeSource, Ranged, Slice};

/// One request's HTTP/1.x protocol state.
pub struct Http1 {
    /// The parsed response head (offsets into the upstream's head bytes).
    pub head: ResponseHead,
    /// The request was a HEAD: no body follows any head.
    pub head_request: bool,
    /// The client speaks HTTP/1.1 (chunks pass through).
    pub client_http11: bool,
    /// The request asked for a protocol switch (`Connection: upgrade`).
    pub upgrade: bool,
    /// `proxy_redirect` rules, evaluated (`None`: none).
    pub redirects: Option<Arc<[Redirect]>>,
    /// `proxy_cookie_*` rules, evaluated (`None`: none).
    pub cookies: Option<Box<CookieRules>>,
    /// The URI sent upstream (for log lines).
    pub uri: Vec<u8>,
    /// What `proxy_force_ranges` makes of the response (set when its head is accepted).
    pub ranged: Ranged,
    /// `http://host[:port]` for a `Location` a `proxy_redirect` rule turns into a path
    /// (empty: none, or `absolute_redirect off`).
    pub location_base: Vec<u8>,
    /// The streamed request body goes up chunked (nginx's `ctx->internal_chunked`): each
    /// read of the client's body is one chunk.
    pub chunked_body: bool,
    /// The part of the body a 206 sends.
    slice: Option<Slice>,
    /// The `Content-Type` of a multipart answer ([`Ranged::Multi`]).
    pub multipart_type: Vec<u8>,
    /// Several ranges of a cache hit and the body's length, until the response head is
    /// built: the parts' type is the one the charset filter gives (nginx's range filter
    /// runs after it), so the parts are laid out then.
    pub multipart_ranges: Option<(Vec<(u64, u64)>, u64)>,
    /// The range filter takes this response (`proxy_force_ranges`, or a cache hit: nginx's
    /// `r->allow_ranges`): the upstream's own `Accept-Ranges` is not passed.
    allow_ranges: bool,
    framing: Framing,
    remaining: u64,
    chunk: ChunkedDecoder,
    dechunk: bool,
}

impl Http1 {
    /// Sets the protocol up for a new request (`head_request`: a HEAD) from a client that
    /// speaks HTTP/1.1 or not; its buffers' allocations are kept.
    pub fn start(&mut self, head_request: bool, client_http11: bool) {
        self.head_request = head_request;
        self.client_http11 = client_http11;
        self.upgrade = false;
        self.chunked_body = false;
        self.redirects = None;
        self.cookies = None;
        self.uri.clear();
        self.reset();
    }

    /// `proxy_force_ranges`: what the range filter makes of the accepted head, for a
    /// request with these `Range` and `If-Range` fields; a 206 sends only its part of the
    /// body.
    pub fn decide_range(
        &mut self,
        force_ranges: bool,
        buf: &[u8],
        range: Option<&[u8]>,
        if_range: Option<&[u8]>,
    ) -> Ranged {
        self.allow_ranges = force_ranges;
        let source = RangeSource {
            status: self.head.status,
            length: self.head.content_length.filter(|_| !self.head.chunked),
            last_modified: self.head.field(buf, response::Field::LastModified),
            etag: self.head.field(buf, response::Field::Etag),
        };
        self.ranged = crate::upstream::ranges::decide(force_ranges, source, range, if_range);
        if let Ranged::Part { start, end, .. } = self.ranged {
            self.slice = Some(Slice::new(start, end));
        }
        self.ranged
    }
}

impl Default for Http1 {
    fn default() -> Self {
        Http1 {
            head: ResponseHead::default(),
            head_request: false,
            client_http11: true,
            upgrade: false,
            redirects: None,
            cookies: None,
            uri: Vec::new(),
            ranged: Ranged::No,
            location_base: Vec::new(),
            chunked_body: false,
            slice: None,
            allow_ranges: false,
            multipart_type: Vec::new(),
            multipart_ranges: None,
            framing: Framing::Empty,
            remaining: 0,
            chunk: ChunkedDecoder::new(),
            dechunk: false,
        }
    }
}

impl Http1 {
    /// What the head just parsed into `self.head` is.
    fn parsed(&self) -> Parsed {
        let status = self.head.status;
        if (100..200).contains(&status) && status != 101 {
            return Parsed::Interim(self.head.len);
        }
        if status == 101 && !self.upgrade {
            return Parsed::Invalid("upstream sent unexpected 101 response".into());
        }
        Parsed::Head(HeadFacts {
            status,
            len: self.head.len,
            keepalive: !self.head.close,
            upgrade: status == 101,
        })
    }
}

impl Protocol for Http1 {
    fn frame_body(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if !self.chunked_body {
            out.extend_from_slice(data);
            return;
        }
        // ngx_http_proxy_body_output_filter: one chunk for what one read brought.
        let _ = std::io::Write::write_fmt(out, format_args!("{:x}\r\n", data.len()));
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }

    fn end_body(&mut self, out: &mut Vec<u8>) {
        if self.chunked_body {
            out.extend_from_slice(b"0\r\n\r\n");
        }
    }

    fn parse_head(&mut self, buf: &[u8]) -> Parsed {
        match response::parse_head(buf, &mut self.head) {
            Ok(None) => Parsed::Incomplete,
            Err(HeadError::TooBig) => Parsed::TooBig,
            Err(HeadError::Invalid) => Parsed::Invalid("upstream sent invalid header".into()),
            Ok(Some(())) => self.parsed(),
        }
    }

    fn save_head(&self) -> Option<std::rc::Rc<dyn std::any::Any>> {
        Some(std::rc::Rc::new(self.head.clone()))
    }

    fn restore_head(&mut self, saved: &dyn std::any::Any) -> Option<HeadFacts> {
        let head = saved.downcast_ref::<ResponseHead>()?;
        self.head.copy_from(head);
        match self.parsed() {
            Parsed::Head(facts) => Some(facts),
            _ => None,
        }
    }

    fn start_body(&mut self, facts: &HeadFacts) -> BodyEnd {
        self.framing = if facts.upgrade {
            Framing::Empty
        } else {
            self.head.framing(self.head_request)
        };
        self.remaining = match self.framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        self.chunk = ChunkedDecoder::new();
        self.dechunk = self.framing == Framing::Chunked && !self.client_http11;
        match self.framing {
            Framing::Empty => BodyEnd::Empty,
            Framing::Length(_) | Framing::Chunked => BodyEnd::Framed,
            Framing::UntilClose => BodyEnd::AtClose,
        }
    }

    fn cut_range(&mut self, buf: &mut [u8], from: usize, end: usize) -> usize {
        let Some(slice) = self.slice.as_mut() else {
            return end;
        };
        // A 206: only the range's bytes go to the client.
        let keep = slice.keep(end - from);
        buf.copy_within(from + keep.start..from + keep.end, from);
        from + keep.len()
    }

    fn decode_body(
        &mut self,
        buf: &mut [u8],
        from: usize,
        end: usize,
        _log: &ProtoLog<'_, '_>,
    ) -> Result<Decoded, Cow<'static, str>> {
        match self.framing {
            Framing::Empty => Ok(Decoded {
                end: from,
                done: true,
                surplus: end > from,
            }),
            Framing::UntilClose => Ok(Decoded {
                end,
                done: false,
                surplus: false,
            }),
            Framing::Length(_) => {
                let got = (end - from) as u64;
                let take = got.min(self.remaining);
                self.remaining -= take;
                let end = from + take as usize;
                Ok(Decoded {
                    end,
                    done: self.remaining == 0,
                    surplus: take < got,
                })
            }
            Framing::Chunked => {
                let (mut pos, mut write) = (from, from);
                while pos < end {
                    match self.chunk.step(&buf[pos..end]) {
                        Ok(Chunk::Data {
                            start,
                            end: data_end,
                            consumed,
                        }) => {
                            if self.dechunk {
                                buf.copy_within(pos + start..pos + data_end, write);
                                write += data_end - start;
                            }
                            pos += consumed;
                        }
                        Ok(Chunk::NeedMore { consumed }) => {
                            pos += consumed;
                            break;
                        }
                        Ok(Chunk::Done { consumed }) => {
                            pos += consumed;
                            return Ok(Decoded {
                                end: if self.dechunk { write } else { pos },
                                done: true,
                                surplus: pos < end,
                            });
                        }
                        Err(_) => return Err("upstream sent invalid chunked response".into()),
                    }
                }
                Ok(Decoded {
                    end: if self.dechunk { write } else { pos },
                    done: false,
                    surplus: false,
                })
            }
        }
    }

    fn unframe(&mut self) {
        self.dechunk = self.framing == Framing::Chunked;
    }

    fn passes_chunks(&self) -> bool {
        self.framing == Framing::Chunked && !self.dechunk
    }

    fn reset(&mut self) {
        self.ranged = Ranged::No;
        self.allow_ranges = false;
        self.location_base.clear();
        self.slice = None;
        self.framing = Framing::Empty;
        self.remaining = 0;
        self.chunk = ChunkedDecoder::new();
        self.dechunk = false;
    }

    fn scheme(&self) -> &'static str {
        "http"
    }

    fn log_uri(&self) -> &[u8] {
        &self.uri
    }
}

/// The client's view of an upstream's HTTP head: the parsed head, its bytes, and the
/// location's `proxy_pass_header`/`proxy_hide_header`/`proxy_redirect`.
pub struct Http1Head<'a> {
    proto: &'a Http1,
    buf: &'a [u8],
    input: ClientHeadInput<'a>,
}

impl<'a> Http1Head<'a> {
    /// The head of `proto`, whose bytes are `buf`, for a request under `loc`.
    pub fn new(proto: &'a Http1, buf: &'a [u8], loc: &'a LocSettings) -> Http1Head<'a> {
        Http1Head {
            proto,
            buf,
            input: ClientHeadInput {
                pass: &loc.proxy_pass_header,
                hide: &loc.proxy_hide_header,
                redirects: proto.redirects.as_deref().unwrap_or_default(),
                location_base: (!proto.location_base.is_empty())
                    .then_some(&proto.location_base[..]),
                cookies: proto.cookies.as_deref(),
                force_ranges: loc.proxy_force_ranges || proto.allow_ranges,
                ranged: proto.ranged,
                multipart_type: &proto.multipart_type,
            },
        }
    }
}

impl ClientHeaders for Http1Head<'_> {
    fn status(&self) -> u16 {
        match self.proto.ranged {
            Ranged::Part { .. } | Ranged::Multi { .. } => 206,
            Ranged::NotModified => 304,
            _ => self.proto.head.status,
        }
    }

    fn reason(&self) -> &[u8] {
        match self.proto.ranged {
            Ranged::Part { .. } | Ranged::Multi { .. } => return b"Partial Content",
            Ranged::NotModified => return b"Not Modified",
            _ => {}
        }
        let (a, b) = self.proto.head.reason;
        self.buf.get(a..b).unwrap_or_default()
    }

    fn passes_server(&self) -> bool {
        response::passes(&self.input, "server")
    }

    fn passes_date(&self) -> bool {
        response::passes(&self.input, "date")
    }

    fn write_early(&self, out: &mut Vec<u8>) {
        response::write_early_headers(&self.proto.head, self.buf, &self.input, out);
    }

    fn write_rest(&self, out: &mut Vec<u8>, skip_cache: bool) {
        response::write_other_headers(&self.proto.head, self.buf, &self.input, skip_cache, out);
    }

    fn upgrade(&self) -> Option<&[u8]> {
        (self.proto.head.status == 101)
            .then(|| self.proto.head.field(self.buf, response::Field::Upgrade))
            .flatten()
    }

    fn each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        for v in response::client_values(&self.proto.head, self.buf, &self.input, name) {
            f(v);
        }
    }

    fn header(&self, name: &str) -> Option<&[u8]> {
        response::client_values(&self.proto.head, self.buf, &self.input, name).last()
    }

    fn chunked(&self) -> bool {
        self.proto.framing == Framing::Chunked && !self.proto.dechunk
    }

    fn until_close(&self) -> bool {
        self.proto.framing == Framing::UntilClose || self.proto.dechunk
    }

    fn multipart(&self) -> bool {
        matches!(self.proto.ranged, Ranged::Multi { .. })
    }
}
