//! Which protocol a request's upstream speaks: HTTP (`proxy_pass`, [`crate::proxy`]) or a
//! gateway protocol (`fastcgi_pass`, `uwsgi_pass`, `scgi_pass`, [`crate::cgi`]). One
//! upstream machine type serves them all: [`Backend`] is the machine's protocol and
//! hands each call to the one in use; [`ClientHead`] is the client's view of its head for
//! the connection's one head builder.

use std::borrow::Cow;

use crate::cgi::Gateway;
use crate::cgi::client_head::ClientView;
use crate::config::LocSettings;
use crate::config::cgi_values::CgiModule;
use crate::proxy::{Http1, Http1Head};
use crate::upstream::protocol::{
    BodyEnd, ClientHeaders, Decoded, HeadFacts, Parsed, ProtoLog, Protocol, Records, Refused,
};

/// Which module answers a location's requests (nginx's `clcf->handler`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `proxy_pass`
    Proxy,
    /// `fastcgi_pass`, `uwsgi_pass` or `scgi_pass`
    Gateway(CgiModule),
}

impl Kind {
    /// The module of a location that passes its requests upstream (`None`: it does not).
    pub fn of(loc: &LocSettings) -> Option<Kind> {
        if loc.proxy_pass.is_some() {
            return Some(Kind::Proxy);
        }
        CgiModule::ALL
            .into_iter()
            .find(|m| m.conf(loc).pass.is_some())
            .map(Kind::Gateway)
    }

    /// `*_ignore_client_abort` of the module.
    pub fn ignore_client_abort(self, loc: &LocSettings) -> bool {
        match self {
            Kind::Proxy => loc.proxy_ignore_client_abort,
            Kind::Gateway(m) => m.conf(loc).ignore_client_abort(),
        }
    }

    /// `*_intercept_errors` of the module.
    pub fn intercept_errors(self, loc: &LocSettings) -> bool {
        match self {
            Kind::Proxy => loc.proxy_intercept_errors,
            Kind::Gateway(m) => m.conf(loc).intercept_errors(),
        }
    }
}

/// The protocol of a request's upstream machine.
pub enum Backend<'c> {
    /// HTTP/1.x.
    Http(Http1),
    /// FastCGI, uwsgi or SCGI.
    Gateway(Gateway<'c>),
}

impl Default for Backend<'_> {
    fn default() -> Self {
        Backend::Http(Http1::default())
    }
}

impl<'c> Backend<'c> {
    /// The value of the response head's first line `name`, whose bytes are `buf`.
    pub fn header<'b>(&self, buf: &'b [u8], name: &str) -> Option<&'b [u8]> {
        match self {
            Backend::Http(h) => h.head.header(buf, name),
            Backend::Gateway(g) => g.head.header(buf, name),
        }
    }

    /// The client's view of the response head, whose bytes are `buf`, under `loc`.
    pub fn client_head<'a>(&'a self, buf: &'a [u8], loc: &'a LocSettings) -> ClientHead<'a> {
        match self {
            Backend::Http(h) => ClientHead::Http(Http1Head::new(h, buf, loc)),
            Backend::Gateway(g) => ClientHead::Gateway(g.client_view(buf, g.module.conf(loc))),
        }
    }
}

macro_rules! each {
    ($self:ident, $p:ident => $e:expr) => {
        match $self {
            Backend::Http($p) => $e,
            Backend::Gateway($p) => $e,
        }
    };
}

impl Protocol for Backend<'_> {
    fn deframe(
        &mut self,
        buf: &mut [u8],
        from: usize,
        log: &ProtoLog<'_, '_>,
    ) -> Result<usize, Refused> {
        each!(self, p => p.deframe(buf, from, log))
    }

    fn parse_head(&mut self, buf: &[u8]) -> Parsed {
        each!(self, p => p.parse_head(buf))
    }

    fn save_head(&self) -> Option<std::rc::Rc<dyn std::any::Any>> {
        each!(self, p => p.save_head())
    }

    fn restore_head(&mut self, saved: &dyn std::any::Any) -> Option<HeadFacts> {
        each!(self, p => p.restore_head(saved))
    }

    fn start_body(&mut self, facts: &HeadFacts) -> BodyEnd {
        each!(self, p => p.start_body(facts))
    }

    fn decode_body(
        &mut self,
        buf: &mut [u8],
        from: usize,
        end: usize,
        log: &ProtoLog<'_, '_>,
    ) -> Result<Decoded, Cow<'static, str>> {
        each!(self, p => p.decode_body(buf, from, end, log))
    }

    fn cut_range(&mut self, buf: &mut [u8], from: usize, end: usize) -> usize {
        each!(self, p => p.cut_range(buf, from, end))
    }

    fn frame_body(&mut self, data: &[u8], out: &mut Vec<u8>) {
        each!(self, p => p.frame_body(data, out))
    }

    fn end_body(&mut self, out: &mut Vec<u8>) {
        each!(self, p => p.end_body(out))
    }

    fn stored_records(&self) -> Option<Records> {
        each!(self, p => p.stored_records())
    }

    fn passes_chunks(&self) -> bool {
        each!(self, p => p.passes_chunks())
    }

    fn unframe(&mut self) {
        each!(self, p => p.unframe())
    }

    fn reset(&mut self) {
        each!(self, p => p.reset())
    }

    fn scheme(&self) -> &'static str {
        each!(self, p => p.scheme())
    }

    fn log_uri(&self) -> &[u8] {
        each!(self, p => p.log_uri())
    }
}

macro_rules! each_head {
    ($self:ident, $h:ident => $e:expr) => {
        match $self {
            ClientHead::Http($h) => $e,
            ClientHead::Gateway($h) => $e,
        }
    };
}

/// The client's view of an upstream's head, whatever its protocol.
pub enum ClientHead<'a> {
    /// An HTTP response head.
    Http(Http1Head<'a>),
    /// A CGI response head.
    Gateway(ClientView<'a>),
}

impl ClientHeaders for ClientHead<'_> {
    fn status(&self) -> u16 {
        each_head!(self, h => h.status())
    }

    fn reason(&self) -> &[u8] {
        each_head!(self, h => h.reason())
    }

    fn passes_server(&self) -> bool {
        each_head!(self, h => h.passes_server())
    }

    fn passes_date(&self) -> bool {
        each_head!(self, h => h.passes_date())
    }

    fn write_early(&self, out: &mut Vec<u8>) {
        each_head!(self, h => h.write_early(out))
    }

    fn write_rest(&self, out: &mut Vec<u8>, skip_cache: bool) {
        each_head!(self, h => h.write_rest(out, skip_cache))
    }

    fn upgrade(&self) -> Option<&[u8]> {
        each_head!(self, h => h.upgrade())
    }

    fn each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        each_head!(self, h => h.each_header(name, f))
    }

    fn header(&self, name: &str) -> Option<&[u8]> {
        each_head!(self, h => h.header(name))
    }

    fn chunked(&self) -> bool {
        each_head!(self, h => h.chunked())
    }

    fn until_close(&self) -> bool {
        each_head!(self, h => h.until_close())
    }

    fn frames_chunks(&self) -> bool {
        each_head!(self, h => h.frames_chunks())
    }

    fn multipart(&self) -> bool {
        each_head!(self, h => h.multipart())
    }
}
