//! `master_process off`: nginx's single-process mode. This process serves (see
//! `worker::single`), and a `HUP` reloads the configuration in place: a bad one is logged
//! and the running one goes on; a good one takes over once the requests in flight are done,
//! on the same listening sockets (an address that cannot be bound keeps the old
//! configuration serving).

use super::{listen, open_access_logs, scoped_error_logs, worker_init};
use crate::config::{self, Config, LoadOptions};
use crate::elog;
use crate::listener::Listener;
use crate::log::LogLevel;
use crate::worker::{SingleEnd, run_single};

/// Serves until stopped; returns the exit code.
pub(super) fn serve(
    opts: &LoadOptions,
    mut config: Config,
    mut listeners: Vec<Listener>,
    mut zones: crate::shm::Registry,
) -> i32 {
    loop {
        worker_init::init_single_process(&config);
        let mut next: Option<(Config, crate::shm::Registry)> = None;
        let unix_files = listen::unix_paths(&listeners);
        let end = run_single(&config, listeners, || {
            elog!(LogLevel::Notice, "reconfiguring");
            next = load(opts, &zones);
            next.is_some()
        });
        let mut old = match end {
            SingleEnd::Exit(code) => {
                // As nginx's `ngx_close_listening_sockets` at exit.
                for path in &unix_files {
                    listen::remove_socket_file(path, false);
                }
                elog!(LogLevel::Notice, "exit");
                return code;
            }
            SingleEnd::Reload(sockets) => sockets,
        };
        let Some((new, new_zones)) = next.take() else {
            return 0;
        };
        let wanted = new
            .http
            .as_ref()
            .map(|h| h.listens.clone())
            .unwrap_or_default();
        match listen::bind_all(&wanted, &mut old, 1) {
            Ok(bound) => {
                if let Err(e) =
                    crate::log::init_error_logs(&new.main.error_log, &scoped_error_logs(&new))
                {
                    elog!(
                        LogLevel::Alert,
                        "could not open error log ({}), keeping the old one",
                        crate::sys::errno_text(&e)
                    );
                }
                super::log_event_setup(&new);
                listen::remove_unix_files(&old, true);
                listeners = bound;
                config = new;
                zones = new_zones;
            }
            Err(e) => {
                // The old configuration serves on, from the sockets it had.
                elog!(LogLevel::Emerg, "{e}");
                listeners = old;
            }
        }
    }
}

/// Loads and prepares the configuration of a reload; `None` (after logging why) when it
/// cannot take over.
fn load(
    opts: &LoadOptions,
    zones: &crate::shm::Registry,
) -> Option<(Config, crate::shm::Registry)> {
    let mut config = match config::load(opts) {
        Ok(c) => c,
        Err(e) => {
            elog!(LogLevel::Emerg, "{e}");
            return None;
        }
    };
    let zones = match super::zones::map(&mut config, zones) {
        Ok(z) => z,
        Err(e) => {
            elog!(LogLevel::Emerg, "{e}");
            return None;
        }
    };
    if let Err(e) = open_access_logs(&config) {
        elog!(LogLevel::Emerg, "{e}");
        return None;
    }
    if let Err(e) = crate::upstream::body_buffer::create_temp_paths(&config, None) {
        elog!(LogLevel::Emerg, "{e}");
        return None;
    }
    Some((config, zones))
}
