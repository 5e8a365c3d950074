//! `$ssl_client_s_dn`/`_i_dn` (RFC 2253) and their `_legacy` forms, `$ssl_client_v_start`,
//! `_v_end`, `_v_remain`, `$ssl_ciphers` and `$ssl_curves`, with the bytes nginx 1.22 on
//! OpenSSL 3 writes for the same certificate and hello (compared side by side).

mod common;
#[path = "support/tls_clients.rs"]
mod tls_clients;

use common::Server;
use tls_clients::{curl, make_cert, openssl, s_client};

const SUBJECT: &str = "/C=US/O=Acme, Inc/OU=d\u{e9}v+UID=42/CN= #client;x /emailAddress=a@b.c";

fn start() -> Server {
    Server::start_with(
        1,
        "access_log off;\n\
         server {\n\
           listen 127.0.0.1:PORT ssl;\n\
           ssl_certificate srv.crt; ssl_certificate_key srv.key;\n\
           ssl_verify_client optional_no_ca;\n\
           location /dn { return 200 \"$ssl_client_s_dn|$ssl_client_i_dn|$ssl_client_s_dn_legacy|$ssl_client_i_dn_legacy\\n\"; }\n\
           location /v { return 200 \"$ssl_client_v_start|$ssl_client_v_end|$ssl_client_v_remain\\n\"; }\n\
           location /offer { return 200 \"$ssl_ciphers|$ssl_curves\\n\"; }\n\
         }",
        |p| {
            let conf = p.path("conf");
            make_cert(&conf, "srv", "localhost", "ec");
            let args = [
                "req",
                "-x509",
                "-nodes",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-keyout",
                "cli.key",
                "-out",
                "cli.crt",
                "-subj",
                SUBJECT,
                "-multivalue-rdn",
                "-utf8",
                "-days",
                "3",
            ];
            assert!(openssl(&conf, &args));
        },
    )
}

#[test]
fn client_certificate_names_and_times_as_nginx_prints_them() {
    let s = start();
    let conf = s.prefix.path("conf");
    let (cert, key) = (conf.join("cli.crt"), conf.join("cli.key"));
    let url = |path: &str| format!("https://127.0.0.1:{}{path}", s.port);
    let with_cert = |path: &str| {
        let (rc, body) = curl(&[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            &url(path),
        ]);
        assert_eq!(rc, 0);
        String::from_utf8(body).unwrap()
    };
    let dn = "emailAddress=a@b.c,CN=\\ #client\\;x\\ ,UID=42+OU=d\\C3\\A9v,O=Acme\\, Inc,C=US";
    let legacy = "/C=US/O=Acme, Inc/OU=d\\xC3\\xA9v+UID=42/CN= #client;x /emailAddress=a@b.c";
    assert_eq!(with_cert("/dn"), format!("{dn}|{dn}|{legacy}|{legacy}\n"));
    // openssl x509 prints validity times as ASN1_TIME_print does, which nginx uses.
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-startdate", "-enddate", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .to_string()
    };
    let v = with_cert("/v");
    let start_end = format!("{}|{}|", field("notBefore="), field("notAfter="));
    // Three days of validity: 3 in the certificate's first second, 2 after it.
    assert!(
        v == format!("{start_end}2\n") || v == format!("{start_end}3\n"),
        "{v} {text}"
    );
    // Without a certificate: empty, as nginx.
    let (_, body) = curl(&[&url("/dn")]);
    assert_eq!(body, b"|||\n");
    s.assert_clean_log();
}

#[test]
fn offered_ciphers_and_curves() {
    let s = start();
    let get = b"GET /offer HTTP/1.0\r\n\r\n";
    let out = s_client(
        s.port,
        &[
            "-tls1_2",
            "-cipher",
            "ECDHE-ECDSA-AES128-GCM-SHA256:AES128-SHA",
            "-groups",
            "X25519:P-256",
            "-ign_eof",
        ],
        get,
    );
    assert!(
        out.contains("ECDHE-ECDSA-AES128-GCM-SHA256:AES128-SHA:TLS_EMPTY_RENEGOTIATION_INFO_SCSV|X25519:prime256v1\n"),
        "{out}"
    );
    let out = s_client(
        s.port,
        &[
            "-tls1_3",
            "-ciphersuites",
            "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
            "-groups",
            "P-384:X25519",
            "-ign_eof",
        ],
        get,
    );
    assert!(
        out.contains("TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_EMPTY_RENEGOTIATION_INFO_SCSV|secp384r1:X25519\n"),
        "{out}"
    );
    s.assert_clean_log();
}
