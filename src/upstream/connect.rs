//! Opening an upstream socket as `ngx_event_connect_peer` does: TCP or unix-domain,
//! `SO_KEEPALIVE` (`*_socket_keepalive`), a local address (`*_bind`, with
//! `IP_BIND_ADDRESS_NO_PORT` when no port is given and `IP_TRANSPARENT` for
//! `transparent`), then a non-blocking `connect`.
//!
//! A unix-domain socket is carried in a `mio::net::TcpStream` like a TCP one: the worker
//! only reads, writes, shuts down and closes it (`recv`/`send`/`shutdown`/`close` are the
//! same calls for both families), so the upstream machine, the keep-alive pool and the event table
//! need no second socket type. What differs (no `TCP_NODELAY`, `getpeername` giving a
//! path) is handled here.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use mio::net::TcpStream;
use nix::errno::Errno;
use nix::sys::socket::{
    self, AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6, SockaddrStorage, UnixAddr,
    sockopt,
};

use crate::config::proxy_values::PeerAddr;

/// Socket settings of one request's upstream connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketOptions {
    /// `*_bind`: the local address (port 0: any).
    pub bind: Option<SocketAddr>,
    /// `*_bind ... transparent`
    pub transparent: bool,
    /// `*_socket_keepalive on`
    pub keepalive: bool,
}

/// Why no connection attempt was made.
#[derive(Debug)]
pub enum OpenError {
    /// The socket could not be set up (`socket`, `bind`, a socket option): nginx logs it
    /// (`crit`/`alert`) and answers 500 without trying another server.
    Local(String),
    /// `connect` itself failed at once (refused, unreachable): a failed try, as
    /// nginx's `connect() to ADDR failed`.
    Connect(io::Error),
}

fn local(what: &str, e: Errno) -> OpenError {
    let e = io::Error::from(e);
    OpenError::Local(format!("{what} failed ({})", crate::sys::errno_text(&e)))
}

/// Creates a non-blocking socket to `addr` with `opts` and starts connecting. The result
/// is usually still connecting: wait for writable, then [`connected`].
pub fn open(addr: &PeerAddr, opts: &SocketOptions) -> Result<TcpStream, OpenError> {
    open_checked(addr, opts).map(|(sock, _)| sock)
}

/// [`open`], and whether `connect` finished at once (a unix-domain socket whose server
/// has room in its backlog): the socket is connected, with no `SO_ERROR` to ask for, as
/// `ngx_event_connect_peer` takes a `connect` that returns 0.
pub fn open_checked(addr: &PeerAddr, opts: &SocketOptions) -> Result<(TcpStream, bool), OpenError> {
    let family = match addr {
        PeerAddr::Inet(SocketAddr::V4(_)) => AddressFamily::Inet,
        PeerAddr::Inet(SocketAddr::V6(_)) => AddressFamily::Inet6,
        PeerAddr::Unix(_) => AddressFamily::Unix,
    };
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    let fd: OwnedFd =
        socket::socket(family, SockType::Stream, flags, None).map_err(|e| local("socket()", e))?;
    if opts.keepalive && socket::setsockopt(&fd, sockopt::KeepAlive, &true).is_err() {
        // nginx: "setsockopt(SO_KEEPALIVE) failed, ignored".
    }
    if let (Some(bind), PeerAddr::Inet(_)) = (opts.bind, addr) {
        bind_local(&fd, bind, opts.transparent)?;
    }
    let started = match addr {
        PeerAddr::Inet(SocketAddr::V4(a)) => socket::connect(fd.as_raw_fd(), &SockaddrIn::from(*a)),
        PeerAddr::Inet(SocketAddr::V6(a)) => {
            socket::connect(fd.as_raw_fd(), &SockaddrIn6::from(*a))
        }
        PeerAddr::Unix(path) => {
            let unix = UnixAddr::new(&**path).map_err(|e| local("socket()", e))?;
            socket::connect(fd.as_raw_fd(), &unix)
        }
    };
    let done = match started {
        Ok(()) => true,
        Err(Errno::EINPROGRESS) => false,
        // Linux answers EAGAIN, not ECONNREFUSED, on a unix socket whose backlog is full;
        // nginx counts it as a refusal.
        Err(e) => return Err(OpenError::Connect(io::Error::from(e))),
    };
    let stream = std::net::TcpStream::from(fd);
    if matches!(addr, PeerAddr::Inet(_)) {
        let _ = stream.set_nodelay(true);
    }
    Ok((TcpStream::from_std(stream), done))
}

/// `*_bind`: the local address before connecting.
fn bind_local(fd: &OwnedFd, bind: SocketAddr, transparent: bool) -> Result<(), OpenError> {
    if transparent {
        match bind {
            SocketAddr::V4(_) => socket::setsockopt(fd, sockopt::IpTransparent, &true)
                .map_err(|e| local("setsockopt(IP_TRANSPARENT)", e))?,
            SocketAddr::V6(_) => crate::sys::set_ipv6_transparent(fd.as_raw_fd()).map_err(|e| {
                let text = crate::sys::errno_text(&e);
                OpenError::Local(format!("setsockopt(IPV6_TRANSPARENT) failed ({text})"))
            })?,
        }
    }
    if bind.port() == 0 && bind.is_ipv4() {
        // Let connect() pick the port, so that many connections from one local address
        // to different servers can share ports (nginx does the same); refused by old
        // kernels, then ignored.
        let _ = socket::setsockopt(fd, sockopt::IpBindAddressNoPort, &true);
    }
    let result = match bind {
        SocketAddr::V4(a) => socket::bind(fd.as_raw_fd(), &SockaddrIn::from(a)),
        SocketAddr::V6(a) => socket::bind(fd.as_raw_fd(), &SockaddrIn6::from(a)),
    };
    result.map_err(|e| {
        let text = crate::sys::errno_text(&io::Error::from(e));
        OpenError::Local(format!("bind({bind}) failed ({text})"))
    })
}

/// Whether a connect started by [`open`] has finished: `Ok(true)` connected,
/// `Ok(false)` not yet, `Err` the connection failed (`SO_ERROR`).
pub fn connected(sock: &TcpStream) -> io::Result<bool> {
    if let Some(e) = sock.take_error()? {
        return Err(e);
    }
    match socket::getpeername::<SockaddrStorage>(sock.as_raw_fd()) {
        Ok(_) => Ok(true),
        Err(Errno::ENOTCONN) => Ok(false),
        Err(e) => Err(io::Error::from(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    fn wait_connected(s: &TcpStream) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !connected(s).expect("connect") {
            assert!(Instant::now() < deadline, "not connected");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn tcp_with_a_bound_local_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let opts = SocketOptions {
            bind: Some("127.0.0.1:0".parse().unwrap()),
            keepalive: true,
            ..SocketOptions::default()
        };
        let mut s = open(&PeerAddr::Inet(listener.local_addr().unwrap()), &opts).unwrap();
        let (mut peer, from) = listener.accept().unwrap();
        assert_eq!(from.ip().to_string(), "127.0.0.1");
        wait_connected(&s);
        peer.write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match s.read(&mut buf) {
                Ok(2) => break,
                _ => assert!(Instant::now() < deadline),
            }
        }
        assert_eq!(&buf, b"hi");
    }

    #[test]
    fn unix_socket_and_refusals() {
        let dir = std::env::temp_dir().join(format!("portico-connect-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("s.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let addr = PeerAddr::Unix(std::rc::Rc::from(path.as_path()));
        let mut s = open(&addr, &SocketOptions::default()).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        wait_connected(&s);
        s.write_all(b"x").unwrap();
        let mut buf = [0u8; 1];
        peer.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"x");
        drop(listener);
        let _ = std::fs::remove_file(&path);
        assert!(matches!(
            open(&addr, &SocketOptions::default()),
            Err(OpenError::Connect(_))
        ));
        let opts = SocketOptions {
            bind: Some("192.0.2.1:0".parse().unwrap()),
            ..SocketOptions::default()
        };
        let to = PeerAddr::Inet("127.0.0.1:9".parse().unwrap());
        match open(&to, &opts) {
            Err(OpenError::Local(m)) => assert!(m.starts_with("bind(192.0.2.1:0) failed"), "{m}"),
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
