//! Listening sockets: bound once by the master (before any fork, so port 80 needs root only
//! there), kept across reloads while their address stays in the config, inherited by workers.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::config::{ListenAddr, ListenConf};
use crate::elog;

/// A bound, listening socket and the `listen` options it was made with.
#[derive(Debug)]
pub struct Listener {
    /// The options of the first `listen` naming this address.
    pub conf: ListenConf,
    /// The shared socket, or with `reuseport` one socket per worker slot.
    pub fds: Vec<OwnedFd>,
}

impl Listener {
    /// The socket worker `slot` accepts on.
    pub fn fd_for(&self, slot: usize) -> RawFd {
        let i = if self.conf.reuseport {
            slot % self.fds.len().max(1)
        } else {
            0
        };
        self.fds.get(i).map_or(-1, |f| f.as_raw_fd())
    }
}

impl Listener {
    /// Keeps only the socket worker `slot` accepts on (a `reuseport` address has one per
    /// worker); the others are closed here, in the worker, so that only the master and the
    /// worker owning a socket keep it open.
    pub fn for_slot(mut self, slot: usize) -> Listener {
        if self.conf.reuseport && !self.fds.is_empty() {
            let keep = slot % self.fds.len();
            self.fds = std::mem::take(&mut self.fds)
                .into_iter()
                .skip(keep)
                .take(1)
                .collect();
        }
        self
    }
}

/// A unix-domain socket's address for `path` (the config checked its length).
fn sockaddr_un(path: &std::path::Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: sockaddr_un is plain data.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= sun.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    for (dst, &b) in sun.sun_path.iter_mut().zip(bytes) {
        *dst = b as libc::c_char;
    }
    Ok((
        sun,
        std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
    ))
}

fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data large enough for either family.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

fn set_int(fd: RawFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: pointer to a local c_int with its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as _,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Binds one socket for `conf` (SO_REUSEADDR, IPV6_V6ONLY per `ipv6only`, SO_REUSEPORT with
/// `reuseport`, TCP_NODELAY set once here so accepted sockets inherit it) and listens. A
/// unix-domain socket's file is made readable and writable by all (0666), as nginx does,
/// so that clients of any user can connect.
fn bind_one(conf: &ListenConf) -> Result<OwnedFd, BindError> {
    let family = match &conf.addr {
        ListenAddr::Inet(a) if a.is_ipv4() => libc::AF_INET,
        ListenAddr::Inet(_) => libc::AF_INET6,
        ListenAddr::Unix(_) => libc::AF_UNIX,
    };
    // SAFETY: socket(2) returns a new descriptor we immediately own.
    let raw = unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error().into());
    }
    // SAFETY: `raw` is a fresh, valid descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    set_int(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if conf.reuseport {
        // A unix-domain socket refuses it (EOPNOTSUPP): nginx fails with this call's name.
        set_int(raw, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1).map_err(|err| BindError {
            call: "setsockopt(SO_REUSEPORT)",
            err,
        })?;
    }
    if family == libc::AF_INET6 {
        set_int(
            raw,
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            conf.ipv6only as libc::c_int,
        )?;
    }
    match &conf.addr {
        ListenAddr::Inet(addr) => {
            set_int(raw, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
            let (sa, len) = sockaddr(addr);
            // SAFETY: `sa` holds a valid address of length `len`.
            if unsafe { libc::bind(raw, (&sa as *const libc::sockaddr_storage).cast(), len) } < 0 {
                return Err(io::Error::last_os_error().into());
            }
        }
        ListenAddr::Unix(path) => {
            let (sun, len) = sockaddr_un(path)?;
            // SAFETY: `sun` holds a valid address of length `len`.
            if unsafe { libc::bind(raw, (&sun as *const libc::sockaddr_un).cast(), len) } < 0 {
                return Err(io::Error::last_os_error().into());
            }
            use std::os::unix::fs::PermissionsExt;
            if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)) {
                elog!(
                    crate::log::LogLevel::Emerg,
                    "chmod() \"{}\" failed ({})",
                    path.display(),
                    crate::sys::errno_text(&e)
                );
            }
        }
    }
    // SAFETY: listen(2) on our own socket.
    if unsafe { libc::listen(raw, conf.backlog) } < 0 {
        return Err(io::Error::last_os_error().into());
    }
    configure(raw, conf);
    Ok(fd)
}

/// Why a listening socket could not be made: the call nginx names in its message, and the
/// error.
struct BindError {
    /// `bind() to`, or `setsockopt(SO_REUSEPORT)`.
    call: &'static str,
    err: io::Error,
}

impl BindError {
    /// nginx's line: `bind() to 0.0.0.0:80 failed (98: Address already in use)`.
    fn text(&self, addr: &ListenAddr) -> String {
        format!(
            "{} {addr} failed ({})",
            self.call,
            crate::sys::errno_text(&self.err)
        )
    }
}

impl From<io::Error> for BindError {
    fn from(err: io::Error) -> BindError {
        BindError {
            call: "bind() to",
            err,
        }
    }
}

/// What `-t` checks of the unix-domain sockets in `wanted`, as nginx's test mode does: each
/// is bound (a socket file in use, `EADDRINUSE`, is fine: the running server's), and the
/// file made for the test is removed again. A path that cannot be bound (no such folder, no
/// permission) fails the test with nginx's `bind() to unix:PATH failed (...)`.
pub fn test_unix_binds(wanted: &[ListenConf]) -> Result<(), String> {
    for conf in wanted {
        let ListenAddr::Unix(path) = &conf.addr else {
            continue;
        };
        match bind_one(conf) {
            Ok(fd) => {
                drop(fd);
                remove_socket_file(path, false);
            }
            Err(e) if e.err.raw_os_error() == Some(libc::EADDRINUSE) => {}
            Err(e) => return Err(e.text(&conf.addr)),
        }
    }
    Ok(())
}

/// Removes the files of the unix-domain sockets among `listeners`, as nginx does when its
/// master closes them for good (`ngx_close_listening_sockets`); `announce` logs nginx's
/// `deleting socket PATH` first, as a reload that drops a socket does.
pub fn remove_unix_files(listeners: &[Listener], announce: bool) {
    for path in unix_paths(listeners) {
        remove_socket_file(&path, announce);
    }
}

/// The paths of the unix-domain sockets among `listeners`.
pub fn unix_paths(listeners: &[Listener]) -> Vec<std::rc::Rc<std::path::Path>> {
    listeners
        .iter()
        .filter_map(|l| match &l.conf.addr {
            ListenAddr::Unix(path) => Some(path.clone()),
            ListenAddr::Inet(_) => None,
        })
        .collect()
}

/// Removes one unix-domain socket's file (see [`remove_unix_files`]).
pub fn remove_socket_file(path: &std::path::Path, announce: bool) {
    use crate::log::LogLevel;
    if announce {
        elog!(LogLevel::Warn, "deleting socket {}", path.display());
    }
    if let Err(e) = std::fs::remove_file(path) {
        elog!(
            LogLevel::Emerg,
            "unlink() {} failed ({})",
            path.display(),
            crate::sys::errno_text(&e)
        );
    }
}

/// Sets `listen`'s socket options (`rcvbuf=`, `sndbuf=`, `so_keepalive=`, `fastopen=`,
/// `deferred`) on a listening socket, new or kept over a reload, as nginx's
/// `ngx_configure_listening_sockets`: a failure is an [alert] and the socket serves on.
fn configure(fd: RawFd, conf: &ListenConf) {
    use crate::log::LogLevel;
    let o = &conf.sockopts;
    let (idle, interval, count) = o
        .keepalive
        .map_or((0, 0, 0), |k| (k.idle, k.interval, k.count));
    let settings: [(Option<i32>, libc::c_int, libc::c_int, &str); 8] = [
        (o.rcvbuf, libc::SOL_SOCKET, libc::SO_RCVBUF, "SO_RCVBUF"),
        (o.sndbuf, libc::SOL_SOCKET, libc::SO_SNDBUF, "SO_SNDBUF"),
        (
            o.keepalive.map(|k| k.on.into()),
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            "SO_KEEPALIVE",
        ),
        (
            Some(idle).filter(|&v| v > 0),
            libc::IPPROTO_TCP,
            libc::TCP_KEEPIDLE,
            "TCP_KEEPIDLE",
        ),
        (
            Some(interval).filter(|&v| v > 0),
            libc::IPPROTO_TCP,
            libc::TCP_KEEPINTVL,
            "TCP_KEEPINTVL",
        ),
        (
            Some(count).filter(|&v| v > 0),
            libc::IPPROTO_TCP,
            libc::TCP_KEEPCNT,
            "TCP_KEEPCNT",
        ),
        (
            o.fastopen,
            libc::IPPROTO_TCP,
            libc::TCP_FASTOPEN,
            "TCP_FASTOPEN",
        ),
        (
            o.deferred.then_some(1),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            "TCP_DEFER_ACCEPT",
        ),
    ];
    for (value, level, name, label) in settings {
        let Some(value) = value else {
            continue;
        };
        if let Err(e) = set_int(fd, level, name, value) {
            elog!(
                LogLevel::Alert,
                "setsockopt({label}, {value}) {} failed ({}), ignored",
                conf.addr,
                crate::sys::errno_text(&e)
            );
        }
    }
}

/// Binds every address in `wanted`, reusing a socket from `old` when its address is unchanged
/// (so a reload never closes a socket that still has queued connections). `workers` is the number
/// of sockets a `reuseport` address needs. Errors name the address as nginx does:
/// `bind() to 0.0.0.0:80 failed (98: Address already in use)`.
pub fn bind_all(
    wanted: &[ListenConf],
    old: &mut Vec<Listener>,
    workers: usize,
) -> Result<Vec<Listener>, String> {
    let same = |a: &ListenConf, b: &ListenConf| match (&a.addr, &b.addr) {
        // A unix socket's file can be bound once: the same path keeps its socket.
        (ListenAddr::Unix(x), ListenAddr::Unix(y)) => x == y,
        _ => a.addr == b.addr && a.reuseport == b.reuseport && a.ipv6only == b.ipv6only,
    };
    // Bind everything new first: a failure must leave the running sockets untouched.
    let mut fresh: Vec<Vec<OwnedFd>> = Vec::with_capacity(wanted.len());
    for conf in wanted {
        let have = old
            .iter()
            .find(|l| same(&l.conf, conf))
            .map_or(0, |l| l.fds.len());
        let need = sockets_for(conf, workers);
        let mut fds = Vec::new();
        for _ in have..need {
            fds.push(bind_one(conf).map_err(|e| e.text(&conf.addr))?);
        }
        fresh.push(fds);
    }
    let mut out = Vec::with_capacity(wanted.len());
    for (conf, new_fds) in wanted.iter().zip(fresh) {
        let mut fds = match old.iter().position(|l| same(&l.conf, conf)) {
            Some(i) => {
                let l = old.swap_remove(i);
                if l.conf.backlog != conf.backlog {
                    for fd in &l.fds {
                        // Changing the backlog of a listening socket is a second listen(2).
                        // SAFETY: listen(2) on our own socket.
                        unsafe { libc::listen(fd.as_raw_fd(), conf.backlog) };
                    }
                }
                for fd in &l.fds {
                    configure(fd.as_raw_fd(), conf);
                }
                l.fds
            }
            None => Vec::new(),
        };
        fds.extend(new_fds);
        fds.truncate(sockets_for(conf, workers));
        out.push(Listener {
            conf: conf.clone(),
            fds,
        });
    }
    Ok(out)
}

/// How many sockets `conf` needs: one per worker with `reuseport`, except for a unix-domain
/// path, which can be bound once.
fn sockets_for(conf: &ListenConf, workers: usize) -> usize {
    if conf.reuseport && !is_unix(&conf.addr) {
        workers.max(1)
    } else {
        1
    }
}

/// The environment variable a master started by `USR2` (binary upgrade) finds its inherited
/// listening sockets in, as nginx's `NGINX`: descriptor numbers, each followed by `;`.
pub const INHERITED_SOCKETS_VAR: &str = "PORTICO";

/// The value of [`INHERITED_SOCKETS_VAR`] that hands `listeners` to a new binary.
pub fn inherited_sockets_value(listeners: &[Listener]) -> String {
    let mut v = String::new();
    for l in listeners {
        for fd in &l.fds {
            v.push_str(&fd.as_raw_fd().to_string());
            v.push(';');
        }
    }
    v
}

/// Takes over the listening sockets an old master passed in `value` (`"6;7;"`): each must be
/// a listening stream socket (TCP or unix-domain); its address and `SO_REUSEPORT` decide which `listen` of `wanted`
/// it serves. The result is the "old" list for [`bind_all`], which then binds only what is
/// missing, so an address keeps its socket (and its queue) across the binary upgrade.
/// A socket no `listen` asks for any more is closed. As nginx, a bad number stops the
/// parsing: `invalid socket number "x" in PORTICO environment variable, ignoring the rest
/// of the variable` (returned as the second element, for the error log).
pub fn adopt_inherited(value: &str, wanted: &[ListenConf]) -> (Vec<Listener>, Option<String>) {
    let mut out: Vec<Listener> = Vec::new();
    let mut warning = None;
    for part in value.split([';', ':']).filter(|p| !p.is_empty()) {
        let Some(fd) = part.parse::<RawFd>().ok().filter(|&fd| fd > 2) else {
            warning = Some(bad_number(part));
            break;
        };
        let Some((addr, reuseport)) = listening_socket(fd) else {
            warning = Some(bad_number(part));
            break;
        };
        // SAFETY: `fd` is an open listening socket this process inherited and nothing else in
        // it owns (checked by `listening_socket`); from here on it is owned once.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // Close-on-exec again, as every socket of ours: the next upgrade passes it explicitly.
        // SAFETY: fcntl on an owned descriptor.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        let Some(conf) = wanted
            .iter()
            .find(|c| c.addr == addr && (c.reuseport == reuseport || is_unix(&addr)))
        else {
            continue;
        };
        match out
            .iter_mut()
            .find(|l| l.conf.addr == addr && (l.conf.reuseport == reuseport || is_unix(&addr)))
        {
            Some(l) => l.fds.push(owned),
            None => out.push(Listener {
                conf: conf.clone(),
                fds: vec![owned],
            }),
        }
    }
    (out, warning)
}

fn bad_number(part: &str) -> String {
    format!(
        "invalid socket number \"{part}\" in {INHERITED_SOCKETS_VAR} environment variable, ignoring the rest of the variable"
    )
}

fn is_unix(addr: &ListenAddr) -> bool {
    matches!(addr, ListenAddr::Unix(_))
}

/// The bound address and `SO_REUSEPORT` of `fd` if it is a listening stream socket.
fn listening_socket(fd: RawFd) -> Option<(ListenAddr, bool)> {
    let get = |level, name| {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt into a local c_int; fails harmlessly on a non-socket.
        let r = unsafe {
            libc::getsockopt(
                fd,
                level,
                name,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        (r == 0).then_some(v)
    };
    if get(libc::SOL_SOCKET, libc::SO_TYPE)? != libc::SOCK_STREAM
        || get(libc::SOL_SOCKET, libc::SO_ACCEPTCONN)? == 0
    {
        return None;
    }
    let reuseport = get(libc::SOL_SOCKET, libc::SO_REUSEPORT)? != 0;
    let addr = nix::sys::socket::getsockname::<nix::sys::socket::SockaddrStorage>(fd).ok()?;
    if let Some(path) = addr.as_unix_addr().and_then(|a| a.path()) {
        return Some((ListenAddr::Unix(path.into()), reuseport));
    }
    let addr = if let Some(a) = addr.as_sockaddr_in() {
        SocketAddr::from((a.ip(), a.port()))
    } else {
        let a = addr.as_sockaddr_in6()?;
        SocketAddr::V6(std::net::SocketAddrV6::new(
            a.ip(),
            a.port(),
            a.flowinfo(),
            a.scope_id(),
        ))
    };
    Some((ListenAddr::Inet(addr), reuseport))
}
