//! Why a client's request was refused, and the one place that turns that into a status.
//!
//! Every error here is caused by the client: the worker logs [`HttpError::log_message`] at
//! `info` (as nginx does), answers with [`HttpError::status`] and closes the connection —
//! nginx has not reached the point where keep-alive is decided when it rejects a head.

use std::fmt;
use std::fmt::Write as _;

use super::request::Span;

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
    /// The method holds a byte other than `A`-`Z`, `_` and `-` (400).
    InvalidMethod,
    /// A second `Host` header: both lines, as spans of the whole `Name: value` (400).
    DuplicateHost {
        /// The repeated line.
        line: Span,
        /// The first one.
        previous: Span,
    },
    /// A header that must be unique was sent twice: `Content-Length`, `Transfer-Encoding`,
    /// `If-*`, `Authorization`… (400).
    DuplicateHeader {
        /// The repeated line.
        line: Span,
        /// The first one.
        previous: Span,
    },
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
    /// The head did not fit in the header buffers between two header lines, or carries
    /// too many lines (nginx's internal 494, sent as 400 with its own page).
    HeaderTooLarge,
    /// One header line (the span: as much of it as arrived) does not fit in one large
    /// header buffer (494, like [`HttpError::HeaderTooLarge`]).
    TooLongHeaderLine(Span),
    /// The request line did not fit in the largest header buffer (414).
    UriTooLong,
    /// The body is larger than `client_max_body_size` (413).
    PayloadTooLarge,
    /// The body needs a length and has none (411).
    LengthRequired,
    /// `TRACE` and `CONNECT`, which nginx always refuses (405).
    MethodNotAllowed,
    /// A `Transfer-Encoding` other than `chunked`; the span is its value (501).
    UnknownTransferEncoding(Span),
    /// A major version other than 1, e.g. `HTTP/2.0` (505).
    VersionNotSupported,
    /// An HTTP/2 request whose fields are malformed (RFC 9113 8.2, 8.3), in nginx's words
    /// (400: nginx 1.24+ answers such a stream with 400 rather than resetting it).
    Malformed(&'static str),
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
            | HttpError::InvalidMethod
            | HttpError::DuplicateHost { .. }
            | HttpError::DuplicateHeader { .. }
            | HttpError::InvalidContentLength
            | HttpError::LengthAndTransferEncoding
            | HttpError::TransferEncodingHttp10
            | HttpError::InvalidUri
            | HttpError::InvalidChunkedBody
            | HttpError::Malformed(_) => 400,
            HttpError::HeaderTooLarge | HttpError::TooLongHeaderLine(_) => 494,
            HttpError::UriTooLong => 414,
            HttpError::PayloadTooLarge => 413,
            HttpError::LengthRequired => 411,
            HttpError::MethodNotAllowed => 405,
            HttpError::UnknownTransferEncoding(_) => 501,
            HttpError::VersionNotSupported => 505,
        }
    }

    /// What nginx writes to the error log for this error, with the offending bytes of
    /// `buf` (the buffer the head was parsed from) where nginx quotes them.
    pub fn write_log_message(&self, buf: &[u8], out: &mut String) {
        let text = |s: Span| String::from_utf8_lossy(s.get(buf)).into_owned();
        let _ = match *self {
            HttpError::DuplicateHost { line, previous } => write!(
                out,
                "client sent duplicate host header: \"{}\", previous value: \"{}\"",
                text(line),
                text(previous)
            ),
            HttpError::DuplicateHeader { line, previous } => write!(
                out,
                "client sent duplicate header line: \"{}\", previous value: \"{}\"",
                text(line),
                text(previous)
            ),
            HttpError::UnknownTransferEncoding(value) => write!(
                out,
                "client sent unknown \"Transfer-Encoding\": \"{}\"",
                text(value)
            ),
            HttpError::TooLongHeaderLine(line) => {
                // nginx quotes at most NGX_MAX_ERROR_STR - 300 bytes of the line.
                let shown = Span {
                    start: line.start,
                    end: line.end.min(line.start + LONG_LINE_QUOTED as u32),
                };
                write!(
                    out,
                    "client sent too long header line: \"{}...\"",
                    text(shown)
                )
            }
            _ => out.write_str(self.log_message()),
        };
    }

    /// The error-log message without the quoted request bytes.
    pub fn log_message(&self) -> &'static str {
        match self {
            HttpError::BadRequest => "client sent invalid request",
            HttpError::MissingHost => "client sent HTTP/1.1 request without \"Host\" header",
            HttpError::InvalidHost => "client sent invalid host header",
            HttpError::InvalidMethod => "client sent invalid method",
            HttpError::DuplicateHost { .. } => "client sent duplicate host header",
            HttpError::DuplicateHeader { .. } => "client sent duplicate header line",
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
            HttpError::TooLongHeaderLine(_) => "client sent too long header line",
            HttpError::UriTooLong => "client sent too long URI",
            HttpError::PayloadTooLarge => "client intended to send too large body",
            HttpError::LengthRequired => "client sent no \"Content-Length\" header",
            HttpError::MethodNotAllowed => "client sent TRACE or CONNECT method",
            HttpError::UnknownTransferEncoding(_) => "client sent unknown \"Transfer-Encoding\"",
            HttpError::VersionNotSupported => "client sent invalid version",
            HttpError::Malformed(why) => why,
        }
    }
}

/// How much of an over-long header line the log quotes (nginx: `NGX_MAX_ERROR_STR - 300`).
const LONG_LINE_QUOTED: usize = 2048 - 300;

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
        assert_eq!(
            HttpError::UnknownTransferEncoding(Span::EMPTY).status(),
            501
        );
        assert_eq!(HttpError::TooLongHeaderLine(Span::EMPTY).status(), 494);
        assert_eq!(HttpError::InvalidMethod.status(), 400);
        assert_eq!(HttpError::VersionNotSupported.status(), 505);
        assert_eq!(HttpError::MethodNotAllowed.status(), 405);
        assert_eq!(HttpError::PayloadTooLarge.status(), 413);
    }

    #[test]
    fn log_messages_quote_the_request_as_nginx_does() {
        let buf = b"Host: a\r\nHost: b\r\nTransfer-Encoding: gzip";
        let mut out = String::new();
        HttpError::DuplicateHost {
            line: Span { start: 9, end: 16 },
            previous: Span { start: 0, end: 7 },
        }
        .write_log_message(buf, &mut out);
        assert_eq!(
            out,
            "client sent duplicate host header: \"Host: b\", previous value: \"Host: a\""
        );
        out.clear();
        HttpError::UnknownTransferEncoding(Span { start: 37, end: 41 })
            .write_log_message(buf, &mut out);
        assert_eq!(out, "client sent unknown \"Transfer-Encoding\": \"gzip\"");
        out.clear();
        HttpError::TooLongHeaderLine(Span { start: 0, end: 4 }).write_log_message(buf, &mut out);
        assert_eq!(out, "client sent too long header line: \"Host...\"");
    }

    #[test]
    fn display_is_the_log_message() {
        assert_eq!(
            HttpError::UriTooLong.to_string(),
            "client sent too long URI"
        );
    }
}
