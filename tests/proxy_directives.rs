//! The proxy module's directives beyond `proxy_pass` and the upstream module's variables,
//! each checked against what nginx 1.22 does (side by side with `/usr/sbin/nginx` where the
//! exact bytes mattered): what goes upstream (`proxy_method`, `proxy_set_body`,
//! `proxy_pass_request_*`, a `proxy_pass` URL with variables), what comes back
//! (`proxy_redirect`, `proxy_cookie_*`, `X-Accel-*`), where the connection goes (unix
//! sockets, `proxy_bind`, `random`, `keepalive_time`) and `$upstream_*`.

mod common;
#[path = "support/scripted.rs"]
mod scripted;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{Prefix, Server, read_response, run_cli};
use scripted::{Scripted, respond};

fn start(http: &str) -> Server {
    Server::start_with(1, http, |p| {
        p.write("html/files/f.txt", "file content\n");
    })
}

fn request(server: &Server, raw: &str) -> common::Response {
    server.request(raw.replace("PORT", &server.port.to_string()).as_bytes())
}

fn get(server: &Server, path: &str) -> common::Response {
    server.get(path)
}

/// The access-log lines once `n` are there.
fn log_lines(server: &Server, n: usize) -> Vec<String> {
    assert!(
        server.wait_for(5, || server.access_log().lines().count() >= n),
        "access log: {}",
        server.access_log()
    );
    server.access_log().lines().map(str::to_string).collect()
}

#[test]
fn a_url_with_variables_whose_uri_is_only_arguments_sends_a_slash_first() {
    // Issue 11 (3): nginx's ngx_http_proxy_eval puts "/" before a URI part that starts
    // with "?"; Portico sent the request-target "?b=1".
    let up = Scripted::tcp(|_| respond(200, "", "ok"));
    let server = start(&format!(
        "server {{ listen 127.0.0.1:PORT;\n\
           location /s/ {{ set $suffix \"?b=1\"; proxy_pass http://127.0.0.1:{0}$suffix; }}\n\
           location /u/ {{ proxy_pass http://127.0.0.1:{0}/x$is_args$args; }} }}",
        up.port
    ));
    assert_eq!(get(&server, "/s/a?c=2").status, 200);
    assert_eq!(get(&server, "/u/a?c=2").status, 200);
    let got = up.got();
    assert_eq!(got[0].line, "GET /?b=1 HTTP/1.1");
    assert_eq!(got[1].line, "GET /x?c=2 HTTP/1.1");
    server.assert_clean_log();
}

#[test]
fn a_location_the_default_proxy_redirect_rewrites_comes_out_as_nginx_makes_it() {
    // Issue 11 (8): the rewritten Location is completed by the header filter (host as
    // nginx keeps it, lowercased; the port unless 80 or port_in_redirect off; the server
    // name with server_name_in_redirect; the local address without a Host), placed before
    // Connection; a relative one from the upstream stays as it was.
    let up = Scripted::tcp(|r| {
        let target = r.line.split(' ').nth(1).unwrap_or("");
        let location = target.split_once("loc=").map_or("", |(_, l)| l);
        respond(302, &format!("Location: {location}\r\n"), "")
    });
    let u = up.port;
    let server = start(&format!(
        "server {{ listen 127.0.0.1:PORT; server_name example.com;\n\
           location /api/ {{ proxy_pass http://127.0.0.1:{u}/v2/; }}\n\
           location /plain/ {{ proxy_pass http://127.0.0.1:{u}; }}\n\
           location /np/ {{ proxy_pass http://127.0.0.1:{u}/; port_in_redirect off; }}\n\
           location /sn/ {{ proxy_pass http://127.0.0.1:{u}/; server_name_in_redirect on; }}\n\
           location /rel/ {{ proxy_pass http://127.0.0.1:{u}/; absolute_redirect off; }}\n\
           location ~ ^/re/ {{ proxy_pass http://127.0.0.1:{u}; }} }}"
    ));
    let p = server.port;
    let loc = |path: &str, host: &str| {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let r = server.request(raw.as_bytes());
        assert_eq!(r.status, 302);
        (
            r.header("Location").unwrap_or("").to_string(),
            r.header_names().join(","),
        )
    };
    let (value, names) = loc(
        &format!("/api/a?loc=http://127.0.0.1:{u}/v2/next"),
        "Probe.Example",
    );
    assert_eq!(value, format!("http://probe.example:{p}/api/next"));
    assert!(names.find("Location") < names.find("Connection"), "{names}");
    assert_eq!(
        loc(&format!("/plain/a?loc=http://127.0.0.1:{u}/x"), "localhost").0,
        format!("http://localhost:{p}/x")
    );
    // Not the URL as written, or not a prefix: as sent, after Connection.
    let (value, names) = loc(
        &format!("/api/a?loc=http://127.0.0.1:{u}/v3/n"),
        "localhost",
    );
    assert_eq!(value, format!("http://127.0.0.1:{u}/v3/n"));
    assert!(names.find("Location") > names.find("Connection"), "{names}");
    assert_eq!(loc("/api/a?loc=/v2/next", "localhost").0, "/v2/next");
    assert_eq!(
        loc(&format!("/np/a?loc=http://127.0.0.1:{u}/x"), "localhost").0,
        "http://localhost/np/x"
    );
    assert_eq!(
        loc(&format!("/sn/a?loc=http://127.0.0.1:{u}/x"), "localhost").0,
        format!("http://example.com:{p}/sn/x")
    );
    assert_eq!(
        loc(&format!("/rel/a?loc=http://127.0.0.1:{u}/x"), "localhost").0,
        "/rel/x"
    );
    // A regex location has the default too: the URL plus "/" becomes "/".
    assert_eq!(
        loc(&format!("/re/a?loc=http://127.0.0.1:{u}/x"), "localhost").0,
        format!("http://localhost:{p}/x")
    );
    // HTTP/1.0 without Host: the address the connection came in on.
    let raw = format!("GET /plain/a?loc=http://127.0.0.1:{u}/y HTTP/1.0\r\n\r\n");
    let r = server.request(raw.as_bytes());
    assert_eq!(
        r.header("Location"),
        Some(&*format!("http://127.0.0.1:{p}/y"))
    );
    server.assert_clean_log();
}

#[test]
fn method_body_and_header_passing() {
    let up = Scripted::tcp(|_| respond(200, "", "ok"));
    let server = start(&format!(
        "proxy_http_version 1.0;\n\
         server {{ listen 127.0.0.1:PORT;\n\
           location /m/ {{ proxy_pass http://127.0.0.1:{0}/; proxy_method PUT; proxy_set_body \"hello $arg_a\"; }}\n\
           location /h/ {{ proxy_pass http://127.0.0.1:{0}/; proxy_pass_request_headers off; }}\n\
           location /b/ {{ proxy_pass http://127.0.0.1:{0}/; proxy_pass_request_body off; }} }}",
        up.port
    ));
    let r = request(
        &server,
        "POST /m/a?a=1 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    let r = request(
        &server,
        "GET /h/a HTTP/1.1\r\nHost: localhost\r\nX-Foo: bar\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    let r = request(
        &server,
        "POST /b/a HTTP/1.1\r\nHost: localhost\r\nX-Foo: bar\r\nContent-Length: 3\r\n\
         Connection: close\r\n\r\nxyz",
    );
    assert_eq!(r.status, 200);
    let got = up.got();
    let p = up.port;
    assert_eq!(
        got[0].head,
        format!(
            "PUT /a?a=1 HTTP/1.0\r\nHost: 127.0.0.1:{p}\r\nConnection: close\r\n\
             Content-Length: 7\r\n\r\n"
        )
    );
    assert_eq!(got[0].body, b"hello 1");
    assert_eq!(
        got[1].head,
        format!("GET /a HTTP/1.0\r\nHost: 127.0.0.1:{p}\r\nConnection: close\r\n\r\n")
    );
    // As nginx: the length is announced, the body is not sent.
    assert_eq!(
        got[2].head,
        format!(
            "POST /a HTTP/1.0\r\nHost: 127.0.0.1:{p}\r\nConnection: close\r\n\
             Content-Length: 3\r\nX-Foo: bar\r\n\r\n"
        )
    );
    assert!(got[2].body.is_empty());
    server.assert_clean_log();
}

#[test]
fn set_cookie_fields_are_rewritten_as_nginx_rewrites_them() {
    let up = Scripted::tcp(|_| {
        respond(
            200,
            "Set-Cookie: a=b;  Domain=.Example.com ;Path=/one/x; SameSite=lax\r\n\
             Set-Cookie: c=d; secure\r\nSet-Cookie: e=f; path=/other\r\n",
            "",
        )
    });
    let server = start(&format!(
        "server {{ listen 127.0.0.1:PORT;\n\
           location / {{ proxy_pass http://127.0.0.1:{}; proxy_cookie_domain example.com $host;\n\
             proxy_cookie_path ~^/one/(.*) /two/$1; proxy_cookie_flags ~^[ac]$ secure samesite=strict; }} }}",
        up.port
    ));
    let r = get(&server, "/");
    let cookies: Vec<&str> = r
        .headers
        .iter()
        .filter(|(n, _)| n == "Set-Cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        cookies,
        [
            "a=b; Domain=.localhost; Path=/two/x; SameSite=Strict; Secure",
            "c=d; secure; SameSite=Strict",
            "e=f; path=/other"
        ]
    );
    server.assert_clean_log();
}

#[test]
fn x_accel_redirect_goes_to_a_file_a_named_location_or_a_404() {
    let up = Scripted::tcp(|r| {
        let target = r.line.split(' ').nth(1).unwrap_or("");
        let xar = target.split_once("xar=").map_or("", |(_, l)| l);
        respond(
            200,
            &format!(
                "X-Accel-Redirect: {xar}\r\nContent-Type: application/x-up\r\n\
                 Content-Disposition: attachment\r\nSet-Cookie: s=1\r\nX-Other: 1\r\n"
            ),
            "upstream body",
        )
    });
    let server = start(&format!(
        "server {{ listen 127.0.0.1:PORT; root html;\n\
           location /x/ {{ proxy_pass http://127.0.0.1:{0}/; }}\n\
           location /i/ {{ proxy_pass http://127.0.0.1:{0}/; proxy_ignore_headers X-Accel-Redirect; }}\n\
           location /files/ {{ internal; }}\n\
           location @named {{ return 200 \"named $uri $request_method $upstream_http_x_accel_redirect\"; }} }}",
        up.port
    ));
    let r = request(
        &server,
        "POST /x/a?xar=/files/f.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\
         Connection: close\r\n\r\nhi",
    );
    assert_eq!((r.status, r.text().as_str()), (200, "file content\n"));
    assert_eq!(r.header("Content-Type"), Some("application/x-up"));
    assert_eq!(r.header("Content-Disposition"), Some("attachment"));
    assert_eq!(r.header("Set-Cookie"), Some("s=1"));
    assert_eq!(r.header("X-Other"), None);
    let names = r.header_names().join(",");
    assert!(names.find("Set-Cookie") < names.find("ETag"), "{names}");
    let r = request(
        &server,
        "POST /x/a?xar=@named HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n",
    );
    assert_eq!(r.text(), "named /x/a POST @named");
    assert_eq!(get(&server, "/x/a?xar=/files/../etc").status, 404);
    assert_eq!(get(&server, "/x/a?xar=/files/missing").status, 404);
    let r = get(&server, "/i/a?xar=/files/f.txt");
    assert_eq!((r.status, r.text().as_str()), (200, "upstream body"));
    assert_eq!(r.header("X-Accel-Redirect"), None);
    let log = server.error_log();
    assert!(
        log.contains("unsafe URI \"/files/../etc\" was detected"),
        "{log}"
    );
    server.assert_clean_log();
}

#[test]
fn upstream_variables_count_bytes_and_separate_tries_and_redirects() {
    let up = Scripted::tcp(|r| {
        let target = r.line.split(' ').nth(1).unwrap_or("");
        if target.starts_with("/bad") {
            return respond(502, "", "");
        }
        if target.starts_with("/xar") {
            return respond(200, "X-Accel-Redirect: /second/z\r\n", "");
        }
        respond(
            200,
            "X-Len: 42\r\nSet-Cookie: sid=abc; Path=/\r\n",
            "0123456789",
        )
    });
    let u = up.port;
    let server = start(&format!(
        "log_format up '$uri $upstream_addr $upstream_status $upstream_response_length \
                        $upstream_bytes_received $upstream_bytes_sent $upstream_http_x_len \
                        $upstream_cookie_sid \"$upstream_trailer_x\" \"$upstream_response_time\"';\n\
         access_log logs/access.log up;\n\
         upstream two {{ server 127.0.0.1:{u}; server 127.0.0.1:{u}; }}\n\
         server {{ listen 127.0.0.1:PORT;\n\
           location /one/ {{ proxy_pass http://127.0.0.1:{u}/; }}\n\
           location /next/ {{ proxy_pass http://two/bad/; proxy_next_upstream http_502; }}\n\
           location /xar/ {{ proxy_pass http://127.0.0.1:{u}; }}\n\
           location /second/ {{ proxy_pass http://127.0.0.1:{u}/; }} }}"
    ));
    assert_eq!(get(&server, "/one/a").text(), "0123456789");
    assert_eq!(get(&server, "/next/a").status, 502);
    assert_eq!(get(&server, "/xar/a").text(), "0123456789");
    let lines = log_lines(&server, 3);
    let got = up.got();
    let sent = got[0].head.len();
    let head =
        "HTTP/1.1 200 X\r\nX-Len: 42\r\nSet-Cookie: sid=abc; Path=/\r\nContent-Length: 10\r\n\r\n";
    let received = head.len() + 10;
    let fields: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(
        fields[..9],
        [
            "/one/a",
            &format!("127.0.0.1:{u}"),
            "200",
            "10",
            &received.to_string(),
            &sent.to_string(),
            "42",
            "abc",
            "\"-\""
        ]
    );
    let addr = format!("127.0.0.1:{u}");
    assert!(
        lines[1].starts_with(&format!("/next/a {addr}, {addr} 502, 502 0, 0 ")),
        "{}",
        lines[1]
    );
    // An X-Accel-Redirect to another proxied location: " : " between the two uses.
    assert!(
        lines[2].starts_with(&format!("/second/z {addr} : {addr} 200 : 200 0 : 10 ")),
        "{}",
        lines[2]
    );
    let time = lines[2].rsplit('"').nth(1).unwrap_or("");
    assert!(time.contains(" : "), "{time}");
    server.assert_clean_log();
}

#[test]
fn unix_socket_upstreams() {
    let prefix_dir = std::env::temp_dir().join(format!("portico-unix-{}", std::process::id()));
    std::fs::create_dir_all(&prefix_dir).expect("dir");
    let path = prefix_dir.join("app.sock");
    let up = Scripted::unix(&path, |r| respond(200, "", &r.line));
    // Workers started by root run as nobody: the socket must let them connect.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let p = path.display();
    let server = start(&format!(
        "log_format up '$upstream_addr $proxy_host \"$proxy_port\"';\n\
         access_log logs/access.log up;\n\
         upstream u {{ server unix:{p}; }}\n\
         server {{ listen 127.0.0.1:PORT;\n\
           location /a/ {{ proxy_pass http://unix:{p}:/app/; }}\n\
           location /g/ {{ proxy_pass http://u; }}\n\
           location /v/ {{ proxy_pass http://$arg_to; }} }}"
    ));
    assert_eq!(get(&server, "/a/x").text(), "GET /app/x HTTP/1.1");
    assert_eq!(get(&server, "/g/y").text(), "GET /g/y HTTP/1.1");
    assert_eq!(
        get(&server, &format!("/v/z?to=unix:{p}:/w")).text(),
        "GET /w HTTP/1.1"
    );
    assert_eq!(up.got()[0].header("host").as_deref(), Some("localhost"));
    let lines = log_lines(&server, 3);
    assert_eq!(lines[0], format!("unix:{p} localhost \"\""));
    let _ = std::fs::remove_dir_all(&prefix_dir);
    server.assert_clean_log();
}

#[test]
fn proxy_bind_picks_the_local_address_and_is_not_pooled_across_addresses() {
    let up = Scripted::tcp(|r| respond(200, "", &r.peer));
    let server = start(&format!(
        "server {{ listen 127.0.0.1:PORT; proxy_bind 127.0.0.2;\n\
           location / {{ proxy_pass http://127.0.0.1:{0}; }}\n\
           location /off/ {{ proxy_bind off; proxy_pass http://127.0.0.1:{0}; }}\n\
           location /var/ {{ proxy_bind $arg_b; proxy_pass http://127.0.0.1:{0}; }} }}",
        up.port
    ));
    assert!(get(&server, "/").text().starts_with("127.0.0.2:"));
    assert!(get(&server, "/off/").text().starts_with("127.0.0.1:"));
    assert!(
        get(&server, "/var/?b=127.0.0.3")
            .text()
            .starts_with("127.0.0.3:")
    );
    assert!(get(&server, "/var/?b=").text().starts_with("127.0.0.1:"));
    assert!(
        get(&server, "/var/?b=nonsense")
            .text()
            .starts_with("127.0.0.1:")
    );
    assert!(
        server
            .error_log()
            .contains("invalid local address \"nonsense\"")
    );
}

#[test]
fn a_transparent_bind_keeps_the_capability_it_needs_in_workers() {
    // Workers run as nobody when the master is root: without CAP_NET_RAW, IP_TRANSPARENT
    // is refused (nginx keeps the capability for `transparent`).
    if !nix_is_root() {
        return;
    }
    let up = Scripted::tcp(|r| respond(200, "", &r.peer));
    let server = start(&format!(
        "server {{ listen 127.0.0.1:PORT;\n\
           location / {{ proxy_bind 127.0.0.2 transparent; proxy_pass http://127.0.0.1:{}; }} }}",
        up.port
    ));
    let r = get(&server, "/");
    assert!(
        r.text().starts_with("127.0.0.2:"),
        "{} {}",
        r.status,
        server.error_log()
    );
    server.assert_clean_log();
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn random_balancing_spreads_by_weight() {
    let a = Scripted::tcp(|_| respond(200, "", "a"));
    let b = Scripted::tcp(|_| respond(200, "", "b"));
    let server = start(&format!(
        "upstream r {{ random; server 127.0.0.1:{}; server 127.0.0.1:{} weight=3; }}\n\
         upstream r2 {{ random two least_conn; server 127.0.0.1:{0}; server 127.0.0.1:{1}; }}\n\
         server {{ listen 127.0.0.1:PORT; location / {{ proxy_pass http://r; }}\n\
           location /two/ {{ proxy_pass http://r2; }} }}",
        a.port, b.port
    ));
    let mut count = [0usize; 2];
    for _ in 0..200 {
        match get(&server, "/").text().as_str() {
            "a" => count[0] += 1,
            _ => count[1] += 1,
        }
    }
    // One to three: the lighter server gets about 50 of 200, far from both ends.
    assert!((25..=80).contains(&count[0]), "{count:?}");
    let twos: Vec<String> = (0..20).map(|_| get(&server, "/two/").text()).collect();
    assert!(
        twos.iter().any(|t| t == "a") && twos.iter().any(|t| t == "b"),
        "{twos:?}"
    );
    server.assert_clean_log();
}

#[test]
fn keepalive_time_closes_a_connection_after_its_time() {
    let up = Scripted::tcp(|_| respond(200, "", "ok"));
    let server = start(&format!(
        "upstream u {{ server 127.0.0.1:{}; keepalive 4; keepalive_time 1s; }}\n\
         server {{ listen 127.0.0.1:PORT; location / {{ proxy_pass http://u; }} }}",
        up.port
    ));
    get(&server, "/");
    get(&server, "/");
    std::thread::sleep(Duration::from_millis(1200));
    // Still cached (only served once it is too old), then closed after this request.
    get(&server, "/");
    get(&server, "/");
    let conns: Vec<usize> = up.got().iter().map(|g| g.conn).collect();
    assert_eq!(conns, [1, 1, 1, 2]);
    server.assert_clean_log();
}

#[test]
fn limit_rate_holds_a_buffered_response_back_and_x_accel_buffering_lifts_it() {
    let body = "x".repeat(30_000);
    let b = body.clone();
    let up = Scripted::tcp(move |r| {
        let buffering = if r.line.contains("nobuf") {
            "X-Accel-Buffering: no\r\n"
        } else {
            ""
        };
        respond(200, buffering, &b)
    });
    let server = start(&format!(
        "server {{ listen 127.0.0.1:PORT; location / {{ proxy_pass http://127.0.0.1:{};\n\
           proxy_limit_rate 10k; proxy_buffers 8 64k; }} }}",
        up.port
    ));
    let t0 = Instant::now();
    let r = get(&server, "/");
    let slow = t0.elapsed();
    assert_eq!(r.body.len(), body.len());
    // 30,000 bytes at 10,240 per second: the third second has begun.
    assert!(slow >= Duration::from_millis(1900), "{slow:?}");
    let t0 = Instant::now();
    let r = get(&server, "/nobuf");
    assert_eq!(r.body.len(), body.len());
    assert!(
        t0.elapsed() < Duration::from_millis(1000),
        "{:?}",
        t0.elapsed()
    );
    server.assert_clean_log();
}

#[test]
fn ignore_client_abort_waits_for_the_upstream_answer() {
    let up = Scripted::tcp(|_| {
        std::thread::sleep(Duration::from_millis(400));
        respond(200, "", "late")
    });
    let server = start(&format!(
        "log_format up '$uri $status $upstream_status';\n\
         access_log logs/access.log up;\n\
         server {{ listen 127.0.0.1:PORT;\n\
           location /keep/ {{ proxy_pass http://127.0.0.1:{0}; proxy_ignore_client_abort on; }}\n\
           location /drop/ {{ proxy_pass http://127.0.0.1:{0}; }} }}",
        up.port
    ));
    for path in ["/keep/", "/drop/"] {
        let mut s = server.connect();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .expect("write");
        std::thread::sleep(Duration::from_millis(100));
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    }
    let lines = log_lines(&server, 2);
    assert!(lines.contains(&"/keep/ 200 200".to_string()), "{lines:?}");
    assert!(lines.contains(&"/drop/ 499 -".to_string()), "{lines:?}");
}

#[test]
fn force_ranges_answers_one_range_of_a_proxied_response() {
    let up = Scripted::tcp(|_| respond(200, "Accept-Ranges: none\r\n", "0123456789"));
    let server = start(&format!(
        "server {{ listen 127.0.0.1:PORT;\n\
           location /r/ {{ proxy_pass http://127.0.0.1:{0}/; proxy_force_ranges on; }}\n\
           location /n/ {{ proxy_pass http://127.0.0.1:{0}/; }} }}",
        up.port
    ));
    let range = |path: &str, range: &str| {
        request(
            &server,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: localhost\r\nRange: {range}\r\nConnection: close\r\n\r\n"
            ),
        )
    };
    let r = range("/r/", "bytes=2-5");
    assert_eq!((r.status, r.text().as_str()), (206, "2345"));
    assert_eq!(r.header("Content-Range"), Some("bytes 2-5/10"));
    assert_eq!(r.header("Accept-Ranges"), None);
    let r = range("/r/", "bytes=0-1,4-5");
    assert_eq!((r.status, r.header("Accept-Ranges")), (200, Some("bytes")));
    assert_eq!(r.text(), "0123456789");
    let r = range("/r/", "bytes=20-");
    assert_eq!(
        (r.status, r.header("Content-Range")),
        (416, Some("bytes */10"))
    );
    // Without the directive the response goes as it came.
    let r = range("/n/", "bytes=2-5");
    assert_eq!((r.status, r.header("Accept-Ranges")), (200, Some("none")));
    server.assert_clean_log();
}

#[test]
fn a_proxied_location_redirects_its_name_without_the_slash() {
    // nginx's auto_redirect: `location /app/ { proxy_pass ...; }` answers `/app` with 301.
    let up = Scripted::tcp(|_| respond(200, "", "up"));
    let server = start(&format!(
        "server {{ listen 127.0.0.1:PORT; location / {{ return 200 root; }}\n\
           location /app/ {{ proxy_pass http://127.0.0.1:{0}/; }}\n\
           location /both/ {{ proxy_pass http://127.0.0.1:{0}/; }}\n\
           location /both {{ return 200 both; }}\n\
           location /n/ {{ location /n/m/ {{ proxy_pass http://127.0.0.1:{0}/; }} }}\n\
           location ~ ^/app$ {{ return 200 regex; }}\n\
           location /static/ {{ }} }}",
        up.port
    ));
    let p = server.port;
    let r = get(&server, "/app?x=1");
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("Location"),
        Some(&*format!("http://localhost:{p}/app/?x=1"))
    );
    assert_eq!(get(&server, "/n/m").status, 301);
    assert_eq!(get(&server, "/both").text(), "both");
    // Only proxied locations redirect.
    assert_eq!(get(&server, "/static").text(), "root");
    assert!(up.got().is_empty());
    server.assert_clean_log();
}

#[test]
fn refused_directives_name_the_reason_and_the_line() {
    let prefix = Prefix::new();
    for (text, want) in [
        (
            "upstream u { server 127.0.0.1:1; health_check; }",
            "\"health_check\" directive is not allowed here",
        ),
        (
            "server { location / { uwsgi_ssl_conf_command Options KTLS; } }",
            "\"uwsgi_ssl_conf_command\" directive is not supported: it passes commands to OpenSSL",
        ),
        (
            "upstream u { server 127.0.0.1:1 resolve; }",
            "invalid parameter \"resolve\": an nginx Plus parameter",
        ),
    ] {
        prefix.write("conf/t.conf", format!("events {{}}\nhttp {{\n{text}\n}}\n"));
        let (code, _, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/t.conf"]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(want) && err.contains("t.conf:3"), "{err}");
    }
    let _ = read_response;
}

#[test]
fn request_body_is_the_buffered_body_in_add_header_and_the_access_log() {
    // nginx's $request_body: the body read whole into memory, in the proxied response's
    // add_header and in the log line; nothing for a body that went to its file. Portico
    // had no value for it at all.
    let up = Scripted::tcp(|_| respond(200, "", "ok"));
    let server = start(&format!(
        "log_format body '$uri [$request_body]';\n\
         access_log logs/access.log body;\n\
         server {{ listen 127.0.0.1:PORT;\n\
           location /b/ {{ proxy_pass http://127.0.0.1:{0}; add_header X-Body $request_body; }}\n\
           location /f/ {{ proxy_pass http://127.0.0.1:{0}; client_body_buffer_size 4;\n\
             add_header X-Body $request_body; }} }}",
        up.port
    ));
    let post = |path: &str| {
        request(
            &server,
            &format!(
                "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 9\r\n\
                 Connection: close\r\n\r\nname=body"
            ),
        )
    };
    let r = post("/b/");
    assert_eq!((r.status, r.header("X-Body")), (200, Some("name=body")));
    let r = post("/f/");
    assert_eq!((r.status, r.header("X-Body")), (200, None));
    let lines = log_lines(&server, 2);
    assert!(lines.contains(&"/b/ [name=body]".to_string()), "{lines:?}");
    assert!(lines.contains(&"/f/ [-]".to_string()), "{lines:?}");
}
