//! The request and response header values nginx reads to decide on gzip, read as nginx
//! reads them (`ngx_http_gzip_ok`, `ngx_http_gzip_accept_encoding`,
//! `ngx_http_gzip_quantity`, the User-Agent checks of `ngx_http_process_user_agent`, and
//! `ngx_http_parse_multi_header_lines` for `Cache-Control`).

/// Whether an `Accept-Encoding` value accepts gzip: a `gzip` token (at the start or after
/// a comma or space, any case) followed by the end, a comma, or a `;q=` whose quantity is
/// between 0.001 and 1. Anything else — `gzip;q=0`, `x-gzip`, a malformed quantity — is
/// no, as in nginx.
pub fn accepts_gzip(value: &[u8]) -> bool {
    if value.len() < 4 {
        return false;
    }
    // nginx's shortcut for the common "gzip, deflate".
    if value.starts_with(b"gzip,") {
        return true;
    }
    let mut from = 0;
    let at = loop {
        let Some(i) = find_ascii_nocase(&value[from..], b"gzip") else {
            return false;
        };
        let at = from + i;
        if at == 0 || matches!(value[at - 1], b',' | b' ') {
            break at;
        }
        from = at + 4;
    };
    let mut rest = value[at + 4..].iter();
    loop {
        match rest.next() {
            None | Some(b',') => return true,
            Some(b';') => break,
            Some(b' ') => {}
            Some(_) => return false,
        }
    }
    loop {
        match rest.next() {
            None => return true,
            Some(b'q' | b'Q') => break,
            Some(b' ') => {}
            Some(_) => return false,
        }
    }
    let rest = rest.as_slice();
    if rest.len() < 2 || rest[0] != b'=' {
        return false;
    }
    quantity(&rest[1..]) > 0
}

/// nginx's `ngx_http_gzip_quantity`: the quality in thousandths, 0 when invalid.
fn quantity(p: &[u8]) -> u32 {
    let mut it = p.iter();
    let q = match it.next() {
        Some(&c @ (b'0' | b'1')) => u32::from(c - b'0') * 100,
        _ => return 0,
    };
    match it.next() {
        None | Some(b',' | b' ') => return q,
        Some(b'.') => {}
        Some(_) => return 0,
    }
    // nginx adds each decimal digit as it comes (not scaled by its place), and allows three.
    let (mut q, mut n) = (q, 0);
    for &c in it {
        match c {
            b',' | b' ' => break,
            b'0'..=b'9' => {
                q += u32::from(c - b'0');
                n += 1;
            }
            _ => return 0,
        }
    }
    if q > 100 || n > 3 {
        return 0;
    }
    q
}

/// The first place `needle` (lowercase ASCII) occurs in `hay`, ignoring ASCII case.
fn find_ascii_nocase(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// Whether a User-Agent is MSIE 4 to 6 (6 without "SV1"), the browsers `gzip_disable msie6`
/// means; "Opera" in the value makes it not MSIE (nginx's `ngx_http_process_user_agent`).
pub fn is_msie6(user_agent: &[u8]) -> bool {
    if memchr::memmem::find(user_agent, b"Opera").is_some() {
        return false;
    }
    let Some(at) = memchr::memmem::find(user_agent, b"MSIE ") else {
        return false;
    };
    // nginx wants two more bytes than "MSIE X." holds before it looks.
    if at + 7 >= user_agent.len() || user_agent[at + 6] != b'.' {
        return false;
    }
    match user_agent[at + 5] {
        b'4' | b'5' => true,
        b'6' => memchr::memmem::find(&user_agent[at + 8..], b"SV1").is_none(),
        _ => false,
    }
}

/// Whether a comma-separated header value holds `token` as an item of its own (any case,
/// alone or followed by spaces and a comma), as `ngx_http_parse_multi_header_lines` finds a
/// `Cache-Control` directive.
pub fn list_has_token(value: &[u8], token: &[u8]) -> bool {
    let mut i = 0;
    while i < value.len() {
        let rest = &value[i..];
        if rest.len() >= token.len() && rest[..token.len()].eq_ignore_ascii_case(token) {
            let mut j = i + token.len();
            while j < value.len() && value[j] == b' ' {
                j += 1;
            }
            if j == value.len() || value[j] == b',' {
                return true;
            }
        }
        while i < value.len() && value[i] != b',' {
            i += 1;
        }
        while i < value.len() && matches!(value[i], b',' | b' ') {
            i += 1;
        }
    }
    false
}

/// The MIME type nginx matches `gzip_types` against: the whole `Content-Type` value, cut
/// at the `;` only when a `charset=` parameter follows it (`ngx_http_upstream_copy_content_type`
/// keeps other parameters in the compared length).
pub fn mime_type(content_type: &[u8]) -> &[u8] {
    let mut i = 0;
    while let Some(semi) = memchr::memchr(b';', &content_type[i..]) {
        let last = i + semi;
        let mut p = last + 1;
        while p < content_type.len() && content_type[p] == b' ' {
            p += 1;
        }
        if p == content_type.len() {
            return content_type;
        }
        if content_type.len() - p >= 8 && content_type[p..p + 8].eq_ignore_ascii_case(b"charset=") {
            return &content_type[..last];
        }
        i = p;
    }
    content_type
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_as_nginx_reads_it() {
        let yes: &[&[u8]] = &[
            b"gzip",
            b"gzip, deflate",
            b"gzip,deflate",
            b"deflate, gzip",
            b"deflate,gzip",
            b"GZIP",
            b"gzip;q=1",
            b"gzip; q=0.5",
            b"gzip;q=0.001",
            b"gzip ;q=1.000",
            b"br, gzip;q=0.8, deflate",
            b"x-gzip, gzip",
            b"gzip;",
            b"gzip;q=1, br",
        ];
        for v in yes {
            assert!(accepts_gzip(v), "{}", String::from_utf8_lossy(v));
        }
        let no: &[&[u8]] = &[
            b"",
            b"gzi",
            b"identity",
            b"deflate, br",
            b"x-gzip",
            b"gzipx",
            b"gzip;q=0",
            b"gzip;q=0.000",
            b"gzip;q=0.0",
            b"gzip;q=2",
            b"gzip;q=1.0001",
            b"gzip;q=1.5",
            b"gzip;q=",
            b"gzip;q",
            b"gzip;q=abc",
            b"gzip/1",
            b"gzip; foo",
            b"*",
            b"\xff\xfegzip",
        ];
        for v in no {
            assert!(!accepts_gzip(v), "{}", String::from_utf8_lossy(v));
        }
        // Very long values are scanned without trouble.
        let mut long = vec![b'a'; 100_000];
        long.extend_from_slice(b", gzip");
        assert!(accepts_gzip(&long));
        assert!(!accepts_gzip(&vec![b','; 100_000]));
    }

    #[test]
    fn msie6_as_nginx_detects_it() {
        assert!(is_msie6(
            b"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.0)"
        ));
        assert!(is_msie6(b"Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)"));
        assert!(!is_msie6(
            b"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)"
        ));
        assert!(!is_msie6(
            b"Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)"
        ));
        assert!(!is_msie6(b"Mozilla/4.0 (compatible; MSIE 6.0; Opera 9)"));
        assert!(is_msie6(b"MSIE 6.0"));
        assert!(!is_msie6(b"MSIE 6."), "too short for nginx's look");
        assert!(!is_msie6(b"curl/8.0"));
    }

    #[test]
    fn cache_control_tokens() {
        assert!(list_has_token(b"no-cache", b"no-cache"));
        assert!(list_has_token(b"max-age=0, Private", b"private"));
        assert!(list_has_token(b"public,no-store ", b"no-store"));
        assert!(!list_has_token(b"no-cache=\"x\"", b"no-cache"));
        assert!(!list_has_token(b"xprivate", b"private"));
        assert!(!list_has_token(b"", b"private"));
    }

    #[test]
    fn mime_type_cut_before_charset_only() {
        assert_eq!(mime_type(b"text/html"), b"text/html");
        assert_eq!(mime_type(b"text/html; charset=utf-8"), b"text/html");
        assert_eq!(mime_type(b"text/html;charset=utf-8"), b"text/html");
        assert_eq!(mime_type(b"text/html; foo=bar"), b"text/html; foo=bar");
        assert_eq!(
            mime_type(b"text/html; foo=bar; charset=x"),
            b"text/html; foo=bar"
        );
        assert_eq!(mime_type(b"text/html;"), b"text/html;");
    }
}
