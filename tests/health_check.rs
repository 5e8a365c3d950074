//! Active health checks (`health_check`, `match`) against the real binary with several
//! workers: test upstreams that turn unhealthy and back, one prober per upstream (probes
//! counted at the upstream), the prober replaced when its worker is killed or retired by a
//! reload, `match` tests, `mandatory`, the status report's fields and `-t`'s checks.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a [`Backend`] answers.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: String,
    body: String,
    /// Wait this long before answering a probe.
    probe_delay: Duration,
}

impl Answer {
    fn ok(body: &str) -> Answer {
        Answer {
            status: 200,
            headers: "Content-Type: text/plain\r\n".into(),
            body: body.into(),
            probe_delay: Duration::ZERO,
        }
    }
}

#[derive(Default)]
struct Seen {
    /// When each probe (a request for `/hc...`) came.
    probes: Vec<Instant>,
    /// Other requests.
    traffic: usize,
}

/// A loopback HTTP upstream whose answer a test changes while it runs; it counts probes
/// (requests for `/hc...`) apart from traffic.
struct Backend {
    port: u16,
    answer: Arc<Mutex<Answer>>,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

impl Backend {
    fn start(answer: Answer) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let answer = Arc::new(Mutex::new(answer));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s, st) = (answer.clone(), seen.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let Ok((mut c, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let (a, s) = (a.clone(), s.clone());
                std::thread::spawn(move || {
                    let _ = c.set_nonblocking(false);
                    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while find(&head, b"\r\n\r\n").is_none() {
                        match c.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let line = String::from_utf8_lossy(&head).into_owned();
                    let probe = line.starts_with("GET /hc");
                    let answer = a.lock().unwrap().clone();
                    if probe {
                        s.lock().unwrap().probes.push(Instant::now());
                        std::thread::sleep(answer.probe_delay);
                    } else {
                        s.lock().unwrap().traffic += 1;
                    }
                    let resp = format!(
                        "HTTP/1.0 {} X\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                        answer.status,
                        answer.headers,
                        answer.body.len(),
                        answer.body
                    );
                    let _ = c.write_all(resp.as_bytes());
                });
            }
        });
        Backend {
            port,
            answer,
            seen,
            stop,
        }
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn probes(&self) -> Vec<Instant> {
        self.seen.lock().unwrap().probes.clone()
    }

    fn traffic(&self) -> usize {
        self.seen.lock().unwrap().traffic
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn hit(port: u16) -> (u16, String) {
    let mut c = connect(port);
    c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    read_response(&mut c, false).map_or((0, String::new()), |r| (r.status, r.text()))
}

/// The status report's servers: `server state checks fails unhealthy last_passed` a line.
fn peers(status_port: u16) -> String {
    const READ: &str = r#"
import json, sys
d = json.load(sys.stdin)
for name, u in d["upstreams"].items():
    for p in u["peers"]:
        h = p["health_checks"]
        print(p["server"], p["state"], h["checks"] > 0, h["fails"] > 0, h["unhealthy"], h.get("last_passed"), p["downtime"] > 0)
"#;
    let mut c = connect(status_port);
    c.write_all(b"GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let body = read_response(&mut c, false)
        .map(|r| r.text())
        .unwrap_or_default();
    let mut child = Command::new("python3")
        .args(["-c", READ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The state the report gives `server`.
fn state_of(status_port: u16, backend: u16) -> String {
    peers(status_port)
        .lines()
        .find(|l| l.starts_with(&format!("127.0.0.1:{backend} ")))
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("")
        .to_string()
}

fn config(a: u16, b: u16, sp: u16, check: &str, extra: &str) -> String {
    format!(
        "upstream u {{ zone u 64k; server 127.0.0.1:{a}; server 127.0.0.1:{b}; }}\n\
         {extra}\n\
         server {{ listen 127.0.0.1:PORT reuseport;\n\
           location / {{ proxy_pass http://u; proxy_connect_timeout 1s; proxy_read_timeout 2s; {check} }} }}\n\
         server {{ listen 127.0.0.1:{sp}; location = /status {{ status; }} }}"
    )
}

/// Probes in the last `window` before now.
fn recent(b: &Backend, window: Duration) -> usize {
    let now = Instant::now();
    b.probes()
        .iter()
        .filter(|t| now.duration_since(**t) <= window)
        .count()
}

#[test]
fn a_failing_server_gets_no_traffic_until_it_passes_again() {
    let a = Backend::start(Answer::ok("a"));
    let b = Backend::start(Answer::ok("b"));
    let sp = free_port();
    let s = Server::start_with(
        4,
        &config(
            a.port,
            b.port,
            sp,
            "health_check interval=1s fails=2 passes=2 uri=/hc;",
            "",
        ),
        |_| {},
    );
    let got: Vec<String> = (0..10).map(|_| hit(s.port).1).collect();
    assert!(got.iter().any(|g| g == "a") && got.iter().any(|g| g == "b"));
    a.set(Answer {
        status: 503,
        ..Answer::ok("a")
    });
    let turned = Instant::now();
    assert!(s.wait_for(6, || state_of(sp, a.port) == "unhealthy"));
    // Two failed probes one interval apart: out after about 1 s (+ the probe in flight).
    assert!(
        turned.elapsed() < Duration::from_millis(3500),
        "{:?}",
        turned.elapsed()
    );
    let before = a.traffic();
    let got: Vec<(u16, String)> = (0..20).map(|_| hit(s.port)).collect();
    assert!(got.iter().all(|g| *g == (200, "b".to_string())), "{got:?}");
    assert_eq!(a.traffic(), before, "an unhealthy server got traffic");
    let log = s.error_log();
    let unhealthy = format!(
        "peer is unhealthy while checking status code, health check \"\" of peer 127.0.0.1:{} in upstream \"u\"",
        a.port
    );
    assert!(
        log.lines()
            .any(|l| l.contains("[warn]") && l.contains(&unhealthy)),
        "{log}"
    );
    // One worker probes: about one probe a second at each server, not one per worker.
    std::thread::sleep(Duration::from_millis(200));
    let n = recent(&b, Duration::from_secs(4));
    assert!(
        (3..=6).contains(&n),
        "{n} probes of b in 4 s with 4 workers"
    );
    // Healthy again after two passed probes.
    a.set(Answer::ok("a"));
    let back = Instant::now();
    assert!(s.wait_for(6, || state_of(sp, a.port) == "up"));
    assert!(
        back.elapsed() < Duration::from_millis(3500),
        "{:?}",
        back.elapsed()
    );
    let got: Vec<String> = (0..10).map(|_| hit(s.port).1).collect();
    assert!(got.iter().any(|g| g == "a"), "{got:?}");
    let log = s.error_log();
    let healthy = format!(
        "peer is healthy while checking status code, health check \"\" of peer 127.0.0.1:{} in upstream \"u\"",
        a.port
    );
    assert!(
        log.lines()
            .any(|l| l.contains("[notice]") && l.contains(&healthy)),
        "{log}"
    );
    assert_eq!(log.matches("peer is healthy").count(), 1, "{log}");
    // The report: checks made, some failed, one unhealthy spell, the last one passed.
    let p = peers(sp);
    assert!(
        p.contains(&format!("127.0.0.1:{} up True True 1 True True", a.port)),
        "{p}"
    );
    assert!(
        p.contains(&format!("127.0.0.1:{} up True False 0 True False", b.port)),
        "{p}"
    );
    s.assert_clean_log();
}

#[test]
fn a_killed_prober_and_a_reload_hand_the_probes_to_another_worker() {
    let a = Backend::start(Answer::ok("a"));
    let b = Backend::start(Answer::ok("b"));
    let sp = free_port();
    let s = Server::start_with(
        2,
        &config(
            a.port,
            b.port,
            sp,
            "health_check interval=500ms uri=/hc;",
            "",
        ),
        |_| {},
    );
    assert!(s.wait_for(5, || a.probes().len() >= 2));
    // Kill both first workers in turn: one of them is the prober, and probes must go on.
    for pid in s.worker_pids() {
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let killed = Instant::now();
        let seen = a.probes().len();
        assert!(
            s.wait_for(5, || a.probes().len() >= seen + 2),
            "no probes after killing {pid}"
        );
        assert!(
            killed.elapsed() < Duration::from_secs(3),
            "{:?}",
            killed.elapsed()
        );
    }
    // Still one prober: about two probes a second.
    std::thread::sleep(Duration::from_secs(2));
    let n = recent(&a, Duration::from_secs(2));
    assert!((2..=6).contains(&n), "{n} probes in 2 s at interval 500ms");
    // A reload: the new generation probes (its zone is new), the old one stops.
    s.signal(libc::SIGHUP);
    let reloaded = Instant::now();
    let seen = a.probes().len();
    assert!(s.wait_for(5, || a.probes().len() >= seen + 2));
    assert!(reloaded.elapsed() < Duration::from_secs(3));
    std::thread::sleep(Duration::from_secs(2));
    let n = recent(&a, Duration::from_secs(2));
    assert!((2..=6).contains(&n), "{n} probes in 2 s after the reload");
}

#[test]
fn match_blocks_test_status_header_and_body() {
    let a = Backend::start(Answer {
        status: 200,
        headers: "Content-Type: text/html\r\n".into(),
        body: "<h1>Welcome</h1>".into(),
        probe_delay: Duration::ZERO,
    });
    let b = Backend::start(Answer::ok("b"));
    let sp = free_port();
    let s = Server::start_with(
        2,
        &config(
            a.port,
            b.port,
            sp,
            "health_check interval=300ms uri=/hc match=welcome;",
            "match welcome { status 200-399; header Content-Type = text/html; body ~ \"Welcome\"; }",
        ),
        |_| {},
    );
    assert!(s.wait_for(5, || {
        state_of(sp, a.port) == "up"
            && peers(sp).contains(&format!("127.0.0.1:{} up True False 0 True", a.port))
    }));
    // b answers text/plain: its header test fails.
    assert!(s.wait_for(5, || state_of(sp, b.port) == "unhealthy"));
    for (answer, action) in [
        (
            Answer {
                status: 500,
                headers: "Content-Type: text/html\r\n".into(),
                body: "Welcome".into(),
                probe_delay: Duration::ZERO,
            },
            "checking status code",
        ),
        (
            Answer {
                status: 200,
                headers: "Content-Type: text/html\r\n".into(),
                body: "maintenance".into(),
                probe_delay: Duration::ZERO,
            },
            "checking body",
        ),
    ] {
        a.set(Answer {
            status: 200,
            headers: "Content-Type: text/html\r\n".into(),
            body: "Welcome".into(),
            probe_delay: Duration::ZERO,
        });
        assert!(s.wait_for(5, || state_of(sp, a.port) == "up"));
        a.set(answer);
        assert!(s.wait_for(5, || state_of(sp, a.port) == "unhealthy"));
        let log = s.error_log();
        assert!(
            log.contains(&format!(
                "peer is unhealthy while {action}, health check \"welcome\" of peer 127.0.0.1:{} in upstream \"u\"",
                a.port
            )),
            "{log}"
        );
    }
    let log = s.error_log();
    assert!(log.contains(&format!(
        "peer is unhealthy while checking header, health check \"welcome\" of peer 127.0.0.1:{} in upstream \"u\"",
        b.port
    )), "{log}");
    // Both unhealthy: no server for the request.
    assert_eq!(hit(s.port).0, 502);
}

#[test]
fn mandatory_servers_take_traffic_only_after_their_first_pass() {
    let a = Backend::start(Answer {
        probe_delay: Duration::from_millis(1500),
        ..Answer::ok("a")
    });
    let sp = free_port();
    let s = Server::start_with(
        2,
        &format!(
            "upstream u {{ zone u 64k; server 127.0.0.1:{}; }}\n\
             server {{ listen 127.0.0.1:PORT reuseport;\n\
               location / {{ proxy_pass http://u; proxy_read_timeout 5s;\n\
                 health_check interval=1s uri=/hc mandatory; }} }}\n\
             server {{ listen 127.0.0.1:{sp}; location = /status {{ status; }} }}",
            a.port
        ),
        |_| {},
    );
    // The first probe is still waiting for its answer: "checking", no traffic.
    assert_eq!(state_of(sp, a.port), "checking");
    assert_eq!(hit(s.port).0, 502);
    assert_eq!(a.traffic(), 0);
    assert!(s.wait_for(5, || state_of(sp, a.port) == "up"));
    assert_eq!(hit(s.port), (200, "a".to_string()));
}

#[test]
fn health_checks_are_checked_at_test_time() {
    for (http, message) in [
        (
            "upstream u { server 127.0.0.1:1; }\n\
             server { location / { proxy_pass http://u; health_check; } }",
            "health check requires upstream \"u\" to be in shared memory in",
        ),
        (
            "upstream u { zone u 64k; server 127.0.0.1:1; }\n\
             server { location / { proxy_pass http://u; health_check match=nope; } }",
            "match \"nope\" not found in",
        ),
        (
            "upstream u { zone u 64k; server 127.0.0.1:1; }\n\
             server { location / { proxy_pass http://u; health_check interval=0; } }",
            "invalid parameter \"interval=0\" in",
        ),
        (
            "upstream u { zone u 64k; server 127.0.0.1:1; }\n\
             server { location / { proxy_pass http://u; health_check fails=x; } }",
            "invalid parameter \"fails=x\" in",
        ),
        (
            "upstream u { zone u 64k; server 127.0.0.1:1; }\n\
             server { location / { proxy_pass http://u; health_check mandatory persistent; } }",
            "\"persistent\" parameter of \"health_check\" is not supported",
        ),
        (
            "server { location / { root html; health_check; } }",
            "\"health_check\" requires \"proxy_pass\" to an upstream group",
        ),
        ("match m { status 99; }", "invalid status \"99\" in"),
        ("match m { send x; }", "unknown directive \"send\" in"),
    ] {
        let prefix = Prefix::new();
        prefix.write("conf/t.conf", format!("events {{}}\nhttp {{\n{http}\n}}\n"));
        let (code, _, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/t.conf"]);
        assert_eq!(code, 1, "{http}: {err}");
        assert!(
            err.contains(message) && err.contains("t.conf:"),
            "{http}: {err}"
        );
    }
    let prefix = Prefix::new();
    prefix.write(
        "conf/t.conf",
        "events {}\nhttp {\n match ok { status 200-399; header Content-Type ~ \"^text/\"; header ! X-Down; body !~ \"maintenance\"; }\n\
         upstream u { zone u 64k; server 127.0.0.1:1; }\n\
         server { location / { proxy_pass http://u; health_check interval=2s jitter=1s fails=3 passes=2 uri=/health port=8080 match=ok mandatory; } }\n}\n",
    );
    let (code, _, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/t.conf"]);
    assert_eq!(code, 0, "{err}");
}
