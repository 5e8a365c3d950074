//! nginx's HTTP/2 conformance behaviours that nginx's own `h2*.t` files check, driven here
//! by raw frames (`tests/support/h2_conform.py`, on Python's `hpack`) and curl against a
//! running worker: malformed requests answered 400, response trailers, HPACK's edge cases
//! as nginx reads them, header-block timeouts, the preface, SETTINGS acknowledgement, and
//! per-server `http2 off` over TLS.

mod common;

use std::process::{Command, Stdio};

use common::{Prefix, Server};

/// A cleartext HTTP/2 server with the locations the checks use; `second` is an address
/// with `http2_body_preread_size 10`.
fn server() -> (Server, u16) {
    let second = common::free_port();
    let block = format!(
        "server {{ listen 127.0.0.1:PORT http2; client_header_timeout 1s;\n\
           location /v {{ return 200 \"[$http2] [$request]\"; }}\n\
           location /trailer {{ alias html/t.txt; add_trailer X-Var $host; }}\n\
           location /chunk {{ http2_chunk_size 1; return 200 body; }}\n\
           location /rl {{ return 200 $request_length; }}\n\
           location /long {{ add_header X-A $http_x_long; add_header X-B $http_x_long;\n\
             add_header X-C $http_x_long; add_header X-D $http_x_long;\n\
             add_header X-E $http_x_long; add_header X-F $http_x_long;\n\
             add_header X-G $http_x_long; add_header X-H $http_x_long;\n\
             add_header X-I $http_x_long; add_header X-J $http_x_long; return 200 ok; }}\n\
         }}\n\
         server {{ listen 127.0.0.1:{second} http2; http2_body_preread_size 10;\n\
           location / {{ return 200 ok; }} }}"
    );
    let server = Server::start_with(1, &block, |p: &Prefix| {
        p.write("html/t.txt", "SEE-THIS");
    });
    (server, second)
}

fn conform(port: u16, mode: &str) -> String {
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/h2_conform.py"
        ))
        .args([&port.to_string(), mode])
        .stderr(Stdio::inherit())
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A malformed request (uppercase or invalid name, connection-specific field, `:authority`
/// and `host` that differ, empty `:authority`, a pseudo-header after a regular one, no
/// `:scheme`, a control byte in `:path`, `te` other than `trailers`) is answered 400 on its
/// stream as nginx 1.24+ answers it, never becomes a request, and the connection serves the
/// next one.
#[test]
fn malformed_requests_are_answered_400() {
    let (server, _) = server();
    assert_eq!(
        conform(server.port, "malformed"),
        "400 400 400 400 400 400 400 400 400 200"
    );
    let log = server.error_log();
    assert!(
        log.contains("client sent \":authority\" and \"Host\" headers with different values"),
        "{log}"
    );
}

/// `add_trailer` over HTTP/2: HEADERS, DATA without END_STREAM, then the trailers in a
/// HEADERS frame that ends the stream (h2_trailers.t).
#[test]
fn response_trailers_end_the_stream() {
    let (server, _) = server();
    assert_eq!(
        conform(server.port, "trailers"),
        "HEADERS 4 | DATA 0 SEE-THIS | HEADERS 5 x-var=localhost"
    );
}

/// HPACK as nginx reads it: Huffman strings padded with a whole byte of ones are
/// accepted; an integer cut by the block's end is FRAME_SIZE_ERROR, one longer than 4 bytes
/// COMPRESSION_ERROR, judged before the frame is whole; `$request_length` is the header
/// block's size.
#[test]
fn hpack_edges_as_nginx_reads_them() {
    let (server, _) = server();
    assert_eq!(conform(server.port, "huffman"), "200");
    assert_eq!(
        conform(server.port, "length_errors"),
        "goaway 6 goaway 9 goaway 9 goaway 9"
    );
    let rl = conform(server.port, "request_length");
    let (block, logged) = rl.split_once(' ').unwrap_or_default();
    assert_eq!(block, logged, "{rl}");
}

/// Frames and timing: PUSH_PROMISE is refused on its frame header; a header block that
/// outlives `client_header_timeout` gets its stream reset with PROTOCOL_ERROR while the
/// connection lives; `http2_chunk_size` applies to a response made in one go; a body
/// announced before our SETTINGS are acknowledged on a window below 65535 is refused.
#[test]
fn frames_timeouts_and_settings() {
    let (server, second) = server();
    assert_eq!(conform(server.port, "push_promise"), "goaway 1");
    assert_eq!(
        conform(server.port, "header_timeout"),
        "reset 1 ping ignored"
    );
    assert_eq!(conform(server.port, "chunk_size"), "b:0 o:0 d:0 y:1");
    // A 70 KB response head goes out whole, in HEADERS and CONTINUATION frames of 16 KB.
    assert_eq!(conform(server.port, "long_head"), "200 70000 True ok");
    assert_eq!(conform(second, "settings_ack"), "reset 7");
    assert_eq!(conform(server.port, "settings_ack"), "200");
}

/// RFC 7540 priorities as nginx follows them: of two streams whose windows open at once,
/// the heavier one's DATA goes first; a stream that depends on itself is a connection
/// error (PROTOCOL_ERROR), as in nginx.
#[test]
fn priorities_order_the_streams() {
    let (server, _) = server();
    let run = |w1: &str, w3: &str| {
        let out = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/support/h2_conform.py"
            ))
            .args([&server.port.to_string(), "priority", w1, w3])
            .output()
            .expect("python3");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(run("1", "256"), "3 1 heads");
    assert_eq!(run("256", "1"), "1 3 heads");
    assert_eq!(conform(server.port, "self_dependency"), "goaway 1");
}

/// The whole preface decides a cleartext connection: "PRI * HTTP/2.0" followed by
/// anything else is an HTTP/1 request, and a bad one (400).
#[test]
fn a_wrong_preface_is_an_http1_bad_request() {
    let (server, _) = server();
    assert_eq!(conform(server.port, "preface"), "HTTP/1.1 400 Bad Request");
}

/// Over TLS: a stream's `$scheme` and `$https` (read once the handshake completed), and
/// per-server `http2 off`: no `h2` for its SNI name, 421 when an HTTP/2 connection asks
/// for it by Host.
#[test]
fn tls_variables_and_http2_off_by_server() {
    let server = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT ssl; server_name default; http2 on;\n\
           ssl_certificate h2.crt; ssl_certificate_key h2.key;\n\
           location / { return 200 \"$scheme $https $http2\"; } }\n\
         server { listen 127.0.0.1:PORT; server_name off; http2 off;\n\
           ssl_certificate h2.crt; ssl_certificate_key h2.key;\n\
           location / { return 200 \"$scheme $http2\"; } }",
        |p: &Prefix| {
            let status = Command::new("openssl")
                .current_dir(p.path("conf"))
                .args([
                    "req", "-x509", "-nodes", "-days", "2", "-newkey", "rsa:2048",
                ])
                .args([
                    "-keyout",
                    "h2.key",
                    "-out",
                    "h2.crt",
                    "-subj",
                    "/CN=localhost",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl");
            assert!(status.success());
        },
    );
    let curl = |name: &str, host: &str| {
        let out = Command::new("curl")
            .args([
                "-sk",
                "--max-time",
                "10",
                "--http2",
                "-o",
                "-",
                "-w",
                " %{http_version} %{http_code}",
            ])
            .args(["--resolve", &format!("{name}:{}:127.0.0.1", server.port)])
            .args(["-H", &format!("Host: {host}")])
            .arg(format!("https://{name}:{}/", server.port))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(curl("default", "default"), "https on h2 2 200");
    // SNI chose the server with `http2 off`: ALPN gives HTTP/1.1.
    assert_eq!(curl("off", "off"), "https  1.1 200");
    // HTTP/2 by SNI, then a Host for the `http2 off` server.
    let misdirected = curl("default", "off");
    assert!(misdirected.ends_with(" 2 421"), "{misdirected}");
}
