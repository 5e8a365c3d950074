//! The reverse proxy: `proxy_pass` over HTTP/1.x, on the generic upstream machinery of
//! [`crate::upstream`] (peer choice, tries, the keep-alive pool, request bodies, response
//! buffering). What is HTTP's lives here, behind [`crate::upstream::Protocol`]:
//!
//! - [`prepare`]: where a request goes and what it sends (nginx's URI rules, the request
//!   head, `proxy_method`, `proxy_set_body`, `proxy_redirect` and `proxy_cookie_*` rules),
//!   from the location's settings and the request;
//! - [`request`]: the upstream URI and request head (`ngx_http_proxy_create_request`);
//! - [`response`]: the upstream's response head and the header lines the client gets;
//! - [`http1`]: the [`Http1`] protocol: head parsing and body framing for the machine;
//! - [`accel`]: `X-Accel-Redirect` and `X-Accel-Buffering`; [`cookie`]: `proxy_cookie_*`;
//!   [`ranges`] (in [`crate::upstream`]): `proxy_force_ranges`; [`rate`]: `proxy_limit_rate`; [`connect`]: opening
//!   an upstream socket (TCP or unix-domain, `proxy_bind`, `proxy_socket_keepalive`).

pub mod accel;
pub mod cookie;
pub mod field;
pub mod http1;
pub use crate::upstream::ranges;
pub mod request;
pub mod response;

use std::borrow::Cow;
use std::sync::Arc;

pub use http1::{Http1, Http1Head};

use crate::config::proxy_values::{Balance, ProxyPass, ProxyRedirect, ProxyTarget, RedirectRule};
use crate::config::{HttpConf, LocSettings};
use crate::elog;
use crate::http::request::{RequestHead, Version};
use crate::log::LogLevel;
use crate::upstream::{DIRECT, Target};
use crate::vars::VarSource;
use response::Redirect;

/// What [`prepare`] reads of the request.
pub struct ProxyRequest<'a> {
    /// The request's head bytes.
    pub buf: &'a [u8],
    /// Its parsed head (offsets into `buf`).
    pub head: &'a RequestHead,
    /// The final URI (after rewrites, `try_files`, `index`, `error_page`), decoded.
    pub uri: &'a [u8],
    /// The final arguments.
    pub args: Option<&'a [u8]>,
    /// nginx's `r->valid_location`: no `rewrite ... break` changed the URI here.
    pub valid_location: bool,
    /// nginx's `!r->valid_unparsed_uri`: the URI or arguments differ from the request's.
    pub uri_rewritten: bool,
    /// An `error_page` (or `X-Accel-Redirect`) made the request a GET.
    pub as_get: bool,
    /// The body's length upstream (`Content-Length`), when known.
    pub content_length: Option<u64>,
    /// The body goes up chunked, as it arrives.
    pub chunked: bool,
    /// The client's body goes upstream (not an earlier try's, not dropped).
    pub body_sent: bool,
    /// The client's address.
    pub client: crate::client_addr::ClientIp,
    /// The connection's number, for log lines.
    pub conn_id: u64,
    /// The cache will not store this response (`*_cache_min_uses` not reached, the cache
    /// lock timed out): the client's conditional and range fields go upstream, as nginx
    /// builds a request that is not `cacheable`.
    pub uncached: bool,
    /// The cache lookup resolved `proxy_pass` before (and logged a bad URL).
    pub resolved: bool,
}

/// Where a request goes.
pub struct Prepared {
    /// The group or address.
    pub target: Target,
    /// Answer with this status instead of proxying (a request the upstream cannot take).
    pub refuse: Option<u16>,
    /// `$proxy_host` (`None`: the location does not proxy)
    pub proxy_host: Option<Arc<str>>,
    /// `$proxy_port` (0: a unix-domain upstream)
    pub proxy_port: u16,
}

/// Header lines of a request passed to the head builder without a heap allocation when
/// there are at most this many.
const STACK_HEADERS: usize = 32;

/// Whether the client's body is read and not sent upstream (`proxy_set_body` replaces it,
/// or `proxy_pass_request_body off`): it is still read whole first, as nginx reads it.
pub fn drops_body(loc: &LocSettings) -> bool {
    loc.proxy_set_body.is_some() || !loc.proxy_pass_request_body
}

/// Where one request goes and what it sends, from the location's settings and the request:
/// `proto` is set up for it and `head` gets the upstream request head (both reused from
/// the last request, so their allocations are).
pub fn prepare(
    vars: &dyn VarSource,
    r: &ProxyRequest<'_>,
    loc: &LocSettings,
    http: &HttpConf,
    proto: &mut Http1,
    head: &mut Vec<u8>,
) -> Prepared {
    let buf = r.buf;
    let (client, conn_id) = (r.client, r.conn_id);
    // `chunked_transfer_encoding off`: a chunked response goes to the client unframed and
    // the connection closes after it, as for an HTTP/1.0 client.
    proto.start(
        false,
        r.head.version == Version::Http11 && loc.chunked_transfer_encoding,
    );
    head.clear();
    let mut setup = Prepared {
        target: Target {
            group: DIRECT,
            ..Target::default()
        },
        refuse: None,
        proxy_host: None,
        proxy_port: 80,
    };
    let Some(pass) = loc.proxy_pass.as_ref() else {
        return setup;
    };
    let mut uri = std::mem::take(&mut proto.uri);
    let Resolved {
        proxy_host,
        proxy_port,
        tls,
    } = resolve(vars, r, http, pass, &mut uri, Some(&mut setup.target));
    let group = http.upstreams.get(setup.target.group);
    if let Some(Balance::Hash { key, .. }) = group.map(|g| &g.balance) {
        key.eval(vars, &mut setup.target.hash_key);
    }
    setup.target.socket = request::socket_options(loc, vars, conn_id, client);
    // `proxy_pass https://`: the name verified (and sent with `proxy_ssl_server_name on`).
    if let (true, Some(ssl)) = (tls, loc.proxy_ssl_client.as_ref()) {
        let mut name = Vec::new();
        match &loc.proxy_ssl_name {
            Some(t) => t.eval(vars, &mut name),
            None => name.extend_from_slice(proxy_host.as_bytes()),
        }
        match ssl.config_for(vars) {
            Ok(config) => {
                setup.target.tls = Some(crate::upstream::TlsTarget::new(config, &name));
            }
            // A certificate pair named by variables that cannot be read: nginx's 500.
            Err(e) => {
                elog!(LogLevel::Error, "*{conn_id} {e}, client: {client}");
                setup.refuse = Some(500);
                return setup;
            }
        }
    }
    let forwarded_for = forwarded_for(r);
    let mut pvars = request::ProxyVars {
        inner: vars,
        host: &proxy_host,
        port: proxy_port,
        forwarded_for,
        remote_addr: client,
        body_length: None,
        chunked: false,
    };
    // The client's header lines as (name, value): on the stack for a usual request;
    // none with `proxy_pass_request_headers off` (only the headers the proxy sets).
    let mut on_stack: [(&[u8], &[u8]); STACK_HEADERS] = [(&[], &[]); STACK_HEADERS];
    let spilled: Vec<(&[u8], &[u8])>;
    let count = if loc.proxy_pass_request_headers {
        r.head.headers.len()
    } else {
        0
    };
    let lines = r
        .head
        .headers
        .iter()
        .take(count)
        .map(|h| (h.name.get(buf), h.value.get(buf)));
    let client_headers: &[(&[u8], &[u8])] = if count <= STACK_HEADERS {
        for (slot, line) in on_stack.iter_mut().zip(lines) {
            *slot = line;
        }
        &on_stack[..count]
    } else {
        spilled = lines.collect();
        &spilled
    };
    // A connection from a `proxy_bind` address is not cached: the pool does not tell
    // local addresses apart (nginx caches none unless told to).
    let pool_on = group.is_some_and(|g| g.keepalive > 0)
        && loc.proxy_http_version == 1
        && setup.target.socket.bind.is_none();
    // `proxy_method`, else GET for an error page (nginx's ngx_http_send_error_page), else
    // the client's method.
    let method_value = loc.proxy_method.as_ref().map(|m| {
        let mut out = Vec::new();
        m.eval(&pvars, &mut out);
        out
    });
    let method = match &method_value {
        Some(m) => &m[..],
        None if r.as_get => &b"GET"[..],
        None => r.head.method_span.get(buf),
    };
    // The response to a HEAD sent upstream has no body, whatever the client asked.
    proto.head_request = method.eq_ignore_ascii_case(b"HEAD");
    // `proxy_set_body`: sent instead of the client's body, whose bytes are read and dropped.
    let set_body = loc.proxy_set_body.as_ref().map(|b| {
        let mut out = Vec::new();
        b.eval(&pvars, &mut out);
        out
    });
    pvars.body_length = match &set_body {
        Some(body) => Some(body.len() as u64),
        None => r.content_length,
    };
    pvars.chunked = r.chunked && set_body.is_none();
    let input = request::HeadInput {
        cached: loc.proxy_cache.is_some() && !r.uncached,
        method,
        uri: &uri,
        http_minor: loc.proxy_http_version,
        set: &loc.proxy_set_header,
        proxy_host: &proxy_host,
        // A body announced and not sent (`proxy_pass_request_body off`, as nginx sends
        // it) leaves the connection out of step: it is not cached.
        keepalive: pool_on && loc.proxy_pass_request_body,
        // The client's Content-Length goes up, 0 included, as nginx's
        // `$proxy_internal_body_length`; a stored body's length replaces a chunked one.
        content_length: match &set_body {
            Some(body) => Some(body.len() as u64),
            None => r.content_length,
        },
        chunked: r.chunked && set_body.is_none(),
        client_headers,
    };
    let facts = request::build_head(&input, &pvars, head);
    if let Some(body) = &set_body {
        head.extend_from_slice(body);
    }
    setup.target.keepalive = input.keepalive && !facts.connection_close && !facts.upgrade;
    setup.target.reuse_pooled = input.keepalive;
    proto.upgrade = facts.upgrade;
    proto.chunked_body = input.chunked;
    proto.redirects = redirects(loc, pass, &pvars);
    proto.cookies = cookie::evaluate(loc, &pvars);
    proto.uri = uri;
    setup.proxy_host = Some(proxy_host);
    setup.proxy_port = proxy_port;
    setup
}

/// Where a request goes, before its upstream request is built: `$proxy_host`,
/// `$proxy_port` and whether the connection speaks TLS; [`resolve`] writes the upstream URI
/// (the default cache key's) beside it.
pub struct Resolved {
    /// `$proxy_host`
    pub proxy_host: Arc<str>,
    /// `$proxy_port`
    pub proxy_port: u16,
    /// `proxy_pass https://` (or a variable URL's `https://`).
    pub tls: bool,
}

/// The part of [`prepare`] that a cache lookup needs (nginx evaluates `proxy_pass` before
/// the lookup and builds the request after it, on a miss): the `proxy_pass` target with
/// its variables, and the URI sent upstream into `uri`. `target` (when given) gets the
/// group or address.
pub fn resolve(
    vars: &dyn VarSource,
    r: &ProxyRequest<'_>,
    http: &HttpConf,
    pass: &ProxyPass,
    uri: &mut Vec<u8>,
    mut target: Option<&mut Target>,
) -> Resolved {
    let buf = r.buf;
    let (client, conn_id) = (r.client, r.conn_id);
    uri.clear();
    let request_uri = r.head.request_uri.get(buf);
    // The routing phases may have changed the URI and arguments (rewrite, try_files,
    // index, error_page): then those are sent rather than the request line's target.
    let args = r.args;
    let (proxy_host, proxy_port, pass_uri): (Arc<str>, u16, Option<Cow<'_, [u8]>>);
    let mut tls = pass.tls;
    let mut uri_as_is = false;
    match &pass.target {
        ProxyTarget::Fixed {
            group,
            host,
            port,
            uri,
        } => {
            if let Some(t) = target.as_deref_mut() {
                t.group = *group;
            }
            proxy_host = host.clone();
            proxy_port = *port;
            pass_uri = uri.as_deref().map(Cow::Borrowed);
        }
        ProxyTarget::Dynamic(t) => {
            let mut url = Vec::new();
            t.eval(vars, &mut url);
            match request::parse_url(&url) {
                Some(u) => {
                    if let Some(target) = target.as_deref_mut() {
                        match request::dynamic_target(&u, http) {
                            request::DynamicTarget::Group(i) => target.group = i,
                            request::DynamicTarget::Direct(addr) => target.direct = Some(addr),
                            // Resolved when the upstream machine chooses its peer.
                            request::DynamicTarget::Unresolved => {
                                target.resolve = Some(u.host.clone());
                                target.port = u.port;
                            }
                        }
                    }
                    (proxy_host, proxy_port) = request::dynamic_proxy_host(&u);
                    tls = u.tls;
                    uri_as_is = u.uri.is_some();
                    pass_uri = u.uri.map(Cow::Owned);
                }
                None => {
                    // Said once: by the cache lookup's resolve when there was one.
                    if target.is_none() || !r.resolved {
                        elog!(
                            LogLevel::Error,
                            "*{conn_id} invalid URL prefix in \"{}\", client: {client}",
                            String::from_utf8_lossy(&url)
                        );
                    }
                    proxy_host = Arc::from("");
                    proxy_port = 80;
                    pass_uri = None;
                }
            }
        }
    }
    // nginx: without a URI in proxy_pass, the target as sent unless the URI changed
    // (`r->valid_unparsed_uri`); with one, the location's prefix is replaced unless a
    // `rewrite ... break` changed the URI here (`r->valid_location`).
    let rewritten = if pass_uri.is_some() {
        !r.valid_location
    } else {
        r.uri_rewritten
    };
    if uri_as_is {
        uri.extend_from_slice(pass_uri.as_deref().unwrap_or(b"/"));
    } else {
        request::upstream_uri(
            pass_uri.as_deref(),
            &pass.location,
            r.uri,
            request_uri,
            args,
            rewritten,
            uri,
        );
    }
    Resolved {
        proxy_host,
        proxy_port,
        tls,
    }
}

/// What a response read from the cache needs of [`prepare`]'s setup of the protocol
/// (whether the request went up as HEAD, `proxy_redirect`, `proxy_cookie_*`), without the
/// upstream request: a hit builds none.
pub struct HitSetup {
    client_http11: bool,
    head_request: bool,
    redirects: Option<Arc<[Redirect]>>,
    cookies: Option<Box<cookie::CookieRules>>,
}

impl HitSetup {
    /// The setup of a hit on `r` in `loc`, whose `proxy_pass` resolved to `to`.
    pub fn new(
        vars: &dyn VarSource,
        r: &ProxyRequest<'_>,
        loc: &LocSettings,
        to: &Resolved,
    ) -> HitSetup {
        let mut setup = HitSetup {
            client_http11: r.head.version == Version::Http11 && loc.chunked_transfer_encoding,
            head_request: false,
            redirects: None,
            cookies: None,
        };
        let Some(pass) = loc.proxy_pass.as_ref() else {
            return setup;
        };
        let buf = r.buf;
        let pvars = request::ProxyVars {
            inner: vars,
            host: &to.proxy_host,
            port: to.proxy_port,
            forwarded_for: forwarded_for(r),
            remote_addr: r.client,
            body_length: r.content_length,
            chunked: r.chunked,
        };
        setup.head_request = match &loc.proxy_method {
            Some(m) => {
                let mut out = Vec::new();
                m.eval(&pvars, &mut out);
                out.eq_ignore_ascii_case(b"HEAD")
            }
            None if r.as_get => false,
            None => r.head.method_span.get(buf).eq_ignore_ascii_case(b"HEAD"),
        };
        setup.redirects = redirects(loc, pass, &pvars);
        setup.cookies = cookie::evaluate(loc, &pvars);
        setup
    }

    /// Sets `proto` up for the hit's response; `uri` is the upstream URI (for log lines).
    pub fn apply(self, proto: &mut Http1, uri: Vec<u8>) {
        proto.start(self.head_request, self.client_http11);
        proto.redirects = self.redirects;
        proto.cookies = self.cookies;
        proto.uri = uri;
    }
}

/// The client's `X-Forwarded-For` (`$proxy_add_x_forwarded_for` appends to it).
fn forwarded_for<'a>(r: &ProxyRequest<'a>) -> Option<&'a [u8]> {
    let buf = r.buf;
    r.head
        .headers
        .iter()
        .find(|h| h.name.get(buf).eq_ignore_ascii_case(b"x-forwarded-for"))
        .map(|h| h.value.get(buf))
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
