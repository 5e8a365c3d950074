//! The `status` and `metrics` handlers with several workers: exact numbers across workers,
//! kept over a reload (with the generation moved on), JSON that a JSON parser reads and
//! Prometheus text that `prometheus_client`'s parser reads, and `-t`'s checks.

mod common;

use common::*;
use std::io::Write;
use std::process::Command;

fn hit(port: u16, path: &str) -> u16 {
    let mut c = connect(port);
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    c.write_all(req.as_bytes()).unwrap();
    read_response(&mut c, false).map_or(0, |r| r.status)
}

/// Runs python3 on `script` with the body on stdin; its output lines.
fn python(script: &str, body: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The JSON's numbers the tests check, one `path=value` a line.
const READ_JSON: &str = r#"
import json, sys
d = json.load(sys.stdin)
print("generation=%d" % d["generation"])
print("requests=%d" % d["requests"]["total"])
print("workers=%d" % len(d["workers"]))
print("worker_requests=%d" % sum(w["requests"] for w in d["workers"]))
print("active=%d" % d["connections"]["active"])
for kind in ("server_zones", "location_zones"):
    for name, z in d[kind].items():
        print("%s.%s.requests=%d" % (kind, name, z["requests"]))
        for c, n in z["responses"].items():
            print("%s.%s.%s=%d" % (kind, name, c, n))
        print("%s.%s.count=%d" % (kind, name, z["request_time"]["count"]))
        print("%s.%s.inf=%d" % (kind, name, z["request_time"]["buckets"]["+Inf"]))
        print("%s.%s.sent_positive=%d" % (kind, name, z["sent"] > 0))
"#;

/// Every sample `prometheus_client` parses, `name{labels}=value`.
const READ_PROMETHEUS: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print("%s:%s{%s}=%g" % (fam.type, s.name, labels, s.value))
"#;

fn value(lines: &str, key: &str) -> String {
    lines
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in\n{lines}"))
        .to_string()
}

/// The site on PORT (its zones), the report on `STATUS_PORT` (a server of its own, so that
/// asking does not change what is asked about).
const HTTP: &str = "server { listen 127.0.0.1:PORT reuseport; status_zone site;\n\
      location /api { status_zone api; return 200 \"ok\\n\"; }\n\
      location /api/quiet { status_zone off; return 200 \"ok\\n\"; }\n\
      location /missing { status_zone api; return 404; } }\n\
    server { listen 127.0.0.1:STATUS_PORT;\n\
      location = /status { status; }\n\
      location = /metrics { metrics; } }";

fn start(workers: usize) -> (Server, u16) {
    let status_port = free_port();
    let s = Server::start_with(
        workers,
        &HTTP.replace("STATUS_PORT", &status_port.to_string()),
        |_| {},
    );
    (s, status_port)
}

fn fetch(port: u16, path: &str) -> Response {
    let mut c = connect(port);
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    c.write_all(req.as_bytes()).unwrap();
    read_response(&mut c, false).expect("response")
}

/// The JSON report once the site's zone has counted `n` requests (a request is counted
/// when it ends, just after its response went out).
fn settled(s: &Server, port: u16, n: u64) -> String {
    let mut j = String::new();
    s.wait_for(5, || {
        j = python(READ_JSON, &fetch(port, "/status").text());
        value(&j, "server_zones.site.requests") == n.to_string()
    });
    j
}

#[test]
fn four_workers_report_exact_numbers_in_json_and_prometheus() {
    let (s, sp) = start(4);
    for _ in 0..30 {
        assert_eq!(hit(s.port, "/api"), 200);
    }
    for _ in 0..6 {
        assert_eq!(hit(s.port, "/missing"), 404);
    }
    for _ in 0..4 {
        assert_eq!(hit(s.port, "/api/quiet"), 200);
    }
    let r = fetch(sp, "/status");
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let j = settled(&s, sp, 40);
    assert_eq!(value(&j, "location_zones.api.requests"), "36");
    assert_eq!(value(&j, "location_zones.api.2xx"), "30");
    assert_eq!(value(&j, "location_zones.api.4xx"), "6");
    assert_eq!(value(&j, "location_zones.api.count"), "36");
    assert_eq!(value(&j, "location_zones.api.inf"), "36");
    assert_eq!(value(&j, "location_zones.api.sent_positive"), "1");
    // The server zone counts every request of the server.
    assert_eq!(value(&j, "server_zones.site.requests"), "40");
    assert_eq!(value(&j, "workers"), "4");
    assert_eq!(value(&j, "requests"), value(&j, "worker_requests"));
    // This connection at least (the last ones may not be closed on the server side yet).
    assert!(value(&j, "active").parse::<u64>().unwrap() >= 1);

    let m = fetch(sp, "/metrics");
    assert_eq!(
        m.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let p = python(READ_PROMETHEUS, &m.text());
    assert_eq!(
        value(&p, "counter:portico_location_zone_requests_total{zone=api}"),
        "36"
    );
    assert_eq!(
        value(
            &p,
            "counter:portico_location_zone_responses_total{code=4xx,zone=api}"
        ),
        "6"
    );
    assert_eq!(
        value(&p, "counter:portico_server_zone_requests_total{zone=site}"),
        "40"
    );
    assert_eq!(
        value(
            &p,
            "histogram:portico_location_zone_request_duration_seconds_bucket{le=+Inf,zone=api}"
        ),
        "36"
    );
    assert_eq!(
        value(
            &p,
            "histogram:portico_location_zone_request_duration_seconds_count{zone=api}"
        ),
        "36"
    );
    assert!(
        value(&p, "gauge:portico_connections{state=active}")
            .parse::<f64>()
            .unwrap()
            >= 1.0
    );
    // The same report at ?format=prometheus.
    let q = fetch(sp, "/status?format=prometheus");
    assert!(
        q.text()
            .contains("# TYPE portico_http_requests_total counter")
    );
    s.assert_clean_log();
}

#[test]
fn a_reload_keeps_the_numbers_and_moves_the_generation() {
    let (s, sp) = start(2);
    for _ in 0..5 {
        hit(s.port, "/api");
    }
    let before = settled(&s, sp, 5);
    let pids = s.worker_pids();
    s.signal(libc::SIGHUP);
    assert!(s.wait_for(10, || {
        let now = s.worker_pids();
        now.len() == 2 && now.iter().all(|p| !pids.contains(p))
    }));
    for _ in 0..5 {
        hit(s.port, "/api");
    }
    let after = settled(&s, sp, 10);
    assert_eq!(value(&after, "location_zones.api.requests"), "10");
    let g0: u64 = value(&before, "generation").parse().unwrap();
    let g1: u64 = value(&after, "generation").parse().unwrap();
    assert_eq!(g1, g0 + 1);
}

#[test]
fn status_directives_are_checked_at_test_time() {
    for (http, message) in [
        (
            "server { status; }",
            "\"status\" directive is not allowed here",
        ),
        (
            "server { status_zone a; status_zone b; }",
            "\"status_zone\" directive is duplicate",
        ),
        (
            "server { location / { metrics x; } }",
            "invalid number of arguments in \"metrics\" directive",
        ),
    ] {
        let prefix = Prefix::new();
        prefix.write("conf/t.conf", format!("events {{}}\nhttp {{\n{http}\n}}\n"));
        let (code, _, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/t.conf"]);
        assert_eq!(code, 1, "{http}: {err}");
        assert!(err.contains(message), "{http}: {err}");
    }
}

/// The JSON's upstream servers, `server state requests failures responses active` a line.
const READ_PEERS: &str = r#"
import json, sys
d = json.load(sys.stdin)
for name, u in d["upstreams"].items():
    for p in u["peers"]:
        print("%s %s %s %d %d %d %d" % (name, p["server"], p["state"], p["requests"], p["failures"], p["responses"], p["active"]))
"#;

#[test]
fn upstream_servers_of_a_zone_are_reported() {
    let (backend, dead, sp) = (free_port(), free_port(), free_port());
    let s = Server::start_with(
        4,
        &format!(
            "upstream u {{ zone u 64k; server 127.0.0.1:{backend}; \
               server 127.0.0.1:{dead} max_fails=1 fail_timeout=60s; }}\n\
             upstream plain {{ server 127.0.0.1:{backend}; }}\n\
             server {{ listen 127.0.0.1:{backend}; access_log off; return 200 \"b\\n\"; }}\n\
             server {{ listen 127.0.0.1:PORT reuseport; location / {{ proxy_pass http://u; }}\n\
               location /plain {{ proxy_pass http://plain; }} }}\n\
             server {{ listen 127.0.0.1:{sp}; location = /status {{ status; }} }}"
        ),
        |_| {},
    );
    for _ in 0..12 {
        assert_eq!(hit(s.port, "/"), 200);
    }
    assert_eq!(hit(s.port, "/plain"), 200);
    let mut lines = String::new();
    s.wait_for(5, || {
        lines = python(READ_PEERS, &fetch(sp, "/status").text());
        lines.contains(&format!("u 127.0.0.1:{backend} up 12 0 12 0"))
    });
    // Only groups with a zone are reported; the failed server once, for every worker.
    assert_eq!(
        lines,
        format!("u 127.0.0.1:{backend} up 12 0 12 0\nu 127.0.0.1:{dead} unavailable 1 1 1 0\n")
    );
    let m = python(
        READ_PROMETHEUS,
        &fetch(sp, "/status?format=prometheus").text(),
    );
    assert_eq!(
        value(
            &m,
            &format!("gauge:portico_upstream_peer_up{{server=127.0.0.1:{dead},upstream=u}}")
        ),
        "0"
    );
}

#[test]
fn limit_zones_count_passed_and_rejected_across_workers() {
    let sp = free_port();
    let s = Server::start_with(
        4,
        &format!(
            "limit_req_zone $binary_remote_addr zone=rl:1m rate=1r/m;\n\
             limit_conn_zone $binary_remote_addr zone=cl:1m;\n\
             server {{ listen 127.0.0.1:PORT reuseport;\n\
               root html; location / {{ limit_req zone=rl; limit_conn cl 10; }} }}\n\
             server {{ listen 127.0.0.1:{sp}; location = /metrics {{ metrics; }} }}"
        ),
        |p| p.write("html/index.html", "ok\n"),
    );
    let statuses: Vec<u16> = (0..10).map(|_| hit(s.port, "/")).collect();
    assert_eq!(
        statuses.iter().filter(|&&c| c == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&c| c == 503).count(),
        9,
        "{statuses:?}"
    );
    let p = python(READ_PROMETHEUS, &fetch(sp, "/metrics").text());
    let get = |k: &str| value(&p, &format!("counter:{k}"));
    assert_eq!(
        get("portico_limit_req_requests_total{outcome=passed,zone=rl}"),
        "1"
    );
    assert_eq!(
        get("portico_limit_req_requests_total{outcome=rejected,zone=rl}"),
        "9"
    );
    assert_eq!(
        get("portico_limit_req_requests_total{outcome=delayed,zone=rl}"),
        "0"
    );
    // limit_conn runs after limit_req: only the request limit_req let through reached it.
    assert_eq!(
        get("portico_limit_conn_requests_total{outcome=passed,zone=cl}"),
        "1"
    );
}
