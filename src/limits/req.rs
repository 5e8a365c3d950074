//! `limit_req`: nginx's leaky bucket, exact across workers (the zone's lock is held for each
//! key's lookup and update, as nginx holds its slab mutex).
//!
//! Excess is kept in milli-requests: each request adds 1000, and `rate` (requests per second
//! × 1000) drains it per millisecond. Over `burst` the request is rejected; over `delay` it
//! waits `(excess - delay) / rate` seconds. With several limits, every key is checked first
//! (each found entry pinned by `count` so expiry leaves it alone) and only the last one
//! accounts right away; the others are accounted once all passed, and the longest delay wins
//! — `ngx_http_limit_req_handler`, `_lookup`, `_account`, `_expire`.

use crate::config::{LimitReq, ZoneDecl};
use crate::log::LogLevel;
use crate::shm::{Guard, Node, Pod, Remembered, Table};
use crate::vars::Template;

/// A key's state in the zone (nginx's `ngx_http_limit_req_node_t` less the tree links).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Entry {
    /// `ngx_current_msec` of the last update.
    last: u64,
    /// Milli-requests over the rate.
    excess: u64,
    /// Requests between their lookup and their accounting (pinned against expiry).
    count: u64,
}
// SAFETY: three integers.
unsafe impl Pod for Entry {}

/// `$limit_req_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `PASSED`
    Passed,
    /// `DELAYED`
    Delayed,
    /// `REJECTED`
    Rejected,
    /// `DELAYED_DRY_RUN`
    DelayedDryRun,
    /// `REJECTED_DRY_RUN`
    RejectedDryRun,
}

impl Status {
    /// The variable's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "PASSED",
            Status::Delayed => "DELAYED",
            Status::Rejected => "REJECTED",
            Status::DelayedDryRun => "DELAYED_DRY_RUN",
            Status::RejectedDryRun => "REJECTED_DRY_RUN",
        }
    }
}

/// What the request does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Go on to the next handler.
    Continue,
    /// Answer with this status.
    Reject(u16),
    /// Wait this many milliseconds, then go on.
    Delay(u64),
}

/// The location's `limit_req*` settings.
pub struct Settings<'a> {
    /// `limit_req` entries.
    pub limits: &'a [LimitReq],
    /// The http block's zones.
    pub zones: &'a [ZoneDecl],
    /// `limit_req_status`
    pub status: u16,
    /// `limit_req_log_level`
    pub log_level: LogLevel,
    /// `limit_req_dry_run`
    pub dry_run: bool,
}

/// What the request's side supplies: keys and log lines with its context.
pub trait Request {
    /// Evaluates a zone's key into `out`.
    fn key(&mut self, key: &Template, out: &mut Vec<u8>);
    /// `$binary_remote_addr` into `out` (4 or 16 bytes, or `unix:`); returns its length.
    fn binary_remote_addr(&mut self, out: &mut [u8; 16]) -> usize;
    /// Writes an error-log line about the request.
    fn log(&mut self, level: LogLevel, line: &str);
    /// Writes an error-log line without the request's context (`ngx_cycle->log`).
    fn log_plain(&mut self, level: LogLevel, line: &str);
}

/// How one zone's lookup went (nginx's `NGX_*` codes of `_lookup`).
enum Lookup {
    /// Accounted (the last limit).
    Ok(i64),
    /// Found or created and pinned, to be accounted later.
    Again(Node),
    /// Over the burst.
    Busy(i64),
    /// No room for the key.
    Error,
}

/// `ngx_http_limit_req_handler`: checks every limit; `None` status when no limit applied
/// (no zone, or every key empty).
pub fn check(
    s: &Settings<'_>,
    r: &mut dyn Request,
    scratch: &mut Vec<u8>,
) -> (Option<Status>, Action) {
    match s.limits {
        [limit] => check_one(s, limit, r, scratch),
        _ => check_several(s, r, scratch),
    }
}

/// [`check`] for several limits (or none).
#[inline(never)]
fn check_several(
    s: &Settings<'_>,
    r: &mut dyn Request,
    scratch: &mut Vec<u8>,
) -> (Option<Status>, Action) {
    let now = super::current_msec();
    // Entries pinned by the lookups of the limits before the one that stopped the loop.
    let mut pinned = Pinned::default();
    let mut rc: Option<Lookup> = None;
    let mut at = s.limits.len();
    let mut limit_at = 0;
    let last = s.limits.len().saturating_sub(1);
    let mut addr = [0u8; 16];
    for (n, limit) in s.limits.iter().enumerate() {
        limit_at = n;
        let Some(zone) = s.zones.get(limit.zone) else {
            continue;
        };
        let Some(seg) = zone.segment.as_deref() else {
            continue;
        };
        let Some(key) = zone_key(zone, r, scratch, &mut addr) else {
            continue;
        };
        let Some(table) = Table::<Entry>::open(seg, zone.kind.tag()) else {
            continue;
        };
        let Ok(mut g) = table.lock() else {
            continue;
        };
        if g.recovered() {
            r.log_plain(LogLevel::Alert, &super::recovered_line(zone));
        }
        let found = lookup(&mut g, zone, limit, key, now, n == last, r);
        if let Lookup::Again(node) = found {
            pinned.set(n, g.remember(node));
            drop(g);
            rc = Some(found);
            continue;
        }
        rc = Some(found);
        at = n;
        break;
    }
    let excess = match rc {
        None => return (None, Action::Continue),
        Some(Lookup::Busy(excess)) => {
            let zone = s.limits.get(at).and_then(|l| s.zones.get(l.zone));
            log_busy(s, r, excess, zone.map_or("", |z| z.name.as_str()));
            unpin(s, &pinned, at);
            return reject(s);
        }
        Some(Lookup::Error) => {
            unpin(s, &pinned, at);
            return reject(s);
        }
        Some(Lookup::Again(_)) => 0,
        Some(Lookup::Ok(excess)) => excess,
    };
    let (delay, excess, zone) = account(s, &pinned, at, excess, limit_at, now);
    passed_or_delayed(s, r, delay, excess, zone)
}

/// [`check`] for a location with one `limit_req` (the usual case): the same steps without
/// the bookkeeping several limits need (no entry is pinned, the one lookup accounts).
#[inline]
fn check_one(
    s: &Settings<'_>,
    limit: &LimitReq,
    r: &mut dyn Request,
    scratch: &mut Vec<u8>,
) -> (Option<Status>, Action) {
    let none = (None, Action::Continue);
    let Some(zone) = s.zones.get(limit.zone) else {
        return none;
    };
    let Some(seg) = zone.segment.as_deref() else {
        return none;
    };
    let mut addr = [0u8; 16];
    let Some(key) = zone_key(zone, r, scratch, &mut addr) else {
        return none;
    };
    let Some(table) = Table::<Entry>::open(seg, zone.kind.tag()) else {
        return none;
    };
    let now = super::current_msec();
    let Ok(mut g) = table.lock() else {
        return none;
    };
    if g.recovered() {
        r.log_plain(LogLevel::Alert, &super::recovered_line(zone));
    }
    let found = lookup(&mut g, zone, limit, key, now, true, r);
    drop(g);
    match found {
        Lookup::Ok(excess) => {
            if (excess as u64) <= limit.delay {
                return (Some(Status::Passed), Action::Continue);
            }
            let delay = (excess as u64 - limit.delay) * 1000 / zone.rate.max(1);
            passed_or_delayed(s, r, delay, excess, &zone.name)
        }
        Lookup::Busy(excess) => {
            log_busy(s, r, excess, &zone.name);
            reject(s)
        }
        // The last (only) limit accounts at once: nothing was pinned.
        Lookup::Again(_) | Lookup::Error => reject(s),
    }
}

/// The key of `zone` for the request: `$binary_remote_addr` straight from the client's
/// address into `addr`, any other key evaluated into `scratch`. `None` (the limit does not
/// apply) when it is empty, or too long for nginx (logged).
#[inline]
fn zone_key<'k>(
    zone: &ZoneDecl,
    r: &mut dyn Request,
    scratch: &'k mut Vec<u8>,
    addr: &'k mut [u8; 16],
) -> Option<&'k [u8]> {
    if zone.key_is_binary_remote_addr {
        let n = r.binary_remote_addr(addr);
        return addr.get(..n).filter(|k| !k.is_empty());
    }
    evaluated_key(zone, r, scratch)
}

#[inline(never)]
fn evaluated_key<'k>(
    zone: &ZoneDecl,
    r: &mut dyn Request,
    scratch: &'k mut Vec<u8>,
) -> Option<&'k [u8]> {
    scratch.clear();
    r.key(&zone.key, scratch);
    if scratch.is_empty() {
        return None;
    }
    if scratch.len() > 65535 {
        let line = format!(
            "the value of the \"{}\" key is more than 65535 bytes: \"{}\"",
            zone.key_text,
            String::from_utf8_lossy(scratch)
        );
        r.log(LogLevel::Error, &line);
        return None;
    }
    Some(scratch)
}

/// The log line of a request over the burst.
#[cold]
fn log_busy(s: &Settings<'_>, r: &mut dyn Request, excess: i64, zone: &str) {
    let line = format!(
        "limiting requests{}, excess: {}.{:03} by zone \"{}\"",
        if s.dry_run { ", dry run" } else { "" },
        excess / 1000,
        excess % 1000,
        zone
    );
    r.log(s.log_level, &line);
}

/// The answer for a request every limit let through, delayed by `delay` ms (0: passed).
fn passed_or_delayed(
    s: &Settings<'_>,
    r: &mut dyn Request,
    delay: u64,
    excess: i64,
    zone: &str,
) -> (Option<Status>, Action) {
    if delay == 0 {
        return (Some(Status::Passed), Action::Continue);
    }
    let delay_level = match s.log_level {
        LogLevel::Info | LogLevel::Notice => LogLevel::Info,
        LogLevel::Warn => LogLevel::Notice,
        _ => LogLevel::Warn,
    };
    let line = format!(
        "delaying request{}, excess: {}.{:03}, by zone \"{}\"",
        if s.dry_run { ", dry run" } else { "" },
        excess / 1000,
        excess % 1000,
        zone
    );
    r.log(delay_level, &line);
    if s.dry_run {
        return (Some(Status::DelayedDryRun), Action::Continue);
    }
    (Some(Status::Delayed), Action::Delay(delay))
}

/// Entries pinned per limit index (nginx keeps one in each zone's `ctx->node`).
#[derive(Default)]
struct Pinned {
    first: [Option<Remembered>; 8],
    more: Vec<(usize, Remembered)>,
}

impl Pinned {
    fn set(&mut self, n: usize, node: Remembered) {
        match self.first.get_mut(n) {
            Some(slot) => *slot = Some(node),
            None => self.more.push((n, node)),
        }
    }

    fn get(&self, n: usize) -> Option<Remembered> {
        match self.first.get(n) {
            Some(p) => *p,
            None => self
                .more
                .iter()
                .find(|(i, _)| *i == n)
                .map(|(_, node)| *node),
        }
    }
}

fn reject(s: &Settings<'_>) -> (Option<Status>, Action) {
    if s.dry_run {
        (Some(Status::RejectedDryRun), Action::Continue)
    } else {
        (Some(Status::Rejected), Action::Reject(s.status))
    }
}

/// The excess after `ms` milliseconds and one more request, as nginx computes it.
fn excess_now(entry: &Entry, rate: u64, now: u64) -> (i64, i64) {
    let mut ms = now.wrapping_sub(entry.last) as i64;
    if ms < -60000 {
        ms = 1;
    } else if ms < 0 {
        ms = 0;
    }
    let excess = (entry.excess as i64)
        .saturating_sub((rate as i64).saturating_mul(ms) / 1000)
        .saturating_add(1000);
    (excess.max(0), ms)
}

/// `ngx_http_limit_req_lookup`: the key's entry found and updated, or created.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lookup(
    g: &mut Guard<'_, Entry>,
    zone: &ZoneDecl,
    limit: &LimitReq,
    key: &[u8],
    now: u64,
    account: bool,
    r: &mut dyn Request,
) -> Lookup {
    if let Some(node) = g.find(key) {
        g.touch(node);
        let e = g.value(node);
        let (excess, ms) = excess_now(e, zone.rate, now);
        if excess as u64 > limit.burst {
            return Lookup::Busy(excess);
        }
        if account {
            e.excess = excess as u64;
            if ms != 0 {
                e.last = now;
            }
            return Lookup::Ok(excess);
        }
        e.count += 1;
        return Lookup::Again(node);
    }
    insert(g, zone, key, now, account, r)
}

/// [`lookup`] of a key not in the zone: expires old entries and adds one.
#[inline(never)]
fn insert(
    g: &mut Guard<'_, Entry>,
    zone: &ZoneDecl,
    key: &[u8],
    now: u64,
    account: bool,
    r: &mut dyn Request,
) -> Lookup {
    expire(g, zone.rate, 1, now);
    let entry = if account {
        Entry {
            last: now,
            excess: 0,
            count: 0,
        }
    } else {
        Entry {
            last: 0,
            excess: 0,
            count: 1,
        }
    };
    let node = match g.insert(key, entry) {
        Some(node) => node,
        None => {
            expire(g, zone.rate, 0, now);
            match g.insert(key, entry) {
                Some(node) => node,
                None => {
                    let line = format!(
                        "could not allocate node in limit_req zone \"{}\"",
                        zone.name
                    );
                    r.log_plain(LogLevel::Alert, &line);
                    return Lookup::Error;
                }
            }
        }
    };
    if account {
        Lookup::Ok(0)
    } else {
        Lookup::Again(node)
    }
}

/// `ngx_http_limit_req_expire`: `n == 1` removes up to two drained entries from the LRU
/// end; `n == 0` first removes the oldest one whatever its state (unless pinned).
fn expire(g: &mut Guard<'_, Entry>, rate: u64, mut n: u32, now: u64) {
    while n < 3 {
        let Some(node) = g.oldest() else { return };
        let e = *g.value(node);
        if e.count != 0 {
            return;
        }
        let check = n != 0;
        n += 1;
        if check {
            let ms = (now as i64).wrapping_sub(e.last as i64).unsigned_abs();
            if ms < 60000 {
                return;
            }
            let excess =
                (e.excess as i64).saturating_sub((rate as i64).saturating_mul(ms as i64) / 1000);
            if excess > 0 {
                return;
            }
        }
        g.remove(node);
    }
}

/// `ngx_http_limit_req_unlock`: unpins the entries of limits before `n`.
fn unpin(s: &Settings<'_>, pinned: &Pinned, n: usize) {
    for i in (0..n).rev() {
        let Some(node) = pinned.get(i) else {
            continue;
        };
        with_entry(s, i, node, |e| e.count = e.count.saturating_sub(1));
    }
}

fn with_entry(s: &Settings<'_>, i: usize, node: Remembered, f: impl FnOnce(&mut Entry)) {
    let Some(zone) = s.limits.get(i).and_then(|l| s.zones.get(l.zone)) else {
        return;
    };
    let Some(table) = zone
        .segment
        .as_deref()
        .and_then(|seg| Table::<Entry>::open(seg, zone.kind.tag()))
    else {
        return;
    };
    if let Ok(mut g) = table.lock() {
        // A wipe (a dead lock owner) in between freed every entry: nothing to touch.
        if let Some(node) = g.recall(node) {
            f(g.value(node));
        }
    }
}

/// `ngx_http_limit_req_account`: accounts the pinned entries of the limits before `n`;
/// returns the longest delay with its excess and zone name (borrowed: nothing is allocated
/// on a request that passes). `excess` and `limit_at` are the handler's: the excess of the
/// limit that stopped the loop, or 0.
fn account<'s>(
    s: &'s Settings<'_>,
    pinned: &Pinned,
    n: usize,
    excess: i64,
    limit_at: usize,
    now: u64,
) -> (u64, i64, &'s str) {
    let zone_of = |i: usize| s.limits.get(i).and_then(|l| s.zones.get(l.zone));
    let delay_of = |i: usize| s.limits.get(i).map_or(0, |l| l.delay);
    let rate_of = |i: usize| zone_of(i).map_or(1, |z| z.rate.max(1));
    let mut best = limit_at;
    let mut best_excess = excess;
    let mut max_delay = if (excess as u64) <= delay_of(limit_at) {
        0
    } else {
        (excess as u64 - delay_of(limit_at)) * 1000 / rate_of(limit_at)
    };
    for i in (0..n).rev() {
        let Some(node) = pinned.get(i) else {
            continue;
        };
        let rate = zone_of(i).map_or(0, |z| z.rate);
        let mut e_excess = 0i64;
        with_entry(s, i, node, |e| {
            let (ex, ms) = excess_now(e, rate, now);
            if ms != 0 {
                e.last = now;
            }
            e.excess = ex as u64;
            e.count = e.count.saturating_sub(1);
            e_excess = ex;
        });
        if (e_excess as u64) <= delay_of(i) {
            continue;
        }
        let delay = (e_excess as u64 - delay_of(i)) * 1000 / rate_of(i);
        if delay > max_delay {
            max_delay = delay;
            best_excess = e_excess;
            best = i;
        }
    }
    let name = zone_of(best).map_or("", |z| z.name.as_str());
    (max_delay, best_excess, name)
}
