//! Process plumbing for the master: daemonizing, forking workers, reaping them.

use std::ffi::CString;
use std::io;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::listener::Listener;
use crate::user::User;

/// What a child of the master does (nginx's process names, used in its log lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Serves connections.
    Worker,
    /// Keeps every cache within `inactive`, `max_size` and `min_free`; respawned.
    CacheManager,
    /// Indexes the caches found on disk at start, then exits; never respawned.
    CacheLoader,
}

impl Role {
    /// nginx's name for the process: `worker process`, `cache manager process`...
    pub fn name(self) -> &'static str {
        match self {
            Role::Worker => "worker process",
            Role::CacheManager => "cache manager process",
            Role::CacheLoader => "cache loader process",
        }
    }
}

/// A child process the master started: a worker or a cache helper.
#[derive(Debug)]
pub struct WorkerProc {
    /// Its pid.
    pub pid: i32,
    /// What it does.
    pub role: Role,
    /// Its slot (0..worker_processes): decides CPU affinity and its `reuseport` socket
    /// (0 for a cache helper).
    pub slot: usize,
    /// The configuration generation it runs.
    pub generation: u64,
    /// When it was started.
    pub started: Instant,
    /// Whether it was told to stop (it is then not respawned).
    pub exiting: bool,
    /// How many workers of its slot died at once in a row before it was started.
    pub fast_deaths: u32,
}

/// Forks a worker. The child takes the listening sockets it serves from (closing the other
/// workers' `reuseport` sockets, which it must not keep alive), closes the master's signal
/// pipe, runs the worker loop and exits; the parent gets the child's pid.
pub fn spawn_worker(
    config: &Config,
    listeners: &mut Vec<Listener>,
    slot: usize,
    user: Option<&User>,
    master_signal_fd: i32,
) -> io::Result<i32> {
    if let Some(pid) = fork_child(Role::Worker, master_signal_fd)? {
        return Ok(pid);
    }
    // This is the child's copy of the master's list: taking it hands the worker ownership, so
    // it can close its listening sockets at a graceful stop.
    let own: Vec<Listener> = std::mem::take(listeners)
        .into_iter()
        .map(|l| l.for_slot(slot))
        .collect();
    if super::worker_init::init_worker_process(config, Some(slot), user).is_err() {
        std::process::exit(WORKER_INIT_FAILED);
    }
    let code = crate::worker::run(config, own, slot);
    // Skip the master's destructors (they would close shared state twice) but flush stdio.
    std::process::exit(code)
}

/// Forks a cache manager or loader (nginx's `ngx_cache_manager_process_cycle`): it closes
/// every listening socket and the master's signal pipe, is set up as a worker is (user,
/// limits, environment; no CPU affinity), and runs [`super::cache_helper::run`]. The parent
/// gets the child's pid.
pub fn spawn_cache_helper(
    config: &Config,
    listeners: &mut Vec<Listener>,
    role: Role,
    user: Option<&User>,
    master_signal_fd: i32,
) -> io::Result<i32> {
    if let Some(pid) = fork_child(role, master_signal_fd)? {
        return Ok(pid);
    }
    // The child's copies of the listening sockets: a helper serves no traffic.
    drop(std::mem::take(listeners));
    if super::worker_init::init_worker_process(config, None, user).is_err() {
        std::process::exit(WORKER_INIT_FAILED);
    }
    let code = super::cache_helper::run(config, role);
    std::process::exit(code)
}

/// Forks a child of the master: `Some(pid)` in the parent; `None` in the child, which has
/// its title (`NAME: role`), has closed the master's end of its signal pipe and has its
/// signals reset.
fn fork_child(role: Role, master_signal_fd: i32) -> io::Result<Option<i32>> {
    // The child must not die of a QUIT sent before it has its handlers (a reload right
    // after a respawn): it starts with the handled signals blocked.
    let mask = crate::sys::block_handled_signals();
    // SAFETY: the master is single-threaded, so the child may run arbitrary code after fork.
    let pid = unsafe { libc::fork() };
    if pid != 0 {
        let err = io::Error::last_os_error();
        crate::sys::restore_signal_mask(&mask);
        return if pid < 0 { Err(err) } else { Ok(Some(pid)) };
    }
    // First, so that `ps` never shows a child under the master's title for long.
    crate::sys::set_proc_title(&format!("{}: {}", crate::NAME, role.name()));
    // SAFETY: closing the master's end of its self-pipe in the child.
    unsafe { libc::close(master_signal_fd) };
    crate::sys::reset_signals();
    Ok(None)
}

/// The exit code of a worker that could not be set up (nginx's): the master does not
/// respawn it.
const WORKER_INIT_FAILED: i32 = 2;

/// How a child ended.
pub enum Exit {
    /// `exit(code)`
    Code(i32),
    /// Killed by a signal; whether it left a core file.
    Signal(i32, bool),
}

/// Reaps one exited child without blocking.
pub fn reap_one() -> Option<(i32, Exit)> {
    let mut status = 0;
    // SAFETY: waitpid with a valid status pointer.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if pid <= 0 {
        return None;
    }
    let exit = if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status), libc::WCOREDUMP(status))
    } else {
        Exit::Code(libc::WEXITSTATUS(status))
    };
    Some((pid, exit))
}

/// Sleeps until `fd` is readable or `timeout` passes.
pub fn wait_readable(fd: i32, timeout: Duration) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, ms) };
}

/// nginx's `daemon on`: fork, let the parent exit, start a new session, and point stdin and
/// stdout at /dev/null (stderr stays, for messages before the error log is reopened).
pub fn daemonize() -> io::Result<()> {
    // SAFETY: still single-threaded; the parent exits immediately.
    match unsafe { libc::fork() } {
        -1 => return Err(io::Error::last_os_error()),
        0 => {}
        _ => std::process::exit(0),
    }
    // SAFETY: setsid in the child, which is not a group leader.
    if unsafe { libc::setsid() } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: umask always succeeds.
    unsafe { libc::umask(0o022) };
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    use std::os::fd::AsRawFd;
    // SAFETY: dup2 onto the standard descriptors.
    unsafe {
        libc::dup2(null.as_raw_fd(), 0);
        libc::dup2(null.as_raw_fd(), 1);
    }
    Ok(())
}

/// Length of nginx's `SPARE=XXX...` variable: room for a new binary's process title,
/// which is written over its argument and environment strings.
const NEW_BINARY_TITLE_SPARE: usize = 300;

/// nginx's `ngx_exec_new_binary`: forks, and in the child clears close-on-exec on the
/// listening sockets and `execve`s `exe` with the master's original arguments and the
/// environment `env` (the configured one, see `env`) plus `PORTICO=fd;fd;...`, which tells
/// the new master to adopt those sockets instead of binding, and nginx's `SPARE=XXX...`,
/// room for the new master's process title. Returns the new master's pid. An `execve` that fails is logged by the child
/// (`execve() failed while executing new binary process "..."`) which then exits with 1; the
/// old master sees that exit and takes its pid file back.
pub fn exec_new_binary(
    exe: &std::path::Path,
    argv: &[String],
    env: &[(String, String)],
    listeners: &[Listener],
) -> io::Result<i32> {
    use std::os::unix::ffi::OsStrExt;
    let to_c = |b: &[u8]| CString::new(b).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
    // Everything allocated before the fork: the child only calls fcntl and execve.
    let path = to_c(exe.as_os_str().as_bytes())?;
    let args: Vec<CString> = argv
        .iter()
        .map(|a| to_c(a.as_bytes()))
        .collect::<io::Result<_>>()?;
    let var = crate::listener::INHERITED_SOCKETS_VAR;
    let mut env: Vec<CString> = env
        .iter()
        .filter(|(k, _)| k != var)
        .filter_map(|(k, v)| to_c(format!("{k}={v}").as_bytes()).ok())
        .collect();
    let inherited = crate::listener::inherited_sockets_value(listeners);
    env.push(to_c(format!("{var}={inherited}").as_bytes())?);
    env.push(to_c(
        format!("SPARE={}", "X".repeat(NEW_BINARY_TITLE_SPARE)).as_bytes(),
    )?);
    for e in &env {
        crate::elog!(crate::log::LogLevel::Debug, "env: {}", e.to_string_lossy());
    }
    let mut arg_ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    arg_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    let fds: Vec<i32> = listeners
        .iter()
        .flat_map(|l| l.fds.iter().map(std::os::fd::AsRawFd::as_raw_fd))
        .collect();

    // SAFETY: the master is single-threaded; the child runs only async-signal-safe calls
    // (fcntl, execve) and the error log write below before `_exit`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        return Ok(pid);
    }
    for fd in fds {
        // SAFETY: clearing FD_CLOEXEC on our own listening sockets, so they survive execve.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
    // SAFETY: NULL-terminated arrays of pointers to live NUL-terminated strings.
    unsafe { libc::execve(path.as_ptr(), arg_ptrs.as_ptr(), env_ptrs.as_ptr()) };
    let e = io::Error::last_os_error();
    crate::elog!(
        crate::log::LogLevel::Alert,
        "execve() failed while executing new binary process \"{}\" ({})",
        exe.display(),
        crate::sys::errno_text(&e)
    );
    // SAFETY: leave the forked copy of the master without running its destructors.
    unsafe { libc::_exit(1) }
}
