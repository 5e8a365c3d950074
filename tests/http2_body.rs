//! HTTP/2 request bodies as nginx 1.25 treats them (h2_request_body.t,
//! h2_proxy_request_buffering.t, h2_fastcgi_request_buffering.t, h2_limit_conn.t), driven
//! by raw frames (`tests/support/h2_body.py`, on Python's `hpack`) against a running
//! worker: a body whose length is not its `content-length` is answered 400 on its stream
//! (the upstream request cut when the body streams to it), a body ends with its stream, a
//! body read whole opens its window wide, and `limit_conn` holds a stream's slot until the
//! stream closes.

mod common;

use std::process::{Command, Stdio};

use common::{Prefix, Server};

/// A cleartext HTTP/2 server; `up` is the port the script's upstream listens on.
fn server() -> (Server, u16) {
    let up = common::free_port();
    let block = format!(
        "limit_conn_zone $binary_remote_addr zone=c:1m;\n\
         server {{ listen 127.0.0.1:PORT http2;\n\
           location /store {{ proxy_pass http://127.0.0.1:{up}; }}\n\
           location /stream {{ proxy_request_buffering off; proxy_pass http://127.0.0.1:{up}; }}\n\
           location /ok {{ return 200 ok; }}\n\
           location /lc {{ limit_conn c 1; alias html/t.txt; }}\n\
         }}"
    );
    let server = Server::start_with(1, &block, |p: &Prefix| {
        p.write("html/t.txt", "SEE-THIS");
    });
    (server, up)
}

fn body(port: u16, up: u16, mode: &str) -> String {
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/h2_body.py"
        ))
        .args([&port.to_string(), &up.to_string(), mode])
        .stderr(Stdio::inherit())
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A stored body shorter or longer than its `content-length`, or ended by trailers before
/// its length, is answered 400 on its stream with nginx's log lines; the connection serves
/// the next stream.
#[test]
fn a_body_of_the_wrong_length_is_answered_400() {
    let (server, up) = server();
    assert_eq!(body(server.port, up, "buffered"), "400 400 400 200 ok");
    let log = server.error_log();
    assert!(
        log.contains(
            "client prematurely closed stream: only 4 out of 5 bytes of request body received"
        ),
        "{log}"
    );
    assert!(
        log.contains("client intended to send body data larger than declared"),
        "{log}"
    );
    assert!(
        log.contains(
            "client prematurely closed stream: only 3 out of 5 bytes of request body received"
        ),
        "{log}"
    );
}

/// `proxy_request_buffering off`: the bytes up to the declared length go to the upstream;
/// the frame that goes past it is not sent on, the upstream request is cut, and the stream
/// gets 400 (h2_proxy_request_buffering.t "much").
#[test]
fn a_streamed_body_past_its_length_cuts_the_upstream_request() {
    let (server, up) = server();
    assert_eq!(body(server.port, up, "more"), "0123456789 - cut 400");
}

/// ... and one that ends short of it (h2_proxy_request_buffering.t "less").
#[test]
fn a_streamed_body_short_of_its_length_cuts_the_upstream_request() {
    let (server, up) = server();
    assert_eq!(body(server.port, up, "less"), "0123 - cut 400");
}

/// A streamed body of the right length whose END_STREAM comes in a frame of its own is a
/// whole request.
#[test]
fn a_streamed_body_of_the_right_length_is_answered() {
    let (server, up) = server();
    assert_eq!(
        body(server.port, up, "exact"),
        "0123456789 - answered 200 ok"
    );
}

/// A body the request stores whole gets its stream window opened to the maximum before
/// any byte came, as nginx's `no_flow_control` (h2_request_body.t #11), and 320 KB go
/// without further WINDOW_UPDATEs for the stream.
#[test]
fn a_stored_body_opens_its_window_wide() {
    let (server, up) = server();
    assert_eq!(body(server.port, up, "window"), "wide 327680 200 ok");
}

/// `limit_conn 1`: a second stream is refused 503 while the first one's response waits
/// for window, and served once the first stream closed (h2_limit_conn.t).
#[test]
fn limit_conn_holds_a_stream_slot_until_the_stream_closes() {
    let (server, up) = server();
    assert_eq!(body(server.port, up, "limit_conn"), "200 503 200 SEE-THIS");
}
