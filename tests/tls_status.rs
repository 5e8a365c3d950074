//! TLS counters in `status` (issue 16): handshakes completed, failed and resumed, in the
//! JSON report (`ssl`) and as `portico_ssl_*_total` in Prometheus text, summed over
//! workers.

mod common;
#[path = "support/tls_clients.rs"]
mod tls_clients;

use std::io::Write;

use common::{Server, free_port};
use tls_clients::{curl, make_cert, s_client};

fn get(port: u16, path: &str) -> String {
    let (rc, body) = curl(&[&format!("http://127.0.0.1:{port}{path}")]);
    assert_eq!(rc, 0);
    String::from_utf8(body).unwrap()
}

/// The value of the Prometheus sample `name` (no labels).
fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing in {text}"))
}

#[test]
fn handshakes_failures_and_reuses_are_counted() {
    let plain = free_port();
    let s = Server::start_with(
        2,
        &format!(
            "access_log off;\n\
             ssl_session_cache shared:S:1m;\n\
             server {{\n\
               listen 127.0.0.1:PORT ssl;\n\
               ssl_certificate ec.crt; ssl_certificate_key ec.key;\n\
               location / {{ return 200 ok; }}\n\
             }}\n\
             server {{ listen 127.0.0.1:{plain}; location /status {{ status; }} }}"
        ),
        |p| make_cert(&p.path("conf"), "ec", "localhost", "ec"),
    );
    let url = format!("https://127.0.0.1:{}/", s.port);
    for _ in 0..3 {
        assert_eq!(curl(&[&url]).0, 0);
    }
    // A resumed TLS 1.2 session (the shared cache).
    let sess = s.prefix.path("sess.pem");
    let sess = sess.to_str().unwrap();
    let out = s_client(s.port, &["-tls1_2", "-sess_out", sess], b"");
    assert!(out.contains("New, TLSv1.2"), "{out}");
    let out = s_client(s.port, &["-tls1_2", "-sess_in", sess], b"");
    assert!(out.contains("Reused, TLSv1.2"), "{out}");
    // Two failures: garbage in a handshake record, and a hello with no common suite.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.write_all(b"\x16\x03\x01\x00\x05hello").unwrap();
    let _ = common::read_to_end(&mut c);
    let out = s_client(s.port, &["-tls1_2", "-cipher", "AES128-SHA"], b"");
    assert!(!out.contains("New, TLSv1.2"), "{out}");

    let prom = get(plain, "/status?format=prometheus");
    assert_eq!(sample(&prom, "portico_ssl_handshakes_total"), 5, "{prom}");
    assert_eq!(
        sample(&prom, "portico_ssl_handshakes_failed_total"),
        2,
        "{prom}"
    );
    assert_eq!(
        sample(&prom, "portico_ssl_session_reuses_total"),
        1,
        "{prom}"
    );
    assert!(
        prom.contains("# TYPE portico_ssl_handshakes_total counter"),
        "{prom}"
    );
    let json = get(plain, "/status");
    assert!(
        json.contains("\"ssl\":{\"handshakes\":5,\"handshakes_failed\":2,\"session_reuses\":1}"),
        "{json}"
    );
}
