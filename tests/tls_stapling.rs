//! OCSP stapling. From `ssl_stapling_file`: the DER response is stapled for a client that
//! asks (`openssl s_client -status`), not for one that does not; a file that is not an OCSP
//! response fails `-t` as nginx's `d2i_OCSP_RESPONSE_bio()`. Without a file: the response
//! is fetched from a real responder (`openssl ocsp -port`) after a first handshake, and
//! stapled once it is there (polled for with a deadline); a revoked certificate's response
//! is not stapled and the error log says why, as nginx's does; under `ssl_stapling_verify`
//! a delegated responder needs id-kp-OCSPSigning; a responder named by host is resolved at
//! each fetch with the server's `resolver` (a scripted name server, `support/dns.rs`), and
//! without one uses its load-time address; a certificate without a responder gets nginx's
//! warning at `-t`.

mod common;
#[path = "support/dns.rs"]
mod dns;
#[path = "support/tls_clients.rs"]
mod tls_clients;

use common::{Prefix, Server, main_preamble, run_cli};
use tls_clients::{openssl, s_client};

/// A CA, a server certificate it signed, and an OCSP response (good) for it, under `dir`.
fn make_ocsp(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(
        dir.join("ext.cnf"),
        "[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign,digitalSignature\n",
    )
    .unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    let steps: Vec<Vec<&str>> = vec![
        [
            &["req", "-x509", "-nodes", "-days", "2"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-subj",
                "/CN=ca",
                "-extensions",
                "v3",
                "-config",
                "ext.cnf",
            ],
        ]
        .concat(),
        [
            &["req", "-nodes"][..],
            &ec,
            &[
                "-keyout",
                "srv.key",
                "-out",
                "srv.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
        vec![
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "4660",
            "-days",
            "2",
            "-out",
            "srv.crt",
        ],
        vec![
            "ocsp",
            "-issuer",
            "ca.crt",
            "-cert",
            "srv.crt",
            "-no_nonce",
            "-reqout",
            "req.der",
        ],
    ];
    for args in &steps {
        assert!(openssl(dir, args), "openssl {args:?}");
    }
    // A "valid" index line for serial 0x1234 (index.txt: V, expiry, -, serial, unknown, DN).
    std::fs::write(
        dir.join("index.txt"),
        "V\t301231235959Z\t\t1234\tunknown\t/CN=localhost\n",
    )
    .unwrap();
    let respond = [
        "ocsp",
        "-index",
        "index.txt",
        "-CA",
        "ca.crt",
        "-rsigner",
        "ca.crt",
        "-rkey",
        "ca.key",
        "-reqin",
        "req.der",
        "-respout",
        "resp.der",
        "-ndays",
        "1",
    ];
    assert!(openssl(dir, &respond), "openssl ocsp");
}

#[test]
fn the_file_response_is_stapled() {
    let s = Server::start_with(
        1,
        "access_log off;\n\
         server {\n\
           listen 127.0.0.1:PORT ssl;\n\
           ssl_certificate srv.crt; ssl_certificate_key srv.key;\n\
           ssl_stapling on; ssl_stapling_file resp.der; ssl_stapling_verify on;\n\
           location / { return 200 ok; }\n\
         }",
        |p| make_ocsp(&p.path("conf")),
    );
    for version in ["-tls1_2", "-tls1_3"] {
        let out = s_client(s.port, &[version, "-status"], b"");
        assert!(
            out.contains("OCSP Response Status: successful"),
            "{version}: {out}"
        );
        assert!(out.contains("Cert Status: good"), "{version}: {out}");
        let out = s_client(s.port, &[version], b"");
        assert!(!out.contains("OCSP Response Status"), "{version}: {out}");
    }
    s.assert_clean_log();
}

#[test]
fn stapling_without_a_file_or_with_a_bad_one_fails_the_test() {
    let p = Prefix::new();
    make_ocsp(&p.path("conf"));
    p.write("conf/bad.der", "not DER");
    for (extra, expect) in [
        (
            "ssl_stapling on; ssl_stapling_file bad.der;",
            "d2i_OCSP_RESPONSE_bio(\"",
        ),
        (
            "ssl_stapling on; ssl_stapling_file nope.der;",
            "BIO_new_file(\"",
        ),
    ] {
        let conf = format!(
            "{}http {{ server {{ listen 127.0.0.1:1 ssl; ssl_certificate srv.crt; ssl_certificate_key srv.key; {extra} }} }}\n",
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
    // Without a file and without a responder: ignored with nginx's warning.
    let conf = format!(
        "{}http {{ server {{ listen 127.0.0.1:1 ssl; ssl_certificate srv.crt; ssl_certificate_key srv.key; ssl_stapling on; ssl_trusted_certificate ca.crt; }} }}\n",
        main_preamble(1)
    );
    p.write("conf/portico.conf", conf);
    let (rc, _, err) = run_cli(&p.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_eq!(rc, 0, "{err}");
    assert!(
        err.contains(
            "[warn] \"ssl_stapling\" ignored, no OCSP responder URL in the certificate \"srv.crt\""
        ),
        "{err}"
    );
    // No issuer: neither in the chain nor in ssl_trusted_certificate.
    let conf = format!(
        "{}http {{ server {{ listen 127.0.0.1:1 ssl; ssl_certificate srv.crt; ssl_certificate_key srv.key; ssl_stapling on; }} }}\n",
        main_preamble(1)
    );
    p.write("conf/portico.conf", conf);
    let (rc, _, err) = run_cli(&p.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_eq!(rc, 0, "{err}");
    assert!(
        err.contains("issuer certificate not found for certificate \"srv.crt\""),
        "{err}"
    );
    // A responder URL that is not http://.
    let conf = format!(
        "{}http {{ server {{ listen 127.0.0.1:1 ssl; ssl_certificate srv.crt; ssl_certificate_key srv.key; ssl_stapling on; ssl_trusted_certificate ca.crt; ssl_stapling_responder https://127.0.0.1/; }} }}\n",
        main_preamble(1)
    );
    p.write("conf/portico.conf", conf);
    let (rc, _, err) = run_cli(&p.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_eq!(rc, 0, "{err}");
    assert!(
        err.contains("invalid URL prefix in OCSP responder \"https://127.0.0.1/\""),
        "{err}"
    );
    // A file without "ssl_stapling on" is not used, as in nginx.
    let conf = format!(
        "{}http {{ server {{ listen 127.0.0.1:1 ssl; ssl_certificate srv.crt; ssl_certificate_key srv.key; ssl_stapling_file bad.der; }} }}\n",
        main_preamble(1)
    );
    p.write("conf/portico.conf", conf);
    let (rc, _, err) = run_cli(&p.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_eq!(rc, 0, "{err}");
}

/// `openssl ocsp` answering on a port, killed when dropped (its stdout kept open).
struct Responder(
    std::process::Child,
    #[allow(dead_code)] std::io::BufReader<std::process::ChildStdout>,
);

impl Responder {
    /// Starts the responder over `dir`'s index and CA on `port`; waits until it says it
    /// listens (its `ACCEPT` line: a connection made only to probe it would hold up the
    /// one-connection-at-a-time responder).
    fn start(dir: &std::path::Path, port: u16) -> Responder {
        Responder::signed_by(dir, port, "ca")
    }

    /// The same, signing with `signer`.crt and .key.
    fn signed_by(dir: &std::path::Path, port: u16, signer: &str) -> Responder {
        use std::io::BufRead;
        let mut child = std::process::Command::new("openssl")
            .current_dir(dir)
            .args(["ocsp", "-index", "index.txt", "-CA", "ca.crt"])
            .args(["-rsigner", &format!("{signer}.crt")])
            .args(["-rkey", &format!("{signer}.key"), "-ndays", "1"])
            .args(["-port", &port.to_string()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl ocsp");
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // Ends at the ACCEPT line or at EOF (the responder exited).
        let _ = out.read_line(&mut line);
        assert!(line.starts_with("ACCEPT"), "openssl ocsp: {line:?}");
        Responder(child, out)
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A server stapling from the responder on `rport`, with `extra` directives.
fn fetching_server(rport: u16, extra: &str, setup: impl FnOnce(&std::path::Path)) -> Server {
    Server::start_with(
        1,
        &format!(
            "access_log off;\n\
             server {{\n\
               listen 127.0.0.1:PORT ssl;\n\
               ssl_certificate srv.crt; ssl_certificate_key srv.key;\n\
               ssl_stapling on; ssl_stapling_responder http://127.0.0.1:{rport}/;\n\
               ssl_trusted_certificate ca.crt;\n\
               {extra}\n\
               location / {{ return 200 ok; }}\n\
             }}"
        ),
        |p| {
            make_ocsp(&p.path("conf"));
            setup(&p.path("conf"));
        },
    )
}

#[test]
fn the_responders_answer_is_fetched_and_stapled() {
    let rport = common::free_port();
    let s = fetching_server(rport, "ssl_stapling_verify on;", |_| {});
    let _r = Responder::start(&s.prefix.path("conf"), rport);
    // The first handshakes start the fetch; the staple comes with a later one.
    let mut last = String::new();
    let stapled = s.wait_for(30, || {
        last = s_client(s.port, &["-tls1_3", "-status"], b"");
        last.contains("Cert Status: good")
    });
    assert!(stapled, "never stapled: {last}\n{}", s.error_log());
    assert!(last.contains("OCSP Response Status: successful"), "{last}");
    let out = s_client(s.port, &["-tls1_2", "-status"], b"");
    assert!(out.contains("Cert Status: good"), "{out}");
    // Not for a client that does not ask.
    let out = s_client(s.port, &["-tls1_3"], b"");
    assert!(!out.contains("OCSP Response Status"), "{out}");
    assert!(!s.error_log().contains("[error]"), "{}", s.error_log());
    s.assert_clean_log();
}

#[test]
fn a_revoked_certificates_response_is_not_stapled() {
    let rport = common::free_port();
    let s = fetching_server(rport, "", |dir| {
        std::fs::write(
            dir.join("index.txt"),
            "R\t301231235959Z\t251201000000Z\t1234\tunknown\t/CN=localhost\n",
        )
        .unwrap();
    });
    let _r = Responder::start(&s.prefix.path("conf"), rport);
    let line = format!(
        "certificate status \"revoked\" in the OCSP response while requesting certificate \
         status, responder: 127.0.0.1, peer: 127.0.0.1:{rport}, certificate: \"srv.crt\""
    );
    let logged = s.wait_for(30, || {
        s_client(s.port, &["-status"], b"");
        s.error_log()
            .lines()
            .any(|l| l.contains("[error] ") && l.ends_with(&line))
    });
    assert!(logged, "{}", s.error_log());
    // Fetched and refused: handshakes go on without a staple (the next fetch is in 5 min).
    let out = s_client(s.port, &["-status"], b"");
    assert!(out.contains("OCSP response: no response sent"), "{out}");
    s.assert_clean_log();
}

#[test]
fn a_named_responder_without_a_resolver_uses_its_address_from_load() {
    let rport = common::free_port();
    let s = Server::start_with(
        1,
        &format!(
            "access_log off;\n\
             server {{\n\
               listen 127.0.0.1:PORT ssl;\n\
               ssl_certificate srv.crt; ssl_certificate_key srv.key;\n\
               ssl_trusted_certificate ca.crt;\n\
               ssl_stapling on; ssl_stapling_responder http://localhost:{rport}/;\n\
               location / {{ return 200 ok; }}\n\
             }}"
        ),
        |p| make_ocsp(&p.path("conf")),
    );
    let _r = Responder::start(&s.prefix.path("conf"), rport);
    let mut last = String::new();
    let stapled = s.wait_for(30, || {
        last = s_client(s.port, &["-status"], b"");
        last.contains("Cert Status: good")
    });
    assert!(stapled, "never stapled: {last}\n{}", s.error_log());
    let warned = "[warn] ";
    let line = "no resolver defined to resolve localhost while requesting certificate status, \
                responder: localhost, certificate: \"srv.crt\"";
    assert!(
        s.error_log()
            .lines()
            .any(|l| l.contains(warned) && l.ends_with(line)),
        "{}",
        s.error_log()
    );
    s.assert_clean_log();
}

/// A server stapling from the responder `http://localhost:RPORT/`, with the `resolver` on
/// 127.0.0.1:`dport` at the `http` level (the server's, as nginx inherits it).
fn named_responder_server(rport: u16, dport: u16) -> Server {
    Server::start_with(
        1,
        &format!(
            "access_log off;\n\
             resolver 127.0.0.1:{dport} ipv6=off;\n\
             server {{\n\
               listen 127.0.0.1:PORT ssl;\n\
               ssl_certificate srv.crt; ssl_certificate_key srv.key;\n\
               ssl_trusted_certificate ca.crt;\n\
               ssl_stapling on; ssl_stapling_responder http://localhost:{rport}/;\n\
               location / {{ return 200 ok; }}\n\
             }}"
        ),
        |p| make_ocsp(&p.path("conf")),
    )
}

#[test]
fn a_named_responder_is_resolved_with_the_resolver_at_fetch_time() {
    let rport = common::free_port();
    let d = dns::Dns::start(|q, qtype, _| match (q, qtype) {
        ("localhost", dns::A) => {
            dns::Reply::records(vec![dns::Rr::a("localhost", "127.0.0.1", 60)])
        }
        _ => dns::Reply::empty(),
    });
    let s = named_responder_server(rport, d.port);
    let _r = Responder::start(&s.prefix.path("conf"), rport);
    let mut last = String::new();
    let stapled = s.wait_for(30, || {
        last = s_client(s.port, &["-status"], b"");
        last.contains("Cert Status: good")
    });
    assert!(stapled, "never stapled: {last}\n{}", s.error_log());
    assert!(d.count("localhost", dns::A) >= 1, "{:?}", d.asked());
    let log = s.error_log();
    assert!(!log.contains("no resolver defined"), "{log}");
    assert!(!log.contains("[error]"), "{log}");
    s.assert_clean_log();
}

#[test]
fn a_responder_name_the_resolver_does_not_know_is_not_fetched() {
    let rport = common::free_port();
    let d = dns::Dns::start(|_, _, _| dns::Reply::error(3));
    let s = named_responder_server(rport, d.port);
    // The responder answers on the address found at load: the run-time answer rules, as in
    // nginx (no fall back to the load-time address).
    let _r = Responder::start(&s.prefix.path("conf"), rport);
    let line = "localhost could not be resolved (3: Host not found) while requesting certificate \
                status, responder: localhost, certificate: \"srv.crt\"";
    let logged = s.wait_for(30, || {
        s_client(s.port, &["-status"], b"");
        s.error_log()
            .lines()
            .any(|l| l.contains("[error] ") && l.ends_with(line))
    });
    assert!(logged, "{}", s.error_log());
    // Failed: handshakes go on without a staple (the next fetch is in 5 min).
    let out = s_client(s.port, &["-status"], b"");
    assert!(out.contains("OCSP response: no response sent"), "{out}");
    assert!(d.count("localhost", dns::A) >= 1, "{:?}", d.asked());
    s.assert_clean_log();
}

/// A responder certificate `name` signed by the CA, with `ext` as its extensions.
fn make_signer(dir: &std::path::Path, name: &str, ext: &str) {
    std::fs::write(dir.join(format!("{name}.cnf")), format!("[e]\n{ext}\n")).unwrap();
    let (key, csr, crt, cnf) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
        format!("{name}.cnf"),
    );
    let steps: Vec<Vec<&str>> = vec![
        vec![
            "req",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=responder",
        ],
        vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "77",
            "-days",
            "2",
            "-extfile",
            &cnf,
            "-extensions",
            "e",
            "-out",
            &crt,
        ],
    ];
    for args in &steps {
        assert!(openssl(dir, args), "openssl {args:?}");
    }
}

#[test]
fn a_delegated_responder_needs_ocsp_signing_under_verify() {
    for (eku, stapled) in [
        ("extendedKeyUsage=OCSPSigning", true),
        ("extendedKeyUsage=serverAuth", false),
    ] {
        let rport = common::free_port();
        let s = fetching_server(rport, "ssl_stapling_verify on;", |dir| {
            make_signer(dir, "delegate", eku)
        });
        let _r = Responder::signed_by(&s.prefix.path("conf"), rport, "delegate");
        if stapled {
            let mut last = String::new();
            let ok = s.wait_for(30, || {
                last = s_client(s.port, &["-status"], b"");
                last.contains("Cert Status: good")
            });
            assert!(ok, "{eku}: never stapled: {last}\n{}", s.error_log());
        } else {
            let line = format!(
                "OCSP_basic_verify() failed (SSL: root ca not trusted) while requesting \
                 certificate status, responder: 127.0.0.1, peer: 127.0.0.1:{rport}, \
                 certificate: \"srv.crt\""
            );
            let logged = s.wait_for(30, || {
                s_client(s.port, &["-status"], b"");
                s.error_log().lines().any(|l| l.ends_with(&line))
            });
            assert!(logged, "{eku}: {}", s.error_log());
            let out = s_client(s.port, &["-status"], b"");
            assert!(out.contains("OCSP response: no response sent"), "{out}");
        }
        s.assert_clean_log();
    }
}
