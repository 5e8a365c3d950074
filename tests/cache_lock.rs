//! The cache's shared state (issue 19): the keys zone every worker sees. The cache lock
//! collapsing concurrent misses into one upstream request, its timeout, `min_uses` counted
//! across workers and reloads, `use_stale updating`, against an in-process upstream that
//! counts what it is asked (`delay=MS` makes it slow).

mod common;
#[path = "support/upstream.rs"]
mod upstream;

use std::time::Duration;

use common::Server;
use upstream::Upstream;

/// A server with `workers` workers caching `/c/` for a minute, with `extra` in the location.
fn start(up: &Upstream, workers: usize, extra: &str) -> Server {
    Server::start_with(
        workers,
        &format!(
            "log_format cache '$request_uri $status [$upstream_cache_status]';\n\
             access_log logs/access.log cache;\n\
             proxy_cache_path cache levels=1:2 keys_zone=one:1m;\n\
             server {{ listen 127.0.0.1:PORT;\n\
               location /c/ {{ proxy_pass http://127.0.0.1:{port}; proxy_cache one;\n\
                 proxy_cache_valid 200 1m; {extra} }}\n\
             }}",
            port = up.port
        ),
        |_| {},
    )
}

/// How many requests the upstream saw for `target` (path and query).
fn asked(up: &Upstream, target: &str) -> usize {
    up.seen()
        .iter()
        .filter(|s| s.line.split(' ').nth(1) == Some(target))
        .count()
}

/// The cache statuses the access log shows for `uri`, once it shows `n`.
fn statuses(server: &Server, uri: &str, n: usize) -> Vec<String> {
    let logged = || {
        server
            .access_log()
            .lines()
            .filter(|l| l.split(' ').next() == Some(uri))
            .filter_map(|l| l.split('[').nth(1)?.split(']').next().map(str::to_string))
            .collect::<Vec<_>>()
    };
    server.wait_for(10, || logged().len() >= n);
    logged()
}

/// `n` clients asking for `uri` at once; their responses' statuses and bodies.
fn concurrent(server: &Server, uri: &str, n: usize) -> Vec<(u16, Vec<u8>)> {
    let port = server.port;
    let uri = uri.to_string();
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let uri = uri.clone();
            std::thread::spawn(move || {
                let mut s = common::connect(port);
                common::send(&mut s, &common::get_request(&uri));
                let r = common::next_response(&mut s);
                (r.status, r.body)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn fifty_concurrent_misses_make_one_upstream_request() {
    let up = Upstream::start();
    let server = start(&up, 4, "proxy_cache_lock on;");
    let uri = "/c/lock?delay=300";
    let answers = concurrent(&server, uri, 50);
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    assert!(answers.iter().all(|(_, b)| *b == answers[0].1), "one body");
    assert_eq!(asked(&up, uri), 1, "exactly one upstream request");
    let st = statuses(&server, uri, 50);
    assert_eq!(st.iter().filter(|s| *s == "MISS").count(), 1, "{st:?}");
    assert_eq!(st.iter().filter(|s| *s == "HIT").count(), 49, "{st:?}");
    server.assert_clean_log();
}

#[test]
fn without_the_lock_every_concurrent_miss_goes_upstream() {
    let up = Upstream::start();
    let server = start(&up, 2, "");
    let uri = "/c/nolock?delay=300";
    concurrent(&server, uri, 5);
    assert_eq!(asked(&up, uri), 5);
}

#[test]
fn a_waiter_goes_upstream_uncached_after_the_lock_timeout() {
    let up = Upstream::start();
    let server = start(
        &up,
        2,
        "proxy_cache_lock on; proxy_cache_lock_timeout 200ms; proxy_cache_lock_age 10s;",
    );
    let uri = "/c/slow?delay=1500";
    let first = {
        let port = server.port;
        std::thread::spawn(move || {
            let mut s = common::connect(port);
            common::send(&mut s, &common::get_request(uri));
            common::next_response(&mut s).status
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let second = server.get(uri);
    assert_eq!(second.status, 200);
    // It waited the lock timeout, then its own upstream request (1.5 s).
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert_eq!(first.join().unwrap(), 200);
    assert_eq!(asked(&up, uri), 2);
    assert_eq!(statuses(&server, uri, 2), ["MISS", "MISS"]);
    assert!(
        server.error_log().contains("cache lock timeout"),
        "{}",
        server.error_log()
    );
    // The first one stored it.
    assert_eq!(server.get(uri).status, 200);
    assert_eq!(asked(&up, uri), 2);
}

#[test]
fn after_the_lock_age_another_request_fills() {
    let up = Upstream::start();
    let server = start(
        &up,
        1,
        "proxy_cache_lock on; proxy_cache_lock_timeout 10s; proxy_cache_lock_age 300ms;",
    );
    let uri = "/c/age?delay=1500";
    let port = server.port;
    let first = std::thread::spawn(move || {
        let mut s = common::connect(port);
        common::send(&mut s, &common::get_request(uri));
        common::next_response(&mut s).status
    });
    std::thread::sleep(Duration::from_millis(100));
    let started = std::time::Instant::now();
    assert_eq!(server.get(uri).status, 200);
    // Not the whole lock timeout: the age let it fetch.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(first.join().unwrap(), 200);
    assert_eq!(asked(&up, uri), 2);
}

#[test]
fn min_uses_is_counted_in_the_zone_by_every_worker() {
    let up = Upstream::start();
    let server = start(&up, 2, "proxy_cache_min_uses 3;");
    let uri = "/c/uses";
    for _ in 0..4 {
        assert_eq!(server.get(uri).status, 200);
    }
    assert_eq!(asked(&up, uri), 3);
    // Two workers write their log lines in the order they get to them, not always in the
    // order the client saw the answers.
    let mut seen = statuses(&server, uri, 4);
    seen.sort();
    assert_eq!(seen, ["HIT", "MISS", "MISS", "MISS"]);
}

#[test]
fn a_reload_keeps_the_zone_and_its_counts() {
    let up = Upstream::start();
    let server = start(&up, 1, "proxy_cache_min_uses 2;");
    let uri = "/c/reload";
    server.get(uri);
    server.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    server.get(uri);
    server.get(uri);
    assert_eq!(asked(&up, uri), 2, "the use before the reload counted");
    assert_eq!(statuses(&server, uri, 3), ["MISS", "MISS", "HIT"]);
}

#[test]
fn use_stale_updating_answers_with_the_old_entry_while_one_request_refreshes_it() {
    let up = Upstream::start();
    let server = start(
        &up,
        2,
        "location /c/u/ { proxy_pass http://127.0.0.1:UPPORT; proxy_cache one; \
         proxy_cache_valid 200 1s; proxy_cache_use_stale updating; }"
            .replace("UPPORT", &up.port.to_string())
            .as_str(),
    );
    let uri = "/c/u/x?delay=800";
    assert_eq!(server.get(uri).status, 200);
    // Whole seconds: `valid_sec < now` holds 2 s after the fill at the latest.
    std::thread::sleep(Duration::from_millis(2100));
    let port = server.port;
    let refresh = std::thread::spawn(move || {
        let mut s = common::connect(port);
        common::send(&mut s, &common::get_request(uri));
        common::next_response(&mut s).status
    });
    std::thread::sleep(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let stale = server.get(uri);
    assert_eq!(stale.status, 200);
    assert!(started.elapsed() < Duration::from_millis(500), "not waited");
    assert_eq!(refresh.join().unwrap(), 200);
    assert_eq!(asked(&up, uri), 2);
    // Logged as they end: the stale answer before the refresh.
    assert_eq!(statuses(&server, uri, 3), ["MISS", "UPDATING", "EXPIRED"]);
}

/// Files under the cache directory (entries and anything else), recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
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

/// A server whose cache path has `params`, over a prefix `setup` prepares.
fn start_managed(up: &Upstream, params: &str, setup: impl FnOnce(&common::Prefix)) -> Server {
    Server::start_with(
        2,
        &format!(
            "proxy_cache_path cache levels=1:2 keys_zone=one:1m {params};\n\
             server {{ listen 127.0.0.1:PORT;\n\
               location /c/ {{ proxy_pass http://127.0.0.1:{port}; proxy_cache one;\n\
                 proxy_cache_valid 200 1h; }}\n\
             }}",
            port = up.port
        ),
        setup,
    )
}

#[test]
fn the_manager_keeps_max_size_by_removing_the_least_recently_used() {
    let up = Upstream::start();
    let server = start_managed(&up, "max_size=20k manager_sleep=10ms", |_| {});
    for i in 0..10 {
        assert_eq!(server.get(&format!("/c/m{i}?size=6000")).status, 200);
    }
    let dir = server.prefix.path("cache");
    // Each entry takes two 4 KiB blocks: at most two fit in 20 KiB.
    assert!(
        server.wait_for(30, || files_under(&dir).len() <= 2),
        "{:?}",
        files_under(&dir)
    );
    // The most recent ones stayed.
    assert_eq!(server.get("/c/m9?size=6000").status, 200);
    assert_eq!(asked(&up, "/c/m9?size=6000"), 1);
    assert_eq!(asked(&up, "/c/m0?size=6000"), 1);
    server.get("/c/m0?size=6000");
    assert_eq!(asked(&up, "/c/m0?size=6000"), 2, "evicted");
}

#[test]
fn the_manager_removes_entries_not_used_for_inactive() {
    let up = Upstream::start();
    let server = start_managed(&up, "inactive=1s", |_| {});
    server.get("/c/idle");
    let dir = server.prefix.path("cache");
    assert_eq!(files_under(&dir).len(), 1);
    // Removed without a request meeting it.
    assert!(server.wait_for(30, || files_under(&dir).is_empty()));
}
