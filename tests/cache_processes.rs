//! The cache manager and cache loader processes (issue 19), as nginx's: forked by the master
//! beside the workers when a cache path is configured, titled `portico: cache manager
//! process` and `portico: cache loader process`, running as `user`, holding no listening
//! socket; the manager is respawned when it dies and keeps `inactive` and `max_size` while
//! every worker is stopped; the loader indexes a cache found at start (60 s after its start,
//! as nginx's) and exits; a reload replaces both, `QUIT` stops them.

mod common;
#[path = "support/upstream.rs"]
mod upstream;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{Server, free_port};
use upstream::Upstream;

/// A server with two workers caching `/c/` for an hour in a cache path with `params`.
fn start(up_port: u16, path: &str, params: &str) -> Server {
    Server::start_with(
        2,
        &format!(
            "proxy_cache_path {path} levels=1:2 keys_zone=one:1m {params};\n\
             server {{ listen 127.0.0.1:PORT;\n\
               location /c/ {{ proxy_pass http://127.0.0.1:{up_port}; proxy_cache one;\n\
                 proxy_cache_key $request_uri; proxy_cache_valid 200 1h;\n\
                 add_header X-Cache $upstream_cache_status; }}\n\
             }}"
        ),
        |_| {},
    )
}

fn cmdline(pid: i32) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default())
        .trim_end_matches('\0')
        .to_string()
}

/// The master's children whose title is `portico: {role} process`.
fn with_title(s: &Server, role: &str) -> Vec<i32> {
    children_titled(s.master_pid(), role)
}

/// The children of `parent` (not zombies) whose title is `portico: {role} process`.
fn children_titled(parent: i32, role: &str) -> Vec<i32> {
    let title = format!("portico: {role} process");
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let state = f.next().unwrap_or("");
        let ppid: i32 = f.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if parent > 0 && ppid == parent && state != "Z" && cmdline(pid) == title {
            out.push(pid);
        }
    }
    out
}

/// The one process with `role`, once there is exactly one.
fn the_one(s: &Server, role: &str) -> i32 {
    assert!(
        s.wait_for(20, || with_title(s, role).len() == 1),
        "{role}: {:?} among {:?}\n{}",
        with_title(s, role),
        s.worker_pids()
            .iter()
            .map(|&p| cmdline(p))
            .collect::<Vec<_>>(),
        s.error_log()
    );
    with_title(s, role)[0]
}

fn uid(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// How many of a process's descriptors are sockets.
fn sockets(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
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

/// The status of a GET on a fresh connection (from any thread).
fn status_of(port: u16, path: &str) -> u16 {
    let mut c = common::connect(port);
    common::send(
        &mut c,
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    common::read_response(&mut c, false).map_or(0, |r| r.status)
}

fn kill(pid: i32, sig: i32) {
    // SAFETY: kill(2) on a process this test started.
    unsafe { libc::kill(pid, sig) };
}

#[test]
fn a_manager_and_a_loader_run_beside_the_workers_without_sockets() {
    let up = Upstream::start();
    let s = start(up.port, "cache", "");
    let manager = the_one(&s, "cache manager");
    let loader = the_one(&s, "cache loader");
    assert!(s.wait_for(10, || with_title(&s, "worker").len() == 2));
    let worker = with_title(&s, "worker")[0];
    for pid in [manager, loader] {
        // (Polled: the title comes first, right after the fork.) No socket, and the
        // workers' user (`nobody` when started as root), not the master's.
        assert!(
            s.wait_for(20, || sockets(pid) == 0 && uid(pid) == uid(worker)),
            "{}: {} sockets, uid {:?} (worker {:?})",
            cmdline(pid),
            sockets(pid),
            uid(pid),
            uid(worker)
        );
    }
    assert!(sockets(worker) > 0);
    let log = s.error_log();
    assert!(log.contains(&format!("start cache manager process {manager}")));
    assert!(log.contains(&format!("start cache loader process {loader}")));
    assert_eq!(s.get("/c/a").status, 200);
    s.assert_clean_log();
}

#[test]
fn without_a_cache_there_are_no_helpers() {
    let s = Server::start_with(
        2,
        "server { listen 127.0.0.1:PORT; location / { return 200 ok; } }",
        |_| {},
    );
    assert!(s.wait_for(10, || with_title(&s, "worker").len() == 2));
    assert_eq!(s.worker_pids().len(), 2);
    assert!(!s.error_log().contains("cache manager"));
}

#[test]
fn a_killed_manager_is_respawned_and_a_killed_loader_is_not() {
    let up = Upstream::start();
    let s = start(up.port, "cache", "");
    let manager = the_one(&s, "cache manager");
    let loader = the_one(&s, "cache loader");
    kill(manager, libc::SIGKILL);
    kill(loader, libc::SIGKILL);
    assert!(
        s.wait_for(20, || with_title(&s, "cache manager")
            .iter()
            .any(|&p| p != manager)),
        "{}",
        s.error_log()
    );
    assert!(
        s.wait_for(10, || s.error_log().contains(&format!(
            "cache loader process {loader} exited on signal 9"
        )))
    );
    let log = s.error_log();
    assert!(log.contains(&format!(
        "cache manager process {manager} exited on signal 9"
    )));
    assert!(with_title(&s, "cache loader").is_empty(), "{log}");
    assert_eq!(log.matches("start cache loader process").count(), 1);
}

#[test]
fn a_reload_replaces_the_helpers_and_quit_stops_them() {
    let up = Upstream::start();
    let mut s = start(up.port, "cache", "");
    let manager = the_one(&s, "cache manager");
    let loader = the_one(&s, "cache loader");
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for(20, || {
            let m = with_title(&s, "cache manager");
            let l = with_title(&s, "cache loader");
            m.len() == 1 && m[0] != manager && l.len() == 1 && l[0] != loader
        }),
        "{}",
        s.error_log()
    );
    let log = s.error_log();
    assert!(log.contains(&format!(
        "cache manager process {manager} exited with code 0"
    )));
    assert!(log.contains(&format!("cache loader process {loader} exited with code 0")));
    let helpers = [the_one(&s, "cache manager"), the_one(&s, "cache loader")];
    s.signal(libc::SIGQUIT);
    let child = s.child.as_mut().expect("master");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(
        child.try_wait().ok().flatten().is_some(),
        "master still runs"
    );
    for pid in helpers {
        assert!(!common::alive(pid), "{pid} still runs");
    }
    s.assert_clean_log();
}

#[test]
fn the_manager_removes_inactive_entries_while_every_worker_is_stopped() {
    let up = Upstream::start();
    let s = start(up.port, "cache", "inactive=3s");
    the_one(&s, "cache manager");
    assert_eq!(s.get("/c/idle").status, 200);
    let dir = s.prefix.path("cache");
    assert_eq!(files_under(&dir).len(), 1);
    let workers = with_title(&s, "worker");
    for &w in &workers {
        kill(w, libc::SIGSTOP);
    }
    let gone = s.wait_for(30, || files_under(&dir).is_empty());
    for &w in &workers {
        kill(w, libc::SIGCONT);
    }
    assert!(gone, "{:?}", files_under(&dir));
    assert_eq!(s.get("/c/idle").header("x-cache"), Some("MISS"));
}

#[test]
fn the_manager_keeps_max_size_under_load() {
    let up = Upstream::start();
    let s = start(up.port, "cache", "max_size=20k manager_sleep=10ms");
    let dir = s.prefix.path("cache");
    // Two clients keep the workers busy while entries are added.
    let port = s.port;
    let load: Vec<_> = (0..2)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..10 {
                    assert_eq!(status_of(port, &format!("/c/t{t}-{i}?size=6000")), 200);
                }
            })
        })
        .collect();
    for l in load {
        l.join().expect("client");
    }
    // Each entry takes two 4 KiB blocks: at most two fit in 20 KiB.
    assert!(
        s.wait_for(30, || files_under(&dir).len() <= 2),
        "{:?}",
        files_under(&dir)
    );
}

#[test]
fn a_full_keys_zone_is_brought_under_its_watermark_by_the_manager() {
    let up = Upstream::start();
    // A keys zone of four pages: a few dozen keys fill it.
    let s = Server::start_with(
        1,
        &format!(
            "proxy_cache_path cache keys_zone=small:16k;\n\
             server {{ listen 127.0.0.1:PORT;\n\
               location /c/ {{ proxy_pass http://127.0.0.1:{}; proxy_cache small;\n\
                 proxy_cache_valid 200 1h; }}\n\
             }}",
            up.port
        ),
        |_| {},
    );
    the_one(&s, "cache manager");
    let dir = s.prefix.path("cache");
    // New keys until one had to make room for the next: the zone was full (every key has
    // its file), and a full zone evicts one key per new key.
    let mut full = 0;
    for i in 0..10_000 {
        assert_eq!(s.get(&format!("/c/w{i}")).status, 200);
        let files = files_under(&dir).len();
        if files <= full {
            break;
        }
        full = files;
    }
    assert!(full > 8, "{full} keys fill 16k");
    // The manager (within 10 s, its longest idle pause) removes keys until fewer than 7/8
    // of what the zone held remain, as nginx's watermark; it evicts nothing more.
    let under = full - full / 8 - 1;
    assert!(
        s.wait_for(30, || files_under(&dir).len() <= under),
        "{} files of {full}, want {under}",
        files_under(&dir).len()
    );
    assert!(files_under(&dir).len() >= under - 1);
    s.assert_clean_log();
}

#[test]
fn a_cache_found_at_start_is_served_at_once_and_indexed_by_the_loader() {
    let up = Upstream::start();
    let mut first = start(up.port, "cache", "");
    for i in 0..6 {
        assert_eq!(first.get(&format!("/c/m{i}?size=6000")).status, 200);
    }
    first.stop();
    let dir = first.prefix.path("cache");
    assert_eq!(files_under(&dir).len(), 6);
    std::fs::write(dir.join("notes.txt"), "not an entry").expect("write");
    std::fs::set_permissions(
        dir.join("notes.txt"),
        std::fs::Permissions::from_mode(0o666),
    )
    .expect("chmod");
    // The same directory, a smaller max_size, no upstream at all.
    let dead = free_port();
    let second = start(
        dead,
        &dir.display().to_string(),
        "max_size=20k manager_sleep=10ms loader_files=2 loader_sleep=10ms",
    );
    let hit = second.get("/c/m5?size=6000");
    assert_eq!(hit.status, 200);
    assert_eq!(hit.header("x-cache"), Some("HIT"));
    // Until the loader has run (60 s after its start) the zone knows only that one entry,
    // well under max_size: nothing is removed.
    assert_eq!(files_under(&dir).len(), 7);
    let loader = the_one(&second, "cache loader");
    let exited = format!("cache loader process {loader} exited with code 0");
    assert!(
        second.wait_for(150, || second.error_log().contains(&exited)),
        "{}",
        second.error_log()
    );
    let log = second.error_log();
    assert!(
        log.contains(&format!("http file cache: {} ", dir.display())),
        "{log}"
    );
    // Indexed, the entries count against max_size: the manager removes all but two.
    assert!(
        second.wait_for(30, || files_under(&dir).len() <= 3),
        "{:?}",
        files_under(&dir)
    );
    assert!(dir.join("notes.txt").exists());
    second.assert_clean_log();
}

/// Kills a master this test started through another one, and its children.
struct Orphan(i32);

impl Drop for Orphan {
    fn drop(&mut self) {
        let children: Vec<i32> = ["worker", "cache manager", "cache loader"]
            .iter()
            .flat_map(|r| children_titled(self.0, r))
            .collect();
        kill(self.0, libc::SIGKILL);
        for pid in children {
            kill(pid, libc::SIGKILL);
        }
    }
}

#[test]
fn a_new_binary_runs_its_own_helpers_and_winch_stops_the_old_ones() {
    let up = Upstream::start();
    let s = start(up.port, "cache", "");
    let old = s.master_pid();
    let old_helpers = [the_one(&s, "cache manager"), the_one(&s, "cache loader")];
    s.signal(libc::SIGUSR2);
    let new_pid = || {
        s.prefix
            .read("logs/portico.pid")
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|&p| p != old)
    };
    assert!(s.wait_for(20, || new_pid().is_some()), "{}", s.error_log());
    let new = Orphan(new_pid().unwrap_or(0));
    assert!(
        s.wait_for(20, || children_titled(new.0, "cache manager").len() == 1
            && children_titled(new.0, "cache loader").len() == 1
            && children_titled(new.0, "worker").len() == 2),
        "{}",
        s.error_log()
    );
    // WINCH: the old workers and helpers stop; the new master's stay.
    s.signal(libc::SIGWINCH);
    assert!(
        s.wait_for(20, || old_helpers.iter().all(|&p| !common::alive(p))
            && with_title(&s, "worker").is_empty()),
        "{}",
        s.error_log()
    );
    assert_eq!(children_titled(new.0, "cache manager").len(), 1);
    // HUP to the old master (rollback): its workers and helpers start again.
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for(20, || with_title(&s, "cache manager").len() == 1
            && with_title(&s, "cache loader").len() == 1
            && with_title(&s, "worker").len() == 2),
        "{}",
        s.error_log()
    );
}
