//! The request head sent upstream: nginx's URI rules for `proxy_pass` and its header list
//! (`ngx_http_proxy_create_request`).
//!
//! Headers, in nginx's order: every `proxy_set_header` of the location (in config order; an
//! empty value sends nothing), then the defaults the location did not set (`Host:
//! $proxy_host`; `Connection: close` only where the connection will not be cached — over
//! HTTP/1.1 with the keep-alive pool no `Connection` header is needed, keep-alive being
//! HTTP/1.1's default), the body's framing, then the client's headers minus the ones set
//! above and the hop-by-hop ones (`Connection`, `Keep-Alive`, `TE`, `Upgrade`, `Expect`,
//! `Proxy-Connection`, `Transfer-Encoding`, `Content-Length`).

use crate::http::uri;
use crate::vars::{Var, VarSource};

/// Client headers never copied upstream (hop-by-hop, or rebuilt by the proxy).
const NOT_FORWARDED: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "te",
    "upgrade",
    "expect",
    "proxy-connection",
    "transfer-encoding",
    "content-length",
];

/// Builds the URI sent upstream.
///
/// - `pass_uri`: the URI part of a fixed `proxy_pass` URL (`None` when it has none);
/// - `location`: the matched location's prefix, replaced by `pass_uri`;
/// - `uri`: the request's normalised (decoded) URI, `request_uri` the target as sent;
/// - `rewritten`: the URI was changed by `rewrite ... break`, so the changed URI is passed.
pub fn upstream_uri(
    pass_uri: Option<&[u8]>,
    location: &[u8],
    uri: &[u8],
    request_uri: &[u8],
    args: Option<&[u8]>,
    rewritten: bool,
    out: &mut Vec<u8>,
) {
    out.clear();
    match pass_uri {
        None if !rewritten => out.extend_from_slice(request_uri),
        None => {
            uri::escape_uri(uri, out);
            push_args(args, out);
        }
        Some(p) if rewritten => {
            let _ = p;
            uri::escape_uri(uri, out);
            push_args(args, out);
        }
        Some(p) => {
            out.extend_from_slice(p);
            let rest = if uri.len() >= location.len() && uri[..location.len()] == *location {
                &uri[location.len()..]
            } else {
                uri
            };
            uri::escape_uri(rest, out);
            push_args(args, out);
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
}

fn push_args(args: Option<&[u8]>, out: &mut Vec<u8>) {
    if let Some(a) = args {
        out.push(b'?');
        out.extend_from_slice(a);
    }
}

/// A URL with variables, evaluated: `http://HOST[:PORT][/URI]` or
/// `http://unix:/PATH[:URI]`.
#[derive(Debug, PartialEq, Eq)]
pub struct EvaluatedUrl {
    /// The host as written (the socket's path for `unix:`).
    pub host: String,
    /// The port (80 when absent).
    pub port: u16,
    /// Whether a port was written.
    pub port_given: bool,
    /// The URI part, if any (one starting with `?` gets a leading `/`, as nginx's
    /// `ngx_http_proxy_eval` gives it).
    pub uri: Option<Vec<u8>>,
    /// A unix-domain socket: `host` is its path.
    pub unix: bool,
    /// `https://`: the connection speaks TLS (default port 443).
    pub tls: bool,
}

/// Parses an evaluated `proxy_pass` URL; `None` if it is not `http://host...` or
/// `https://host...`.
pub fn parse_url(url: &[u8]) -> Option<EvaluatedUrl> {
    let (rest, tls) = if url.len() > 7 && url[..7].eq_ignore_ascii_case(b"http://") {
        (&url[7..], false)
    } else if url.len() > 8 && url[..8].eq_ignore_ascii_case(b"https://") {
        (&url[8..], true)
    } else {
        return None;
    };
    let default_port = if tls { 443 } else { 80 };
    // `?b=1` alone is not a request-target: nginx sends `/?b=1`.
    let uri_part = |uri: &[u8]| -> Option<Vec<u8>> {
        match uri.first() {
            None => None,
            Some(b'?') => {
                let mut with_slash = Vec::with_capacity(uri.len() + 1);
                with_slash.push(b'/');
                with_slash.extend_from_slice(uri);
                Some(with_slash)
            }
            Some(_) => Some(uri.to_vec()),
        }
    };
    if rest.len() >= 5 && rest[..5].eq_ignore_ascii_case(b"unix:") {
        let rest = &rest[5..];
        let (path, uri) = match memchr::memchr(b':', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &b""[..]),
        };
        let path = std::str::from_utf8(path).ok()?;
        // sun_path holds 108 bytes with its NUL.
        if path.is_empty() || path.len() + 1 > 108 {
            return None;
        }
        return Some(EvaluatedUrl {
            host: path.to_string(),
            port: 0,
            port_given: false,
            uri: uri_part(uri),
            unix: true,
            tls,
        });
    }
    let split = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    let (hostport, uri) = rest.split_at(split);
    let hostport = std::str::from_utf8(hostport).ok()?;
    let (host, port, port_given) = match hostport.rfind(':') {
        Some(i) if !hostport.ends_with(']') => {
            (&hostport[..i], hostport[i + 1..].parse::<u16>().ok()?, true)
        }
        _ => (hostport, default_port, false),
    };
    if host.is_empty() {
        return None;
    }
    Some(EvaluatedUrl {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
        port_given,
        uri: uri_part(uri),
        unix: false,
        tls,
    })
}

/// Where an evaluated URL goes.
#[derive(Debug, PartialEq, Eq)]
pub enum DynamicTarget {
    /// An upstream group: an `upstream {}` block named by the host (no port written), or
    /// the group a fixed `proxy_pass` made for the same host and port
    /// (`ngx_http_upstream_init_request` searches both).
    Group(usize),
    /// An IP address or a unix-domain socket.
    Direct(crate::config::proxy_values::PeerAddr),
    /// A name that needs the resolver.
    Unresolved,
}

/// Finds where an evaluated `proxy_pass` URL goes.
pub fn dynamic_target(u: &EvaluatedUrl, http: &crate::config::HttpConf) -> DynamicTarget {
    use crate::config::proxy_values::PeerAddr;
    if u.unix {
        return DynamicTarget::Direct(PeerAddr::Unix(std::rc::Rc::from(std::path::Path::new(
            &u.host,
        ))));
    }
    let lower = u.host.to_ascii_lowercase();
    let found = http.upstreams.iter().position(|g| {
        g.name == lower
            && if g.explicit {
                !u.port_given
            } else {
                g.pending
                    .as_ref()
                    .is_some_and(|p| p.port.unwrap_or(80) == u.port)
            }
    });
    if let Some(i) = found {
        return DynamicTarget::Group(i);
    }
    match u.host.parse::<std::net::IpAddr>() {
        Ok(ip) => DynamicTarget::Direct(PeerAddr::Inet(std::net::SocketAddr::new(ip, u.port))),
        Err(_) => DynamicTarget::Unresolved,
    }
}

/// `$proxy_host` and `$proxy_port` of an evaluated URL (`ngx_http_proxy_set_vars`): the host
/// with its port unless that is 80; `localhost` and no port for a unix-domain socket (port
/// 0 shows as empty).
pub fn dynamic_proxy_host(u: &EvaluatedUrl) -> (std::sync::Arc<str>, u16) {
    if u.unix {
        return ("localhost".into(), 0);
    }
    let host = if u.host.contains(':') {
        format!("[{}]", u.host)
    } else {
        u.host.clone()
    };
    if u.port_given && u.port != if u.tls { 443 } else { 80 } {
        (format!("{host}:{}", u.port).into(), u.port)
    } else {
        (host.into(), u.port)
    }
}

/// The request's `proxy_bind` and `proxy_socket_keepalive`: a bind address with variables
/// is evaluated now (empty: no bind; not an address: nginx's error line, no bind).
pub fn socket_options(
    loc: &crate::config::LocSettings,
    vars: &dyn VarSource,
    conn_id: u64,
    client: crate::client_addr::ClientIp,
) -> crate::upstream::connect::SocketOptions {
    use crate::config::proxy_rest::{ProxyBind, parse_addr_port};
    let (bind, transparent) = match &loc.proxy_bind {
        ProxyBind::Off => (None, false),
        ProxyBind::Fixed { addr, transparent } => (Some(*addr), *transparent),
        ProxyBind::Dynamic { addr, transparent } => {
            let mut text = Vec::new();
            addr.eval(vars, &mut text);
            let parsed = std::str::from_utf8(&text).ok().and_then(parse_addr_port);
            if parsed.is_none() && !text.is_empty() {
                crate::elog!(
                    crate::log::LogLevel::Error,
                    "*{conn_id} invalid local address \"{}\", client: {client}",
                    String::from_utf8_lossy(&text)
                );
            }
            (parsed, *transparent)
        }
    };
    crate::upstream::connect::SocketOptions {
        bind,
        transparent,
        keepalive: loc.proxy_socket_keepalive,
    }
}

/// Variables the proxy adds to a request's own (`$proxy_host`, `$proxy_port`,
/// `$proxy_add_x_forwarded_for`).
pub struct ProxyVars<'a> {
    /// The request's variables.
    pub inner: &'a dyn VarSource,
    /// `$proxy_host`
    pub host: &'a str,
    /// `$proxy_port`
    pub port: u16,
    /// The client's `X-Forwarded-For`, if sent.
    pub forwarded_for: Option<&'a [u8]>,
    /// `$remote_addr`
    pub remote_addr: crate::client_addr::ClientIp,
    /// `$proxy_internal_body_length`: the body length sent upstream, when known.
    pub body_length: Option<u64>,
    /// `$proxy_internal_chunked`: the body goes upstream chunked.
    pub chunked: bool,
}

impl VarSource for ProxyVars<'_> {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        use std::io::Write;
        match var {
            Var::Upstream(name) => match name.as_str() {
                "proxy_host" => out.extend_from_slice(self.host.as_bytes()),
                "proxy_port" => {
                    if self.port != 0 {
                        let _ = write!(out, "{}", self.port);
                    }
                }
                "proxy_add_x_forwarded_for" => {
                    if let Some(f) = self.forwarded_for {
                        out.extend_from_slice(f);
                        out.extend_from_slice(b", ");
                    }
                    let _ = write!(out, "{}", self.remote_addr);
                }
                "proxy_internal_body_length" => match self.body_length {
                    Some(n) => {
                        let _ = write!(out, "{n}");
                    }
                    None => return false,
                },
                "proxy_internal_chunked" if self.chunked => out.extend_from_slice(b"chunked"),
                "proxy_internal_chunked" => return false,
                _ => return self.inner.var(var, out),
            },
            _ => return self.inner.var(var, out),
        }
        true
    }
}

/// What the header list decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HeadFacts {
    /// A `Connection` header was set by `proxy_set_header`.
    pub connection_set: bool,
    /// That header asks to close (so the connection is not cached).
    pub connection_close: bool,
    /// `Connection: upgrade` with a non-empty `Upgrade` header.
    pub upgrade: bool,
    /// Where the body's `Content-Length` or `Transfer-Encoding` line starts in the head
    /// (a buffered body's length replaces it once known).
    pub framing_at: Option<usize>,
}

/// Everything about the request that shapes its upstream head.
pub struct HeadInput<'a> {
    /// Method as sent.
    pub method: &'a [u8],
    /// The upstream URI.
    pub uri: &'a [u8],
    /// `proxy_http_version` minor (0 or 1).
    pub http_minor: u8,
    /// `proxy_set_header` entries.
    pub set: &'a [(String, crate::vars::Template)],
    /// `$proxy_host` (the default `Host`).
    pub proxy_host: &'a str,
    /// Whether the connection may be cached after the response.
    pub keepalive: bool,
    /// The body's framing upstream: `Some(len)` for Content-Length, chunked otherwise when
    /// `chunked` is set.
    pub content_length: Option<u64>,
    /// The body is chunked.
    pub chunked: bool,
    /// The client's header lines (name, value).
    pub client_headers: &'a [(&'a [u8], &'a [u8])],
    /// The location caches (`proxy_cache`): the client's conditional and range fields stay
    /// home, as nginx's `ngx_http_proxy_cache_headers` set them empty.
    pub cached: bool,
}

/// Appends the upstream request head to `out`.
pub fn build_head(input: &HeadInput<'_>, vars: &dyn VarSource, out: &mut Vec<u8>) -> HeadFacts {
    let mut facts = HeadFacts::default();
    // Room for the request line, the client's headers and a few of our own, so the head is
    // one allocation.
    let client_bytes: usize = input
        .client_headers
        .iter()
        .map(|(n, v)| n.len() + v.len() + 4)
        .sum();
    out.reserve(input.method.len() + input.uri.len() + input.proxy_host.len() + client_bytes + 128);
    out.extend_from_slice(input.method);
    out.push(b' ');
    out.extend_from_slice(input.uri);
    out.extend_from_slice(if input.http_minor == 0 {
        b" HTTP/1.0\r\n"
    } else {
        b" HTTP/1.1\r\n"
    });
    let is_set = |name: &str| input.set.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut value = Vec::new();
    let mut upgrade_value = false;
    for (name, template) in input.set {
        value.clear();
        template.eval(vars, &mut value);
        if value.is_empty() {
            continue;
        }
        if name.eq_ignore_ascii_case("connection") {
            facts.connection_set = true;
            let lower = value.to_ascii_lowercase();
            facts.connection_close = memchr::memmem::find(&lower, b"close").is_some();
            facts.upgrade = memchr::memmem::find(&lower, b"upgrade").is_some();
        }
        if name.eq_ignore_ascii_case("upgrade") {
            upgrade_value = true;
        }
        push(out, name.as_bytes(), &value);
    }
    facts.upgrade &= upgrade_value;
    if !is_set("host") {
        push(out, b"Host", input.proxy_host.as_bytes());
    }
    if !facts.connection_set && (!input.keepalive || input.http_minor == 0) {
        push(out, b"Connection", b"close");
    }
    if !is_set("content-length") && !is_set("transfer-encoding") {
        facts.framing_at = Some(out.len());
        if let Some(len) = input.content_length {
            let mut digits = Vec::with_capacity(20);
            let _ = std::io::Write::write_fmt(&mut digits, format_args!("{len}"));
            push(out, b"Content-Length", &digits);
        } else if input.chunked {
            push(out, b"Transfer-Encoding", b"chunked");
        } else {
            facts.framing_at = None;
        }
    }
    for (name, v) in input.client_headers {
        let skip = NOT_FORWARDED
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(name))
            || (input.cached && crate::cache::not_forwarded(name))
            || input
                .set
                .iter()
                .any(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name));
        if !skip {
            push(out, name, v);
        }
    }
    out.extend_from_slice(b"\r\n");
    facts
}

fn push(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::Template;

    fn uri(pass: Option<&str>, loc: &str, u: &str, raw: &str, args: Option<&str>) -> String {
        let mut out = Vec::new();
        upstream_uri(
            pass.map(str::as_bytes),
            loc.as_bytes(),
            u.as_bytes(),
            raw.as_bytes(),
            args.map(str::as_bytes),
            false,
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn nginx_uri_rules() {
        // No URI part: the request URI as the client sent it.
        assert_eq!(
            uri(None, "/", "/a b", "/a%20b?x=1", Some("x=1")),
            "/a%20b?x=1"
        );
        assert_eq!(uri(None, "/app/", "/app//x", "/app//x", None), "/app//x");
        // A URI part replaces the matched prefix.
        assert_eq!(
            uri(Some("/"), "/app/", "/app/x/y", "", Some("q=1")),
            "/x/y?q=1"
        );
        assert_eq!(
            uri(Some("/v2/"), "/api/", "/api/users", "", None),
            "/v2/users"
        );
        assert_eq!(
            uri(Some("/base"), "/api", "/api/a b", "", None),
            "/base/a%20b"
        );
        assert_eq!(uri(Some("/exact"), "/e", "/e", "", None), "/exact");
        let mut out = Vec::new();
        upstream_uri(
            Some(b"/v2/"),
            b"/api/",
            b"/new",
            b"/api/x",
            None,
            true,
            &mut out,
        );
        assert_eq!(out, b"/new");
    }

    #[test]
    fn evaluated_urls() {
        assert_eq!(
            parse_url(b"http://127.0.0.1:8080/a?b"),
            Some(EvaluatedUrl {
                host: "127.0.0.1".into(),
                port: 8080,
                port_given: true,
                uri: Some(b"/a?b".to_vec()),
                unix: false,
                tls: false,
            })
        );
        assert_eq!(
            parse_url(b"http://up").map(|u| (u.port, u.uri)),
            Some((80, None))
        );
        assert_eq!(parse_url(b"ftp://x"), None);
        assert_eq!(parse_url(b"http://:80/"), None);
    }

    struct NoVars;
    impl VarSource for NoVars {
        fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
            match var {
                Var::RemoteAddr => out.extend_from_slice(b"10.0.0.1"),
                Var::Http(n) if n == "host" => out.extend_from_slice(b"example.com"),
                _ => return false,
            }
            true
        }
    }

    #[test]
    fn header_list_follows_nginx() {
        let set = vec![
            ("Host".to_string(), Template::compile("$http_host").unwrap()),
            (
                "X-Real-IP".to_string(),
                Template::compile("$remote_addr").unwrap(),
            ),
            (
                "Accept-Encoding".to_string(),
                Template::compile("").unwrap(),
            ),
        ];
        let client: Vec<(&[u8], &[u8])> = vec![
            (b"Host", b"example.com"),
            (b"Connection", b"keep-alive"),
            (b"Accept-Encoding", b"gzip"),
            (b"User-Agent", b"t"),
            (b"Keep-Alive", b"300"),
            (b"Content-Length", b"5"),
        ];
        let input = HeadInput {
            cached: false,
            method: b"POST",
            uri: b"/x",
            http_minor: 1,
            set: &set,
            proxy_host: "backend",
            keepalive: true,
            content_length: Some(5),
            chunked: false,
            client_headers: &client,
        };
        let mut out = Vec::new();
        let facts = build_head(&input, &NoVars, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "POST /x HTTP/1.1\r\nHost: example.com\r\nX-Real-IP: 10.0.0.1\r\n\
             Content-Length: 5\r\nUser-Agent: t\r\n\r\n"
        );
        let at = text.find("Content-Length").unwrap();
        assert_eq!(
            facts,
            HeadFacts {
                framing_at: Some(at),
                ..HeadFacts::default()
            }
        );
        // Without the pool (or over HTTP/1.0), nginx's default Connection: close.
        let input = HeadInput {
            cached: false,
            keepalive: false,
            set: &[],
            content_length: None,
            chunked: true,
            ..input
        };
        let mut out = Vec::new();
        build_head(&input, &NoVars, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST /x HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\
             Transfer-Encoding: chunked\r\nAccept-Encoding: gzip\r\nUser-Agent: t\r\n\r\n"
        );
        let vars = ProxyVars {
            inner: &NoVars,
            host: "h",
            port: 81,
            forwarded_for: Some(b"1.2.3.4"),
            remote_addr: std::net::IpAddr::from([10, 0, 0, 1]).into(),
            body_length: None,
            chunked: false,
        };
        let mut out = Vec::new();
        Template::compile("$proxy_add_x_forwarded_for|$proxy_host:$proxy_port")
            .unwrap()
            .eval(&vars, &mut out);
        assert_eq!(out, b"1.2.3.4, 10.0.0.1|h:81");
    }
}
