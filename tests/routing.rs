//! Location matching, the rewrite module (`rewrite`, `return`, `set`, `if`, `break`) and
//! variables, end to end against the real binary. Expected values are nginx 1.22's, checked
//! against the installed nginx where the documentation leaves room.

mod common;

use common::{Server, read_to_end, run_cli};
use std::io::Write;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn start(server_body: &str) -> Server {
    start_with(server_body, |_| {})
}

fn start_with(server_body: &str, setup: impl FnOnce(&common::Prefix)) -> Server {
    let block = format!(
        "server {{\n listen 127.0.0.1:PORT;\n server_name localhost;\n {server_body}\n}}\n"
    );
    Server::start_with(1, &block, setup)
}

fn body_of(s: &Server, path: &str) -> (u16, String) {
    let r = s.get(path);
    (r.status, r.text())
}

/// The example of nginx's `location` documentation, with each location answering its letter.
#[test]
fn nginx_documented_location_example() {
    let s = start(
        r#"location = / { return 200 "A"; }
           location / { return 200 "B"; }
           location /documents/ { return 200 "C"; }
           location ^~ /images/ { return 200 "D"; }
           location ~* \.(gif|jpg|jpeg)$ { return 200 "E"; }"#,
    );
    assert_eq!(body_of(&s, "/"), (200, "A".into()));
    assert_eq!(body_of(&s, "/index.html"), (200, "B".into()));
    assert_eq!(body_of(&s, "/documents/document.html"), (200, "C".into()));
    assert_eq!(body_of(&s, "/images/1.gif"), (200, "D".into()));
    assert_eq!(body_of(&s, "/documents/1.jpg"), (200, "E".into()));
    assert_eq!(body_of(&s, "/documents/1.JPG"), (200, "E".into()));
    s.assert_clean_log();
}

#[test]
fn nested_and_regex_locations_in_config_order() {
    let s = start(
        r#"location /a/ {
               location ~ \.php$ { return 200 "nested-php"; }
               return 200 "a";
           }
           location ~ \.(php|txt)$ { return 200 "outer-regex"; }
           location ~ \.txt$ { return 200 "second-regex"; }
           location /a/b/ { return 200 "ab"; }
           location ^~ /n/ { location ~ \.txt$ { return 200 "n-nested"; } return 200 "n"; }"#,
    );
    assert_eq!(body_of(&s, "/a/x.php").1, "nested-php");
    assert_eq!(body_of(&s, "/a/x.txt").1, "outer-regex");
    assert_eq!(body_of(&s, "/a/x.html").1, "a");
    assert_eq!(body_of(&s, "/a/b/c.html").1, "ab");
    assert_eq!(body_of(&s, "/a/b/c.txt").1, "outer-regex");
    // `^~` stops the outer regexes, not the nested ones.
    assert_eq!(body_of(&s, "/n/x.txt").1, "n-nested");
    assert_eq!(body_of(&s, "/n/x.php").1, "n");
    // No location: the server's settings, here the default root: 404.
    assert_eq!(body_of(&s, "/zzz").0, 404);
}

#[test]
fn rewrite_flags_and_captures() {
    let s = start(
        r#"location /old/ { rewrite ^/old/(.*)$ /new/$1 last; }
           location /new/ { return 200 "new:$uri:$args"; }
           location /brk/ { rewrite ^/brk/(.*)$ /elsewhere/$1 break; return 200 "brk:$uri"; }
           location /tmp/ { rewrite ^/tmp/(.*)$ /new/$1 redirect; }
           location /perm/ { rewrite ^/perm/(.*)$ /new/$1? permanent; }
           location /abs/ { rewrite ^ http://example.com/x; }
           location /flagless/ { rewrite ^/flagless/(.*) /new/$1; return 200 "not reached"; }
           location /args/ { rewrite ^ /new/x?b=2 last; }"#,
    );
    assert_eq!(
        body_of(&s, "/old/a/b?q=1"),
        (200, "new:/new/a/b:q=1".into())
    );
    // `break` stops the rewrite directives: the `return` after it does not run, the file
    // is looked up for the new URI in this location.
    assert_eq!(body_of(&s, "/brk/x").0, 404);
    let port = s.port;
    let r = s.get("/tmp/a?q=1");
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("Location"),
        Some(format!("http://localhost:{port}/new/a?q=1").as_str())
    );
    let r = s.get("/perm/a?q=1");
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("Location"),
        Some(format!("http://localhost:{port}/new/a").as_str())
    );
    let r = s.get("/abs/");
    assert_eq!(
        (r.status, r.header("Location")),
        (302, Some("http://example.com/x"))
    );
    // Without a flag the remaining directives run... and `return` ends the request first.
    assert_eq!(body_of(&s, "/flagless/z").1, "not reached");
    assert_eq!(body_of(&s, "/args/?a=1").1, "new:/new/x:b=2&a=1");
}

#[test]
fn rewrite_cycle_is_500_with_nginx_log_line() {
    let s = start(
        r#"location /loop { rewrite ^ /loop2 last; }
           location /loop2 { rewrite ^ /loop last; }"#,
    );
    let r = s.get("/loop");
    assert_eq!(r.status, 500);
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(s.wait_for(2, || s.error_log().contains(
        "rewrite or internal redirection cycle while processing \"/loop2\""
    )));
    assert!(
        s.error_log()
            .contains("request: \"GET /loop HTTP/1.1\", host: \"localhost\"")
    );
}

#[test]
fn return_codes_text_and_redirects() {
    let s = start(
        r#"location /text { return 200 "hello $request_method\n"; }
           location /empty { return 204; }
           location /nf { return 404; }
           location /r301 { return 301 /elsewhere; }
           location /url { return https://example.org/a; }
           location /r307 { return 307 "http://x.test/$uri"; }
           location /close { return 444; }
           location /custom { return 599 "odd"; }"#,
    );
    let r = s.get("/text");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(r.text(), "hello GET\n");
    let r = s.get("/empty");
    // nginx drops Content-Type and Content-Length from a 204.
    assert_eq!(
        (
            r.status,
            r.header("Content-Length"),
            r.header("Content-Type")
        ),
        (204, None, None)
    );
    let r = s.get("/nf");
    assert_eq!(r.status, 404);
    assert!(r.text().contains("<title>404 Not Found</title>"));
    let r = s.get("/r301");
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("Location"),
        Some(format!("http://localhost:{}/elsewhere", s.port).as_str())
    );
    assert!(r.text().contains("301 Moved Permanently"));
    let r = s.get("/url");
    assert_eq!(
        (r.status, r.header("Location")),
        (302, Some("https://example.org/a"))
    );
    let r = s.get("/r307");
    assert_eq!(
        (r.status, r.header("Location")),
        (307, Some("http://x.test//r307"))
    );
    // 444: the connection is closed without a response.
    let mut c = s.connect();
    c.write_all(b"GET /close HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    assert_eq!(read_to_end(&mut c), b"");
    let r = s.get("/custom");
    assert_eq!((r.status, r.text().as_str()), (599, "odd"));
    // The text is typed like a file of the URI (nginx's ngx_http_set_content_type).
    let r = s.get("/text/x.html");
    assert_eq!(r.header("Content-Type"), Some("text/html"));
}

#[test]
fn if_operators_set_and_captures() {
    let s = start_with(
        r#"root html;
           location /eq { if ($arg_a = "x") { return 200 "eq"; } return 200 "ne"; }
           location /neq { if ($arg_a != "x") { return 200 "not-x"; } return 200 "x"; }
           location /re { if ($http_user_agent ~* "^(curl|wget)/(\d+)") { return 200 "$1-$2"; } return 200 "none"; }
           location /nre { if ($uri !~ "^/nre/ok") { return 403; } return 200 "ok"; }
           location /val { if ($cookie_session) { return 200 "has"; } return 200 "no"; }
           location /f { if (-f $request_filename) { return 200 "file"; }
                         if (-d $request_filename) { return 200 "dir"; }
                         if (!-e $request_filename) { return 200 "missing"; } return 200 "other"; }
           location /x { if (-x $document_root/x/run.sh) { return 200 "exec"; } return 200 "noexec"; }
           location /set { set $who "w-$arg_n"; set $twice "$who$who"; return 200 "$twice"; }"#,
        |p| {
            p.write("html/f/file.txt", "f");
            p.write("html/f/sub/a", "a");
            p.write("html/x/run.sh", "#!/bin/sh\n");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                p.path("html/x/run.sh"),
                std::fs::Permissions::from_mode(0o755),
            )
            .expect("chmod");
        },
    );
    assert_eq!(body_of(&s, "/eq?a=x").1, "eq");
    assert_eq!(body_of(&s, "/eq?a=y").1, "ne");
    assert_eq!(body_of(&s, "/neq?a=y").1, "not-x");
    assert_eq!(body_of(&s, "/neq?a=x").1, "x");
    let r = s.request(
        b"GET /re HTTP/1.1\r\nHost: localhost\r\nUser-Agent: CURL/7.1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.text(), "CURL-7");
    assert_eq!(body_of(&s, "/re").1, "none");
    assert_eq!(body_of(&s, "/nre/ok").1, "ok");
    assert_eq!(body_of(&s, "/nre/bad").0, 403);
    let r = s.request(b"GET /val HTTP/1.1\r\nHost: localhost\r\nCookie: a=1; session=abc\r\nConnection: close\r\n\r\n");
    assert_eq!(r.text(), "has");
    assert_eq!(body_of(&s, "/val").1, "no");
    assert_eq!(body_of(&s, "/f/file.txt").1, "file");
    assert_eq!(body_of(&s, "/f/sub").1, "dir");
    assert_eq!(body_of(&s, "/f/nothing").1, "missing");
    assert_eq!(body_of(&s, "/x").1, "exec");
    assert_eq!(body_of(&s, "/set?n=7").1, "w-7w-7");
}

/// An `if` inside a location acts as a nested location: settings set inside it apply, and
/// the rest (here `root`) is inherited.
#[test]
fn if_block_inherits_location_settings() {
    let s = start_with(
        r#"location /s/ { root site; if ($arg_v) { expires 1h; add_header X-If yes; } }"#,
        |p| p.write("site/s/a.txt", "in site\n"),
    );
    let r = s.get("/s/a.txt?v=1");
    assert_eq!((r.status, r.text().as_str()), (200, "in site\n"));
    assert_eq!(r.header("Cache-Control"), Some("max-age=3600"));
    assert_eq!(r.header("X-If"), Some("yes"));
    let r = s.get("/s/a.txt");
    assert_eq!(
        (r.status, r.header("Cache-Control"), r.header("X-If")),
        (200, None, None)
    );
}

#[test]
fn server_level_rewrite_runs_before_the_location_search() {
    let s = start(
        r#"rewrite ^/legacy/(.*)$ /modern/$1;
           if ($http_x_block) { return 403; }
           location /modern/ { return 200 "modern $uri"; }
           location /legacy/ { return 200 "legacy"; }"#,
    );
    assert_eq!(body_of(&s, "/legacy/page").1, "modern /modern/page");
    let r = s.request(
        b"GET /modern/ HTTP/1.1\r\nHost: localhost\r\nX-Block: 1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 403);
}

#[test]
fn internal_locations_answer_404_to_clients_but_serve_redirects() {
    let s = start_with(
        r#"location /private/ { internal; root html; }
           location /via/ { error_page 404 /private/page.html; return 404; }"#,
        |p| p.write("html/private/page.html", "private\n"),
    );
    assert_eq!(s.get("/private/page.html").status, 404);
    let r = s.get("/via/x");
    assert_eq!((r.status, r.text().as_str()), (404, "private\n"));
}

#[test]
fn variables_of_the_request() {
    let s = start(
        r#"location /v/ { return 200 "uri=$uri doc=$document_uri ru=$request_uri args=$args qs=$query_string a=$arg_a isargs=$is_args host=$host hh=$http_host method=$request_method proto=$server_protocol scheme=$scheme sp=$server_port sa=$server_addr ra=$remote_addr name=$server_name req=$request ct=$content_type cl=$content_length cookie=$cookie_c root=$document_root file=$request_filename"; }"#,
    );
    let raw = "POST /v/a%20b?a=1&b=2 HTTP/1.1\r\nHost: LocalHost:99\r\nContent-Type: text/x\r\nContent-Length: 0\r\nCookie: c=cv\r\nConnection: close\r\n\r\n";
    let r = s.request(raw.as_bytes());
    let root = s.prefix.path("html");
    let root = root.display();
    let want = format!(
        "uri=/v/a b doc=/v/a b ru=/v/a%20b?a=1&b=2 args=a=1&b=2 qs=a=1&b=2 a=1 isargs=? \
         host=localhost hh=LocalHost:99 method=POST proto=HTTP/1.1 scheme=http sp={} \
         sa=127.0.0.1 ra=127.0.0.1 name=localhost req=POST /v/a%20b?a=1&b=2 HTTP/1.1 \
         ct=text/x cl=0 cookie=cv root={root} file={root}/v/a b",
        s.port
    );
    assert_eq!(r.text(), want);
}

#[test]
fn unknown_variable_is_refused_at_test_time() {
    let dir = common::Prefix::new();
    dir.write(
        "conf/bad.conf",
        "events {}\nhttp { server { listen 127.0.0.1:1; location / { return 200 \"$foo\"; } } }\n",
    );
    let (code, _out, err) = run_cli(
        &dir.dir,
        &["-p", dir.dir.to_str().unwrap(), "-t", "-c", "conf/bad.conf"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("unknown \"foo\" variable"), "{err}");
    let _ = VERSION;
}

/// Variables the access log reads after the response: the rewritten `$uri` and `$args`,
/// `set` values, `$sent_http_*`, `$remote_user`, `$request_id`, `$request_filename`.
#[test]
fn access_log_sees_the_routed_request() {
    let block = r#"log_format t '$uri|$args|$who|$sent_http_content_type|$sent_http_x_a|$remote_user|$request_id|$request_filename|$status';
        server { listen 127.0.0.1:PORT; server_name localhost; root html;
                 access_log logs/t.log t;
                 location /r/ { set $who me; rewrite ^/r/(.*)$ /s/$1?z=1 last; }
                 location /s/ { add_header X-A $arg_z; } }"#;
    let s = common::Server::start_with(1, block, |p| p.write("html/s/f.txt", "f"));
    let r = s.request(
        b"GET /r/f.txt?q=2 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic dXNlcjpwYXNz\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((r.status, r.header("X-A")), (200, Some("1")));
    assert!(s.wait_for(2, || s.prefix.read("logs/t.log").ends_with('\n')));
    let line = s.prefix.read("logs/t.log");
    let f: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(
        &f[..6],
        ["/s/f.txt", "z=1&q=2", "me", "text/plain", "1", "user"]
    );
    assert!(f[6].len() == 32 && f[6].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(f[7], s.prefix.path("html/s/f.txt").display().to_string());
    assert_eq!(f[8], "200");
}

/// Common production redirects, compared header by header with nginx 1.22: a Location that
/// nginx completes itself (relative) comes before `Connection`, an absolute one after it.
#[test]
fn https_redirect_idioms() {
    let block = r#"server { listen 127.0.0.1:PORT; server_name a.test; return 301 https://$host$request_uri; }
        server { listen 127.0.0.1:PORT; server_name b.test; rewrite ^ https://$host$request_uri? permanent; }
        server { listen 127.0.0.1:PORT; server_name c.test; location / { return 301 /moved; } }"#;
    let s = common::Server::start(block);
    let get = |host: &str| {
        s.request(
            format!("GET /x?y=1 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
    };
    let r = get("a.test");
    assert_eq!(
        (r.status, r.header("Location")),
        (301, Some("https://a.test/x?y=1"))
    );
    assert_eq!(r.header_names()[4..6], ["Connection", "Location"]);
    let r = get("b.test");
    assert_eq!(
        (r.status, r.header("Location")),
        (301, Some("https://b.test/x?y=1"))
    );
    let r = get("c.test");
    let moved = format!("http://c.test:{}/moved", s.port);
    assert_eq!(
        (r.status, r.header("Location")),
        (301, Some(moved.as_str()))
    );
    assert_eq!(r.header_names()[4..6], ["Location", "Connection"]);
}

/// nginx's not-modified filter runs on every 200, not only on files: a `return 200` has no
/// validators, so `If-Match` (not `*`) and `If-Unmodified-Since` fail with 412 and
/// `If-None-Match: *` gives 304, whatever the method (checked against nginx 1.22).
#[test]
fn preconditions_apply_to_return_texts() {
    let s = start(r#"location /t { add_header X-T t; return 200 "text"; }"#);
    let req = |method: &str, header: &str| {
        s.request(
            format!(
                "{method} /t HTTP/1.1\r\nHost: localhost\r\n{header}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
    };
    assert_eq!(req("GET", "If-Match: \"x\"").status, 412);
    assert_eq!(req("GET", "If-Match: *").status, 200);
    assert_eq!(
        req("GET", "If-Unmodified-Since: Thu, 01 Jan 2037 00:00:01 GMT").status,
        412
    );
    assert_eq!(
        req("GET", "If-Modified-Since: Thu, 01 Jan 2037 00:00:01 GMT").status,
        200
    );
    let r = req("DELETE", "If-None-Match: *");
    assert_eq!(
        (r.status, r.header("Content-Type"), r.header("X-T")),
        (304, None, Some("t"))
    );
}

#[test]
fn uninitialized_set_variable_warns_like_nginx() {
    let s = start(
        r#"location /u { return 200 "[$xx]"; }
           location /s { set $xx 1; return 200 "$xx"; }
           location /q { uninitialized_variable_warn off; return 200 "[$xx]"; }"#,
    );
    assert_eq!(s.get("/u").text(), "[]");
    assert_eq!(s.get("/s").text(), "1");
    assert_eq!(s.get("/q").text(), "[]");
    assert!(s.wait_for(2, || s.error_log().contains(
        "[warn]"
    ) && s.error_log().contains(
        "using uninitialized \"xx\" variable, client: 127.0.0.1, server: localhost, request: \"GET /u HTTP/1.1\""
    )));
    assert_eq!(s.error_log().matches("using uninitialized").count(), 1);
}

/// Kept-alive requests start from a clean routing state: `set` values, captures,
/// rewritten arguments and error-page flags of one request do not leak into the next.
#[test]
fn routing_state_does_not_leak_between_requests() {
    let s = start(
        r#"location /s { set $xx 1; rewrite ^ /show?from=s last; }
           location ~ ^/cap/(\w+)$ { return 200 "cap $1"; }
           location /show { return 200 "[$xx|$1|$args]"; }
           location /ep { error_page 404 /show; return 404; }"#,
    );
    let mut c = s.connect();
    let mut ask = |target: &str| {
        c.write_all(format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .expect("write");
        let r = common::read_response(&mut c, false).expect("response");
        (r.status, r.text())
    };
    assert_eq!(ask("/s"), (200, "[1||from=s]".into()));
    assert_eq!(ask("/cap/abc"), (200, "cap abc".into()));
    assert_eq!(ask("/show"), (200, "[||]".into()));
    assert_eq!(ask("/ep"), (404, "[||]".into()));
    assert_eq!(ask("/show?q=1"), (200, "[||q=1]".into()));
}

#[test]
fn status_in_a_return_text_is_the_code_returned() {
    // ngx_http_send_response sets the status before it evaluates the text (nginx 1.22
    // answers "200 / 404" here).
    let s = start(
        r#"location = /ok { return 200 "$status\n"; }
           location = /gone { return 404 "$status\n"; }"#,
    );
    let ok = s.get("/ok");
    assert_eq!((ok.status, ok.text().as_str()), (200, "200\n"));
    let gone = s.get("/gone");
    assert_eq!((gone.status, gone.text().as_str()), (404, "404\n"));
    s.assert_clean_log();
}

#[test]
fn an_error_page_for_a_redirect_keeps_its_location() {
    // nginx keeps r->headers_out.location through error_page's internal redirect: the page
    // goes out with the redirect's status and Location (completed when it starts with
    // `/`), as nginx-tests rewrite.t 'error 302 return 200 text' checks. Portico dropped it.
    let s = start(
        "location /e { error_page 302 /t; return 302 \"text\"; }\n\
         location /r { error_page 302 /t; rewrite ^ /abs redirect; }\n\
         location /n { error_page 302 @named; return 302 /x; }\n\
         location /o { error_page 302 /again; return 302 /first; }\n\
         location /again { return 301 /second; }\n\
         location @named { return 200 named; }\n\
         location /t { return 200 body; }",
    );
    let p = s.port;
    let r = s.get("/e");
    assert_eq!((r.status, r.text().as_str()), (302, "body"));
    assert_eq!(r.header("Location"), Some("text"));
    let r = s.get("/r");
    assert_eq!(
        r.header("Location"),
        Some(format!("http://localhost:{p}/abs").as_str())
    );
    let r = s.get("/n");
    assert_eq!((r.status, r.text().as_str()), (302, "named"));
    assert_eq!(
        r.header("Location"),
        Some(format!("http://localhost:{p}/x").as_str())
    );
    // A redirect made by the error page itself replaces the kept one, status included
    // (checked against nginx 1.22).
    let r = s.get("/o");
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("Location"),
        Some(format!("http://localhost:{p}/second").as_str())
    );
}
