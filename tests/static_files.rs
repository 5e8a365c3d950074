//! Static files against nginx 1.22's ngx_http_static_module and ngx_http_index_module:
//! `root`/`index`, HEAD, types from `mime.types` and `default_type`, validators
//! (`Last-Modified`, `ETag`), 404/403/301/405, large files with and without `sendfile`, URI
//! normalisation, and the access log (`combined` and a custom `log_format`).

mod common;

use common::{
    Prefix, Response, Server, error_page, get_request, http_date, next_response, read_response,
    read_to_end, send, server_token, show,
};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const INDEX: &str = "<!DOCTYPE html>\n<p>home</p>\n";
const ALPHA: &str = "alpha\n";
const BRAVO: &str = "bravo bravo\n";

/// A fixed mtime for validator tests: Sun, 13 Sep 2020 12:26:40 GMT (0x5f5e1000).
const FIXED_MTIME: u64 = 1_600_000_000;

/// Starts a server with `http_directives` at http level (after `include mime.types;`) and
/// one site whose root holds the standard files; `setup` adds more.
fn start_with(http_directives: &str, setup: impl FnOnce(&Prefix)) -> Server {
    let block = format!(
        "include mime.types;\n\
         {http_directives}\n\
         server {{\n\
             listen 127.0.0.1:PORT;\n\
             server_name localhost;\n\
             root html;\n\
             index index.html;\n\
             location / {{ }}\n\
         }}\n"
    );
    Server::start_with(1, &block, |p| {
        let mime = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/conf/mime.types"))
            .expect("conf/mime.types");
        p.write("conf/mime.types", mime);
        p.write("html/index.html", INDEX);
        p.write("html/a.txt", ALPHA);
        p.write("html/b.txt", BRAVO);
        p.write("html/dir/index.html", "<p>dir</p>\n");
        setup(p);
    })
}

fn start(http_directives: &str) -> Server {
    start_with(http_directives, |_| {})
}

fn assert_ok(resp: &Response, body: &[u8]) {
    assert_eq!(resp.status, 200, "{}", show(resp));
    assert!(
        resp.body == body,
        "body differs: got {} bytes, want {}\n{}",
        resp.body.len(),
        body.len(),
        show(resp)
    );
    assert_eq!(
        resp.header("Content-Length"),
        Some(body.len().to_string().as_str())
    );
}

fn assert_error(resp: &Response, status: u16, title: &str) {
    assert_eq!(resp.status, status, "{}", show(resp));
    assert_eq!(
        resp.header("Content-Type"),
        Some("text/html"),
        "{}",
        show(resp)
    );
    assert_eq!(resp.text(), error_page(title, &server_token()));
    assert_eq!(
        resp.header("Content-Length"),
        Some(resp.body.len().to_string().as_str())
    );
}

fn mtime_secs(path: &std::path::Path) -> u64 {
    let modified = std::fs::metadata(path)
        .expect("stat")
        .modified()
        .expect("mtime");
    modified
        .duration_since(UNIX_EPOCH)
        .expect("mtime after epoch")
        .as_secs()
}

fn set_mtime(path: &std::path::Path, secs: u64) {
    let f = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open for mtime");
    f.set_modified(UNIX_EPOCH + Duration::from_secs(secs))
        .expect("set mtime");
}

/// Waits for the access log at `rel` to hold `lines` lines and returns them.
fn log_lines(server: &Server, rel: &str, lines: usize) -> Vec<String> {
    let read = || {
        server
            .prefix
            .read(rel)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    server.wait_for(3, || read().len() >= lines);
    read()
}

// ---------------------------------------------------------------------------------------
// root, index, HEAD, types, validators

#[test]
fn index_is_served_for_the_root() {
    let server = start("");
    let mut s = server.connect();
    send(&mut s, &get_request("/"));
    let resp = next_response(&mut s);
    assert_ok(&resp, INDEX.as_bytes());
    assert_eq!(resp.header("Content-Type"), Some("text/html"));
    // ngx_http_header_filter writes its own headers first, then the list the handler and
    // filters added (ETag by the static handler, Accept-Ranges by the range filter).
    assert_eq!(
        resp.header_names(),
        [
            "Server",
            "Date",
            "Content-Type",
            "Content-Length",
            "Last-Modified",
            "Connection",
            "ETag",
            "Accept-Ranges"
        ]
    );
    assert_eq!(resp.header("Accept-Ranges"), Some("bytes"));
    assert_eq!(resp.header("Connection"), Some("keep-alive"));
    // A subdirectory's index, on the same connection.
    send(&mut s, &get_request("/dir/"));
    assert_ok(&next_response(&mut s), b"<p>dir</p>\n");
    server.assert_clean_log();
}

#[test]
fn head_sends_the_headers_of_get_without_a_body() {
    let server = start("");
    let get_resp = server.get("/a.txt");
    let mut s = server.connect();
    send(
        &mut s,
        b"HEAD /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    let raw = String::from_utf8_lossy(&read_to_end(&mut s)).into_owned();
    assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");
    assert!(
        raw.ends_with("\r\n\r\n"),
        "HEAD response carries a body: {raw:?}"
    );
    assert!(
        raw.contains(&format!("\r\nContent-Length: {}\r\n", ALPHA.len())),
        "{raw}"
    );
    assert!(raw.contains("\r\nContent-Type: text/plain\r\n"), "{raw}");
    assert!(
        raw.contains(&format!(
            "\r\nETag: {}\r\n",
            get_resp.header("ETag").expect("ETag")
        )),
        "{raw}"
    );
    // HEAD on a keep-alive connection: the next response must start right after the head.
    let mut s = server.connect();
    send(&mut s, b"HEAD /b.txt HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let head = read_response(&mut s, true).expect("HEAD response");
    assert_eq!(
        head.header("Content-Length"),
        Some(BRAVO.len().to_string().as_str())
    );
    send(&mut s, &get_request("/a.txt"));
    assert_ok(&next_response(&mut s), ALPHA.as_bytes());
    server.assert_clean_log();
}

#[test]
fn content_type_comes_from_mime_types() {
    let server = start_with("default_type application/octet-stream;", |p| {
        for name in [
            "s.css",
            "s.js",
            "s.png",
            "s.json",
            "s.htm",
            "UPPER.TXT",
            "blob.unknownext",
            "noextension",
        ] {
            p.write(&format!("html/{name}"), "x");
        }
    });
    for (path, want) in [
        ("/a.txt", "text/plain"),
        ("/s.css", "text/css"),
        ("/s.js", "application/javascript"),
        ("/s.png", "image/png"),
        ("/s.json", "application/json"),
        ("/s.htm", "text/html"),
        // nginx lowercases the extension before the types lookup.
        ("/UPPER.TXT", "text/plain"),
        ("/blob.unknownext", "application/octet-stream"),
        ("/noextension", "application/octet-stream"),
    ] {
        let resp = server.get(path);
        assert_eq!(resp.status, 200, "{path}");
        assert_eq!(resp.header("Content-Type"), Some(want), "{path}");
    }
    server.assert_clean_log();
}

#[test]
fn default_type_defaults_to_text_plain() {
    let server = start_with("", |p| p.write("html/blob.unknownext", "x"));
    assert_eq!(
        server.get("/blob.unknownext").header("Content-Type"),
        Some("text/plain")
    );
    server.assert_clean_log();
}

#[test]
fn last_modified_and_etag_follow_the_file() {
    let server = start_with("", |p| {
        p.write("html/fixed.txt", "0123456789abcdefghij");
        set_mtime(&p.path("html/fixed.txt"), FIXED_MTIME);
    });
    let fixed = server.get("/fixed.txt");
    assert_eq!(
        fixed.header("Last-Modified"),
        Some("Sun, 13 Sep 2020 12:26:40 GMT")
    );
    assert_eq!(http_date(FIXED_MTIME), "Sun, 13 Sep 2020 12:26:40 GMT");
    // ngx_http_set_etag: "%xT-%xO", mtime and size in lowercase hex.
    assert_eq!(fixed.header("ETag"), Some("\"5f5e1000-14\""));

    let mtime = mtime_secs(&server.prefix.path("html/a.txt"));
    let resp = server.get("/a.txt");
    assert_eq!(
        resp.header("Last-Modified"),
        Some(http_date(mtime).as_str())
    );
    assert_eq!(
        resp.header("ETag"),
        Some(format!("\"{mtime:x}-{:x}\"", ALPHA.len()).as_str())
    );
    server.assert_clean_log();
}

// ---------------------------------------------------------------------------------------
// 404, 403, 301, 405

#[test]
fn missing_file_is_404_and_logged() {
    let server = start("");
    let mut s = server.connect();
    send(&mut s, &get_request("/missing.txt"));
    let resp = next_response(&mut s);
    assert_error(&resp, 404, "404 Not Found");
    assert_eq!(resp.header("Connection"), Some("keep-alive"));
    send(&mut s, &get_request("/a.txt"));
    assert_ok(&next_response(&mut s), ALPHA.as_bytes());
    let path = server.prefix.path("html/missing.txt");
    let want = format!(
        "open() \"{}\" failed (2: No such file or directory), client: 127.0.0.1, server: localhost, \
         request: \"GET /missing.txt HTTP/1.1\", host: \"localhost\"",
        path.display()
    );
    assert!(
        server.wait_for(3, || server.error_log().contains(&want)),
        "want {want:?} in:\n{}",
        server.error_log()
    );
    let line = server
        .error_log()
        .lines()
        .find(|l| l.contains(&want))
        .unwrap_or_default()
        .to_string();
    assert!(line.contains(" [error] "), "{line}");
    server.assert_clean_log();
}

#[test]
fn unreadable_file_is_403_and_logged() {
    // Workers run as nobody, so a mode-000 file owned by root cannot be opened.
    let server = start_with("", |p| {
        p.write("html/secret.txt", "secret\n");
        std::fs::set_permissions(
            p.path("html/secret.txt"),
            std::fs::Permissions::from_mode(0o000),
        )
        .expect("chmod");
    });
    let resp = server.get("/secret.txt");
    assert_error(&resp, 403, "403 Forbidden");
    let want = format!(
        "open() \"{}\" failed (13: Permission denied)",
        server.prefix.path("html/secret.txt").display()
    );
    assert!(
        server.wait_for(3, || server.error_log().contains(&want)),
        "want {want:?} in:\n{}",
        server.error_log()
    );
    assert_eq!(server.get("/a.txt").status, 200);
    server.assert_clean_log();
}

#[test]
fn directory_without_slash_is_redirected() {
    let server = start("");
    let mut s = server.connect();
    send(&mut s, &get_request("/dir"));
    let resp = next_response(&mut s);
    assert_error(&resp, 301, "301 Moved Permanently");
    // absolute_redirect on, server_name_in_redirect off: the host from Host, and
    // port_in_redirect adds the port because it is not 80.
    assert_eq!(
        resp.header("Location"),
        Some(format!("http://localhost:{}/dir/", server.port).as_str())
    );
    assert_eq!(
        resp.header_names(),
        [
            "Server",
            "Date",
            "Content-Type",
            "Content-Length",
            "Location",
            "Connection"
        ]
    );
    assert_eq!(resp.header("Connection"), Some("keep-alive"));
    // The query string is kept on the redirect (ngx_http_static_handler appends r->args).
    send(&mut s, &get_request("/dir?x=1"));
    let resp = next_response(&mut s);
    assert_eq!(resp.status, 301);
    assert_eq!(
        resp.header("Location"),
        Some(format!("http://localhost:{}/dir/?x=1", server.port).as_str())
    );
    server.assert_clean_log();
}

#[test]
fn post_to_a_static_file_is_405() {
    let server = start("");
    let mut s = server.connect();
    send(
        &mut s,
        b"POST /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
    );
    let resp = next_response(&mut s);
    assert_error(&resp, 405, "405 Not Allowed");
    assert_eq!(resp.reason, "Not Allowed");
    // 405 keeps the connection; the body is discarded before the next request.
    assert_eq!(resp.header("Connection"), Some("keep-alive"));
    send(&mut s, &get_request("/b.txt"));
    assert_ok(&next_response(&mut s), BRAVO.as_bytes());
    server.assert_clean_log();
}

// ---------------------------------------------------------------------------------------
// Large files

fn large_payload() -> Vec<u8> {
    (0..5 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

fn large_file_is_byte_exact(sendfile: &str) {
    let data = large_payload();
    let server = start_with(&format!("sendfile {sendfile};"), |p| {
        p.write("html/big.bin", &data)
    });
    let mut s = server.connect();
    // Twice on one connection: the connection must be reusable after a large send.
    for _ in 0..2 {
        send(&mut s, &get_request("/big.bin"));
        let resp = next_response(&mut s);
        assert_ok(&resp, &data);
        assert_eq!(
            resp.header("Content-Type"),
            Some("application/octet-stream")
        );
    }
    send(&mut s, b"HEAD /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let head = read_response(&mut s, true).expect("HEAD response");
    assert_eq!(
        head.header("Content-Length"),
        Some(data.len().to_string().as_str())
    );
    send(&mut s, &get_request("/a.txt"));
    assert_ok(&next_response(&mut s), ALPHA.as_bytes());
    server.assert_clean_log();
}

#[test]
fn large_file_with_sendfile_on() {
    large_file_is_byte_exact("on");
}

#[test]
fn large_file_with_sendfile_off() {
    large_file_is_byte_exact("off");
}

#[test]
fn large_file_read_slowly_is_byte_exact() {
    // A client that reads slowly makes the server wait for writability mid-file.
    let data = large_payload();
    let server = start_with("sendfile on;", |p| p.write("html/big.bin", &data));
    let mut s = server.connect();
    send(
        &mut s,
        b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    std::thread::sleep(Duration::from_millis(300));
    let raw = read_to_end(&mut s);
    let head_end = common::find(&raw, b"\r\n\r\n").expect("head") + 4;
    assert!(
        raw[head_end..] == data[..],
        "got {} body bytes, want {}",
        raw.len() - head_end,
        data.len()
    );
    server.assert_clean_log();
}

// ---------------------------------------------------------------------------------------
// URI normalisation (ngx_http_parse_complex_uri)

#[test]
fn dot_segments_and_escapes_are_resolved() {
    let server = start("");
    for path in [
        "/a/../b.txt",
        "/%62.txt",
        "/./b.txt",
        "//b.txt",
        "/dir/../b.txt",
        "/%2E/b.txt",
        "/b%2etxt",
    ] {
        let resp = server.get(path);
        assert_ok(&resp, BRAVO.as_bytes());
        assert_eq!(resp.header("Content-Type"), Some("text/plain"), "{path}");
    }
    server.assert_clean_log();
}

#[test]
fn escaping_above_the_root_is_400() {
    let server = start("");
    for path in [
        "/../etc/passwd",
        "/a/../../etc/passwd",
        "/%2E%2E/etc/passwd",
    ] {
        let resp = server.get(path);
        assert_error(&resp, 400, "400 Bad Request");
        assert_eq!(resp.header("Connection"), Some("close"), "{path}");
    }
    assert_eq!(server.get("/a.txt").status, 200);
    server.assert_clean_log();
}

#[test]
fn encoded_nul_is_400() {
    let server = start("");
    let resp = server.get("/a%00b");
    assert_error(&resp, 400, "400 Bad Request");
    assert_eq!(resp.header("Connection"), Some("close"));
    assert_eq!(server.get("/a.txt").status, 200);
    server.assert_clean_log();
}

// ---------------------------------------------------------------------------------------
// Access log

/// Checks `[10/Oct/2000:13:55:36 +0000]`-shaped `$time_local` text (without brackets).
fn assert_time_local_shape(t: &str) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = t.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    assert_eq!(b.len(), 26, "{t:?}");
    assert!(
        digits(0..2) && b[2] == b'/' && MONTHS.contains(&&t[3..6]) && b[6] == b'/',
        "{t:?}"
    );
    assert!(
        digits(7..11) && b[11] == b':' && digits(12..14) && b[14] == b':',
        "{t:?}"
    );
    assert!(
        digits(15..17) && b[17] == b':' && digits(18..20) && b[20] == b' ',
        "{t:?}"
    );
    assert!((b[21] == b'+' || b[21] == b'-') && digits(22..26), "{t:?}");
}

#[test]
fn access_log_defaults_to_combined() {
    // No access_log directive: nginx logs to logs/access.log in the combined format,
    // '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
    //  "$http_referer" "$http_user_agent"'.
    let server = start("");
    let ok = server.request(
        b"GET /a.txt?x=1 HTTP/1.1\r\nHost: localhost\r\nReferer: http://ref.example/p\r\nUser-Agent: test-agent/1.0\r\n\
          Connection: close\r\n\r\n",
    );
    assert_eq!(ok.status, 200);
    let missing = server.get("/missing.txt");
    let lines = log_lines(&server, "logs/access.log", 2);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let check = |line: &str, rest: &str| {
        let (before, after) = line
            .split_once(" [")
            .unwrap_or_else(|| panic!("no [time]: {line}"));
        assert_eq!(before, "127.0.0.1 - -");
        let (time, tail) = after
            .split_once("] ")
            .unwrap_or_else(|| panic!("no ] : {line}"));
        assert_time_local_shape(time);
        assert_eq!(tail, rest);
    };
    check(
        &lines[0],
        "\"GET /a.txt?x=1 HTTP/1.1\" 200 6 \"http://ref.example/p\" \"test-agent/1.0\"",
    );
    check(
        &lines[1],
        &format!(
            "\"GET /missing.txt HTTP/1.1\" 404 {} \"-\" \"-\"",
            missing.body.len()
        ),
    );
    server.assert_clean_log();
}

#[test]
fn custom_log_format_with_several_variables() {
    let server = start(
        "log_format custom '$request_method $uri $args $status $body_bytes_sent $request_length $http_user_agent';\n\
         access_log logs/custom.log custom;",
    );
    let first = b"GET /%62.txt?x=1&y=2 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ua/2\r\nConnection: close\r\n\r\n";
    assert_eq!(server.request(first).status, 200);
    let second = b"HEAD /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert_eq!(server.request(second).status, 200);
    let missing = server.get("/nope");
    let third_len = "GET /nope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".len();
    let lines = log_lines(&server, "logs/custom.log", 3);
    // $uri is the normalised path; an absent $args or header logs as "-"; HEAD sends no
    // body bytes; $request_length counts the whole head.
    assert_eq!(
        lines,
        [
            format!(
                "GET /b.txt x=1&y=2 200 {} {} ua/2",
                BRAVO.len(),
                first.len()
            ),
            format!("HEAD /a.txt - 200 0 {} -", second.len()),
            format!("GET /nope - 404 {} {third_len} -", missing.body.len()),
        ]
    );
    // The default log is not written when access_log names another file at http level.
    assert_eq!(server.access_log(), "");
    server.assert_clean_log();
}

#[test]
fn request_time_and_date_variables_are_sane() {
    // Sanity for time variables in a custom format: $msec is seconds.millis near now.
    let server = start("log_format t '$msec $status';\naccess_log logs/t.log t;");
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    assert_eq!(server.get("/a.txt").status, 200);
    let lines = log_lines(&server, "logs/t.log", 1);
    let (msec, status) = lines[0].split_once(' ').expect("two fields");
    assert_eq!(status, "200");
    let (secs, millis) = msec.split_once('.').expect("seconds.millis");
    assert_eq!(millis.len(), 3, "{msec}");
    let logged: f64 = msec.parse().expect("number");
    assert!((logged - before).abs() < 5.0, "{msec} vs {before}");
    assert!(secs.len() >= 10);
    server.assert_clean_log();
}
