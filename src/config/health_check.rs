//! nginx Plus's active health checks as configured: `health_check [interval=T] [jitter=T]
//! [fails=N] [passes=N] [uri=URI] [port=N] [match=NAME] [mandatory]` in a location, and
//! `match NAME { status ...; header ...; body ...; }` at http level
//! (`ngx_http_upstream_hc_module`). At the end of loading each `health_check` is tied to the
//! group its location's `proxy_pass` names, which must have a `zone`, and takes the
//! location's proxy timeouts, as nginx Plus does. The tests themselves are
//! [`crate::upstream::health::Match`] (a pure parser with no worker state).

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::SourcePos;
use super::error::ConfError;
use super::parser::Directive;
use super::proxy_values::ProxyTarget;
use super::raw::{Level, Shared};
use super::settings::{HttpConf, LocationConf};
use super::values::parse_time;
use crate::upstream::health::Match;

/// `health_check`'s default `interval=5s`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// One `health_check` line as written.
#[derive(Clone, Debug)]
pub struct HealthCheckConf {
    /// `interval=T` between two checks of a server (5s).
    pub interval: Duration,
    /// `jitter=T`: each check is delayed by a random time up to it (0).
    pub jitter: Duration,
    /// `fails=N` failed checks in a row make a server unhealthy (1).
    pub fails: u16,
    /// `passes=N` passed checks in a row make it healthy again (1).
    pub passes: u16,
    /// `uri=URI` requested (`/`).
    pub uri: String,
    /// `port=N`: checked on this port instead of the server's.
    pub port: Option<u16>,
    /// `match=NAME`: the `match` block whose tests the response must pass.
    pub match_name: Option<String>,
    /// `mandatory`: a server takes no traffic before its first passed check.
    pub mandatory: bool,
    /// Where it is written.
    pub pos: SourcePos,
}

/// A `health_check` tied to its group at the end of loading: what the prober runs.
#[derive(Clone, Debug)]
pub struct HealthCheck {
    /// Index of the group in [`HttpConf::upstreams`].
    pub group: usize,
    /// The line's parameters.
    pub conf: Rc<HealthCheckConf>,
    /// The `match` block (`None`: a 2xx or 3xx status passes).
    pub test: Option<Rc<Match>>,
    /// The location's `proxy_connect_timeout`.
    pub connect_timeout: Duration,
    /// The location's `proxy_send_timeout`.
    pub send_timeout: Duration,
    /// The location's `proxy_read_timeout`.
    pub read_timeout: Duration,
    /// The location's `proxy_buffer_size`: the most of a response read (head and the
    /// start of the body, which is all a `body` test sees, as in nginx Plus).
    pub buffer_size: usize,
    /// The `Host` sent: the `proxy_pass` URL's host (`$proxy_host`).
    pub host: Arc<str>,
}

fn invalid(d: &Directive, word: &str) -> ConfError {
    ConfError::at(d, format!("invalid parameter \"{word}\""))
}

fn count(d: &Directive, word: &str, v: &str) -> Result<u16, ConfError> {
    v.parse::<u16>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| invalid(d, word))
}

/// `health_check ...` in a location.
pub(crate) fn health_check(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let mut c = HealthCheckConf {
        interval: DEFAULT_INTERVAL,
        jitter: Duration::ZERO,
        fails: 1,
        passes: 1,
        uri: "/".into(),
        port: None,
        match_name: None,
        mandatory: false,
        pos: d.position(),
    };
    let mut persistent = false;
    for w in &d.args {
        let word = w.text.as_str();
        let (key, value) = word.split_once('=').unwrap_or((word, ""));
        match key {
            "interval" => {
                c.interval = parse_time(value, false)
                    .filter(|t| !t.is_zero())
                    .ok_or_else(|| invalid(d, word))?
            }
            "jitter" => c.jitter = parse_time(value, false).ok_or_else(|| invalid(d, word))?,
            "fails" => c.fails = count(d, word, value)?,
            "passes" => c.passes = count(d, word, value)?,
            "uri" if value.starts_with('/') => c.uri = value.into(),
            "port" => {
                c.port = Some(
                    value
                        .parse::<u16>()
                        .ok()
                        .filter(|&p| p > 0)
                        .ok_or_else(|| invalid(d, word))?,
                )
            }
            "match" if !value.is_empty() => c.match_name = Some(value.into()),
            "mandatory" if value.is_empty() && !word.contains('=') => c.mandatory = true,
            "persistent" if value.is_empty() && !word.contains('=') => persistent = true,
            _ => return Err(invalid(d, word)),
        }
    }
    if persistent {
        // nginx Plus keeps a healthy server's state over a reload; Portico's upstream zone
        // starts afresh at every reload (nginx's `noreuse`), so there is nothing to keep.
        return Err(ConfError::at(
            d,
            "the \"persistent\" parameter of \"health_check\" is not supported: upstream zones start afresh at a reload in Portico",
        ));
    }
    let loc = l.loc(d)?;
    if loc.health_check.is_some() {
        return Err(ConfError::at(
            d,
            "a second \"health_check\" in one location is not supported",
        ));
    }
    loc.health_check = Some(Some(Rc::new(c)));
    Ok(())
}

/// `match NAME { ... }` at http level.
pub(crate) fn match_block(
    _: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let name = d.arg(0).to_string();
    if shared.health_matches.iter().any(|(n, _)| *n == name) {
        return Err(ConfError::at(d, format!("duplicate match \"{name}\"")));
    }
    let mut m = Match::default();
    for line in d.block.as_deref().unwrap_or(&[]) {
        if line.block.is_some() {
            return Err(ConfError::at(line, "unexpected \"{\""));
        }
        let words: Vec<&str> = line.args.iter().map(|w| w.text.as_str()).collect();
        m.add(&line.name, &words)
            .map_err(|e| ConfError::at(line, e))?;
    }
    shared.health_matches.push((name, Rc::new(m)));
    Ok(())
}

fn collect<'a>(locations: &'a [LocationConf], out: &mut Vec<&'a LocationConf>) {
    for l in locations {
        if l.loc.health_check.is_some() {
            out.push(l);
        }
        collect(&l.nested, out);
    }
}

/// Ties every `health_check` to its group (end of loading): the location must
/// `proxy_pass` to a group with a `zone`; one check per group.
pub(crate) fn resolve(
    conf: &HttpConf,
    matches: &[(String, Rc<Match>)],
) -> Result<Vec<HealthCheck>, ConfError> {
    let mut found = Vec::new();
    for s in &conf.servers {
        collect(&s.locations, &mut found);
    }
    let mut checks: Vec<HealthCheck> = Vec::new();
    for l in found {
        let Some(c) = l.loc.health_check.clone() else {
            continue;
        };
        let at = |m: String| ConfError::new(m, &c.pos.file, c.pos.line);
        let Some(ProxyTarget::Fixed { group, host, .. }) =
            l.loc.proxy_pass.as_ref().map(|p| &p.target)
        else {
            return Err(at(
                "\"health_check\" requires \"proxy_pass\" to an upstream group in the location"
                    .into(),
            ));
        };
        let Some(u) = conf.upstreams.get(*group) else {
            continue;
        };
        if u.zone.is_none() {
            return Err(at(format!(
                "health check requires upstream \"{}\" to be in shared memory",
                u.name
            )));
        }
        if checks.iter().any(|h| h.group == *group) {
            return Err(at(format!(
                "a second \"health_check\" for upstream \"{}\" is not supported",
                u.name
            )));
        }
        let test = match &c.match_name {
            None => None,
            Some(name) => match matches.iter().find(|(n, _)| n == name) {
                Some((_, m)) => Some(Rc::clone(m)),
                None => return Err(at(format!("match \"{name}\" not found"))),
            },
        };
        checks.push(HealthCheck {
            group: *group,
            test,
            connect_timeout: l.loc.proxy_connect_timeout,
            send_timeout: l.loc.proxy_send_timeout,
            read_timeout: l.loc.proxy_read_timeout,
            buffer_size: l.loc.proxy_buffer_size,
            host: Arc::clone(host),
            conf: c,
        });
    }
    Ok(checks)
}
