//! Reverse proxy: real Tornado applications (`examples/hello.py`) as upstreams, and small
//! in-process upstreams where a test needs byte-level control.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Prefix, Server, alive, free_port, read_response};

/// A Tornado hello-world process on an ephemeral port; killed on drop.
struct Tornado {
    child: Child,
    port: u16,
}

impl Tornado {
    fn start(name: &str) -> Tornado {
        let tornado = Command::new("python3")
            .args(["-c", "import tornado"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            tornado,
            "these tests need Tornado: pip install tornado (.ci/run does)"
        );
        let port = free_port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hello.py");
        let child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(name)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 examples/hello.py");
        let t = Tornado { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tornado did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        t
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Connections the app accepted so far.
    fn connections(&self) -> usize {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("stats");
        s.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("write");
        let r = read_response(&mut s, false).expect("stats response");
        let text = r.text();
        let n = text
            .split("\"connections\": ")
            .nth(1)
            .and_then(|t| t.split(',').next())
            .and_then(|t| t.trim().parse::<usize>().ok())
            .expect("connection count");
        n - 2 // the readiness probe's and this request's own connections
    }
}

impl Drop for Tornado {
    fn drop(&mut self) {
        self.kill();
    }
}

fn get(port: u16, path: &str) -> common::Response {
    let mut s = common::connect(port);
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .expect("write");
    read_response(&mut s, false).expect("response")
}

/// One request on an open keep-alive connection.
fn send(s: &mut TcpStream, raw: &[u8]) -> common::Response {
    s.write_all(raw).expect("write");
    read_response(s, raw.starts_with(b"HEAD ")).expect("response")
}

fn start(upstream: &str, locations: &str) -> Server {
    Server::start(&format!(
        "log_format up '$status $upstream_addr $upstream_status \"$request\" $proxy_host:$proxy_port';\n\
         access_log logs/access.log up;\n{upstream}\nserver {{ listen 127.0.0.1:PORT;\n{locations}\n}}"
    ))
}

/// A server whose `upstream app` is the Tornado process `app`.
fn behind(app: &Tornado, locations: &str) -> Server {
    start(
        &format!("upstream app {{ server 127.0.0.1:{}; }}", app.port),
        locations,
    )
}

#[test]
fn seed_config_verbatim_proxies_to_tornado_over_one_kept_alive_connection() {
    let app = Tornado::start("seed");
    let prefix = Prefix::new();
    let port = free_port();
    let seed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/conf/nginx.conf"))
        .expect("seed config");
    let conf = seed
        .replace("listen 80;", &format!("listen {port};"))
        .replace("127.0.0.1:8888", &format!("127.0.0.1:{}", app.port))
        .replace("root /var/www;", &format!("root {};", prefix.dir.display()));
    prefix.write("conf/nginx.conf", conf);
    prefix.write("static/hello.txt", "static file\n");
    let child = Command::new(common::bin())
        .args(["-p"])
        .arg(&prefix.dir)
        .args(["-c", "conf/nginx.conf", "-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let server = Server {
        prefix,
        port,
        child: Some(child),
    };
    assert!(server.wait_for(10, || TcpStream::connect(("127.0.0.1", port)).is_ok()));

    let r = get(port, "/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, world from seed\n");
    // proxy_pass_header Server: Tornado's Server header, not ours.
    assert!(
        r.header("Server")
            .is_some_and(|s| s.starts_with("TornadoServer"))
    );
    assert!(r.header("Date").is_some());
    assert_eq!(r.header("Connection"), Some("close"));

    // The seed's headers reach the app: Host as the client sent it, X-Real-IP, X-Scheme.
    let mut s = common::connect(port);
    let r = send(
        &mut s,
        b"GET /headers?x=1 HTTP/1.1\r\nHost: example.test:8080\r\nX-Custom: yes\r\n\
          Connection: keep-alive\r\nKeep-Alive: 300\r\nTE: trailers\r\n\r\n",
    );
    let text = r.text();
    assert!(text.contains("\"Host\": \"example.test:8080\""), "{text}");
    assert!(text.contains("\"X-Real-Ip\": \"127.0.0.1\""), "{text}");
    assert!(text.contains("\"X-Scheme\": \"http\""), "{text}");
    assert!(text.contains("\"X-Custom\": \"yes\""), "{text}");
    assert!(text.contains("\"_uri\": \"/headers?x=1\""), "{text}");
    assert!(text.contains("\"_version\": \"HTTP/1.1\""), "{text}");
    for hop in ["Keep-Alive", "Te\"", "Connection"] {
        assert!(!text.contains(hop), "{hop} forwarded: {text}");
    }
    assert_eq!(r.header("X-Upstream-Name"), Some("seed"));
    assert_eq!(r.header("Connection"), Some("keep-alive"));

    // Static files and the rewrites still work beside the proxy.
    let r = get(port, "/static/hello.txt");
    assert_eq!((r.status, r.text().as_str()), (200, "static file\n"));

    // Many requests, several client connections: one upstream connection (the pool).
    for _ in 0..10 {
        assert_eq!(
            send(&mut s, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").status,
            200
        );
    }
    for _ in 0..5 {
        assert_eq!(get(port, "/").status, 200);
    }
    assert_eq!(app.connections(), 1, "upstream connections reused");
    server.assert_clean_log();
}

#[test]
fn weights_three_to_one_give_exactly_thirty_and_ten_of_forty() {
    let (a, b) = (Tornado::start("a"), Tornado::start("b"));
    let server = start(
        &format!(
            "upstream app {{ server 127.0.0.1:{} weight=3; server 127.0.0.1:{}; }}",
            a.port, b.port
        ),
        "keepalive_timeout 65 60; location / { proxy_pass http://app; }",
    );
    let mut s = server.connect();
    let (mut from_a, mut from_b) = (0, 0);
    for _ in 0..40 {
        let r = send(&mut s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.header("Keep-Alive"), Some("timeout=60"));
        match r.text().as_str() {
            "Hello, world from a\n" => from_a += 1,
            "Hello, world from b\n" => from_b += 1,
            other => panic!("{other}"),
        }
    }
    assert_eq!((from_a, from_b), (30, 10));
    assert_eq!((a.connections(), b.connections()), (1, 1));
    server.assert_clean_log();
}

#[test]
fn multi_megabyte_bodies_both_ways_by_length_and_chunked() {
    let app = Tornado::start("echo");
    let server = behind(
        &app,
        "client_max_body_size 64m; location / { proxy_pass http://app; }",
    );
    let body: Vec<u8> = (0..5 * 1024 * 1024u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let mut s = server.connect();
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let r = send(&mut s, &req);
    assert_eq!(r.status, 200);
    assert!(
        r.body == body,
        "echoed body differs ({} bytes)",
        r.body.len()
    );

    // Chunked request body, in chunks of 100 000 bytes.
    let mut req = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for part in body.chunks(100_000) {
        req.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        req.extend_from_slice(part);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let r = send(&mut s, &req);
    assert_eq!(r.status, 200);
    assert!(r.body == body);

    // A large response by Content-Length, read slowly: the relay is bounded.
    let r = send(&mut s, b"GET /big?size=8388608 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.body.len(), 8 * 1024 * 1024);
    assert_eq!(app.connections(), 1);
    server.assert_clean_log();
}

#[test]
fn streamed_chunked_responses_arrive_as_they_are_produced() {
    let app = Tornado::start("stream");
    let server = behind(&app, "location / { proxy_pass http://app; }");
    let mut s = server.connect();
    s.write_all(b"GET /stream?n=20 HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let started = Instant::now();
    let mut first = [0u8; 512];
    let n = s.read(&mut first).expect("read");
    let head = String::from_utf8_lossy(&first[..n]).into_owned();
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    // 20 chunks 50 ms apart take a second; the first must not wait for the last.
    assert!(started.elapsed() < Duration::from_millis(700));
    let mut rest = first[..n].to_vec();
    while !rest.ends_with(b"0\r\n\r\n") {
        let n = s.read(&mut first).expect("read");
        assert!(n > 0);
        rest.extend_from_slice(&first[..n]);
    }
    let text = String::from_utf8_lossy(&rest).into_owned();
    assert!(text.contains("chunk 0\n") && text.contains("chunk 19\n"));
    // HTTP/1.0 client: the chunks are decoded and the connection closes at the end.
    let r = server.request(b"GET /stream?n=3 HTTP/1.0\r\nHost: x\r\n\r\n");
    assert_eq!(r.text(), "chunk 0\nchunk 1\nchunk 2\n");
    assert_eq!(r.header("Transfer-Encoding"), None);
    server.assert_clean_log();
}

fn ws_frame(payload: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut f = vec![0x81];
    if payload.len() < 126 {
        f.push(0x80 | payload.len() as u8);
    } else {
        f.push(0x80 | 126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

fn read_ws_text(s: &mut TcpStream, pending: &mut Vec<u8>) -> Vec<u8> {
    let mut tmp = [0u8; 4096];
    loop {
        if pending.len() >= 2 {
            let (len, off) = match pending[1] & 0x7f {
                126 if pending.len() >= 4 => {
                    (u16::from_be_bytes([pending[2], pending[3]]) as usize, 4)
                }
                126 => (usize::MAX, 0),
                n => (n as usize, 2),
            };
            if len != usize::MAX && pending.len() >= off + len {
                let payload = pending[off..off + len].to_vec();
                pending.drain(..off + len);
                return payload;
            }
        }
        let n = s.read(&mut tmp).expect("ws read");
        assert!(n > 0, "tunnel closed");
        pending.extend_from_slice(&tmp[..n]);
    }
}

#[test]
fn websocket_echo_through_the_tunnel() {
    let app = Tornado::start("ws");
    let server = behind(
        &app,
        "location /ws { proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;\n\
         proxy_set_header Connection \"upgrade\"; proxy_pass http://app; }\n\
         location /idle/ { proxy_read_timeout 500ms; proxy_set_header Upgrade $http_upgrade;\n\
         proxy_set_header Connection \"upgrade\"; proxy_pass http://app/; }",
    );
    let (mut s, head, mut pending) = open_ws(&server, "/ws");
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    assert!(lower.contains("upgrade: websocket"), "{head}");
    for msg in [&b"hello"[..], &[b'x'; 3000][..]] {
        s.write_all(&ws_frame(msg)).expect("frame");
        assert_eq!(read_ws_text(&mut s, &mut pending), msg);
    }
    drop(s);
    assert!(server.wait_for(5, || server.access_log().contains("101 ")));

    // An idle tunnel ends after proxy_read_timeout.
    let mut s = server.connect();
    s.write_all(
        b"GET /idle/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .expect("write");
    let started = Instant::now();
    let all = common::read_to_end(&mut s);
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 101 "));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert!(server.wait_for(5, || server.error_log().contains(
        "upstream timed out (110: Connection timed out) while proxying upgraded connection"
    )));
    server.assert_clean_log();
}

#[test]
fn a_backend_killed_mid_test_is_skipped_without_client_errors() {
    let (a, mut b) = (Tornado::start("a"), Tornado::start("b"));
    let server = start(
        &format!(
            "upstream app {{ server 127.0.0.1:{}; server 127.0.0.1:{}; }}",
            a.port, b.port
        ),
        "location / { proxy_pass http://app; }",
    );
    for _ in 0..4 {
        assert_eq!(get(server.port, "/").status, 200);
    }
    b.kill();
    for _ in 0..10 {
        let mut c = server.connect();
        c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .expect("write");
        let Some(r) = read_response(&mut c, false) else {
            panic!("no response; error log:\n{}", server.error_log());
        };
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "Hello, world from a\n")
        );
    }
    let log = server.error_log();
    assert!(
        log.contains(&format!(
            "connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:{}/\", host: \"localhost\"",
            b.port
        )),
        "{log}"
    );
    assert!(log.contains(&format!(
        "[warn] {}",
        ""
    )) && log.contains(&format!(
        "upstream server temporarily disabled while connecting to upstream, client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:{}/\"",
        b.port
    )), "{log}");
    // After one failure the server is skipped for fail_timeout: one refused connect only.
    assert_eq!(log.matches("connect() failed").count(), 1, "{log}");
    let want = format!("200 127.0.0.1:{}, 127.0.0.1:{} 502, 200", b.port, a.port);
    assert!(server.wait_for(5, || server.access_log().contains(&want)));
    server.assert_clean_log();
}

#[test]
fn refused_gives_502_and_slow_gives_504_with_nginx_log_lines() {
    let app = Tornado::start("slow");
    let dead = free_port();
    let server = start(
        &format!("upstream dead {{ server 127.0.0.1:{dead}; }}"),
        &format!(
            "location /dead/ {{ proxy_pass http://dead/; }}\n\
             location /slow {{ proxy_read_timeout 500ms; proxy_pass http://127.0.0.1:{}; }}",
            app.port
        ),
    );
    let r = get(server.port, "/dead/x?y=1");
    assert_eq!(r.status, 502);
    assert!(r.text().contains("<title>502 Bad Gateway</title>"));
    let r = get(server.port, "/slow?s=3");
    assert_eq!(r.status, 504);
    assert!(r.text().contains("<title>504 Gateway Time-out</title>"));
    let log = server.error_log();
    assert!(log.contains(&format!(
        "connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: \"GET /dead/x?y=1 HTTP/1.1\", upstream: \"http://127.0.0.1:{dead}/x?y=1\", host: \"localhost\""
    )), "{log}");
    assert!(log.contains(&format!(
        "upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: , request: \"GET /slow?s=3 HTTP/1.1\", upstream: \"http://127.0.0.1:{}/slow?s=3\", host: \"localhost\"",
        app.port
    )), "{log}");
    let want = format!("504 127.0.0.1:{} 504", app.port);
    assert!(server.wait_for(5, || server.access_log().contains(&want)));
    let access = server.access_log();
    assert!(
        access.contains(&format!("502 127.0.0.1:{dead} 502 \"GET /dead/x?y=1")),
        "{access}"
    );
    server.assert_clean_log();
}

#[test]
fn client_that_leaves_early_is_logged_499() {
    let app = Tornado::start("slow");
    let server = behind(&app, "location / { proxy_pass http://app; }");
    let mut s = server.connect();
    s.write_all(b"GET /slow?s=2 HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    std::thread::sleep(Duration::from_millis(300));
    drop(s);
    assert!(server.wait_for(5, || server.access_log().contains("499 ")));
    assert!(
        server
            .error_log()
            .contains("client prematurely closed connection")
    );
    // The upstream connection was closed, not pooled dirty: the next request is fine.
    std::thread::sleep(Duration::from_millis(100));
    let r = get(server.port, "/");
    assert_eq!(r.status, 200);
    server.assert_clean_log();
}

/// A hand-written upstream: `handler` gets each accepted connection and its index.
struct RawUpstream {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl RawUpstream {
    fn start(handler: impl Fn(TcpStream, usize) + Send + Sync + 'static) -> RawUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let handler = Arc::new(handler);
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                let i = count.fetch_add(1, Ordering::SeqCst);
                let h = handler.clone();
                std::thread::spawn(move || h(s, i));
            }
        });
        RawUpstream { port, accepted }
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

#[test]
fn response_cut_mid_body_closes_the_client_connection() {
    let up = RawUpstream::start(|mut s, _| {
        if read_head(&mut s).is_some() {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
        }
    });
    let server = start(
        &format!("upstream raw {{ server 127.0.0.1:{}; }}", up.port),
        "location / { proxy_pass http://raw; }",
    );
    let mut s = server.connect();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let all = common::read_to_end(&mut s);
    let text = String::from_utf8_lossy(&all).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Length: 100\r\n"));
    assert!(text.ends_with("\r\n\r\n0123456789"), "{text}");
    assert!(server.wait_for(5, || {
        server
            .error_log()
            .contains("upstream prematurely closed connection while reading upstream")
    }));
    server.assert_clean_log();
}

#[test]
fn a_pooled_connection_the_upstream_closed_is_never_a_502() {
    // Each upstream connection answers one request with keep-alive, then either closes at
    // once (the pool sees EOF and drops it) or waits for the next request and closes
    // without answering (the race: the request is replayed on a fresh connection).
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    let up = RawUpstream::start(move |mut s, i| {
        if let Some(h) = read_head(&mut s) {
            seen.lock().unwrap().push(h);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            if i % 2 == 1 {
                let _ = read_head(&mut s);
            }
        }
    });
    let server = start(
        &format!(
            "upstream raw {{ server 127.0.0.1:{}; keepalive 4; }}",
            up.port
        ),
        "location / { proxy_pass http://raw; }",
    );
    let mut s = server.connect();
    for _ in 0..6 {
        let r = send(&mut s, b"GET /x HTTP/1.1\r\nHost: c\r\n\r\n");
        assert_eq!((r.status, r.text().as_str()), (200, "ok"));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(up.accepted.load(Ordering::SeqCst) >= 4);
    let log = server.error_log();
    assert!(!log.contains("[error]"), "{log}");
    // The head sent upstream: HTTP/1.1, Host $proxy_host, no Connection: close (pooled).
    let first = heads.lock().unwrap()[0].clone();
    assert_eq!(first, "GET /x HTTP/1.1\r\nHost: raw\r\n\r\n");
    server.assert_clean_log();
}

#[test]
fn the_keepalive_bound_holds_once_a_burst_is_over() {
    // Five requests at once take five upstream connections; `keepalive 2` keeps two of
    // them once they have been idle a moment (the pool's grace), closing the least
    // recently used three, and later requests reuse the two that stayed.
    let closed = Arc::new(AtomicUsize::new(0));
    let closes = closed.clone();
    let gate = Arc::new(std::sync::Barrier::new(5));
    let up = RawUpstream::start(move |mut s, i| {
        let mut first = true;
        while read_head(&mut s).is_some() {
            if first && i < 5 {
                gate.wait(); // answer only once all five are connected
            }
            first = false;
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
        closes.fetch_add(1, Ordering::SeqCst);
    });
    let server = start(
        &format!(
            "upstream raw {{ server 127.0.0.1:{}; keepalive 2; }}",
            up.port
        ),
        "location / { proxy_pass http://raw; proxy_http_version 1.1; proxy_set_header Connection \"\"; }",
    );
    let port = server.port;
    let burst: Vec<_> = (0..5)
        .map(|_| std::thread::spawn(move || get(port, "/b").status))
        .collect();
    for t in burst {
        assert_eq!(t.join().expect("client"), 200);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while closed.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(closed.load(Ordering::SeqCst), 3, "two stay cached");
    for _ in 0..4 {
        assert_eq!(get(port, "/c").status, 200);
    }
    assert_eq!(up.accepted.load(Ordering::SeqCst), 5, "no new connection");
    server.assert_clean_log();
}

#[test]
fn sent_http_variables_show_the_proxied_response_head() {
    let up = RawUpstream::start(|mut s, _| {
        while read_head(&mut s).is_some() {
            let _ = s.write_all(
                b"HTTP/1.1 201 Created\r\nContent-Type: text/x-up\r\nX-Up: yes\r\n\
                  Content-Length: 2\r\n\r\nok",
            );
        }
    });
    let server = Server::start(&format!(
        "log_format sent '$status $sent_http_content_type $sent_http_x_up $sent_http_connection';\n\
         access_log logs/access.log sent;\n\
         upstream raw {{ server 127.0.0.1:{}; }}\n\
         server {{ listen 127.0.0.1:PORT; location / {{ proxy_pass http://raw; }} }}",
        up.port
    ));
    let r = get(server.port, "/x");
    assert_eq!((r.status, r.header("X-Up")), (201, Some("yes")));
    let want = "201 text/x-up yes close";
    assert!(
        server.wait_for(5, || server.access_log().contains(want)),
        "{}",
        server.access_log()
    );
    server.assert_clean_log();
}

#[test]
fn uri_replacement_and_proxy_redirect() {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    let up = RawUpstream::start(move |mut s, _| {
        while let Some(h) = read_head(&mut s) {
            seen.lock()
                .unwrap()
                .push(h.lines().next().unwrap_or("").to_string());
            let _ = s.write_all(
                b"HTTP/1.1 302 Found\r\nLocation: http://backend/v2/next\r\nX-Accel-Charset: x\r\n\
                  Server: raw\r\nContent-Length: 0\r\n\r\n",
            );
        }
    });
    let server = start(
        &format!("upstream backend {{ server 127.0.0.1:{}; }}", up.port),
        "location /api/ { proxy_pass http://backend/v2/; }\n\
         location /plain/ { proxy_pass http://backend; proxy_redirect http://backend/v2/ /elsewhere/; }\n\
         location /re/ { proxy_pass http://backend; proxy_redirect ~*^HTTP://[a-z]+/v(\\d)/(.*)$ https://$host/version$1/$2; }",
    );
    // A Location a rule rewrites to a path is made absolute, as nginx's header filter does.
    let r = get(server.port, "/api/users%20x?q=1");
    let absolute = |path: &str| format!("http://localhost:{}{path}", server.port);
    assert_eq!(r.header("Location"), Some(&*absolute("/api/next")));
    assert_eq!(r.header("X-Accel-Charset"), None);
    assert!(r.header("Server").is_some_and(|s| s.starts_with("portico")));
    let r = get(server.port, "/plain/a?b");
    assert_eq!(r.header("Location"), Some(&*absolute("/elsewhere/next")));
    // A regex rule (caseless with `~*`): the value it matches is replaced whole, `$1`/`$2`
    // are its captures and other variables are the request's.
    let r = get(server.port, "/re/x");
    assert_eq!(
        r.header("Location"),
        Some("https://localhost/version2/next")
    );
    let want = "\"GET /plain/a?b HTTP/1.1\" backend:80";
    assert!(
        server.wait_for(5, || server.access_log().contains(want)),
        "{}",
        server.access_log()
    );
    let lines = heads.lock().unwrap().clone();
    assert_eq!(
        lines,
        [
            "GET /v2/users%20x?q=1 HTTP/1.1",
            "GET /plain/a?b HTTP/1.1",
            "GET /re/x HTTP/1.1"
        ]
    );
    server.assert_clean_log();
}

#[test]
fn config_errors_name_file_and_line() {
    let prefix = Prefix::new();
    let cases = [
        (
            "server { listen 1; location / { proxy_pass http://nosuchhost.invalid; } }",
            "host not found in upstream \"nosuchhost.invalid\"",
        ),
        (
            "upstream u { server 127.0.0.1:1; } server { listen 1; location / { proxy_pass http://u:81; } }",
            "upstream \"u\" may not have port 81",
        ),
        ("upstream u { }", "no servers are inside upstream"),
        (
            "upstream u { server 127.0.0.1 weight=0; }",
            "invalid parameter \"weight=0\"",
        ),
        (
            "server { listen 1; location ~ x { proxy_pass http://127.0.0.1:1/a; } }",
            "\"proxy_pass\" cannot have URI part",
        ),
        (
            "server { listen 1; location / { proxy_pass ftp://x; } }",
            "invalid URL prefix",
        ),
        (
            "upstream u { server 127.0.0.1:1; keepalive 0; }",
            "invalid value \"0\" in \"keepalive\" directive",
        ),
        (
            "server { listen 1; location / { proxy_pass http://127.0.0.1:1; proxy_redirect ~^http://(x $1; } }",
            "pcre2_compile() failed: ",
        ),
    ];
    for (http, want) in cases {
        prefix.write("conf/t.conf", format!("events {{}}\nhttp {{\n{http}\n}}\n"));
        let (code, _out, err) = common::run_cli(&prefix.dir, &["-t", "-c", "conf/t.conf"]);
        assert_ne!(code, 0, "{http}");
        assert!(err.contains(want), "{http}: {err}");
        assert!(err.contains("t.conf:3"), "{http}: {err}");
    }
}

#[test]
fn http10_upstream_read_until_close_and_idle_pool_expiry() {
    let up = RawUpstream::start(|mut s, _| {
        if let Some(h) = read_head(&mut s) {
            if h.starts_with("GET /old") {
                let _ =
                    s.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close");
                return;
            }
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            // Keep the connection open for reuse until the proxy drops it.
            while read_head(&mut s).is_some() {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            }
        }
    });
    let server = start(
        &format!(
            "upstream raw {{ server 127.0.0.1:{}; keepalive_timeout 300ms; keepalive_requests 3; }}",
            up.port
        ),
        "location / { proxy_pass http://raw; }",
    );
    let mut s = server.connect();
    s.write_all(b"GET /old HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!((r.status, r.text().as_str()), (200, "until close"));
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(up.accepted.load(Ordering::SeqCst), 1);

    assert_eq!(get(server.port, "/a").text(), "ok");
    assert_eq!(get(server.port, "/b").text(), "ok");
    assert_eq!(
        up.accepted.load(Ordering::SeqCst),
        2,
        "second request reused the first"
    );
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(get(server.port, "/c").text(), "ok");
    assert_eq!(
        up.accepted.load(Ordering::SeqCst),
        3,
        "an idle connection is closed after keepalive_timeout"
    );
    // keepalive_requests 3: a connection serves three requests, then a new one is opened.
    assert_eq!(get(server.port, "/d").text(), "ok");
    assert_eq!(get(server.port, "/e").text(), "ok");
    assert_eq!(up.accepted.load(Ordering::SeqCst), 3);
    assert_eq!(get(server.port, "/f").text(), "ok");
    assert_eq!(up.accepted.load(Ordering::SeqCst), 4);
    server.assert_clean_log();
}

#[test]
fn backup_server_takes_over_and_next_upstream_on_status() {
    let primary = RawUpstream::start(|mut s, _| {
        while read_head(&mut s).is_some() {
            let _ =
                s.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
        }
    });
    let backup = RawUpstream::start(|mut s, _| {
        while read_head(&mut s).is_some() {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nbackup");
        }
    });
    let dead = free_port();
    let server = start(
        &format!(
            "upstream a {{ server 127.0.0.1:{dead}; server 127.0.0.1:{} backup; }}\n\
             upstream b {{ server 127.0.0.1:{}; server 127.0.0.1:{} backup; }}
             upstream c {{ server 127.0.0.1:{}; server 127.0.0.1:{} backup; }}",
            backup.port, primary.port, backup.port, primary.port, backup.port
        ),
        "location /a { proxy_pass http://a; }\n\
         location /b { proxy_next_upstream error timeout http_503; proxy_pass http://b; }\n\
         location /c { proxy_pass http://c; }",
    );
    assert_eq!(get(server.port, "/a").text(), "backup");
    assert_eq!(get(server.port, "/b").text(), "backup");
    // Without http_503 in proxy_next_upstream, the 503 is the answer (group c; in group b
    // the 503 counted as a failure, so its primary is skipped for fail_timeout).
    assert_eq!(get(server.port, "/b").text(), "backup");
    let r = get(server.port, "/c");
    assert_eq!((r.status, r.text().as_str()), (503, "busy"));
    let want = format!(
        "200 127.0.0.1:{}, 127.0.0.1:{} 503, 200",
        primary.port, backup.port
    );
    assert!(
        server.wait_for(5, || server.access_log().contains(&want)),
        "{}",
        server.access_log()
    );
    server.assert_clean_log();
}

#[test]
fn proxy_pass_with_variables() {
    let app = Tornado::start("vars");
    let server = start(
        &format!("upstream named {{ server 127.0.0.1:{}; }}", app.port),
        "location / { proxy_pass http://$http_x_backend; }\n\
         location /fixed/ { proxy_pass http://$http_x_backend/headers; }",
    );
    let ask = |backend: &str, path: &str| {
        let mut s = server.connect();
        s.write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: h\r\nX-Backend: {backend}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .expect("write");
        read_response(&mut s, false).expect("response")
    };
    let r = ask(&format!("127.0.0.1:{}", app.port), "/");
    assert_eq!(r.text(), "Hello, world from vars\n");
    let r = ask("named", "/");
    assert_eq!(r.text(), "Hello, world from vars\n");
    // A URI in a URL with variables replaces the request's URI whole.
    let r = ask(&format!("127.0.0.1:{}", app.port), "/fixed/ignored?x=1");
    assert!(r.text().contains("\"_uri\": \"/headers\""), "{}", r.text());
    // A name that is neither an upstream nor an address: no resolver, 502.
    let r = ask("nosuch.invalid", "/");
    assert_eq!(r.status, 502);
    assert!(server.wait_for(5, || {
        server
            .error_log()
            .contains("no resolver defined to resolve nosuch.invalid")
    }));
    server.assert_clean_log();
}

#[test]
fn intercepted_errors_are_answered_by_the_server() {
    let app = Tornado::start("errors");
    let server = behind(
        &app,
        "error_page 404 /404.html;\n\
         location /on/ { proxy_intercept_errors on; proxy_pass http://app/; }\n\
         location /off/ { proxy_pass http://app/; }",
    );
    let r = get(server.port, "/on/status?code=404");
    assert_eq!(r.status, 404);
    assert!(
        r.text().contains("<title>404 Not Found</title>"),
        "{}",
        r.text()
    );
    // A status without an error_page is relayed, as is everything with interception off.
    let r = get(server.port, "/on/status?code=403");
    assert_eq!((r.status, r.text().as_str()), (403, "status from errors\n"));
    let r = get(server.port, "/off/status?code=404");
    assert_eq!((r.status, r.text().as_str()), (404, "status from errors\n"));
    server.assert_clean_log();
}

fn rss_kb(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_stalled_client_stops_the_upstream_instead_of_growing_the_worker() {
    const SIZE: usize = 64 * 1024 * 1024;
    let sent = Arc::new(AtomicUsize::new(0));
    let progress = sent.clone();
    let up = RawUpstream::start(move |mut s, _| {
        if read_head(&mut s).is_none() {
            return;
        }
        let _ =
            s.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\n\r\n").as_bytes());
        let block = vec![b'z'; 64 * 1024];
        let mut left = SIZE;
        while left > 0 {
            let n = left.min(block.len());
            if s.write_all(&block[..n]).is_err() {
                return;
            }
            left -= n;
            progress.fetch_add(n, Ordering::SeqCst);
        }
    });
    // Without response temporary files (nginx's `proxy_max_temp_file_size 0`), only the
    // bounded memory buffers read ahead of the client.
    let server = start(
        &format!("upstream raw {{ server 127.0.0.1:{}; }}", up.port),
        "location / { proxy_max_temp_file_size 0; proxy_pass http://raw; }",
    );
    let worker = *server.worker_pids().first().expect("worker");
    let before = rss_kb(worker);
    let mut s = server.connect();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    std::thread::sleep(Duration::from_millis(1500));
    // Socket buffers hold a few MB at most; the proxy holds its bounded buffers.
    let stalled = sent.load(Ordering::SeqCst);
    assert!(
        stalled < SIZE / 4,
        "upstream was read ahead of the client: {stalled} bytes"
    );
    let during = rss_kb(worker);
    eprintln!(
        "stalled client: upstream wrote {stalled} bytes; worker RSS {before} kB -> {during} kB"
    );
    assert!(
        during < before + 8 * 1024,
        "worker grew from {before} kB to {during} kB"
    );
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!(r.body.len(), SIZE);
    server.assert_clean_log();
}

#[test]
fn graceful_stop_finishes_a_proxied_request_in_flight() {
    let app = Tornado::start("slow");
    let mut server = behind(&app, "location / { proxy_pass http://app; }");
    assert_eq!(get(server.port, "/").status, 200); // leaves a pooled connection
    let mut s = server.connect();
    s.write_all(b"GET /slow?s=0.8 HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    std::thread::sleep(Duration::from_millis(200));
    server.signal(libc::SIGQUIT);
    let r = read_response(&mut s, false).expect("response");
    assert_eq!((r.status, r.text().as_str()), (200, "slow\n"));
    assert_eq!(r.header("Connection"), Some("close"));
    // The worker exits although an idle upstream connection is still cached.
    let mut child = server.child.take().expect("child");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() {
        assert!(Instant::now() < deadline, "portico did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_chunked_body_to_an_http10_upstream_is_read_whole_and_sent_with_its_length() {
    // nginx buffers a chunked body for an HTTP/1.0 upstream whatever
    // proxy_request_buffering says (ngx_http_proxy_handler sets no request_body_no_buffering
    // then), and sends it with Content-Length.
    let up = RawUpstream::start(|mut s, _| {
        let head = read_head(&mut s).unwrap_or_default();
        let mut body = [0u8; 5];
        let ok = head.contains("Content-Length: 5\r\n")
            && !head.to_ascii_lowercase().contains("transfer-encoding")
            && s.read_exact(&mut body).is_ok()
            && &body == b"hello";
        let answer: &[u8] = if ok {
            b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nyes"
        } else {
            b"HTTP/1.0 400 Bad\r\nContent-Length: 2\r\n\r\nno"
        };
        let _ = s.write_all(answer);
    });
    let server = start(
        &format!("upstream raw {{ server 127.0.0.1:{}; }}", up.port),
        "location / { proxy_http_version 1.0; proxy_request_buffering off; proxy_pass http://raw; }",
    );
    // The body in parts: it is not all there with the head.
    let mut c = server.connect();
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhel")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    c.write_all(b"lo\r\n0\r\n\r\n").unwrap();
    let r = read_response(&mut c, false).expect("response");
    assert_eq!((r.status, r.text().as_str()), (200, "yes"));
    server.assert_clean_log();
}

#[test]
fn a_cut_response_is_not_requested_again_while_a_slow_client_drains_it() {
    let up = RawUpstream::start(|mut s, _| {
        if read_head(&mut s).is_some() {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n");
            let _ = s.write_all(&vec![b'c'; 30_000_000]);
        }
    });
    let server = start(
        &format!("upstream raw {{ server 127.0.0.1:{}; }}", up.port),
        "location / { proxy_pass http://raw; }",
    );
    let mut s = server.connect();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    // Read slowly, so that the upstream's EOF arrives while data still waits for the client.
    let mut all = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        std::thread::sleep(Duration::from_micros(200));
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
    let head_end = common::find(&all, b"\r\n\r\n").expect("head") + 4;
    assert_eq!(all.len() - head_end, 30_000_000);
    assert_eq!(up.accepted.load(Ordering::SeqCst), 1);
    server.assert_clean_log();
}

/// Opens a WebSocket through `path`; returns the stream, the 101 head and the bytes read
/// past it.
fn open_ws(server: &Server, path: &str) -> (TcpStream, String, Vec<u8>) {
    let mut s = server.connect();
    s.write_all(
        format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    )
    .expect("write");
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = common::find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut tmp).expect("read");
        assert!(n > 0, "closed before the 101");
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    (s, head, buf[head_end..].to_vec())
}

#[test]
fn a_websocket_tunnel_survives_a_reload_on_the_old_worker_until_worker_shutdown_timeout() {
    let app = Tornado::start("ws");
    let prefix = common::Prefix::new();
    let port = common::free_port();
    prefix.write(
        "conf/portico.conf",
        format!(
            "{}worker_shutdown_timeout 2s;\nhttp {{\nupstream app {{ server 127.0.0.1:{}; }}\n\
             server {{ listen 127.0.0.1:{port};\n\
             location /ws {{ proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;\n\
             proxy_set_header Connection \"upgrade\"; proxy_pass http://app; }} }}\n}}\n",
            common::main_preamble(1),
            app.port
        ),
    );
    let server = Server::spawn(prefix, port);
    let old_workers = server.worker_pids();
    let (mut s, _, mut pending) = open_ws(&server, "/ws");
    s.write_all(&ws_frame(b"before")).expect("frame");
    assert_eq!(read_ws_text(&mut s, &mut pending), b"before");
    server.signal(libc::SIGHUP);
    assert!(
        server.wait_for(10, || {
            let now = server.worker_pids();
            !now.is_empty() && now.iter().all(|p| !old_workers.contains(p))
                || now.len() > old_workers.len()
        }),
        "no new workers"
    );
    let reloaded = Instant::now();
    // The tunnel still works, on the old worker, which is still alive for it.
    s.write_all(&ws_frame(b"after the reload")).expect("frame");
    assert_eq!(read_ws_text(&mut s, &mut pending), b"after the reload");
    assert!(old_workers.iter().all(|&p| alive(p)), "old worker gone");
    // New requests go to the new workers meanwhile.
    assert_eq!(get(server.port, "/ws").status, 400);
    // worker_shutdown_timeout ends it: the old worker closes the tunnel and exits.
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let rest = common::read_to_end(&mut s);
    let waited = reloaded.elapsed();
    assert!(rest.is_empty(), "{rest:?}");
    assert!(
        waited >= Duration::from_millis(1000) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
    assert!(server.wait_for(5, || old_workers.iter().all(|&p| !alive(p))));
}

#[test]
fn a_tunnel_to_a_unix_socket_upstream_that_reads_slowly_gets_every_byte() {
    // A unix-socket upstream connection is registered for readable edges only; the tunnel
    // after a 101 must ask for writable ones, or a 2 MB upload that fills the socket many
    // times over would stall.
    const UPLOAD: usize = 2 * 1024 * 1024;
    let prefix = Prefix::new();
    let sock = prefix.path("tunnel.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
    // The worker runs as nobody.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if s.read(&mut byte).unwrap_or(0) == 0 {
                    return;
                }
                head.push(byte[0]);
            }
            let _ = s.write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: upgrade\r\n\r\n",
            );
            // At most 4 KiB a millisecond.
            let (mut got, mut buf) = (0, [0u8; 4096]);
            while got < UPLOAD {
                std::thread::sleep(Duration::from_millis(1));
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got += n,
                }
            }
            let _ = s.write_all(format!("got {got}\n").as_bytes());
        }
    });
    let port = free_port();
    prefix.write(
        "conf/portico.conf",
        format!(
            "{}http {{ server {{ listen 127.0.0.1:{port}; server_name localhost;\n\
               location / {{ proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;\n\
                 proxy_set_header Connection \"upgrade\"; proxy_pass http://unix:{}:; }} }} }}\n",
            common::main_preamble(1),
            sock.display()
        ),
    );
    let server = Server::spawn(prefix, port);
    let mut c = server.connect();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(b"GET /t HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
        .expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while common::find(&got, b"\r\n\r\n").is_none() {
        let n = c.read(&mut buf).expect("head");
        assert!(n > 0, "closed before the head: {}", server.error_log());
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 101 "),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let mut rest = got.split_off(common::find(&got, b"\r\n\r\n").unwrap() + 4);
    c.write_all(&vec![b'u'; UPLOAD]).expect("upload");
    while !rest.ends_with(b"\n") {
        let n = c.read(&mut buf).unwrap_or(0);
        assert!(
            n > 0,
            "no answer through the tunnel: {}",
            server.error_log()
        );
        rest.extend_from_slice(&buf[..n]);
    }
    assert_eq!(String::from_utf8_lossy(&rest), format!("got {UPLOAD}\n"));
    server.assert_clean_log();
}
