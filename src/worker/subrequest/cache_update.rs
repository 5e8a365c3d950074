//! `*_cache_background_update` (`ngx_http_upstream_cache_background_update`): a request
//! answered with an expired entry (`STALE`) makes a background subrequest that fetches the
//! entry again, so the next request gets the fresh one. As nginx's
//! `NGX_HTTP_SUBREQUEST_CLONE`, the subrequest is the request again in the same location
//! (its method, URI, arguments, captures and `set` values, no phases run again), and as
//! `NGX_HTTP_SUBREQUEST_BACKGROUND` nobody waits for it but the connection, which goes on
//! to its next request once it is done. It holds the key's lock the parent took, so the
//! entry is refreshed once; the lock goes when its response is stored or given up.

use super::{Kind, State, Subrequest};
use crate::worker::Shared;
use crate::worker::conn::{Active, Req};

impl<'c> Subrequest<'c> {
    /// The background update of the request `parent` (answered from its expired entry),
    /// holding `ticket`, the key's lock; its upstream starts at its first drive.
    pub(in crate::worker) fn cache_update(
        parent: &Active<'c>,
        shared: &mut Shared<'c>,
        ticket: crate::cache::keys::Ticket,
    ) -> Option<Subrequest<'c>> {
        let parent_req = parent.req.as_ref()?;
        let head_len = parent_req.head_len;
        let mut a = shared.pool.take_active(head_len);
        let head_end = (parent.start + head_len).min(parent.filled);
        let head_bytes = parent.buf.get(parent.start.min(head_end)..head_end)?;
        a.buf[..head_bytes.len()].copy_from_slice(head_bytes);
        a.start = 0;
        a.filled = head_bytes.len();
        a.scanned = a.filled;
        a.head.clone_from(&parent.head);
        a.uri.clear();
        a.uri.extend_from_slice(&parent.uri);
        a.body = None;
        a.proxied = false;
        a.cache_update = Some(ticket);
        let http = shared.http;
        let from = &parent.route;
        let mut route = std::mem::take(&mut a.route);
        route.clear_matches(http.user_vars.len());
        route.reset(&from.script.uri, from.script.args.as_deref());
        route.script.computed.reset(&http.computed);
        let (to, of) = (&mut route.script, &from.script);
        to.quoted_uri = of.quoted_uri;
        to.captures.clone_from(&of.captures);
        to.user.clone_from(&of.user);
        to.loc = of.loc;
        to.valid_location = of.valid_location;
        route.location = from.location;
        route.internal = from.internal;
        route.as_get = from.as_get;
        route.uri_rewritten = from.uri_rewritten;
        route.local = from.local.clone();
        route.request_id = from.request_id;
        route.subrequest = true;
        a.route = route;
        a.req = Some(Req {
            sequence: parent_req.sequence,
            ..Req::new(shared.now, parent_req.server, parent_req.loc, head_len)
        });
        Some(Subrequest {
            a,
            kind: Kind::CacheUpdate,
            state: State::Launch(None),
            status: 0,
            key: crate::slab::Key(0),
        })
    }
}
