//! nginx's `ngx_http_v2_module` directives, as far as Portico has HTTP/2.
//!
//! The HTTP/2 protocol layer exists (`crate::http2`) but no listener serves it yet, so
//! `listen ... http2` and `http2 on` are refused, and so are the knobs that would only
//! shape HTTP/2 connections: accepting them would be accepting and ignoring them. What
//! nginx itself accepts and ignores is accepted the same way: the five directives 1.19.7
//! made obsolete (warned about as nginx 1.22 does) and the server-push ones that 1.25.1
//! dropped (warned about as 1.25 does: push is gone from every browser).

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::values::warn_at;

/// Why HTTP/2 directives and parameters are refused.
pub const NOT_SERVED: &str = "Portico does not serve HTTP/2 yet";

/// `http2 on|off` (nginx 1.25): `off` is what Portico does; `on` is refused.
pub(crate) fn http2(_: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    match d.arg(0) {
        "off" => Ok(()),
        "on" => Err(ConfError::at(
            d,
            format!("\"http2 on\" is not supported: {NOT_SERVED}"),
        )),
        other => Err(ConfError::at(
            d,
            format!(
                "invalid value \"{other}\" in \"{}\" directive, it must be \"on\" or \"off\"",
                d.name
            ),
        )),
    }
}

/// The knobs of HTTP/2 connections: refused while there are none.
pub(crate) fn not_served(
    _: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    Err(ConfError::at(
        d,
        format!("\"{}\" directive is not supported: {NOT_SERVED}", d.name),
    ))
}

/// nginx 1.22's obsolete directives: a warning naming the replacement, no effect.
pub(crate) fn obsolete(_: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    let instead = match d.name.as_str() {
        "http2_recv_timeout" => "client_header_timeout",
        "http2_idle_timeout" => "keepalive_timeout",
        "http2_max_requests" => "keepalive_requests",
        _ => "large_client_header_buffers",
    };
    warn_at(
        d,
        &format!(
            "the \"{}\" directive is obsolete, use the \"{instead}\" directive instead",
            d.name
        ),
    );
    Ok(())
}

/// Server push (nginx 1.25.1 removed it): a warning, no effect.
pub(crate) fn push_obsolete(
    _: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    warn_at(
        d,
        &format!("the \"{}\" directive is obsolete, ignored", d.name),
    );
    Ok(())
}
