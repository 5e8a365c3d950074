//! Setters of the proxy cache (issue 19): `proxy_cache_path`, `proxy_cache`,
//! `proxy_cache_key`, `proxy_cache_valid`, `proxy_cache_methods`, `proxy_cache_bypass`,
//! `proxy_no_cache` and the rest of the `proxy_cache_*` family, with the checks and messages
//! of nginx's `ngx_http_proxy_module.c` and `ngx_http_file_cache.c`.

use super::cache_conf::{CacheSlots, USE_STALE_UPDATING, proxy_slots};
use super::cgi_values::CgiModule;
use super::error::ConfError;
use super::limits_values::ZoneKind;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::set_rewrite::template;
use super::values::{flag_arg, msec_arg, number_arg, offset_arg, set_once};
use crate::cache::freshness::parse_valid;

/// One `*_cache_path`, with the zone it declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheDecl {
    /// Index of its keys zone in [`crate::config::HttpConf::zones`].
    pub zone: usize,
    /// What the directive says.
    pub path: crate::cache::path_conf::CachePath,
}

/// Which cache a location uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheSel {
    /// A keys zone, by its index in [`crate::config::HttpConf::zones`].
    Zone(usize),
    /// A zone named per request (empty or `off`: no cache).
    Var(crate::vars::Template),
}

/// `proxy_cache_methods` bits.
pub mod methods {
    /// GET (always cached, as in nginx).
    pub const GET: u8 = 1;
    /// HEAD (always cached).
    pub const HEAD: u8 = 2;
    /// POST.
    pub const POST: u8 = 4;
}

/// The cache fields of the directive's module (`proxy_*`, `fastcgi_*`, `uwsgi_*`,
/// `scgi_*`) at this level: one setter serves the four modules.
fn slots<'a>(l: &'a mut Level<'_>, d: &Directive) -> Result<CacheSlots<'a>, ConfError> {
    let loc = l.loc(d)?;
    Ok(match CgiModule::of_directive(&d.name) {
        None => proxy_slots(loc),
        Some(m) => CacheSlots::of(
            &mut m
                .raw(loc)
                .get_or_insert_with(super::cgi_values::CgiConf::default)
                .cache,
        ),
    })
}

/// `proxy_cache_path PATH [levels=] keys_zone=NAME:SIZE [inactive=] [max_size=] ...;`
pub(crate) fn proxy_cache_path(
    _: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let args: Vec<String> = d.args.iter().map(|w| w.text.clone()).collect();
    let path = crate::cache::path_conf::parse(&d.name, &args, &shared.prefix)
        .map_err(|m| ConfError::at(d, m))?;
    // max_size, min_free and the loader_*/manager_* pace are kept by the cache manager
    // and loader processes (cache/manager.rs, master/cache_helper.rs).
    if shared.caches.iter().any(|c| c.path.dir == path.dir) {
        return Err(ConfError::at(
            d,
            format!(
                "the same path name \"{}\" is used in another cache",
                path.dir.display()
            ),
        ));
    }
    let zone =
        super::set_limits::zone_index(d, shared, &path.zone, ZoneKind::ProxyCache, path.zone_size)?;
    if shared.caches.iter().any(|c| c.zone == zone) {
        return Err(ConfError::at(
            d,
            format!("duplicate zone \"{}\"", path.zone),
        ));
    }
    let z = &mut shared.zones[zone];
    z.declared = true;
    // A reload that points a kept zone at another directory is refused (as nginx's
    // ngx_http_file_cache_init).
    z.key_text = path.dir.display().to_string();
    shared.caches.push(CacheDecl { zone, path });
    Ok(())
}

/// `proxy_cache ZONE | off;`
pub(crate) fn proxy_cache(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    if slots(l, d)?.cache.is_some() {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    let value = d.arg(0);
    let zone = if value == "off" {
        None
    } else if value.contains('$') {
        Some(CacheSel::Var(template(d, value, shared)?))
    } else {
        Some(CacheSel::Zone(super::set_limits::zone_index(
            d,
            shared,
            value,
            ZoneKind::ProxyCache,
            0,
        )?))
    };
    *slots(l, d)?.cache = Some(zone);
    Ok(())
}

/// `proxy_cache_key STRING;`
pub(crate) fn proxy_cache_key(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let key = template(d, d.arg(0), shared)?;
    set_once(slots(l, d)?.key, d, |_| Ok(Some(key)))
}

/// `proxy_cache_valid [CODE...|any] TIME;` (a level's lines add up)
pub(crate) fn proxy_cache_valid(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let args: Vec<String> = d.args.iter().map(|w| w.text.clone()).collect();
    let rules = slots(l, d)?.valid.get_or_insert_with(Vec::new);
    parse_valid(&args, rules).map_err(|m| ConfError::at(d, m))
}

/// `proxy_cache_methods GET|HEAD|POST ...;` (`ngx_conf_set_bitmask_slot`)
pub(crate) fn proxy_cache_methods(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let slot = slots(l, d)?.methods;
    let mut bits = slot.unwrap_or(0);
    for w in &d.args {
        let bit = match w.text.to_ascii_uppercase().as_str() {
            "GET" => methods::GET,
            "HEAD" => methods::HEAD,
            "POST" => methods::POST,
            _ => return Err(ConfError::at(d, format!("invalid value \"{}\"", w.text))),
        };
        if bits & bit != 0 {
            super::values::warn_at(d, &format!("duplicate value \"{}\"", w.text));
        }
        bits |= bit;
    }
    *slot = Some(bits);
    Ok(())
}

/// `proxy_cache_bypass STRING...;` and `proxy_no_cache STRING...;` (a level's lines add up;
/// `ngx_http_set_predicate_slot`).
pub(crate) fn predicate(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let mut values = Vec::new();
    for w in &d.args {
        values.push(template(d, &w.text, shared)?);
    }
    let slots = slots(l, d)?;
    let slot = if d.name.ends_with("_bypass") {
        slots.bypass
    } else {
        slots.no_cache
    };
    slot.get_or_insert_with(Vec::new).extend(values);
    Ok(())
}

/// `proxy_cache_min_uses N;`: requests for a key before its response is stored (counted
/// in the keys zone).
pub(crate) fn proxy_cache_min_uses(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let n = number_arg(d, 0)?;
    set_once(slots(l, d)?.min_uses, d, |_| Ok(n))
}

/// `proxy_cache_use_stale error|timeout|invalid_header|http_NNN...|off;` (a bitmask
/// slot: a level's lines add up). `updating`: the keys zone tells that another request is
/// fetching the entry.
pub(crate) fn proxy_cache_use_stale(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    use super::proxy_values::NextUpstream as N;
    const VALUES: [(&str, u16); 11] = [
        ("error", N::ERROR),
        ("timeout", N::TIMEOUT),
        ("invalid_header", N::INVALID_HEADER),
        ("updating", USE_STALE_UPDATING),
        ("http_500", N::HTTP_500),
        ("http_502", N::HTTP_502),
        ("http_503", N::HTTP_503),
        ("http_504", N::HTTP_504),
        ("http_403", N::HTTP_403),
        ("http_404", N::HTTP_404),
        ("http_429", N::HTTP_429),
    ];
    let slot = slots(l, d)?.use_stale;
    let mut bits = slot.unwrap_or(0);
    let mut off = false;
    for w in &d.args {
        if w.text.eq_ignore_ascii_case("off") {
            off = true;
            continue;
        }
        let Some(&(_, bit)) = VALUES.iter().find(|(n, _)| n.eq_ignore_ascii_case(&w.text)) else {
            return Err(ConfError::at(d, format!("invalid value \"{}\"", w.text)));
        };
        bits |= bit;
    }
    // ngx_http_proxy_merge_loc_conf: `off` anywhere in the list wins.
    *slot = Some(if off { 0 } else { bits });
    Ok(())
}

/// `proxy_cache_lock on|off;`
pub(crate) fn proxy_cache_lock(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(slots(l, d)?.lock, d, flag_arg)
}

/// `proxy_cache_revalidate on|off;` (and the gateways' `*_cache_revalidate`, whose
/// validators go as the `HTTP_IF_MODIFIED_SINCE`/`HTTP_IF_NONE_MATCH` parameters)
pub(crate) fn proxy_cache_revalidate(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(slots(l, d)?.revalidate, d, flag_arg)
}

/// `proxy_cache_background_update on|off;`
pub(crate) fn proxy_cache_background_update(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(slots(l, d)?.background_update, d, flag_arg)
}

/// `proxy_cache_convert_head on|off;`
pub(crate) fn proxy_cache_convert_head(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.proxy_cache_convert_head, d, flag_arg)
}

/// `proxy_cache_lock_timeout TIME;` and `proxy_cache_lock_age TIME;`
pub(crate) fn proxy_cache_lock_time(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let t = msec_arg(d, 0)?;
    let slots = slots(l, d)?;
    let slot = if d.name.ends_with("_timeout") {
        slots.lock_timeout
    } else {
        slots.lock_age
    };
    set_once(slot, d, |_| Ok(t))
}

/// `proxy_cache_max_range_offset NUMBER;`: a range request starting beyond NUMBER is
/// passed to the upstream as it is and its response not stored (nginx's
/// `ngx_http_upstream_cache_check_range`).
pub(crate) fn proxy_cache_max_range_offset(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(slots(l, d)?.max_range_offset, d, |d| {
        offset_arg(d, 0).map(Some)
    })
}

/// `"proxy_cache" zone "NAME" is unknown`: a zone `proxy_cache` named that no
/// `proxy_cache_path` declared (nginx's check at merge time).
/// nginx names the end of the http block, where it merges.
pub(crate) fn check_zones(
    zones: &[super::limits_values::ZoneDecl],
    http_end: Option<&super::set_upstream::BlockPlace>,
) -> Result<(), ConfError> {
    let Some(z) = zones
        .iter()
        .find(|z| z.kind == ZoneKind::ProxyCache && z.size == 0)
    else {
        return Ok(());
    };
    let message = format!("\"proxy_cache\" zone \"{}\" is unknown", z.name);
    Err(match http_end {
        Some((file, line)) => ConfError::new(message, file, *line),
        None => ConfError::bare(message),
    })
}
