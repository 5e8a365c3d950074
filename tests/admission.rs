//! The realip module, the PROXY protocol and auth_basic through the binary: addresses from
//! headers and PROXY headers, a broken PROXY header closing the connection with nginx's
//! line, Basic authentication's answers and log lines.

mod common;
#[path = "support/upstream.rs"]
mod upstream;

use common::*;
use std::io::Write;
use upstream::Upstream;

#[test]
fn realip_from_headers_and_the_proxy_protocol() {
    let s = Server::start_with(
        1,
        "log_format a \"$remote_addr:$remote_port $realip_remote_addr $proxy_protocol_addr:$proxy_protocol_port $proxy_protocol_server_addr:$proxy_protocol_server_port\";\n\
         access_log logs/access.log a;\n\
         add_header X-IP $remote_addr always;\n\
         set_real_ip_from 127.0.0.1;\n\
         server { listen 127.0.0.1:PORT; location /xff { real_ip_header X-Forwarded-For; real_ip_recursive on; root html; } location / { return 204; } }\n\
         server { listen 127.0.0.2:PORT proxy_protocol; real_ip_header proxy_protocol; location / { return 204; } }",
        |p| p.write("html/xff", "x\n"),
    );
    let r = s.request(b"GET / HTTP/1.0\r\nX-Real-IP: 192.0.2.7\r\n\r\n");
    assert_eq!(r.header("X-IP"), Some("192.0.2.7"));
    let r = s.request(b"GET /xff HTTP/1.0\r\nX-Forwarded-For: 192.0.2.1, 127.0.0.1\r\n\r\n");
    assert_eq!(r.header("X-IP"), Some("192.0.2.1"));
    let out = send_raw_to(
        "127.0.0.2",
        s.port,
        b"PROXY TCP4 192.0.2.9 192.0.2.2 4567 80\r\nGET / HTTP/1.0\r\n\r\n",
    );
    assert!(
        find(&out, b"X-IP: 192.0.2.9\r\n").is_some(),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(
        s.wait_for(5, || s
            .access_log()
            .contains("192.0.2.9:4567 127.0.0.1 192.0.2.9:4567 192.0.2.2:80")),
        "{}",
        s.access_log()
    );
    // A broken header closes the connection without an answer, after nginx's line.
    let out = send_raw_to("127.0.0.2", s.port, b"GET / HTTP/1.0\r\n\r\n");
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    let line = format!(
        "broken header: \"GET / HTTP/1.0\r\n\r\n\" while reading PROXY protocol, client: 127.0.0.1, server: 127.0.0.2:{}",
        s.port
    );
    assert!(
        s.wait_for(5, || s.error_log().contains(&line)),
        "{}",
        s.error_log()
    );
    s.assert_clean_log();
}

#[test]
fn the_realip_address_goes_upstream_and_into_upstream_log_lines() {
    let up = Upstream::start();
    let dead = free_port();
    let s = Server::start_with(
        1,
        &format!(
            "set_real_ip_from 127.0.0.1;\n\
             limit_conn_zone $binary_remote_addr zone=c:1m;\n\
             server {{ listen 127.0.0.1:PORT;\n\
               add_header X-Conn $limit_conn_status always;\n\
               location / {{ proxy_pass http://127.0.0.1:{}; limit_conn c 10;\n\
                 proxy_set_header X-Real-IP $remote_addr;\n\
                 proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; }}\n\
               location /dead/ {{ proxy_pass http://127.0.0.1:{dead}; }} }}",
            up.port
        ),
        |_| {},
    );
    let r = s.request(b"GET /a HTTP/1.0\r\nX-Real-IP: 192.0.2.5\r\n\r\n");
    assert_eq!((r.status, r.header("X-Conn")), (200, Some("PASSED")));
    let seen = up.seen();
    let last = seen.last().expect("the upstream saw the request");
    assert_eq!(last.header("x-real-ip"), Some("192.0.2.5"));
    assert_eq!(last.header("x-forwarded-for"), Some("192.0.2.5"));
    let r = s.request(b"GET /dead/ HTTP/1.0\r\nX-Real-IP: 192.0.2.6\r\n\r\n");
    assert_eq!(r.status, 502);
    assert!(
        s.wait_for(5, || s.error_log().contains("connect() failed")
            && s.error_log().contains("client: 192.0.2.6, server: ")),
        "{}",
        s.error_log()
    );
}

fn send_raw_to(host: &str, port: u16, raw: &[u8]) -> Vec<u8> {
    let mut c = std::net::TcpStream::connect((host, port)).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    c.write_all(raw).unwrap();
    read_to_end(&mut c)
}

fn basic(user: &str, pass: &str) -> String {
    let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let src = format!("{user}:{pass}").into_bytes();
    let mut out = String::new();
    for chunk in src.chunks(3) {
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                table[(v >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

fn get_auth(s: &Server, path: &str, user: &str, pass: &str) -> Response {
    s.request(
        format!(
            "GET {path} HTTP/1.0\r\nAuthorization: Basic {}\r\n\r\n",
            basic(user, pass)
        )
        .as_bytes(),
    )
}

#[test]
fn auth_basic_answers_and_log_lines() {
    let s = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT; root html;\n\
           location / { auth_basic \"closed $host\"; auth_basic_user_file htpasswd; }\n\
           location /missing/ { auth_basic on; auth_basic_user_file nothing-here; }\n\
           location /dir/ { auth_basic on; auth_basic_user_file /; }\n\
           location /open/ { auth_basic on; auth_basic_user_file htpasswd; satisfy any; location /open/off/ { auth_basic off; } }\n\
           location /slow/ { auth_basic on; auth_basic_user_file htpasswd; auth_delay 300ms; } }",
        |p| {
            p.write(
                "conf/htpasswd",
                "# users\nalice:{PLAIN}secret\nbob:$apr1$salt$Xxd1irWT9ycqoYxGFn4cb.\n",
            );
            for f in [
                "index.html",
                "slow/index.html",
                "missing/index.html",
                "dir/index.html",
                "open/index.html",
                "open/off/index.html",
            ] {
                p.write(&format!("html/{f}"), "in\n");
            }
        },
    );
    let r = s.request(b"GET / HTTP/1.0\r\nHost: example\r\n\r\n");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some("Basic realm=\"closed example\"")
    );
    assert_eq!(get_auth(&s, "/", "alice", "secret").status, 200);
    assert_eq!(get_auth(&s, "/", "bob", "password").status, 200);
    assert_eq!(get_auth(&s, "/", "alice", "wrong").status, 401);
    assert_eq!(get_auth(&s, "/", "carol", "x").status, 401);
    assert_eq!(get_auth(&s, "/missing/", "alice", "secret").status, 403);
    assert_eq!(get_auth(&s, "/dir/", "alice", "secret").status, 500);
    assert_eq!(s.get("/open/").status, 401);
    assert_eq!(s.get("/open/off/").status, 200);
    // auth_delay: a 401 waits, a good password does not.
    let started = std::time::Instant::now();
    assert_eq!(get_auth(&s, "/slow/", "alice", "wrong").status, 401);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    assert_eq!(get_auth(&s, "/slow/", "alice", "secret").status, 200);
    assert!(started.elapsed() < std::time::Duration::from_millis(300));
    let log = s.error_log();
    for line in [
        "[info]",
        "no user/password was provided for basic authentication",
        "user \"alice\": password mismatch",
        "user \"carol\" was not found in \"",
        "nothing-here\" failed (2: No such file or directory)",
        "[crit]",
        "delaying unauthorized request",
    ] {
        assert!(log.contains(line), "{line} not in:\n{log}");
    }
    assert!(
        s.wait_for(5, || s.access_log().contains("127.0.0.1 - alice [")),
        "{}",
        s.access_log()
    );
}

#[test]
fn satisfy_combines_allow_deny_with_auth_basic() {
    let s = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT; root html;\n\
           location /all/ { allow 127.0.0.1; deny all; auth_basic x; auth_basic_user_file htpasswd; }\n\
           location /any/ { satisfy any; deny all; auth_basic x; auth_basic_user_file htpasswd; }\n\
           location /near/ { satisfy any; allow 127.0.0.1; deny all; auth_basic x; auth_basic_user_file htpasswd; }\n\
           location /far/ { deny 127.0.0.1; auth_basic x; auth_basic_user_file htpasswd; }\n\
           location /real/ { set_real_ip_from 127.0.0.1; allow 192.0.2.0/24; deny all; } }",
        |p| {
            p.write("conf/htpasswd", "alice:{PLAIN}secret\n");
            for d in ["all", "any", "near", "far", "real"] {
                p.write(&format!("html/{d}/index.html"), "in\n");
            }
        },
    );
    // satisfy all: the address is allowed, the password is still asked for.
    assert_eq!(s.get("/all/").status, 401);
    assert_eq!(get_auth(&s, "/all/", "alice", "secret").status, 200);
    // satisfy any: a password is enough where the address is denied; without one the 401
    // wins over the 403.
    let r = s.get("/any/");
    assert_eq!(
        (r.status, r.header("WWW-Authenticate")),
        (401, Some("Basic realm=\"x\""))
    );
    assert_eq!(get_auth(&s, "/any/", "alice", "secret").status, 200);
    // ...and an allowed address is enough, with no 401 asked for.
    let r = s.get("/near/");
    assert_eq!((r.status, r.header("WWW-Authenticate")), (200, None));
    // satisfy all: a denied address is refused whatever the password.
    assert_eq!(get_auth(&s, "/far/", "alice", "secret").status, 403);
    // The rules see the realip module's address.
    let r = s.request(b"GET /real/ HTTP/1.0\r\nX-Real-IP: 192.0.2.3\r\n\r\n");
    assert_eq!(r.status, 200);
    let r = s.request(b"GET /real/ HTTP/1.0\r\nX-Real-IP: 198.51.100.1\r\n\r\n");
    assert_eq!(r.status, 403);
    assert!(
        s.wait_for(5, || s
            .error_log()
            .contains("access forbidden by rule, client: 198.51.100.1")),
        "{}",
        s.error_log()
    );
}
