//! `read_ahead` as nginx has it on Linux: a static file over 128 KiB opened under a non-zero
//! `read_ahead` is advised sequential (`posix_fadvise(POSIX_FADV_SEQUENTIAL)`); with
//! `read_ahead 0` (the default) or a smaller file, no advice. Watched with strace on the worker.

mod common;

use std::process::{Command, Stdio};

use common::Server;

/// The fadvise calls the worker makes while `paths` are fetched.
fn advice_during(s: &Server, paths: &[&str]) -> String {
    let pid = s.worker_pids()[0];
    let log = s.prefix.path("logs/strace.txt");
    let _ = std::fs::remove_file(&log);
    let mut trace = Command::new("timeout")
        .args(["30", "strace", "-f", "-e", "trace=fadvise64", "-o"])
        .arg(&log)
        .args(["-p", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strace");
    // strace says "Process N attached" on stderr once it traces: wait for it (bounded).
    let mut stderr = trace.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("attached") {
        match std::io::Read::read(&mut stderr, &mut buf) {
            Ok(0) | Err(_) => panic!("strace did not attach: {}", String::from_utf8_lossy(&seen)),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    for p in paths {
        assert_eq!(s.get(p).status, 200, "{p}");
    }
    unsafe { libc::kill(trace.id() as i32, libc::SIGINT) };
    let _ = trace.wait();
    std::fs::read_to_string(&log).unwrap_or_default()
}

#[test]
fn read_ahead_advises_sequential_reads_of_big_files() {
    if Command::new("strace").arg("-V").output().is_err() {
        panic!("strace is needed (installed by .ci/run)");
    }
    let s = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT; root html;\n\
           location /ra/ { read_ahead 512k; }\n\
           location /plain/ { }\n\
         }",
        |p| {
            let big = vec![b'x'; 300 * 1024];
            p.write("html/ra/big.bin", &big);
            p.write("html/ra/small.bin", b"small");
            p.write("html/plain/big.bin", &big);
        },
    );
    let advice = advice_during(&s, &["/ra/small.bin", "/plain/big.bin"]);
    assert!(!advice.contains("POSIX_FADV_SEQUENTIAL"), "{advice}");
    let advice = advice_during(&s, &["/ra/big.bin"]);
    assert!(advice.contains("POSIX_FADV_SEQUENTIAL"), "{advice}");
}
