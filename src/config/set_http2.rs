//! nginx's `ngx_http_v2_module` directives.
//!
//! `listen ... http2` (nginx 1.22) and `http2 on` (the 1.25 per-server form) make a listener's
//! connections HTTP/2 (`worker/conn/h2.rs`); the knobs shape those connections. What nginx
//! itself accepts and ignores is accepted the same way: the five directives 1.19.7 made
//! obsolete (warned about as nginx 1.22 does) and the server-push ones that 1.25.1 dropped
//! (warned about as 1.25 does: push is gone from every browser). `http2_pool_size` and
//! `http2_streams_index_size` are nginx's internal tuning knobs: checked as nginx checks
//! them, no effect.

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::values::{number_arg, set_once, size_arg, warn_at};

/// `http2 on|off` (nginx 1.25): the server's connections speak HTTP/2.
pub(crate) fn http2(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    let on = match d.arg(0) {
        "on" => true,
        "off" => false,
        other => {
            return Err(ConfError::at(
                d,
                format!(
                    "invalid value \"{other}\" in \"{}\" directive, it must be \"on\" or \"off\"",
                    d.name
                ),
            ));
        }
    };
    l.srv(d)?.http2 = Some(on);
    Ok(())
}

/// The largest HTTP/2 window (and so `http2_body_preread_size`).
const MAX_WINDOW: u64 = (1 << 31) - 1;
/// The largest frame payload (`http2_chunk_size` is clamped to it, as nginx does).
const MAX_FRAME_SIZE: u64 = (1 << 24) - 1;

/// `http2_max_concurrent_streams N`.
pub(crate) fn max_concurrent_streams(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.srv(d)?.http2_max_concurrent_streams, d, |d| {
        number_arg(d, 0).map(|n| n.min(u64::from(u32::MAX)) as u32)
    })
}

/// `http2_body_preread_size SIZE` (each stream's receive window).
pub(crate) fn body_preread_size(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.srv(d)?.http2_body_preread_size, d, |d| {
        let n = size_arg(d, 0)?;
        if n > MAX_WINDOW {
            return Err(ConfError::at(
                d,
                format!("the maximum body preread buffer size is {MAX_WINDOW}"),
            ));
        }
        Ok(n as u32)
    })
}

/// `http2_recv_buffer_size SIZE` (the connection's read buffer).
pub(crate) fn recv_buffer_size(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.srv(d)?.http2_recv_buffer_size, d, |d| {
        let n = size_arg(d, 0)?;
        if n <= 32 {
            return Err(ConfError::directive(d, "value is too small"));
        }
        Ok(n as usize)
    })
}

/// `http2_chunk_size SIZE` (the most body bytes per DATA frame).
pub(crate) fn chunk_size(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.http2_chunk_size, d, |d| {
        let n = size_arg(d, 0)?;
        if n == 0 {
            return Err(ConfError::at(d, "the http2 chunk size cannot be zero"));
        }
        Ok(n.min(MAX_FRAME_SIZE) as usize)
    })
}

/// `http2_pool_size SIZE`: nginx's pool tuning, checked as nginx checks it (its minimum on
/// 64-bit Linux is 80 bytes, in multiples of 16).
pub(crate) fn pool_size(_: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    let n = size_arg(d, 0)?;
    if n < 80 {
        return Err(ConfError::at(d, "the pool size must be no less than 80"));
    }
    if n % 16 != 0 {
        return Err(ConfError::at(d, "the pool size must be a multiple of 16"));
    }
    Ok(())
}

/// `http2_streams_index_size N`: nginx's hash tuning, checked as nginx checks it.
pub(crate) fn streams_index_size(
    _: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let n = number_arg(d, 0)?;
    if n == 0 || !n.is_power_of_two() {
        return Err(ConfError::directive(d, "must be a power of two"));
    }
    Ok(())
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
