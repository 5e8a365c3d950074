//! Static files with the routing directives: `alias`, `index` (internal redirect),
//! `try_files`, `error_page`, `autoindex`, `expires`, `add_header` inheritance, `etag`,
//! conditional requests and byte ranges. Expected bytes and headers are nginx 1.22's,
//! checked against the installed nginx.

mod common;

use common::{Prefix, Server, http_date};
use std::os::unix::fs::MetadataExt;

fn start_with(server_body: &str, setup: impl FnOnce(&Prefix)) -> Server {
    let block = format!(
        "server {{\n listen 127.0.0.1:PORT;\n server_name localhost;\n root html;\n {server_body}\n}}\n"
    );
    Server::start_with(1, &block, |p| {
        p.write("html/a.txt", "alpha\n");
        p.write("html/404.html", "<b>custom 404</b>\n");
        setup(p);
    })
}

fn raw(s: &Server, head: &str) -> common::Response {
    s.request(format!("{head}\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
}

fn mtime(s: &Server, rel: &str) -> i64 {
    std::fs::metadata(s.prefix.path(rel)).expect("stat").mtime()
}

fn etag_of(s: &Server, rel: &str) -> String {
    let m = std::fs::metadata(s.prefix.path(rel)).expect("stat");
    format!("\"{:x}-{:x}\"", m.mtime(), m.len())
}

#[test]
fn alias_in_prefix_and_regex_locations() {
    let s = start_with(
        r#"location /pics/ { alias images/; }
           location ~ ^/photos/(.+\.jpg)$ { alias images/$1; }
           location /tf/ { alias images/; try_files $uri =404; }"#,
        |p| p.write("images/cat.jpg", "CAT"),
    );
    // A relative alias resolves against the prefix, like nginx's.
    assert_eq!(s.get("/pics/cat.jpg").text(), "CAT");
    assert_eq!(s.get("/photos/cat.jpg").text(), "CAT");
    assert_eq!(s.get("/pics/dog.jpg").status, 404);
    assert_eq!(s.get("/tf/cat.jpg").text(), "CAT");
    assert_eq!(s.get("/tf/dog.jpg").status, 404);
    assert!(
        s.wait_for(2, || s
            .error_log()
            .contains("images/dog.jpg\" failed (2: No such file or directory)"))
    );
}

#[test]
fn index_redirects_internally_and_matching_runs_again() {
    let s = start_with(
        r#"location /d/ { index missing.html home.html; }
           location = /d/home.html { add_header X-Loc exact; }
           location /e/ { index none.html; }"#,
        |p| {
            p.write("html/d/home.html", "home\n");
            p.write("html/e/x", "x");
        },
    );
    let r = s.get("/d/");
    assert_eq!((r.status, r.text().as_str()), (200, "home\n"));
    // The internal redirect to /d/home.html found `location = /d/home.html`.
    assert_eq!(r.header("X-Loc"), Some("exact"));
    // A directory without an index file and autoindex off: 403, nginx's log line.
    assert_eq!(s.get("/e/").status, 403);
    assert!(s.wait_for(2, || s.error_log().contains("/html/e/\" is forbidden")));
    // A missing directory: 404 naming the first index file.
    assert_eq!(s.get("/nodir/").status, 404);
}

#[test]
fn try_files_files_dirs_codes_and_named() {
    let s = start_with(
        r#"location /t/ { try_files $uri $uri/ /t/fallback.txt; }
           location /c/ { try_files $uri =418; }
           location /n/ { try_files $uri @back; }
           location @back { return 200 "named $uri"; }"#,
        |p| {
            p.write("html/t/file.txt", "file\n");
            p.write("html/t/dir/index.html", "dir index\n");
            p.write("html/t/fallback.txt", "fallback\n");
            p.write("html/c/here.txt", "here\n");
        },
    );
    assert_eq!(s.get("/t/file.txt").text(), "file\n");
    // `$uri/` matches the directory; nginx then redirects to the slashed URI (301), whose
    // index is served.
    let r = s.get("/t/dir");
    assert_eq!(
        (r.status, r.header("Location")),
        (
            301,
            Some(format!("http://localhost:{}/t/dir/", s.port).as_str())
        )
    );
    assert_eq!(s.get("/t/dir/").text(), "dir index\n");
    assert_eq!(s.get("/t/nothing").text(), "fallback\n");
    assert_eq!(s.get("/c/here.txt").text(), "here\n");
    assert_eq!(s.get("/c/none").status, 418);
    assert_eq!(s.get("/n/zzz").text(), "named /n/zzz");
}

#[test]
fn error_page_variants() {
    let s = start_with(
        r#"location /ep/ { error_page 404 /404.html; }
           location /ok/ { error_page 404 =200 /404.html; }
           location /nm/ { error_page 404 = @nf; }
           location @nf { return 202 "named"; }
           location /nm2/ { error_page 404 @nf2; }
           location @nf2 { return 200 "named body"; }
           location /ok2/ { error_page 404 =200 /a.txt; }
           location /ext/ { error_page 404 http://example.com/nf; }
           location /ext301/ { error_page 404 =301 http://example.com/moved; }"#,
        |_| {},
    );
    let r = s.get("/ep/x");
    assert_eq!((r.status, r.text().as_str()), (404, "<b>custom 404</b>\n"));
    // nginx sends the target's ETag but no Last-Modified with the error status.
    assert_eq!(
        r.header("ETag"),
        Some(etag_of(&s, "html/404.html").as_str())
    );
    assert_eq!(r.header("Last-Modified"), None);
    assert_eq!(r.header("Content-Type"), Some("text/html"));
    let r = s.get("/ok/x");
    assert_eq!((r.status, r.text().as_str()), (200, "<b>custom 404</b>\n"));
    let r = s.get("/nm/x");
    assert_eq!((r.status, r.text().as_str()), (202, "named"));
    // Without `=`, the error's status replaces the named location's 200.
    let r = s.get("/nm2/x");
    assert_eq!((r.status, r.text().as_str()), (404, "named body"));
    // With `=200` the target is an ordinary 200: preconditions and ranges apply.
    let r = s.request(
        b"GET /ok2/x HTTP/1.1\r\nHost: localhost\r\nIf-Match: \"zz\"\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 412);
    let r = s.request(
        b"GET /ok2/x HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((r.status, r.text().as_str()), (206, "al"));
    let r = s.get("/ext/x");
    assert_eq!(
        (r.status, r.header("Location")),
        (302, Some("http://example.com/nf"))
    );
    let r = s.get("/ext301/x");
    assert_eq!(
        (r.status, r.header("Location")),
        (301, Some("http://example.com/moved"))
    );
    // The redirected request is a GET: a POST to a missing file gets the page, not 405.
    let r = s.request(
        b"POST /ep/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((r.status, r.text().as_str()), (404, "<b>custom 404</b>\n"));
}

#[test]
fn autoindex_lists_like_nginx() {
    let s = start_with(r#"location /dir/ { autoindex on; }"#, |p| {
        p.write("html/dir/b.txt", "12345");
        p.write("html/dir/a b&.txt", "x");
        p.write("html/dir/sub/x", "x");
        p.write("html/dir/.hidden", "h");
    });
    let r = s.get("/dir/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("text/html"));
    let when = |rel: &str| {
        // "Thu, 26 Nov 2026 01:44:42 GMT" → "26-Nov-2026 01:44"
        let d = http_date(mtime(&s, rel) as u64);
        format!("{}-{}-{} {}", &d[5..7], &d[8..11], &d[12..16], &d[17..22])
    };
    let want = format!(
        "<html>\r\n<head><title>Index of /dir/</title></head>\r\n<body>\r\n<h1>Index of /dir/</h1><hr><pre><a href=\"../\">../</a>\r\n\
         <a href=\"sub/\">sub/</a>{} {}                   -\r\n\
         <a href=\"a%20b%26.txt\">a b&amp;.txt</a>{} {}                   1\r\n\
         <a href=\"b.txt\">b.txt</a>{} {}                   5\r\n\
         </pre><hr></body>\r\n</html>\r\n",
        " ".repeat(46),
        when("html/dir/sub"),
        " ".repeat(42),
        when("html/dir/a b&.txt"),
        " ".repeat(45),
        when("html/dir/b.txt"),
    );
    assert_eq!(r.text(), want);
}

#[test]
fn expires_values_set_expires_and_cache_control() {
    let s = start_with(
        r#"location /max/ { alias html/; expires max; }
           location /epoch/ { alias html/; expires epoch; }
           location /hour/ { alias html/; expires 1h; }
           location /neg/ { alias html/; expires -1; }
           location /mod/ { alias html/; expires modified 1d; }
           location /off/ { alias html/; expires off; }"#,
        |_| {},
    );
    let r = s.get("/max/a.txt");
    assert_eq!(r.header("Expires"), Some("Thu, 31 Dec 2037 23:55:55 GMT"));
    assert_eq!(r.header("Cache-Control"), Some("max-age=315360000"));
    let r = s.get("/epoch/a.txt");
    assert_eq!(r.header("Expires"), Some("Thu, 01 Jan 1970 00:00:01 GMT"));
    assert_eq!(r.header("Cache-Control"), Some("no-cache"));
    let r = s.get("/hour/a.txt");
    assert_eq!(r.header("Cache-Control"), Some("max-age=3600"));
    let r = s.get("/neg/a.txt");
    assert_eq!(r.header("Cache-Control"), Some("no-cache"));
    let r = s.get("/mod/a.txt");
    let m = mtime(&s, "html/a.txt") as u64;
    assert_eq!(r.header("Expires"), Some(http_date(m + 86400).as_str()));
    let r = s.get("/off/a.txt");
    assert_eq!(
        (r.header("Expires"), r.header("Cache-Control")),
        (None, None)
    );
    // nginx's header order: ETag, Expires, Cache-Control, then Accept-Ranges.
    let r = s.get("/hour/a.txt");
    let names = r.header_names();
    let at = |n: &str| names.iter().position(|x| *x == n).expect(n);
    assert!(at("Connection") < at("ETag") && at("ETag") < at("Expires"));
    assert!(at("Cache-Control") < at("Accept-Ranges"));
}

#[test]
fn add_header_inheritance_and_always() {
    let s = start_with(
        r#"add_header X-Server s;
           location /own/ { alias html/; add_header X-Loc l; add_header X-Always a always; }
           location /inherit/ { alias html/; }"#,
        |_| {},
    );
    let r = s.get("/own/a.txt");
    assert_eq!((r.header("X-Loc"), r.header("X-Server")), (Some("l"), None));
    assert_eq!(r.header("X-Always"), Some("a"));
    let r = s.get("/inherit/a.txt");
    assert_eq!(r.header("X-Server"), Some("s"));
    // On a 404 only `always` headers are added.
    let r = s.get("/own/missing");
    assert_eq!(
        (r.status, r.header("X-Loc"), r.header("X-Always")),
        (404, None, Some("a"))
    );
}

#[test]
fn conditional_requests() {
    let s = start_with(r#"location /nt/ { alias html/; etag off; }"#, |_| {});
    let etag = etag_of(&s, "html/a.txt");
    let lm = http_date(mtime(&s, "html/a.txt") as u64);
    let r = raw(&s, &format!("GET /a.txt HTTP/1.1\r\nIf-None-Match: {etag}"));
    assert_eq!(r.status, 304);
    assert_eq!(r.header("ETag"), Some(etag.as_str()));
    assert_eq!(r.header("Last-Modified"), Some(lm.as_str()));
    assert_eq!(
        (r.header("Content-Length"), r.header("Content-Type")),
        (None, None)
    );
    let r = raw(
        &s,
        &format!("GET /a.txt HTTP/1.1\r\nIf-Modified-Since: {lm}"),
    );
    assert_eq!(r.status, 304);
    let r = raw(&s, "GET /a.txt HTTP/1.1\r\nIf-None-Match: \"other\"");
    assert_eq!(r.status, 200);
    let r = raw(&s, "GET /a.txt HTTP/1.1\r\nIf-Match: \"other\"");
    assert_eq!(r.status, 412);
    let r = raw(
        &s,
        "GET /a.txt HTTP/1.1\r\nIf-Unmodified-Since: Thu, 01 Jan 1970 00:00:01 GMT",
    );
    assert_eq!(r.status, 412);
    let r = s.get("/nt/a.txt");
    assert_eq!((r.status, r.header("ETag")), (200, None));
}

#[test]
fn byte_ranges() {
    let s = start_with("", |_| {});
    let r = raw(&s, "GET /a.txt HTTP/1.1\r\nRange: bytes=1-2");
    assert_eq!((r.status, r.text().as_str()), (206, "lp"));
    assert_eq!(r.header("Content-Range"), Some("bytes 1-2/6"));
    assert_eq!(r.header("Content-Length"), Some("2"));
    let r = raw(&s, "GET /a.txt HTTP/1.1\r\nRange: bytes=-3");
    assert_eq!((r.status, r.text().as_str()), (206, "ha\n"));
    let r = raw(&s, "GET /a.txt HTTP/1.1\r\nRange: bytes=100-");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("Content-Range"), Some("bytes */6"));
    // Several ranges: 206 multipart/byteranges, as nginx (tests/core_ranges.rs has more).
    let r = raw(&s, "GET /a.txt HTTP/1.1\r\nRange: bytes=0-0,2-3");
    assert_eq!(r.status, 206);
    assert!(
        r.text()
            .contains("Content-Range: bytes 2-3/6\r\n\r\nph\r\n--")
    );
    let r = raw(
        &s,
        "GET /a.txt HTTP/1.1\r\nRange: bytes=1-2\r\nIf-Range: \"nope\"",
    );
    assert_eq!((r.status, r.text().as_str()), (200, "alpha\n"));
    let etag = etag_of(&s, "html/a.txt");
    let r = raw(
        &s,
        &format!("GET /a.txt HTTP/1.1\r\nRange: bytes=1-2\r\nIf-Range: {etag}"),
    );
    assert_eq!(r.status, 206);
    let r = raw(&s, "HEAD /a.txt HTTP/1.1\r\nRange: bytes=1-2");
    assert_eq!((r.status, r.header("Content-Length")), (206, Some("2")));
}

#[test]
fn methods_a_static_file_does_not_take() {
    let s = start_with("", |_| {});
    assert_eq!(
        raw(&s, "PUT /a.txt HTTP/1.1\r\nContent-Length: 0").status,
        405
    );
    assert_eq!(raw(&s, "DELETE /missing HTTP/1.1").status, 405);
    assert_eq!(
        raw(&s, "POST /a.txt HTTP/1.1\r\nContent-Length: 0").status,
        405
    );
    // nginx opens the file before refusing POST: a missing one is 404.
    assert_eq!(
        raw(&s, "POST /missing HTTP/1.1\r\nContent-Length: 0").status,
        404
    );
    let r = raw(&s, "HEAD /a.txt HTTP/1.1");
    assert_eq!(
        (r.status, r.header("Content-Length"), r.body.len()),
        (200, Some("6"), 0)
    );
}

/// `$request_filename` and `$document_root` follow `alias` in the rewrite phase too.
#[test]
fn request_filename_under_alias_in_if() {
    let s = start_with(
        r#"location /al/ { alias images/; if (-f $request_filename) { add_header X-Found yes; } }
           location /v/ { alias images/; return 200 "$document_root|$request_filename"; }
           location ~ ^/rv/(.*)$ { alias images/$1; return 200 "$document_root|$request_filename"; }"#,
        |p| p.write("images/cat.jpg", "CAT"),
    );
    let r = s.get("/al/cat.jpg");
    assert_eq!((r.status, r.header("X-Found")), (200, Some("yes")));
    let images = s.prefix.path("images/");
    let want = format!("{}|{}x.jpg", images.display(), images.display());
    assert_eq!(s.get("/v/x.jpg").text(), want);
    // A regex location's alias, captures evaluated, is the whole path (nginx 1.22).
    let file = s.prefix.path("images/x.jpg");
    let want = format!("{}|{}", file.display(), file.display());
    assert_eq!(s.get("/rv/x.jpg").text(), want);
}
