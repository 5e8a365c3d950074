//! The connection writer's directives, over real sockets: `limit_rate` and
//! `limit_rate_after` (fixed, variables, `$limit_rate`, `X-Accel-Limit-Rate`) on every
//! source, `keepalive_time`, `reset_timedout_connection`, `send_lowat`, `add_trailer`,
//! `client_body_in_file_only` and `$request_body_file`.

mod common;

use common::*;
use std::io::Read;
use std::time::{Duration, Instant};

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(11) + get(12)
}

/// GETs `path` and returns the response with how long it took.
fn timed_get(s: &Server, path: &str) -> (Response, Duration) {
    let t0 = Instant::now();
    let r = s.get(path);
    (r, t0.elapsed())
}

const DATA: usize = 50_000;

fn rate_server(extra: &str) -> Server {
    let block = format!(
        "server {{\n listen 127.0.0.1:PORT;\n server_name localhost;\n root html;\n\
         location /file {{ alias html/data; limit_rate 20k; }}\n\
         location /sendfile {{ alias html/data; sendfile on; limit_rate 20k; }}
\
         location /after {{ alias html/data; limit_rate 20k; limit_rate_after 40k; }}\n\
         location /var {{ alias html/data; limit_rate $arg_l; limit_rate_after $arg_a; }}\n\
         location /set {{ alias html/data; set $limit_rate $arg_l; add_header X-Rate $limit_rate; }}\n\
         location /proxied {{ proxy_pass http://127.0.0.1:PORT/plain; limit_rate 20k; }}\n\
         location /accel {{ proxy_pass http://127.0.0.1:PORT/xal; }}\n\
         location /ignored {{ proxy_pass http://127.0.0.1:PORT/xal; proxy_ignore_headers X-Accel-Limit-Rate; }}\n\
         location /unbuffered {{ proxy_pass http://127.0.0.1:PORT/plain; proxy_buffering off; limit_rate 20k; }}\n\
         location /plain {{ alias html/data; }}\n\
         location /xal {{ alias html/data; add_header X-Accel-Limit-Rate 20480; }}\n\
         {extra}\n}}\n"
    );
    Server::start_with(1, &block, |p| p.write("html/data", vec![b'x'; DATA]))
}

#[test]
fn limit_rate_paces_a_file_on_the_event_loop_without_spinning() {
    let s = rate_server("");
    let worker = s.worker_pids()[0];
    let cpu_before = cpu_ticks(worker);
    let (r, took) = timed_get(&s, "/file");
    let cpu = cpu_ticks(worker) - cpu_before;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), DATA);
    // 20k a second: the first second's allowance, one more, then the rest.
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(cpu < 50, "the worker spun while waiting: {cpu} ticks");
    let (r, took) = timed_get(&s, "/sendfile");
    assert_eq!(r.body.len(), DATA);
    assert!(took >= Duration::from_millis(1800), "{took:?}");
    // limit_rate_after beyond the file: no wait at all.
    let (r, took) = timed_get(&s, "/after");
    assert_eq!(r.body.len(), DATA);
    assert!(took < Duration::from_millis(900), "{took:?}");
    s.assert_clean_log();
}

#[test]
fn limit_rate_with_variables_and_set_limit_rate() {
    let s = rate_server("");
    let (r, took) = timed_get(&s, "/var?l=20k&a=0");
    assert_eq!(r.body.len(), DATA);
    assert!(took >= Duration::from_millis(1800), "{took:?}");
    let (r, took) = timed_get(&s, "/var?l=20k&a=100k");
    assert_eq!(r.body.len(), DATA);
    assert!(took < Duration::from_millis(900), "{took:?}");
    // Unset variables: no limit, and nginx's error line for the bad size.
    let (_, took) = timed_get(&s, "/var");
    assert!(took < Duration::from_millis(900), "{took:?}");
    assert!(
        s.error_log().contains("invalid size \"\""),
        "{}",
        s.error_log()
    );
    // `set $limit_rate` is read back in bytes and limits the response.
    let (r, took) = timed_get(&s, "/set?l=20k");
    assert_eq!(r.header("X-Rate"), Some("20480"), "{}", show(&r));
    assert!(took >= Duration::from_millis(1800), "{took:?}");
    let (r, _) = timed_get(&s, "/set?l=bad");
    assert_eq!(r.header("X-Rate"), Some("0"), "{}", show(&r));
    assert!(s.error_log().contains("invalid $limit_rate \"bad\""));
}

#[test]
fn limit_rate_applies_to_proxied_responses_and_x_accel_limit_rate() {
    let s = rate_server("");
    let (r, took) = timed_get(&s, "/proxied");
    assert_eq!(r.body.len(), DATA);
    assert!(took >= Duration::from_millis(1800), "{took:?}");
    // The upstream asks for the rate itself.
    let (r, took) = timed_get(&s, "/accel");
    assert_eq!(r.body.len(), DATA);
    assert!(r.header("X-Accel-Limit-Rate").is_none(), "{}", show(&r));
    assert!(took >= Duration::from_millis(1800), "{took:?}");
    // ... unless the location ignores it.
    let (r, took) = timed_get(&s, "/ignored");
    assert_eq!(r.body.len(), DATA);
    assert!(took < Duration::from_millis(900), "{took:?}");
    // nginx sends an unbuffered response unlimited.
    let (r, took) = timed_get(&s, "/unbuffered");
    assert_eq!(r.body.len(), DATA);
    assert!(took < Duration::from_millis(900), "{took:?}");
}

#[test]
fn limit_rate_is_per_request_on_a_kept_alive_connection() {
    let s = rate_server("");
    let mut c = s.connect();
    let t0 = Instant::now();
    send(&mut c, &get_request("/after"));
    let r = next_response(&mut c);
    assert_eq!(r.body.len(), DATA);
    // The second request's allowance counts its own bytes, not the first one's.
    send(&mut c, &get_request("/after"));
    let r = next_response(&mut c);
    assert_eq!(r.body.len(), DATA);
    assert!(
        t0.elapsed() < Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn keepalive_time_closes_an_old_connection_after_its_request() {
    let s = Server::start(
        "server { listen 127.0.0.1:PORT; keepalive_time 1s; location / { return 200 ok; } }",
    );
    let mut c = s.connect();
    send(&mut c, &get_request("/"));
    let r = next_response(&mut c);
    assert_eq!(r.header("Connection"), Some("keep-alive"), "{}", show(&r));
    std::thread::sleep(Duration::from_millis(1300));
    send(&mut c, &get_request("/"));
    let r = next_response(&mut c);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Connection"), Some("close"), "{}", show(&r));
    c.set_read_timeout(Some(Duration::from_secs(3))).ok();
    let mut rest = Vec::new();
    assert!(matches!(c.read_to_end(&mut rest), Ok(0)), "still open");
}

/// A client that asks for a large file and reads nothing until `send_timeout` closes
/// its connection: what its reads end with.
fn stalled_download_ends(reset: &str) -> std::io::Result<usize> {
    let s = Server::start_with(
        1,
        &format!(
            "server {{ listen 127.0.0.1:PORT; send_timeout 500ms; {reset}\n\
             location / {{ root html; }} }}"
        ),
        |p| p.write("html/big", vec![b'x'; 8 << 20]),
    );
    let mut c = s.connect();
    send(&mut c, &get_request("/big"));
    std::thread::sleep(Duration::from_millis(1800));
    c.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        match c.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n,
            Err(e) => return Err(e),
        }
    }
}

#[test]
fn reset_timedout_connection_resets_a_timed_out_client() {
    let ended = stalled_download_ends("reset_timedout_connection on;");
    assert!(
        matches!(&ended, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "{ended:?}"
    );
    // Off (the default): an orderly close after what was sent.
    let ended = stalled_download_ends("");
    assert!(matches!(ended, Ok(n) if n > 0), "{ended:?}");
}

#[test]
fn send_lowat_is_ignored_with_nginx_warning() {
    let p = Prefix::new();
    p.write(
        "conf/portico.conf",
        format!(
            "{}http {{ send_lowat 0; server {{ listen 127.0.0.1:{}; location / {{ send_lowat 1k; }} }} }}\n",
            main_preamble(1),
            free_port()
        ),
    );
    let (code, _, err) = run_cli(&p.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err.matches("\"send_lowat\" is not supported, ignored in")
            .count(),
        2,
        "{err}"
    );
}

/// The raw bytes of a GET of `path` on a connection the server closes after it.
fn raw_get(s: &Server, path: &str, version: &str) -> String {
    let mut c = s.connect();
    send(
        &mut c,
        format!("GET {path} {version}\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    String::from_utf8_lossy(&read_to_end(&mut c)).into_owned()
}

#[test]
fn add_trailer_ends_a_chunked_body_with_trailers_as_nginx() {
    let s = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT; server_name localhost; root html;\n\
         add_trailer X-Var $host; add_trailer X-Always yes always; add_trailer X-Empty '';\n\
         location /t1 { }\n\
         location /ret { return 200 text; }\n\
         location /proxy { proxy_pass http://127.0.0.1:PORT/t1; add_trailer X-Length $upstream_response_length; }\n\
         location /plain { chunked_transfer_encoding off; }\n}",
        |p| {
            p.write("html/t1", "SEE-THIS");
            p.write("html/plain/f", "plain");
        },
    );
    let r = raw_get(&s, "/t1", "HTTP/1.1");
    assert!(r.contains("Transfer-Encoding: chunked\r\n"), "{r}");
    assert!(!r.contains("Content-Length"), "{r}");
    assert!(
        r.ends_with("\r\n\r\n8\r\nSEE-THIS\r\n0\r\nX-Var: localhost\r\nX-Always: yes\r\n\r\n"),
        "{r}"
    );
    // A body given whole, an upstream's body, an error (only `always`).
    let r = raw_get(&s, "/ret", "HTTP/1.1");
    assert!(
        r.ends_with("4\r\ntext\r\n0\r\nX-Var: localhost\r\nX-Always: yes\r\n\r\n"),
        "{r}"
    );
    let r = raw_get(&s, "/proxy", "HTTP/1.1");
    assert!(r.contains("8\r\nSEE-THIS\r\n0\r\nX-Length: "), "{r}");
    assert!(!r.contains("X-Var"), "{r}");
    let r = raw_get(&s, "/nx", "HTTP/1.1");
    assert!(
        r.contains("0\r\nX-Always: yes\r\n\r\n") && !r.contains("X-Var"),
        "{r}"
    );
    // No chunks, no trailers: HTTP/1.0, chunked_transfer_encoding off.
    let r = raw_get(&s, "/t1", "HTTP/1.0");
    assert!(
        r.ends_with("\r\n\r\nSEE-THIS") && !r.contains("X-Always"),
        "{r}"
    );
    let r = raw_get(&s, "/plain/f", "HTTP/1.1");
    assert!(
        r.ends_with("\r\n\r\nplain") && !r.contains("X-Always"),
        "{r}"
    );
    s.assert_clean_log();
}

#[test]
fn a_kept_alive_connection_goes_on_after_trailers() {
    let s = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT; root html; location / { add_trailer X-T done; } }",
        |p| p.write("html/f", "abc"),
    );
    let mut c = s.connect();
    for _ in 0..2 {
        send(&mut c, &get_request("/f"));
        let r = next_response(&mut c);
        assert_eq!(r.text(), "abc");
        assert_eq!(r.header("Connection"), Some("keep-alive"), "{}", show(&r));
    }
}

fn post(s: &Server, path: &str, body: &[u8]) -> Response {
    let mut c = s.connect();
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    send(&mut c, &raw);
    next_response(&mut c)
}

#[test]
fn client_body_in_file_only_keeps_or_cleans_the_body_file() {
    let s = Server::start(
        "server { listen 127.0.0.1:PORT; client_body_buffer_size 2k;\n\
         add_header X-Body-File $request_body_file; add_header X-Body $request_body;\n\
         location /on { client_body_in_file_only on; proxy_pass http://127.0.0.1:PORT/echo; }\n\
         location /clean { client_body_in_file_only clean; proxy_pass http://127.0.0.1:PORT/echo; }\n\
         location /off { proxy_pass http://127.0.0.1:PORT/echo; }\n\
         location /echo { return 200 ok; } }",
    );
    // `on`: even a small body goes to a named file, which stays after the request.
    let r = post(&s, "/on", b"0123456789");
    let file = r.header("X-Body-File").expect("a body file").to_string();
    assert!(r.header("X-Body").is_none(), "{}", show(&r));
    assert!(file.contains("client_body_temp"), "{file}");
    assert_eq!(std::fs::read(&file).expect("kept"), b"0123456789");
    std::fs::remove_file(&file).ok();
    // `clean`: removed when the request ends.
    let r = post(&s, "/clean", b"abc");
    let file = r.header("X-Body-File").expect("a body file").to_string();
    assert!(
        s.wait_for(2, || !std::path::Path::new(&file).exists()),
        "{file} left behind"
    );
    // `off`: in memory while it fits, a file past client_body_buffer_size.
    let r = post(&s, "/off", b"small");
    assert_eq!(r.header("X-Body"), Some("small"), "{}", show(&r));
    assert!(r.header("X-Body-File").is_none(), "{}", show(&r));
    let r = post(&s, "/off", &[b'x'; 5000]);
    assert!(r.header("X-Body-File").is_some(), "{}", show(&r));
    assert!(
        s.error_log().contains("[notice]")
            && s.error_log()
                .contains("a client request body is buffered to a temporary file"),
        "{}",
        s.error_log()
    );
}
