//! Binary upgrade on the fly, as nginx's: `USR2` starts a new master from the binary with the
//! listening sockets inherited (`PORTICO=fd;fd;`), the old pid file becomes `.oldbin`; `WINCH`
//! stops the old workers, `QUIT` ends the old master, `HUP` to the old master brings its
//! workers back (rollback). Clients in a loop see no failure at any step.

mod common;

use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Children (not zombies) of `parent`, from /proc.
fn children(parent: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
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
        if ppid == parent && state != "Z" {
            out.push(pid);
        }
    }
    out.sort();
    out
}

/// The pid in a pid file, if it holds one.
fn pid_in(s: &Server, rel: &str) -> Option<i32> {
    s.prefix.read(rel).trim().parse().ok()
}

/// Kills the new master and its workers at the end of a test: it is not the harness's child.
struct NewMaster(i32);

impl Drop for NewMaster {
    fn drop(&mut self) {
        let workers = children(self.0);
        // SAFETY: kill(2) on processes this test started (through the old master).
        unsafe { libc::kill(self.0, libc::SIGKILL) };
        for w in workers {
            unsafe { libc::kill(w, libc::SIGKILL) };
        }
    }
}

/// Clients that keep requesting `/` until stopped: two on fresh connections, two on
/// keep-alive connections. Each returns its failures.
struct Load {
    stop: Arc<AtomicBool>,
    served: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<Vec<String>>>,
}

impl Load {
    fn start(port: u16) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let threads = (0..4)
            .map(|i| {
                let (stop, served) = (stop.clone(), served.clone());
                std::thread::spawn(move || client(port, i % 2 == 0, &stop, &served))
            })
            .collect();
        Load {
            stop,
            served,
            threads,
        }
    }

    fn finish(self) -> (Vec<String>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        let mut failures = Vec::new();
        for t in self.threads {
            failures.extend(t.join().expect("client thread"));
        }
        (failures, self.served.load(Ordering::Relaxed))
    }
}

fn client(port: u16, keepalive: bool, stop: &AtomicBool, served: &AtomicUsize) -> Vec<String> {
    let mut failures = Vec::new();
    let mut conn: Option<TcpStream> = None;
    let request: &[u8] = if keepalive {
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
    } else {
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    };
    while !stop.load(Ordering::Relaxed) && failures.len() < 5 {
        let mut c = match conn.take() {
            Some(c) => c,
            None => match TcpStream::connect(("127.0.0.1", port)) {
                Ok(c) => {
                    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                    c
                }
                Err(e) => {
                    failures.push(format!("connect: {e}"));
                    continue;
                }
            },
        };
        if let Err(e) = c.write_all(request) {
            failures.push(format!("write: {e}"));
            continue;
        }
        match read_response(&mut c, false) {
            None => failures.push("no response (closed without \"Connection: close\")".into()),
            Some(r) if r.status != 200 => failures.push(format!("status {}", r.status)),
            Some(r) => {
                served.fetch_add(1, Ordering::Relaxed);
                let closing = r
                    .header("Connection")
                    .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                if keepalive && !closing {
                    conn = Some(c);
                }
            }
        }
    }
    failures
}

/// The pids of the workers that logged requests (`log_format` `$pid`) from line `from` on;
/// returns them and the line count.
fn serving_pids(s: &Server, from: usize) -> (Vec<i32>, usize) {
    let log = s.access_log();
    let lines: Vec<&str> = log.lines().collect();
    let mut pids: Vec<i32> = lines
        .iter()
        .skip(from)
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    pids.sort();
    pids.dedup();
    (pids, lines.len())
}

fn start() -> Server {
    Server::start_with(
        2,
        "log_format pids '$pid $status';\naccess_log logs/access.log pids;\n\
         server {\n    listen 127.0.0.1:PORT;\n    root html;\n}\n",
        |p| p.write("html/index.html", "hello\n"),
    )
}

/// Sends `USR2` and waits for the new master and its two workers; returns its pid.
fn upgrade(s: &Server) -> NewMaster {
    upgrade_to(s, 2)
}

/// Sends `USR2` and waits for the new master and its `workers` workers.
fn upgrade_to(s: &Server, workers: usize) -> NewMaster {
    let old = s.master_pid();
    assert_eq!(pid_in(s, "logs/portico.pid"), Some(old));
    s.signal(libc::SIGUSR2);
    assert!(
        s.wait_for(10, || pid_in(s, "logs/portico.pid.oldbin") == Some(old)
            && pid_in(s, "logs/portico.pid").is_some_and(|p| p != old)),
        "pid files after USR2: pid={:?} oldbin={:?}\n{}",
        s.prefix.read("logs/portico.pid"),
        s.prefix.read("logs/portico.pid.oldbin"),
        s.error_log()
    );
    let new = NewMaster(pid_in(s, "logs/portico.pid").unwrap_or(0));
    assert!(
        s.wait_for(10, || children(new.0).len() == workers),
        "new master's workers: {:?}\n{}",
        children(new.0),
        s.error_log()
    );
    assert!(
        children(old).contains(&new.0),
        "the new master is the old one's child"
    );
    new
}

#[test]
fn usr2_winch_quit_switches_binaries_without_a_failed_request() {
    let mut s = start();
    let old = s.master_pid();
    let old_workers = s.worker_pids();
    let load = Load::start(s.port);
    std::thread::sleep(Duration::from_millis(300));

    let new = upgrade(&s);
    let new_workers = children(new.0);
    assert_eq!(s.worker_pids().len(), 3, "old workers + the new master");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        s.error_log().contains("using inherited sockets from \""),
        "{}",
        s.error_log()
    );

    // WINCH: the old workers stop, the old master stays; only new workers serve.
    s.signal(libc::SIGWINCH);
    assert!(
        s.wait_for(10, || old_workers.iter().all(|&p| !alive(p))),
        "old workers still running after WINCH"
    );
    assert!(alive(old), "WINCH must not stop the old master");
    assert_eq!(
        children(old),
        vec![new.0],
        "only the new master is left under the old one"
    );
    let (failures, served) = load.finish();
    assert!(failures.is_empty(), "{failures:#?} ({served} served)");
    let (pids, seen) = serving_pids(&s, 0);
    assert!(
        pids.iter()
            .all(|p| old_workers.contains(p) || new_workers.contains(p)),
        "{pids:?} not in {old_workers:?} + {new_workers:?}"
    );
    assert!(
        pids.iter().any(|p| new_workers.contains(p)),
        "the new workers served nothing: {pids:?}"
    );
    let after = Load::start(s.port);
    std::thread::sleep(Duration::from_millis(300));

    // QUIT to the old master: it exits, the pid file is the new master's.
    s.signal(libc::SIGQUIT);
    assert!(s.wait_for(10, || !alive(old)), "old master did not exit");
    let exited = s.child.as_mut().and_then(|c| c.wait().ok());
    assert!(exited.is_some_and(|e| e.success()), "{exited:?}");
    std::thread::sleep(Duration::from_millis(300));
    let (failures, served) = after.finish();
    assert!(failures.is_empty(), "{failures:#?} ({served} served)");
    assert!(served > 10, "only {served} requests after WINCH");
    let (pids, _) = serving_pids(&s, seen);
    assert!(pids.iter().all(|p| new_workers.contains(p)), "{pids:?}");
    assert_eq!(pid_in(&s, "logs/portico.pid"), Some(new.0));
    assert!(!s.prefix.path("logs/portico.pid.oldbin").exists());
    assert!(alive(new.0));
    s.assert_clean_log();
}

#[test]
fn hup_to_the_old_master_rolls_back() {
    let s = start();
    let old = s.master_pid();
    let new = upgrade(&s);
    s.signal(libc::SIGWINCH);
    assert!(s.wait_for(10, || children(old) == vec![new.0]));

    // Rollback: HUP brings the old workers back, QUIT to the new master ends it, and the old
    // master takes its pid file back.
    let load = Load::start(s.port);
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for(10, || children(old).len() == 3),
        "old master's workers after HUP: {:?}\n{}",
        children(old),
        s.error_log()
    );
    // SAFETY: kill(2) on the new master this test started.
    unsafe { libc::kill(new.0, libc::SIGQUIT) };
    assert!(
        s.wait_for(10, || !alive(new.0)),
        "new master did not exit on QUIT"
    );
    assert!(
        s.wait_for(5, || pid_in(&s, "logs/portico.pid") == Some(old)
            && !s.prefix.path("logs/portico.pid.oldbin").exists()),
        "pid file not taken back: {:?}\n{}",
        s.prefix.read("logs/portico.pid"),
        s.error_log()
    );
    std::thread::sleep(Duration::from_millis(300));
    let (failures, served) = load.finish();
    assert!(failures.is_empty(), "{failures:#?} ({served} served)");
    let old_workers = s.worker_pids();
    assert_eq!(old_workers.len(), 2);
    let (_, seen) = serving_pids(&s, 0);
    for _ in 0..20 {
        assert_eq!(s.get("/").status, 200);
    }
    let (pids, _) = serving_pids(&s, seen);
    assert!(
        !pids.is_empty() && pids.iter().all(|p| old_workers.contains(p)),
        "{pids:?} served, the old master's workers are {old_workers:?}"
    );
    assert!(
        s.error_log()
            .contains(&format!("new binary process {} exited with code 0", new.0)),
        "{}",
        s.error_log()
    );
    s.assert_clean_log();
}

#[test]
fn a_second_usr2_is_refused_while_the_new_binary_runs() {
    let s = start();
    let new = upgrade(&s);
    s.signal(libc::SIGUSR2);
    // SAFETY: kill(2) on the new master this test started.
    unsafe { libc::kill(new.0, libc::SIGUSR2) };
    assert!(
        s.wait_for(5, || s
            .error_log()
            .matches("the changing binary signal is ignored")
            .count()
            == 2),
        "{}",
        s.error_log()
    );
    assert_eq!(children(new.0).len(), 2, "no third master");
    assert_eq!(s.worker_pids().len(), 3);
    s.assert_clean_log();
}

/// The inode of a file or of a process's executable.
fn inode(path: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map_or(0, |m| m.ino())
}

#[test]
fn usr2_runs_the_binary_now_at_the_path_the_master_was_started_from() {
    // The usual upgrade: the new binary is moved over the old one's path, then USR2.
    let prefix = Prefix::new();
    let port = free_port();
    prefix.write(
        "conf/portico.conf",
        format!(
            "{}http {{\n    server {{\n        listen 127.0.0.1:{port};\n        root html;\n    }}\n}}\n",
            main_preamble(1)
        ),
    );
    prefix.write("html/index.html", "hello\n");
    let exe = prefix.path("sbin/portico");
    std::fs::create_dir_all(prefix.path("sbin")).expect("mkdir");
    std::fs::copy(bin(), &exe).expect("copy binary");
    let child = std::process::Command::new(&exe)
        .arg("-p")
        .arg(&prefix.dir)
        .args(["-c", "conf/portico.conf"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let s = Server {
        prefix,
        port,
        child: Some(child),
    };
    assert!(
        s.wait_for(10, || s.worker_pids().len() == 1),
        "{}",
        s.error_log()
    );
    let old = s.master_pid();
    // A new file (a new inode) at the same path, as `install` or `mv` leave it.
    let staged = s.prefix.path("sbin/portico.new");
    std::fs::copy(bin(), &staged).expect("copy binary");
    std::fs::rename(&staged, &exe).expect("replace binary");
    let replaced = inode(&exe.display().to_string());
    assert_ne!(inode(&format!("/proc/{old}/exe")), replaced);

    let new = upgrade_to(&s, 1);
    assert_eq!(
        inode(&format!("/proc/{}/exe", new.0)),
        replaced,
        "the new master does not run the replaced binary"
    );
    assert_eq!(s.get("/index.html").status, 200);
    s.assert_clean_log();
}

#[test]
fn a_new_binary_that_cannot_start_hands_the_pid_file_back() {
    let s = start();
    let old = s.master_pid();
    // The new master reads the configuration anew: a broken one makes it exit at once.
    s.prefix.write("conf/portico.conf", "events { bogus; }\n");
    s.signal(libc::SIGUSR2);
    assert!(
        s.wait_for(10, || s.error_log().contains("new binary process")
            && s.error_log().contains("exited with code 1")),
        "{}",
        s.error_log()
    );
    assert!(
        s.wait_for(5, || pid_in(&s, "logs/portico.pid") == Some(old)
            && !s.prefix.path("logs/portico.pid.oldbin").exists()),
        "pid file not taken back"
    );
    assert_eq!(s.worker_pids().len(), 2);
    assert_eq!(s.get("/").status, 200);
    s.assert_clean_log_except(&["unknown directive \"bogus\""]);
}
