//! TLS test clients and certificates shared by the TLS test files: `openssl req` for
//! self-signed pairs, `openssl s_client`, `curl -k`.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// A self-signed certificate and unencrypted key for `cn` (`kind`: `rsa` or `ec`) in `dir`
/// as `NAME.crt` and `NAME.key`.
pub fn make_cert(dir: &Path, name: &str, cn: &str, kind: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let mut cmd = Command::new("openssl");
    cmd.current_dir(dir)
        .args(["req", "-x509", "-nodes", "-days", "2"]);
    match kind {
        "ec" => cmd.args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
        _ => cmd.args(["-newkey", "rsa:2048"]),
    };
    let status = cmd
        .args([
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
        ])
        .args(["-subj", &format!("/CN={cn}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl req failed");
}

/// Runs `openssl` with `args` in `dir`; whether it succeeded.
pub fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl")
        .success()
}

/// Runs `openssl s_client` against `127.0.0.1:port` with `args`, sending `input`; its
/// whole output (stdout then stderr).
pub fn s_client(port: u16, args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new("timeout")
        .args(["10", "openssl", "s_client", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl s_client");
    let _ = child.stdin.take().unwrap().write_all(input);
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `curl -sk` with `args`; (exit code, body).
pub fn curl(args: &[&str]) -> (i32, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl");
    (out.status.code().unwrap_or(-1), out.stdout)
}
