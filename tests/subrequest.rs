//! Subrequests through the binary: `auth_request` (with `auth_request_set` and `satisfy`)
//! in front of proxied, static and `return` content with a real upstream as the auth
//! service, and `mirror` (with its request body, `log_subrequest`, a slow and a dead mirror
//! that never change the client's answer), and their `-t` errors.

mod common;
#[path = "support/upstream.rs"]
mod upstream;

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::*;
use upstream::Upstream;

#[test]
fn auth_request_in_front_of_proxy_static_and_return() {
    let auth = Upstream::start();
    let app = Upstream::start();
    let s = Server::start_with(
        1,
        &format!(
            "log_format main \"$uri $status $auth_user\";\n\
             access_log logs/access.log main;\n\
             server {{ listen 127.0.0.1:PORT;\n\
             location /app/ {{ auth_request /auth/s/204; auth_request_set $auth_user $upstream_http_x_up;\n\
               add_header X-Auth-User $auth_user always; proxy_pass http://127.0.0.1:{app}; }}\n\
             location /static/ {{ auth_request /auth/s/200; root html; }}\n\
             location /unauthorized {{ auth_request /auth/s/401; root html; }}\n\
             location /forbidden {{ auth_request /auth/s/403; root html; }}\n\
             location /odd {{ auth_request /auth/s/404; root html; }}\n\
             location /down {{ auth_request /dead; root html; }}\n\
             location /local {{ auth_request /local-auth; root html; }}\n\
             location /off {{ auth_request off; root html; }}\n\
             location /rewritten {{ return 200 \"return comes first\\n\"; auth_request /auth/s/403; }}\n\
             location = /local-auth {{ internal; return 204; }}\n\
             location /auth/ {{ internal; proxy_pass http://127.0.0.1:{auth};\n\
               proxy_pass_request_body off; proxy_set_header Content-Length \"\"; proxy_set_header X-Original-URI $request_uri; }}\n\
             location = /dead {{ proxy_pass http://127.0.0.1:1; }}\n\
             }}",
            app = app.port,
            auth = auth.port
        ),
        |p| {
            p.write("html/static/a.txt", "static file\n");
            for f in ["unauthorized", "forbidden", "odd", "down", "local", "off"] {
                p.write(&format!("html/{f}"), format!("{f}\n"));
            }
        },
    );
    // Allowed: the upstream answers, with the variable the auth subrequest set.
    let r = s.request(
        b"POST /app/x?q=1 HTTP/1.1\r\nHost: localhost\r\nX-Token: t1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert_eq!(r.status, 200, "{}", show(&r));
    assert!(
        r.text().starts_with("upstream 200 POST /app/x?q=1"),
        "{}",
        show(&r)
    );
    assert_eq!(r.header("X-Auth-User"), Some("1"), "{}", show(&r));
    let seen = auth.seen();
    let first = &seen[0];
    // A GET of the auth URI with the client's headers, no body.
    assert_eq!(first.line, "GET /auth/s/204 HTTP/1.1");
    assert_eq!(first.header("x-token"), Some("t1"));
    assert_eq!(first.header("x-original-uri"), Some("/app/x?q=1"));
    assert!(first.body.is_empty() && first.header("content-length").is_none());
    // The application got the body.
    assert_eq!(app.seen()[0].body, b"hello");

    assert_eq!(s.get("/static/a.txt").text(), "static file\n");
    assert_eq!(s.get("/local").text(), "local\n");
    assert_eq!(s.get("/off").text(), "off\n");
    // The rewrite phase's `return` answers before the access phase, as in nginx.
    assert_eq!(s.get("/rewritten").text(), "return comes first\n");
    // 401 passes the auth service's WWW-Authenticate; 403 is 403; others 500.
    let r = s.get("/unauthorized");
    assert_eq!(r.status, 401, "{}", show(&r));
    assert_eq!(r.header("WWW-Authenticate"), Some("Basic realm=\"up\""));
    assert_eq!(s.get("/forbidden").status, 403);
    assert_eq!(s.get("/odd").status, 500);
    assert_eq!(s.get("/down").status, 500);
    assert!(
        s.wait_for(5, || s
            .error_log()
            .contains("auth request unexpected status: 404")),
        "{}",
        s.error_log()
    );
    assert!(
        s.error_log()
            .contains("auth request unexpected status: 502")
    );
    // Keep-alive: several authorized requests on one connection, each asking the service.
    let before = auth.seen().len();
    let mut c = s.connect();
    for _ in 0..3 {
        send(&mut c, b"GET /app/k HTTP/1.1\r\nHost: localhost\r\n\r\n");
        let r = next_response(&mut c);
        assert_eq!(r.status, 200, "{}", show(&r));
    }
    assert_eq!(auth.seen().len(), before + 3);
    // Subrequests are not in the access log (no log_subrequest); the variable is.
    assert!(
        s.wait_for(5, || s.access_log().contains("/app/x 200 1")),
        "{}",
        s.access_log()
    );
    assert!(!s.access_log().contains("/auth/"), "{}", s.access_log());
    s.assert_clean_log();
}

#[test]
fn auth_request_with_satisfy_and_access_rules() {
    let auth = Upstream::start();
    let s = Server::start_with(
        1,
        &format!(
            "server {{ listen 127.0.0.1:PORT;\n\
         root html;\n\
         location /any/ {{ satisfy any; deny all; auth_request /auth/s/204; }}\n\
         location /any-no/ {{ satisfy any; deny all; auth_request /auth/s/401; }}\n\
         location /all/ {{ satisfy all; deny all; auth_request /auth/s/204; }}\n\
         location /allow/ {{ satisfy any; allow all; auth_request /auth/s/403; }}\n\
         location /auth/ {{ internal; proxy_pass http://127.0.0.1:{}; }}\n\
         }}",
            auth.port
        ),
        |p| {
            for d in ["any", "any-no", "all", "allow"] {
                p.write(&format!("html/{d}/index.html"), "ok\n");
            }
        },
    );
    assert_eq!(s.get("/any/").status, 200);
    assert_eq!(s.get("/any-no/").status, 401);
    assert_eq!(s.get("/all/").status, 403);
    assert_eq!(s.get("/allow/").status, 200);
    // `deny` already refused under `satisfy all`; `allow` already allowed under `any`.
    assert!(auth.seen().iter().all(|r| !r.line.contains("/s/403")));
    s.assert_clean_log();
}

#[test]
fn mirror_sends_the_body_and_never_changes_the_answer() {
    let app = Upstream::start();
    let mirror = Upstream::start();
    let s = Server::start_with(
        1,
        &format!(
            "log_format m \"$uri $args $status\";\n\
         server {{ listen 127.0.0.1:PORT;\n\
         location / {{ mirror /m; mirror /dead; proxy_pass http://127.0.0.1:{app}; }}\n\
         location /nobody {{ mirror /m-nobody; mirror_request_body off; proxy_pass http://127.0.0.1:{app}; }}\n\
         location /static {{ mirror /m; root html; }}\n\
         location /m {{ internal; log_subrequest on; access_log logs/mirror.log m; proxy_pass http://127.0.0.1:{mirror}/copy; }}\n\
         location /m-nobody {{ internal; proxy_set_header Content-Length \"\"; proxy_pass http://127.0.0.1:{mirror}/copy; }}\n\
         location /dead {{ internal; proxy_pass http://127.0.0.1:1; }}\n\
         }}",
            app = app.port,
            mirror = mirror.port
        ),
        |p| p.write("html/static", "static\n"),
    );
    let r = s.request(
        b"PUT /x?a=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert_eq!(r.status, 200, "{}", show(&r));
    assert!(
        r.text().starts_with("upstream 200 PUT /x?a=1"),
        "{}",
        show(&r)
    );
    assert_eq!(app.seen()[0].body, b"hello");
    assert!(s.wait_for(5, || !mirror.seen().is_empty()));
    let m = &mirror.seen()[0];
    // The parent's method and arguments, the mirror's URI, the body.
    assert_eq!(m.line, "PUT /copy?a=1 HTTP/1.1");
    assert_eq!(m.body, b"hello");
    // mirror_request_body off: no body to the mirror, the application still gets it.
    let r = s.request(
        b"POST /nobody HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    );
    assert_eq!(r.status, 200, "{}", show(&r));
    assert_eq!(app.seen()[1].body, b"abc");
    assert!(s.wait_for(5, || mirror.seen().len() == 2));
    assert!(mirror.seen()[1].body.is_empty());
    assert_eq!(s.get("/static?z=2").text(), "static\n");
    assert!(s.wait_for(5, || mirror.seen().len() == 3));
    // log_subrequest: the mirrors' lines, in their location's log.
    let log = || s.prefix.read("logs/mirror.log");
    assert!(s.wait_for(5, || log().contains("/m z=2 200")), "{}", log());
    assert!(log().contains("/m a=1 200"), "{}", log());
    assert!(!s.access_log().contains("/m "), "{}", s.access_log());
    s.assert_clean_log();
}

#[test]
fn a_slow_mirror_delays_only_the_next_request_on_the_connection() {
    // A mirror target that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in silent.incoming().flatten() {
            held.push(c);
            if held.len() > 16 {
                break;
            }
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    let s = Server::start_with(
        1,
        &format!(
            "server {{ listen 127.0.0.1:PORT;\n\
         location / {{ mirror /slow; root html; }}\n\
         location /slow {{ internal; proxy_read_timeout 1s; proxy_pass http://127.0.0.1:{port}; }}\n\
         }}"
        ),
        |p| {
            p.write("html/a", "main\n");
            p.write("html/b", "main\n");
        },
    );
    let mut c = s.connect();
    let start = Instant::now();
    send(&mut c, b"GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let r = next_response(&mut c);
    assert_eq!(r.text(), "main\n");
    assert!(
        start.elapsed() < Duration::from_millis(800),
        "{:?}",
        start.elapsed()
    );
    // The next request on the connection waits for the mirror (as nginx's
    // ngx_http_finalize_connection does), here its 1 s read timeout.
    send(
        &mut c,
        b"GET /b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    let r = next_response(&mut c);
    assert_eq!(r.text(), "main\n");
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    assert!(
        s.wait_for(5, || s.error_log().contains("upstream timed out")),
        "{}",
        s.error_log()
    );
    s.assert_clean_log();
}

#[test]
fn post_action_runs_after_the_response_and_is_discarded() {
    let up = Upstream::start();
    let s = Server::start_with(
        1,
        &format!(
            "server {{ listen 127.0.0.1:PORT;\n\
             location /page {{ post_action /after; root html; }}\n\
             location /named {{ post_action @after; root html; }}\n\
             location /after {{ proxy_pass http://127.0.0.1:{up}; }}\n\
             location @after {{ proxy_pass http://127.0.0.1:{up}; }}\n\
             }}",
            up = up.port
        ),
        |p| {
            p.write("html/page", "page\n");
            p.write("html/named", "named\n");
        },
    );
    let r = s.get("/page?x=1");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "page\n", "{}", show(&r));
    assert!(s.wait_for(5, || up.seen().len() == 1));
    // The post action's URI without the request's arguments (nginx's internal redirect
    // with none), the request's method.
    assert_eq!(up.seen()[0].line, "GET /after HTTP/1.1");
    let r = s.get("/named?y=2");
    assert_eq!(r.text(), "named\n", "{}", show(&r));
    assert!(s.wait_for(5, || up.seen().len() == 2));
    // A named location keeps the request's URI and arguments.
    assert_eq!(up.seen()[1].line, "GET /named?y=2 HTTP/1.1");
    assert!(s.wait_for(5, || s.access_log().lines().count() == 2));
    s.assert_clean_log();
}

#[test]
fn subrequest_directives_are_checked_at_load() {
    let cases = [
        (
            "auth_request /a; auth_request /b;",
            "\"auth_request\" directive is duplicate",
        ),
        (
            "mirror off; mirror /x;",
            "\"mirror\" directive is duplicate",
        ),
        (
            "mirror /x; mirror off;",
            "\"mirror\" directive is duplicate",
        ),
        ("auth_request_set $uri x;", "the duplicate \"uri\" variable"),
        ("auth_request_set uri x;", "invalid variable name \"uri\""),
        ("mirror_request_body maybe;", "invalid value \"maybe\""),
        (
            "post_action /a; post_action /b;",
            "\"post_action\" directive is duplicate",
        ),
    ];
    for (directive, message) in cases {
        let p = Prefix::new();
        p.write(
            "conf/portico.conf",
            format!(
                "{}http {{ server {{ listen 127.0.0.1:1; location / {{ {directive} }} }} }}\n",
                main_preamble(1)
            ),
        );
        let (code, _, err) = run_cli(&p.dir, &["-t", "-c", "conf/portico.conf"]);
        assert_ne!(code, 0, "{directive}");
        assert!(err.contains(message), "{directive}: {err}");
        assert!(err.contains("portico.conf:"), "{err}");
    }
}

#[test]
fn auth_request_answered_from_the_proxy_cache() {
    let auth = Upstream::start();
    let s = Server::start_with(
        1,
        &format!(
            "proxy_cache_path cache levels=1:2 keys_zone=sub:1m;\n\
             server {{ listen 127.0.0.1:PORT;\n\
             location /p/ {{ auth_request /cauth; auth_request_set $cs $upstream_cache_status;\n\
               add_header X-Sub-Cache $cs always; root html; }}\n\
             location /denied/ {{ auth_request /cdeny; root html; }}\n\
             location = /cauth {{ internal; proxy_pass http://127.0.0.1:{auth}/s/200;\n\
               proxy_cache sub; proxy_cache_valid 1m; proxy_pass_request_body off; }}\n\
             location = /cdeny {{ internal; proxy_pass http://127.0.0.1:{auth}/s/403;\n\
               proxy_cache sub; proxy_cache_valid any 1m; }}\n\
             }}",
            auth = auth.port
        ),
        |p| {
            p.write("html/p/a", "a\n");
            p.write("html/denied/a", "no\n");
        },
    );
    // The first asks the service and stores its answer; the next are answered from it.
    let r = s.get("/p/a");
    assert_eq!(r.status, 200, "{}", show(&r));
    assert_eq!(r.text(), "a\n");
    assert_eq!(r.header("X-Sub-Cache"), Some("MISS"), "{}", show(&r));
    for _ in 0..2 {
        let r = s.get("/p/a");
        assert_eq!(r.status, 200, "{}", show(&r));
        assert_eq!(r.header("X-Sub-Cache"), Some("HIT"), "{}", show(&r));
    }
    // A keep-alive connection too: the hit needs no socket event.
    let mut c = s.connect();
    for _ in 0..2 {
        send(&mut c, b"GET /p/a HTTP/1.1\r\nHost: localhost\r\n\r\n");
        let r = next_response(&mut c);
        assert_eq!(r.status, 200, "{}", show(&r));
        assert_eq!(r.header("X-Sub-Cache"), Some("HIT"), "{}", show(&r));
    }
    assert_eq!(auth.seen().len(), 1);
    // A cached refusal refuses again without the service.
    assert_eq!(s.get("/denied/a").status, 403);
    assert_eq!(s.get("/denied/a").status, 403);
    assert_eq!(auth.seen().len(), 2);
    s.assert_clean_log();
}

#[test]
fn a_subrequest_does_not_wait_for_the_cache_lock() {
    let auth = Upstream::start();
    let s = Server::start_with(
        1,
        &format!(
            "proxy_cache_path cache levels=1:2 keys_zone=sub:1m;\n\
             server {{ listen 127.0.0.1:PORT;\n\
             location /p/ {{ auth_request /cauth; root html; }}\n\
             location = /cauth {{ internal; proxy_pass http://127.0.0.1:{auth}/s/200?delay=800;\n\
               proxy_cache sub; proxy_cache_valid 1m; proxy_cache_lock on; proxy_cache_lock_timeout 5s; }}\n\
             }}",
            auth = auth.port
        ),
        |p| p.write("html/p/a", "a\n"),
    );
    // The first holds the lock while the service is slow; the second goes to the service
    // at once rather than waiting for the entry.
    let mut first = s.connect();
    send(&mut first, b"GET /p/a HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(s.wait_for(5, || !auth.seen().is_empty() || auth.connections() > 0));
    let started = Instant::now();
    let r = s.get("/p/a");
    assert_eq!(r.status, 200, "{}", show(&r));
    assert_eq!(next_response(&mut first).status, 200);
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(
        s.wait_for(5, || auth.seen().len() == 2),
        "{}",
        auth.seen().len()
    );
    s.assert_clean_log();
}
