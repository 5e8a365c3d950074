//! The master and its workers, as nginx's: worker count, pid file, signals (`QUIT` graceful
//! stop, `TERM` fast stop, `HUP` reload, `USR1` reopen), respawn of a killed worker, and no
//! failed request across reloads.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Starts `workers` workers serving `html/` (holding `index.html` = "old\n") and `html2/`
/// (`index.html` = "new\n") on PORT with `root html`.
/// Waits until all workers have been forked (the port accepts as soon as the master listens).
fn start(workers: usize) -> Running {
    let s = Running(Server::start_with(
        workers,
        "server {\n    listen 127.0.0.1:PORT;\n    root html;\n}\n",
        |p| {
            p.write("html/index.html", "old\n");
            p.write("html2/index.html", "new\n");
        },
    ));
    assert!(
        s.wait_for(5, || s.worker_pids().len() == workers),
        "workers: {:?}",
        s.worker_pids()
    );
    s
}

/// Rewrites `conf/portico.conf` with `http_block` (PORT is the server's port).
fn rewrite_conf(s: &Server, workers: usize, http_block: &str) {
    let conf = format!(
        "{}http {{\n{}\n}}\n",
        main_preamble(workers),
        http_block.replace("PORT", &s.port.to_string())
    );
    s.prefix.write("conf/portico.conf", conf);
}

/// `portico -s SIGNAL` against the test server, which must succeed with one line on stdout.
fn dash_s(s: &Server, signal: &str) {
    let (code, out, err) = run_cli(&s.prefix.dir, &["-c", "conf/portico.conf", "-s", signal]);
    assert_eq!((code, err.as_str()), (0, ""), "-s {signal}: {out}");
    assert!(
        out.starts_with(&format!("{signal}: ")),
        "-s {signal}: {out:?}"
    );
}

/// Waits up to `secs` for the master to exit on its own.
fn wait_master_exit(s: &mut Server, secs: u64) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(status) = s.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// `(uid, ...)` of a process, from the `Uid:` line of /proc/PID/status.
fn uids(pid: i32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|u| u.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn nobody_uid() -> u32 {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    passwd
        .lines()
        .find_map(|l| l.strip_prefix("nobody:"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|u| u.parse().ok())
        .expect("nobody in /etc/passwd")
}

fn get_on(port: u16, path: &str) -> Option<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .ok()?;
    read_response(&mut s, false)
}

fn body_on(port: u16, path: &str) -> Option<String> {
    get_on(port, path)
        .filter(|r| r.status == 200)
        .map(|r| r.text())
}

#[test]
fn master_runs_the_configured_number_of_workers() {
    let s = start(2);
    assert!(
        s.wait_for(5, || s.worker_pids().len() == 2),
        "workers: {:?}",
        s.worker_pids()
    );
    assert_eq!(uids(s.master_pid())[0], 0, "the master keeps root");
    let nobody = nobody_uid();
    for pid in s.worker_pids() {
        assert!(
            uids(pid).iter().all(|&u| u == nobody),
            "worker {pid} runs as {:?}, not nobody ({nobody})",
            uids(pid)
        );
    }
    assert_eq!(s.get("/").text(), "old\n");
    s.assert_clean_log();
}

#[test]
fn worker_processes_auto_means_one_per_cpu() {
    let prefix = Prefix::new();
    let port = free_port();
    prefix.write(
        "conf/portico.conf",
        format!(
            "daemon off;\nworker_processes auto;\nerror_log logs/error.log info;\npid logs/portico.pid;\nevents {{}}\n\
             http {{\n    server {{\n        listen 127.0.0.1:{port};\n    }}\n}}\n"
        ),
    );
    let s = Running(Server::spawn(prefix, port));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(
        s.wait_for(5, || s.worker_pids().len() == cpus),
        "workers {:?}, cpus {cpus}",
        s.worker_pids()
    );
    s.assert_clean_log();
}

#[test]
fn process_titles_read_like_nginx() {
    // Monitoring scripts look for "nginx: master process" / "nginx: worker process" in ps.
    let s = start(1);
    let cmdline = |pid: i32| {
        String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default())
            .replace('\0', " ")
    };
    let master = cmdline(s.master_pid());
    assert!(
        master.starts_with("portico: master process "),
        "master cmdline {master:?}"
    );
    // A worker names itself right after the fork; the harness only waits for it to exist.
    for pid in s.worker_pids() {
        assert!(
            s.wait_for(2, || cmdline(pid).starts_with("portico: worker process")),
            "worker cmdline {:?}",
            cmdline(pid)
        );
    }
}

#[test]
fn pid_file_holds_the_master_pid_and_goes_away_on_quit() {
    let mut s = start(2);
    assert_eq!(
        s.prefix.read("logs/portico.pid"),
        format!("{}\n", s.master_pid())
    );
    assert!(s.wait_for(5, || s.worker_pids().len() == 2));
    let workers = s.worker_pids();
    dash_s(&s, "quit");
    let status = wait_master_exit(&mut s, 10).expect("master still running 10s after -s quit");
    assert!(status.success(), "{status}");
    assert!(
        !s.prefix.path("logs/portico.pid").exists(),
        "pid file left behind"
    );
    assert!(
        workers.iter().all(|&p| !alive(p)),
        "workers outlived the master: {workers:?}"
    );
    let log = s.error_log();
    assert!(log.contains("signal 3 (SIGQUIT) received"), "{log}");
    for pid in &workers {
        assert!(
            log.contains(&format!("worker process {pid} exited with code 0")),
            "{log}"
        );
    }
    s.assert_clean_log();
}

#[test]
fn term_stops_at_once() {
    let mut s = start(2);
    // An idle keep-alive connection must not hold the stop up.
    let mut idle = s.connect();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(
        read_response(&mut idle, false).expect("response").status,
        200
    );
    let workers = s.worker_pids();
    let sent = Instant::now();
    s.signal(libc::SIGTERM);
    let status = wait_master_exit(&mut s, 10).expect("master still running 10s after TERM");
    let took = sent.elapsed();
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(2), "TERM took {took:?}");
    assert!(
        workers.iter().all(|&p| !alive(p)),
        "workers outlived the master: {workers:?}"
    );
    assert!(
        !s.prefix.path("logs/portico.pid").exists(),
        "pid file left behind"
    );
    assert!(
        read_to_end(&mut idle).is_empty(),
        "the idle connection is closed"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", s.port)).is_err(),
        "still listening after TERM"
    );
    s.assert_clean_log();
    let log = s.error_log();
    assert!(
        log.contains("signal 15 (SIGTERM) received"),
        "nginx logs the signal by number and name:\n{log}"
    );
}

#[test]
fn killed_worker_is_respawned() {
    let s = start(1);
    let old = s.worker_pids();
    assert_eq!(old.len(), 1);
    // A worker that has been serving a while (the fast-death path is the next test).
    assert_eq!(s.get("/").text(), "old\n");
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill(2) on the master's worker.
    unsafe { libc::kill(old[0], libc::SIGKILL) };
    assert!(
        s.wait_for(5, || {
            let now = s.worker_pids();
            now.len() == 1 && now[0] != old[0]
        }),
        "no respawn: {:?}",
        s.worker_pids()
    );
    assert_eq!(s.get("/").text(), "old\n");
    let log = s.error_log();
    assert!(
        log.lines().any(|l| l.contains("[alert]")
            && l.contains(&format!("worker process {} exited on signal 9", old[0]))),
        "{log}"
    );
    assert!(
        log.contains(&format!("start worker process {}", s.worker_pids()[0])),
        "{log}"
    );
    s.assert_clean_log_except(&[&format!("worker process {} exited on signal 9", old[0])]);
}

#[test]
fn worker_killed_right_after_start_is_respawned_at_once() {
    // nginx respawns at once, whatever the worker's age, and logs only the exit.
    let s = start(1);
    let old = s.worker_pids();
    assert_eq!(old.len(), 1);
    // SAFETY: kill(2) on the master's worker.
    unsafe { libc::kill(old[0], libc::SIGKILL) };
    assert!(
        s.wait_for(5, || {
            let now = s.worker_pids();
            now.len() == 1 && now[0] != old[0]
        }),
        "no respawn: {:?}",
        s.worker_pids()
    );
    assert_eq!(s.get("/").text(), "old\n");
    s.assert_clean_log_except(&[&format!("worker process {} exited on signal 9", old[0])]);
}

#[test]
fn hup_reload_serves_the_new_config_from_new_workers() {
    let s = start(2);
    assert!(s.wait_for(5, || s.worker_pids().len() == 2));
    let old = s.worker_pids();
    assert_eq!(s.get("/").text(), "old\n");
    s.prefix.write("extra/added/page.txt", "added\n");
    rewrite_conf(
        &s,
        2,
        "server {\n    listen 127.0.0.1:PORT;\n    root html2;\n    location /added/ {\n        root extra;\n    }\n}\n",
    );
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for(5, || body_on(s.port, "/").as_deref() == Some("new\n")),
        "new root not served"
    );
    // Until they get the QUIT, old workers may still take a connection or two, as with nginx.
    assert!(
        s.wait_for(5, || old.iter().all(|&p| !alive(p))),
        "old workers still alive: {old:?}"
    );
    for _ in 0..10 {
        assert_eq!(body_on(s.port, "/").as_deref(), Some("new\n"));
        let added = get_on(s.port, "/added/page.txt").expect("response");
        assert_eq!((added.status, added.text().as_str()), (200, "added\n"));
    }
    let new = s.worker_pids();
    assert_eq!(new.len(), 2, "{new:?}");
    assert!(
        new.iter().all(|p| !old.contains(p)),
        "old {old:?} new {new:?}"
    );
    let log = s.error_log();
    assert!(
        log.contains("signal 1 (SIGHUP) received") && log.contains("reconfiguring"),
        "{log}"
    );
    s.assert_clean_log();
}

#[test]
fn hup_with_a_broken_config_keeps_the_old_workers() {
    let s = start(2);
    assert!(s.wait_for(5, || s.worker_pids().len() == 2));
    let old = s.worker_pids();
    rewrite_conf(
        &s,
        2,
        "server {\n    listen 127.0.0.1:PORT;\n    root html2;\n    lsten 80;\n}\n",
    );
    // main_preamble is 5 lines, then "http {", "server {", listen, root, lsten: line 10.
    let file = s.prefix.path("conf/portico.conf").display().to_string();
    let want = format!("unknown directive \"lsten\" in {file}:10");
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for(5, || s
            .error_log()
            .lines()
            .any(|l| l.contains("[emerg]") && l.contains(&want))),
        "no emerg {want:?}:\n{}",
        s.error_log()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        s.worker_pids(),
        old,
        "workers changed after a failed reload"
    );
    for _ in 0..10 {
        assert_eq!(body_on(s.port, "/").as_deref(), Some("old\n"));
    }
    s.assert_clean_log_except(&[&want]);
}

#[test]
fn reload_adding_a_listen_port_serves_it() {
    let s = start(1);
    let port2 = free_port();
    rewrite_conf(
        &s,
        1,
        &format!(
            "server {{\n    listen 127.0.0.1:PORT;\n    root html;\n}}\nserver {{\n    listen 127.0.0.1:{port2};\n    root html2;\n}}\n"
        ),
    );
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for(5, || body_on(port2, "/").as_deref() == Some("new\n")),
        "port {port2} not served after reload:\n{}",
        s.error_log()
    );
    assert_eq!(body_on(s.port, "/").as_deref(), Some("old\n"));
    s.assert_clean_log();
}

#[test]
fn reload_removing_a_listen_port_closes_it() {
    let port2 = free_port();
    let s = Running(Server::start_with(
        1,
        &format!(
            "server {{\n    listen 127.0.0.1:PORT;\n    root html;\n}}\nserver {{\n    listen 127.0.0.1:{port2};\n    root html2;\n}}\n"
        ),
        |p| {
            p.write("html/index.html", "old\n");
            p.write("html2/index.html", "new\n");
        },
    ));
    assert_eq!(body_on(port2, "/").as_deref(), Some("new\n"));
    rewrite_conf(
        &s,
        1,
        "server {\n    listen 127.0.0.1:PORT;\n    root html;\n}\n",
    );
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for(5, || TcpStream::connect(("127.0.0.1", port2)).is_err()),
        "port {port2} still accepts after its removal"
    );
    assert_eq!(body_on(s.port, "/").as_deref(), Some("old\n"));
    s.assert_clean_log();
}

#[test]
fn usr1_reopens_the_logs() {
    let s = start(1);
    assert_eq!(s.get("/before-reopen").status, 404);
    assert!(s.wait_for(5, || s.access_log().contains("/before-reopen")));
    std::fs::rename(
        s.prefix.path("logs/access.log"),
        s.prefix.path("logs/access.log.1"),
    )
    .unwrap();
    std::fs::rename(
        s.prefix.path("logs/error.log"),
        s.prefix.path("logs/error.log.1"),
    )
    .unwrap();
    // As logrotate's `create 0640 www-data adm` does: the new error.log exists already, in a
    // group of its own, which the reopen must keep.
    const ADM_GID: u32 = 4;
    std::fs::write(s.prefix.path("logs/error.log"), b"").unwrap();
    std::os::unix::fs::chown(s.prefix.path("logs/error.log"), None, Some(ADM_GID)).unwrap();
    dash_s(&s, "reopen");
    assert!(
        s.wait_for(5, || s.prefix.path("logs/access.log").exists()
            && s.prefix.path("logs/error.log").exists()),
        "logs not recreated"
    );
    // The workers reopen after the master: retry until the request lands in the new file.
    assert!(
        s.wait_for(5, || {
            s.get("/after-reopen");
            s.access_log().contains("/after-reopen")
        }),
        "new request not in the new access.log: {:?}",
        s.access_log()
    );
    assert!(!s.access_log().contains("/before-reopen"));
    assert!(
        s.error_log().contains("/html/after-reopen\" failed"),
        "the new error.log receives new errors:\n{}",
        s.error_log()
    );
    let rotated = s.prefix.read("logs/access.log.1");
    assert!(rotated.contains("/before-reopen"), "{rotated}");
    // nginx logs the signal and "reopening logs" before reopening: into the renamed file.
    let old_error_log = s.prefix.read("logs/error.log.1");
    assert!(
        old_error_log.contains("signal 10 (SIGUSR1) received")
            && old_error_log.contains("reopening logs"),
        "{old_error_log}"
    );
    // As nginx does, the master hands the new files to the worker user.
    let owner = |rel: &str| {
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(s.prefix.path(rel)).unwrap())
    };
    assert_eq!(
        owner("logs/access.log"),
        nobody_uid(),
        "new access.log owner"
    );
    // The owner only, as nginx's `chown(name, user, -1)`: the group stays.
    let meta = std::fs::metadata(s.prefix.path("logs/error.log")).unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::gid(&meta),
        ADM_GID,
        "error.log's group"
    );
    assert_eq!(owner("logs/error.log"), nobody_uid(), "error.log owner");
    s.assert_clean_log();
}

/// Size of the file a slow client reads while the server is told to stop.
const BIG_FILE_BYTES: usize = 32 << 20;

fn big_file() -> Vec<u8> {
    (0..BIG_FILE_BYTES).map(|i| (i % 251) as u8).collect()
}

/// Starts a server with `html/big.bin`, sends a GET for it and reads the head and the first
/// bytes, leaving the rest in flight. Returns the server, the connection, the Content-Length
/// and what was read of the body.
fn start_slow_download() -> (Running, TcpStream, usize, Vec<u8>) {
    let s = Running(Server::start_with(
        1,
        "server {\n    listen 127.0.0.1:PORT;\n    root html;\n}\n",
        |p| p.write("html/big.bin", big_file()),
    ));
    let mut c = s.connect();
    let (length, body) = common::begin_download(
        &mut c,
        b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(length, BIG_FILE_BYTES);
    (s, c, length, body)
}

#[test]
fn quit_finishes_an_in_flight_response() {
    let (mut s, mut c, length, mut body) = start_slow_download();
    let workers = s.worker_pids();
    dash_s(&s, "quit");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        s.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "master exited before its worker finished the response"
    );
    // Read the rest slowly.
    let mut tmp = [0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(30);
    while body.len() < length && Instant::now() < deadline {
        match c.read(&mut tmp) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&tmp[..n]),
        }
        if body.len() < 4 << 20 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    assert_eq!(
        body.len(),
        length,
        "response cut short by the graceful stop"
    );
    assert!(body == big_file(), "body differs");
    let status =
        wait_master_exit(&mut s, 10).expect("master still running 10s after the response ended");
    assert!(status.success(), "{status}");
    assert!(workers.iter().all(|&p| !alive(p)));
    assert!(!s.prefix.path("logs/portico.pid").exists());
    s.assert_clean_log();
    assert!(
        s.error_log().contains("gracefully shutting down"),
        "nginx's worker logs \"gracefully shutting down\":\n{}",
        s.error_log()
    );
}

#[test]
fn quit_stops_accepting_at_once() {
    // nginx's master and workers close their listening sockets as soon as QUIT arrives, even
    // while a response is still in flight: new connections are refused, not left queued.
    let (s, _c, _length, _body) = start_slow_download();
    s.signal(libc::SIGQUIT);
    assert!(
        s.wait_for(2, || TcpStream::connect(("127.0.0.1", s.port)).is_err()),
        "port {} still accepts connections during a graceful stop",
        s.port
    );
}

#[test]
fn term_cuts_an_in_flight_response() {
    let (mut s, mut c, length, mut body) = start_slow_download();
    std::thread::sleep(Duration::from_millis(100));
    s.signal(libc::SIGTERM);
    let status = wait_master_exit(&mut s, 3)
        .expect("master still running 3s after TERM with a response in flight");
    assert!(status.success(), "{status}");
    body.extend(read_to_end(&mut c));
    assert!(body.len() < length, "TERM should not wait for the response");
    s.assert_clean_log();
}

#[test]
fn reloads_under_load_fail_no_request() {
    let s = start(2);
    let port = s.port;
    assert!(s.wait_for(5, || s.worker_pids().len() == 2));
    let first_workers = s.worker_pids();
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let closed_by_server = Arc::new(AtomicUsize::new(0));
    // Two clients send back to back; two pause between requests, so that their keep-alive
    // connections are idle when a reload stops the old workers: a worker that closed idle
    // connections at once would race their next request (nginx's loss).
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let pause = Duration::from_millis(if i % 2 == 0 { 0 } else { 20 });
            let stop = stop.clone();
            let served = served.clone();
            let closed_by_server = closed_by_server.clone();
            std::thread::spawn(move || -> Vec<String> {
                let mut failures = Vec::new();
                let mut conn: Option<(TcpStream, usize)> = None;
                while !stop.load(Ordering::Relaxed) && failures.len() < 5 {
                    std::thread::sleep(pause);
                    let (mut c, used) = match conn.take() {
                        Some(x) => x,
                        None => match TcpStream::connect(("127.0.0.1", port)) {
                            Ok(c) => {
                                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                                (c, 0)
                            }
                            Err(e) => {
                                failures.push(format!("connect: {e}"));
                                continue;
                            }
                        },
                    };
                    if let Err(e) = c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n") {
                        failures.push(format!("write on a connection that had served {used} requests: {e}"));
                        continue;
                    }
                    match read_response(&mut c, false) {
                        None => failures.push(format!("no response on a connection that had served {used} requests (closed without \"Connection: close\")")),
                        Some(r) if r.status != 200 || r.text() != "old\n" => failures.push(format!("status {} body {:?}", r.status, r.text())),
                        Some(r) => {
                            served.fetch_add(1, Ordering::Relaxed);
                            if !r.header("Connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
                                conn = Some((c, used + 1));
                            } else {
                                closed_by_server.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
                failures
            })
        })
        .collect();
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(500));
        s.signal(libc::SIGHUP);
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let failures: Vec<String> = clients
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let served = served.load(Ordering::Relaxed);
    eprintln!("{served} requests served across 5 reloads");
    assert!(
        failures.is_empty(),
        "{} failures ({served} served): {failures:#?}",
        failures.len()
    );
    assert!(served > 100, "only {served} requests in 3s");
    // Keep-alive connections did cross the reloads: old workers answered their next request
    // with `Connection: close` (each of the 4 clients at each of the 5 reloads, roughly).
    let closed_by_server = closed_by_server.load(Ordering::Relaxed);
    assert!(
        closed_by_server >= 5,
        "only {closed_by_server} keep-alive connections were closed by a reload"
    );
    assert!(
        s.wait_for(10, || s.worker_pids().len() == 2),
        "old workers linger: {:?}",
        s.worker_pids()
    );
    assert!(
        first_workers.iter().all(|&p| !alive(p)),
        "the reloads did not replace the workers"
    );
    assert_eq!(
        s.error_log().matches("signal 1 (SIGHUP) received").count(),
        5,
        "{}",
        s.error_log()
    );
    s.assert_clean_log();
}

#[test]
fn reload_changes_the_worker_count() {
    let s = start(1);
    let old = s.worker_pids();
    rewrite_conf(
        &s,
        3,
        "server {\n    listen 127.0.0.1:PORT;\n    root html;\n}\n",
    );
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for(5, || !alive(old[0]) && s.worker_pids().len() == 3),
        "workers after reload: {:?}",
        s.worker_pids()
    );
    assert_eq!(s.get("/").text(), "old\n");
    s.assert_clean_log();
}

#[test]
fn reload_onto_a_busy_port_keeps_the_old_config() {
    let s = start(1);
    let old = s.worker_pids();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    rewrite_conf(
        &s,
        1,
        &format!(
            "server {{\n    listen 127.0.0.1:PORT;\n    root html2;\n}}\nserver {{\n    listen 127.0.0.1:{busy_port};\n}}\n"
        ),
    );
    s.signal(libc::SIGHUP);
    let want = format!("bind() to 127.0.0.1:{busy_port} failed (98: Address already in use)");
    // nginx retries bind() for a few seconds before giving up.
    assert!(
        s.wait_for(8, || s
            .error_log()
            .lines()
            .any(|l| l.contains("[emerg]") && l.contains(&want))),
        "no {want:?}:\n{}",
        s.error_log()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        s.worker_pids(),
        old,
        "workers replaced by a reload that failed"
    );
    assert_eq!(body_on(s.port, "/").as_deref(), Some("old\n"));
    s.assert_clean_log_except(&[&want, "still could not bind()"]);
}

#[test]
fn start_on_a_busy_port_fails() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let prefix = Prefix::new();
    prefix.write(
        "conf/portico.conf",
        format!(
            "{}http {{\n    server {{\n        listen 127.0.0.1:{port};\n    }}\n}}\n",
            main_preamble(1)
        ),
    );
    let out = std::process::Command::new(bin())
        .args([
            "-p",
            prefix.dir.to_str().unwrap(),
            "-c",
            "conf/portico.conf",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run portico");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "portico: [emerg] bind() to 127.0.0.1:{port} failed (98: Address already in use)\n"
        )),
        "{err}"
    );
    assert!(
        !prefix.path("logs/portico.pid").exists(),
        "pid file written by a master that could not start"
    );
}

#[test]
fn daemon_on_detaches_and_writes_the_pid_file() {
    let prefix = Prefix::new();
    let port = free_port();
    prefix.write(
        "conf/portico.conf",
        format!(
            "worker_processes 1;\nerror_log logs/error.log info;\npid logs/portico.pid;\nevents {{}}\n\
             http {{\n    server {{\n        listen 127.0.0.1:{port};\n        root html;\n    }}\n}}\n"
        ),
    );
    prefix.write("html/index.html", "daemon\n");
    let started = Instant::now();
    let out = std::process::Command::new(bin())
        .args([
            "-p",
            prefix.dir.to_str().unwrap(),
            "-c",
            "conf/portico.conf",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run portico");
    assert!(out.success(), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the launcher did not return"
    );
    let read_pid = || prefix.read("logs/portico.pid").trim().parse::<i32>().ok();
    let deadline = Instant::now() + Duration::from_secs(5);
    while read_pid().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = read_pid().expect("pid file");
    // Stop the daemon whatever happens below.
    struct Daemon(i32);
    impl Drop for Daemon {
        fn drop(&mut self) {
            // SAFETY: kill(2) on the daemon this test started.
            unsafe { libc::kill(self.0, libc::SIGTERM) };
        }
    }
    let daemon = Daemon(pid);
    assert!(alive(pid), "daemon {pid} not running");
    let ppid_of = |p: i32| -> i32 {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        stat.rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    assert_ne!(
        ppid_of(pid),
        std::process::id() as i32,
        "the master is still our child"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut body = None;
    while body.is_none() && Instant::now() < deadline {
        body = body_on(port, "/");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(body.as_deref(), Some("daemon\n"));
    let (code, _, err) = run_cli(&prefix.dir, &["-c", "conf/portico.conf", "-s", "quit"]);
    assert_eq!(code, 0, "{err}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid), "daemon still running after -s quit");
    assert!(!prefix.path("logs/portico.pid").exists());
    std::mem::forget(daemon);
    let log = prefix.read("logs/error.log");
    assert!(
        !log.contains("[alert]") && !log.contains("[emerg]"),
        "{log}"
    );
}

#[test]
fn rapid_reloads_never_kill_a_worker_that_is_still_starting() {
    // Each HUP forks new workers and QUITs the previous ones; with HUPs back to back the
    // master reloads again right after a fork, and its QUIT reaches workers that have not
    // installed their handlers yet. They must still stop gracefully (the signal waits,
    // blocked, until the worker can handle it).
    let s = start(2);
    for _ in 0..200 {
        s.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_micros(300));
    }
    assert!(
        s.wait_for(10, || s.worker_pids().len() == 2),
        "{:?}",
        s.worker_pids()
    );
    assert_eq!(s.get("/").status, 200);
    // Give the last old workers time to exit, then look for any that died of a signal.
    std::thread::sleep(Duration::from_millis(500));
    let log = s.error_log();
    assert!(!log.contains("exited on signal"), "{log}");
    s.assert_clean_log();
}

#[test]
fn a_daemon_lets_go_of_the_launchers_stderr() {
    // `ssh host portico` or `$(portico)` waits for EOF on the launcher's output: the daemon
    // must not keep it. Its fd 2 becomes the error log, as with nginx.
    let prefix = Prefix::new();
    let port = free_port();
    prefix.write(
        "conf/portico.conf",
        format!(
            "worker_processes 1;\nerror_log logs/error.log info;\npid logs/portico.pid;\nevents {{}}\n\
             http {{ server {{ listen 127.0.0.1:{port}; root html; }} }}\n"
        ),
    );
    let mut launcher = std::process::Command::new(bin())
        .args(["-p", prefix.dir.to_str().expect("utf-8 prefix")])
        .args(["-c", "conf/portico.conf"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run portico");
    let mut err = launcher.stderr.take().expect("stderr");
    let mut out = launcher.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = err.read_to_end(&mut bytes);
        let _ = out.read_to_end(&mut bytes);
        let _ = tx.send(bytes);
    });
    let status = launcher.wait().expect("wait");
    let eof = rx.recv_timeout(Duration::from_secs(5));
    // Stop the daemon whatever the outcome.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut pid = None;
    while pid.is_none() && Instant::now() < deadline {
        pid = prefix.read("logs/portico.pid").trim().parse::<i32>().ok();
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(pid) = pid {
        // SAFETY: kill(2) on the daemon this test started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    assert!(status.success(), "{status}");
    assert!(pid.is_some(), "no pid file");
    let output = eof.expect("the daemon kept the launcher's stdout or stderr open");
    assert!(output.is_empty(), "{}", String::from_utf8_lossy(&output));
}
