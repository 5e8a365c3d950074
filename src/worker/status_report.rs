//! `status` and `metrics`: the status report ([`crate::status::render`]) as JSON or in
//! Prometheus' text format; GET and HEAD only (405 otherwise). The numbers are copied out
//! of the shared zone without a lock, then rendered: the worker never waits on another.

use super::handler::{self, Head};
use super::phases::{Next, Rq, finalize};
use crate::config::set_status::StatusFormat;
use crate::http::request::Method;
use crate::status::render::{self, PeerReport, QueueReport, Report, UpstreamStats};
use crate::upstream::health::{Health, HealthState};

/// The Prometheus text format's content type.
const PROMETHEUS_TYPE: &[u8] = b"text/plain; version=0.0.4; charset=utf-8";

/// Answers the request with the report.
pub(super) fn serve<'c>(rq: &mut Rq<'_, 'c>, format: StatusFormat) -> Next<'c> {
    let method = if rq.route.as_get {
        Method::Get
    } else {
        rq.a.head.method
    };
    if !matches!(method, Method::Get | Method::Head) {
        return finalize(rq, 405);
    }
    let prometheus = format == StatusFormat::Prometheus
        || rq.route.script.args.as_deref().is_some_and(asks_prometheus);
    let report = Report::take(upstreams(rq));
    let (body, content_type) = if prometheus {
        (render::prometheus(&report), PROMETHEUS_TYPE)
    } else {
        (render::json(&report), b"application/json" as &[u8])
    };
    let status = rq.route.err_status.unwrap_or(200);
    let extra = handler::extra_headers(rq, status, None);
    let sent: &[u8] = if rq.a.head.method == Method::Head {
        b""
    } else {
        body.as_bytes()
    };
    handler::queue_response(
        rq.a,
        rq.shared,
        rq.req,
        &Head {
            status,
            content_type: Some(content_type),
            content_length: Some(body.len() as u64),
            extra: &extra,
            ..Head::default()
        },
        sent,
    );
    Next::Done
}

/// `format=prometheus` among the query arguments.
fn asks_prometheus(args: &[u8]) -> bool {
    args.split(|&b| b == b'&')
        .any(|a| a.eq_ignore_ascii_case(b"format=prometheus"))
}

/// The upstream groups that have a `zone`, copied from their zones (each under its lock,
/// released before anything is rendered).
fn upstreams(rq: &mut Rq<'_, '_>) -> Vec<UpstreamStats> {
    let now = rq.shared.now;
    let confs = &rq.shared.http.upstreams;
    let mut out = Vec::new();
    let now_ms = crate::limits::msec_now();
    let checks = &rq.shared.http.health_checks;
    for (index, (conf, group)) in confs
        .iter()
        .zip(rq.shared.upstreams.groups.iter_mut())
        .enumerate()
    {
        let Some(stats) = group.shared_stats(now) else {
            continue;
        };
        let checked = checks.iter().any(|h| h.group == index);
        let peers = stats
            .into_iter()
            .filter_map(|s| {
                let server = conf.servers.get(s.index)?;
                let health = Health::from_word(s.record.health);
                let r = &s.record;
                let spell = match r.down_since_ms {
                    0 => 0,
                    since => now_ms.saturating_sub(since),
                };
                Some(PeerReport {
                    server: server.addr.to_string(),
                    state: if s.down {
                        "down"
                    } else if checked && health.state == HealthState::Unhealthy {
                        "unhealthy"
                    } else if checked && s.mandatory && health.state == HealthState::Unchecked {
                        "checking"
                    } else if s.unavailable {
                        "unavailable"
                    } else {
                        "up"
                    },
                    backup: server.backup,
                    active: s.record.conns,
                    requests: s.record.requests,
                    failures: s.record.failures,
                    responses: s.record.ended,
                    time_sum_ms: s.record.time_sum_ms,
                    checks: r.checks,
                    check_fails: r.check_fails,
                    unhealthy: r.unhealthy,
                    last_passed: (r.checks > 0).then_some(health.passes > 0),
                    downtime_ms: r.downtime_ms + spell,
                })
            })
            .collect();
        let queue = conf.queue.map(|q| {
            let (size, overflows) = group.queue_stats().unwrap_or_default();
            QueueReport {
                size,
                max_size: q.size as u64,
                overflows,
            }
        });
        out.push(UpstreamStats {
            name: conf.name.clone(),
            peers,
            queue,
        });
    }
    out
}
