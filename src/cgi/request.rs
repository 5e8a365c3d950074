//! Where a gateway request goes (its `*_pass`, evaluated when it has variables), the
//! machine's settings for it, and the bytes that open it ([`super::packet`]), built into
//! the machine's reused request buffer with the request's variables.

use std::net::{IpAddr, SocketAddr};

use super::Gateway;
use super::packet;
use crate::config::cgi_values::{CgiBind, CgiModule, CgiTarget};
use crate::config::proxy_values::PeerAddr;
use crate::config::{HttpConf, LocSettings};
use crate::elog;
use crate::http::request::{Method, RequestHead, Version};
use crate::log::LogLevel;
use crate::upstream::connect::SocketOptions;
use crate::upstream::{DIRECT, Settings, Target};
use crate::vars::{Var, VarSource};

/// The generic machinery's settings of a request of this module (nginx's
/// `ngx_http_upstream_conf_t` of the module's location).
pub fn settings<'c>(
    conf: &'c crate::config::cgi_values::CgiConf,
    loc: &'c LocSettings,
) -> Settings<'c> {
    Settings {
        connect_timeout: conf.connect_timeout(),
        send_timeout: conf.send_timeout(),
        read_timeout: conf.read_timeout(),
        next_upstream: conf.next_upstream(),
        next_upstream_tries: conf.next_upstream_tries.unwrap_or(0),
        next_upstream_timeout: conf.next_upstream_timeout.unwrap_or_default(),
        buffering: conf.buffering(),
        buffer_size: conf.buffer_size(),
        buffers: conf.buffers(),
        busy_buffers_size: conf.busy_buffers_size(),
        max_temp_file_size: conf.max_temp_file_size(),
        temp_file_write_size: conf.temp_file_write_size(),
        temp_path: conf.temp_path.as_deref().unwrap_or(&loc.proxy_temp_path),
        sendfile: loc.sendfile,
        resolver: loc.resolver.as_deref(),
        resolver_timeout: loc.resolver_timeout,
        limit_rate: conf.limit_rate(),
    }
}

/// The request body, as it goes upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyShape {
    /// None (or none is passed: `*_pass_request_body off`).
    None,
    /// Read whole before connecting, this long.
    Stored(u64),
    /// Streamed as it arrives (`*_request_buffering off`), this long if known.
    Streamed(Option<u64>),
}

/// What [`prepare`] reads of the request.
pub struct CgiRequest<'a> {
    /// The request's head bytes.
    pub buf: &'a [u8],
    /// Its parsed head (offsets into `buf`).
    pub head: &'a RequestHead,
    /// Its body.
    pub body: BodyShape,
    /// An `error_page` made the request a GET.
    pub as_get: bool,
    /// The client's address.
    pub client: crate::client_addr::ClientIp,
    /// The connection's number, for log lines.
    pub conn_id: u64,
    /// The cache will not store this response (see `ProxyRequest::uncached`).
    pub uncached: bool,
    /// `*_cache_revalidate`: the expired entry's validators, as `If-Modified-Since` and
    /// `If-None-Match` header lines, sent as their `HTTP_*` parameters (nginx's
    /// `*_cache_headers`: `$upstream_cache_last_modified`, `$upstream_cache_etag`).
    pub validators: &'a [u8],
}

/// Where a request goes.
pub struct Prepared {
    /// The group or address.
    pub target: Target,
    /// Answer with this status instead (the address could not be used, the parameters do
    /// not fit; logged).
    pub refuse: Option<u16>,
}

/// The request's variables, with `$content_length` of a body whose length was learnt by
/// reading it (a chunked one, read whole), as nginx sets `content_length_n`.
struct BodyVars<'a> {
    inner: &'a dyn VarSource,
    stored: Option<u64>,
}

impl VarSource for BodyVars<'_> {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        if *var == Var::ContentLength
            && let Some(len) = self.stored
            && !self.inner.var(var, out)
        {
            super::client_head::push_decimal(out, len);
            return true;
        }
        self.inner.var(var, out)
    }
}

/// Where one request of `module` goes and what opens it, from the location's settings and
/// the request: `proto` is set up for it and `out` gets the request's first bytes (both
/// reused from the last request).
pub fn prepare<'c>(
    module: CgiModule,
    vars: &dyn VarSource,
    r: &CgiRequest<'_>,
    loc: &'c LocSettings,
    http: &HttpConf,
    proto: &mut Gateway<'c>,
    out: &mut Vec<u8>,
) -> Prepared {
    let conf = module.conf(loc);
    let head_request = r.head.method == Method::Head && !r.as_get;
    proto.start(
        module,
        conf,
        head_request,
        r.head.version == Version::Http11,
    );
    out.clear();
    let mut prepared = Prepared {
        target: Target {
            group: DIRECT,
            socket: SocketOptions {
                keepalive: conf.socket_keepalive.unwrap_or(false),
                ..SocketOptions::default()
            },
            ..Target::default()
        },
        refuse: None,
    };
    match &conf.bind {
        None | Some(CgiBind::Off) => {}
        Some(CgiBind::Addr(addr, transparent)) => {
            prepared.target.socket.bind = Some(*addr);
            prepared.target.socket.transparent = *transparent;
        }
        Some(CgiBind::Dynamic(t, transparent)) => {
            let mut text = std::mem::take(&mut proto.scratch);
            text.clear();
            t.eval(vars, &mut text);
            if !text.is_empty() {
                let value = String::from_utf8_lossy(&text);
                match crate::config::cgi_values::parse_bind_addr(&value) {
                    Some(addr) => {
                        prepared.target.socket.bind = Some(addr);
                        prepared.target.socket.transparent = *transparent;
                    }
                    None => {
                        elog!(
                            LogLevel::Error,
                            "*{} invalid local address \"{value}\", client: {}",
                            r.conn_id,
                            r.client
                        );
                        prepared.refuse = Some(500);
                    }
                }
            }
            proto.scratch = text;
            if prepared.refuse.is_some() {
                return prepared;
            }
        }
    }
    let Some(pass) = &conf.pass else {
        prepared.refuse = Some(500);
        return prepared;
    };
    let mut tls = pass.tls;
    let mut host = String::new();
    match &pass.target {
        CgiTarget::Group(g) => {
            prepared.target.group = *g;
            if tls && let Some(group) = http.upstreams.get(*g) {
                host.clone_from(&group.name);
            }
        }
        CgiTarget::Dynamic(t) => {
            let mut url = std::mem::take(&mut proto.scratch);
            url.clear();
            t.eval(vars, &mut url);
            let found = resolve(module, &url, http, r);
            proto.scratch = url;
            match found {
                Ok((target, is_tls, name)) => {
                    let socket = std::mem::take(&mut prepared.target.socket);
                    prepared.target = target;
                    prepared.target.socket = socket;
                    (tls, host) = (is_tls, name);
                }
                Err(status) => {
                    prepared.refuse = Some(status);
                    return prepared;
                }
            }
        }
    }
    // `suwsgi://`: the name verified (and sent with `uwsgi_ssl_server_name on`).
    if tls && let Some(ssl) = conf.ssl.built.as_ref() {
        let mut name = Vec::new();
        match &conf.ssl.name {
            Some(t) => t.eval(vars, &mut name),
            None => name.extend_from_slice(host.as_bytes()),
        }
        match ssl.config_for(vars) {
            Ok(config) => {
                prepared.target.tls = Some(crate::upstream::TlsTarget::new(config, &name));
            }
            // A certificate pair named by variables that cannot be read: nginx's 500.
            Err(e) => {
                elog!(LogLevel::Error, "*{} {e}, client: {}", r.conn_id, r.client);
                prepared.refuse = Some(500);
                return prepared;
            }
        }
    }
    let group = http.upstreams.get(prepared.target.group);
    if let Some(crate::config::proxy_values::Balance::Hash { key, .. }) = group.map(|g| &g.balance)
    {
        key.eval(vars, &mut prepared.target.hash_key);
    }
    prepared.target.keepalive =
        module == CgiModule::FastCgi && conf.keep_conn() && group.is_none_or(|g| g.keepalive > 0);
    let stored = match r.body {
        BodyShape::Stored(n) if r.head.content_length.is_none() => Some(n),
        _ => None,
    };
    // Only a stored body without a Content-Length (a chunked one) needs the wrapper:
    // other requests look their variables up directly (no second dispatch per variable).
    let with_stored;
    let vars: &dyn VarSource = match stored {
        Some(_) => {
            with_stored = BodyVars {
                inner: vars,
                stored,
            };
            &with_stored
        }
        None => vars,
    };
    let params = conf.params.as_deref();
    // With the module's cache on, the client's conditional and range fields stay home
    // (nginx's `*_cache_headers`, added as empty parameters).
    let caching = conf.cache.cache.as_ref().is_some_and(Option::is_some) && !r.uncached;
    let headers = r
        .head
        .headers
        .iter()
        .filter(|_| conf.pass_request_headers())
        .map(|h| (h.name.get(r.buf), h.value.get(r.buf)))
        .filter(move |(name, _)| !caching || !crate::cache::not_forwarded(name))
        .chain(r.validators.split(|&b| b == b'\n').filter_map(|line| {
            let line = line.strip_suffix(b"\r")?;
            let colon = memchr::memchr(b':', line)?;
            Some((&line[..colon], line[colon + 1..].trim_ascii()))
        }));
    let built = match module {
        CgiModule::FastCgi => packet::fastcgi(conf.keep_conn(), params, vars, headers, r.body, out),
        CgiModule::Uwsgi => packet::uwsgi(conf, params, vars, headers, out),
        CgiModule::Scgi => packet::scgi(params, vars, headers, r.body, out),
    };
    if let Err(len) = built {
        let what = match module {
            CgiModule::FastCgi => "fastcgi request record is too big",
            _ => "uwsgi request is too big",
        };
        elog!(
            LogLevel::Alert,
            "*{} {what}: {len}, client: {}",
            r.conn_id,
            r.client
        );
        prepared.refuse = Some(500);
    }
    prepared
}

/// A `*_pass` with variables, evaluated: an `upstream` group's name, `host:port` with an
/// IP address, or `unix:/path` (`uwsgi://` or `suwsgi://` may lead for uwsgi), with
/// whether it is `suwsgi://` and its host. `Err`: the status to answer, logged as nginx
/// logs it.
fn resolve(
    module: CgiModule,
    url: &[u8],
    http: &HttpConf,
    r: &CgiRequest<'_>,
) -> Result<(Target, bool, String), u16> {
    let mut text = String::from_utf8_lossy(url).into_owned();
    let mut tls = false;
    if module == CgiModule::Uwsgi {
        if text.len() >= 8 && text[..8].eq_ignore_ascii_case("uwsgi://") {
            text.drain(..8);
        } else if text.len() >= 9 && text[..9].eq_ignore_ascii_case("suwsgi://") {
            text.drain(..9);
            tls = true;
        }
    }
    let host = match text.rsplit_once(':') {
        Some((h, _)) if !text.ends_with(']') => h.to_string(),
        _ => text.clone(),
    };
    let target = resolve_address(text, http, r)?;
    Ok((target, tls, host))
}

/// [`resolve`] after the scheme.
fn resolve_address(text: String, http: &HttpConf, r: &CgiRequest<'_>) -> Result<Target, u16> {
    let (conn_id, client) = (r.conn_id, r.client);
    let mut target = Target {
        group: DIRECT,
        ..Target::default()
    };
    if text.len() >= 5 && text[..5].eq_ignore_ascii_case("unix:") {
        let path = &text[5..];
        if path.is_empty() {
            elog!(
                LogLevel::Error,
                "*{conn_id} no path in the unix domain socket in upstream \"{text}\", client: {client}"
            );
            return Err(500);
        }
        target.direct = Some(PeerAddr::Unix(std::rc::Rc::from(std::path::Path::new(
            path,
        ))));
        return Ok(target);
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !text.ends_with(']') => match p.parse::<u16>() {
            Ok(p) if p > 0 => (h.to_string(), Some(p)),
            _ => {
                elog!(
                    LogLevel::Error,
                    "*{conn_id} invalid port in upstream \"{text}\", client: {client}"
                );
                return Err(500);
            }
        },
        _ => (text.clone(), None),
    };
    let lower = host.to_ascii_lowercase();
    // As nginx's ngx_http_upstream_init_request: an `upstream` block by its name (no
    // port), or a group a `*_pass` made for the same host and port.
    if let Some(i) = http.upstreams.iter().position(|g| {
        g.name == lower
            && if g.explicit {
                port.is_none()
            } else {
                port.is_some() && g.pending.as_ref().and_then(|p| p.port) == port
            }
    }) {
        target.group = i;
        return Ok(target);
    }
    let Some(port) = port else {
        elog!(
            LogLevel::Error,
            "*{conn_id} no port in upstream \"{text}\", client: {client}"
        );
        return Err(500);
    };
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    match ip.parse::<IpAddr>() {
        Ok(ip) => target.direct = Some(PeerAddr::Inet(SocketAddr::new(ip, port))),
        // Resolved by the location's `resolver` when the machine chooses its peer.
        Err(_) => {
            target.resolve = Some(host);
            target.port = port;
        }
    }
    Ok(target)
}
