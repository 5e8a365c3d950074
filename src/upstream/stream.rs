//! An upstream connection's byte stream: the socket, and for `proxy_pass https://` the
//! rustls client session over it (issue 15 point 3). The machine reads and writes
//! plaintext through it whatever the scheme; the keep-alive pool keeps the session with
//! its socket, and a request done with a TLS connection sends `close_notify` before it
//! closes ([`PeerStream::shutdown`]), as nginx's `ngx_ssl_shutdown`.
//!
//! Edge-triggered epoll's rule holds through TLS as in `tls/transport.rs`: `WouldBlock`
//! from a read means rustls holds no plaintext and the socket is drained; from a write,
//! that earlier records still wait for the socket (the machine flushes them on the next
//! writable edge, [`PeerStream::flush`]).

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::ClientConnection;
use rustls::pki_types::ServerName;

/// What a handshake step came to.
#[derive(Debug)]
pub enum Handshake {
    /// Done: the request may go.
    Done,
    /// Waiting for the socket.
    Wait,
    /// The upstream closed the connection mid-handshake.
    Closed,
    /// Failed: nginx's log text (`SSL_do_handshake() failed (...)`, or the verification
    /// failure's own words).
    Failed(String),
}

/// An upstream connection: plain, or TLS over the socket.
#[derive(Debug)]
pub struct PeerStream {
    /// The socket (registered with the worker's poll).
    pub sock: TcpStream,
    tls: Option<Box<ClientConnection>>,
    /// For TLS: the configuration and name it was verified under; a pooled connection
    /// serves only a request with the same (another location may verify differently).
    origin: Option<Box<(Arc<rustls::ClientConfig>, ServerName<'static>)>>,
}

impl PeerStream {
    /// A plain connection.
    pub fn plain(sock: TcpStream) -> PeerStream {
        PeerStream {
            sock,
            tls: None,
            origin: None,
        }
    }

    /// Starts a TLS client session over `sock` (the handshake runs in [`PeerStream::handshake`]).
    pub fn tls(
        sock: TcpStream,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<PeerStream, String> {
        let conn = ClientConnection::new(config.clone(), name.clone())
            .map_err(|e| format!("SSL_do_handshake() failed (SSL: {e})"))?;
        Ok(PeerStream {
            sock,
            tls: Some(Box::new(conn)),
            origin: Some(Box::new((config, name))),
        })
    }

    /// Whether the connection speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether a request for `tls` (`None`: plain) may use this connection: plain for
    /// plain, TLS made under the same configuration for the same name.
    pub fn serves(&self, tls: Option<&super::TlsTarget>) -> bool {
        match (&self.origin, tls) {
            (None, None) => true,
            (Some(o), Some(t)) => Arc::ptr_eq(&o.0, &t.config) && o.1 == t.name,
            _ => false,
        }
    }

    /// The rustls session (kTLS and `$upstream_*` readers), when TLS.
    pub fn session(&self) -> Option<&ClientConnection> {
        self.tls.as_deref()
    }

    /// Moves the handshake on as far as the socket allows. `readable`/`writable` are the
    /// socket's readiness; each is cleared when the socket says `WouldBlock`.
    pub fn handshake(&mut self, readable: &mut bool, writable: &mut bool) -> Handshake {
        let Some(conn) = self.tls.as_mut() else {
            return Handshake::Done;
        };
        loop {
            let mut moved = false;
            while conn.wants_write() && *writable {
                match conn.write_tls(&mut self.sock) {
                    Ok(_) => moved = true,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => *writable = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        return Handshake::Failed(format!(
                            "SSL_do_handshake() failed ({})",
                            crate::sys::errno_text(&e)
                        ));
                    }
                }
            }
            if !conn.is_handshaking() {
                return if conn.wants_write() {
                    Handshake::Wait
                } else {
                    Handshake::Done
                };
            }
            if *readable && conn.wants_read() {
                match conn.read_tls(&mut self.sock) {
                    Ok(0) => return Handshake::Closed,
                    Ok(_) => {
                        moved = true;
                        if let Err(e) = conn.process_new_packets() {
                            // rustls queued the alert that tells the upstream why.
                            let _ = conn.write_tls(&mut self.sock);
                            return Handshake::Failed(crate::tls::upstream_error(&e));
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => *readable = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => moved = true,
                    Err(e) => {
                        return Handshake::Failed(format!(
                            "SSL_do_handshake() failed ({})",
                            crate::sys::errno_text(&e)
                        ));
                    }
                }
            }
            if !moved {
                return Handshake::Wait;
            }
        }
    }

    /// Sends the TLS records rustls holds; `WouldBlock` while some are left.
    pub fn flush(&mut self) -> io::Result<()> {
        let Some(conn) = self.tls.as_mut() else {
            return Ok(());
        };
        while conn.wants_write() {
            if conn.write_tls(&mut self.sock)? == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero));
            }
        }
        Ok(())
    }

    /// Ends a TLS session with `close_notify` (best effort: the socket closes next), as
    /// nginx's `ngx_ssl_shutdown` when a request is done with its upstream connection. (An
    /// idle pooled connection that expires closes without it, as nginx's keepalive module
    /// closes one.)
    pub fn shutdown(&mut self) {
        if let Some(conn) = self.tls.as_mut()
            && !conn.is_handshaking()
        {
            conn.send_close_notify();
            let _ = conn.write_tls(&mut self.sock);
        }
    }

    /// The plain socket, for a tunnel (`None` for TLS: a tunnel over upstream TLS is not
    /// built).
    pub fn into_plain(self) -> Option<TcpStream> {
        match self.origin {
            None => Some(self.sock),
            Some(_) => None,
        }
    }

    /// Whether TLS records wait for the socket.
    pub fn pending(&self) -> bool {
        self.tls.as_ref().is_some_and(|c| c.wants_write())
    }

    /// Writes `a` then `b`: one `writev` on a plain socket (an upstream that reads once
    /// sees both), two records' worth through TLS.
    pub fn write2(&mut self, a: &[u8], b: &[u8]) -> io::Result<usize> {
        if self.tls.is_none() {
            return crate::sys::writev2(self.sock.as_raw_fd(), a, b);
        }
        let n = self.write(a)?;
        if n < a.len() {
            return Ok(n);
        }
        match self.write(b) {
            Ok(m) => Ok(n + m),
            Err(_) => Ok(n),
        }
    }
}

impl Read for PeerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(conn) = self.tls.as_mut() else {
            return self.sock.read(buf);
        };
        loop {
            match conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The upstream closed without close_notify: an end like a plain close
                // (the protocol's framing tells a complete response from a cut one).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            // A key update's answer leaves before more is read.
            while conn.wants_write() {
                match conn.write_tls(&mut self.sock) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            match conn.read_tls(&mut self.sock) {
                Ok(0) => return Ok(0),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
            if let Err(e) = conn.process_new_packets() {
                let _ = conn.write_tls(&mut self.sock);
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("SSL_read() failed (SSL: {e})"),
                ));
            }
        }
    }
}

impl Write for PeerStream {
    /// Encrypts (some of) `buf` and sends what the socket takes; the plaintext bytes
    /// taken. `WouldBlock` while earlier records still wait for the socket.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.tls.is_none() {
            return self.sock.write(buf);
        }
        self.flush()?;
        let Some(conn) = self.tls.as_mut() else {
            return Ok(0);
        };
        let n = conn.writer().write(buf)?;
        if n == 0 && !buf.is_empty() {
            return Err(io::Error::from(io::ErrorKind::WouldBlock));
        }
        match self.flush() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        PeerStream::flush(self)
    }
}

impl AsRawFd for PeerStream {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_stream_reads_and_writes_the_socket() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let s = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (mut peer, _) = l.accept().expect("accept");
        let mut p = PeerStream::plain(TcpStream::from_std(s));
        assert!(!p.is_tls() && !p.pending());
        assert_eq!(p.write2(b"ab", b"cd").expect("write"), 4);
        let mut got = [0u8; 4];
        peer.read_exact(&mut got).expect("read");
        assert_eq!(&got, b"abcd");
        let (mut r, mut w) = (true, true);
        assert!(matches!(p.handshake(&mut r, &mut w), Handshake::Done));
    }
}
