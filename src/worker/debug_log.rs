//! The debug-level lines of a request's life, in nginx's words, so that `error_log ... debug`
//! (or `debug_connection` for chosen clients) shows what a connection did: its request line
//! and headers, and how it was finalized. The connection-level ones (accept, timer, close)
//! are written where those happen, in the worker's loop.

use crate::elog;
use crate::http::request::RequestHead;
use crate::log::{LogLevel, enabled};

/// `http request line: "GET / HTTP/1.1"`, then `http header: "Name: value"` per header line.
pub(super) fn request_head(id: u64, buf: &[u8], head: &RequestHead) {
    if !enabled(LogLevel::Debug) {
        return;
    }
    elog!(
        LogLevel::Debug,
        "*{id} http request line: \"{}\"",
        String::from_utf8_lossy(head.request_line.get(buf))
    );
    for h in &head.headers {
        elog!(
            LogLevel::Debug,
            "*{id} http header: \"{}\"",
            String::from_utf8_lossy(h.line().get(buf))
        );
    }
    elog!(LogLevel::Debug, "*{id} http header done");
}

/// `http finalize request: STATUS, "URI"`, when the request's access-log line is due.
pub(super) fn finalize(id: u64, status: u16, uri: &[u8]) {
    elog!(
        LogLevel::Debug,
        "*{id} http finalize request: {status}, \"{}\"",
        String::from_utf8_lossy(uri)
    );
}
