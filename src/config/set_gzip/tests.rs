//! The gzip directives: nginx's defaults, inheritance and messages (checked against nginx
//! 1.22's `-t`).

use crate::config::gzip_values::*;
use crate::config::testutil::{http, load_err, load_ok};
use crate::config::{HttpConf, LocSettings};

fn http_conf(body: &str) -> HttpConf {
    load_ok(&http(body)).http.expect("http block")
}

fn first_loc(conf: &HttpConf) -> &LocSettings {
    &conf.servers[0].locations[0].loc
}

#[test]
fn defaults_are_nginx_s() {
    let conf = http_conf("server { location / { } }");
    let loc = first_loc(&conf);
    assert!(!loc.gzip && !loc.gzip_vary && !loc.gunzip && !loc.gzip_no_buffer);
    assert_eq!(loc.gzip_comp_level, 1);
    assert_eq!(loc.gzip_min_length, 20);
    assert_eq!(loc.gzip_buffers, (32, 4096));
    assert_eq!(loc.gunzip_buffers, (32, 4096));
    assert_eq!((loc.gzip_window, loc.gzip_hash), (15, 8));
    assert_eq!(loc.gzip_http_version, GzipHttpVersion::Http11);
    assert_eq!(loc.gzip_proxied, GzipProxied(GzipProxied::OFF));
    assert!(loc.gzip_disable.is_empty() && !loc.gzip_disable_msie6);
    assert_eq!(loc.gzip_static, GzipStatic::Off);
    // `postpone_gzipping` has no setting: it is refused (the compressor starts at once).
    assert!(
        load_err(&http("postpone_gzipping 0;"))
            .starts_with("\"postpone_gzipping\" directive is not supported: ")
    );
    assert!(loc.gzip_types.matches(Some(b"text/html")));
    assert!(!loc.gzip_types.matches(Some(b"text/css")));
    assert!(!loc.gzip_types.matches(None));
}

#[test]
fn values_and_inheritance() {
    let conf = http_conf(
        "gzip on; gzip_comp_level 6; gzip_types text/css; gzip_types application/JSON; \
         gzip_window 4k; gzip_hash 512; gzip_min_length 1k; gzip_proxied expired; \
         gzip_proxied no-cache auth; gzip_disable msie6; gzip_http_version 1.0;
         server { location / { gzip_types *; gzip_disable \"^curl\"; gzip_static always; }
                  location /x { gzip off; gzip_buffers 16 8k; } }",
    );
    let root = &conf.servers[0].locations[0].loc;
    assert!(root.gzip);
    assert_eq!(root.gzip_comp_level, 6);
    assert_eq!(root.gzip_types, GzipTypes::Any);
    assert!(root.gzip_types.matches(None));
    assert_eq!((root.gzip_window, root.gzip_hash), (12, 1));
    assert_eq!(root.gzip_min_length, 1024);
    assert_eq!(
        root.gzip_proxied,
        GzipProxied(GzipProxied::EXPIRED | GzipProxied::NO_CACHE | GzipProxied::AUTH)
    );
    // The pattern list is the location's own; msie6 is inherited apart from it.
    assert!(root.gzip_disable.matches(b"Curl/8") && !root.gzip_disable.matches(b"wget"));
    assert!(root.gzip_disable_msie6);
    assert_eq!(root.gzip_static, GzipStatic::Always);
    assert_eq!(root.gzip_http_version, GzipHttpVersion::Http10);
    let x = &conf.servers[0].locations[1].loc;
    assert!(!x.gzip);
    assert_eq!(x.gzip_buffers, (16, 8192));
    assert!(x.gzip_types.matches(Some(b"text/html")));
    assert!(x.gzip_types.matches(Some(b"TEXT/CSS")));
    assert!(x.gzip_types.matches(Some(b"application/json")));
    assert!(!x.gzip_types.matches(Some(b"text/plain")));
}

#[test]
fn messages_are_nginx_s() {
    let cases = [
        ("gzip_comp_level 10;", "value must be between 1 and 9"),
        (
            "gzip_comp_level x;",
            "\"gzip_comp_level\" directive invalid number",
        ),
        (
            "gzip_window 3k;",
            "\"gzip_window\" directive must be 512, 1k, 2k, 4k, 8k, 16k, or 32k",
        ),
        (
            "gzip_hash 256k;",
            "\"gzip_hash\" directive must be 512, 1k, 2k, 4k, 8k, 16k, 32k, 64k, or 128k",
        ),
        (
            "gzip_buffers 0 4k;",
            "\"gzip_buffers\" directive invalid value",
        ),
        (
            "gzip_buffers 4 x;",
            "\"gzip_buffers\" directive invalid value",
        ),
        (
            "gunzip_buffers 4 0;",
            "\"gunzip_buffers\" directive invalid value",
        ),
        ("gzip_http_version 2.0;", "invalid value \"2.0\""),
        ("gzip_proxied foo;", "invalid value \"foo\""),
        ("gzip_static maybe;", "invalid value \"maybe\""),
        (
            "gzip_min_length 1q;",
            "\"gzip_min_length\" directive invalid value",
        ),
        (
            "gzip_buffers 4 4k; gzip_buffers 4 4k;",
            "\"gzip_buffers\" directive is duplicate",
        ),
        (
            "gzip maybe;",
            "invalid value \"maybe\" in \"gzip\" directive, it must be \"on\" or \"off\"",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(load_err(&http(body)), want, "{body}");
    }
    assert!(load_err(&http("gzip_disable \"(\";")).starts_with("pcre2_compile() failed: "));
    // Repeated bitmask words only warn in nginx.
    http_conf("gzip_proxied expired; gzip_proxied expired any;");
}
