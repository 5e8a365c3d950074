//! More of TLS to upstreams (issue 15): `uwsgi_pass suwsgi://` with the `uwsgi_ssl_*`
//! directives against a real uWSGI speaking uwsgi over TLS (`--suwsgi-socket`), and client
//! certificates named by variables (`proxy_ssl_certificate $arg_cert.crt`, nginx 1.21+),
//! read for each connection, against Portico's own TLS server checking them
//! (`ssl_verify_client optional_no_ca`). Checked against nginx 1.22 with the same configs.

#[path = "support/apps.rs"]
mod apps;
mod common;
#[path = "support/tls_clients.rs"]
mod tls_clients;

use common::{Prefix, Server, free_port};
use tls_clients::make_cert;

fn uwsgi_params(prefix: &Prefix) {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/uwsgi_params");
    prefix.write(
        "conf/uwsgi_params",
        std::fs::read(shipped).expect("uwsgi_params"),
    );
}

#[test]
fn suwsgi_reaches_a_real_uwsgi_over_tls_and_verifies_it() {
    let certs = std::env::temp_dir().join(format!(
        "portico-suwsgi-{}-{}",
        std::process::id(),
        free_port()
    ));
    make_cert(&certs, "up", "up.example", "rsa");
    let Some(app) = apps::App::suwsgi(
        &certs.join("app"),
        &certs.join("up.crt"),
        &certs.join("up.key"),
    ) else {
        return;
    };
    let up = app.port;
    let trusted = certs.join("up.crt");
    let conf = format!(
        "access_log off;\n\
         server {{ listen 127.0.0.1:PORT;\n\
           location /ok/ {{ include uwsgi_params; uwsgi_pass suwsgi://127.0.0.1:{up};\n\
             uwsgi_ssl_verify on; uwsgi_ssl_trusted_certificate {t};\n\
             uwsgi_ssl_name up.example; uwsgi_ssl_server_name on; }}\n\
           location /by-var/ {{ include uwsgi_params; set $u suwsgi://127.0.0.1:{up};\n\
             uwsgi_pass $u; uwsgi_ssl_verify on; uwsgi_ssl_trusted_certificate {t};\n\
             uwsgi_ssl_name up.example; }}\n\
           location /plain/ {{ include uwsgi_params; uwsgi_pass 127.0.0.1:{up};\n\
             uwsgi_read_timeout 2s; }}\n\
           location /wrong-name/ {{ include uwsgi_params; uwsgi_pass suwsgi://127.0.0.1:{up};\n\
             uwsgi_ssl_verify on; uwsgi_ssl_trusted_certificate {t}; }}\n\
         }}",
        t = trusted.display()
    );
    let s = Server::start_with(1, &conf, uwsgi_params);
    let r = s.request(
        b"POST /ok/x?a=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\
          Connection: close\r\n\r\nhello",
    );
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert_eq!(r.body, b"hello");
    assert_eq!(r.header("X-Env-PATH-INFO"), Some("/ok/x"));
    assert_eq!(r.header("X-Env-QUERY-STRING"), Some("a=1"));
    let r = s.get("/by-var/y");
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert_eq!(r.header("X-Env-PATH-INFO"), Some("/by-var/y"));
    // The name defaults to the uwsgi_pass host, which the certificate does not have.
    assert_eq!(s.get("/wrong-name/").status, 502);
    let log = s.error_log();
    assert!(
        log.contains(&format!(
            "upstream SSL certificate does not match \"127.0.0.1\" while SSL handshaking to \
             upstream, client: 127.0.0.1, server: , request: \"GET /wrong-name/ HTTP/1.1\", \
             upstream: \"suwsgi://127.0.0.1:{up}\""
        )),
        "{log}"
    );
    // Plain uwsgi to a TLS socket gets no answer it can read.
    assert_eq!(s.get("/plain/").status / 100, 5);
}

#[test]
fn client_certificates_named_by_variables_are_read_per_connection() {
    let up = free_port();
    let conf = format!(
        "access_log off;\n\
         server {{ listen 127.0.0.1:{up} ssl; server_name localhost;\n\
           ssl_certificate up.crt; ssl_certificate_key up.key;\n\
           ssl_verify_client optional_no_ca; ssl_trusted_certificate one.crt;\n\
           add_header X-Verify $ssl_client_verify always;\n\
           add_header X-Name $ssl_client_s_dn always;\n\
           location / {{ return 200 \"$ssl_client_verify $ssl_client_s_dn\\n\"; }}\n\
         }}\n\
         server {{ listen 127.0.0.1:PORT;\n\
           proxy_ssl_session_reuse off; uwsgi_ssl_session_reuse off;\n\
           location /p/ {{ proxy_pass https://127.0.0.1:{up}/;\n\
             proxy_ssl_certificate $arg_cert.crt; proxy_ssl_certificate_key $arg_cert.key; }}\n\
           location /none/ {{ proxy_pass https://127.0.0.1:{up}/;\n\
             proxy_ssl_certificate $arg_cert; proxy_ssl_certificate_key $arg_cert; }}\n\
           location /u/ {{ uwsgi_pass suwsgi://127.0.0.1:{up};\n\
             uwsgi_ssl_certificate $arg_cert.crt; uwsgi_ssl_certificate_key $arg_cert.key; }}\n\
         }}"
    );
    let s = Server::start_with(1, &conf, |p| {
        for (name, cn) in [
            ("up", "up.example"),
            ("one", "one.example"),
            ("two", "two.example"),
        ] {
            make_cert(&p.path("conf"), name, cn, "rsa");
            // Read by the worker (as nginx's), which runs as nobody when tests run as root.
            let key = p.path(&format!("conf/{name}.key"));
            std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644))
                .expect("chmod");
        }
    });
    assert_eq!(
        s.get("/p/?cert=one").text(),
        "SUCCESS CN=one.example\n",
        "{}",
        s.error_log()
    );
    let failed = s.get("/p/?cert=two").text();
    assert!(failed.starts_with("FAILED:"), "{failed}");
    assert!(failed.ends_with(" CN=two.example\n"), "{failed}");
    // An empty certificate path sends none.
    assert_eq!(s.get("/none/").text(), "NONE \n");
    // A pair that cannot be read: nginx's 500.
    assert_eq!(s.get("/p/?cert=three").status, 500);
    assert!(s.error_log().contains("three.crt"), "{}", s.error_log());
    // The upstream answers the uwsgi packet with its 400, whose `add_header ... always`
    // lines (and `$ssl_client_verify`) are the handshake's, as nginx's.
    let r = s.get("/u/?cert=one");
    assert_eq!(r.status, 400);
    assert_eq!(r.header("X-Verify"), Some("SUCCESS"), "{}", s.error_log());
    assert_eq!(r.header("X-Name"), Some("CN=one.example"));
}

#[test]
fn a_request_asking_the_upstream_to_close_rides_the_pooled_connection() {
    let up = free_port();
    let conf = format!(
        "access_log off;\n\
         upstream u {{ server 127.0.0.1:{up}; keepalive 1; }}\n\
         server {{ listen 127.0.0.1:{up} ssl;\n\
           ssl_certificate up.crt; ssl_certificate_key up.key;\n\
           location / {{ return 200 \"$connection\"; }} }}\n\
         server {{ listen 127.0.0.1:PORT; proxy_http_version 1.1;\n\
           location / {{ proxy_pass https://u/; proxy_set_header Connection $args; }} }}"
    );
    let s = Server::start_with(1, &conf, |p| {
        make_cert(&p.path("conf"), "up", "up.example", "rsa")
    });
    let first = s.get("/").text();
    assert_eq!(s.get("/").text(), first, "the pooled connection is reused");
    // As nginx: the cached connection carries it, and is not cached again.
    assert_eq!(s.get("/?close").text(), first);
    assert_ne!(s.get("/").text(), first);
}
