//! `portico -t --explain REQUEST`: the server and location chosen and why, each rewrite
//! step with its values, try_files probes and the final handler — from the worker's own
//! routing, so what it says is what a running server does (checked side by side below).

mod common;

use common::*;

/// The configuration of these tests, in `conf/portico.conf` of a prefix; `PORT` is the
/// server's port.
const CONF: &str = "events {}
http {
    upstream backend {
        server 127.0.0.1:9001;
        server 127.0.0.1:9002 weight=2;
        server 127.0.0.1:9003 backup;
    }
    server {
        listen 127.0.0.1:PORT;
        server_name example.com *.example.org;
        root html;
        set $who anon;
        location / {
            try_files $uri $uri/ @app;
        }
        location ^~ /static/ {
            if ($arg_x) { set $who \"x=$arg_x\"; }
            rewrite ^/static/old/(.*)$ /static/$1 last;
            add_header X-Who $who;
        }
        location ~ ^/user/(\\d+)$ {
            if ($remote_addr = 10.0.0.9) { return 403; }
            return 200 \"user $1\";
        }
        location @app { proxy_pass http://backend; }
        location = /old { return 301 https://example.com/new; }
    }
    server { listen 127.0.0.1:PORT default_server; return 444; }
}
";

fn prefix(port: u16) -> Prefix {
    let p = Prefix::new();
    p.write(
        "conf/portico.conf",
        format!("daemon off;\npid logs/portico.pid;\nerror_log logs/error.log;\n{CONF}")
            .replace("PORT", &port.to_string()),
    );
    p.write("html/static/a.css", "body {}\n");
    p.write("html/index.html", "hello\n");
    p
}

/// Runs `portico -p PREFIX -t --explain REQUEST EXTRA...`: (status, stdout, stderr).
fn explain(p: &Prefix, request: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["-t", "--explain", request];
    args.extend_from_slice(extra);
    run_cli(&p.dir, &args)
}

/// `FILE:LINE` of the first line of the configuration that starts with `start` (after its
/// indentation), as `--explain` names blocks.
fn at(p: &Prefix, start: &str) -> String {
    let text = p.read("conf/portico.conf");
    let line = text
        .lines()
        .position(|l| l.trim_start().starts_with(start))
        .unwrap_or_else(|| panic!("no {start:?} in {text}"));
    format!("{}:{}", p.path("conf/portico.conf").display(), line + 1)
}

/// The lines of `out` without the response's `Date`, `Last-Modified` and `ETag` values.
fn stable(out: &str) -> String {
    out.lines()
        .filter(|l| {
            !["Date:", "Last-Modified:", "ETag:"]
                .contains(&l.trim().split(' ').next().unwrap_or(""))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn explains_server_location_rewrites_and_the_file() {
    let port = free_port();
    let p = prefix(port);
    let server1 = at(&p, "server {");
    let static_loc = at(&p, "location ^~ /static/");
    let html = p.path("html").display().to_string();
    let (code, out, err) = explain(
        &p,
        &format!("GET http://example.com:{port}/static/old/a.css?x=1"),
        &[],
    );
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let want = format!(
        "request   GET http://example.com:{port}/static/old/a.css?x=1 HTTP/1.1
          Host: example.com:{port}
client    127.0.0.1:0
listen    127.0.0.1:{port} (the URL's port): 2 servers
server    #1 at {server1} (server_name example.com *.example.org) matches by the exact name \"example.com\"
rewrite   the server's directives
  set     $who: (unset) -> \"anon\"
search    \"/static/old/a.css\"
  prefix  ^~ /static/ at {static_loc}: longest prefix, ^~: no regex is tried
location  ^~ /static/ at {static_loc}
rewrite   the location's directives
  if      ($arg_x): \"1\" -> true
    set   $who: \"anon\" -> \"x=1\"
  rewrite ^/static/old/(.*)$ last: \"/static/old/a.css\" matches -> $uri \"/static/a.css\"
search    \"/static/a.css\"
  prefix  ^~ /static/ at {static_loc}: longest prefix, ^~: no regex is tried
location  ^~ /static/ at {static_loc}
rewrite   the location's directives
  if      ($arg_x): \"1\" -> true
    set   $who: \"x=1\" -> \"x=1\"
  rewrite ^/static/old/(.*)$ last: \"/static/a.css\" does not match
handler   static
file      {html}/static/a.css: a file
uri       \"/static/a.css?x=1\"
answer    200, the file {html}/static/a.css (8 bytes)
response  HTTP/1.1 200 OK
          Server: portico/{}
          Content-Type: text/plain
          Content-Length: 8
          Connection: keep-alive
          X-Who: x=1
          Accept-Ranges: bytes
",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(stable(&out), want);
}

#[test]
fn explains_try_files_a_named_location_and_the_upstream_order() {
    let port = free_port();
    let p = prefix(port);
    let server1 = at(&p, "server {");
    let root_loc = at(&p, "location / {");
    let user_loc = at(&p, "location ~ ^/user/");
    let html = p.path("html").display().to_string();
    let (code, out, _) = explain(
        &p,
        "GET /app/x?y=2",
        &["-H", "Host: www.example.org", "-H", "User-Agent: curl/8"],
    );
    assert_eq!(code, 0, "{out}");
    let want = format!(
        "request   GET /app/x?y=2 HTTP/1.1
          Host: www.example.org
          User-Agent: curl/8
client    127.0.0.1:0
listen    127.0.0.1:{port} (the first listen address): 2 servers
server    #1 at {server1} (server_name example.com *.example.org) matches by the leading wildcard \"*.example.org\"
rewrite   the server's directives
  set     $who: (unset) -> \"anon\"
search    \"/app/x\"
  prefix  / at {root_loc}: longest prefix
  regex   ~ ^/user/(\\d+)$ at {user_loc}: does not match
location  / at {root_loc}
handler   static
  try_files \"/app/x\" -> {html}/app/x: missing
  try_files \"/app/x/\" -> {html}/app/x: missing
redirect  to location @app
handler   proxy
uri       \"/app/x?y=2\"
answer    proxied to upstream \"backend\" (round robin)
servers   127.0.0.1:9002, 127.0.0.1:9001, 127.0.0.1:9003 (backup) (at most 3 tried)
upstream  GET /app/x?y=2 HTTP/1.1
          Host: backend
          User-Agent: curl/8
"
    );
    assert_eq!(out, want);
}

#[test]
fn explains_captures_client_address_and_the_default_server() {
    let port = free_port();
    let p = prefix(port);
    let server2 = at(&p, "server { listen");
    let user_loc = at(&p, "location ~ ^/user/");
    let old_loc = at(&p, "location = /old");
    let (code, out, _) = explain(&p, "GET /user/42", &["-H", "Host: example.com"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!(
            "  regex   ~ ^/user/(\\d+)$ at {user_loc}: matches\n"
        )) && out.contains("  if      ($remote_addr = \"10.0.0.9\"): \"127.0.0.1\" -> false\n")
            && out.contains("  return  200 \"user 42\"\n")
            && out.contains("answer    200\n"),
        "{out}"
    );
    // The same request from another client.
    let (_, out, _) = explain(
        &p,
        "GET /user/42",
        &["-H", "Host: example.com", "--client", "10.0.0.9:5000"],
    );
    assert!(
        out.contains("client    10.0.0.9:5000\n")
            && out.contains("  if      ($remote_addr = \"10.0.0.9\"): \"10.0.0.9\" -> true\n")
            && out.contains("    return 403\n")
            && out.contains("response  HTTP/1.1 403 Forbidden\n"),
        "{out}"
    );
    // An unknown host goes to the default server, which closes the connection.
    let (_, out, _) = explain(
        &p,
        "GET /",
        &["-H", "Host: nope.test", "--listen", &port.to_string()],
    );
    assert!(
        out.contains(&format!(
            "listen    127.0.0.1:{port} (--listen): 2 servers\nserver    #2 at {server2} (server_name \"\") is the default server: no server_name matches the host\n"
        )) && out.contains("answer    444: the connection is closed without a response\n"),
        "{out}"
    );
    let (_, out, _) = explain(&p, "GET /old", &["-H", "Host: example.com"]);
    assert!(
        out.contains(&format!("  exact   = /old at {old_loc}: equal\n"))
            && out.contains("  return  301 \"https://example.com/new\"\n")
            && out.contains("          Location: https://example.com/new\n"),
        "{out}"
    );
}

/// An internal redirect runs the server's rewrite directives again, as nginx's does.
#[test]
fn explains_an_index_through_an_internal_redirect() {
    let p = prefix(free_port());
    let html = p.path("html").display().to_string();
    let (code, out, _) = explain(&p, "GET http://example.com/", &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!(
            "  try_files \"/\" -> {html}/: not a file\n  try_files \"//\" -> {html}/: a directory\nindex     {html}/: index.html\nredirect  internal, to \"/index.html\"\n  set     $who: \"anon\" -> \"anon\"\nsearch    \"/index.html\"\n"
        )) && out.contains(&format!("answer    200, the file {html}/index.html (6 bytes)\n")),
        "{out}"
    );
}

/// What `--explain` says is what the running server does.
#[test]
fn a_running_server_answers_as_explained() {
    let port = free_port();
    let p = prefix(port);
    let s = Server::spawn(p, port);
    for (path, host) in [
        ("/static/old/a.css?x=7", "example.com"),
        ("/user/5", "a.example.org"),
        ("/old", "example.com"),
        ("/", "example.com"),
        ("/index.html", "b.example.org"),
    ] {
        let (_, out, _) = explain(
            &s.prefix,
            &format!("GET {path}"),
            &["-H", &format!("Host: {host}")],
        );
        let line = out
            .lines()
            .find(|l| l.starts_with("response  HTTP/1.1 "))
            .unwrap_or_else(|| panic!("{out}"));
        let status: u16 = line[19..22].parse().expect("status");
        let got = s.request(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(got.status, status, "{path}: {out}");
        if let Some(who) = out.lines().find_map(|l| l.trim().strip_prefix("X-Who: ")) {
            assert_eq!(got.header("X-Who"), Some(who), "{path}");
        }
    }
}

#[test]
fn a_request_that_does_not_parse_gets_a_clear_error() {
    let p = prefix(free_port());
    for (request, extra, want) in [
        (
            "GET",
            &[][..],
            "portico: --explain: \"GET\" is not a request line: give \"METHOD URL\", as in \"GET http://example.com/\"\n",
        ),
        (
            "GET /",
            &[][..],
            "portico: --explain: client sent HTTP/1.1 request without \"Host\" header (a worker answers 400)\n",
        ),
        (
            "GET /a",
            &["-H", "Host"][..],
            "portico: --explain: \"Host\" is not a header: give -H 'Name: value'\n",
        ),
        (
            "GET /a",
            &["--client", "somewhere"][..],
            "portico: --explain: --client \"somewhere\" is not an address (give 192.0.2.1 or 192.0.2.1:5000)\n",
        ),
        (
            "GET /a",
            &["-H", "Host: x", "--listen", "1"][..],
            "portico: --explain: no server listens on 0.0.0.0:1\n",
        ),
        (
            "GET /%zz",
            &["-H", "Host: x"][..],
            "portico: --explain: client sent invalid request (a worker answers 400)\n",
        ),
    ] {
        let (code, _, err) = explain(&p, request, extra);
        assert_eq!((code, err.as_str()), (1, want), "{request} {extra:?}");
    }
    // A configuration that does not load is reported as -t reports it.
    p.write("conf/portico.conf", "events {}\nhttp { lsten 80; }\n");
    let (code, _, err) = explain(&p, "GET http://a/", &[]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown directive \"lsten\""), "{err}");
}
