//! `ssl_ocsp`: client certificates checked with OCSP before their request, against a real
//! responder (`openssl ocsp -index ... -port`). A good certificate's request is answered
//! (`$ssl_client_verify` SUCCESS); a revoked one gets nginx's 400 "The SSL certificate
//! error" with `FAILED:certificate revoked`; a responder that cannot be reached fails the
//! check (`FAILED:certificate status request failed`, and the error log says why, as
//! nginx's), and so does a certificate without a responder; a responder that never answers
//! holds the connection (and only it) until `client_header_timeout` closes it without a
//! word; with `ssl_ocsp_cache` a second connection is answered from the cache after
//! the responder (`-nrequest 1`) has answered once and exited, where a server without the
//! cache fails; and `-t` refuses what nginx refuses.

mod common;
#[path = "support/tls_clients.rs"]
mod tls_clients;

use common::{Prefix, Server, main_preamble, run_cli};
use tls_clients::{curl, make_cert, openssl};

/// Under `dir`: a CA, a client certificate it signed (serial 0x1234), the server's own
/// self-signed pair, and the responder's index with the client's line (`status`: `V` or
/// `R`).
fn make_pki(dir: &std::path::Path, status: &str) {
    make_cert(dir, "srv", "localhost", "ec");
    std::fs::write(
        dir.join("ext.cnf"),
        "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign,digitalSignature\n\
         [client]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    let steps: Vec<Vec<&str>> = vec![
        [
            &["req", "-x509", "-nodes", "-days", "2"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=ca"],
            &["-extensions", "ca", "-config", "ext.cnf"],
        ]
        .concat(),
        [
            &["req", "-nodes"][..],
            &ec,
            &[
                "-keyout",
                "client.key",
                "-out",
                "client.csr",
                "-subj",
                "/CN=client",
            ],
        ]
        .concat(),
        vec![
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "4660",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "client",
            "-out",
            "client.crt",
        ],
    ];
    for args in &steps {
        assert!(openssl(dir, args), "openssl {args:?}");
    }
    let line = match status {
        "R" => "R\t301231235959Z\t251201000000Z\t1234\tunknown\t/CN=client\n",
        _ => "V\t301231235959Z\t\t1234\tunknown\t/CN=client\n",
    };
    std::fs::write(dir.join("index.txt"), line).unwrap();
}

/// `openssl ocsp` answering on `port` (at most `requests` requests when given), killed
/// when dropped.
struct Responder(
    std::process::Child,
    #[allow(dead_code)] std::io::BufReader<std::process::ChildStdout>,
);

impl Responder {
    fn start(dir: &std::path::Path, port: u16, requests: Option<u32>) -> Responder {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new("openssl");
        cmd.current_dir(dir)
            .args(["ocsp", "-index", "index.txt", "-CA", "ca.crt"])
            .args(["-rsigner", "ca.crt", "-rkey", "ca.key", "-ndays", "1"])
            .args(["-port", &port.to_string()]);
        if let Some(n) = requests {
            cmd.args(["-nrequest", &n.to_string()]);
        }
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl ocsp");
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // Ends at the ACCEPT line (it listens) or at EOF (it exited).
        let _ = out.read_line(&mut line);
        assert!(line.starts_with("ACCEPT"), "openssl ocsp: {line:?}");
        Responder(child, out)
    }

    /// Whether it exited within `secs` seconds.
    fn exits_within(&mut self, secs: u64) -> bool {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < end {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One server per `(port, extra)` of `servers`, each verifying clients against the CA with
/// `ssl_ocsp on` and answering `$ssl_client_verify`.
fn ocsp_server(status: &str, servers: &[(&str, &str)]) -> Server {
    let blocks: String = servers
        .iter()
        .map(|(listen, extra)| {
            format!(
                "server {{\n\
                   listen 127.0.0.1:{listen} ssl;\n\
                   ssl_certificate srv.crt; ssl_certificate_key srv.key;\n\
                   ssl_verify_client on; ssl_client_certificate ca.crt;\n\
                   ssl_ocsp on;\n\
                   {extra}\n\
                   add_header X-Verify $ssl_client_verify always;\n\
                   location / {{ return 200 \"verify:$ssl_client_verify\"; }}\n\
                 }}\n"
            )
        })
        .collect();
    let status = status.to_string();
    Server::start_with(1, &format!("access_log off;\n{blocks}"), move |p| {
        make_pki(&p.path("conf"), &status)
    })
}

/// `curl -i` with the client's certificate to `port`: the whole response.
fn get(s: &Server, port: u16) -> String {
    let conf = s.prefix.path("conf");
    let (cert, key) = (conf.join("client.crt"), conf.join("client.key"));
    let url = format!("https://127.0.0.1:{port}/");
    let (rc, out) = curl(&[
        "-i",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        &url,
    ]);
    assert_eq!(rc, 0, "curl: {}", String::from_utf8_lossy(&out));
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_good_certificate_is_answered_and_a_revoked_one_refused() {
    for (status, expect_code, expect_verify) in [
        ("V", "200", "SUCCESS"),
        ("R", "400", "FAILED:certificate revoked"),
    ] {
        let rport = common::free_port();
        let h2port = common::free_port();
        let responder = format!("ssl_ocsp_responder http://127.0.0.1:{rport}/;");
        let s = ocsp_server(
            status,
            &[
                ("PORT", &responder),
                (&h2port.to_string(), &format!("{responder} http2 on;")),
            ],
        );
        let _r = Responder::start(&s.prefix.path("conf"), rport, None);
        // HTTP/1.1, then HTTP/2 (ALPN): the connection is checked before its streams.
        for (port, version) in [(s.port, "HTTP/1.1"), (h2port, "HTTP/2")] {
            let out = get(&s, port);
            let lower = out.to_ascii_lowercase();
            assert!(
                out.starts_with(&format!("{version} {expect_code}")),
                "{status} {version}: {out}"
            );
            assert!(
                lower.contains(&format!("x-verify: {}", expect_verify.to_ascii_lowercase())),
                "{status} {version}: {out}"
            );
            if status == "V" {
                assert!(out.ends_with("verify:SUCCESS"), "{out}");
            } else {
                assert!(out.contains("400 The SSL certificate error"), "{out}");
            }
        }
        if status == "V" {
            s.assert_clean_log();
        } else {
            let log = s.error_log();
            assert!(
                log.lines().any(|l| l.contains("[info] ")
                    && l.contains(
                        "client SSL certificate verify error: certificate revoked \
                         while reading client request headers"
                    )),
                "{log}"
            );
        }
    }
}

#[test]
fn an_unreachable_responder_fails_the_check() {
    // Nothing listens there.
    let rport = common::free_port();
    let s = ocsp_server(
        "V",
        &[(
            "PORT",
            &format!("ssl_ocsp_responder http://127.0.0.1:{rport}/;"),
        )],
    );
    let out = get(&s, s.port);
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(
        out.contains("X-Verify: FAILED:certificate status request failed"),
        "{out}"
    );
    let line = format!(
        "connect() failed (111: Connection refused) while requesting certificate status, \
         responder: 127.0.0.1, peer: 127.0.0.1:{rport}"
    );
    let log = s.error_log();
    assert!(
        log.lines()
            .any(|l| l.contains("[error] ") && l.ends_with(&line)),
        "{log}"
    );
}

#[test]
fn a_certificate_without_a_responder_fails_the_check() {
    // No ssl_ocsp_responder, and the client's certificate has no authorityInfoAccess.
    let s = ocsp_server("V", &[("PORT", "")]);
    let out = get(&s, s.port);
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(
        out.contains("X-Verify: FAILED:certificate status request failed"),
        "{out}"
    );
    let line = format!(
        "no OCSP responder URL in certificate while SSL handshaking, client: 127.0.0.1, \
         server: 127.0.0.1:{}",
        s.port
    );
    let log = s.error_log();
    assert!(
        log.lines()
            .any(|l| l.contains("[error] ") && l.ends_with(&line)),
        "{log}"
    );
}

#[test]
fn a_silent_responder_holds_the_connection_until_client_header_timeout() {
    // A responder that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let rport = silent.local_addr().unwrap().port();
    let s = ocsp_server(
        "V",
        &[(
            "PORT",
            &format!("ssl_ocsp_responder http://127.0.0.1:{rport}/; client_header_timeout 2s;"),
        )],
    );
    let started = std::time::Instant::now();
    let conf = s.prefix.path("conf");
    let url = format!("https://127.0.0.1:{}/", s.port);
    let (cert, key) = (conf.join("client.crt"), conf.join("client.key"));
    let client = std::thread::spawn(move || {
        curl(&[
            "-i",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            &url,
        ])
    });
    // The request reached the responder, and the worker goes on serving others meanwhile.
    let (_held, _) = silent.accept().unwrap();
    let out = get_plain(&s);
    assert!(out.contains("400 No required SSL certificate"), "{out}");
    let (rc, out) = client.join().unwrap();
    let waited = started.elapsed();
    // Closed without an answer (curl: empty reply), once the timeout passed.
    assert_ne!(rc, 0, "{}", String::from_utf8_lossy(&out));
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    assert!(
        waited >= std::time::Duration::from_millis(1500),
        "{waited:?}"
    );
    assert!(waited < std::time::Duration::from_secs(9), "{waited:?}");
}

/// `curl -i` without a client certificate (answered at once: 496).
fn get_plain(s: &Server) -> String {
    let (_, out) = curl(&["-i", &format!("https://127.0.0.1:{}/", s.port)]);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn the_cache_answers_once_the_responder_is_gone() {
    let rport = common::free_port();
    let other = common::free_port();
    let responder = format!("ssl_ocsp_responder http://127.0.0.1:{rport}/;");
    let s = ocsp_server(
        "V",
        &[
            (
                "PORT",
                &format!("{responder} ssl_ocsp_cache shared:OCSP:1m;"),
            ),
            (&other.to_string(), &responder),
        ],
    );
    // The responder answers one request, then exits.
    let mut r = Responder::start(&s.prefix.path("conf"), rport, Some(1));
    let out = get(&s, s.port);
    assert!(out.ends_with("verify:SUCCESS"), "{out}");
    assert!(r.exits_within(10), "the responder answered more than once?");
    // The same certificate on a second connection: from the cache.
    let out = get(&s, s.port);
    assert!(out.ends_with("verify:SUCCESS"), "{out}\n{}", s.error_log());
    // A server without the cache must ask, and cannot.
    let out = get(&s, other);
    assert!(
        out.contains("X-Verify: FAILED:certificate status request failed"),
        "{out}"
    );
}

#[test]
fn the_test_refuses_what_nginx_refuses() {
    let p = Prefix::new();
    make_pki(&p.path("conf"), "V");
    for (extra, expect) in [
        (
            "ssl_verify_client optional_no_ca; ssl_ocsp on;",
            "\"ssl_ocsp\" is incompatible with \"ssl_verify_client optional_no_ca\"",
        ),
        (
            "ssl_verify_client on; ssl_client_certificate ca.crt; ssl_ocsp maybe;",
            "invalid value \"maybe\"",
        ),
        (
            "ssl_verify_client on; ssl_client_certificate ca.crt; ssl_ocsp on; \
             ssl_ocsp_cache shared:X;",
            "invalid OCSP cache \"shared:X\"",
        ),
        (
            "ssl_verify_client on; ssl_client_certificate ca.crt; ssl_ocsp on; \
             ssl_ocsp_cache shared:X:1k;",
            "OCSP cache \"shared:X:1k\" is too small",
        ),
        (
            "ssl_verify_client on; ssl_client_certificate ca.crt; ssl_ocsp on; \
             ssl_ocsp_responder https://127.0.0.1/;",
            "invalid URL prefix in OCSP responder \"https://127.0.0.1/\" in \"ssl_ocsp_responder\"",
        ),
    ] {
        let conf = format!(
            "{}http {{ server {{ listen 127.0.0.1:1 ssl; ssl_certificate srv.crt; \
             ssl_certificate_key srv.key; {extra} }} }}\n",
            main_preamble(1)
        );
        p.write("conf/portico.conf", conf);
        let (rc, out, err) = run_cli(&p.dir, &["-t", "-c", "conf/portico.conf"]);
        assert_ne!(rc, 0, "{extra}: {out}{err}");
        assert!(
            err.contains(expect) && err.contains("portico.conf:"),
            "{extra}: {err}"
        );
    }
    let conf = format!(
        "{}http {{ server {{ listen 127.0.0.1:1 ssl; ssl_certificate srv.crt; \
         ssl_certificate_key srv.key; ssl_verify_client on; ssl_client_certificate ca.crt; \
         ssl_ocsp leaf; ssl_ocsp_cache shared:OCSP:1m; \
         ssl_ocsp_responder http://127.0.0.1:9/; }} }}\n",
        main_preamble(1)
    );
    p.write("conf/portico.conf", conf);
    let (rc, out, err) = run_cli(&p.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_eq!(rc, 0, "{out}{err}");
}
