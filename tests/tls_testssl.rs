//! testssl.sh (Debian's `testssl.sh`, which `.ci/run` installs) against the shipped example
//! TLS configuration, `examples/tls.conf`: no vulnerability found, no weak protocol
//! (SSLv2/3, TLS 1.0/1.1) and no weak cipher (NULL, export, RC4, 3DES, CBC without
//! forward secrecy, anonymous) offered. Skipped, with a message, where testssl.sh is absent.
//! Its run is bounded: protocols, cipher categories and vulnerabilities only (`-p -s -U`),
//! no DNS, no connection beyond loopback, under `timeout`.

mod common;
#[path = "support/tls_clients.rs"]
mod tls_clients;

use std::process::Command;

use common::{Prefix, Server, free_port, main_preamble};
use tls_clients::make_cert;

fn testssl() -> Option<&'static str> {
    ["testssl", "testssl.sh"].into_iter().find(|name| {
        Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn the_example_configuration_passes_testssl() {
    let Some(tool) = testssl() else {
        eprintln!("testssl.sh is not installed (apt-get install testssl.sh): test skipped");
        return;
    };
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tls.conf")).unwrap();
    let port = free_port();
    // The example as shipped, on a loopback port, with the test's own main settings.
    let http = example
        .split_once("http {")
        .map(|(_, h)| h)
        .unwrap()
        .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port} ssl;"));
    let p = Prefix::new();
    p.write(
        "conf/portico.conf",
        format!("{}http {{{http}", main_preamble(1)),
    );
    p.write(
        "conf/mime.types",
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/conf/mime.types")).unwrap(),
    );
    make_cert(&p.path("conf"), "example", "example.com", "ec");
    p.write("html/index.html", "hello\n");
    let _s = Server::spawn(p, port);
    let json = _s.prefix.path("testssl.json");
    let out = Command::new("timeout")
        .args([
            "600",
            tool,
            "--quiet",
            "--color",
            "0",
            "--warnings",
            "off",
            "--nodns",
            "none",
        ])
        .args(["-p", "-s", "-U", "--jsonfile"])
        .arg(&json)
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // One "id severity finding" line per finding.
    let flat = Command::new("python3")
        .args([
            "-c",
            "import json,sys\nfor x in json.load(open(sys.argv[1])): print(x['id'], x['severity'], x['finding'])",
        ])
        .arg(&json)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&flat.stdout).into_owned();
    assert!(
        report.contains("TLS1_3 OK offered"),
        "testssl.sh report: {report}\n{text}"
    );
    // Every finding of severity LOW and above fails the test: a vulnerability, or a weak
    // protocol or cipher offered; what only describes the setup is INFO or OK.
    let bad: Vec<&str> = report
        .lines()
        .filter(|l| {
            let severity = l.split(' ').nth(1).unwrap_or("");
            !matches!(severity, "OK" | "INFO")
        })
        .collect();
    assert!(
        bad.is_empty(),
        "testssl.sh findings:\n{}\n\n{report}",
        bad.join("\n")
    );
    for weak in [
        "SSLv2",
        "SSLv3",
        "TLS1",
        "TLS1_1",
        "cipherlist_NULL",
        "cipherlist_aNULL",
        "cipherlist_EXPORT",
        "cipherlist_LOW",
        "cipherlist_3DES_IDEA",
        "cipherlist_AVERAGE",
    ] {
        let line = report
            .lines()
            .find(|l| l.split(' ').next() == Some(weak))
            .unwrap_or_else(|| panic!("{weak} not in the report: {report}"));
        assert!(line.ends_with("not offered"), "{line}");
    }
}
