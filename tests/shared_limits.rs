//! limit_req and limit_conn across workers (shared-memory zones): exact counts with several
//! workers, a delayed request, zone contents kept over a reload (and refused key changes),
//! workers killed with SIGKILL under load; and `-t`'s checks of the directives.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Sends `n` GETs for `path`, each on its own connection opened first (so `reuseport`
/// spreads them over the workers), all written at once; returns the statuses.
fn burst(port: u16, path: &str, n: usize) -> Vec<u16> {
    let mut conns: Vec<TcpStream> = (0..n).map(|_| connect(port)).collect();
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    for c in &mut conns {
        c.write_all(req.as_bytes()).expect("write");
    }
    conns
        .iter_mut()
        .map(|c| read_response(c, false).map_or(0, |r| r.status))
        .collect()
}

fn status(port: u16, path: &str) -> u16 {
    burst(port, path, 1)[0]
}

#[test]
fn four_workers_let_exactly_burst_plus_one_through() {
    let s = Server::start_with(
        4,
        "log_format w \"$pid $status\";\n\
         limit_req_zone $binary_remote_addr zone=one:1m rate=10r/s;\n\
         server { listen 127.0.0.1:PORT reuseport; access_log logs/access.log w; root html;\n\
           location / { limit_req zone=one burst=5 nodelay; } }",
        |p| p.write("html/index.html", "ok\n"),
    );
    let statuses = burst(s.port, "/", 100);
    let passed = statuses.iter().filter(|&&c| c == 200).count();
    let rejected = statuses.iter().filter(|&&c| c == 503).count();
    assert_eq!((passed, rejected), (6, 94), "{statuses:?}");
    // The requests really were spread over the workers.
    assert!(s.wait_for(5, || s.access_log().lines().count() == 100));
    let log = s.access_log();
    let mut pids: Vec<&str> = log.lines().filter_map(|l| l.split(' ').next()).collect();
    pids.sort();
    pids.dedup();
    assert!(pids.len() >= 2, "one worker served every request:\n{log}");
    // Each refusal logs its excess over the burst of 5: at most 6 (nginx's, when the
    // loop turn's millisecond equals the zone's last one: no time has passed).
    let log = s.error_log();
    let excesses: Vec<f64> = log
        .lines()
        .filter_map(|l| l.split("limiting requests, excess: ").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect();
    assert!(
        !excesses.is_empty() && excesses.iter().all(|&e| e > 5.0 && e <= 6.0),
        "{log}"
    );
    s.assert_clean_log();
}

#[test]
fn a_request_over_the_rate_is_delayed_not_rejected() {
    let s = Server::start_with(
        1,
        "limit_req_zone $binary_remote_addr zone=one:1m rate=4r/s;\n\
         server { listen 127.0.0.1:PORT; root html;\n\
           location / { limit_req zone=one burst=5; add_header X-Status $limit_req_status; } }",
        |p| p.write("html/index.html", "ok\n"),
    );
    assert_eq!(s.get("/").header("X-Status"), Some("PASSED"));
    let started = Instant::now();
    let r = s.get("/");
    let waited = started.elapsed();
    assert_eq!((r.status, r.header("X-Status")), (200, Some("DELAYED")));
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert!(
        s.error_log().contains("[warn]") && s.error_log().contains("delaying request, excess: ")
    );
    s.assert_clean_log();
}

#[test]
fn limit_conn_counts_requests_of_every_worker() {
    let s = Server::start_with(
        4,
        "limit_conn_zone $binary_remote_addr zone=c:1m;\n\
         server { listen 127.0.0.1:PORT reuseport; root html; sendfile on;\n\
           location / { limit_conn c 1; } }",
        |p| p.write("html/big.bin", vec![b'x'; 32 << 20]),
    );
    // A download the client does not read stays in progress and holds the count.
    let mut held = s.connect();
    held.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    held.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let statuses = burst(s.port, "/big.bin", 12);
    assert!(statuses.iter().all(|&c| c == 503), "{statuses:?}");
    drop(held);
    assert!(s.wait_for(5, || status(s.port, "/missing") == 404));
    assert!(s.error_log().contains("limiting connections by zone \"c\""));
    s.assert_clean_log();
}

fn write_conf(s: &Server, http: &str) {
    let conf = format!(
        "{}http {{\n{}\n}}\n",
        main_preamble(2),
        http.replace("PORT", &s.port.to_string())
    );
    s.prefix.write("conf/portico.conf", conf);
}

fn reload(s: &Server) {
    let before = s.worker_pids();
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for(10, || {
            let now = s.worker_pids();
            now.len() == 2 && now.iter().all(|p| !before.contains(p))
        }),
        "no new workers after the reload:\n{}",
        s.error_log()
    );
}

#[test]
fn a_reload_keeps_an_unchanged_zone_and_its_contents() {
    let http = |key: &str, size: &str, extra: &str| {
        format!(
            "limit_req_zone {key} zone=one:{size} rate=1r/m;\n\
             server {{ listen 127.0.0.1:PORT; root html; location / {{ limit_req zone=one; }} {extra} }}"
        )
    };
    let s = Server::start_with(2, &http("$binary_remote_addr", "1m", ""), |p| {
        p.write("html/index.html", "ok\n")
    });
    assert_eq!(status(s.port, "/"), 200);
    assert_eq!(status(s.port, "/"), 503);
    // Another location, same zone: the new workers see the count.
    write_conf(
        &s,
        &http("$binary_remote_addr", "1m", "location /x { return 204; }"),
    );
    reload(&s);
    assert_eq!(status(s.port, "/x"), 204);
    assert_eq!(status(s.port, "/"), 503);
    // The same zone with another key is refused, as nginx refuses it; the old one serves.
    write_conf(&s, &http("$remote_addr", "1m", ""));
    s.signal(libc::SIGHUP);
    let line = "limit_req \"one\" uses the \"$remote_addr\" key while previously it used the \"$binary_remote_addr\" key";
    assert!(
        s.wait_for(5, || s.error_log().contains(line)),
        "{}",
        s.error_log()
    );
    assert_eq!(status(s.port, "/x"), 204);
    assert_eq!(status(s.port, "/"), 503);
    // A new size is a new, empty zone.
    write_conf(&s, &http("$binary_remote_addr", "2m", ""));
    reload(&s);
    assert_eq!(status(s.port, "/"), 200);
    assert_eq!(status(s.port, "/"), 503);
}

#[test]
fn a_reload_under_load_keeps_zone_contents() {
    // Every load request has a key of its own (always let through, each one a new entry
    // in the zone); key `a` is over its rate before the reloads and must stay so after.
    let http = |extra: &str| {
        format!(
            "limit_req_zone $arg_k zone=one:10m rate=1r/m;\n\
             server {{ listen 127.0.0.1:PORT; root html; location / {{ limit_req zone=one; }} {extra} }}"
        )
    };
    let s = Server::start_with(2, &http(""), |p| p.write("html/index.html", "ok\n"));
    assert_eq!(status(s.port, "/?k=a"), 200);
    assert_eq!(status(s.port, "/?k=a"), 503);
    let port = s.port;
    let stop = Arc::new(AtomicBool::new(false));
    let (done, wrong) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load: Vec<_> = (0..3)
        .map(|t| {
            let (stop, done, wrong) = (stop.clone(), done.clone(), wrong.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) else {
                        continue;
                    };
                    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                    for _ in 0..20 {
                        n += 1;
                        let req = format!("GET /?k=load-{t}-{n} HTTP/1.1\r\nHost: x\r\n\r\n");
                        if c.write_all(req.as_bytes()).is_err() {
                            break;
                        }
                        let Some(r) = read_response(&mut c, false) else {
                            break;
                        };
                        let counter = if r.status == 200 { &done } else { &wrong };
                        counter.fetch_add(1, Ordering::Relaxed);
                        if r.header("Connection") == Some("close") {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    for i in 0..3 {
        let before = done.load(Ordering::Relaxed);
        assert!(s.wait_for(10, || done.load(Ordering::Relaxed) > before + 200));
        write_conf(&s, &http(&format!("location /x{i} {{ return 204; }}")));
        reload(&s);
    }
    let before = done.load(Ordering::Relaxed);
    assert!(
        s.wait_for(10, || done.load(Ordering::Relaxed) > before + 200),
        "the load stalled after the reloads\n{}",
        s.error_log()
    );
    stop.store(true, Ordering::Relaxed);
    for t in load {
        let _ = t.join();
    }
    assert_eq!(wrong.load(Ordering::Relaxed), 0, "load requests refused");
    // The entry made before the reloads is still there: `a` is still over its rate.
    assert_eq!(status(s.port, "/x2"), 204);
    assert_eq!(status(s.port, "/?k=a"), 503);
    assert_eq!(status(s.port, "/?k=b"), 200);
}

#[test]
fn workers_killed_under_load_do_not_wedge_the_others() {
    let s = Server::start_with(
        4,
        "limit_req_zone $binary_remote_addr zone=fast:1m rate=100000r/s;\n\
         limit_req_zone $binary_remote_addr zone=slow:1m rate=1r/m;\n\
         limit_conn_zone $binary_remote_addr zone=c:1m;\n\
         server { listen 127.0.0.1:PORT reuseport; root html;\n\
           location / { limit_req zone=fast burst=100000 nodelay; limit_conn c 1000; }\n\
           location /slow { limit_req zone=slow; } }",
        |p| {
            p.write("html/index.html", "ok\n");
            p.write("html/slow", "ok\n");
        },
    );
    let port = s.port;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (stop, done) = (stop.clone(), done.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) else {
                        continue;
                    };
                    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                    for _ in 0..20 {
                        if c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").is_err() {
                            break;
                        }
                        match read_response(&mut c, false) {
                            Some(r) if r.status == 200 => {
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => break,
                        }
                    }
                }
            })
        })
        .collect();
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(150));
        if let Some(&pid) = s.worker_pids().first() {
            // SAFETY: kill(2) on one of our server's workers.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let before = done.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(500));
    assert!(s.wait_for(10, || s.worker_pids().len() == 4));
    // Requests still complete after the last kill: no lock is wedged.
    assert!(
        s.wait_for(10, || done.load(Ordering::Relaxed) > before + 100),
        "load stalled after the kills ({before} done)\n{}",
        s.error_log()
    );
    stop.store(true, Ordering::Relaxed);
    for t in load {
        let _ = t.join();
    }
    // And the limits still count across workers.
    let statuses = burst(port, "/slow", 8);
    assert_eq!(
        statuses.iter().filter(|&&c| c == 200).count(),
        1,
        "{statuses:?}"
    );
}

fn test_config(http: &str) -> (i32, String) {
    let prefix = Prefix::new();
    prefix.write("conf/t.conf", format!("events {{}}\nhttp {{\n{http}\n}}\n"));
    let (code, _, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/t.conf"]);
    (code, err)
}

#[test]
fn test_mode_rejects_what_nginx_rejects() {
    for (http, message) in [
        (
            "limit_req_zone $binary_remote_addr zone=one:1m rate=0r/s;",
            "invalid rate \"rate=0r/s\"",
        ),
        (
            "limit_req_zone $binary_remote_addr zone=one:1m rate=x;",
            "invalid rate \"rate=x\"",
        ),
        (
            "limit_req_zone $binary_remote_addr zone=one:16k rate=1r/s;",
            "zone \"zone=one:16k\" is too small",
        ),
        (
            "limit_req_zone $binary_remote_addr zone=one:1x rate=1r/s;",
            "invalid zone size \"zone=one:1x\"",
        ),
        (
            "limit_req_zone $binary_remote_addr zone=one rate=1r/s;",
            "invalid zone size \"zone=one\"",
        ),
        (
            "limit_req_zone $binary_remote_addr rate=1r/s sync;",
            "invalid parameter \"sync\"",
        ),
        (
            "limit_conn_zone $binary_remote_addr zone=one:1m;\nlimit_req_zone $uri zone=one:1m rate=1r/s;",
            "the shared memory zone \"one\" is already declared for a different use",
        ),
        (
            "limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;\nlimit_req_zone $uri zone=one:1m rate=1r/s;",
            "limit_req_zone \"one\" is already bound to key \"$binary_remote_addr\"",
        ),
        (
            "limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;\nlimit_req zone=one burst=0;",
            "invalid burst value \"burst=0\"",
        ),
        (
            "limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;\nlimit_req zone=one; limit_req zone=one;",
            "\"limit_req\" directive is duplicate",
        ),
        (
            "limit_conn_zone $binary_remote_addr zone=c:1m;\nlimit_conn c 70000;",
            "connection limit must be less 65536",
        ),
        ("limit_req_status 302;", "value must be between 400 and 599"),
        ("limit_conn_log_level debug;", "invalid value \"debug\""),
        (
            "set_real_ip_from 10.0.0.1/33;",
            "host not found in set_real_ip_from \"10.0.0.1/33\"",
        ),
        ("satisfy some;", "invalid value \"some\""),
    ] {
        let (code, err) = test_config(http);
        assert_eq!(code, 1, "{http}: {err}");
        assert!(
            err.contains(&format!("[emerg] {message} in ")),
            "{http}:\n{err}"
        );
    }
    let (code, err) = test_config("limit_req zone=nowhere;");
    assert_eq!(code, 1);
    assert!(
        err.contains("[emerg] zero size shared memory zone \"nowhere\""),
        "{err}"
    );
    let (code, err) = test_config(
        "limit_req_zone $binary_remote_addr zone=one:1m rate=30r/m;\nlimit_conn_zone $binary_remote_addr zone=c:32k;\n\
         set_real_ip_from 10.0.0.0/8; set_real_ip_from unix:; set_real_ip_from ::1;\n\
         real_ip_header X-Forwarded-For; real_ip_recursive on;\n\
         server { listen 127.0.0.1:1 proxy_protocol; location / { limit_req zone=one burst=2 delay=1; limit_conn c 5; auth_basic \"x\"; auth_basic_user_file htpasswd; satisfy any; } }",
    );
    assert_eq!(code, 0, "{err}");
}
