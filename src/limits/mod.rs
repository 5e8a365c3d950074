//! `limit_req` and `limit_conn`: nginx's algorithms over zones every worker shares
//! ([`crate::shm`]), so a limit holds for the whole server, not per worker.
//!
//! - [`req`]: the leaky bucket in milli-requests (`ngx_http_limit_req_module.c`): per key,
//!   the excess over the rate and when it was last updated; a request over `burst` is
//!   rejected, one over `delay` is delayed by the time the excess takes to drain.
//! - [`conn`]: requests in progress per key (`ngx_http_limit_conn_module.c`), counted while
//!   the request lives and released when it ends ([`conn::Held`] does it on drop).
//!
//! Both only decide; the worker's phases ([`crate::worker`]) log, answer and delay.

pub mod conn;
pub mod req;

#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::io;

use crate::config::{ZoneDecl, ZoneKind};
use crate::shm::{Segment, Table};

thread_local! {
    /// The millisecond [`current_msec`] answers until the worker's loop reads its clock
    /// again; 0 once it did (not read since), `u64::MAX` outside a worker's loop.
    static TURN_MSEC: Cell<u64> = const { Cell::new(u64::MAX) };
}

/// Called by the worker's loop each time it reads its clock (every turn, or every
/// `timer_resolution`): the time [`current_msec`] cached is stale.
pub fn clock_moved() {
    TURN_MSEC.with(|c| c.set(0));
}

/// nginx's `ngx_current_msec` as `limit_req` reads it: the time of the event-loop turn,
/// read once per turn (at its first use) rather than once per request, as nginx updates
/// it once per turn. Outside a worker's loop, the clock itself.
pub fn current_msec() -> u64 {
    TURN_MSEC.with(|c| match c.get() {
        u64::MAX => msec_now(),
        0 => {
            let now = msec_now().max(1);
            c.set(now);
            now
        }
        now => now,
    })
}

/// Milliseconds of `CLOCK_MONOTONIC`, the same clock in every process, so workers agree on
/// how long ago a key was seen.
pub fn msec_now() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1000 + t.tv_nsec() as u64 / 1_000_000)
        .unwrap_or(0)
}

/// Lays out a freshly mapped zone for its module (the master, before the fork).
pub fn format_zone(kind: ZoneKind, seg: &Segment) -> io::Result<()> {
    match kind {
        ZoneKind::LimitReq => Table::<req::Entry>::format(seg, kind.tag()).map(|_| ()),
        ZoneKind::LimitConn => Table::<conn::Entry>::format(seg, kind.tag()).map(|_| ()),
        ZoneKind::ProxyCache => crate::cache::keys::format(seg),
        // Formatted by the upstream module, never here.
        ZoneKind::Upstream => Err(io::Error::from_raw_os_error(libc::EINVAL)),
        ZoneKind::SslSessionCache => crate::tls::format_session_zone(seg),
        ZoneKind::SslOcspCache => crate::tls::format_ocsp_zone(seg),
    }
}

/// The message nginx's `init_zone` gives when a reload keeps a zone but changes its key.
pub fn key_changed(zone: &ZoneDecl, previous_key: &str) -> String {
    let what = match zone.kind {
        ZoneKind::LimitReq => "limit_req",
        ZoneKind::LimitConn => "limit_conn_zone",
        // ngx_http_file_cache_init's words.
        ZoneKind::ProxyCache => {
            return format!(
                "cache \"{}\" uses the \"{}\" cache path while previously it used the \"{previous_key}\" cache path",
                zone.name, zone.key_text
            );
        }
        ZoneKind::Upstream => "zone",
        ZoneKind::SslSessionCache => "ssl_session_cache",
        ZoneKind::SslOcspCache => "ssl_ocsp_cache",
    };
    format!(
        "{what} \"{}\" uses the \"{}\" key while previously it used the \"{previous_key}\" key",
        zone.name, zone.key_text
    )
}

/// The log line of a zone whose lock was taken over from a worker that died holding it.
pub fn recovered_line(zone: &ZoneDecl) -> String {
    format!(
        "a process died holding the lock of zone \"{}\": its entries were cleared",
        zone.name
    )
}
