//! HTTPS upstreams (`proxy_pass https://`, issue 15 point 3) against real TLS servers
//! started here: Portico's own TLS server (it shows `$ssl_server_name` and
//! `$ssl_session_reused`, so SNI and resumption are seen from the upstream's side) and
//! `openssl s_server`. Verification failures give nginx's 502 and log lines; `-t` refuses
//! what cannot be honoured.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Prefix, Server, free_port, main_preamble, run_cli};

/// A self-signed RSA certificate and key for `cn` under `conf/` (no subjectAltName: the
/// name check falls back to the CN, as OpenSSL's).
fn make_cert(dir: &Path, name: &str, cn: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let status = Command::new("openssl")
        .current_dir(dir)
        .args([
            "req", "-x509", "-nodes", "-days", "2", "-newkey", "rsa:2048",
        ])
        .args([
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
        ])
        .args(["-subj", &format!("/CN={cn}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl req failed");
}

/// A proxy on `PORT` and its TLS upstream (Portico too) on `up`, whose responses show what
/// the upstream saw of the handshake; the upstream closes each connection
/// (`keepalive_timeout 0`) so every request handshakes again.
fn proxy_and_upstream(up: u16) -> String {
    format!(
        "access_log off;\n\
         server {{\n\
           listen 127.0.0.1:{up} ssl;\n\
           ssl_certificate up.crt; ssl_certificate_key up.key;\n\
           keepalive_timeout 0;\n\
           location / {{ return 200 \"[$ssl_server_name] $ssl_session_reused $ssl_protocol\\n\"; }}\n\
         }}\n\
         server {{\n\
           listen 127.0.0.1:PORT;\n\
           location /plain {{ proxy_pass https://127.0.0.1:{up}/; }}\n\
           location /noreuse {{ proxy_pass https://127.0.0.1:{up}/; proxy_ssl_session_reuse off; }}\n\
           location /sni {{ proxy_pass https://127.0.0.1:{up}/; proxy_ssl_server_name on; proxy_ssl_name up.example; }}\n\
           location /verified {{ proxy_pass https://127.0.0.1:{up}/; proxy_ssl_verify on;\n\
             proxy_ssl_trusted_certificate up.crt; proxy_ssl_name up.example; }}\n\
           location /wrong-name {{ proxy_pass https://127.0.0.1:{up}/; proxy_ssl_verify on;\n\
             proxy_ssl_trusted_certificate up.crt; proxy_ssl_name other.example; }}\n\
           location /untrusted {{ proxy_pass https://127.0.0.1:{up}/; proxy_ssl_verify on;\n\
             proxy_ssl_trusted_certificate other.crt; proxy_ssl_name up.example; }}\n\
           location /tls12 {{ proxy_pass https://127.0.0.1:{up}/; proxy_ssl_protocols TLSv1.2; }}\n\
           location /dynamic {{ set $up 127.0.0.1:{up}; proxy_pass https://$up/;\n\
             proxy_ssl_server_name on; proxy_ssl_name dyn.example; }}\n\
         }}"
    )
}

#[test]
fn sni_names_verification_and_session_reuse_as_nginx() {
    let up = free_port();
    let s = Server::start_with(1, &proxy_and_upstream(up), |p| {
        make_cert(&p.path("conf"), "up", "up.example");
        make_cert(&p.path("conf"), "other", "other.example");
    });
    // No SNI by default (nginx's proxy_ssl_server_name off); the second connection resumes
    // the first's session (proxy_ssl_session_reuse on).
    assert_eq!(s.get("/plain").text(), "[] . TLSv1.3\n");
    assert_eq!(s.get("/plain").text(), "[] r TLSv1.3\n");
    assert_eq!(s.get("/noreuse").text(), "[] . TLSv1.3\n");
    assert_eq!(s.get("/noreuse").text(), "[] . TLSv1.3\n");
    assert_eq!(s.get("/sni").text(), "[up.example] . TLSv1.3\n");
    assert_eq!(s.get("/tls12").text(), "[] . TLSv1.2\n");
    // A URL with variables that evaluates to `https://`.
    assert_eq!(s.get("/dynamic").text(), "[dyn.example] . TLSv1.3\n");
    assert_eq!(s.get("/verified").status, 200);
    assert_eq!(s.get("/wrong-name").status, 502);
    assert_eq!(s.get("/untrusted").status, 502);
    let log = s.error_log();
    assert!(
        log.contains(
            "upstream SSL certificate does not match \"other.example\" while SSL handshaking to upstream"
        ),
        "{log}"
    );
    assert!(
        log.contains(
            "upstream SSL certificate verify error: (18:self-signed certificate) while SSL handshaking to upstream"
        ),
        "{log}"
    );
    assert!(
        log.contains(&format!("upstream: \"https://127.0.0.1:{up}/\"")),
        "{log}"
    );
}

#[test]
fn keep_alive_tls_connections_are_pooled_and_reused() {
    let up = free_port();
    let http = format!(
        "access_log off;\n\
         upstream u {{ server 127.0.0.1:{up}; keepalive 4; }}\n\
         server {{\n\
           listen 127.0.0.1:{up} ssl;\n\
           ssl_certificate up.crt; ssl_certificate_key up.key;\n\
           location / {{ return 200 \"$connection $ssl_session_reused\\n\"; }}\n\
         }}\n\
         server {{\n\
           listen 127.0.0.1:PORT;\n\
           location / {{ proxy_pass https://u/; }}\n\
           location /plain/ {{ proxy_pass http://u/; }}\n\
         }}"
    );
    let s = Server::start_with(1, &http, |p| make_cert(&p.path("conf"), "up", "up.example"));
    let first = s.get("/").text();
    // The same upstream connection (the same `$connection` upstream-side) serves again.
    assert_eq!(s.get("/").text(), first);
    assert_eq!(s.get("/x").text(), first);
    // An `http://` location on the same group never gets the TLS connection: plain HTTP
    // to a TLS port is the upstream's 400.
    assert_eq!(s.get("/plain/").status, 400);
    assert_eq!(s.get("/").text(), first);
}

#[test]
fn openssl_s_server_as_the_upstream() {
    let up = free_port();
    let p = Prefix::new();
    make_cert(&p.path("conf"), "up", "up.example");
    let mut server = Command::new("timeout")
        .args(["30", "openssl", "s_server", "-quiet", "-www", "-accept"])
        .arg(up.to_string())
        .args(["-cert", "up.crt", "-key", "up.key"])
        .current_dir(p.path("conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", up)).is_err() {
        assert!(Instant::now() < deadline, "s_server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let http = format!(
        "access_log off;\n\
         server {{ listen 127.0.0.1:PORT;\n\
           location / {{ proxy_pass https://127.0.0.1:{up}; proxy_ssl_verify on;\n\
             proxy_ssl_trusted_certificate up.crt; proxy_ssl_name up.example; }} }}"
    );
    let s = Server::start_with(1, &http, |sp| {
        make_cert(&sp.path("conf"), "up", "up.example")
    });
    // s_server's own certificate is not the one trusted here (another key): 502.
    assert_eq!(s.get("/").status, 502);
    drop(s);
    let http = format!(
        "access_log off;\n\
         server {{ listen 127.0.0.1:PORT;\n\
           location / {{ proxy_pass https://127.0.0.1:{up}; }} }}"
    );
    let s = Server::start(&http);
    let r = s.get("/");
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains("Ciphers supported in s_server binary"),
        "{}",
        r.text()
    );
    // SIGTERM to `timeout`, which passes it on to s_server (a SIGKILL would leave
    // s_server running, orphaned).
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    let _ = server.wait();
}

fn check(prefix: &Path, body: &str) -> (i32, String) {
    let conf = format!(
        "{}http {{ server {{ listen 127.0.0.1:1; location / {{ {body} }} }} }}\n",
        main_preamble(1)
    );
    std::fs::write(prefix.join("conf/portico.conf"), conf).unwrap();
    let (rc, out, err) = run_cli(prefix, &["-t", "-c", "conf/portico.conf"]);
    (rc, out + &err)
}

#[test]
fn what_cannot_be_honoured_fails_the_test() {
    let p = Prefix::new();
    make_cert(&p.path("conf"), "up", "up.example");
    let (rc, out) = check(
        &p.dir,
        "proxy_pass https://127.0.0.1:1; proxy_ssl_verify on;",
    );
    assert_ne!(rc, 0);
    assert!(
        out.contains("no proxy_ssl_trusted_certificate for proxy_ssl_verify"),
        "{out}"
    );
    let (rc, out) = check(
        &p.dir,
        "proxy_pass https://127.0.0.1:1; proxy_ssl_conf_command Options KTLS;",
    );
    assert_ne!(rc, 0);
    assert!(
        out.contains("\"proxy_ssl_conf_command\" directive is not supported"),
        "{out}"
    );
    let (rc, out) = check(
        &p.dir,
        "proxy_pass https://127.0.0.1:1; proxy_ssl_certificate $host.crt;",
    );
    assert_ne!(rc, 0);
    assert!(
        out.contains("no \"proxy_ssl_certificate_key\" is defined for certificate \"$host.crt\""),
        "{out}"
    );
    let (rc, out) = check(
        &p.dir,
        "proxy_pass https://127.0.0.1:1; proxy_ssl_ciphers NOPE;",
    );
    assert_ne!(rc, 0, "{out}");
    let (rc, out) = check(
        &p.dir,
        "proxy_pass https://127.0.0.1:1; proxy_ssl_certificate up.crt; proxy_ssl_certificate_key up.key; \
         proxy_ssl_verify on; proxy_ssl_trusted_certificate up.crt; proxy_ssl_server_name on;",
    );
    assert_eq!(rc, 0, "{out}");
}
