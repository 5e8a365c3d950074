//! A worker process: one single-threaded `mio` event loop serving client connections.
//!
//! Set-up after fork (`master::worker_init` has dropped privileges, set limits, affinity and
//! environment): create the epoll instance (never before fork: it would be shared), register
//! the inherited listeners with `EPOLLEXCLUSIVE` so one worker wakes per connection, and a
//! self-pipe for signals.
//!
//! Each loop iteration reads the clock once, polls with the nearest timer as timeout, accepts,
//! drives the connections that have events, then fires due timers.

mod access;
mod access_log;
mod admission;
mod answer;
pub(crate) mod backend;
mod charset;
mod clock;
pub(crate) mod conn;
mod content;
mod debug_log;
mod doc_root;
mod empty_gif;
pub(crate) mod explain;
mod file_response;
mod gzip;
mod handler;
pub(crate) mod multipart;
mod phases;
pub(crate) mod request_vars;
mod response_head;
pub(crate) mod route;
mod single;
mod status_report;
mod stub_status;
mod subrequest;
mod timers;

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::time::{Duration, Instant, SystemTime};

use mio::{Events, Interest, Poll, Token};

use crate::client_addr::ClientAddr;
use crate::config::{Config, DebugPeer, HttpConf};
use crate::elog;
use crate::http::date::DateCache;
use crate::listener::Listener;
use crate::log::{ConnScope, LogLevel};
use crate::router::{self, AddrServers};
use crate::slab::{Key, Slab};
use crate::sys;
use crate::upstream::{Owner, Waiter};
use conn::{Conn, Drive};
use timers::Timers;

/// Token of `timer_resolution`'s ticker.
const CLOCK_TOKEN: Token = Token(usize::MAX);
/// Token of the signal self-pipe.
const SIGNAL_TOKEN: Token = Token(usize::MAX - 1);
/// Listener tokens count down from here (listener i = `LISTENER_BASE - i`).
const LISTENER_BASE: usize = usize::MAX - 2;
/// Connections accepted per listener wake-up with `multi_accept on`, before other work gets
/// a turn (the listener is level-triggered: the rest are accepted on the next one). With
/// `multi_accept off`, nginx's default, one.
const ACCEPT_BUDGET: usize = 64;
/// How long accepting pauses after `EMFILE`/`ENFILE`.
const ACCEPT_PAUSE_ON_EMFILE: Duration = Duration::from_millis(500);
/// How often the open-file cache drops inactive entries.
const FILE_CACHE_SWEEP: Duration = Duration::from_secs(1);
/// Stale timer entries are swept once the heap holds more than four per live connection plus
/// this many (so a sweep, O(heap), comes at most once per this many pushes).
const TIMER_SWEEP_SLACK: usize = 1024;
/// Longest poll timeout (also the Date header's update bound when idle).
const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(1);

/// A listening socket as a worker sees it.
struct WorkerListener {
    fd: RawFd,
    servers: AddrServers,
    registered: bool,
}

/// What every connection may read: configuration, clock, date cache and worker identity.
pub struct Shared<'c> {
    /// The whole configuration.
    pub config: &'c Config,
    /// Its `http` block.
    pub http: &'c HttpConf,
    /// The loop's clock reading for this iteration.
    pub now: Instant,
    /// Formatted dates, refreshed once a second.
    pub date: DateCache,
    /// Whether the worker is shutting down (every response then says `Connection: close`).
    pub shutting_down: bool,
    /// This process's pid (`$pid`).
    pub pid: u32,
    /// The machine's host name (`$hostname`).
    pub hostname: String,
    /// Reusable buffer for building access-log lines and paths.
    pub scratch: Vec<u8>,
    /// Pool of per-request buffers, so idle connections hold none.
    pub pool: conn::Pool<'c>,
    /// Open static files, stat results and small files' bytes (see `static_files::cache`).
    pub file_cache: crate::static_files::FileCache,
    /// Compressor states and buffers for gzip and gunzip (see `compress`).
    pub compress: crate::compress::Compressors,
    /// Proxy cache entries this worker answered lately (see `cache::hot`).
    pub hot_cache: crate::cache::hot::HotEntries,
    /// For registering the resolvers' sockets (a clone of the poll's registry).
    pub registry: mio::Registry,
    /// Upstream groups' counters, the idle upstream connections, and the registry that
    /// registers new upstream sockets.
    pub upstreams: crate::upstream::Upstreams,
    /// The `resolver`s' state: sockets, cache, names being resolved (a waiter is a
    /// client connection's request or an OCSP fetch).
    pub resolvers: crate::resolver::Resolvers<Waiter>,
}

pub(crate) use answer::redirect_base;
pub use single::{SingleEnd, run_single};

struct Worker<'c> {
    poll: Poll,
    listeners: Vec<WorkerListener>,
    conns: Slab<Conn<'c>>,
    timers: Timers,
    shared: Shared<'c>,
    signal_fd: RawFd,
    worker_connections: usize,
    next_conn_id: u64,
    conn_id_step: u64,
    accept_paused_until: Option<Instant>,
    /// When the open-file cache was last swept of inactive entries.
    file_cache_swept: Instant,
    shutdown_deadline: Option<Instant>,
    /// The listening sockets this worker holds (its share of the master's), closed at a
    /// graceful stop so new connections are refused once every process has closed them.
    sockets: Vec<Listener>,
    /// Connections that have more work but yielded (e.g. `sendfile_max_chunk` reached).
    deferred: Vec<Key>,
    /// Resolutions finished this turn, kept for its allocation.
    resolved: Vec<crate::resolver::Done<Waiter>>,
    /// When the clock is read (`timer_resolution`).
    clock: clock::Clock,
    /// Connections accepted per listener wake-up (`multi_accept`).
    accept_budget: usize,
    /// `debug_connection`: clients whose connections log at every level.
    debug_peers: &'c [DebugPeer],
    /// `master_process off`: `HUP` ends the loop to reload (see `single`).
    single: bool,
    /// `HUP` came (single process only).
    reload_asked: bool,
}

/// Runs a worker until it is told to stop; returns its exit code. The process was set up
/// already (`master::worker_init`: user, limits, affinity, environment).
pub fn run(config: &Config, listeners: Vec<Listener>, slot: usize) -> i32 {
    let Some(http) = config.http.as_ref() else {
        // Without an http block there is nothing to serve; idle until told to stop.
        return idle_until_signal();
    };
    match Worker::new(config, http, listeners, slot) {
        Ok(mut w) => {
            let code = w.run();
            // Buffered access-log lines are written before the worker goes.
            crate::log::flush_access_logs(None);
            // nginx's last two lines from a worker.
            elog!(LogLevel::Notice, "exiting");
            drop(w);
            elog!(LogLevel::Notice, "exit");
            code
        }
        Err(e) => {
            elog!(
                LogLevel::Emerg,
                "worker start-up failed ({})",
                sys::errno_text(&e)
            );
            2
        }
    }
}

fn idle_until_signal() -> i32 {
    let Ok(fd) = sys::install_signal_pipe() else {
        return 2;
    };
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, -1) };
        sys::drain_pipe(fd);
        if sys::take_signal(libc::SIGQUIT)
            || sys::take_signal(libc::SIGTERM)
            || sys::take_signal(libc::SIGINT)
        {
            return 0;
        }
    }
}

impl<'c> Worker<'c> {
    fn new(
        config: &'c Config,
        http: &'c HttpConf,
        listeners: Vec<Listener>,
        slot: usize,
    ) -> io::Result<Worker<'c>> {
        crate::status::counters::claim_slot(std::process::id());
        let poll = Poll::new()?;
        let signal_fd = sys::install_signal_pipe()?;
        poll.registry().register(
            &mut mio::unix::SourceFd(&signal_fd),
            SIGNAL_TOKEN,
            Interest::READABLE,
        )?;
        let by_addr = router::servers_by_listen(http);
        let mut ls = Vec::new();
        for (i, servers) in by_addr.into_iter().enumerate() {
            let Some(l) = listeners
                .iter()
                .find(|l| l.conf.addr == http.listens[i].addr)
            else {
                continue;
            };
            let fd = l.fd_for(slot);
            sys::epoll_add_exclusive(poll.as_raw_fd(), fd, LISTENER_BASE - i)?;
            ls.push(WorkerListener {
                fd,
                servers,
                registered: true,
            });
        }
        let workers = config.main.worker_processes.max(1) as u64;
        let mut clock =
            clock::Clock::new(config.main.timer_resolution, poll.registry(), CLOCK_TOKEN)?;
        let (now, wall) = clock
            .read()
            .unwrap_or_else(|| (Instant::now(), SystemTime::now()));
        let mut date = DateCache::default();
        date.update(wall);
        let registry = poll.registry().try_clone()?;
        Ok(Worker {
            poll,
            listeners: ls,
            conns: Slab::default(),
            timers: Timers::default(),
            shared: Shared {
                config,
                http,
                now,
                date,
                shutting_down: false,
                pid: std::process::id(),
                hostname: nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                scratch: Vec::with_capacity(4096),
                pool: conn::Pool::default(),
                file_cache: Default::default(),
                compress: Default::default(),
                hot_cache: Default::default(),
                upstreams: crate::upstream::Upstreams::new(http, registry.try_clone()?),
                registry,
                resolvers: Default::default(),
            },
            signal_fd,
            worker_connections: config.events.worker_connections,
            next_conn_id: slot as u64 + 1,
            conn_id_step: workers,
            accept_paused_until: None,
            file_cache_swept: Instant::now(),
            shutdown_deadline: None,
            sockets: listeners,
            deferred: Vec::new(),
            resolved: Vec::new(),
            clock,
            accept_budget: if config.events.multi_accept {
                ACCEPT_BUDGET
            } else {
                1
            },
            debug_peers: &config.events.debug_connection,
            single: false,
            reload_asked: false,
        })
    }

    fn run(&mut self) -> i32 {
        // Outside `self`, so connections can be driven while iterating the events.
        // (`epoll_events 0` would make every wait fail: at least one.)
        let mut events = Events::with_capacity(self.shared.config.events.epoll_events.max(1));
        loop {
            let timeout = if self.deferred.is_empty() {
                let mut t = self.timers.next_timeout(self.shared.now, MAX_POLL_TIMEOUT);
                if let Some(at) = self.shared.upstreams.pool.next_expiry() {
                    t = t.min(at.saturating_duration_since(self.shared.now));
                }
                if let Some(at) = self.shared.resolvers.next_deadline() {
                    t = t.min(at.saturating_duration_since(self.shared.now));
                }
                if let Some(at) = self.shared.upstreams.prober.next_deadline() {
                    t = t.min(at.saturating_duration_since(self.shared.now));
                }
                if let Some(at) = self.shared.upstreams.stapler.next_deadline() {
                    t = t.min(at.saturating_duration_since(self.shared.now));
                }
                if self.shared.upstreams.queues.any() {
                    t = t.min(crate::upstream::queue::RETRY_TICK);
                }
                if let Some(at) = crate::log::next_access_flush() {
                    t = t.min(at.saturating_duration_since(self.shared.now));
                }
                let t = self
                    .accept_paused_until
                    .map_or(t, |at| t.min(at.saturating_duration_since(self.shared.now)));
                self.clock.poll_timeout(t, MAX_POLL_TIMEOUT)
            } else {
                Duration::ZERO
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout))
                && e.kind() != io::ErrorKind::Interrupted
            {
                elog!(
                    LogLevel::Alert,
                    "epoll_wait() failed ({})",
                    sys::errno_text(&e)
                );
                return 2;
            }
            if events.iter().any(|ev| ev.token() == CLOCK_TOKEN) {
                self.clock.on_tick();
            }
            if let Some((now, wall)) = self.clock.read() {
                self.shared.now = now;
                self.shared.date.update(wall);
            }
            crate::log::flush_due_access_logs(self.shared.now);

            // Upstream events first: a response that completes releases its connection to
            // the pool, where a request read in the same batch finds it.
            for ev in events.iter().filter(|ev| is_upstream_token(ev.token())) {
                self.on_upstream_event(ev);
            }
            // A single process's reload ends the loop only after this batch: a client's
            // edge-triggered readiness delivered beside the signal would otherwise be lost,
            // and its request left unread until a timeout.
            let mut reload_after_batch = false;
            for ev in events.iter().filter(|ev| !is_upstream_token(ev.token())) {
                let (readable, writable, read_closed) = (
                    ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                    ev.is_writable(),
                    ev.is_read_closed() || ev.is_error(),
                );
                match ev.token() {
                    CLOCK_TOKEN => {}
                    SIGNAL_TOKEN => {
                        if self.handle_signals() {
                            if !self.reload_asked {
                                return 0;
                            }
                            reload_after_batch = true;
                        }
                    }
                    Token(t) if t <= LISTENER_BASE && t > LISTENER_BASE - self.listeners.len() => {
                        self.accept(LISTENER_BASE - t)
                    }
                    token if crate::resolver::is_token(token) => self.shared.resolvers.on_event(
                        token,
                        readable,
                        writable,
                        self.shared.now,
                        &self.shared.registry,
                    ),
                    Token(t) => {
                        let key = Key(t);
                        if let Some(c) = self.conns.get_mut(key) {
                            c.on_event(readable, writable, read_closed);
                            self.drive(key);
                        }
                    }
                }
            }
            if reload_after_batch {
                return 0;
            }
            for key in std::mem::take(&mut self.deferred) {
                self.drive(key);
            }
            self.fire_timers();
            self.wake_resolved();
            self.shared.upstreams.run_probes(self.shared.now);
            self.shared
                .upstreams
                .run_staples(self.shared.now, &mut self.shared.resolvers);
            self.wake_queued();
            self.shared.upstreams.pool.expire(self.shared.now);
            if self.shared.shutting_down {
                if self.conns.is_empty() {
                    return 0;
                }
                if self.shutdown_deadline.is_some_and(|d| self.shared.now >= d) {
                    elog!(
                        LogLevel::Warn,
                        "worker_shutdown_timeout expired, closing {} connections",
                        self.conns.len()
                    );
                    // Closed one by one, so that a request cut short still gets its
                    // access-log line (as nginx's shutdown timer finalizes each one).
                    for key in self.conns.keys() {
                        self.close(key);
                    }
                    return 0;
                }
            }
        }
    }

    /// An event on an upstream socket: for the request using it, or for the idle pool.
    fn on_upstream_event(&mut self, ev: &mio::event::Event) {
        let fd = ev.token().0 & !crate::upstream::UPSTREAM_TOKEN_BIT;
        let readable = ev.is_readable() || ev.is_read_closed() || ev.is_error();
        match self.shared.upstreams.owner(fd) {
            Owner::Client(key) => {
                // Recording the readiness logs nothing: the drive enters the log scope.
                if let Some(c) = self.conns.get_mut(key) {
                    c.on_upstream_event(fd as i32, readable, ev.is_writable());
                    self.drive(key);
                }
            }
            // Data or EOF on an idle connection: the upstream closed it. (Writable alone is
            // the send buffer draining: nothing to do.)
            Owner::Pool(key) if readable => self.shared.upstreams.pool.on_event(key),
            Owner::Probe(check, server) => {
                self.shared
                    .upstreams
                    .on_probe_event(check, server, self.shared.now)
            }
            Owner::Staple(i) => self.shared.upstreams.on_staple_event(i, self.shared.now),
            Owner::Pool(_) | Owner::None => {}
        }
    }

    /// Runs the resolvers' due timers, then drives each connection (or OCSP fetch) whose
    /// name resolved (or failed to) this turn.
    fn wake_resolved(&mut self) {
        let now = self.shared.now;
        self.shared.resolvers.on_timers(now, &self.shared.registry);
        let mut done = std::mem::take(&mut self.resolved);
        self.shared.resolvers.take_done(&mut done);
        for d in done.drain(..) {
            match d.who {
                Waiter::Client(key) => {
                    if let Some(c) = self.conns.get_mut(key) {
                        c.on_resolved(d.ticket, d.result);
                        self.drive(key);
                    }
                }
                Waiter::Staple(i) => self.shared.upstreams.on_staple_resolved(i, d.result, now),
            }
        }
        self.resolved = done;
    }

    /// Gives the first request in each upstream `queue` a try at a server (one may have
    /// been released this turn, here or in another worker); those that get one leave the
    /// line and the next one tries.
    fn wake_queued(&mut self) {
        if !self.shared.upstreams.queues.any() {
            return;
        }
        let groups: Vec<usize> = self.shared.upstreams.queues.busy_groups().collect();
        for g in groups {
            while let Some(head) = self.shared.upstreams.queues.head(g) {
                if self.conns.get(head).is_none() {
                    // Gone without leaving the line (never expected): not a blocker.
                    self.shared.upstreams.queues.remove(g, head);
                    if let Some(group) = self.shared.upstreams.groups.get(g) {
                        group.count_queue(-1, false);
                    }
                    continue;
                }
                self.drive(head);
                if self.shared.upstreams.queues.head(g) == Some(head) {
                    break;
                }
            }
        }
    }

    /// Returns true when the worker must exit now.
    fn handle_signals(&mut self) -> bool {
        sys::drain_pipe(self.signal_fd);
        if sys::take_signal(libc::SIGTERM) || sys::take_signal(libc::SIGINT) {
            self.reload_asked = false;
            return true;
        }
        if sys::take_signal(libc::SIGQUIT) {
            // A stop wins over a reload in progress.
            self.reload_asked = false;
            if !self.shared.shutting_down {
                self.begin_shutdown();
            }
        }
        if sys::take_signal(libc::SIGHUP) && self.single && !self.shared.shutting_down {
            self.reload_asked = true;
            return true;
        }
        if sys::take_signal(libc::SIGUSR1) {
            elog!(LogLevel::Notice, "reopening logs");
            let _ = crate::log::reopen_logs_alerting();
        }
        false
    }

    /// Graceful stop: stop accepting (the shared queue is drained by the other or new workers),
    /// finish what is in flight, and let every connection close after its current response.
    fn begin_shutdown(&mut self) {
        elog!(LogLevel::Notice, "gracefully shutting down");
        sys::set_proc_title(&format!("{}: worker process is shutting down", crate::NAME));
        self.shared.shutting_down = true;
        self.shutdown_deadline = self
            .shared
            .config
            .main
            .worker_shutdown_timeout
            .map(|t| self.shared.now + t);
        for l in &mut self.listeners {
            if l.registered {
                let _ = sys::epoll_del(self.poll.as_raw_fd(), l.fd);
                l.registered = false;
            }
        }
        // Closed, not only removed from epoll (which must come first: a registration lives as
        // long as the socket, which the master and other workers may still hold). A single
        // process reloading keeps them for its next configuration.
        if !self.reload_asked {
            self.sockets.clear();
        }
        self.shared.upstreams.pool.close_all();
        self.shared.upstreams.stop_probes();
        for key in self.conns.keys() {
            if let Some(c) = self.conns.get_mut(key) {
                c.on_shutdown(&self.shared);
            }
            self.drive(key);
        }
    }

    fn accept(&mut self, idx: usize) {
        // Not registered: accepting is paused, or the socket was closed at a graceful stop
        // while an event for it was still queued in this batch.
        let Some(listener) = self.listeners.get(idx).filter(|l| l.registered) else {
            return;
        };
        let fd = listener.fd;
        for _ in 0..self.accept_budget {
            let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: `addr`/`len` describe a valid buffer for the peer address.
            let s = unsafe {
                libc::accept4(
                    fd,
                    (&mut addr as *mut libc::sockaddr_storage).cast(),
                    &mut len,
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if s < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::ECONNABORTED) | Some(libc::EINTR) => return,
                    Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS)
                    | Some(libc::ENOMEM) => {
                        elog!(LogLevel::Crit, "accept4() failed ({})", sys::errno_text(&e));
                        self.pause_accepting();
                        return;
                    }
                    _ => {
                        elog!(
                            LogLevel::Alert,
                            "accept4() failed ({})",
                            sys::errno_text(&e)
                        );
                        return;
                    }
                }
            }
            // SAFETY: accept4 returned a new descriptor that we now own.
            let stream = unsafe { std::net::TcpStream::from_raw_fd(s) };
            // Like nginx, the listening sockets take connection slots too.
            if self.conns.len() + self.listeners.len() + self.shared.upstreams.connections()
                >= self.worker_connections
            {
                elog!(
                    LogLevel::Alert,
                    "{} worker_connections are not enough",
                    self.worker_connections
                );
                drop(stream);
                continue;
            }
            // A unix-domain client (`listen unix:`) has no address: nginx's `unix:`.
            let peer = match sockaddr_to_std(&addr) {
                Some(a) => ClientAddr::Inet(a),
                None if addr.ss_family as libc::c_int == libc::AF_UNIX => ClientAddr::Unix,
                None => ClientAddr::Inet(SocketAddr::from(([0, 0, 0, 0], 0))),
            };
            let id = self.next_conn_id;
            self.next_conn_id += self.conn_id_step;
            let mut stream = mio::net::TcpStream::from_std(stream);
            let srv_default = &self.shared.http.servers[self.listeners[idx].servers.default];
            let header_timeout = srv_default.srv.client_header_timeout;
            let key = self
                .conns
                .insert_with(|key| Conn::new(id, peer, idx).with_key(key));
            let Some(c) = self.conns.get_mut(key) else {
                continue;
            };
            if self.listeners[idx].servers.proxy_protocol {
                c.proxy_protocol_pending = true;
            }
            c.stat = crate::status::ConnStat::opened();
            if self.listeners[idx].servers.ssl {
                c.start_tls();
            }
            if let Err(e) = self.poll.registry().register(
                &mut stream,
                Token(key.0),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                elog!(
                    LogLevel::Alert,
                    "epoll_ctl() failed ({})",
                    sys::errno_text(&e)
                );
                self.conns.remove(key);
                continue;
            }
            c.attach(stream);
            {
                let _scope = ConnScope::enter(self.is_debug_peer(&peer), None);
                elog!(LogLevel::Debug, "*{id} accept: {peer} fd:{s}");
            }
            let Some(c) = self.conns.get_mut(key) else {
                continue;
            };
            let at = self.shared.now + header_timeout;
            if c.set_deadline(at) {
                self.timers.push(at, key);
            }
        }
    }

    fn pause_accepting(&mut self) {
        self.accept_paused_until = Some(self.shared.now + ACCEPT_PAUSE_ON_EMFILE);
        for l in &mut self.listeners {
            if l.registered {
                let _ = sys::epoll_del(self.poll.as_raw_fd(), l.fd);
                l.registered = false;
            }
        }
    }

    fn resume_accepting(&mut self) {
        self.accept_paused_until = None;
        if self.shared.shutting_down {
            return;
        }
        for (i, l) in self.listeners.iter_mut().enumerate() {
            if !l.registered
                && sys::epoll_add_exclusive(self.poll.as_raw_fd(), l.fd, LISTENER_BASE - i).is_ok()
            {
                l.registered = true;
            }
        }
    }

    /// Whether `debug_connection` names the client at `peer`.
    fn is_debug_peer(&self, peer: &ClientAddr) -> bool {
        !self.debug_peers.is_empty() && self.debug_peers.iter().any(|p| p.matches(peer.inet()))
    }

    /// Makes the error log connection `key`'s until the guard drops: every level for a
    /// `debug_connection` client, and the `error_log`s of its request's location (of the
    /// listening address's default server between requests), as nginx's `c->log`.
    fn log_scope(&self, key: Key) -> Option<ConnScope> {
        let c = self.conns.get(key)?;
        let logs = match c.active().and_then(|a| a.req.as_ref()) {
            Some(req) => &req.loc.error_log,
            None => {
                let server = self.listeners.get(c.listen_idx())?.servers.default;
                &self.shared.http.servers.get(server)?.loc.error_log
            }
        };
        Some(ConnScope::enter(self.is_debug_peer(&c.peer), Some(logs)))
    }

    /// Runs a connection's state machine and applies what it asks for.
    fn drive(&mut self, key: Key) {
        let _scope = self.log_scope(key);
        let Some(c) = self.conns.get_mut(key) else {
            return;
        };
        let servers = &self.listeners[c.listen_idx()].servers;
        match c.drive(&mut self.shared, servers) {
            Drive::Wait { deadline } => {
                if let Some(at) = deadline
                    && c.set_deadline(at)
                {
                    self.timers.push(at, key);
                }
            }
            Drive::Yield => self.deferred.push(key),
            Drive::Close => self.close(key),
        }
    }

    fn close(&mut self, key: Key) {
        let _scope = self.log_scope(key);
        if let Some(mut c) = self.conns.remove(key) {
            elog!(LogLevel::Debug, "*{} close http connection", c.id);
            c.release(&mut self.shared);
        }
    }

    fn fire_timers(&mut self) {
        if self.timers.len() > 4 * self.conns.len() + TIMER_SWEEP_SLACK {
            // Every entry belongs to a client connection; only its armed one is current.
            let conns = &self.conns;
            self.timers
                .retain(|at, key| conns.get(key).is_some_and(|c| c.is_armed_at(at)));
        }
        let now = self.shared.now;
        if self.accept_paused_until.is_some_and(|t| now >= t) {
            self.resume_accepting();
        }
        // Once a second: close files nobody asked for within their `inactive` time, so a
        // removed file's descriptor does not pin its blocks for long.
        if now.saturating_duration_since(self.file_cache_swept) >= FILE_CACHE_SWEEP {
            self.file_cache_swept = now;
            self.shared.file_cache.sweep(now);
        }
        while let Some((at, key)) = self.timers.pop_due(now) {
            let Some(c) = self.conns.get_mut(key) else {
                continue;
            };
            match c.timer_fired(at, now) {
                conn::TimerCheck::Stale => {}
                conn::TimerCheck::Rearm(next) => self.timers.push(next, key),
                conn::TimerCheck::Expired => {
                    let id = c.id;
                    let _scope = self.log_scope(key);
                    elog!(LogLevel::Debug, "*{id} event timer expired");
                    let Some(c) = self.conns.get_mut(key) else {
                        continue;
                    };
                    let servers = &self.listeners[c.listen_idx()].servers;
                    c.on_timeout(&mut self.shared, servers);
                    self.drive(key);
                }
            }
        }
    }
}

/// Whether an event token is an upstream socket's (`UPSTREAM_TOKEN_BIT | fd`). The signal
/// pipe's and the listeners' tokens, at the top of the range, have that bit set too, but
/// no descriptor number in the rest.
fn is_upstream_token(token: Token) -> bool {
    let bit = crate::upstream::UPSTREAM_TOKEN_BIT;
    token.0 & bit != 0 && token.0 & !bit <= i32::MAX as usize
}

fn sockaddr_to_std(addr: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match addr.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let a: &libc::sockaddr_in = unsafe { &*(addr as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::from((
                u32::from_be(a.sin_addr.s_addr).to_be_bytes(),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let a: &libc::sockaddr_in6 =
                unsafe { &*(addr as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::from((
                a.sin6_addr.s6_addr,
                u16::from_be(a.sin6_port),
            )))
        }
        _ => None,
    }
}
