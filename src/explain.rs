//! `portico -t --explain "GET http://example.com/static/a.css?x=1"`: which server and location
//! answer a request, and why. The request goes through the worker's own routing (see
//! [`crate::worker::explain`]) with a [`Trace`] that writes each step as a line: the listen
//! address and server (and which `server_name` matched), every location tried, each
//! `rewrite`, `return`, `if` and `set` with the values before and after, internal
//! redirects, `try_files` probes, and the answer — the response head with the file it
//! sends, or the upstream request and the order in which servers would be tried.
//!
//! Options: `-H 'Name: value'` (repeatable) adds a header, `--client ADDR[:PORT]` sets the
//! client's address (default `127.0.0.1`), `--listen [ADDR:]PORT` the address the request
//! came to (default: a `listen` on the URL's port, else the first). Nothing is sent to any
//! client or upstream; `if (-f ...)`, `try_files` and the static handler look at the files.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::cli::Args;
use crate::config::{self, HttpConf, LoadOptions, LocationConf, LocationMatch, ServerConf};
use crate::elog;
use crate::log::LogLevel;
use crate::rewrite::{Condition, FileTest, Flag, Outcome};
use crate::router::ServerMatch;
use crate::trace::{Probe, Step, Trace};
use crate::vars::Var;
use crate::worker::explain::{self as driver, Answer};

/// `--explain REQUEST` and the options that describe the request further.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Explain {
    /// `METHOD URL [HTTP/1.x]`.
    pub request: String,
    /// `-H 'Name: value'`, in order.
    pub headers: Vec<String>,
    /// `--client ADDR[:PORT]`: the client's address.
    pub client: Option<String>,
    /// `--listen [ADDR:]PORT`: the listening address the request came to.
    pub listen: Option<String>,
}

/// Width of the first column.
const LABEL: usize = 10;

/// Runs `--explain`: prints the routing on stdout and returns the exit code (0 once the
/// request was routed, whatever its status; 1 for a configuration that does not load or
/// a request that cannot be read).
pub fn run(_args: &Args, opts: &LoadOptions, explain: &Explain) -> i32 {
    let config = match config::load(opts) {
        Ok(c) => c,
        Err(e) => {
            elog!(LogLevel::Emerg, "{e}");
            eprintln!(
                "{}: configuration file {} test failed",
                crate::NAME,
                opts.full_file().display()
            );
            return 1;
        }
    };
    let request = match Parsed::from_options(explain) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: --explain: {e}", crate::NAME);
            return 1;
        }
    };
    let Some(http) = config.http.as_ref() else {
        eprintln!(
            "{}: --explain: the configuration has no http block",
            crate::NAME
        );
        return 1;
    };
    let mut out = Recorder::new(http);
    let head = String::from_utf8_lossy(&request.head).into_owned();
    let mut label = "request";
    for l in head.split("\r\n").filter(|l| !l.is_empty()) {
        out.line(label, l);
        label = "";
    }
    out.line("client", &request.peer.to_string());
    let input = driver::Request {
        head: &request.head,
        peer: request.peer,
        local: request.local,
        port: request.port,
    };
    let answer = driver::explain(&config, &input, &mut out);
    let mut text = std::mem::take(&mut out.text);
    match answer {
        Ok(answer) => {
            describe_answer(&answer, &mut text);
            print!("{text}");
            0
        }
        Err(e) => {
            print!("{text}");
            eprintln!("{}: --explain: {e}", crate::NAME);
            1
        }
    }
}

/// The request as the command line describes it.
struct Parsed {
    /// The whole head.
    head: Vec<u8>,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    port: Option<u16>,
}

impl Parsed {
    fn from_options(explain: &Explain) -> Result<Parsed, String> {
        let words: Vec<&str> = explain.request.split_whitespace().collect();
        let (method, target, version) = match words[..] {
            [method, target] => (method, target, "HTTP/1.1"),
            [method, target, version] => (method, target, version),
            _ => {
                return Err(format!(
                    "\"{}\" is not a request line: give \"METHOD URL\", as in \"GET http://example.com/\"",
                    explain.request
                ));
            }
        };
        let url = split_url(target);
        let mut head = format!("{method} {target} {version}\r\n");
        let has_host = explain.headers.iter().any(|h| {
            h.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case("host"))
        });
        // A client sends the URL's host in `Host` too; the head's own rules (an absolute
        // URL's host wins) are the parser's.
        if let (Some(host), false) = (url.as_ref().map(|u| u.authority), has_host) {
            let _ = write!(head, "Host: {host}\r\n");
        }
        for h in &explain.headers {
            if !h.contains(':') || h.contains(['\r', '\n']) {
                return Err(format!("\"{h}\" is not a header: give -H 'Name: value'"));
            }
            let _ = write!(head, "{h}\r\n");
        }
        head.push_str("\r\n");
        let peer = match &explain.client {
            None => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            Some(c) => parse_addr(c).ok_or_else(|| {
                format!("--client \"{c}\" is not an address (give 192.0.2.1 or 192.0.2.1:5000)")
            })?,
        };
        let local = match &explain.listen {
            None => None,
            Some(l) => Some(parse_listen(l).ok_or_else(|| {
                format!("--listen \"{l}\" is not an address (give 8080 or 127.0.0.1:8080)")
            })?),
        };
        Ok(Parsed {
            head: head.into_bytes(),
            peer,
            local,
            port: url.map(|u| u.port),
        })
    }
}

/// The parts of an absolute URL the request needs besides its line.
struct Url<'a> {
    /// `host[:port]`.
    authority: &'a str,
    /// The port (the scheme's default when not written).
    port: u16,
}

fn split_url(target: &str) -> Option<Url<'_>> {
    let (scheme, rest) = target.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let default = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    let port = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            port.parse().unwrap_or(default)
        }
        _ => default,
    };
    Some(Url { authority, port })
}

/// `192.0.2.1`, `192.0.2.1:5000`, `::1`, `[::1]:5000`.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0)))
}

/// `8080` (any address), `127.0.0.1:8080`, `[::1]:8080`.
fn parse_listen(text: &str) -> Option<SocketAddr> {
    match text.parse::<u16>() {
        Ok(port) => Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)),
        Err(_) => text.parse().ok(),
    }
}

/// The [`Trace`] of `--explain`: one line per step, written as it comes.
struct Recorder {
    text: String,
    /// Names of `set` variables, by index.
    user: Vec<String>,
    /// Names of computed variables (`map`, `geo`, `split_clients`), by index.
    computed: Vec<String>,
}

impl Recorder {
    fn new(http: &HttpConf) -> Recorder {
        let user = (0..http.user_vars.len())
            .map(|i| http.user_vars.name(i).unwrap_or("?").to_string())
            .collect();
        let computed = (0..http.computed.len())
            .map(|i| {
                http.computed
                    .get(i)
                    .map_or("?", |d| d.name.as_str())
                    .to_string()
            })
            .collect();
        Recorder {
            text: String::new(),
            user,
            computed,
        }
    }

    /// `label` in the first column, then `text`.
    fn line(&mut self, label: &str, text: &str) {
        let _ = writeln!(self.text, "{label:<LABEL$}{text}");
    }

    /// A line inside a group (a search, a block of rewrite directives), indented.
    fn item(&mut self, depth: usize, label: &str, text: &str) {
        let indent = 2 + 2 * depth;
        let width = LABEL.saturating_sub(indent).max(label.len() + 1);
        let _ = writeln!(self.text, "{:indent$}{label:<width$}{text}", "");
    }

    fn var(&self, var: &Var) -> String {
        match var {
            Var::User(i) => format!("${}", self.user.get(*i).map_or("?", String::as_str)),
            Var::Computed(i) => format!("${}", self.computed.get(*i).map_or("?", String::as_str)),
            other => other.to_string(),
        }
    }
}

impl Trace for Recorder {
    fn step(&mut self, step: Step<'_>) {
        match step {
            Step::Listen { addr, servers, why } => {
                let plural = if servers == 1 { "" } else { "s" };
                self.line(
                    "listen",
                    &format!("{addr} ({why}): {servers} server{plural}"),
                );
            }
            Step::Server {
                index,
                server,
                matched,
            } => {
                let why = server_match(matched);
                self.line("server", &format!("{} {why}", server_label(index, server)));
            }
            Step::RewritePhase { server } => {
                let whose = if server {
                    "the server's directives"
                } else {
                    "the location's directives"
                };
                self.line("rewrite", whose);
            }
            Step::Search { uri } => self.line("search", &quoted(uri)),
            Step::Exact(l) => self.item(0, "exact", &format!("{}: equal", location_label(l))),
            Step::LongestPrefix(l) => {
                let stop = if matches!(l.matcher, LocationMatch::PrefixNoRegex(_)) {
                    ", ^~: no regex is tried"
                } else {
                    ""
                };
                let text = format!("{}: longest prefix{stop}", location_label(l));
                self.item(0, "prefix", &text);
            }
            Step::Nested(l) => {
                self.item(
                    0,
                    "nested",
                    &format!("locations inside {}", location_name(l)),
                );
            }
            Step::Regex { location, matched } => {
                let result = if matched { "matches" } else { "does not match" };
                let text = format!("{}: {result}", location_label(location));
                self.item(0, "regex", &text);
            }
            Step::Chosen(Some(l)) => self.line("location", &location_label(l)),
            Step::Chosen(None) => self.line("location", "none matches: the server's own settings"),
            Step::Rewrite {
                depth,
                regex,
                flag,
                uri_before,
                args_before,
                matched,
                uri_after,
                args_after,
                outcome,
            } => {
                let flag = match flag {
                    Flag::None => "",
                    Flag::Last => " last",
                    Flag::Break => " break",
                    Flag::Redirect => " redirect",
                    Flag::Permanent => " permanent",
                };
                let mut text = format!("{regex}{flag}: {}", quoted(uri_before));
                if !matched {
                    text.push_str(" does not match");
                } else if let Some(Outcome::Redirect { code, location }) = outcome {
                    let _ = write!(text, " matches -> redirect {code} {}", quoted(location));
                } else if let Some(Outcome::Return { code, .. }) = outcome {
                    let _ = write!(text, " matches -> {code}");
                } else {
                    let _ = write!(text, " matches -> $uri {}", quoted(uri_after));
                    if args_before != args_after {
                        let _ = write!(
                            text,
                            ", $args {} -> {}",
                            optional(args_before),
                            optional(args_after)
                        );
                    }
                }
                self.item(depth, "rewrite", &text);
            }
            Step::Return { depth, outcome } => {
                let text = match outcome {
                    Outcome::Redirect { code, location } => format!("{code} {}", quoted(location)),
                    Outcome::Return {
                        code,
                        body: Some(body),
                    } if !body.is_empty() => format!("{code} {}", quoted(body)),
                    Outcome::Return { code, .. } => code.to_string(),
                    other => format!("{other:?}"),
                };
                self.item(depth, "return", &text);
            }
            Step::Set {
                depth,
                var,
                before,
                after,
            } => {
                let text = format!(
                    "{}: {} -> {}",
                    self.var(var),
                    optional(before),
                    quoted(after)
                );
                self.item(depth, "set", &text);
            }
            Step::If {
                depth,
                condition,
                subject,
                operand,
                result,
            } => {
                let text = format!(
                    "({}): {}",
                    self.condition(condition, operand),
                    match result {
                        Some(true) => format!("{} -> true", quoted(subject)),
                        Some(false) => format!("{} -> false", quoted(subject)),
                        None => format!("{} -> the regex failed (500)", quoted(subject)),
                    }
                );
                self.item(depth, "if", &text);
            }
            Step::Break { depth } => self.item(depth, "break", "no more rewrite directives"),
            Step::InternalRedirect { uri, args } => {
                let mut target = uri.to_vec();
                if let Some(args) = args {
                    target.push(b'?');
                    target.extend_from_slice(args);
                }
                self.line("redirect", &format!("internal, to {}", quoted(&target)));
            }
            Step::NamedLocation(name) => self.line("redirect", &format!("to location {name}")),
            Step::Finalize { status } => self.line("finalize", &format!("status {status}")),
            Step::ErrorPage { status, target } => {
                self.line("error_page", &format!("{status} -> {}", quoted(target)));
            }
            Step::Handler(name) => self.line("handler", name),
            Step::TryFiles {
                name,
                dir,
                path,
                probe,
            } => {
                let found = match (probe, dir) {
                    (Probe::Found, false) => "a file",
                    (Probe::Found, true) => "a directory",
                    (Probe::WrongKind, false) => "not a file",
                    (Probe::WrongKind, true) => "not a directory",
                    (Probe::Missing, _) => "missing",
                };
                let mut shown = name.to_vec();
                if dir {
                    shown.push(b'/');
                }
                let text = format!(
                    "{} -> {}: {found}",
                    quoted(&shown),
                    String::from_utf8_lossy(path)
                );
                self.item(0, "try_files", &text);
            }
            Step::StaticFile { path, status } => {
                let what = match status {
                    200 => "a file".to_string(),
                    301 => "a directory: redirect to the URI with a slash".to_string(),
                    405 => "a file, but the method is not allowed".to_string(),
                    other => format!("status {other}"),
                };
                self.line(
                    "file",
                    &format!("{}: {what}", String::from_utf8_lossy(path)),
                );
            }
            Step::Index { dir, found } => {
                let dir = String::from_utf8_lossy(dir);
                let text = match found {
                    Some(name) => format!("{dir}: {name}"),
                    None => format!("{dir}: no index file"),
                };
                self.line("index", &text);
            }
            Step::Note(text) => self.line("note", text),
        }
    }
}

impl Recorder {
    fn condition(&self, condition: &Condition, operand: Option<&[u8]>) -> String {
        match condition {
            Condition::Value(var) => self.var(var),
            Condition::Equal { var, negate, .. } => {
                let op = if *negate { "!=" } else { "=" };
                format!(
                    "{} {op} {}",
                    self.var(var),
                    quoted(operand.unwrap_or_default())
                )
            }
            Condition::Match { var, regex, negate } => {
                let op = if *negate { "!~" } else { "~" };
                format!("{} {op} {}", self.var(var), regex.as_str())
            }
            Condition::File { test, negate, .. } => {
                let test = match test {
                    FileTest::File => "-f",
                    FileTest::Dir => "-d",
                    FileTest::Exists => "-e",
                    FileTest::Executable => "-x",
                };
                let not = if *negate { "!" } else { "" };
                format!("{not}{test} path")
            }
        }
    }
}

/// The answer lines: the response head, the file, or the proxy's plan.
fn describe_answer(answer: &Answer, out: &mut String) {
    let mut line = |label: &str, text: &str| {
        let _ = writeln!(out, "{label:<LABEL$}{text}");
    };
    let mut uri = answer.uri.clone();
    if let Some(args) = &answer.args {
        uri.push(b'?');
        uri.extend_from_slice(args);
    }
    line("uri", &quoted(&uri));
    if let Some(plan) = &answer.proxy {
        if let Some(status) = plan.refuse {
            line("answer", &format!("{status}, without proxying"));
            return;
        }
        let to = match (&plan.group, plan.direct, &plan.resolve) {
            (Some(group), ..) => format!("upstream \"{group}\" ({})", plan.balance),
            (None, Some(addr), _) => addr.to_string(),
            (None, None, Some(name)) => format!("{name}, resolved when the request comes"),
            (None, None, None) => "nowhere: the URL did not evaluate to one (502)".to_string(),
        };
        line("answer", &format!("proxied to {to}"));
        if !plan.order.is_empty() {
            let servers: Vec<String> = plan
                .order
                .iter()
                .map(|(addr, mark)| {
                    if mark.is_empty() {
                        addr.to_string()
                    } else {
                        format!("{addr} ({mark})")
                    }
                })
                .collect();
            line(
                "servers",
                &format!("{} (at most {} tried)", servers.join(", "), plan.tries),
            );
        }
        let head = String::from_utf8_lossy(&plan.head);
        let mut label = "upstream";
        for l in head.split("\r\n").filter(|l| !l.is_empty()) {
            line(label, l);
            label = "";
        }
        return;
    }
    match answer.status {
        444 => line("answer", "444: the connection is closed without a response"),
        status => {
            let file = answer.file.as_ref().map_or(String::new(), |(path, len)| {
                format!(", the file {} ({len} bytes)", String::from_utf8_lossy(path))
            });
            line("answer", &format!("{status}{file}"));
        }
    }
    let head = String::from_utf8_lossy(&answer.head);
    let mut label = "response";
    for l in head.split("\r\n").filter(|l| !l.is_empty()) {
        line(label, l);
        label = "";
    }
}

fn server_label(index: usize, server: &ServerConf) -> String {
    let names: Vec<String> = server
        .names
        .iter()
        .map(|n| match n {
            config::ServerName::Exact(n) if n.is_empty() => "\"\"".to_string(),
            config::ServerName::Exact(n) => n.clone(),
            config::ServerName::WildcardFront(s, true) => s.clone(),
            config::ServerName::WildcardFront(s, false) => format!("*{s}"),
            config::ServerName::WildcardBack(p) => format!("{p}*"),
            config::ServerName::Regex(re) => format!("~{}", re.as_str()),
        })
        .collect();
    let names = if names.is_empty() {
        "no server_name".to_string()
    } else {
        format!("server_name {}", names.join(" "))
    };
    format!("#{} at {} ({names})", index + 1, server.defined_at)
}

fn server_match(matched: ServerMatch<'_>) -> String {
    match matched {
        ServerMatch::NoHost => "is the default server: the request names no host".to_string(),
        ServerMatch::Exact(name) => format!("matches by the exact name \"{name}\""),
        ServerMatch::WildcardFront(suffix, true) => {
            format!("matches by the name \"{suffix}\" (the domain and its subdomains)")
        }
        ServerMatch::WildcardFront(suffix, false) => {
            format!("matches by the leading wildcard \"*{suffix}\"")
        }
        ServerMatch::WildcardBack(prefix) => {
            format!("matches by the trailing wildcard \"{prefix}*\"")
        }
        ServerMatch::Regex(re) => format!("matches by the regex \"~{re}\""),
        ServerMatch::Default => {
            "is the default server: no server_name matches the host".to_string()
        }
    }
}

/// `= /x`, `/x`, `^~ /x`, `~ re`, `~* re`, `@name`.
fn location_name(l: &LocationConf) -> String {
    match &l.matcher {
        LocationMatch::Exact(s) => format!("= {s}"),
        LocationMatch::Prefix(s) => s.clone(),
        LocationMatch::PrefixNoRegex(s) => format!("^~ {s}"),
        LocationMatch::Regex(re, true) => format!("~* {}", re.as_str()),
        LocationMatch::Regex(re, false) => format!("~ {}", re.as_str()),
        LocationMatch::Named(n) => n.clone(),
    }
}

fn location_label(l: &LocationConf) -> String {
    format!("{} at {}", location_name(l), l.defined_at)
}

fn quoted(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02X}");
            }
        }
    }
    out.push('"');
    out
}

fn optional(bytes: Option<&[u8]>) -> String {
    bytes.map_or_else(|| "(unset)".to_string(), quoted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explain(request: &str, headers: &[&str]) -> Result<Parsed, String> {
        Parsed::from_options(&Explain {
            request: request.to_string(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            client: None,
            listen: None,
        })
    }

    #[test]
    fn an_absolute_url_gives_host_and_port() {
        let p = explain("GET http://example.com/a.css?x=1", &[]).expect("parses");
        assert_eq!(
            String::from_utf8_lossy(&p.head),
            "GET http://example.com/a.css?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"
        );
        assert_eq!(p.port, Some(80));
        let p = explain("HEAD http://example.com:8080 HTTP/1.0", &["Host: other"]).expect("ok");
        assert_eq!(
            String::from_utf8_lossy(&p.head),
            "HEAD http://example.com:8080 HTTP/1.0\r\nHost: other\r\n\r\n"
        );
        assert_eq!(p.port, Some(8080));
        let p = explain("GET /x", &["Host: a"]).expect("origin form");
        assert_eq!(p.port, None);
        assert_eq!(
            explain("GET https://[::1]/", &[]).expect("v6").port,
            Some(443)
        );
    }

    #[test]
    fn what_is_not_a_request_is_refused() {
        assert!(explain("GET", &[]).is_err());
        assert!(explain("", &[]).is_err());
        assert!(explain("GET / HTTP/1.1 extra", &[]).is_err());
        assert!(explain("GET /", &["no colon"]).is_err());
    }

    #[test]
    fn addresses_of_client_and_listen() {
        assert_eq!(parse_addr("10.0.0.1"), Some("10.0.0.1:0".parse().unwrap()));
        assert_eq!(parse_addr("[::1]:5"), Some("[::1]:5".parse().unwrap()));
        assert_eq!(parse_addr("nope"), None);
        assert_eq!(parse_listen("8080"), Some("0.0.0.0:8080".parse().unwrap()));
        assert_eq!(
            parse_listen("127.0.0.1:81"),
            Some("127.0.0.1:81".parse().unwrap())
        );
    }

    #[test]
    fn bytes_are_quoted_readably() {
        assert_eq!(quoted(b"/a \"b\"\xff"), "\"/a \\\"b\\\"\\xFF\"");
        assert_eq!(optional(None), "(unset)");
    }
}
