//! The OCSP responses of `ssl_stapling` fetched in each worker's loop, as nginx's
//! `ngx_ssl_ocsp_request` does: a handshake that finds its certificate's response due
//! (`tls::stapling`) asks for a fetch; the next turn of the loop resolves a responder given
//! by name with the server's `resolver` (the worker's [`Resolvers`], its cache and `valid=`;
//! without a `resolver`, the addresses found at load serve, with nginx's warning), connects
//! to the responder's first address, sends `GET URI/BASE64 HTTP/1.0`, reads the response to the
//! responder's close (at most 16 KiB) and hands the body to the certificate's checks. The
//! socket is an upstream socket ([`Owner::Staple`]); connect, send and read time out after
//! 60 s, and a failure to connect, a timeout or a close before the whole response tries the
//! next address. Errors are logged as nginx logs them (`... while requesting certificate
//! status, responder: HOST, peer: ADDR, certificate: "NAME"`).

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::Interest;
use mio::net::TcpStream;

use super::connect::{self, OpenError, SocketOptions};
use super::{Owner, UPSTREAM_TOKEN_BIT, Waiter};
use crate::config::HttpConf;
use crate::config::proxy_values::PeerAddr;
use crate::config::resolver::ResolverConf;
use crate::elog;
use crate::log::LogLevel;
use crate::resolver::{Addrs, Lookup, ResolveError, Resolvers};
use crate::tls::stapling::{self, CertStatus, Stapling, TIMEOUT};

/// nginx's response buffer: a longer response is an error.
const MAX_RESPONSE: usize = 16384;

/// How far an exchange with a responder went.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Connecting,
    Sending(usize),
    Reading,
}

/// One exchange with an OCSP responder: stapling's here, and `ssl_ocsp`'s in a client
/// connection (`worker/conn/cert_status.rs`).
#[derive(Debug)]
pub(crate) struct Fetch {
    pub(crate) sock: TcpStream,
    /// Which of the responder's addresses.
    pub(crate) addr: usize,
    pub(crate) phase: Phase,
    pub(crate) deadline: Instant,
    pub(crate) buf: Vec<u8>,
}

impl Fetch {
    /// An exchange on `sock`, connecting to address `addr`.
    pub(crate) fn new(sock: TcpStream, addr: usize, now: Instant) -> Fetch {
        Fetch {
            sock,
            addr,
            phase: Phase::Connecting,
            deadline: now + TIMEOUT,
            buf: Vec::new(),
        }
    }
}

/// One certificate's fetches.
#[derive(Debug)]
struct Item {
    s: Arc<Stapling>,
    /// The server's `resolver` and `resolver_timeout`, for a responder given by name.
    resolver: Option<(Rc<ResolverConf>, Duration)>,
    /// The addresses of this fetch: resolved now, or those found at load.
    addrs: Vec<SocketAddr>,
    fetch: Option<Fetch>,
}

/// A worker's fetches, one slot per certificate with stapling.
#[derive(Debug, Default)]
pub struct Stapler {
    items: Vec<Item>,
}

/// How a fetch went wrong.
enum Failure {
    /// Try the responder's next address (a connection-level error), after logging this.
    Next(String),
    /// Give up (the response was read and is no good), after logging this if any.
    Done(Option<String>),
}

impl Stapler {
    /// The certificates of `http` whose responses are fetched.
    pub fn new(http: &HttpConf) -> Stapler {
        let mut items = Vec::new();
        for server in &http.servers {
            let Some(tls) = server.tls.as_ref() else {
                continue;
            };
            // nginx's stapling resolves with the server's `resolver` (its `http` one when
            // the server has none).
            let resolver = server
                .loc
                .resolver
                .clone()
                .map(|r| (r, server.loc.resolver_timeout));
            items.extend(tls.staplings.iter().map(|s| Item {
                s: s.clone(),
                resolver: resolver.clone(),
                addrs: Vec::new(),
                fetch: None,
            }));
        }
        Stapler { items }
    }

    /// The nearest fetch deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.items
            .iter()
            .filter_map(|it| it.fetch.as_ref().map(|f| f.deadline))
            .min()
    }

    /// Starts the fetches handshakes asked for and ends those past their deadline.
    pub fn on_timers(
        &mut self,
        now: Instant,
        registry: &mio::Registry,
        resolvers: &mut Resolvers<Waiter>,
        owners: &mut dyn FnMut(i32, Owner),
    ) {
        if self.items.is_empty() {
            return;
        }
        if stapling::take_wanted() {
            let secs = crate::log::time::now_secs();
            for i in 0..self.items.len() {
                if self.items[i].fetch.is_none() && self.items[i].s.start(secs) {
                    self.request(i, now, registry, resolvers, owners);
                }
            }
        }
        for i in 0..self.items.len() {
            if self.items[i]
                .fetch
                .as_ref()
                .is_some_and(|f| f.deadline <= now)
            {
                self.fail(
                    i,
                    Failure::Next("OCSP responder timed out (110: Connection timed out)".into()),
                    now,
                    registry,
                    owners,
                );
            }
        }
    }

    /// nginx's `ngx_ssl_ocsp_request`: a name is resolved with the server's `resolver`
    /// (its answer may come later, to [`Stapler::on_resolved`]); without one, the
    /// addresses found at load serve, after a warning.
    fn request(
        &mut self,
        i: usize,
        now: Instant,
        registry: &mio::Registry,
        resolvers: &mut Resolvers<Waiter>,
        owners: &mut dyn FnMut(i32, Owner),
    ) {
        let Some(it) = self.items.get_mut(i) else {
            return;
        };
        it.addrs.clone_from(&it.s.addrs);
        if it.s.named {
            let Some((conf, timeout)) = it.resolver.as_ref() else {
                let m = format!("no resolver defined to resolve {}", it.s.host);
                log(LogLevel::Warn, &it.s, None, &m);
                return self.connect(i, 0, now, registry, owners);
            };
            let who = Waiter::Staple(i as u32);
            let host = it.s.host.as_bytes();
            match resolvers.resolve(conf, host, who, *timeout, now, registry) {
                Lookup::Ready(result) => return self.on_resolved(i, result, now, registry, owners),
                Lookup::Pending(_) => return,
            }
        }
        self.connect(i, 0, now, registry, owners);
    }

    /// The responder's name of fetch `i` resolved (or failed to): nginx's
    /// `ngx_ssl_ocsp_resolve_handler`.
    pub fn on_resolved(
        &mut self,
        i: usize,
        result: Result<Addrs, ResolveError>,
        now: Instant,
        registry: &mio::Registry,
        owners: &mut dyn FnMut(i32, Owner),
    ) {
        let Some(it) = self.items.get_mut(i) else {
            return;
        };
        match result {
            Ok(addrs) => {
                let port = it.s.port;
                it.addrs = addrs.iter().map(|ip| SocketAddr::new(ip, port)).collect();
                self.connect(i, 0, now, registry, owners);
            }
            Err(e) => {
                let m = format!("{} could not be resolved ({e})", it.s.host);
                log(LogLevel::Error, &it.s, None, &m);
                it.s.failed(crate::log::time::now_secs());
            }
        }
    }

    fn connect(
        &mut self,
        i: usize,
        addr: usize,
        now: Instant,
        registry: &mio::Registry,
        owners: &mut dyn FnMut(i32, Owner),
    ) {
        let Some(Item {
            s,
            addrs,
            fetch: slot,
            ..
        }) = self.items.get_mut(i)
        else {
            return;
        };
        let Some(peer) = addrs.get(addr).copied() else {
            s.failed(crate::log::time::now_secs());
            return;
        };
        match connect::open(&PeerAddr::Inet(peer), &SocketOptions::default()) {
            Ok(mut sock) => {
                let fd = sock.as_raw_fd();
                let token = mio::Token(UPSTREAM_TOKEN_BIT | fd as usize);
                if let Err(e) =
                    registry.register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)
                {
                    let m = format!("epoll_ctl() failed ({})", crate::sys::errno_text(&e));
                    log(LogLevel::Alert, s, Some(peer), &m);
                    s.failed(crate::log::time::now_secs());
                    return;
                }
                owners(fd, Owner::Staple(i as u32));
                *slot = Some(Fetch::new(sock, addr, now));
            }
            Err(OpenError::Local(m)) => {
                log(LogLevel::Alert, s, Some(peer), &m);
                s.failed(crate::log::time::now_secs());
            }
            Err(OpenError::Connect(e)) => {
                let m = format!("connect() failed ({})", crate::sys::errno_text(&e));
                log(LogLevel::Error, s, Some(peer), &m);
                self.connect(i, addr + 1, now, registry, owners);
            }
        }
    }

    /// Readiness of fetch `i`'s socket.
    pub fn on_event(
        &mut self,
        i: u32,
        now: Instant,
        registry: &mio::Registry,
        owners: &mut dyn FnMut(i32, Owner),
    ) {
        let i = i as usize;
        let Some(Item {
            s,
            addrs,
            fetch: Some(f),
            ..
        }) = self.items.get_mut(i)
        else {
            return;
        };
        match advance(f, &s.request, now) {
            Ok(false) => {}
            Ok(true) => {
                let secs = crate::log::time::now_secs();
                let outcome = finish(s, &f.buf, secs);
                let addr = f.addr;
                let peer = addrs.get(addr).copied();
                self.items[i].fetch = None;
                let s = &self.items[i].s;
                match outcome {
                    Ok(()) => {}
                    Err(Failure::Done(m)) => {
                        if let Some(m) = m {
                            log(LogLevel::Error, s, peer, &m);
                        }
                        s.failed(secs);
                    }
                    Err(Failure::Next(m)) => {
                        log(LogLevel::Error, s, peer, &m);
                        self.connect(i, addr + 1, now, registry, owners);
                    }
                }
            }
            Err(m) => self.fail(i, Failure::Next(m), now, registry, owners),
        }
    }

    fn fail(
        &mut self,
        i: usize,
        why: Failure,
        now: Instant,
        registry: &mio::Registry,
        owners: &mut dyn FnMut(i32, Owner),
    ) {
        let Some(Item {
            s, addrs, fetch, ..
        }) = self.items.get_mut(i)
        else {
            return;
        };
        let Some(f) = fetch.take() else { return };
        let peer = addrs.get(f.addr).copied();
        match why {
            Failure::Next(m) => {
                log(LogLevel::Error, s, peer, &m);
                self.connect(i, f.addr + 1, now, registry, owners);
            }
            Failure::Done(m) => {
                if let Some(m) = m {
                    log(LogLevel::Error, s, peer, &m);
                }
                s.failed(crate::log::time::now_secs());
            }
        }
    }
}

/// Moves the exchange on; `Ok(true)`: the responder closed, the response is read.
pub(crate) fn advance(f: &mut Fetch, request: &[u8], now: Instant) -> Result<bool, String> {
    loop {
        match f.phase {
            Phase::Connecting => match connect::connected(&f.sock) {
                Ok(true) => {
                    f.phase = Phase::Sending(0);
                    f.deadline = now + TIMEOUT;
                }
                Ok(false) => return Ok(false),
                Err(e) => {
                    return Err(format!("connect() failed ({})", crate::sys::errno_text(&e)));
                }
            },
            Phase::Sending(sent) => match f.sock.write(request.get(sent..).unwrap_or(&[])) {
                Ok(n) if sent + n >= request.len() => {
                    f.phase = Phase::Reading;
                    f.deadline = now + TIMEOUT;
                }
                Ok(n) => f.phase = Phase::Sending(sent + n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("send() failed ({})", crate::sys::errno_text(&e))),
            },
            Phase::Reading => {
                let have = f.buf.len();
                if have >= MAX_RESPONSE {
                    // nginx stops reading a full buffer: the response is judged as is.
                    return Ok(true);
                }
                f.buf.resize(MAX_RESPONSE, 0);
                let got = f.sock.read(&mut f.buf[have..]);
                f.buf.truncate(have + *got.as_ref().unwrap_or(&0));
                match got {
                    Ok(0) => return Ok(true),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        return Err(format!("recv() failed ({})", crate::sys::errno_text(&e)));
                    }
                }
            }
        }
    }
}

/// What a whole response to an OCSP request holds.
pub(crate) enum Answer<'a> {
    /// A 200: its body (the DER OCSP response).
    Body(&'a [u8]),
    /// Another status: the request failed without a word, as in nginx.
    Refused,
}

/// Reads a whole response's head (`ngx_ssl_ocsp_process_status_line` and `_headers`);
/// `Err`: the log's message, and the responder's next address is tried.
pub(crate) fn read_answer(buf: &[u8]) -> Result<Answer<'_>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return Err("OCSP responder prematurely closed connection".into());
        }
        Err(_) => return Err("OCSP responder sent invalid response".into()),
    };
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-type")
            && !h.value.eq_ignore_ascii_case(b"application/ocsp-response")
        {
            return Err(format!(
                "OCSP responder sent invalid \"Content-Type\" header: \"{}\"",
                String::from_utf8_lossy(h.value)
            ));
        }
    }
    if resp.code != Some(200) {
        return Ok(Answer::Refused);
    }
    Ok(Answer::Body(buf.get(len..).unwrap_or(&[])))
}

/// Judges a whole response: its head ([`read_answer`]), then the OCSP response in its
/// body, stored when the certificate is good.
fn finish(s: &Stapling, buf: &[u8], now: i64) -> Result<(), Failure> {
    let body = match read_answer(buf).map_err(Failure::Next)? {
        Answer::Body(body) => body,
        Answer::Refused => return Err(Failure::Done(None)),
    };
    let checked = s.check(body, now).map_err(|m| Failure::Done(Some(m)))?;
    if checked.status != CertStatus::Good {
        return Err(Failure::Done(Some(format!(
            "certificate status \"{}\" in the OCSP response",
            checked.status.as_str()
        ))));
    }
    s.store(body.to_vec(), checked.valid, now);
    Ok(())
}

/// Logs `msg` with nginx's context for a fetch.
fn log(level: LogLevel, s: &Stapling, peer: Option<SocketAddr>, msg: &str) {
    match peer {
        Some(p) => elog!(
            level,
            "{msg} while requesting certificate status, responder: {}, peer: {p}, \
             certificate: \"{}\"",
            s.host,
            s.name
        ),
        None => elog!(
            level,
            "{msg} while requesting certificate status, responder: {}, certificate: \"{}\"",
            s.host,
            s.name
        ),
    }
}
