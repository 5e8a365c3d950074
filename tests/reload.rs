//! What a reload does to the connections of the old workers: a long download finishes on the
//! old worker; an idle keep-alive connection is not slammed shut but answered once more with
//! `Connection: close`; `worker_shutdown_timeout` bounds how long an old worker may linger.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const BIG_FILE_BYTES: usize = 16 << 20;

fn big_file() -> Vec<u8> {
    (0..BIG_FILE_BYTES).map(|i| (i % 251) as u8).collect()
}

/// A server with one worker, `main` added to the main context, serving `html/big.bin`.
fn start(main: &str) -> Server {
    let prefix = Prefix::new();
    let port = free_port();
    prefix.write(
        "conf/portico.conf",
        format!(
            "{}{main}\nhttp {{\n    access_log logs/access.log;\n    server {{\n        listen 127.0.0.1:{port};\n        root html;\n    }}\n}}\n",
            main_preamble(1)
        ),
    );
    prefix.write("html/big.bin", big_file());
    prefix.write("html/index.html", "hello\n");
    Server::spawn(prefix, port)
}

/// Sends a GET for the big file and reads its head; returns the connection, the
/// Content-Length and the body bytes read with the head.
fn begin_download(s: &Server) -> (TcpStream, usize, Vec<u8>) {
    let mut c = s.connect();
    let (length, body) =
        common::begin_download(&mut c, b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(length, BIG_FILE_BYTES);
    (c, length, body)
}

/// HUPs the master and waits until the new worker runs next to the old one.
fn reload(s: &Server, old: i32) -> i32 {
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for(10, || s.worker_pids().iter().any(|&p| p != old)),
        "no new worker after HUP"
    );
    let new = s.worker_pids().into_iter().find(|&p| p != old).unwrap_or(0);
    // The new worker serves while the old one is still busy.
    assert_eq!(s.get("/index.html").status, 200);
    new
}

#[test]
fn slow_download_survives_a_reload_and_finishes_on_the_old_worker() {
    let s = start("");
    let old = s.worker_pids()[0];
    let (mut c, length, mut body) = begin_download(&s);
    reload(&s, old);
    let mut tmp = [0u8; 65536];
    let mut old_alive_midway = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while body.len() < length && Instant::now() < deadline {
        match c.read(&mut tmp) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&tmp[..n]),
        }
        if body.len() < length / 2 {
            std::thread::sleep(Duration::from_millis(1));
            old_alive_midway = alive(old);
        }
    }
    assert!(old_alive_midway, "the old worker was gone half-way");
    assert_eq!(body.len(), length, "download cut short by the reload");
    assert!(body == big_file(), "body differs");
    // The response said keep-alive before the reload: the connection is now idle on the old
    // worker, which keeps it (a request may be on its way) until the client closes it.
    drop(c);
    assert!(
        s.wait_for(5, || !alive(old)),
        "old worker lingers after its last connection closed"
    );
    s.assert_clean_log();
}

#[test]
fn idle_keepalive_connection_is_answered_once_more_with_connection_close() {
    let s = start("");
    let old = s.worker_pids()[0];
    let mut c = s.connect();
    c.write_all(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    let r = read_response(&mut c, false).expect("first response");
    assert_eq!(r.header("Connection"), Some("keep-alive"));
    reload(&s, old);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        alive(old),
        "the old worker closed an idle keep-alive connection at once (nginx's race)"
    );
    c.write_all(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write on the idle connection");
    let r = read_response(&mut c, false).expect("the request on the idle connection was lost");
    assert_eq!((r.status, r.text().as_str()), (200, "hello\n"));
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(read_to_end(&mut c).is_empty(), "connection not closed");
    assert!(s.wait_for(5, || !alive(old)), "old worker lingers");
    s.assert_clean_log();
}

#[test]
fn worker_shutdown_timeout_bounds_a_slow_download() {
    let s = start("worker_shutdown_timeout 1s;");
    let old = s.worker_pids()[0];
    let (mut c, length, body) = begin_download(&s);
    let hup = Instant::now();
    reload(&s, old);
    // The client reads nothing: the old worker must give up after worker_shutdown_timeout.
    assert!(
        s.wait_for(5, || !alive(old)),
        "old worker still alive 5s after HUP with worker_shutdown_timeout 1s"
    );
    let took = hup.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "old worker left after {took:?}, before worker_shutdown_timeout"
    );
    let rest = read_to_end(&mut c);
    assert!(body.len() + rest.len() < length, "the download was not cut");
    // The request cut short is still logged, with what was sent of it.
    assert!(
        s.wait_for(2, || s
            .prefix
            .read("logs/access.log")
            .contains("\"GET /big.bin HTTP/1.1\" 200 ")),
        "{}",
        s.prefix.read("logs/access.log")
    );
    s.assert_clean_log();
}

#[test]
fn without_worker_shutdown_timeout_a_stalled_download_keeps_the_old_worker() {
    // nginx's default: no worker_shutdown_timeout, an old worker waits for its connections
    // (here, until send_timeout would close the stalled one).
    let s = start("");
    let old = s.worker_pids()[0];
    let (_c, _length, _body) = begin_download(&s);
    reload(&s, old);
    std::thread::sleep(Duration::from_secs(2));
    assert!(alive(old), "old worker exited with a response in flight");
    s.assert_clean_log();
}

#[test]
fn an_idle_keepalive_connection_keeps_the_old_worker_until_keepalive_timeout() {
    let prefix = Prefix::new();
    let port = free_port();
    prefix.write(
        "conf/portico.conf",
        format!(
            "{}http {{\n    keepalive_timeout 2s;\n    server {{\n        listen 127.0.0.1:{port};\n        root html;\n    }}\n}}\n",
            main_preamble(1)
        ),
    );
    prefix.write("html/index.html", "hello\n");
    let s = Server::spawn(prefix, port);
    let old = s.worker_pids()[0];
    let mut c = s.connect();
    c.write_all(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    assert_eq!(read_response(&mut c, false).map(|r| r.status), Some(200));
    let idle_since = Instant::now();
    reload(&s, old);
    assert!(
        s.wait_for(5, || !alive(old)),
        "old worker outlived keepalive_timeout"
    );
    let lived = idle_since.elapsed();
    assert!(
        lived >= Duration::from_millis(1800),
        "the old worker closed the idle connection after {lived:?}, before keepalive_timeout"
    );
    // The client sees a plain close, as at any keep-alive timeout.
    assert!(read_to_end(&mut c).is_empty());
    s.assert_clean_log();
}
