//! nginx's access module (`allow`/`deny`) and `limit_except`: rules in order, the first
//! covering the client deciding; a level with rules replacing its parent's; 403 with the
//! error-log line "access forbidden by rule"; `limit_except` giving the methods it does not
//! name its own settings (GET naming HEAD too), not inherited by nested locations.

mod common;

use common::{Prefix, Server, run_cli, show};

fn start(server_body: &str) -> Server {
    let block = format!(
        "default_type text/plain;\nserver {{\n listen 127.0.0.1:PORT;\n server_name localhost;\n{server_body}\n}}"
    );
    Server::start_with(1, &block, |p| {
        p.write("html/index.html", "home");
        p.write("html/open/index.html", "open");
        p.write("html/shut/index.html", "shut");
        p.write("html/rw/index.html", "rw");
        p.write("html/rw/nested/index.html", "nested");
    })
}

fn request(server: &Server, method: &str, uri: &str) -> u16 {
    let raw = format!(
        "{method} {uri} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    server.request(raw.as_bytes()).status
}

#[test]
fn allow_and_deny_in_order_with_nginx_inheritance() {
    let server = start(
        "deny all;\n\
         location /open/ { allow 10.0.0.0/8; allow 127.0.0.1; deny all; }\n\
         location /shut/ { deny 127.0.0.0/8; allow all; }\n\
         location /v6/ { allow ::1; deny all; }\n\
         location /ret { return 200 before-access; }",
    );
    let r = server.get("/open/");
    assert_eq!((r.status, r.text().as_str()), (200, "open"), "{}", show(&r));
    assert_eq!(server.get("/shut/").status, 403);
    // The server's `deny all` where a location has no rules of its own.
    assert_eq!(server.get("/").status, 403);
    assert_eq!(server.get("/v6/").status, 403);
    // The rewrite phase comes before the access phase.
    assert_eq!(server.get("/ret").text(), "before-access");
    let log = server.error_log();
    assert!(
        log.contains("[error]")
            && log.contains("access forbidden by rule, client: 127.0.0.1, server: localhost, request: \"GET /shut/ HTTP/1.1\""),
        "{log}"
    );
}

#[test]
fn limit_except_restricts_the_methods_it_does_not_name() {
    let server = start(
        "location /rw/ { limit_except GET { deny all; }\n\
           location /rw/nested/ { } }\n\
         location /open/ { limit_except GET POST { allow 127.0.0.1; deny all; } }\n\
         location / { limit_except PUT { deny all; } }",
    );
    assert_eq!(request(&server, "GET", "/rw/"), 200);
    assert_eq!(request(&server, "HEAD", "/rw/"), 200);
    assert_eq!(request(&server, "POST", "/rw/"), 403);
    assert_eq!(request(&server, "DELETE", "/rw/"), 403);
    assert_eq!(request(&server, "PROPFIND", "/rw/"), 403);
    // Not inherited by a nested location, as in nginx: a POST reaches the static module.
    assert_eq!(request(&server, "POST", "/rw/nested/"), 405);
    // Allowed by the block's own rules.
    assert_eq!(request(&server, "PUT", "/open/"), 405);
    // PUT named, GET not: GET and HEAD are restricted.
    assert_eq!(request(&server, "GET", "/"), 403);
    assert_eq!(request(&server, "HEAD", "/"), 403);
}

#[test]
fn access_rules_are_checked_at_load_as_nginx() {
    let cases = [
        ("allow 10.0.0.0/33;", "invalid parameter \"10.0.0.0/33\""),
        ("deny example.com;", "invalid parameter \"example.com\""),
        (
            "location / { limit_except FETCH { } }",
            "invalid method \"FETCH\"",
        ),
        (
            "location / { limit_except GET { } limit_except POST { } }",
            "\"limit_except\" directive is duplicate",
        ),
        (
            "limit_except GET { }",
            "\"limit_except\" directive is not allowed here",
        ),
        (
            "location / { limit_except GET { root /x; } }",
            "\"root\" directive is not allowed here",
        ),
    ];
    for (body, message) in cases {
        let prefix = Prefix::new();
        prefix.write(
            "conf/portico.conf",
            format!("events {{}}\nhttp {{ server {{ {body} }} }}\n"),
        );
        let (code, _, stderr) = run_cli(&prefix.dir, &["-t", "-c", "conf/portico.conf"]);
        assert_eq!(code, 1, "{body}");
        assert!(stderr.contains(message), "{body}: {stderr}");
    }
    let prefix = Prefix::new();
    prefix.write(
        "conf/portico.conf",
        "events {}\nhttp { server { allow 10.1.2.3/24; } }\n",
    );
    let (code, _, stderr) = run_cli(&prefix.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("[warn] low address bits of 10.1.2.3/24 are meaningless in"),
        "{stderr}"
    );
}
