//! `master_process off`: the one process serves, as nginx's single-process mode, and
//! reloads its configuration on `HUP` in place.
//!
//! nginx keeps the old configuration alive beside the new one for the connections that
//! started under it. Here a configuration is borrowed by the loop serving it, so a reload
//! is sequential: on `HUP` the caller loads and checks the new configuration (a bad one is
//! logged and the loop goes on as before); if it is good, the loop stops accepting,
//! finishes the requests in flight (each answered with `Connection: close`), closes idle
//! keep-alive connections at once, and hands its listening sockets back, still open, so
//! connections that arrive meanwhile wait in the kernel's queue rather than being refused;
//! the new configuration then serves them. `worker_shutdown_timeout` bounds the wait.

use super::{Worker, sys};
use crate::config::Config;
use crate::elog;
use crate::listener::Listener;
use crate::log::LogLevel;

/// How the single process's loop ended.
pub enum SingleEnd {
    /// Stopped (`TERM`, `INT`, `QUIT`): the exit code.
    Exit(i32),
    /// `HUP` with a configuration `reconfigure` accepted: the listening sockets, for it.
    Reload(Vec<Listener>),
}

/// Serves `config` in this process until a stop or an accepted reload. On `HUP`,
/// `reconfigure` loads and checks the new configuration and says whether to switch to it.
pub fn run_single(
    config: &Config,
    listeners: Vec<Listener>,
    mut reconfigure: impl FnMut() -> bool,
) -> SingleEnd {
    let Some(http) = config.http.as_ref() else {
        return SingleEnd::Exit(super::idle_until_signal());
    };
    let mut w = match Worker::new(config, http, listeners, 0) {
        Ok(w) => w,
        Err(e) => {
            elog!(
                LogLevel::Emerg,
                "worker start-up failed ({})",
                sys::errno_text(&e)
            );
            return SingleEnd::Exit(2);
        }
    };
    w.single = true;
    loop {
        let code = w.run();
        if !w.reload_asked {
            return SingleEnd::Exit(code);
        }
        if !reconfigure() {
            w.reload_asked = false;
            continue;
        }
        w.begin_shutdown();
        w.close_idle_keepalive();
        // Nothing in flight: no need to wait for the loop's next turn.
        let code = if w.conns.is_empty() { 0 } else { w.run() };
        if w.reload_asked {
            // The next loop makes a signal pipe of its own.
            let _ = nix::unistd::close(w.signal_fd);
            return SingleEnd::Reload(std::mem::take(&mut w.sockets));
        }
        // A stop came while draining.
        return SingleEnd::Exit(code);
    }
}

impl Worker<'_> {
    /// Closes the connections that wait for a next request (nginx closes idle connections at
    /// a graceful stop): a reload should not wait for their `keepalive_timeout`.
    fn close_idle_keepalive(&mut self) {
        for key in self.conns.keys() {
            let idle = self
                .conns
                .get(key)
                .is_some_and(|c| c.requests > 0 && c.active().is_none());
            if idle {
                self.close(key);
            }
        }
    }
}
