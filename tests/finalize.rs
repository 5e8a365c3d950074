//! Every response goes through the same finalize path, whatever its source: `add_header`
//! and `expires` on proxied responses, `error_page` for a failed upstream, a response sent
//! at once whatever follows its request, `100 Continue` when a proxied body is read, the
//! upstream request's `Content-Length: 0`, and response temporary files. Each was checked
//! against nginx 1.22 (issue 11) and fails on the code before the one-writer connection.

mod common;
#[path = "support/upstream.rs"]
mod upstream;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Server, find, read_response};
use upstream::Upstream;

/// An upstream whose connections are handled by `handler` (the connection's number given).
struct RawUpstream {
    port: u16,
}

impl RawUpstream {
    fn start(handler: impl Fn(TcpStream, usize) + Send + Sync + 'static) -> RawUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let handler = Arc::new(handler);
        std::thread::spawn(move || {
            for (i, s) in listener.incoming().flatten().enumerate() {
                let h = handler.clone();
                std::thread::spawn(move || h(s, i));
            }
        });
        RawUpstream { port }
    }
}

/// Reads one request head from an upstream-side socket (None at EOF).
fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => buf.push(b[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}

#[test]
fn add_header_and_expires_apply_to_proxied_responses() {
    // The upstream sends its own Cache-Control and Expires, which `expires` replaces.
    let up = RawUpstream::start(|mut s, _| {
        while let Some(head) = read_head(&mut s) {
            let status = if head.contains("/missing") {
                "404 Not Found"
            } else {
                "200 OK"
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Length: 3\r\nCache-Control: private\r\n\
                 Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\nX-App: 1\r\n\r\nabc"
            );
            if s.write_all(answer.as_bytes()).is_err() {
                return;
            }
        }
    });
    let server = Server::start(&format!(
        "upstream app {{ server 127.0.0.1:{}; }}\n\
         server {{ listen 127.0.0.1:PORT;\n\
           location / {{ proxy_pass http://app;\n\
             add_header Strict-Transport-Security \"max-age=31536000\";\n\
             add_header X-Always yes always;\n\
             expires 1h; }} }}",
        up.port
    ));
    let mut s = server.connect();
    s.write_all(&get("/page")).expect("write");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!((r.status, r.text().as_str()), (200, "abc"));
    assert_eq!(
        r.header("Strict-Transport-Security"),
        Some("max-age=31536000")
    );
    assert_eq!(r.header("X-Always"), Some("yes"));
    assert_eq!(r.header("X-App"), Some("1"));
    assert_eq!(r.header("Cache-Control"), Some("max-age=3600"));
    let caches = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cache-control"))
        .count();
    assert_eq!(caches, 1, "the upstream's Cache-Control was replaced");
    assert_ne!(r.header("Expires"), Some("Thu, 01 Jan 1970 00:00:01 GMT"));
    // A 404 is not in add_header's list: only `always` headers, and no `expires`.
    s.write_all(&get("/missing")).expect("write");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("Strict-Transport-Security"), None);
    assert_eq!(r.header("X-Always"), Some("yes"));
    assert_eq!(r.header("Cache-Control"), Some("private"));
    server.assert_clean_log();
}

#[test]
fn error_page_answers_an_upstream_that_is_down_or_slow() {
    let slow = RawUpstream::start(|mut s, _| {
        let _ = read_head(&mut s);
        std::thread::sleep(Duration::from_secs(3));
    });
    let server = Server::start_with(
        1,
        &format!(
            "log_format up '$status $upstream_status';\n\
             access_log logs/access.log up;\n\
             server {{ listen 127.0.0.1:PORT; root html;\n\
               location /down/ {{ proxy_pass http://127.0.0.1:{down}; error_page 502 /50x.html; }}\n\
               location /slow/ {{ proxy_pass http://127.0.0.1:{slow}; proxy_read_timeout 1s;\n\
                 error_page 504 /50x.html; }}\n\
               location /named/ {{ proxy_pass http://127.0.0.1:{down}; error_page 502 = @fallback; }}\n\
               location @fallback {{ add_header X-Fallback $upstream_status; return 200 \"fallback\\n\"; }}\n\
               location = /50x.html {{ }}\n\
             }}",
            down = closed_port(),
            slow = slow.port
        ),
        |p| p.write("html/50x.html", "sorry\n"),
    );
    let mut s = server.connect();
    s.write_all(&get("/down/x")).expect("write");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!((r.status, r.text().as_str()), (502, "sorry\n"));
    assert_eq!(r.header("Connection"), Some("keep-alive"));
    s.write_all(&get("/slow/x")).expect("write");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!((r.status, r.text().as_str()), (504, "sorry\n"));
    s.write_all(&get("/named/x")).expect("write");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!((r.status, r.text().as_str()), (200, "fallback\n"));
    assert_eq!(r.header("X-Fallback"), Some("502"));
    assert!(server.wait_for(5, || server.access_log().lines().count() >= 3));
    let log = server.access_log();
    assert!(
        log.contains("502 502\n") && log.contains("504 504\n"),
        "{log}"
    );
    assert!(
        server
            .error_log()
            .contains("connect() failed (111: Connection refused)")
    );
    server.assert_clean_log();
}

/// Reads one response within `limit`, or panics naming what was held back.
fn response_within(s: &mut TcpStream, limit: Duration, what: &str) -> common::Response {
    s.set_read_timeout(Some(limit)).expect("timeout");
    let started = Instant::now();
    let r = read_response(s, false).unwrap_or_else(|| panic!("{what}: no response"));
    assert!(started.elapsed() < limit, "{what}: held back");
    r
}

#[test]
fn a_response_goes_out_whatever_follows_its_request() {
    let server = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT; root html; client_header_timeout 10s;\n\
           location = /r { return 200 \"r\\n\"; }\n\
           location = /nope { return 404; } }",
        |p| p.write("html/small.html", "small\n"),
    );
    let limit = Duration::from_secs(2);
    // A stray CRLF after the request.
    let mut s = server.connect();
    s.write_all(b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n\r\n")
        .expect("write");
    let r = response_within(&mut s, limit, "return + CRLF");
    assert_eq!(r.text(), "r\n");
    // The start of a pipelined request: the first answer goes at once, the second when it
    // is complete (nginx skips the empty line before it).
    for (first, what) in [
        ("/r", "return"),
        ("/nope", "error page"),
        ("/small.html", "small file"),
    ] {
        let mut s = server.connect();
        let raw = format!("GET {first} HTTP/1.1\r\nHost: x\r\n\r\nGET /r HT");
        s.write_all(raw.as_bytes()).expect("write");
        let r = response_within(&mut s, limit, what);
        assert!(matches!(r.status, 200 | 404), "{what}: {}", r.status);
        s.write_all(b"TP/1.1\r\nHost: x\r\n\r\n").expect("write");
        let r = response_within(&mut s, limit, "the pipelined request");
        assert_eq!(r.text(), "r\n");
    }
    // A 304 followed by the start of the next request.
    let mut s = server.connect();
    s.write_all(&get("/small.html")).expect("write");
    let r = response_within(&mut s, limit, "small file");
    let etag = r.header("ETag").expect("etag").to_string();
    let raw = format!("GET /small.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\nG");
    s.write_all(raw.as_bytes()).expect("write");
    let r = response_within(&mut s, limit, "304");
    assert_eq!(r.status, 304);
    server.assert_clean_log();
}

#[test]
fn a_buffered_proxied_upload_gets_100_continue() {
    let up = Upstream::start();
    let server = Server::start(&format!(
        "upstream app {{ server 127.0.0.1:{}; }}\n\
         server {{ listen 127.0.0.1:PORT; location / {{ proxy_pass http://app; }} }}",
        up.port
    ));
    let mut s = server.connect();
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    s.write_all(
        b"POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    )
    .expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while find(&got, b"\r\n\r\n").is_none() {
        match s.read(&mut buf) {
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => panic!(
                "no 100 Continue before the body: {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    assert_eq!(got, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"hello").expect("write");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("body=5"), "{}", r.text());
    // HTTP/1.0 gets no 100 (the response comes first).
    let mut s = server.connect();
    s.write_all(b"POST /up HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi")
        .expect("write");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!(r.status, 200);
    server.assert_clean_log();
}

#[test]
fn an_empty_body_goes_upstream_with_content_length_0() {
    let up = Upstream::start();
    let server = Server::start(&format!(
        "upstream app {{ server 127.0.0.1:{}; }}\n\
         server {{ listen 127.0.0.1:PORT; location / {{ proxy_pass http://app; }} }}",
        up.port
    ));
    // As ngx_http_proxy_create_request: the client's Content-Length goes up, 0 included.
    let r = server.request(b"POST /empty HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(r.status, 200);
    let r = server.request(&get("/nobody"));
    assert_eq!(r.status, 200);
    let seen = up.seen();
    let empty = seen
        .iter()
        .find(|x| x.line.contains("/empty"))
        .expect("seen");
    assert_eq!(empty.header("content-length"), Some("0"));
    let nobody = seen
        .iter()
        .find(|x| x.line.contains("/nobody"))
        .expect("seen");
    assert_eq!(nobody.header("content-length"), None);
    server.assert_clean_log();
}

/// An upstream that answers `size` bytes as fast as it can, counting what it wrote.
fn fast_upstream(size: usize, written: Arc<AtomicUsize>) -> RawUpstream {
    RawUpstream::start(move |mut s, _| {
        if read_head(&mut s).is_none() {
            return;
        }
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n");
        if s.write_all(head.as_bytes()).is_err() {
            return;
        }
        let block: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len());
            if s.write_all(&block[..n]).is_err() {
                return;
            }
            left -= n;
            written.fetch_add(n, Ordering::SeqCst);
        }
    })
}

#[test]
fn a_slow_client_s_response_spills_to_a_temporary_file_up_to_its_limit() {
    const SIZE: usize = 40 * 1024 * 1024;
    // Past a 2 MB file, what the upstream still gets written is what the kernel buffers
    // hold: its send buffer and Portico's receive buffer, which autotunes up to
    // net.ipv4.tcp_rmem's maximum (32 MB on the development machine). So the limited
    // response is bigger than that, and the test waits until the upstream stalls.
    const LIMITED_SIZE: usize = 96 * 1024 * 1024;
    let written = Arc::new(AtomicUsize::new(0));
    let up = fast_upstream(SIZE, written.clone());
    let limited = Arc::new(AtomicUsize::new(0));
    let up_limited = fast_upstream(LIMITED_SIZE, limited.clone());
    let server = Server::start(&format!(
        "server {{ listen 127.0.0.1:PORT;\n\
           location /all/ {{ proxy_pass http://127.0.0.1:{}; }}\n\
           location /limited/ {{ proxy_pass http://127.0.0.1:{}; proxy_max_temp_file_size 2m; }} }}",
        up.port, up_limited.port
    ));
    // A client that reads nothing for a while: the whole response goes to the temporary
    // file (nginx's default limit is 1024m), so the upstream is done with it.
    let mut s = server.connect();
    s.write_all(&get("/all/")).expect("write");
    assert!(
        server.wait_for(10, || written.load(Ordering::SeqCst) == SIZE),
        "the upstream was not read ahead: {} bytes",
        written.load(Ordering::SeqCst)
    );
    // With a 2m limit, reading stops once the file holds 2 MB (back-pressure): the
    // upstream stalls with what the kernel buffers hold beyond that.
    let mut t = server.connect();
    t.write_all(&get("/limited/")).expect("write");
    let mut last = usize::MAX;
    let stalled = server.wait_for(10, || {
        std::thread::sleep(Duration::from_millis(300));
        let now = limited.load(Ordering::SeqCst);
        let before = std::mem::replace(&mut last, now);
        now > 2 * 1024 * 1024 && before == now
    });
    let stalled_at = limited.load(Ordering::SeqCst);
    assert!(
        stalled && stalled_at < LIMITED_SIZE / 2,
        "read past the temporary file's limit: {stalled_at} bytes"
    );
    for (c, size) in [(&mut s, SIZE), (&mut t, LIMITED_SIZE)] {
        c.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let r = read_response(c, false).expect("response");
        assert_eq!(r.body.len(), size);
        assert!(
            r.body
                .iter()
                .enumerate()
                .all(|(i, &b)| b == ((i % (64 * 1024)) % 251) as u8)
        );
    }
    let log = server.error_log();
    assert!(
        log.contains("an upstream response is buffered to a temporary file"),
        "{log}"
    );
    server.assert_clean_log();
}
