//! The active health checks' prober (nginx Plus's `health_check`): in each worker, for each
//! group with a check, a tick that takes or renews the group's lease in its zone
//! (`balancer/health_zone.rs`); only the lease holder probes, so one worker of the server
//! probes each group. A probe is a plain `GET URI HTTP/1.0` with `Host`, non-blocking in the
//! worker's loop: its socket is an upstream socket (same token scheme, [`Owner::Probe`]),
//! its deadlines are the location's `proxy_connect_timeout`, `proxy_send_timeout` and
//! `proxy_read_timeout`, and at most `proxy_buffer_size` bytes of the response are read
//! (all a `body` test sees, as in nginx Plus). The result goes to the server's shared
//! health word; a change of state is logged as nginx Plus logs it.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::Interest;

use super::balancer::{CheckOutcome, Group};
use super::connect::{self, OpenError, SocketOptions};
use super::health::{Failed, Transition};
use super::{Owner, UPSTREAM_TOKEN_BIT};
use crate::config::HttpConf;
use crate::config::health_check::HealthCheck;
use crate::config::proxy_values::PeerAddr;
use crate::elog;
use crate::log::LogLevel;
use probe::{Probe, Step};

mod probe;

/// How often a worker tries to take (or renews) a lease.
const TICK: Duration = Duration::from_millis(500);

/// One checked server.
#[derive(Debug)]
struct Target {
    addr: PeerAddr,
    /// `addr` as the log shows it.
    name: String,
    down: bool,
    probe: Option<Probe>,
}

/// One group's check in this worker.
#[derive(Debug)]
struct Check {
    hc: HealthCheck,
    /// The group's name, for the log.
    upstream: String,
    targets: Vec<Target>,
    request: Vec<u8>,
    /// This worker holds the lease.
    leader: bool,
    next_tick: Instant,
    next_round: Instant,
}

/// A worker's probes.
#[derive(Debug, Default)]
pub struct Prober {
    checks: Vec<Check>,
    pid: u32,
    stopped: bool,
    rng: u64,
}

fn with_port(addr: &PeerAddr, port: Option<u16>) -> PeerAddr {
    match (addr, port) {
        (PeerAddr::Inet(a), Some(p)) => PeerAddr::Inet(SocketAddr::new(a.ip(), p)),
        _ => addr.clone(),
    }
}

impl Prober {
    /// The checks of `http`, none due yet (the first tick comes at once).
    pub fn new(http: &HttpConf, now: Instant) -> Prober {
        let checks = http
            .health_checks
            .iter()
            .filter_map(|hc| {
                let u = http.upstreams.get(hc.group)?;
                let targets = u
                    .servers
                    .iter()
                    .map(|s| {
                        let addr = with_port(&s.addr, hc.conf.port);
                        Target {
                            name: addr.to_string(),
                            addr,
                            down: s.down,
                            probe: None,
                        }
                    })
                    .collect();
                let request = format!("GET {} HTTP/1.0\r\nHost: {}\r\n\r\n", hc.conf.uri, hc.host)
                    .into_bytes();
                Some(Check {
                    hc: hc.clone(),
                    upstream: u.name.clone(),
                    targets,
                    request,
                    leader: false,
                    next_tick: now,
                    next_round: now,
                })
            })
            .collect();
        Prober {
            checks,
            pid: std::process::id(),
            stopped: false,
            rng: u64::from(std::process::id()) | 1,
        }
    }

    /// The earliest moment [`Prober::on_timers`] has work.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        self.checks
            .iter()
            .flat_map(|c| {
                let probes = c.targets.iter().filter_map(|t| t.probe.as_ref());
                std::iter::once(c.next_tick)
                    .chain(c.leader.then_some(c.next_round))
                    .chain(probes.map(|p| p.deadline))
            })
            .min()
    }

    fn jitter(&mut self, max: Duration) -> Duration {
        if max.is_zero() {
            return max;
        }
        // xorshift: spreading the rounds needs no secrecy.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        Duration::from_millis(self.rng % (max.as_millis() as u64 + 1))
    }

    /// Election ticks, rounds that are due, and probes past their deadline.
    pub fn on_timers(
        &mut self,
        now: Instant,
        groups: &mut [Group],
        registry: &mio::Registry,
        owners: &mut dyn FnMut(i32, Owner),
    ) {
        if self.stopped {
            return;
        }
        for ci in 0..self.checks.len() {
            let group = self.checks[ci].hc.group;
            let Some(g) = groups.get_mut(group) else {
                continue;
            };
            if self.checks[ci].next_tick <= now {
                let leader = g.hold_lease(self.pid);
                let c = &mut self.checks[ci];
                if leader && !c.leader {
                    // A new prober starts with a round at once.
                    c.next_round = now;
                } else if !leader {
                    for t in &mut c.targets {
                        t.probe = None;
                    }
                }
                c.leader = leader;
                c.next_tick = now + TICK;
            }
            if self.checks[ci].leader && self.checks[ci].next_round <= now {
                let (interval, jitter) = {
                    let conf = &self.checks[ci].hc.conf;
                    (conf.interval, conf.jitter)
                };
                let delay = self.jitter(jitter);
                self.checks[ci].next_round = now + interval + delay;
                for ti in 0..self.checks[ci].targets.len() {
                    let t = &self.checks[ci].targets[ti];
                    if t.down || t.probe.is_some() {
                        continue;
                    }
                    self.start(ci, ti, now, g, registry, owners);
                }
            }
            for ti in 0..self.checks[ci].targets.len() {
                let late = self.checks[ci].targets[ti]
                    .probe
                    .as_ref()
                    .is_some_and(|p| p.deadline <= now);
                if late {
                    self.timed_out(ci, ti, g);
                }
            }
        }
    }

    fn start(
        &mut self,
        ci: usize,
        ti: usize,
        now: Instant,
        g: &mut Group,
        registry: &mio::Registry,
        owners: &mut dyn FnMut(i32, Owner),
    ) {
        let c = &mut self.checks[ci];
        let t = &mut c.targets[ti];
        match connect::open(&t.addr, &SocketOptions::default()) {
            Ok(mut sock) => {
                let fd = sock.as_raw_fd();
                let token = mio::Token(UPSTREAM_TOKEN_BIT | fd as usize);
                if let Err(e) =
                    registry.register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)
                {
                    elog!(
                        LogLevel::Alert,
                        "epoll_ctl() failed ({}) while checking health",
                        crate::sys::errno_text(&e)
                    );
                    return;
                }
                owners(fd, Owner::Probe(ci as u32, ti as u32));
                t.probe = Some(Probe::connecting(sock, &c.hc, now));
            }
            Err(OpenError::Local(m)) => {
                elog!(LogLevel::Alert, "{m} while checking health");
            }
            Err(OpenError::Connect(e)) => {
                let m = format!(
                    "connect() failed ({}) while connecting to upstream",
                    crate::sys::errno_text(&e)
                );
                self.fail(ci, ti, g, &m, "connecting to upstream", 0);
            }
        }
    }

    /// Readiness of probe `ti` of check `ci` (its socket's [`Owner::Probe`]).
    pub fn on_event(&mut self, ci: u32, ti: u32, now: Instant, groups: &mut [Group]) {
        let (ci, ti) = (ci as usize, ti as usize);
        let Some(c) = self.checks.get_mut(ci) else {
            return;
        };
        let Some(g) = groups.get_mut(c.hc.group) else {
            return;
        };
        let Some(t) = c.targets.get_mut(ti) else {
            return;
        };
        let Some(p) = t.probe.as_mut() else { return };
        match p.advance(&c.request, &c.hc, now) {
            Step::Wait => {}
            Step::Read => self.finish(ci, ti, g),
            Step::Failed(m, action) => self.fail(ci, ti, g, &m, action, 0),
        }
    }

    fn timed_out(&mut self, ci: usize, ti: usize, g: &mut Group) {
        let Some(p) = self.checks[ci].targets[ti].probe.as_ref() else {
            return;
        };
        if let Step::Failed(m, action) = p.timed_out() {
            self.fail(ci, ti, g, &m, action, 0);
        }
    }

    /// The response is read (EOF or `proxy_buffer_size` bytes): test it.
    fn finish(&mut self, ci: usize, ti: usize, g: &mut Group) {
        let c = &self.checks[ci];
        let Some(p) = c.targets[ti].probe.as_ref() else {
            return;
        };
        match p.verdict(&c.hc) {
            Ok(v) => {
                let action = v.failed.unwrap_or(Failed::Status).action();
                self.record(ci, ti, g, v.failed.is_none(), v.status, action);
            }
            Err(Step::Failed(m, action)) => self.fail(ci, ti, g, &m, action, 0),
            Err(_) => {}
        }
    }

    fn fail(
        &mut self,
        ci: usize,
        ti: usize,
        g: &mut Group,
        message: &str,
        action: &str,
        status: u16,
    ) {
        let c = &self.checks[ci];
        let t = &c.targets[ti];
        elog!(
            LogLevel::Error,
            "{message}, health check \"{}\" of peer {} in upstream \"{}\"",
            c.hc.conf.match_name.as_deref().unwrap_or(""),
            t.name,
            c.upstream
        );
        self.record(ci, ti, g, false, status, action);
    }

    fn record(
        &mut self,
        ci: usize,
        ti: usize,
        g: &mut Group,
        passed: bool,
        status: u16,
        action: &str,
    ) {
        let c = &mut self.checks[ci];
        let t = &mut c.targets[ti];
        // Dropping the socket closes it (and so takes it out of epoll).
        t.probe = None;
        let outcome = CheckOutcome { passed, status };
        let change = g.record_check(ti, outcome, c.hc.conf.fails, c.hc.conf.passes);
        let check = c.hc.conf.match_name.as_deref().unwrap_or("");
        match change {
            Some(Transition::Unhealthy) => elog!(
                LogLevel::Warn,
                "peer is unhealthy while {action}, health check \"{check}\" of peer {} in upstream \"{}\"",
                t.name,
                c.upstream
            ),
            Some(Transition::Healthy) => elog!(
                LogLevel::Notice,
                "peer is healthy while {action}, health check \"{check}\" of peer {} in upstream \"{}\"",
                t.name,
                c.upstream
            ),
            None => {}
        }
    }

    /// A graceful stop (or a reload retiring this worker): probes end and the leases go,
    /// so a worker of the new generation takes over at its next tick.
    pub fn stop(&mut self, groups: &[Group]) {
        self.stopped = true;
        for c in &mut self.checks {
            for t in &mut c.targets {
                t.probe = None;
            }
            if c.leader
                && let Some(g) = groups.get(c.hc.group)
            {
                g.release_lease(self.pid);
            }
            c.leader = false;
        }
    }
}
