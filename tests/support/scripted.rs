//! An upstream whose answers a test writes: for each request (its line, headers and body),
//! a closure returns the raw response bytes. Listens on TCP or on a unix-domain socket;
//! records every request and the peer address of each connection, so a test can check
//! what the proxy sent and from where.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as received.
#[derive(Clone, Debug, Default)]
pub struct Got {
    /// `METHOD TARGET HTTP/1.x`
    pub line: String,
    /// The head as received, request line included (CRLFs kept).
    pub head: String,
    /// The body (by Content-Length or de-chunked).
    pub body: Vec<u8>,
    /// The connection's number (1-based).
    pub conn: usize,
    /// The connection's peer, as `ip:port` (empty for a unix socket).
    pub peer: String,
}

impl Got {
    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.split("\r\n").skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

type Answer = dyn Fn(&Got) -> Vec<u8> + Send + Sync;

/// The running upstream.
pub struct Scripted {
    /// Its TCP port (0 for a unix socket).
    pub port: u16,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Scripted {
    /// Listens on 127.0.0.1 at an ephemeral port.
    pub fn tcp(answer: impl Fn(&Got) -> Vec<u8> + Send + Sync + 'static) -> Scripted {
        Self::tcp_on("127.0.0.1:0", answer)
    }

    /// Listens on `addr`.
    pub fn tcp_on(
        addr: &str,
        answer: impl Fn(&Got) -> Vec<u8> + Send + Sync + 'static,
    ) -> Scripted {
        let listener = std::net::TcpListener::bind(addr).expect("bind upstream");
        let port = listener.local_addr().expect("addr").port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let (g, answer): (_, Arc<Answer>) = (got.clone(), Arc::new(answer));
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let peer = stream
                    .peer_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                let (g, answer) = (g.clone(), answer.clone());
                std::thread::spawn(move || serve(stream, n + 1, peer, &g, &*answer));
            }
        });
        Scripted { port, got }
    }

    /// Listens on a unix-domain socket at `path`.
    pub fn unix(
        path: &std::path::Path,
        answer: impl Fn(&Got) -> Vec<u8> + Send + Sync + 'static,
    ) -> Scripted {
        let _ = std::fs::remove_file(path);
        let listener = std::os::unix::net::UnixListener::bind(path).expect("bind unix upstream");
        let got = Arc::new(Mutex::new(Vec::new()));
        let (g, answer): (_, Arc<Answer>) = (got.clone(), Arc::new(answer));
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let (g, answer) = (g.clone(), answer.clone());
                std::thread::spawn(move || serve(stream, n + 1, String::new(), &g, &*answer));
            }
        });
        Scripted { port: 0, got }
    }

    /// The requests received so far.
    pub fn got(&self) -> Vec<Got> {
        self.got.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// A response with `status`, extra header lines (each ending in CRLF) and `body`.
pub fn respond(status: u16, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A stream whose reads can time out.
trait Timed: Read + Write {
    fn set_timeout(&self, d: Duration);
}

impl Timed for std::net::TcpStream {
    fn set_timeout(&self, d: Duration) {
        let _ = self.set_read_timeout(Some(d));
    }
}

impl Timed for std::os::unix::net::UnixStream {
    fn set_timeout(&self, d: Duration) {
        let _ = self.set_read_timeout(Some(d));
    }
}

/// How long an idle connection is kept.
const IDLE: Duration = Duration::from_secs(30);

fn serve<S: Timed>(mut s: S, conn: usize, peer: String, got: &Mutex<Vec<Got>>, answer: &Answer) {
    s.set_timeout(IDLE);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let mut fill = |s: &mut S, buf: &mut Vec<u8>| match s.read(&mut chunk) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    };
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
        let mut req = Got {
            line: head.lines().next().unwrap_or_default().to_string(),
            head,
            conn,
            peer: peer.clone(),
            ..Got::default()
        };
        if req
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let eol = loop {
                    if let Some(i) = find(&buf, b"\r\n") {
                        break i;
                    }
                    if !fill(&mut s, &mut buf) {
                        return;
                    }
                };
                let size = usize::from_str_radix(
                    String::from_utf8_lossy(&buf[..eol])
                        .split(';')
                        .next()
                        .unwrap_or("")
                        .trim(),
                    16,
                )
                .unwrap_or(0);
                buf.drain(..eol + 2);
                while buf.len() < size + 2 {
                    if !fill(&mut s, &mut buf) {
                        return;
                    }
                }
                req.body.extend_from_slice(&buf[..size]);
                buf.drain(..size + 2);
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = req
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
        {
            // A body announced and never sent (`proxy_pass_request_body off`) is waited for
            // a little only.
            s.set_timeout(Duration::from_millis(300));
            while buf.len() < n {
                if !fill(&mut s, &mut buf) {
                    break;
                }
            }
            s.set_timeout(IDLE);
            let n = n.min(buf.len());
            req.body = buf.drain(..n).collect();
        }
        let response = answer(&req);
        if let Ok(mut v) = got.lock() {
            v.push(req);
        }
        if response.is_empty() || s.write_all(&response).is_err() {
            return;
        }
    }
}
