//! The FastCGI cache (issue 19) in front of a real php-fpm: the same cache code as the
//! proxy's (`config/cache_conf.rs`), with the module's own directives. A PHP script counts
//! the times it runs (a file it increments), so a hit shows as an unchanged count.

mod common;
#[path = "support/php.rs"]
mod php;

use common::{Prefix, Server, run_cli};
use php::PhpFpm;

fn scripts(prefix: &Prefix) {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    for name in ["fastcgi.conf", "fastcgi_params"] {
        prefix.write(
            &format!("conf/{name}"),
            std::fs::read(shipped.join(name)).expect("shipped fastcgi.conf"),
        );
    }
    // The count is kept beside the script; each run adds one and answers with it.
    prefix.write(
        "html/count.php",
        "<?php $f = __DIR__ . '/count.txt'; $n = (int)@file_get_contents($f) + 1; \
         file_put_contents($f, $n); \
         if (isset($_GET['cookie'])) { header('Set-Cookie: a=b'); } \
         if (isset($_GET['status'])) { http_response_code((int)$_GET['status']); } \
         echo 'run ', $n, ' ', $_SERVER['REQUEST_METHOD'], \"\\n\";",
    );
    // Valid 1 s, with validators; a request carrying the ETag gets a 304.
    prefix.write(
        "html/reval.php",
        "<?php $f = __DIR__ . '/reval.txt'; $n = (int)@file_get_contents($f) + 1; \
         file_put_contents($f, $n); \
         header('X-Accel-Expires: 1'); header('ETag: \"e1\"'); \
         header('Last-Modified: Thu, 01 Jan 2015 00:00:00 GMT'); \
         if (($_SERVER['HTTP_IF_NONE_MATCH'] ?? '') === '\"e1\"') { http_response_code(304); exit; } \
         echo 'run ', $n, ' ', $_SERVER['HTTP_IF_MODIFIED_SINCE'] ?? '-', \"\\n\";",
    );
    prefix.write(
        "html/fields.php",
        "<?php echo $_SERVER['HTTP_IF_MODIFIED_SINCE'] ?? '-', ' ', $_SERVER['HTTP_RANGE'] ?? '-', \
         ' ', $_SERVER['HTTP_X_OTHER'] ?? '-';",
    );
}

fn server(extra: &str) -> Option<(Server, PhpFpm)> {
    let dir = std::env::temp_dir().join(format!(
        "portico-fpm-cache-{}-{}",
        std::process::id(),
        common::free_port()
    ));
    let fpm = PhpFpm::start(&dir)?;
    let conf = format!(
        "log_format cache '$request_uri $status [$upstream_cache_status]';\n\
         access_log logs/access.log cache;\n\
         fastcgi_cache_path fcache levels=1:2 keys_zone=php:1m;\n\
         server {{ listen 127.0.0.1:PORT; server_name localhost;\n\
           location ~ \\.php$ {{ include fastcgi.conf; fastcgi_pass unix:{sock};\n\
             fastcgi_cache php; fastcgi_cache_key $request_method$request_uri;\n\
             fastcgi_cache_valid 200 1m; fastcgi_cache_bypass $arg_bypass;\n\
             fastcgi_no_cache $arg_nostore; {extra} }}\n\
         }}",
        sock = fpm.socket.display(),
    );
    Some((Server::start_with(1, &conf, scripts), fpm))
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").into_bytes()
}

#[test]
fn php_answers_are_cached_by_fastcgi_cache() {
    let Some((s, _fpm)) = server("") else {
        return;
    };
    let r = s.request(&get("/count.php?a"));
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert_eq!(r.text(), "run 1 GET\n");
    // A hit: php-fpm does not run; the head is the stored one (PHP's Content-Type).
    let r = s.request(&get("/count.php?a"));
    assert_eq!(r.text(), "run 1 GET\n");
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"));
    // Another key, a bypass and a response kept out of the cache all run the script.
    assert_eq!(s.request(&get("/count.php?b")).text(), "run 2 GET\n");
    assert_eq!(
        s.request(&get("/count.php?a&bypass=1")).text(),
        "run 3 GET\n"
    );
    assert_eq!(
        s.request(&get("/count.php?n&nostore=1")).text(),
        "run 4 GET\n"
    );
    assert_eq!(
        s.request(&get("/count.php?n&nostore=1")).text(),
        "run 5 GET\n"
    );
    // Set-Cookie keeps a response out of the cache; a status fastcgi_cache_valid does
    // not name too.
    assert_eq!(s.request(&get("/count.php?cookie=1")).text(), "run 6 GET\n");
    assert_eq!(s.request(&get("/count.php?cookie=1")).text(), "run 7 GET\n");
    assert_eq!(s.request(&get("/count.php?status=404")).status, 404);
    assert_eq!(
        s.request(&get("/count.php?status=404")).text(),
        "run 9 GET\n"
    );
    // HEAD goes up as HEAD (no fastcgi_cache_convert_head in nginx) under its own key.
    let r =
        s.request(b"HEAD /count.php?a HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 200);
    let r =
        s.request(b"HEAD /count.php?a HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(s.request(&get("/count.php?z")).text(), "run 11 GET\n");
    s.wait_for(5, || s.access_log().lines().count() >= 14);
    let log = s.access_log();
    let statuses: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split('[').nth(1))
        .map(|s| s.trim_end_matches(']'))
        .collect();
    assert_eq!(
        statuses,
        [
            "MISS", "HIT", "MISS", "BYPASS", "MISS", "MISS", "MISS", "MISS", "MISS", "MISS",
            "MISS", "HIT", "MISS"
        ][..statuses.len().min(13)],
        "{log}"
    );
    // The entry is nginx's layout: one file under levels=1:2 with the KEY line.
    let files: Vec<_> = walk(&s.prefix.path("fcache"));
    assert!(
        files
            .iter()
            .any(|f| std::fs::read(f)
                .is_ok_and(|b| b.windows(19).any(|w| w == b"\nKEY: GET/count.php"))),
        "{files:?}"
    );
    // The client's conditional and range fields are not passed when caching
    // (nginx's fastcgi_cache_headers), the others are.
    let r = s.request(
        b"GET /fields.php?nostore=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
          If-Modified-Since: Thu, 01 Jan 2015 00:00:00 GMT\r\nRange: bytes=0-1\r\nX-Other: o\r\n\r\n",
    );
    assert_eq!(r.text(), "- - o");
    s.assert_clean_log();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn gateway_cache_directives_are_checked_as_the_proxy_s() {
    let check = |conf: &str| {
        let prefix = Prefix::new();
        prefix.write(
            "conf/t.conf",
            format!("events {{}} http {{ {conf} server {{ listen 127.0.0.1:1; }} }}"),
        );
        let (code, out, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/t.conf"]);
        (code, format!("{out}{err}"))
    };
    for m in ["fastcgi", "uwsgi", "scgi"] {
        let ok = check(&format!(
            "{m}_cache_path c_{m} keys_zone={m}z:1m; server {{ listen 127.0.0.1:2; location / {{ \
             {m}_pass 127.0.0.1:9; {m}_cache {m}z; {m}_cache_key $uri; {m}_cache_valid 1m; \
             {m}_cache_methods POST; {m}_cache_use_stale error updating; {m}_cache_min_uses 2; \
             {m}_cache_lock on; {m}_cache_lock_timeout 1s; {m}_cache_lock_age 2s; }} }}"
        ));
        assert_eq!(ok.0, 0, "{m}: {}", ok.1);
        let on = check(&format!(
            "{m}_cache_revalidate on; {m}_cache_background_update on; \
             {m}_cache_max_range_offset 10;"
        ));
        assert_eq!(on.0, 0, "{m}: {}", on.1);
        let bad = check(&format!("{m}_cache_revalidate maybe;"));
        assert_ne!(bad.0, 0);
    }
}

/// `fastcgi_cache_revalidate on`: an expired entry is asked for with its validators as
/// `HTTP_IF_NONE_MATCH`/`HTTP_IF_MODIFIED_SINCE`; the script's 304 makes it valid again and
/// the stored answer is served (`REVALIDATED`).
#[test]
fn an_expired_php_entry_is_revalidated_with_its_validators() {
    let Some((s, _fpm)) = server("fastcgi_cache_revalidate on;") else {
        return;
    };
    let first = s.request(&get("/reval.php"));
    assert_eq!(first.status, 200, "{}", s.error_log());
    assert_eq!(first.text(), "run 1 -\n");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let again = s.request(&get("/reval.php"));
    assert_eq!(again.status, 200, "{}", s.error_log());
    assert_eq!(again.text(), "run 1 -\n", "the stored answer");
    assert_eq!(s.request(&get("/reval.php")).text(), "run 1 -\n");
    assert_eq!(s.prefix.read("html/reval.txt"), "2", "one revalidation");
    s.wait_for(5, || s.access_log().lines().count() >= 3);
    let log = s.access_log();
    let statuses: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split('[').nth(1))
        .map(|s| s.trim_end_matches(']'))
        .collect();
    assert_eq!(statuses, ["MISS", "REVALIDATED", "HIT"], "{log}");
}

/// `fastcgi_cache_background_update on` with `use_stale updating`: an expired entry answers
/// at once (`STALE`) and a background subrequest runs the script again for the next request.
#[test]
fn an_expired_php_entry_is_refreshed_in_the_background() {
    let Some((s, _fpm)) =
        server("fastcgi_cache_use_stale updating; fastcgi_cache_background_update on;")
    else {
        return;
    };
    assert_eq!(s.request(&get("/reval.php")).text(), "run 1 -\n");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let stale = s.request(&get("/reval.php"));
    assert_eq!(stale.text(), "run 1 -\n", "{}", s.error_log());
    // The stale answer's log line comes once the refresh is done.
    assert!(s.wait_for(10, || s.access_log().lines().count() >= 2));
    assert_eq!(s.request(&get("/reval.php")).text(), "run 2 -\n");
    assert_eq!(s.prefix.read("html/reval.txt"), "2");
    s.wait_for(5, || s.access_log().lines().count() >= 3);
    let log = s.access_log();
    let statuses: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split('[').nth(1))
        .map(|s| s.trim_end_matches(']'))
        .collect();
    assert_eq!(statuses, ["MISS", "STALE", "HIT"], "{log}");
}
