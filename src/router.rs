//! Routing: which `server` a request belongs to (by listen address and `Host`), and which
//! `location` inside it (nginx's algorithm).

/// The location tree is built with the configuration; the search here walks it.
pub use crate::config::location_tree::LocationTree;
use crate::config::location_tree::StaticMatch;
use crate::config::{HttpConf, LocationConf, LocationMatch, ServerConf, ServerName};
use crate::regex::Captures;
use crate::trace::{Step, TraceSlot};
use crate::trace_step;

/// The servers that share one listening address, and the default among them.
#[derive(Debug, Clone)]
pub struct AddrServers {
    /// Indices into `HttpConf::servers`, in config order.
    pub servers: Vec<usize>,
    /// The `default_server`, or the first server listed for the address.
    pub default: usize,
    /// The listen address: a connection's local address unless it is a wildcard.
    pub addr: crate::config::ListenAddr,
    /// `listen ... proxy_protocol`: connections start with a PROXY protocol header.
    pub proxy_protocol: bool,
    /// `listen ... ssl`: connections start with a TLS handshake.
    pub ssl: bool,
    /// `listen ... http2`, or `http2 on` in the default server: connections speak HTTP/2
    /// (prior knowledge in clear; offered by ALPN over TLS, where the server SNI chose
    /// decides for `http2 on`).
    pub http2: bool,
    /// `listen ... http2` itself: HTTP/2 for every server of the address, whatever its
    /// own `http2` says (nginx's `addr_conf->http2`).
    pub listen_http2: bool,
}

/// For each entry of `HttpConf::listens`, the servers on that address.
pub fn servers_by_listen(http: &HttpConf) -> Vec<AddrServers> {
    http.listens
        .iter()
        .map(|l| {
            let mut servers = Vec::new();
            let mut default = None;
            for (i, s) in http.servers.iter().enumerate() {
                if let Some(sl) = s.listens.iter().find(|sl| sl.addr == l.addr) {
                    servers.push(i);
                    if sl.default_server && default.is_none() {
                        default = Some(i);
                    }
                }
            }
            let default = default.or_else(|| servers.first().copied()).unwrap_or(0);
            AddrServers {
                servers,
                default,
                addr: l.addr.clone(),
                proxy_protocol: l.proxy_protocol,
                ssl: l.ssl,
                http2: l.http2 || http.servers.get(default).is_some_and(|s| s.srv.http2),
                listen_http2: l.http2,
            }
        })
        .collect()
}

/// What a request's regex matches write: the captures (`$1`..`$9`) and the values of the
/// variables named groups set (indexed as [`crate::rewrite::RewriteCtx::user`]).
pub struct MatchState<'a> {
    /// The captures of the last match.
    pub captures: &'a mut Captures,
    /// The variables' values.
    pub values: &'a mut [Option<Vec<u8>>],
}

/// Why [`select_server_why`] chose a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerMatch<'a> {
    /// The request named no host: the address's default server.
    NoHost,
    /// A `server_name` equal to the host.
    Exact(&'a str),
    /// The longest leading wildcard (`*.example.com`; `.example.com` when `true`).
    WildcardFront(&'a str, bool),
    /// The longest trailing wildcard (`www.example.*`, stored as `www.example.`).
    WildcardBack(&'a str),
    /// The first regex that matched, by its source.
    Regex(&'a str),
    /// No name matched: the address's default server.
    Default,
}

/// nginx's virtual-server choice: exact name, then the longest leading wildcard, then the
/// longest trailing wildcard, then the first matching regex (whose captures and named
/// groups are recorded in `state`), else the default server. `host` is the request's host,
/// already validated by the parser. `Err`: a regex could not finish
/// matching; nginx's alert line to log (nginx then closes the request).
pub fn select_server(
    http: &HttpConf,
    addr: &AddrServers,
    host: Option<&[u8]>,
    state: MatchState<'_>,
) -> Result<usize, String> {
    select_server_why(http, addr, host, state).map(|(i, _)| i)
}

/// [`select_server`], saying which name matched (for `--explain`).
pub fn select_server_why<'h>(
    http: &'h HttpConf,
    addr: &AddrServers,
    host: Option<&[u8]>,
    state: MatchState<'_>,
) -> Result<(usize, ServerMatch<'h>), String> {
    let Some(host) = host else {
        // No Host: nginx looks up the empty name, which `server_name ""` (and a server
        // without server_name) has.
        let unnamed = addr.servers.iter().copied().find(|&i| {
            http.servers[i]
                .names
                .iter()
                .any(|n| matches!(n, ServerName::Exact(name) if name.is_empty()))
        });
        return Ok((unnamed.unwrap_or(addr.default), ServerMatch::NoHost));
    };
    // (server, length of the wildcard's fixed part, the name).
    let mut front: Option<(usize, usize, ServerMatch<'h>)> = None;
    let mut back: Option<(usize, usize, ServerMatch<'h>)> = None;
    for &i in &addr.servers {
        for name in &http.servers[i].names {
            match name {
                ServerName::Exact(n) if eq_ignore_case(n.as_bytes(), host) => {
                    return Ok((i, ServerMatch::Exact(n)));
                }
                ServerName::WildcardFront(suffix, also_bare) => {
                    let s = suffix.as_bytes();
                    let hit = ends_with_ignore_case(host, s) && host.len() > s.len()
                        || (*also_bare && eq_ignore_case(&s[1..], host));
                    if hit && front.is_none_or(|(_, len, _)| s.len() > len) {
                        front = Some((i, s.len(), ServerMatch::WildcardFront(suffix, *also_bare)));
                    }
                }
                ServerName::WildcardBack(prefix) => {
                    let p = prefix.as_bytes();
                    if host.len() > p.len()
                        && eq_ignore_case(&host[..p.len()], p)
                        && back.is_none_or(|(_, len, _)| p.len() > len)
                    {
                        back = Some((i, p.len(), ServerMatch::WildcardBack(prefix)));
                    }
                }
                _ => {}
            }
        }
    }
    if let Some((i, _, why)) = front.or(back) {
        return Ok((i, why));
    }
    // Regexes last: only a server chosen by one sets captures and variables. nginx matches
    // the host lowercased (ngx_http_validate_host), so captures come out lowercase.
    let lowered;
    let host = if host.iter().any(u8::is_ascii_uppercase) {
        lowered = host.to_ascii_lowercase();
        &lowered[..]
    } else {
        host
    };
    for &i in &addr.servers {
        for name in &http.servers[i].names {
            if let ServerName::Regex(re) = name {
                match re.captures_and_vars(host, state.captures, state.values) {
                    Ok(true) => return Ok((i, ServerMatch::Regex(re.as_str()))),
                    Ok(false) => {}
                    Err(e) => return Err(e.message(host, re)),
                }
            }
        }
    }
    Ok((addr.default, ServerMatch::Default))
}

fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn ends_with_ignore_case(s: &[u8], suffix: &[u8]) -> bool {
    s.len() >= suffix.len() && s[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// How a level's search ended.
enum Search<'a> {
    /// An exact or regex match: the search ends here.
    Found(&'a LocationConf),
    /// The longest prefix (a nested level's if it had one), or none.
    Prefix(Option<&'a LocationConf>),
    /// A regex could not finish matching: nginx's alert line.
    Failed(String),
    /// nginx's auto redirect to this location (the URI lacks its final `/`).
    AutoRedirect(&'a LocationConf),
}

/// nginx's `ngx_http_core_find_location` for one level.
fn find_in<'a>(
    locations: &'a [LocationConf],
    tree: &LocationTree,
    uri: &[u8],
    state: &mut MatchState<'_>,
    trace: &mut TraceSlot<'_>,
) -> Search<'a> {
    let mut noregex = false;
    let mut prefix = None;
    match tree.static_match(uri) {
        StaticMatch::Exact(i) => {
            trace_step!(trace, Step::Exact(&locations[i]));
            return Search::Found(&locations[i]);
        }
        StaticMatch::AutoRedirect(i) => return Search::AutoRedirect(&locations[i]),
        StaticMatch::Prefix((i, nr)) => {
            let l = &locations[i];
            trace_step!(trace, Step::LongestPrefix(l));
            noregex = nr;
            prefix = Some(l);
            if !l.nested.is_empty() {
                trace_step!(trace, Step::Nested(l));
                match find_in(&l.nested, &l.tree, uri, state, trace) {
                    Search::Prefix(Some(nested)) => prefix = Some(nested),
                    Search::Prefix(None) => {}
                    done => return done,
                }
            }
        }
        StaticMatch::None => {}
    }
    if !noregex {
        for &i in tree.regexes() {
            let l = &locations[i];
            let LocationMatch::Regex(re, _) = &l.matcher else {
                continue;
            };
            let matched = re.captures_and_vars(uri, state.captures, state.values);
            trace_step!(
                trace,
                Step::Regex {
                    location: l,
                    matched: matched == Ok(true),
                }
            );
            match matched {
                // nginx then looks up the regex location's own nested locations.
                Ok(true) if l.nested.is_empty() => return Search::Found(l),
                Ok(true) => {
                    trace_step!(trace, Step::Nested(l));
                    return match find_in(&l.nested, &l.tree, uri, state, trace) {
                        Search::Prefix(nested) => Search::Found(nested.unwrap_or(l)),
                        done => done,
                    };
                }
                Ok(false) => {}
                Err(e) => return Search::Failed(e.message(uri, re)),
            }
        }
    }
    Search::Prefix(prefix)
}

/// nginx's location search for a normalised URI: `=` exact match wins; else the longest
/// prefix (searching its nested locations); a `^~` prefix stops there; else regexes in config
/// order (nested ones first; the one that matches records its captures and named groups in
/// `state`); else the longest prefix. `Ok(None)`: no location matched. `Err`: a regex could
/// not finish matching, nginx's alert line to log (the request then ends with 500).
pub fn find_location<'a>(
    server: &'a ServerConf,
    uri: &[u8],
    state: MatchState<'_>,
) -> Result<Option<Found<'a>>, String> {
    find_location_traced(server, uri, state, &mut None)
}

/// [`find_location`], telling `trace` each location it considers.
pub fn find_location_traced<'a>(
    server: &'a ServerConf,
    uri: &[u8],
    mut state: MatchState<'_>,
    trace: &mut TraceSlot<'_>,
) -> Result<Option<Found<'a>>, String> {
    let at = |location| Found {
        location,
        auto_redirect: false,
    };
    match find_in(&server.locations, &server.tree, uri, &mut state, trace) {
        Search::Found(location) => Ok(Some(at(location))),
        Search::Prefix(location) => Ok(location.map(at)),
        Search::AutoRedirect(location) => Ok(Some(Found {
            location,
            auto_redirect: true,
        })),
        Search::Failed(line) => Err(line),
    }
}

/// Where the location search led.
#[derive(Debug)]
pub struct Found<'a> {
    /// The location.
    pub location: &'a LocationConf,
    /// The URI is the location's name without its final `/` and the location proxies: nginx
    /// answers 301 to the name (`clcf->auto_redirect`), under that location's settings.
    pub auto_redirect: bool,
}

/// Finds `location @name` in a server.
pub fn find_named<'a>(server: &'a ServerConf, name: &str) -> Option<&'a LocationConf> {
    server
        .tree
        .named()
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, i)| server.locations.get(*i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testutil::{http, load_ok};

    /// Searches `uri`, returning the location and the captures.
    fn find<'a>(server: &'a ServerConf, uri: &[u8]) -> (Option<&'a LocationConf>, Captures) {
        let mut captures = Captures::default();
        let state = MatchState {
            captures: &mut captures,
            values: &mut [],
        };
        let found = find_location(server, uri, state).expect("no match error");
        (found.map(|f| f.location), captures)
    }

    fn which(server: &ServerConf, uri: &str) -> String {
        match find(server, uri.as_bytes()).0 {
            Some(l) => match &l.matcher {
                LocationMatch::Exact(s) => format!("= {s}"),
                LocationMatch::Prefix(s) => s.clone(),
                LocationMatch::PrefixNoRegex(s) => format!("^~ {s}"),
                LocationMatch::Regex(r, _) => format!("~ {}", r.as_str()),
                LocationMatch::Named(n) => n.clone(),
            },
            None => "none".to_string(),
        }
    }

    /// The example from nginx's documentation of `location`.
    #[test]
    fn nginx_documented_example() {
        let c = load_ok(&http(
            "server { listen 8000;
               location = / { }
               location / { }
               location /documents/ { }
               location ^~ /images/ { }
               location ~* \\.(gif|jpg|jpeg)$ { } }",
        ));
        let s = &c.http.as_ref().unwrap().servers[0];
        assert_eq!(which(s, "/"), "= /");
        assert_eq!(which(s, "/index.html"), "/");
        assert_eq!(which(s, "/documents/document.html"), "/documents/");
        assert_eq!(which(s, "/images/1.gif"), "^~ /images/");
        assert_eq!(which(s, "/documents/1.jpg"), "~ \\.(gif|jpg|jpeg)$");
        assert_eq!(which(s, "/DOCUMENTS/1.JPG"), "~ \\.(gif|jpg|jpeg)$");
    }

    #[test]
    fn nested_regex_wins_over_outer_regex_and_longest_prefix_is_kept() {
        let c = load_ok(&http(
            "server { listen 8000;
               location /a/ { location ~ \\.php$ { } }
               location ~ \\.(php|txt)$ { }
               location /a/b/ { } }",
        ));
        let s = &c.http.as_ref().unwrap().servers[0];
        assert_eq!(which(s, "/a/x.php"), "~ \\.php$");
        assert_eq!(which(s, "/a/x.txt"), "~ \\.(php|txt)$");
        assert_eq!(which(s, "/a/b/c.html"), "/a/b/");
        assert_eq!(which(s, "/zzz"), "none");
    }

    #[test]
    fn a_regex_location_searches_its_nested_locations() {
        let c = load_ok(&http(
            "server { listen 8000;
               location ~ ^/app/ { location ~ \\.php$ { } location ~ ^/app/(?<rest>.*)$ { } }
               location / { } }",
        ));
        let s = &c.http.as_ref().unwrap().servers[0];
        assert_eq!(which(s, "/app/x.php"), "~ \\.php$");
        assert_eq!(which(s, "/app/x.html"), "~ ^/app/(?<rest>.*)$");
        assert_eq!(which(s, "/other"), "/");
    }

    #[test]
    fn trie_keeps_exact_and_prefix_of_one_string_apart() {
        let c = load_ok(&http(
            "server { listen 8000;
               location = /a { }
               location /a { }
               location /ab { }
               location /abc/def { }
               location /b/ { }
               location @named { } }",
        ));
        let s = &c.http.as_ref().unwrap().servers[0];
        assert_eq!(which(s, "/a"), "= /a");
        assert_eq!(which(s, "/a/"), "/a");
        assert_eq!(which(s, "/ab"), "/ab");
        assert_eq!(which(s, "/abc/de"), "/ab");
        assert_eq!(which(s, "/abc/def/g"), "/abc/def");
        assert_eq!(which(s, "/b"), "none");
        assert_eq!(which(s, ""), "none");
        // Named locations are not found by URI, only by name.
        assert_eq!(which(s, "@named"), "none");
        assert!(find_named(s, "@named").is_some());
        assert!(find_named(s, "@other").is_none());
    }

    #[test]
    fn regexes_match_bytes_like_pcre() {
        let c = load_ok(&http(
            "server { listen 8000; location ~ ^/b/(.*)$ { } location ~* é$ { } }",
        ));
        let s = &c.http.as_ref().unwrap().servers[0];
        let (found, caps) = find(s, b"/b/\xff\xfe");
        assert!(found.is_some(), "invalid UTF-8 still matches");
        assert_eq!(caps.get(1), Some(&b"\xff\xfe"[..]));
        assert_eq!(which(s, "/x/caf\u{e9}"), "~ é$");
    }

    #[test]
    fn regex_location_captures_are_returned() {
        let c = load_ok(&http(
            "server { listen 8000; location ~ ^/u/(\\d+)/(.*)$ { } }",
        ));
        let s = &c.http.as_ref().unwrap().servers[0];
        let (found, caps) = find(s, b"/u/42/x.png");
        assert!(found.is_some());
        assert_eq!(caps.get(1), Some(&b"42"[..]));
        assert_eq!(caps.get(2), Some(&b"x.png"[..]));
    }

    #[test]
    fn server_names_exact_then_wildcards_then_regex_then_default() {
        let c = load_ok(&http(
            "server { listen 8000; server_name a.example.com; }
             server { listen 8000; server_name *.example.com; }
             server { listen 8000; server_name www.example.*; }
             server { listen 8000 default_server; server_name ~^(\\w+)\\.org$; }
             server { listen 8000; server_name .example.org; }",
        ));
        let h = c.http.as_ref().unwrap();
        let addrs = servers_by_listen(h);
        let mut captures = Captures::default();
        let mut pick_host = |host: Option<&str>| {
            let state = MatchState {
                captures: &mut captures,
                values: &mut [],
            };
            select_server(h, &addrs[0], host.map(str::as_bytes), state).expect("no match error")
        };
        let mut pick = |host: &str| pick_host(Some(host));
        assert_eq!(pick("A.Example.com"), 0);
        assert_eq!(pick("b.example.com"), 1);
        assert_eq!(pick("www.example.net"), 2);
        assert_eq!(pick("foo.org"), 3);
        assert_eq!(pick("example.org"), 4);
        assert_eq!(pick("x.example.org"), 4);
        assert_eq!(pick("unknown.test"), 3);
        assert_eq!(pick_host(None), 3);
    }
}
