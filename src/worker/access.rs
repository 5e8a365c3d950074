//! nginx's access module (`ngx_http_access_handler`): the location's `allow`/`deny` rules
//! against the client's address (the realip module's, once it set one), in order, the first
//! that covers it deciding; none covering it gives the module no say. `satisfy` combines its
//! answer with auth_basic's ([`super::admission`]).

use super::admission::Access;
use super::phases::{self, Rq};
use crate::config::Satisfy;
use crate::log::LogLevel;

/// The access module's answer for the request.
pub(super) fn check(rq: &mut Rq<'_, '_>) -> Access {
    let rules = &rq.req.loc.access;
    if rules.is_empty() {
        return Access::Declined;
    }
    let peer = crate::cidr::MatchAddr::of(rq.conn.peer.ip().addr());
    let Some(rule) = rules.iter().find(|r| r.covers_addr(peer)) else {
        return Access::Declined;
    };
    if !rule.deny {
        return Access::Allowed;
    }
    // Under `satisfy any` the line is written only if no other module lets the request in
    // (`ngx_http_core_post_access_phase`), as nginx's `ngx_http_access_found` leaves it.
    if rq.req.loc.satisfy == Satisfy::All {
        phases::log_error(rq, LogLevel::Error, "access forbidden by rule");
    }
    Access::Status(403)
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
