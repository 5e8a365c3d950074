//! `stub_status` and `$connections_*` with several workers: the counters are the whole
//! server's (every worker counts into one shared zone), they go on across a reload and
//! past a worker killed with SIGKILL; the text is nginx's, byte for byte.

mod common;

use common::*;
use std::io::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stub {
    active: u64,
    accepts: u64,
    handled: u64,
    requests: u64,
    reading: u64,
    writing: u64,
    waiting: u64,
}

fn parse(text: &str) -> Stub {
    let nums: Vec<u64> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .map(|t| t.parse().unwrap())
        .collect();
    assert_eq!(nums.len(), 7, "{text}");
    Stub {
        active: nums[0],
        accepts: nums[1],
        handled: nums[2],
        requests: nums[3],
        reading: nums[4],
        writing: nums[5],
        waiting: nums[6],
    }
}

/// `n` GETs, each on its own connection (spread over the workers by `reuseport`).
fn hits(port: u16, n: usize) {
    for _ in 0..n {
        let mut c = connect(port);
        c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        read_response(&mut c, false).expect("response");
    }
}

fn stub(s: &Server) -> (Stub, Response) {
    let r = s.request(b"GET /stub HTTP/1.0\r\nHost: localhost\r\n\r\n");
    (parse(&r.text()), r)
}

const HTTP: &str = "log_format w \"$pid\";\n\
    server { listen 127.0.0.1:PORT reuseport; access_log logs/access.log w;\n\
      add_header X-Active $connections_active; add_header X-Waiting $connections_waiting;\n\
      location / { return 200 \"ok\\n\"; }\n\
      location /stub { stub_status; } }";

#[test]
fn four_workers_count_into_one_total() {
    let s = Server::start_with(4, HTTP, |_| {});
    hits(s.port, 40);
    // The last clients' closes may still be on their way to another worker: ask until
    // only the asking connection is active (each asking is one more request).
    let mut asked = 0;
    let (st, r) = loop {
        asked += 1;
        let (st, r) = stub(&s);
        if st.active == 1 || asked == 100 {
            break (st, r);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let requests = 40 + asked;
    // More connections than requests: the harness's probes that the server is up.
    let probes = st.accepts - requests;
    assert!((1..10).contains(&probes), "{st:?}");
    assert_eq!(
        st,
        Stub {
            active: 1,
            accepts: requests + probes,
            handled: requests + probes,
            requests,
            reading: 0,
            writing: 1,
            waiting: 0
        }
    );
    // nginx's text and headers.
    let text = format!(
        "Active connections: 1 \nserver accepts handled requests\n {0} {0} {requests} \nReading: 0 Writing: 1 Waiting: 0 \n",
        st.accepts
    );
    assert_eq!(r.text(), text);
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(
        r.header("Content-Length"),
        Some(text.len().to_string().as_str())
    );
    assert_eq!(r.header("X-Active"), Some("1"));
    // The requests really were spread over the workers.
    let logged = requests as usize;
    assert!(s.wait_for(5, || s.access_log().lines().count() == logged));
    let log = s.access_log();
    let mut pids: Vec<&str> = log.lines().collect();
    pids.sort();
    pids.dedup();
    assert!(pids.len() >= 2, "one worker served every request:\n{log}");
    // Idle connections, on whichever worker took them, are waiting.
    let idle: Vec<_> = (0..6).map(|_| connect(s.port)).collect();
    assert!(
        s.wait_for(5, || stub(&s).0.waiting == 6),
        "{:?}",
        stub(&s).0
    );
    // The six idle ones and the asking one (an earlier asking connection may still be
    // closing on another worker: asked again until it is gone).
    assert!(s.wait_for(5, || stub(&s).0.active == 7), "{:?}", stub(&s).0);
    drop(idle);
    assert!(s.wait_for(5, || stub(&s).0.active == 1));
    // Not GET or HEAD: 405, as nginx.
    let r = s.request(b"POST /stub HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(r.status, 405);
    s.assert_clean_log();
}

#[test]
fn counters_survive_a_reload_and_a_killed_worker() {
    let s = Server::start_with(2, HTTP, |_| {});
    hits(s.port, 10);
    let before = s.worker_pids();
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for(10, || {
            let now = s.worker_pids();
            now.len() == 2 && now.iter().all(|p| !before.contains(p))
        }),
        "{}",
        s.error_log()
    );
    hits(s.port, 10);
    assert_eq!(stub(&s).0.requests, 21);
    // A worker killed with connections open: its totals stay, its connections go.
    let idle: Vec<_> = (0..4).map(|_| connect(s.port)).collect();
    assert!(s.wait_for(5, || stub(&s).0.waiting == 4));
    let mid = stub(&s).0;
    for pid in s.worker_pids() {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert!(s.wait_for(10, || s.worker_pids().len() == 2));
    let mut asked = 0;
    let mut st = mid;
    for _ in 0..100 {
        st = stub(&s).0;
        asked += 1;
        if st.active == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!((st.active, st.waiting, st.writing), (1, 0, 1), "{st:?}");
    assert_eq!(st.requests, mid.requests + asked, "{st:?}");
    assert_eq!(st.accepts, mid.accepts + asked, "{st:?}");
    drop(idle);
}

#[test]
fn stub_status_is_refused_where_nginx_refuses_it() {
    let prefix = Prefix::new();
    prefix.write("conf/t.conf", "events {}\nhttp { stub_status; }\n");
    let (code, _, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/t.conf"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("\"stub_status\" directive is not allowed here"),
        "{err}"
    );
}
