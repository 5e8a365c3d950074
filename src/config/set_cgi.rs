//! Setters of the FastCGI, uwsgi and SCGI modules: one setter per directive suffix, shared
//! by the three (`fastcgi_read_timeout`, `uwsgi_read_timeout` and `scgi_read_timeout` are
//! the same code, as in nginx's three copies of it), storing into the module the name's
//! prefix says. Then nginx's checks of each merged level ([`check_all`]).

use std::rc::Rc;

use super::cgi_values::*;
use super::error::ConfError;
use super::parser::Directive;
use super::proxy_values::NextUpstream;
use super::raw::{Level, Shared};
use super::set_proxy::{split_host_port, unix_group, unix_path, upstream_ref};
use super::set_rewrite::template;
use super::set_upstream::PlacedSize;
use super::values::{flag_arg, msec_arg, number_arg, parse_number, parse_size, set_once};
use crate::elog;
use crate::log::LogLevel;

/// The settings of the directive's module at this level.
fn conf<'a>(l: &'a mut Level<'_>, d: &Directive) -> Result<&'a mut CgiConf, ConfError> {
    let module = CgiModule::of_directive(&d.name)
        .ok_or_else(|| ConfError::at(d, format!("unknown directive \"{}\"", d.name)))?;
    Ok(module.raw(l.loc(d)?).get_or_insert_with(CgiConf::default))
}

fn placed(d: &Directive, bytes: u64) -> PlacedSize {
    PlacedSize {
        bytes,
        file: d.file.clone(),
        line: d.line,
    }
}

/// Declares setters that parse one argument into one field, once per level.
macro_rules! field_setters {
    ($($(#[$meta:meta])* $name:ident: $field:ident = $parse:expr;)*) => {$(
        $(#[$meta])*
        pub(crate) fn $name(
            l: &mut Level<'_>,
            d: &Directive,
            _: &mut Shared,
        ) -> Result<(), ConfError> {
            set_once(&mut conf(l, d)?.$field, d, $parse)
        }
    )*};
}

field_setters! {
    /// `*_connect_timeout T;`
    connect_timeout: connect_timeout = |d| msec_arg(d, 0);
    /// `*_send_timeout T;`
    send_timeout: send_timeout = |d| msec_arg(d, 0);
    /// `*_read_timeout T;`
    read_timeout: read_timeout = |d| msec_arg(d, 0);
    /// `*_next_upstream_timeout T;`
    next_upstream_timeout: next_upstream_timeout = |d| msec_arg(d, 0);
    /// `*_next_upstream_tries N;`
    next_upstream_tries: next_upstream_tries = |d| number_arg(d, 0).map(|n| n as usize);
    /// `*_buffering on|off;`
    buffering: buffering = flag_arg;
    /// `*_request_buffering on|off;`
    request_buffering: request_buffering = flag_arg;
    /// `*_intercept_errors on|off;`
    intercept_errors: intercept_errors = flag_arg;
    /// `*_pass_request_headers on|off;`
    pass_request_headers: pass_request_headers = flag_arg;
    /// `*_pass_request_body on|off;`
    pass_request_body: pass_request_body = flag_arg;
    /// `*_socket_keepalive on|off;`
    socket_keepalive: socket_keepalive = flag_arg;
    /// `fastcgi_keep_conn on|off;`
    keep_conn: keep_conn = flag_arg;
    /// `*_force_ranges on|off;`
    force_ranges: force_ranges = flag_arg;
    /// `*_ignore_client_abort on|off;`
    ignore_client_abort: ignore_client_abort = flag_arg;
    /// `*_limit_rate SIZE;`
    limit_rate: limit_rate = |d| super::values::size_arg(d, 0);
    /// `*_buffer_size SIZE;`
    buffer_size: buffer_size = |d| super::values::size_arg(d, 0).map(|n| n as usize);
    /// `*_busy_buffers_size SIZE;`
    busy_buffers_size: busy_buffers_size = |d| super::values::size_arg(d, 0).map(|n| placed(d, n));
    /// `*_temp_file_write_size SIZE;`
    temp_file_write_size: temp_file_write_size = |d| super::values::size_arg(d, 0).map(|n| placed(d, n));
    /// `*_max_temp_file_size SIZE;` (0 disables temporary files)
    max_temp_file_size: max_temp_file_size = |d| super::values::size_arg(d, 0).map(|n| placed(d, n));
    /// `fastcgi_index NAME;`
    index: index = |d| Ok(d.arg(0).to_string());
    /// `uwsgi_modifier1 N;` (0..255)
    modifier1: modifier1 = modifier;
    /// `uwsgi_modifier2 N;` (0..255)
    modifier2: modifier2 = modifier;
    /// `uwsgi_string STRING;`
    uwsgi_string: uwsgi_string = |d| Ok(d.arg(0).as_bytes().to_vec());
}

/// `ngx_conf_set_num_slot` with nginx's bounds for the uwsgi modifiers (0..255).
fn modifier(d: &Directive) -> Result<u8, ConfError> {
    let n = number_arg(d, 0)?;
    u8::try_from(n).map_err(|_| ConfError::at(d, "value must be between 0 and 255"))
}

/// `*_pass ADDRESS;`: `host:port`, `unix:/path`, an `upstream` name, or an address with
/// variables. The location's handler becomes the module (nginx's `clcf->handler`).
pub(crate) fn pass(l: &mut Level<'_>, d: &Directive, shared: &mut Shared) -> Result<(), ConfError> {
    let mut url = d.arg(0);
    let mut tls = false;
    if conf(l, d)?.pass.is_some() {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    if CgiModule::of_directive(&d.name) == Some(CgiModule::Uwsgi) && !url.contains('$') {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("suwsgi://") {
            url = &url[9..];
            tls = true;
        } else if lower.starts_with("uwsgi://") {
            url = &url[8..];
        }
    }
    let target = if url.contains('$') {
        CgiTarget::Dynamic(template(d, url, shared)?)
    } else if url.len() >= 5 && url[..5].eq_ignore_ascii_case("unix:") {
        let path = unix_path(d, url, &url[5..])?;
        CgiTarget::Group(unix_group(shared, path))
    } else {
        // ngx_parse_url without a scheme: `host[:port]`, nothing after it.
        if url.contains("://") || url.contains('/') || url.contains('?') {
            return Err(ConfError::at(
                d,
                format!("invalid host in upstream \"{url}\""),
            ));
        }
        let (host, port) = split_host_port(url).map_err(|m| ConfError::at(d, m))?;
        CgiTarget::Group(upstream_ref(shared, d, &host, port)?)
    };
    conf(l, d)?.pass = Some(CgiPass {
        target,
        tls,
        file: d.file.clone(),
        line: d.line,
    });
    Ok(())
}

/// `*_param NAME VALUE [if_not_empty];` (repeated; a level with any replaces its parent's
/// list).
pub(crate) fn param(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let if_not_empty = match d.args.len() {
        2 => false,
        _ if d.arg(2) == "if_not_empty" => true,
        _ => {
            return Err(ConfError::at(
                d,
                format!("invalid parameter \"{}\"", d.arg(2)),
            ));
        }
    };
    let param = CgiParam {
        name: d.arg(0).as_bytes().to_vec(),
        value: template(d, d.arg(1), shared)?,
        if_not_empty,
    };
    let params = conf(l, d)?.params.get_or_insert_with(Rc::default);
    Rc::make_mut(params).push(param, d.arg(1).is_empty());
    Ok(())
}

/// `*_pass_header NAME;`
pub(crate) fn pass_header(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    conf(l, d)?
        .pass_header
        .get_or_insert_with(Vec::new)
        .push(d.arg(0).to_ascii_lowercase());
    Ok(())
}

/// `*_hide_header NAME;`
pub(crate) fn hide_header(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    conf(l, d)?
        .hide_header
        .get_or_insert_with(Vec::new)
        .push(d.arg(0).to_ascii_lowercase());
    Ok(())
}

/// `fastcgi_catch_stderr STRING;` (repeated)
pub(crate) fn catch_stderr(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    conf(l, d)?
        .catch_stderr
        .get_or_insert_with(Vec::new)
        .push(d.arg(0).as_bytes().to_vec());
    Ok(())
}

/// `*_next_upstream error|timeout|invalid_header|http_500|http_503|http_403|http_404|
/// http_429|non_idempotent|updating|off ...;` (`ngx_conf_set_bitmask_slot` over the
/// module's masks: no `http_502` or `http_504`, which only the proxy knows).
pub(crate) fn next_upstream(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    const OFF: u16 = 1 << 15;
    let c = conf(l, d)?;
    if c.next_upstream.is_some() {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    let mut bits = 0u16;
    for w in &d.args {
        let bit = match w.text.to_ascii_lowercase().as_str() {
            "error" => NextUpstream::ERROR,
            "timeout" => NextUpstream::TIMEOUT,
            "invalid_header" => NextUpstream::INVALID_HEADER,
            "non_idempotent" => NextUpstream::NON_IDEMPOTENT,
            "http_500" => NextUpstream::HTTP_500,
            "http_503" => NextUpstream::HTTP_503,
            "http_403" => NextUpstream::HTTP_403,
            "http_404" => NextUpstream::HTTP_404,
            "http_429" => NextUpstream::HTTP_429,
            // Serving a stale cached response while it is updated: no cache, no effect.
            "updating" => 0,
            "off" => OFF,
            _ => return Err(ConfError::at(d, format!("invalid value \"{}\"", w.text))),
        };
        if bit != 0 && bits & bit != 0 {
            elog!(
                LogLevel::Warn,
                "{}",
                ConfError::at(d, format!("duplicate value \"{}\"", w.text))
            );
        }
        bits |= bit;
    }
    // nginx's merge: `off` anywhere in the list leaves nothing else.
    if bits & OFF != 0 {
        bits = 0;
    }
    c.next_upstream = Some(NextUpstream(bits));
    Ok(())
}

/// `*_ignore_headers NAME ...;`: a bitmask of the proxy module's names; a level's
/// directives add up, a repeated name is warned about (`ngx_conf_set_bitmask_slot`).
pub(crate) fn ignore_headers(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let c = conf(l, d)?;
    c.ignore_headers = Some(super::set_proxy_rest::ignore_headers_arg(
        c.ignore_headers,
        d,
    )?);
    Ok(())
}

/// `*_store off;`: storing responses in files is not implemented, so only `off` is taken
/// (as `proxy_store`).
pub(crate) fn store(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    if d.arg(0) != "off" {
        return Err(ConfError::directive(
            d,
            "is not supported: Portico does not store upstream responses in files",
        ));
    }
    set_once(&mut conf(l, d)?.store, d, |_| Ok(false))
}

/// `*_store_access users:permissions ...;`
pub(crate) fn store_access(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(
        &mut conf(l, d)?.store_access,
        d,
        super::set_proxy_rest::access_arg,
    )
}

/// `*_buffers NUMBER SIZE;`
pub(crate) fn buffers(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    set_once(&mut conf(l, d)?.buffers, d, |d| {
        let n = parse_number(d.arg(0)).filter(|&n| n > 0);
        let size = parse_size(d.arg(1)).filter(|&s| s > 0);
        match (n, size) {
            (Some(n), Some(s)) => Ok((n as usize, s as usize)),
            _ => Err(ConfError::directive(d, "invalid value")),
        }
    })
}

/// `*_temp_path PATH [LEVEL1 [LEVEL2 [LEVEL3]]];`
pub(crate) fn temp_path(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let prefix = shared.prefix.clone();
    set_once(&mut conf(l, d)?.temp_path, d, |d| {
        super::set_http::temp_path(d, &prefix)
    })
}

/// `fastcgi_split_path_info REGEX;` (the regex must have two captures: the script name and
/// the path info).
pub(crate) fn split_path_info(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let pattern = d.arg(0);
    let re = super::set_block::compile_regex(d, pattern, false, shared)?;
    if re.groups() != 2 {
        return Err(ConfError::at(
            d,
            format!("pattern \"{pattern}\" must have 2 captures"),
        ));
    }
    // A later directive at the same level replaces an earlier one, as in nginx.
    conf(l, d)?.split_path_info = Some(Rc::new(SplitPathInfo::new(re)));
    Ok(())
}

/// `*_bind ADDRESS [transparent] | off;` (`ngx_http_upstream_bind_set_slot`)
pub(crate) fn bind(l: &mut Level<'_>, d: &Directive, shared: &mut Shared) -> Result<(), ConfError> {
    let c = conf(l, d)?;
    if c.bind.is_some() {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    let text = d.arg(0);
    let transparent = match d.args.len() {
        1 => false,
        _ if d.arg(1) == "transparent" => true,
        _ => {
            return Err(ConfError::at(
                d,
                format!("invalid parameter \"{}\"", d.arg(1)),
            ));
        }
    };
    let bind = if text == "off" {
        CgiBind::Off
    } else if text.contains('$') {
        CgiBind::Dynamic(template(d, text, shared)?, transparent)
    } else {
        match parse_bind_addr(text) {
            Some(addr) => CgiBind::Addr(addr, transparent),
            None => {
                return Err(ConfError::at(d, format!("invalid address \"{text}\"")));
            }
        }
    };
    conf(l, d)?.bind = Some(bind);
    Ok(())
}

/// `fastcgi_send_lowat SIZE;`: Linux has no `SO_SNDLOWAT`, so nginx warns and ignores it.
pub(crate) fn send_lowat(
    _: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    super::values::size_arg(d, 0)?;
    elog!(
        LogLevel::Warn,
        "{}",
        ConfError::at(d, format!("\"{}\" is not supported, ignored", d.name))
    );
    Ok(())
}

pub(crate) use check::check_all;

mod check;
#[cfg(test)]
mod tests;
