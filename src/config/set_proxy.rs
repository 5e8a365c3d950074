//! Setters of the proxy module (`ngx_http_proxy_module.c`) and of `upstream {}` blocks
//! (`ngx_http_upstream.c`, `ngx_http_upstream_round_robin.c`, the `least_conn`, `ip_hash`,
//! `hash` and `keepalive` modules).
//!
//! `proxy_pass http://NAME` may name a group defined later in the file, so a URL's host is
//! registered as a placeholder group; an `upstream NAME {}` block fills it, and any left at the
//! end are host names resolved at load ([`resolve_pending`]), as nginx does at init time.

use std::net::{SocketAddr, ToSocketAddrs};

use super::directives::{block, walk};
use super::error::ConfError;
use super::parser::Directive;
use super::proxy_values::*;
use super::raw::{Level, Shared};
use super::set_rewrite::template;
use super::settings::LocationMatch;
use super::values::simple_setters;
use super::values::{
    flag_arg, msec_arg, number_arg, parse_number, parse_size, parse_time, set_once, size_arg,
};
use crate::elog;
use crate::log::LogLevel;

/// The `upstream` block a directive is in; nginx's error where it is elsewhere.
pub(crate) fn upstream_conf<'a>(
    l: &'a mut Level<'_>,
    d: &Directive,
) -> Result<&'a mut UpstreamConf, ConfError> {
    match l {
        Level::Upstream(u) => Ok(u),
        _ => Err(ConfError::at(
            d,
            format!("\"{}\" directive is not allowed here", d.name),
        )),
    }
}

/// Splits `host[:port]` (IPv6 in brackets); `Err` carries nginx's complaint.
pub(crate) fn split_host_port(text: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return Err(format!("invalid IPv6 address in upstream \"{text}\""));
        };
        let after = &rest[end + 1..];
        (rest[..end].to_string(), after.strip_prefix(':'))
    } else {
        match text.rfind(':') {
            Some(i) => (text[..i].to_string(), Some(&text[i + 1..])),
            None => (text.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("no host in upstream \"{text}\""));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("invalid port in upstream \"{text}\"")),
        },
    };
    Ok((host, port))
}

/// Resolves `host:port` at load time.
fn resolve(host: &str, port: u16) -> Option<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs().ok()?.collect();
    (!addrs.is_empty()).then_some(addrs)
}

/// `upstream NAME { ... }`
pub(crate) fn upstream(
    _: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let name = d.arg(0).to_ascii_lowercase();
    if shared
        .upstreams
        .iter()
        .any(|u| u.explicit && u.name == name)
    {
        return Err(ConfError::at(
            d,
            format!("duplicate upstream \"{}\"", d.arg(0)),
        ));
    }
    let mut conf = UpstreamConf::new(name.clone(), true);
    walk(&mut Level::Upstream(&mut conf), block(d), shared)?;
    if conf.servers.is_empty() {
        return Err(ConfError::at(d, "no servers are inside upstream"));
    }
    if let Some(p) = shared
        .upstreams
        .iter()
        .find(|u| {
            !u.explicit && u.name == name && u.pending.as_ref().is_some_and(|p| p.port.is_some())
        })
        .and_then(|u| u.pending.as_ref())
    {
        let message = format!(
            "upstream \"{}\" may not have port {}",
            d.arg(0),
            p.port.unwrap_or(DEFAULT_UPSTREAM_PORT)
        );
        return Err(ConfError::new(message, &p.file, p.line));
    }
    match shared
        .upstreams
        .iter_mut()
        .find(|u| !u.explicit && u.name == name)
    {
        Some(placeholder) => *placeholder = conf,
        None => shared.upstreams.push(conf),
    }
    Ok(())
}

/// The group index for a `proxy_pass` host, registering a placeholder if it is new.
pub(crate) fn upstream_ref(
    shared: &mut Shared,
    d: &Directive,
    host: &str,
    port: Option<u16>,
) -> Result<usize, ConfError> {
    let name = host.to_ascii_lowercase();
    for (i, u) in shared.upstreams.iter().enumerate() {
        if u.name != name {
            continue;
        }
        if u.explicit {
            if let Some(p) = port {
                let message = format!("upstream \"{host}\" may not have port {p}");
                return Err(ConfError::at(d, message));
            }
            return Ok(i);
        }
        if u.pending.as_ref().is_some_and(|p| p.port == port) {
            return Ok(i);
        }
    }
    let mut conf = UpstreamConf::new(name, false);
    conf.pending = Some(PendingHost {
        port,
        file: d.file.to_path_buf(),
        line: d.line,
    });
    shared.upstreams.push(conf);
    Ok(shared.upstreams.len() - 1)
}

/// Resolves the hosts of `proxy_pass` URLs that name no `upstream` block (end of loading).
pub(crate) fn resolve_pending(upstreams: &mut [UpstreamConf]) -> Result<(), ConfError> {
    for u in upstreams.iter_mut().filter(|u| !u.explicit) {
        let Some(p) = u.pending.as_ref() else {
            continue;
        };
        let port = p.port.unwrap_or(DEFAULT_UPSTREAM_PORT);
        let Some(addrs) = resolve(&u.name, port) else {
            let shown = match p.port {
                Some(port) => format!("{}:{port}", u.name),
                None => u.name.clone(),
            };
            let message = format!("host not found in upstream \"{shown}\"");
            return Err(ConfError::new(message, &p.file, p.line));
        };
        u.servers = addrs
            .into_iter()
            .map(|addr| UpstreamServer {
                addr: PeerAddr::Inet(addr),
                weight: DEFAULT_SERVER_WEIGHT,
                max_fails: DEFAULT_SERVER_MAX_FAILS,
                fail_timeout: DEFAULT_SERVER_FAIL_TIMEOUT,
                backup: false,
                down: false,
                max_conns: 0,
            })
            .collect();
    }
    Ok(())
}

/// `server ADDRESS [weight=N] [max_fails=N] [fail_timeout=T] [backup] [down] [max_conns=N];`
/// (`ngx_http_upstream_server`): a parameter the group's balancing method does not take is
/// refused with nginx's words; `ADDRESS` is `host[:port]` or `unix:/path`.
pub(crate) fn upstream_server(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let u = upstream_conf(l, d)?;
    let mut server = UpstreamServer {
        addr: PeerAddr::Inet(SocketAddr::from(([0, 0, 0, 0], 0))),
        weight: DEFAULT_SERVER_WEIGHT,
        max_fails: DEFAULT_SERVER_MAX_FAILS,
        fail_timeout: DEFAULT_SERVER_FAIL_TIMEOUT,
        backup: false,
        down: false,
        max_conns: 0,
    };
    for w in d.args.iter().skip(1) {
        let p = w.text.as_str();
        let invalid = || ConfError::at(d, format!("invalid parameter \"{p}\""));
        let num = |v: &str| parse_number(v).ok_or_else(invalid);
        if let Some(v) = p.strip_prefix("weight=") {
            server.weight = u32::try_from(num(v)?).map_err(|_| invalid())?;
            if server.weight == 0 {
                return Err(invalid());
            }
        } else if let Some(v) = p.strip_prefix("max_fails=") {
            server.max_fails = u32::try_from(num(v)?).map_err(|_| invalid())?;
        } else if let Some(v) = p.strip_prefix("fail_timeout=") {
            server.fail_timeout = parse_time(v, true).ok_or_else(invalid)?;
        } else if let Some(v) = p.strip_prefix("max_conns=") {
            server.max_conns = usize::try_from(num(v)?).map_err(|_| invalid())?;
        } else if p == "backup" {
            if !u.balance.allows_backup() {
                return Err(ConfError::at(
                    d,
                    format!("balancing method does not support parameter \"{p}\""),
                ));
            }
            server.backup = true;
        } else if p == "down" {
            server.down = true;
        } else if p == "resolve"
            || p.starts_with("service=")
            || p.starts_with("slow_start=")
            || p.starts_with("route=")
            || p == "drain"
        {
            // nginx 1.22 has these only in its commercial version.
            return Err(ConfError::at(
                d,
                format!("invalid parameter \"{p}\": an nginx Plus parameter, not supported"),
            ));
        } else {
            return Err(invalid());
        }
    }
    let text = d.arg(0);
    if text.len() >= 5 && text[..5].eq_ignore_ascii_case("unix:") {
        let path = unix_path(d, text, &text[5..])?;
        u.servers.push(UpstreamServer {
            addr: PeerAddr::Unix(path),
            ..server
        });
        return Ok(());
    }
    let (host, port) = split_host_port(text).map_err(|m| ConfError::at(d, m))?;
    let port = port.unwrap_or(DEFAULT_UPSTREAM_PORT);
    let Some(addrs) = resolve(&host, port) else {
        return Err(ConfError::at(
            d,
            format!("host not found in upstream \"{text}\""),
        ));
    };
    for addr in addrs {
        u.servers.push(UpstreamServer {
            addr: PeerAddr::Inet(addr),
            ..server.clone()
        });
    }
    Ok(())
}

/// The path of a `unix:` address, checked as `ngx_parse_unix_domain_url` checks it.
pub(crate) fn unix_path(
    d: &Directive,
    url: &str,
    path: &str,
) -> Result<std::rc::Rc<std::path::Path>, ConfError> {
    if path.is_empty() {
        return Err(ConfError::at(
            d,
            format!("no path in the unix domain socket in upstream \"{url}\""),
        ));
    }
    // sun_path holds 108 bytes, its terminating NUL included.
    if path.len() + 1 > 108 {
        return Err(ConfError::at(
            d,
            format!("too long path in the unix domain socket in upstream \"{url}\""),
        ));
    }
    Ok(std::rc::Rc::from(std::path::Path::new(path)))
}

/// Sets a group's balancing method, with nginx's warning when one was set already.
pub(crate) fn set_balance(
    u: &mut UpstreamConf,
    d: &Directive,
    balance: Balance,
) -> Result<(), ConfError> {
    if u.balance_set || u.keepalive_given {
        elog!(
            LogLevel::Warn,
            "{}",
            ConfError::at(d, "load balancing method redefined")
        );
    }
    if u.keepalive_given {
        // As in nginx: `keepalive` before the balancing directive is lost with it (the
        // group caches no connection).
        u.keepalive = 0;
        u.keepalive_given = false;
    }
    u.balance_set = true;
    u.balance = balance;
    Ok(())
}

/// `keepalive N;` inside an upstream block.
pub(crate) fn upstream_keepalive(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let n = parse_number(d.arg(0)).filter(|&n| n > 0).ok_or_else(|| {
        ConfError::at(
            d,
            format!("invalid value \"{}\" in \"keepalive\" directive", d.arg(0)),
        )
    })?;
    let u = upstream_conf(l, d)?;
    u.keepalive = usize::try_from(n).unwrap_or(usize::MAX);
    // nginx's keepalive wraps the balancer set so far; one set after it replaces it.
    u.keepalive_given = true;
    Ok(())
}

/// `keepalive_timeout T;` inside an upstream block.
pub(crate) fn upstream_keepalive_timeout(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let t = msec_arg(d, 0)?;
    upstream_conf(l, d)?.keepalive_timeout = t;
    Ok(())
}

/// `keepalive_requests N;` inside an upstream block.
pub(crate) fn upstream_keepalive_requests(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let n = number_arg(d, 0)?;
    upstream_conf(l, d)?.keepalive_requests = n;
    Ok(())
}

/// `least_conn;`
pub(crate) fn least_conn(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_balance(upstream_conf(l, d)?, d, Balance::LeastConn)
}

/// `ip_hash;`
pub(crate) fn ip_hash(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    set_balance(upstream_conf(l, d)?, d, Balance::IpHash)
}

/// `hash KEY [consistent];`
pub(crate) fn hash(l: &mut Level<'_>, d: &Directive, shared: &mut Shared) -> Result<(), ConfError> {
    let key = template(d, d.arg(0), shared)?;
    let consistent = match d.args.len() {
        1 => false,
        _ if d.arg(1) == "consistent" => true,
        _ => {
            return Err(ConfError::at(
                d,
                format!("invalid parameter \"{}\"", d.arg(1)),
            ));
        }
    };
    set_balance(upstream_conf(l, d)?, d, Balance::Hash { key, consistent })
}

/// `proxy_pass URL;` (`ngx_http_proxy_pass`): `http://host[:port][/uri]`,
/// `http://unix:/path[:/uri]`, an `upstream` name, or a URL with variables.
pub(crate) fn proxy_pass(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    // nginx keeps the location's name for a URI part only in prefix and exact locations
    // (`plcf->location.len = 0` in regex, named and `if` ones).
    let (location, uri_allowed) = match l {
        Level::Location(loc) => match &loc.matcher {
            LocationMatch::Prefix(n)
            | LocationMatch::PrefixNoRegex(n)
            | LocationMatch::Exact(n) => (n.as_bytes().to_vec(), true),
            _ => (Vec::new(), false),
        },
        _ => (Vec::new(), false),
    };
    let url = d.arg(0);
    if url.contains('$') {
        let target = ProxyTarget::Dynamic(template(d, url, shared)?);
        return set_once(&mut l.loc(d)?.proxy_pass, d, |_| {
            Ok(Some(ProxyPass {
                target,
                url: String::new(),
                location,
                default_redirect: None,
                // The scheme is known per request (refused there unless `http://`).
                tls: false,
            }))
        });
    }
    let lower = url.to_ascii_lowercase();
    let (rest, tls) = if lower.starts_with("http://") {
        (&url[7..], false)
    } else if lower.starts_with("https://") {
        (&url[8..], true)
    } else {
        return Err(ConfError::at(d, "invalid URL prefix"));
    };
    let default_port = if tls {
        DEFAULT_HTTPS_UPSTREAM_PORT
    } else {
        DEFAULT_UPSTREAM_PORT
    };
    let uri_not_allowed = || {
        ConfError::at(
            d,
            "\"proxy_pass\" cannot have URI part in location given by regular expression, \
             or inside named location, or inside \"if\" statement, or inside \
             \"limit_except\" block",
        )
    };
    let target = if rest.len() >= 5 && rest[..5].eq_ignore_ascii_case("unix:") {
        // `unix:/path[:uri]`: the URI part follows the path's colon.
        let (path, uri) = match rest[5..].split_once(':') {
            Some((p, u)) => (p, Some(u.as_bytes().to_vec()).filter(|u| !u.is_empty())),
            None => (&rest[5..], None),
        };
        if uri.is_some() && !uri_allowed {
            return Err(uri_not_allowed());
        }
        let path = unix_path(d, rest, path)?;
        let group = unix_group(shared, path);
        ProxyTarget::Fixed {
            group,
            // nginx's $proxy_host for a unix socket, and no $proxy_port.
            host: "localhost".into(),
            port: 0,
            uri,
        }
    } else {
        let (hostport, uri) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], Some(rest.as_bytes()[i..].to_vec())),
            None => (rest, None),
        };
        if uri.is_some() && !uri_allowed {
            return Err(uri_not_allowed());
        }
        let (host, port) = split_host_port(hostport).map_err(|m| ConfError::at(d, m))?;
        // `https://host` without a port is host:443 unless it names an upstream block.
        let names_group = shared
            .upstreams
            .iter()
            .any(|u| u.explicit && u.name.eq_ignore_ascii_case(&host));
        let port_for_group = match port {
            None if tls && !names_group => Some(DEFAULT_HTTPS_UPSTREAM_PORT),
            p => p,
        };
        let group = upstream_ref(shared, d, &host, port_for_group)?;
        // $proxy_host: the host as written, with the port unless it is the default.
        let host = match port {
            Some(p) if p != default_port => hostport,
            Some(_) => hostport.rsplit_once(':').map_or(hostport, |(h, _)| h),
            None => hostport,
        };
        ProxyTarget::Fixed {
            group,
            host: host.into(),
            port: port.unwrap_or(default_port),
            uri,
        }
    };
    // The implicit `proxy_redirect default` (ngx_http_proxy_merge_loc_conf): the URL as
    // written becomes the location's name when it has a URI part; without one, the URL and
    // a slash become a slash.
    let default_redirect = match &target {
        ProxyTarget::Fixed { uri, .. } => Some(std::sync::Arc::from([default_redirect_rule(
            url,
            uri.is_some(),
            &location,
        )])),
        ProxyTarget::Dynamic(_) => None,
    };
    set_once(&mut l.loc(d)?.proxy_pass, d, |_| {
        Ok(Some(ProxyPass {
            target,
            url: url.to_string(),
            location,
            default_redirect,
            tls,
        }))
    })
}

/// nginx's `proxy_redirect default` for a fixed `proxy_pass` URL.
fn default_redirect_rule(url: &str, has_uri: bool, location: &[u8]) -> Redirect {
    let mut from = url.as_bytes().to_vec();
    let to = if has_uri {
        location.to_vec()
    } else {
        from.push(b'/');
        b"/".to_vec()
    };
    Redirect::Prefix { from, to }
}

/// The implicit group of a `unix:` upstream address (`proxy_pass http://unix:/path`,
/// `fastcgi_pass unix:/path`, ...), shared by every directive naming the same socket.
pub(crate) fn unix_group(shared: &mut Shared, path: std::rc::Rc<std::path::Path>) -> usize {
    let name = format!("unix:{}", path.display());
    if let Some(i) = shared
        .upstreams
        .iter()
        .position(|u| !u.explicit && u.name == name)
    {
        return i;
    }
    let mut conf = UpstreamConf::new(name, false);
    conf.servers.push(UpstreamServer {
        addr: PeerAddr::Unix(path),
        weight: DEFAULT_SERVER_WEIGHT,
        max_fails: DEFAULT_SERVER_MAX_FAILS,
        fail_timeout: DEFAULT_SERVER_FAIL_TIMEOUT,
        backup: false,
        down: false,
        max_conns: 0,
    });
    shared.upstreams.push(conf);
    shared.upstreams.len() - 1
}

/// `proxy_set_header NAME VALUE;` (an empty value removes the header)
pub(crate) fn proxy_set_header(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let value = template(d, d.arg(1), shared)?;
    l.loc(d)?
        .proxy_set_header
        .get_or_insert_with(Vec::new)
        .push((d.arg(0).to_string(), value));
    Ok(())
}

/// `proxy_pass_header NAME;`
pub(crate) fn proxy_pass_header(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    push_header_name(&mut l.loc(d)?.proxy_pass_header, d)
}

/// `proxy_hide_header NAME;`
pub(crate) fn proxy_hide_header(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    push_header_name(&mut l.loc(d)?.proxy_hide_header, d)
}

/// Adds the directive's header name, lowercased, to a level's list (the directive may repeat).
fn push_header_name(list: &mut Option<Vec<String>>, d: &Directive) -> Result<(), ConfError> {
    list.get_or_insert_with(Vec::new)
        .push(d.arg(0).to_ascii_lowercase());
    Ok(())
}

/// `proxy_redirect default|off|FROM TO;`
pub(crate) fn proxy_redirect(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let rule = match (d.args.len(), d.arg(0)) {
        (1, "off") => {
            return set_once(&mut l.loc(d)?.proxy_redirect, d, |_| Ok(ProxyRedirect::Off));
        }
        (1, "default") => {
            let loc = l.loc(d)?;
            match &loc.proxy_pass {
                Some(Some(ProxyPass {
                    target: ProxyTarget::Dynamic(_),
                    ..
                })) => {
                    return Err(ConfError::at(
                        d,
                        "\"proxy_redirect default\" cannot be used with \"proxy_pass\" \
                         directive with variables",
                    ));
                }
                Some(Some(_)) => RedirectRule::Default,
                _ => {
                    return Err(ConfError::at(
                        d,
                        "\"proxy_redirect default\" should be placed after the \
                         \"proxy_pass\" directive",
                    ));
                }
            }
        }
        (2, from) if from.starts_with('~') => {
            let (pattern, caseless) = match from.strip_prefix("~*") {
                Some(p) => (p, true),
                None => (&from[1..], false),
            };
            RedirectRule::Regex {
                re: super::set_block::compile_regex(d, pattern, caseless, shared)?,
                to: template(d, d.arg(1), shared)?,
            }
        }
        (2, _) => RedirectRule::Replace {
            from: template(d, d.arg(0), shared)?,
            to: template(d, d.arg(1), shared)?,
        },
        (_, other) => {
            return Err(ConfError::at(d, format!("invalid parameter \"{other}\"")));
        }
    };
    let slot = &mut l.loc(d)?.proxy_redirect;
    match slot {
        Some(ProxyRedirect::Rules(rules)) => rules.push(rule),
        Some(_) => return Err(ConfError::directive(d, "is duplicate")),
        None => *slot = Some(ProxyRedirect::Rules(vec![rule])),
    }
    Ok(())
}

/// `proxy_http_version 1.0|1.1;` (the minor version is stored)
pub(crate) fn proxy_http_version(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.proxy_http_version, d, |d| match d.arg(0) {
        "1.0" => Ok(0),
        "1.1" => Ok(1),
        other => Err(ConfError::at(
            d,
            format!("invalid value \"{other}\" in \"{}\" directive", d.name),
        )),
    })
}

/// `proxy_next_upstream error|timeout|invalid_header|http_500|...|non_idempotent|off ...;`
pub(crate) fn proxy_next_upstream(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let mut bits = 0u16;
    for w in &d.args {
        bits |= match w.text.as_str() {
            "error" => NextUpstream::ERROR,
            "timeout" => NextUpstream::TIMEOUT,
            "invalid_header" => NextUpstream::INVALID_HEADER,
            "http_500" => NextUpstream::HTTP_500,
            "http_502" => NextUpstream::HTTP_502,
            "http_503" => NextUpstream::HTTP_503,
            "http_504" => NextUpstream::HTTP_504,
            "http_404" => NextUpstream::HTTP_404,
            "http_403" => NextUpstream::HTTP_403,
            "http_429" => NextUpstream::HTTP_429,
            "non_idempotent" => NextUpstream::NON_IDEMPOTENT,
            "off" => 0,
            other => {
                return Err(ConfError::at(d, format!("invalid value \"{other}\"")));
            }
        };
    }
    set_once(&mut l.loc(d)?.proxy_next_upstream, d, |_| {
        Ok(NextUpstream(bits))
    })
}

/// `proxy_buffers NUMBER SIZE;`
pub(crate) fn proxy_buffers(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.proxy_buffers, d, |d| {
        let n = parse_number(d.arg(0)).filter(|&n| n > 0);
        let size = parse_size(d.arg(1)).filter(|&s| s > 0);
        match (n, size) {
            (Some(n), Some(s)) => Ok((n as usize, s as usize)),
            _ => Err(ConfError::directive(d, "invalid value")),
        }
    })
}

simple_setters! {
    /// `proxy_connect_timeout T;`
    proxy_connect_timeout: loc.proxy_connect_timeout = |d| msec_arg(d, 0);
    /// `proxy_read_timeout T;`
    proxy_read_timeout: loc.proxy_read_timeout = |d| msec_arg(d, 0);
    /// `proxy_send_timeout T;`
    proxy_send_timeout: loc.proxy_send_timeout = |d| msec_arg(d, 0);
    /// `proxy_next_upstream_timeout T;`
    proxy_next_upstream_timeout: loc.proxy_next_upstream_timeout = |d| msec_arg(d, 0);
    /// `proxy_next_upstream_tries N;`
    proxy_next_upstream_tries: loc.proxy_next_upstream_tries = |d| number_arg(d, 0).map(|n| n as usize);
    /// `proxy_buffering on|off;`
    proxy_buffering: loc.proxy_buffering = flag_arg;
    /// `proxy_request_buffering on|off;`
    proxy_request_buffering: loc.proxy_request_buffering = flag_arg;
    /// `proxy_intercept_errors on|off;`
    proxy_intercept_errors: loc.proxy_intercept_errors = flag_arg;
    /// `proxy_buffer_size SIZE;`
    proxy_buffer_size: loc.proxy_buffer_size = |d| size_arg(d, 0).map(|n| n as usize);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::proxy_values::*;
    use crate::config::testutil::{http, load_err, load_ok};
    use crate::config::{HttpConf, LocSettings};

    fn http_conf(body: &str) -> HttpConf {
        load_ok(&http(body)).http.expect("http block")
    }

    fn first_location(conf: &HttpConf) -> &LocSettings {
        &conf.servers[0].locations[0].loc
    }

    #[test]
    fn upstream_servers_and_methods() {
        let conf = http_conf(
            "upstream a { least_conn; server 127.0.0.1:81 weight=3 max_fails=2 fail_timeout=5s \
             max_conns=7; server 127.0.0.1:82 backup; server 127.0.0.1 down; keepalive 8;\n\
             keepalive_timeout 5s; keepalive_requests 10; }\n\
             upstream b { hash $request_uri consistent; server 127.0.0.1:83; }\n\
             upstream c { ip_hash; server localhost:84; }",
        );
        let a = &conf.upstreams[0];
        assert!(matches!(a.balance, Balance::LeastConn));
        let s = &a.servers[0];
        assert_eq!(s.addr.to_string(), "127.0.0.1:81");
        assert_eq!(
            (s.weight, s.max_fails, s.fail_timeout, s.max_conns),
            (3, 2, Duration::from_secs(5), 7)
        );
        assert!(a.servers[1].backup && a.servers[2].down);
        assert_eq!(a.servers[2].addr.port(), 80);
        assert_eq!(
            (a.keepalive, a.keepalive_timeout, a.keepalive_requests),
            (8, Duration::from_secs(5), 10)
        );
        assert!(matches!(
            conf.upstreams[1].balance,
            Balance::Hash {
                consistent: true,
                ..
            }
        ));
        assert!(matches!(conf.upstreams[2].balance, Balance::IpHash));
        // localhost resolves to one entry per address.
        assert!(!conf.upstreams[2].servers.is_empty());
        let d = UpstreamConf::new("d".into(), true);
        assert_eq!(d.keepalive, DEFAULT_UPSTREAM_KEEPALIVE);
    }

    #[test]
    fn proxy_pass_forms_and_groups() {
        let conf = http_conf(
            "server { location /a/ { proxy_pass http://127.0.0.1:8080/x/; }\n\
             location /b/ { proxy_pass http://127.0.0.1:8080; }\n\
             location /c/ { proxy_pass http://later; }\n\
             location ~ d { proxy_pass http://$host:1; } }\n\
             upstream later { server 127.0.0.1:9; }",
        );
        let locs = &conf.servers[0].locations;
        let target = |i: usize| locs[i].loc.proxy_pass.as_ref().map(|p| &p.target);
        match target(0) {
            Some(ProxyTarget::Fixed {
                group,
                host,
                port,
                uri,
            }) => {
                assert_eq!((&**host, *port), ("127.0.0.1:8080", 8080));
                assert_eq!(uri.as_deref(), Some(&b"/x/"[..]));
                assert_eq!(conf.upstreams[*group].servers[0].addr.port(), 8080);
            }
            other => panic!("{other:?}"),
        }
        // The same host:port shares one implicit group.
        assert!(matches!(
            (target(0), target(1)),
            (Some(ProxyTarget::Fixed { group: g0, .. }), Some(ProxyTarget::Fixed { group: g1, uri: None, .. })) if g0 == g1
        ));
        // A group defined after its use is the same group.
        match target(2) {
            Some(ProxyTarget::Fixed { group, host, .. }) => {
                assert_eq!(&**host, "later");
                assert!(conf.upstreams[*group].explicit);
                assert_eq!(conf.upstreams[*group].servers[0].addr.port(), 9);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(target(3), Some(ProxyTarget::Dynamic(_))));
        assert_eq!(
            locs[0].loc.proxy_pass.as_ref().map(|p| &p.location[..]),
            Some(&b"/a/"[..])
        );
    }

    #[test]
    fn proxy_settings_inherit_and_default() {
        let conf = http_conf(
            "proxy_read_timeout 5s; proxy_set_header X-A a; proxy_buffers 4 8k;\n\
             server { proxy_next_upstream error timeout http_502; proxy_redirect off;\n\
             location / { proxy_set_header X-B b; proxy_set_header X-C c;\n\
               proxy_pass http://127.0.0.1:1; location /n/ { } }\n\
             location /s/ { proxy_http_version 1.0; proxy_buffering off; } }",
        );
        let root = first_location(&conf);
        assert_eq!(root.proxy_read_timeout, Duration::from_secs(5));
        assert_eq!(root.proxy_connect_timeout, DEFAULT_PROXY_CONNECT_TIMEOUT);
        assert_eq!(root.proxy_buffers, (4, 8192));
        let names: Vec<&str> = root
            .proxy_set_header
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(
            names,
            ["X-B", "X-C"],
            "a level's list replaces its parent's"
        );
        assert!(root.proxy_next_upstream.has(NextUpstream::HTTP_502));
        assert!(matches!(root.proxy_redirect, ProxyRedirect::Off));
        assert_eq!(root.proxy_http_version, 1);
        // Nested locations do not inherit proxy_pass.
        assert!(
            conf.servers[0].locations[0].nested[0]
                .loc
                .proxy_pass
                .is_none()
        );
        let s = &conf.servers[0].locations[1].loc;
        assert_eq!((s.proxy_http_version, s.proxy_buffering), (0, false));
        assert_eq!(s.proxy_set_header.len(), 1);
    }

    #[test]
    fn errors_are_nginx_words() {
        let e = |body: &str| load_err(&http(body));
        assert_eq!(
            e("server { location / { proxy_pass http://a; proxy_pass http://b; } }"),
            "\"proxy_pass\" directive is duplicate"
        );
        assert_eq!(
            e("server { location / { proxy_pass http://a:x; } }"),
            "invalid port in upstream \"a:x\""
        );
        assert_eq!(
            e(
                "upstream u { server 127.0.0.1:1; } server { location / { proxy_pass http://u:81; } }"
            ),
            "upstream \"u\" may not have port 81"
        );
        assert_eq!(
            e(
                "server { location / { proxy_pass http://u:81; } } upstream u { server 127.0.0.1:1; }"
            ),
            "upstream \"u\" may not have port 81"
        );
        assert_eq!(
            e("upstream u { server 127.0.0.1:1; } upstream u { server 127.0.0.1:2; }"),
            "duplicate upstream \"u\""
        );
        assert_eq!(
            e("upstream u { server 127.0.0.1:1 bogus; }"),
            "invalid parameter \"bogus\""
        );
        assert_eq!(
            e("upstream u { ip_hash; server 127.0.0.1:1 backup; }"),
            "balancing method does not support parameter \"backup\""
        );
        assert_eq!(
            e("upstream u { server 127.0.0.1:1; hash $host x; }"),
            "invalid parameter \"x\""
        );
        assert_eq!(
            e("proxy_next_upstream sometimes;"),
            "invalid value \"sometimes\""
        );
        assert_eq!(
            e("proxy_http_version 2.0;"),
            "invalid value \"2.0\" in \"proxy_http_version\" directive"
        );
        assert_eq!(
            e("server { location / { proxy_pass http://nosuchhost.invalid:81; } }"),
            "host not found in upstream \"nosuchhost.invalid:81\""
        );
        assert_eq!(
            e("proxy_pass http://x;"),
            "\"proxy_pass\" directive is not allowed here"
        );
        assert_eq!(
            e("upstream u { listen 80; }"),
            "\"listen\" directive is not allowed here"
        );
    }
}
