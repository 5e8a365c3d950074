//! Upstream `zone`: with several workers, the smooth round robin, failures (`max_fails`)
//! and connection counts (`max_conns`) are the whole server's, not each worker's; `-t`
//! checks the directive as nginx does.

mod common;

use common::*;
use std::io::Write;

/// `n` GETs of `path`, one after the other, each on a new connection (so `reuseport`
/// spreads them over the workers); the bodies.
fn bodies(port: u16, path: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let mut c = connect(port);
            let req =
                format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            c.write_all(req.as_bytes()).expect("write");
            read_response(&mut c, false).map_or_else(String::new, |r| r.text())
        })
        .collect()
}

fn backends(a: u16, b: u16) -> String {
    format!(
        "server {{ listen 127.0.0.1:{a}; access_log off; location / {{ return 200 \"a\\n\"; }} }}\n\
         server {{ listen 127.0.0.1:{b}; access_log off; location / {{ return 200 \"b\\n\"; }} }}\n"
    )
}

#[test]
fn four_workers_share_one_weighted_rotation() {
    let (a, b) = (free_port(), free_port());
    let s = Server::start_with(
        4,
        &format!(
            "log_format w \"$pid $upstream_addr\";\n\
             upstream u {{ zone u 64k; server 127.0.0.1:{a} weight=3; server 127.0.0.1:{b}; }}\n\
             {}\
             server {{ listen 127.0.0.1:PORT reuseport; access_log logs/access.log w;\n\
               location / {{ proxy_pass http://u; }} }}",
            backends(a, b)
        ),
        |_| {},
    );
    let got = bodies(s.port, "/", 40);
    let count = |x: &str| got.iter().filter(|g| g.as_str() == x).count();
    // nginx's smooth weighted round robin over the server's requests: exactly 3 to 1, and
    // the lighter server never twice in a row.
    assert_eq!((count("a\n"), count("b\n")), (30, 10), "{got:?}");
    assert!(got.windows(2).all(|w| w != ["b\n", "b\n"]), "{got:?}");
    assert!(s.wait_for(5, || s.access_log().lines().count() == 40));
    let log = s.access_log();
    let mut pids: Vec<&str> = log.lines().filter_map(|l| l.split(' ').next()).collect();
    pids.sort();
    pids.dedup();
    assert!(pids.len() >= 2, "one worker served every request:\n{log}");
    s.assert_clean_log();
}

#[test]
fn a_failed_server_is_disabled_for_every_worker() {
    let (a, dead) = (free_port(), free_port());
    let s = Server::start_with(
        4,
        &format!(
            "upstream u {{ zone u 64k; server 127.0.0.1:{dead} max_fails=1 fail_timeout=60s;\n\
               server 127.0.0.1:{a}; }}\n\
             server {{ listen 127.0.0.1:{a}; location / {{ return 200 \"a\\n\"; }} }}\n\
             server {{ listen 127.0.0.1:PORT reuseport; location / {{ proxy_pass http://u; }} }}"
        ),
        |_| {},
    );
    let got = bodies(s.port, "/", 24);
    assert!(got.iter().all(|g| g == "a\n"), "{got:?}");
    // One refused connect for the whole server: the other workers saw it disabled.
    let log = s.error_log();
    assert_eq!(log.matches("connect() failed (111").count(), 1, "{log}");
    assert_eq!(
        log.matches("upstream server temporarily disabled").count(),
        1,
        "{log}"
    );
}

#[test]
fn max_conns_counts_every_workers_requests() {
    // A backend that answers each request after a pause, so that the one connection
    // max_conns allows is held while the other workers ask for the server.
    let backend = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let a = backend.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in backend.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                let _ = std::io::Read::read(&mut stream, &mut buf);
                std::thread::sleep(std::time::Duration::from_millis(1500));
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n",
                );
            });
        }
    });
    let s = Server::start_with(
        4,
        &format!(
            "upstream u {{ zone u 64k; server 127.0.0.1:{a} max_conns=1; }}\n\
             server {{ listen 127.0.0.1:PORT reuseport; location / {{ proxy_pass http://u; }} }}"
        ),
        |_| {},
    );
    let mut conns: Vec<_> = (0..8).map(|_| connect(s.port)).collect();
    for c in &mut conns {
        c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .expect("write");
    }
    let statuses: Vec<u16> = conns
        .iter_mut()
        .map(|c| read_response(c, false).map_or(0, |r| r.status))
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&c| c == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&c| c == 502).count(),
        7,
        "{statuses:?}"
    );
}

fn test_config(http: &str) -> (i32, String) {
    let prefix = Prefix::new();
    prefix.write("conf/t.conf", format!("events {{}}\nhttp {{\n{http}\n}}\n"));
    let (code, _, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/t.conf"]);
    (code, err)
}

#[test]
fn test_mode_checks_zone_as_nginx() {
    for (http, message) in [
        (
            "upstream u { zone u; server 127.0.0.1:1; }",
            "zero size shared memory zone \"u\"",
        ),
        (
            "upstream u { zone u 16k; server 127.0.0.1:1; }",
            "zone \"u\" is too small",
        ),
        (
            "upstream u { zone u 1x; server 127.0.0.1:1; }",
            "invalid zone size \"1x\"",
        ),
        (
            "upstream u { zone \"\" 1m; server 127.0.0.1:1; }",
            "invalid zone name \"\"",
        ),
        (
            "upstream u { zone u 1m; server 127.0.0.1:1; }\n\
             upstream v { zone u 2m; server 127.0.0.1:1; }",
            "the size 2097152 of shared memory zone \"u\" conflicts with already declared size 1048576",
        ),
        (
            "limit_conn_zone $binary_remote_addr zone=u:1m;\n\
             upstream u { zone u 1m; server 127.0.0.1:1; }",
            "the shared memory zone \"u\" is already declared for a different use",
        ),
    ] {
        let (code, err) = test_config(http);
        assert_eq!(code, 1, "{http}: {err}");
        assert!(err.contains(message), "{http}: {err}");
    }
    let (code, err) = test_config(
        "upstream u { zone u 1m; server 127.0.0.1:1; }\n\
         upstream v { zone u; server 127.0.0.1:2; }",
    );
    assert_eq!(code, 0, "{err}");
}
