//! HTTP/2 served by the worker (`listen ... http2`, ALPN `h2`): curl, nghttp and raw-frame
//! attacks against a running worker. Each stream runs the HTTP/1.1 request model, so the
//! twins here check that static files, ranges, 304, HEAD, gzip, error_page, limit_req and
//! proxied uploads answer over HTTP/2 as they do over HTTP/1.1.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Prefix, Server};

/// The test server: an HTTP/2 address in clear, one over TLS (certificate made here), and
/// an HTTP/1.1 upstream on the same process.
fn h2_server(extra: &str) -> (Server, u16, u16) {
    let up = common::free_port();
    let tls = common::free_port();
    let block = format!(
        "log_format h2 '$request $status $http2 $server_protocol';\n\
         access_log logs/h2.log h2;\n\
         limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;\n\
         server {{ listen 127.0.0.1:{up}; access_log off;\n\
           location / {{ return 200 \"up $request_method $http_content_length $content_length\"; }} }}\n\
         server {{ listen 127.0.0.1:PORT http2; listen 127.0.0.1:{tls} ssl http2;\n\
           ssl_certificate h2.crt; ssl_certificate_key h2.key;\n\
           root html; send_timeout 2s; {extra}\n\
           location /v {{ return 200 \"[$http2] [$server_protocol] [$request]\"; }}\n\
           location /gz/ {{ alias html/; gzip on; gzip_min_length 1; gzip_types *; }}\n\
           location /limited {{ limit_req zone=one nodelay; }}\n\
           location /up {{ proxy_pass http://127.0.0.1:{up}; }}\n\
           location /slow/ {{ alias html/; limit_rate 100k; }}\n\
           error_page 404 /missing.html;\n\
         }}"
    );
    let server = Server::start_with(1, &block, |p: &Prefix| {
        p.write("html/index.html", "hello\n");
        p.write("html/missing.html", "not here\n");
        p.write("html/big.bin", pattern(300_000));
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
    });
    (server, up, tls)
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// curl over HTTP/2 in clear (prior knowledge): status, headers and body.
fn curl(port: u16, args: &[&str], path: &str) -> (String, Vec<u8>) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "--http2-prior-knowledge",
            "-D",
            "-",
        ])
        .args(args)
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("curl");
    split(out.stdout)
}

fn split(all: Vec<u8>) -> (String, Vec<u8>) {
    let end = common::find(&all, b"\r\n\r\n").map_or(all.len(), |i| i + 4);
    (
        String::from_utf8_lossy(&all[..end]).to_string(),
        all[end..].to_vec(),
    )
}

#[test]
fn static_range_conditional_head_gzip_and_error_page_over_h2c() {
    let (server, _, _) = h2_server("");
    let (head, body) = curl(server.port, &[], "/big.bin");
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert!(head.contains("content-length: 300000"), "{head}");
    assert_eq!(body, pattern(300_000));

    let (head, body) = curl(server.port, &["-r", "10-19"], "/big.bin");
    assert!(head.starts_with("HTTP/2 206"), "{head}");
    assert_eq!(body, pattern(300_000)[10..20]);

    let (head, _) = curl(server.port, &[], "/index.html");
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("etag")
        .trim()
        .to_string();
    let (head, body) = curl(
        server.port,
        &["-H", &format!("If-None-Match: {etag}")],
        "/index.html",
    );
    assert!(head.starts_with("HTTP/2 304"), "{head}");
    assert!(body.is_empty(), "{head}{}", String::from_utf8_lossy(&body));

    // (`-I` prints the head again as the body.)
    let (head, _) = curl(server.port, &["-I"], "/index.html");
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert!(head.contains("content-length: 6"), "{head}");

    let (head, body) = curl(server.port, &["-H", "Accept-Encoding: gzip"], "/gz/big.bin");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert_eq!(common::python_gunzip(&body), pattern(300_000));

    let (head, body) = curl(server.port, &[], "/nothing");
    assert!(head.starts_with("HTTP/2 404"), "{head}");
    assert_eq!(body, b"not here\n");

    let (head, _) = curl(server.port, &[], "/limited");
    assert!(!head.starts_with("HTTP/2 503"), "{head}");
    let (head, _) = curl(server.port, &[], "/limited");
    assert!(head.starts_with("HTTP/2 503"), "{head}");

    let (_, body) = curl(server.port, &[], "/v?a=1");
    assert_eq!(
        String::from_utf8_lossy(&body),
        "[h2c] [HTTP/2.0] [GET /v?a=1 HTTP/2.0]"
    );
    let log = server.prefix.read("logs/h2.log");
    assert!(
        log.contains("GET /big.bin HTTP/2.0 200 h2c HTTP/2.0"),
        "{log}"
    );
}

#[test]
fn proxied_uploads_with_and_without_length_over_h2c() {
    let (server, _, _) = h2_server("");
    let dir = Prefix::new();
    dir.write("up.bin", pattern(500_000));
    let file = dir.path("up.bin");
    let (head, body) = curl(server.port, &["-T", file.to_str().unwrap()], "/up");
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert_eq!(String::from_utf8_lossy(&body), "up PUT 500000 500000");
    // No content-length (curl streams stdin): the body's end is END_STREAM.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "head -c 70000 {} | curl -sS --max-time 10 --http2-prior-knowledge -T - http://127.0.0.1:{}/up",
            file.display(),
            server.port
        ))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "up PUT 70000 70000");
}

#[test]
fn alpn_h2_over_tls_and_http1_on_the_same_listener() {
    let (server, _, tls) = h2_server("");
    let run = |proto: &str| {
        let out = Command::new("curl")
            .args(["-sk", "--max-time", "10", proto, "-w", " %{http_version}"])
            .arg(format!("https://127.0.0.1:{tls}/v"))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(run("--http2"), "[h2] [HTTP/2.0] [GET /v HTTP/2.0] 2");
    assert_eq!(run("--http1.1"), "[] [HTTP/1.1] [GET /v HTTP/1.1] 1.1");
    drop(server);
}

#[test]
fn nghttp_concurrent_streams() {
    let (server, _, _) = h2_server("");
    let out = Command::new("nghttp")
        .args(["-n", "-s", "-m", "20"])
        .arg(format!("http://127.0.0.1:{}/big.bin", server.port))
        .output()
        .expect("nghttp");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let ok = server
        .prefix
        .read("logs/h2.log")
        .matches("GET /big.bin HTTP/2.0 200 h2c")
        .count();
    assert_eq!(ok, 20, "{text}");
}

fn attack(port: u16, mode: &str, path: &str) -> std::process::Child {
    Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/h2_attack.py"
        ))
        .args([&port.to_string(), mode, path])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3")
}

/// Each attack ends with the attacker's connection closed (or, for rapid reset, its extra
/// streams refused), while a second client is served in the meantime.
#[test]
fn floods_end_the_attacker_and_others_are_served() {
    let (server, _, _) = h2_server("");
    for (mode, path, expect) in [
        ("rapid_reset", "/index.html", &["closed", "reset 7"][..]),
        ("continuation", "/index.html", &["closed goaway 11"]),
        ("hpack_bomb", "/index.html", &["closed goaway 11"]),
        ("huge_header_frame", "/index.html", &["closed goaway 11"]),
        ("settings_flood", "/index.html", &["closed"]),
        ("ping_flood", "/index.html", &["closed"]),
        ("empty_data", "/up", &["closed goaway 11"]),
        ("zero_window", "/big.bin", &["closed"]),
    ] {
        let started = Instant::now();
        let child = attack(server.port, mode, path);
        let (head, body) = curl(server.port, &[], "/index.html");
        assert!(head.starts_with("HTTP/2 200"), "{mode}: {head}");
        assert_eq!(body, b"hello\n");
        let out = child.wait_with_output().expect("attack");
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(expect.iter().any(|e| line.starts_with(e)), "{mode}: {line}");
        assert!(started.elapsed() < Duration::from_secs(20), "{mode}");
    }
    let log = server.error_log();
    assert!(log.contains("http2 flood detected"), "{log}");
}

/// A HEADERS frame over 16384 bytes (we announce SETTINGS_MAX_FRAME_SIZE 2^24-1, as
/// nginx) is read in pieces and answered, and the stream after it too, while a second
/// client is served; past the header limits the same frame ends the connection with
/// ENHANCE_YOUR_CALM (nginx's "client sent too large header").
#[test]
fn big_header_frames_are_answered_and_others_are_served() {
    let (server, _, _) = h2_server("large_client_header_buffers 2 64k;");
    let child = attack(server.port, "big_header_frame", "/index.html");
    let (head, body) = curl(server.port, &[], "/index.html");
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert_eq!(body, b"hello\n");
    let out = child.wait_with_output().expect("client");
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(line, "answered 1:200 3:200 closed False");
    let (server, _, _) = h2_server("large_client_header_buffers 2 16k;");
    let out = attack(server.port, "big_header_frame", "/index.html")
        .wait_with_output()
        .expect("client");
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(line.ends_with("closed True"), "{line}");
    assert!(
        server.error_log().contains("client sent too large header"),
        "{}",
        server.error_log()
    );
}

/// QUIT while a slow response is in flight: GOAWAY names the stream, which still ends
/// whole, then the connection closes.
#[test]
fn graceful_stop_sends_goaway_and_finishes_the_stream() {
    let (server, _, _) = h2_server("");
    let mut child = attack(server.port, "graceful", "/slow/big.bin");
    let mut first = [0u8; 8];
    use std::io::Read;
    let stdout = child.stdout.as_mut().expect("stdout");
    let _ = stdout.read(&mut first);
    std::thread::sleep(Duration::from_millis(500));
    server.signal(libc::SIGQUIT);
    let out = child.wait_with_output().expect("graceful");
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        line.contains("goaway 0 last 1 data 300000 closed True"),
        "{line}"
    );
}

/// `listen ... http2 proxy_protocol` in clear: the PROXY header comes first, then the
/// HTTP/2 preface (as nginx 1.22); a connection without the header is closed.
#[test]
fn h2c_after_a_proxy_protocol_header() {
    let server = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT http2 proxy_protocol;\n\
           location / { return 200 \"[$proxy_protocol_addr] [$http2]\"; } }",
        |_: &Prefix| {},
    );
    let (head, body) = curl(server.port, &["--haproxy-protocol"], "/");
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert_eq!(String::from_utf8_lossy(&body), "[127.0.0.1] [h2c]");
    let (head, _) = curl(server.port, &[], "/");
    assert!(!head.starts_with("HTTP/2 200"), "{head}");
}

/// A cleartext `http2` listener also answers HTTP/1.x (nginx 1.25's preface check): the
/// first bytes decide, so a proxy on the same port or an HTTP/1 client keeps working.
#[test]
fn http1_on_a_cleartext_http2_listener() {
    let (server, _, _) = h2_server("");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--http1.1", "-D", "-"])
        .arg(format!("http://127.0.0.1:{}/v", server.port))
        .output()
        .expect("curl");
    let (head, body) = split(out.stdout);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(
        String::from_utf8_lossy(&body),
        "[] [HTTP/1.1] [GET /v HTTP/1.1]"
    );
    let (head, _) = curl(server.port, &[], "/v");
    assert!(head.starts_with("HTTP/2 200"), "{head}");
}
