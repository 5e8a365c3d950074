//! Slow and stalling clients, as nginx 1.22 treats them (each case checked against it):
//! a request body nobody reads that stalls, a client that never reads its response
//! (`send_timeout`), and a client still sending after an error response (`lingering_close`,
//! `lingering_time`, `lingering_timeout`).

mod common;

use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const BIG_FILE_BYTES: usize = 16 << 20;

fn start(settings: &str) -> Server {
    Server::start_with(
        1,
        &format!(
            "access_log logs/access.log;\n{settings}\n\
             server {{\n    listen 127.0.0.1:PORT;\n    root html;\n}}\n"
        ),
        |p| {
            p.write("html/index.html", "hello\n");
            p.write("html/big.bin", vec![b'x'; BIG_FILE_BYTES]);
        },
    )
}

/// Reads until EOF or an error; returns the bytes and how long it took.
fn read_until_closed(c: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let t0 = Instant::now();
    c.set_read_timeout(Some(limit)).expect("timeout");
    let mut out = Vec::new();
    let mut tmp = [0u8; 65536];
    loop {
        match c.read(&mut tmp) {
            Ok(0) | Err(_) => return (out, t0.elapsed()),
            Ok(n) => out.extend_from_slice(&tmp[..n]),
        }
    }
}

/// Whether the server has fully closed its end: a write then draws a reset, which the next
/// write reports.
fn server_closed(c: &mut TcpStream) -> bool {
    if c.write_all(&[b'z'; 16]).is_err() {
        return true;
    }
    std::thread::sleep(Duration::from_millis(100));
    c.write_all(&[b'z'; 16]).is_err()
}

#[test]
fn a_stalled_body_nobody_reads_is_dropped_after_lingering_timeout() {
    // nginx discards the body of a static request; once the response is out, a stalled body
    // waits lingering_timeout (not client_body_timeout), then the connection is closed
    // without an error line, and the request is logged with its status.
    let s = start("client_body_timeout 20s;\nlingering_timeout 1s;\nlingering_time 30s;");
    let mut c = s.connect();
    c.write_all(
        b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789",
    )
    .expect("write");
    let (got, took) = read_until_closed(&mut c, Duration::from_secs(15));
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nhello\n"), "{text}");
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(5),
        "closed after {took:?}, expected lingering_timeout (1s)"
    );
    assert!(
        s.wait_for(2, || s
            .access_log()
            .contains("\"GET /index.html HTTP/1.1\" 200 6 ")),
        "{}",
        s.access_log()
    );
    assert!(
        !s.error_log().contains("client timed out"),
        "nginx logs nothing here:\n{}",
        s.error_log()
    );
    s.assert_clean_log();
}

#[test]
fn a_client_that_never_reads_is_closed_after_send_timeout() {
    let s = start("send_timeout 1s;");
    let mut c = s.connect();
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    let line = "client timed out (110: Connection timed out) while sending response to client, \
                client: 127.0.0.1, server: , request: \"GET /big.bin HTTP/1.1\", host: \"localhost\"";
    assert!(
        s.wait_for(5, || s.error_log().contains(line)),
        "no send_timeout line:\n{}",
        s.error_log()
    );
    let log_line = s.error_log();
    let log_line = log_line.lines().find(|l| l.contains(line)).unwrap_or("");
    assert!(log_line.contains("[info]"), "{log_line}");
    // What the kernel had queued still arrives, then the end: the response is cut short.
    let (got, _) = read_until_closed(&mut c, Duration::from_secs(10));
    assert!(got.len() < BIG_FILE_BYTES, "the whole file arrived");
    assert!(
        s.wait_for(2, || s
            .access_log()
            .contains("\"GET /big.bin HTTP/1.1\" 200 ")),
        "{}",
        s.access_log()
    );
    // The worker lives and serves.
    assert_eq!(s.get("/index.html").status, 200);
    s.assert_clean_log();
}

/// Sends a request whose body is too large (413), reads the response, and returns the
/// connection with the client still holding most of its body.
fn too_large_body(s: &Server) -> TcpStream {
    let mut c = s.connect();
    c.write_all(
        b"POST /index.html HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000000\r\n\r\n",
    )
    .expect("write head");
    c.write_all(&[b'a'; 4096]).expect("write body");
    let r = read_response(&mut c, false).expect("413 response");
    assert_eq!(r.status, 413);
    assert_eq!(r.header("Connection"), Some("close"));
    c
}

#[test]
fn lingering_close_reads_what_the_client_still_sends_then_closes() {
    let s = start(
        "client_max_body_size 1k;\nlingering_close on;\nlingering_timeout 1s;\nlingering_time 30s;",
    );
    let mut c = too_large_body(&s);
    // A client still sending its body is read, not reset, while it keeps sending.
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(200));
        c.write_all(&[b'b'; 1024])
            .expect("the server reset a client that was still sending");
    }
    // Once it stops for lingering_timeout, the connection is closed.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(server_closed(&mut c), "still open past lingering_timeout");
    s.assert_clean_log();
}

#[test]
fn lingering_time_bounds_a_client_that_never_stops_sending() {
    let s = start("client_max_body_size 1k;\nlingering_timeout 1s;\nlingering_time 2s;");
    let mut c = too_large_body(&s);
    let t0 = Instant::now();
    let mut failed_after = None;
    while t0.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(100));
        if c.write_all(&[b'b'; 1024]).is_err() {
            failed_after = Some(t0.elapsed());
            break;
        }
    }
    let took = failed_after.expect("the connection outlived lingering_time");
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(5),
        "closed after {took:?}, lingering_time is 2s"
    );
    s.assert_clean_log();
}

#[test]
fn lingering_close_off_closes_at_once() {
    let s = start("client_max_body_size 1k;\nlingering_close off;");
    let mut c = s.connect();
    c.write_all(
        b"POST /index.html HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000000\r\n\r\n",
    )
    .expect("write head");
    let _ = c.write_all(&[b'a'; 4096]);
    std::thread::sleep(Duration::from_millis(300));
    let closed = (0..10).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        c.write_all(&[b'b'; 1024])
            .is_err_and(|e| matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset))
    });
    assert!(closed, "lingering_close off must not wait for the client");
    s.assert_clean_log();
}
