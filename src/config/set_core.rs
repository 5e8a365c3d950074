//! Setters for the main context (nginx's `nginx.c` and the core modules beside it); the
//! `events {}` block's are in `set_events`.

use super::directives::{block, walk};
use super::error::ConfError;
use super::parser::Directive;
use super::raw::{EventsRaw, HttpRaw, Level, Shared};
use super::settings::{CpuAffinity, CpuSet, DebugPoints, EnvVar};
use super::values::{
    flag_arg, full_name, msec_arg, number_arg, offset_arg, parse_number, set_once, warn_at,
};
use crate::config::core_values::MAX_CPUS;

// The table's `events` rows name these here.
pub(crate) use super::set_events::{accept_mutex, multi_accept, use_method, worker_connections};

/// `daemon on|off;`
pub(crate) fn daemon(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    set_once(&mut l.main(d)?.daemon, d, flag_arg)
}

/// `master_process on|off;`
pub(crate) fn master_process(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.main(d)?.master_process, d, flag_arg)
}

/// `worker_processes N|auto;` (`auto`: the CPUs this process may run on, which inside a
/// cpuset or under `taskset` is fewer than nginx's count of online CPUs).
pub(crate) fn worker_processes(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.main(d)?.worker_processes, d, |d| {
        if d.arg(0) == "auto" {
            return Ok(std::thread::available_parallelism().map_or(1, |n| n.get()));
        }
        let n = parse_number(d.arg(0)).ok_or_else(|| ConfError::directive(d, "invalid value"))?;
        usize::try_from(n).map_err(|_| ConfError::directive(d, "invalid value"))
    })
}

/// `worker_rlimit_nofile N;`
pub(crate) fn worker_rlimit_nofile(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.main(d)?.worker_rlimit_nofile, d, |d| {
        number_arg(d, 0)
    })
}

/// `worker_rlimit_core SIZE;` (an offset: `500M`, `1G`).
pub(crate) fn worker_rlimit_core(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.main(d)?.worker_rlimit_core, d, |d| offset_arg(d, 0))
}

/// `worker_priority [-|+]N;` as `ngx_set_priority`: 0 counts as unset, so only a second
/// non-zero value is a duplicate. The kernel clamps the value to -20..19.
pub(crate) fn worker_priority(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let main = l.main(d)?;
    if main.worker_priority != 0 {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    let text = d.arg(0);
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let n = parse_number(digits).ok_or_else(|| ConfError::directive(d, "invalid number"))?;
    let n = i32::try_from(n).unwrap_or(i32::MAX);
    main.worker_priority = if negative { -n } else { n };
    Ok(())
}

/// `worker_shutdown_timeout TIME;` (0: no limit, as unset).
pub(crate) fn worker_shutdown_timeout(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.main(d)?.worker_shutdown_timeout, d, |d| {
        msec_arg(d, 0)
    })
}

/// `timer_resolution TIME;` (0: read the clock every event-loop turn, the default).
pub(crate) fn timer_resolution(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.main(d)?.timer_resolution, d, |d| msec_arg(d, 0))
}

/// One `0101` mask; the rightmost digit is CPU 0 and spaces are ignored.
fn cpu_mask(d: &Directive, text: &str) -> Result<CpuSet, ConfError> {
    if text.len() > MAX_CPUS {
        let message = format!("\"worker_cpu_affinity\" supports up to {MAX_CPUS} CPUs only");
        return Err(ConfError::at(d, message));
    }
    let mut mask = CpuSet::default();
    for (cpu, ch) in text.bytes().rev().filter(|&c| c != b' ').enumerate() {
        match ch {
            b'0' => {}
            b'1' => mask.insert(cpu),
            _ => {
                let shown = String::from_utf8_lossy(&[ch]).into_owned();
                let message = format!("invalid character \"{shown}\" in \"worker_cpu_affinity\"");
                return Err(ConfError::at(d, message));
            }
        }
    }
    Ok(mask)
}

/// `worker_cpu_affinity auto [MASK];` or `worker_cpu_affinity MASK...;`
pub(crate) fn worker_cpu_affinity(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.main(d)?.worker_cpu_affinity, d, |d| {
        if d.arg(0) == "auto" {
            if d.args.len() > 2 {
                let message = "invalid number of arguments in \"worker_cpu_affinity\" directive";
                return Err(ConfError::at(d, message));
            }
            let limit = d.args.get(1).map(|w| cpu_mask(d, &w.text)).transpose()?;
            return Ok(CpuAffinity::Auto(limit));
        }
        let masks = d
            .args
            .iter()
            .map(|w| cpu_mask(d, &w.text))
            .collect::<Result<_, _>>()?;
        Ok(CpuAffinity::Masks(masks))
    })
}

/// `user USER [GROUP];` as `ngx_set_user`: checked against the system databases when running
/// as root; otherwise nginx's warning, and the directive is ignored (so it is no duplicate
/// either).
pub(crate) fn user(l: &mut Level<'_>, d: &Directive, shared: &mut Shared) -> Result<(), ConfError> {
    let main = l.main(d)?;
    if main.user.is_some() {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    if !shared.is_root {
        warn_at(
            d,
            "the \"user\" directive makes sense only if the master process runs with \
             super-user privileges, ignored",
        );
        return Ok(());
    }
    let user = d.arg(0).to_string();
    let group = d.args.get(1).map(|w| w.text.clone());
    if !matches!(nix::unistd::User::from_name(&user), Ok(Some(_))) {
        return Err(ConfError::at(d, format!("getpwnam(\"{user}\") failed")));
    }
    let group_name = group.as_deref().unwrap_or(&user);
    if !matches!(nix::unistd::Group::from_name(group_name), Ok(Some(_))) {
        return Err(ConfError::at(
            d,
            format!("getgrnam(\"{group_name}\") failed"),
        ));
    }
    main.user = Some((user, group));
    Ok(())
}

/// `pid FILE|off;`
pub(crate) fn pid(l: &mut Level<'_>, d: &Directive, shared: &mut Shared) -> Result<(), ConfError> {
    let prefix = shared.prefix.clone();
    set_once(&mut l.main(d)?.pid, d, |d| {
        Ok(if d.arg(0) == "off" {
            Default::default()
        } else {
            full_name(&prefix, d.arg(0))
        })
    })
}

/// `lock_file FILE;` (resolved against the prefix, as nginx; nothing is created there, see
/// `accept_mutex`).
pub(crate) fn lock_file(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let prefix = shared.prefix.clone();
    set_once(&mut l.main(d)?.lock_file, d, |d| {
        Ok(full_name(&prefix, d.arg(0)))
    })
}

/// `working_directory DIR;` (kept as written: nginx `chdir`s to it as given).
pub(crate) fn working_directory(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.main(d)?.working_directory, d, |d| {
        Ok(d.arg(0).into())
    })
}

/// `debug_points stop|abort;`
pub(crate) fn debug_points(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.main(d)?.debug_points, d, |d| match d.arg(0) {
        "stop" => Ok(DebugPoints::Stop),
        "abort" => Ok(DebugPoints::Abort),
        other => Err(ConfError::at(d, format!("invalid value \"{other}\""))),
    })
}

/// `env NAME[=VALUE];` (repeatable).
pub(crate) fn env(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    l.main(d)?.env.push(EnvVar::parse(d.arg(0)));
    Ok(())
}

/// Main-context directives of nginx modules Portico does not have: refused with what to do
/// instead, never accepted and ignored.
pub(crate) fn not_in_portico(
    _: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let why = match d.name.as_str() {
        "thread_pool" => {
            "Portico has no thread pools: a worker reads files in its event loop with \
             sendfile(2) and its open-file cache; remove \"thread_pool\" (and \"aio threads\")"
        }
        "ssl_engine" => "Portico's TLS is rustls, which has no OpenSSL engines",
        "google_perftools_profiles" => {
            "Portico is not built with the google perftools module; profile a worker with \
             perf(1) instead"
        }
        _ => "Portico does not have this module",
    };
    Err(ConfError::at(
        d,
        format!("\"{}\" directive is not supported: {why}", d.name),
    ))
}

/// `events { ... }`
pub(crate) fn events(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let main = l.main(d)?;
    if main.events.is_some() {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    let mut events = EventsRaw::default();
    walk(&mut Level::Events(&mut events), block(d), shared)?;
    main.events = Some(events);
    Ok(())
}

/// `http { ... }`
pub(crate) fn http(l: &mut Level<'_>, d: &Directive, shared: &mut Shared) -> Result<(), ConfError> {
    let main = l.main(d)?;
    if main.http.is_some() {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    let mut http = HttpRaw {
        place: Some((d.file.clone(), d.line)),
        ..HttpRaw::default()
    };
    walk(&mut Level::Http(&mut http), block(d), shared)?;
    super::tuning::check_http(&http, d, shared)?;
    main.http = Some(http);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::testutil::{load_err, load_in, load_ok};
    use crate::config::{DebugPoints, EnvVar};
    use std::time::Duration;

    #[test]
    fn worker_processes_auto_is_cpu_count() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(
            load_ok("worker_processes auto; events {}")
                .main
                .worker_processes,
            cpus
        );
        assert_eq!(
            load_ok("worker_processes 4; events {}")
                .main
                .worker_processes,
            4
        );
    }

    #[test]
    fn once_only_and_value_errors() {
        assert_eq!(
            load_err("pid a; pid b; events {}"),
            "\"pid\" directive is duplicate"
        );
        if nix::unistd::geteuid().is_root() {
            assert_eq!(
                load_err("user root; user root; events {}"),
                "\"user\" directive is duplicate"
            );
        }
        assert_eq!(
            load_err("worker_rlimit_nofile lots; events {}"),
            "\"worker_rlimit_nofile\" directive invalid number"
        );
        assert_eq!(
            load_err("worker_cpu_affinity auto 01 10; events {}"),
            "invalid number of arguments in \"worker_cpu_affinity\" directive"
        );
        assert_eq!(
            load_err("worker_cpu_affinity 0102; events {}"),
            "invalid character \"2\" in \"worker_cpu_affinity\""
        );
        assert_eq!(
            load_err(&format!(
                "worker_cpu_affinity {}; events {{}}",
                "0".repeat(1025)
            )),
            "\"worker_cpu_affinity\" supports up to 1024 CPUs only"
        );
        assert_eq!(
            load_err("worker_processes -1; events {}"),
            "\"worker_processes\" directive invalid value"
        );
    }

    #[test]
    fn process_settings() {
        let config = load_ok(
            "worker_priority -5; worker_rlimit_core 500M; working_directory /var/crash;\n\
             env TZ; env A=b=c; timer_resolution 100ms; debug_points abort;\n\
             lock_file logs/x.lock; worker_shutdown_timeout 0; events {}",
        );
        let main = &config.main;
        assert_eq!(main.worker_priority, -5);
        assert_eq!(main.worker_rlimit_core, Some(500 << 20));
        assert_eq!(main.working_directory, Some("/var/crash".into()));
        assert_eq!(main.env, [EnvVar::parse("TZ"), EnvVar::parse("A=b=c")]);
        assert_eq!(main.env[1].value.as_deref(), Some("b=c"));
        assert_eq!(main.timer_resolution, Some(Duration::from_millis(100)));
        assert_eq!(main.debug_points, Some(DebugPoints::Abort));
        assert_eq!(main.lock_file, config.prefix.join("logs/x.lock"));
        assert_eq!(main.worker_shutdown_timeout, None, "0 is no limit");
        let defaults = load_ok("events {}");
        assert_eq!(
            defaults.main.lock_file,
            defaults.prefix.join("logs/portico.lock")
        );
        let defaults = defaults.main;
        assert_eq!(defaults.worker_priority, 0);
        assert!(defaults.env.is_empty() && defaults.timer_resolution.is_none());
        assert_eq!(
            load_ok("worker_priority +7; events {}")
                .main
                .worker_priority,
            7
        );
        // 0 is "unset" for nginx: a second value is no duplicate.
        assert_eq!(
            load_ok("worker_priority 0; worker_priority 3; events {}")
                .main
                .worker_priority,
            3
        );
    }

    #[test]
    fn process_settings_refuse_what_nginx_refuses() {
        let cases = [
            (
                "worker_priority x;",
                "\"worker_priority\" directive invalid number",
            ),
            (
                "worker_priority -;",
                "\"worker_priority\" directive invalid number",
            ),
            (
                "worker_priority 1; worker_priority 1;",
                "\"worker_priority\" directive is duplicate",
            ),
            (
                "worker_rlimit_core -1;",
                "\"worker_rlimit_core\" directive invalid value",
            ),
            (
                "worker_rlimit_core 1T;",
                "\"worker_rlimit_core\" directive invalid value",
            ),
            (
                "worker_rlimit_nofile -1;",
                "\"worker_rlimit_nofile\" directive invalid number",
            ),
            (
                "working_directory a; working_directory b;",
                "\"working_directory\" directive is duplicate",
            ),
            ("env;", "invalid number of arguments in \"env\" directive"),
            (
                "timer_resolution -1;",
                "\"timer_resolution\" directive invalid value",
            ),
            (
                "lock_file a; lock_file b;",
                "\"lock_file\" directive is duplicate",
            ),
            ("debug_points foo;", "invalid value \"foo\""),
            (
                "debug_points stop; debug_points stop;",
                "\"debug_points\" directive is duplicate",
            ),
            (
                "worker_shutdown_timeout -1;",
                "\"worker_shutdown_timeout\" directive invalid value",
            ),
        ];
        for (directive, message) in cases {
            assert_eq!(
                load_err(&format!("{directive} events {{}}")),
                message,
                "{directive}"
            );
        }
    }

    #[test]
    fn modules_portico_lacks_are_refused_with_a_reason() {
        for (directive, says) in [
            ("thread_pool default threads=32;", "no thread pools"),
            ("ssl_engine x;", "no OpenSSL engines"),
            ("google_perftools_profiles /tmp/p;", "perf(1)"),
        ] {
            let (result, prefix) = load_in(&format!("{directive}\nevents {{}}"), None);
            let e = result.unwrap_err();
            assert!(e.message.contains("directive is not supported: "), "{e}");
            assert!(e.message.contains(says), "{e}");
            assert_eq!(e.line, 1);
            assert_eq!(e.file, Some(prefix.join("conf/nginx.conf")));
        }
    }

    #[test]
    fn user_is_kept_as_given_by_root_and_ignored_otherwise() {
        let config = load_ok("user root; events {}");
        if nix::unistd::geteuid().is_root() {
            assert_eq!(config.main.user, Some(("root".to_string(), None)));
            assert_eq!(
                load_err("user no-such-user-here; events {}"),
                "getpwnam(\"no-such-user-here\") failed"
            );
        } else {
            assert_eq!(config.main.user, None);
        }
    }
}
