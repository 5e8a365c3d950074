//! The little `unsafe` Portico needs: syscalls that neither std nor mio expose.
//!
//! Every function here is a thin, checked wrapper: it returns `io::Result` and never panics.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `sendfile(2)` from `file_fd` at `*offset` into `sock_fd`; advances `offset`.
pub fn sendfile(
    sock_fd: RawFd,
    file_fd: RawFd,
    offset: &mut u64,
    count: usize,
) -> io::Result<usize> {
    let mut off = *offset as libc::off_t;
    // SAFETY: both fds are owned by the caller; `off` is a valid pointer for the call.
    let n = unsafe { libc::sendfile(sock_fd, file_fd, &mut off, count) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    *offset = off as u64;
    Ok(n as usize)
}

/// `pread(2)` into `buf` at `offset`.
pub fn pread(fd: RawFd, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    // SAFETY: `buf` is a valid writable region of `buf.len()` bytes.
    let n = unsafe {
        libc::pread(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            offset as libc::off_t,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `writev(2)` of two slices (response head and a small body) in one call.
pub fn writev2(fd: RawFd, a: &[u8], b: &[u8]) -> io::Result<usize> {
    writev(fd, &[a, b])
}

/// `writev(2)` of `a`, `b` then `c`.
pub fn writev3(fd: RawFd, a: &[u8], b: &[u8], c: &[u8]) -> io::Result<usize> {
    writev(fd, &[a, b, c])
}

fn writev<const N: usize>(fd: RawFd, parts: &[&[u8]; N]) -> io::Result<usize> {
    let iov = parts.map(|p| libc::iovec {
        iov_base: p.as_ptr() as *mut _,
        iov_len: p.len(),
    });
    // SAFETY: the iovecs point at live slices for the duration of the call.
    let n = unsafe { libc::writev(fd, iov.as_ptr(), N as libc::c_int) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a local c_int with its exact size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// `send(2)` with `MSG_MORE`: the kernel keeps these bytes back until more follow (the
/// next `sendfile`), so a response head and its file body share segments.
pub fn send_more(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe a live slice for the duration of the call.
    let n = unsafe {
        libc::send(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_MORE | libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// The kernel's `TCP_INFO` of a socket (`$tcpinfo_*`).
pub fn tcp_info(fd: RawFd) -> io::Result<libc::tcp_info> {
    // SAFETY: tcp_info is plain old data; the kernel fills at most `len` bytes of it.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        );
        if rc == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(info)
    }
}

/// Keeps the process's permitted capabilities across the coming `setuid` (nginx does so for
/// `proxy_bind ... transparent`).
pub fn keep_capabilities() -> io::Result<()> {
    cvt(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) }).map(drop)
}

/// After `setuid`: `CAP_NET_RAW` effective and permitted, and nothing else, so the worker
/// may bind upstream sockets to non-local addresses (`IP_TRANSPARENT`), as nginx's worker.
pub fn net_raw_capability_only() -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    const CAP_NET_RAW: u32 = 13;
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let bit = 1u32 << CAP_NET_RAW;
    let data = [
        Data {
            effective: bit,
            permitted: bit,
            inheritable: 0,
        },
        Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        },
    ];
    // SAFETY: capset(2) reads one header and two data structs of the layouts above.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `IPV6_TRANSPARENT` on a socket (nix has only the IPv4 option): `proxy_bind ...
/// transparent` to a non-local IPv6 address.
pub fn set_ipv6_transparent(fd: RawFd) -> io::Result<()> {
    setsockopt_int(fd, libc::SOL_IPV6, libc::IPV6_TRANSPARENT, 1)
}

/// `TCP_NODELAY` on or off.
pub fn set_tcp_nodelay(fd: RawFd, on: bool) -> io::Result<()> {
    setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, on as libc::c_int)
}

/// `SO_LINGER` with a zero timeout: the next close sends RST (for a timed-out client, as nginx's
/// `reset_timedout_connection`).
pub fn set_linger_zero(fd: RawFd) -> io::Result<()> {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: pointer to a local `linger` with its exact size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Registers a listening socket with `EPOLLIN | EPOLLEXCLUSIVE` (level-triggered), so that one
/// worker wakes per incoming connection. mio cannot express this flag.
pub fn epoll_add_exclusive(epoll_fd: RawFd, fd: RawFd, token: usize) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLEXCLUSIVE) as u32,
        u64: token as u64,
    };
    // SAFETY: `ev` is a valid epoll_event for the duration of the call.
    cvt(unsafe { libc::epoll_ctl(epoll_fd, libc::EPOLL_CTL_ADD, fd, &mut ev) }).map(drop)
}

/// Removes `fd` from the epoll set (a listener, at graceful shutdown).
pub fn epoll_del(epoll_fd: RawFd, fd: RawFd) -> io::Result<()> {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: `ev` is ignored by EPOLL_CTL_DEL but must be non-null on old kernels.
    cvt(unsafe { libc::epoll_ctl(epoll_fd, libc::EPOLL_CTL_DEL, fd, &mut ev) }).map(drop)
}

/// Raises `RLIMIT_NOFILE` (both limits) to `n` (`worker_rlimit_nofile`).
pub fn set_nofile_limit(n: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: n as libc::rlim_t,
        rlim_max: n as libc::rlim_t,
    };
    // SAFETY: pointer to a local rlimit.
    cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }).map(drop)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (used when no `worker_rlimit_nofile` is set,
/// so `worker_connections` is not capped by a small default soft limit).
pub fn raise_nofile_soft_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: pointer to a local rlimit.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: as above.
    cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
    Ok(lim.rlim_cur)
}

/// Pins the calling process to `cpus` (numbers below `CPU_SETSIZE`; others are left out).
pub fn set_cpu_affinity(cpus: impl IntoIterator<Item = usize>) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET writes within it for cpu < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in cpus {
            if cpu < libc::CPU_SETSIZE as usize {
                libc::CPU_SET(cpu, &mut set);
            }
        }
        cvt(libc::sched_setaffinity(
            0,
            std::mem::size_of::<libc::cpu_set_t>(),
            &set,
        ))
        .map(drop)
    }
}

/// The CPUs this process may run on, as a list of CPU numbers.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data filled by the kernel.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

/// The signals a Portico process reacts to, in the order of [`take_signal`]'s flags.
pub const HANDLED_SIGNALS: [libc::c_int; 8] = [
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCHLD,
];

static SIGNAL_PIPE_WR: AtomicI32 = AtomicI32::new(-1);
static PENDING: [AtomicBool; 8] = [const { AtomicBool::new(false) }; 8];
/// The pid that sent each pending signal (`si_pid`; 0 when the kernel sent it), for nginx's
/// `signal 15 (SIGTERM) received from 1234, exiting`.
static SENDER: [AtomicI32; 8] = [const { AtomicI32::new(0) }; 8];

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // Async-signal-safe only: record the sender, set a flag, write one byte to the self-pipe.
    if let Some(i) = HANDLED_SIGNALS.iter().position(|&s| s == sig) {
        // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t (or null, checked).
        let from = if info.is_null() {
            0
        } else {
            unsafe { (*info).si_pid() }
        };
        SENDER[i].store(from, Ordering::SeqCst);
        PENDING[i].store(true, Ordering::SeqCst);
    }
    let fd = SIGNAL_PIPE_WR.load(Ordering::SeqCst);
    if fd >= 0 {
        let saved = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; a full pipe just drops the wake-up byte,
        // which is fine because the flag above is already set.
        unsafe {
            libc::write(fd, (&byte as *const u8).cast(), 1);
            *libc::__errno_location() = saved;
        }
    }
}

/// Creates a non-blocking self-pipe and installs handlers for [`HANDLED_SIGNALS`] that set a flag
/// and write a byte to it. Returns the read end, to be registered in the event loop.
pub fn install_signal_pipe() -> io::Result<RawFd> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for two descriptors.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
    let old = SIGNAL_PIPE_WR.swap(fds[1], Ordering::SeqCst);
    if old >= 0 {
        // SAFETY: closing our own previous pipe end (the master's, inherited by a worker).
        unsafe { libc::close(old) };
    }
    for &sig in &HANDLED_SIGNALS {
        // SAFETY: installs a handler that only does async-signal-safe work.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART | libc::SA_SIGINFO;
            libc::sigemptyset(&mut sa.sa_mask);
            cvt(libc::sigaction(sig, &sa, std::ptr::null_mut()))?;
        }
    }
    for i in &PENDING {
        i.store(false, Ordering::SeqCst);
    }
    // A worker starts with these blocked (see `block_handled_signals`): what arrived since
    // its fork is delivered now, to the handlers just installed.
    unblock_handled_signals();
    Ok(fds[0])
}

/// Blocks [`HANDLED_SIGNALS`] and returns the previous mask. The master calls it around
/// `fork()`: a signal sent to a new worker before it has installed its handlers then stays
/// pending instead of killing it with the default action (a reload's QUIT to a worker that
/// was just forked), and is handled once [`install_signal_pipe`] unblocks it.
pub fn block_handled_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to local sets.
    unsafe {
        let set = handled_set();
        libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old);
    }
    old
}

/// Restores a mask saved by [`block_handled_signals`].
pub fn restore_signal_mask(old: &libc::sigset_t) {
    // SAFETY: `old` is a mask sigprocmask filled in.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
}

fn unblock_handled_signals() {
    // SAFETY: a valid set, no old mask wanted.
    unsafe {
        let set = handled_set();
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

fn handled_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set; sigaddset with valid signal numbers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in &HANDLED_SIGNALS {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

/// Empties the self-pipe (after a wake-up).
pub fn drain_pipe(fd: RawFd) {
    let mut buf = [0u8; 64];
    // SAFETY: reads into a local buffer; the fd is non-blocking.
    while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

/// Returns and clears whether `sig` arrived since the last call.
pub fn take_signal(sig: libc::c_int) -> bool {
    HANDLED_SIGNALS
        .iter()
        .position(|&s| s == sig)
        .is_some_and(|i| PENDING[i].swap(false, Ordering::SeqCst))
}

/// The pid that sent the last `sig` (0 if the kernel did, or none arrived yet).
pub fn signal_sender(sig: libc::c_int) -> i32 {
    HANDLED_SIGNALS
        .iter()
        .position(|&s| s == sig)
        .map_or(0, |i| SENDER[i].load(Ordering::SeqCst))
}

/// A signal's name as nginx logs it (`SIGTERM`).
pub fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGWINCH => "SIGWINCH",
        _ => "?",
    }
}

/// Restores default dispositions for the handled signals in a freshly forked worker, which
/// installs its own later; they stay blocked (the master forked with them blocked) until it
/// does, and every other signal is unblocked.
pub fn reset_signals() {
    for &sig in &HANDLED_SIGNALS {
        // SAFETY: resetting a disposition to SIG_DFL is always valid.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: the handled set as the whole mask.
    unsafe {
        let set = handled_set();
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
    // A SIGPIPE from a closed client socket must not kill a worker.
    // SAFETY: ignoring SIGPIPE is always valid.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Sends `sig` to `pid`.
pub fn kill(pid: i32, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: kill(2) has no memory-safety preconditions.
    cvt(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// The memory `ps` reads a process's command line from: the argv strings and, once the
/// environment has been moved out of the way, the environment strings after them
/// (`[arg_start, end)`, as addresses). Zero until [`init_proc_title`] has run.
static TITLE_START: AtomicUsize = AtomicUsize::new(0);
static TITLE_END: AtomicUsize = AtomicUsize::new(0);

/// Prepares [`set_proc_title`], as nginx's `ngx_init_setproctitle`: finds where the kernel put
/// the argv and environment strings (`/proc/self/stat` fields 48 to 51), copies the
/// environment strings to the heap and points `environ` at the copies, so that a title
/// longer than the original command line may overwrite them. Call it once, while the process
/// is single-threaded and before anything keeps a pointer into the environment. Read
/// `std::env::args` before the first title: the argv strings are overwritten by it.
/// Without `/proc`, titles are silently not set.
pub fn init_proc_title() {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command's closing parenthesis start at field 3 (state).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return;
    };
    let fields: Vec<usize> = rest
        .split_whitespace()
        .skip(45)
        .take(4)
        .filter_map(|f| f.parse().ok())
        .collect();
    let &[arg_start, arg_end, env_start, env_end] = fields.as_slice() else {
        return;
    };
    if arg_start == 0 || arg_end <= arg_start {
        return;
    }
    let mut end = arg_end;
    // The environment strings may be reused only when they follow argv directly and every
    // one of them could be moved.
    if env_start == arg_end && env_end > env_start && move_environment(env_start, env_end) {
        end = env_end;
    }
    TITLE_START.store(arg_start, Ordering::SeqCst);
    TITLE_END.store(end, Ordering::SeqCst);
}

/// Copies every environment string that lies in `[start, end)` to the heap (deliberately
/// leaked: the environment lives as long as the process) and points `environ` at the copy.
fn move_environment(start: usize, end: usize) -> bool {
    // SAFETY: single-threaded (see `init_proc_title`); `environ` is a NULL-terminated array
    // of NUL-terminated strings, and each pointer is replaced by a valid copy of its string.
    unsafe {
        let env = libc::environ;
        if env.is_null() {
            return true;
        }
        let mut i = 0;
        while !(*env.add(i)).is_null() {
            let var = *env.add(i);
            if (start..end).contains(&(var as usize)) {
                let copy = libc::strdup(var);
                if copy.is_null() {
                    return false;
                }
                *env.add(i) = copy;
            }
            i += 1;
        }
    }
    true
}

/// Sets the command line `ps` shows (`/proc/PID/cmdline`), as nginx's `ngx_setproctitle`:
/// the title overwrites the argv memory (and the moved-out environment after it), cut to fit,
/// and the rest is filled with NULs. `prctl(PR_SET_NAME)` is not used: like nginx, the
/// process keeps its executable's name in `comm` (what `pidof`/`top` match).
pub fn set_proc_title(title: &str) {
    let start = TITLE_START.load(Ordering::SeqCst);
    let end = TITLE_END.load(Ordering::SeqCst);
    if start == 0 || end <= start {
        return;
    }
    let room = end - start;
    let n = title.len().min(room - 1);
    // SAFETY: `[start, end)` is this process's own argv/environment string memory (writable
    // stack pages the kernel filled at exec), which nothing reads any more after
    // `init_proc_title` moved the environment; `n < room`.
    unsafe {
        std::ptr::copy_nonoverlapping(title.as_ptr(), start as *mut u8, n);
        std::ptr::write_bytes((start + n) as *mut u8, 0, room - n);
    }
}

/// Whether the process runs as root (decides `user` and the default listen port).
pub fn is_root() -> bool {
    // SAFETY: geteuid never fails.
    unsafe { libc::geteuid() == 0 }
}

/// nginx's rendering of an OS error: `98: Address already in use`.
pub fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let mut buf = [0 as libc::c_char; 128];
            // SAFETY: the XSI strerror_r writes a NUL-terminated string into `buf`.
            let text = unsafe {
                if libc::strerror_r(code, buf.as_mut_ptr(), buf.len()) == 0 {
                    std::ffi::CStr::from_ptr(buf.as_ptr())
                        .to_string_lossy()
                        .into_owned()
                } else {
                    format!("Unknown error {code}")
                }
            };
            format!("{code}: {text}")
        }
        None => e.to_string(),
    }
}

/// What tells one version of a file from another: when none of these changed, neither did
/// the bytes a path leads to (a rename onto the path changes `ino`; a write changes `mtime`
/// and `ctime`, a chmod `ctime` and `mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileStamp {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// `st_mode` (type and permissions).
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
    /// Modification time: seconds, nanoseconds.
    pub mtime: (i64, u32),
    /// Status-change time: seconds, nanoseconds.
    pub ctime: (i64, u32),
}

impl FileStamp {
    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    fn from_statx(s: &libc::statx) -> FileStamp {
        FileStamp {
            dev: (u64::from(s.stx_dev_major) << 32) | u64::from(s.stx_dev_minor),
            ino: s.stx_ino,
            mode: u32::from(s.stx_mode),
            size: s.stx_size,
            mtime: (s.stx_mtime.tv_sec, s.stx_mtime.tv_nsec),
            ctime: (s.stx_ctime.tv_sec, s.stx_ctime.tv_nsec),
        }
    }
}

/// `statx(2)` of a path (following symlinks, as `open` does). Paths longer than
/// `PATH_MAX` fail with `ENAMETOOLONG`, as the kernel would.
pub fn stat_path(path: &[u8]) -> io::Result<FileStamp> {
    // Left uninitialised: zeroing PATH_MAX bytes cost more than the rest of a static hit.
    let mut c_path = std::mem::MaybeUninit::<[u8; libc::PATH_MAX as usize]>::uninit();
    if path.len() >= libc::PATH_MAX as usize {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    if memchr::memchr(0, path).is_some() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let c_ptr = c_path.as_mut_ptr().cast::<u8>();
    // SAFETY: `path.len() + 1 <= PATH_MAX`, so the copy and its terminating NUL stay inside
    // the buffer; only those bytes are read by the kernel.
    unsafe {
        std::ptr::copy_nonoverlapping(path.as_ptr(), c_ptr, path.len());
        c_ptr.add(path.len()).write(0);
    }
    statx(libc::AT_FDCWD, c_ptr.cast_const().cast(), 0)
}

/// `statx(2)` of a path already NUL-terminated (no copy).
pub fn stat_cstr(path: &std::ffi::CStr) -> io::Result<FileStamp> {
    statx(libc::AT_FDCWD, path.as_ptr(), 0)
}

/// `statx(2)` of an open file.
pub fn stat_fd(fd: RawFd) -> io::Result<FileStamp> {
    statx(fd, c"".as_ptr(), libc::AT_EMPTY_PATH)
}

fn statx(dirfd: RawFd, path: *const libc::c_char, flags: libc::c_int) -> io::Result<FileStamp> {
    // SAFETY: statx is plain data; all-zero is a valid value that the kernel overwrites.
    let mut buf: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and outlives the call; `buf` is a live statx.
    cvt(unsafe {
        libc::statx(
            dirfd,
            path,
            flags | libc::AT_STATX_SYNC_AS_STAT,
            libc::STATX_BASIC_STATS,
            &mut buf,
        )
    })?;
    Ok(FileStamp::from_statx(&buf))
}

/// `openat(2)`: opens `name` relative to the directory `dir` (the current directory when
/// `None`), close-on-exec. Used to open a path one component at a time (`disable_symlinks`).
pub fn openat(
    dir: Option<RawFd>,
    name: &std::ffi::CStr,
    flags: libc::c_int,
) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: `name` is a valid NUL-terminated string; the descriptor returned is new and
    // owned by nobody else.
    let fd = cvt(unsafe {
        libc::openat(
            dir.unwrap_or(libc::AT_FDCWD),
            name.as_ptr(),
            flags | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: see above.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

#[link(name = "crypt")]
unsafe extern "C" {
    #[link_name = "crypt"]
    fn libc_crypt(key: *const libc::c_char, salt: *const libc::c_char) -> *mut libc::c_char;
}

/// The system's `crypt(3)` (libxcrypt on Linux): `key` hashed with the scheme and salt of
/// `salt`. A worker is single-threaded, so the static result buffer is safe to read before
/// the next call. `Err` when `crypt` returns nothing (nginx's `crypt_r() failed`); an unknown
/// scheme or a malformed salt gives libxcrypt's failure token (`*0`), which never equals the
/// stored value, so the password simply does not match, as with nginx.
pub fn crypt(key: &[u8], salt: &[u8]) -> io::Result<Vec<u8>> {
    let salt = &salt[..memchr::memchr(0, salt).unwrap_or(salt.len())];
    let (Ok(k), Ok(s)) = (std::ffi::CString::new(key), std::ffi::CString::new(salt)) else {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    };
    // SAFETY: two NUL-terminated strings; the result, when not null, is a NUL-terminated
    // string in libcrypt's static buffer, copied before anything else can call crypt.
    let out = unsafe {
        let p = libc_crypt(k.as_ptr(), s.as_ptr());
        if p.is_null() {
            return Err(io::Error::last_os_error());
        }
        std::ffi::CStr::from_ptr(p).to_bytes().to_vec()
    };
    Ok(out)
}

// ---- resolver ----

/// Fills `buf` with random bytes from the kernel (`getrandom(2)`, without blocking); false
/// when the kernel could not (the caller then makes do with weaker bytes).
pub fn fill_random(buf: &mut [u8]) -> bool {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is a valid, writable buffer of `rest.len()` bytes.
        let n =
            unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), libc::GRND_NONBLOCK) };
        if n <= 0 {
            if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return false;
        }
        filled += n as usize;
    }
    true
}

// ---- worker process set-up (main context, issue 18) ----

/// `setpriority(PRIO_PROCESS, 0, nice)` (`worker_priority`).
pub fn set_priority(nice: i32) -> io::Result<()> {
    // SAFETY: plain syscall on the calling process.
    cvt(unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) }).map(drop)
}

/// Replaces the process's environment with exactly `vars` (nginx's `environ = env` in
/// `ngx_set_environment`). Call it only while the process is single-threaded: a worker,
/// before its loop starts.
pub fn replace_environment(vars: &[(String, String)]) {
    let current: Vec<std::ffi::OsString> = std::env::vars_os().map(|(k, _)| k).collect();
    // SAFETY: the process is single-threaded (see above), so nothing reads the environment
    // while it changes.
    unsafe {
        // All removed first, so the new environment is in `vars`' order, as nginx's.
        for name in current {
            std::env::remove_var(name);
        }
        for (name, value) in vars {
            // `set_var` refuses (panics on) names with `=` or NUL, which the environment of a
            // process cannot hold anyway: such a variable is left out.
            if !name.is_empty() && !name.contains(['=', '\0']) && !value.contains('\0') {
                std::env::set_var(name, value);
            }
        }
    }
}

/// Points the kernel's record of this process's environment (what `/proc/PID/environ`
/// shows) at a copy of its current environment. The original strings are where the process
/// title is written (as nginx's setproctitle does), so without this `/proc/PID/environ`
/// would show the title's leftovers. Uses `PR_SET_MM_MAP`, which needs no privilege on a
/// kernel built with checkpoint/restore (most are); elsewhere it fails and nothing changes.
/// Call it only while the process is single-threaded: the call restates the heap's end
/// (`brk`), which another thread's allocation could move in between.
pub fn publish_environment() -> io::Result<()> {
    let mut block = Vec::new();
    for (k, v) in std::env::vars_os() {
        use std::os::unix::ffi::OsStrExt;
        block.extend_from_slice(k.as_bytes());
        block.push(b'=');
        block.extend_from_slice(v.as_bytes());
        block.push(0);
    }
    if block.is_empty() {
        block.push(0);
    }
    // Lives as long as the process: the kernel reads it whenever /proc/PID/environ is read.
    let block: &'static [u8] = Box::leak(block.into_boxed_slice());
    let f = proc_stat_fields().ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
    // The kernel's `struct prctl_mm_map`: everything as it is, but the environment.
    #[repr(C)]
    struct MmMap {
        start_code: u64,
        end_code: u64,
        start_data: u64,
        end_data: u64,
        start_brk: u64,
        brk: u64,
        start_stack: u64,
        arg_start: u64,
        arg_end: u64,
        env_start: u64,
        env_end: u64,
        auxv: *mut u64,
        auxv_size: u32,
        exe_fd: u32,
    }
    let mut map = MmMap {
        start_code: f.start_code,
        end_code: f.end_code,
        start_data: f.start_data,
        end_data: f.end_data,
        start_brk: f.start_brk,
        brk: 0,
        start_stack: f.start_stack,
        arg_start: f.arg_start,
        arg_end: f.arg_end,
        env_start: block.as_ptr() as u64,
        env_end: block.as_ptr() as u64 + block.len() as u64,
        // No auxiliary vector and no executable: both stay.
        auxv: std::ptr::null_mut(),
        auxv_size: 0,
        exe_fd: u32::MAX,
    };
    // SAFETY: sbrk(0) only reads the current break. Nothing allocates between it and the
    // prctl, and the process is single-threaded, so the break restated is the real one.
    // PR_SET_MM_MAP reads `map` (of the size given) and changes only the kernel's record of
    // these addresses, all of which are this process's own.
    unsafe {
        map.brk = libc::sbrk(0) as u64;
        cvt(libc::prctl(
            libc::PR_SET_MM,
            libc::PR_SET_MM_MAP as libc::c_ulong,
            &map as *const MmMap as libc::c_ulong,
            std::mem::size_of::<MmMap>() as libc::c_ulong,
            0 as libc::c_ulong,
        ))
        .map(drop)
    }
}

/// The memory-layout fields of `/proc/self/stat`.
struct StatFields {
    start_code: u64,
    end_code: u64,
    start_stack: u64,
    start_data: u64,
    end_data: u64,
    start_brk: u64,
    arg_start: u64,
    arg_end: u64,
}

/// Fields 26-28 and 45-49 of `/proc/self/stat`.
fn proc_stat_fields() -> Option<StatFields> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    // Field 3 (state) is the first after the command's parenthesis.
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let field = |n: usize| fields.get(n - 3).copied();
    Some(StatFields {
        start_code: field(26)?,
        end_code: field(27)?,
        start_stack: field(28)?,
        start_data: field(45)?,
        end_data: field(46)?,
        start_brk: field(47)?,
        arg_start: field(48)?,
        arg_end: field(49)?,
    })
}
