//! Routing in front of `proxy_pass`: the phases run first (rewrite, `if`, `return`,
//! `try_files`, `error_page`), then the proxy answers, with the upstream URI nginx 1.22
//! sends (checked side by side against nginx with the same echo upstream).

mod common;

use common::Server;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

/// An upstream that answers every request with its request line as the body.
fn echo_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            std::thread::spawn(move || serve(s));
        }
    });
    port
}

fn serve(mut s: TcpStream) {
    loop {
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match s.read(&mut b) {
                Ok(1) => head.push(b[0]),
                _ => return,
            }
        }
        let line = head.split(|&c| c == b'\r').next().unwrap_or(b"").to_vec();
        let mut out =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", line.len()).into_bytes();
        out.extend_from_slice(&line);
        if s.write_all(&out).is_err() {
            return;
        }
    }
}

fn start() -> Server {
    let up = echo_upstream();
    Server::start_with(
        1,
        &format!(
            r#"upstream backend {{ server 127.0.0.1:{up}; }}
            server {{
                listen 127.0.0.1:PORT; server_name localhost; root html;
                location /old/ {{ rewrite ^/old/(.*)$ /api/$1 last; }}
                location /api/ {{ proxy_pass http://backend/v2/; }}
                location /brk/ {{ rewrite ^/brk/(.*)$ /changed/$1 break; proxy_pass http://backend/v2/; }}
                location /tf/ {{ try_files $uri @app; }}
                location @app {{ proxy_pass http://backend; }}
                location /blk/ {{ if ($arg_block) {{ return 403; }} proxy_pass http://backend; }}
                location /sa/ {{ set $args "x=1"; proxy_pass http://backend; }}
                location /ep/ {{ error_page 404 = @app; }}
            }}"#
        ),
        |p| p.write("html/tf/here.txt", "static here\n"),
    )
}

fn body(s: &Server, path: &str) -> (u16, String) {
    let r = s.get(path);
    (r.status, r.text())
}

#[test]
fn the_upstream_uri_follows_the_phases_like_nginx() {
    let s = start();
    // `last` searches again: the new location's proxy_pass URI replaces its prefix.
    assert_eq!(body(&s, "/old/x?q=1").1, "GET /v2/x?q=1 HTTP/1.1");
    // `break` keeps the location: the changed URI goes as is, proxy_pass's URI ignored.
    assert_eq!(body(&s, "/brk/x?q=1").1, "GET /changed/x?q=1 HTTP/1.1");
    // Unchanged URI: the target exactly as the client sent it.
    assert_eq!(body(&s, "/blk/a?c=%20").1, "GET /blk/a?c=%20 HTTP/1.1");
    // `set $args` changes what is sent.
    assert_eq!(body(&s, "/sa/y?z=2").1, "GET /sa/y?x=1 HTTP/1.1");
    s.assert_clean_log();
}

#[test]
fn static_files_return_and_error_pages_in_front_of_the_proxy() {
    let s = start();
    assert_eq!(body(&s, "/tf/here.txt"), (200, "static here\n".into()));
    assert_eq!(
        body(&s, "/tf/dyn?a=1"),
        (200, "GET /tf/dyn?a=1 HTTP/1.1".into())
    );
    assert_eq!(body(&s, "/blk/a?block=1").0, 403);
    assert_eq!(
        body(&s, "/ep/missing?k=v"),
        (200, "GET /ep/missing?k=v HTTP/1.1".into())
    );
}
