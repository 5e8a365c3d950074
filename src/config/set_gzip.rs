//! Setters of the gzip, gzip_static and gunzip directives, each reading its arguments as
//! nginx's slot for it does (`ngx_conf_set_*_slot`, `ngx_http_types_slot`, the `gzip_window`
//! and `gzip_hash` post handlers, `ngx_http_gzip_disable`), with nginx's messages.

use std::rc::Rc;

use super::error::ConfError;
use super::gzip_values::{GzipDisable, GzipHttpVersion, GzipProxied, GzipStatic, GzipTypes};
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::values::simple_setters;
use super::values::{flag_arg, parse_number, parse_size, set_once};

simple_setters! {
    /// `gzip on|off;`
    gzip: loc.gzip = flag_arg;
    /// `gzip_comp_level 1..9;`
    gzip_comp_level: loc.gzip_comp_level = comp_level_arg;
    /// `gzip_min_length SIZE;`
    gzip_min_length: loc.gzip_min_length = size_value;
    /// `gzip_buffers NUMBER SIZE;`
    gzip_buffers: loc.gzip_buffers = bufs_arg;
    /// `gzip_http_version 1.0|1.1;`
    gzip_http_version: loc.gzip_http_version = http_version_arg;
    /// `gzip_vary on|off;`
    gzip_vary: loc.gzip_vary = flag_arg;
    /// `gzip_window 512|1k|..|32k;`
    gzip_window: loc.gzip_window = window_arg;
    /// `gzip_hash 512|1k|..|128k;`
    gzip_hash: loc.gzip_hash = hash_arg;
    /// `gzip_no_buffer on|off;`
    gzip_no_buffer: loc.gzip_no_buffer = flag_arg;
    /// `gzip_static on|off|always;`
    gzip_static: loc.gzip_static = static_arg;
    /// `gunzip on|off;`
    gunzip: loc.gunzip = flag_arg;
    /// `gunzip_buffers NUMBER SIZE;`
    gunzip_buffers: loc.gunzip_buffers = bufs_arg;
}

/// `ngx_conf_set_size_slot`.
fn size_value(d: &Directive) -> Result<u64, ConfError> {
    parse_size(d.arg(0)).ok_or_else(|| ConfError::directive(d, "invalid value"))
}

/// `ngx_conf_set_num_slot` with `ngx_conf_check_num_bounds` (1..9).
fn comp_level_arg(d: &Directive) -> Result<u8, ConfError> {
    let n = parse_number(d.arg(0)).ok_or_else(|| ConfError::directive(d, "invalid number"))?;
    let (lo, hi) = (
        *crate::compress::LEVELS.start(),
        *crate::compress::LEVELS.end(),
    );
    if !(u64::from(lo)..=u64::from(hi)).contains(&n) {
        return Err(ConfError::at(
            d,
            format!("value must be between {lo} and {hi}"),
        ));
    }
    Ok(n as u8)
}

/// `ngx_conf_set_bufs_slot`: a positive number and a positive size.
fn bufs_arg(d: &Directive) -> Result<(usize, usize), ConfError> {
    let invalid = || ConfError::directive(d, "invalid value");
    let num = parse_number(d.arg(0))
        .filter(|&n| n > 0)
        .ok_or_else(invalid)?;
    let size = parse_size(d.arg(1))
        .filter(|&n| n > 0)
        .ok_or_else(invalid)?;
    Ok((num as usize, size as usize))
}

/// `ngx_conf_set_enum_slot` over `1.0` and `1.1`.
fn http_version_arg(d: &Directive) -> Result<GzipHttpVersion, ConfError> {
    match d.arg(0) {
        "1.0" => Ok(GzipHttpVersion::Http10),
        "1.1" => Ok(GzipHttpVersion::Http11),
        other => Err(ConfError::at(d, format!("invalid value \"{other}\""))),
    }
}

/// `ngx_conf_set_enum_slot` over `off`, `on`, `always` (any case).
fn static_arg(d: &Directive) -> Result<GzipStatic, ConfError> {
    match d.arg(0).to_ascii_lowercase().as_str() {
        "off" => Ok(GzipStatic::Off),
        "on" => Ok(GzipStatic::On),
        "always" => Ok(GzipStatic::Always),
        _ => Err(ConfError::at(d, format!("invalid value \"{}\"", d.arg(0)))),
    }
}

/// A power of two between `smallest` and `largest` bytes, as a number of bits counted
/// down from `top_bits` at `largest` (nginx's `gzip_window` and `gzip_hash` post handlers).
fn power_of_two(d: &Directive, largest: u64, top_bits: u8, message: &str) -> Result<u8, ConfError> {
    let size = size_value(d)?;
    let (mut bits, mut want) = (top_bits, largest);
    while want > 256 {
        if want == size {
            return Ok(bits);
        }
        want >>= 1;
        bits -= 1;
    }
    Err(ConfError::directive(d, message))
}

fn window_arg(d: &Directive) -> Result<u8, ConfError> {
    power_of_two(d, 32 * 1024, 15, "must be 512, 1k, 2k, 4k, 8k, 16k, or 32k")
}

fn hash_arg(d: &Directive) -> Result<u8, ConfError> {
    power_of_two(
        d,
        128 * 1024,
        9,
        "must be 512, 1k, 2k, 4k, 8k, 16k, 32k, 64k, or 128k",
    )
}

/// `gzip_types MIME...|*;` (see [`add_types`]).
pub(crate) fn gzip_types(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    add_types(&mut l.loc(d)?.gzip_types, d);
    Ok(())
}

/// A `*_types MIME...|*;` directive (`ngx_http_types_slot`, for `gzip_types` and
/// `charset_types`): the first use at a level starts from `text/html`; later ones at the
/// same level add to it; `*` makes it any type (and the level ignores the rest).
pub(crate) fn add_types(slot: &mut Option<GzipTypes>, d: &Directive) {
    let mut types: Vec<String> = match slot.take() {
        Some(GzipTypes::Any) => {
            *slot = Some(GzipTypes::Any);
            return;
        }
        Some(GzipTypes::List(list)) => list.to_vec(),
        None => vec!["text/html".to_string()],
    };
    for word in &d.args {
        let t = word.text.as_str();
        if t == "*" {
            *slot = Some(GzipTypes::Any);
            return;
        }
        let t = t.to_ascii_lowercase();
        // nginx warns of a duplicate and keeps one.
        if !types.contains(&t) {
            types.push(t);
        }
    }
    *slot = Some(GzipTypes::List(Rc::from(types)));
}

/// `gzip_proxied off|expired|no-cache|no-store|private|no_last_modified|no_etag|auth|any...;`
/// (`ngx_conf_set_bitmask_slot`: uses at one level add their bits).
pub(crate) fn gzip_proxied(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let slot = &mut l.loc(d)?.gzip_proxied;
    let mut bits = slot.map_or(0, |p| p.0);
    for word in &d.args {
        let w = word.text.as_str();
        let Some((_, bit)) = GzipProxied::NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(w))
        else {
            return Err(ConfError::at(d, format!("invalid value \"{w}\"")));
        };
        bits |= bit;
    }
    *slot = Some(GzipProxied(bits));
    Ok(())
}

/// `gzip_disable msie6|REGEX...;` (`ngx_http_gzip_disable`): `msie6` is a flag of its own,
/// merged apart from the patterns; a level that uses the directive has its own pattern
/// list, empty when it names only `msie6`, and further uses at that level add to it.
pub(crate) fn gzip_disable(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let loc = l.loc(d)?;
    let mut patterns: Vec<crate::regex::Regex> = loc
        .gzip_disable
        .take()
        .map_or_else(Vec::new, |g| g.0.to_vec());
    for word in &d.args {
        let w = word.text.as_str();
        if w == "msie6" {
            loc.gzip_disable_msie6 = Some(true);
            continue;
        }
        patterns.push(super::set_block::compile_regex(d, w, true, shared)?);
    }
    loc.gzip_disable = Some(GzipDisable(Rc::from(patterns)));
    Ok(())
}

#[cfg(test)]
mod tests;
