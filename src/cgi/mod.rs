//! FastCGI, uwsgi and SCGI: the three gateway protocols nginx speaks to application
//! servers (`fastcgi_pass`, `uwsgi_pass`, `scgi_pass`), on the generic machinery of
//! [`crate::upstream`] — peer choice, tries, timeouts, the keep-alive pool, request bodies,
//! response buffering and temporary files are all the proxy's. What differs sits behind
//! [`crate::upstream::Protocol`] in [`Gateway`]:
//!
//! - the request ([`request`]): the location's parameters and the client's header lines as
//!   `HTTP_*` parameters ([`params`]), in FastCGI records ([`record`]: BEGIN_REQUEST,
//!   PARAMS, the body in STDIN records), a uwsgi packet, or an SCGI netstring
//!   ([`packet`]), then the body;
//! - the response: FastCGI's records are read in place over the upstream's read buffer
//!   (STDOUT kept, STDERR logged as nginx logs it, `fastcgi_catch_stderr`); the head is
//!   CGI header lines, or for uwsgi and SCGI an HTTP status line first ([`head`]), shown
//!   to the client as nginx shows it ([`client_head`]); the
//!   body ends with FastCGI's END_REQUEST (`fastcgi_keep_conn on`: the connection is
//!   reused) or its closed stdout, its `Content-Length`, or the connection's close;
//! - `$fastcgi_script_name` and `$fastcgi_path_info` ([`split`]).

pub mod client_head;
pub mod head;
pub mod packet;
pub mod params;
pub mod record;
pub mod request;
pub mod split;

use std::borrow::Cow;

use crate::config::cgi_values::{CgiConf, CgiModule};
use crate::log::LogLevel;
use crate::upstream::protocol::{
    BodyEnd, Decoded, HeadFacts, Parsed, ProtoLog, Protocol, Records, Refused,
};
use crate::upstream::ranges::{self, RangeSource, Ranged, Slice};
use client_head::ClientView;
use head::{CgiHead, HeadParse};
use record::{Event, RecordReader, Stop};

pub use request::{BodyShape, CgiRequest, Prepared, prepare, settings};

/// One request's gateway protocol state (reused from request to request).
pub struct Gateway<'c> {
    /// Which of the three.
    pub module: CgiModule,
    /// The module's settings of the request's location.
    conf: Option<&'c CgiConf>,
    /// The parsed response head (offsets into the upstream's head bytes).
    pub head: CgiHead,
    /// FastCGI's record stream.
    records: RecordReader,
    /// The request was a HEAD: no body follows the head.
    head_request: bool,
    /// The client speaks HTTP/1.1 (a body of unknown length goes to it in chunks).
    client_http11: bool,
    /// The head was accepted: the body's rules apply.
    body_started: bool,
    /// Body bytes still to come by the head's `Content-Length` (`None`: unknown).
    rest: Option<u64>,
    /// FastCGI: the application closed its stdout.
    stdout_closed: bool,
    /// Bytes came after the response's end.
    surplus: bool,
    /// A buffer for evaluating a `*_pass` with variables (kept from request to request).
    pub(crate) scratch: Vec<u8>,
    /// What `*_force_ranges` makes of the response (set when its head is accepted).
    pub ranged: Ranged,
    /// The part of the body a 206 sends.
    slice: Option<Slice>,
}

impl Default for Gateway<'_> {
    fn default() -> Self {
        Gateway {
            module: CgiModule::FastCgi,
            conf: None,
            head: CgiHead::default(),
            records: RecordReader::default(),
            head_request: false,
            client_http11: true,
            body_started: false,
            rest: None,
            stdout_closed: false,
            surplus: false,
            scratch: Vec::new(),
            ranged: Ranged::No,
            slice: None,
        }
    }
}

impl<'c> Gateway<'c> {
    /// Sets the protocol up for a new request of `module` under `conf`.
    pub fn start(
        &mut self,
        module: CgiModule,
        conf: &'c CgiConf,
        head_request: bool,
        client_http11: bool,
    ) {
        self.module = module;
        self.conf = Some(conf);
        self.head_request = head_request;
        self.client_http11 = client_http11;
        self.reset();
    }

    fn keep_conn(&self) -> bool {
        self.module == CgiModule::FastCgi && self.conf.is_some_and(CgiConf::keep_conn)
    }

    /// The status has no body (nginx's chunked filter leaves these alone).
    fn bodiless(&self) -> bool {
        self.head_request || self.head.status < 200 || matches!(self.head.status, 204 | 304)
    }

    /// `*_force_ranges`: what the range filter makes of the accepted head (whose bytes are
    /// `buf`), for a request with these `Range` and `If-Range` fields; a 206 sends only
    /// its part of the body.
    pub fn decide_range(
        &mut self,
        force_ranges: bool,
        buf: &[u8],
        range: Option<&[u8]>,
        if_range: Option<&[u8]>,
    ) -> Ranged {
        let source = RangeSource {
            status: self.head.status,
            length: self.head.content_length,
            last_modified: self.head.header(buf, "last-modified"),
            etag: self.head.header(buf, "etag"),
        };
        self.ranged = ranges::decide(force_ranges, source, range, if_range);
        if let Ranged::Part { start, end, .. } = self.ranged {
            self.slice = Some(Slice::new(start, end));
        }
        self.ranged
    }

    /// The client's view of the head, whose bytes are `buf`.
    pub fn client_view<'a>(&'a self, buf: &'a [u8], conf: &'a CgiConf) -> ClientView<'a> {
        let open_ended = self.head.content_length.is_none() && !self.bodiless();
        ClientView {
            head: &self.head,
            buf,
            conf,
            chunked: open_ended && self.client_http11,
            until_close: open_ended && !self.client_http11,
            // The range filter took the response (the directive, a hit, a cacheable
            // response with `Accept-Ranges`): the application's `Accept-Ranges` goes.
            force_ranges: conf.force_ranges() || self.ranged != Ranged::No,
            ranged: self.ranged,
        }
    }

    /// FastCGI: the body is over once the END_REQUEST record was read whole. (nginx
    /// without `fastcgi_keep_conn` may stop at the closed stdout, but its event pipe looks
    /// at the records only when a buffer fills or the connection closes, so in practice it
    /// reads on to END_REQUEST and the application's close too; closing before an
    /// application wrote its END_REQUEST breaks its pipe.)
    fn fastcgi_finished(&self) -> bool {
        self.records.ended()
    }
}

/// nginx's stderr text: trailing line ends, dots and spaces left out.
fn trim_stderr(text: &[u8]) -> &[u8] {
    let end = text
        .iter()
        .rposition(|&b| !matches!(b, b'\n' | b'\r' | b'.' | b' '))
        .map_or(0, |i| i + 1);
    // nginx keeps the first byte whatever it is.
    &text[..end.max(text.len().min(1))]
}

impl Protocol for Gateway<'_> {
    fn deframe(
        &mut self,
        buf: &mut [u8],
        from: usize,
        log: &ProtoLog<'_, '_>,
    ) -> Result<usize, Refused> {
        if self.module != CgiModule::FastCgi {
            return Ok(buf.len());
        }
        let head_phase = !self.body_started;
        let catch = self.conf.and_then(|c| c.catch_stderr.as_deref());
        let stdout_closed = &mut self.stdout_closed;
        let result = self.records.deframe(buf, from, |event, payload| {
            let head = || {
                if !head_phase {
                    return Ok(true);
                }
                match head::head_state(payload, false) {
                    Ok(complete) => Ok(complete),
                    Err(invalid) => Err(Refused::Invalid(invalid.0.into())),
                }
            };
            match event {
                Event::Stderr(text) => {
                    let shown = trim_stderr(text);
                    log.line(
                        LogLevel::Error,
                        &format_args!(
                            "FastCGI sent in stderr: \"{}\"",
                            String::from_utf8_lossy(shown)
                        ),
                        "fastcgi",
                        b"",
                    );
                    let caught = catch.is_some_and(|list| {
                        list.iter()
                            .any(|p| memchr::memmem::find(shown, p).is_some())
                    });
                    if caught && !head()? {
                        return Err(Refused::Logged);
                    }
                }
                Event::StdoutClosed => {
                    if !head()? {
                        return Err(Refused::Invalid(
                            "upstream prematurely closed FastCGI stdout".into(),
                        ));
                    }
                    *stdout_closed = true;
                }
                Event::EndRequest => {
                    if !head()? {
                        return Err(Refused::Invalid(
                            "upstream sent unexpected FastCGI record: 3".into(),
                        ));
                    }
                }
            }
            Ok(())
        });
        match result {
            Ok(d) => {
                self.surplus |= d.surplus;
                Ok(d.end)
            }
            Err(Stop::Framing(e)) => Err(Refused::Invalid(e.to_string().into())),
            Err(Stop::Refused(r)) => Err(r),
        }
    }

    fn parse_head(&mut self, buf: &[u8]) -> Parsed {
        let status_line = self.module != CgiModule::FastCgi;
        match self.head.parse(buf, status_line) {
            Ok(HeadParse::Incomplete) => Parsed::Incomplete,
            Ok(HeadParse::Done) => Parsed::Head(HeadFacts {
                status: self.head.status,
                len: self.head.len,
                keepalive: self.keep_conn() && !self.head_request,
                upgrade: false,
            }),
            Err(e) => Parsed::Invalid(e.0.into()),
        }
    }

    fn start_body(&mut self, _facts: &HeadFacts) -> BodyEnd {
        self.body_started = true;
        if self.head_request {
            self.rest = Some(0);
            return BodyEnd::Empty;
        }
        let no_body = matches!(self.head.status, 204 | 304);
        self.rest = if no_body {
            Some(0)
        } else {
            self.head.content_length
        };
        match self.module {
            CgiModule::FastCgi if self.keep_conn() => BodyEnd::Framed,
            CgiModule::FastCgi => BodyEnd::AtClose,
            _ if no_body => BodyEnd::Empty,
            _ if self.rest.is_some() => BodyEnd::Framed,
            _ => BodyEnd::AtClose,
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
        _buf: &mut [u8],
        from: usize,
        end: usize,
        log: &ProtoLog<'_, '_>,
    ) -> Result<Decoded, Cow<'static, str>> {
        let mut end = end;
        let mut done = false;
        if let Some(rest) = self.rest {
            let got = (end - from) as u64;
            if got > rest {
                log.line(
                    LogLevel::Warn,
                    &"upstream sent more data than specified in \"Content-Length\" header",
                    self.module.name(),
                    b"",
                );
                end = from + rest as usize;
                self.surplus = true;
                done = true;
            }
            self.rest = Some(rest.saturating_sub(got));
        }
        if self.module == CgiModule::FastCgi {
            if self.fastcgi_finished() {
                if self.rest.is_some_and(|r| r > 0) {
                    return Err(if self.stdout_closed {
                        "upstream prematurely closed FastCGI stdout".into()
                    } else {
                        "upstream prematurely closed FastCGI request".into()
                    });
                }
                done = true;
            }
        } else if self.rest == Some(0) {
            done = true;
        }
        Ok(Decoded {
            end,
            done,
            surplus: self.surplus,
        })
    }

    fn frame_body(&mut self, data: &[u8], out: &mut Vec<u8>) {
        match self.module {
            CgiModule::FastCgi => record::push_stdin(out, data),
            _ => out.extend_from_slice(data),
        }
    }

    fn end_body(&mut self, out: &mut Vec<u8>) {
        if self.module == CgiModule::FastCgi {
            out.extend_from_slice(&record::stdin_end());
        }
    }

    fn stored_records(&self) -> Option<Records> {
        (self.module == CgiModule::FastCgi).then_some(packet::STDIN_RECORDS)
    }

    fn reset(&mut self) {
        self.records.reset();
        self.body_started = false;
        self.rest = None;
        self.stdout_closed = false;
        self.surplus = false;
        self.ranged = Ranged::No;
        self.slice = None;
    }

    fn scheme(&self) -> &'static str {
        self.module.name()
    }

    fn log_uri(&self) -> &[u8] {
        b""
    }
}

#[cfg(test)]
mod tests;
