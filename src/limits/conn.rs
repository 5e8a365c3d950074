//! `limit_conn`: requests in progress per key, counted in a zone every worker shares
//! (`ngx_http_limit_conn_handler`). A request's counts are [`Held`] until it ends; dropping
//! them (with the request) gives them back, as nginx's request-pool cleanup does.

use std::rc::Rc;

use crate::config::{LimitConn, ZoneDecl};
use crate::log::LogLevel;
use crate::shm::{Pod, Remembered, Segment, Table};

use super::req::Request;

/// A key's count in the zone.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Entry {
    conn: u64,
}
// SAFETY: one integer.
unsafe impl Pod for Entry {}

/// `$limit_conn_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `PASSED`
    Passed,
    /// `REJECTED`
    Rejected,
    /// `REJECTED_DRY_RUN`
    RejectedDryRun,
}

impl Status {
    /// The variable's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "PASSED",
            Status::Rejected => "REJECTED",
            Status::RejectedDryRun => "REJECTED_DRY_RUN",
        }
    }
}

/// The location's `limit_conn*` settings.
pub struct Settings<'a> {
    /// `limit_conn` entries.
    pub limits: &'a [LimitConn],
    /// The http block's zones.
    pub zones: &'a [ZoneDecl],
    /// `limit_conn_status`
    pub status: u16,
    /// `limit_conn_log_level`
    pub log_level: LogLevel,
    /// `limit_conn_dry_run`
    pub dry_run: bool,
}

/// One count a request holds.
struct Count {
    segment: Rc<Segment>,
    kind: u64,
    /// The entry (gone if the zone was wiped since the count was taken).
    node: Remembered,
}

impl Count {
    fn release(self) {
        let Some(table) = Table::<Entry>::open(&self.segment, self.kind) else {
            return;
        };
        let Ok(mut g) = table.lock() else { return };
        let Some(node) = g.recall(self.node) else {
            return;
        };
        let e = g.value(node);
        e.conn = e.conn.saturating_sub(1);
        if e.conn == 0 {
            g.remove(node);
        }
    }
}

/// The counts a request holds; given back when dropped (the request ended).
#[derive(Default)]
pub struct Held {
    counts: Vec<Count>,
}

impl Held {
    /// Gives every count back now.
    pub fn release(&mut self) {
        for c in self.counts.drain(..) {
            c.release();
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.release();
    }
}

/// `ngx_http_limit_conn_handler`: counts the request under each limit's key; on a limit
/// reached, gives back what it counted and answers `Some(status)` (`None` in dry run). The
/// status is `None` when no key applied.
pub fn check(
    s: &Settings<'_>,
    r: &mut dyn Request,
    held: &mut Held,
    scratch: &mut Vec<u8>,
) -> (Option<Status>, Option<u16>) {
    let mut status = None;
    for limit in s.limits {
        let Some(zone) = s.zones.get(limit.zone) else {
            continue;
        };
        let Some(seg) = zone.segment.as_ref() else {
            continue;
        };
        scratch.clear();
        r.key(&zone.key, scratch);
        if scratch.is_empty() {
            continue;
        }
        if scratch.len() > 255 {
            let line = format!(
                "the value of the \"{}\" key is more than 255 bytes: \"{}\"",
                zone.key_text,
                String::from_utf8_lossy(scratch)
            );
            r.log(LogLevel::Error, &line);
            continue;
        }
        status = Some(Status::Passed);
        let Some(table) = Table::<Entry>::open(seg, zone.kind.tag()) else {
            continue;
        };
        let Ok(mut g) = table.lock() else { continue };
        if g.recovered() {
            r.log_plain(LogLevel::Alert, &super::recovered_line(zone));
        }
        let node = match g.find(scratch) {
            Some(node) => {
                let e = g.value(node);
                if e.conn >= limit.conn {
                    drop(g);
                    let line = format!(
                        "limiting connections{} by zone \"{}\"",
                        if s.dry_run { ", dry run," } else { "" },
                        zone.name
                    );
                    r.log(s.log_level, &line);
                    return rejected(s, held);
                }
                e.conn += 1;
                node
            }
            None => match g.insert(scratch, Entry { conn: 1 }) {
                Some(node) => node,
                None => {
                    drop(g);
                    let line = format!(
                        "ngx_slab_alloc() failed: no memory in limit_conn_zone \"{}\"",
                        zone.name
                    );
                    r.log_plain(LogLevel::Crit, &line);
                    return rejected(s, held);
                }
            },
        };
        let node = g.remember(node);
        drop(g);
        held.counts.push(Count {
            segment: Rc::clone(seg),
            kind: zone.kind.tag(),
            node,
        });
    }
    (status, None)
}

fn rejected(s: &Settings<'_>, held: &mut Held) -> (Option<Status>, Option<u16>) {
    held.release();
    if s.dry_run {
        (Some(Status::RejectedDryRun), None)
    } else {
        (Some(Status::Rejected), Some(s.status))
    }
}
