//! `empty_gif` (`ngx_http_empty_gif_module.c`): the 43-byte transparent 1x1 GIF, answered
//! as nginx's `ngx_http_send_response` answers it: GET and HEAD only (405 otherwise),
//! `Content-Type: image/gif`, `Last-Modified` fixed at nginx's 23349600 (1970-09-28
//! 06:00:00 GMT) so `If-Modified-Since` gets a 304; no `ETag`, no ranges.

use super::handler::{self, Head};
use super::phases::{Next, Rq, finalize};
use super::response_head::preconditions;
use crate::http::conditional::Precondition;
use crate::http::date::format_http_date_secs;
use crate::http::request::Method;

/// nginx's `ngx_empty_gif`: the smallest transparent single-pixel GIF.
pub const EMPTY_GIF: [u8; 43] = [
    b'G', b'I', b'F', b'8', b'9', b'a', // header
    0x01, 0x00, 0x01, 0x00, // logical screen: 1x1
    0x80, 0x01, 0x00, // global 1-bit colour table, background #1, no aspect ratio
    0x00, 0x00, 0x00, 0xff, 0xff, 0xff, // colours: black, white
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x01, 0x00, // graphic control: #1 transparent
    0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, // image descriptor
    0x02, 0x02, 0x4c, 0x01, 0x00, // LZW data: clear, 1, end
    0x3b, // trailer
];

/// The GIF's `Last-Modified`, as nginx sets it (seconds since the epoch).
pub const LAST_MODIFIED: i64 = 23_349_600;

/// Answers the request with the GIF.
pub(super) fn serve<'c>(rq: &mut Rq<'_, 'c>) -> Next<'c> {
    let method = if rq.route.as_get {
        Method::Get
    } else {
        rq.a.head.method
    };
    if !matches!(method, Method::Get | Method::Head) {
        return finalize(rq, 405);
    }
    let mut status = rq.route.err_status.unwrap_or(200);
    if status == 200 {
        match preconditions(rq, Some(LAST_MODIFIED), None) {
            Precondition::Proceed => {}
            Precondition::NotModified => status = 304,
            Precondition::Failed => return finalize(rq, 412),
        }
    }
    let mut date = [0u8; 29];
    format_http_date_secs(LAST_MODIFIED, &mut date);
    let last_modified: [(&[u8], &[u8]); 1] = [(b"Last-Modified", &date)];
    let extra = handler::extra_headers(rq, status, Some(LAST_MODIFIED));
    let not_modified = status == 304;
    let body: &[u8] = if not_modified || rq.a.head.method == Method::Head {
        b""
    } else {
        &EMPTY_GIF
    };
    handler::queue_response(
        rq.a,
        rq.shared,
        rq.req,
        &Head {
            status,
            content_type: (!not_modified).then_some(b"image/gif" as &[u8]),
            content_length: (!not_modified).then_some(EMPTY_GIF.len() as u64),
            early: if matches!(status, 200 | 304) {
                &last_modified
            } else {
                &[]
            },
            extra: &extra,
            ..Head::default()
        },
        body,
    );
    Next::Done
}
