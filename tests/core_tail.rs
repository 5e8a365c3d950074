//! The long tail of nginx 1.22's http core module, against nginx's behaviour: the
//! proxied location's automatic redirect, `index` with variables, redirects that carry
//! the Host lowercased, and the smaller directives (see each test).

mod common;

use common::{Server, show};

fn start(http_body: &str) -> Server {
    Server::start_with(1, http_body, |p| {
        p.write("html/index.html", "home");
        p.write("html/d/index.html", "dir index");
        p.write("html/localhost.html", "by server name");
        p.write("html/v/localhost.html", "v by server name");
    })
}

#[test]
fn proxied_location_redirects_the_uri_without_its_slash() {
    let server = start(
        "server { listen 127.0.0.1:PORT; server_name localhost;\n\
           location /a/ { proxy_pass http://127.0.0.1:1/; }\n\
           location /a-a { return 204; }\n\
           location = /b/ { proxy_pass http://127.0.0.1:1/; }\n\
           location /c { return 200 c; }\n\
           location /c/ { proxy_pass http://127.0.0.1:1/; }\n\
           location ~ ^/a$ { return 200 regex; } }",
    );
    for (uri, location) in [("/a", "/a/"), ("/a?x=1", "/a/?x=1"), ("/b", "/b/")] {
        let r = server.get(uri);
        assert_eq!(r.status, 301, "{uri}: {}", show(&r));
        let port = server.port;
        let expected = format!("http://localhost:{port}{location}");
        assert_eq!(r.header("Location"), Some(expected.as_str()), "{uri}");
    }
    // A location named as the URI itself wins.
    assert_eq!(server.get("/c").text(), "c");
    assert_eq!(server.get("/a-a").status, 204);
}

#[test]
fn index_names_with_variables() {
    let server = start(
        "server { listen 127.0.0.1:PORT; server_name localhost;\n\
           location /v/ { index nonexisting.html ${server_name}.html; }\n\
           location /r/ { index /$server_name.html; }\n\
           location / { } }",
    );
    let r = server.get("/v/");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "v by server name"),
        "{}",
        show(&r)
    );
    let r = server.get("/r/");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "by server name"),
        "{}",
        show(&r)
    );
    assert_eq!(server.get("/d/").text(), "dir index");
}

#[test]
fn error_log_of_a_server_and_a_location_gets_its_requests_lines() {
    let server = start(
        "server { listen 127.0.0.1:PORT; server_name localhost; error_log logs/site.log;\n\
           location /quiet/ { error_log logs/quiet.log; log_not_found off; }\n\
           location /loud/ { error_log logs/loud.log info; } }",
    );
    assert_eq!(server.get("/nothing-here").status, 404);
    assert_eq!(server.get("/quiet/nothing").status, 404);
    assert_eq!(server.get("/loud/nothing").status, 404);
    let site = server.prefix.read("logs/site.log");
    assert!(
        site.contains("[error]") && site.contains("/nothing-here\" failed (2: No such file"),
        "{site}"
    );
    assert!(!server.error_log().contains("nothing-here"));
    assert_eq!(server.prefix.read("logs/quiet.log"), "");
    assert!(
        server
            .prefix
            .read("logs/loud.log")
            .contains("/loud/nothing")
    );
}

#[test]
fn redirects_carry_the_host_lowercased_as_nginx() {
    let server = start(
        "server { listen 127.0.0.1:PORT; server_name localhost;\n\
           location /r { return 301 /x; }\n\
           location /s/ { server_name_in_redirect on; }\n\
           location / { } }",
    );
    let port = server.port;
    let cases: [(&str, String); 4] = [
        (
            "GET /d HTTP/1.0\r\nHost: Probe.Example\r\n\r\n",
            format!("http://probe.example:{port}/d/"),
        ),
        (
            "GET /r HTTP/1.1\r\nHost: PROBE.example:99\r\nConnection: close\r\n\r\n",
            format!("http://probe.example:{port}/x"),
        ),
        // No Host: the address that accepted the connection, as nginx.
        (
            "GET /d HTTP/1.0\r\n\r\n",
            format!("http://127.0.0.1:{port}/d/"),
        ),
        (
            "GET http://Abs.Example/d HTTP/1.0\r\nHost: x\r\n\r\n",
            format!("http://abs.example:{port}/d/"),
        ),
    ];
    for (request, location) in cases {
        let r = server.request(request.as_bytes());
        assert_eq!(r.header("Location"), Some(location.as_str()), "{request}");
    }
}

#[test]
fn error_page_answers_redirects_and_unparsable_requests() {
    let server = start(
        "server { listen 127.0.0.1:PORT; server_name localhost; error_page 400 /bad;\n\
           location /first { error_page 302 http://example.com/; return 302 first; }\n\
           location /dir-page { error_page 301 =200 /page; }\n\
           location = /page { return 200 page; }\n\
           location = /bad { return 200 \"bad request page\"; }\n\
           location / { } }",
    );
    let r = server.get("/first");
    assert_eq!(r.status, 302, "{}", show(&r));
    assert_eq!(r.header("Location"), Some("http://example.com/"));
    // A Host nginx refuses is a 400 that the server's error_page answers.
    let r = server.request(b"GET / HTTP/1.0\r\nHost: .\r\n\r\n");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "bad request page"),
        "{}",
        show(&r)
    );
    let r = server.request(b"GET /bad\x01line HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 400, "{}", show(&r));
    assert_eq!(r.text(), "bad request page");
}

const MSIE6: &str = "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)";
const CHROME: &str =
    "Mozilla/5.0 (X11) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15";

fn with_agent(server: &Server, method: &str, uri: &str, agent: &str) -> common::Response {
    let raw = format!(
        "{method} {uri} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: {agent}\r\nContent-Length: 0\r\n\r\n"
    );
    server.request(raw.as_bytes())
}

#[test]
fn browsers_get_nginx_s_padding_refresh_and_keepalive_rules() {
    let server = start(
        "server { listen 127.0.0.1:PORT; server_name localhost;\n\
           location /r/ { msie_refresh on; return 301 \"/a b?x=1\"; }\n\
           location /nopad/ { msie_padding off; }\n\
           location /safari/ { keepalive_disable safari; }\n\
           location / { } }",
    );
    // msie_padding (on by default) pads error pages for MSIE and Chrome.
    let padded = with_agent(&server, "GET", "/missing", CHROME);
    let plain = server.get("/missing");
    let pad = "<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n".repeat(6);
    assert_eq!(padded.text(), format!("{}{pad}", plain.text()));
    let len = padded.body.len().to_string();
    assert_eq!(padded.header("Content-Length"), Some(len.as_str()));
    assert_eq!(
        with_agent(&server, "GET", "/nopad/x", CHROME).text(),
        plain.text()
    );
    // msie_refresh: MSIE gets a page that refreshes to the location as given.
    let r = with_agent(&server, "GET", "/r/", MSIE6);
    assert_eq!(r.status, 200, "{}", show(&r));
    assert_eq!(r.header("Location"), None);
    assert_eq!(
        r.text(),
        "<html><head><meta http-equiv=\"Refresh\" content=\"0; URL=/a%20b?x=1\"></head><body></body></html>\r\n"
    );
    assert_eq!(with_agent(&server, "GET", "/r/", CHROME).status, 301);
    // keepalive_disable msie6 (the default) after a POST; safari where configured.
    let r = with_agent(&server, "POST", "/d/", MSIE6);
    assert_eq!(r.header("Connection"), Some("close"), "{}", show(&r));
    let r = with_agent(&server, "GET", "/d/", MSIE6);
    assert_eq!(r.header("Connection"), Some("keep-alive"));
    let r = with_agent(&server, "GET", "/safari/", SAFARI);
    assert_eq!(r.header("Connection"), Some("close"));
    let r = with_agent(&server, "GET", "/d/", SAFARI);
    assert_eq!(r.header("Connection"), Some("keep-alive"));
}

#[test]
fn directives_portico_refuses_say_why_at_load() {
    let cases = [
        (
            "load_module modules/ngx_http_geoip_module.so;\nevents {}",
            "cannot load dynamic module \"PREFIX/modules/ngx_http_geoip_module.so\": \
             Portico has no dynamic modules",
        ),
        (
            "events {} http { aio threads; }",
            "\"aio threads\" is unsupported on this platform",
        ),
        (
            "events {} http { aio on; }",
            "\"aio on\" is unsupported on this platform",
        ),
        (
            "events {} http { directio 4m; }",
            "\"directio 4m\" is not supported: Portico reads files through the page cache",
        ),
        ("events {} http { satisfy some; }", "invalid value \"some\""),
        (
            "events {} http { keepalive_disable msie7; }",
            "invalid value \"msie7\"",
        ),
    ];
    for (conf, message) in cases {
        let prefix = common::Prefix::new();
        prefix.write("conf/portico.conf", conf);
        let (code, _, stderr) = common::run_cli(&prefix.dir, &["-t", "-c", "conf/portico.conf"]);
        let message = message.replace("PREFIX", &prefix.dir.to_string_lossy());
        assert_eq!(code, 1, "{conf}");
        assert!(stderr.contains(&message), "{conf}: {stderr}");
    }
    let prefix = common::Prefix::new();
    prefix.write(
        "conf/portico.conf",
        "events {} http { aio off; directio off; aio_write on; log_subrequest on;\n\
         keepalive_disable msie6 safari; max_ranges 2; chunked_transfer_encoding off; }",
    );
    let (code, _, stderr) = common::run_cli(&prefix.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn autoindex_formats_as_nginx() {
    let server = start(
        "server { listen 127.0.0.1:PORT; server_name localhost; autoindex on; index none;\n\
           location /x/ { alias html/d/; autoindex_format xml; }\n\
           location /j/ { alias html/d/; autoindex_format json; }\n\
           location /p/ { alias html/d/; autoindex_format jsonp; }\n\
           location / { } }",
    );
    let r = server.get("/x/");
    assert_eq!(r.header("Content-Type"), Some("text/xml; charset=utf-8"));
    let text = r.text();
    assert!(
        text.starts_with("<?xml version=\"1.0\"?>\r\n<list>\r\n<file mtime=\"")
            && text.contains("\" size=\"9\">index.html</file>\r\n</list>\r\n"),
        "{text}"
    );
    let r = server.get("/j/");
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert!(
        r.text()
            .starts_with("[\r\n{ \"name\":\"index.html\", \"type\":\"file\", \"mtime\":\"")
    );
    assert!(r.text().ends_with("\", \"size\":9 }\r\n]"));
    let r = server.get("/p/?callback=app.cb_1");
    assert_eq!(r.header("Content-Type"), Some("application/javascript"));
    assert!(
        r.text()
            .starts_with("/* callback */\r\napp.cb_1([\r\n{ \"name\"")
    );
    assert!(r.text().ends_with(" }\r\n]);"));
    // Without a callback, jsonp is json; a callback nginx refuses is a 400.
    assert_eq!(
        server.get("/p/").header("Content-Type"),
        Some("application/json")
    );
    assert_eq!(server.get("/p/?callback=alert(1)").status, 400);
}

#[test]
fn expires_with_variables_and_replacing_add_headers() {
    let server = start(
        "server { listen 127.0.0.1:PORT; server_name localhost;\n\
           location /v/ { alias html/; expires $arg_e; location /v/m/ { alias html/; expires modified $arg_e; } }\n\
           location /etag/ { alias html/; add_header ETag foo; add_header ETag \"\"; }\n\
           location / { } }",
    );
    let r = server.get("/v/index.html?e=2048");
    assert_eq!(
        r.header("Cache-Control"),
        Some("max-age=2048"),
        "{}",
        show(&r)
    );
    assert!(
        server
            .get("/v/index.html?e=epoch")
            .header("Expires")
            .unwrap_or_default()
            .contains("1970")
    );
    for bad in ["", "?e=bad", "?e=off"] {
        assert_eq!(
            server.get(&format!("/v/index.html{bad}")).header("Expires"),
            None,
            "{bad}"
        );
    }
    // `modified` takes a time, never a keyword, as nginx.
    assert_eq!(
        server.get("/v/m/index.html?e=epoch").header("Expires"),
        None
    );
    assert!(
        server
            .get("/v/m/index.html?e=60")
            .header("Cache-Control")
            .is_some()
    );
    // The last `add_header ETag` replaces the file's ETag, an empty one removes it.
    assert_eq!(server.get("/etag/index.html").header("ETag"), None);
}

#[test]
fn core_variables_nginx_has() {
    let server = start(
        "log_format v '$uri $pipe $connection_time $tcpinfo_rtt $tcpinfo_rttvar \
                       $tcpinfo_snd_cwnd $tcpinfo_rcv_space [$sent_http_cache_control]';\n\
         server { listen 127.0.0.1:PORT; server_name localhost; access_log logs/v.log v;\n\
           location /cookie { return 200 \"$http_cookie|$cookie_b|$http_x_forwarded_for\"; }\n\
           location /cc { add_header Cache-Control a; add_header Cache-Control b; return 200; }\n\
           location / { return 200; } }",
    );
    let r = server.request(
        b"GET /cookie HTTP/1.1\r\nHost: localhost\r\nCookie: a=1\r\nCookie: b=2\r\n\
          X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.text(), "a=1; b=2|2|10.0.0.1, 10.0.0.2");
    let mut s = server.connect();
    common::send(
        &mut s,
        b"GET /one HTTP/1.1\r\nHost: localhost\r\n\r\nGET /cc HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    let _ = common::read_to_end(&mut s);
    assert!(server.wait_for(5, || server.prefix.read("logs/v.log").lines().count() == 3));
    let log = server.prefix.read("logs/v.log");
    let lines: Vec<&str> = log.lines().collect();
    // The first request of a read is not pipelined, the one behind it is.
    assert!(lines[1].starts_with("/one . "), "{log}");
    assert!(lines[2].starts_with("/cc p "), "{log}");
    assert!(lines[2].ends_with(" [a, b]"), "{log}");
    let fields: Vec<&str> = lines[1].split(' ').collect();
    let time = fields[2];
    assert!(
        time.len() >= 5 && time.as_bytes()[time.len() - 4] == b'.',
        "{log}"
    );
    assert!(
        fields[3..7].iter().all(|f| f.parse::<u64>().is_ok()),
        "{log}"
    );
}

/// `$sent_http_*` in `add_header` reads the lines added before it, as nginx's headers
/// filter adds to `headers_out`: `Cache-Control` and `Link` joined, another name its first.
#[test]
fn sent_http_in_add_header_sees_the_lines_before_it() {
    let server = start(
        "server { listen 127.0.0.1:PORT; server_name localhost;\n\
           location /s { add_header Cache-Control foo; add_header Cache-Control bar;\n\
             add_header Link <a>; add_header Link <b>; add_header Foo foo; add_header Foo bar;\n\
             add_header X-CC $sent_http_cache_control; add_header X-Link $sent_http_link;\n\
             add_header X-Foo $sent_http_foo; add_header X-Later $sent_http_x_later;\n\
             add_header X-Later later; return 204; } }",
    );
    let r = server.get("/s");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("X-CC"), Some("foo, bar"));
    assert_eq!(r.header("X-Link"), Some("<a>, <b>"));
    assert_eq!(r.header("X-Foo"), Some("foo"));
    // A line added after it is not there yet (and an empty value adds no line).
    let later: Vec<&str> = r
        .header_names()
        .into_iter()
        .filter(|n| *n == "X-Later")
        .collect();
    assert_eq!((later.len(), r.header("X-Later")), (1, Some("later")));
}

/// Started as root from a private directory, as `make run` from a checkout under /root:
/// nginx's default `user nobody` cannot read the site (403, and Portico warns at start);
/// `user root` (what `make run` passes when run as root) serves it.
#[test]
fn workers_that_cannot_read_the_root_are_reported() {
    use std::os::unix::fs::PermissionsExt;
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    for globals in ["daemon off;", "daemon off; user root;"] {
        let prefix = common::Prefix::new();
        let port = common::free_port();
        prefix.write(
            "conf/site.conf",
            format!(
                "error_log logs/error.log info; pid logs/portico.pid; events {{}}\n\
                 http {{ server {{ listen 127.0.0.1:{port}; root html; }} }}\n"
            ),
        );
        prefix.write("html/index.html", "private site");
        std::fs::set_permissions(&prefix.dir, std::fs::Permissions::from_mode(0o700))
            .unwrap_or_else(|e| panic!("{e}"));
        let dir = prefix.dir.clone();
        let (code, _, stderr) =
            common::run_cli(&dir, &["-t", "-c", "conf/site.conf", "-g", globals]);
        assert_eq!(code, 0, "{stderr}");
        let dir_text = dir.to_string_lossy().into_owned();
        let server = Server::spawn_args(
            prefix,
            port,
            &dir,
            &["-p", &dir_text, "-c", "conf/site.conf", "-g", globals],
        );
        let r = server.get("/");
        let warning = format!(
            "the workers' user \"nobody\" cannot read the root \"{dir_text}/html\": \
             no permission to enter \"{dir_text}\" in {dir_text}/conf/site.conf:2"
        );
        if globals.contains("user root") {
            assert_eq!((r.status, r.text().as_str()), (200, "private site"));
            assert!(!stderr.contains("[warn]"), "{stderr}");
        } else {
            assert_eq!(r.status, 403);
            assert!(stderr.contains(&format!("[warn] {warning}")), "{stderr}");
            let log = server.error_log();
            assert!(log.contains("[warn]") && log.contains(&warning), "{log}");
        }
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
    }
}

#[test]
fn requests_without_host_find_the_unnamed_server() {
    let server = start(
        "server { listen 127.0.0.1:PORT; server_name localhost; return 200 \"named $server_name\"; }\n\
         server { listen 127.0.0.1:PORT; server_name \"\"; return 200 \"unnamed [$server_name]\"; }\n\
         server { listen 127.0.0.1:PORT; server_name .dot.example; return 200 \"dot $server_name\"; }",
    );
    let text = |raw: &str| server.request(raw.as_bytes()).text();
    assert_eq!(text("GET / HTTP/1.0\r\n\r\n"), "unnamed []");
    assert_eq!(
        text("GET / HTTP/1.0\r\nHost: other\r\n\r\n"),
        "named localhost"
    );
    // `.name` is named without its dot, as nginx's $server_name.
    assert_eq!(
        text("GET / HTTP/1.0\r\nHost: a.dot.example\r\n\r\n"),
        "dot dot.example"
    );
}

#[test]
fn error_page_of_a_redirect_keeps_its_location() {
    // nginx sets the Location before it finalizes the request with the 3xx; the error
    // page's answer carries it, keeping the status (nginx's rewrite.t "error 302 return
    // 200 text"). A redirect the error page makes replaces it.
    let server = start(
        "server { listen 127.0.0.1:PORT; server_name localhost;\n\
           location /text { error_page 302 /page; return 302 text; }\n\
           location /rel { error_page 301 /page; return 301 /moved; }\n\
           location /again { error_page 302 /elsewhere; return 302 /first; }\n\
           location = /elsewhere { return 302 /second; }\n\
           location = /page { return 200 page; } }",
    );
    let r = server.get("/text");
    assert_eq!((r.status, r.text().as_str()), (302, "page"), "{}", show(&r));
    assert_eq!(r.header("Location"), Some("text"));
    let r = server.get("/rel");
    assert_eq!((r.status, r.text().as_str()), (301, "page"), "{}", show(&r));
    let expected = format!("http://localhost:{}/moved", server.port);
    assert_eq!(r.header("Location"), Some(expected.as_str()));
    let r = server.get("/again");
    assert_eq!(r.status, 302, "{}", show(&r));
    let expected = format!("http://localhost:{}/second", server.port);
    assert_eq!(
        r.header("Location"),
        Some(expected.as_str()),
        "{}",
        show(&r)
    );
    let locations = r
        .header_names()
        .iter()
        .filter(|n| **n == "Location")
        .count();
    assert_eq!(locations, 1, "{}", show(&r));
}

#[test]
fn keepalive_time_and_requests_are_the_location_s() {
    // nginx checks keepalive_requests and keepalive_time once the location is chosen
    // (ngx_http_update_location_config): the server's limit does not cut a location's.
    use common::{next_response, send};
    let server = start(
        "server { listen 127.0.0.1:PORT; server_name localhost; keepalive_requests 2;\n\
           location /r { keepalive_requests 4; return 200 r; }\n\
           location /time { keepalive_time 1s; return 200 time; } }",
    );
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let mut s = server.connect();
    for i in 1..=4 {
        send(&mut s, get("/r").as_bytes());
        let r = next_response(&mut s);
        let expected = if i < 4 { "keep-alive" } else { "close" };
        assert_eq!(r.header("Connection"), Some(expected), "{i}: {}", show(&r));
    }
    // A connection older than keepalive_time closes after its next request.
    let mut s = server.connect();
    send(&mut s, get("/time").as_bytes());
    assert_eq!(
        next_response(&mut s).header("Connection"),
        Some("keep-alive")
    );
    std::thread::sleep(std::time::Duration::from_millis(1200));
    send(&mut s, get("/time").as_bytes());
    let r = next_response(&mut s);
    assert_eq!(r.header("Connection"), Some("close"), "{}", show(&r));
}

#[test]
fn reset_timedout_connection_resets_444s_and_timed_out_requests() {
    use std::io::{ErrorKind, Read, Write};
    let server = start(
        "client_header_timeout 1s;\n\
         server { listen 127.0.0.1:PORT; server_name localhost; reset_timedout_connection on;\n\
           location /plain { reset_timedout_connection off; return 444; }\n\
           location /reset { return 444; } }",
    );
    // What the client sees after its bytes: a reset, or the orderly end of the stream.
    let ending = |raw: &[u8]| {
        let mut s = server.connect();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("read timeout");
        s.write_all(raw).expect("send");
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(0) => "eof",
            Err(e) if e.kind() == ErrorKind::ConnectionReset => "reset",
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(ending(b"GET /plain HTTP/1.0\r\n\r\n"), "eof");
    assert_eq!(ending(b"GET /reset HTTP/1.0\r\n\r\n"), "reset");
    // A head cut short by client_header_timeout, under the default server's setting.
    assert_eq!(ending(b"GET / HTTP/1.0\r\n"), "reset");
}
