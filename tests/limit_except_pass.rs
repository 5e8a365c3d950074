//! `proxy_pass` inside `limit_except` (nginx-tests proxy_if.t): the block is a nameless
//! location with its own content handler, so the methods it does not name go to its
//! upstream with the client's whole URI (no URI part is allowed there, as in an `if`);
//! without a `proxy_pass` of its own the block keeps its location's, and a location's
//! `fastcgi_pass` likewise. nginx 1.22 takes only `proxy_pass` inside the block.

mod common;
#[path = "support/fcgi.rs"]
mod fcgi;
#[path = "support/upstream.rs"]
mod upstream;

use common::{Prefix, Server, run_cli};
use fcgi::{Answer, FakeFcgi, response};
use upstream::Upstream;

fn request(s: &Server, method: &str, path: &str) -> common::Response {
    s.request(
        format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        )
        .as_bytes(),
    )
}

#[test]
fn proxy_pass_inside_limit_except_handles_the_methods_it_does_not_name() {
    let outer = Upstream::start();
    let inner = Upstream::start();
    let s = Server::start(&format!(
        "server {{ listen 127.0.0.1:PORT; server_name localhost;\n\
           location /lmt-different {{ proxy_pass http://127.0.0.1:{o}/replacement;\n\
             limit_except POST {{ proxy_pass http://127.0.0.1:{i}; }} }}\n\
           location /lmt-same {{ proxy_pass http://127.0.0.1:{o}/replacement;\n\
             limit_except POST {{ }} }}\n\
           location /static-then-proxy {{ limit_except GET {{ proxy_pass http://127.0.0.1:{i}; }} }} }}",
        o = outer.port,
        i = inner.port
    ));
    // GET is not named: the block's own upstream, with the whole URI.
    let r = request(&s, "GET", "/lmt-different?a=1");
    assert_eq!(r.status, 200);
    // POST is named: the location's upstream, with its URI part.
    assert_eq!(request(&s, "POST", "/lmt-different").status, 200);
    // No proxy_pass in the block: the location's, URI part included.
    assert_eq!(request(&s, "GET", "/lmt-same/x").status, 200);
    // A static location whose other methods are proxied.
    assert_eq!(request(&s, "DELETE", "/static-then-proxy").status, 200);
    let lines = |u: &Upstream| -> Vec<String> {
        u.seen()
            .into_iter()
            .map(|r| {
                r.line
                    .rsplit_once(' ')
                    .map_or(r.line.clone(), |(l, _)| l.to_string())
            })
            .collect()
    };
    let inner_lines = lines(&inner);
    assert_eq!(
        inner_lines,
        ["GET /lmt-different?a=1", "DELETE /static-then-proxy"]
    );
    let outer_lines = lines(&outer);
    assert_eq!(outer_lines, ["POST /replacement", "GET /replacement/x"]);
    // GET names GET and HEAD: those stay static (404 here).
    assert_eq!(request(&s, "GET", "/static-then-proxy").status, 404);
}

#[test]
fn a_location_s_fastcgi_pass_holds_inside_its_limit_except() {
    let app = FakeFcgi::start(|req, _| Answer {
        bytes: response(
            format!(
                "Content-Type: text/plain\r\n\r\n{}",
                req.param("REQUEST_METHOD").unwrap_or("")
            )
            .as_bytes(),
        ),
        close: true,
    });
    let s = Server::start(&format!(
        "server {{ listen 127.0.0.1:PORT; server_name localhost;\n\
           location /php {{ fastcgi_pass 127.0.0.1:{};\n\
             fastcgi_param REQUEST_METHOD $request_method;\n\
             limit_except GET {{ allow 127.0.0.1; deny all; }} }} }}",
        app.port
    ));
    for method in ["GET", "POST", "PUT"] {
        let r = request(&s, method, "/php");
        assert_eq!((r.status, r.text()), (200, method.to_string()), "{method}");
    }
}

#[test]
fn only_proxy_pass_is_taken_inside_limit_except_and_without_a_uri() {
    let cases = [
        (
            "location / { limit_except GET { proxy_pass http://127.0.0.1:9/x; } }",
            "\"proxy_pass\" cannot have URI part in location given by regular expression, \
             or inside named location, or inside \"if\" statement, or inside \"limit_except\" block",
        ),
        (
            "location / { limit_except GET { fastcgi_pass 127.0.0.1:9; } }",
            "\"fastcgi_pass\" directive is not allowed here",
        ),
        (
            "location / { limit_except GET { proxy_pass http://127.0.0.1:9; proxy_pass http://127.0.0.1:8; } }",
            "\"proxy_pass\" directive is duplicate",
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
}
