//! `queue N [timeout=T]` (nginx Plus) with `max_conns`: requests that find every server
//! busy wait in their worker's line, first come first served, and get a 502 when the line
//! is full or the wait is over; with a zone the servers' counts are the whole server's, so
//! four workers' queues feed one `max_conns=1` server one request at a time.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A loopback upstream that answers each request after `delay`, recording the order of the
/// paths and the most requests it had at once.
struct Slow {
    port: u16,
    order: Arc<Mutex<Vec<String>>>,
    most: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Slow {
    fn start(delay: Duration) -> Slow {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let order = Arc::new(Mutex::new(Vec::new()));
        let most = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let now = Arc::new(AtomicUsize::new(0));
        let (o, m, st) = (order.clone(), most.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let Ok((mut c, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                let (o, m, now) = (o.clone(), m.clone(), now.clone());
                std::thread::spawn(move || {
                    let _ = c.set_nonblocking(false);
                    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while find(&head, b"\r\n\r\n").is_none() {
                        match c.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    m.fetch_max(n, Ordering::SeqCst);
                    let line = String::from_utf8_lossy(&head).into_owned();
                    let path = line.split(' ').nth(1).unwrap_or("").to_string();
                    o.lock().unwrap().push(path.clone());
                    std::thread::sleep(delay);
                    now.fetch_sub(1, Ordering::SeqCst);
                    let resp = format!(
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{path}",
                        path.len()
                    );
                    let _ = c.write_all(resp.as_bytes());
                });
            }
        });
        Slow {
            port,
            order,
            most,
            stop,
        }
    }
}

impl Drop for Slow {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// GET `path` in a thread: its status and how long it took.
fn spawn_get(port: u16, path: &str) -> std::thread::JoinHandle<(u16, Duration)> {
    let path = path.to_string();
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut c = connect(port);
        let _ = c.set_read_timeout(Some(Duration::from_secs(20)));
        let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        c.write_all(req.as_bytes()).unwrap();
        let status = read_response(&mut c, false).map_or(0, |r| r.status);
        (status, started.elapsed())
    })
}

fn conf(upstream: u16, queue: &str, sp: u16) -> String {
    format!(
        "upstream u {{ zone u 64k; server 127.0.0.1:{upstream} max_conns=1; {queue} }}\n\
         server {{ listen 127.0.0.1:PORT reuseport; location / {{ proxy_pass http://u; proxy_read_timeout 10s; }} }}\n\
         server {{ listen 127.0.0.1:{sp}; location = /status {{ status; }} }}"
    )
}

#[test]
fn waiting_requests_are_served_in_order_one_at_a_time() {
    let up = Slow::start(Duration::from_millis(300));
    let sp = free_port();
    let s = Server::start_with(1, &conf(up.port, "queue 10 timeout=10s;", sp), |_| {});
    let mut handles = Vec::new();
    for i in 1..=4 {
        handles.push(spawn_get(s.port, &format!("/{i}")));
        std::thread::sleep(Duration::from_millis(60));
    }
    let got: Vec<(u16, Duration)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(got.iter().all(|g| g.0 == 200), "{got:?}");
    assert_eq!(*up.order.lock().unwrap(), ["/1", "/2", "/3", "/4"]);
    assert_eq!(up.most.load(Ordering::SeqCst), 1, "max_conns=1 exceeded");
    // The last one waited for the three before it.
    assert!(got[3].1 >= Duration::from_millis(800), "{got:?}");
    s.assert_clean_log();
}

#[test]
fn a_full_queue_and_a_wait_past_the_timeout_answer_502() {
    let up = Slow::start(Duration::from_millis(2500));
    let sp = free_port();
    let s = Server::start_with(1, &conf(up.port, "queue 1 timeout=1s;", sp), |_| {});
    let first = spawn_get(s.port, "/1");
    std::thread::sleep(Duration::from_millis(200));
    let queued = spawn_get(s.port, "/2");
    std::thread::sleep(Duration::from_millis(200));
    // The line (one place) is taken: at once 502.
    let (status, took) = spawn_get(s.port, "/3").join().unwrap();
    assert_eq!(status, 502);
    assert!(took < Duration::from_millis(900), "{took:?}");
    // The queued one waited its second, then 502.
    let (status, took) = queued.join().unwrap();
    assert_eq!(status, 502);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2400),
        "{took:?}"
    );
    assert_eq!(first.join().unwrap().0, 200);
    let log = s.error_log();
    assert!(
        log.contains("upstream queue is full while connecting to upstream"),
        "{log}"
    );
    assert!(
        log.contains("upstream queue timed out while connecting to upstream"),
        "{log}"
    );
    assert_eq!(*up.order.lock().unwrap(), ["/1"]);
    // The report: nothing waits now, one overflow.
    let mut c = connect(sp);
    c.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let body = read_response(&mut c, false).unwrap().text();
    let out = Command::new("python3")
        .args([
            "-c",
            "import json,sys; q=json.load(sys.stdin)['upstreams']['u']['queue']; print(q['size'], q['max_size'], q['overflows'])",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(body.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0 1 1\n", "{body}");
}

#[test]
fn four_workers_queues_feed_one_server_one_request_at_a_time() {
    let up = Slow::start(Duration::from_millis(150));
    let sp = free_port();
    let s = Server::start_with(4, &conf(up.port, "queue 10 timeout=10s;", sp), |_| {});
    let handles: Vec<_> = (1..=8)
        .map(|i| spawn_get(s.port, &format!("/{i}")))
        .collect();
    let got: Vec<(u16, Duration)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(got.iter().all(|g| g.0 == 200), "{got:?}");
    assert_eq!(up.order.lock().unwrap().len(), 8);
    assert_eq!(up.most.load(Ordering::SeqCst), 1, "max_conns=1 exceeded");
    s.assert_clean_log();
}

#[test]
fn queue_is_checked_at_test_time() {
    for (http, message) in [
        (
            "upstream u { server 127.0.0.1:1; queue 0; }",
            "invalid value \"0\" in",
        ),
        (
            "upstream u { server 127.0.0.1:1; queue 5 timeout=x; }",
            "invalid parameter \"timeout=x\" in",
        ),
        (
            "upstream u { server 127.0.0.1:1; queue 5; queue 6; }",
            "\"queue\" directive is duplicate in",
        ),
    ] {
        let prefix = Prefix::new();
        prefix.write("conf/t.conf", format!("events {{}}\nhttp {{\n{http}\n}}\n"));
        let (code, _, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/t.conf"]);
        assert_eq!(code, 1, "{http}: {err}");
        assert!(err.contains(message), "{http}: {err}");
    }
}

#[test]
fn a_client_that_leaves_the_queue_is_not_sent_upstream() {
    let up = Slow::start(Duration::from_millis(800));
    let sp = free_port();
    let s = Server::start_with(1, &conf(up.port, "queue 10 timeout=10s;", sp), |_| {});
    let first = spawn_get(s.port, "/1");
    std::thread::sleep(Duration::from_millis(150));
    {
        let mut gone = connect(s.port);
        gone.write_all(b"GET /2 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    let third = spawn_get(s.port, "/3");
    assert_eq!(first.join().unwrap().0, 200);
    assert_eq!(third.join().unwrap().0, 200);
    assert_eq!(*up.order.lock().unwrap(), ["/1", "/3"]);
    // Its place was given back: nothing waits.
    let mut c = connect(sp);
    c.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let body = read_response(&mut c, false).unwrap().text();
    assert!(
        body.contains("\"queue\":{\"size\":0,\"max_size\":10,\"overflows\":0}"),
        "{body}"
    );
    // The same in Prometheus text, as prometheus_client's parser reads it.
    let mut c = connect(sp);
    c.write_all(b"GET /status?format=prometheus HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let text = read_response(&mut c, false).unwrap().text();
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as f\n\
             for fam in f(sys.stdin.read()):\n  for s in fam.samples:\n    \
             print(fam.type, s.name, s.labels.get('upstream'), s.value) if 'queue' in s.name else None",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(text.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "gauge portico_upstream_queue_requests u 0\ncounter portico_upstream_queue_overflows_total u 0\n",
        "{text}"
    );
}
