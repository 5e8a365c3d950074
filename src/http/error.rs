//! Why a client's request was refused, and the one place that turns that into a status.
//!
//! Every error here is caused by the client: the worker logs [`HttpError::log_message`] at
//! `info` (as nginx does), answers with [`HttpError::status`] and closes the connection —
//! nginx has not reached the point where keep-alive is decided when it rejects a head.

use std::fmt;

/// A request the client got wrong (or that asks for something nginx refuses).
///
/// Match on [`HttpError::status`] rather than on variants: several variants share a status
/// and differ only in what the error log says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// Malformed request line, header line or body framing (400).
    BadRequest,
    /// HTTP/1.1 request without a `Host` header (400).
    MissingHost,
    /// `Host` header (or the host of an absolute URI) fails nginx's validation (400).
    InvalidHost,
    /// A header that must be unique was sent twice: `Host`, `Content-Length`,
    /// `Transfer-Encoding` (400).
    DuplicateHeader,
    /// `Content-Length` is not a plain non-negative decimal that fits in an `i64` (400).
    InvalidContentLength,
    /// Both `Content-Length` and `Transfer-Encoding` (400).
    LengthAndTransferEncoding,
    /// `Transfer-Encoding` in an HTTP/1.0 request (400).
    TransferEncodingHttp10,
    /// A `..` segment that climbs above the root, `%00`, or a bad `%` escape (400).
    InvalidUri,
    /// The chunked body does not follow the chunked grammar (400).
    InvalidChunkedBody,
    /// The head did not fit in the header buffers once the request line was complete
    /// (nginx's internal 494, sent as 400 with its own page).
    HeaderTooLarge,
    /// The request line did not fit in the largest header buffer (414).
    UriTooLong,
    /// The body is larger than `client_max_body_size` (413).
    PayloadTooLarge,
    /// The body needs a length and has none (411).
    LengthRequired,
    /// `TRACE` and `CONNECT`, which nginx always refuses (405).
    MethodNotAllowed,
    /// A `Transfer-Encoding` other than `chunked` (501).
    NotImplemented,
    /// A major version other than 1, e.g. `HTTP/2.0` (505).
    VersionNotSupported,
}

impl HttpError {
    /// The status code to answer with: the one function that maps errors to statuses.
    ///
    /// [`HttpError::HeaderTooLarge`] gives nginx's internal code 494, which
    /// [`crate::http::response::status_line`] sends as `400 Bad Request` and for which
    /// [`crate::http::response::error_page`] has the "Request Header Or Cookie Too Large"
    /// page; logs and `$status` want [`crate::http::response::wire_status`] of it (400).
    pub fn status(&self) -> u16 {
        match self {
            HttpError::BadRequest
            | HttpError::MissingHost
            | HttpError::InvalidHost
            | HttpError::DuplicateHeader
            | HttpError::InvalidContentLength
            | HttpError::LengthAndTransferEncoding
            | HttpError::TransferEncodingHttp10
            | HttpError::InvalidUri
            | HttpError::InvalidChunkedBody => 400,
            HttpError::HeaderTooLarge => 494,
            HttpError::UriTooLong => 414,
            HttpError::PayloadTooLarge => 413,
            HttpError::LengthRequired => 411,
            HttpError::MethodNotAllowed => 405,
            HttpError::NotImplemented => 501,
            HttpError::VersionNotSupported => 505,
        }
    }

    /// What nginx writes to the error log (at `info`) for this error.
    pub fn log_message(&self) -> &'static str {
        match self {
            HttpError::BadRequest => "client sent invalid request",
            HttpError::MissingHost => "client sent HTTP/1.1 request without \"Host\" header",
            HttpError::InvalidHost => "client sent invalid host header",
            HttpError::DuplicateHeader => "client sent duplicate header line",
            HttpError::InvalidContentLength => "client sent invalid \"Content-Length\" header",
            HttpError::LengthAndTransferEncoding => {
                "client sent \"Content-Length\" and \"Transfer-Encoding\" headers at the same time"
            }
            HttpError::TransferEncodingHttp10 => {
                "client sent HTTP/1.0 request with \"Transfer-Encoding\" header"
            }
            HttpError::InvalidUri => "client sent invalid request",
            HttpError::InvalidChunkedBody => "client sent invalid chunked body",
            HttpError::HeaderTooLarge => "client sent too large request",
            HttpError::UriTooLong => "client sent too long URI",
            HttpError::PayloadTooLarge => "client intended to send too large body",
            HttpError::LengthRequired => "client sent no \"Content-Length\" header",
            HttpError::MethodNotAllowed => "client sent TRACE or CONNECT method",
            HttpError::NotImplemented => "client sent unknown \"Transfer-Encoding\"",
            HttpError::VersionNotSupported => "client sent invalid version",
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.log_message())
    }
}

impl std::error::Error for HttpError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(HttpError::BadRequest.status(), 400);
        assert_eq!(HttpError::InvalidHost.status(), 400);
        assert_eq!(HttpError::HeaderTooLarge.status(), 494);
        assert_eq!(HttpError::UriTooLong.status(), 414);
        assert_eq!(HttpError::NotImplemented.status(), 501);
        assert_eq!(HttpError::VersionNotSupported.status(), 505);
        assert_eq!(HttpError::MethodNotAllowed.status(), 405);
        assert_eq!(HttpError::PayloadTooLarge.status(), 413);
    }

    #[test]
    fn display_is_the_log_message() {
        assert_eq!(
            HttpError::UriTooLong.to_string(),
            "client sent too long URI"
        );
    }
}
