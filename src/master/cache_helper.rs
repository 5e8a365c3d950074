//! The cache manager and cache loader processes (nginx's `ngx_cache_manager_process_cycle`):
//! forked by the master beside the workers when the configuration has a cache path, they
//! hold no listening socket and serve no traffic; their work is `cache/manager.rs`'s.
//!
//! - The manager starts at once and runs until told to stop (`QUIT`, `TERM`, `INT`); the
//!   master respawns it if it dies.
//! - The loader starts its work 60 s after its fork, as nginx's, walks each cache once and
//!   exits; it is not respawned.
//!
//! Both exit on `QUIT` as on `TERM` (nginx's helpers have nothing to finish) and reopen the
//! logs on `USR1`.

use std::time::{Duration, Instant};

use crate::cache::manager::{CacheRef, Duty, Task};
use crate::config::Config;
use crate::elog;
use crate::log::LogLevel;
use crate::sys;

use super::process::{Role, wait_readable};

/// How long after its start the loader begins (nginx's `ngx_cache_loader_ctx` delay).
const LOADER_DELAY: Duration = Duration::from_secs(60);
/// Longest sleep of a helper with nothing due.
const LONGEST_SLEEP: Duration = Duration::from_secs(3600);

/// Runs a cache manager or loader until it is told to stop or, for the loader, until its
/// work is done. Returns the exit code.
pub fn run(config: &Config, role: Role) -> i32 {
    let Some(http) = config.http.as_ref() else {
        return 0;
    };
    let signal_fd = match sys::install_signal_pipe() {
        Ok(fd) => fd,
        Err(e) => {
            elog!(
                LogLevel::Alert,
                "signal setup failed ({})",
                sys::errno_text(&e)
            );
            return 2;
        }
    };
    let (task, first) = match role {
        Role::CacheLoader => (Task::Load, Instant::now() + LOADER_DELAY),
        _ => (Task::Manage, Instant::now()),
    };
    let mut duty = Duty::new(task, http.caches.len(), first);
    loop {
        let Some(at) = duty.next_at() else {
            // The loader has walked every cache.
            return 0;
        };
        let wait = at.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            wait_readable(signal_fd, wait.min(LONGEST_SLEEP));
            sys::drain_pipe(signal_fd);
        }
        // Every flag is taken, so none is left for later.
        let mut stop = false;
        for sig in [libc::SIGQUIT, libc::SIGTERM, libc::SIGINT] {
            stop |= sys::take_signal(sig);
        }
        if stop {
            elog!(LogLevel::Notice, "exiting");
            return 0;
        }
        if sys::take_signal(libc::SIGUSR1) {
            elog!(LogLevel::Notice, "reopening logs");
            let _ = crate::log::reopen_logs_alerting();
        }
        duty.turn(Instant::now(), |i| {
            let decl = http.caches.get(i)?;
            Some(CacheRef {
                path: &decl.path,
                segment: http.zones.get(decl.zone)?.segment.as_deref(),
            })
        });
    }
}
