//! Faults the server must survive and report in nginx's words: a file truncated or removed
//! while it is being sent, an access log on a full disk; and what is served at all: a
//! symbolic link leaving the root is followed (`disable_symlinks off`, nginx's default), and
//! error pages under `server_tokens off` name neither a version nor a path.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const BIG_FILE_BYTES: usize = 32 << 20;

fn is_root() -> bool {
    // SAFETY: geteuid never fails.
    unsafe { libc::geteuid() == 0 }
}

/// A one-worker server with `http` settings and files written by `setup`. As root, workers
/// run as root too (`user root;`), so that logs on special files are not chowned to nobody.
fn start(http: &str, setup: impl FnOnce(&Prefix)) -> Server {
    let prefix = Prefix::new();
    let port = free_port();
    let user = if is_root() { "user root;\n" } else { "" };
    prefix.write(
        "conf/portico.conf",
        format!(
            "{}{user}http {{\n{}\n}}\n",
            main_preamble(1),
            http.replace("PORT", &port.to_string())
        ),
    );
    setup(&prefix);
    Server::spawn(prefix, port)
}

/// Sends a GET for `path` and reads the head and the first bytes; returns the connection,
/// the Content-Length and the body bytes read so far.
fn begin_download(s: &Server, path: &str) -> (TcpStream, usize, Vec<u8>) {
    let mut c = s.connect();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let (length, body) = common::begin_download(&mut c, request.as_bytes());
    (c, length, body)
}

fn truncated_mid_send(sendfile: &str, expected: &str) {
    let s = start(
        &format!("sendfile {sendfile};\nserver {{\n    listen 127.0.0.1:PORT;\n    root html;\n}}"),
        |p| {
            p.write("html/big.bin", vec![b'x'; BIG_FILE_BYTES]);
            p.write("html/index.html", "hello\n");
        },
    );
    let worker = s.worker_pids();
    let (mut c, length, body) = begin_download(&s, "/big.bin");
    assert_eq!(length, BIG_FILE_BYTES);
    // The kernel buffers hold a few megabytes: the rest is still to be read from the file.
    std::fs::OpenOptions::new()
        .write(true)
        .open(s.prefix.path("html/big.bin"))
        .and_then(|f| f.set_len(0))
        .expect("truncate");
    let rest = read_to_end(&mut c);
    assert!(
        body.len() + rest.len() < length,
        "the connection must be closed short of Content-Length"
    );
    let path = s.prefix.path("html/big.bin");
    let wanted = expected.replace("PATH", &path.display().to_string());
    assert!(
        s.wait_for(3, || s.error_log().contains(&wanted)),
        "expected {wanted:?}:\n{}",
        s.error_log()
    );
    let log = s.error_log();
    let line = log.lines().find(|l| l.contains(&wanted)).unwrap_or("");
    assert!(
        line.contains("[alert]")
            && line.contains(", client: 127.0.0.1, server: , request: \"GET /big.bin HTTP/1.1\", host: \"localhost\""),
        "{line}"
    );
    // The worker lives and serves.
    assert_eq!(s.get("/index.html").status, 200);
    assert_eq!(s.worker_pids(), worker);
    s.assert_clean_log_except(&[&wanted]);
}

#[test]
fn file_truncated_while_sent_closes_the_connection_and_logs_it() {
    truncated_mid_send("on", "sendfile() reported that \"PATH\" was truncated at ");
}

#[test]
fn file_truncated_while_read_without_sendfile_closes_and_logs() {
    // nginx: `ngx_read_file` in ngx_output_chain_copy_buf, with its 32k output buffer.
    truncated_mid_send("off", "pread() read only 0 of 32768 from \"PATH\"");
}

#[test]
fn file_removed_while_sent_is_sent_in_full() {
    // The open descriptor keeps the data: nginx sends all of it, and so do we.
    let s = start(
        "server {\n    listen 127.0.0.1:PORT;\n    root html;\n}",
        |p| p.write("html/big.bin", vec![b'y'; BIG_FILE_BYTES]),
    );
    let (mut c, length, mut body) = begin_download(&s, "/big.bin");
    std::fs::remove_file(s.prefix.path("html/big.bin")).expect("unlink");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut tmp = [0u8; 65536];
    while body.len() < length && Instant::now() < deadline {
        match c.read(&mut tmp) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&tmp[..n]),
        }
    }
    assert_eq!(body.len(), length);
    assert!(body.iter().all(|&b| b == b'y'));
    assert_eq!(s.get("/big.bin").status, 404);
    s.assert_clean_log();
}

#[test]
fn access_log_on_a_full_device_leaves_the_server_serving() {
    let s = start(
        "server {\n    listen 127.0.0.1:PORT;\n    root html;\n    access_log /dev/full;\n}",
        |p| p.write("html/index.html", "hello\n"),
    );
    for _ in 0..30 {
        assert_eq!(s.get("/index.html").status, 200);
    }
    let wanted = "write() to \"/dev/full\" failed (28: No space left on device)";
    assert!(
        s.wait_for(2, || s.error_log().contains(wanted)),
        "{}",
        s.error_log()
    );
    // Reported, not repeated for every request.
    assert_eq!(
        s.error_log().matches(wanted).count(),
        1,
        "{}",
        s.error_log()
    );
    s.assert_clean_log_except(&[wanted]);
}

/// A small tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn access_log_on_a_full_disk_resumes_when_space_is_freed() {
    let s = start(
        "server {\n    listen 127.0.0.1:PORT;\n    root html;\n    access_log full/access.log;\n}",
        |p| {
            p.write("html/index.html", "hello\n");
            p.write("full/access.log", "");
        },
    );
    // Mounted after start (the log file must exist at config load); the worker's descriptor
    // still points at the old file, so reopen (USR1) onto the tmpfs.
    let dir = s.prefix.path("full");
    let mounted = is_root()
        && std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|st| st.success());
    if !mounted {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let _guard = Tmpfs(dir.clone());
    s.signal(libc::SIGUSR1);
    assert!(s.wait_for(5, || dir.join("access.log").exists()));
    std::thread::sleep(Duration::from_millis(300));
    // Fill the disk.
    let filler = dir.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 128 << 10]);
    for _ in 0..20 {
        assert_eq!(s.get("/index.html").status, 200);
    }
    let wanted = "failed (28: No space left on device)";
    assert!(
        s.wait_for(2, || s.error_log().contains(wanted)),
        "{}",
        s.error_log()
    );
    // Free space: lines are written again (after the second in which the disk was full).
    std::fs::remove_file(&filler).expect("remove filler");
    std::thread::sleep(Duration::from_millis(1100));
    let before = std::fs::read_to_string(dir.join("access.log"))
        .unwrap_or_default()
        .lines()
        .count();
    for _ in 0..5 {
        assert_eq!(s.get("/index.html").status, 200);
    }
    assert!(
        s.wait_for(2, || std::fs::read_to_string(dir.join("access.log"))
            .unwrap_or_default()
            .lines()
            .count()
            >= before + 5),
        "access log did not resume"
    );
    s.assert_clean_log_except(&[wanted]);
}

#[test]
fn symlink_out_of_the_root_is_followed_by_default() {
    // nginx's default is `disable_symlinks off`: a link inside the root to a file outside it
    // is served (nginx 1.22 answers 200 here too).
    let s = start(
        "server {\n    listen 127.0.0.1:PORT;\n    root html;\n}",
        |p| {
            p.write("outside/secret.txt", "outside\n");
            std::os::unix::fs::symlink(p.path("outside/secret.txt"), p.path("html/link.txt"))
                .expect("symlink");
            std::os::unix::fs::symlink(p.path("outside"), p.path("html/dirlink")).expect("symlink");
        },
    );
    let r = s.get("/link.txt");
    assert_eq!((r.status, r.text().as_str()), (200, "outside\n"));
    let r = s.get("/dirlink/secret.txt");
    assert_eq!((r.status, r.text().as_str()), (200, "outside\n"));
    // `..` never climbs out of the root, link or not.
    for raw in [
        &b"GET /../outside/secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
        b"GET /%2e%2e/outside/secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ] {
        let r = s.request(raw);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(raw));
    }
    s.assert_clean_log();
}

#[test]
fn error_pages_under_server_tokens_off_leak_no_version_or_path() {
    let s = start(
        "server_tokens off;\nclient_max_body_size 10;\n\
         server {\n    listen 127.0.0.1:PORT;\n    root html;\n}",
        |p| {
            p.write("html/dir/file.txt", "x\n");
            p.write("html/private.txt", "x\n");
            std::fs::set_permissions(
                p.path("html/private.txt"),
                std::os::unix::fs::PermissionsExt::from_mode(0o000),
            )
            .expect("chmod");
        },
    );
    let root = s.prefix.dir.display().to_string();
    let requests: [&[u8]; 5] = [
        b"GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /dir/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"POST /dir/file.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\nConnection: close\r\n\r\n",
        b"BREW /\x01 HTTP/1.1\r\n\r\n",
    ];
    for raw in requests {
        let r = s.request(raw);
        assert!(r.status >= 400, "{}", String::from_utf8_lossy(raw));
        assert_eq!(r.header("Server"), Some("portico"), "{}", r.status);
        let page = r.text();
        assert!(
            !page.contains("0.1") && !page.contains(env!("CARGO_PKG_VERSION")),
            "{page}"
        );
        assert!(!page.contains(&root) && !page.contains("html/"), "{page}");
        if !page.is_empty() {
            assert!(page.contains("<hr><center>portico</center>"), "{page}");
        }
    }
    // A file the workers cannot read: 403, and the page does not say where it is.
    if !is_root() {
        let r = s.get("/private.txt");
        assert_eq!(r.status, 403);
        assert!(!r.text().contains(&root));
    }
}

#[test]
fn disable_symlinks_on_refuses_links_as_nginx() {
    // Checked against nginx 1.22: a link to a file is 403 (openat() ... (40: Too many levels
    // of symbolic links)), a link to a directory on the way is 404 (20: Not a directory);
    // `from=$document_root` trusts the root's own path, links and all.
    let s = start(
        "server {\n    listen 127.0.0.1:PORT;\n    root html;\n\
         location /on/ { disable_symlinks on; }\n\
         location /from/ { root rootlink; disable_symlinks on from=$document_root; }\n\
         location /strict/ { root rootlink; disable_symlinks on; }\n}",
        |p| {
            p.write("outside/secret.txt", "outside\n");
            for dir in ["html/on", "html/from", "html/strict"] {
                p.write(&format!("{dir}/real.txt"), "real\n");
                let link = |target: &str, name: &str| {
                    std::os::unix::fs::symlink(p.path(target), p.path(&format!("{dir}/{name}")))
                        .expect("symlink")
                };
                link("outside/secret.txt", "link.txt");
                link("outside", "dirlink");
                link(&format!("{dir}/real.txt"), "inlink.txt");
            }
            std::os::unix::fs::symlink(p.path("html"), p.path("rootlink")).expect("symlink");
        },
    );
    let html = s.prefix.path("html").display().to_string();
    let rootlink = s.prefix.path("rootlink").display().to_string();
    let cases = [
        ("/on/real.txt", 200),
        ("/on/link.txt", 403),
        ("/on/inlink.txt", 403),
        ("/on/dirlink/secret.txt", 404),
        ("/from/real.txt", 200),
        ("/from/link.txt", 403),
        ("/from/dirlink/secret.txt", 404),
        ("/strict/real.txt", 404),
    ];
    for (uri, status) in cases {
        let r = s.get(uri);
        assert_eq!(r.status, status, "{uri}");
        if status == 200 {
            assert_eq!(r.text(), "real\n");
        }
    }
    let log = s.error_log();
    for line in [
        format!("openat() \"{html}/on/link.txt\" failed (40: Too many levels of symbolic links)"),
        format!("openat() \"{html}/on/dirlink/secret.txt\" failed (20: Not a directory)"),
        format!(
            "openat() \"{rootlink}/from/link.txt\" failed (40: Too many levels of symbolic links)"
        ),
    ] {
        assert!(log.contains(&line), "missing {line:?}:\n{log}");
    }
    s.assert_clean_log();
}

/// The socket inode of the server side of the connection from local port `client_port` to
/// `server_port`, from /proc/net/tcp.
fn server_side_inode(server_port: u16, client_port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let port = |field: &str| {
            field
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
        };
        if f.len() > 9 && port(f[1]) == Some(server_port) && port(f[2]) == Some(client_port) {
            return f[9].parse().ok();
        }
    }
    None
}

/// The worker among `workers` that holds the socket with `inode`.
fn owner(workers: &[i32], inode: u64) -> Option<i32> {
    let wanted = format!("socket:[{inode}]");
    workers.iter().copied().find(|w| {
        std::fs::read_dir(format!("/proc/{w}/fd")).is_ok_and(|d| {
            d.flatten()
                .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy() == wanted))
        })
    })
}

fn keepalive_get(c: &mut TcpStream) -> Option<u16> {
    c.write_all(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .ok()?;
    read_response(c, false).map(|r| r.status)
}

#[test]
fn a_worker_killed_under_load_is_respawned_and_the_others_clients_see_no_error() {
    let prefix = Prefix::new();
    let port = free_port();
    prefix.write(
        "conf/portico.conf",
        format!(
            "{}http {{\n    server {{\n        listen 127.0.0.1:{port} reuseport;\n        root html;\n    }}\n}}\n",
            main_preamble(2)
        ),
    );
    prefix.write("html/index.html", "hello\n");
    let s = Server::spawn(prefix, port);
    let workers = s.worker_pids();
    assert_eq!(workers.len(), 2);
    // Keep-alive connections, each served once so a worker holds it, until both have some.
    // (`reuseport` spreads them by address; on the shared socket an idle machine wakes the
    // same worker for every connection.)
    let mut conns: Vec<(TcpStream, i32)> = Vec::new();
    for _ in 0..200 {
        let mut c = s.connect();
        assert_eq!(keepalive_get(&mut c), Some(200));
        let local = c.local_addr().map(|a| a.port()).unwrap_or(0);
        if let Some(w) = server_side_inode(port, local).and_then(|i| owner(&workers, i)) {
            conns.push((c, w));
        }
        let on = |w: i32| conns.iter().filter(|(_, o)| *o == w).count();
        if on(workers[0]) >= 4 && on(workers[1]) >= 4 {
            break;
        }
    }
    let (victim, survivor) = (workers[0], workers[1]);
    assert!(
        conns.iter().any(|(_, o)| *o == survivor) && conns.iter().any(|(_, o)| *o == victim),
        "connections did not spread over both workers: {:?}",
        conns.iter().map(|(_, o)| *o).collect::<Vec<_>>()
    );
    // SAFETY: kill(2) on a worker of the server this test started.
    unsafe { libc::kill(victim, libc::SIGKILL) };
    // The survivor's clients go on as if nothing happened, many times over.
    for round in 0..50 {
        for (c, o) in conns.iter_mut().filter(|(_, o)| *o == survivor) {
            assert_eq!(keepalive_get(c), Some(200), "round {round}, worker {o}");
        }
    }
    // New connections are served throughout, and the slot is refilled.
    for _ in 0..50 {
        assert_eq!(s.get("/index.html").status, 200);
    }
    assert!(
        s.wait_for(5, || s.worker_pids().len() == 2
            && !s.worker_pids().contains(&victim)),
        "not respawned: {:?}",
        s.worker_pids()
    );
    s.assert_clean_log_except(&[&format!("worker process {victim} exited on signal 9")]);
}
