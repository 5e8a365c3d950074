//! `proxy_request_buffering` (on by default, as in nginx), `client_body_buffer_size` and
//! `client_body_temp_path`: a buffered body is read whole before an upstream is chosen,
//! spilled to a temporary file past the buffer size (nginx's warn line), and sent with its
//! length even when the client sent it chunked; with `off` it streams as it arrives.

mod common;
#[path = "support/upstream.rs"]
mod upstream;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::{Server, read_response};
use upstream::Upstream;

const BIG: usize = 3_000_000;

fn start(servers: &str, location: &str) -> Server {
    Server::start(&format!(
        "upstream backend {{ {servers} }}\n\
         server {{ listen 127.0.0.1:PORT; client_max_body_size 0;\n\
           location / {{ proxy_pass http://backend; {location} }}\n\
         }}"
    ))
}

fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

fn post_length(data: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST /s/200 HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        data.len()
    )
    .into_bytes();
    req.extend_from_slice(data);
    req
}

fn post_chunked(data: &[u8]) -> Vec<u8> {
    let mut req =
        b"POST /s/200 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for c in data.chunks(100_000) {
        req.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        req.extend_from_slice(c);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    req
}

#[test]
fn multi_megabyte_bodies_are_buffered_to_a_file_and_sent_with_their_length() {
    let up = Upstream::start();
    let server = start(&format!("server 127.0.0.1:{};", up.port), "");
    let data = body(BIG);
    for raw in [post_length(&data), post_chunked(&data)] {
        let r = server.request(&raw);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let seen = up.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert!(s.body == data, "body differs ({} bytes)", s.body.len());
        assert_eq!(s.header("content-length"), Some("3000000"));
        assert_eq!(s.header("transfer-encoding"), None);
    }
    let log = server.error_log();
    let temp = server.prefix.path("client_body_temp");
    let line = format!(
        "a client request body is buffered to a temporary file {}/",
        temp.display()
    );
    assert_eq!(log.matches(&line).count(), 2, "{log}");
    assert!(log.contains("[warn]"), "{log}");
    // Created at startup; the files are gone.
    assert!(temp.is_dir());
    assert_eq!(std::fs::read_dir(&temp).map(|d| d.count()).unwrap_or(99), 0);
    server.assert_clean_log();
}

#[test]
fn a_body_within_client_body_buffer_size_stays_in_memory() {
    let up = Upstream::start();
    let server = start(
        &format!("server 127.0.0.1:{};", up.port),
        "client_body_buffer_size 64k;",
    );
    let data = body(60_000);
    let r = server.request(&post_chunked(&data));
    assert_eq!(r.status, 200);
    let seen = up.seen();
    assert!(seen[0].body == data);
    assert_eq!(seen[0].header("content-length"), Some("60000"));
    assert!(!server.error_log().contains("buffered to a temporary file"));
}

#[test]
fn a_chunked_body_goes_to_an_http10_upstream_with_its_length() {
    let up = Upstream::start();
    let server = start(
        &format!("server 127.0.0.1:{};", up.port),
        "proxy_http_version 1.0;",
    );
    let r = server.request(&post_chunked(b"hello"));
    assert_eq!(r.status, 200);
    let seen = up.seen();
    assert_eq!(seen[0].line, "POST /s/200 HTTP/1.0");
    assert_eq!(seen[0].body, b"hello");
    assert_eq!(seen[0].header("content-length"), Some("5"));
    server.assert_clean_log();
}

#[test]
fn a_chunked_body_past_client_max_body_size_is_413() {
    let up = Upstream::start();
    let server = start(
        &format!("server 127.0.0.1:{};", up.port),
        "client_max_body_size 100k;",
    );
    let r = server.request(&post_chunked(&body(300_000)));
    assert_eq!(r.status, 413);
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(up.connections(), 0);
    let log = server.error_log();
    assert!(
        log.contains("client intended to send too large chunked body: "),
        "{log}"
    );
}

#[test]
fn a_body_that_stops_coming_is_408_without_an_answer() {
    let up = Upstream::start();
    let server = Server::start(&format!(
        "upstream backend {{ server 127.0.0.1:{}; }}\n\
         server {{ listen 127.0.0.1:PORT;\n\
           location / {{ proxy_pass http://backend; client_body_timeout 1s; }}\n\
         }}",
        up.port
    ));
    let mut s = server.connect();
    s.write_all(b"POST /s/200 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nabc")
        .expect("write");
    let started = std::time::Instant::now();
    let got = common::read_to_end(&mut s);
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(up.connections(), 0);
    assert!(server.wait_for(5, || server.access_log().contains("\" 408 0 ")));
    server.assert_clean_log();
}

#[test]
fn a_slow_client_occupies_no_upstream_connection_while_its_body_is_buffered() {
    let up = Upstream::start();
    let server = start(&format!("server 127.0.0.1:{};", up.port), "");
    let data = body(200_000);
    let raw = post_length(&data);
    let mut s = server.connect();
    s.write_all(&raw[..100_000]).expect("write");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        up.connections(),
        0,
        "an upstream connection before the body was read"
    );
    s.write_all(&raw[100_000..]).expect("write");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!(r.status, 200);
    assert_eq!(up.connections(), 1);
    assert!(up.seen()[0].body == data);
}

#[test]
fn with_buffering_off_the_body_streams_and_stays_chunked() {
    let up = Upstream::start();
    let server = start(
        &format!("server 127.0.0.1:{};", up.port),
        "proxy_request_buffering off;",
    );
    let data = body(BIG);
    let r = server.request(&post_chunked(&data));
    assert_eq!(r.status, 200);
    let seen = up.seen();
    assert!(seen[0].body == data);
    assert_eq!(seen[0].header("transfer-encoding"), Some("chunked"));
    // A slow client: the upstream is connected while the body is still coming.
    let raw = post_length(&data);
    let mut s = server.connect();
    s.write_all(&raw[..100_000]).expect("write");
    assert!(
        server.wait_for(5, || up.connections() == 2
            || up.open() >= 1 && up.connections() >= 1),
        "no upstream connection while streaming"
    );
    s.write_all(&raw[100_000..]).expect("write");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!(r.status, 200);
    assert!(up.seen().last().is_some_and(|x| x.body == data));
    assert!(!server.error_log().contains("buffered to a temporary file"));
}

#[test]
fn the_next_upstream_gets_the_whole_buffered_body_again() {
    // A server that reads a little of the request, then closes.
    let dropper = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dropper_port = dropper.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in dropper.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
        }
    });
    let up = Upstream::start();
    let server = start(
        &format!(
            "server 127.0.0.1:{dropper_port}; server 127.0.0.1:{};",
            up.port
        ),
        "proxy_next_upstream error timeout non_idempotent;",
    );
    let data = body(BIG);
    let r = server.request(&post_length(&data));
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].body == data,
        "body differs ({} bytes)",
        seen[0].body.len()
    );
}

#[test]
fn a_streamed_body_that_arrives_whole_in_the_first_read_is_request_body() {
    // nginx reads what the socket holds before it streams: a body completed by that read
    // (one client_body_buffer_size) is a buffered one, so `$request_body` has it.
    let up = Upstream::start();
    let server = start(
        &format!("server 127.0.0.1:{};", up.port),
        "proxy_request_buffering off; client_body_buffer_size 2k;
         add_header X-Body $request_body;",
    );
    let data = body(1280);
    // The head buffer (1k by default) holds the head and part of the body.
    let r = server.request(&post_length(&data));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-body").map(str::as_bytes), Some(&data[..]));
    assert!(up.seen().last().is_some_and(|s| s.body == data));
}

#[test]
fn each_read_of_a_streamed_chunked_body_goes_up_as_one_chunk() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = start(
        &format!("server 127.0.0.1:{port};"),
        "proxy_request_buffering off; proxy_http_version 1.1;",
    );
    let mut client = server.connect();
    client
        .write_all(
            b"POST /s HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\n01234\r\n4\r\nmany\r\n",
        )
        .expect("write");
    let (mut up, _) = listener.accept().expect("accept");
    up.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    // Reads until `want` ends what the upstream got (bounded by the read timeout).
    let mut got = Vec::new();
    let mut read_until = |up: &mut std::net::TcpStream, want: &[u8]| {
        let mut buf = [0u8; 4096];
        while !got.ends_with(want) {
            match up.read(&mut buf) {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        let text = String::from_utf8_lossy(&got).into_owned();
        got.clear();
        text
    };
    let head = read_until(&mut up, b"9\r\n01234many\r\n");
    assert!(
        head.ends_with("\r\n\r\n9\r\n01234many\r\n"),
        "the preread chunks were not joined: {head:?}"
    );
    client
        .write_all(b"5\r\n56789\r\n4\r\nmany\r\n0\r\n\r\n")
        .expect("write");
    let rest = read_until(&mut up, b"0\r\n\r\n");
    assert_eq!(rest, "9\r\n56789many\r\n0\r\n\r\n");
    up.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        .expect("answer");
    let r = read_response(&mut client, false).expect("response");
    assert_eq!((r.status, &r.body[..]), (200, &b"ok"[..]));
}
