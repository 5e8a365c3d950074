//! HTTP/2 (RFC 9113) without a transport: bytes in, events out, bytes to send.
//!
//! [`Session`] is one connection's protocol state. The worker's connection feeds it what it
//! read ([`Session::receive`]), gets back one [`Event`] at a time (a request head, body
//! bytes, trailers, a reset), answers through [`Session::send_headers`] and
//! [`Session::send_data`] (which respect both flow-control windows), and writes
//! [`Session::pending`] to its socket as its single writer. Whether the bytes arrive in
//! clear (h2c with prior knowledge) or through TLS (ALPN `h2`) is the connection's business:
//! after the TLS handshake chose `h2`, the decrypted stream is handed here the same way.
//!
//! Files: `frame.rs` (frame codec), `hpack/` (header compression), `bridge.rs` (a stream's
//! request and response heads to and from the HTTP/1 heads of the request model),
//! `validate.rs` (what makes
//! a request malformed), `session.rs` (streams, windows, SETTINGS/PING/GOAWAY, the flood
//! defences).

pub mod bridge;
pub mod frame;
pub mod hpack;
mod priority;
mod session;
mod validate;

pub use session::{ConnError, Event, Limits, Session};
pub use validate::RequestHead;

/// RFC 9113 section 7 error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ErrorCode {
    /// NO_ERROR
    NoError = 0,
    /// PROTOCOL_ERROR
    Protocol = 1,
    /// INTERNAL_ERROR
    Internal = 2,
    /// FLOW_CONTROL_ERROR
    FlowControl = 3,
    /// SETTINGS_TIMEOUT
    SettingsTimeout = 4,
    /// STREAM_CLOSED
    StreamClosed = 5,
    /// FRAME_SIZE_ERROR
    FrameSize = 6,
    /// REFUSED_STREAM
    RefusedStream = 7,
    /// CANCEL
    Cancel = 8,
    /// COMPRESSION_ERROR
    Compression = 9,
    /// CONNECT_ERROR
    Connect = 10,
    /// ENHANCE_YOUR_CALM
    EnhanceYourCalm = 11,
    /// INADEQUATE_SECURITY
    InadequateSecurity = 12,
    /// HTTP_1_1_REQUIRED
    Http11Required = 13,
}

impl ErrorCode {
    /// The code for a number a peer sent (unknown ones are treated as INTERNAL_ERROR, 7).
    pub fn from_u32(code: u32) -> ErrorCode {
        use ErrorCode::*;
        [
            NoError,
            Protocol,
            Internal,
            FlowControl,
            SettingsTimeout,
            StreamClosed,
            FrameSize,
            RefusedStream,
            Cancel,
            Compression,
            Connect,
            EnhanceYourCalm,
            InadequateSecurity,
            Http11Required,
        ]
        .get(code as usize)
        .copied()
        .unwrap_or(Internal)
    }
}
