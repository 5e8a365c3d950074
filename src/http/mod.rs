//! HTTP/1.x: request heads, bodies, URIs, response heads, dates, error pages.
//!
//! Everything here is pure code over byte slices, no I/O: the worker owns the sockets and
//! buffers and calls in. Parsers return offsets ([`request::Span`]) into the caller's
//! buffer rather than borrowing it, and allocate nothing per request.
//!
//! - [`request`]: the request head (`parse_head`), nginx's checks on it; the request line
//!   and header lines are read byte by byte as nginx reads them.
//! - [`chunked`]: the chunked body decoder, a small state machine.
//! - [`uri`]: percent-decoding and dot-segment removal of the path; escaping for
//!   `Location`.
//! - [`response`]: status lines and nginx's built-in error pages, all `&'static`.
//! - [`date`]: the once-a-second cache of `Date:` and log timestamps; HTTP-date parsing.
//! - [`conditional`]: `If-Match`/`If-None-Match`/`If-(Un)Modified-Since` → 304/412;
//!   nginx's `ETag`.
//! - [`range`]: `Range` and `If-Range` → 206/416, and `Content-Range` values.
//! - [`expires`]: the `expires` directive and the `Expires`/`Cache-Control` it writes.
//! - [`error`]: [`HttpError`], and the one function that maps it to a status.
//! - [`source`]: what a response body offers the connection's writer ([`source::Ready`]).

pub mod chunked;
pub mod conditional;
pub mod date;
pub mod encoding;
pub mod error;
pub mod expires;
pub(crate) mod header_line;
pub mod num;
pub mod range;
pub mod request;
mod request_line;
pub mod response;
pub mod source;
pub mod uri;
pub mod user_agent;

pub use error::HttpError;
