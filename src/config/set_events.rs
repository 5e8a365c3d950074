//! Setters for `events {}`: nginx's event core module (`ngx_event.c`) and the epoll module's
//! two directives (`ngx_epoll_module.c`).

use std::net::ToSocketAddrs;

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::settings::{Cidr, DebugPeer};
use super::values::{flag_arg, msec_arg, number_arg, parse_number, set_once, warn_at};

/// Event methods this build has: Debian's nginx on Linux has epoll only (`use poll;` is
/// "invalid event type" there too).
const EVENT_METHODS: &[&str] = &["epoll"];

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

/// `accept_mutex_delay TIME;`
pub(crate) fn accept_mutex_delay(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.events(d)?.accept_mutex_delay, d, |d| msec_arg(d, 0))
}

/// `epoll_events N;`
pub(crate) fn epoll_events(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.events(d)?.epoll_events, d, |d| number_arg(d, 0))
}

/// `worker_aio_requests N;`
pub(crate) fn worker_aio_requests(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.events(d)?.worker_aio_requests, d, |d| {
        number_arg(d, 0)
    })
}

/// `debug_connection ADDRESS|CIDR|HOST|unix:;` (repeatable), as `ngx_event_debug_connection`:
/// an address block, else a host name resolved now (each of its addresses), or `unix:`.
pub(crate) fn debug_connection(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let events = l.events(d)?;
    let text = d.arg(0);
    if text == "unix:" {
        events.debug_connection.push(DebugPeer::Unix);
        return Ok(());
    }
    if let Some((cidr, host_bits)) = Cidr::parse(text) {
        if host_bits {
            warn_at(d, &format!("low address bits of {text} are meaningless"));
        }
        events.debug_connection.push(DebugPeer::Cidr(cidr));
        return Ok(());
    }
    let addrs: Vec<_> = (text, 0)
        .to_socket_addrs()
        .map(|a| a.map(|a| a.ip()).collect())
        .unwrap_or_default();
    if addrs.is_empty() {
        let message = format!("host not found in debug_connection \"{text}\"");
        return Err(ConfError::at(d, message));
    }
    for ip in addrs {
        events
            .debug_connection
            .push(DebugPeer::Cidr(Cidr::host(ip)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::testutil::{load_err, load_ok};
    use crate::config::{Cidr, DebugPeer};
    use std::time::Duration;

    fn events(body: &str) -> crate::config::EventsConf {
        load_ok(&format!("events {{ {body} }}")).events
    }

    #[test]
    fn events_settings_and_defaults() {
        let e = events("");
        assert_eq!(e.worker_connections, 512);
        assert_eq!(e.accept_mutex_delay, Duration::from_millis(500));
        assert_eq!((e.epoll_events, e.worker_aio_requests), (512, 32));
        assert!(!e.multi_accept && !e.accept_mutex && e.debug_connection.is_empty());
        let e = events(
            "use epoll; accept_mutex on; accept_mutex_delay 50ms; multi_accept on;\n\
             worker_aio_requests 64; epoll_events 100;\n\
             debug_connection 10.0.0.0/8; debug_connection ::1; debug_connection unix:;",
        );
        assert_eq!(e.method.as_deref(), Some("epoll"));
        assert_eq!(e.accept_mutex_delay, Duration::from_millis(50));
        assert_eq!((e.epoll_events, e.worker_aio_requests), (100, 64));
        assert_eq!(
            e.debug_connection,
            [
                DebugPeer::Cidr(Cidr::parse("10.0.0.0/8").unwrap().0),
                DebugPeer::Cidr(Cidr::parse("::1").unwrap().0),
                DebugPeer::Unix,
            ]
        );
        // A host name stands for each of its addresses.
        let e = events("debug_connection localhost;");
        assert!(!e.debug_connection.is_empty());
        assert!(
            e.debug_connection
                .iter()
                .all(|p| p.matches(Some(&"127.0.0.1:1".parse().unwrap()))
                    || p.matches(Some(&"[::1]:1".parse().unwrap())))
        );
    }

    #[test]
    fn events_refuse_what_nginx_refuses() {
        let cases = [
            ("use poll;", "invalid event type \"poll\""),
            ("use kqueue;", "invalid event type \"kqueue\""),
            (
                "accept_mutex_delay x;",
                "\"accept_mutex_delay\" directive invalid value",
            ),
            (
                "accept_mutex_delay 1; accept_mutex_delay 2;",
                "\"accept_mutex_delay\" directive is duplicate",
            ),
            (
                "multi_accept yes;",
                "invalid value \"yes\" in \"multi_accept\" directive, it must be \"on\" or \"off\"",
            ),
            ("worker_connections -1;", "invalid number \"-1\""),
            (
                "worker_aio_requests -1;",
                "\"worker_aio_requests\" directive invalid number",
            ),
            (
                "epoll_events x;",
                "\"epoll_events\" directive invalid number",
            ),
            (
                "debug_connection unix:/x;",
                "host not found in debug_connection \"unix:/x\"",
            ),
            (
                "debug_connection 1.2.3.4/33;",
                "host not found in debug_connection \"1.2.3.4/33\"",
            ),
            (
                "debug_connection no.such.host.invalid;",
                "host not found in debug_connection \"no.such.host.invalid\"",
            ),
            (
                "debug_connection;",
                "invalid number of arguments in \"debug_connection\" directive",
            ),
        ];
        for (directive, message) in cases {
            assert_eq!(
                load_err(&format!("events {{ {directive} }}")),
                message,
                "{directive}"
            );
        }
        assert_eq!(
            load_err("events { worker_connections 0; }"),
            "0 worker_connections are not enough for 0 listening sockets"
        );
    }
}
