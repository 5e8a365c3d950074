//! Client certificates against CRLs as nginx has OpenSSL check them (`ssl_crl`): the X.509
//! v1 CRLs `openssl ca -gencrl` writes without a `crl_extensions` section, every
//! certificate of the chain up to the root needing its issuer's CRL, a revoked CA
//! revoking what it signed, and CA certificates (`CA:TRUE`) presented as a client's own,
//! which OpenSSL takes. Checked against nginx 1.22 with the same files (its
//! `ssl_crl.t`).

mod common;
#[path = "support/tls_clients.rs"]
mod tls_clients;

use std::path::Path;

use common::{Server, free_port};
use tls_clients::{make_cert, openssl};

/// root (self-signed CA) → int (CA) → end (CA:TRUE too, as nginx's test makes them), and
/// CRLs: `empty.crl` (root's, nothing revoked), `int.crl` (int's, nothing revoked),
/// `root.crl` (root's, int revoked); `empty-chain.crl` is the first two together.
fn make_pki(d: &Path) {
    std::fs::create_dir_all(d).unwrap();
    let ds = d.display();
    std::fs::write(
        d.join("openssl.conf"),
        "[ req ]\ndefault_bits = 2048\nencrypt_key = no\n\
         distinguished_name = req_distinguished_name\nx509_extensions = myca_extensions\n\
         [ req_distinguished_name ]\n[ myca_extensions ]\nbasicConstraints = critical,CA:TRUE\n",
    )
    .unwrap();
    std::fs::write(
        d.join("ca.conf"),
        format!(
            "[ ca ]\ndefault_ca = myca\n[ myca ]\nnew_certs_dir = {ds}\n\
             database = {ds}/certindex\ndefault_md = sha256\npolicy = myca_policy\n\
             serial = {ds}/certserial\ndefault_days = 1\nx509_extensions = myca_extensions\n\
             [ myca_policy ]\ncommonName = supplied\n[ myca_extensions ]\n\
             basicConstraints = critical,CA:TRUE\n\
             keyUsage = critical, digitalSignature, cRLSign, keyCertSign\n"
        ),
    )
    .unwrap();
    std::fs::write(d.join("certserial"), "1000").unwrap();
    std::fs::write(d.join("certindex"), "").unwrap();
    let run = |args: &[&str]| assert!(openssl(d, args), "openssl {args:?}");
    run(&[
        "req",
        "-x509",
        "-new",
        "-config",
        "openssl.conf",
        "-subj",
        "/CN=root/",
        "-out",
        "root.crt",
        "-keyout",
        "root.key",
    ]);
    for name in ["int", "end"] {
        run(&[
            "req",
            "-new",
            "-config",
            "openssl.conf",
            "-subj",
            &format!("/CN={name}/"),
            "-out",
            &format!("{name}.csr"),
            "-keyout",
            &format!("{name}.key"),
        ]);
    }
    let sign = |name: &str, by: &str| {
        run(&[
            "ca",
            "-batch",
            "-config",
            "ca.conf",
            "-keyfile",
            &format!("{by}.key"),
            "-cert",
            &format!("{by}.crt"),
            "-subj",
            &format!("/CN={name}/"),
            "-in",
            &format!("{name}.csr"),
            "-out",
            &format!("{name}.crt"),
        ]);
    };
    sign("int", "root");
    sign("end", "int");
    let crl = |by: &str, out: &str| {
        run(&[
            "ca",
            "-gencrl",
            "-config",
            "ca.conf",
            "-keyfile",
            &format!("{by}.key"),
            "-cert",
            &format!("{by}.crt"),
            "-out",
            out,
            "-crldays",
            "1",
        ]);
    };
    crl("root", "empty.crl");
    crl("int", "int.crl");
    let joined = [
        std::fs::read(d.join("empty.crl")).unwrap(),
        std::fs::read(d.join("int.crl")).unwrap(),
    ]
    .concat();
    std::fs::write(d.join("empty-chain.crl"), joined).unwrap();
    run(&[
        "ca", "-config", "ca.conf", "-revoke", "int.crt", "-keyfile", "root.key", "-cert",
        "root.crt",
    ]);
    crl("root", "root.crl");
    let both = [
        std::fs::read(d.join("int.crt")).unwrap(),
        std::fs::read(d.join("root.crt")).unwrap(),
    ]
    .concat();
    std::fs::write(d.join("int-root.crt"), both).unwrap();
}

/// `$ssl_client_verify` of a request with the `cert` pair on `port`.
fn verify(port: u16, dir: &Path, cert: &str) -> String {
    let crt = dir.join(format!("{cert}.crt"));
    let key = dir.join(format!("{cert}.key"));
    let out = tls_clients::s_client(
        port,
        &[
            "-quiet",
            "-ign_eof",
            "-cert",
            &crt.display().to_string(),
            "-key",
            &key.display().to_string(),
        ],
        b"GET /t HTTP/1.0\r\nHost: localhost\r\n\r\n",
    );
    out.lines()
        .find_map(|l| l.strip_prefix("X-Verify: "))
        .unwrap_or("(none)")
        .trim()
        .to_string()
}

#[test]
fn v1_crls_checked_along_the_whole_chain_as_openssl() {
    let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let dir = std::env::temp_dir().join(format!(
        "portico-crl-{}-{}",
        std::process::id(),
        free_port()
    ));
    make_pki(&dir);
    let d = dir.display();
    let conf = format!(
        "access_log off;\n\
         ssl_certificate srv.crt; ssl_certificate_key srv.key;\n\
         ssl_verify_client on; ssl_client_certificate {d}/int-root.crt;\n\
         add_header X-Verify $ssl_client_verify always;\n\
         server {{ listen 127.0.0.1:PORT; }}\n\
         server {{ listen 127.0.0.1:{p0} ssl; ssl_client_certificate {d}/root.crt; ssl_crl {d}/empty.crl; }}\n\
         server {{ listen 127.0.0.1:{p1} ssl; ssl_client_certificate {d}/root.crt; ssl_crl {d}/root.crl; }}\n\
         server {{ listen 127.0.0.1:{p2} ssl; ssl_verify_depth 2; ssl_crl {d}/root.crl; }}\n\
         server {{ listen 127.0.0.1:{p3} ssl; ssl_verify_depth 2; ssl_crl {d}/empty.crl; }}\n\
         server {{ listen 127.0.0.1:{p4} ssl; ssl_verify_depth 2; ssl_crl {d}/empty-chain.crl; }}\n",
        p0 = ports[0],
        p1 = ports[1],
        p2 = ports[2],
        p3 = ports[3],
        p4 = ports[4],
    );
    let s = Server::start_with(1, &conf, |p| {
        make_cert(&p.path("conf"), "srv", "localhost", "rsa")
    });
    // A CA certificate as the client's own, under a v1 CRL that revokes nothing.
    assert_eq!(
        verify(ports[0], &dir, "int"),
        "SUCCESS",
        "{}",
        s.error_log()
    );
    assert_eq!(verify(ports[1], &dir, "int"), "FAILED:certificate revoked");
    // The revoked intermediate revokes what it signed.
    assert_eq!(verify(ports[2], &dir, "end"), "FAILED:certificate revoked");
    // int's own CRL is missing.
    assert_eq!(
        verify(ports[3], &dir, "end"),
        "FAILED:unable to get certificate CRL"
    );
    assert_eq!(verify(ports[4], &dir, "end"), "SUCCESS");
    let _ = std::fs::remove_dir_all(&dir);
}
