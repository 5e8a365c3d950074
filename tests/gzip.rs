//! gzip, gzip_static and gunzip over real sockets: every kind of response (static files of
//! every size — kept in memory, compressed once into the file cache, streamed — generated
//! answers, error pages, autoindex, proxied bodies framed every way and cut at odd sizes)
//! decompresses with Python's gzip (and passes `gzip -t`) to exactly what the client would
//! get plain; the headers follow nginx 1.22's (checked side by side).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Server, python_gunzip, read_response};

/// `gzip -t` on the bytes, when the tool is there.
fn gzip_t(data: &[u8]) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = std::env::temp_dir().join(format!("portico-gzip-t-{}-{n}.gz", std::process::id()));
    std::fs::write(&path, data).expect("write");
    if let Ok(status) = Command::new("gzip").arg("-t").arg(&path).status() {
        assert!(status.success(), "gzip -t refuses it");
    }
    let _ = std::fs::remove_file(&path);
}

fn text(len: usize, seed: u64) -> Vec<u8> {
    let words: [&[u8]; 6] = [
        b"<p>server ",
        b"request</p>\n",
        b"gzip ",
        b"upstream ",
        b"{\"id\": 17, ",
        b"\"name\": \"x\"} ",
    ];
    let mut out = Vec::with_capacity(len);
    let mut i = seed;
    while out.len() < len {
        i = i
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        out.extend_from_slice(words[(i >> 33) as usize % words.len()]);
    }
    out.truncate(len);
    out
}

fn get(server: &Server, path: &str, headers: &str) -> common::Response {
    server.request(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n")
            .as_bytes(),
    )
}

const GZ: &str = "Accept-Encoding: gzip, deflate\r\n";

/// A gzipped response: its headers as nginx sends them, and its body's plain bytes.
fn gunzipped(r: &common::Response) -> Vec<u8> {
    assert_eq!(
        r.header("Content-Encoding"),
        Some("gzip"),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("Content-Length"), None);
    assert_eq!(r.header("Accept-Ranges"), None);
    gzip_t(&r.body);
    python_gunzip(&r.body)
}

#[test]
fn static_files_of_every_size_decompress_to_the_file() {
    let files = [
        ("small.html", text(3_000, 1)),
        ("page.html", text(20_000, 2)),
        ("mid.html", text(300_000, 3)),
        ("big.html", text(2_500_000, 4)),
        ("empty.html", Vec::new()),
    ];
    for sendfile in ["on", "off"] {
        let server = Server::start_with(
            1,
            &format!(
                "server {{ listen 127.0.0.1:PORT; server_name localhost; root html; \
                 sendfile {sendfile}; gzip on; gzip_min_length 0; gzip_comp_level 6; \
                 gzip_vary on; location / {{ }} }}"
            ),
            |p| {
                for (name, data) in &files {
                    p.write(&format!("html/{name}"), data);
                }
            },
        );
        for (name, data) in &files {
            // Twice: the second may come from the compressed copy in the file cache.
            for _ in 0..2 {
                let r = get(&server, &format!("/{name}"), GZ);
                assert_eq!(r.status, 200);
                assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
                assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
                assert!(r.header("ETag").is_some_and(|e| e.starts_with("W/\"")));
                assert_eq!(&gunzipped(&r), data, "{name}, sendfile {sendfile}");
            }
            let plain = get(&server, &format!("/{name}"), "");
            assert_eq!(plain.header("Content-Encoding"), None);
            assert_eq!(plain.header("Vary"), Some("Accept-Encoding"));
            assert_eq!(&plain.body, data);
        }
        server.assert_clean_log();
    }
}

#[test]
fn a_changed_file_is_never_served_from_a_stale_compressed_copy() {
    let server = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT; root html; gzip on; location / { } }",
        |p| p.write("html/f.html", text(30_000, 5)),
    );
    for round in 0..3u64 {
        let data = text(30_000 + round as usize, 10 + round);
        server.prefix.write("html/f.html", &data);
        for _ in 0..3 {
            assert_eq!(gunzipped(&get(&server, "/f.html", GZ)), data);
        }
        // Settled (the cache keeps copies of files whose last change is 2 s old).
        std::thread::sleep(Duration::from_millis(2100));
        for _ in 0..3 {
            assert_eq!(gunzipped(&get(&server, "/f.html", GZ)), data);
        }
    }
}

#[test]
fn head_range_and_http10_as_nginx() {
    let data = text(5_000, 6);
    let server = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT; root html; gzip on; location / { }
                  location /v10 { gzip_http_version 1.0; alias html/; } }",
        |p| p.write("html/a.html", &data),
    );
    let head = server.request(
        b"HEAD /a.html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(head.header("Content-Encoding"), Some("gzip"));
    assert_eq!(head.header("Content-Length"), None);
    assert_eq!(head.header("Transfer-Encoding"), None);
    // A range of a compressed response: nginx sends the whole body, compressed.
    let r = get(
        &server,
        "/a.html",
        "Accept-Encoding: gzip\r\nRange: bytes=0-9\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(gunzipped(&r), data);
    // HTTP/1.0: no gzip by default; with gzip_http_version 1.0, no chunks and no keep-alive.
    let r = server.request(b"GET /a.html HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n");
    assert_eq!(r.header("Content-Encoding"), None);
    let mut c = server.connect();
    c.write_all(
        b"GET /v10/a.html HTTP/1.0\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n",
    )
    .expect("send");
    let r = read_response(&mut c, false).expect("response");
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(r.header("Transfer-Encoding"), None);
    assert_eq!(gunzipped(&r), data);
    // 304 is left alone.
    let etag = get(&server, "/a.html", "")
        .header("ETag")
        .expect("etag")
        .to_string();
    let r = get(
        &server,
        "/a.html",
        &format!("Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n"),
    );
    assert_eq!(r.status, 304);
    assert_eq!(r.header("Content-Encoding"), None);
}

#[test]
fn keep_alive_carries_one_compressed_response_after_another() {
    let data = text(40_000, 7);
    let server = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT; root html; gzip on; location / { autoindex on; } }",
        |p| {
            p.write("html/a.html", &data);
            p.write("html/dir/x.html", b"x");
        },
    );
    let mut c = server.connect();
    for path in ["/a.html", "/dir/", "/missing", "/a.html"] {
        c.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n").as_bytes(),
        )
        .expect("send");
        let r = read_response(&mut c, false).expect("response");
        assert_eq!(r.header("Connection"), Some("keep-alive"), "{path}");
        let plain = gunzipped(&r);
        match path {
            "/a.html" => assert_eq!(plain, data),
            "/dir/" => assert!(String::from_utf8_lossy(&plain).contains("x.html")),
            _ => {
                assert_eq!(r.status, 404);
                assert!(String::from_utf8_lossy(&plain).contains("404 Not Found"));
            }
        }
    }
}

#[test]
fn generated_answers_and_error_pages_are_compressed() {
    let server = Server::start_with(
        1,
        "log_format z '$status $gzip_ratio';
         server { listen 127.0.0.1:PORT; root html; gzip on; gzip_types text/plain;
                  access_log logs/z.log z;
           location /ret { return 200 'hello, hello, hello, hello, hello, hello'; }
           location /redir { return 302 /x; }
           location /err { error_page 404 /page.html; }
           location / { } }",
        |p| p.write("html/page.html", text(2_000, 8)),
    );
    let r = get(&server, "/ret", GZ);
    assert_eq!(
        gunzipped(&r),
        b"hello, hello, hello, hello, hello, hello".to_vec()
    );
    // Statuses nginx does not compress.
    let r = get(&server, "/redir", GZ);
    assert_eq!(r.status, 302);
    assert_eq!(r.header("Content-Encoding"), None);
    let r = get(&server, "/err/none", GZ);
    assert_eq!(r.status, 404);
    assert_eq!(gunzipped(&r), text(2_000, 8));
    assert!(server.wait_for(5, || server.prefix.read("logs/z.log").lines().count() >= 3));
    let log = server.prefix.read("logs/z.log");
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines[0].starts_with("200 ") && lines[0] != "200 -", "{log}");
    assert_eq!(lines[1], "302 -");
}

#[test]
fn accept_encoding_of_any_shape_is_read_as_nginx_reads_it() {
    let server = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT; root html; gzip on; location / { } }",
        |p| p.write("html/a.html", text(3_000, 9)),
    );
    let long = format!("Accept-Encoding: {}, gzip\r\n", "x".repeat(7000));
    let cases: [(&str, bool); 10] = [
        ("Accept-Encoding: gzip\r\n", true),
        ("Accept-Encoding: br;q=1, gzip;q=0.5\r\n", true),
        ("Accept-Encoding: GZIP\r\n", true),
        ("Accept-Encoding: gzip;q=0\r\n", false),
        ("Accept-Encoding: gzip;q=0.000\r\n", false),
        ("Accept-Encoding: identity\r\n", false),
        ("Accept-Encoding: x-gzip\r\n", false),
        ("Accept-Encoding: gzip;q=2\r\n", false),
        ("Accept-Encoding: \x7f\x01gzipx\r\n", false),
        (&long, true),
    ];
    for (header, compressed) in cases {
        let r = get(&server, "/a.html", header);
        assert_eq!(r.status, 200, "{header:?}");
        assert_eq!(
            r.header("Content-Encoding").is_some(),
            compressed,
            "{header:?}"
        );
        if compressed {
            assert_eq!(gunzipped(&r), text(3_000, 9));
        } else {
            assert_eq!(r.body, text(3_000, 9));
        }
    }
}

/// An upstream that answers every request with `body`, framed as `framing` says, written
/// in pieces of the given sizes with a pause after each.
fn framed_upstream(body: Vec<u8>, framing: &'static str, pieces: Vec<usize>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let body = body.clone();
            let pieces = pieces.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                while common::find(&buf, b"\r\n\r\n").is_none() {
                    match s.read(&mut tmp) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                }
                let mut head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                                ETag: \"v1\"\r\nAccept-Ranges: bytes\r\n"
                    .to_string();
                match framing {
                    "chunked" => head.push_str("Transfer-Encoding: chunked\r\n"),
                    "length" => head.push_str(&format!("Content-Length: {}\r\n", body.len())),
                    "gzip" => head.push_str(&format!(
                        "Content-Encoding: gzip\r\nContent-Length: {}\r\n",
                        body.len()
                    )),
                    _ => head.push_str("Connection: close\r\n"),
                }
                head.push_str("\r\n");
                if s.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let (mut at, mut k) = (0, 0);
                while at < body.len() {
                    let n = pieces[k % pieces.len()].min(body.len() - at);
                    let piece = &body[at..at + n];
                    let ok = if framing == "chunked" {
                        let mut c = format!("{n:x}\r\n").into_bytes();
                        c.extend_from_slice(piece);
                        c.extend_from_slice(b"\r\n");
                        s.write_all(&c)
                    } else {
                        s.write_all(piece)
                    };
                    if ok.is_err() {
                        return;
                    }
                    at += n;
                    k += 1;
                    if k % 7 == 0 {
                        std::thread::sleep(Duration::from_millis(3));
                    }
                }
                if framing == "chunked" {
                    let _ = s.write_all(b"0\r\n\r\n");
                }
                let _ = s.flush();
            });
        }
    });
    port
}

#[test]
fn proxied_bodies_cut_at_odd_sizes_decompress_to_the_upstream_s_body() {
    let body = text(180_000, 11);
    let pieces = vec![1, 7, 4093, 13, 65_537, 3, 999];
    for framing in ["chunked", "length", "close"] {
        let port = framed_upstream(body.clone(), framing, pieces.clone());
        for buffering in ["on", "off"] {
            let server = Server::start(&format!(
                "server {{ listen 127.0.0.1:PORT; gzip on; gzip_types application/json;
                   location / {{ proxy_pass http://127.0.0.1:{port}; proxy_buffering {buffering};
                                 proxy_buffers 4 4k; }} }}"
            ));
            let r = get(&server, "/", GZ);
            assert_eq!(r.status, 200);
            assert_eq!(r.header("ETag"), Some("W/\"v1\""), "weakened as nginx does");
            assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
            assert_eq!(gunzipped(&r), body, "{framing}, buffering {buffering}");
            // Plain clients get the upstream's body and framing as before.
            let plain = get(&server, "/", "");
            assert_eq!(plain.header("Content-Encoding"), None);
            assert_eq!(plain.body, body);
            // An HTTP/1.0 client: the compressed body ends with the connection.
            let r = server.request(b"GET / HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n");
            assert_eq!(r.header("Content-Encoding"), None, "gzip_http_version 1.1");
            server.assert_clean_log();
        }
    }
}

#[test]
fn gunzip_decompresses_for_clients_without_gzip_and_stops_at_a_corrupt_body() {
    let plain = text(50_000, 12);
    let gz = {
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import gzip,sys; d=sys.stdin.buffer.read(); \
                 sys.stdout.buffer.write(gzip.compress(d[:10000]) + gzip.compress(d[10000:]))",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&plain)
            .expect("feed");
        child.wait_with_output().expect("python3").stdout
    };
    let mut bad = gz.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 16] {
        *b ^= 0x5a;
    }
    let port = framed_upstream(gz.clone(), "gzip", vec![5, 1000, 3]);
    let server = Server::start_with(
        1,
        &format!(
            "server {{ listen 127.0.0.1:PORT; root html; gunzip on; gzip_vary on;
               location /p/ {{ proxy_pass http://127.0.0.1:{port}/; }}
               location / {{ gzip_static always; }} }}"
        ),
        |p| {
            p.write("html/t.html.gz", &gz);
            p.write("html/bad.html.gz", &bad);
        },
    );
    for path in ["/t.html", "/p/x"] {
        let r = get(&server, path, "");
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("Content-Encoding"), None);
        assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
        assert_eq!(r.body, plain, "{path}");
        // A client that accepts gzip gets the bytes as they are.
        let r = get(&server, path, GZ);
        assert_eq!(r.header("Content-Encoding"), Some("gzip"));
        assert_eq!(r.body, gz);
    }
    // A corrupt .gz is served as bytes to a gzip client (gzip_static does not look inside)...
    assert_eq!(get(&server, "/bad.html", GZ).body, bad);
    // ...and ends the response short, logged, for one that gets it decompressed.
    let mut c = server.connect();
    c.write_all(b"GET /bad.html HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    let got = common::read_to_end(&mut c);
    assert!(
        !got.ends_with(b"0\r\n\r\n"),
        "no last chunk after the error"
    );
    assert!(server.wait_for(5, || server.error_log().contains("inflate() failed")));
    // The worker lives on.
    assert_eq!(get(&server, "/t.html", "").body, plain);
}

#[test]
fn gzip_static_serves_the_gz_with_its_own_validators() {
    let plain = text(4_000, 13);
    let server = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT; root html; gzip_vary on;
                  location / { gzip_static on; } }",
        |p| {
            p.write("html/a.html", &plain);
            p.write("html/a.html.gz", b"not really gzip, served as it is");
        },
    );
    let r = get(&server, "/a.html", GZ);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(r.header("Content-Length"), Some("32"));
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(r.header("Accept-Ranges"), None);
    assert_eq!(r.body, b"not really gzip, served as it is");
    let plain_r = get(&server, "/a.html", "");
    assert_eq!(plain_r.body, plain);
    assert_eq!(plain_r.header("Vary"), Some("Accept-Encoding"));
    assert_ne!(r.header("ETag"), plain_r.header("ETag"));
    let etag = r.header("ETag").expect("etag").to_string();
    let r = get(
        &server,
        "/a.html",
        &format!("Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n"),
    );
    assert_eq!(r.status, 304);
}

/// Splits a stream of chunked responses (pipelined answers) into their heads and bodies.
fn split_chunked_responses(mut bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(head_end) = common::find(bytes, b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
        bytes = &bytes[head_end + 4..];
        let mut body = Vec::new();
        loop {
            let Some(line_end) = common::find(bytes, b"\r\n") else {
                return out;
            };
            let size_text = String::from_utf8_lossy(&bytes[..line_end]).into_owned();
            let size = usize::from_str_radix(&size_text, 16).expect("chunk size");
            bytes = &bytes[line_end + 2..];
            if bytes.len() < size + 2 {
                return out;
            }
            body.extend_from_slice(&bytes[..size]);
            bytes = &bytes[size + 2..];
            if size == 0 {
                break;
            }
        }
        out.push((head, body));
    }
    out
}

#[test]
fn pipelined_requests_each_get_their_whole_compressed_body() {
    let data = text(30_000, 14);
    let server = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT; root html; gzip on; gzip_min_length 0;
                  location / { } }",
        |p| {
            p.write("html/empty.html", b"");
            p.write("html/a.html", &data);
        },
    );
    let one =
        |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
    let mut c = server.connect();
    let all = [
        one("/empty.html"),
        one("/a.html"),
        one("/empty.html"),
        one("/a.html"),
    ]
    .concat();
    c.write_all(all.as_bytes()).expect("send");
    c.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut tmp = [0u8; 65536];
    for _ in 0..100 {
        if split_chunked_responses(&got).len() == 4 {
            break;
        }
        match c.read(&mut tmp) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&tmp[..n]),
            Err(_) => {}
        }
    }
    let responses = split_chunked_responses(&got);
    assert_eq!(responses.len(), 4, "each response whole, in order");
    for ((head, gz), want) in responses.iter().zip([&b""[..], &data, b"", &data]) {
        assert!(head.contains("Content-Encoding: gzip"), "{head}");
        assert_eq!(python_gunzip(gz), want);
    }
}

#[test]
fn range_filter_and_x_accel_redirect_see_the_compressed_response() {
    // nginx's range filter runs after gzip: a body of unknown length gets no 206, 416 or
    // Accept-Ranges, also under proxy_force_ranges. The fields an X-Accel-Redirect keeps
    // (Accept-Ranges) and the file's ETag are edited as a file's own.
    let body = text(40_000, 15);
    let port = framed_upstream(body.clone(), "length", vec![4096]);
    let accel_port = common::free_port();
    let page = text(20_000, 16);
    let server = Server::start_with(
        1,
        &format!(
            "server {{ listen 127.0.0.1:PORT; root html; gzip on;
                 gzip_types application/json text/plain;
               location /force/ {{ proxy_pass http://127.0.0.1:{port}; proxy_force_ranges on; }}
               location /accel {{ proxy_pass http://127.0.0.1:{accel_port}; }}
               location /files/ {{ internal; }} }}
             server {{ listen 127.0.0.1:{accel_port};
               location / {{ add_header X-Accel-Redirect /files/page.html;
                             add_header Content-Type text/plain; add_header Accept-Ranges bytes;
                             return 200 x; }} }}"
        ),
        |p| p.write("html/files/page.html", &page),
    );
    let range = "Range: bytes=0-9\r\n";
    let r = get(&server, "/force/", &format!("{GZ}{range}"));
    assert_eq!(r.status, 200, "compressed whole, no 206");
    assert_eq!(r.header("Accept-Ranges"), None);
    assert_eq!(r.header("Content-Range"), None);
    assert_eq!(r.header("ETag"), Some("W/\"v1\""));
    assert_eq!(gunzipped(&r), body);
    let r = get(&server, "/force/", &format!("{GZ}Range: bytes=50000-\r\n"));
    assert_eq!(r.status, 200, "no 416 either");
    assert_eq!(gunzipped(&r), body);
    // Without gzip the range filter answers as before.
    let r = get(&server, "/force/", range);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &body[..10]);

    for headers in [GZ.to_string(), format!("{GZ}{range}")] {
        let r = get(&server, "/accel", &headers);
        assert_eq!(r.status, 200, "{headers}");
        assert_eq!(r.header("Content-Type"), Some("text/plain"));
        assert_eq!(r.header("Content-Encoding"), Some("gzip"));
        assert_eq!(r.header("Accept-Ranges"), None, "cleared by gzip");
        let etag = r.header("ETag").unwrap_or_default();
        assert!(etag.starts_with("W/\""), "weak: {etag}");
        assert_eq!(gunzipped(&r), page);
    }
    let r = get(&server, "/accel", range);
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("Accept-Ranges"),
        Some("bytes"),
        "kept from the upstream"
    );
    assert_eq!(r.body, &page[..10]);
    server.assert_clean_log();
}
