//! TLS behaviour nginx's own tests check (`ssl.t` and friends), with `openssl s_client`:
//! a session ticket older than `ssl_session_timeout` is not resumed, as OpenSSL refuses
//! the session it carries; `ssl_early_data` (TLS 1.3 0-RTT) and `$ssl_early_data`.

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

/// `ssl_early_data on`: a resumed TLS 1.3 session's 0-RTT request is served and
/// `$ssl_early_data` says `1`; the same session cannot carry its early data twice (rustls
/// resumes a cached session once), and a server without it takes none.
#[test]
fn early_data_is_served_once_and_marked() {
    let conf = "access_log off;\n\
         server { listen 127.0.0.1:PORT ssl; server_name localhost;\n\
           ssl_certificate ec.crt; ssl_certificate_key ec.key;\n\
           ssl_session_cache shared:S:1m; ssl_early_data on;\n\
           location / { return 200 \"early=[$ssl_early_data] $ssl_session_reused\\n\"; } }\n\
         server { listen 127.0.0.1:PORT2 ssl; server_name localhost;\n\
           ssl_certificate ec.crt; ssl_certificate_key ec.key;\n\
           ssl_session_cache shared:S:1m;\n\
           location / { return 200 \"early=[$ssl_early_data] $ssl_session_reused\\n\"; } }";
    let off_port = common::free_port();
    let conf = conf.replace("PORT2", &off_port.to_string());
    let s = Server::start_with(1, &conf, |p| {
        make_cert(&p.path("conf"), "ec", "localhost", "ec");
        p.write(
            "req",
            "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
    });
    let req = s.prefix.path("req");
    let req = req.to_str().unwrap();
    const CLOSE: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    for (port, accepted) in [(s.port, true), (off_port, false)] {
        let sess = s.prefix.path(&format!("sess{port}"));
        let sess = sess.to_str().unwrap();
        let first = s_client(port, &["-tls1_3", "-sess_out", sess, "-ign_eof"], CLOSE);
        assert!(first.contains("early=[] ."), "{first}");
        let early = s_client(
            port,
            &["-tls1_3", "-sess_in", sess, "-early_data", req, "-ign_eof"],
            b"",
        );
        if accepted {
            assert!(early.contains("Early data was accepted"), "{early}");
            assert!(early.contains("early=[1] r"), "{early}");
            // The same session again: resumed once already, so a full handshake, and
            // its early data is not taken.
            let replay = s_client(
                port,
                &["-tls1_3", "-sess_in", sess, "-early_data", req, "-ign_eof"],
                b"",
            );
            assert!(!replay.contains("Early data was accepted"), "{replay}");
            assert!(!replay.contains("early=[1]"), "{replay}");
        } else {
            assert!(!early.contains("Early data was accepted"), "{early}");
            assert!(!early.contains("early=[1]"), "{early}");
        }
    }
    s.assert_clean_log();
}

#[test]
fn early_data_without_a_session_cache_fails_the_test() {
    let p = common::Prefix::new();
    make_cert(&p.path("conf"), "ec", "localhost", "ec");
    p.write(
        "conf/portico.conf",
        format!(
            "{}http {{ server {{ listen 127.0.0.1:{} ssl; ssl_certificate ec.crt;\n\
               ssl_certificate_key ec.key; ssl_early_data on; }} }}\n",
            common::main_preamble(1),
            common::free_port()
        ),
    );
    let (code, _, err) = common::run_cli(&p.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("\"ssl_early_data on\" needs \"ssl_session_cache\""),
        "{err}"
    );
    assert!(err.contains("portico.conf:"), "{err}");
}
