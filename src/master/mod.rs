//! The master process: owns the configuration, the listening sockets, the pid file and the
//! workers. It never touches a client connection; after start-up it only sleeps until a signal
//! arrives or a respawn is due.
//!
//! Signals, as nginx: `HUP` reload, `QUIT` graceful stop, `TERM`/`INT` fast stop, `USR1`
//! reopen logs, `CHLD` reap (and respawn) workers; each is logged in nginx's words, with the
//! sender's pid. On `QUIT` and `TERM` the master closes its listening sockets at once, as each
//! worker does with its own, so new connections are refused rather than queued.
//!
//! Binary upgrade, as nginx: `USR2` renames the pid file to `PID.oldbin` and fork+execs the
//! executable this master was started from (its path as resolved at start, so a binary
//! replaced in place is the one that runs) with the listening sockets passed by number in
//! `PORTICO=fd;fd;`. The new master adopts them instead of binding, so no connection is refused
//! during the switch. `WINCH` then stops the old workers (the old master stays, holding its
//! sockets), `HUP` starts them again (rollback) and `QUIT` ends the old master. Unlike nginx,
//! `WINCH` is honoured in the foreground too (nginx only when daemonized).
//!
//! With a cache path in the configuration, the master also forks a cache manager and a cache
//! loader process (see [`cache_helper`]) after the workers, as nginx does: the manager is
//! respawned like a worker, the loader is not; a reload starts the new configuration's and
//! stops the old ones, `WINCH` stops them with the workers.
//!
//! A worker that dies unasked is respawned at once, as nginx does; only a slot whose workers
//! die right after start twice in a row waits, with a doubling delay (nginx would fork flat
//! out).

mod cache_helper;
mod outcome;
mod process;
mod readable;
mod single;
pub mod worker_init;
mod zones;

use crate::listener as listen;
pub use crate::listener::Listener;
pub use outcome::{Outcome, Record, Status, monotonic_ns, status_path};

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::{self, Config, LoadOptions};
use crate::elog;
use crate::log::LogLevel;
use crate::sys;
pub use crate::user::User;
use process::{Role, WorkerProc};

/// A worker that dies sooner than this after its start counts as dying at once.
const RESPAWN_FAST_DEATH: Duration = Duration::from_secs(1);
/// First delay before respawning a slot whose workers died at once twice in a row; it doubles
/// with each further fast death. nginx has no such guard and respawns a crash-looping worker
/// as fast as it can fork; one fast death (a worker killed by hand) is still respawned at once.
const RESPAWN_FIRST_DELAY: Duration = Duration::from_millis(100);
/// Longest delay between respawns of a slot whose workers keep dying at once.
const RESPAWN_MAX_DELAY: Duration = Duration::from_secs(10);
/// After a fast stop (`TERM`), workers still alive after this get `SIGKILL`.
const FAST_STOP_KILL_AFTER: Duration = Duration::from_secs(5);

/// What the master is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Running,
    /// `QUIT`: workers finish their requests; the master exits when they are gone.
    Quitting,
    /// `TERM`/`INT`: workers exit at once; stragglers are killed after a deadline.
    Terminating(Instant),
}

struct Master {
    opts: LoadOptions,
    config: Config,
    listeners: Vec<Listener>,
    workers: Vec<WorkerProc>,
    /// Bumped at every successful reload; workers of older generations are on their way out.
    generation: u64,
    user: Option<User>,
    pid_file: PathBuf,
    signal_fd: i32,
    phase: Phase,
    /// The executable and arguments this master was started with, for a binary upgrade.
    exe: Option<PathBuf>,
    argv: Vec<String>,
    /// The master started by `USR2`, while it runs: this master's pid file is then
    /// `PID.oldbin`.
    new_binary: Option<i32>,
    /// `WINCH`: the workers were stopped on purpose and are not respawned.
    noaccepting: bool,
    /// A master started by an upgrade: its parent, the old master. While that one lives,
    /// `USR2` is refused, as nginx refuses it.
    upgraded_from: Option<i32>,
    /// The shared-memory zones of the configuration in force (kept across reloads).
    zones: crate::shm::Registry,
}

/// Loads the configuration, binds sockets, starts the workers and runs the master loop.
/// Returns the exit code.
pub fn run(opts: LoadOptions) -> i32 {
    // Until the configuration's error log is open, `elog!` writes to the start-up log (`-e`)
    // and to stderr; afterwards to the configured log, echoed to stderr until the master has
    // settled (see `set_stderr_echo` below).
    let mut config = match config::load(&opts) {
        Ok(c) => c,
        Err(e) => {
            elog!(LogLevel::Emerg, "{e}");
            return 1;
        }
    };
    // The connection and request counters (stub_status): one zone for the master's life.
    if let Err(e) = crate::status::counters::install() {
        elog!(
            LogLevel::Emerg,
            "mmap(MAP_ANON|MAP_SHARED, {}) failed ({})",
            crate::status::counters::ZONE_SIZE,
            sys::errno_text(&e)
        );
        return 1;
    }
    crate::status::counters::set_generation(0);
    let zones = match zones::map(&mut config, &Default::default()) {
        Ok(z) => z,
        Err(e) => {
            elog!(LogLevel::Emerg, "{e}");
            return 1;
        }
    };
    config::log_warnings(&config);
    if let Err(e) = crate::log::init_error_logs(&config.main.error_log, &scoped_error_logs(&config))
    {
        // The error's text is nginx's: `open() "/path" failed (2: No such file or directory)`.
        elog!(LogLevel::Emerg, "{e}");
        return 1;
    }
    if let Err(e) = open_access_logs(&config) {
        elog!(LogLevel::Emerg, "{e}");
        return 1;
    }
    crate::log::install_log_facade();
    log_event_setup(&config);
    let user = if sys::is_root() {
        match User::resolve(config.main.user.as_ref()) {
            Ok(u) => Some(u),
            Err(e) => {
                elog!(LogLevel::Emerg, "{e}");
                return 1;
            }
        }
    } else {
        None
    };
    warn_unreadable_roots(&config, user.as_ref());
    let owner = user.as_ref().map(|u| (u.uid, u.gid));
    if let Err(e) = crate::upstream::body_buffer::create_temp_paths(&config, owner) {
        elog!(LogLevel::Emerg, "{e}");
        return 1;
    }
    let workers = config.main.worker_processes;
    let wanted = config
        .http
        .as_ref()
        .map(|h| h.listens.clone())
        .unwrap_or_default();
    // A master started by `USR2` adopts the sockets of the old one (nginx's `NGINX` variable).
    let inherited = std::env::var(listen::INHERITED_SOCKETS_VAR).ok();
    let mut adopted = Vec::new();
    if let Some(value) = &inherited {
        elog!(LogLevel::Notice, "using inherited sockets from \"{value}\"");
        let (sockets, warning) = listen::adopt_inherited(value, &wanted);
        if let Some(w) = warning {
            elog!(LogLevel::Emerg, "{w}");
        }
        adopted = sockets;
    }
    let listeners = match listen::bind_all(&wanted, &mut adopted, workers) {
        Ok(l) => l,
        Err(e) => {
            elog!(LogLevel::Emerg, "{e}");
            return 1;
        }
    };
    // As nginx: a master started by an upgrade stays in the foreground of the old one, which
    // is already a daemon if it should be (and must reap it).
    if config.main.daemon
        && inherited.is_none()
        && let Err(e) = process::daemonize()
    {
        elog!(LogLevel::Emerg, "daemon() failed ({})", sys::errno_text(&e));
        return 1;
    }
    // From here on the error log is the place for messages, as with nginx.
    crate::log::set_stderr_echo(false);
    // A daemon must not keep the launcher's stderr open (`ssh host portico` would never
    // return, nor would a test reading the launcher's output): like nginx's
    // ngx_log_redirect_stderr, fd 2 becomes the error log file.
    if config.main.daemon
        && inherited.is_none()
        && let Err(e) = crate::log::redirect_stderr()
    {
        elog!(
            LogLevel::Alert,
            "dup2(STDERR) failed ({})",
            sys::errno_text(&e)
        );
    }
    let pid_file = config.main.pid.clone();
    if let Err(e) = write_pid_file(&pid_file) {
        elog!(
            LogLevel::Emerg,
            "open() \"{}\" failed ({})",
            pid_file.display(),
            sys::errno_text(&e)
        );
        eprintln!(
            "{}: [emerg] open() \"{}\" failed ({})",
            crate::NAME,
            pid_file.display(),
            sys::errno_text(&e)
        );
        return 1;
    }
    if let Some(u) = &user {
        let _ = crate::log::chown_logs(u.uid);
    }
    if !config.main.master_process {
        // nginx's single-process mode: this process is the only worker.
        let code = single::serve(&opts, config, listeners, zones);
        remove_pid_file(&pid_file);
        return code;
    }
    let signal_fd = match sys::install_signal_pipe() {
        Ok(fd) => fd,
        Err(e) => {
            elog!(
                LogLevel::Emerg,
                "signal setup failed ({})",
                sys::errno_text(&e)
            );
            return 1;
        }
    };
    // nginx's title: "portico: master process" and the command line as it was typed.
    let command_line: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let exe = std::env::current_exe().ok();
    sys::init_proc_title();
    sys::set_proc_title(&format!(
        "{}: master process {}",
        crate::NAME,
        command_line.join(" ")
    ));
    let mut m = Master {
        opts,
        config,
        listeners,
        workers: Vec::new(),
        generation: 0,
        user,
        pid_file,
        signal_fd,
        phase: Phase::Running,
        exe,
        argv: command_line,
        new_binary: None,
        noaccepting: false,
        // SAFETY: getppid never fails.
        upgraded_from: inherited.map(|_| unsafe { libc::getppid() }),
        zones,
    };
    crate::status::counters::set_generation(m.generation);
    for slot in 0..workers {
        m.spawn(slot);
    }
    m.spawn_cache_helpers();
    m.report_started();
    m.run_loop();
    remove_pid_file(&m.pid_file);
    remove_pid_file(&oldbin_path(&m.pid_file));
    outcome::remove_status_files(&m.pid_file);
    elog!(LogLevel::Notice, "exit");
    0
}

impl Master {
    fn spawn(&mut self, slot: usize) {
        let spawned = process::spawn_worker(
            &self.config,
            &mut self.listeners,
            slot,
            self.user.as_ref(),
            self.signal_fd,
        );
        self.started(spawned, Role::Worker, slot);
    }

    /// Forks the cache manager and the cache loader when the configuration has a cache
    /// (nginx's `ngx_start_cache_manager_processes`).
    fn spawn_cache_helpers(&mut self) {
        if self
            .config
            .http
            .as_ref()
            .is_none_or(|h| h.caches.is_empty())
        {
            return;
        }
        self.spawn_helper(Role::CacheManager);
        self.spawn_helper(Role::CacheLoader);
    }

    fn spawn_helper(&mut self, role: Role) {
        let spawned = process::spawn_cache_helper(
            &self.config,
            &mut self.listeners,
            role,
            self.user.as_ref(),
            self.signal_fd,
        );
        self.started(spawned, role, 0);
    }

    /// Records a forked child (or logs why the fork failed), in nginx's words.
    fn started(&mut self, spawned: std::io::Result<i32>, role: Role, slot: usize) {
        match spawned {
            Ok(pid) => {
                elog!(LogLevel::Notice, "start {} {pid}", role.name());
                self.workers.push(WorkerProc {
                    pid,
                    role,
                    slot,
                    generation: self.generation,
                    started: Instant::now(),
                    exiting: false,
                    fast_deaths: 0,
                });
            }
            Err(e) => elog!(
                LogLevel::Alert,
                "fork() failed while spawning \"{}\" ({})",
                role.name(),
                sys::errno_text(&e)
            ),
        }
    }

    fn run_loop(&mut self) {
        // (role, slot, when, fast deaths so far) of processes to start again.
        let mut pending_respawns: Vec<(Role, usize, Instant, u32)> = Vec::new();
        loop {
            let now = Instant::now();
            let mut timeout = Duration::from_secs(3600);
            for &(_, _, at, _) in &pending_respawns {
                timeout = timeout.min(at.saturating_duration_since(now));
            }
            if let Phase::Terminating(deadline) = self.phase {
                timeout = timeout
                    .min(deadline.saturating_duration_since(now))
                    .max(Duration::from_millis(10));
            }
            process::wait_readable(self.signal_fd, timeout);
            sys::drain_pipe(self.signal_fd);

            if sys::take_signal(libc::SIGCHLD) {
                log_signal(libc::SIGCHLD, "");
                for (role, slot, delay, fast_deaths) in self.reap() {
                    pending_respawns.push((role, slot, Instant::now() + delay, fast_deaths));
                }
            }
            for sig in [libc::SIGTERM, libc::SIGINT] {
                if !sys::take_signal(sig) {
                    continue;
                }
                log_signal(sig, ", exiting");
                if !matches!(self.phase, Phase::Terminating(_)) {
                    self.phase = Phase::Terminating(Instant::now() + FAST_STOP_KILL_AFTER);
                    self.signal_workers(libc::SIGTERM, |_| true);
                    // Closing the master's copies: once the workers have closed theirs (they
                    // exit), connecting is refused instead of queueing on a dying socket.
                    self.close_listeners();
                }
            }
            if sys::take_signal(libc::SIGQUIT) {
                log_signal(libc::SIGQUIT, ", shutting down");
                if self.phase == Phase::Running {
                    self.phase = Phase::Quitting;
                    self.signal_workers(libc::SIGQUIT, |_| true);
                    // As nginx's `ngx_close_listening_sockets`: each worker closes its copies
                    // on QUIT too, so new connections are refused at once rather than left in
                    // a queue nobody will accept from.
                    self.close_listeners();
                }
            }
            if sys::take_signal(libc::SIGHUP) {
                log_signal(libc::SIGHUP, ", reconfiguring");
                self.reload_and_report();
            }
            if sys::take_signal(libc::SIGUSR2) {
                let refused = self.new_binary.is_some()
                    // SAFETY: getppid never fails.
                    || self.upgraded_from == Some(unsafe { libc::getppid() });
                if refused {
                    log_signal(libc::SIGUSR2, ", ignoring");
                    elog!(
                        LogLevel::Info,
                        "the changing binary signal is ignored: you should shutdown or terminate before either old or new binary's process"
                    );
                } else {
                    log_signal(libc::SIGUSR2, ", changing binary");
                    if self.phase == Phase::Running {
                        self.exec_new_binary();
                    }
                }
            }
            if sys::take_signal(libc::SIGWINCH) {
                log_signal(libc::SIGWINCH, ", stop accepting connections");
                if self.phase == Phase::Running && !self.noaccepting {
                    self.noaccepting = true;
                    self.signal_workers(libc::SIGQUIT, |w| !w.exiting);
                }
            }
            if sys::take_signal(libc::SIGUSR1) {
                log_signal(libc::SIGUSR1, ", reopening logs");
                self.reopen_and_report();
            }
            match self.phase {
                Phase::Running if self.noaccepting => pending_respawns.clear(),
                Phase::Running => {
                    let now = Instant::now();
                    let (due, later): (Vec<_>, Vec<_>) = pending_respawns
                        .into_iter()
                        .partition(|&(_, _, at, _)| at <= now);
                    pending_respawns = later;
                    for (role, slot, _, fast_deaths) in due {
                        match role {
                            Role::Worker => self.spawn(slot),
                            _ => self.spawn_helper(role),
                        }
                        if let Some(w) = self.workers.last_mut() {
                            w.fast_deaths = fast_deaths;
                        }
                    }
                }
                Phase::Quitting | Phase::Terminating(_) if self.workers.is_empty() => return,
                Phase::Terminating(deadline) if Instant::now() >= deadline => {
                    self.signal_workers(libc::SIGKILL, |_| true);
                }
                _ => {}
            }
        }
    }

    /// Collects exited workers, logging each exit in nginx's words; returns the slots to
    /// respawn, each with its delay and its count of consecutive fast deaths.
    ///
    /// As nginx's `ngx_reap_children`: a worker that exits while it was not told to (any
    /// signal, any exit code but 2) is replaced at once; exit code 2 means it could not start
    /// (`worker start-up failed`, a `setuid` refused...), and respawning would only repeat it.
    fn reap(&mut self) -> Vec<(Role, usize, Duration, u32)> {
        let mut respawn = Vec::new();
        while let Some((pid, status)) = process::reap_one() {
            if self.new_binary == Some(pid) {
                self.new_binary_exited(pid, status);
                continue;
            }
            let Some(i) = self.workers.iter().position(|w| w.pid == pid) else {
                continue;
            };
            let w = self.workers.swap_remove(i);
            crate::status::counters::retire(pid);
            // Before the pid can be reused: a zone lock it held is marked for takeover.
            let released = self.zones.release_dead_owner(pid.unsigned_abs());
            if released > 0 {
                elog!(
                    LogLevel::Alert,
                    "{} {pid} died holding the lock of {released} shared zone(s)",
                    w.role.name()
                );
            }
            let fatal = match status {
                process::Exit::Code(code) => {
                    elog!(
                        LogLevel::Notice,
                        "{} {pid} exited with code {code}",
                        w.role.name()
                    );
                    code == WORKER_FATAL_EXIT_CODE
                }
                process::Exit::Signal(sig, core) => {
                    elog!(
                        LogLevel::Alert,
                        "{} {pid} exited on signal {sig}{}",
                        w.role.name(),
                        core_dumped(core)
                    );
                    false
                }
            };
            if fatal {
                elog!(
                    LogLevel::Alert,
                    "{} {pid} exited with fatal code {WORKER_FATAL_EXIT_CODE} and cannot be respawned",
                    w.role.name()
                );
            }
            // The loader's exit ends its work (nginx's NGX_PROCESS_NORESPAWN).
            let wanted = w.role != Role::CacheLoader
                && !w.exiting
                && w.generation == self.generation
                && self.phase == Phase::Running;
            if wanted && !fatal {
                let fast_deaths = if w.started.elapsed() < RESPAWN_FAST_DEATH {
                    w.fast_deaths + 1
                } else {
                    0
                };
                let delay = respawn_delay(fast_deaths);
                if !delay.is_zero() {
                    // Portico's own guard (nginx has none), so it says why the slot waits.
                    elog!(
                        LogLevel::Warn,
                        "{} {pid} exited right after start {fast_deaths} times in a row, respawning in {}ms",
                        w.role.name(),
                        delay.as_millis()
                    );
                }
                respawn.push((w.role, w.slot, delay, fast_deaths));
            }
        }
        respawn
    }

    fn signal_workers(&mut self, sig: libc::c_int, which: impl Fn(&WorkerProc) -> bool) {
        for w in self.workers.iter_mut().filter(|w| which(w)) {
            if sig == libc::SIGQUIT || sig == libc::SIGTERM {
                w.exiting = true;
            }
            if let Err(e) = sys::kill(w.pid, sig) {
                elog!(
                    LogLevel::Alert,
                    "kill({}, {sig}) failed ({})",
                    w.pid,
                    sys::errno_text(&e)
                );
            }
        }
    }

    /// `HUP`: parse the new configuration; if valid, bind what it adds, start new workers on it
    /// and gracefully stop the old ones. If invalid, log why and change nothing; the error
    /// (the line logged) is returned for `-s reload` (see [`outcome`]).
    /// Closes the master's listening sockets for good (stop, graceful stop), removing the
    /// files of unix-domain ones as nginx's `ngx_close_listening_sockets`, except while
    /// another master shares them: a new binary started by `USR2`, or the old master this
    /// one was started by.
    fn close_listeners(&mut self) {
        // SAFETY: getppid never fails.
        let parent_alive = self.upgraded_from == Some(unsafe { libc::getppid() });
        if self.new_binary.is_none() && !parent_alive {
            listen::remove_unix_files(&self.listeners, false);
        }
        self.listeners.clear();
    }

    fn reload(&mut self) -> Result<(), String> {
        let mut config = match config::load(&self.opts) {
            Ok(c) => c,
            Err(e) => {
                elog!(LogLevel::Emerg, "{e}");
                return Err(e.to_string());
            }
        };
        let zones = match zones::map(&mut config, &self.zones) {
            Ok(z) => z,
            Err(e) => {
                elog!(LogLevel::Emerg, "{e}");
                return Err(e);
            }
        };
        config::log_warnings(&config);
        if let Err(e) = open_access_logs(&config) {
            elog!(LogLevel::Emerg, "{e}");
            return Err(e);
        }
        warn_unreadable_roots(&config, self.user.as_ref());
        let owner = self.user.as_ref().map(|u| (u.uid, u.gid));
        if let Err(e) = crate::upstream::body_buffer::create_temp_paths(&config, owner) {
            elog!(LogLevel::Emerg, "{e}");
            return Err(e);
        }
        let wanted = config
            .http
            .as_ref()
            .map(|h| h.listens.clone())
            .unwrap_or_default();
        let listeners =
            match listen::bind_all(&wanted, &mut self.listeners, config.main.worker_processes) {
                Ok(l) => l,
                Err(e) => {
                    elog!(LogLevel::Emerg, "{e}");
                    return Err(e);
                }
            };
        if let Err(e) =
            crate::log::init_error_logs(&config.main.error_log, &scoped_error_logs(&config))
        {
            elog!(
                LogLevel::Alert,
                "could not open error log ({}), keeping the old one",
                sys::errno_text(&e)
            );
        }
        if let Some(u) = &self.user {
            let _ = crate::log::chown_logs(u.uid);
        }
        if config.main.lock_file != self.config.main.lock_file {
            elog!(
                LogLevel::Emerg,
                "\"lock_file\" could not be changed, ignored"
            );
        }
        log_event_setup(&config);
        // Sockets left in `self.listeners` are no longer configured: closing the master's copy
        // here is safe because old workers keep theirs until they exit. A unix socket's file
        // goes now, as nginx's `ngx_init_cycle` deletes it ("deleting socket").
        listen::remove_unix_files(&self.listeners, true);
        self.listeners = listeners;
        self.config = config;
        self.zones = zones;
        let old = self.generation;
        self.generation += 1;
        crate::status::counters::set_generation(self.generation);
        for slot in 0..self.config.main.worker_processes {
            self.spawn(slot);
        }
        self.spawn_cache_helpers();
        self.signal_workers(libc::SIGQUIT, |w| w.generation <= old && !w.exiting);
        Ok(())
    }
}

impl Master {
    /// `USR2`: as nginx's `ngx_exec_new_binary`, rename the pid file to `PID.oldbin` (refusing
    /// the upgrade if that fails) and start the new binary with the listening sockets.
    fn exec_new_binary(&mut self) {
        let Some(exe) = self.exe.clone() else {
            elog!(
                LogLevel::Alert,
                "cannot change binary: the executable's path is unknown"
            );
            return;
        };
        let oldbin = oldbin_path(&self.pid_file);
        if let Err(e) = std::fs::rename(&self.pid_file, &oldbin) {
            elog!(
                LogLevel::Alert,
                "rename() {} to {} failed before executing new binary process \"{}\" ({})",
                self.pid_file.display(),
                oldbin.display(),
                exe.display(),
                sys::errno_text(&e)
            );
            return;
        }
        let env = worker_init::environment(&self.config);
        match process::exec_new_binary(&exe, &self.argv, &env, &self.listeners) {
            Ok(pid) => {
                elog!(LogLevel::Notice, "start new binary process {pid}");
                self.new_binary = Some(pid);
            }
            Err(e) => {
                elog!(
                    LogLevel::Alert,
                    "fork() failed while spawning \"new binary process\" ({})",
                    sys::errno_text(&e)
                );
                self.take_back_pid_file(&format!(
                    "an attempt to execute new binary process \"{}\"",
                    exe.display()
                ));
            }
        }
    }

    /// The new binary exited while this master runs: it owns the pid file again and, if its
    /// workers were stopped by `WINCH`, starts them again (nginx's `ngx_reap_children`).
    fn new_binary_exited(&mut self, pid: i32, status: process::Exit) {
        match status {
            process::Exit::Code(code) => elog!(
                LogLevel::Notice,
                "new binary process {pid} exited with code {code}"
            ),
            process::Exit::Signal(sig, core) => elog!(
                LogLevel::Alert,
                "new binary process {pid} exited on signal {sig}{}",
                core_dumped(core)
            ),
        }
        self.new_binary = None;
        let exe = self.exe.clone().unwrap_or_default();
        self.take_back_pid_file(&format!(
            "the new binary process \"{}\" exited",
            exe.display()
        ));
        if self.phase == Phase::Running && self.noaccepting {
            self.restart_workers();
        }
    }

    /// Renames `PID.oldbin` back to the pid file; `after` completes nginx's alert if that
    /// fails ("rename() A back to B failed after ...").
    fn take_back_pid_file(&self, after: &str) {
        let oldbin = oldbin_path(&self.pid_file);
        if let Err(e) = std::fs::rename(&oldbin, &self.pid_file) {
            elog!(
                LogLevel::Alert,
                "rename() {} back to {} failed after {after} ({})",
                oldbin.display(),
                self.pid_file.display(),
                sys::errno_text(&e)
            );
        }
    }

    /// Starts a full set of workers from the current configuration, when `WINCH` stopped
    /// them (rollback of a binary upgrade).
    fn restart_workers(&mut self) {
        if !self.noaccepting {
            return;
        }
        self.noaccepting = false;
        for slot in 0..self.config.main.worker_processes {
            self.spawn(slot);
        }
        self.spawn_cache_helpers();
    }
}

/// nginx's suffix for a child that left a core file.
fn core_dumped(core: bool) -> &'static str {
    if core { " (core dumped)" } else { "" }
}

/// `logs/nginx.pid` → `logs/nginx.pid.oldbin`, nginx's name for the old master's pid file.
fn oldbin_path(pid_file: &Path) -> PathBuf {
    let mut name = pid_file.as_os_str().to_owned();
    name.push(".oldbin");
    PathBuf::from(name)
}

/// The exit code of a worker that could not start (nginx's convention): it is not respawned.
const WORKER_FATAL_EXIT_CODE: i32 = 2;

/// How long to wait before respawning a slot whose workers died at once `fast_deaths` times in
/// a row: nothing for the first (nginx respawns at once), then a doubling delay, so that a
/// worker crashing at start-up does not keep the master forking flat out.
fn respawn_delay(fast_deaths: u32) -> Duration {
    if fast_deaths < 2 {
        return Duration::ZERO;
    }
    let doublings = (fast_deaths - 2).min(16);
    (RESPAWN_FIRST_DELAY * 2u32.pow(doublings)).min(RESPAWN_MAX_DELAY)
}

/// nginx's notice for a signal the master acts on: `signal 15 (SIGTERM) received from 1234,
/// exiting` (without `from PID` when the kernel sent it). `action` is `", exiting"` or `""`.
fn log_signal(sig: libc::c_int, action: &str) {
    let name = sys::signal_name(sig);
    match sys::signal_sender(sig) {
        0 => elog!(LogLevel::Notice, "signal {sig} ({name}) received{action}"),
        from => elog!(
            LogLevel::Notice,
            "signal {sig} ({name}) received from {from}{action}"
        ),
    }
}

/// Warns about roots and aliases the workers' user cannot read (a master running as root
/// hands the workers to `user`; nginx itself says nothing and answers 403).
pub fn warn_unreadable_roots(config: &Config, user: Option<&User>) {
    if let Some(user) = user {
        for warning in readable::unreadable_roots(config, user) {
            elog!(LogLevel::Warn, "{warning}");
        }
    }
}

/// nginx's lines about the event set-up of a configuration (`ngx_event_module_init`): the
/// event method, and a warning when `worker_connections` cannot fit in the workers'
/// descriptor limit (the hard limit, which a worker raises its soft limit to, unless
/// `worker_rlimit_nofile` says otherwise).
fn log_event_setup(config: &Config) {
    elog!(LogLevel::Notice, "using the \"epoll\" event method");
    let connections = config.events.worker_connections as u64;
    let limit = match config.main.worker_rlimit_nofile {
        Some(n) => Some(n),
        None => nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .ok()
            .map(|(_, hard)| hard),
    };
    if let Some(limit) = limit.filter(|&l| connections > l) {
        elog!(
            LogLevel::Warn,
            "{connections} worker_connections exceed open file resource limit: {limit}"
        );
    }
}

/// The `error_log`s of http, server and location levels: opened with the main ones, and
/// used while a request of theirs is handled.
fn scoped_error_logs(config: &Config) -> Vec<crate::log::ErrorLogConf> {
    fn walk(
        loc: &config::LocSettings,
        nested: &[config::LocationConf],
        out: &mut Vec<crate::log::ErrorLogConf>,
    ) {
        for log in loc.error_log.iter() {
            if !out.contains(log) {
                out.push(log.clone());
            }
        }
        for l in nested {
            walk(&l.loc, &l.nested, out);
        }
    }
    let mut out = Vec::new();
    for s in config.http.iter().flat_map(|h| &h.servers) {
        walk(&s.loc, &s.locations, &mut out);
    }
    out
}

fn open_access_logs(config: &Config) -> Result<(), String> {
    let Some(http) = &config.http else {
        return Ok(());
    };
    let mut paths = Vec::new();
    for s in &http.servers {
        collect_access_logs(&s.loc, &s.locations, &mut paths);
    }
    for p in paths {
        crate::log::open_access_log(&p).map_err(|e| {
            format!(
                "open() \"{}\" failed ({})",
                p.display(),
                sys::errno_text(&e)
            )
        })?;
    }
    crate::log::clear_buffers();
    for s in &http.servers {
        set_log_buffers(&s.loc, &s.locations);
    }
    Ok(())
}

/// Makes the files of `access_log ... buffer=` buffered ones.
fn set_log_buffers(loc: &config::LocSettings, nested: &[config::LocationConf]) {
    for a in &loc.access_log {
        if let Some(buffer) = a.buffer {
            crate::log::set_buffer(&a.target.path, buffer);
        }
    }
    for l in nested {
        set_log_buffers(&l.loc, &l.nested);
    }
}

fn collect_access_logs(
    loc: &config::LocSettings,
    nested: &[config::LocationConf],
    out: &mut Vec<PathBuf>,
) {
    // A path with variables is opened by the workers, line by line.
    for a in loc.access_log.iter().filter(|a| a.path_script.is_none()) {
        if !out.contains(&a.target.path) {
            out.push(a.target.path.clone());
        }
    }
    for l in nested {
        collect_access_logs(&l.loc, &l.nested, out);
    }
}

fn write_pid_file(path: &Path) -> io::Result<()> {
    std::fs::write(path, format!("{}\n", std::process::id()))
}

fn remove_pid_file(path: &Path) {
    // Only remove a pid file that is still ours (a new master may have replaced it).
    if std::fs::read_to_string(path).is_ok_and(|s| s.trim() == std::process::id().to_string()) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_fast_death_is_respawned_at_once_a_crash_loop_waits() {
        assert_eq!(respawn_delay(0), Duration::ZERO);
        assert_eq!(respawn_delay(1), Duration::ZERO);
        assert_eq!(respawn_delay(2), RESPAWN_FIRST_DELAY);
        assert_eq!(respawn_delay(3), RESPAWN_FIRST_DELAY * 2);
        assert_eq!(respawn_delay(40), RESPAWN_MAX_DELAY);
    }
}
