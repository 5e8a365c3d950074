//! A request without a connection, for `portico -t --explain` ([`crate::explain`]): the
//! worker's own routing — server choice, the phases, the content handler, the proxy's
//! request and peer choice — run over a request head given on the command line, with a
//! [`Trace`] told every step. Nothing is sent: the response (or the upstream request) that
//! a worker would write is handed back instead.
//!
//! What a connection does before the phases (choose the address's servers, parse the head,
//! pick the server, normalise the URI) is done here in the same order with the same
//! functions, because the connection code needs a socket; everything from
//! [`super::phases::run`] on is the worker's code unchanged.

use std::time::{Instant, SystemTime};

use super::conn::Source;
use super::conn::{Active, Req};
use super::phases::{self, Handled, Route, Rq};
use super::request_vars::ConnInfo;
use super::{Shared, conn};
use crate::client_addr::ClientAddr;
use crate::config::Config;
use crate::config::ListenAddr;
use crate::config::proxy_values::Balance;
use crate::http::date::DateCache;
use crate::http::request::{self, ParseOptions, RequestHead};
use crate::http::uri;
use crate::router::{self, AddrServers};
use crate::trace::{Step, Trace};

/// The request to explain.
pub struct Request<'a> {
    /// Its head, as a client would send it (request line, headers, empty line).
    pub head: &'a [u8],
    /// The client's address.
    pub peer: ClientAddr,
    /// The address it came to (`--listen`); else a `listen` on `port`, else the first.
    pub local: Option<ListenAddr>,
    /// The port of an absolute URL (80 for `http://`, the URL's own if written).
    pub port: Option<u16>,
}

/// What the worker would do with the request.
#[derive(Debug, Default)]
pub struct Answer {
    /// The status it ends with (444: closed without an answer).
    pub status: u16,
    /// The response head as it would be sent (empty when the proxy answers).
    pub head: Vec<u8>,
    /// A file sent after the head: its path and length.
    pub file: Option<(Vec<u8>, u64)>,
    /// The URI and arguments the request ended with.
    pub uri: Vec<u8>,
    /// The arguments.
    pub args: Option<Vec<u8>>,
    /// Where the proxy would send it.
    pub proxy: Option<ProxyPlan>,
}

/// The proxy's side of a proxied request.
#[derive(Debug, Default)]
pub struct ProxyPlan {
    /// `upstream NAME` (or `host:port` of a group `proxy_pass` made), `None` for an address
    /// or a host name resolved per request.
    pub group: Option<String>,
    /// The group's method: `round robin`, `least_conn`, `ip_hash`, `hash` (`consistent`).
    pub balance: &'static str,
    /// The servers in the order a fresh worker would try them for this request (the
    /// first, then each `proxy_next_upstream` try), each with `backup`/`down` marks.
    pub order: Vec<(crate::config::proxy_values::PeerAddr, &'static str)>,
    /// How many of them a request may try (`proxy_next_upstream_tries`, `off`).
    pub tries: usize,
    /// The address, for `proxy_pass http://ADDRESS`.
    pub direct: Option<crate::config::proxy_values::PeerAddr>,
    /// The host name resolved at request time (`proxy_pass` with variables).
    pub resolve: Option<String>,
    /// The request head sent upstream.
    pub head: Vec<u8>,
    /// A status answered instead of proxying.
    pub refuse: Option<u16>,
}

/// Routes `request` through `config` as a worker would, telling `trace` each step. `Err`:
/// why the request could not be routed at all (no `http` block, a head that does not
/// parse), as one line.
pub fn explain<'c>(
    config: &'c Config,
    request: &Request<'_>,
    trace: &'c mut (dyn Trace + 'static),
) -> Result<Answer, String> {
    let http = config
        .http
        .as_ref()
        .ok_or("the configuration has no http block")?;
    let by_addr = router::servers_by_listen(http);
    let (servers, why) = choose_listen(&by_addr, request)?;
    trace.step(Step::Listen {
        addr: &servers.addr,
        servers: servers.servers.len(),
        why,
    });
    let default = &http.servers[servers.default];
    let opts = ParseOptions {
        underscores_in_headers: default.srv.underscores_in_headers,
        ignore_invalid_headers: default.srv.ignore_invalid_headers,
    };
    let buf = request.head.to_vec();
    let mut head = RequestHead::default();
    let head_len = match request::parse_head(&buf, &mut head, &opts) {
        Ok(Some(n)) => n,
        Ok(None) => return Err("the request head is incomplete".to_string()),
        Err(e) => {
            let mut why = String::new();
            e.write_log_message(&buf, &mut why);
            return Err(format!("{why} (a worker answers {})", e.status()));
        }
    };

    let mut route = Route::default();
    route.clear_matches(http.user_vars.len());
    let host = head.host.map(|h| h.get(&buf));
    let state = router::MatchState {
        captures: &mut route.script.captures,
        values: &mut route.script.user,
    };
    let (index, matched) = router::select_server_why(http, servers, host, state)
        .map_err(|line| format!("{line} (a worker closes the connection)"))?;
    let server = &http.servers[index];
    trace.step(Step::Server {
        index,
        server,
        matched,
    });

    let mut normalized = Vec::new();
    if let Err(e) = uri::normalize(
        head.path.get(&buf),
        server.srv.merge_slashes,
        &mut normalized,
    ) {
        return Err(format!(
            "client sent invalid request (a worker answers {})",
            e.status()
        ));
    }
    let query = head.query.map(|q| q.get(&buf));
    route.reset(&normalized, query);
    route.script.computed.reset(&http.computed);
    route.script.quoted_uri = head.path.get(&buf).iter().any(|&b| b == b'%' || b == b'+');
    route.local = Some(
        request
            .local
            .clone()
            .unwrap_or_else(|| servers.addr.clone()),
    );
    route.request_id = super::request_vars::new_request_id();
    route.trace = Some(trace);

    let now = Instant::now();
    let mut shared = shared(config, now)?;
    let mut conn = ConnInfo {
        id: 1,
        peer: request.peer,
        socket_peer: request.peer,
        proxy_protocol: None,
        requests: 1,
        local: route.local.clone(),
        request_id: route.request_id,
        accepted_at: now,
        fd: None,
        tls: None,
        http2: None,
        h2_block_len: None,
    };
    let mut req = Req {
        keepalive: head.keep_alive,
        ..Req::new(now, server, &server.loc, head_len)
    };
    let filled = buf.len();
    let mut a = Active {
        buf,
        start: 0,
        filled,
        scanned: filled,
        head,
        uri: normalized,
        out: Vec::new(),
        out_pos: 0,
        source: Source::Fixed,
        body: None,
        req: None,
        route: Route::default(),
        upstream: Default::default(),
        proxied: false,
        cache_fill: None,
        cache_wait: None,
        cache_update: None,
        subrequests: Vec::new(),
        chunks: Default::default(),
        filter: Default::default(),
    };
    let mut rq = Rq {
        a: &mut a,
        shared: &mut shared,
        req: &mut req,
        route: &mut route,
        conn: &mut conn,
    };
    let mut handled = phases::run(&mut rq);
    // A delay (limit_req, auth_delay) only postpones what follows: go on at once.
    if let Handled::Delayed(_) = handled {
        handled = phases::resume_delayed(&mut rq);
    }
    // auth_request: the service is not asked here; the request goes on as if it allowed.
    for _ in 0..4 {
        if handled != Handled::AwaitAuth {
            break;
        }
        crate::trace_step!(
            rq.route.trace,
            crate::trace::Step::Note(
                "auth_request: a subrequest asks the service (shown as if it answered 2xx)"
            )
        );
        super::subrequest::auth::assume_answered(rq.a, 200);
        handled = phases::resume_access(&mut rq);
    }
    route.trace = None;

    // As the connection does after the phases: the final URI for the proxy.
    let query = a
        .head
        .query
        .map(|q| q.get(&a.buf))
        .filter(|q| !q.is_empty());
    route.uri_rewritten |= route.script.uri != a.uri || route.script.args.as_deref() != query;
    a.uri.clone_from(&route.script.uri);
    let mut answer = Answer {
        uri: route.script.uri.clone(),
        args: route.script.args.clone(),
        ..Answer::default()
    };
    if route.filename.is_empty() {
        // Nothing was mapped to a file.
    } else if let Source::File(f) = &a.source {
        answer.file = Some((route.filename.clone(), f.end.saturating_sub(f.pos)));
    }
    a.route = route;
    if handled == Handled::Proxy {
        answer.proxy = Some(proxy_plan(&a, &req, &shared, &conn, http));
        return Ok(answer);
    }
    answer.status = req.status;
    let head_end = (req.header_bytes as usize).min(a.out.len());
    answer.head = a.out[..head_end].to_vec();
    Ok(answer)
}

/// The listening address the request came to: `--listen`, else the one on the URL's port,
/// else the first; with the reason, for the trace.
fn choose_listen<'a>(
    by_addr: &'a [AddrServers],
    request: &Request<'_>,
) -> Result<(&'a AddrServers, &'static str), String> {
    if let Some(local) = &request.local {
        let exact = by_addr.iter().find(|s| s.addr == *local);
        // `--listen 8080` is any address's port 8080; a wildcard `listen` takes every address.
        let wildcard = || {
            let local = local.inet()?;
            by_addr.iter().find(|s| {
                s.addr.inet().is_some_and(|a| {
                    a.port() == local.port()
                        && (a.ip().is_unspecified() || local.ip().is_unspecified())
                })
            })
        };
        return exact
            .map(|s| (s, "--listen"))
            .or_else(|| wildcard().map(|s| (s, "--listen")))
            .ok_or_else(|| format!("no server listens on {local}"));
    }
    let on_port = request.port.and_then(|p| {
        by_addr
            .iter()
            .find(|s| s.addr.inet().is_some_and(|a| a.port() == p))
    });
    match (on_port, by_addr.first()) {
        (Some(s), _) => Ok((s, "the URL's port")),
        (None, Some(s)) if request.port.is_some() => {
            Ok((s, "none on the URL's port: the first listen address"))
        }
        (None, Some(s)) => Ok((s, "the first listen address")),
        (None, None) => Err("no server listens anywhere".to_string()),
    }
}

/// The worker-wide state the phases read: the clock, dates, the open-file cache and fresh
/// upstream counters (a worker that just started).
fn shared(config: &Config, now: Instant) -> Result<Shared<'_>, String> {
    let http = config.http.as_ref().ok_or("no http block")?;
    let mut date = DateCache::default();
    date.update(SystemTime::now());
    let poll = mio::Poll::new().map_err(|e| format!("epoll_create() failed ({e})"))?;
    let registry = poll
        .registry()
        .try_clone()
        .map_err(|e| format!("epoll dup() failed ({e})"))?;
    Ok(Shared {
        config,
        http,
        now,
        date,
        shutting_down: false,
        pid: std::process::id(),
        hostname: nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        scratch: Vec::new(),
        pool: conn::Pool::default(),
        file_cache: Default::default(),
        hot_cache: Default::default(),
        registry,
        upstreams: crate::upstream::Upstreams::new(
            http,
            poll.registry()
                .try_clone()
                .map_err(|e| format!("epoll dup() failed ({e})"))?,
        ),
        resolvers: Default::default(),
        compress: Default::default(),
    })
}

/// What the proxy would send where: its request head (the proxy's own builder) and the
/// order in which the group's balancer (a fresh one, as in a new worker) picks servers.
fn proxy_plan<'c>(
    a: &Active<'c>,
    req: &Req<'c>,
    shared: &Shared<'c>,
    conn: &ConnInfo,
    http: &crate::config::HttpConf,
) -> ProxyPlan {
    let vars = a.vars(conn, req, shared);
    let loc = req.loc;
    let r = crate::proxy::ProxyRequest {
        buf: &a.buf[a.start..a.filled],
        head: &a.head,
        uri: &a.uri,
        args: a.route.script.args.as_deref(),
        valid_location: a.route.script.valid_location,
        uri_rewritten: a.route.uri_rewritten,
        as_get: a.route.as_get,
        content_length: a.head.content_length,
        chunked: a.head.chunked,
        body_sent: true,
        client: conn.peer.ip(),
        conn_id: conn.id,
        uncached: false,
        resolved: false,
    };
    let mut proto = crate::proxy::Http1::default();
    let mut head = Vec::new();
    let setup = crate::proxy::prepare(&vars, &r, loc, http, &mut proto, &mut head);
    let target = setup.target;
    let mut plan = ProxyPlan {
        direct: target.direct.clone(),
        resolve: target.resolve.clone(),
        head,
        refuse: setup.refuse,
        ..ProxyPlan::default()
    };
    let Some(conf) = http.upstreams.get(target.group) else {
        return plan;
    };
    plan.group = Some(conf.name.clone());
    plan.balance = match conf.balance {
        Balance::RoundRobin => "round robin",
        Balance::LeastConn => "least_conn",
        Balance::IpHash => "ip_hash",
        Balance::Hash {
            consistent: false, ..
        } => "hash",
        Balance::Hash {
            consistent: true, ..
        } => "hash consistent",
        Balance::Random { two: false } => "random: this order is one draw of many",
        Balance::Random { two: true } => "random two: this order is one draw of many",
    };
    let mut group = crate::upstream::balancer::Group::new(conf);
    let mut tried = vec![false; conf.servers.len()];
    for _ in 0..conf.servers.len() {
        let Ok(i) = group.pick(
            &conf.balance,
            &tried,
            conn.peer.ip().hash_addr(),
            &target.hash_key,
            shared.now,
        ) else {
            break;
        };
        let Some(server) = conf.servers.get(i) else {
            break;
        };
        tried[i] = true;
        let mark = if server.backup { "backup" } else { "" };
        plan.order.push((server.addr.clone(), mark));
    }
    for server in conf.servers.iter().filter(|s| s.down) {
        plan.order.push((server.addr.clone(), "down"));
    }
    let usable = plan.order.iter().filter(|(_, m)| *m != "down").count();
    plan.tries = if loc.proxy_next_upstream.0 == 0 {
        1.min(usable)
    } else if loc.proxy_next_upstream_tries > 0 {
        loc.proxy_next_upstream_tries.min(usable)
    } else {
        usable
    };
    plan
}
