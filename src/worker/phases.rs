//! nginx's request phases, from a parsed head to the content handler: server rewrite → find
//! location → location rewrite (→ find again, at most [`MAX_URI_CHANGES`] times) → content.
//! Internal redirects (`index`, `try_files`, `error_page`) and named locations re-enter the
//! same loop, so location matching runs again exactly where nginx runs it.
//!
//! Everything here is synchronous: by the time [`run`] returns the response head (and a
//! small body, or a file to send) is queued, or the request is marked to close (444).

use super::Shared;
use super::admission;
use super::answer;
use super::conn::{Active, Req};
use super::content;
use super::handler;
use super::request_vars::{ConnInfo, RequestVars};
pub use super::route::Route;
use crate::config::{ErrorPageStatus, LocSettings, LocationConf, LocationMatch};
use crate::elog;
use crate::http::request::Method;
use crate::log::LogLevel;
use crate::rewrite::{self, MAX_URI_CHANGES, Outcome, WithScript};
use crate::router;
use crate::trace::Step;
use crate::trace_step;
use crate::vars::Template;

/// Everything a phase works on. `route` is taken out of [`Active`] while the phases run, so
/// the request's variables can read `a` while the script state changes.
pub(super) struct Rq<'a, 'c> {
    pub a: &'a mut Active<'c>,
    pub shared: &'a mut Shared<'c>,
    pub req: &'a mut Req<'c>,
    pub route: &'a mut Route<'c>,
    pub conn: &'a mut ConnInfo,
}

impl<'c> Rq<'_, 'c> {
    /// The request's variables (without the script state; see [`WithScript`]).
    pub fn vars(&self) -> RequestVars<'_, 'c> {
        RequestVars::new(
            self.conn,
            self.a,
            self.req,
            self.shared,
            self.route.as_get,
            self.route.request_body.as_deref(),
        )
    }
}

/// Where the phase loop goes next.
pub(super) enum Next<'c> {
    /// Search the locations for the current URI.
    Find,
    /// Run this location's rewrite directives, then its content handler.
    Enter(&'c LocationConf),
    /// nginx's preaccess and access phases for the current location (`admission`).
    Access,
    /// Run the content handler of the current location.
    Content,
    /// The response is queued.
    Done,
    /// The content handler is the proxy: the connection hands the request over.
    Proxy,
}

/// How [`run`] leaves the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Handled {
    /// The response (or the decision to close, for 444) is queued.
    Answered,
    /// The proxy answers: [`super::handler::start_request`] hands the request over.
    Proxy,
    /// `limit_req` delays the request by this long; [`resume_delayed`] goes on after it.
    Delayed(std::time::Duration),
    /// `auth_request` waits for its subrequest; [`resume_access`] goes on after it.
    AwaitAuth,
    /// `mirror` with `mirror_request_body`: the body is to be read whole first;
    /// [`resume_content`] goes on after it.
    ReadBody,
}

/// Evaluates a template with the request's variables (captures, `set` values included).
pub(super) fn eval(rq: &Rq<'_, '_>, t: &Template) -> Vec<u8> {
    let src = rq.vars();
    let mut out = Vec::new();
    t.eval(
        &WithScript {
            ctx: &rq.route.script,
            inner: &src,
        },
        &mut out,
    );
    out
}

/// Runs the phases for a request whose URI is in `rq.route`.
pub(super) fn run(rq: &mut Rq<'_, '_>) -> Handled {
    admission::post_read(rq);
    let server = rq.req.server;
    let next = if server.rewrite.is_empty() {
        Next::Find
    } else {
        trace_step!(rq.route.trace, Step::RewritePhase { server: true });
        run_rewrite(rq, &server.rewrite, false)
    };
    run_from(rq, next)
}

/// `proxy_intercept_errors`: the upstream answered `status`, for which the location has an
/// `error_page`. As nginx's `ngx_http_upstream_finalize_request(r, u, status)`, the request
/// is finalized with that status: the error page's redirect runs from here (or the
/// standard page, when error pages cannot recurse).
pub(super) fn run_error_page(rq: &mut Rq<'_, '_>, status: u16) -> Handled {
    let next = finalize(rq, status);
    run_from(rq, next)
}

/// Goes on with a request `limit_req` delayed: the rest of its preaccess and access phases,
/// then its content.
pub(super) fn resume_delayed(rq: &mut Rq<'_, '_>) -> Handled {
    match admission::run(rq, true) {
        admission::Verdict::Continue => run_from(rq, Next::Content),
        admission::Verdict::Finalize(status) => {
            let next = finalize(rq, status);
            run_from(rq, next)
        }
        admission::Verdict::Delay(d) => Handled::Delayed(d),
        admission::Verdict::AwaitAuth => Handled::AwaitAuth,
    }
}

/// Goes on with a request whose access phase waited for a subrequest (`auth_request`).
pub(super) fn resume_access(rq: &mut Rq<'_, '_>) -> Handled {
    let next = match admission::resume_access(rq) {
        admission::Verdict::Continue => Next::Content,
        admission::Verdict::Finalize(status) => finalize(rq, status),
        admission::Verdict::Delay(d) => return Handled::Delayed(d),
        admission::Verdict::AwaitAuth => return Handled::AwaitAuth,
    };
    run_from(rq, next)
}

/// Runs the phases of a request sent to the named location `name` (a `post_action`).
pub(super) fn run_named(rq: &mut Rq<'_, '_>, name: &str) -> Handled {
    let next = named_location(rq, name);
    run_from(rq, next)
}

/// Goes on with a request whose body was read for its mirrors: the content phase.
pub(super) fn resume_content(rq: &mut Rq<'_, '_>) -> Handled {
    run_from(rq, Next::Content)
}

/// `X-Accel-Redirect` (`ngx_http_upstream_process_headers`): the request goes to a named
/// location, or to the target URI (as GET, unless it is a HEAD) through an internal
/// redirect; an unsafe URI is a 404.
pub(super) fn run_accel_redirect(rq: &mut Rq<'_, '_>, target: &[u8]) -> Handled {
    let next = if target.starts_with(b"@") {
        let name = String::from_utf8_lossy(target).into_owned();
        named_location(rq, &name)
    } else {
        match crate::proxy::accel::parse_unsafe_uri(target) {
            Some((uri, args)) => {
                if rq.a.head.method != Method::Head {
                    rq.route.as_get = true;
                }
                internal_redirect(rq, uri, args)
            }
            None => {
                let shown = String::from_utf8_lossy(target).into_owned();
                log_error(
                    rq,
                    LogLevel::Error,
                    &format!("unsafe URI \"{shown}\" was detected"),
                );
                finalize(rq, 404)
            }
        }
    };
    run_from(rq, next)
}

fn run_from<'c>(rq: &mut Rq<'_, 'c>, mut next: Next<'c>) -> Handled {
    // A way back to `Find` or `Enter` spends one of the `uri_changes`, so this ends within
    // about three turns per change; the bound only guards against a bug.
    for _ in 0..4 * (MAX_URI_CHANGES + 2) {
        next = match next {
            Next::Find => find(rq),
            Next::Enter(l) => {
                enter(rq, l);
                if l.rewrite.is_empty() {
                    Next::Access
                } else {
                    trace_step!(rq.route.trace, Step::RewritePhase { server: false });
                    run_rewrite(rq, &l.rewrite, true)
                }
            }
            Next::Access => match admission::run(rq, false) {
                admission::Verdict::Continue => Next::Content,
                admission::Verdict::Finalize(status) => finalize(rq, status),
                admission::Verdict::Delay(d) => return Handled::Delayed(d),
                admission::Verdict::AwaitAuth => return Handled::AwaitAuth,
            },
            Next::Content => {
                // nginx's precontent phase: the mirror module.
                if super::subrequest::mirror::start(rq) {
                    return Handled::ReadBody;
                }
                content::run(rq)
            }
            Next::Done => {
                write_script_logs(rq);
                return Handled::Answered;
            }
            Next::Proxy => {
                write_script_logs(rq);
                return Handled::Proxy;
            }
        };
    }
    elog!(
        LogLevel::Alert,
        "*{} request phases did not finish",
        rq.conn.id
    );
    crate::log::debug_point();
    handler::queue_error(rq, 500);
    Handled::Answered
}

/// nginx's find-config phase.
fn find<'c>(rq: &mut Rq<'_, 'c>) -> Next<'c> {
    let server = rq.req.server;
    let route = &mut *rq.route;
    let script = &mut route.script;
    trace_step!(route.trace, Step::Search { uri: &script.uri });
    let state = router::MatchState {
        captures: &mut script.captures,
        values: &mut script.user,
    };
    let found = router::find_location_traced(server, &script.uri, state, &mut route.trace);
    script.valid_location = true;
    let found = match found {
        Ok(found) => found,
        Err(line) => {
            log_error(rq, LogLevel::Alert, &line);
            return finalize(rq, 500);
        }
    };
    trace_step!(
        rq.route.trace,
        Step::Chosen(found.as_ref().map(|f| f.location))
    );
    match found {
        Some(router::Found {
            location,
            auto_redirect,
        }) => {
            enter(rq, location);
            if location.loc.internal && !rq.route.internal {
                trace_step!(
                    rq.route.trace,
                    Step::Note("the location is internal and the request is not")
                );
                return finalize(rq, 404);
            }
            if !handler::body_size_ok(rq) {
                return finalize(rq, 413);
            }
            if auto_redirect {
                return slash_redirect(rq, location);
            }
            Next::Enter(location)
        }
        None => {
            rq.route.location = None;
            set_settings(rq, &server.loc);
            if !handler::body_size_ok(rq) {
                return finalize(rq, 413);
            }
            Next::Access
        }
    }
}

/// nginx's auto redirect (`ngx_http_core_find_config_phase` with `NGX_DONE`): a URI one `/`
/// short of a proxied location's name gets a 301 to the name (escaped), arguments kept.
fn slash_redirect<'c>(rq: &mut Rq<'_, 'c>, location: &'c LocationConf) -> Next<'c> {
    let Some(name) = location_prefix(location) else {
        return Next::Enter(location);
    };
    let mut target = Vec::with_capacity(name.len() + 16);
    crate::http::uri::escape_uri(name.as_bytes(), &mut target);
    if let Some(args) = rq.route.script.args.as_deref() {
        target.push(b'?');
        target.extend_from_slice(args);
    }
    // nginx finalizes the request with the 301: an error_page for it answers instead.
    redirect(rq, 301, &target)
}

/// Makes `l` the request's location.
fn enter<'c>(rq: &mut Rq<'_, 'c>, l: &'c LocationConf) {
    rq.route.location = Some(l);
    // nginx's ngx_http_update_location_config: the methods `limit_except` does not name
    // get its block's settings.
    match &l.limit_except {
        Some(le) if le.applies_to(super::access::method_bit(rq)) => set_settings(rq, &le.loc),
        _ => set_settings(rq, &l.loc),
    }
}

/// The settings the rest of the request uses (a location's, or a matched `if`'s).
fn set_settings<'c>(rq: &mut Rq<'_, 'c>, loc: &'c LocSettings) {
    rq.req.loc = loc;
    crate::log::use_request_logs(&loc.error_log);
    // nginx's ngx_http_update_location_config: a connection older than keepalive_time
    // (counted from its accept), or a browser keepalive_disable names, gets no keep-alive,
    // and a refusal stays for the request (`conn::keepalive` reads it).
    if !rq.req.keepalive_refused
        && (rq
            .conn
            .accepted_at
            .checked_add(loc.keepalive_time)
            .is_some_and(|end| rq.shared.now > end)
            || (loc.keepalive_disable != 0 && keepalive_disabled(rq, loc)))
    {
        rq.req.keepalive_refused = true;
    }
}

/// `keepalive_disable`: MSIE 6 may wait after a POST answered on a kept-alive connection,
/// Safari may send a POST to one just closed (nginx's reasons). The `User-Agent` is looked
/// at only where it can matter.
fn keepalive_disabled(rq: &Rq<'_, '_>, loc: &LocSettings) -> bool {
    use crate::config::set_tail::{KEEPALIVE_DISABLE_MSIE6, KEEPALIVE_DISABLE_SAFARI};
    let post = rq.a.head.method == Method::Post && !rq.route.as_get;
    let msie6 = loc.keepalive_disable & KEEPALIVE_DISABLE_MSIE6 != 0 && post;
    let safari = loc.keepalive_disable & KEEPALIVE_DISABLE_SAFARI != 0;
    if !msie6 && !safari {
        return false;
    }
    let browser = browser(rq);
    (msie6 && browser.msie6) || (safari && browser.safari)
}

/// The client's browser as nginx tells it from the first `User-Agent`.
pub(super) fn browser(rq: &Rq<'_, '_>) -> crate::http::user_agent::Browser {
    let buf = &rq.a.buf[rq.a.start..rq.a.filled];
    rq.a.head
        .header(buf, b"user-agent")
        .map(crate::http::user_agent::Browser::of)
        .unwrap_or_default()
}

/// Runs a server's (`in_location` false) or a location's rewrite directives.
fn run_rewrite<'c>(rq: &mut Rq<'_, 'c>, ops: &'c [rewrite::Op], in_location: bool) -> Next<'c> {
    rq.route.script.rewrite_log = rq.req.loc.rewrite_log;
    rq.route.script.loc = None;
    let outcome = {
        // Built from the parts, as the script changes beside it.
        let src = RequestVars::new(
            rq.conn,
            rq.a,
            rq.req,
            rq.shared,
            rq.route.as_get,
            rq.route.request_body.as_deref(),
        );
        rewrite::run_traced(ops, &mut rq.route.script, &src, &mut rq.route.trace)
    };
    write_script_logs(rq);
    if let Some(loc) = rq.route.script.loc {
        set_settings(rq, loc);
    }
    match outcome {
        Outcome::Continue | Outcome::Break if in_location => Next::Access,
        Outcome::Continue | Outcome::Break | Outcome::Relocate if !in_location => Next::Find,
        Outcome::Relocate => {
            let uri = String::from_utf8_lossy(&rq.route.script.uri).into_owned();
            if spend_uri_change(rq, &format!("processing \"{uri}\"")) {
                Next::Find
            } else {
                finalize(rq, 500)
            }
        }
        Outcome::Redirect { code, location } => redirect(rq, code, &location),
        Outcome::Return { code, body } => match body {
            Some(body) => answer::answer_text(rq, code, &body),
            None => finalize(rq, code),
        },
        Outcome::Continue | Outcome::Break => Next::Access,
    }
}

/// Writes the rewrite module's log lines with the request's context, nginx's warning
/// for a `set` variable used before it was set, and its error for a computed variable
/// that needed itself.
pub(super) fn write_script_logs(rq: &mut Rq<'_, '_>) {
    if let Some(name) = rq.route.script.computed.take_cycle() {
        let message = format!("cycle while evaluating variable \"{name}\"");
        log_error(rq, LogLevel::Error, &message);
    }
    if let Some(i) = rq.route.script.uninitialized.take()
        && rq.req.loc.uninitialized_variable_warn
        // A named group's variable before its match is "not found" for nginx, no warning.
        && !rq.shared.http.user_vars.is_capture(i)
    {
        let name = rq.shared.http.user_vars.name(i).unwrap_or("");
        log_error(
            rq,
            LogLevel::Warn,
            &format!("using uninitialized \"{name}\" variable"),
        );
    }
    if rq.route.script.logs.is_empty() {
        return;
    }
    let logs = std::mem::take(&mut rq.route.script.logs);
    for (level, line) in &logs {
        log_error(rq, *level, line);
    }
}

/// nginx's error for a computed variable that needed itself while the access-log line was
/// written (`... while logging request`).
pub(super) fn log_cycle_while_logging(
    conn: &ConnInfo,
    a: &Active<'_>,
    server: &crate::config::ServerConf,
) {
    if let Some(name) = a.route.script.computed.take_cycle() {
        let buf = &a.buf[a.start..a.filled];
        elog!(
            LogLevel::Error,
            "*{} cycle while evaluating variable \"{name}\" while logging request, client: {}, \
             server: {}{}",
            conn.id,
            conn.peer.ip(),
            server.first_name(),
            crate::log::context::RequestContext::of(buf, &a.head)
        );
    }
}

/// An error-log line about this request, with nginx's trailer.
pub(super) fn log_error(rq: &Rq<'_, '_>, level: LogLevel, message: &str) {
    let buf = &rq.a.buf[rq.a.start..rq.a.filled];
    elog!(
        level,
        "*{} {message}, client: {}, server: {}{}",
        rq.conn.id,
        rq.conn.peer.ip(),
        rq.req.server.first_name(),
        crate::log::context::RequestContext::of(buf, &rq.a.head)
    );
}

/// Counts one URI change; false (after logging nginx's line) when none is left.
fn spend_uri_change(rq: &mut Rq<'_, '_>, what: &str) -> bool {
    rq.route.uri_changes = rq.route.uri_changes.saturating_sub(1);
    if rq.route.uri_changes == 0 {
        log_error(
            rq,
            LogLevel::Error,
            &format!("rewrite or internal redirection cycle while {what}"),
        );
        return false;
    }
    true
}

/// nginx's `ngx_http_internal_redirect`: serve `uri` (and `args`) as if requested, from
/// the server's rewrite directives on.
pub(super) fn internal_redirect<'c>(
    rq: &mut Rq<'_, 'c>,
    uri: Vec<u8>,
    args: Option<Vec<u8>>,
) -> Next<'c> {
    let shown = String::from_utf8_lossy(&uri).into_owned();
    if !spend_uri_change(rq, &format!("internally redirecting to \"{shown}\"")) {
        return finalize(rq, 500);
    }
    rq.route.script.uri = uri;
    rq.route.script.args = args.filter(|a| !a.is_empty());
    trace_step!(
        rq.route.trace,
        Step::InternalRedirect {
            uri: &rq.route.script.uri,
            args: rq.route.script.args.as_deref(),
        }
    );
    // The captures stay: nginx's `r->captures` outlive an internal redirect, so `$1` after
    // `try_files` or `error_page` is still the last match's.
    rq.route.internal = true;
    // nginx restarts at the server rewrite phase (ngx_http_handler for an internal
    // request).
    let server = rq.req.server;
    if server.rewrite.is_empty() {
        Next::Find
    } else {
        run_rewrite(rq, &server.rewrite, false)
    }
}

/// nginx's `ngx_http_named_location`.
pub(super) fn named_location<'c>(rq: &mut Rq<'_, 'c>, name: &str) -> Next<'c> {
    let Some(l) = router::find_named(rq.req.server, name) else {
        log_error(
            rq,
            LogLevel::Error,
            &format!("could not find named location \"{name}\""),
        );
        return finalize(rq, 500);
    };
    if !spend_uri_change(rq, &format!("redirect to named location \"{name}\"")) {
        return finalize(rq, 500);
    }
    trace_step!(rq.route.trace, Step::NamedLocation(name));
    rq.route.internal = true;
    Next::Enter(l)
}

/// A redirect (`return 3xx`, `rewrite ... redirect`, a directory without its slash): as
/// nginx finalizes the request with the code, an `error_page` for it answers instead, with
/// the redirect's `Location` (nginx keeps `r->headers_out.location`); else the redirect
/// goes out.
pub(super) fn redirect<'c>(rq: &mut Rq<'_, 'c>, code: u16, location: &[u8]) -> Next<'c> {
    if let Some(page) = error_page_for(rq, code) {
        rq.route.redirect_location.clear();
        rq.route.redirect_location.extend_from_slice(location);
        return error_page(rq, code, page);
    }
    answer::redirect(rq, code, location);
    Next::Done
}

/// The `error_page` that answers `status` here, if error pages may still apply (not inside
/// one unless `recursive_error_pages`, and a URI change left for it).
fn error_page_for<'c>(rq: &Rq<'_, 'c>, status: u16) -> Option<&'c crate::config::ErrorPage> {
    let loc = rq.req.loc;
    if (!rq.route.in_error_page || loc.recursive_error_pages) && rq.route.uri_changes > 1 {
        loc.error_page_for(status)
    } else {
        None
    }
}

/// Ends the request with `status` and no body of its own: an `error_page` target when one
/// is configured, else nginx's standard page (444: close without answering).
pub(super) fn finalize<'c>(rq: &mut Rq<'_, 'c>, status: u16) -> Next<'c> {
    trace_step!(rq.route.trace, Step::Finalize { status });
    if status == 444 {
        // No head, so the connection closes (`conn::keepalive` says so for 444 anyway).
        rq.req.status = 444;
        rq.req.finalized = Some(444);
        // nginx marks the connection timed out, so `reset_timedout_connection` resets it.
        if rq.req.loc.reset_timedout_connection
            && let Some(fd) = rq.conn.fd
        {
            let _ = crate::sys::set_linger_zero(fd);
        }
        return Next::Done;
    }
    if super::conn::keepalive::closes_connection(status) {
        // As nginx's special response handler: no keep-alive after these, even when an
        // error_page answers them, and the rest of the body is not read.
        rq.req.finalized = Some(status);
        if rq.a.body.take().is_some() {
            rq.req.body = super::conn::BodyRead::Abandoned;
            rq.req.lingering = true;
        }
    }
    if let Some(page) = error_page_for(rq, status) {
        return error_page(rq, status, page);
    }
    handler::queue_error(rq, status);
    Next::Done
}

/// nginx's `ngx_http_send_error_page`.
fn error_page<'c>(
    rq: &mut Rq<'_, 'c>,
    status: u16,
    page: &'c crate::config::ErrorPage,
) -> Next<'c> {
    rq.route.in_error_page = true;
    let overwrite = match page.response {
        ErrorPageStatus::Original => Some(status),
        ErrorPageStatus::FromTarget => None,
        ErrorPageStatus::Code(code) => Some(code),
    };
    let target = eval(rq, &page.uri);
    trace_step!(
        rq.route.trace,
        Step::ErrorPage {
            status,
            target: &target,
        }
    );
    if target.starts_with(b"@") {
        // A named location keeps the method (only the URI form makes it GET in nginx).
        rq.route.err_status = overwrite;
        let name = String::from_utf8_lossy(&target).into_owned();
        return named_location(rq, &name);
    }
    if target.starts_with(b"/") {
        rq.route.err_status = overwrite;
        if rq.a.head.method != Method::Head {
            rq.route.as_get = true;
        }
        let (uri, args) = match &page.args {
            Some(args) => (target, Some(args.as_bytes().to_vec())),
            None => split_args(target),
        };
        return internal_redirect(rq, uri, args);
    }
    let code = overwrite
        .filter(|c| matches!(c, 301 | 302 | 303 | 307 | 308))
        .unwrap_or(302);
    answer::redirect(rq, code, &target);
    Next::Done
}

/// Splits `uri?args`.
pub(super) fn split_args(mut uri: Vec<u8>) -> (Vec<u8>, Option<Vec<u8>>) {
    match memchr::memchr(b'?', &uri) {
        Some(q) => {
            let args = uri[q + 1..].to_vec();
            uri.truncate(q);
            (uri, Some(args))
        }
        None => (uri, None),
    }
}

/// The prefix string of a prefix or exact location.
pub(super) fn location_prefix(l: &LocationConf) -> Option<&str> {
    match &l.matcher {
        LocationMatch::Exact(s) | LocationMatch::Prefix(s) | LocationMatch::PrefixNoRegex(s) => {
            Some(s)
        }
        _ => None,
    }
}
