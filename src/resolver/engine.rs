//! One resolver's state machine, without I/O: names being resolved, the requests waiting on
//! them, resends and timeouts, the cache. Messages go out through a [`Wire`] and come back
//! through [`Engine::on_message`]; the worker's clock comes in as `now`.
//!
//! It follows `ngx_resolver.c`:
//! - a name is asked once however many requests wait for it; A and AAAA (as `ipv4=`/`ipv6=`
//!   say) are asked together with random ids, and the answer combines both: an error in
//!   either fails the name, else the addresses of both (IPv4 first), else the alias (the
//!   last part's CNAME) is resolved in turn, at most [`MAX_RECURSION`] deep;
//! - queries go to the name servers round robin; a name still unanswered after
//!   [`RESEND_AFTER`] is asked again of the next server, only for the parts still missing,
//!   and dropped there if nobody waits any more;
//! - a truncated answer is asked again over TCP of the same server;
//! - FORMERR, unknown codes, a wrong id or a malformed message are logged and ignored (a
//!   later answer or the resend may still succeed); other errors fail the name at once;
//! - each waiting request has its own deadline (`resolver_timeout`), counted once from its
//!   start, across aliases.
//!
//! This file holds the requests, queries, resends and deadlines; `engine/answers.rs` what a
//! response does.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::cache::{Cache, Cached, MAX_NEGATIVE_TTL};
use super::dns::{self, Answer, Header};
use super::{Addrs, ResolveError, random::RandomIds};
use crate::elog;
use crate::log::LogLevel;

/// How long before an unanswered name is asked again (nginx's `resend_timeout`, 5 s).
pub const RESEND_AFTER: Duration = Duration::from_secs(5);
/// Aliases followed for one request (nginx's `NGX_RESOLVER_MAX_RECURSION`).
pub const MAX_RECURSION: u32 = 50;
/// Stale timer entries are swept once there are this many more than live ones.
const TIMER_SLACK: usize = 1024;

/// Where queries go.
pub trait Wire {
    /// Sends one query to name server `server` (over TCP when `tcp`); false when it failed.
    fn send(&mut self, server: usize, tcp: bool, msg: &[u8]) -> bool;
}

/// What one resolver is configured with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Name servers.
    pub servers: usize,
    /// `valid=` in seconds: replaces every TTL.
    pub valid: Option<u32>,
    /// Ask for A records.
    pub ipv4: bool,
    /// Ask for AAAA records.
    pub ipv6: bool,
}

/// What [`Engine::resolve`] gives at once.
#[derive(Debug)]
pub enum Started {
    /// The answer.
    Ready(Result<Addrs, ResolveError>),
    /// A waiter id: its [`Finished`] comes later.
    Waiting(u64),
}

/// A request that finished waiting.
pub struct Finished<W> {
    /// Its waiter id (from [`Started::Waiting`]).
    pub waiter: u64,
    /// Who it is.
    pub who: W,
    /// What it gets.
    pub result: Result<Addrs, ResolveError>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Resend(u64),
    Waiter(u64),
}

enum PartState {
    Pending,
    Answered {
        addrs: Vec<IpAddr>,
        cname: Option<Vec<u8>>,
        negative_ttl: Option<u32>,
    },
    Failed {
        code: u8,
        negative_ttl: Option<u32>,
    },
}

/// The query of one record type.
struct Part {
    qtype: u16,
    id: u16,
    tcp: bool,
    state: PartState,
}

/// A name being resolved (nginx's resolver node while it has `waiting` contexts).
struct Query {
    name: Rc<[u8]>,
    parts: Vec<Part>,
    server: usize,
    resend_at: Instant,
    waiters: Vec<u64>,
    /// The smallest TTL of every record of every part.
    ttl: u32,
}

struct Waiter<W> {
    who: W,
    query: u64,
    deadline: Option<Instant>,
    recursion: u32,
}

/// How a query ended.
enum Outcome {
    Addrs(Vec<IpAddr>),
    Alias(Vec<u8>),
    Fail { code: u8, negative_ttl: Option<u32> },
}

/// One resolver's state.
pub struct Engine<W> {
    settings: Settings,
    next_server: usize,
    cache: Cache,
    queries: HashMap<u64, Query>,
    by_name: HashMap<Rc<[u8]>, u64>,
    waiters: HashMap<u64, Waiter<W>>,
    next_id: u64,
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    finished: Vec<Finished<W>>,
    ids: RandomIds,
    /// The name being looked up (lowercased).
    key: Vec<u8>,
    /// A query being encoded.
    msg: Vec<u8>,
    /// Names read from a response.
    qname: Vec<u8>,
    scratch: dns::Scratch,
    answer: Answer,
}

impl<W: Copy> Engine<W> {
    /// A resolver with nothing cached or asked.
    pub fn new(settings: Settings) -> Engine<W> {
        Engine {
            settings,
            next_server: 0,
            cache: Cache::default(),
            queries: HashMap::new(),
            by_name: HashMap::new(),
            waiters: HashMap::new(),
            next_id: 1,
            timers: BinaryHeap::new(),
            finished: Vec::new(),
            ids: RandomIds::default(),
            key: Vec::with_capacity(64),
            msg: Vec::with_capacity(512),
            qname: Vec::with_capacity(64),
            scratch: dns::Scratch::default(),
            answer: Answer::default(),
        }
    }

    /// Starts resolving `name` for `who`: answered now (from the cache, or a name that
    /// cannot be asked), or a waiter whose [`Finished`] comes later. `timeout` zero: no
    /// deadline.
    pub fn resolve(
        &mut self,
        name: &[u8],
        who: W,
        timeout: Duration,
        now: Instant,
        wire: &mut dyn Wire,
    ) -> Started {
        self.cache.maybe_sweep(now);
        let name = name.strip_suffix(b".").unwrap_or(name);
        self.key.clear();
        self.key.extend(name.iter().map(u8::to_ascii_lowercase));
        if let Some(ip) = std::str::from_utf8(&self.key)
            .ok()
            .and_then(|s| s.parse::<std::net::Ipv4Addr>().ok())
        {
            return Started::Ready(Ok(Addrs::new(Rc::from([IpAddr::V4(ip)]), 0)));
        }
        let mut recursion = 0;
        if let Some(result) = self.follow_cache(&mut recursion, now) {
            return Started::Ready(result);
        }
        let id = self.new_id();
        let deadline = (!timeout.is_zero()).then(|| now + timeout);
        self.waiters.insert(
            id,
            Waiter {
                who,
                query: 0,
                deadline,
                recursion,
            },
        );
        if let Some(result) = self.wait_on_key(id, now, wire) {
            self.waiters.remove(&id);
            return Started::Ready(result);
        }
        if let Some(at) = deadline {
            self.push_timer(at, Timer::Waiter(id));
        }
        Started::Waiting(id)
    }

    /// The request behind `waiter` no longer waits (it went away). Its query goes on for
    /// the others, and is dropped at its next resend if nobody waits any more.
    pub fn cancel(&mut self, waiter: u64) {
        if let Some(w) = self.waiters.remove(&waiter)
            && let Some(q) = self.queries.get_mut(&w.query)
        {
            q.waiters.retain(|&id| id != waiter);
        }
    }

    /// Moves the finished waits to `out`.
    pub fn take_finished(&mut self, out: &mut Vec<Finished<W>>) {
        out.append(&mut self.finished);
    }

    /// The earliest time [`Engine::on_timers`] has work (possibly already done: stale
    /// entries wake the loop once, harmlessly).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Requests waiting, names being asked: for tests and the sweep.
    pub fn pending(&self) -> (usize, usize) {
        (self.waiters.len(), self.queries.len())
    }

    /// Resends and timeouts that are due.
    pub fn on_timers(&mut self, now: Instant, wire: &mut dyn Wire) {
        while let Some(&Reverse((at, timer))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::Resend(qid) => self.resend(qid, at, now, wire),
                Timer::Waiter(id) => {
                    if self
                        .waiters
                        .get(&id)
                        .is_some_and(|w| w.deadline == Some(at))
                    {
                        self.cancel_waiter_query(id);
                        self.finish(id, Err(ResolveError::TimedOut));
                    }
                }
            }
        }
    }

    // ---- the cache and the queries ----

    /// Follows `self.key` through the cache: an answer, or `None` with `self.key` holding
    /// the name to ask (an alias's target, perhaps).
    fn follow_cache(
        &mut self,
        recursion: &mut u32,
        now: Instant,
    ) -> Option<Result<Addrs, ResolveError>> {
        loop {
            let target = match self.cache.get(&self.key, now)? {
                Cached::Addrs(list) => {
                    // As nginx, a cached answer starts at a random address.
                    let first = self.ids.next_usize() % list.len().max(1);
                    return Some(Ok(Addrs::new(list.clone(), first)));
                }
                Cached::Negative(code) => return Some(Err(ResolveError::Dns(*code))),
                Cached::Cname(target) => target.clone(),
            };
            if *recursion >= MAX_RECURSION {
                return Some(Err(ResolveError::Dns(dns::RCODE_NXDOMAIN)));
            }
            *recursion += 1;
            self.key.clear();
            self.key.extend_from_slice(&target);
        }
    }

    /// Makes waiter `id` wait on the query for `self.key`, starting it if needed. `Some`:
    /// the name cannot be asked.
    fn wait_on_key(
        &mut self,
        id: u64,
        now: Instant,
        wire: &mut dyn Wire,
    ) -> Option<Result<Addrs, ResolveError>> {
        let qid = match self.by_name.get(&self.key[..]) {
            Some(&qid) => qid,
            None => match self.start_query(now, wire) {
                Some(qid) => qid,
                None => return Some(Err(ResolveError::Dns(dns::RCODE_NXDOMAIN))),
            },
        };
        if let Some(q) = self.queries.get_mut(&qid) {
            q.waiters.push(id);
        }
        if let Some(w) = self.waiters.get_mut(&id) {
            w.query = qid;
        }
        None
    }

    /// Asks the next server for `self.key`; `None` when the name cannot be encoded (nginx
    /// answers such a name "Host not found").
    fn start_query(&mut self, now: Instant, wire: &mut dyn Wire) -> Option<u64> {
        self.msg.clear();
        dns::encode_query(&self.key, 0, dns::TYPE_A, &mut self.msg).ok()?;
        let mut parts = Vec::with_capacity(2);
        for (on, qtype) in [
            (self.settings.ipv4, dns::TYPE_A),
            (self.settings.ipv6, dns::TYPE_AAAA),
        ] {
            if on {
                parts.push(Part {
                    qtype,
                    id: self.ids.next_u16(),
                    tcp: false,
                    state: PartState::Pending,
                });
            }
        }
        let servers = self.settings.servers.max(1);
        let server = self.next_server % servers;
        self.next_server = (server + 1) % servers;
        let mut query = Query {
            name: Rc::from(&self.key[..]),
            parts,
            server,
            resend_at: now + RESEND_AFTER,
            waiters: Vec::new(),
            ttl: u32::MAX,
        };
        if !send_pending(&query, &mut self.msg, wire) {
            // As nginx: one more try, at once, on the next server.
            query.server = (query.server + 1) % servers;
            send_pending(&query, &mut self.msg, wire);
        }
        let qid = self.new_id();
        self.by_name.insert(query.name.clone(), qid);
        self.push_timer(query.resend_at, Timer::Resend(qid));
        self.queries.insert(qid, query);
        Some(qid)
    }

    fn resend(&mut self, qid: u64, at: Instant, now: Instant, wire: &mut dyn Wire) {
        let Some(query) = self.queries.get_mut(&qid) else {
            return;
        };
        if query.resend_at != at {
            return;
        }
        if query.waiters.is_empty() {
            let name = query.name.clone();
            self.queries.remove(&qid);
            self.by_name.remove(&name);
            return;
        }
        query.server = (query.server + 1) % self.settings.servers.max(1);
        send_pending(query, &mut self.msg, wire);
        query.resend_at = now + RESEND_AFTER;
        let next = query.resend_at;
        self.push_timer(next, Timer::Resend(qid));
    }

    fn cancel_waiter_query(&mut self, id: u64) {
        if let Some(w) = self.waiters.get(&id)
            && let Some(q) = self.queries.get_mut(&w.query)
        {
            q.waiters.retain(|&other| other != id);
        }
    }

    fn finish(&mut self, id: u64, result: Result<Addrs, ResolveError>) {
        if let Some(w) = self.waiters.remove(&id) {
            self.finished.push(Finished {
                waiter: id,
                who: w.who,
                result,
            });
        }
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn push_timer(&mut self, at: Instant, timer: Timer) {
        if self.timers.len() > 2 * (self.waiters.len() + self.queries.len()) + TIMER_SLACK {
            let (waiters, queries) = (&self.waiters, &self.queries);
            self.timers.retain(|Reverse((at, t))| match t {
                Timer::Resend(q) => queries.get(q).is_some_and(|q| q.resend_at == *at),
                Timer::Waiter(w) => waiters.get(w).is_some_and(|w| w.deadline == Some(*at)),
            });
        }
        self.timers.push(Reverse((at, timer)));
    }
}

/// Sends the parts still unanswered to the query's server; false if a send failed.
fn send_pending(query: &Query, msg: &mut Vec<u8>, wire: &mut dyn Wire) -> bool {
    let mut ok = true;
    for part in &query.parts {
        if !matches!(part.state, PartState::Pending) {
            continue;
        }
        msg.clear();
        if dns::encode_query(&query.name, part.id, part.qtype, msg).is_ok() {
            ok &= wire.send(query.server, part.tcp, msg);
        }
    }
    ok
}

mod answers;
#[cfg(test)]
mod tests;
