//! Routing: which `server` a request belongs to (by listen address and `Host`), and which
//! `location` inside it (nginx's algorithm).

use crate::config::{HttpConf, LocationConf, LocationMatch, ServerConf, ServerName};

/// The servers that share one listening address, and the default among them.
#[derive(Debug, Clone)]
pub struct AddrServers {
    /// Indices into `HttpConf::servers`, in config order.
    pub servers: Vec<usize>,
    /// The `default_server`, or the first server listed for the address.
    pub default: usize,
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
            AddrServers { servers, default }
        })
        .collect()
}

/// nginx's virtual-server choice: exact name, then the longest leading wildcard, then the
/// longest trailing wildcard, then the first matching regex, else the default server.
/// `host` is the request's host, already validated and lowercased by the parser.
pub fn select_server(http: &HttpConf, addr: &AddrServers, host: Option<&[u8]>) -> usize {
    let Some(host) = host else {
        return addr.default;
    };
    let mut front: Option<(usize, usize)> = None;
    let mut back: Option<(usize, usize)> = None;
    let mut regex: Option<usize> = None;
    for &i in &addr.servers {
        for name in &http.servers[i].names {
            match name {
                ServerName::Exact(n) if eq_ignore_case(n.as_bytes(), host) => return i,
                ServerName::WildcardFront(suffix, also_bare) => {
                    let s = suffix.as_bytes();
                    let hit = ends_with_ignore_case(host, s) && host.len() > s.len()
                        || (*also_bare && eq_ignore_case(&s[1..], host));
                    if hit && front.is_none_or(|(_, len)| s.len() > len) {
                        front = Some((i, s.len()));
                    }
                }
                ServerName::WildcardBack(prefix) => {
                    let p = prefix.as_bytes();
                    if host.len() > p.len()
                        && eq_ignore_case(&host[..p.len()], p)
                        && back.is_none_or(|(_, len)| p.len() > len)
                    {
                        back = Some((i, p.len()));
                    }
                }
                ServerName::Regex(re) if regex.is_none() && re.is_match(host) => regex = Some(i),
                _ => {}
            }
        }
    }
    front
        .map(|f| f.0)
        .or(back.map(|b| b.0))
        .or(regex)
        .unwrap_or(addr.default)
}

fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn ends_with_ignore_case(s: &[u8], suffix: &[u8]) -> bool {
    s.len() >= suffix.len() && s[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

enum Found<'a> {
    /// An exact or regex match: the search is over.
    Final(&'a LocationConf),
    /// The longest prefix so far, and whether it was `^~`.
    Prefix(&'a LocationConf, bool),
    None,
}

fn find<'a>(locations: &'a [LocationConf], uri: &[u8]) -> Found<'a> {
    let mut best: Option<(&LocationConf, usize, bool)> = None;
    for l in locations {
        match &l.matcher {
            LocationMatch::Exact(s) if s.as_bytes() == uri => return Found::Final(l),
            LocationMatch::Prefix(s) | LocationMatch::PrefixNoRegex(s)
                if uri.starts_with(s.as_bytes()) && best.is_none_or(|b| s.len() > b.1) =>
            {
                let noregex = matches!(l.matcher, LocationMatch::PrefixNoRegex(_));
                best = Some((l, s.len(), noregex));
            }
            _ => {}
        }
    }
    let mut prefix = best.map(|(l, _, noregex)| (l, noregex));
    if let Some((l, _)) = prefix
        && !l.nested.is_empty()
    {
        match find(&l.nested, uri) {
            Found::Final(f) => return Found::Final(f),
            Found::Prefix(p, noregex) => prefix = Some((p, noregex)),
            Found::None => {}
        }
    }
    if let Some((l, true)) = prefix {
        return Found::Prefix(l, true);
    }
    for l in locations {
        if let LocationMatch::Regex(re, _) = &l.matcher
            && re.is_match(uri)
        {
            return Found::Final(l);
        }
    }
    match prefix {
        Some((l, noregex)) => Found::Prefix(l, noregex),
        None => Found::None,
    }
}

/// nginx's location search for a normalised URI: `=` exact match wins; else the longest
/// prefix (searching its nested locations); a `^~` prefix stops there; else regexes in config
/// order (nested ones first); else the longest prefix. `None`: no location matched.
pub fn find_location<'a>(server: &'a ServerConf, uri: &[u8]) -> Option<&'a LocationConf> {
    match find(&server.locations, uri) {
        Found::Final(l) | Found::Prefix(l, _) => Some(l),
        Found::None => None,
    }
}

/// Finds `location @name` in a server.
pub fn find_named<'a>(server: &'a ServerConf, name: &str) -> Option<&'a LocationConf> {
    server
        .locations
        .iter()
        .find(|l| matches!(&l.matcher, LocationMatch::Named(n) if n == name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testutil::{http, load_ok};

    fn which(server: &ServerConf, uri: &str) -> String {
        match find_location(server, uri.as_bytes()) {
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
        let pick = |host: &str| select_server(h, &addrs[0], Some(host.as_bytes()));
        assert_eq!(pick("A.Example.com"), 0);
        assert_eq!(pick("b.example.com"), 1);
        assert_eq!(pick("www.example.net"), 2);
        assert_eq!(pick("foo.org"), 3);
        assert_eq!(pick("example.org"), 4);
        assert_eq!(pick("x.example.org"), 4);
        assert_eq!(pick("unknown.test"), 3);
        assert_eq!(select_server(h, &addrs[0], None), 3);
    }
}
