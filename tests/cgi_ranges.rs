//! `fastcgi_force_ranges`, `uwsgi_force_ranges` and `scgi_force_ranges`: nginx's range
//! filter on a gateway's response, as `proxy_force_ranges` does for a proxied one (checked
//! against nginx 1.22): a 200 of known length answers one range with 206 and
//! `Content-Range`, an unsatisfiable one with 416, several ranges or a failed `If-Range`
//! with the whole 200 and `Accept-Ranges: bytes`; the application's own `Accept-Ranges`
//! is dropped; a response of unknown length, or without the directive, is passed as it is.

mod common;
#[path = "support/fcgi.rs"]
mod fcgi;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::{Server, read_response};
use fcgi::{Answer, FakeFcgi, record};

const BODY: &[u8] = b"0123456789abcdefghij";

/// A FastCGI application answering BODY with its length, in STDOUT records of 3 bytes
/// (the range is cut across reads), except `/unknown` (no length) and `/etag`.
fn app() -> FakeFcgi {
    FakeFcgi::start(|req, _| {
        let uri = req.param("REQUEST_URI").unwrap_or("").to_string();
        let head = match uri.as_str() {
            "/unknown" => "Content-Type: text/plain\r\n\r\n".to_string(),
            _ => format!(
                "Content-Type: text/plain\r\nContent-Length: {}\r\nAccept-Ranges: none\r\n\
                 ETag: \"v1\"\r\n\r\n",
                BODY.len()
            ),
        };
        let text = [head.as_bytes(), BODY].concat();
        let mut bytes = Vec::new();
        for piece in text.chunks(3) {
            bytes.extend(record(6, piece, 1));
        }
        bytes.extend(record(6, b"", 0));
        bytes.extend(record(3, &[0; 8], 0));
        Answer {
            bytes,
            close: false,
        }
    })
}

fn fastcgi_server(app: &FakeFcgi, force: &str) -> Server {
    Server::start(&format!(
        "upstream app {{ server 127.0.0.1:{}; keepalive 2; }}\n\
         server {{ listen 127.0.0.1:PORT; server_name localhost;\n\
           location / {{ fastcgi_pass app; fastcgi_keep_conn on; {force}\n\
             fastcgi_param REQUEST_URI $request_uri; }} }}",
        app.port
    ))
}

fn get(s: &Server, path: &str, extra: &str) -> common::Response {
    s.request(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n")
            .as_bytes(),
    )
}

#[test]
fn fastcgi_force_ranges_answers_ranges_as_nginx() {
    let app = app();
    let s = fastcgi_server(&app, "fastcgi_force_ranges on;");
    let r = get(&s, "/a", "Range: bytes=4-12\r\n");
    assert_eq!((r.status, r.reason.as_str()), (206, "Partial Content"));
    assert_eq!(r.body, &BODY[4..13]);
    assert_eq!(r.header("Content-Range"), Some("bytes 4-12/20"));
    assert_eq!(r.header("Content-Length"), Some("9"));
    assert_eq!(r.header("Accept-Ranges"), None);
    // A suffix range, and the last bytes.
    let r = get(&s, "/a", "Range: bytes=-3\r\n");
    assert_eq!((r.status, &r.body[..]), (206, &BODY[17..]));
    // Unsatisfiable: 416 with the whole length.
    let r = get(&s, "/a", "Range: bytes=50-\r\n");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("Content-Range"), Some("bytes */20"));
    // No range, several ranges, a stale If-Range: the whole body, offering ranges; the
    // application's Accept-Ranges is not passed.
    for extra in [
        "",
        "Range: bytes=0-1,5-6\r\n",
        "Range: bytes=0-1\r\nIf-Range: \"v0\"\r\n",
    ] {
        let r = get(&s, "/a", extra);
        assert_eq!((r.status, &r.body[..]), (200, BODY), "{extra}");
        let ranges: Vec<_> = r
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("accept-ranges"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(ranges, ["bytes"], "{extra}");
    }
    // A matching If-Range keeps the range.
    let r = get(&s, "/a", "Range: bytes=0-1\r\nIf-Range: \"v1\"\r\n");
    assert_eq!((r.status, &r.body[..]), (206, &BODY[..2]));
    // Unknown length: passed as it is.
    let r = get(&s, "/unknown", "Range: bytes=0-1\r\n");
    assert_eq!((r.status, &r.body[..]), (200, BODY));
    // Kept connections stay clean after a cut body.
    let mut c = s.connect();
    for _ in 0..3 {
        c.write_all(b"GET /a HTTP/1.1\r\nHost: localhost\r\nRange: bytes=1-2\r\n\r\n")
            .unwrap();
        let r = read_response(&mut c, false).expect("response");
        assert_eq!((r.status, &r.body[..]), (206, &BODY[1..3]));
    }
    s.assert_clean_log();
}

#[test]
fn without_fastcgi_force_ranges_the_response_is_passed_as_it_is() {
    let app = app();
    let s = fastcgi_server(&app, "");
    let r = get(&s, "/a", "Range: bytes=4-12\r\n");
    assert_eq!((r.status, &r.body[..]), (200, BODY));
    assert_eq!(r.header("Accept-Ranges"), Some("none"));
    assert_eq!(r.header("Content-Range"), None);
}

/// A one-shot uwsgi or SCGI application: reads the request packet (its length from the
/// uwsgi header or the netstring), answers `answer` and closes.
fn one_shot(uwsgi: bool, answer: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(10)));
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let want = if uwsgi {
                    (got.len() >= 4).then(|| 4 + usize::from(u16::from_le_bytes([got[1], got[2]])))
                } else {
                    got.iter().position(|&b| b == b':').and_then(|colon| {
                        let n: usize = std::str::from_utf8(&got[..colon]).ok()?.parse().ok()?;
                        Some(colon + 1 + n + 1)
                    })
                };
                if want.is_some_and(|w| got.len() >= w) {
                    break;
                }
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(answer);
        }
    });
    port
}

#[test]
fn uwsgi_and_scgi_force_ranges() {
    let uwsgi = one_shot(
        true,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n\r\n0123456789abcdefghij",
    );
    let scgi = one_shot(
        false,
        b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n\r\n0123456789abcdefghij",
    );
    let s = Server::start(&format!(
        "server {{ listen 127.0.0.1:PORT; server_name localhost;\n\
           location /u/ {{ uwsgi_pass 127.0.0.1:{uwsgi}; uwsgi_force_ranges on; }}\n\
           location /s/ {{ scgi_pass 127.0.0.1:{scgi}; scgi_force_ranges on; }}\n\
           location /plain/ {{ scgi_pass 127.0.0.1:{scgi}; }} }}"
    ));
    for path in ["/u/x", "/s/x"] {
        let r = get(&s, path, "Range: bytes=10-\r\n");
        assert_eq!((r.status, &r.body[..]), (206, &BODY[10..]), "{path}");
        assert_eq!(r.header("Content-Range"), Some("bytes 10-19/20"), "{path}");
        let r = get(&s, path, "");
        assert_eq!(r.header("Accept-Ranges"), Some("bytes"), "{path}");
    }
    let r = get(&s, "/plain/x", "Range: bytes=10-\r\n");
    assert_eq!((r.status, &r.body[..]), (200, BODY));
    assert_eq!(r.header("Accept-Ranges"), None);
}
