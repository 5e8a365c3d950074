//! `proxy_intercept_errors on` with `error_page`, checked against nginx 1.22: an upstream
//! status ≥ 300 that has an error page is not relayed; the request goes through the
//! error-page handling (internal redirect, named location, `=CODE`, external redirect),
//! and the upstream connection is pooled only when its discarded response was complete.

mod common;
#[path = "support/upstream.rs"]
mod upstream;

use std::io::Write;

use common::{Server, read_response};
use upstream::Upstream;

fn start(up: &Upstream, extra: &str) -> Server {
    Server::start_with(
        1,
        &format!(
            "log_format up '$status $upstream_status \"$request\"';\n\
             access_log logs/access.log up;\n\
             upstream backend {{ server 127.0.0.1:{}; }}\n\
             server {{ listen 127.0.0.1:PORT; root html;\n\
               location /ie/ {{ proxy_pass http://backend; proxy_intercept_errors on;\n\
                 error_page 404 /err404.html; error_page 500 = @named;\n\
                 error_page 403 =299 /err404.html; error_page 502 http://example.com/x;\n\
                 error_page 503 = @again; error_page 504 /s/202; error_page 401 /err404.html; {extra} }}\n\
               location /s/ {{ proxy_pass http://backend; }}\n\
               location /nf/ {{ error_page 404 = @static; }}\n\
               location @static {{ rewrite ^ /err404.html break; }}\n\
               location /plain/ {{ proxy_pass http://backend; error_page 404 /err404.html; }}\n\
               location @named {{ return 200 \"named $uri\\n\"; }}\n\
               location @again {{ rewrite ^ /s/201 break; proxy_pass http://backend; }}\n\
               location = /err404.html {{ }}\n\
             }}",
            up.port
        ),
        |p| p.write("html/err404.html", "custom404\n"),
    )
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}

#[test]
fn error_page_uri_replaces_the_upstream_answer_and_the_connection_is_reused() {
    let up = Upstream::start();
    let server = start(&up, "");
    let mut s = server.connect();
    for _ in 0..2 {
        s.write_all(&get("/ie/s/404")).expect("write");
        let r = read_response(&mut s, false).expect("response");
        assert_eq!(r.status, 404);
        assert_eq!(r.text(), "custom404\n");
        assert_eq!(r.header("X-Up"), None, "an upstream header leaked");
        assert_eq!(r.header("Connection"), Some("keep-alive"));
    }
    // The short 404 arrived whole with its head: the connection went back to the pool.
    assert_eq!(up.connections(), 1);
    // A status without an error page is relayed.
    s.write_all(&get("/ie/s/301")).expect("write");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!(r.status, 301);
    assert!(r.text().starts_with("upstream 301"), "{}", r.text());
    // Without proxy_intercept_errors the upstream's page is relayed.
    s.write_all(&get("/plain/s/404")).expect("write");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!(r.status, 404);
    assert!(r.text().starts_with("upstream 404"), "{}", r.text());
    assert!(server.wait_for(5, || server.access_log().lines().count() >= 4));
    let log = server.access_log();
    assert!(log.contains("404 404 \"GET /ie/s/404 HTTP/1.1\""), "{log}");
    server.assert_clean_log();
}

#[test]
fn named_location_code_override_and_external_redirect() {
    let up = Upstream::start();
    let server = start(&up, "");
    // `= @named`: the named location's own status.
    let r = server.request(&get("/ie/s/500"));
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "named /ie/s/500\n");
    // `=299`: the page with the given status.
    let r = server.request(&get("/ie/s/403"));
    assert_eq!(r.status, 299);
    assert_eq!(r.text(), "custom404\n");
    // An external URL: 302 with Location.
    let r = server.request(&get("/ie/s/502"));
    assert_eq!(r.status, 302);
    assert_eq!(r.header("Location"), Some("http://example.com/x"));
    // A 401's WWW-Authenticate goes with the error page.
    let r = server.request(&get("/ie/s/401"));
    assert_eq!(r.status, 401);
    assert_eq!(r.text(), "custom404\n");
    assert_eq!(r.header("WWW-Authenticate"), Some("Basic realm=\"up\""));
    // HEAD: the error page's head only.
    let r = server.request(b"HEAD /ie/s/404 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
    server.assert_clean_log();
}

#[test]
fn a_proxied_error_page_gets_the_buffered_body_again() {
    let up = Upstream::start();
    let server = start(&up, "");
    // A named location keeps the method; the body nginx buffered is sent again.
    let r = server
        .request(b"POST /ie/s/503 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!(r.status, 201, "{}", r.text());
    // A URI makes it GET, the error's status stays (504 with its own reason), and the
    // body still goes along.
    let r = server
        .request(b"POST /ie/s/504 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!(
        (r.status, r.reason.as_str()),
        (504, "Gateway Time-out"),
        "{}",
        r.text()
    );
    assert!(r.text().starts_with("upstream 202"), "{}", r.text());
    let seen = up.seen();
    let lines: Vec<&str> = seen.iter().map(|s| s.line.as_str()).collect();
    assert_eq!(
        lines,
        [
            "POST /ie/s/503 HTTP/1.1",
            "POST /s/201 HTTP/1.1",
            "POST /ie/s/504 HTTP/1.1",
            "GET /s/202 HTTP/1.1"
        ]
    );
    for s in &seen {
        assert_eq!(s.body, b"hello", "{}", s.line);
        assert_eq!(s.header("content-length"), Some("5"));
    }
    // A static named location answers POST with 405, as nginx does.
    let r =
        server.request(b"POST /nf/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(r.status, 405);
    server.assert_clean_log();
}

#[test]
fn an_incomplete_intercepted_response_closes_its_connection() {
    let up = Upstream::start();
    let server = start(&up, "");
    let mut s = server.connect();
    s.write_all(&get("/ie/big/404")).expect("write");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "custom404\n");
    // The upstream's connection with 999,990 unread bytes was closed, not pooled.
    assert!(server.wait_for(5, || up.open() == 0), "still open");
    s.write_all(&get("/ie/s/404")).expect("write");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!(r.status, 404);
    assert_eq!(up.connections(), 2);
    server.assert_clean_log();
}
