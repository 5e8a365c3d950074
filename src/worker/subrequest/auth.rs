//! `auth_request` (`ngx_http_auth_request_module.c`): an access-phase handler that makes a
//! subrequest and decides on its status — 2xx allows, 401 and 403 refuse with that status
//! (a 401 with the upstream's `WWW-Authenticate`), anything else is a 500 — after setting
//! the `auth_request_set` variables from the subrequest's. It runs after `allow`/`deny`
//! and `auth_basic`, combined with them by `satisfy` (`worker/admission.rs`).

use super::{Kind, Subrequest};
use crate::config::subrequest::SetTarget;
use crate::log::LogLevel;
use crate::worker::admission::Access;
use crate::worker::phases::{self, Rq};

/// `ngx_http_auth_request_handler`: `Pending` while the subrequest runs (the access phase
/// resumes here when it is done).
pub(in crate::worker) fn check(rq: &mut Rq<'_, '_>) -> Access {
    let loc = rq.req.loc;
    if loc.auth_request.is_empty() {
        return Access::Declined;
    }
    let sub = match rq.a.subrequests.iter().position(|s| s.kind == Kind::Auth) {
        Some(i) if !rq.a.subrequests[i].done() => return Access::Pending,
        Some(i) => rq.a.subrequests.remove(i),
        None => {
            let uri = loc.auth_request.clone();
            let sub = Subrequest::start(rq, &uri, None, Kind::Auth, None);
            if !sub.done() {
                rq.a.subrequests.push(sub);
                return Access::Pending;
            }
            sub
        }
    };
    // As soon as it is done, so the values outlive internal redirects.
    set_variables(rq, &sub);
    let status = sub.status;
    let www_authenticate = sub.www_authenticate();
    sub.end(rq.conn, rq.shared);
    match status {
        403 => Access::Status(403),
        401 => {
            if let Some(value) = www_authenticate {
                rq.route.www_authenticate = Some(value);
            }
            Access::Status(401)
        }
        200..=299 => Access::Allowed,
        _ => {
            let line = format!("auth request unexpected status: {status}");
            phases::log_error(rq, LogLevel::Error, &line);
            Access::Status(500)
        }
    }
}

/// Takes the pending auth subrequest as answered with `status` (`--explain`, which asks
/// no service).
pub(in crate::worker) fn assume_answered(a: &mut crate::worker::conn::Active<'_>, status: u16) {
    if let Some(sub) = a.subrequests.iter_mut().find(|s| s.kind == Kind::Auth) {
        sub.finish(status);
    }
}

/// `auth_request_set`: each value evaluated with the subrequest's variables, set in the
/// request's (through the variable's set handler for `$args` and `$limit_rate`).
fn set_variables<'c>(rq: &mut Rq<'_, 'c>, sub: &Subrequest<'c>) {
    let sets = &rq.req.loc.auth_request_set;
    for set in sets {
        let mut value = Vec::new();
        sub.eval(rq.conn, rq.shared, &set.value, &mut value);
        let script = &mut rq.route.script;
        match set.target {
            SetTarget::User(i) => {
                if let Some(slot) = script.user.get_mut(i) {
                    *slot = Some(value);
                }
            }
            SetTarget::Args => script.args = Some(value).filter(|a| !a.is_empty()),
            SetTarget::LimitRate => {
                match std::str::from_utf8(&value)
                    .ok()
                    .and_then(crate::config::values::parse_size)
                {
                    Some(rate) => script.limit_rate = Some(rate),
                    None => {
                        let line = format!(
                            "invalid $limit_rate \"{}\"",
                            String::from_utf8_lossy(&value)
                        );
                        phases::log_error(rq, LogLevel::Error, &line);
                    }
                }
            }
        }
    }
}
