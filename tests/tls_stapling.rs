//! OCSP stapling from `ssl_stapling_file`: the DER response is stapled for a client that
//! asks (`openssl s_client -status`), not for one that does not; `ssl_stapling on` without
//! a file is refused with the reason (responders are not queried yet), a file that is not
//! an OCSP response fails `-t` as nginx's `d2i_OCSP_RESPONSE_bio()`.

mod common;
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
        ("ssl_stapling on;", "needs \"ssl_stapling_file\""),
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
    // A file without "ssl_stapling on" is not used, as in nginx.
    let conf = format!(
        "{}http {{ server {{ listen 127.0.0.1:1 ssl; ssl_certificate srv.crt; ssl_certificate_key srv.key; ssl_stapling_file bad.der; }} }}\n",
        main_preamble(1)
    );
    p.write("conf/portico.conf", conf);
    let (rc, _, err) = run_cli(&p.dir, &["-t", "-c", "conf/portico.conf"]);
    assert_eq!(rc, 0, "{err}");
}
