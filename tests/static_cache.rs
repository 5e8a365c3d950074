//! The worker's open-file cache. Without `open_file_cache` Portico still keeps hot files open
//! (and small ones in memory) but checks every request with a `statx` of the path, so any
//! change shows at once, as with nginx, which opens the file every time. With
//! `open_file_cache` the descriptor is revalidated by `stat` only once
//! `open_file_cache_valid` has passed, so a replaced file is served within that time.

mod common;

use common::Server;
use std::time::Duration;

fn start(cache: &str) -> Server {
    let block = format!(
        "server {{ listen 127.0.0.1:PORT; server_name localhost; root html; {cache} location / {{ }} }}"
    );
    Server::start_with(1, &block, |p| p.write("html/f.txt", "version one\n"))
}

/// Whether a worker holds `rel` open (seen in /proc/PID/fd).
fn worker_holds_open(s: &Server, rel: &str) -> bool {
    let target = s.prefix.path(rel);
    s.worker_pids().iter().any(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|rd| {
                rd.flatten()
                    .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l == target))
            })
            .unwrap_or(false)
    })
}

/// Replaces the file with a new one (new inode), as deploy tools do.
fn replace(s: &Server, rel: &str, contents: &str) {
    s.prefix.write("html/tmp.new", contents);
    std::fs::rename(s.prefix.path("html/tmp.new"), s.prefix.path(rel)).expect("rename");
}

#[test]
fn without_open_file_cache_files_stay_open_and_every_change_shows_at_once() {
    let s = start("");
    assert_eq!(s.get("/f.txt").text(), "version one\n");
    assert!(s.wait_for(2, || worker_holds_open(&s, "html/f.txt")));
    // Replaced by a rename (a new inode), as deploy tools do.
    replace(&s, "html/f.txt", "version two, longer\n");
    assert_eq!(s.get("/f.txt").text(), "version two, longer\n");
    // Let it settle, so the worker keeps its bytes in memory (see static_files::cache).
    std::thread::sleep(Duration::from_millis(2600));
    assert_eq!(s.get("/f.txt").text(), "version two, longer\n");
    assert_eq!(s.get("/f.txt").text(), "version two, longer\n");
    // Rewritten in place with the same size: same inode, same length, new bytes.
    s.prefix.write("html/f.txt", "version 2, LONGER!!\n");
    let r = s.get("/f.txt");
    assert_eq!(r.text(), "version 2, LONGER!!\n");
    assert_eq!(r.header("Content-Length"), Some("20"));
    // Unreadable for the worker user: 403 at once.
    set_mode(&s, "html/f.txt", 0o000);
    assert_eq!(s.get("/f.txt").status, 403);
    set_mode(&s, "html/f.txt", 0o644);
    assert_eq!(s.get("/f.txt").text(), "version 2, LONGER!!\n");
    // Removed: 404 at once, and the descriptor is let go.
    std::fs::remove_file(s.prefix.path("html/f.txt")).expect("rm");
    assert_eq!(s.get("/f.txt").status, 404);
    assert!(!worker_holds_open(&s, "html/f.txt"));
    s.assert_clean_log_except(&["Permission denied", "No such file or directory"]);
}

fn set_mode(s: &Server, rel: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(s.prefix.path(rel), std::fs::Permissions::from_mode(mode))
        .expect("chmod");
}

#[test]
fn open_file_cache_keeps_the_descriptor_and_revalidates() {
    let s = start("open_file_cache max=16 inactive=60s; open_file_cache_valid 1s;");
    assert_eq!(s.get("/f.txt").text(), "version one\n");
    assert!(s.wait_for(2, || worker_holds_open(&s, "html/f.txt")));
    replace(&s, "html/f.txt", "version two, longer\n");
    // After `open_file_cache_valid` the next request stats the path, sees a new inode
    // and reopens it. (Within the second nginx may still serve the old descriptor.)
    std::thread::sleep(Duration::from_millis(1200));
    let r = s.get("/f.txt");
    assert_eq!(r.text(), "version two, longer\n");
    assert_eq!(r.header("Content-Length"), Some("20"));
    // A deleted file is noticed the same way.
    std::fs::remove_file(s.prefix.path("html/f.txt")).expect("rm");
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(s.get("/f.txt").status, 404);
    s.assert_clean_log();
}
