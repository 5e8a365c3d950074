//! HTTP/1.x connection handling against nginx 1.22's behaviour: keep-alive, HTTP/1.0,
//! pipelining, limits and timeouts, `Date`/`Server`, request bodies on static files, and
//! the answer to malformed input (status, `Connection`, error page, error-log line), after
//! which the same worker must go on serving.
//!
//! Every test runs the real binary on a loopback port with raw byte requests.

mod common;

use common::{
    Prefix, Response, Server, error_page, free_port, get_request, http_date, next_response,
    read_response, read_to_end, send, server_token, show,
};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const INDEX: &str = "<p>index</p>\n";
const ALPHA: &str = "alpha\n";
const BRAVO: &str = "bravo bravo\n";
const CHARLIE: &str = "charlie charlie charlie\n";

/// Starts a server with `http_directives` at http level and one static site on `PORT`.
fn start(http_directives: &str) -> Server {
    let block = format!(
        "{http_directives}\n\
         server {{\n\
             listen 127.0.0.1:PORT;\n\
             server_name localhost;\n\
             root html;\n\
             location / {{ }}\n\
         }}\n"
    );
    let server = Server::start_with(1, &block, |p| {
        p.write("html/index.html", INDEX);
        p.write("html/a.txt", ALPHA);
        p.write("html/b.txt", BRAVO);
        p.write("html/c.txt", CHARLIE);
    });
    // The master listens before its worker is forked; tests compare worker pids later.
    assert!(
        server.wait_for(5, || server.worker_pids().len() == 1),
        "no worker: {:?}",
        server.worker_pids()
    );
    server
}

fn assert_ok(resp: &Response, body: &str) {
    assert_eq!(resp.status, 200, "{}", show(resp));
    assert_eq!(resp.text(), body);
    assert_eq!(
        resp.header("Content-Length"),
        Some(body.len().to_string().as_str())
    );
}

/// Waits for the server to close `s` and returns how long that took. Fails if the server
/// sends anything, or keeps the connection open past `limit`.
fn expect_closed(s: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    s.set_read_timeout(Some(limit)).expect("timeout");
    let mut buf = [0u8; 4096];
    match s.read(&mut buf) {
        Ok(0) => started.elapsed(),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => started.elapsed(),
        Ok(n) => panic!(
            "expected close, got {n} bytes: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) => panic!("connection still open after {:?} ({e})", started.elapsed()),
    }
}

/// Reads one full raw response on a connection the server closes (Connection: close).
fn raw_exchange(server: &Server, raw: &[u8]) -> String {
    let mut s = server.connect();
    send(&mut s, raw);
    String::from_utf8_lossy(&read_to_end(&mut s)).into_owned()
}

// ---------------------------------------------------------------------------------------
// Keep-alive, Connection: close, HTTP/1.0, pipelining

#[test]
fn keepalive_serves_several_requests_on_one_connection() {
    let server = start("");
    let mut s = server.connect();
    for (path, body) in [
        ("/a.txt", ALPHA),
        ("/b.txt", BRAVO),
        ("/c.txt", CHARLIE),
        ("/", INDEX),
    ] {
        send(&mut s, &get_request(path));
        let resp = next_response(&mut s);
        assert_ok(&resp, body);
        assert_eq!(resp.header("Connection"), Some("keep-alive"), "{path}");
    }
    server.assert_clean_log();
}

#[test]
fn connection_close_is_answered_and_honoured() {
    let server = start("");
    let mut s = server.connect();
    send(
        &mut s,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    let resp = next_response(&mut s);
    assert_ok(&resp, ALPHA);
    assert_eq!(resp.header("Connection"), Some("close"));
    expect_closed(&mut s, Duration::from_secs(5));
    server.assert_clean_log();
}

#[test]
fn http10_closes_by_default() {
    let server = start("");
    // nginx answers an HTTP/1.0 request with an HTTP/1.1 status line and closes.
    let raw = raw_exchange(&server, b"GET /a.txt HTTP/1.0\r\n\r\n");
    assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");
    assert!(raw.contains("\r\nConnection: close\r\n"), "{raw}");
    assert!(raw.ends_with(&format!("\r\n\r\n{ALPHA}")), "{raw}");
    server.assert_clean_log();
}

#[test]
fn http10_keep_alive_on_request() {
    let server = start("");
    let mut s = server.connect();
    for (path, body) in [("/a.txt", ALPHA), ("/b.txt", BRAVO)] {
        send(
            &mut s,
            format!("GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").as_bytes(),
        );
        let resp = next_response(&mut s);
        assert_ok(&resp, body);
        assert_eq!(resp.header("Connection"), Some("keep-alive"));
    }
    // Without the header again, HTTP/1.0 closes.
    send(&mut s, b"GET /c.txt HTTP/1.0\r\n\r\n");
    let resp = next_response(&mut s);
    assert_ok(&resp, CHARLIE);
    assert_eq!(resp.header("Connection"), Some("close"));
    expect_closed(&mut s, Duration::from_secs(5));
    server.assert_clean_log();
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = start("");
    let mut s = server.connect();
    let mut burst = get_request("/a.txt");
    burst.extend_from_slice(&get_request("/b.txt"));
    burst.extend_from_slice(b"GET /c.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    send(&mut s, &burst);
    // The last request closes, so everything the server sends is read at once and split:
    // read_response would drop bytes of the next response that came in the same segment.
    let raw = read_to_end(&mut s);
    let responses = split_responses(&raw);
    assert_eq!(responses.len(), 3, "{}", String::from_utf8_lossy(&raw));
    let [first, second, third] = <[Response; 3]>::try_from(responses).expect("three");
    assert_ok(&first, ALPHA);
    assert_ok(&second, BRAVO);
    assert_ok(&third, CHARLIE);
    assert_eq!(first.header("Connection"), Some("keep-alive"));
    assert_eq!(second.header("Connection"), Some("keep-alive"));
    assert_eq!(third.header("Connection"), Some("close"));
    server.assert_clean_log();
}

#[test]
fn pipelined_requests_with_bodies_are_answered_in_order() {
    // Each static GET discards its body; the bytes after it are the next request.
    let server = start("");
    let mut s = server.connect();
    let burst = b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello\
                  GET /b.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
                  GET /c.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    send(&mut s, burst);
    let raw = read_to_end(&mut s);
    let responses = split_responses(&raw);
    assert_eq!(responses.len(), 3, "{}", String::from_utf8_lossy(&raw));
    assert_ok(&responses[0], ALPHA);
    assert_ok(&responses[1], BRAVO);
    assert_ok(&responses[2], CHARLIE);
    server.assert_clean_log();
}

/// Splits back-to-back responses that each carry Content-Length.
fn split_responses(mut raw: &[u8]) -> Vec<Response> {
    let mut out = Vec::new();
    while let Some(end) = common::find(raw, b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let _version = parts.next();
        let status = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
        let reason = parts.next().unwrap_or_default().to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| {
                l.split_once(':')
                    .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            })
            .collect();
        let mut resp = Response {
            status,
            reason,
            headers,
            body: Vec::new(),
        };
        let len: usize = resp
            .header("Content-Length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let body_end = (end + 4 + len).min(raw.len());
        resp.body = raw[end + 4..body_end].to_vec();
        out.push(resp);
        raw = &raw[body_end..];
    }
    assert!(
        raw.is_empty(),
        "trailing bytes after the responses: {:?}",
        String::from_utf8_lossy(raw)
    );
    out
}

#[test]
fn pipelined_requests_split_mid_head_are_answered() {
    let server = start("");
    let mut s = server.connect();
    let mut burst = get_request("/a.txt");
    burst.extend_from_slice(&get_request("/b.txt"));
    // The second head is cut in the middle of a header name.
    let cut = burst.len() - 10;
    send(&mut s, &burst[..cut]);
    assert_ok(&next_response(&mut s), ALPHA);
    std::thread::sleep(Duration::from_millis(100));
    send(&mut s, &burst[cut..]);
    assert_ok(&next_response(&mut s), BRAVO);
    server.assert_clean_log();
}

#[test]
fn keepalive_requests_limit_closes_after_last() {
    // nginx: once connection->requests reaches keepalive_requests, r->keepalive = 0, so
    // that response says `Connection: close` and the connection is closed after it.
    let server = start("keepalive_requests 2;");
    let mut s = server.connect();
    send(&mut s, &get_request("/a.txt"));
    let first = next_response(&mut s);
    assert_ok(&first, ALPHA);
    assert_eq!(first.header("Connection"), Some("keep-alive"));
    send(&mut s, &get_request("/b.txt"));
    let second = next_response(&mut s);
    assert_ok(&second, BRAVO);
    assert_eq!(second.header("Connection"), Some("close"));
    expect_closed(&mut s, Duration::from_secs(5));
    server.assert_clean_log();
}

#[test]
fn keepalive_timeout_closes_idle_connection() {
    let server = start("keepalive_timeout 1s;");
    let mut s = server.connect();
    send(&mut s, &get_request("/a.txt"));
    let resp = next_response(&mut s);
    assert_ok(&resp, ALPHA);
    assert_eq!(resp.header("Connection"), Some("keep-alive"));
    // No `Keep-Alive:` header: nginx sends one only with keepalive_timeout's second argument.
    assert_eq!(resp.header("Keep-Alive"), None);
    let idle = expect_closed(&mut s, Duration::from_secs(5));
    assert!(
        idle >= Duration::from_millis(800),
        "closed too early: {idle:?}"
    );
    assert!(idle <= Duration::from_secs(3), "closed too late: {idle:?}");
    server.assert_clean_log();
}

#[test]
fn keepalive_timeout_header_argument_adds_keep_alive_header() {
    // The second argument of keepalive_timeout is sent as `Keep-Alive: timeout=N`, right
    // after `Connection: keep-alive` in ngx_http_header_filter.
    let server = start("keepalive_timeout 10s 7;");
    let mut s = server.connect();
    send(&mut s, &get_request("/a.txt"));
    let resp = next_response(&mut s);
    assert_ok(&resp, ALPHA);
    assert_eq!(resp.header("Keep-Alive"), Some("timeout=7"));
    let names = resp.header_names();
    let connection = names
        .iter()
        .position(|n| *n == "Connection")
        .expect("Connection");
    assert_eq!(names.get(connection + 1), Some(&"Keep-Alive"), "{names:?}");
    server.assert_clean_log();
}

#[test]
fn keepalive_timeout_zero_disables_keepalive() {
    let server = start("keepalive_timeout 0;");
    let mut s = server.connect();
    send(&mut s, &get_request("/a.txt"));
    let resp = next_response(&mut s);
    assert_ok(&resp, ALPHA);
    assert_eq!(resp.header("Connection"), Some("close"));
    expect_closed(&mut s, Duration::from_secs(5));
    server.assert_clean_log();
}

// ---------------------------------------------------------------------------------------
// Date and Server

#[test]
fn date_header_is_current_rfc1123() {
    let server = start("");
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs()
    };
    let before = now();
    let resp = server.get("/a.txt");
    let after = now();
    let date = resp.header("Date").expect("Date header").to_string();
    // nginx caches the time once per event-loop turn: allow a second either side.
    let candidates: Vec<String> = (before.saturating_sub(1)..=after + 1)
        .map(http_date)
        .collect();
    assert!(
        candidates.contains(&date),
        "Date {date:?} is not one of {candidates:?}"
    );
    server.assert_clean_log();
}

#[test]
fn server_header_and_error_page_carry_the_version() {
    let server = start("");
    let ok = server.get("/a.txt");
    assert_eq!(ok.header("Server"), Some(server_token().as_str()));
    let missing = server.get("/nope.txt");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("Server"), Some(server_token().as_str()));
    assert_eq!(missing.text(), error_page("404 Not Found", &server_token()));
    server.assert_clean_log();
}

#[test]
fn server_tokens_off_hides_the_version() {
    let server = start("server_tokens off;");
    let ok = server.get("/a.txt");
    assert_eq!(ok.header("Server"), Some("portico"));
    let missing = server.get("/nope.txt");
    assert_eq!(missing.header("Server"), Some("portico"));
    assert_eq!(missing.text(), error_page("404 Not Found", "portico"));
    server.assert_clean_log();
}

#[test]
fn error_response_head_matches_nginx() {
    let server = start("");
    let mut s = server.connect();
    send(&mut s, &get_request("/nope.txt"));
    let resp = next_response(&mut s);
    assert_eq!((resp.status, resp.reason.as_str()), (404, "Not Found"));
    // ngx_http_header_filter order; a 404 keeps the connection alive.
    assert_eq!(
        resp.header_names(),
        [
            "Server",
            "Date",
            "Content-Type",
            "Content-Length",
            "Connection"
        ]
    );
    assert_eq!(resp.header("Content-Type"), Some("text/html"));
    assert_eq!(resp.header("Connection"), Some("keep-alive"));
    assert_eq!(
        resp.header("Content-Length"),
        Some(resp.body.len().to_string().as_str())
    );
    send(&mut s, &get_request("/a.txt"));
    assert_ok(&next_response(&mut s), ALPHA);
    server.assert_clean_log();
}

// ---------------------------------------------------------------------------------------
// Request bodies on a static file: the static handler discards them.

#[test]
fn content_length_body_on_get_is_discarded() {
    let server = start("");
    let mut s = server.connect();
    send(
        &mut s,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhello world",
    );
    assert_ok(&next_response(&mut s), ALPHA);
    send(&mut s, &get_request("/b.txt"));
    assert_ok(&next_response(&mut s), BRAVO);
    server.assert_clean_log();
}

#[test]
fn body_sent_after_the_response_is_still_discarded() {
    // nginx answers a static GET without waiting for its body (ngx_http_discard_request_body
    // returns at once), then reads and drops the body before the next request.
    let server = start("");
    let mut s = server.connect();
    send(
        &mut s,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhello",
    );
    assert_ok(&next_response(&mut s), ALPHA);
    let mut rest = b" world".to_vec();
    rest.extend_from_slice(&get_request("/b.txt"));
    send(&mut s, &rest);
    assert_ok(&next_response(&mut s), BRAVO);
    server.assert_clean_log();
}

#[test]
fn chunked_body_on_get_is_discarded() {
    let server = start("");
    let mut s = server.connect();
    send(
        &mut s,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
    );
    assert_ok(&next_response(&mut s), ALPHA);
    send(&mut s, &get_request("/b.txt"));
    assert_ok(&next_response(&mut s), BRAVO);
    server.assert_clean_log();
}

#[test]
fn body_within_client_max_body_size_is_accepted() {
    let server = start("client_max_body_size 10;");
    let mut s = server.connect();
    send(
        &mut s,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n0123456789",
    );
    assert_ok(&next_response(&mut s), ALPHA);
    server.assert_clean_log();
}

// ---------------------------------------------------------------------------------------
// Bad input: nginx's answer, then the same worker goes on serving.

/// Sends `raw` on a fresh connection and checks the answer: `status`, the error page with
/// `title` (nginx's `<title>`), `Connection: close` and the close itself, and an error-log
/// line holding `log` (`[info]` for errors in the head, as nginx logs them); then that the
/// worker still serves.
fn assert_rejected(server: &Server, raw: &[u8], status: u16, title: &str, log: &str) {
    assert_rejected_at(server, raw, status, title, ("info", log));
}

fn assert_rejected_at(
    server: &Server,
    raw: &[u8],
    status: u16,
    title: &str,
    (level, message): (&str, &str),
) {
    let workers = server.worker_pids();
    let mut s = server.connect();
    send(&mut s, raw);
    let resp =
        read_response(&mut s, false).unwrap_or_else(|| panic!("no response to {:?}", short(raw)));
    assert_eq!(resp.status, status, "{:?}:\n{}", short(raw), show(&resp));
    assert_eq!(resp.header("Server"), Some(server_token().as_str()));
    assert_eq!(resp.header("Content-Type"), Some("text/html"));
    // Errors found while reading the head come before ngx_http_handler sets r->keepalive;
    // 400/413/414/500/501 clear it in ngx_http_special_response_handler.
    assert_eq!(resp.header("Connection"), Some("close"), "{:?}", short(raw));
    assert_eq!(
        resp.header("Content-Length"),
        Some(resp.body.len().to_string().as_str())
    );
    assert_eq!(resp.text(), error_page(title, &server_token()));
    expect_closed(&mut s, Duration::from_secs(5));
    assert_still_serving(server, &workers);
    assert_log_line(server, level, message);
    server.assert_clean_log();
}

/// Waits for an error-log line holding `message` and checks it is at `[level]`.
fn assert_log_line(server: &Server, level: &str, message: &str) {
    let found = || {
        server
            .error_log()
            .lines()
            .find(|l| l.contains(message))
            .map(str::to_string)
    };
    assert!(
        server.wait_for(3, || found().is_some()),
        "error log lacks {message:?}:\n{}",
        server.error_log()
    );
    let line = found().unwrap_or_default();
    assert!(
        line.contains(&format!(" [{level}] ")),
        "expected [{level}]: {line}"
    );
}

fn assert_still_serving(server: &Server, workers: &[i32]) {
    assert_ok(&server.get("/a.txt"), ALPHA);
    assert_eq!(server.worker_pids(), workers, "the worker was replaced");
}

fn short(raw: &[u8]) -> String {
    String::from_utf8_lossy(&raw[..raw.len().min(120)]).into_owned()
}

#[test]
fn lowercase_method_is_400() {
    let server = start("");
    // ngx_http_parse_request_line accepts only A-Z, '_' and '-' in a method.
    assert_rejected(
        &server,
        b"get /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
        400,
        "400 Bad Request",
        "client sent invalid method",
    );
}

#[test]
fn junk_after_version_is_400() {
    let server = start("");
    assert_rejected(
        &server,
        b"GET /a.txt HTTP/1.1 junk\r\nHost: localhost\r\n\r\n",
        400,
        "400 Bad Request",
        "client sent invalid request",
    );
}

#[test]
fn head_with_malformed_request_line_gets_no_page() {
    let server = start("");
    // nginx knows the method once the space after it is read: HEAD gets the head only.
    for raw in [
        &b"HEAD /a.txt HTTP/1.1 junk\r\nHost: localhost\r\n\r\n"[..],
        &b"\r\nHEAD /a.txt y z\r\n\r\n"[..],
    ] {
        let mut s = server.connect();
        send(&mut s, raw);
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.contains("Content-Length: "), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "a page after the head: {text}");
    }
    // A method cut short by a bad byte is not HEAD: the page is sent.
    let mut s = server.connect();
    send(&mut s, b"HEAD\x01 /a.txt HTTP/1.1\r\n\r\n");
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(String::from_utf8_lossy(&got).contains("<center><h1>400 Bad Request</h1></center>"));
}

#[test]
fn tls_handshake_on_plain_port_is_400() {
    let server = start("");
    // The first bytes of a TLS ClientHello: not a method character.
    assert_rejected(
        &server,
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
        400,
        "400 Bad Request",
        "client sent invalid method",
    );
}

#[test]
fn missing_host_on_http11_is_400() {
    let server = start("");
    assert_rejected(
        &server,
        b"GET /a.txt HTTP/1.1\r\nUser-Agent: t\r\n\r\n",
        400,
        "400 Bad Request",
        "client sent HTTP/1.1 request without \"Host\" header",
    );
}

#[test]
fn duplicate_host_is_400() {
    let server = start("");
    assert_rejected(
        &server,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nHost: other.example\r\n\r\n",
        400,
        "400 Bad Request",
        "client sent duplicate host header: \"Host: other.example\", previous value: \"Host: localhost\"",
    );
}

#[test]
fn duplicate_content_length_is_400() {
    let server = start("");
    assert_rejected(
        &server,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        400,
        "400 Bad Request",
        "client sent duplicate header line: \"Content-Length: 5\", previous value: \"Content-Length: 5\"",
    );
}

#[test]
fn invalid_content_length_is_400() {
    let server = start("");
    assert_rejected(
        &server,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n",
        400,
        "400 Bad Request",
        "client sent invalid \"Content-Length\" header",
    );
}

#[test]
fn negative_content_length_is_400() {
    let server = start("");
    assert_rejected(
        &server,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n",
        400,
        "400 Bad Request",
        "client sent invalid \"Content-Length\" header",
    );
}

#[test]
fn transfer_encoding_with_content_length_is_400() {
    let server = start("");
    assert_rejected(
        &server,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n\
          0\r\n\r\n",
        400,
        "400 Bad Request",
        "client sent \"Content-Length\" and \"Transfer-Encoding\" headers at the same time",
    );
}

#[test]
fn unknown_transfer_encoding_is_501() {
    let server = start("");
    assert_rejected(
        &server,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
        "501 Not Implemented",
        "client sent unknown \"Transfer-Encoding\": \"gzip\"",
    );
}

#[test]
fn http2_version_is_505() {
    let server = start("");
    // ngx_http_parse_request_line: a major version above 1 is NGX_HTTP_PARSE_INVALID_VERSION,
    // which ngx_http_process_request_line answers with 505.
    assert_rejected(
        &server,
        b"GET /a.txt HTTP/2.0\r\nHost: localhost\r\n\r\n",
        505,
        "505 HTTP Version Not Supported",
        "client sent invalid version",
    );
}

#[test]
fn uri_longer_than_large_buffer_is_414() {
    let server = start("large_client_header_buffers 4 8k;");
    let raw = format!(
        "GET /{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(10 * 1024)
    );
    assert_rejected(
        &server,
        raw.as_bytes(),
        414,
        "414 Request-URI Too Large",
        "client sent too long URI",
    );
}

#[test]
fn uri_within_large_buffer_is_served() {
    // A 6k request line does not fit the 1k client_header_buffer_size but fits one large
    // buffer: nginx moves it there and goes on.
    let server = start("client_header_buffer_size 1k;\nlarge_client_header_buffers 4 8k;");
    let mut s = server.connect();
    send(
        &mut s,
        format!(
            "GET /a.txt?q={} HTTP/1.1\r\nHost: localhost\r\n\r\n",
            "a".repeat(6 * 1024)
        )
        .as_bytes(),
    );
    let resp = next_response(&mut s);
    assert_ok(&resp, ALPHA);
    assert_eq!(resp.header("Connection"), Some("keep-alive"));
    send(&mut s, &get_request("/a.txt"));
    assert_ok(&next_response(&mut s), ALPHA);
    server.assert_clean_log();
}

#[test]
fn header_longer_than_large_buffer_is_400_too_large() {
    let server = start("large_client_header_buffers 4 8k;");
    let workers = server.worker_pids();
    let raw = format!(
        "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nX-Long: {}\r\n\r\n",
        "a".repeat(9000)
    );
    let mut s = server.connect();
    send(&mut s, raw.as_bytes());
    let resp = read_response(&mut s, false).expect("response");
    // nginx's internal 494 goes out as `400 Bad Request` with its own page.
    assert_eq!((resp.status, resp.reason.as_str()), (400, "Bad Request"));
    assert_eq!(resp.header("Connection"), Some("close"));
    let page = format!(
        "<html>\r\n<head><title>400 Request Header Or Cookie Too Large</title></head>\r\n<body>\r\n\
         <center><h1>400 Bad Request</h1></center>\r\n<center>Request Header Or Cookie Too Large</center>\r\n\
         <hr><center>{}</center>\r\n</body>\r\n</html>\r\n",
        server_token()
    );
    assert_eq!(resp.text(), page);
    expect_closed(&mut s, Duration::from_secs(5));
    assert_still_serving(&server, &workers);
    assert_log_line(
        &server,
        "info",
        "client sent too long header line: \"X-Long: aaaa",
    );
    server.assert_clean_log();
}

#[test]
fn too_many_large_header_buffers_is_400_too_large() {
    // Four 8k buffers, each header about 5k: the head needs more than four buffers.
    let server = start("large_client_header_buffers 4 8k;");
    let workers = server.worker_pids();
    let mut raw = String::from("GET /a.txt HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..10 {
        raw.push_str(&format!("X-H{i}: {}\r\n", "b".repeat(5000)));
    }
    raw.push_str("\r\n");
    let mut s = server.connect();
    send(&mut s, raw.as_bytes());
    let resp = read_response(&mut s, false).expect("response");
    assert_eq!(resp.status, 400);
    assert!(
        resp.text()
            .contains("<title>400 Request Header Or Cookie Too Large</title>"),
        "{}",
        resp.text()
    );
    assert_still_serving(&server, &workers);
    server.assert_clean_log();
}

#[test]
fn body_over_client_max_body_size_is_413() {
    let server = start("client_max_body_size 10;");
    let body = "x".repeat(100);
    let raw =
        format!("GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{body}");
    // ngx_http_core_find_config_handler checks the declared length against the location's
    // limit for every method; the message is [error] level.
    assert_rejected_at(
        &server,
        raw.as_bytes(),
        413,
        "413 Request Entity Too Large",
        ("error", "client intended to send too large body: 100 bytes"),
    );
}

#[test]
fn invalid_chunk_size_is_400() {
    let server = start("");
    // Found by the discard filter in the static handler: [error] level.
    assert_rejected_at(
        &server,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        400,
        "400 Bad Request",
        ("error", "client sent invalid chunked body"),
    );
}

#[test]
fn transfer_encoding_on_http10_is_400() {
    let server = start("");
    assert_rejected(
        &server,
        b"GET /a.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "400 Bad Request",
        "client sent HTTP/1.0 request with \"Transfer-Encoding\" header",
    );
}

#[test]
fn client_header_timeout_closes_without_response() {
    // ngx_http_read_request_header: on timeout nginx logs "client timed out" and closes
    // the connection (ngx_http_close_request with 408) without sending anything.
    let server = start("client_header_timeout 1s;");
    let workers = server.worker_pids();
    let mut s = server.connect();
    send(&mut s, b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n");
    let waited = expect_closed(&mut s, Duration::from_secs(5));
    assert!(
        waited >= Duration::from_millis(800),
        "closed too early: {waited:?}"
    );
    assert!(
        waited <= Duration::from_secs(3),
        "closed too late: {waited:?}"
    );
    assert_still_serving(&server, &workers);
    let message =
        "client timed out (110: Connection timed out) while reading client request headers";
    assert_log_line(&server, "info", message);
    server.assert_clean_log();
}

#[test]
fn client_header_timeout_is_access_logged_as_408() {
    // ngx_http_close_request(r, NGX_HTTP_REQUEST_TIME_OUT) still runs the log phase: the
    // request gets an access-log line with status 408 and no bytes sent.
    let server = start("client_header_timeout 1s;");
    let mut s = server.connect();
    send(&mut s, b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n");
    expect_closed(&mut s, Duration::from_secs(5));
    assert!(
        server.wait_for(3, || !server.access_log().is_empty()),
        "no access-log line"
    );
    let log = server.access_log();
    assert!(log.starts_with("127.0.0.1 - - ["), "{log}");
    assert!(
        log.ends_with("] \"GET /a.txt HTTP/1.1\" 408 0 \"-\" \"-\"\n"),
        "{log}"
    );
    server.assert_clean_log();
}

#[test]
fn many_bad_requests_in_a_row_leave_the_worker_alive() {
    let server = start("");
    let workers = server.worker_pids();
    let bad: [&[u8]; 6] = [
        b"\r\n\r\n\x00\x01\x02\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\n: novalue\r\n\r\n",
        b"GET /%zz HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: localhost\r\n\r\n",
    ];
    for _ in 0..3 {
        for raw in bad {
            let mut s = server.connect();
            send(&mut s, raw);
            let _ = read_to_end(&mut s);
        }
    }
    assert_still_serving(&server, &workers);
    server.assert_clean_log();
}

#[test]
fn worker_connections_limit_sheds_and_recovers() {
    // Five slots, one taken by the listener (as in nginx): four clients fit.
    let prefix = Prefix::new();
    let port = free_port();
    prefix.write(
        "conf/portico.conf",
        format!(
            "daemon off;\nworker_processes 1;\nerror_log logs/error.log info;\npid logs/portico.pid;\n\
             events {{ worker_connections 5; }}\n\
             http {{ server {{ listen 127.0.0.1:{port}; root html; }} }}\n"
        ),
    );
    prefix.write("html/a.txt", ALPHA);
    let server = Server::spawn(prefix, port);
    let workers = server.worker_pids();
    // The start-up probe's connection is closed by now; hold four.
    std::thread::sleep(Duration::from_millis(200));
    let mut held: Vec<TcpStream> = (0..4).map(|_| server.connect()).collect();
    for s in &mut held {
        send(s, b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert_ok(&next_response(s), ALPHA);
    }
    // The fifth is accepted and closed at once.
    let mut extra = server.connect();
    let _ = extra.write_all(&get_request("/a.txt"));
    expect_closed(&mut extra, Duration::from_secs(5));
    assert_log_line(&server, "alert", "5 worker_connections are not enough");
    // A freed slot is usable again, by the same worker.
    drop(held.pop());
    std::thread::sleep(Duration::from_millis(200));
    assert_still_serving(&server, &workers);
    server.assert_clean_log_except(&["worker_connections are not enough"]);
}

/// nginx ends the connection after the error pages of its special response handler
/// (`return 500;`, a 400), not after a response that merely has such a status
/// (`return 500 TEXT`, an upstream's 500).
#[test]
fn only_nginx_s_own_error_pages_end_keep_alive() {
    let server = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT; server_name localhost;\n\
           location = /text { return 500 \"text\"; }\n\
           location = /bad { return 400 \"bad\"; }\n\
           location = /page { return 500; } }",
        |_| {},
    );
    let mut s = server.connect();
    for path in ["/text", "/bad"] {
        send(&mut s, &get_request(path));
        let resp = next_response(&mut s);
        assert_eq!(resp.header("Connection"), Some("keep-alive"), "{path}");
    }
    send(&mut s, &get_request("/page"));
    let resp = next_response(&mut s);
    assert_eq!(
        (resp.status, resp.header("Connection")),
        (500, Some("close"))
    );
    server.assert_clean_log();
}
