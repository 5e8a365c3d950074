//! Kernel TLS (`ssl_conf_command Options KTLS` with `sendfile on`): static files over TLS
//! come out whole whether the kernel takes the session or not. This machine's kernel has
//! no `tls` module, so what runs here is the fallback: the switch is asked for, refused by
//! the kernel, remembered, and the file is read and encrypted by rustls on the same
//! keep-alive connection, with nothing in the error log.

mod common;

use std::process::{Command, Stdio};

use common::Server;

fn make_cert(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(["req", "-x509", "-nodes", "-days", "2", "-newkey", "ec"])
        .args(["-pkeyopt", "ec_paramgen_curve:P-256"])
        .args([
            "-keyout",
            "k.key",
            "-out",
            "k.crt",
            "-subj",
            "/CN=localhost",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success());
}

#[test]
fn files_over_tls_with_ktls_asked_for_come_out_whole() {
    let http = "access_log off;\n\
                sendfile on;\n\
                server { listen 127.0.0.1:PORT ssl;\n\
                  ssl_certificate k.crt; ssl_certificate_key k.key;\n\
                  ssl_conf_command Options KTLS;\n\
                  root html;\n\
                  location /off/ { sendfile off; alias html/; } }";
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let s = Server::start_with(2, http, |p| {
        make_cert(&p.path("conf"));
        p.write("html/big.bin", &big);
        p.write("html/small.txt", "small\n");
    });
    let out_dir = s.prefix.path("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let url = |path: &str| format!("https://localhost:{}{path}", s.port);
    let resolve = format!("localhost:{}:127.0.0.1", s.port);
    // Several files on one keep-alive connection, TLS 1.3 and 1.2, sendfile on and off.
    for tls in ["--tlsv1.3", "--tlsv1.2"] {
        let status = Command::new("curl")
            .args(["-sk", "--max-time", "20", tls, "--resolve", &resolve])
            .args(["-o", "out/1", &url("/big.bin")])
            .args(["-o", "out/2", &url("/small.txt")])
            .args(["-o", "out/3", &url("/big.bin")])
            .args(["-o", "out/4", &url("/off/big.bin")])
            .current_dir(s.prefix.path(""))
            .status()
            .expect("curl");
        assert!(status.success(), "curl {tls}");
        for n in ["1", "3", "4"] {
            assert_eq!(
                std::fs::read(out_dir.join(n)).unwrap(),
                big,
                "file {n} {tls}"
            );
        }
        assert_eq!(std::fs::read(out_dir.join("2")).unwrap(), b"small\n");
    }
    s.assert_clean_log();
}

#[test]
fn only_the_ktls_option_of_ssl_conf_command_is_taken() {
    let p = common::Prefix::new();
    make_cert(&p.path("conf"));
    let conf = |cmd: &str| {
        format!(
            "{}http {{ server {{ listen 127.0.0.1:1 ssl; ssl_certificate k.crt; \
             ssl_certificate_key k.key; {cmd} }} }}\n",
            common::main_preamble(1)
        )
    };
    for (cmd, ok) in [
        ("ssl_conf_command Options KTLS;", true),
        ("ssl_conf_command Options -KTLS;", true),
        ("ssl_conf_command Options PrioritizeChaCha;", false),
        (
            "ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;",
            false,
        ),
    ] {
        std::fs::write(p.path("conf/portico.conf"), conf(cmd)).unwrap();
        let (rc, out, err) = common::run_cli(&p.dir, &["-t", "-c", "conf/portico.conf"]);
        assert_eq!(rc == 0, ok, "{cmd}: {out}{err}");
    }
}
