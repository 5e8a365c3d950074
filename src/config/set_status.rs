//! Setters of the status area: an upstream block's `zone` (`ngx_http_upstream_zone_module.c`)
//! and `stub_status` (`ngx_http_stub_status_module.c`), with nginx's checks and messages;
//! and Portico's own `status_zone`, `status` and `metrics` (nginx Plus's `status_zone`
//! syntax; the report is Portico's JSON and Prometheus text).

use super::error::ConfError;
use super::limits_values::{MIN_ZONE_SIZE, ZoneKind};
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::set_limits::zone_index;
use super::values::parse_size;

/// `zone NAME [SIZE];` inside an upstream block: the group's counters live in the shared
/// zone NAME. Without SIZE the zone must be sized by another upstream block (several groups
/// may share one zone, as in nginx).
pub(crate) fn upstream_zone(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let name = d.arg(0);
    if name.is_empty() {
        return Err(ConfError::at(d, format!("invalid zone name \"{name}\"")));
    }
    let size = if d.args.len() > 1 {
        let text = d.arg(1);
        let size = parse_size(text)
            .ok_or_else(|| ConfError::at(d, format!("invalid zone size \"{text}\"")))?;
        if size < MIN_ZONE_SIZE {
            return Err(ConfError::at(d, format!("zone \"{name}\" is too small")));
        }
        size
    } else {
        0
    };
    let Level::Upstream(u) = l else {
        return Err(ConfError::at(
            d,
            format!("\"{}\" directive is not allowed here", d.name),
        ));
    };
    let i = zone_index(d, shared, name, ZoneKind::Upstream, size)?;
    // Declared by the zone directive itself: a limit_req naming it is "a different use".
    shared.zones[i].declared = true;
    u.zone = Some(i);
    Ok(())
}

/// `stub_status [basic];` (server or location): the location answers with the connection
/// counters. nginx 1.22 takes and ignores one argument, left from older versions.
pub(crate) fn stub_status(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    l.loc(d)?.stub_status = Some(true);
    Ok(())
}

/// What a `status` or `metrics` location answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFormat {
    /// `status;`: JSON, or Prometheus text with `?format=prometheus`.
    Json,
    /// `metrics;`: Prometheus text.
    Prometheus,
}

/// `status;` (location): the location answers with the status report.
pub(crate) fn status(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    l.loc(d)?.status_handler = Some(Some(StatusFormat::Json));
    Ok(())
}

/// `metrics;` (location): the status report in Prometheus' text format.
pub(crate) fn metrics(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    l.loc(d)?.status_handler = Some(Some(StatusFormat::Prometheus));
    Ok(())
}

/// `status_zone NAME;` in a server (its requests are counted in the server zone NAME), or
/// `status_zone NAME|off;` in a location or an `if` in one (counted in the location zone;
/// nested locations inherit it, `off` stops it). Several servers or locations may share a
/// zone.
pub(crate) fn status_zone(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let name = d.arg(0);
    let server = matches!(l, Level::Server(_));
    if name == "off" && !server {
        l.loc(d)?.status_zone = Some(None);
        return Ok(());
    }
    if name.is_empty() || name.len() > crate::status::zones::MAX_NAME {
        return Err(ConfError::at(d, format!("invalid zone name \"{name}\"")));
    }
    let index = match shared
        .status_zones
        .iter()
        .position(|(s, n)| *s == server && n == name)
    {
        Some(i) => i,
        None => {
            shared.status_zones.push((server, name.to_string()));
            shared.status_zones.len() - 1
        }
    };
    if server {
        let srv = l.srv(d)?;
        if srv.status_zone.is_some() {
            return Err(ConfError::at(d, "\"status_zone\" directive is duplicate"));
        }
        srv.status_zone = Some(Some(index));
    } else {
        l.loc(d)?.status_zone = Some(Some(index));
    }
    Ok(())
}

/// `queue N [timeout=T]` in an upstream block (nginx Plus): a request that finds no server
/// it may use waits in its worker's queue (FIFO) until one frees, at most T (60s).
pub(crate) fn upstream_queue(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let size = d
        .arg(0)
        .parse::<usize>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| ConfError::at(d, format!("invalid value \"{}\"", d.arg(0))))?;
    let mut timeout = std::time::Duration::from_secs(60);
    if d.args.len() > 1 {
        let word = d.arg(1);
        timeout = word
            .strip_prefix("timeout=")
            .and_then(|t| super::values::parse_time(t, false))
            .ok_or_else(|| ConfError::at(d, format!("invalid parameter \"{word}\"")))?;
    }
    let Level::Upstream(u) = l else {
        return Err(ConfError::at(
            d,
            format!("\"{}\" directive is not allowed here", d.name),
        ));
    };
    if u.queue.is_some() {
        return Err(ConfError::at(d, "\"queue\" directive is duplicate"));
    }
    u.queue = Some(super::proxy_values::QueueConf { size, timeout });
    Ok(())
}
