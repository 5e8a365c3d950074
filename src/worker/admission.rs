//! Who gets in and how fast: nginx's post-read, preaccess and access phases for the realip,
//! limit_req, limit_conn and auth_basic modules, and `satisfy`, which combines the access
//! modules' answers (`ngx_http_core_access_phase`, `ngx_http_core_post_access_phase`).
//!
//! The phases ([`super::phases`]) call [`post_read`] before the server's rewrites and
//! [`run`] once a location is chosen and its rewrites are done, before the content handler.
//! Handlers run in nginx's order: preaccess realip → limit_req → limit_conn; access: the
//! access module (`allow`/`deny`) → auth_basic.

use std::net::SocketAddr;
use std::time::Duration;

use super::phases::{self, Rq};
use crate::client_addr::ClientAddr;
use crate::config::{RealIpHeader, Satisfy};
use crate::elog;
use crate::limits::{conn, req};
use crate::log::LogLevel;
use crate::rewrite::WithScript;
use crate::status::zones::Outcome;
use crate::vars::Template;

/// The request's state in these phases (in [`super::conn::Req`], so it lives as long as
/// the request and its `limit_conn` counts go back when it is dropped).
#[derive(Default)]
pub struct State {
    /// The client address the realip module set (nginx's changed `c->sockaddr`).
    pub realip: Option<SocketAddr>,
    /// `$limit_req_status` (nginx's `r->main->limit_req_status`: checked once).
    pub limit_req: Option<req::Status>,
    /// `$limit_conn_status`.
    pub limit_conn: Option<conn::Status>,
    /// The `limit_conn` counts the request holds.
    pub held: conn::Held,
    /// `auth_delay`: the request waits, then is answered 401.
    pub unauthorized_after_delay: bool,
    // ---- subrequests: auth_request ----
    /// The access phase waits for a subrequest: the handler to run again when it is done,
    /// and the refusal `satisfy any` had recorded (nginx's `r->phase_handler`,
    /// `r->access_code`).
    pub access_resume: Option<(usize, u16)>,
}

/// What the request does after these phases.
pub(super) enum Verdict {
    /// On to the content handler.
    Continue,
    /// Finalize with this status.
    Finalize(u16),
    /// `limit_req` delays it: come back (with `after_delay`) once this has passed.
    Delay(Duration),
    /// An access handler waits for its subrequest (`auth_request`): come back with
    /// [`resume_access`] once it is done.
    AwaitAuth,
}

/// The post-read phase: realip with the virtual server's settings (main requests only).
pub(super) fn post_read(rq: &mut Rq<'_, '_>) {
    if rq.route.subrequest {
        return;
    }
    realip(rq);
}

/// The preaccess and access phases for the location chosen; `after_delay` resumes a
/// request `limit_req` delayed, after limit_req (as nginx's delayed request goes on with
/// the next handler).
pub(super) fn run(rq: &mut Rq<'_, '_>, after_delay: bool) -> Verdict {
    if after_delay && std::mem::take(&mut rq.req.admission.unauthorized_after_delay) {
        return Verdict::Finalize(401);
    }
    if !after_delay {
        realip(rq);
        if let Some(v) = limit_req(rq) {
            return v;
        }
    }
    if let Some(status) = limit_conn(rq) {
        return Verdict::Finalize(status);
    }
    // nginx's access phase is for main requests only (ngx_http_core_access_phase).
    if rq.route.subrequest {
        return Verdict::Continue;
    }
    access(rq, 0, 0)
}

/// The access phase goes on from the handler that waited for its subrequest.
pub(super) fn resume_access(rq: &mut Rq<'_, '_>) -> Verdict {
    let (next, access_code) = rq.req.admission.access_resume.take().unwrap_or((0, 0));
    access(rq, next, access_code)
}

/// Evaluates `t` with the request's variables into `out`.
fn eval_into(rq: &Rq<'_, '_>, t: &Template, out: &mut Vec<u8>) {
    let src = rq.vars();
    t.eval(
        &WithScript {
            ctx: &rq.route.script,
            inner: &src,
        },
        out,
    );
}

/// The values of the request header `name` (lowercase), in request order.
fn header_values<'b>(rq: &'b Rq<'_, '_>, name: &str) -> impl Iterator<Item = &'b [u8]> {
    let buf = &rq.a.buf[rq.a.start..rq.a.filled];
    rq.a.head
        .headers
        .iter()
        .filter(move |h| h.name.get(buf).eq_ignore_ascii_case(name.as_bytes()))
        .map(move |h| h.value.get(buf))
}

/// The limit modules' view of the request: keys and log lines.
struct LimitRequest<'r, 'a, 'c> {
    rq: &'r Rq<'a, 'c>,
}

impl req::Request for LimitRequest<'_, '_, '_> {
    fn key(&mut self, key: &Template, out: &mut Vec<u8>) {
        // The usual key, read without building the variables' view (as its variable does).
        if key.single_var() == Some(&crate::vars::Var::BinaryRemoteAddr) {
            let mut addr = [0u8; 16];
            let n = self.binary_remote_addr(&mut addr);
            out.extend_from_slice(&addr[..n]);
            return;
        }
        eval_into(self.rq, key, out);
    }
    fn binary_remote_addr(&mut self, out: &mut [u8; 16]) -> usize {
        match self.rq.conn.peer {
            ClientAddr::Inet(SocketAddr::V4(a)) => {
                out[..4].copy_from_slice(&a.ip().octets());
                4
            }
            ClientAddr::Inet(SocketAddr::V6(a)) => {
                *out = a.ip().octets();
                16
            }
            ClientAddr::Unix => {
                out[..5].copy_from_slice(b"unix:");
                5
            }
        }
    }
    fn log(&mut self, level: LogLevel, line: &str) {
        phases::log_error(self.rq, level, line);
    }
    fn log_plain(&mut self, level: LogLevel, line: &str) {
        elog!(level, "{line}");
    }
}

/// `ngx_http_realip_handler`: once per request, at post-read with the server's settings
/// and again at preaccess with the location's until one of them applies.
fn realip(rq: &mut Rq<'_, '_>) {
    let loc = rq.req.loc;
    if rq.req.admission.realip.is_some() || loc.set_real_ip_from.is_empty() {
        return;
    }
    let peer = rq.conn.socket_peer;
    let proxies = &loc.set_real_ip_from;
    let recursive = loc.real_ip_recursive;
    let found = match &loc.real_ip_header {
        RealIpHeader::ProxyProtocol => {
            let Some(pp) = rq.conn.proxy_protocol.as_deref() else {
                return;
            };
            crate::realip::forwarded_addr(peer, &[pp.src_addr.as_bytes()], proxies, recursive)
                .map(|a| SocketAddr::new(a.ip(), pp.src_port))
        }
        RealIpHeader::XForwardedFor => {
            let values: Vec<&[u8]> = header_values(rq, "x-forwarded-for").collect();
            if values.is_empty() {
                return;
            }
            crate::realip::forwarded_addr(peer, &values, proxies, recursive)
        }
        RealIpHeader::XRealIp => header_values(rq, "x-real-ip")
            .next()
            .and_then(|v| crate::realip::forwarded_addr(peer, &[v], proxies, recursive)),
        RealIpHeader::Other(name) => header_values(rq, name)
            .next()
            .and_then(|v| crate::realip::forwarded_addr(peer, &[v], proxies, recursive)),
    };
    if let Some(addr) = found {
        rq.conn.peer = ClientAddr::Inet(addr);
        rq.req.admission.realip = Some(addr);
    }
}

/// `ngx_http_limit_req_handler`, once per request.
fn limit_req(rq: &mut Rq<'_, '_>) -> Option<Verdict> {
    let loc = rq.req.loc;
    if loc.limit_req.is_empty() || rq.req.admission.limit_req.is_some() {
        return None;
    }
    let settings = req::Settings {
        limits: &loc.limit_req,
        zones: &rq.shared.http.zones,
        status: loc.limit_req_status,
        log_level: loc.limit_req_log_level,
        dry_run: loc.limit_req_dry_run,
    };
    let mut scratch = std::mem::take(&mut rq.shared.scratch);
    let (status, action) = req::check(&settings, &mut LimitRequest { rq }, &mut scratch);
    rq.shared.scratch = scratch;
    rq.req.admission.limit_req = status;
    if let Some(st) = status {
        let outcome = match st {
            req::Status::Passed => Outcome::Passed,
            req::Status::Delayed => Outcome::Delayed,
            req::Status::Rejected => Outcome::Rejected,
            req::Status::DelayedDryRun => Outcome::DelayedDryRun,
            req::Status::RejectedDryRun => Outcome::RejectedDryRun,
        };
        count_limits(rq, loc.limit_req.iter().map(|l| l.zone), outcome);
    }
    match action {
        req::Action::Continue => None,
        req::Action::Reject(code) => Some(Verdict::Finalize(code)),
        req::Action::Delay(ms) => Some(Verdict::Delay(Duration::from_millis(ms))),
    }
}

/// `ngx_http_limit_conn_handler`, once per request: `Some(status)` rejects.
fn limit_conn(rq: &mut Rq<'_, '_>) -> Option<u16> {
    let loc = rq.req.loc;
    if loc.limit_conn.is_empty() || rq.req.admission.limit_conn.is_some() {
        return None;
    }
    let settings = conn::Settings {
        limits: &loc.limit_conn,
        zones: &rq.shared.http.zones,
        status: loc.limit_conn_status,
        log_level: loc.limit_conn_log_level,
        dry_run: loc.limit_conn_dry_run,
    };
    let mut scratch = std::mem::take(&mut rq.shared.scratch);
    let mut held = std::mem::take(&mut rq.req.admission.held);
    let (status, reject) =
        conn::check(&settings, &mut LimitRequest { rq }, &mut held, &mut scratch);
    rq.shared.scratch = scratch;
    rq.req.admission.held = held;
    rq.req.admission.limit_conn = status;
    if let Some(st) = status {
        let outcome = match st {
            conn::Status::Passed => Outcome::Passed,
            conn::Status::Rejected => Outcome::Rejected,
            conn::Status::RejectedDryRun => Outcome::RejectedDryRun,
        };
        count_limits(rq, loc.limit_conn.iter().map(|l| l.zone), outcome);
    }
    reject
}

/// Counts a request's limit outcome in the status report's block of each zone of the
/// location's limits (the request's one outcome: with several limits in a location, each
/// of their zones counts how the request as a whole fared).
fn count_limits(rq: &Rq<'_, '_>, zones: impl Iterator<Item = usize>, outcome: Outcome) {
    let blocks = &rq.shared.http.limit_zone_blocks;
    for z in zones {
        if let Some(base) = blocks.get(z).copied().flatten() {
            crate::status::zones::count_limit(base, outcome);
        }
    }
}

/// What one access handler answered (nginx's `NGX_DECLINED`, `NGX_OK`, a status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::worker) enum Access {
    /// Not configured here: no say.
    Declined,
    /// Allowed.
    Allowed,
    /// Refused with this status (403, 401, or 500 on an error).
    Status(u16),
    /// No answer yet: a subrequest runs (`NGX_AGAIN`).
    Pending,
}

/// The access phase: each access module in nginx's order, combined by `satisfy`
/// (`ngx_http_core_access_phase`); a refusal under `satisfy any` is answered only when no
/// module allowed, 401 before 403 (`ngx_http_core_post_access_phase`).
fn access(rq: &mut Rq<'_, '_>, first: usize, mut access_code: u16) -> Verdict {
    let satisfy = rq.req.loc.satisfy;
    let handlers: [fn(&mut Rq<'_, '_>) -> Access; 3] = [
        super::access::check,
        auth_basic,
        super::subrequest::auth::check,
    ];
    for (i, handler) in handlers.iter().enumerate().skip(first) {
        match (satisfy, handler(rq)) {
            (_, Access::Pending) => {
                rq.req.admission.access_resume = Some((i, access_code));
                return Verdict::AwaitAuth;
            }
            (_, Access::Declined) | (Satisfy::All, Access::Allowed) => {}
            (Satisfy::Any, Access::Allowed) => {
                // The 401 another module asked for is not sent.
                rq.route.www_authenticate = None;
                return Verdict::Continue;
            }
            (Satisfy::Any, Access::Status(code @ (401 | 403))) => {
                if access_code != 401 {
                    access_code = code;
                }
            }
            (_, Access::Status(code)) => return finalize_access(rq, code),
        }
    }
    if access_code == 403 {
        phases::log_error(rq, LogLevel::Error, "access forbidden by rule");
    }
    if access_code != 0 {
        return finalize_access(rq, access_code);
    }
    Verdict::Continue
}

/// Ends the access phase with `status`; a 401 waits `auth_delay` first
/// (`ngx_http_core_auth_delay`).
fn finalize_access(rq: &mut Rq<'_, '_>, status: u16) -> Verdict {
    let delay = rq.req.loc.auth_delay;
    if status != 401 || delay.is_zero() {
        return Verdict::Finalize(status);
    }
    phases::log_error(rq, LogLevel::Info, "delaying unauthorized request");
    rq.req.admission.unauthorized_after_delay = true;
    Verdict::Delay(delay)
}

/// `ngx_http_auth_basic_handler`.
fn auth_basic(rq: &mut Rq<'_, '_>) -> Access {
    let loc = rq.req.loc;
    let (Some(realm), Some(file)) = (&loc.auth_basic, &loc.auth_basic_user_file) else {
        return Access::Declined;
    };
    let mut realm_value = Vec::new();
    eval_into(rq, realm, &mut realm_value);
    if realm_value == b"off" {
        return Access::Declined;
    }
    let mut name = Vec::new();
    eval_into(rq, &file.path, &mut name);
    let name = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&name);
    let path = file.prefix.join(name);
    let authorization = header_values(rq, "authorization").next();
    let outcome = crate::auth_basic::check(&path, authorization, &mut |level, line| {
        phases::log_error(rq, level, &line)
    });
    match outcome {
        crate::auth_basic::Outcome::Allowed => Access::Allowed,
        crate::auth_basic::Outcome::Status(code) => Access::Status(code),
        crate::auth_basic::Outcome::Unauthorized => {
            let mut value = b"Basic realm=\"".to_vec();
            value.extend_from_slice(&realm_value);
            value.push(b'"');
            rq.route.www_authenticate = Some(value);
            Access::Status(401)
        }
    }
}

/// Reads the PROXY protocol header from the first bytes of a `listen ... proxy_protocol`
/// connection (what its first read brought, as nginx 1.22 does) and moves the request's
/// start past it; `Err` closes the connection after nginx's log line.
pub(super) fn read_proxy_protocol(
    id: u64,
    peer: ClientAddr,
    servers: &crate::router::AddrServers,
    a: &mut super::conn::Active<'_>,
) -> Result<Option<std::rc::Rc<crate::proxy_protocol::Header>>, ()> {
    match crate::proxy_protocol::read(&a.buf[a.start..a.filled]) {
        crate::proxy_protocol::Read::Done(n, header) => {
            a.start += n;
            a.scanned = a.start;
            Ok(header.map(std::rc::Rc::new))
        }
        crate::proxy_protocol::Read::Broken(line) => {
            if !line.is_empty() {
                elog!(
                    LogLevel::Error,
                    "*{id} {line} while reading PROXY protocol, client: {}, server: {}",
                    peer.ip(),
                    servers.addr
                );
            }
            Err(())
        }
    }
}
