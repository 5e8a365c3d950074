//! The `status` handler's answer: the zone's numbers as JSON, or in Prometheus' text
//! exposition format (`portico_*` names, units in the names, `_total` counters, histograms
//! with `le` buckets). Both are rendered from one copy taken without a lock.

use std::fmt::Write;

use super::counters::{self, Snapshot};
use super::zones::{self, BUCKETS_MS, BlockStats, Kind};

/// Everything the answer shows.
pub struct Report {
    /// Connections, requests, workers, generation.
    pub main: Snapshot,
    /// Servers' `status_zone`s.
    pub servers: Vec<BlockStats>,
    /// Locations' `status_zone`s.
    pub locations: Vec<BlockStats>,
    /// Upstream groups with a `zone`, and their servers.
    pub upstreams: Vec<UpstreamStats>,
    /// `limit_req_zone`s: name and outcomes (passed, delayed, rejected, and dry runs).
    pub limit_reqs: Vec<(String, [u64; 5])>,
    /// `limit_conn_zone`s: name and outcomes (passed, rejected, rejected dry run).
    pub limit_conns: Vec<(String, [u64; 5])>,
}

/// One upstream group's servers, as the report shows them.
#[derive(Clone, Debug, Default)]
pub struct UpstreamStats {
    /// The group's name.
    pub name: String,
    /// Its servers in configuration order.
    pub peers: Vec<PeerReport>,
    /// With `queue N`: requests waiting now (all workers), N (per worker), and requests
    /// refused because their worker's queue was full.
    pub queue: Option<QueueReport>,
}

/// An upstream group's `queue`, as the report shows it.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueueReport {
    /// Requests waiting now, all workers together.
    pub size: u64,
    /// `queue N`: the most that wait in one worker.
    pub max_size: u64,
    /// Requests refused (502) because their worker's queue was full.
    pub overflows: u64,
}

/// One upstream server's numbers.
#[derive(Clone, Debug, Default)]
pub struct PeerReport {
    /// Its address.
    pub server: String,
    /// `up`, `down` (configured so), `unhealthy` (failed its health check), `checking`
    /// (`mandatory` check not passed yet) or `unavailable` (`max_fails` within
    /// `fail_timeout`).
    pub state: &'static str,
    /// A `backup` server.
    pub backup: bool,
    /// Requests in flight to it now.
    pub active: u64,
    /// Tries sent to it.
    pub requests: u64,
    /// Tries that failed.
    pub failures: u64,
    /// Tries ended.
    pub responses: u64,
    /// Their time summed (milliseconds).
    pub time_sum_ms: u64,
    /// Health checks made.
    pub checks: u64,
    /// Health checks failed.
    pub check_fails: u64,
    /// Times it became unhealthy.
    pub unhealthy: u64,
    /// Whether the last check passed (`None`: never checked).
    pub last_passed: Option<bool>,
    /// Time it has spent unhealthy (milliseconds), the current spell included.
    pub downtime_ms: u64,
}

impl Report {
    /// Copies the zone; `upstreams` were copied by the caller (from the upstream zones).
    pub fn take(upstreams: Vec<UpstreamStats>) -> Report {
        Report {
            main: counters::snapshot(),
            servers: zones::snapshot(Kind::Server),
            locations: zones::snapshot(Kind::Location),
            upstreams,
            limit_reqs: zones::snapshot_limits(Kind::LimitReq),
            limit_conns: zones::snapshot_limits(Kind::LimitConn),
        }
    }
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn json_blocks(out: &mut String, blocks: &[BlockStats]) {
    out.push('{');
    for (i, b) in blocks.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(out, &b.name);
        let r = &b.responses;
        let _ = write!(
            out,
            ":{{\"requests\":{},\"responses\":{{\"1xx\":{},\"2xx\":{},\"3xx\":{},\"4xx\":{},\"5xx\":{},\"total\":{}}},\"received\":{},\"sent\":{},\"request_time\":{{\"sum\":{},\"count\":{},\"buckets\":{{",
            b.requests,
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r.iter().sum::<u64>(),
            b.received,
            b.sent,
            secs(b.time_sum_ms),
            b.requests
        );
        let mut cumulative = 0;
        for (k, n) in b.buckets.iter().enumerate() {
            cumulative += n;
            let le = BUCKETS_MS.get(k).map_or("+Inf".to_string(), |&ms| secs(ms));
            let _ = write!(out, "{}\"{le}\":{cumulative}", if k > 0 { "," } else { "" });
        }
        out.push_str("}}}");
    }
    out.push('}');
}

/// The JSON answer.
pub fn json(r: &Report) -> String {
    let m = &r.main;
    let t = &m.total;
    let mut out = String::with_capacity(1024);
    let _ = write!(
        out,
        "{{\"version\":\"{}\",\"generation\":{},\"load_timestamp\":{},\"start_timestamp\":{},\
         \"connections\":{{\"accepted\":{},\"handled\":{},\"active\":{},\"reading\":{},\"writing\":{},\"idle\":{}}},\
         \"requests\":{{\"total\":{}}},\
         \"ssl\":{{\"handshakes\":{},\"handshakes_failed\":{},\"session_reuses\":{}}},\"workers\":[",
        crate::VERSION,
        m.generation,
        secs(m.loaded_ms),
        secs(m.started_ms),
        t.accepted,
        t.handled,
        t.active,
        t.reading,
        t.writing,
        t.waiting,
        t.requests,
        t.ssl_handshakes,
        t.ssl_handshakes_failed,
        t.ssl_session_reuses
    );
    for (i, w) in m.workers.iter().enumerate() {
        let _ = write!(
            out,
            "{}{{\"pid\":{},\"generation\":{},\"start_timestamp\":{},\"connections\":{{\"accepted\":{},\"active\":{},\"reading\":{},\"writing\":{},\"idle\":{}}},\"requests\":{}}}",
            if i > 0 { "," } else { "" },
            w.pid,
            w.generation,
            secs(w.started_ms),
            w.accepted,
            w.active,
            w.reading,
            w.writing,
            w.waiting,
            w.requests
        );
    }
    out.push_str("],\"server_zones\":");
    json_blocks(&mut out, &r.servers);
    out.push_str(",\"location_zones\":");
    json_blocks(&mut out, &r.locations);
    out.push_str(",\"upstreams\":{");
    for (i, u) in r.upstreams.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(&mut out, &u.name);
        out.push_str(":{\"peers\":[");
        for (k, p) in u.peers.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            out.push_str("{\"server\":");
            json_str(&mut out, &p.server);
            let _ = write!(
                out,
                ",\"state\":\"{}\",\"backup\":{},\"active\":{},\"requests\":{},\"failures\":{},\"responses\":{},\"response_time\":{},\"downtime\":{},\"health_checks\":{{\"checks\":{},\"fails\":{},\"unhealthy\":{}",
                p.state,
                p.backup,
                p.active,
                p.requests,
                p.failures,
                p.responses,
                secs(p.time_sum_ms.checked_div(p.responses).unwrap_or(0)),
                p.downtime_ms,
                p.checks,
                p.check_fails,
                p.unhealthy
            );
            if let Some(passed) = p.last_passed {
                let _ = write!(out, ",\"last_passed\":{passed}");
            }
            out.push_str("}}");
        }
        out.push(']');
        if let Some(q) = u.queue {
            let _ = write!(
                out,
                ",\"queue\":{{\"size\":{},\"max_size\":{},\"overflows\":{}}}",
                q.size, q.max_size, q.overflows
            );
        }
        out.push('}');
    }
    out.push_str("},\"limit_reqs\":{");
    for (i, (name, n)) in r.limit_reqs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(&mut out, name);
        let _ = write!(
            out,
            ":{{\"passed\":{},\"delayed\":{},\"rejected\":{},\"delayed_dry_run\":{},\"rejected_dry_run\":{}}}",
            n[0], n[1], n[2], n[3], n[4]
        );
    }
    out.push_str("},\"limit_conns\":{");
    for (i, (name, n)) in r.limit_conns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(&mut out, name);
        let _ = write!(
            out,
            ":{{\"passed\":{},\"rejected\":{},\"rejected_dry_run\":{}}}",
            n[0], n[2], n[4]
        );
    }
    out.push_str("}}\n");
    out
}

/// A label value as the exposition format quotes it.
fn label(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A counter family with one sample per live worker, labelled by pid and generation.
fn per_worker(
    out: &mut String,
    name: &str,
    help: &str,
    workers: &[crate::status::counters::WorkerStats],
    value: impl Fn(&crate::status::counters::WorkerStats) -> u64,
) {
    family(out, name, "counter", help);
    for w in workers {
        let _ = writeln!(
            out,
            "{name}{{pid=\"{}\",generation=\"{}\"}} {}",
            w.pid,
            w.generation,
            value(w)
        );
    }
}

fn prom_blocks(out: &mut String, what: &str, blocks: &[BlockStats]) {
    if blocks.is_empty() {
        return;
    }
    let n = format!("portico_{what}_zone_requests_total");
    family(
        out,
        &n,
        "counter",
        &format!("Requests ended in a {what} status_zone."),
    );
    for b in blocks {
        let _ = writeln!(out, "{n}{{zone=\"{}\"}} {}", label(&b.name), b.requests);
    }
    let n = format!("portico_{what}_zone_responses_total");
    family(out, &n, "counter", "Responses by status class.");
    for b in blocks {
        for (c, v) in b.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "{n}{{zone=\"{}\",code=\"{}xx\"}} {v}",
                label(&b.name),
                c + 1
            );
        }
    }
    let n = format!("portico_{what}_zone_received_bytes_total");
    family(out, &n, "counter", "Request bytes received.");
    for b in blocks {
        let _ = writeln!(out, "{n}{{zone=\"{}\"}} {}", label(&b.name), b.received);
    }
    let n = format!("portico_{what}_zone_sent_bytes_total");
    family(out, &n, "counter", "Response bytes sent.");
    for b in blocks {
        let _ = writeln!(out, "{n}{{zone=\"{}\"}} {}", label(&b.name), b.sent);
    }
    let n = format!("portico_{what}_zone_request_duration_seconds");
    family(out, &n, "histogram", "Request time, first byte to log.");
    for b in blocks {
        let z = label(&b.name);
        let mut cumulative = 0;
        for (k, v) in b.buckets.iter().enumerate() {
            cumulative += v;
            let le = BUCKETS_MS.get(k).map_or("+Inf".to_string(), |&ms| secs(ms));
            let _ = writeln!(out, "{n}_bucket{{zone=\"{z}\",le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{n}_sum{{zone=\"{z}\"}} {}", secs(b.time_sum_ms));
        let _ = writeln!(out, "{n}_count{{zone=\"{z}\"}} {}", b.requests);
    }
}

/// The Prometheus answer.
pub fn prometheus(r: &Report) -> String {
    let m = &r.main;
    let t = &m.total;
    let mut out = String::with_capacity(4096);
    family(
        &mut out,
        "portico_generation",
        "gauge",
        "Configuration generation in force.",
    );
    let _ = writeln!(out, "portico_generation {}", m.generation);
    family(
        &mut out,
        "portico_config_load_timestamp_seconds",
        "gauge",
        "When the configuration in force was loaded.",
    );
    let _ = writeln!(
        out,
        "portico_config_load_timestamp_seconds {}",
        secs(m.loaded_ms)
    );
    family(
        &mut out,
        "portico_connections_accepted_total",
        "counter",
        "Client connections accepted.",
    );
    let _ = writeln!(out, "portico_connections_accepted_total {}", t.accepted);
    family(
        &mut out,
        "portico_connections_handled_total",
        "counter",
        "Client connections handled.",
    );
    let _ = writeln!(out, "portico_connections_handled_total {}", t.handled);
    for (name, help, value) in [
        (
            "portico_ssl_handshakes_total",
            "TLS handshakes completed.",
            t.ssl_handshakes,
        ),
        (
            "portico_ssl_handshakes_failed_total",
            "TLS handshakes that failed.",
            t.ssl_handshakes_failed,
        ),
        (
            "portico_ssl_session_reuses_total",
            "TLS handshakes that resumed a session.",
            t.ssl_session_reuses,
        ),
    ] {
        family(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {value}");
    }
    family(
        &mut out,
        "portico_connections",
        "gauge",
        "Client connections by state.",
    );
    for (state, v) in [
        ("active", t.active),
        ("reading", t.reading),
        ("writing", t.writing),
        ("idle", t.waiting),
    ] {
        let _ = writeln!(out, "portico_connections{{state=\"{state}\"}} {v}");
    }
    family(
        &mut out,
        "portico_http_requests_total",
        "counter",
        "HTTP requests begun.",
    );
    let _ = writeln!(out, "portico_http_requests_total {}", t.requests);
    per_worker(
        &mut out,
        "portico_worker_http_requests_total",
        "HTTP requests begun, per live worker.",
        &m.workers,
        |w| w.requests,
    );
    per_worker(
        &mut out,
        "portico_worker_connections_accepted_total",
        "Client connections accepted, per live worker.",
        &m.workers,
        |w| w.accepted,
    );
    family(
        &mut out,
        "portico_worker_connections",
        "gauge",
        "Client connections by state, per live worker.",
    );
    for w in &m.workers {
        for (state, v) in [
            ("active", w.active),
            ("reading", w.reading),
            ("writing", w.writing),
            ("idle", w.waiting),
        ] {
            let _ = writeln!(
                out,
                "portico_worker_connections{{pid=\"{}\",generation=\"{}\",state=\"{state}\"}} {v}",
                w.pid, w.generation
            );
        }
    }
    prom_blocks(&mut out, "server", &r.servers);
    prom_blocks(&mut out, "location", &r.locations);
    prom_upstreams(&mut out, &r.upstreams);
    prom_limits(&mut out, "req", &r.limit_reqs, &[0, 1, 2, 3, 4]);
    prom_limits(&mut out, "conn", &r.limit_conns, &[0, 2, 4]);
    out
}

/// `portico_limit_req_requests_total{zone,outcome}` (and `_conn_`).
fn prom_limits(out: &mut String, what: &str, zones: &[(String, [u64; 5])], shown: &[usize]) {
    if zones.is_empty() {
        return;
    }
    const OUTCOMES: [&str; 5] = [
        "passed",
        "delayed",
        "rejected",
        "delayed_dry_run",
        "rejected_dry_run",
    ];
    let name = format!("portico_limit_{what}_requests_total");
    family(
        out,
        &name,
        "counter",
        &format!("Requests by limit_{what} outcome, per zone."),
    );
    for (zone, n) in zones {
        for &k in shown {
            let _ = writeln!(
                out,
                "{name}{{zone=\"{}\",outcome=\"{}\"}} {}",
                label(zone),
                OUTCOMES[k],
                n[k]
            );
        }
    }
}

fn prom_upstreams(out: &mut String, ups: &[UpstreamStats]) {
    if ups.iter().all(|u| u.peers.is_empty()) {
        return;
    }
    type Get = fn(&PeerReport) -> String;
    let families: [(&str, &str, &str, Get); 11] = [
        (
            "portico_upstream_peer_up",
            "gauge",
            "1 when the server may be chosen, 0 when down, unhealthy, checking or unavailable.",
            |p| u8::from(p.state == "up").to_string(),
        ),
        (
            "portico_upstream_peer_unhealthy",
            "gauge",
            "1 when the server failed its health check (or a mandatory one has not passed yet).",
            |p| u8::from(p.state == "unhealthy" || p.state == "checking").to_string(),
        ),
        (
            "portico_upstream_peer_health_checks_total",
            "counter",
            "Health checks made.",
            |p| p.checks.to_string(),
        ),
        (
            "portico_upstream_peer_health_check_fails_total",
            "counter",
            "Health checks failed.",
            |p| p.check_fails.to_string(),
        ),
        (
            "portico_upstream_peer_unhealthy_transitions_total",
            "counter",
            "Times the server became unhealthy.",
            |p| p.unhealthy.to_string(),
        ),
        (
            "portico_upstream_peer_downtime_seconds_total",
            "counter",
            "Time the server has spent unhealthy.",
            |p| secs(p.downtime_ms),
        ),
        (
            "portico_upstream_peer_active_requests",
            "gauge",
            "Requests in flight to the server.",
            |p| p.active.to_string(),
        ),
        (
            "portico_upstream_peer_requests_total",
            "counter",
            "Tries sent to the server.",
            |p| p.requests.to_string(),
        ),
        (
            "portico_upstream_peer_failures_total",
            "counter",
            "Tries that failed.",
            |p| p.failures.to_string(),
        ),
        (
            "portico_upstream_peer_responses_total",
            "counter",
            "Tries ended.",
            |p| p.responses.to_string(),
        ),
        (
            "portico_upstream_peer_response_seconds_total",
            "counter",
            "Time of the tries ended, summed.",
            |p| secs(p.time_sum_ms),
        ),
    ];
    if ups.iter().any(|u| u.queue.is_some()) {
        type QGet = fn(&QueueReport) -> u64;
        let queue: [(&str, &str, &str, QGet); 2] = [
            (
                "portico_upstream_queue_requests",
                "gauge",
                "Requests waiting in the group's queue, all workers together.",
                |q| q.size,
            ),
            (
                "portico_upstream_queue_overflows_total",
                "counter",
                "Requests refused because their worker's queue was full.",
                |q| q.overflows,
            ),
        ];
        for (name, kind, help, get) in queue {
            family(out, name, kind, help);
            for u in ups {
                if let Some(q) = &u.queue {
                    let _ = writeln!(out, "{name}{{upstream=\"{}\"}} {}", label(&u.name), get(q));
                }
            }
        }
    }
    for (name, kind, help, get) in families {
        family(out, name, kind, help);
        for u in ups {
            for p in &u.peers {
                let _ = writeln!(
                    out,
                    "{name}{{upstream=\"{}\",server=\"{}\"}} {}",
                    label(&u.name),
                    label(&p.server),
                    get(p)
                );
            }
        }
    }
}
