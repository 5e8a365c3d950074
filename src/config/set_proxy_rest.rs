//! Setters of the rest of the proxy module and of the upstream directives beyond the
//! classic balancers (`random`, `keepalive_time`), with nginx's checks and messages; and
//! the directives Portico refuses with a reason (the proxy cache, TLS to upstreams, shared
//! upstream zones, nginx Plus features).

use super::error::ConfError;
use super::parser::Directive;
use super::proxy_rest::*;
use super::proxy_values::{Balance, RedirectRule};
use super::raw::{Level, Shared};
use super::set_proxy::upstream_conf;
use super::set_rewrite::template;
use super::values::{flag_arg, msec_arg, number_arg, set_once, simple_setters, size_arg, warn_at};

/// `proxy_method METHOD;` (variables allowed)
pub(crate) fn proxy_method(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let method = template(d, d.arg(0), shared)?;
    set_once(&mut l.loc(d)?.proxy_method, d, |_| Ok(Some(method)))
}

/// `proxy_set_body VALUE;` (variables allowed)
pub(crate) fn proxy_set_body(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let body = template(d, d.arg(0), shared)?;
    set_once(&mut l.loc(d)?.proxy_set_body, d, |_| Ok(Some(body)))
}

/// Which cookie attribute a `proxy_cookie_*` rule list rewrites.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CookieAttr {
    Domain,
    Path,
}

/// `proxy_cookie_domain off|DOMAIN REPLACEMENT;` and `proxy_cookie_path off|PATH
/// REPLACEMENT;`: rules accumulate at one level, `off` stands alone
/// (`ngx_http_proxy_cookie_domain`, `ngx_http_proxy_cookie_path`).
fn cookie_rewrite(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
    attr: CookieAttr,
) -> Result<(), ConfError> {
    let loc = l.loc(d)?;
    let slot = match attr {
        CookieAttr::Domain => &mut loc.proxy_cookie_domain,
        CookieAttr::Path => &mut loc.proxy_cookie_path,
    };
    let Some(rules) = off_or_rules(slot, d)? else {
        return Ok(());
    };
    let (from, to) = (d.arg(0), d.arg(1));
    let rule = if let Some(pattern) = from.strip_prefix('~') {
        // A domain regex is always caseless; a path one only with `~*`.
        let (pattern, caseless) = match (attr, pattern.strip_prefix('*')) {
            (CookieAttr::Domain, _) => (pattern, true),
            (CookieAttr::Path, Some(p)) => (p, true),
            (CookieAttr::Path, None) => (pattern, false),
        };
        RedirectRule::Regex {
            re: super::set_block::compile_regex(d, pattern, caseless, shared)?,
            to: template(d, to, shared)?,
        }
    } else {
        let (from, to) = match attr {
            // nginx compares domains without their leading dot, and writes the replacement
            // without one.
            CookieAttr::Domain => (
                from.strip_prefix('.').unwrap_or(from),
                to.strip_prefix('.').unwrap_or(to),
            ),
            CookieAttr::Path => (from, to),
        };
        RedirectRule::Replace {
            from: template(d, from, shared)?,
            to: template(d, to, shared)?,
        }
    };
    rules.push(rule);
    Ok(())
}

/// The rule list of a `proxy_cookie_*` directive at one level (`None` in it: `off`):
/// `Ok(None)` when this use is a lone `off` (recorded here), else the list its rule joins.
/// `off` stands alone: with a rule at the same level, or twice, it is a duplicate.
fn off_or_rules<'s, T>(
    slot: &'s mut Option<Option<Vec<T>>>,
    d: &Directive,
) -> Result<Option<&'s mut Vec<T>>, ConfError> {
    if matches!(slot, Some(None)) {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    if d.args.len() == 1 {
        if d.arg(0) != "off" {
            return Err(ConfError::at(
                d,
                format!("invalid parameter \"{}\"", d.arg(0)),
            ));
        }
        if slot.is_some() {
            return Err(ConfError::directive(d, "is duplicate"));
        }
        *slot = Some(None);
        return Ok(None);
    }
    Ok(Some(
        slot.get_or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new),
    ))
}

/// `proxy_cookie_domain off|DOMAIN REPLACEMENT;`
pub(crate) fn proxy_cookie_domain(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    cookie_rewrite(l, d, shared, CookieAttr::Domain)
}

/// `proxy_cookie_path off|PATH REPLACEMENT;`
pub(crate) fn proxy_cookie_path(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    cookie_rewrite(l, d, shared, CookieAttr::Path)
}

/// `proxy_cookie_flags off|COOKIE [FLAG...];` (1.19.3)
pub(crate) fn proxy_cookie_flags(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let Some(rules) = off_or_rules(&mut l.loc(d)?.proxy_cookie_flags, d)? else {
        return Ok(());
    };
    let cookie = match d.arg(0).strip_prefix('~') {
        Some(pattern) => {
            CookieName::Regex(super::set_block::compile_regex(d, pattern, true, shared)?)
        }
        None => CookieName::Name(template(d, d.arg(0), shared)?),
    };
    let flags = d.args[1..]
        .iter()
        .map(|w| template(d, &w.text, shared))
        .collect::<Result<Vec<_>, _>>()?;
    rules.push(CookieFlagsRule { cookie, flags });
    Ok(())
}

/// `proxy_ignore_headers FIELD...;` (see [`ignore_headers_arg`]).
pub(crate) fn proxy_ignore_headers(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let slot = &mut l.loc(d)?.proxy_ignore_headers;
    *slot = Some(ignore_headers_arg(*slot, d)?);
    Ok(())
}

/// `*_ignore_headers FIELD...;`: a bitmask; a level's directives add up to `set`
/// (`ngx_conf_set_bitmask_slot`: a repeated value is a warning, an unknown one an error).
pub(crate) fn ignore_headers_arg(
    set: Option<IgnoreHeaders>,
    d: &Directive,
) -> Result<IgnoreHeaders, ConfError> {
    let mut bits = set.map_or(0, |s| s.0);
    for w in &d.args {
        let Some(&(_, bit)) = IgnoreHeaders::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&w.text))
        else {
            return Err(ConfError::at(d, format!("invalid value \"{}\"", w.text)));
        };
        if bits & bit != 0 {
            warn_at(d, &format!("duplicate value \"{}\"", w.text));
        }
        bits |= bit;
    }
    Ok(IgnoreHeaders(bits))
}

/// nginx's `ngx_cacheline_size` on x86-64: hash bucket sizes are rounded up to it.
const CACHELINE: u64 = 64;

/// `proxy_headers_hash_max_size N;`: a tuning knob of nginx's header hash, meaningless to
/// Portico; checked as `ngx_hash_init` checks it.
pub(crate) fn proxy_headers_hash_max_size(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.proxy_headers_hash_max_size, d, |d| {
        let n = number_arg(d, 0)?;
        if n == 0 {
            return Err(ConfError::at(
                d,
                "could not build proxy_headers_hash, you should increase \
                 proxy_headers_hash_max_size: 0",
            ));
        }
        Ok(n)
    })
}

/// `proxy_headers_hash_bucket_size N;`: rounded up to the cache line, checked as
/// `ngx_hash_init` checks it (the default header names fit in 64).
pub(crate) fn proxy_headers_hash_bucket_size(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.proxy_headers_hash_bucket_size, d, |d| {
        let n = number_arg(d, 0)?.div_ceil(CACHELINE) * CACHELINE;
        if n > 65536 - CACHELINE {
            return Err(ConfError::at(
                d,
                format!(
                    "could not build proxy_headers_hash, too large \
                     proxy_headers_hash_bucket_size: {n}"
                ),
            ));
        }
        // The longest default name ("Transfer-Encoding") needs an element of 32 bytes
        // plus a pointer.
        if n < 40 {
            return Err(ConfError::at(
                d,
                format!(
                    "could not build proxy_headers_hash, you should increase \
                     proxy_headers_hash_bucket_size: {n}"
                ),
            ));
        }
        Ok(n)
    })
}

/// `proxy_bind ADDRESS [transparent] | off;`
pub(crate) fn proxy_bind(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let value = if d.args.len() == 1 && d.arg(0) == "off" {
        ProxyBind::Off
    } else {
        let transparent = match d.args.get(1).map(|w| w.text.as_str()) {
            None => false,
            Some("transparent") => true,
            Some(other) => {
                return Err(ConfError::at(d, format!("invalid parameter \"{other}\"")));
            }
        };
        shared.proxy_transparent |= transparent;
        let addr = template(d, d.arg(0), shared)?;
        match addr.is_literal() {
            Some(_) => {
                let text = d.arg(0);
                let Some(addr) = parse_addr_port(text) else {
                    return Err(ConfError::at(d, format!("invalid address \"{text}\"")));
                };
                ProxyBind::Fixed { addr, transparent }
            }
            None => ProxyBind::Dynamic { addr, transparent },
        }
    };
    set_once(&mut l.loc(d)?.proxy_bind, d, |_| Ok(value))
}

/// `proxy_send_lowat SIZE;`: `SO_SNDLOWAT` cannot be set on Linux; nginx warns there and
/// ignores a non-zero value (`ngx_http_proxy_lowat_check`), and so does Portico.
pub(crate) fn proxy_send_lowat(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.proxy_send_lowat, d, |d| {
        let n = size_arg(d, 0)?;
        if n != 0 {
            warn_at(d, "\"proxy_send_lowat\" is not supported, ignored");
        }
        Ok(n)
    })
}

/// `proxy_store on|off|PATH;`: storing responses in files is not implemented, so only
/// `off` (nginx's default) is accepted.
pub(crate) fn proxy_store(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    if d.arg(0) != "off" {
        return Err(ConfError::directive(
            d,
            "is not supported: Portico does not store proxied responses in files",
        ));
    }
    set_once(&mut l.loc(d)?.proxy_store, d, |_| Ok(ProxyStore::Off))
}

/// `proxy_store_access users:permissions ...;` (`ngx_conf_set_access_slot`)
pub(crate) fn proxy_store_access(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.proxy_store_access, d, access_arg)
}

/// `users:permissions ...` of `*_store_access` (`ngx_conf_set_access_slot`): the file mode.
pub(crate) fn access_arg(d: &Directive) -> Result<u32, ConfError> {
    let mut access = 0u32;
    let mut user = 0o600u32;
    for w in &d.args {
        let p = w.text.as_str();
        let invalid = || ConfError::at(d, format!("invalid value \"{p}\""));
        let (shift, right) = if let Some(r) = p.strip_prefix("user:") {
            user = 0;
            (6, r)
        } else if let Some(r) = p.strip_prefix("group:") {
            (3, r)
        } else if let Some(r) = p.strip_prefix("all:") {
            (0, r)
        } else {
            return Err(invalid());
        };
        let bits = match right {
            "rw" => 6,
            "r" => 4,
            _ => return Err(invalid()),
        };
        access |= bits << shift;
    }
    Ok(access | user)
}

simple_setters! {
    /// `proxy_pass_request_headers on|off;`
    proxy_pass_request_headers: loc.proxy_pass_request_headers = flag_arg;
    /// `proxy_pass_request_body on|off;`
    proxy_pass_request_body: loc.proxy_pass_request_body = flag_arg;
    /// `proxy_force_ranges on|off;`
    proxy_force_ranges: loc.proxy_force_ranges = flag_arg;
    /// `proxy_socket_keepalive on|off;`
    proxy_socket_keepalive: loc.proxy_socket_keepalive = flag_arg;
    /// `proxy_ignore_client_abort on|off;`
    proxy_ignore_client_abort: loc.proxy_ignore_client_abort = flag_arg;
    /// `proxy_limit_rate SIZE;`
    proxy_limit_rate: loc.proxy_limit_rate = |d| size_arg(d, 0);
}

// ---- upstream blocks ----

/// `random [two [least_conn]];` (`ngx_http_upstream_random`)
pub(crate) fn random(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    let invalid = |i: usize| ConfError::at(d, format!("invalid parameter \"{}\"", d.arg(i)));
    let two = match d.args.len() {
        0 => false,
        _ if d.arg(0) != "two" => return Err(invalid(0)),
        1 => true,
        _ if d.arg(1) != "least_conn" => return Err(invalid(1)),
        _ => true,
    };
    let u = upstream_conf(l, d)?;
    super::set_proxy::set_balance(u, d, Balance::Random { two })
}

/// `keepalive_time TIME;` inside an upstream block (1.19.10).
pub(crate) fn upstream_keepalive_time(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let t = msec_arg(d, 0)?;
    let u = upstream_conf(l, d)?;
    if u.keepalive_time.is_some() {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    u.keepalive_time = Some(t);
    Ok(())
}

// ---- refused, with the reason ----

/// A directive nginx has that Portico refuses: `"NAME" directive is not supported: WHY`.
fn refuse(d: &Directive, why: &str) -> ConfError {
    ConfError::directive(d, &format!("is not supported: {why}"))
}

/// nginx Plus directives (`state`, `sticky`, `ntlm`,
/// `least_time`): not in nginx itself either.
pub(crate) fn refuse_plus(
    _: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    Err(refuse(d, "it is a commercial nginx Plus feature"))
}

#[cfg(test)]
mod tests;
