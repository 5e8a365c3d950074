//! The pure core of active health checks (nginx Plus's `ngx_http_upstream_hc_module`):
//! one server's check state as it lives in the reserved `health` word of its shared record
//! ([`super::balancer::SharedPeer`]), and a `match` block's tests on a probe's response.
//!
//! Patterns are PCRE2 ([`crate::regex`]), as nginx Plus compiles them. The prober
//! (`upstream/prober.rs`) runs the probes and records them here. All-zero is a server
//! never checked, which is what a zone wiped after a dead lock owner holds.

use crate::regex::Regex;

/// Where a server stands for the health check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthState {
    /// Not probed yet: takes traffic, unless the check is `mandatory` ("checking").
    Unchecked,
    /// Passed: takes traffic.
    Healthy,
    /// Failed `fails` probes in a row: no traffic until it passes `passes` in a row.
    Unhealthy,
}

/// One server's check state, packed into its shared `health` word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Health {
    /// The state.
    pub state: HealthState,
    /// Consecutive failed probes (saturating).
    pub fails: u16,
    /// Consecutive passed probes (saturating).
    pub passes: u16,
    /// The last probe's status code; 0: no response (connect error, timeout, bad head).
    pub last_status: u16,
}

/// A change of state a probe caused, to be logged as nginx Plus does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The server became unhealthy.
    Unhealthy,
    /// The server became healthy again (or for the first time).
    Healthy,
}

impl Health {
    /// Unpacks a shared `health` word.
    pub fn from_word(w: u64) -> Health {
        let state = match w & 0xff {
            1 => HealthState::Healthy,
            2 => HealthState::Unhealthy,
            _ => HealthState::Unchecked,
        };
        Health {
            state,
            fails: (w >> 16) as u16,
            passes: (w >> 32) as u16,
            last_status: (w >> 48) as u16,
        }
    }

    /// Packs it back.
    pub fn to_word(self) -> u64 {
        let state = match self.state {
            HealthState::Unchecked => 0,
            HealthState::Healthy => 1,
            HealthState::Unhealthy => 2,
        };
        state
            | u64::from(self.fails) << 16
            | u64::from(self.passes) << 32
            | u64::from(self.last_status) << 48
    }

    /// Whether the balancer may pick the server: not unhealthy, and under `mandatory` not
    /// before its first passed probe.
    pub fn takes_traffic(self, mandatory: bool) -> bool {
        match self.state {
            HealthState::Healthy => true,
            HealthState::Unhealthy => false,
            HealthState::Unchecked => !mandatory,
        }
    }

    /// Counts one probe's outcome with `fails`/`passes` of the `health_check`; returns the
    /// change of state it makes, if any. A fresh server's first pass makes it healthy at
    /// once (it was taking traffic already, or is let in under `mandatory`).
    pub fn record(
        &mut self,
        passed: bool,
        status: u16,
        fails: u16,
        passes: u16,
    ) -> Option<Transition> {
        self.last_status = status;
        if passed {
            self.fails = 0;
            self.passes = self.passes.saturating_add(1);
            let to_healthy = match self.state {
                HealthState::Healthy => false,
                HealthState::Unchecked => true,
                HealthState::Unhealthy => self.passes >= passes.max(1),
            };
            if to_healthy {
                self.state = HealthState::Healthy;
                return Some(Transition::Healthy);
            }
        } else {
            self.passes = 0;
            self.fails = self.fails.saturating_add(1);
            if self.state != HealthState::Unhealthy && self.fails >= fails.max(1) {
                self.state = HealthState::Unhealthy;
                return Some(Transition::Unhealthy);
            }
        }
        None
    }
}

/// A `status` test: the codes listed (single codes or `LOW-HIGH` ranges), or with `!` the
/// codes not listed.
#[derive(Clone, Debug)]
pub struct StatusTest {
    negated: bool,
    ranges: Vec<(u16, u16)>,
}

/// A `header` test.
#[derive(Clone, Debug)]
pub enum HeaderTest {
    /// `header Name` / `header ! Name`: the field is present / absent.
    Present(String, bool),
    /// `header Name = v` / `header Name != v`.
    Equals(String, String, bool),
    /// `header Name ~ re` / `header Name !~ re`.
    Matches(String, Regex, bool),
}

/// A `match NAME { ... }` block: every test must hold for a probe to pass. An empty block
/// passes any response that arrived (nginx Plus: status 2xx/3xx only without `match=`).
#[derive(Clone, Debug, Default)]
pub struct Match {
    /// `status` tests.
    pub status: Vec<StatusTest>,
    /// `header` tests.
    pub headers: Vec<HeaderTest>,
    /// `body ~ re` / `body !~ re` tests.
    pub body: Vec<(Regex, bool)>,
}

/// A probe's response, as the tests see it.
pub struct ProbeResponse<'a> {
    /// The status code.
    pub status: u16,
    /// The header fields, in order.
    pub headers: &'a [(&'a [u8], &'a [u8])],
    /// The body read (nginx Plus tests only the first buffer of it).
    pub body: &'a [u8],
}

fn bad(words: &[&str]) -> String {
    format!("invalid parameter \"{}\"", words.join(" "))
}

fn parse_status(words: &[&str]) -> Result<StatusTest, String> {
    let (negated, list) = match words.first() {
        Some(&"!") => (true, &words[1..]),
        _ => (false, words),
    };
    if list.is_empty() {
        return Err(bad(words));
    }
    let code = |s: &str| {
        s.parse::<u16>()
            .ok()
            .filter(|c| (100..=599).contains(c))
            .ok_or_else(|| format!("invalid status \"{s}\""))
    };
    let mut ranges = Vec::with_capacity(list.len());
    for w in list {
        let r = match w.split_once('-') {
            Some((lo, hi)) => (code(lo)?, code(hi)?),
            None => (code(w)?, code(w)?),
        };
        if r.0 > r.1 {
            return Err(format!("invalid status \"{w}\""));
        }
        ranges.push(r);
    }
    Ok(StatusTest { negated, ranges })
}

fn compile_regex(s: &str) -> Result<Regex, String> {
    Regex::new(s, false).map_err(|_| format!("invalid regex \"{s}\""))
}

fn parse_header(words: &[&str]) -> Result<HeaderTest, String> {
    match *words {
        [name] => Ok(HeaderTest::Present(name.into(), true)),
        ["!", name] => Ok(HeaderTest::Present(name.into(), false)),
        [name, "=", v] => Ok(HeaderTest::Equals(name.into(), v.into(), true)),
        [name, "!=", v] => Ok(HeaderTest::Equals(name.into(), v.into(), false)),
        [name, "~", re] => Ok(HeaderTest::Matches(name.into(), compile_regex(re)?, true)),
        [name, "!~", re] => Ok(HeaderTest::Matches(name.into(), compile_regex(re)?, false)),
        _ => Err(bad(words)),
    }
}

impl Match {
    /// Adds one line of a `match` block (`status ...`, `header ...`, `body ...`), its
    /// words as the parser split them; the error is the message for `-t`.
    pub fn add(&mut self, directive: &str, words: &[&str]) -> Result<(), String> {
        match directive {
            "status" => self.status.push(parse_status(words)?),
            "header" => self.headers.push(parse_header(words)?),
            "body" => match *words {
                ["~", re] => self.body.push((compile_regex(re)?, true)),
                ["!~", re] => self.body.push((compile_regex(re)?, false)),
                _ => return Err(bad(words)),
            },
            other => return Err(format!("unknown directive \"{other}\"")),
        }
        Ok(())
    }

    /// Whether a probe's response passes every test.
    pub fn passes(&self, r: &ProbeResponse<'_>) -> bool {
        self.check(r).is_ok()
    }

    /// Runs the tests in nginx Plus's order (status, headers, body); the kind of the first
    /// that fails names what the log line says was being checked.
    pub fn check(&self, r: &ProbeResponse<'_>) -> Result<(), Failed> {
        let field = |name: &str| {
            r.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
                .map(|(_, v)| *v)
        };
        let status_ok = self.status.iter().all(|t| {
            t.ranges
                .iter()
                .any(|&(lo, hi)| (lo..=hi).contains(&r.status))
                != t.negated
        });
        if !status_ok {
            return Err(Failed::Status);
        }
        let headers_ok = self.headers.iter().all(|t| match t {
            HeaderTest::Present(n, want) => field(n).is_some() == *want,
            HeaderTest::Equals(n, v, want) => field(n).is_some_and(|f| f == v.as_bytes()) == *want,
            HeaderTest::Matches(n, re, want) => {
                field(n).is_some_and(|f| re.is_match(f).unwrap_or(false)) == *want
            }
        });
        if !headers_ok {
            return Err(Failed::Header);
        }
        let body_ok = self
            .body
            .iter()
            .all(|(re, want)| re.is_match(r.body).unwrap_or(false) == *want);
        if body_ok { Ok(()) } else { Err(Failed::Body) }
    }
}

/// Which test of a probe's response failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failed {
    /// A `status` test (or, without `match=`, a status other than 2xx/3xx).
    Status,
    /// A `header` test.
    Header,
    /// A `body` test.
    Body,
}

impl Failed {
    /// What the log line says was being checked.
    pub fn action(self) -> &'static str {
        match self {
            Failed::Status => "checking status code",
            Failed::Header => "checking header",
            Failed::Body => "checking body",
        }
    }
}

/// Whether a probe's response passes without `match=`: a 2xx or 3xx status.
pub fn default_passes(status: u16) -> bool {
    (200..400).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_round_trips_and_zero_is_unchecked() {
        assert_eq!(Health::from_word(0).state, HealthState::Unchecked);
        let h = Health {
            state: HealthState::Unhealthy,
            fails: 3,
            passes: 1,
            last_status: 503,
        };
        assert_eq!(Health::from_word(h.to_word()), h);
    }

    #[test]
    fn fails_then_passes_in_a_row_move_the_state() {
        let mut h = Health::from_word(0);
        assert!(h.takes_traffic(false) && !h.takes_traffic(true));
        assert_eq!(h.record(false, 500, 2, 2), None);
        assert_eq!(h.record(false, 0, 2, 2), Some(Transition::Unhealthy));
        assert!(!h.takes_traffic(false));
        assert_eq!(h.record(true, 200, 2, 2), None);
        assert_eq!(h.record(false, 500, 2, 2), None, "already unhealthy");
        assert_eq!(h.record(true, 200, 2, 2), None, "passes start again");
        assert_eq!(h.record(true, 200, 2, 2), Some(Transition::Healthy));
        assert!(h.takes_traffic(true));
        assert_eq!(h.last_status, 200);
    }

    #[test]
    fn a_mandatory_check_lets_a_server_in_on_its_first_pass() {
        let mut h = Health::from_word(0);
        assert_eq!(h.record(true, 204, 1, 3), Some(Transition::Healthy));
        assert!(h.takes_traffic(true));
    }

    #[test]
    fn match_blocks_test_status_headers_and_body() {
        let mut m = Match::default();
        m.add("status", &["200-399"]).unwrap();
        m.add("status", &["!", "304"]).unwrap();
        m.add("header", &["Content-Type", "~", "^text/"]).unwrap();
        m.add("header", &["!", "X-Down"]).unwrap();
        m.add("body", &["~", "Welcome"]).unwrap();
        let headers: &[(&[u8], &[u8])] = &[(b"content-type", b"text/html")];
        let ok = ProbeResponse {
            status: 200,
            headers,
            body: b"<h1>Welcome</h1>",
        };
        assert!(m.passes(&ok));
        assert!(!m.passes(&ProbeResponse { status: 304, ..ok }));
        assert!(!m.passes(&ProbeResponse {
            body: b"maintenance",
            ..ok
        }));
        let down: &[(&[u8], &[u8])] = &[(b"Content-Type", b"text/html"), (b"X-Down", b"1")];
        assert!(!m.passes(&ProbeResponse {
            headers: down,
            ..ok
        }));
        assert!(default_passes(302) && !default_passes(404));
    }

    #[test]
    fn bad_match_lines_are_refused_with_a_message() {
        let mut m = Match::default();
        assert_eq!(
            m.add("status", &["99"]).unwrap_err(),
            "invalid status \"99\""
        );
        assert_eq!(
            m.add("status", &["400-200"]).unwrap_err(),
            "invalid status \"400-200\""
        );
        assert!(m.add("header", &["A", "<", "b"]).is_err());
        assert!(m.add("body", &["=", "x"]).is_err());
        assert!(m.add("body", &["~", "("]).is_err());
        assert!(m.add("send", &["x"]).is_err());
    }
}
