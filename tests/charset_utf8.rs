//! Recoding to and from UTF-8 with nginx's own tables (`conf/koi-utf`, `conf/win-utf`), as
//! nginx 1.22's charset filter does it: files (in memory and streamed), generated answers,
//! upstreams (buffered and not, sequences split across reads), before gzip; the length
//! changes, so `Content-Length` goes and the body is chunked (or the connection closes).

mod common;

use common::Server;

fn table(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conf")
        .join(name);
    std::fs::read(path).expect("nginx's table")
}

/// "Привет" in KOI8-R.
const PRIVET_KOI: &[u8] = b"\xf0\xd2\xc9\xd7\xc5\xd4";

fn start() -> Server {
    Server::start_with(
        1,
        "include koi-utf; include win-utf;
         server {
            listen 127.0.0.1:PORT;
            root html;
            location /k/ { charset utf-8; source_charset koi8-r; }
            location /u/ { alias html/k/; charset koi8-r; source_charset utf-8; }
            location /w/ { alias html/k/; charset windows-1251; source_charset utf-8;
                           gzip on; gzip_min_length 1; gzip_types text/plain; }
            location /gen/ { charset koi8-r; source_charset utf-8; default_type text/plain;
                             return 200 \"Привет 日\"; }
            location /up/ { charset koi8-r; source_charset utf-8; proxy_buffering off;
                            proxy_pass http://127.0.0.1:PORT/raw/; }
            location /raw/ { alias html/k/; }
            location /upk/ { charset utf-8; source_charset koi8-r;
                             proxy_pass http://127.0.0.1:PORT/k/; }
         }",
        |p| {
            p.write("conf/koi-utf", table("koi-utf"));
            p.write("conf/win-utf", table("win-utf"));
            p.write("html/k/koi.txt", PRIVET_KOI);
            p.write("html/k/big-koi.txt", PRIVET_KOI.repeat(50_000));
            p.write(
                "html/k/u.txt",
                "Привет € 😀 日\u{0}x\u{7f}"
                    .as_bytes()
                    .iter()
                    .chain(b"\xc3(\x80!\xe2\x82")
                    .copied()
                    .collect::<Vec<u8>>(),
            );
            // 3 bytes a unit: the 2-byte letters fall across every read's edge somewhere.
            p.write("html/k/big-u.txt", "xП".repeat(100_000));
        },
    )
}

#[test]
fn koi8_r_files_and_upstreams_become_utf8() {
    let server = start();
    let r = server.get("/k/koi.txt");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body, "Привет".as_bytes());
    let r = server.get("/k/big-koi.txt");
    assert_eq!(r.body, "Привет".repeat(50_000).as_bytes());
    let r = server.get("/upk/big-koi.txt");
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.body, "Привет".repeat(50_000).as_bytes());
    server.assert_clean_log();
}

#[test]
fn utf8_becomes_koi8_r_with_entities_and_question_marks() {
    let server = start();
    let r = server.get("/u/u.txt");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=koi8-r"));
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("accept-ranges"), None);
    // € is 0x80 in nginx's koi-utf; 😀 and 日 are not in KOI8-R; `\xc3(` is invalid (and
    // nginx's decoder takes the `(` with it), so is a lone continuation byte; the sequence
    // the body ends in is dropped.
    let mut want = PRIVET_KOI.to_vec();
    want.extend_from_slice(b" \x80 &#128512; &#26085;\x00x\x7f??!");
    assert_eq!(r.body, want);
    let r = server.get("/gen/");
    assert_eq!(r.body, [PRIVET_KOI, b" &#26085;"].concat());
    // A Range is not applied to a body whose length changes.
    let r = server.request(
        b"GET /u/u.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, want);
    // HTTP/1.0: no chunks, the connection closes after the body.
    let r = server.request(b"GET /u/u.txt HTTP/1.0\r\n\r\n");
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(r.body, want);
    server.assert_clean_log();
}

#[test]
fn sequences_split_across_reads_and_gzip() {
    let server = start();
    let want = b"x\xf0".repeat(100_000);
    let r = server.get("/u/big-u.txt");
    assert_eq!(r.body, want);
    // Unbuffered upstream: each read recoded as it comes.
    let r = server.get("/up/big-u.txt");
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.body, want);
    let r = server.request(
        b"GET /w/big-u.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let out = common::python_gunzip(&r.body);
    // П is 0xCF in windows-1251.
    assert_eq!(out, b"x\xcf".repeat(100_000));
    server.assert_clean_log();
}
