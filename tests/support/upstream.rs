//! A small in-process HTTP/1.1 upstream with byte-level control, for the proxy tests.
//!
//! Each accepted connection gets a thread; requests on it are answered in turn. What the
//! upstream saw (connections, and each request's line, headers and body) is recorded so a
//! test can prove keep-alive reuse, buffering and retries.
//!
//! Answers by the path's end: `.../s/CODE` → status CODE with a short body naming the request
//! (a 401 with `WWW-Authenticate`); `.../big/CODE`
//! → status CODE, `Content-Length: 1000000`, and only the first 10 bytes of it (the
//! connection stays open until the proxy closes it); anything else → 200.
//!
//! Query parameters shape the answer (for the cache tests): each `h=NAME:VALUE` adds a
//! header line (`+` is a space), `size=N` makes the body N bytes (after the usual text
//! line), `chunked=1` sends it chunked, `delay=MS` answers after MS milliseconds,
//! `not_modified=1` answers a request with If-None-Match or If-Modified-Since 304.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the upstream received it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// `METHOD TARGET HTTP/1.x`
    pub line: String,
    /// Header lines as sent, lowercased names.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// The connection's number (1-based).
    pub conn: usize,
}

impl Seen {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The running upstream.
pub struct Upstream {
    /// Its port on 127.0.0.1.
    pub port: u16,
    conns: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    /// Starts listening on an ephemeral port.
    pub fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
        let port = listener.local_addr().expect("addr").port();
        let conns = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (c, o, s) = (conns.clone(), open.clone(), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                o.fetch_add(1, Ordering::SeqCst);
                let (o, s) = (o.clone(), s.clone());
                std::thread::spawn(move || {
                    serve(stream, n, &s);
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Upstream {
            port,
            conns,
            open,
            seen,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

fn serve(mut s: TcpStream, conn: usize, seen: &Mutex<Vec<Seen>>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if !fill(&mut s, &mut buf) {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        buf.drain(..head_end);
        let mut lines = head.split("\r\n");
        let line = lines.next().unwrap_or_default().to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let get = |n: &str| headers.iter().find(|(h, _)| h == n).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let size_end = loop {
                    if let Some(i) = find(&buf, b"\r\n") {
                        break i;
                    }
                    if !fill(&mut s, &mut buf) {
                        return;
                    }
                };
                let size_text = String::from_utf8_lossy(&buf[..size_end]).into_owned();
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .unwrap_or(0);
                buf.drain(..size_end + 2);
                while buf.len() < size + 2 {
                    if !fill(&mut s, &mut buf) {
                        return;
                    }
                }
                body.extend_from_slice(&buf[..size]);
                buf.drain(..size + 2);
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
            while buf.len() < n {
                if !fill(&mut s, &mut buf) {
                    return;
                }
            }
            body = buf.drain(..n).collect();
        }
        let target = line.split(' ').nth(1).unwrap_or("/").to_string();
        let body_len = body.len();
        if let Ok(mut v) = seen.lock() {
            v.push(Seen {
                line: line.clone(),
                headers: headers.clone(),
                body,
                conn,
            });
        }
        let code = |p: &str| {
            target
                .find(p)
                .and_then(|i| target.get(i + p.len()..i + p.len() + 3))
                .and_then(|c| c.parse::<u16>().ok())
        };
        if let Some(status) = code("/big/") {
            let head = format!("HTTP/1.1 {status} X\r\nContent-Length: 1000000\r\n\r\n0123456789");
            let _ = s.write_all(head.as_bytes());
            // Hold the connection: the proxy must close it.
            let mut sink = [0u8; 1024];
            while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
            return;
        }
        let status = code("/s/").unwrap_or(200);
        let mut text = format!("upstream {status} {line} body={body_len} conn={conn}\n");
        let mut auth = if status == 401 {
            "WWW-Authenticate: Basic realm=\"up\"\r\n".to_string()
        } else {
            String::new()
        };
        let query = target.split_once('?').map_or("", |(_, q)| q);
        let mut chunked = false;
        for param in query.split('&') {
            if let Some(h) = param.strip_prefix("h=") {
                let h = h.replace('+', " ");
                if let Some((n, v)) = h.split_once(':') {
                    auth.push_str(&format!("{n}: {v}\r\n"));
                }
            } else if let Some(n) = param.strip_prefix("size=") {
                let n: usize = n.parse().unwrap_or(0);
                text.extend((0..n).map(|i| char::from(b'a' + (i % 26) as u8)));
            } else if param == "chunked=1" {
                chunked = true;
            } else if let Some(ms) = param.strip_prefix("delay=") {
                // A slow upstream (the cache lock tests): the answer waits.
                std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
            }
        }
        // `not_modified=1`: a conditional request (If-None-Match or If-Modified-Since)
        // is answered 304 without a body (the cache revalidation tests).
        let conditional = headers
            .iter()
            .any(|(n, _)| n == "if-none-match" || n == "if-modified-since");
        if conditional && query.split('&').any(|p| p == "not_modified=1") {
            let answer = format!("HTTP/1.1 304 X\r\nX-Up: 1\r\n{auth}\r\n");
            if s.write_all(answer.as_bytes()).is_err() {
                return;
            }
            continue;
        }
        let answer = if chunked {
            let mut a = format!(
                "HTTP/1.1 {status} X\r\nTransfer-Encoding: chunked\r\nX-Up: 1\r\n{auth}\r\n"
            );
            for part in text.as_bytes().chunks(1000) {
                a.push_str(&format!(
                    "{:x}\r\n{}\r\n",
                    part.len(),
                    String::from_utf8_lossy(part)
                ));
            }
            a.push_str("0\r\n\r\n");
            a
        } else {
            format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nX-Up: 1\r\n{auth}\r\n{text}",
                text.len()
            )
        };
        if s.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn fill(s: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 65536];
    match s.read(&mut chunk) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
