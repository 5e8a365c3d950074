//! `stub_status` (`ngx_http_stub_status_module.c`): the whole server's connection and
//! request counters ([`crate::status::counters`]) in nginx's four lines, `text/plain`;
//! GET and HEAD only (405 otherwise), as nginx's handler.

use std::io::Write;

use super::handler::{self, Head};
use super::phases::{Next, Rq, finalize};
use crate::http::request::Method;
use crate::status::counters;

/// Answers the request with the counters.
pub(super) fn serve<'c>(rq: &mut Rq<'_, 'c>) -> Next<'c> {
    let method = if rq.route.as_get {
        Method::Get
    } else {
        rq.a.head.method
    };
    if !matches!(method, Method::Get | Method::Head) {
        return finalize(rq, 405);
    }
    let s = counters::snapshot().total;
    // Four lines of at most 20-digit numbers: well under the buffer.
    let mut buf = [0u8; 256];
    let mut w = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(
        w,
        "Active connections: {} \nserver accepts handled requests\n {} {} {} \nReading: {} Writing: {} Waiting: {} \n",
        s.active, s.accepted, s.handled, s.requests, s.reading, s.writing, s.waiting
    );
    let len = w.position() as usize;
    let text = buf.get(..len).unwrap_or_default();
    let status = rq.route.err_status.unwrap_or(200);
    let extra = handler::extra_headers(rq, status, None);
    let body: &[u8] = if rq.a.head.method == Method::Head {
        b""
    } else {
        text
    };
    handler::queue_response(
        rq.a,
        rq.shared,
        rq.req,
        &Head {
            status,
            content_type: Some(b"text/plain"),
            content_length: Some(len as u64),
            extra: &extra,
            ..Head::default()
        },
        body,
    );
    Next::Done
}
