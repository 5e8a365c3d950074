//! The HTTP/2 layer (`portico::http2`, transport-free) against real clients: curl
//! `--http2-prior-knowledge`, nghttp and Python's `h2`, over a loopback socket served by a
//! plain blocking loop of this test. It checks framing, HPACK (Huffman included: the
//! clients use it), both flow-control windows both ways, concurrent streams, trailers,
//! resets and malformed requests; the worker's own loop is not involved yet.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use portico::http2::{Event, Limits, Session, hpack};

/// A response in progress: the stream and what is left of its body.
struct Out {
    stream: u32,
    body: Vec<u8>,
    sent: usize,
}

fn respond(s: &mut Session, outs: &mut Vec<Out>, stream: u32, head_only: bool, body: Vec<u8>) {
    let mut block = Vec::new();
    hpack::encode_status(&mut block, 200);
    hpack::encode_field(&mut block, b"content-type", b"text/plain");
    hpack::encode_field(
        &mut block,
        b"content-length",
        body.len().to_string().as_bytes(),
    );
    s.send_headers(stream, &block, head_only);
    if !head_only {
        outs.push(Out {
            stream,
            body,
            sent: 0,
        });
    }
}

/// Serves one connection: `GET /big` is 1 MB, a body is answered with its length, anything
/// else with its method, path and cookie.
fn serve(mut sock: TcpStream) {
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut s = Session::new(Limits::default());
    let mut buf = vec![0u8; 64 * 1024];
    let mut filled = 0;
    let mut outs: Vec<Out> = Vec::new();
    let mut uploads: HashMap<u32, usize> = HashMap::new();
    loop {
        for o in outs.iter_mut() {
            o.sent += s.send_data(o.stream, &o.body[o.sent..], true);
        }
        outs.retain(|o| o.sent < o.body.len() && s.is_open(o.stream));
        let pending = s.pending().to_vec();
        if sock.write_all(&pending).is_err() {
            return;
        }
        s.advance(pending.len());
        if s.finished() {
            return;
        }
        let n = match sock.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        filled += n;
        s.new_read();
        let mut pos = 0;
        loop {
            let (used, event) = match s.receive(&buf[pos..filled]) {
                Ok(r) => r,
                Err(_) => {
                    let _ = sock.write_all(s.pending());
                    return;
                }
            };
            match event {
                Some(Event::Request { stream, end_stream }) => {
                    let (head, list) = s.request();
                    let field = |r: &std::ops::Range<usize>| {
                        String::from_utf8_lossy(&list.bytes[r.clone()]).into_owned()
                    };
                    let (method, path) = (field(&head.method), field(&head.path));
                    let cookie: Vec<String> = list
                        .iter()
                        .filter(|(n, _)| *n == b"cookie")
                        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                        .collect();
                    if !end_stream {
                        uploads.insert(stream, 0);
                    } else if path == "/big" {
                        respond(&mut s, &mut outs, stream, false, vec![b'b'; 1 << 20]);
                    } else {
                        let text = format!("{method} {path} [{}]\n", cookie.join("; "));
                        respond(
                            &mut s,
                            &mut outs,
                            stream,
                            method == "HEAD",
                            text.into_bytes(),
                        );
                    }
                }
                Some(Event::Data {
                    stream,
                    data,
                    end_stream,
                }) => {
                    let len = data.len();
                    *uploads.entry(stream).or_default() += len;
                    s.consumed(stream, len);
                    if end_stream {
                        let got = uploads.remove(&stream).unwrap_or(0);
                        let text = format!("received {got}\n").into_bytes();
                        respond(&mut s, &mut outs, stream, false, text);
                    }
                }
                Some(Event::Trailers { stream }) => {
                    let got = uploads.remove(&stream).unwrap_or(0);
                    let (_, list) = s.request();
                    let names: Vec<String> = list
                        .iter()
                        .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
                        .collect();
                    let text = format!("received {got} trailers {}\n", names.join(","));
                    respond(&mut s, &mut outs, stream, false, text.into_bytes());
                }
                Some(Event::Malformed { stream, .. }) => {
                    // Answered 400, as the worker answers it (nginx 1.24+).
                    let mut block = Vec::new();
                    hpack::encode_status(&mut block, 400);
                    s.send_headers(stream, &block, true);
                }
                _ => {}
            }
            if used == 0 {
                break;
            }
            pos += used;
        }
        buf.copy_within(pos..filled, 0);
        filled -= pos;
    }
}

/// A server for `connections` connections; its port.
fn server(connections: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for sock in listener.incoming().take(connections).flatten() {
            std::thread::spawn(move || serve(sock));
        }
    });
    port
}

fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: {tool} is not installed (.ci/run installs it)");
    }
    found
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn curl_with_prior_knowledge() {
    if !have("curl") {
        return;
    }
    let port = server(4);
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let out = run(Command::new("curl").args([
        "-s",
        "--http2-prior-knowledge",
        "-H",
        "Cookie: a=1",
        "-w",
        "%{http_version}",
        &url("/hello?x=y"),
    ]));
    assert_eq!(out, "GET /hello?x=y [a=1]\n2");
    // A request body over four times the stream window: WINDOW_UPDATEs as it is consumed.
    let dir = std::env::temp_dir().join(format!("portico-h2-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("upload");
    std::fs::write(&file, vec![b'u'; 300_000]).unwrap();
    let out = run(Command::new("curl").args([
        "-s",
        "--http2-prior-knowledge",
        "--data-binary",
        &format!("@{}", file.display()),
        &url("/up"),
    ]));
    assert_eq!(out, "received 300000\n");
    // A response over sixteen times the initial windows.
    let out = Command::new("curl")
        .args(["-s", "--http2-prior-knowledge", &url("/big")])
        .output()
        .unwrap();
    assert_eq!(out.stdout.len(), 1 << 20);
    let out = run(Command::new("curl").args(["-sI", "--http2-prior-knowledge", &url("/h")]));
    assert!(out.starts_with("HTTP/2 200"), "{out}");
    assert!(out.contains("content-length: 11"), "{out}");
}

#[test]
fn nghttp_concurrent_streams() {
    if !have("nghttp") {
        return;
    }
    let port = server(2);
    let out = run(Command::new("nghttp").args([
        "-n",
        "-s",
        "-m",
        "20",
        &format!("http://127.0.0.1:{port}/big"),
    ]));
    assert_eq!(out.matches("/big").count(), 20, "{out}");
    let out = run(Command::new("nghttp").arg(format!("http://127.0.0.1:{port}/n")));
    assert_eq!(out, "GET /n []\n");
}

#[test]
fn python_h2_client() {
    let ok = Command::new("python3")
        .args(["-c", "import h2"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: Python's h2 is not installed (.ci/run installs it)");
        return;
    }
    let port = server(1);
    let out = run(Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/h2_client.py"
        ))
        .arg(port.to_string()));
    assert_eq!(
        out,
        "1 200 GET /a [x=1; y=2]\n\
         3 200 received 5 trailers x-sum\n\
         5 400 \n\
         7 400 \n\
         9 200 GET /after []\n\
         ping ok\n"
    );
}
