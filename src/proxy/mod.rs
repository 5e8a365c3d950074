//! The reverse proxy: `proxy_pass` to upstream groups over pooled keep-alive connections.
//!
//! - [`balancer`]: per-worker server choice (smooth weighted round robin, `least_conn`,
//!   `ip_hash`, `hash`) and passive health;
//! - [`pool`]: idle upstream connections, per group, registered so a close is noticed;
//! - [`request`]: the upstream URI (nginx's replacement rules) and request head;
//! - [`response`]: the upstream response head, its framing, the client's head;
//! - [`link`]: one proxied request, its upstream socket state machine (`link/relay.rs`:
//!   request out, response in, body framing, client writes; `link/request_body.rs`;
//!   `link/failure.rs`: log lines, retries, 502/504; `link/deadlines.rs`; `link/tunnel.rs`:
//!   the WebSocket tunnel after a 101);
//! - [`body_buffer`]: a request body read whole before connecting (`proxy_request_buffering`),
//!   in memory or in a temporary file;
//! - [`upstream_log`]: the tries, for `$upstream_*` variables.
//!
//! The worker calls [`prepare`] when a request's location has `proxy_pass`, then drives the
//! [`Link`] on events of either socket.

pub mod accel;
pub mod balancer;
pub mod body_buffer;
pub mod connect;
pub mod cookie;
pub mod link;
pub mod pool;
pub mod ranges;
pub mod rate;
pub mod request;
pub mod response;
pub mod upstream_log;

use std::borrow::Cow;
use std::net::IpAddr;
use std::os::fd::RawFd;
use std::sync::Arc;

pub use link::{
    ClientSide, Link, LinkSetup, LinkStep, UPSTREAM_TOKEN_BIT, UpstreamLog, UpstreamVars,
};

use crate::config::proxy_values::{Balance, ProxyPass, ProxyRedirect, ProxyTarget, RedirectRule};
use crate::config::{HttpConf, LocSettings};
use crate::elog;
use crate::log::LogLevel;
use crate::vars::VarSource;
use crate::worker::conn::Active;
use crate::worker::slab::Key;
use balancer::Group;
use pool::Pool;
use response::Redirect;

/// A worker's run-time upstream state.
#[derive(Default)]
pub struct Upstreams {
    /// Per group (same indexes as `HttpConf::upstreams`): server counters.
    pub groups: Vec<Group>,
    /// Idle connections.
    pub pool: Pool,
    /// Spare response buffers.
    pub buffers: Vec<Vec<u8>>,
    /// Upstream sockets held by requests in flight.
    pub open: usize,
    /// Who holds each upstream socket, by descriptor (see [`Owner`]).
    owners: Vec<Owner>,
}

/// Who an upstream socket's events are for. An upstream socket is registered once, when it
/// connects, with the token `UPSTREAM_TOKEN_BIT | fd`, and stays registered (for readable
/// and writable) until it closes: moving between a request and the idle pool only changes
/// this table, so reusing a pooled connection costs no `epoll_ctl`. An entry is never
/// cleared: a closed descriptor has no events, and one reused for a new upstream socket is
/// set again before it is registered. An event already fetched for a socket closed in the
/// same loop turn can reach the new holder of its number: a spurious wake-up, which every
/// pump tolerates (the read or write just says `WouldBlock`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Nobody (never registered).
    None,
    /// The client connection (slab key) whose request uses it.
    Client(Key),
    /// Idle in the pool under this key.
    Pool(Key),
}

impl Upstreams {
    /// Fresh state for the configured groups.
    pub fn new(http: &HttpConf) -> Upstreams {
        Upstreams {
            groups: http.upstreams.iter().map(Group::new).collect(),
            pool: Pool::default(),
            buffers: Vec::new(),
            open: 0,
            owners: Vec::new(),
        }
    }

    /// Who holds the upstream socket `fd`.
    pub fn owner(&self, fd: usize) -> Owner {
        self.owners.get(fd).copied().unwrap_or(Owner::None)
    }

    /// Records who holds the upstream socket `fd`.
    pub fn set_owner(&mut self, fd: RawFd, owner: Owner) {
        let Ok(i) = usize::try_from(fd) else { return };
        if self.owners.len() <= i {
            self.owners.resize(i + 1, Owner::None);
        }
        self.owners[i] = owner;
    }

    /// Upstream connections of this worker, in use or cached: they take
    /// `worker_connections` slots as in nginx.
    pub fn connections(&self) -> usize {
        self.open + self.pool.len()
    }
}

/// Where one request goes and what it sends, from the location's settings and the request.
pub fn prepare(
    vars: &dyn VarSource,
    a: &Active<'_>,
    loc: &LocSettings,
    http: &HttpConf,
    client: IpAddr,
    conn_id: u64,
) -> LinkSetup {
    let buf = &a.buf[a.start.min(a.filled)..a.filled];
    let mut setup = LinkSetup {
        group: link::DIRECT,
        direct: None,
        socket: connect::SocketOptions::default(),
        head: Vec::new(),
        uri: Vec::new(),
        keepalive: false,
        upgrade: false,
        hash_key: Vec::new(),
        redirects: None,
        proxy_host: Arc::from(""),
        proxy_port: 80,
        refuse: None,
        framing_at: None,
        discard_body: false,
        head_method: false,
        cookies: None,
        resolve: None,
    };
    let Some(pass) = loc.proxy_pass.as_ref() else {
        return setup;
    };
    let request_uri = a.head.request_uri.get(buf);
    // The routing phases may have changed the URI and arguments (rewrite, try_files,
    // index, error_page): then those are sent rather than the request line's target.
    let args = a.route.script.args.as_deref();
    let (proxy_host, proxy_port, pass_uri): (Arc<str>, u16, Option<Cow<'_, [u8]>>);
    let mut uri_as_is = false;
    match &pass.target {
        ProxyTarget::Fixed {
            group,
            host,
            port,
            uri,
        } => {
            setup.group = *group;
            proxy_host = host.clone();
            proxy_port = *port;
            pass_uri = uri.as_deref().map(Cow::Borrowed);
        }
        ProxyTarget::Dynamic(t) => {
            let mut url = Vec::new();
            t.eval(vars, &mut url);
            match request::parse_url(&url) {
                Some(u) => {
                    let target = request::dynamic_target(&u, http);
                    match target {
                        request::DynamicTarget::Group(i) => setup.group = i,
                        request::DynamicTarget::Direct(addr) => setup.direct = Some(addr),
                        // Resolved when the link chooses its peer (link/resolving.rs).
                        request::DynamicTarget::Unresolved => setup.resolve = Some(u.host.clone()),
                    }
                    (proxy_host, proxy_port) = request::dynamic_proxy_host(&u);
                    uri_as_is = u.uri.is_some();
                    pass_uri = u.uri.map(Cow::Owned);
                }
                None => {
                    elog!(
                        LogLevel::Error,
                        "*{conn_id} invalid URL prefix in \"{}\", client: {client}",
                        String::from_utf8_lossy(&url)
                    );
                    proxy_host = Arc::from("");
                    proxy_port = 80;
                    pass_uri = None;
                }
            }
        }
    }
    let mut uri = Vec::with_capacity(request_uri.len() + 16);
    // nginx: without a URI in proxy_pass, the target as sent unless the URI changed
    // (`r->valid_unparsed_uri`); with one, the location's prefix is replaced unless a
    // `rewrite ... break` changed the URI here (`r->valid_location`).
    let rewritten = if pass_uri.is_some() {
        !a.route.script.valid_location
    } else {
        a.route.uri_rewritten
    };
    if uri_as_is {
        uri.extend_from_slice(pass_uri.as_deref().unwrap_or(b"/"));
    } else {
        request::upstream_uri(
            pass_uri.as_deref(),
            &pass.location,
            &a.uri,
            request_uri,
            args,
            rewritten,
            &mut uri,
        );
    }
    let group = http.upstreams.get(setup.group);
    if let Some(Balance::Hash { key, .. }) = group.map(|g| &g.balance) {
        key.eval(vars, &mut setup.hash_key);
    }
    setup.socket = request::socket_options(loc, vars, conn_id, client);
    let forwarded_for = a
        .head
        .headers
        .iter()
        .find(|h| h.name.get(buf).eq_ignore_ascii_case(b"x-forwarded-for"))
        .map(|h| h.value.get(buf));
    let mut pvars = request::ProxyVars {
        inner: vars,
        host: &proxy_host,
        port: proxy_port,
        forwarded_for,
        remote_addr: client,
        body_length: None,
        chunked: false,
    };
    // `proxy_pass_request_headers off`: only the headers the proxy sets itself.
    let client_headers: Vec<(&[u8], &[u8])> = if loc.proxy_pass_request_headers {
        a.head
            .headers
            .iter()
            .map(|h| (h.name.get(buf), h.value.get(buf)))
            .collect()
    } else {
        Vec::new()
    };
    // A connection from a `proxy_bind` address is not cached: the pool does not tell
    // local addresses apart (nginx caches none unless told to).
    let pool_on = group.is_some_and(|g| g.keepalive > 0)
        && loc.proxy_http_version == 1
        && setup.socket.bind.is_none();
    // `proxy_method`, else GET for an error page (nginx's ngx_http_send_error_page), else
    // the client's method.
    let method_value = loc.proxy_method.as_ref().map(|m| {
        let mut out = Vec::new();
        m.eval(&pvars, &mut out);
        out
    });
    let method = match &method_value {
        Some(m) => &m[..],
        None if a.route.as_get => &b"GET"[..],
        None => a.head.method_span.get(buf),
    };
    setup.head_method = method.eq_ignore_ascii_case(b"HEAD");
    // `proxy_set_body`: sent instead of the client's body, whose bytes are read and dropped.
    let set_body = loc.proxy_set_body.as_ref().map(|b| {
        let mut out = Vec::new();
        b.eval(&pvars, &mut out);
        out
    });
    // A body an intercepted try read whole is sent again, with its length.
    let kept_body = a.route.request_body.as_ref().map(|b| b.len());
    let body_sent = !a.route.body_taken;
    setup.discard_body = body_sent && (set_body.is_some() || !loc.proxy_pass_request_body);
    pvars.body_length = match &set_body {
        Some(body) => Some(body.len() as u64),
        None if !body_sent => kept_body,
        None => a.head.content_length,
    };
    pvars.chunked = a.head.chunked && body_sent && set_body.is_none();
    let input = request::HeadInput {
        method,
        uri: &uri,
        http_minor: loc.proxy_http_version,
        set: &loc.proxy_set_header,
        proxy_host: &proxy_host,
        // A body announced and not sent (`proxy_pass_request_body off`, as nginx sends
        // it) leaves the connection out of step: it is not cached.
        keepalive: pool_on && loc.proxy_pass_request_body,
        content_length: if let Some(body) = &set_body {
            Some(body.len() as u64)
        } else if !body_sent {
            kept_body.filter(|&n| n > 0)
        } else if a.head.chunked {
            None
        } else {
            a.head.content_length.filter(|&n| n > 0)
        },
        chunked: a.head.chunked && body_sent && set_body.is_none(),
        client_headers: &client_headers,
    };
    let facts = request::build_head(&input, &pvars, &mut setup.head);
    setup.framing_at = facts.framing_at.filter(|_| set_body.is_none());
    if let Some(body) = &set_body {
        setup.head.extend_from_slice(body);
    }
    if a.head.chunked
        && body_sent
        && !setup.discard_body
        && loc.proxy_http_version == 0
        && !loc.proxy_request_buffering
    {
        // nginx buffers the whole body to learn its length even with buffering off; here an
        // unbuffered body is streamed, and an HTTP/1.0 server cannot take a chunked one.
        elog!(
            LogLevel::Error,
            "*{conn_id} chunked request body cannot be passed to an HTTP/1.0 upstream \
             (proxy_http_version 1.0), client: {client}"
        );
        setup.refuse = Some(411);
    }
    setup.keepalive = input.keepalive && !facts.connection_close && !facts.upgrade;
    setup.upgrade = facts.upgrade;
    setup.redirects = redirects(loc, pass, &pvars);
    setup.cookies = cookie::evaluate(loc, &pvars);
    setup.uri = uri;
    setup.proxy_host = proxy_host;
    setup.proxy_port = proxy_port;
    setup
}

/// The location's `proxy_redirect` rules for one request (`None`: none). The default rule
/// was made at load, so the usual case costs no allocation.
fn redirects(loc: &LocSettings, pass: &ProxyPass, vars: &dyn VarSource) -> Option<Arc<[Redirect]>> {
    match &loc.proxy_redirect {
        ProxyRedirect::Off => None,
        ProxyRedirect::Default => pass.default_redirect.clone(),
        ProxyRedirect::Rules(rules) => Some(
            rules
                .iter()
                .filter_map(|r| match r {
                    RedirectRule::Default => pass.default_redirect.as_ref()?.first().cloned(),
                    other => evaluate_rule(other, vars),
                })
                .collect(),
        ),
    }
}

/// A `proxy_redirect` or `proxy_cookie_*` rule with the request's variables filled in
/// (`None` for `default`, which only `proxy_redirect` has).
pub(crate) fn evaluate_rule(rule: &RedirectRule, vars: &dyn VarSource) -> Option<Redirect> {
    match rule {
        RedirectRule::Default => None,
        RedirectRule::Replace { from, to } => {
            let (mut f, mut t) = (Vec::new(), Vec::new());
            from.eval(vars, &mut f);
            to.eval(vars, &mut t);
            Some(Redirect::Prefix { from: f, to: t })
        }
        RedirectRule::Regex { re, to } => {
            // `$1`..`$9` are the rule's own captures, filled in when a value
            // matches: keep them as `${N}` for `Captures::expand`.
            let mut t = Vec::new();
            to.eval(&KeepCaptures(vars, re), &mut t);
            Some(Redirect::Regex {
                re: re.clone(),
                to: t,
            })
        }
    }
}

/// A request's variables, with `$1`..`$9` and the rule's named groups written back as
/// `${N}` (a literal `$` as `$$`): they are filled from the rule's regex later.
struct KeepCaptures<'a>(&'a dyn VarSource, &'a crate::regex::Regex);

impl VarSource for KeepCaptures<'_> {
    fn var(&self, var: &crate::vars::Var, out: &mut Vec<u8>) -> bool {
        let group = match var {
            crate::vars::Var::Capture(n) => Some(usize::from(*n)),
            crate::vars::Var::User(i) => self.1.group_of_var(*i),
            _ => None,
        };
        if let Some(group) = group {
            out.extend_from_slice(format!("${{{group}}}").as_bytes());
            return true;
        }
        // A `$` in a variable's value must stay a `$` after expansion.
        let start = out.len();
        let found = self.0.var(var, out);
        if out[start..].contains(&b'$') {
            let value = out.split_off(start);
            for &b in &value {
                if b == b'$' {
                    out.push(b'$');
                }
                out.push(b);
            }
        }
        found
    }
}
