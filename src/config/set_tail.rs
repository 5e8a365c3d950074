//! Setters for the rest of `ngx_http_core_module`'s directives: the ones Portico implements
//! (`keepalive_disable`, `keepalive_time`, `reset_timedout_connection`, `max_ranges`, `chunked_transfer_encoding`, `aio_write`,
//! `log_subrequest`, whose subrequests are in `worker/subrequest/`) and the ones it refuses at load with the reason, in nginx's words
//! where nginx has some (`"aio threads" is unsupported on this platform`).

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::values::{
    flag_arg, full_name, msec_arg, number_arg, offset_arg, set_once, simple_setters,
};

/// `keepalive_disable msie6`: no keep-alive after a POST from MSIE 6 and older.
pub const KEEPALIVE_DISABLE_MSIE6: u8 = 1;
/// `keepalive_disable safari`: no keep-alive with Safari on macOS.
pub const KEEPALIVE_DISABLE_SAFARI: u8 = 2;
/// `keepalive_disable msie6;` (nginx's default)
pub const DEFAULT_KEEPALIVE_DISABLE: u8 = KEEPALIVE_DISABLE_MSIE6;

simple_setters! {
    /// `max_ranges N;`
    max_ranges: loc.max_ranges = |d| number_arg(d, 0).map(Some);
    /// `chunked_transfer_encoding on|off;`
    chunked_transfer_encoding: loc.chunked_transfer_encoding = flag_arg;
    /// `aio_write on|off;` (only ever used by `aio threads`, which Portico refuses, so on
    /// or off it changes nothing, as in nginx without thread pools)
    aio_write: loc.aio_write = flag_arg;
    /// `log_subrequest on|off;` (subrequests go to the access log too)
    log_subrequest: loc.log_subrequest = flag_arg;
    /// `keepalive_time TIME;` (a connection older than this is closed after its request)
    keepalive_time: loc.keepalive_time = |d| msec_arg(d, 0);
    /// `reset_timedout_connection on|off;` (a timed-out or 444 connection is closed with RST)
    reset_timedout_connection: loc.reset_timedout_connection = flag_arg;
}

/// `keepalive_disable none|msie6|safari ...;` (nginx's bitmask slot: repeated directives
/// add browsers, a browser named twice is a warning).
pub(crate) fn keepalive_disable(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let mask = l.loc(d)?.keepalive_disable.get_or_insert(0);
    // nginx keeps a bit for `none` too: naming it twice warns like any value.
    let mut none_seen = false;
    for word in &d.args {
        let bit = match word.text.to_ascii_lowercase().as_str() {
            "none" => None,
            "msie6" => Some(KEEPALIVE_DISABLE_MSIE6),
            "safari" => Some(KEEPALIVE_DISABLE_SAFARI),
            _ => {
                let message = format!("invalid value \"{}\"", word.text);
                return Err(ConfError::at(d, message));
            }
        };
        let duplicate = match bit {
            Some(bit) => {
                let had = *mask & bit != 0;
                *mask |= bit;
                had
            }
            None => std::mem::replace(&mut none_seen, true),
        };
        if duplicate {
            let message = format!("duplicate value \"{}\"", word.text);
            shared.warnings.push(ConfError::at(d, message));
        }
    }
    Ok(())
}

/// `directio SIZE|off;`: `off` (nginx's default) is what Portico does; a size is refused,
/// since Portico always reads files through the page cache (sendfile or read).
pub(crate) fn directio(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.directio_off, d, |d| {
        if d.arg(0) == "off" {
            return Ok(true);
        }
        offset_arg(d, 0)?;
        let message = format!(
            "\"directio {}\" is not supported: Portico reads files through the page cache \
             (sendfile or read), never with O_DIRECT",
            d.arg(0)
        );
        Err(ConfError::at(d, message))
    })
}

/// `aio off|on|threads[=POOL];`: `off` (nginx's default) is what Portico does; `on` and
/// `threads` get nginx's answer when built without file AIO or thread pools.
pub(crate) fn aio(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.aio_off, d, |d| {
        let value = d.arg(0);
        if value == "off" {
            return Ok(true);
        }
        if value == "on" {
            return Err(ConfError::at(
                d,
                "\"aio on\" is unsupported on this platform",
            ));
        }
        if value == "threads" || value.starts_with("threads=") {
            let message = "\"aio threads\" is unsupported on this platform";
            return Err(ConfError::at(d, message));
        }
        Err(ConfError::directive(d, "invalid value"))
    })
}

/// Directives Portico refuses because what they need is not there yet, with the reason.
pub(crate) fn unsupported(
    _: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let reason = match d.name.as_str() {
        "postpone_gzipping" => "Portico's compressor starts at the first body byte",
        _ => "Portico does not implement it",
    };
    let message = format!("\"{}\" directive is not supported: {reason}", d.name);
    Err(ConfError::at(d, message))
}

/// nginx's modules that Portico has built in, as `load_module`'s refusal lists them (the
/// http core, static, index, log and upstream round robin go without saying).
const BUILT_IN_MODULES: &str = "http_access, http_auth_basic, http_auth_request, \
     http_autoindex, http_charset, http_empty_gif, http_fastcgi, http_geo, http_gunzip, \
     http_gzip, http_gzip_static, http_headers, http_limit_conn, http_limit_req, http_map, \
     http_mirror, http_proxy, http_realip, \
     http_referer, http_rewrite, http_scgi, http_split_clients, http_upstream_hash, \
     http_upstream_ip_hash, http_upstream_keepalive, http_upstream_least_conn, \
     http_upstream_random, http_uwsgi";

/// `load_module FILE;`: Portico is one binary with every module it has built in.
pub(crate) fn load_module(
    _: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let path = full_name(&shared.prefix, d.arg(0));
    let message = format!(
        "cannot load dynamic module \"{}\": Portico has no dynamic modules; \
         built in: {BUILT_IN_MODULES} (portico -V)",
        path.display()
    );
    Err(ConfError::at(d, message))
}
