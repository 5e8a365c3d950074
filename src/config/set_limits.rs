//! Setters of the limit_req and limit_conn modules (`ngx_http_limit_req_module.c`,
//! `ngx_http_limit_conn_module.c`), the realip module (`ngx_http_realip_module.c`), the
//! auth_basic module and `satisfy` (issue 14), with nginx's checks and messages.

use std::net::ToSocketAddrs;

use super::error::ConfError;
use super::limits_values::*;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::set_rewrite::template;
use super::values::{flag_arg, msec_arg, parse_number, parse_size, set_once, simple_setters};
use crate::cidr::{Cidr, Parsed};
use crate::elog;
use crate::log::LogLevel;

simple_setters! {
    /// `limit_req_dry_run on|off;`
    limit_req_dry_run: loc.limit_req_dry_run = flag_arg;
    /// `limit_conn_dry_run on|off;`
    limit_conn_dry_run: loc.limit_conn_dry_run = flag_arg;
    /// `limit_req_status CODE;` (400..599)
    limit_req_status: loc.limit_req_status = status_arg;
    /// `limit_conn_status CODE;` (400..599)
    limit_conn_status: loc.limit_conn_status = status_arg;
    /// `limit_req_log_level info|notice|warn|error;`
    limit_req_log_level: loc.limit_req_log_level = log_level_arg;
    /// `limit_conn_log_level info|notice|warn|error;`
    limit_conn_log_level: loc.limit_conn_log_level = log_level_arg;
    /// `real_ip_recursive on|off;`
    real_ip_recursive: loc.real_ip_recursive = flag_arg;
    /// `satisfy all|any;`
    satisfy: loc.satisfy = satisfy_arg;
    /// `auth_delay TIME;`
    auth_delay: loc.auth_delay = |d| msec_arg(d, 0);
}

/// `ngx_conf_set_num_slot` with `ngx_conf_check_num_bounds` 400..599.
fn status_arg(d: &Directive) -> Result<u16, ConfError> {
    let n = parse_number(d.arg(0)).ok_or_else(|| ConfError::directive(d, "invalid number"))?;
    if !(400..=599).contains(&n) {
        return Err(ConfError::at(d, "value must be between 400 and 599"));
    }
    Ok(n as u16)
}

fn log_level_arg(d: &Directive) -> Result<LogLevel, ConfError> {
    match d.arg(0) {
        "info" => Ok(LogLevel::Info),
        "notice" => Ok(LogLevel::Notice),
        "warn" => Ok(LogLevel::Warn),
        "error" => Ok(LogLevel::Error),
        v => Err(ConfError::at(d, format!("invalid value \"{v}\""))),
    }
}

fn satisfy_arg(d: &Directive) -> Result<Satisfy, ConfError> {
    match d.arg(0) {
        "all" => Ok(Satisfy::All),
        "any" => Ok(Satisfy::Any),
        v => Err(ConfError::at(d, format!("invalid value \"{v}\""))),
    }
}

/// `ngx_shared_memory_add`: the zone named `name` of `kind`, added (size 0) if new.
pub(crate) fn zone_index(
    d: &Directive,
    shared: &mut Shared,
    name: &str,
    kind: ZoneKind,
    size: u64,
) -> Result<usize, ConfError> {
    if let Some(i) = shared.zones.iter().position(|z| z.name == name) {
        let z = &mut shared.zones[i];
        if z.kind != kind {
            return Err(ConfError::at(
                d,
                format!(
                    "the shared memory zone \"{name}\" is already declared for a different use"
                ),
            ));
        }
        if z.size == 0 {
            z.size = size;
        }
        if size != 0 && size != z.size {
            return Err(ConfError::at(
                d,
                format!(
                    "the size {size} of shared memory zone \"{name}\" conflicts with already declared size {}",
                    z.size
                ),
            ));
        }
        return Ok(i);
    }
    shared.zones.push(ZoneDecl {
        name: name.to_string(),
        kind,
        size,
        key: Default::default(),
        key_text: String::new(),
        key_is_binary_remote_addr: false,
        rate: 0,
        declared: false,
        segment: None,
    });
    Ok(shared.zones.len() - 1)
}

/// `zone=NAME:SIZE` of a `*_zone` directive.
fn zone_param(d: &Directive, value: &str) -> Result<(String, u64), ConfError> {
    let spec = &value["zone=".len()..];
    let invalid = || ConfError::at(d, format!("invalid zone size \"{value}\""));
    let (name, size) = spec.split_once(':').ok_or_else(invalid)?;
    let size = parse_size(size).ok_or_else(invalid)?;
    if size < MIN_ZONE_SIZE {
        return Err(ConfError::at(d, format!("zone \"{value}\" is too small")));
    }
    Ok((name.to_string(), size))
}

/// The part both `*_zone` directives share: the key, the zone, the checks.
fn declare_zone(
    d: &Directive,
    shared: &mut Shared,
    kind: ZoneKind,
    mut other: impl FnMut(&str) -> Result<bool, ConfError>,
) -> Result<usize, ConfError> {
    let key_text = d.arg(0).to_string();
    let key = template(d, &key_text, shared)?;
    let mut zone = None;
    for w in &d.args[1..] {
        let v = w.text.as_str();
        if v.starts_with("zone=") {
            zone = Some(zone_param(d, v)?);
        } else if !other(v)? {
            return Err(ConfError::at(d, format!("invalid parameter \"{v}\"")));
        }
    }
    let Some((name, size)) = zone.filter(|(n, _)| !n.is_empty()) else {
        return Err(ConfError::at(
            d,
            format!("\"{}\" must have \"zone\" parameter", d.name),
        ));
    };
    let i = zone_index(d, shared, &name, kind, size)?;
    let z = &mut shared.zones[i];
    if z.declared {
        return Err(ConfError::at(
            d,
            format!(
                "{} \"{name}\" is already bound to key \"{}\"",
                d.name, z.key_text
            ),
        ));
    }
    z.declared = true;
    z.key_is_binary_remote_addr = key.single_var() == Some(&crate::vars::Var::BinaryRemoteAddr);
    z.key = key;
    z.key_text = key_text;
    Ok(i)
}

/// `limit_req_zone KEY zone=NAME:SIZE rate=N r/s|r/m;`
pub(crate) fn limit_req_zone(
    _: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let mut rate = 1000u64;
    let i = declare_zone(d, shared, ZoneKind::LimitReq, |v| {
        let Some(spec) = v.strip_prefix("rate=") else {
            return Ok(false);
        };
        let (digits, scale) = if let Some(n) = spec.strip_suffix("r/s") {
            (n, 1)
        } else if let Some(n) = spec.strip_suffix("r/m") {
            (n, 60)
        } else {
            (spec, 1)
        };
        match parse_number(digits).filter(|&n| n > 0 && n < i64::MAX as u64 / 1000) {
            Some(n) => rate = n * 1000 / scale,
            None => return Err(ConfError::at(d, format!("invalid rate \"{v}\""))),
        }
        Ok(true)
    })?;
    shared.zones[i].rate = rate;
    Ok(())
}

/// `limit_conn_zone KEY zone=NAME:SIZE;`
pub(crate) fn limit_conn_zone(
    _: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    declare_zone(d, shared, ZoneKind::LimitConn, |_| Ok(false)).map(|_| ())
}

/// `ngx_atoi` of a positive parameter value.
fn positive(d: &Directive, what: &str, v: &str, digits: &str) -> Result<u64, ConfError> {
    parse_number(digits)
        .filter(|&n| n > 0 && n < i64::MAX as u64 / 1000)
        .ok_or_else(|| ConfError::at(d, format!("invalid {what} value \"{v}\"")))
}

/// `limit_req zone=NAME [burst=N] [nodelay | delay=N];`
pub(crate) fn limit_req(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let (mut zone, mut burst, mut delay) = (None, 0, 0);
    for w in &d.args {
        let v = w.text.as_str();
        if let Some(name) = v.strip_prefix("zone=") {
            zone = Some(zone_index(d, shared, name, ZoneKind::LimitReq, 0)?);
        } else if let Some(n) = v.strip_prefix("burst=") {
            burst = positive(d, "burst", v, n)?;
        } else if let Some(n) = v.strip_prefix("delay=") {
            delay = positive(d, "delay", v, n)?;
        } else if v == "nodelay" {
            // nginx's NGX_MAX_INT_T_VALUE / 1000: no request is ever delayed.
            delay = i64::MAX as u64 / 1000;
        } else {
            return Err(ConfError::at(d, format!("invalid parameter \"{v}\"")));
        }
    }
    let Some(zone) = zone else {
        return Err(ConfError::at(
            d,
            "\"limit_req\" must have \"zone\" parameter",
        ));
    };
    let list = l.loc(d)?.limit_req.get_or_insert_with(Vec::new);
    if list.iter().any(|r| r.zone == zone) {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    list.push(LimitReq {
        zone,
        burst: burst * 1000,
        delay: delay * 1000,
    });
    Ok(())
}

/// `limit_conn ZONE NUMBER;`
pub(crate) fn limit_conn(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let zone = zone_index(d, shared, d.arg(0), ZoneKind::LimitConn, 0)?;
    let list = l.loc(d)?.limit_conn.get_or_insert_with(Vec::new);
    if list.iter().any(|r| r.zone == zone) {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    let n = match parse_number(d.arg(1)) {
        Some(n) if n > 0 => n,
        _ => {
            return Err(ConfError::at(
                d,
                format!("invalid number of connections \"{}\"", d.arg(1)),
            ));
        }
    };
    if n > 65535 {
        return Err(ConfError::at(d, "connection limit must be less 65536"));
    }
    list.push(LimitConn { zone, conn: n });
    Ok(())
}

/// `set_real_ip_from ADDRESS|CIDR|unix:|HOST;`
pub(crate) fn set_real_ip_from(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let v = d.arg(0);
    let list = &mut l.loc(d)?.set_real_ip_from.get_or_insert_with(Vec::new);
    if v == "unix:" {
        list.push(Cidr::Unix);
        return Ok(());
    }
    match Cidr::parse(v) {
        Some(Parsed::Ok(c)) => list.push(c),
        Some(Parsed::LowBits(c)) => {
            elog!(
                LogLevel::Warn,
                "low address bits of {v} are meaningless in {}:{}",
                d.file.display(),
                d.line
            );
            list.push(c);
        }
        None => {
            // A host name, resolved now, as ngx_inet_resolve_host does.
            let addrs: Vec<_> = (v, 0)
                .to_socket_addrs()
                .map(|a| a.map(|s| s.ip()).collect())
                .unwrap_or_default();
            if addrs.is_empty() {
                return Err(ConfError::at(
                    d,
                    format!("host not found in set_real_ip_from \"{v}\""),
                ));
            }
            let mut seen = Vec::new();
            for ip in addrs {
                if !seen.contains(&ip) {
                    seen.push(ip);
                    list.push(Cidr::host(ip));
                }
            }
        }
    }
    Ok(())
}

/// `real_ip_header X-Real-IP|X-Forwarded-For|proxy_protocol|NAME;`
pub(crate) fn real_ip_header(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.real_ip_header, d, |d| {
        Ok(match d.arg(0) {
            "X-Real-IP" => RealIpHeader::XRealIp,
            "X-Forwarded-For" => RealIpHeader::XForwardedFor,
            "proxy_protocol" => RealIpHeader::ProxyProtocol,
            other => RealIpHeader::Other(other.to_ascii_lowercase()),
        })
    })
}

/// `auth_basic STRING|off;` (with variables)
pub(crate) fn auth_basic(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let t = template(d, d.arg(0), shared)?;
    set_once(&mut l.loc(d)?.auth_basic, d, |_| Ok(Some(t)))
}

/// `auth_basic_user_file FILE;` (with variables; relative to the configuration's folder)
pub(crate) fn auth_basic_user_file(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let t = template(d, d.arg(0), shared)?;
    let prefix = shared.conf_prefix.clone();
    set_once(&mut l.loc(d)?.auth_basic_user_file, d, |_| {
        Ok(Some(UserFile { path: t, prefix }))
    })
}
