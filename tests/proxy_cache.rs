//! The proxy cache (issue 19) over real sockets, against an in-process upstream that counts
//! what it is asked: misses, hits, expiry, what the response's own fields allow, bypass and
//! `proxy_no_cache`, damaged files, the files on disk as nginx lays them out, and the
//! directives refused at `-t` until they are built.

mod common;
#[path = "support/upstream.rs"]
mod upstream;

use std::time::Duration;

use common::{Server, run_cli};
use upstream::Upstream;

/// A server caching `/c/` (1 minute for 200s unless the response says otherwise), with
/// `/valid1/` cached 1 second and `/nocache/` not cached.
fn start(up: &Upstream, extra: &str) -> Server {
    Server::start_with(
        1,
        &format!(
            "log_format cache '$request_uri $status [$upstream_cache_status] [$upstream_addr]';\n\
             access_log logs/access.log cache;\n\
             proxy_cache_path cache levels=1:2 keys_zone=one:1m;\n\
             server {{ listen 127.0.0.1:PORT;\n\
               location /c/ {{ proxy_pass http://127.0.0.1:{port}; proxy_cache one;\n\
                 proxy_cache_valid 200 1m; proxy_cache_bypass $arg_bypass;\n\
                 proxy_no_cache $arg_nostore; {extra} }}\n\
               location /valid1/ {{ proxy_pass http://127.0.0.1:{port}; proxy_cache one;\n\
                 proxy_cache_valid 1s; }}\n\
               location /reval/ {{ proxy_pass http://127.0.0.1:{port}; proxy_cache one;\n\
                 proxy_cache_valid 200 1s; proxy_cache_revalidate on; }}\n\
               location /nocache/ {{ proxy_pass http://127.0.0.1:{port}; }}\n\
             }}",
            port = up.port
        ),
        |_| {},
    )
}

/// How many requests the upstream saw for paths starting with `path`.
fn asked(up: &Upstream, path: &str) -> usize {
    up.seen()
        .iter()
        .filter(|s| {
            s.line
                .split(' ')
                .nth(1)
                .is_some_and(|t| t.starts_with(path))
        })
        .count()
}

/// The cache statuses the access log shows for `uri`, in order, once it shows `n`.
fn statuses(server: &Server, uri: &str, n: usize) -> Vec<String> {
    server.wait_for(5, || logged(server, uri).len() >= n);
    logged(server, uri)
}

fn logged(server: &Server, uri: &str) -> Vec<String> {
    server
        .access_log()
        .lines()
        .filter(|l| l.split(' ').next() == Some(uri))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next().map(str::to_string))
        .collect()
}

fn cache_files(server: &Server) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![server.prefix.path("cache")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_miss_is_stored_and_then_served_from_the_file() {
    let up = Upstream::start();
    let server = start(&up, "");
    let first = server.get("/c/a");
    assert_eq!(first.status, 200);
    for _ in 0..3 {
        let again = server.get("/c/a");
        assert_eq!(again.status, 200);
        assert_eq!(again.body, first.body, "the stored body");
        assert_eq!(again.header("X-Up"), Some("1"));
    }
    assert_eq!(asked(&up, "/c/a"), 1, "one upstream request");
    assert_eq!(statuses(&server, "/c/a", 4), ["MISS", "HIT", "HIT", "HIT"]);
    // A hit has no upstream: `$upstream_addr` is empty.
    assert!(
        server.access_log().contains("/c/a 200 [HIT] [-]"),
        "{}",
        server.access_log()
    );
    // HEAD is answered from the entry, without a body.
    let head = server.request(b"HEAD /c/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("Content-Length").map(str::to_string),
        Some(first.body.len().to_string())
    );
    assert_eq!(asked(&up, "/c/a"), 1);
    server.assert_clean_log();
}

#[test]
fn entries_are_nginx_files_named_by_the_md5_of_the_key() {
    let up = Upstream::start();
    let server = start(&up, "");
    server.get("/c/file?x=1");
    let files = cache_files(&server);
    assert_eq!(files.len(), 1, "{files:?}");
    let key = format!("http://127.0.0.1:{}/c/file?x=1", up.port);
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    let levels: Vec<String> = files[0]
        .parent()
        .unwrap()
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    // levels=1:2: the last hex digit, then the two before it.
    assert_eq!(levels[1], name[31..]);
    assert_eq!(levels[0], name[29..31]);
    let bytes = std::fs::read(&files[0]).unwrap();
    assert_eq!(&bytes[..8], &5u64.to_le_bytes(), "version 5");
    assert_eq!(&bytes[336..342], b"\nKEY: ");
    assert_eq!(&bytes[342..342 + key.len()], key.as_bytes());
    assert!(bytes[343 + key.len()..].starts_with(b"HTTP/1.1 200 X\r\n"));
    // nginx's md5 of the key is the name (checked with the test's own md5 below).
    assert_eq!(name, md5_hex(key.as_bytes()));
}

#[test]
fn an_entry_expires_after_its_time() {
    let up = Upstream::start();
    let server = start(&up, "");
    server.get("/valid1/x");
    server.get("/valid1/x");
    std::thread::sleep(Duration::from_millis(2100));
    server.get("/valid1/x");
    server.get("/valid1/x");
    assert_eq!(asked(&up, "/valid1/x"), 2);
    assert_eq!(
        statuses(&server, "/valid1/x", 4),
        ["MISS", "HIT", "EXPIRED", "HIT"]
    );
}

#[test]
fn an_expired_entry_is_revalidated_with_conditional_fields() {
    let up = Upstream::start();
    let server = start(&up, "");
    let lm = "h=Last-Modified:+Thu,+01+Jan+2015+00:00:00+GMT";
    let same = format!("/reval/same?not_modified=1&h=ETag:+abc&{lm}");
    let changed = format!("/reval/changed?h=ETag:+abc&{lm}");
    let first = server.get(&same);
    server.get(&changed);
    std::thread::sleep(Duration::from_millis(2100));
    // The upstream answers 304: the stored 200 answers, valid again for 1s.
    let again = server.get(&same);
    assert_eq!(again.status, 200);
    assert_eq!(again.body, first.body);
    let hit = server.get(&same);
    assert_eq!(hit.body, first.body);
    assert_eq!(asked(&up, "/reval/same"), 2);
    let seen = up.seen();
    let conditional = seen
        .iter()
        .filter(|s| s.line.contains("/reval/same"))
        .nth(1)
        .expect("the revalidation request");
    assert_eq!(conditional.header("if-none-match"), Some("abc"));
    assert_eq!(
        conditional.header("if-modified-since"),
        Some("Thu, 01 Jan 2015 00:00:00 GMT")
    );
    assert_eq!(statuses(&server, &same, 3), ["MISS", "REVALIDATED", "HIT"]);
    // The upstream answers 200: an ordinary EXPIRED fetch, stored again.
    server.get(&changed);
    server.get(&changed);
    assert_eq!(asked(&up, "/reval/changed"), 2);
    assert_eq!(statuses(&server, &changed, 3), ["MISS", "EXPIRED", "HIT"]);
    server.assert_clean_log();
}

#[test]
fn the_response_fields_decide_as_in_nginx() {
    let up = Upstream::start();
    let server = start(&up, "");
    let twice = |uri: &str| {
        server.get(uri);
        server.get(uri);
        asked(&up, uri.split('?').next().unwrap())
    };
    assert_eq!(twice("/c/cc1?h=Cache-Control:+no-cache"), 2);
    assert_eq!(twice("/c/cc2?h=Cache-Control:+private,+max-age=60"), 2);
    assert_eq!(twice("/c/cc3?h=Set-Cookie:+a=b"), 2);
    assert_eq!(twice("/c/cc4?h=X-Accel-Expires:+0"), 2);
    assert_eq!(twice("/c/cc5?h=Vary:+*"), 2);
    assert_eq!(twice("/c/cc6?h=Expires:+Thu,+01+Jan+1970+00:00:01+GMT"), 2);
    assert_eq!(twice("/c/cc7?h=Cache-Control:+max-age=60"), 1);
    // A status proxy_cache_valid does not name, with its own time: cached.
    assert_eq!(twice("/c/s/404?h=Cache-Control:+max-age=60"), 1);
    // ... and without: not cached.
    assert_eq!(twice("/c/s/403"), 2);
    // Its own time wins over proxy_cache_valid's: 1 second here.
    server.get("/c/cc8?h=X-Accel-Expires:+1");
    std::thread::sleep(Duration::from_millis(2100));
    server.get("/c/cc8?h=X-Accel-Expires:+1");
    assert_eq!(asked(&up, "/c/cc8"), 2);
}

#[test]
fn ignored_fields_do_not_keep_a_response_out() {
    let up = Upstream::start();
    let server = start(&up, "proxy_ignore_headers Set-Cookie Cache-Control;");
    server.get("/c/i?h=Set-Cookie:+a=b&h=Cache-Control:+no-store");
    let hit = server.get("/c/i?h=Set-Cookie:+a=b&h=Cache-Control:+no-store");
    assert_eq!(asked(&up, "/c/i"), 1);
    // The stored head is relayed as it came.
    assert_eq!(hit.header("Set-Cookie"), Some("a=b"));
}

#[test]
fn bypass_goes_upstream_and_stores_no_cache_does_not_store() {
    let up = Upstream::start();
    let server = start(&up, "");
    server.get("/c/b?nostore=1");
    server.get("/c/b?nostore=1");
    assert_eq!(asked(&up, "/c/b"), 2, "proxy_no_cache: nothing stored");
    server.get("/c/d");
    server.get("/c/d?bypass=1");
    assert_eq!(asked(&up, "/c/d"), 2);
    assert_eq!(statuses(&server, "/c/d?bypass=1", 1), ["BYPASS"]);
    // The bypassing response replaced the entry (its key has the query, so another one).
    server.get("/c/d?bypass=1");
    assert_eq!(asked(&up, "/c/d"), 3);
    server.get("/c/d?bypass=0");
    assert_eq!(statuses(&server, "/c/d?bypass=0", 1), ["MISS"]);
    server.get("/c/d?bypass=0");
    assert_eq!(statuses(&server, "/c/d?bypass=0", 2), ["MISS", "HIT"]);
}

#[test]
fn a_damaged_file_is_logged_refetched_and_never_served() {
    let up = Upstream::start();
    let server = start(&up, "");
    let good = server.get("/c/dmg");
    let file = cache_files(&server).pop().expect("entry");
    // Another key in the file (a byte of the KEY line).
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[350] ^= 0x20;
    std::fs::write(&file, &bytes).unwrap();
    let r = server.get("/c/dmg");
    assert_eq!(r.status, 200);
    assert!(
        r.text().starts_with("upstream 200 GET /c/dmg"),
        "{}",
        r.text()
    );
    assert_eq!(r.body.len(), good.body.len());
    assert!(
        server.error_log().contains("has md5 collision"),
        "{}",
        server.error_log()
    );
    assert_eq!(asked(&up, "/c/dmg"), 2);
    // Refetched and stored again.
    server.get("/c/dmg");
    assert_eq!(asked(&up, "/c/dmg"), 2);
    // Cut short: the body is not what its Content-Length says.
    let file = cache_files(&server).pop().expect("entry");
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let r = server.get("/c/dmg");
    assert_eq!(r.status, 200);
    assert!(r.text().starts_with("upstream 200 GET /c/dmg"));
    assert_eq!(asked(&up, "/c/dmg"), 3);
    assert!(server.error_log().contains("is too small"));
    assert_eq!(
        statuses(&server, "/c/dmg", 4),
        ["MISS", "MISS", "HIT", "MISS"]
    );
}

#[test]
fn large_and_chunked_responses_are_stored_whole() {
    let up = Upstream::start();
    let server = start(&up, "proxy_buffers 4 4k; proxy_buffer_size 4k;");
    for uri in ["/c/big?size=300000", "/c/ch?chunked=1&size=5000"] {
        let first = server.get(uri);
        let hit = server.get(uri);
        assert_eq!(hit.status, 200);
        assert_eq!(hit.body.len(), first.body.len(), "{uri}");
        assert_eq!(hit.body, first.body, "{uri}");
    }
    assert_eq!(asked(&up, "/c/big"), 1);
    assert_eq!(asked(&up, "/c/ch"), 1);
    server.assert_clean_log_except(&["buffered to a temporary file"]);
}

#[test]
fn conditional_and_range_fields_stay_home_when_caching() {
    let up = Upstream::start();
    let server = start(&up, "");
    let req = |uri: &str| {
        format!(
            "GET {uri} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nRange: bytes=0-1\r\n\
             If-None-Match: \"x\"\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:01 GMT\r\n\r\n"
        )
    };
    server.request(req("/c/cond").as_bytes());
    server.request(req("/nocache/cond").as_bytes());
    let seen = up.seen();
    let cached = seen.iter().find(|s| s.line.contains("/c/cond")).unwrap();
    assert_eq!(cached.header("range"), None);
    assert_eq!(cached.header("if-none-match"), None);
    assert_eq!(cached.header("if-modified-since"), None);
    let plain = seen
        .iter()
        .find(|s| s.line.contains("/nocache/cond"))
        .unwrap();
    assert_eq!(plain.header("range"), Some("bytes=0-1"));
}

#[test]
fn entries_survive_a_reload() {
    let up = Upstream::start();
    let server = start(&up, "");
    server.get("/c/r");
    server.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    server.get("/c/r");
    assert_eq!(asked(&up, "/c/r"), 1);
}

#[test]
fn directives_not_built_yet_are_refused_at_test_time() {
    let prefix = common::Prefix::new();
    let check = |body: &str| {
        prefix.write(
            "conf/t.conf",
            format!("events {{}}\nhttp {{\nproxy_cache_path cache keys_zone=one:1m;\n{body}\n}}\n"),
        );
        let (code, out, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/t.conf"]);
        (code, format!("{out}{err}"))
    };
    for (body, words) in [
        (
            "proxy_cache two;",
            "\"proxy_cache\" zone \"two\" is unknown in",
        ),
        ("proxy_cache_max_range_offset -1;", "invalid value"),
        ("proxy_cache_valid 99 1m;", "invalid status \"99\""),
        (
            "proxy_cache_path c2 levels=3 keys_zone=two:1m;",
            "invalid \"levels\" \"levels=3\"",
        ),
        (
            "proxy_cache_path c2 keys_zone=one:1m;",
            "duplicate zone \"one\"",
        ),
        ("proxy_cache_methods PUT;", "invalid value \"PUT\""),
    ] {
        let (code, out) = check(body);
        assert_ne!(code, 0, "{body}: {out}");
        assert!(out.contains(words), "{body}: {out}");
    }
    let (code, out) = check(
        "proxy_cache one; proxy_cache_key $host$uri; proxy_cache_lock on; \
         proxy_cache_use_stale updating error; proxy_cache_min_uses 3; proxy_cache_methods GET POST; \
         proxy_cache_lock_timeout 5s; proxy_cache_convert_head on;\n\
         proxy_cache_background_update on; proxy_cache_max_range_offset 1m;\n\
         scgi_cache_revalidate on; uwsgi_cache_background_update on;\n\
         proxy_cache_path c2 keys_zone=two:1m max_size=1g min_free=1m loader_files=50 \
         manager_sleep=1s;",
    );
    assert_eq!(code, 0, "{out}");
}

#[test]
fn an_expired_entry_answers_a_failing_upstream_with_use_stale() {
    let up = Upstream::start();
    // A dead upstream: the stale entry too.
    let dead = common::free_port();
    let server2 = Server::start_with(
        1,
        "log_format cache '$request_uri $status [$upstream_cache_status]';\n\
             access_log logs/access.log cache;\n\
             proxy_cache_path cache keys_zone=one:1m;\n\
             server { listen 127.0.0.1:PORT;\n\
               location / { proxy_pass http://127.0.0.1:$arg_port; proxy_cache one;\n\
                 proxy_cache_key $uri; proxy_cache_use_stale error http_500; } }",
        |_| {},
    );
    let ok = server2.get(&format!("/e?port={}&h=X-Accel-Expires:+1", up.port));
    assert_eq!(ok.status, 200);
    std::thread::sleep(Duration::from_millis(2100));
    let r = server2.get(&format!("/e?port={dead}"));
    assert_eq!(r.status, 200, "{}", server2.error_log());
    assert_eq!(r.body, ok.body);
    assert_eq!(statuses(&server2, &format!("/e?port={dead}"), 1), ["STALE"]);
    // The upstream answers 500 (its status comes from the query): the entry again.
    let r = server2.get(&format!("/e?port={}&x=/s/500", up.port));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, ok.body);
    assert_eq!(asked(&up, "/e?port"), 2);
    // Without a stale entry the failure is the client's answer.
    assert_eq!(server2.get(&format!("/other?port={dead}")).status, 502);
}

#[test]
fn a_range_is_cut_from_the_cached_file() {
    let up = Upstream::start();
    let server = start(&up, "");
    let whole = server.get("/c/range?size=100");
    let r = server.request(
        b"GET /c/range?size=100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nRange: bytes=5-9\r\n\r\n",
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, whole.body[5..10]);
    assert_eq!(
        r.header("Content-Range").map(str::to_string),
        Some(format!("bytes 5-9/{}", whole.body.len()))
    );
    assert_eq!(asked(&up, "/c/range"), 1);
}

#[test]
fn a_cache_named_by_a_variable() {
    let up = Upstream::start();
    let server = Server::start_with(
        1,
        &format!(
            "proxy_cache_path c1 keys_zone=one:1m; proxy_cache_path c2 keys_zone=two:1m;\n\
             server {{ listen 127.0.0.1:PORT;\n\
               location / {{ proxy_pass http://127.0.0.1:{}; proxy_cache $arg_c;\n\
                 proxy_cache_valid 1m; proxy_cache_key $uri; }} }}",
            up.port
        ),
        |_| {},
    );
    server.get("/v?c=one");
    server.get("/v?c=one");
    server.get("/v?c=two");
    server.get("/v?c=");
    assert_eq!(asked(&up, "/v"), 3, "one, two (miss), none");
    assert_eq!(server.get("/v?c=three").status, 500);
    assert!(server.error_log().contains("cache \"three\" not found"));
}

/// MD5 as hex, written out here so the test does not trust the server's own.
fn md5_hex(data: &[u8]) -> String {
    let out = std::process::Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .expect("md5sum");
    String::from_utf8_lossy(&out.stdout)[..32].to_string()
}

#[test]
fn a_hit_answers_the_client_s_conditional_fields_with_304() {
    use std::io::Write;
    let up = Upstream::start();
    let server = start(&up, "");
    let uri = "/c/v?h=Last-Modified:+Thu,+01+Jan+2015+00:00:00+GMT";
    let first = server.get(uri);
    assert_eq!(first.status, 200);
    let ask =
        |field: &str| format!("GET {uri} HTTP/1.1\r\nHost: x\r\n{field}\r\n\r\n").into_bytes();
    // On one keep-alive connection: a 304 has no body and no length, and the next
    // answer on the connection is whole.
    let mut c = server.connect();
    c.write_all(&ask("If-Modified-Since: Thu, 01 Jan 2015 00:00:00 GMT"))
        .unwrap();
    let r = common::read_response(&mut c, false).expect("304");
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("Content-Length"), None);
    assert_eq!(r.header("Transfer-Encoding"), None);
    assert_eq!(
        r.header("Last-Modified"),
        Some("Thu, 01 Jan 2015 00:00:00 GMT")
    );
    // Modified since an earlier date: the whole 200.
    c.write_all(&ask("If-Modified-Since: Wed, 31 Dec 2014 00:00:00 GMT"))
        .unwrap();
    let r = common::read_response(&mut c, false).expect("200");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, first.body);
    assert_eq!(asked(&up, "/c/v"), 1, "both from the entry");
    server.assert_clean_log();
}

/// A worker remembers the entries it answered, and the keys zone tells it when a file
/// changed through the zone (`a_refill_is_served_at_once`). An entry that another process
/// replaces behind the zone's back (a new file renamed onto it, even with the old mtime),
/// rewrites in place or removes is seen by the `statx` a remembered entry gets once a
/// second: it is served as it is now within a second, and never as something else.
#[test]
fn a_remembered_entry_replaced_on_disk_is_served_as_it_is_now() {
    let up = Upstream::start();
    let server = start(&up, "");
    let first = server.get("/c/hot?size=2000");
    assert_eq!(server.get("/c/hot?size=2000").body, first.body);
    let file = cache_files(&server).pop().expect("entry");
    let old = std::fs::metadata(&file).unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    let original = bytes[last];
    // Asks until the body ends with `want`; each answer ends with it or with one of `was`.
    let served_within_seconds = |want: u8, was: &[u8]| {
        server.wait_for(3, || {
            let r = server.get("/c/hot?size=2000");
            let end = r.body.last().copied().unwrap_or(0);
            assert!(end == want || was.contains(&end), "served {end} for {want}");
            end == want
        })
    };
    bytes[last] = if original == b'Z' { b'Y' } else { b'Z' };
    let replaced = bytes[last];
    let tmp = file.with_extension("new");
    std::fs::write(&tmp, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&tmp)
        .unwrap()
        .set_modified(old.modified().unwrap())
        .unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    assert!(
        served_within_seconds(replaced, &[original]),
        "the new file's body"
    );
    // Rewritten in place (the same inode, a new mtime).
    bytes[last] = b'Q';
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&file, &bytes).unwrap();
    assert!(
        served_within_seconds(b'Q', &[replaced]),
        "the rewritten body"
    );
    // Removed: fetched again.
    std::fs::remove_file(&file).unwrap();
    assert!(
        served_within_seconds(original, b"Q"),
        "fetched again once removed"
    );
    assert_eq!(asked(&up, "/c/hot"), 2);
    let misses = || {
        logged(&server, "/c/hot?size=2000")
            .iter()
            .filter(|s| *s == "MISS")
            .count()
    };
    server.wait_for(5, || misses() == 2);
    assert_eq!(misses(), 2);
    assert_eq!(logged(&server, "/c/hot?size=2000")[..2], ["MISS", "HIT"]);
    server.assert_clean_log();
}

/// A response stored again through the keys zone (here a bypass's fill) is what the next
/// hit serves at once, in the same second: the zone's node has a new generation, so the
/// worker's remembered copy of the old file goes without waiting for its `statx`.
#[test]
fn a_refill_is_served_at_once() {
    let up = Upstream::start();
    // The key leaves the arguments out, so the bypass (with other arguments, which the
    // upstream's body says) fills the same entry.
    let server = start(
        &up,
        "proxy_cache_key $uri; proxy_cache_bypass $http_x_bypass;",
    );
    let first = server.get("/c/refill?size=100");
    assert_eq!(server.get("/c/refill?size=101").body, first.body);
    assert_eq!(server.get("/c/refill?size=102").body, first.body);
    let bypass = server.request(
        b"GET /c/refill?size=50 HTTP/1.1\r\nHost: localhost\r\nX-Bypass: 1\r\nConnection: close\r\n\r\n",
    );
    assert_ne!(bypass.body, first.body);
    assert_eq!(server.get("/c/refill?size=103").body, bypass.body);
    assert_eq!(asked(&up, "/c/refill"), 2);
    server.wait_for(5, || server.access_log().lines().count() >= 5);
    let seen: Vec<String> = (0..4)
        .flat_map(|i| logged(&server, &format!("/c/refill?size={}", 100 + i)))
        .collect();
    assert_eq!(seen, ["MISS", "HIT", "HIT", "HIT"]);
    assert_eq!(logged(&server, "/c/refill?size=50"), ["BYPASS"]);
    server.assert_clean_log();
}

/// `Vary` as nginx keeps it: the entry answers the requests of its variant; another
/// variant is fetched and stored in a second file named by MD5(MD5(key), the varied
/// fields); `Vary: *` is never stored.
#[test]
fn responses_with_vary_are_kept_per_variant() {
    let up = Upstream::start();
    let server = start(&up, "");
    let uri = "/c/v?h=Vary:X-A";
    let get = |xa: Option<&str>| {
        let field = xa.map_or(String::new(), |v| format!("X-A: {v}\r\n"));
        let r = server.request(
            format!("GET {uri} HTTP/1.1\r\nHost: x\r\n{field}Connection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(r.status, 200);
        r
    };
    get(Some("1"));
    get(Some("1"));
    get(Some("2"));
    get(Some("2"));
    get(Some("1"));
    get(None);
    get(None);
    assert_eq!(asked(&up, "/c/v"), 3, "one fetch per variant");
    assert_eq!(
        statuses(&server, uri, 7),
        ["MISS", "HIT", "MISS", "HIT", "HIT", "MISS", "HIT"]
    );
    let key = format!("http://127.0.0.1:{}{uri}", up.port);
    let main_hex = md5_hex(key.as_bytes());
    let main: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&main_hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut second = main.clone();
    second.extend_from_slice(b"x-a:2\r\n");
    let mut names: Vec<String> = cache_files(&server)
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&main_hex), "{names:?}");
    assert!(names.contains(&md5_hex(&second)), "{names:?}");
    // Vary: * is not stored.
    server.get("/c/star?h=Vary:*");
    server.get("/c/star?h=Vary:*");
    assert_eq!(asked(&up, "/c/star"), 2);
    server.assert_clean_log();
}

/// A hit offers ranges itself (nginx's `r->allow_ranges` for `r->cached`): the upstream's
/// own `Accept-Ranges` is not passed beside it.
#[test]
fn a_hit_says_accept_ranges_once() {
    let up = Upstream::start();
    let server = start(&up, "");
    let uri = "/c/ar?h=Accept-Ranges:bytes";
    server.get(uri);
    let hit = server.get(uri);
    assert_eq!(hit.status, 200);
    let lines = hit
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("accept-ranges"))
        .count();
    assert_eq!(lines, 1, "{:?}", hit.headers);
}

/// `proxy_pass_header Date` and `Server` with an upstream that sends neither: the answer
/// has neither, fetched or from the cache (nginx's proxy module passes an empty field).
#[test]
fn passed_date_and_server_stay_away_when_the_upstream_has_none() {
    let up = Upstream::start();
    let server = start(&up, "proxy_pass_header Date; proxy_pass_header Server;");
    for _ in 0..2 {
        let r = server.get("/c/pd");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Date"), None, "{:?}", r.headers);
        assert_eq!(r.header("Server"), None, "{:?}", r.headers);
    }
    assert_eq!(statuses(&server, "/c/pd", 2), ["MISS", "HIT"]);
}

/// Several ranges of a hit: one `multipart/byteranges` answer, as nginx's range filter
/// gives a cached response (a fetched one gets the whole 200).
#[test]
fn several_ranges_of_a_hit_are_one_multipart_answer() {
    let up = Upstream::start();
    let server = start(&up, "");
    multipart_of_a_hit(&server, "/c/mr?size=100", 1);
    assert_eq!(asked(&up, "/c/mr"), 1);
}

/// An entry over 32 KiB is served from its file, part after part.
#[test]
fn several_ranges_of_a_hit_served_from_its_file_are_one_multipart_answer() {
    let up = Upstream::start();
    let server = start(&up, "");
    for _ in 0..2 {
        multipart_of_a_hit(&server, "/c/big?size=200000", 3);
    }
    assert_eq!(asked(&up, "/c/big"), 1);
}

/// Asks for `uri` whole, then for `parts` ranges of it (the last one to the end), and
/// checks the multipart answer byte for byte.
fn multipart_of_a_hit(server: &Server, uri: &str, middle: usize) {
    let whole = server.get(uri);
    let total = whole.body.len();
    let mut ranges = vec![(0, 3)];
    for i in 0..middle {
        let at = 10 + i * (total / (middle + 1));
        ranges.push((at, at + 5000.min(total / (middle + 2))));
    }
    ranges.push((total - 7, total));
    let spec: Vec<String> = ranges
        .iter()
        .map(|(s, e)| format!("{s}-{}", e - 1))
        .collect();
    let r = server.request(
        format!(
            "GET {uri} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nRange: bytes={}\r\n\r\n",
            spec.join(",")
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 206);
    let ctype = r.header("Content-Type").unwrap_or_default().to_string();
    assert!(
        ctype.starts_with("multipart/byteranges; boundary="),
        "{ctype}"
    );
    let boundary = &ctype["multipart/byteranges; boundary=".len()..];
    let mut expected = Vec::new();
    for &(start, end) in &ranges {
        expected.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Range: bytes {start}-{}/{total}\r\n\r\n",
                end - 1
            )
            .as_bytes(),
        );
        expected.extend_from_slice(&whole.body[start..end]);
    }
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(
        r.header("Content-Length"),
        Some(&*expected.len().to_string())
    );
}

/// `proxy_cache_background_update on` with `use_stale updating`: an expired entry answers at
/// once (`STALE`) and a background subrequest fetches the new one (one upstream request),
/// which the next request gets as a hit.
#[test]
fn a_background_update_answers_stale_at_once_and_refreshes_the_entry() {
    let up = Upstream::start();
    let server = Server::start_with(
        1,
        &format!(
            "log_format cache '$uri $status [$upstream_cache_status]';\n\
             access_log logs/access.log cache;\n\
             proxy_cache_path cache keys_zone=one:1m;\n\
             server {{ listen 127.0.0.1:PORT;\n\
               location /bg/ {{ proxy_pass http://127.0.0.1:{port}; proxy_cache one;\n\
                 proxy_cache_key $uri; proxy_cache_valid 200 1s;\n\
                 proxy_cache_use_stale updating; proxy_cache_background_update on; }}\n\
             }}",
            port = up.port
        ),
        |_| {},
    );
    let first = server.get("/bg/x?v=1");
    assert!(first.text().contains("v=1"), "{}", first.text());
    std::thread::sleep(Duration::from_millis(2100));
    // The refresh is slow (3 s); the stale answer does not wait for it.
    let mut c = server.connect();
    let started = std::time::Instant::now();
    common::send(&mut c, &common::get_request("/bg/x?v=2&delay=3000"));
    let stale = common::next_response(&mut c);
    assert!(started.elapsed() < Duration::from_millis(2000));
    assert_eq!(stale.status, 200);
    assert!(stale.text().contains("v=1"), "{}", stale.text());
    // Another request while the refresh runs gets the old entry too (UPDATING).
    let updating = server.get("/bg/x?v=3");
    assert!(updating.text().contains("v=1"), "{}", updating.text());
    // The stale answer's log line comes once its background update is done (the
    // connection waits for it, as nginx's).
    assert!(server.wait_for(10, || logged(&server, "/bg/x").len() >= 3));
    let fresh = server.get("/bg/x?v=4");
    assert!(fresh.text().contains("v=2"), "{}", fresh.text());
    assert_eq!(asked(&up, "/bg/x"), 2, "one refresh");
    drop(c);
    assert_eq!(
        statuses(&server, "/bg/x", 4),
        ["MISS", "UPDATING", "STALE", "HIT"]
    );
    server.assert_clean_log();
}

/// A client that closes its connection as soon as it has the `STALE` answer does not cut
/// the background update short, over HTTP/1.1 or HTTP/2: as nginx's request, which lives
/// until its background subrequest ends, the connection waits for it and the fresh entry
/// is stored.
#[test]
fn a_background_update_finishes_after_its_client_closed() {
    let up = Upstream::start();
    let h2 = common::free_port();
    let server = Server::start_with(
        1,
        &format!(
            "log_format cache '$uri $status [$upstream_cache_status]';\n\
             access_log logs/access.log cache;\n\
             proxy_cache_path cache keys_zone=one:1m;\n\
             server {{ listen 127.0.0.1:PORT; listen 127.0.0.1:{h2} http2;\n\
               location /bg/ {{ proxy_pass http://127.0.0.1:{port}; proxy_cache one;\n\
                 proxy_cache_key $uri; proxy_cache_valid 200 1s;\n\
                 proxy_cache_use_stale updating; proxy_cache_background_update on; }}\n\
             }}",
            port = up.port
        ),
        |_| {},
    );
    // Whether an entry holds `text` (the upstream names the request in its body).
    let stored = |text: &str| {
        cache_files(&server)
            .iter()
            .any(|f| std::fs::read(f).is_ok_and(|b| common::find(&b, text.as_bytes()).is_some()))
    };
    for uri in ["/bg/h1", "/bg/h2"] {
        let first = server.get(&format!("{uri}?v=old"));
        assert!(first.text().contains("v=old"), "{}", first.text());
    }
    std::thread::sleep(Duration::from_millis(2100));
    // HTTP/1.1: the client reads its answer and closes while the refresh (3 s) runs.
    let mut c = server.connect();
    common::send(&mut c, &common::get_request("/bg/h1?v=new&delay=3000"));
    let stale = common::next_response(&mut c);
    assert!(stale.text().contains("v=old"), "{}", stale.text());
    drop(c);
    assert!(!stored("/bg/h1?v=new"), "too slow to tell");
    // HTTP/2: curl exits once it has the answer, closing its connection.
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "10", "--http2-prior-knowledge"])
        .arg(format!("http://127.0.0.1:{h2}/bg/h2?v=new&delay=3000"))
        .output()
        .expect("curl");
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("v=old"), "{body}");
    assert!(!stored("/bg/h2?v=new"), "too slow to tell");
    for uri in ["/bg/h1", "/bg/h2"] {
        assert!(
            server.wait_for(10, || stored(&format!("{uri}?v=new"))),
            "{uri}: the refresh was not stored\n{}",
            server.error_log()
        );
        let fresh = server.get(&format!("{uri}?v=later"));
        assert!(fresh.text().contains("v=new"), "{}", fresh.text());
        assert_eq!(asked(&up, uri), 2, "one refresh");
        assert_eq!(
            statuses(&server, uri, 3),
            ["MISS", "STALE", "HIT"],
            "{}",
            server.access_log()
        );
    }
    server.assert_clean_log();
}

/// A cacheable miss with a `Range` stores the whole response and, when the upstream says
/// `Accept-Ranges`, answers the range (nginx's single range for `u->cacheable`); with
/// `proxy_cache_max_range_offset`, a range starting beyond it goes upstream as asked and
/// is not stored.
#[test]
fn a_range_on_a_miss_is_answered_and_the_whole_body_stored() {
    let up = Upstream::start();
    let server = start(&up, "proxy_cache_max_range_offset 50;");
    let ranged = |path: &str, range: &str| {
        server.request(
            format!(
                "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nRange: bytes={range}\r\n\r\n"
            )
            .as_bytes(),
        )
    };
    let part = ranged("/c/miss?size=100&h=Accept-Ranges:+bytes", "5-9");
    assert_eq!(part.status, 206, "{}", common::show(&part));
    assert_eq!(part.header("Accept-Ranges"), None);
    let whole = server.get("/c/miss?size=100&h=Accept-Ranges:+bytes");
    assert_eq!(whole.status, 200);
    assert_eq!(part.body, whole.body[5..10]);
    assert_eq!(
        whole
            .header_names()
            .iter()
            .filter(|n| n.eq_ignore_ascii_case("accept-ranges"))
            .count(),
        1
    );
    assert_eq!(asked(&up, "/c/miss"), 1, "the whole body was stored");
    // Beyond the offset: the client's Range goes upstream and nothing is stored.
    let far = ranged("/c/far?size=100", "60-");
    assert_eq!(far.status, 200);
    let sent = up.seen();
    let sent = sent
        .iter()
        .find(|s| s.line.contains("/c/far"))
        .expect("the far range went upstream");
    assert_eq!(sent.header("range"), Some("bytes=60-"));
    server.get("/c/far?size=100");
    assert_eq!(asked(&up, "/c/far"), 2);
    assert_eq!(statuses(&server, "/c/far?size=100", 2), ["MISS", "MISS"]);
    server.assert_clean_log();
}

/// An upstream error intercepted for an `error_page` is cached as nginx caches it: in the
/// keys zone only, answering its status (to the `error_page`) as a hit until its time is
/// over; a bypass fetches again and a stored response replaces it.
#[test]
fn an_intercepted_error_is_cached_in_the_keys_zone() {
    let up = Upstream::start();
    let server = Server::start_with(
        1,
        &format!(
            "log_format cache '$uri $status [$upstream_cache_status]';\n\
             access_log logs/access.log cache;\n\
             proxy_cache_path cache keys_zone=one:1m;\n\
             server {{ listen 127.0.0.1:PORT;\n\
               location /e/ {{ proxy_pass http://127.0.0.1:{port}; proxy_cache one;\n\
                 proxy_cache_key $uri; proxy_cache_valid any 1m; proxy_cache_bypass $arg_b;\n\
                 proxy_intercept_errors on; error_page 404 = @fallback; }}\n\
               location @fallback {{ return 403; }}\n\
             }}",
            port = up.port
        ),
        |_| {},
    );
    assert_eq!(server.get("/e/s/404").status, 403);
    assert_eq!(server.get("/e/s/404").status, 403);
    assert_eq!(asked(&up, "/e/s/404"), 1, "the error was cached");
    assert!(cache_files(&server).is_empty(), "no file for an error");
    assert_eq!(server.get("/e/s/404?b=1").status, 403);
    assert_eq!(asked(&up, "/e/s/404"), 2, "a bypass fetches again");
    assert_eq!(statuses(&server, "/e/s/404", 3), ["MISS", "HIT", "BYPASS"]);
    server.assert_clean_log();
}

/// With `proxy_cache_convert_head off` and a key without the method, a HEAD's entry (no
/// body) answers a later GET as nginx answers it: a hit with the stored head alone; the
/// connection then closes, as no body follows its `Content-Length`.
#[test]
fn a_head_entry_answers_a_get_with_its_head_and_closes() {
    let up = Upstream::start();
    let server = start(&up, "proxy_cache_convert_head off; proxy_cache_key $uri;");
    let head = server.request(b"HEAD /c/h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(head.status, 200);
    let mut c = server.connect();
    common::send(&mut c, &common::get_request("/c/h"));
    let got = common::read_response(&mut c, true).expect("a head");
    assert_eq!(got.status, 200);
    assert!(
        got.header("Content-Length").is_some(),
        "{}",
        common::show(&got)
    );
    assert_eq!(got.header("Connection"), Some("close"));
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert!(
        common::read_to_end(&mut c).is_empty(),
        "no body, then the close"
    );
    assert_eq!(asked(&up, "/c/h"), 1);
    assert_eq!(statuses(&server, "/c/h", 2), ["MISS", "HIT"]);
}

/// Under `proxy_force_ranges`, a miss with a `Range` answers the range and stores the whole
/// body (the range is cut after the cache's copy), as nginx.
#[test]
fn a_forced_range_on_a_miss_stores_the_whole_body() {
    let up = Upstream::start();
    let server = start(&up, "proxy_force_ranges on;");
    let part = server.request(
        b"GET /c/forced?size=50 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nRange: bytes=0-3\r\n\r\n",
    );
    assert_eq!(part.status, 206, "{}", common::show(&part));
    let whole = server.get("/c/forced?size=50");
    assert_eq!(whole.status, 200);
    assert_eq!(part.body, whole.body[..4]);
    assert_eq!(asked(&up, "/c/forced"), 1);
    assert_eq!(statuses(&server, "/c/forced?size=50", 2), ["MISS", "HIT"]);
}
