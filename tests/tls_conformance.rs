//! TLS behaviour nginx's own tests check (`ssl.t` and friends), with `openssl s_client`:
//! a session ticket older than `ssl_session_timeout` is not resumed, as OpenSSL refuses
//! the session it carries.

mod common;
#[path = "support/tls_clients.rs"]
mod tls_clients;

use std::time::{Duration, Instant};

use common::Server;
use tls_clients::{make_cert, s_client};

const GET: &[u8] = b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";

#[test]
fn tickets_expire_with_ssl_session_timeout() {
    let conf = "access_log off;\n\
         server { listen 127.0.0.1:PORT ssl; server_name localhost;\n\
           ssl_certificate ec.crt; ssl_certificate_key ec.key;\n\
           ssl_session_cache off; ssl_session_tickets on; ssl_session_timeout 1;\n\
           location / { return 200 \"body $ssl_session_reused\\n\"; } }";
    let s = Server::start_with(1, conf, |p| {
        make_cert(&p.path("conf"), "ec", "localhost", "ec")
    });
    for version in ["-tls1_2", "-tls1_3"] {
        let sess = s.prefix.path(&format!("sess{version}"));
        let sess = sess.to_str().unwrap();
        let issued = Instant::now();
        let first = s_client(s.port, &[version, "-sess_out", sess, "-ign_eof"], GET);
        assert!(first.contains("body ."), "{first}");
        // Within the timeout it resumes (when this machine was fast enough to ask in time).
        let again = s_client(s.port, &[version, "-sess_in", sess, "-ign_eof"], GET);
        if issued.elapsed() < Duration::from_millis(900) {
            assert!(again.contains("body r"), "{again}");
        }
        // Past it (a second and more, whatever the clock's rounding), a full handshake.
        while issued.elapsed() < Duration::from_millis(2100) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let late = s_client(s.port, &[version, "-sess_in", sess, "-ign_eof"], GET);
        assert!(late.contains("body ."), "{version}: {late}");
    }
    s.assert_clean_log();
}
