use std::rc::Rc;

use super::req::{self, Action, Status};
use super::*;
use crate::config::{LimitReq, ZoneDecl};
use crate::log::LogLevel;
use crate::vars::Template;

struct Fake {
    key: Vec<u8>,
    lines: Vec<String>,
}

impl req::Request for Fake {
    fn key(&mut self, _: &Template, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.key);
    }
    fn binary_remote_addr(&mut self, out: &mut [u8; 16]) -> usize {
        let n = self.key.len().min(out.len());
        out[..n].copy_from_slice(&self.key[..n]);
        n
    }
    fn log(&mut self, level: LogLevel, line: &str) {
        self.lines.push(format!("{level:?} {line}"));
    }
    fn log_plain(&mut self, level: LogLevel, line: &str) {
        self.log(level, line);
    }
}

fn zone(name: &str, size: usize, rate_per_s: u64) -> ZoneDecl {
    let seg = Segment::map(size).unwrap();
    format_zone(ZoneKind::LimitReq, &seg).unwrap();
    ZoneDecl {
        name: name.into(),
        kind: ZoneKind::LimitReq,
        size: size as u64,
        key: Template::default(),
        key_text: "$k".into(),
        key_is_binary_remote_addr: false,
        rate: rate_per_s * 1000,
        declared: true,
        segment: Some(Rc::new(seg)),
    }
}

fn check(zones: &[ZoneDecl], limits: &[LimitReq], r: &mut Fake) -> (Option<Status>, Action) {
    let s = req::Settings {
        limits,
        zones,
        status: 503,
        log_level: LogLevel::Error,
        dry_run: false,
    };
    req::check(&s, r, &mut Vec::new())
}

fn fake(key: &str) -> Fake {
    Fake {
        key: key.as_bytes().to_vec(),
        lines: Vec::new(),
    }
}

#[test]
fn burst_then_reject_with_nginx_lines() {
    let zones = [zone("one", 64 * 1024, 1)];
    let nodelay = [LimitReq {
        zone: 0,
        burst: 2000,
        delay: i64::MAX as u64 / 1000 * 1000,
    }];
    let mut r = fake("k");
    for _ in 0..3 {
        assert_eq!(
            check(&zones, &nodelay, &mut r),
            (Some(Status::Passed), Action::Continue)
        );
    }
    assert_eq!(
        check(&zones, &nodelay, &mut r),
        (Some(Status::Rejected), Action::Reject(503))
    );
    assert_eq!(r.lines.len(), 1);
    assert!(
        r.lines[0].starts_with("Error limiting requests, excess: "),
        "{:?}",
        r.lines
    );
    assert!(r.lines[0].ends_with(" by zone \"one\""));
    // An empty key is not counted.
    assert_eq!(
        check(&zones, &nodelay, &mut fake("")),
        (None, Action::Continue)
    );
}

#[test]
fn over_the_delay_a_request_waits_for_its_excess_to_drain() {
    let zones = [zone("one", 64 * 1024, 2)];
    let limits = [LimitReq {
        zone: 0,
        burst: 5000,
        delay: 0,
    }];
    let mut r = fake("k");
    assert_eq!(check(&zones, &limits, &mut r).1, Action::Continue);
    let (status, action) = check(&zones, &limits, &mut r);
    assert_eq!(status, Some(Status::Delayed));
    let Action::Delay(ms) = action else {
        panic!("{action:?}")
    };
    assert!((490..=500).contains(&ms), "{ms}");
    assert!(
        r.lines[0].starts_with("Warn delaying request, excess: "),
        "{:?}",
        r.lines
    );
}

#[test]
fn several_limits_account_every_key_and_the_longest_delay_wins() {
    let zones = [zone("fast", 64 * 1024, 1000), zone("slow", 64 * 1024, 1)];
    let limits = [
        LimitReq {
            zone: 0,
            burst: 5000,
            delay: 5000,
        },
        LimitReq {
            zone: 1,
            burst: 3000,
            delay: 0,
        },
    ];
    let mut r = fake("k");
    assert_eq!(check(&zones, &limits, &mut r).1, Action::Continue);
    let (_, action) = check(&zones, &limits, &mut r);
    let Action::Delay(ms) = action else {
        panic!("{action:?}")
    };
    assert!(ms > 900, "{ms}: the slow zone's delay");
    assert!(r.lines[0].contains("by zone \"slow\""), "{:?}", r.lines);
    // The slow zone's entry was not left pinned: it can be evicted and counted again.
    let seg = zones[1].segment.as_deref().unwrap();
    let t = crate::shm::Table::<req::Entry>::open(seg, ZoneKind::LimitReq.tag()).unwrap();
    let mut g = t.lock().unwrap();
    let node = g.find(b"k").unwrap();
    assert!(format!("{:?}", g.value(node)).contains("count: 0"));
}

#[test]
fn a_full_zone_evicts_its_least_recently_used_key() {
    let zones = [zone("small", 32 * 1024, 1)];
    let limits = [LimitReq {
        zone: 0,
        burst: 0,
        delay: 0,
    }];
    for i in 0..5000 {
        let (status, _) = check(&zones, &limits, &mut fake(&format!("key-{i}")));
        assert_eq!(status, Some(Status::Passed), "key {i}");
    }
    // The first keys were evicted, so they pass again; the last one is still counted.
    assert_eq!(
        check(&zones, &limits, &mut fake("key-0")).0,
        Some(Status::Passed)
    );
    assert_eq!(
        check(&zones, &limits, &mut fake("key-4999")).0,
        Some(Status::Rejected)
    );
    // A key no zone can hold: nginx's alert, and the request is rejected.
    let mut r = Fake {
        key: vec![b'x'; 40 * 1024],
        lines: Vec::new(),
    };
    assert_eq!(check(&zones, &limits, &mut r).1, Action::Reject(503));
    assert_eq!(
        r.lines,
        ["Alert could not allocate node in limit_req zone \"small\""]
    );
}
