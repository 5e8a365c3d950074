//! The client's socket and its readiness: every byte a connection reads or writes goes
//! through here, and on a `listen ... ssl` connection through the TLS session under it
//! (`tls::Session`): the connection reads and writes plaintext either way. A plain
//! connection pays one predictable branch per call and nothing else.
//!
//! Epoll is edge-triggered under mio: the flags remember which side is ready between
//! events, and are cleared when a call would block.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use mio::net::TcpStream;

use crate::sys;

/// The client side of a connection.
pub struct Client {
    sock: Option<TcpStream>,
    /// The TLS session of an `ssl` connection (boxed: a plain connection stays small).
    tls: Option<Box<crate::tls::Session>>,
    /// Readable since the last `WouldBlock`.
    pub readable: bool,
    /// Writable since the last `WouldBlock`.
    pub writable: bool,
    /// The peer's FIN (or an error) is queued behind whatever data there is.
    pub read_closed: bool,
    /// An HTTP/2 stream's in-memory transport (`conn/h2`): the request's bytes in, the
    /// rendered response out, no socket. Boxed: a socket connection stays small.
    pub(super) pipe: Option<Box<Pipe>>,
}

/// The in-memory transport between an HTTP/2 connection and one stream's request: the
/// connection writes the stream's request (head, body) into `input` and takes the
/// response the request model rendered from `output` into frames. The connection stays
/// its socket's only writer; a full `output` is the stream's back-pressure.
#[derive(Default)]
pub struct Pipe {
    /// Request bytes for the stream's request to read.
    pub input: Vec<u8>,
    /// How far `input` was read.
    pub in_pos: usize,
    /// Rendered response bytes not yet framed.
    pub output: Vec<u8>,
    /// Writes block once `output` holds this much.
    pub out_limit: usize,
    /// The connection's local address (`$server_addr`).
    pub local: Option<SocketAddr>,
    /// The stream was reset or the connection ended: reads see EOF, writes fail.
    pub gone: bool,
    /// The stream's request side closed its transport.
    pub closed: bool,
    /// The request body's length differs from its `content-length` (the log line's
    /// words): once `input` is read, reads fail and the body reader answers 400, as nginx.
    pub body_error: Option<String>,
    /// The request reads its body whole as it comes (`*_request_buffering on`): the
    /// connection opens the stream's window wide (nginx's `no_flow_control`).
    pub body_whole: bool,
    /// The client ended the stream (END_STREAM, trailers): as nginx, a body with a
    /// `content-length` is complete only then, not once that many bytes came.
    pub input_ended: bool,
}

impl Pipe {
    fn read(&mut self, buf: &mut [u8], take: bool) -> io::Result<usize> {
        if self.gone {
            return Ok(0);
        }
        let rest = self.input.get(self.in_pos..).unwrap_or_default();
        if rest.is_empty() {
            if self.body_error.is_some() {
                return Err(io::ErrorKind::InvalidData.into());
            }
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        if take {
            self.in_pos += n;
        }
        Ok(n)
    }

    fn write(&mut self, a: &[u8], b: &[u8]) -> io::Result<usize> {
        if self.gone || self.closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        if self.output.len() >= self.out_limit {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.output.extend_from_slice(a);
        self.output.extend_from_slice(b);
        Ok(a.len() + b.len())
    }
}

impl Client {
    /// A client whose socket is attached later.
    pub fn new() -> Client {
        Client {
            sock: None,
            tls: None,
            readable: false,
            writable: true,
            read_closed: false,
            pipe: None,
        }
    }

    /// The client is an HTTP/2 stream's in-memory transport.
    pub(super) fn attach_pipe(&mut self, pipe: Box<Pipe>) {
        self.pipe = Some(pipe);
        self.readable = true;
    }

    /// Why an HTTP/2 stream's request body was found wrong (its length is not its
    /// `content-length`), once all the bytes before the fault were read.
    pub(super) fn body_rejected(&mut self) -> Option<String> {
        let p = self.pipe.as_mut()?;
        if p.in_pos < p.input.len() {
            return None;
        }
        p.body_error.take()
    }

    /// A body whose declared length was read waits for its HTTP/2 stream's end: DATA past
    /// the length is still an error (nginx's `rb->rest` stays until END_STREAM). False for
    /// a socket.
    pub(super) fn awaits_body_end(&self) -> bool {
        self.pipe
            .as_ref()
            .is_some_and(|p| !p.input_ended && p.body_error.is_none() && !p.gone)
    }

    /// The request reads its body whole as it comes: an HTTP/2 stream's window may open
    /// wide (nothing for a socket).
    pub(super) fn reads_body_whole(&mut self) {
        if let Some(p) = self.pipe.as_mut() {
            p.body_whole = true;
        }
    }

    /// Gives the client its (registered) socket.
    pub fn attach(&mut self, sock: TcpStream) {
        self.sock = Some(sock);
    }

    /// Closes the socket (a TLS session says `close_notify` first).
    pub fn close(&mut self) {
        if let Some(p) = self.pipe.as_mut() {
            // Kept: the connection frames what is left in it.
            p.closed = true;
        }
        if let (Some(tls), Some(sock)) = (self.tls.as_mut(), self.sock.as_mut()) {
            tls.close_notify(sock);
        }
        self.tls = None;
        self.sock = None;
    }

    /// The connection speaks TLS: its first bytes are a client's hello.
    pub fn start_tls(&mut self) {
        self.tls = Some(Box::new(crate::tls::Session::accepting()));
    }

    /// The TLS session, when the connection has one.
    pub fn tls(&self) -> Option<&crate::tls::Session> {
        self.tls.as_deref()
    }

    /// Whether the TLS handshake chose HTTP/2 by ALPN.
    pub fn tls_alpn_h2(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.alpn_is_h2())
    }

    /// Whether the client's hello is still to be read.
    pub fn tls_accepting(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.is_accepting())
    }

    /// Reads the client's hello as far as the socket allows (see [`crate::tls::Hello`]);
    /// a client that speaks plain HTTP leaves the connection without TLS.
    pub fn tls_hello(&mut self) -> crate::tls::Hello {
        let (Some(tls), Some(sock)) = (self.tls.as_mut(), self.sock.as_mut()) else {
            return crate::tls::Hello::Closed;
        };
        let hello = tls.hello(sock);
        match hello {
            crate::tls::Hello::Wait => self.readable = false,
            crate::tls::Hello::Plain => self.tls = None,
            _ => {}
        }
        hello
    }

    /// Reads from the socket itself, under TLS (a PROXY protocol header comes before the
    /// hello).
    pub fn read_raw(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.sock()?.read(buf);
        self.note_read(&r);
        r
    }

    /// Gives the hello's reader bytes read with [`Client::read_raw`].
    pub fn tls_feed(&mut self, bytes: &[u8]) {
        if let Some(tls) = self.tls.as_mut() {
            tls.feed(bytes);
        }
    }

    /// Goes on with the handshake under the configuration SNI chose.
    pub fn tls_start(
        &mut self,
        accepted: Box<rustls::server::Accepted>,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> Result<(), String> {
        match (self.tls.as_mut(), self.sock.as_mut()) {
            (Some(tls), Some(sock)) => tls.start(accepted, config, sock),
            _ => Err("SSL_do_handshake() failed (connection closed)".into()),
        }
    }

    /// The server chosen allows kTLS (`ssl_conf_command Options KTLS`).
    pub fn tls_allow_kernel(&mut self) {
        if let Some(tls) = self.tls.as_mut() {
            tls.allow_kernel();
        }
    }

    /// Refuses the handshake (`ssl_reject_handshake`).
    pub fn tls_reject(&mut self) {
        if let (Some(tls), Some(sock)) = (self.tls.as_mut(), self.sock.as_mut()) {
            tls.reject(sock);
        }
    }

    /// Sends the encrypted bytes TLS still holds: `Ok(true)` when none are left (always on
    /// a plain connection), `Ok(false)` when the socket is full.
    pub fn flush_tls(&mut self) -> io::Result<bool> {
        let (Some(tls), Some(sock)) = (self.tls.as_mut(), self.sock.as_mut()) else {
            return Ok(true);
        };
        if !tls.pending() {
            return Ok(true);
        }
        match tls.flush(sock) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.writable = false;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether bytes may go out with `sendfile(2)` (not through user-space TLS).
    pub fn can_sendfile(&self) -> bool {
        self.pipe.is_none() && self.tls.as_ref().is_none_or(|t| t.in_kernel())
    }

    /// `sendfile on` meets a TLS connection: its session moves into the kernel (kTLS)
    /// when the kernel has it and rustls holds nothing; true when `sendfile(2)` may be used
    /// now. A switch that fails half-way closes the connection (logged at `alert`).
    pub fn try_kernel_tls(&mut self) -> bool {
        if self.pipe.is_some() {
            return false;
        }
        let (Some(tls), Some(sock)) = (self.tls.as_mut(), self.sock.as_ref()) else {
            return self.tls.is_none();
        };
        if crate::tls::ktls::known_unavailable() {
            return false;
        }
        match tls.to_kernel(sock) {
            Ok(on) => on,
            Err(what) => {
                crate::elog!(crate::log::LogLevel::Alert, "{what}");
                self.tls = None;
                self.sock = None;
                false
            }
        }
    }

    /// Whether the socket is open.
    pub fn is_open(&self) -> bool {
        self.sock.is_some() || self.pipe.as_ref().is_some_and(|p| !p.closed)
    }

    /// The socket's descriptor (`$tcpinfo_*`, `reset_timedout_connection`).
    pub fn raw_fd(&self) -> Option<RawFd> {
        self.sock.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// The socket's local address (`$server_addr`, `$server_port`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        if let Some(p) = self.pipe.as_ref() {
            return p.local;
        }
        self.sock.as_ref().and_then(|s| s.local_addr().ok())
    }

    fn sock(&mut self) -> io::Result<&mut TcpStream> {
        self.sock
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    fn fd(&self) -> io::Result<RawFd> {
        self.sock
            .as_ref()
            .map(AsRawFd::as_raw_fd)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// Reads into `buf`; `WouldBlock` clears `readable`.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(p) = self.pipe.as_mut() {
            let r = p.read(buf, true);
            self.note_read(&r);
            return r;
        }
        if let Some(tls) = self.tls.as_mut() {
            let sock = self
                .sock
                .as_mut()
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
            let r = tls.read(sock, buf);
            self.note_read(&r);
            return r;
        }
        let r = self.sock()?.read(buf);
        self.note_read(&r);
        r
    }

    /// Looks at the next byte without taking it (a closed client reads 0).
    pub fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(p) = self.pipe.as_mut() {
            let r = p.read(buf, false);
            self.note_read(&r);
            return r;
        }
        if let Some(tls) = self.tls.as_mut() {
            let sock = self
                .sock
                .as_mut()
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
            let r = tls.peek(sock, buf);
            self.note_read(&r);
            return r;
        }
        let r = self.sock()?.peek(buf);
        self.note_read(&r);
        r
    }

    fn note_read(&mut self, r: &io::Result<usize>) {
        if matches!(r, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.readable = false;
        }
    }

    fn note_write(&mut self, r: &io::Result<usize>) {
        if matches!(r, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.writable = false;
        }
    }

    /// Writes `bytes`; `WouldBlock` clears `writable`.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Some(p) = self.pipe.as_mut() {
            let r = p.write(bytes, &[]);
            self.note_write(&r);
            return r;
        }
        if self.tls.is_some() {
            return self.write_tls(bytes, &[]);
        }
        let r = self.sock()?.write(bytes);
        self.note_write(&r);
        r
    }

    /// Writes `a` then `b` in one `writev`.
    pub fn write2(&mut self, a: &[u8], b: &[u8]) -> io::Result<usize> {
        if let Some(p) = self.pipe.as_mut() {
            let r = p.write(a, b);
            self.note_write(&r);
            return r;
        }
        if self.tls.is_some() {
            return self.write_tls(a, b);
        }
        let r = sys::writev2(self.fd()?, a, b);
        self.note_write(&r);
        r
    }

    /// Writes `a`, `b` then `c` in one `writev` on a plain socket; through TLS or a pipe,
    /// only `a` and `b` (as [`Client::write2`]): `c` is then left for the next write.
    pub fn write3(&mut self, a: &[u8], b: &[u8], c: &[u8]) -> io::Result<usize> {
        if self.pipe.is_some() || self.tls.is_some() {
            return self.write2(a, b);
        }
        let r = sys::writev3(self.fd()?, a, b, c);
        self.note_write(&r);
        r
    }

    /// Writes `bytes` with `MSG_MORE`: the kernel holds them for the file bytes that follow
    /// (what nginx gets from `TCP_CORK` at the price of two `setsockopt` calls).
    pub fn write_more(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Some(p) = self.pipe.as_mut() {
            let r = p.write(bytes, &[]);
            self.note_write(&r);
            return r;
        }
        if self.tls.is_some() {
            return self.write_tls(bytes, &[]);
        }
        let r = sys::send_more(self.fd()?, bytes);
        self.note_write(&r);
        r
    }

    /// Sends `count` bytes of `file` from `pos` (advanced) with `sendfile(2)`.
    pub fn sendfile(&mut self, file: RawFd, pos: &mut u64, count: usize) -> io::Result<usize> {
        let r = sys::sendfile(self.fd()?, file, pos, count);
        self.note_write(&r);
        r
    }

    /// Encrypts `a` then `b` (as much as TLS takes) and sends what the socket takes.
    fn write_tls(&mut self, a: &[u8], b: &[u8]) -> io::Result<usize> {
        let (Some(tls), Some(sock)) = (self.tls.as_mut(), self.sock.as_mut()) else {
            return Err(io::Error::from(io::ErrorKind::NotConnected));
        };
        let mut r = tls.write(sock, a);
        if let Ok(n) = r
            && n == a.len()
            && !b.is_empty()
        {
            r = match tls.write(sock, b) {
                Ok(m) => Ok(n + m),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(n),
                Err(e) => Err(e),
            };
        }
        if matches!(&r, Err(e) if e.kind() == io::ErrorKind::WouldBlock) || tls.pending() {
            self.writable = false;
        }
        r
    }

    /// Ends TLS (`close_notify`) and shuts our sending side down; what the client still
    /// sends is then read raw, not decrypted: an HTTP/2 connection's lingering close, as
    /// nginx's `ngx_ssl_shutdown` frees the session before it. (Reading through a session
    /// that closed could make it answer, onto a socket shut for writing.)
    pub fn end_tls_and_shutdown_write(&mut self) {
        self.shutdown_write();
        self.tls = None;
    }

    /// Shuts our sending side down (lingering close, the end of a tunnel's one direction).
    pub fn shutdown_write(&mut self) {
        if let (Some(tls), Some(sock)) = (self.tls.as_mut(), self.sock.as_mut()) {
            tls.close_notify(sock);
        }
        if let Some(s) = self.sock.as_ref() {
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
    }
}
