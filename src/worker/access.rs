//! nginx's access phase for the access module: the location's `allow`/`deny` rules against
//! the client's address, in order, the first that covers it deciding; none covering it lets
//! the request through.

use super::phases::{self, Next, Rq};
use crate::log::LogLevel;

/// `None` to go on to the content phase; else the request was answered 403.
pub(super) fn check<'c>(rq: &mut Rq<'_, 'c>) -> Option<Next<'c>> {
    let rules = &rq.req.loc.access;
    if rules.is_empty() {
        return None;
    }
    let peer = rq.conn.peer.ip();
    let rule = rules.iter().find(|r| r.covers(peer))?;
    if !rule.deny {
        return None;
    }
    phases::log_error(rq, LogLevel::Error, "access forbidden by rule");
    Some(phases::finalize(rq, 403))
}

/// The method bit the request is handled with (`error_page` makes it GET), for
/// `limit_except`.
pub(super) fn method_bit(rq: &Rq<'_, '_>) -> u32 {
    if rq.route.as_get {
        return crate::config::access::method_bit(b"GET");
    }
    let buf = &rq.a.buf[rq.a.start..rq.a.filled];
    crate::config::access::method_bit(rq.a.head.method_span.get(buf))
}
