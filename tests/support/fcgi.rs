//! A scripted FastCGI application for the tests that need what php-fpm never sends
//! (broken records, a head over the buffer, a close in the middle of a record): it reads
//! each request's records (parameters decoded, the body gathered) and writes back the
//! bytes its handler returns, counting the connections it accepted.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One request as the application read it.
#[derive(Debug, Default, Clone)]
pub struct FcgiRequest {
    /// BEGIN_REQUEST's `FCGI_KEEP_CONN` flag.
    pub keep_conn: bool,
    /// The parameters, in order.
    pub params: Vec<(String, String)>,
    /// The body.
    pub stdin: Vec<u8>,
}

impl FcgiRequest {
    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The parameters as a map.
    pub fn map(&self) -> HashMap<String, String> {
        self.params.iter().cloned().collect()
    }
}

/// What the handler answers: bytes to write, and whether to close after them.
pub struct Answer {
    /// Raw bytes (records, or anything).
    pub bytes: Vec<u8>,
    /// Close the connection after writing them.
    pub close: bool,
}

/// The running application.
pub struct FakeFcgi {
    /// Its port.
    pub port: u16,
    accepted: Arc<AtomicUsize>,
}

impl FakeFcgi {
    /// Starts it; `handler` answers each request (with the connection's number, from 0).
    pub fn start(
        handler: impl Fn(&FcgiRequest, usize) -> Answer + Send + Sync + 'static,
    ) -> FakeFcgi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let handler = Arc::new(handler);
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let h = handler.clone();
                std::thread::spawn(move || serve(s, n, &*h));
            }
        });
        FakeFcgi { port, accepted }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

fn serve(mut s: TcpStream, conn: usize, handler: &dyn Fn(&FcgiRequest, usize) -> Answer) {
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    loop {
        let Some(req) = read_request(&mut s) else {
            return;
        };
        let answer = handler(&req, conn);
        if s.write_all(&answer.bytes).is_err() || answer.close {
            return;
        }
    }
}

fn read_exact(s: &mut impl Read, n: usize) -> Option<Vec<u8>> {
    let mut v = vec![0u8; n];
    s.read_exact(&mut v).ok()?;
    Some(v)
}

/// Reads one request's records from `s` (any stream: the tests' unix sockets too).
pub fn read_request(s: &mut impl Read) -> Option<FcgiRequest> {
    let mut req = FcgiRequest::default();
    let mut params = Vec::new();
    loop {
        let h = read_exact(s, 8)?;
        let (kind, len, pad) = (h[1], usize::from(u16::from_be_bytes([h[4], h[5]])), h[6]);
        let content = read_exact(s, len)?;
        read_exact(s, usize::from(pad))?;
        match kind {
            1 => req.keep_conn = content.get(2).is_some_and(|f| f & 1 != 0),
            4 => params.extend_from_slice(&content),
            5 if len == 0 => break,
            5 => req.stdin.extend_from_slice(&content),
            _ => {}
        }
    }
    let mut i = 0;
    let length = |i: &mut usize| -> Option<usize> {
        let b = *params.get(*i)?;
        if b < 128 {
            *i += 1;
            Some(usize::from(b))
        } else {
            let v = params.get(*i..*i + 4)?;
            *i += 4;
            Some((u32::from_be_bytes([v[0] & 0x7f, v[1], v[2], v[3]])) as usize)
        }
    };
    while i < params.len() {
        let (n, v) = (length(&mut i)?, length(&mut i)?);
        let name = String::from_utf8_lossy(params.get(i..i + n)?).into_owned();
        let value = String::from_utf8_lossy(params.get(i + n..i + n + v)?).into_owned();
        i += n + v;
        req.params.push((name, value));
    }
    Some(req)
}

/// A record of `kind` with `content` and `pad` bytes of padding.
pub fn record(kind: u8, content: &[u8], pad: u8) -> Vec<u8> {
    let len = content.len() as u16;
    let mut v = vec![1, kind, 0, 1, (len >> 8) as u8, len as u8, pad, 0];
    v.extend_from_slice(content);
    v.extend(std::iter::repeat_n(0u8, usize::from(pad)));
    v
}

/// STDOUT with `text`, the empty STDOUT, and END_REQUEST: a whole response.
pub fn response(text: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for piece in text.chunks(0xffff) {
        v.extend(record(6, piece, 0));
    }
    v.extend(record(6, b"", 0));
    v.extend(record(3, &[0; 8], 0));
    v
}
