//! Encrypted private keys with `ssl_password_file`: PKCS#8 (PBES2) and traditional PEM
//! keys, RSA and ECDSA, decrypted with the first of the file's passwords that fits, and
//! served; nginx's errors for a wrong password and a cipher Portico cannot decrypt.

mod common;
#[path = "support/tls_clients.rs"]
mod tls_clients;

use common::{Prefix, Server, main_preamble, run_cli};
use tls_clients::{curl, make_cert, openssl};

/// `-t` of a configuration with one TLS server whose body is `body`; (exit code, output).
fn check(p: &Prefix, body: &str) -> (i32, String) {
    let conf = format!(
        "{}http {{ server {{ listen 127.0.0.1:1 ssl; {body} }} }}\n",
        main_preamble(1)
    );
    p.write("conf/portico.conf", conf);
    let (rc, out, err) = run_cli(&p.dir, &["-t", "-c", "conf/portico.conf"]);
    (rc, out + &err)
}

#[test]
fn encrypted_keys_are_decrypted_with_the_password_file() {
    let p = Prefix::new();
    let conf = p.path("conf");
    make_cert(&conf, "ec", "localhost", "ec");
    make_cert(&conf, "rsa", "localhost", "rsa");
    let pass = "pass:secret";
    let forms: &[(&str, &[&str])] = &[
        // OpenSSL 3's default: PKCS#8, PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC.
        (
            "ec_pk8",
            &[
                "pkey",
                "-in",
                "ec.key",
                "-aes256",
                "-passout",
                pass,
                "-out",
                "ec_pk8.key",
            ],
        ),
        (
            "ec_pk8_sha1",
            &[
                "pkcs8",
                "-topk8",
                "-in",
                "ec.key",
                "-v2",
                "aes-128-cbc",
                "-v2prf",
                "hmacWithSHA1",
                "-passout",
                pass,
                "-out",
                "ec_pk8_sha1.key",
            ],
        ),
        (
            "rsa_trad",
            &[
                "rsa",
                "-in",
                "rsa.key",
                "-aes128",
                "-traditional",
                "-passout",
                pass,
                "-out",
                "rsa_trad.key",
            ],
        ),
        (
            "ec_trad",
            &[
                "ec",
                "-in",
                "ec.key",
                "-aes192",
                "-passout",
                pass,
                "-out",
                "ec_trad.key",
            ],
        ),
    ];
    p.write("conf/passwords", "wrong\r\n\r\nsecret\r\n");
    p.write("conf/wrong", "wrong\n");
    for (name, args) in forms {
        assert!(openssl(&conf, args), "openssl {args:?}");
        let cert = if name.starts_with("ec") { "ec" } else { "rsa" };
        let key = format!("ssl_certificate {cert}.crt; ssl_certificate_key {name}.key;");
        let (rc, out) = check(&p, &format!("{key} ssl_password_file passwords;"));
        assert_eq!(rc, 0, "{name}: {out}");
        let (rc, out) = check(&p, &format!("{key} ssl_password_file wrong;"));
        assert_ne!(rc, 0, "{name}: {out}");
        assert!(
            out.contains(&format!(
                "cannot load certificate key \"{name}.key\": PEM_read_bio_PrivateKey() failed"
            )) && out.contains("bad decrypt"),
            "{name}: {out}"
        );
        let (rc, out) = check(&p, &key);
        assert_ne!(rc, 0, "{name}: {out}");
        assert!(out.contains("ssl_password_file"), "{name}: {out}");
    }
    // 3DES is not in this build's aws-lc: refused with the way out.
    let des = [
        "pkcs8", "-topk8", "-in", "ec.key", "-v2", "des3", "-passout", pass, "-out", "des.key",
    ];
    assert!(openssl(&conf, &des));
    let (rc, out) = check(
        &p,
        "ssl_certificate ec.crt; ssl_certificate_key des.key; ssl_password_file passwords;",
    );
    assert_ne!(rc, 0);
    assert!(
        out.contains("DES-EDE3-CBC") && out.contains("openssl pkey"),
        "{out}"
    );
    // The file must exist when the directive is read.
    let (rc, out) = check(
        &p,
        "ssl_certificate ec.crt; ssl_certificate_key ec_pk8.key; ssl_password_file nope;",
    );
    assert_ne!(rc, 0);
    assert!(
        out.contains("open() \"") && out.contains("nope\" failed (2: No such file or directory)"),
        "{out}"
    );
}

#[test]
fn a_server_with_an_encrypted_key_serves_https() {
    let s = Server::start_with(
        1,
        "access_log off;\n\
         ssl_password_file passwords;\n\
         server {\n\
           listen 127.0.0.1:PORT ssl;\n\
           ssl_certificate rsa.crt; ssl_certificate_key rsa_enc.key;\n\
           location / { return 200 \"ok $https\\n\"; }\n\
         }",
        |p| {
            let conf = p.path("conf");
            make_cert(&conf, "rsa", "localhost", "rsa");
            let args = [
                "pkey",
                "-in",
                "rsa.key",
                "-aes128",
                "-passout",
                "pass:localhost",
                "-out",
                "rsa_enc.key",
            ];
            assert!(openssl(&conf, &args));
            p.write("conf/passwords", "inherits\nlocalhost");
        },
    );
    let (rc, body) = curl(&[&format!("https://127.0.0.1:{}/", s.port)]);
    assert_eq!(rc, 0);
    assert_eq!(body, b"ok on\n");
    s.assert_clean_log();
}
