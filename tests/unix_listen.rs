//! `listen unix:PATH`: clients over a unix-domain socket are clients like any other
//! (keep-alive, pipelining, proxying, gzip, server selection by address), with nginx's
//! variables (`$remote_addr` is `unix:`) and access rules (`allow unix:`); the socket file
//! is kept across reloads, replaced when its path changes, and removed at stop.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Server, find, free_port, main_preamble};

/// Where a test's socket lives: inside its prefix, so that it is unique and removed with it.
fn sock(s: &Server, name: &str) -> PathBuf {
    s.prefix.path(name)
}

fn connect(path: &Path) -> UnixStream {
    let c = UnixStream::connect(path).expect("connect to the unix socket");
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    c
}

/// Sends `raw` and reads until the server closes.
fn exchange(path: &Path, raw: &[u8]) -> String {
    let mut c = connect(path);
    c.write_all(raw).expect("write");
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn get(path: &Path, uri: &str) -> String {
    exchange(
        path,
        format!("GET {uri} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// The body of a `Connection: close` response.
fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// A server with one `server` on `unix:PREFIX/app.sock` and one on TCP `PORT`; `unix_body`
/// and `tcp_body` are the insides of those servers.
fn start(workers: usize, unix_body: &str, tcp_body: &str) -> Server {
    let prefix = common::Prefix::new();
    let port = free_port();
    let path = prefix.path("app.sock");
    let conf = format!(
        "{}http {{\naccess_log logs/access.log;\n\
         server {{ listen unix:{}; {unix_body} }}\n\
         server {{ listen 127.0.0.1:{port}; {tcp_body} }}\n}}\n",
        main_preamble(workers),
        path.display(),
    );
    prefix.write("conf/portico.conf", conf);
    Server::spawn(prefix, port)
}

#[test]
fn unix_clients_get_nginx_variables_and_their_own_server() {
    let s = start(
        2,
        "location / { return 200 \"unix ra=[$remote_addr] rp=[$remote_port] \
         sa=[$server_addr] sp=[$server_port] bra=[$binary_remote_addr]\\n\"; }",
        "location / { return 200 \"tcp ra=[$remote_addr]\\n\"; }",
    );
    let path = sock(&s, "app.sock");
    let meta = std::fs::metadata(&path).expect("the socket file exists");
    assert!(meta.file_type().is_socket());
    // nginx makes the file readable and writable by everyone (ngx_open_listening_sockets).
    assert_eq!(meta.permissions().mode() & 0o777, 0o666);
    let r = get(&path, "/");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(
        body(&r),
        format!(
            "unix ra=[unix:] rp=[] sa=[unix:{}] sp=[] bra=[unix:]\n",
            path.display()
        )
    );
    // The TCP listener's server never sees the unix clients, nor the other way round.
    assert_eq!(s.get("/").text(), "tcp ra=[127.0.0.1]\n");
    assert!(
        s.wait_for(5, || s.access_log().contains("unix: - - [")),
        "{}",
        s.access_log()
    );
    s.assert_clean_log();
}

#[test]
fn keepalive_and_pipelining_over_a_unix_socket() {
    let s = start(
        1,
        "location / { return 200 \"n=$connection_requests\\n\"; }",
        "",
    );
    let path = sock(&s, "app.sock");
    let mut c = connect(&path);
    // Two pipelined requests in one write, then a third on the same connection.
    c.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut got = Vec::new();
    let mut tmp = [0u8; 4096];
    while find(&got, b"n=2\n").is_none() {
        let n = c.read(&mut tmp).expect("read");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&tmp[..n]);
    }
    c.write_all(b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let _ = c.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got);
    assert_eq!(text.matches("HTTP/1.1 200").count(), 3, "{text}");
    assert!(text.contains("n=1\n") && text.contains("n=3\n"), "{text}");
    s.assert_clean_log();
}

#[test]
fn allow_and_deny_unix_apply_to_unix_clients_only() {
    // Static files: `return` would answer before the access phase.
    let rules = "location /deny { deny unix:; }\nlocation /only { allow unix:; deny all; }";
    let s = start(1, rules, rules);
    s.prefix.write("html/deny", "in\n");
    s.prefix.write("html/only", "in\n");
    let path = sock(&s, "app.sock");
    assert!(get(&path, "/deny").starts_with("HTTP/1.1 403"));
    assert!(get(&path, "/only").starts_with("HTTP/1.1 200"));
    assert_eq!(s.get("/deny").status, 200);
    assert_eq!(s.get("/only").status, 403);
    assert!(
        s.wait_for(5, || s
            .error_log()
            .contains("access forbidden by rule, client: unix:, server: ")),
        "{}",
        s.error_log()
    );
}

#[test]
fn a_unix_client_is_proxied_and_gzipped_like_any_other() {
    let port_holder = free_port();
    let s = start(
        1,
        &format!(
            "location /p/ {{ proxy_pass http://127.0.0.1:{port_holder}/echo/; \
             proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; }}\n\
             location /z {{ gzip on; gzip_min_length 1; gzip_types text/plain; \
             default_type text/plain; return 200 \"{}\"; }}",
            "z".repeat(2000)
        ),
        "",
    );
    // The upstream: one exchange that echoes the X-Forwarded-For it was sent.
    let upstream = std::net::TcpListener::bind(("127.0.0.1", port_holder)).expect("bind");
    let t = std::thread::spawn(move || {
        let (mut c, _) = upstream.accept().expect("accept");
        c.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut head = Vec::new();
        let mut tmp = [0u8; 4096];
        while find(&head, b"\r\n\r\n").is_none() {
            match c.read(&mut tmp) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&tmp[..n]),
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let xff = head
            .lines()
            .find_map(|l| l.strip_prefix("X-Forwarded-For: "))
            .unwrap_or("none")
            .to_string();
        let answer = format!("xff={xff}\n");
        let _ = c.write_all(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            )
            .as_bytes(),
        );
    });
    let path = sock(&s, "app.sock");
    let r = exchange(
        &path,
        b"GET /p/x HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.9\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(body(&r), "xff=10.0.0.9, unix:\n", "{r}");
    t.join().expect("upstream thread");
    let r = exchange(
        &path,
        b"GET /z HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    );
    assert!(r.contains("\r\nContent-Encoding: gzip\r\n"), "{r}");
    s.assert_clean_log();
}

#[test]
fn reload_keeps_the_socket_a_new_path_replaces_it_and_stop_removes_it() {
    let mut s = start(2, "location / { return 200 \"one\\n\"; }", "");
    let path = sock(&s, "app.sock");
    // A connection accepted before the reload is answered after it; connecting never fails.
    let mut early = connect(&path);
    let inode = std::fs::metadata(&path).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    let conf = s.prefix.read("conf/portico.conf").replace("one", "two");
    s.prefix.write("conf/portico.conf", &conf);
    let old = s.worker_pids();
    s.signal(libc::SIGHUP);
    let mut answers = Vec::new();
    for _ in 0..40 {
        answers.push(body(&get(&path, "/")).to_string());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        answers.iter().all(|a| a == "one\n" || a == "two\n"),
        "{answers:?}"
    );
    assert!(s.wait_for(10, || body(&get(&path, "/")) == "two\n"));
    early
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut out = String::new();
    let _ = early.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    // The same socket: the file was never recreated.
    assert_eq!(
        std::fs::metadata(&path)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .ok(),
        inode.ok()
    );
    assert!(s.wait_for(10, || s.worker_pids().iter().all(|p| !old.contains(p))));

    // A new path: bound anew, and the old file deleted as nginx does ("deleting socket").
    let moved = sock(&s, "moved.sock");
    let conf = conf.replace("app.sock", "moved.sock");
    s.prefix.write("conf/portico.conf", &conf);
    s.signal(libc::SIGHUP);
    assert!(s.wait_for(10, || moved.exists() && !path.exists()));
    assert!(s.wait_for(10, || get(&moved, "/").starts_with("HTTP/1.1 200")));
    let deleting = format!("deleting socket {}", path.display());
    assert!(
        s.error_log()
            .lines()
            .any(|l| l.contains("[warn]") && l.ends_with(&deleting)),
        "{}",
        s.error_log()
    );
    s.assert_clean_log();
    s.stop();
    assert!(!moved.exists(), "stop leaves the socket file behind");
}

#[test]
fn graceful_stop_removes_the_socket_file() {
    let mut s = start(1, "location / { return 204; }", "");
    let path = sock(&s, "app.sock");
    assert!(get(&path, "/").starts_with("HTTP/1.1 204"));
    s.signal(libc::SIGQUIT);
    let child = s.child.as_mut().expect("running");
    let mut exited = false;
    for _ in 0..400 {
        if let Ok(Some(_)) = child.try_wait() {
            exited = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(exited, "the master did not exit on QUIT");
    assert!(!path.exists(), "QUIT leaves the socket file behind");
}

#[test]
fn listen_unix_errors_are_nginx_s() {
    let prefix = common::Prefix::new();
    for (listen, error) in [
        (
            "unix:",
            "no path in the unix domain socket in \"unix:\" of the \"listen\" directive",
        ),
        (
            &format!("unix:/{}", "x".repeat(120)),
            "too long path in the unix domain socket",
        ),
    ] {
        prefix.write(
            "conf/portico.conf",
            format!("events {{}}\nhttp {{ server {{ listen {listen}; }} }}\n"),
        );
        let (code, _, err) = common::run_cli(&prefix.dir, &["-t", "-c", "conf/portico.conf"]);
        assert_ne!(code, 0);
        assert!(err.contains(error), "{err}");
    }
    prefix.write(
        "conf/portico.conf",
        "events {}\nhttp { server { listen unix:/tmp/a.sock; } server { listen unix:/tmp/a.sock default_server; listen unix:/tmp/a.sock; } }\n",
    );
    let (code, _, err) = common::run_cli(&prefix.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_ne!(code, 0);
    assert!(err.contains("a duplicate listen unix:/tmp/a.sock"), "{err}");
    // -t binds unix sockets as nginx's test mode does: a path that cannot be bound fails,
    // a bindable one leaves no file behind.
    let missing = prefix.path("no/such/dir/a.sock");
    prefix.write(
        "conf/portico.conf",
        format!(
            "events {{}}\nhttp {{ server {{ listen unix:{}; }} }}\n",
            missing.display()
        ),
    );
    let (code, _, err) = common::run_cli(&prefix.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_ne!(code, 0);
    let expected = format!(
        "[emerg] bind() to unix:{} failed (2: No such file or directory)",
        missing.display()
    );
    assert!(err.contains(&expected), "{err}");
    let fine = prefix.path("a.sock");
    prefix.write(
        "conf/portico.conf",
        format!(
            "events {{}}\nhttp {{ server {{ listen unix:{}; }} }}\n",
            fine.display()
        ),
    );
    let (code, _, err) = common::run_cli(&prefix.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_eq!(code, 0, "{err}");
    assert!(!fine.exists(), "-t left its socket file"); // SO_REUSEPORT is refused on a unix socket: nginx fails, naming the call.
    prefix.write(
        "conf/portico.conf",
        format!(
            "events {{}}\nhttp {{ server {{ listen unix:{} reuseport; }} }}\n",
            fine.display()
        ),
    );
    let (code, _, err) = common::run_cli(&prefix.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_ne!(code, 0);
    let expected = format!(
        "[emerg] setsockopt(SO_REUSEPORT) unix:{} failed (95: Operation not supported)",
        fine.display()
    );
    assert!(err.contains(&expected), "{err}");
}

#[test]
fn t_leaves_the_socket_of_a_running_server_alone() {
    let s = start(1, "location / { return 204; }", "");
    let path = sock(&s, "app.sock");
    let (code, _, err) = common::run_cli(&s.prefix.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_eq!(code, 0, "{err}");
    assert!(path.exists());
    assert!(get(&path, "/").starts_with("HTTP/1.1 204"));
}

/// The pid in a pid file of the prefix, if it holds one.
fn pid_in(s: &Server, rel: &str) -> Option<i32> {
    s.prefix.read(rel).trim().parse().ok()
}

#[test]
fn binary_upgrade_hands_the_unix_socket_over_and_only_the_last_master_removes_it() {
    let mut s = start(1, "location / { return 200 \"pid=$pid\\n\"; }", "");
    let path = sock(&s, "app.sock");
    let ino = |p: &Path| std::fs::metadata(p).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    let before = ino(&path).expect("socket file");
    let old = s.master_pid();
    s.signal(libc::SIGUSR2);
    assert!(
        s.wait_for(10, || pid_in(&s, "logs/portico.pid")
            .is_some_and(|p| p != old)),
        "{}",
        s.error_log()
    );
    let new = pid_in(&s, "logs/portico.pid").unwrap_or(0);
    // The new master kills its workers if the test fails half-way (it is not our child).
    struct Kill(i32);
    impl Drop for Kill {
        fn drop(&mut self) {
            // SAFETY: kill(2) of the master this test started through the old one.
            unsafe { libc::kill(self.0, libc::SIGTERM) };
        }
    }
    let _guard = Kill(new);
    // Stop the old workers and the old master: the new master serves on the same socket,
    // and the old master, whose new binary runs, leaves the file alone.
    s.signal(libc::SIGWINCH);
    std::thread::sleep(Duration::from_millis(300));
    s.signal(libc::SIGQUIT);
    let exited = s.child.as_mut().and_then(|c| c.wait().ok());
    assert!(exited.is_some_and(|e| e.success()), "{exited:?}");
    assert_eq!(
        ino(&path).ok(),
        Some(before),
        "the socket file was replaced"
    );
    assert!(
        s.wait_for(10, || body(&get(&path, "/")).starts_with("pid=")),
        "{}",
        s.error_log()
    );
    assert!(
        s.error_log().contains("using inherited sockets from \""),
        "{}",
        s.error_log()
    );
    // The new master, its parent gone, removes the file when it stops.
    // SAFETY: kill(2) of the master this test started through the old one.
    unsafe { libc::kill(new, libc::SIGTERM) };
    assert!(
        s.wait_for(10, || !path.exists()),
        "the last master left the socket file"
    );
    s.assert_clean_log();
}

#[test]
fn names_and_default_server_on_a_unix_socket() {
    let prefix = common::Prefix::new();
    let port = free_port();
    let path = prefix.path("app.sock");
    let conf = format!(
        "{}http {{\n\
         server {{ listen unix:{p}; server_name first; return 200 \"first\\n\"; }}\n\
         server {{ listen unix:{p} default_server; server_name second; return 200 \"second\\n\"; }}\n\
         server {{ listen 127.0.0.1:{port}; server_name first second; return 200 \"tcp\\n\"; }}\n}}\n",
        main_preamble(1),
        p = path.display(),
    );
    prefix.write("conf/portico.conf", conf);
    let s = Server::spawn(prefix, port);
    let named = |host: &str| {
        let r = exchange(
            &path,
            format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        body(&r).to_string()
    };
    assert_eq!(named("first"), "first\n");
    assert_eq!(named("second"), "second\n");
    assert_eq!(named("other"), "second\n");
    assert_eq!(s.get("/").text(), "tcp\n");
}

#[test]
fn explain_takes_a_unix_listen() {
    let prefix = common::Prefix::new();
    prefix.write(
        "conf/portico.conf",
        "events {}\nhttp {\n\
         server { listen unix:/tmp/portico-explain.sock; return 200 \"u $remote_addr $server_addr\"; }\n\
         server { listen 127.0.0.1:8089; return 200 \"t\"; }\n}\n",
    );
    let (code, out, err) = common::run_cli(
        &prefix.dir,
        &[
            "-c",
            "conf/portico.conf",
            "-t",
            "--explain",
            "GET http://x/",
            "--listen",
            "unix:/tmp/portico-explain.sock",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("client    unix:\n"), "{out}");
    assert!(
        out.contains("listen    unix:/tmp/portico-explain.sock (--listen): 1 server"),
        "{out}"
    );
    assert!(
        out.contains("return  200 \"u unix: unix:/tmp/portico-explain.sock\""),
        "{out}"
    );
}
