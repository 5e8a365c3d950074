//! The hostile requests and nginx 1.22's answer to each (checked against the real nginx; the
//! comment on each case says what nginx did). `agreed_cases` are those Portico answers the
//! same way; `divergent_cases` those it does not yet.

/// What the client sees after sending a case's bytes on a fresh connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The statuses of the complete responses read, in order; 0 for an answer that is not an
    /// HTTP/1.x response.
    pub statuses: Vec<u16>,
    /// What the connection did after them.
    pub end: End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The server closed the connection (EOF or reset) without sending more.
    Closed,
    /// A further `GET /` on the same connection was answered 200: no desync, still usable.
    KeptAlive,
    /// Neither: the server kept the connection but answered the probe otherwise (or not).
    Other,
}

/// One hostile request and nginx 1.22's answer to it.
pub struct Case {
    pub name: &'static str,
    pub request: Vec<u8>,
    pub expect: Outcome,
    /// Whether the answer holds however the bytes are split into reads (see
    /// [`Case::whole_only`]).
    pub any_split: bool,
}

impl Case {
    /// A case whose answer depends on how the bytes arrive: nginx answers a framing error
    /// in a body it is discarding with 400 only if the bad bytes came with the head, else it
    /// has already answered 200 and just closes.
    fn whole_only(self) -> Case {
        Case {
            any_split: false,
            ..self
        }
    }
}

/// nginx answers `statuses` and then closes the connection (`&[]`: closes without a word).
fn closes(statuses: &[u16]) -> Outcome {
    Outcome {
        statuses: statuses.to_vec(),
        end: End::Closed,
    }
}

/// nginx answers `statuses` and keeps the connection in step for a next request.
fn keeps(statuses: &[u16]) -> Outcome {
    Outcome {
        statuses: statuses.to_vec(),
        end: End::KeptAlive,
    }
}

fn case(name: &'static str, request: impl Into<Vec<u8>>, expect: Outcome) -> Case {
    Case {
        name,
        request: request.into(),
        expect,
        any_split: true,
    }
}

/// A request line (or head) longer than `large_client_header_buffers 4 8k`.
fn long(prefix: &str, fill: usize, suffix: &str) -> Vec<u8> {
    format!("{prefix}{}{suffix}", "a".repeat(fill)).into_bytes()
}

/// `n` distinct small header lines.
fn many_headers(n: usize) -> Vec<u8> {
    let mut raw = b"GET / HTTP/1.1\r\nHost: localhost\r\n".to_vec();
    for i in 0..n {
        raw.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw
}

/// The cases where Portico answers as nginx 1.22 does.
pub fn agreed_cases() -> Vec<Case> {
    vec![
        // --- a well-formed request, the control
        case("plain GET", &b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..], keeps(&[200])), // nginx 1.22: 200, keep-alive
        // --- Content-Length / Transfer-Encoding smuggling
        case(
            "CL then TE",
            &b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "TE then CL",
            &b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "duplicate CL, same value",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "duplicate CL, different values",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 0\r\n\r\nhello"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "CL list",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5, 5\r\n\r\nhello"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "CL +5",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: +5\r\n\r\nhello"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "CL -1",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "CL hex",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0x5\r\n\r\nhello"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "CL empty",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: \r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "CL with a tab after it",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\t\r\n\r\nhello"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "CL with inner space",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1 0\r\n\r\n0123456789"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "CL overflows 64 bits",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999999999999\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "CL i64::MAX, over client_max_body_size",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 9223372036854775807\r\n\r\n"[..],
            closes(&[413]), // nginx 1.22: 413
        ),
        case(
            "CL body then pipelined request",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhelloGET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200, 404]), // nginx 1.22: 200 404, keep-alive
        ),
        case(
            "CL with leading zeros",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0005\r\n\r\nhelloGET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200, 404]), // nginx 1.22: 200 404, keep-alive
        ),
        case(
            "CL 0 then garbage",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\nGARBAGE\r\n\r\n"[..],
            closes(&[200, 400]), // nginx 1.22: 200 400
        ),
        case(
            "CL folded onto a second line",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n 6\r\n\r\nhello"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "TE folded onto a second line",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "CL in the chunked trailer",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 100\r\n\r\nGET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200, 404]), // nginx 1.22: 200 404, keep-alive
        ),
        case(
            "TE chunked twice in one value",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"[..],
            closes(&[501]), // nginx 1.22: 501
        ),
        case(
            "TE with a NUL",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\0\r\n\r\n0\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "CL name with a trailing underscore",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length_: 5\r\n\r\nGET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200, 404]), // nginx 1.22: 200 404, keep-alive
        ),
        case(
            "TE chunked, gzip",
            &b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"[..],
            closes(&[501]), // nginx 1.22: 501
        ),
        case(
            "TE gzip, chunked",
            &b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"[..],
            closes(&[501]), // nginx 1.22: 501
        ),
        case(
            "TE identity",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: identity\r\n\r\n"[..],
            closes(&[501]), // nginx 1.22: 501
        ),
        case(
            "TE chunkedx",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunkedx\r\n\r\n0\r\n\r\n"[..],
            closes(&[501]), // nginx 1.22: 501
        ),
        case(
            "TE with extra spaces around the value",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding:   chunked  \r\n\r\n0\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "TE with a tab before the value",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n"[..],
            closes(&[501]), // nginx 1.22: 501
        ),
        case(
            "TE with a tab after the value",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n"[..],
            closes(&[501]), // nginx 1.22: 501
        ),
        case(
            "TE Chunked (case)",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "TE twice",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "TE on HTTP/1.0",
            &b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        // --- chunked bodies (discarded by the static handler, as nginx does)
        case(
            "chunked body then pipelined request",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200, 404]), // nginx 1.22: 200 404, keep-alive
        ),
        case(
            "chunk size overflow",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        )
        .whole_only(),
        case(
            "chunk size 2^63-1",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nhello\r\n0\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        )
        .whole_only(),
        case(
            "negative chunk size",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        )
        .whole_only(),
        case(
            "chunk size 0x prefix",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        )
        .whole_only(),
        case(
            "chunk data longer than its size",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        )
        .whole_only(),
        case(
            "chunk size with bare CR",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\rhello\r\n0\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        )
        .whole_only(),
        case(
            "chunk extensions",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c=\"d;e\"\r\nhello\r\n0;last\r\n\r\nGET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200, 404]), // nginx 1.22: 200 404, keep-alive
        ),
        case(
            "chunk trailer fields",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\nGET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200, 404]), // nginx 1.22: 200 404, keep-alive
        ),
        case(
            "chunked with bare LF",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\nGET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200, 404]), // nginx 1.22: 200 404, keep-alive
        ),
        // --- line endings
        case(
            "bare LF line ends",
            &b"GET / HTTP/1.1\nHost: localhost\n\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "bare CR ends the request line",
            &b"GET / HTTP/1.1\rHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "bare CR inside a header value",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\rb\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "bare CR ends a header line",
            &b"GET / HTTP/1.1\r\nHost: localhost\rX-A: b\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "CR CR LF",
            &b"GET / HTTP/1.1\r\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "empty lines before the request line",
            &b"\r\n\r\n\nGET / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        // --- header syntax
        case(
            "obs-fold",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n b\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "space before colon",
            &b"GET / HTTP/1.1\r\nHost : localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "header name with underscore (ignored)",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nX_A: b\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "NUL in header name",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nX-\0A: b\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "NUL in header value",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\0b\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "control byte in header name",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nX-\x01A: b\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "space inside header name",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nX A: b\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "empty header name",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\n: b\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "tab before colon",
            &b"GET / HTTP/1.1\r\nHost\t: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "obs-fold on the first header line",
            &b"GET / HTTP/1.1\r\n Host: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "control byte in header value",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\x01b\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "DEL in header value",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\x7fb\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "ESC in header value",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: \x1b[31m\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "@ in header name",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nX@A: b\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "high byte in header name",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nX\xffA: b\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "header line without colon",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nX-No-Colon\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "CR CR LF ends a header line",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "CR CR LF ends the head",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "obs-text in header value",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: caf\xc3\xa9 \xff\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "duplicate If-Modified-Since",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        // --- methods and versions
        case(
            "lowercase method",
            &b"get / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "mixed-case method",
            &b"Get / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "digit in method",
            &b"G3T / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "unknown method",
            &b"FOO / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[405]), // nginx 1.22: 405, keep-alive
        ),
        case(
            "TRACE",
            &b"TRACE / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[405]), // nginx 1.22: 405
        ),
        case(
            "tab between method and target",
            &b"GET\t/ HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "several spaces between the parts",
            &b"GET   /   HTTP/1.1  \r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "method with underscore",
            &b"M_SEARCH / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[405]), // nginx 1.22: 405, keep-alive
        ),
        case(
            "very long method",
            &b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[405]), // nginx 1.22: 405, keep-alive
        ),
        case(
            "HTTP/1.01",
            &b"GET / HTTP/1.01\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "HTTP/01.1",
            &b"GET / HTTP/01.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "HTTP/2.0",
            &b"GET / HTTP/2.0\r\nHost: localhost\r\n\r\n"[..],
            closes(&[505]), // nginx 1.22: 505
        ),
        case(
            "HTTP/10.0",
            &b"GET / HTTP/10.0\r\nHost: localhost\r\n\r\n"[..],
            closes(&[505]), // nginx 1.22: 505
        ),
        case(
            "HTTP/0.9",
            &b"GET / HTTP/0.9\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "HTTP/1.10",
            &b"GET / HTTP/1.10\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "HTTP/1.1000",
            &b"GET / HTTP/1.1000\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "HTTP/1 without minor",
            &b"GET / HTTP/1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "lowercase http/1.1",
            &b"GET / http/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "junk after the version",
            &b"GET / HTTP/1.1 x\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "TLS ClientHello on the plain port",
            &b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        // --- sizes (client_header_buffer_size 1k, large_client_header_buffers 4 8k)
        case(
            "request line over 8k",
            long("GET /", 9000, " HTTP/1.1\r\nHost: localhost\r\n\r\n"),
            closes(&[414]), // nginx 1.22: 414
        ),
        case(
            "header line over 8k",
            long("GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: ", 9000, "\r\n\r\n"),
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "request line just under 8k",
            long("GET /", 8000, " HTTP/1.1\r\nHost: localhost\r\n\r\n"),
            keeps(&[404]), // nginx 1.22: 404, keep-alive
        ),
        case(
            "head over 4 x 8k",
            {
                let line = format!("X-Big: {}\r\n", "b".repeat(7000));
                let head = format!("GET / HTTP/1.1\r\nHost: localhost\r\n{}\r\n", line.repeat(5));
                head.into_bytes()
            },
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "101 header lines",
            many_headers(100),
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "1000 header lines",
            many_headers(999),
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "1001 header lines",
            many_headers(1000),
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "100 header lines",
            many_headers(98),
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        // --- targets
        case(
            "absolute-form target, no Host on HTTP/1.1",
            &b"GET http://localhost/ HTTP/1.1\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "absolute-form target, no Host on HTTP/1.0",
            &b"GET http://localhost/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "absolute-form target wins over Host",
            &b"GET http://localhost:8080/index.html HTTP/1.1\r\nHost: other.example\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "absolute-form target without a path",
            &b"GET http://localhost HTTP/1.1\r\nHost: other.example\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "absolute-form target, other scheme",
            &b"GET https://localhost/ HTTP/1.1\r\nHost: other.example\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "absolute-form target with userinfo",
            &b"GET http://user@localhost/ HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "absolute-form target with a bad host",
            &b"GET http://a..b/ HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "absolute-form target with a garbage port",
            &b"GET http://localhost:abc/ HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "absolute-form target with an IPv6 host",
            &b"GET http://[::1]:80/ HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[403]), // nginx 1.22: 403 (the default server), keep-alive
        ),
        case(
            "absolute-form target with only a query",
            &b"GET http://localhost?a=b HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "scheme without slashes",
            &b"GET http:localhost/ HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "space inside the target",
            &b"GET /a b HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "method only",
            &b"GET\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "/.. at the end",
            &b"GET /.. HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "/.%2e/ above the root",
            &b"GET /.%2e/index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "%2f%2e%2e above the root",
            &b"GET /a%2f%2e%2e%2f%2e%2e%2findex.html HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "backslash dot dot",
            &b"GET /..\\index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[404]), // nginx 1.22: 404, keep-alive
        ),
        case(
            "% at the end",
            &b"GET /index.html% HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "%00 in the query",
            &b"GET /index.html?a=%00 HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "encoded NUL high nibble (%c0%80)",
            &b"GET /%c0%80 HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[404]), // nginx 1.22: 404, keep-alive
        ),
        case(
            "encoded slash",
            &b"GET /a%2Fb HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[404]), // nginx 1.22: 404, keep-alive
        ),
        case(
            "path parameters",
            &b"GET /index.html;x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[404]), // nginx 1.22: 404, keep-alive
        ),
        case(
            "overlong UTF-8 dots",
            &b"GET /%c0%ae%c0%ae/index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[404]), // nginx 1.22: 404, keep-alive
        ),
        case(
            "fullwidth dots",
            &b"GET /%ef%bc%8e%ef%bc%8e/index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[404]), // nginx 1.22: 404, keep-alive
        ),
        case(
            "encoded backslashes",
            &b"GET /%5c..%5cindex.html HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[404]), // nginx 1.22: 404, keep-alive
        ),
        case(
            "trailing /. after a file",
            &b"GET /index.html/. HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[404]), // nginx 1.22: 404, keep-alive
        ),
        case(
            "trailing /.. after a file",
            &b"GET /index.html/.. HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "merged slashes before ..",
            &b"GET //../index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "dot segment in the query only",
            &b"GET /index.html?/../../etc/passwd HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "absolute-form target, uppercase scheme",
            &b"GET HTTP://localhost/ HTTP/1.1\r\nHost: other.example\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "absolute-form target, odd scheme",
            &b"GET h2+x.y://localhost/ HTTP/1.1\r\nHost: other.example\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "absolute-form target, underscore in host",
            &b"GET http://local_host/ HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "absolute-form target, empty host",
            &b"GET http:///index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "absolute-form target, port only",
            &b"GET http://:80/ HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "asterisk target",
            &b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "/../ above the root",
            &b"GET /../index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "/%2e%2e/ above the root",
            &b"GET /%2e%2e/index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "/..%2f above the root",
            &b"GET /..%2findex.html HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "/%2E%2E%2F above the root",
            &b"GET /%2E%2E%2Findex.html HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "dot segments inside the root",
            &b"GET /a/b/%2e%2e/../index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "%00 in the path",
            &b"GET /index.html%00.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "bad percent escape",
            &b"GET /%zz HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "NUL in the target",
            &b"GET /\0 HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "control byte in the target",
            &b"GET /\x01 HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "DEL in the target",
            &b"GET /\x7f HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "high bytes in the target",
            &b"GET /\xff\xfe HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[404]), // nginx 1.22: 404, keep-alive
        ),
        case(
            "encoded ? in the path",
            &b"GET /index.html%3fa HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[404]), // nginx 1.22: 404, keep-alive
        ),
        case(
            "fragment in the target",
            &b"GET /index.html#frag HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "double slashes",
            &b"GET //index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        // --- Host
        case(
            "Host with a port",
            &b"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "Host with a garbage port",
            &b"GET / HTTP/1.1\r\nHost: localhost:abc\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "Host with a slash",
            &b"GET / HTTP/1.1\r\nHost: local/host\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "Host with ..",
            &b"GET / HTTP/1.1\r\nHost: a..b\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "Host with a space",
            &b"GET / HTTP/1.1\r\nHost: local host\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "Host with a tab before it",
            &b"GET / HTTP/1.1\r\nHost:\tlocalhost\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "Host with NUL",
            &b"GET / HTTP/1.1\r\nHost: local\0host\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "Host with a trailing dot",
            &b"GET / HTTP/1.1\r\nHost: localhost.\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "Host an IPv6 literal",
            &b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"[..],
            keeps(&[403]), // nginx 1.22: 403 (the default server), keep-alive
        ),
        case(
            "empty Host on HTTP/1.1",
            &b"GET / HTTP/1.1\r\nHost:\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "empty Host on HTTP/1.0",
            &b"GET / HTTP/1.0\r\nHost: \r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "no Host on HTTP/1.1",
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "Host with high bytes",
            &b"GET / HTTP/1.1\r\nHost: \xc3\xa9x\r\n\r\n"[..],
            keeps(&[403]), // nginx 1.22: 403 (the default server), keep-alive
        ),
        case(
            "Host with a backslash",
            &b"GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n"[..],
            keeps(&[403]), // nginx 1.22: 403 (the default server), keep-alive
        ),
        case(
            "Host only a port",
            &b"GET / HTTP/1.1\r\nHost: :80\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "Host only a dot",
            &b"GET / HTTP/1.1\r\nHost: .\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "Host an unclosed IPv6 literal",
            &b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"[..],
            keeps(&[403]), // nginx 1.22: 403 (the default server), keep-alive
        ),
        case(
            "Connection: close then a pipelined request",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\nGET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            closes(&[200]), // nginx 1.22: 200
        ),
        case(
            "POST to a static file",
            &b"POST /index.html HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc"[..],
            keeps(&[405]), // nginx 1.22: 405, keep-alive
        ),
        case(
            "Host with userinfo",
            &b"GET / HTTP/1.1\r\nHost: user@localhost\r\n\r\n"[..],
            keeps(&[403]), // nginx 1.22: 403, keep-alive
        ),
        case(
            "Host with two ports",
            &b"GET / HTTP/1.1\r\nHost: localhost:80:80\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "Host in capitals",
            &b"GET / HTTP/1.1\r\nHost: LOCALHOST\r\n\r\n"[..],
            keeps(&[200]), // nginx 1.22: 200, keep-alive
        ),
        case(
            "Host with a bracket after the literal",
            &b"GET / HTTP/1.1\r\nHost: [::1]]\r\n\r\n"[..],
            keeps(&[403]), // nginx 1.22: 403, keep-alive
        ),
        case(
            "Host a single dot then port",
            &b"GET / HTTP/1.1\r\nHost: .:80\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        case(
            "duplicate Host",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: other.example\r\n\r\n"[..],
            closes(&[400]), // nginx 1.22: 400
        ),
        // ngx_http_test_expect runs on the discard path, before the body length is looked at.
        case(
            "Expect 100-continue on GET",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n\r\n"[..],
            keeps(&[100, 200]), // nginx 1.22: 100 200, keep-alive
        ),
        case(
            "Expect 100-continue with a body",
            &b"GET / HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"[..],
            keeps(&[100, 200]), // nginx 1.22: 100 200, keep-alive
        ),
        case(
            "Expect 100-continue on an error",
            &b"GET /missing HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n\r\n"[..],
            keeps(&[404]), // nginx 1.22: 404 without 100, keep-alive
        ),
        case(
            "Expect 100-continue on HTTP/1.0",
            &b"GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"[..],
            closes(&[403]), // nginx 1.22: 403 from the default server, no 100
        ),
    ]
}

/// Cases where Portico does not (yet) answer as nginx 1.22 does; each is listed in the
/// report of issue 6 and checked by the ignored test `differs_from_nginx`.
pub fn divergent_cases() -> Vec<Case> {
    vec![
        // Portico does not serve HTTP/0.9 (documented in src/http/request.rs).
        case(
            "HTTP/0.9 simple request",
            &b"GET /\r\n"[..],
            closes(&[0]), // nginx 1.22: the default server's 403 page as HTTP/0.9: no status line
        ),
    ]
}
