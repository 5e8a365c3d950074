use super::*;
use crate::config::gzip_values::{GzipDisable, GzipTypes};
use crate::config::{LocRaw, LocSettings};
use crate::http::request::{ParseOptions, parse_head};

fn request(raw: &str) -> (RequestHead, Vec<u8>) {
    let buf = raw.as_bytes().to_vec();
    let mut head = RequestHead::default();
    let opts = ParseOptions {
        underscores_in_headers: false,
        ignore_invalid_headers: true,
    };
    parse_head(&buf, &mut head, &opts)
        .expect("valid")
        .expect("complete");
    (head, buf)
}

fn loc(edit: impl FnOnce(&mut LocSettings)) -> LocSettings {
    let mut l = LocRaw::default().finish();
    l.gzip = true;
    edit(&mut l);
    l
}

fn html(status: u16, len: Option<u64>) -> ResponseFacts<'static> {
    ResponseFacts {
        status,
        content_type: Some(b"text/html; charset=utf-8"),
        content_length: len,
        content_encoding: None,
        lines: &NoLines,
    }
}

fn decide(l: &LocSettings, raw: &str, response: &ResponseFacts<'_>) -> Decision {
    let (head, buf) = request(raw);
    header_filters(
        l,
        RequestFacts {
            head: &head,
            buf: &buf,
        },
        response,
        false,
    )
}

const GZ: &str = "GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br\r\n\r\n";

#[test]
fn gzip_applies_as_nginx_decides() {
    let l = loc(|_| {});
    let d = decide(&l, GZ, &html(200, Some(5000)));
    assert!(matches!(d.coding, Coding::Gzip(p) if p.level == 1 && p.wbits == 13));
    assert!(d.vary);
    for status in [403, 404] {
        assert!(matches!(
            decide(&l, GZ, &html(status, None)).coding,
            Coding::Gzip(_)
        ));
    }
    for status in [201, 206, 301, 304, 500] {
        let d = decide(&l, GZ, &html(status, None));
        assert_eq!(d.coding, Coding::Identity, "{status}");
        assert!(!d.vary);
    }
    // Shorter than gzip_min_length: not even Vary.
    let d = decide(&l, GZ, &html(200, Some(19)));
    assert!(d.coding == Coding::Identity && !d.vary);
    // Not a gzip_types type.
    let css = ResponseFacts {
        content_type: Some(b"text/css"),
        ..html(200, None)
    };
    assert_eq!(decide(&l, GZ, &css).coding, Coding::Identity);
    // Already encoded.
    let encoded = ResponseFacts {
        content_encoding: Some(b"br"),
        ..html(200, None)
    };
    assert_eq!(decide(&l, GZ, &encoded).coding, Coding::Identity);
    // A client that does not accept it still gets Vary.
    let plain = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let d = decide(&l, plain, &html(200, None));
    assert!(d.coding == Coding::Identity && d.vary);
    let off = loc(|l| l.gzip = false);
    assert!(!decide(&off, GZ, &html(200, None)).vary);
}

#[test]
fn version_user_agent_and_via_rules() {
    let l = loc(|_| {});
    let old = "GET / HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n";
    assert_eq!(decide(&l, old, &html(200, None)).coding, Coding::Identity);
    let l10 = loc(|l| l.gzip_http_version = GzipHttpVersion::Http10);
    assert!(matches!(
        decide(&l10, old, &html(200, None)).coding,
        Coding::Gzip(_)
    ));

    let ie6 = "GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\
               User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.0)\r\n\r\n";
    assert!(matches!(
        decide(&l, ie6, &html(200, None)).coding,
        Coding::Gzip(_)
    ));
    let msie6 = loc(|l| l.gzip_disable_msie6 = true);
    assert_eq!(
        decide(&msie6, ie6, &html(200, None)).coding,
        Coding::Identity
    );
    let re = crate::regex::Regex::new("^mozilla/4", true).expect("regex");
    let disabled = loc(|l| l.gzip_disable = GzipDisable(std::rc::Rc::from(vec![re])));
    assert_eq!(
        decide(&disabled, ie6, &html(200, None)).coding,
        Coding::Identity
    );

    let via = "GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nVia: 1.1 cache\r\n\r\n";
    assert_eq!(decide(&l, via, &html(200, None)).coding, Coding::Identity);
    let any = loc(|l| l.gzip_proxied = GzipProxied(GzipProxied::ANY));
    assert!(matches!(
        decide(&any, via, &html(200, None)).coding,
        Coding::Gzip(_)
    ));
    let private = loc(|l| l.gzip_proxied = GzipProxied(GzipProxied::PRIVATE));
    let cc = RenderedLines(b"Cache-Control: max-age=0, private\r\n");
    let with_cc = ResponseFacts {
        lines: &cc,
        ..html(200, None)
    };
    assert!(matches!(
        decide(&private, via, &with_cc).coding,
        Coding::Gzip(_)
    ));
    let public = RenderedLines(b"Cache-Control: public\r\n");
    let with_public = ResponseFacts {
        lines: &public,
        ..html(200, None)
    };
    assert_eq!(decide(&private, via, &with_public).coding, Coding::Identity);
    let expired = loc(|l| l.gzip_proxied = GzipProxied(GzipProxied::EXPIRED));
    let past = RenderedLines(b"Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\n");
    let with_past = ResponseFacts {
        lines: &past,
        ..html(200, None)
    };
    assert!(matches!(
        decide(&expired, via, &with_past).coding,
        Coding::Gzip(_)
    ));
    let no_etag = loc(|l| l.gzip_proxied = GzipProxied(GzipProxied::NO_ETAG));
    let etag = RenderedLines(b"ETag: \"x\"\r\n");
    let with_etag = ResponseFacts {
        lines: &etag,
        ..html(200, None)
    };
    assert_eq!(decide(&no_etag, via, &with_etag).coding, Coding::Identity);
    assert!(matches!(
        decide(&no_etag, via, &html(200, None)).coding,
        Coding::Gzip(_)
    ));
}

#[test]
fn gunzip_for_clients_without_gzip_only() {
    let l = loc(|l| {
        l.gzip = false;
        l.gunzip = true;
        l.gzip_types = GzipTypes::Any;
    });
    let gz = ResponseFacts {
        content_encoding: Some(b"gzip"),
        ..html(500, None)
    };
    let plain = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let d = decide(&l, plain, &gz);
    assert!(d.coding == Coding::Gunzip && d.vary, "any status");
    let d = decide(&l, GZ, &gz);
    assert!(d.coding == Coding::Identity && d.vary);
    let br = ResponseFacts {
        content_encoding: Some(b"br"),
        ..html(200, None)
    };
    assert_eq!(decide(&l, plain, &br).coding, Coding::Identity);
}

#[test]
fn weak_etags_as_nginx_makes_them() {
    let weak = |e: &[u8]| {
        let mut out = Vec::new();
        weak_etag(e, &mut out).then_some(out)
    };
    assert_eq!(weak(b"\"abc\"").as_deref(), Some(&b"W/\"abc\""[..]));
    assert_eq!(weak(b"W/\"abc\"").as_deref(), Some(&b"W/\"abc\""[..]));
    assert_eq!(weak(b"abc"), None);
    assert_eq!(weak(b""), None);
}
