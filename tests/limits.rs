//! Running out of file descriptors: with a low `worker_rlimit_nofile`, a worker past its
//! limit logs nginx's `accept4() failed (24: Too many open files)`, pauses accepting instead of
//! spinning on the ready listener, and serves again once descriptors are free.

mod common;

use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    // Fields 14 and 15 of stat; `fields` starts at field 3.
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(11) + get(12)
}

fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[test]
fn emfile_pauses_accepting_without_spinning_and_recovers() {
    let prefix = Prefix::new();
    let port = free_port();
    prefix.write(
        "conf/portico.conf",
        format!(
            "{}worker_rlimit_nofile 64;\nhttp {{\n    server {{\n        listen 127.0.0.1:{port};\n        root html;\n    }}\n}}\n",
            main_preamble(1)
        ),
    );
    prefix.write("html/index.html", "hello\n");
    let s = Server::spawn(prefix, port);
    let worker = s.worker_pids()[0];

    // Twice the limit: the first ~50 are accepted and held idle, the rest wait in the queue.
    let held: Vec<TcpStream> = (0..128).map(|_| s.connect()).collect();
    assert!(
        s.wait_for(5, || s
            .error_log()
            .contains("accept4() failed (24: Too many open files)")),
        "no EMFILE logged; worker holds {} fds\n{}",
        open_fds(worker),
        s.error_log()
    );
    let line = s.error_log();
    let line = line
        .lines()
        .find(|l| l.contains("accept4() failed (24:"))
        .unwrap_or("");
    assert!(line.contains("[crit]"), "nginx logs EMFILE at crit: {line}");

    // Over the limit, with connections queued on a listener that stays readable, the worker
    // must sleep between attempts rather than spin.
    let before = cpu_ticks(worker);
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_ticks(worker) - before;
    assert!(
        used < 50,
        "worker used {used} ticks of CPU in 3s while out of descriptors (busy loop)"
    );
    let attempts = s.error_log().matches("accept4() failed (24:").count();
    eprintln!("over the limit: {used} CPU ticks in 3s, {attempts} accept attempts logged");
    assert!(
        attempts < 40,
        "{attempts} EMFILE lines: accepting is not paused between attempts"
    );

    // Freeing descriptors brings it back: the queued connections and new ones are served.
    drop(held);
    let mut ok = false;
    for _ in 0..50 {
        let mut c = s.connect();
        c.set_read_timeout(Some(Duration::from_secs(5))).ok();
        if c.write_all(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .is_ok()
            && read_response(&mut c, false).is_some_and(|r| r.status == 200)
        {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ok, "not serving after descriptors were freed");
    assert_eq!(s.worker_pids(), vec![worker], "the worker must survive");
    for _ in 0..20 {
        assert_eq!(s.get("/index.html").status, 200);
    }
    assert!(
        open_fds(worker) < 20,
        "descriptors leak: {}",
        open_fds(worker)
    );
    s.assert_clean_log();
}
