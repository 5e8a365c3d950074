//! `post_action` (nginx's `ngx_http_post_action`): when a request is done, it goes on to
//! the `post_action` URI or named location with its method and headers (no arguments, as
//! `ngx_http_internal_redirect(r, uri, NULL)`), and whatever that answers is discarded
//! (`r->header_only`, `ngx_http_send_header` does nothing). Portico runs it as a
//! background subrequest of the request, which is access-logged once it is done, as
//! nginx logs the request after its post action.
//!
//! Differences: the request's log line keeps its own `$uri` and `$status` (nginx's shows
//! the post action's); a request cut short (the client gone, a timeout) gets no post
//! action (nginx runs it then too).

use super::{Kind, Subrequest};
use crate::worker::phases::Rq;

/// Starts the location's `post_action`, once per request.
pub(in crate::worker) fn start(rq: &mut Rq<'_, '_>) {
    let target = &rq.req.loc.post_action;
    if target.is_empty() || rq.route.post_action_started || rq.route.subrequest {
        return;
    }
    rq.route.post_action_started = true;
    let target = target.clone();
    let body = rq
        .route
        .request_body
        .as_ref()
        .and_then(|b| b.share().ok())
        .map(Box::new);
    let sub = if target.starts_with(b"@") {
        let name = String::from_utf8_lossy(&target).into_owned();
        let uri = rq.route.script.uri.clone();
        let args = rq.route.script.args.clone();
        Subrequest::start_at(
            rq,
            &uri,
            args.as_deref(),
            Kind::PostAction,
            body,
            Some(&name),
        )
    } else {
        Subrequest::start(rq, &target, None, Kind::PostAction, body)
    };
    rq.a.subrequests.push(sub);
}
