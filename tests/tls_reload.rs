//! A reload with new certificates under a handshake load: no handshake fails while the old
//! workers finish and the new ones start, the new certificate is served afterwards, and
//! sessions made before the reload resume after it (the shared cache survives a reload;
//! tickets under `ssl_session_ticket_key` files too).

mod common;
#[path = "support/tls_clients.rs"]
mod tls_clients;

use std::process::{Command, Stdio};

use common::Server;
use tls_clients::{make_cert, s_client};

/// A Python client that does full handshakes (and one request each) for `secs` seconds;
/// prints "ok N failed M".
const LOOP: &str = r#"
import socket, ssl, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ok = failed = 0; errors = []
end = time.time() + secs
while time.time() < end:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                t.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b""
                while True:
                    chunk = t.recv(4096)
                    if not chunk: break
                    data += chunk
                if b" 200 " not in data.split(b"\r\n")[0]: raise Exception(data[:80])
        ok += 1
    except Exception as e:
        failed += 1; errors.append(repr(e))
print("ok", ok, "failed", failed, errors[:3])
"#;

#[test]
fn reload_swaps_certificates_without_a_failed_handshake() {
    let s = Server::start_with(
        2,
        "access_log off;\n\
         ssl_session_cache shared:S:1m;\n\
         ssl_session_ticket_key ticket.key;\n\
         server {\n\
           listen 127.0.0.1:PORT ssl;\n\
           ssl_certificate cur.crt; ssl_certificate_key cur.key;\n\
           location / { return 200 ok; }\n\
         }",
        |p| {
            let conf = p.path("conf");
            make_cert(&conf, "cur", "old.example", "ec");
            make_cert(&conf, "next", "new.example", "ec");
            let key: Vec<u8> = (0..80u8).map(|i| i.wrapping_mul(37)).collect();
            p.write("conf/ticket.key", key);
        },
    );
    let out = s_client(s.port, &[], b"");
    assert!(out.contains("CN = old.example"), "{out}");
    let conf = s.prefix.path("conf");
    let (sess12, sess13) = (conf.join("s12.pem"), conf.join("s13.pem"));
    let out = s_client(
        s.port,
        &["-tls1_2", "-sess_out", sess12.to_str().unwrap()],
        b"",
    );
    assert!(out.contains("New, TLSv1.2"), "{out}");
    // A TLS 1.3 ticket comes after the handshake: with -ign_eof s_client reads until the
    // server closes (HTTP/1.0), so it has read the ticket before it exits.
    let out = s_client(
        s.port,
        &["-tls1_3", "-sess_out", sess13.to_str().unwrap(), "-ign_eof"],
        b"GET / HTTP/1.0\r\n\r\n",
    );
    assert!(out.contains("New, TLSv1.3"), "{out}");
    assert!(sess13.exists(), "no TLS 1.3 session was written");

    let load = Command::new("python3")
        .args(["-c", LOOP, &s.port.to_string(), "4"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    for ext in ["crt", "key"] {
        std::fs::copy(
            conf.join(format!("next.{ext}")),
            conf.join(format!("cur.{ext}")),
        )
        .unwrap();
    }
    let before = s.worker_pids();
    s.signal(libc::SIGHUP);
    assert!(s.wait_for(10, || {
        let now = s.worker_pids();
        now.len() == 2 && now.iter().all(|p| !before.contains(p))
    }));
    let out = load.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let ok: u64 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(ok > 10 && text.contains("failed 0 "), "{text}");

    let out = s_client(s.port, &[], b"");
    assert!(out.contains("CN = new.example"), "{out}");
    // Sessions of the old configuration resume: the cache's zone and the ticket key file
    // outlive the reload.
    let out = s_client(
        s.port,
        &["-tls1_2", "-sess_in", sess12.to_str().unwrap()],
        b"",
    );
    assert!(out.contains("Reused, TLSv1.2"), "{out}");
    let out = s_client(
        s.port,
        &["-tls1_3", "-sess_in", sess13.to_str().unwrap()],
        b"",
    );
    assert!(out.contains("Reused, TLSv1.3"), "{out}");
}
