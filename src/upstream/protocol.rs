//! The boundary between the generic upstream machinery and a protocol (HTTP/1.x in
//! [`crate::proxy::Http1`]; FastCGI, uwsgi and SCGI in [`crate::cgi`]). The machine owns
//! the socket, the tries, the timeouts and the buffers; a protocol only works on bytes the
//! machine hands it:
//!
//! - the response, in the order the machine calls them: [`Protocol::deframe`] removes in
//!   place the framing of each read that is not payload (FastCGI's records: headers,
//!   padding, stderr), [`Protocol::parse_head`] finds the head in the payload,
//!   [`Protocol::start_body`] and [`Protocol::decode_body`] say where the body ends;
//! - the request: the protocol's module builds the request head before handing it to the
//!   machine; a body streamed after it is framed by [`Protocol::frame_body`] and
//!   [`Protocol::end_body`], a body read whole is cut by [`Protocol::stored_records`].
//!
//! Lines a protocol logs about the response (FastCGI's stderr, a body longer than its
//! `Content-Length`) go through [`ProtoLog`], with nginx's context.

use std::borrow::Cow;
use std::fmt::Display;

use super::failure::RequestLog;
use crate::config::proxy_values::PeerAddr;
use crate::log::LogLevel;

/// What a protocol found at the start of the response buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed.
    Incomplete,
    /// An interim answer (`100 Continue`) of this many bytes: skip it.
    Interim(usize),
    /// A final head.
    Head(HeadFacts),
    /// The head does not fit the buffer (`upstream sent too big header`).
    TooBig,
    /// Not a head of this protocol; the text is nginx's log line for it.
    Invalid(Cow<'static, str>),
}

/// Why a protocol refuses the bytes of a response.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Broken framing or an unacceptable head; the text is nginx's log line for it.
    Invalid(Cow<'static, str>),
    /// Refused after a line the protocol logged itself (`fastcgi_catch_stderr` matched
    /// what it logged as the upstream's stderr).
    Logged,
}

/// Where a protocol writes error-log lines about the response it reads, with nginx's
/// context (`*N WHAT while DURING, client: ..., upstream: "SCHEME://ADDR..."`).
pub struct ProtoLog<'a, 'r> {
    /// The request's context.
    pub request: &'a RequestLog<'r>,
    /// The try's server.
    pub addr: Option<&'a PeerAddr>,
    /// nginx's log action: `reading response header from upstream` or `reading upstream`.
    pub during: &'static str,
}

impl ProtoLog<'_, '_> {
    /// Writes `WHAT while DURING` at `level`, naming the upstream as `scheme` and `uri` do.
    pub fn line(&self, level: LogLevel, what: &dyn Display, scheme: &str, uri: &[u8]) {
        if !crate::log::enabled(level) {
            return;
        }
        let name = super::machine::upstream_name(scheme, None, self.addr, uri);
        self.request.line(
            level,
            &format_args!("{what} while {}", self.during),
            Some(name),
        );
    }
}

/// How a request body read whole is cut into the protocol's records on its way upstream
/// (FastCGI's STDIN records); the machine writes the framing around the stored bytes.
#[derive(Debug, Clone, Copy)]
pub struct Records {
    /// Most body bytes per record.
    pub max: usize,
    /// The framing before a record of `len` bytes, after the previous one's (of
    /// `prev` bytes, `None` for the first), into `out`; returns its length.
    pub before: fn(prev: Option<usize>, len: usize, out: &mut [u8; 16]) -> usize,
    /// The framing after the last record (of `prev` bytes, `None` for an empty body),
    /// into `out`; returns its length.
    pub end: fn(prev: Option<usize>, out: &mut [u8; 16]) -> usize,
}

/// What the machine needs to know of a response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadFacts {
    /// The status (for `*_next_upstream`, `*_intercept_errors` and the client).
    pub status: u16,
    /// Bytes of the head; the body starts there.
    pub len: usize,
    /// The upstream lets the connection be reused after this response.
    pub keepalive: bool,
    /// The response switches protocols (a 101 the request asked for): a tunnel follows.
    pub upgrade: bool,
}

/// How the body of an accepted head ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEnd {
    /// There is none.
    Empty,
    /// The protocol's framing says (a length, chunks, records).
    Framed,
    /// When the upstream closes.
    AtClose,
}

/// New body bytes after [`Protocol::decode_body`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// The end of the bytes the client gets (framing removed in place may shorten them).
    pub end: usize,
    /// The body is complete.
    pub done: bool,
    /// Bytes came after the body's end: the connection cannot be reused.
    pub surplus: bool,
}

/// A response protocol, as the upstream machine drives it.
pub trait Protocol {
    /// Removes in place the framing of the bytes `buf[from..]` just read, keeping only
    /// payload (the head, then the body); returns where the payload now ends. Before
    /// `from` everything is payload already. HTTP has no such framing.
    fn deframe(
        &mut self,
        buf: &mut [u8],
        from: usize,
        log: &ProtoLog<'_, '_>,
    ) -> Result<usize, Refused> {
        let _ = (from, log);
        Ok(buf.len())
    }

    /// Parses the response head at the start of `buf` (after [`Protocol::reset`]).
    fn parse_head(&mut self, buf: &[u8]) -> Parsed;

    /// The head of `facts` was accepted: how its body ends. The protocol keeps what it needs
    /// to frame the body.
    fn start_body(&mut self, facts: &HeadFacts) -> BodyEnd;

    /// Frames the new body bytes `buf[from..end]`, removing in place the framing the client
    /// must not see. An error is nginx's log line for a broken body.
    fn decode_body(
        &mut self,
        buf: &mut [u8],
        from: usize,
        end: usize,
        log: &ProtoLog<'_, '_>,
    ) -> Result<Decoded, Cow<'static, str>>;

    /// The range filter's cut of the decoded body bytes `buf[from..end]` (a 206 keeps its
    /// part only, moved to `from`): the new end. Apart from [`Self::decode_body`] so the
    /// cache stores the whole body of a response the client gets a part of.
    fn cut_range(&mut self, buf: &mut [u8], from: usize, end: usize) -> usize {
        let _ = (buf, from);
        end
    }

    /// Frames streamed request-body bytes (decoded: what one read of the client brought)
    /// for the upstream into `out`, as one piece (a chunk, a record), as nginx's body
    /// output filters frame what one read passes them.
    fn frame_body(&mut self, data: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(data);
    }

    /// The streamed request body ended: its closing framing into `out`.
    fn end_body(&mut self, out: &mut Vec<u8>) {
        let _ = out;
    }

    /// How a request body read whole is cut into records (`None`: sent as it is).
    fn stored_records(&self) -> Option<Records> {
        None
    }

    /// The connection frames the body for the client itself (a filter such as gzip changes
    /// its length): from now on remove all of the upstream's framing, chunks included.
    /// Called after the head, before the body starts; a protocol whose framing never
    /// reaches the client needs nothing here.
    fn unframe(&mut self) {}

    /// Whether the body bytes handed on still carry the upstream's chunk framing (HTTP/1.1
    /// chunks passed through to an HTTP/1.1 client): a cache entry stores them without it.
    fn passes_chunks(&self) -> bool {
        false
    }

    /// Forgets a response (a retry starts over).
    fn reset(&mut self);

    /// A copy of the parse of the head just accepted, for [`Protocol::restore_head`] on
    /// the same bytes later (a cache entry's stored head). `None`: not kept.
    fn save_head(&self) -> Option<std::rc::Rc<dyn std::any::Any>> {
        None
    }

    /// Takes back a parse [`Protocol::save_head`] made of the same head bytes, now at the
    /// start of the buffer, instead of parsing them again; `None` when it is not this
    /// protocol's (the caller parses).
    fn restore_head(&mut self, saved: &dyn std::any::Any) -> Option<HeadFacts> {
        let _ = saved;
        None
    }

    /// The scheme nginx prints in the `upstream:` part of an error-log line.
    fn scheme(&self) -> &'static str;

    /// The URI nginx prints after the peer's address in that line.
    fn log_uri(&self) -> &[u8];
}

/// An upstream's response head as the client gets it: what the protocol's module keeps of
/// the upstream's header lines (hidden ones dropped, `Location` rewritten). The
/// connection's one head builder writes the status line, `Server`, `Date`, the framing and
/// `Connection` itself, and calls these for the rest.
pub trait ClientHeaders {
    /// The upstream's status.
    fn status(&self) -> u16;
    /// The upstream's reason phrase.
    fn reason(&self) -> &[u8];
    /// The upstream's own `Server` is passed on (`*_pass_header`): ours is not written.
    fn passes_server(&self) -> bool;
    /// The upstream's own `Date` is passed on: ours is not written.
    fn passes_date(&self) -> bool;
    /// `Content-Type`, `Content-Length` and `Last-Modified`, written right after `Date`.
    fn write_early(&self, out: &mut Vec<u8>);
    /// The other header lines in the upstream's order, after `Connection`. `skip_cache`:
    /// leave out the upstream's `Expires` and `Cache-Control` (`expires` replaces them).
    fn write_rest(&self, out: &mut Vec<u8>, skip_cache: bool);
    /// The `Upgrade` value of a 101.
    fn upgrade(&self) -> Option<&[u8]>;
    /// Calls `f` with each value of the header `name` (lowercase) among the lines the
    /// client gets (for the response filters: gzip reads `Content-Type`, `Content-Length`,
    /// `Content-Encoding`, `ETag`, `Cache-Control`...).
    fn each_header(&self, name: &str, f: &mut dyn FnMut(&[u8]));
    /// The value of the header `name` (lowercase) the client gets; of several, the last
    /// (the one nginx's `r->headers_out` keeps, as its upstream module copies each in turn).
    fn header(&self, name: &str) -> Option<&[u8]>;
    /// The body goes to the client with `Transfer-Encoding: chunked`.
    fn chunked(&self) -> bool;
    /// The body ends only when the connection closes (no length the client can use).
    fn until_close(&self) -> bool;
    /// The upstream's body bytes are the bare body and the connection's writer frames them
    /// in chunks (a CGI response without `Content-Length`), rather than the upstream's
    /// own chunks passing through.
    fn frames_chunks(&self) -> bool {
        false
    }
    /// The body is a `multipart/byteranges` answer of the range filter: its
    /// `Content-Type` is the range filter's, which the charset filter leaves alone (the
    /// parts carry the charset).
    fn multipart(&self) -> bool {
        false
    }
}
