//! What a worker process sets up after the fork and before its event loop, in the order of
//! nginx's `ngx_worker_process_init`: environment (`env`), priority, resource limits, user,
//! CPU affinity, dumpable, working directory. The single process of `master_process off`
//! only takes the environment, as nginx's `ngx_single_process_cycle`.

use crate::config::Config;
use crate::config::core_values::configured_environment;
use crate::elog;
use crate::log::LogLevel;
use crate::sys;

use super::User;

/// The environment this configuration gives a process started from this one: its `env`
/// directives applied to the current environment (`TZ` kept by default).
pub fn environment(config: &Config) -> Vec<(String, String)> {
    let inherited = std::env::vars_os().map(|(k, v)| {
        (
            k.to_string_lossy().into_owned(),
            v.to_string_lossy().into_owned(),
        )
    });
    configured_environment(&config.main.env, inherited)
}

/// Replaces the process's environment with the configured one, and shows it in
/// `/proc/PID/environ` when the process may (see [`sys::publish_environment`]).
fn set_environment(config: &Config) {
    sys::replace_environment(&environment(config));
    if let Err(e) = sys::publish_environment() {
        elog!(
            LogLevel::Debug,
            "environment not shown in /proc ({})",
            sys::errno_text(&e)
        );
    }
}

/// The single process of `master_process off`: only the environment changes.
pub fn init_single_process(config: &Config) {
    set_environment(config);
    crate::log::set_debug_points(config.main.debug_points);
}

/// A worker could not be set up; why was logged (nginx's `exit(2)`: it is not respawned).
#[derive(Debug)]
pub struct InitFailed;

/// Sets up worker `slot` (`None`: a cache manager or loader, which gets no CPU affinity, as
/// nginx's `ngx_worker_process_init(cycle, -1)`). What nginx only alerts about is logged and
/// the process goes on; what it exits for is logged too and returned as [`InitFailed`].
pub fn init_worker_process(
    config: &Config,
    slot: Option<usize>,
    user: Option<&User>,
) -> Result<(), InitFailed> {
    let main = &config.main;
    set_environment(config);
    crate::log::set_debug_points(main.debug_points);
    if main.worker_priority != 0
        && let Err(e) = sys::set_priority(main.worker_priority)
    {
        elog!(
            LogLevel::Alert,
            "setpriority({}) failed ({})",
            main.worker_priority,
            sys::errno_text(&e)
        );
    }
    match main.worker_rlimit_nofile {
        Some(n) => {
            if let Err(e) = sys::set_nofile_limit(n) {
                elog!(
                    LogLevel::Alert,
                    "setrlimit(RLIMIT_NOFILE, {n}) failed ({})",
                    sys::errno_text(&e)
                );
            }
        }
        // Portico's own: without the directive the soft limit is raised to the hard one,
        // so `worker_connections` is not capped by a small default.
        None => {
            let _ = sys::raise_nofile_soft_limit();
        }
    }
    if let Some(n) = main.worker_rlimit_core {
        use nix::sys::resource::{Resource, setrlimit};
        if let Err(e) = setrlimit(Resource::RLIMIT_CORE, n, n) {
            let e = std::io::Error::from(e);
            elog!(
                LogLevel::Alert,
                "setrlimit(RLIMIT_CORE, {n}) failed ({})",
                sys::errno_text(&e)
            );
        }
    }
    // `proxy_bind ... transparent` needs CAP_NET_RAW in the worker: nginx keeps it across
    // the user switch (PR_SET_KEEPCAPS, then capset).
    let transparent = config.http.as_ref().is_some_and(|h| h.proxy_transparent);
    if let Some(u) = user {
        if transparent && let Err(e) = sys::keep_capabilities() {
            elog!(
                LogLevel::Alert,
                "prctl(PR_SET_KEEPCAPS, 1) failed ({})",
                sys::errno_text(&e)
            );
            return Err(InitFailed);
        }
        if let Err(e) = u.switch() {
            elog!(LogLevel::Emerg, "{e}");
            return Err(InitFailed);
        }
        if transparent && let Err(e) = sys::net_raw_capability_only() {
            elog!(
                LogLevel::Alert,
                "capset(CAP_NET_RAW) failed ({})",
                sys::errno_text(&e)
            );
            return Err(InitFailed);
        }
    }
    let allowed = sys::allowed_cpus();
    if let Some(slot) = slot
        && let Some(cpus) = main.worker_cpu_affinity.for_worker(slot, &allowed)
        && let Err(e) = sys::set_cpu_affinity(cpus.cpus())
    {
        elog!(
            LogLevel::Alert,
            "sched_setaffinity() failed ({})",
            sys::errno_text(&e)
        );
    }
    // A process that changed its user is not dumpable any more: core files (and
    // /proc/PID/environ, limits...) would be root's only. nginx allows them again.
    if let Err(e) = nix::sys::prctl::set_dumpable(true) {
        let e = std::io::Error::from(e);
        elog!(
            LogLevel::Alert,
            "prctl(PR_SET_DUMPABLE) failed ({})",
            sys::errno_text(&e)
        );
    }
    if let Some(dir) = &main.working_directory
        && let Err(e) = nix::unistd::chdir(dir.as_path())
    {
        let e = std::io::Error::from(e);
        elog!(
            LogLevel::Alert,
            "chdir(\"{}\") failed ({})",
            dir.display(),
            sys::errno_text(&e)
        );
        return Err(InitFailed);
    }
    Ok(())
}
