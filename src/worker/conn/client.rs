//! The client's socket and its readiness: every byte a connection reads or writes goes
//! through here (TLS goes under this later, so it must stay the only place).
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
    /// Readable since the last `WouldBlock`.
    pub readable: bool,
    /// Writable since the last `WouldBlock`.
    pub writable: bool,
    /// The peer's FIN (or an error) is queued behind whatever data there is.
    pub read_closed: bool,
}

impl Client {
    /// A client whose socket is attached later.
    pub fn new() -> Client {
        Client {
            sock: None,
            readable: false,
            writable: true,
            read_closed: false,
        }
    }

    /// Gives the client its (registered) socket.
    pub fn attach(&mut self, sock: TcpStream) {
        self.sock = Some(sock);
    }

    /// Closes the socket.
    pub fn close(&mut self) {
        self.sock = None;
    }

    /// Whether the socket is open.
    pub fn is_open(&self) -> bool {
        self.sock.is_some()
    }

    /// The socket's descriptor (`$tcpinfo_*`, `reset_timedout_connection`).
    pub fn raw_fd(&self) -> Option<RawFd> {
        self.sock.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// The socket's local address (`$server_addr`, `$server_port`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
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
        let r = self.sock()?.read(buf);
        self.note_read(&r);
        r
    }

    /// Looks at the next byte without taking it (a closed client reads 0).
    pub fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
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
        let r = self.sock()?.write(bytes);
        self.note_write(&r);
        r
    }

    /// Writes `a` then `b` in one `writev`.
    pub fn write2(&mut self, a: &[u8], b: &[u8]) -> io::Result<usize> {
        let r = sys::writev2(self.fd()?, a, b);
        self.note_write(&r);
        r
    }

    /// Writes `bytes` with `MSG_MORE`: the kernel holds them for the file bytes that follow
    /// (what nginx gets from `TCP_CORK` at the price of two `setsockopt` calls).
    pub fn write_more(&mut self, bytes: &[u8]) -> io::Result<usize> {
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

    /// Shuts our sending side down (lingering close, the end of a tunnel's one direction).
    pub fn shutdown_write(&mut self) {
        if let Some(s) = self.sock.as_ref() {
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
    }
}
