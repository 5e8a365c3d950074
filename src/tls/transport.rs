//! The TLS transport under a client connection: the connection reads plaintext and writes
//! plaintext as it does on a plain socket, and this layer moves ciphertext between the
//! socket and rustls. Edge-triggered epoll's rule holds through it: a read that returns
//! fewer bytes than asked for, or `WouldBlock`, has drained the socket; plaintext rustls
//! already holds is handed out before the socket is read again.
//!
//! A connection starts in [`Session::hello`]: its first byte says whether the client speaks
//! TLS at all (nginx answers plain HTTP on an `ssl` port with its 400 "The plain HTTP
//! request was sent to HTTPS port"), then rustls's `Acceptor` reads the ClientHello so the
//! connection can pick the server block by SNI before the handshake goes on with that
//! server's configuration ([`Session::start`]).

use std::io::{self, BufRead, Read, Write};
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::server::{Accepted, Acceptor};
use rustls::{HandshakeKind, ServerConfig, ServerConnection};

/// The first byte of a TLS record carrying a handshake message.
const RECORD_HANDSHAKE: u8 = 0x16;
/// The high bit of an SSLv2-framed hello's first byte.
const SSLV2_HELLO_BIT: u8 = 0x80;
/// A fatal `unrecognized_name` alert record (`ssl_reject_handshake`).
const ALERT_UNRECOGNIZED_NAME: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70];

/// What reading a client's hello came to.
pub enum Hello {
    /// More bytes are needed.
    Wait,
    /// The client closed before its hello.
    Closed,
    /// The client speaks plain HTTP on the TLS port.
    Plain,
    /// The hello is bad: nginx's log text, the alert already sent.
    Failed(String),
    /// The hello is read: choose the configuration by its SNI, then [`Session::start`].
    Ready(Box<Accepted>),
}

enum State {
    Hello(Box<Acceptor>),
    Open(Box<ServerConnection>),
    /// kTLS (`ktls.rs`): the kernel encrypts and decrypts; the socket carries plaintext.
    Kernel,
    Gone,
}

/// A client's TLS session.
pub struct Session {
    state: State,
    /// The first byte was looked at (the client speaks TLS).
    spoke_tls: bool,
    /// The suites and groups the hello offered (`$ssl_ciphers`, `$ssl_curves`).
    offered: Option<Box<super::Offered>>,
    /// The server allows kTLS (`ssl_conf_command Options KTLS`).
    kernel_allowed: bool,
    /// 0-RTT bytes (`ssl_early_data on`) were read while the handshake was in progress
    /// and no request has looked at them yet (`$ssl_early_data`).
    early: std::cell::Cell<bool>,
    /// The session id of the ServerHello (`$ssl_session_id` under TLS 1.2): read from the
    /// first flight on its way out.
    hello_id: Option<Box<[u8]>>,
    /// The server issues TLS 1.3 tickets (`$ssl_session_id` under TLS 1.3).
    tls13_tickets: bool,
}

/// A socket's writer that keeps a copy of the first bytes written through it.
struct Tap<'a> {
    sock: &'a mut TcpStream,
    seen: Vec<u8>,
}

/// The bytes of the first flight read: a record header, a ServerHello's header, version
/// and random, session id length and the longest session id.
const HELLO_ID_END: usize = 5 + 4 + 2 + 32 + 1 + 32;

impl Write for Tap<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.sock.write(buf)?;
        let room = HELLO_ID_END.saturating_sub(self.seen.len());
        self.seen.extend_from_slice(&buf[..n.min(room)]);
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let n = self.sock.write_vectored(bufs)?;
        let mut left = n;
        for b in bufs {
            let take = left.min(b.len());
            let room = HELLO_ID_END.saturating_sub(self.seen.len());
            self.seen.extend_from_slice(&b[..take.min(room)]);
            left -= take;
            if left == 0 {
                break;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sock.flush()
    }
}

/// The legacy_session_id of the ServerHello at the start of `flight`.
fn server_hello_id(flight: &[u8]) -> Option<Box<[u8]>> {
    // Handshake record, ServerHello.
    if flight.first() != Some(&RECORD_HANDSHAKE) || flight.get(5) != Some(&2) {
        return None;
    }
    let len = usize::from(*flight.get(43)?);
    flight.get(44..44 + len).map(Box::from)
}

/// `$ssl_session_id`'s value: what identifies the session as OpenSSL's `SSL_SESSION_get_id`
/// does (see [`TlsVars::of`]).
#[derive(Debug)]
pub enum SessionId {
    /// TLS 1.2: the ServerHello's session id (empty: none).
    Hello(Option<Box<[u8]>>),
    /// TLS 1.3 with tickets: a random id of the session the tickets carry, drawn when
    /// first read.
    Ticketed(std::cell::OnceCell<[u8; 32]>),
    /// TLS 1.3 without tickets: none.
    None,
}

impl SessionId {
    /// Appends the id in lower-case hex (nothing where there is none).
    pub fn write_hex(&self, out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes: &[u8] = match self {
            SessionId::Hello(id) => id.as_deref().unwrap_or(&[]),
            SessionId::Ticketed(cell) => cell.get_or_init(|| {
                let mut id = [0u8; 32];
                if aws_lc_rs::rand::fill(&mut id).is_err() {
                    // No randomness: no id (rather than a guessable one).
                    return [0u8; 32];
                }
                id
            }),
            SessionId::None => &[],
        };
        if bytes.iter().all(|b| *b == 0) {
            return;
        }
        for b in bytes {
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 15)]);
        }
    }
}

/// An error rustls reported, with nginx's text for the log.
#[derive(Debug)]
struct TlsError(String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

/// Whether `e` is a TLS protocol error (its text is nginx's `SSL_*() failed (...)`), not a
/// socket's.
pub fn is_tls_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<TlsError>())
}

fn tls_error(handshaking: bool, e: impl std::fmt::Display) -> io::Error {
    let call = if handshaking {
        "SSL_do_handshake"
    } else {
        "SSL_read"
    };
    io::Error::new(
        io::ErrorKind::InvalidData,
        TlsError(format!("{call}() failed (SSL: {e})")),
    )
}

/// Counts a handshake's outcome in the status counters (`portico_ssl_*`).
fn count(field: crate::status::Field) {
    crate::status::counters::add(field, 1);
}

/// Counts a handshake that just completed (and whether it resumed a session).
fn count_done(conn: &ServerConnection) {
    count(crate::status::Field::SslHandshakes);
    if conn.handshake_kind() == Some(HandshakeKind::Resumed) {
        count(crate::status::Field::SslSessionReuses);
    }
}

/// What the `$ssl_*` variables read of an established session, taken once per
/// connection.
#[derive(Debug)]
pub struct TlsVars {
    /// `$ssl_protocol`.
    pub protocol: &'static str,
    /// `$ssl_cipher` (OpenSSL's name).
    pub cipher: &'static str,
    /// `$ssl_server_name`.
    pub server_name: Option<String>,
    /// `$ssl_session_reused`.
    pub reused: bool,
    /// `$ssl_alpn_protocol`: the protocol ALPN chose.
    pub alpn: Option<Vec<u8>>,
    /// `$ssl_curve`: the key-exchange group (OpenSSL's name).
    pub curve: Option<&'static str>,
    /// The chain the client sent (leaf first; empty: none).
    pub peer_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// `$ssl_client_verify`: the chain judged by the request's server (once).
    pub verified: std::cell::OnceCell<super::Verified>,
    /// What the `ssl_ocsp` checks of the verified chain found (`None`: none were made).
    pub ocsp: std::cell::Cell<Option<super::OcspOutcome>>,
    /// `$ssl_ciphers`, `$ssl_curves`: what the client's hello offered.
    pub offered: Option<Box<super::Offered>>,
    /// `$ssl_early_data`: the request came in 0-RTT data, before the handshake ended
    /// (taken again for the next request).
    pub early_data: bool,
    /// `$ssl_session_id`.
    pub session_id: SessionId,
}

impl TlsVars {
    /// The verification result under `trust`, judged once per connection.
    pub fn verify(&self, trust: &super::ClientTrust) -> &super::Verified {
        self.verified.get_or_init(|| trust.check(&self.peer_chain))
    }

    /// Why the `ssl_ocsp` checks failed the chain (nginx's `ngx_ssl_ocsp_get_status`);
    /// `None` when they passed or were not made.
    pub fn ocsp_failure(&self) -> Option<&'static str> {
        self.ocsp.get().and_then(super::OcspOutcome::reason)
    }
}

impl TlsVars {
    /// The values of `session`, once its handshake is done.
    pub fn of(session: &Session) -> Option<TlsVars> {
        let State::Open(conn) = &session.state else {
            return None;
        };
        // A request in 0-RTT data is read before the handshake ends (nginx's
        // `!SSL_is_init_finished`); otherwise the values wait for its end.
        let early_data = session.early.replace(false);
        if conn.is_handshaking() && !early_data {
            return None;
        }
        let tls13 = conn.protocol_version()? == rustls::ProtocolVersion::TLSv1_3;
        // OpenSSL's session id: under TLS 1.2 the ServerHello's (the id a stateful
        // resumption finds the session by, or the one a client sent with its ticket); under
        // TLS 1.3 the ServerHello's only echoes the client's, and OpenSSL gives the session
        // a fresh random id with each ticket it issues (none without tickets).
        let session_id = match (tls13, session.tls13_tickets) {
            (false, _) => SessionId::Hello(session.hello_id.clone()),
            (true, true) => SessionId::Ticketed(std::cell::OnceCell::new()),
            (true, false) => SessionId::None,
        };
        Some(TlsVars {
            early_data,
            session_id,
            protocol: match conn.protocol_version()? {
                rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
                rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
                _ => return None,
            },
            cipher: super::ciphers::openssl_name(conn.negotiated_cipher_suite()?.suite())?,
            server_name: conn.server_name().map(str::to_owned),
            reused: conn.handshake_kind() == Some(HandshakeKind::Resumed),
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            curve: conn
                .negotiated_key_exchange_group()
                .and_then(|g| super::ciphers::curve_name(g.name())),
            peer_chain: conn
                .peer_certificates()
                .map(|c| c.iter().map(|d| d.clone().into_owned()).collect())
                .unwrap_or_default(),
            verified: std::cell::OnceCell::new(),
            ocsp: std::cell::Cell::new(None),
            offered: session.offered.clone(),
        })
    }
}

impl Session {
    /// A session waiting for the client's hello.
    pub fn accepting() -> Session {
        Session {
            state: State::Hello(Box::default()),
            spoke_tls: false,
            offered: None,
            kernel_allowed: false,
            early: std::cell::Cell::new(false),
            hello_id: None,
            tls13_tickets: false,
        }
    }

    /// Whether the handshake chose HTTP/2 by ALPN.
    pub fn alpn_is_h2(&self) -> bool {
        matches!(&self.state, State::Open(c) if c.alpn_protocol() == Some(b"h2"))
    }

    /// Whether the handshake waits for the client's last flight: what is written now waits
    /// in the session until it comes (a connection must not end before, or it is lost).
    pub fn is_handshaking(&self) -> bool {
        matches!(&self.state, State::Open(c) if c.is_handshaking())
    }

    /// Whether the hello is still being read.
    pub fn is_accepting(&self) -> bool {
        matches!(self.state, State::Hello(_))
    }

    /// Reads the client's hello as far as the socket allows.
    pub fn hello(&mut self, sock: &mut TcpStream) -> Hello {
        let State::Hello(acceptor) = &mut self.state else {
            return Hello::Failed("SSL_do_handshake() failed (hello read twice)".into());
        };
        if !self.spoke_tls {
            let mut first = [0u8; 1];
            match sock.peek(&mut first) {
                Ok(0) => return Hello::Closed,
                Ok(_) if first[0] == RECORD_HANDSHAKE => self.spoke_tls = true,
                Ok(_) if first[0] & SSLV2_HELLO_BIT != 0 => {
                    count(crate::status::Field::SslHandshakesFailed);
                    return Hello::Failed(
                        "SSL_do_handshake() failed (SSL: an SSLv2 hello, which rustls does not speak)"
                            .into(),
                    );
                }
                Ok(_) => return Hello::Plain,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Hello::Wait,
                Err(e) => return Hello::Failed(format!("recv() failed ({e})")),
            }
        }
        loop {
            match acceptor.accept() {
                Ok(Some(accepted)) => {
                    self.state = State::Gone;
                    return Hello::Ready(Box::new(accepted));
                }
                Ok(None) => {}
                Err((e, mut alert)) => {
                    let _ = alert.write_all(sock);
                    self.state = State::Gone;
                    count(crate::status::Field::SslHandshakesFailed);
                    return Hello::Failed(format!("SSL_do_handshake() failed (SSL: {e})"));
                }
            }
            match acceptor.read_tls(sock) {
                Ok(0) => return Hello::Closed,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Hello::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Hello::Failed(format!("SSL_do_handshake() failed (SSL: {e})")),
            }
        }
    }

    /// Hands the hello bytes that came with a PROXY protocol header (read from the socket
    /// before TLS) to the hello's reader.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        let State::Hello(acceptor) = &mut self.state else {
            return;
        };
        if !bytes.is_empty() {
            // What follows a PROXY header must be a hello: anything else fails as one.
            self.spoke_tls = true;
        }
        while !bytes.is_empty() {
            if acceptor.read_tls(&mut bytes).is_err() {
                break;
            }
        }
    }

    /// Goes on with the handshake under `config` (the server SNI chose).
    pub fn start(
        &mut self,
        accepted: Box<Accepted>,
        config: Arc<ServerConfig>,
        sock: &mut TcpStream,
    ) -> Result<(), String> {
        self.offered = Some(Box::new(super::Offered::of(&accepted.client_hello())));
        self.tls13_tickets = config.send_tls13_tickets > 0;
        match accepted.into_connection(config) {
            Ok(mut conn) => {
                if let Err(e) = conn.process_new_packets() {
                    count(crate::status::Field::SslHandshakesFailed);
                    return Err(format!("SSL_do_handshake() failed (SSL: {e})"));
                }
                // The first flight leaves through a tap that reads the ServerHello's
                // session id (`$ssl_session_id`); the rest goes as usual.
                if conn.wants_write() {
                    let mut tap = Tap {
                        sock,
                        seen: Vec::with_capacity(HELLO_ID_END),
                    };
                    match conn.write_tls(&mut tap) {
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(format!("SSL_do_handshake() failed ({e})")),
                    }
                    self.hello_id = server_hello_id(&tap.seen);
                }
                self.state = State::Open(Box::new(conn));
                match self.flush(sock) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                    Err(e) => Err(format!("SSL_do_handshake() failed ({e})")),
                }
            }
            Err((e, mut alert)) => {
                let _ = alert.write_all(sock);
                count(crate::status::Field::SslHandshakesFailed);
                Err(format!("SSL_do_handshake() failed (SSL: {e})"))
            }
        }
    }

    /// Refuses the handshake with a fatal `unrecognized_name` alert.
    pub fn reject(&mut self, sock: &mut TcpStream) {
        let _ = sock.write(&ALERT_UNRECOGNIZED_NAME);
        self.state = State::Gone;
        count(crate::status::Field::SslHandshakesFailed);
    }

    /// The server chosen allows kTLS (`ssl_conf_command Options KTLS`).
    pub fn allow_kernel(&mut self) {
        self.kernel_allowed = true;
    }

    /// Whether the kernel does this session's TLS (kTLS): the socket reads and writes
    /// plaintext, and `sendfile(2)` works.
    pub fn in_kernel(&self) -> bool {
        matches!(self.state, State::Kernel)
    }

    /// Moves the session into the kernel (kTLS) when it can go whole: the handshake done,
    /// a cipher the kernel has, no plaintext read ahead and no record waiting to be sent.
    /// `Ok(false)`: it stays on rustls (the kernel lacks kTLS, or rustls holds bytes);
    /// `Err`: the switch failed half-way and the connection must close.
    pub fn to_kernel(&mut self, sock: &TcpStream) -> Result<bool, String> {
        use std::os::fd::AsRawFd;
        let State::Open(conn) = &mut self.state else {
            return Ok(self.in_kernel());
        };
        let idle = self.kernel_allowed
            && !conn.is_handshaking()
            && !conn.wants_write()
            && conn
                .process_new_packets()
                .is_ok_and(|io| io.plaintext_bytes_to_read() == 0 && !io.peer_has_closed())
            && conn
                .negotiated_cipher_suite()
                .is_some_and(|s| super::ktls::suite_supported(s.suite()));
        if !idle || super::ktls::attach(sock.as_raw_fd()) != super::ktls::Ulp::Attached {
            return Ok(false);
        }
        let State::Open(conn) = std::mem::replace(&mut self.state, State::Gone) else {
            return Ok(false);
        };
        super::ktls::offload(*conn, sock.as_raw_fd())?;
        self.state = State::Kernel;
        Ok(true)
    }

    fn open(&mut self) -> io::Result<&mut ServerConnection> {
        match &mut self.state {
            State::Open(c) => Ok(c),
            _ => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }

    /// Reads plaintext into `buf`: what rustls holds first, then as much as the socket has.
    /// `Ok(n < buf.len())` means the socket is drained; `Ok(0)`: the client closed.
    pub fn read(&mut self, sock: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        if self.in_kernel() {
            // A record that is not application data (an alert, a KeyUpdate) fails the
            // kernel's recv: the connection closes on the error.
            return sock.read(buf);
        }
        let State::Open(conn) = &mut self.state else {
            return Err(io::Error::from(io::ErrorKind::NotConnected));
        };
        let mut n = 0;
        loop {
            // 0-RTT data (`ssl_early_data on`) comes first, while the handshake ends.
            if let Some(mut early) = conn.early_data()
                && let Ok(k @ 1..) = early.read(&mut buf[n..])
            {
                n += k;
                self.early.set(true);
                if n == buf.len() {
                    return Ok(n);
                }
            }
            match conn.reader().read(&mut buf[n..]) {
                Ok(0) if n < buf.len() => return Ok(n),
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(n),
                Err(e) => return if n > 0 { Ok(n) } else { Err(e) },
            }
            if n == buf.len() {
                return Ok(n);
            }
            // The handshake's next flight (or a key update's) leaves before more is read.
            while conn.wants_write() {
                match conn.write_tls(sock) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return if n > 0 { Ok(n) } else { Err(e) },
                }
            }
            match conn.read_tls(sock) {
                Ok(0) => return Ok(n),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && n > 0 => return Ok(n),
                Err(e) => return Err(e),
            }
            let handshaking = conn.is_handshaking();
            if let Err(e) = conn.process_new_packets() {
                // rustls queued the alert that tells the client why.
                while conn.wants_write() {
                    if conn.write_tls(sock).is_err() {
                        break;
                    }
                }
                if handshaking {
                    count(crate::status::Field::SslHandshakesFailed);
                }
                return Err(tls_error(handshaking, e));
            }
            if handshaking && !conn.is_handshaking() {
                count_done(conn);
            }
        }
    }

    /// Like [`Session::read`] without taking the bytes: `Ok(1)` when plaintext is there.
    pub fn peek(&mut self, sock: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        if self.in_kernel() {
            return sock.peek(buf);
        }
        let conn = self.open()?;
        loop {
            match conn.reader().fill_buf() {
                Ok([]) => return Ok(0),
                Ok(data) => {
                    let k = data.len().min(buf.len());
                    buf[..k].copy_from_slice(&data[..k]);
                    return Ok(k);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            match conn.read_tls(sock) {
                Ok(0) => return Ok(0),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
            let handshaking = conn.is_handshaking();
            if let Err(e) = conn.process_new_packets() {
                if handshaking {
                    count(crate::status::Field::SslHandshakesFailed);
                }
                return Err(tls_error(handshaking, e));
            }
            if handshaking && !conn.is_handshaking() {
                count_done(conn);
            }
        }
    }

    /// Sends what rustls holds; `WouldBlock` while some is left.
    pub fn flush(&mut self, sock: &mut TcpStream) -> io::Result<()> {
        if self.in_kernel() {
            return Ok(());
        }
        let conn = self.open()?;
        while conn.wants_write() {
            if conn.write_tls(sock)? == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero));
            }
        }
        Ok(())
    }

    /// Whether encrypted bytes wait for the socket.
    pub fn pending(&self) -> bool {
        matches!(&self.state, State::Open(c) if c.wants_write())
    }

    /// Encrypts (some of) `bytes` and sends what the socket takes; the plaintext bytes
    /// taken. `WouldBlock` while earlier records still wait for the socket.
    pub fn write(&mut self, sock: &mut TcpStream, bytes: &[u8]) -> io::Result<usize> {
        if self.in_kernel() {
            return sock.write(bytes);
        }
        self.flush(sock)?;
        let conn = self.open()?;
        let n = conn.writer().write(bytes)?;
        if n == 0 && !bytes.is_empty() {
            return Err(io::Error::from(io::ErrorKind::WouldBlock));
        }
        match self.flush(sock) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }

    /// Sends a `close_notify` (best effort: the connection closes next).
    pub fn close_notify(&mut self, sock: &mut TcpStream) {
        if let State::Open(conn) = &mut self.state {
            conn.send_close_notify();
            let _ = self.flush(sock);
        }
    }
}
