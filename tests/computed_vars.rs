//! Variables computed from the request — `map`, `geo`, `split_clients` — and
//! `valid_referers`/`$invalid_referer` and `empty_gif`, end to end against the real binary.
//! Expected values are nginx 1.22's: `nginx_1_22_agrees` (ignored: it needs nginx on PATH)
//! sends the same requests to nginx with the same configuration and compares.

mod common;

use common::{Prefix, Response, Server, free_port, run_cli};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The http-level configuration most tests share (`PORT` is the server's port).
const SITE: &str = r#"
    log_format vars "$uri map=$by_arg geo=$geo split=$split ref=$invalid_referer";
    map $arg_a $by_arg {
        default          dflt;
        Foo              exact;
        ~^re-(\d+)-(\w+) "$2:$1";
        ~*^CASE          caseless;
        include          map_extra.conf;
        \default         escaped;
        ""               empty;
    }
    map $http_host $by_host {
        hostnames;
        default          none;
        example.com      exact;
        *.example.com    sub;
        .dot.example.com dot;
        www.example.*    tail;
    }
    map "$scheme://$host$uri" $joined { default "[$scheme://$host$uri]"; }
    map $uri $named { ~^/n/(?<first>\w+)/(?P<second>\w+) "$second-$first-$2"; }
    map $uri $cached { /c/1 first; default other; }
    map $uri $uncached { volatile; /c/2 first; default other; }
    map $arg_a $loop_a { default "a:$loop_b"; }
    map $arg_a $loop_b { default "b:$loop_a"; }
    geo $geo { 127.0.0.0/8 loopback; 192.0.2.0/24 test; default world; }
    geo $arg_ip $geo_arg { ranges; default none; 10.0.0.0-10.0.0.255 ten; 10.0.1.0-10.0.1.9 small; }
    geo $geo_xff { proxy 127.0.0.1; 192.0.2.0/24 test; 127.0.0.0/8 loopback; default world; }
    geo $geo_rec { proxy_recursive; proxy 127.0.0.1; proxy 10.0.0.0/8; 192.0.2.0/24 test; default world; }
    split_clients "${arg_k}x" $split { 0.5% a; 2% b; 10% c; 33.33% d; 50% e; * f; }

    server {
        listen 127.0.0.1:PORT;
        server_name localhost www.example.org ~^img\d\.;
        access_log logs/vars.log vars;
        location / { return 200 "map=$by_arg host=$by_host joined=$joined"; }
        location = /hdr { add_header X-Map $by_arg; add_header X-Geo $geo; return 204; }
        location = /if { if ($by_arg = exact) { return 200 "yes"; } return 200 "no"; }
        location = /set { set $before $by_arg; set $by_arg overridden; return 200 "$before $by_arg"; }
        location = /c/1 { set $seen $cached; rewrite ^ /c/next/1 last; }
        location = /c/2 { set $seen $uncached; rewrite ^ /c/next/2 last; }
        location /c/next/ { return 200 "cached=$cached uncached=$uncached"; }
        location = /loop { return 200 "[$loop_a]"; }
        location /n/ { return 200 $named; }
        location = /geo { return 200 "geo=$geo arg=$geo_arg xff=$geo_xff rec=$geo_rec"; }
        location = /split { return 200 $split; }
        location /ref/ {
            valid_referers none blocked server_names *.example.com example.net/pics/ ~\.google\.;
            if ($invalid_referer) { return 403; }
            return 200 "ok";
        }
        location /gif { empty_gif; }
        location /gif-expires { empty_gif; expires 1h; add_header X-Gif yes; }
    }
"#;

fn start() -> Server {
    Server::start_with(1, SITE, |p| {
        p.write("conf/map_extra.conf", "included from-file;")
    })
}

fn body(s: &Server, path: &str) -> String {
    s.get(path).text()
}

fn with_headers(s: &Server, path: &str, headers: &str) -> Response {
    s.request(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n")
            .as_bytes(),
    )
}

#[test]
fn map_keys_regexes_captures_default_and_include() {
    let s = start();
    let map = |a: &str| body(&s, &format!("/?a={a}"));
    assert!(map("foo").starts_with("map=exact "), "{}", map("foo"));
    assert!(map("FOO").starts_with("map=exact "));
    assert!(map("re-42-xy").starts_with("map=xy:42 "));
    assert!(map("case-x").starts_with("map=caseless "));
    assert!(map("Case-x").starts_with("map=caseless "));
    assert!(map("included").starts_with("map=from-file "));
    assert!(map("default").starts_with("map=escaped "));
    assert!(map("zzz").starts_with("map=dflt "));
    assert!(body(&s, "/").starts_with("map=empty "));
    assert_eq!(body(&s, "/n/ab/cd"), "cd-ab-cd");
    assert!(
        body(&s, "/x").ends_with("joined=[http://localhost/x]"),
        "{}",
        body(&s, "/x")
    );
    s.assert_clean_log();
}

#[test]
fn map_hostnames_match_wildcards_and_ignore_one_trailing_dot() {
    let s = start();
    let host = |h: &str| {
        let r = s.request(
            format!("GET / HTTP/1.1\r\nHost: {h}\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let text = r.text();
        text.split(' ')
            .find_map(|w| w.strip_prefix("host="))
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(host("example.com"), "exact");
    assert_eq!(host("EXAMPLE.com."), "exact");
    assert_eq!(host("a.b.example.com"), "sub");
    assert_eq!(host("dot.example.com"), "dot");
    assert_eq!(host("x.dot.example.com"), "dot");
    assert_eq!(host("www.example.net"), "tail");
    assert_eq!(host("example.org"), "none");
}

#[test]
fn computed_values_reach_headers_conditions_and_the_access_log() {
    let s = start();
    let r = s.get("/hdr?a=foo");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("X-Map"), Some("exact"));
    assert_eq!(r.header("X-Geo"), Some("loopback"));
    assert_eq!(body(&s, "/if?a=Foo"), "yes");
    assert_eq!(body(&s, "/if?a=bar"), "no");
    s.get("/split?a=foo&k=7");
    // The line is written after the response has left: wait for it.
    let line = "/split map=exact geo=loopback split=e ref=\n";
    s.wait_for(5, || s.prefix.read("logs/vars.log").contains(line));
    let log = s.prefix.read("logs/vars.log");
    assert!(log.contains(line), "{log}");
}

#[test]
fn a_value_is_kept_for_the_request_unless_volatile_and_set_overrides_it() {
    let s = start();
    // Computed before the rewrite, read after it: kept, as nginx caches it.
    assert_eq!(body(&s, "/c/1"), "cached=first uncached=other");
    assert_eq!(body(&s, "/c/2"), "cached=other uncached=other");
    assert_eq!(body(&s, "/set?a=foo"), "exact overridden");
}

#[test]
fn a_cycle_is_empty_and_logged_as_nginx_logs_it() {
    let s = start();
    let r = s.get("/loop");
    assert_eq!((r.status, r.text().as_str()), (200, "[a:b:]"));
    assert!(
        s.error_log()
            .contains("cycle while evaluating variable \"loop_a\", client: 127.0.0.1"),
        "{}",
        s.error_log()
    );
}

#[test]
fn geo_by_address_variable_ranges_and_forwarded_for() {
    let s = start();
    assert_eq!(
        body(&s, "/geo?ip=10.0.1.5"),
        "geo=loopback arg=small xff=loopback rec=world"
    );
    assert_eq!(
        body(&s, "/geo?ip=10.0.0.77").split(' ').nth(1),
        Some("arg=ten")
    );
    assert_eq!(
        body(&s, "/geo?ip=10.0.2.0").split(' ').nth(1),
        Some("arg=none")
    );
    assert_eq!(body(&s, "/geo?ip=junk").split(' ').nth(1), Some("arg=none"));
    let xff = |v: &str| with_headers(&s, "/geo", &format!("X-Forwarded-For: {v}\r\n")).text();
    assert!(
        xff("192.0.2.1").ends_with("xff=test rec=test"),
        "{}",
        xff("192.0.2.1")
    );
    assert!(xff("192.0.2.1, 10.0.0.1").ends_with("xff=world rec=test"));
    assert!(xff("192.0.2.1, 127.0.0.1").ends_with("xff=loopback rec=test"));
    assert!(xff("garbage").ends_with("xff=loopback rec=world"));
}

/// Buckets nginx 1.22 gave for `?k=0` .. `?k=299` with this site's `split_clients`.
const NGINX_BUCKETS: &str = "cdedfedefdeeddedddeedeceddddbdeeeeddeefeddedfceddddeebdadecddeeeeeceddeedcdecddededefeeeededdbbeeefedeeeeeedecdeddeeedfddececdeceddeeddcbdeddceeecdeeddeeddfeeeccfedededefedeeeaecdedeedeedddefeddddeddeceedcddddeebaeedeedeedddceeeedeeeeeedecdeeedebdfbedeeedddcdeeededceeeeeecfeeedeeeddeeedcdeeeeededdcc";

#[test]
fn split_clients_buckets_are_nginx_buckets() {
    let s = start();
    let mut c = s.connect();
    let mut got = String::new();
    for k in 0..NGINX_BUCKETS.len() {
        let req = format!("GET /split?k={k} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        common::send(&mut c, req.as_bytes());
        got.push_str(&common::next_response(&mut c).text());
    }
    assert_eq!(got, NGINX_BUCKETS);
}

#[test]
fn invalid_referer_follows_valid_referers() {
    let s = start();
    let status = |referer: Option<&str>| {
        let header = referer.map_or(String::new(), |r| format!("Referer: {r}\r\n"));
        with_headers(&s, "/ref/x", &header).status
    };
    assert_eq!(status(None), 200);
    assert_eq!(status(Some("no-scheme")), 200); // blocked
    assert_eq!(status(Some("http://localhost/")), 200); // server_names
    assert_eq!(status(Some("http://www.example.org/a")), 200);
    assert_eq!(status(Some("https://img4.cdn.net/")), 200); // a server_name regex
    assert_eq!(status(Some("http://a.example.com:8080/")), 200);
    assert_eq!(status(Some("http://example.net/pics/1.png")), 200);
    assert_eq!(status(Some("http://example.net/other")), 403);
    assert_eq!(status(Some("https://www.google.de/search")), 200);
    assert_eq!(status(Some("http://evil.test/")), 403);
    let log = s.prefix.read("logs/vars.log");
    assert!(log.contains("ref=1"), "{log}");
}

/// nginx's 43 bytes.
const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x01\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x01\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02L\x01\x00;";

#[test]
fn empty_gif_answers_as_nginx() {
    let s = start();
    let r = s.get("/gif");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, GIF);
    assert_eq!(
        r.header_names(),
        [
            "Server",
            "Date",
            "Content-Type",
            "Content-Length",
            "Last-Modified",
            "Connection"
        ]
    );
    assert_eq!(r.header("Content-Type"), Some("image/gif"));
    assert_eq!(r.header("Content-Length"), Some("43"));
    assert_eq!(
        r.header("Last-Modified"),
        Some("Mon, 28 Sep 1970 06:00:00 GMT")
    );
    let head = s.request(b"HEAD /gif HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!((head.status, head.body.len()), (200, 0));
    let r = with_headers(
        &s,
        "/gif",
        "If-Modified-Since: Mon, 28 Sep 1970 06:00:00 GMT\r\n",
    );
    assert_eq!((r.status, r.header("Content-Length")), (304, None));
    let r = with_headers(&s, "/gif", "Range: bytes=0-1\r\n");
    assert_eq!((r.status, r.body.len()), (200, 43));
    let r = s.request(
        b"POST /gif HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 405);
    let r = s.get("/gif-expires");
    assert_eq!(r.header("Cache-Control"), Some("max-age=3600"));
    assert_eq!(r.header("X-Gif"), Some("yes"));
    let log = s.prefix.read("logs/vars.log");
    assert!(log.contains("/gif map=empty geo=loopback"), "{log}");
}

#[test]
fn v_declares_the_modules() {
    let prefix = Prefix::new();
    let (_, _, err) = run_cli(&prefix.dir, &["-V"]);
    for module in ["map", "geo", "split_clients", "referer", "empty_gif"] {
        let flag = format!("--without-http_{module}_module");
        assert!(!err.contains(&flag), "{flag} in {err}");
    }
}

#[test]
fn bad_blocks_fail_t_with_file_and_line() {
    let prefix = Prefix::new();
    prefix.write(
        "conf/portico.conf",
        "events {}\nhttp {\n map $uri $x {\n  a b;\n  a c;\n }\n}\n",
    );
    let (code, _, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_eq!(code, 1);
    let want = format!(
        "[emerg] conflicting parameter \"a\" in {}:5",
        prefix.path("conf/portico.conf").display()
    );
    assert!(err.contains(&want), "{err}");
    prefix.write(
        "conf/portico.conf",
        "events {}\nhttp {\n geo $g {\n  10.0.0.0/8 a;\n  10.0.0.0/8 b;\n }\n}\n",
    );
    let (code, _, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("[warn] duplicate network \"10.0.0.0/8\", value: \"b\", old value: \"a\" in"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// The oracle: the same site and requests against nginx 1.22

struct Nginx {
    child: Child,
    port: u16,
    _prefix: Prefix,
}

impl Nginx {
    fn start() -> Nginx {
        let prefix = Prefix::new();
        let port = free_port();
        prefix.write("conf/map_extra.conf", "included from-file;");
        let conf = format!(
            "daemon off;\nworker_processes 1;\nerror_log logs/error.log info;\npid logs/nginx.pid;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\naccess_log logs/access.log;\nclient_body_temp_path logs/body;\n\
             proxy_temp_path logs/proxy;\nfastcgi_temp_path logs/fastcgi;\n\
             uwsgi_temp_path logs/uwsgi;\nscgi_temp_path logs/scgi;\n{}\n}}\n",
            SITE.replace("PORT", &port.to_string())
        );
        prefix.write("conf/nginx.conf", conf);
        let child = Command::new("nginx")
            .arg("-p")
            .arg(&prefix.dir)
            .arg("-c")
            .arg("conf/nginx.conf")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn nginx (is it on PATH?)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Nginx {
            child,
            port,
            _prefix: prefix,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// What is compared: status, body, and the headers nginx and Portico both write alike.
fn observed(port: u16, raw: &str) -> String {
    let mut c = common::connect(port);
    common::send(&mut c, raw.as_bytes());
    let r = common::read_response(&mut c, raw.starts_with("HEAD ")).expect("response");
    // The standard pages name the server, so their length differs.
    let page = r.header("content-type") == Some("text/html");
    let keep = [
        "content-type",
        "content-length",
        "last-modified",
        "x-map",
        "x-geo",
        "x-gif",
    ];
    let headers: Vec<String> = r
        .headers
        .iter()
        .filter(|(n, _)| keep.contains(&n.to_ascii_lowercase().as_str()))
        .filter(|(n, _)| !(page && n.eq_ignore_ascii_case("content-length")))
        .map(|(n, v)| format!("{n}: {v}"))
        .collect();
    let body = String::from_utf8_lossy(&r.body).replace(&common::server_token(), "nginx/1.22.1");
    format!("{} {:?} {body}", r.status, headers)
}

#[test]
#[ignore = "needs nginx 1.22 on PATH: the same site and requests against nginx"]
fn nginx_1_22_agrees() {
    let nginx = Nginx::start();
    let s = start();
    let get = |path: &str, headers: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n")
    };
    let mut requests = Vec::new();
    for a in [
        "foo", "FOO", "re-42-xy", "case-x", "included", "default", "zzz", "",
    ] {
        requests.push(get(&format!("/?a={a}"), ""));
    }
    for host in [
        "example.com",
        "EXAMPLE.com.",
        "a.b.example.com",
        "x.dot.example.com",
        "www.example.net",
        "example.org",
    ] {
        requests.push(format!(
            "GET /h HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        ));
    }
    // Not `/loop`: nginx unrolls a cycle until its nesting limit (100) and repeats the
    // text 50 times; Portico stops where the cycle closes.
    for path in [
        "/n/ab/cd",
        "/hdr?a=foo",
        "/if?a=Foo",
        "/if?a=x",
        "/set?a=foo",
        "/c/1",
        "/c/2",
        "/gif",
        "/gif-expires",
    ] {
        requests.push(get(path, ""));
    }
    for ip in ["10.0.1.5", "10.0.0.77", "10.0.2.0", "junk", "::1"] {
        requests.push(get(&format!("/geo?ip={ip}"), ""));
    }
    for xff in [
        "192.0.2.1",
        "192.0.2.1, 10.0.0.1",
        "192.0.2.1, 127.0.0.1",
        "garbage",
        "[::1]:80",
    ] {
        requests.push(get("/geo", &format!("X-Forwarded-For: {xff}\r\n")));
    }
    for k in 0..1000 {
        requests.push(get(&format!("/split?k={k}"), ""));
    }
    for referer in [
        "no-scheme",
        "http://localhost/",
        "http://www.example.org/a",
        "https://img4.cdn.net/",
        "http://a.example.com:8080/",
        "http://example.net/pics/1.png",
        "http://example.net/other",
        "https://www.google.de/search",
        "http://evil.test/",
        "http://LOCALHOST",
        "http://x",
    ] {
        requests.push(get("/ref/x", &format!("Referer: {referer}\r\n")));
    }
    requests.push(get(
        "/gif",
        "If-Modified-Since: Mon, 28 Sep 1970 06:00:00 GMT\r\n",
    ));
    requests.push("HEAD /gif HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_string());
    requests.push("DELETE /gif HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_string());
    let mut differences = Vec::new();
    for raw in &requests {
        let (theirs, ours) = (observed(nginx.port, raw), observed(s.port, raw));
        if theirs != ours {
            differences.push(format!("{raw:?}\n  nginx:   {theirs}\n  portico: {ours}"));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
