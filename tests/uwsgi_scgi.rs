//! uwsgi and SCGI end to end: Portico in front of a real uWSGI serving a Python WSGI
//! application, and in front of a standard-library SCGI server, each on a TCP port and a
//! unix socket, with nginx's `conf/uwsgi_params` and `conf/scgi_params`. Checked against
//! nginx 1.22 with the same servers.

#[path = "support/apps.rs"]
mod apps;
mod common;

use std::io::Write;
use std::time::Duration;

use apps::App;
use common::{Prefix, Server, read_response};

fn app_dir(kind: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "portico-{kind}-{}-{}",
        std::process::id(),
        common::free_port()
    ))
}

fn params(prefix: &Prefix) {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    for name in ["uwsgi_params", "scgi_params"] {
        prefix.write(
            &format!("conf/{name}"),
            std::fs::read(shipped.join(name)).expect("shipped params"),
        );
    }
}

/// Portico with `/tcp/` and `/unix/` to the application (`module` is `uwsgi` or `scgi`).
fn server(module: &str, app: &App, extra: &str) -> Server {
    let conf = format!(
        "server {{ listen 127.0.0.1:PORT; server_name localhost;\n\
           location /tcp/ {{ include {module}_params; {module}_pass 127.0.0.1:{port}; {extra} }}\n\
           location /unix/ {{ include {module}_params; {module}_pass unix:{sock}; {extra} }} }}",
        port = app.port,
        sock = app.socket.display(),
    );
    Server::start_with(1, &conf, params)
}

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nX-Client: me\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn get_close(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").into_bytes()
}

fn large_body() -> Vec<u8> {
    (0..1024 * 1024).map(|i| (i % 253) as u8).collect()
}

#[test]
fn uwsgi_serves_a_wsgi_app_over_tcp_and_a_unix_socket() {
    let Some(app) = App::uwsgi(&app_dir("uwsgi")) else {
        return;
    };
    let s = server("uwsgi", &app, "");
    for via in ["tcp", "unix"] {
        let r = s.request(&post(&format!("/{via}/echo?q=1"), b"hello"));
        assert_eq!(r.status, 200, "{via}: {}", s.error_log());
        assert_eq!(r.text(), "hello");
        assert_eq!(r.header("X-Env-REQUEST-METHOD"), Some("POST"));
        assert_eq!(r.header("X-Env-PATH-INFO"), Some(&*format!("/{via}/echo")));
        assert_eq!(r.header("X-Env-QUERY-STRING"), Some("q=1"));
        assert_eq!(r.header("X-Env-CONTENT-LENGTH"), Some("5"));
        assert_eq!(r.header("X-Env-HTTP-X-CLIENT"), Some("me"));
        assert_eq!(r.header("Content-Length"), Some("5"));
    }
    // The application's own status line.
    let r = s.request(&get_close("/tcp/status"));
    assert_eq!(
        (r.status, r.reason.as_str(), r.text().as_str()),
        (404, "Not Found", "not here\n")
    );
    s.assert_clean_log();
}

#[test]
fn uwsgi_large_bodies_both_ways_and_keep_alive_to_the_client() {
    let Some(app) = App::uwsgi(&app_dir("uwsgi")) else {
        return;
    };
    let s = server("uwsgi", &app, "");
    let body = large_body();
    let mut c = s.connect();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(&post("/unix/echo", &body)).unwrap();
    let r = read_response(&mut c, false).expect("response");
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert!(r.body == body, "{} bytes back", r.body.len());
    // A body of unknown length, in chunks, on a connection that stays.
    let mut c = s.connect();
    for _ in 0..2 {
        c.write_all(b"GET /tcp/big?n=200000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let r = read_response(&mut c, false).expect("response");
        assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
        assert_eq!(r.body.len(), 2_000_000);
        assert!(r.text().ends_with("000199999\n"));
    }
    s.assert_clean_log();
}

#[test]
fn scgi_requests_as_the_specification_wants_them() {
    let Some(app) = App::scgi(&app_dir("scgi")) else {
        return;
    };
    let s = server("scgi", &app, "");
    for via in ["tcp", "unix"] {
        let r = s.request(&post(&format!("/{via}/echo?q=1"), b"hello"));
        assert_eq!(r.status, 200, "{via}: {} {}", r.text(), s.error_log());
        assert_eq!(r.text(), "hello");
        assert_eq!(r.header("X-Param-REQUEST-METHOD"), Some("POST"));
        assert_eq!(r.header("X-Param-CONTENT-LENGTH"), Some("5"));
        assert_eq!(r.header("X-Param-QUERY-STRING"), Some("q=1"));
        assert_eq!(r.header("X-Param-HTTP-X-CLIENT"), Some("me"));
    }
    let r = s.request(&get_close("/tcp/status"));
    assert_eq!(
        (r.status, r.reason.as_str(), r.text().as_str()),
        (404, "Not Found", "not here\n")
    );
    let r = s.request(&get_close("/tcp/http"));
    assert_eq!(
        (r.status, r.reason.as_str(), r.text().as_str()),
        (201, "Created", "made\n")
    );
    let r = s.request(&get_close("/unix/redirect"));
    assert_eq!((r.status, r.reason.as_str()), (302, "Moved Temporarily"));
    assert_eq!(r.header("Location"), Some("/next"));
    // A chunked body is read whole first: SCGI needs its length up front.
    let r = s.request(
        b"POST /tcp/echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\
          Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    );
    assert_eq!(
        (r.text().as_str(), r.header("X-Param-CONTENT-LENGTH")),
        ("abcde", Some("5"))
    );
    s.assert_clean_log();
}

#[test]
fn scgi_large_bodies_and_a_broken_application() {
    let Some(app) = App::scgi(&app_dir("scgi")) else {
        return;
    };
    let s = server("scgi", &app, "scgi_request_buffering off;");
    let body = large_body();
    let mut c = s.connect();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(&post("/tcp/echo", &body)).unwrap();
    let r = read_response(&mut c, false).expect("response");
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert!(r.body == body, "{} bytes back", r.body.len());
    let r = s.request(&get_close("/unix/big?n=300000"));
    assert_eq!(r.body.len(), 3_000_000);
    // Half a head, then the close: 502 and nginx's line; the next request is served.
    let mut c = s.connect();
    c.write_all(b"GET /tcp/broken HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let r = read_response(&mut c, false).expect("response");
    assert_eq!(r.status, 502);
    let line = format!(
        "upstream prematurely closed connection while reading response header from upstream, \
         client: 127.0.0.1, server: localhost, request: \"GET /tcp/broken HTTP/1.1\", \
         upstream: \"scgi://127.0.0.1:{}\", host: \"localhost\"",
        app.port
    );
    assert!(
        s.wait_for(5, || s.error_log().contains(&line)),
        "{}",
        s.error_log()
    );
    c.write_all(b"GET /tcp/status HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut c, false).expect("response").status, 404);
    // A head that comes in two parts: the client gets none of its bytes before it is whole
    // (they were written to it raw while the rest was awaited).
    c.write_all(b"GET /tcp/slowhead HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let r = read_response(&mut c, false).expect("response");
    assert_eq!(
        (r.status, r.header("Content-Type"), r.text().as_str()),
        (200, Some("text/plain"), "slow\n")
    );
    s.assert_clean_log();
}
