//! TLS termination (`listen ... ssl`) with real clients: curl, `openssl s_client` (SNI,
//! resumption by session cache and tickets, ALPN, TLS 1.2 and 1.3 only) and Python's ssl;
//! plain HTTP on the TLS port (497), `ssl_reject_handshake`, and bad input (garbage
//! hellos, truncated records, a stalled handshake), each logged without another connection
//! noticing; `-t` refusals of what cannot be honoured.

mod common;
#[path = "support/tls_clients.rs"]
mod tls_clients;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Prefix, Server, main_preamble, run_cli};
use tls_clients::{curl, s_client};

/// A self-signed pair for `cn` (`kind`: `rsa` or `ec`) under the prefix's `conf/`.
fn make_cert(prefix: &Prefix, name: &str, cn: &str, kind: &str) {
    tls_clients::make_cert(&prefix.path("conf"), name, cn, kind);
}

const GET_V: &[u8] = b"GET /v HTTP/1.0\r\nHost: localhost\r\n\r\n";

/// One server on `PORT` with an ECDSA and an RSA pair, plus the variables' echo.
fn basic(extra: &str) -> String {
    format!(
        "access_log off;\n\
         sendfile on;\n\
         {extra}\n\
         server {{\n\
           listen 127.0.0.1:PORT ssl;\n\
           server_name localhost;\n\
           ssl_certificate ec.crt; ssl_certificate_key ec.key;\n\
           ssl_certificate rsa.crt; ssl_certificate_key rsa.key;\n\
           root html;\n\
           location /v {{ return 200 \"$scheme $https $ssl_protocol $ssl_cipher $ssl_server_name $ssl_session_reused\\n\"; }}\n\
         }}"
    )
}

fn start(workers: usize, http: &str) -> Server {
    Server::start_with(workers, http, |p| {
        make_cert(p, "ec", "localhost", "ec");
        make_cert(p, "rsa", "localhost", "rsa");
        p.write("html/small.txt", "hello over tls\n");
        let big: Vec<u8> = (0..700_000u32).map(|i| (i * 7 % 251) as u8).collect();
        p.write("html/big.bin", big);
    })
}

#[test]
fn files_and_variables_over_tls() {
    let s = start(1, &basic(""));
    let url = |path: &str| format!("https://localhost:{}{path}", s.port);
    let resolve = format!("localhost:{}:127.0.0.1", s.port);
    let (rc, body) = curl(&["--resolve", &resolve, &url("/small.txt")]);
    assert_eq!(rc, 0);
    assert_eq!(body, b"hello over tls\n");
    // A file larger than the socket buffers: read and encrypted, not sendfile'd.
    let (rc, body) = curl(&["--resolve", &resolve, &url("/big.bin")]);
    assert_eq!(rc, 0);
    assert_eq!(body, std::fs::read(s.prefix.path("html/big.bin")).unwrap());
    let (_, body) = curl(&["--resolve", &resolve, "--tlsv1.3", &url("/v")]);
    assert_eq!(
        String::from_utf8_lossy(&body),
        "https on TLSv1.3 TLS_AES_256_GCM_SHA384 localhost .\n"
    );
    let (_, body) = curl(&["--resolve", &resolve, "--tls-max", "1.2", &url("/v")]);
    assert_eq!(
        String::from_utf8_lossy(&body),
        "https on TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384 localhost .\n"
    );
    // The client's offer picks the pair: RSA signatures only get the RSA certificate.
    let out = s_client(
        s.port,
        &["-tls1_2", "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256"],
        b"",
    );
    assert!(out.contains("ECDHE-RSA-"), "{out}");
    let out = s_client(s.port, &["-tls1_2"], b"");
    assert!(out.contains("ECDHE-ECDSA-"), "{out}");
    s.assert_clean_log();
}

#[test]
fn keep_alive_and_pipelining_from_python_ssl() {
    let s = start(1, &basic(""));
    let script = format!(
        "import ssl, socket\n\
         ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
         c = ctx.wrap_socket(socket.create_connection(('127.0.0.1', {})), server_hostname='localhost')\n\
         c.sendall(b'GET /small.txt HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' * 3 + b'GET /big.bin HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')\n\
         data = b''\n\
         while True:\n\
         \x20   d = c.recv(65536)\n\
         \x20   if not d: break\n\
         \x20   data += d\n\
         print(data.count(b'HTTP/1.1 200 OK'), data.count(b'hello over tls'), len(data))\n",
        s.port
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(
        fields.get(..2),
        Some(&["4", "3"][..]),
        "{text} {:?}",
        out.stderr
    );
    let total: usize = fields[2].parse().unwrap();
    assert!(total > 700_000, "{text}");
    s.assert_clean_log();
}

#[test]
fn sni_picks_the_server_and_reject_handshake_refuses() {
    let http = "access_log off;\n\
        server { listen 127.0.0.1:PORT ssl; server_name a.test;\n\
          ssl_certificate a.crt; ssl_certificate_key a.key;\n\
          location / { return 200 \"a $ssl_server_name\\n\"; } }\n\
        server { listen 127.0.0.1:PORT ssl; server_name *.b.test;\n\
          ssl_certificate b.crt; ssl_certificate_key b.key;\n\
          location / { return 200 \"b $ssl_server_name\\n\"; } }\n\
        server { listen 127.0.0.1:PORT ssl; server_name ~^re\\d+\\.test$;\n\
          ssl_certificate r.crt; ssl_certificate_key r.key;\n\
          location / { return 200 \"r\\n\"; } }\n\
        server { listen 127.0.0.1:PORT ssl; server_name closed.test; ssl_reject_handshake on; }";
    let s = Server::start_with(1, http, |p| {
        make_cert(p, "a", "a.test", "ec");
        make_cert(p, "b", "b.test", "ec");
        make_cert(p, "r", "re.test", "ec");
    });
    let subject = |sni: &str| {
        let out = s_client(s.port, &["-servername", sni], b"");
        out.lines()
            .find(|l| l.starts_with("subject="))
            .unwrap_or("")
            .to_string()
    };
    assert!(
        subject("a.test").contains("CN = a.test"),
        "{}",
        subject("a.test")
    );
    assert!(subject("www.b.test").contains("CN = b.test"));
    assert!(subject("re42.test").contains("CN = re.test"));
    // An unknown name gets the default server (the first).
    assert!(subject("other.test").contains("CN = a.test"));
    let out = s_client(s.port, &["-servername", "closed.test"], b"");
    assert!(out.contains("unrecognized name"), "{out}");
    assert!(s.wait_for(5, || s.error_log().contains("ssl_reject_handshake")));
    let out = s_client(
        s.port,
        &["-servername", "www.b.test", "-ign_eof"],
        b"GET / HTTP/1.0\r\nHost: www.b.test\r\n\r\n",
    );
    assert!(out.contains("b www.b.test"), "{out}");
    s.assert_clean_log();
}

#[test]
fn plain_http_on_the_tls_port_is_497() {
    let s = start(1, &basic(""));
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = c.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(text.contains("The plain HTTP request was sent to HTTPS port"));
    assert!(text.contains("Connection: close"));
    assert!(
        s.error_log()
            .contains("client sent plain HTTP request to HTTPS port")
    );
    drop(s);
    // error_page 497 redirects, as nginx's usual configuration does.
    let s = start(
        1,
        &basic("").replace(
            "root html;",
            "root html; error_page 497 =301 https://$host:$server_port$request_uri;",
        ),
    );
    let r = s.get("/x?y");
    assert_eq!(r.status, 301, "{}", r.text());
    assert_eq!(
        r.header("Location"),
        Some(format!("https://localhost:{}/x?y", s.port).as_str())
    );
    s.assert_clean_log();
}

#[test]
fn sessions_resume_from_the_shared_cache_and_from_tickets_in_every_worker() {
    let s = start(
        2,
        &basic("ssl_session_cache shared:SSL:1m; ssl_session_tickets off;"),
    );
    let sess = s.prefix.path("s12");
    let sess = sess.to_str().unwrap();
    let first = s_client(s.port, &["-tls1_2", "-sess_out", sess, "-ign_eof"], GET_V);
    assert!(first.contains("New, TLSv1.2"), "{first}");
    // Several connections: with two workers both serve some of them.
    for _ in 0..4 {
        let again = s_client(s.port, &["-tls1_2", "-sess_in", sess, "-ign_eof"], GET_V);
        assert!(again.contains("Reused, TLSv1.2"), "{again}");
        assert!(again.contains(" r\n"), "{again}");
    }
    drop(s);
    let s = start(2, &basic(""));
    let sess = s.prefix.path("s13");
    let sess = sess.to_str().unwrap();
    let first = s_client(s.port, &["-tls1_3", "-sess_out", sess, "-ign_eof"], GET_V);
    assert!(first.contains("TLSv1.3"), "{first}");
    for _ in 0..3 {
        let again = s_client(s.port, &["-tls1_3", "-sess_in", sess, "-ign_eof"], GET_V);
        assert!(again.contains("Reused, TLSv1.3"), "{again}");
    }
    s.assert_clean_log();
}

/// The `$ssl_session_id` a response printed (`id=[...]`), and s_client's `Session-ID`.
fn session_ids(out: &str) -> (String, String) {
    let var = out
        .split("id=[")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .unwrap_or("?")
        .to_string();
    let client = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Session-ID:"))
        .map_or(String::new(), |v| v.trim().to_ascii_lowercase());
    (var, client)
}

#[test]
fn ssl_session_id_is_the_sessions_id() {
    const GET_ID: &[u8] = b"GET /id HTTP/1.0\r\nHost: localhost\r\n\r\n";
    let conf = |extra: &str| {
        basic(extra).replace(
            "location /v",
            "location /id { return 200 \"id=[$ssl_session_id]\\n\"; }\n location /v",
        )
    };
    // TLS 1.2 with a cache: the ServerHello's id, which the resumption finds again.
    let s = start(
        1,
        &conf("ssl_session_cache shared:SSL:1m; ssl_session_tickets off;"),
    );
    let sess = s.prefix.path("s12");
    let sess = sess.to_str().unwrap();
    let first = s_client(s.port, &["-tls1_2", "-sess_out", sess, "-ign_eof"], GET_ID);
    let (var, client) = session_ids(&first);
    assert_eq!(var.len(), 64, "{first}");
    assert_eq!(var, client, "{first}");
    let again = s_client(s.port, &["-tls1_2", "-sess_in", sess, "-ign_eof"], GET_ID);
    assert!(again.contains("Reused, TLSv1.2"), "{again}");
    assert_eq!(session_ids(&again).0, var, "{again}");
    let other = s_client(s.port, &["-tls1_2", "-ign_eof"], GET_ID);
    assert_ne!(session_ids(&other).0, var, "{other}");
    // TLS 1.3 with tickets: 64 hex digits on a new and on a resumed connection, a fresh
    // one each time (OpenSSL draws one per ticket).
    let sess = s.prefix.path("s13");
    let sess = sess.to_str().unwrap();
    let first = s_client(s.port, &["-tls1_3", "-sess_out", sess, "-ign_eof"], GET_ID);
    let id13 = session_ids(&first).0;
    assert!(
        id13.len() == 64 && id13.bytes().all(|b| b.is_ascii_hexdigit()),
        "{first}"
    );
    let again = s_client(s.port, &["-tls1_3", "-sess_in", sess, "-ign_eof"], GET_ID);
    assert!(again.contains("Reused, TLSv1.3"), "{again}");
    let id13b = session_ids(&again).0;
    assert!(id13b.len() == 64 && id13b != id13, "{again}");
    s.assert_clean_log();
    drop(s);
    // TLS 1.3 without tickets or cache: no session, no id.
    let s = start(1, &conf("ssl_session_tickets off;"));
    let out = s_client(s.port, &["-tls1_3", "-ign_eof"], GET_ID);
    assert!(out.contains("id=[]"), "{out}");
}

#[test]
fn ticket_key_files_are_shared_and_rotated() {
    let http = basic("ssl_session_ticket_key t1.key; ssl_session_ticket_key t0.key;");
    let s = Server::start_with(2, &http, |p| {
        make_cert(p, "ec", "localhost", "ec");
        make_cert(p, "rsa", "localhost", "rsa");
        p.write("conf/t1.key", [1u8; 80]);
        p.write("conf/t0.key", [2u8; 48]);
    });
    let sess = s.prefix.path("t");
    let sess = sess.to_str().unwrap();
    s_client(s.port, &["-tls1_2", "-sess_out", sess, "-ign_eof"], GET_V);
    let again = s_client(s.port, &["-tls1_2", "-sess_in", sess, "-ign_eof"], GET_V);
    assert!(again.contains("Reused, TLSv1.2"), "{again}");
    s.assert_clean_log();
}

#[test]
fn alpn_offers_http1_only() {
    let s = start(1, &basic(""));
    let out = s_client(s.port, &["-alpn", "h2,http/1.1"], b"");
    assert!(out.contains("ALPN protocol: http/1.1"), "{out}");
    let out = s_client(s.port, &["-alpn", "h2"], b"");
    assert!(out.contains("no application protocol"), "{out}");
}

#[test]
fn protocols_and_ciphers_are_honoured() {
    let s = start(
        1,
        &basic(
            "ssl_protocols TLSv1.2; ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256; ssl_prefer_server_ciphers on;",
        ),
    );
    let out = s_client(s.port, &["-tls1_3"], b"");
    assert!(!out.contains("TLSv1.3"), "{out}");
    let out = s_client(s.port, &["-tls1_2"], b"");
    assert!(out.contains("ECDHE-ECDSA-AES128-GCM-SHA256"), "{out}");
}

#[test]
fn bad_handshakes_are_logged_and_nobody_else_notices() {
    let s = start(1, &basic("client_header_timeout 2s;"));
    // A client stalled in its hello holds no one up.
    let mut stalled = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        .unwrap();
    // Garbage that claims to be a handshake record.
    let mut garbage = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff])
        .unwrap();
    // A truncated record after a whole hello (the handshake then goes wrong mid-way).
    let mut truncated = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    truncated
        .write_all(&[0x16, 0x03, 0x03, 0x40, 0x00, 0x01])
        .unwrap();
    drop(truncated);
    let resolve = format!("localhost:{}:127.0.0.1", s.port);
    let (rc, body) = curl(&[
        "--resolve",
        &resolve,
        &format!("https://localhost:{}/small.txt", s.port),
    ]);
    assert_eq!((rc, body.as_slice()), (0, &b"hello over tls\n"[..]));
    garbage
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = Vec::new();
    let _ = garbage.read_to_end(&mut buf);
    // An alert, then the close.
    assert!(buf.first() == Some(&0x15) || buf.is_empty(), "{buf:?}");
    assert!(s.wait_for(5, || s.error_log().contains("SSL_do_handshake() failed")));
    // The stalled hello ends with client_header_timeout.
    stalled
        .set_read_timeout(Some(Duration::from_secs(6)))
        .unwrap();
    let mut buf = Vec::new();
    let _ = stalled.read_to_end(&mut buf);
    assert!(buf.is_empty());
    s.assert_clean_log();
}

fn check(prefix: &Path, conf: &str) -> (i32, String) {
    std::fs::write(prefix.join("conf/portico.conf"), conf).unwrap();
    let (rc, out, err) = run_cli(prefix, &["-t", "-c", "conf/portico.conf"]);
    (rc, out + &err)
}

#[test]
fn what_cannot_be_honoured_fails_the_test_with_its_reason() {
    let p = Prefix::new();
    make_cert(&p, "ec", "localhost", "ec");
    let conf = |body: &str| {
        format!(
            "{}http {{ server {{ listen 127.0.0.1:1 ssl; {body} }} }}\n",
            main_preamble(1)
        )
    };
    let ok = "ssl_certificate ec.crt; ssl_certificate_key ec.key;";
    let (rc, out) = check(&p.dir, &conf(""));
    assert_ne!(rc, 0);
    assert!(
        out.contains("no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive in"),
        "{out}"
    );
    let (rc, out) = check(&p.dir, &conf(ok));
    assert_eq!(rc, 0, "{out}");
    for (extra, expect) in [
        ("ssl_ciphers RC4:MD5;", "no cipher match"),
        ("ssl_protocols TLSv1 TLSv1.1;", "TLSv1.2 and TLSv1.3 only"),
        ("ssl_protocols TLSv4;", "invalid value \"TLSv4\""),
        (
            "ssl_verify_client on;",
            "no ssl_client_certificate for ssl_verify_client",
        ),
        ("ssl_early_data on;", "needs \"ssl_session_cache\""),
        ("ssl_conf_command Options x;", "rustls"),
        ("ssl_ecdh_curve brainpoolP256r1;", "no curve"),
        ("ssl_session_cache shared:X;", "invalid session cache"),
        (
            "ssl_certificate $ssl_server_name.crt; ssl_certificate_key ec.key;",
            "variables",
        ),
    ] {
        let (rc, out) = check(&p.dir, &conf(&format!("{ok} {extra}")));
        assert_ne!(rc, 0, "{extra}: {out}");
        assert!(out.contains(expect), "{extra}: {out}");
        assert!(out.contains("portico.conf:"), "{extra}: {out}");
    }
    // Accepted with a warning: rustls has no DHE.
    p.write("conf/dh.pem", "x");
    let (rc, out) = check(&p.dir, &conf(&format!("{ok} ssl_dhparam dh.pem;")));
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("[warn]") && out.contains("DHE"), "{out}");
    // An encrypted key is read with the passwords of ssl_password_file (tests/tls_keys.rs).
    let status = Command::new("openssl")
        .current_dir(p.path("conf"))
        .args([
            "pkey", "-in", "ec.key", "-aes256", "-passout", "pass:x", "-out", "enc.key",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    p.write("conf/pass", "x\n");
    let (rc, out) = check(
        &p.dir,
        &conf("ssl_certificate ec.crt; ssl_certificate_key enc.key; ssl_password_file pass;"),
    );
    assert_eq!(rc, 0, "{out}");
}

/// A CA (`ca.crt`) and a client certificate it signed (`client.crt`, v3, with a serial of
/// 0x1234), plus a self-signed stranger (`other.crt`), under `conf/`.
fn make_client_certs(prefix: &Prefix) {
    let dir = prefix.path("conf");
    let run = |args: &[&str]| {
        let ok = Command::new("openssl")
            .current_dir(&dir)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl")
            .success();
        assert!(ok, "openssl {args:?}");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=Test CA"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
    run(&ca);
    let mut csr = vec!["req", "-new", "-subj", "/CN=client/O=Portico"];
    csr.extend(ec);
    csr.extend(["-keyout", "client.key", "-out", "client.csr"]);
    run(&csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-set_serial",
        "0x1234",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "client.crt",
    ]);
    let mut other = vec!["req", "-x509", "-days", "2", "-subj", "/CN=stranger"];
    other.extend(ec);
    other.extend(["-keyout", "other.key", "-out", "other.crt"]);
    run(&other);
}

#[test]
fn client_certificates_are_verified_as_nginx_does() {
    let s = Server::start_with(
        1,
        "access_log off;\n\
         server {\n\
           listen 127.0.0.1:PORT ssl;\n\
           server_name localhost;\n\
           ssl_certificate ec.crt; ssl_certificate_key ec.key;\n\
           ssl_verify_client on;\n\
           ssl_client_certificate ca.crt;\n\
           location /v { return 200 \"$ssl_client_verify $ssl_client_serial $ssl_client_fingerprint\\n\"; }\n\
           location /pem { return 200 \"$ssl_client_escaped_cert\"; }\n\
         }\n\
         server {\n\
           listen 127.0.0.1:PORT ssl;\n\
           server_name optional;\n\
           ssl_certificate ec.crt; ssl_certificate_key ec.key;\n\
           ssl_verify_client optional;\n\
           ssl_client_certificate ca.crt;\n\
           error_page 495 = /bad;\n\
           location /v { return 200 \"$ssl_client_verify\\n\"; }\n\
           location /bad { return 200 \"bad: $ssl_client_verify\\n\"; }\n\
         }\n\
         server {\n\
           listen 127.0.0.1:PORT ssl;\n\
           server_name noca;\n\
           ssl_certificate ec.crt; ssl_certificate_key ec.key;\n\
           ssl_verify_client optional_no_ca;\n\
           location /v { return 200 \"$ssl_client_verify\\n\"; }\n\
         }",
        |p| {
            make_cert(p, "ec", "localhost", "ec");
            make_client_certs(p);
        },
    );
    let conf = s.prefix.path("conf");
    let file = |n: &str| conf.join(n).display().to_string();
    let url = |host: &str, path: &str| format!("https://{host}:{}{path}", s.port);
    let resolve = |host: &str| format!("{host}:{}:127.0.0.1", s.port);
    let with_cert = |host: &str, path: &str, cert: &str| {
        let (crt, key) = (file(&format!("{cert}.crt")), file(&format!("{cert}.key")));
        curl(&[
            "--resolve",
            &resolve(host),
            "--cert",
            &crt,
            "--key",
            &key,
            &url(host, path),
        ])
    };
    // No certificate where one is required: nginx's 496 page (a 400).
    let (_, body) = curl(&["--resolve", &resolve("localhost"), &url("localhost", "/v")]);
    assert!(
        String::from_utf8_lossy(&body).contains("No required SSL certificate was sent"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    // A good one: SUCCESS, its serial and SHA-1 fingerprint as OpenSSL prints them.
    let fp = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-fingerprint",
            "-sha1",
            "-in",
            &file("client.crt"),
        ])
        .output()
        .unwrap();
    let fp = String::from_utf8_lossy(&fp.stdout)
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_lowercase();
    let (rc, body) = with_cert("localhost", "/v", "client");
    assert_eq!(rc, 0);
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("SUCCESS 1234 {fp}\n")
    );
    // The certificate itself, escaped, is the PEM file's text.
    let (_, body) = with_cert("localhost", "/pem", "client");
    let pem = std::fs::read_to_string(conf.join("client.crt")).unwrap();
    let escaped: String = pem
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    assert_eq!(String::from_utf8_lossy(&body), escaped);
    // A stranger's: 495 (the page, or error_page 495), optional: NONE without one.
    let (_, body) = with_cert("localhost", "/v", "other");
    assert!(String::from_utf8_lossy(&body).contains("The SSL certificate error"));
    let (_, body) = with_cert("optional", "/v", "other");
    assert_eq!(
        String::from_utf8_lossy(&body),
        "bad: FAILED:self-signed certificate\n"
    );
    let (_, body) = curl(&["--resolve", &resolve("optional"), &url("optional", "/v")]);
    assert_eq!(String::from_utf8_lossy(&body), "NONE\n");
    // optional_no_ca lets an unknown issuer through, saying so.
    let (_, body) = with_cert("noca", "/v", "other");
    assert_eq!(
        String::from_utf8_lossy(&body),
        "FAILED:self-signed certificate\n"
    );
    // openssl s_client: the CA is named in the request, and the certificate verifies.
    let out = s_client(
        s.port,
        &[
            "-servername",
            "localhost",
            "-ign_eof",
            "-cert",
            &file("client.crt"),
            "-key",
            &file("client.key"),
        ],
        GET_V,
    );
    assert!(
        out.contains("Acceptable client certificate CA names"),
        "{out}"
    );
    assert!(
        out.contains("CN = Test CA") || out.contains("CN=Test CA"),
        "{out}"
    );
    assert!(out.contains("SUCCESS 1234"), "{out}");
    // Host naming another server than SNI did: 421.
    let out = s_client(
        s.port,
        &[
            "-servername",
            "optional",
            "-ign_eof",
            "-cert",
            &file("client.crt"),
            "-key",
            &file("client.key"),
        ],
        GET_V,
    );
    assert!(out.contains("421 Misdirected Request"), "{out}");
}
