//! `mirror` (`ngx_http_mirror_module.c`): in the precontent phase of a main request, one
//! background subrequest per `mirror` URI, with the request's current arguments and
//! method. With `mirror_request_body on` (the default) the client's body is read whole
//! first and goes with each mirror; the request then goes on to its content with the body
//! kept (nginx's `r->preserve_body`). Nothing of a mirror's response reaches the client;
//! the connection waits for the mirrors before its next request, as nginx's does.

use super::{Kind, Subrequest};
use crate::worker::phases::Rq;

/// Starts the location's mirrors; true when the body must be read first (the phases stop
/// and come back once it is here).
pub(in crate::worker) fn start(rq: &mut Rq<'_, '_>) -> bool {
    let loc = rq.req.loc;
    if loc.mirror.is_empty() || rq.route.subrequest {
        return false;
    }
    let head = &rq.a.head;
    let has_body = head.chunked || head.content_length.is_some_and(|n| n > 0);
    if loc.mirror_request_body && has_body && rq.route.request_body.is_none() {
        if rq.route.body_taken {
            // An earlier upstream streamed the body away: there is none left to mirror.
        } else {
            return true;
        }
    }
    let args = rq.route.script.args.clone();
    for uri in &loc.mirror {
        let body = match (&rq.route.request_body, loc.mirror_request_body) {
            (Some(body), true) => body.share().ok().map(Box::new),
            _ => None,
        };
        let sub = Subrequest::start(rq, uri, args.as_deref(), Kind::Mirror, body);
        rq.a.subrequests.push(sub);
    }
    false
}
