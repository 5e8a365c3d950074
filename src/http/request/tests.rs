use super::*;

fn parse(raw: &[u8]) -> Result<Option<(usize, RequestHead)>, HttpError> {
    parse_with(raw, &ParseOptions::default())
}

fn parse_with(raw: &[u8], opts: &ParseOptions) -> Result<Option<(usize, RequestHead)>, HttpError> {
    let mut head = RequestHead::new();
    Ok(parse_head(raw, &mut head, opts)?.map(|n| (n, head)))
}

fn ok(raw: &[u8]) -> RequestHead {
    match parse(raw) {
        Ok(Some((n, head))) => {
            assert_eq!(n, head.head_len);
            head
        }
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(raw)),
    }
}

fn status(raw: &[u8]) -> u16 {
    match parse(raw) {
        Err(e) => e.status(),
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(raw)),
    }
}

#[test]
fn simple_get() {
    let raw = b"GET /a/b?x=1 HTTP/1.1\r\nHost: Example.com:8080\r\nAccept: */*\r\n\r\nBODY";
    let h = ok(raw);
    assert_eq!(h.method, Method::Get);
    assert_eq!(h.method_span.get(raw), b"GET");
    assert_eq!(h.request_line.get(raw), b"GET /a/b?x=1 HTTP/1.1");
    assert_eq!(h.target.get(raw), b"/a/b?x=1");
    assert_eq!(h.request_uri.get(raw), b"/a/b?x=1");
    assert_eq!(h.path.get(raw), b"/a/b");
    assert_eq!(h.query.map(|q| q.get(raw)), Some(&b"x=1"[..]));
    assert_eq!(h.version, Version::Http11);
    assert_eq!(h.host.map(|s| s.get(raw)), Some(&b"Example.com"[..]));
    assert_eq!(h.headers.len(), 2);
    assert_eq!(h.header(raw, b"accept"), Some(&b"*/*"[..]));
    assert_eq!(h.header(raw, b"HOST"), Some(&b"Example.com:8080"[..]));
    assert_eq!(h.header(raw, b"missing"), None);
    assert!(h.keep_alive);
    assert!(!h.chunked);
    assert_eq!(h.content_length, None);
    assert_eq!(&raw[h.head_len..], b"BODY");
}

#[test]
fn incomplete_heads_need_more() {
    let raw = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";
    for n in 0..raw.len() {
        assert_eq!(parse(&raw[..n]).map(|r| r.is_some()), Ok(false), "{n}");
    }
    assert_eq!(ok(raw).content_length, Some(3));
}

#[test]
fn reuse_keeps_capacity() {
    let mut head = RequestHead::new();
    let raw = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    parse_head(raw, &mut head, &ParseOptions::default()).unwrap();
    let cap = head.headers.capacity();
    head.clear();
    assert!(head.headers.is_empty());
    assert_eq!(head.headers.capacity(), cap);
    assert_eq!(head.host, None);
}

#[test]
fn leading_empty_lines_and_bare_lf() {
    let raw = b"\r\n\n\r\nGET / HTTP/1.0\nHost: a\n\n";
    let h = ok(raw);
    assert_eq!(h.request_line.get(raw), b"GET / HTTP/1.0");
    assert_eq!(h.head_len, raw.len());
}

#[test]
fn methods() {
    for (name, m) in [
        ("GET", Method::Get),
        ("HEAD", Method::Head),
        ("POST", Method::Post),
        ("PUT", Method::Put),
        ("DELETE", Method::Delete),
        ("OPTIONS", Method::Options),
        ("PATCH", Method::Patch),
        ("PROPFIND", Method::Other),
        ("X_Y-Z", Method::Other),
    ] {
        let raw = format!("{name} / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(ok(raw.as_bytes()).method, m, "{name}");
    }
    assert_eq!(status(b"get / HTTP/1.1\r\n\r\n"), 400);
    assert_eq!(status(b"G3T / HTTP/1.1\r\n\r\n"), 400);
    assert_eq!(status(b"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n"), 405);
    assert_eq!(status(b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n"), 405);
    // nginx 1.22 has no authority-form: the port is read as a bad scheme.
    assert_eq!(
        status(b"CONNECT a.com:443 HTTP/1.1\r\nHost: a\r\n\r\n"),
        400
    );
}

#[test]
fn versions() {
    assert_eq!(ok(b"GET / HTTP/1.0\r\n\r\n").version, Version::Http10);
    assert_eq!(
        ok(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n").version,
        Version::Http11
    );
    assert_eq!(
        ok(b"GET / HTTP/1.1  \r\nHost: a\r\n\r\n").version,
        Version::Http11
    );
    assert_eq!(status(b"GET / HTTP/2.0\r\n\r\n"), 505);
    assert_eq!(status(b"GET / HTTP/2"), 505);
    assert_eq!(status(b"GET / HTTP/10.0\r\n\r\n"), 505);
    assert_eq!(status(b"GET / HTTP/0.9\r\n\r\n"), 400);
    assert_eq!(status(b"GET / HTTP/1.1000\r\n\r\n"), 400);
    assert_eq!(status(b"GET / http/1.1\r\n\r\n"), 400);
    assert_eq!(status(b"GET / HTTP/1.x\r\n\r\n"), 400);
    assert_eq!(status(b"GET /\r\n\r\n"), 400, "HTTP/0.9 is not served");
    assert_eq!(status(b"GET / HTTP/1.1\rX"), 400);
}

#[test]
fn bad_request_lines() {
    assert_eq!(status(b"GET foo HTTP/1.1\r\n\r\n"), 400);
    assert_eq!(status(b"GET * HTTP/1.1\r\n\r\n"), 400);
    assert_eq!(status(b"GET /a\tb HTTP/1.1\r\n\r\n"), 400);
    assert_eq!(status(b"GET /a\x7f HTTP/1.1\r\n\r\n"), 400);
    assert_eq!(status(b" GET / HTTP/1.1\r\n\r\n"), 400);
    assert_eq!(status(b"GET / HTTP/1.1 x\r\n\r\n"), 400);
    // Errors show before the line is complete.
    assert_eq!(status(b"GET /a\x01"), 400);
}

#[test]
fn nginx_tolerances_in_request_line() {
    let raw = b"GET   /caf\xc3\xa9/\xff   HTTP/1.1\r\nHost: a\r\n\r\n";
    let h = ok(raw);
    assert_eq!(h.path.get(raw), b"/caf\xc3\xa9/\xff");
}

#[test]
fn path_query_fragment() {
    type Case = (&'static [u8], &'static [u8], Option<&'static [u8]>);
    let cases: [Case; 6] = [
        (b"/a?", b"/a", None),
        (b"/a?b#c", b"/a", Some(b"b")),
        (b"/a#b?c", b"/a", None),
        (b"/a?b?c", b"/a", Some(b"b?c")),
        (b"/%3F?q", b"/%3F", Some(b"q")),
        (b"/", b"/", None),
    ];
    for (target, path, query) in cases {
        let mut raw = b"GET ".to_vec();
        raw.extend_from_slice(target);
        raw.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
        let h = ok(&raw);
        assert_eq!(h.target.get(&raw), target);
        assert_eq!(h.path.get(&raw), path, "{target:?}");
        assert_eq!(h.query.map(|q| q.get(&raw)), query, "{target:?}");
    }
}

#[test]
fn absolute_form() {
    let raw = b"GET http://URI.example.:81/p/q?z HTTP/1.1\r\nHost: header.example\r\n\r\n";
    let h = ok(raw);
    assert_eq!(h.target.get(raw), b"http://URI.example.:81/p/q?z");
    assert_eq!(h.request_uri.get(raw), b"/p/q?z");
    assert_eq!(h.path.get(raw), b"/p/q");
    assert_eq!(h.query.map(|q| q.get(raw)), Some(&b"z"[..]));
    assert_eq!(h.host.map(|s| s.get(raw)), Some(&b"URI.example"[..]));

    let raw = b"GET https://h HTTP/1.1\r\nHost: x\r\n\r\n";
    let h = ok(raw);
    assert_eq!(h.path.get(raw), b"/");
    assert_eq!(h.query, None);
    assert_eq!(h.host.map(|s| s.get(raw)), Some(&b"h"[..]));

    let raw = b"GET http://h:8080?a=b HTTP/1.0\r\n\r\n";
    let h = ok(raw);
    assert_eq!(h.path.get(raw), b"/");
    assert_eq!(h.query.map(|q| q.get(raw)), Some(&b"a=b"[..]));
    assert_eq!(h.host.map(|s| s.get(raw)), Some(&b"h"[..]));

    let raw = b"GET http://[::1]:80/ HTTP/1.0\r\n\r\n";
    assert_eq!(ok(raw).host.map(|s| s.get(raw)), Some(&b"[::1]"[..]));

    // Still needs a Host header on HTTP/1.1, and that one is still validated.
    assert_eq!(status(b"GET http://h/ HTTP/1.1\r\n\r\n"), 400);
    assert_eq!(status(b"GET http://h/ HTTP/1.1\r\nHost: a..b\r\n\r\n"), 400);

    assert_eq!(status(b"GET http:/h/ HTTP/1.0\r\n\r\n"), 400);
    assert_eq!(status(b"GET http:///p HTTP/1.0\r\n\r\n"), 400);
    assert_eq!(status(b"GET http://a..b/ HTTP/1.0\r\n\r\n"), 400);
    assert_eq!(status(b"GET http://u@h/ HTTP/1.0\r\n\r\n"), 400);
    assert_eq!(status(b"GET http://h_x/ HTTP/1.0\r\n\r\n"), 400);
    assert_eq!(status(b"GET http://h:8a/ HTTP/1.0\r\n\r\n"), 400);
    assert_eq!(status(b"GET http://[::1/ HTTP/1.0\r\n\r\n"), 400);
}

#[test]
fn host_header_rules() {
    let host = |value: &[u8]| {
        let mut raw = b"GET / HTTP/1.1\r\nHost: ".to_vec();
        raw.extend_from_slice(value);
        raw.extend_from_slice(b"\r\n\r\n");
        parse(&raw).map(|r| r.and_then(|(_, h)| h.host.map(|s| s.get(&raw).to_vec())))
    };
    assert_eq!(host(b"example.com"), Ok(Some(b"example.com".to_vec())));
    assert_eq!(host(b"example.com."), Ok(Some(b"example.com".to_vec())));
    assert_eq!(host(b"example.com.:80"), Ok(Some(b"example.com".to_vec())));
    assert_eq!(host(b"Example.COM:8080"), Ok(Some(b"Example.COM".to_vec())));
    assert_eq!(host(b"[::1]:80"), Ok(Some(b"[::1]".to_vec())));
    assert_eq!(host(b"under_score"), Ok(Some(b"under_score".to_vec())));
    assert_eq!(host(b"a..b"), Err(HttpError::InvalidHost));
    assert_eq!(host(b"a/b"), Err(HttpError::InvalidHost));
    assert_eq!(host(b"a b"), Err(HttpError::InvalidHost));
    assert_eq!(host(b"."), Err(HttpError::InvalidHost));
    assert_eq!(host(b":80"), Err(HttpError::InvalidHost));
    assert_eq!(host(b""), Err(HttpError::InvalidHost));
    assert_eq!(
        status(b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
        400,
        "duplicate Host"
    );
    assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), 400, "missing Host");
    assert_eq!(ok(b"GET / HTTP/1.0\r\n\r\n").host, None);
}

#[test]
fn content_length() {
    let cl = |value: &str| {
        let raw = format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {value}\r\n\r\n");
        parse(raw.as_bytes()).map(|r| r.and_then(|(_, h)| h.content_length))
    };
    assert_eq!(cl("0"), Ok(Some(0)));
    assert_eq!(cl("0042"), Ok(Some(42)));
    assert_eq!(cl("9223372036854775807"), Ok(Some(i64::MAX as u64)));
    for bad in [
        "9223372036854775808",
        "-1",
        "+1",
        "1 2",
        "0x10",
        "",
        "1.0",
        "99999999999999999999",
    ] {
        assert_eq!(cl(bad), Err(HttpError::InvalidContentLength), "{bad:?}");
    }
    assert_eq!(
        status(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\n"),
        400
    );
}

#[test]
fn transfer_encoding() {
    let te = |version: &str, value: &str| {
        let raw = format!("POST / HTTP/{version}\r\nHost: a\r\nTransfer-Encoding: {value}\r\n\r\n");
        parse(raw.as_bytes()).map(|r| r.map(|(_, h)| h.chunked))
    };
    assert_eq!(te("1.1", "chunked"), Ok(Some(true)));
    assert_eq!(te("1.1", "Chunked"), Ok(Some(true)));
    let unknown = |value: &str| {
        let start = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ".len() as u32;
        Err(HttpError::UnknownTransferEncoding(Span {
            start,
            end: start + value.len() as u32,
        }))
    };
    assert_eq!(te("1.1", "gzip"), unknown("gzip"));
    assert_eq!(te("1.1", "gzip, chunked"), unknown("gzip, chunked"));
    assert_eq!(te("1.1", "chunked, chunked"), unknown("chunked, chunked"));
    assert_eq!(te("1.0", "chunked"), Err(HttpError::TransferEncodingHttp10));
    assert_eq!(
        parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Err(HttpError::LengthAndTransferEncoding)
    );
    assert_eq!(
        parse(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Err(HttpError::DuplicateHeader {
            line: Span { start: 54, end: 80 },
            previous: Span { start: 26, end: 52 },
        })
    );
    // nginx checks Host before the body headers.
    assert_eq!(
        parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
        Err(HttpError::MissingHost)
    );
}

#[test]
fn keep_alive() {
    let ka = |raw: &[u8]| ok(raw).keep_alive;
    assert!(ka(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    ));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, Close\r\n\r\n"
    ));
    assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
    assert!(ka(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    assert!(ka(
        b"GET / HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n"
    ));
    assert!(ka(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n"
    ));
}

#[test]
fn expect_and_upgrade() {
    let raw = b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nUpgrade: websocket\r\nUpgrade: h2c\r\n\r\n";
    let h = ok(raw);
    assert!(h.expect_continue);
    assert_eq!(h.upgrade.map(|u| u.get(raw)), Some(&b"websocket"[..]));
    assert!(!ok(b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue);
    assert!(!ok(b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n").expect_continue);
    assert_eq!(
        status(b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: a\r\nExpect: a\r\n\r\n"),
        400
    );
}

#[test]
fn unique_headers() {
    assert_eq!(
        parse(b"GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: x\r\nIf-None-Match: y\r\n\r\n"),
        Err(HttpError::DuplicateHeader {
            line: Span { start: 43, end: 59 },
            previous: Span { start: 25, end: 41 },
        })
    );
    let raw = b"GET / HTTP/1.1\r\nHost: a\r\nCookie: a\r\nCookie: b\r\n\r\n";
    assert_eq!(ok(raw).headers.len(), 3);
}

#[test]
fn invalid_and_underscore_names() {
    let raw = b"GET / HTTP/1.1\r\nHost: a\r\nX_Y: 1\r\nX.Y: 2\r\nX-Y: 3\r\n\r\n";
    let h = ok(raw);
    assert_eq!(h.headers.len(), 2);
    assert_eq!(h.header(raw, b"x_y"), None);
    assert_eq!(h.header(raw, b"x-y"), Some(&b"3"[..]));

    let underscores = ParseOptions {
        underscores_in_headers: true,
        ..ParseOptions::default()
    };
    let (_, h) = parse_with(raw, &underscores).unwrap().unwrap();
    assert_eq!(h.header(raw, b"x_y"), Some(&b"1"[..]));
    assert_eq!(h.header(raw, b"x.y"), None);

    let keep = ParseOptions {
        ignore_invalid_headers: false,
        ..ParseOptions::default()
    };
    let (_, h) = parse_with(raw, &keep).unwrap().unwrap();
    assert_eq!(h.headers.len(), 4);
    // A dropped Content_Length cannot smuggle a body length.
    let raw = b"POST / HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\n\r\n";
    assert_eq!(ok(raw).content_length, None);
}

#[test]
fn malformed_header_lines() {
    for raw in [
        &b"GET / HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\nX\x01: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        b"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n",
    ] {
        assert_eq!(status(raw), 400, "{:?}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn header_values_are_trimmed() {
    let raw = b"GET / HTTP/1.1\r\nHost:   a  \r\nX:\r\nY: \xe2\x82\xac \r\n\r\n";
    let h = ok(raw);
    assert_eq!(h.header(raw, b"host"), Some(&b"a"[..]));
    assert_eq!(h.header(raw, b"x"), Some(&b""[..]));
    assert_eq!(h.header(raw, b"y"), Some(&b"\xe2\x82\xac"[..]));
}

#[test]
fn tabs_around_values_are_kept_as_nginx_keeps_them() {
    let raw = b"GET / HTTP/1.1\r\nHost: a\r\nX: \t v\t \r\nY:\t\r\nZ:  \r\n\r\n";
    let h = ok(raw);
    assert_eq!(h.header(raw, b"x"), Some(&b"\t v\t"[..]));
    assert_eq!(h.header(raw, b"y"), Some(&b"\t"[..]));
    assert_eq!(h.header(raw, b"z"), Some(&b""[..]));
    // nginx: unknown coding (501); a tab is not a blank of the host (400).
    let te = b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n";
    assert_eq!(status(te), 501);
    let te = b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t\r\n\r\n";
    assert_eq!(status(te), 501);
    assert_eq!(status(b"GET / HTTP/1.1\r\nHost:\ta\r\n\r\n"), 400);
    let cl = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\t\r\n\r\n";
    assert_eq!(status(cl), 400);
}

#[test]
fn header_count_limit_is_nginx_s() {
    let head = |valid: usize, invalid: usize| {
        let mut raw = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..valid {
            raw.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        for i in 0..invalid {
            raw.extend_from_slice(format!("X_{i}: v\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        raw
    };
    // nginx 1.22: 1000 lines are served, the 1001st is 494; dropped lines do not count.
    assert_eq!(ok(&head(MAX_HEADERS - 1, 0)).headers.len(), MAX_HEADERS);
    assert_eq!(parse(&head(MAX_HEADERS, 0)), Err(HttpError::HeaderTooLarge));
    assert_eq!(ok(&head(0, MAX_HEADERS + 1)).headers.len(), 1);
}

#[test]
fn header_lines_nginx_takes() {
    // nginx 1.22 answers 200 to each: control bytes but NUL in a value, a line without a
    // colon (empty value), CR CR LF, and names it drops under ignore_invalid_headers.
    let raw = b"GET / HTTP/1.1\r\nHost: a\r\r\nX-A: \x01\x1b[31m\x7f\r\nX-No-Colon\r\n\
                X@A: 1\r\nX\xffA: 2\r\n\r\n";
    let h = ok(raw);
    assert_eq!(h.header(raw, b"x-a"), Some(&b"\x01\x1b[31m\x7f"[..]));
    assert_eq!(h.header(raw, b"x-no-colon"), Some(&b""[..]));
    assert_eq!(h.headers.len(), 3);
    let keep = ParseOptions {
        ignore_invalid_headers: false,
        ..ParseOptions::default()
    };
    let (_, h) = parse_with(raw, &keep).unwrap().unwrap();
    assert_eq!(h.header(raw, b"x@a"), Some(&b"1"[..]));
    assert_eq!(h.header(raw, b"x\xffa"), Some(&b"2"[..]));
}

#[test]
fn overflow() {
    assert_eq!(overflow_error(b"GET /aaaaaaaa"), HttpError::UriTooLong);
    assert_eq!(overflow_error(b"\r\n\r\nGET /aaaa"), HttpError::UriTooLong);
    assert_eq!(overflow_error(b""), HttpError::UriTooLong);
    assert_eq!(
        overflow_error(b"GET / HTTP/1.1\r\nCookie: aaaa"),
        HttpError::TooLongHeaderLine(Span { start: 16, end: 28 })
    );
    assert_eq!(
        overflow_error(b"GET / HTTP/1.1\r\nA: b\r\n"),
        HttpError::HeaderTooLarge
    );
    assert_eq!(HttpError::HeaderTooLarge.status(), 494);
}

#[test]
fn every_line_must_fit_one_large_buffer() {
    let head = b"\r\nGET /abc HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789\r\n\r\nnext";
    // The longest line, with its CRLF, is 20 bytes ("X-Long: 0123456789\r\n").
    assert_eq!(check_line_lengths(head, 21), Ok(()));
    assert_eq!(check_line_lengths(head, 20), Ok(()));
    assert_eq!(
        check_line_lengths(head, 19),
        Err(HttpError::TooLongHeaderLine(Span { start: 30, end: 48 }))
    );
    assert_eq!(check_line_lengths(head, 10), Err(HttpError::UriTooLong));
    // A partial line counts with what arrived of it.
    assert_eq!(
        check_line_lengths(b"GET /aaaaaaaaaa", 10),
        Err(HttpError::UriTooLong)
    );
    assert_eq!(
        check_line_lengths(b"GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaa", 16),
        Err(HttpError::TooLongHeaderLine(Span { start: 16, end: 34 }))
    );
}

#[test]
fn pipelined_requests_parse_one_after_another() {
    let raw = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    let first = ok(raw);
    let rest = &raw[first.head_len..];
    let second = ok(rest);
    assert_eq!(second.path.get(rest), b"/2");
}

#[test]
fn no_panics_on_arbitrary_prefixes() {
    let samples: [&[u8]; 4] = [
        b"GET http://[::1]:80/a/../b?c#d HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n",
        b"\r\n\r\nPOST /%zz HTTP/1.0\nTransfer-Encoding: chunked\n\n",
        b"OPTIONS http://h?x HTTP/1.1\r\nHost: [x]:\r\n\r\n",
        b"\xff\xfe\x00GET",
    ];
    let mut head = RequestHead::new();
    for sample in samples {
        for end in 0..=sample.len() {
            for start in 0..end {
                let _ = parse_head(&sample[start..end], &mut head, &ParseOptions::default());
                let _ = overflow_error(&sample[start..end]);
            }
        }
    }
}

#[test]
fn request_line_is_kept_for_the_log_on_header_errors() {
    let raw = b"GET /x HTTP/1.1\r\nBad Header: 1\r\n\r\n";
    let mut head = RequestHead::new();
    let err = parse_head(raw, &mut head, &ParseOptions::default());
    assert_eq!(err, Err(HttpError::BadRequest));
    assert_eq!(head.request_line.get(raw), b"GET /x HTTP/1.1");
}

#[test]
fn absolute_host_is_checked_before_headers_complete() {
    assert_eq!(status(b"GET http://a..b/ HTTP/1.1\r\nHo"), 400);
}
