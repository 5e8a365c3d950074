use super::*;

fn parse(raw: &[u8], status_line: bool) -> Result<Option<CgiHead>, InvalidHead> {
    let mut h = CgiHead::default();
    match h.parse(raw, status_line)? {
        HeadParse::Incomplete => Ok(None),
        HeadParse::Done => Ok(Some(h)),
    }
}

fn reason(h: &CgiHead, raw: &[u8]) -> String {
    String::from_utf8_lossy(h.default_reason.unwrap_or(&raw[h.reason.0..h.reason.1])).into_owned()
}

#[test]
fn status_comes_from_status_location_or_defaults() {
    let raw = b"Status: 404 Not Found\r\nX-A: b\r\n\r\nbody";
    let h = parse(raw, false).unwrap().unwrap();
    assert_eq!((h.status, h.len), (404, raw.len() - 4));
    assert_eq!(reason(&h, raw), "Not Found");
    let raw = b"Status: 404\n\n";
    let h = parse(raw, false).unwrap().unwrap();
    assert_eq!((h.status, reason(&h, raw).as_str()), (404, ""));
    let raw = b"Location: /elsewhere\r\n\r\n";
    let h = parse(raw, false).unwrap().unwrap();
    assert_eq!(
        (h.status, reason(&h, raw).as_str()),
        (302, "Moved Temporarily")
    );
    let raw = b"Content-Type: text/html\r\nContent-Length: 0012\r\n\r\n";
    let h = parse(raw, false).unwrap().unwrap();
    assert_eq!((h.status, h.content_length), (200, Some(12)));
    let h = parse(b"Content-Length: 1x\r\n\r\n", false)
        .unwrap()
        .unwrap();
    assert_eq!(h.content_length, None);
    assert_eq!(
        parse(b"Status: abc\r\n\r\n", false),
        Err(InvalidHead("upstream sent invalid status \"abc\"".into()))
    );
}

#[test]
fn incomplete_heads_wait() {
    for partial in [
        &b""[..],
        b"Status: 2",
        b"X: y\r\n",
        b"X: y\r\n\r",
        b"HTTP/1.",
        b"HTTP/1.1 20",
    ] {
        assert_eq!(parse(partial, true), Ok(None), "{partial:?}");
    }
}

#[test]
fn a_status_line_comes_first_for_uwsgi_and_scgi() {
    let raw = b"HTTP/1.1 201 Created\r\nX: 1\r\n\r\n";
    let h = parse(raw, true).unwrap().unwrap();
    assert_eq!((h.status, reason(&h, raw).as_str()), (201, "Created"));
    assert_eq!(h.headers.len(), 1);
    // Not a status line: CGI lines, where it fails as a header line.
    let raw = b"Status: 500 Oops\r\n\r\n";
    assert_eq!(parse(raw, true).unwrap().unwrap().status, 500);
    // FastCGI takes no status line: it is a header line nginx refuses.
    assert!(parse(b"HTTP/1.1 200 OK\r\n\r\n", false).is_err());
}

#[test]
fn invalid_lines_get_nginx_words() {
    assert_eq!(
        parse(b"X Bad\x01: v\r\n\r\n", false),
        Err(InvalidHead(
            "upstream sent invalid header: \"X\\x20...\"".into()
        ))
    );
}
