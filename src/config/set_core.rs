//! Setters for the main context and `events {}` (nginx's `nginx.c` and `ngx_event.c`).

use super::directives::{block, walk};
use super::error::ConfError;
use super::parser::Directive;
use super::raw::{EventsRaw, HttpRaw, Level, Shared};
use super::settings::CpuAffinity;
use super::values::{flag_arg, full_name, msec_arg, number_arg, parse_number, set_once};

/// Event methods nginx offers on Linux; Portico drives everything with epoll.
const EVENT_METHODS: &[&str] = &["epoll", "poll", "select"];

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

/// `worker_processes N|auto;`
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

/// `worker_shutdown_timeout TIME;`
pub(crate) fn worker_shutdown_timeout(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.main(d)?.worker_shutdown_timeout, d, |d| {
        msec_arg(d, 0)
    })
}

/// One `0101` mask; the rightmost digit is CPU 0 and spaces are ignored.
fn cpu_mask(d: &Directive, text: &str) -> Result<u64, ConfError> {
    if text.len() > 64 {
        return Err(ConfError::at(
            d,
            "\"worker_cpu_affinity\" supports up to 64 CPUs only",
        ));
    }
    let mut mask = 0u64;
    for (cpu, ch) in text.bytes().rev().filter(|&c| c != b' ').enumerate() {
        match ch {
            b'0' => {}
            b'1' => mask |= 1 << cpu,
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

/// `user USER [GROUP];` (checked against the system databases only when running as root,
/// where nginx would use it).
pub(crate) fn user(l: &mut Level<'_>, d: &Directive, shared: &mut Shared) -> Result<(), ConfError> {
    let is_root = shared.is_root;
    set_once(&mut l.main(d)?.user, d, |d| {
        let user = d.arg(0).to_string();
        let group = d.args.get(1).map(|w| w.text.clone());
        if is_root {
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
        }
        Ok((user, group))
    })
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
    let mut http = HttpRaw::default();
    walk(&mut Level::Http(&mut http), block(d), shared)?;
    super::tuning::check_http(&http, d, shared)?;
    main.http = Some(http);
    Ok(())
}

/// `worker_connections N;`
pub(crate) fn worker_connections(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.events(d)?.worker_connections, d, |d| {
        parse_number(d.arg(0))
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| ConfError::at(d, format!("invalid number \"{}\"", d.arg(0))))
    })
}

/// `use METHOD;`
pub(crate) fn use_method(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.events(d)?.method, d, |d| {
        if EVENT_METHODS.contains(&d.arg(0)) {
            Ok(d.arg(0).to_string())
        } else {
            Err(ConfError::at(
                d,
                format!("invalid event type \"{}\"", d.arg(0)),
            ))
        }
    })
}

/// `multi_accept on|off;`
pub(crate) fn multi_accept(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.events(d)?.multi_accept, d, flag_arg)
}

/// `accept_mutex on|off;`
pub(crate) fn accept_mutex(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.events(d)?.accept_mutex, d, flag_arg)
}

#[cfg(test)]
mod tests {
    use crate::config::testutil::{load_err, load_ok};

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
        assert_eq!(
            load_err("user root; user root; events {}"),
            "\"user\" directive is duplicate"
        );
        assert_eq!(
            load_err("worker_rlimit_nofile lots; events {}"),
            "\"worker_rlimit_nofile\" directive invalid number"
        );
        assert_eq!(
            load_err("worker_cpu_affinity auto 01 10; events {}"),
            "invalid number of arguments in \"worker_cpu_affinity\" directive"
        );
        assert_eq!(
            load_err("events { use epoll; use epoll; }"),
            "\"use\" directive is duplicate"
        );
        assert_eq!(
            load_err("events { worker_connections 1; worker_connections 2; }"),
            "\"worker_connections\" directive is duplicate"
        );
        assert_eq!(
            load_err("events { sendfile on; }"),
            "\"sendfile\" directive is not allowed here"
        );
    }

    #[test]
    fn user_is_kept_as_given() {
        let config = load_ok("user root; events {}");
        assert_eq!(config.main.user, Some(("root".to_string(), None)));
        if nix::unistd::geteuid().is_root() {
            assert_eq!(
                load_err("user no-such-user-here; events {}"),
                "getpwnam(\"no-such-user-here\") failed"
            );
        }
    }
}
