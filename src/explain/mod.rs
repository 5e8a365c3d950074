//! `portico -t --explain "GET http://example.com/static/a.css?x=1"`: which server and location
//! answer a request, and why. The request goes through the worker's own routing (see
//! [`crate::worker::explain`]) with a [`crate::trace::Trace`] that writes each step as a line: the listen
//! address and server (and which `server_name` matched), every location tried, each
//! `rewrite`, `return`, `if` and `set` with the values before and after, internal
//! redirects, `try_files` probes, and the answer — the response head with the file it
//! sends, or the upstream request and the order in which servers would be tried.
//!
//! Options: `-H 'Name: value'` (repeatable) adds a header, `--client ADDR[:PORT]` sets the
//! client's address (default `127.0.0.1`, `unix:` with a unix `--listen`), `--listen
//! [ADDR:]PORT|unix:PATH` the address the request
//! came to (default: a `listen` on the URL's port, else the first). Nothing is sent to any
//! client or upstream; `if (-f ...)`, `try_files` and the static handler look at the files.

mod answer;
mod recorder;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::client_addr::ClientAddr;
use crate::config::{self, ListenAddr, LoadOptions};
use crate::elog;
use crate::log::LogLevel;
use crate::worker::explain as driver;
use recorder::Recorder;

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
pub(crate) const LABEL: usize = 10;

/// Runs `--explain`: prints the routing on stdout and returns the exit code (0 once the
/// request was routed, whatever its status; 1 for a configuration that does not load or
/// a request that cannot be read).
pub fn run(opts: &LoadOptions, explain: &Explain) -> i32 {
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
        local: request.local.clone(),
        port: request.port,
    };
    let answer = driver::explain(&config, &input, &mut out);
    let mut text = std::mem::take(&mut out.text);
    match answer {
        Ok(answer) => {
            answer::describe(&answer, &mut text);
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
    peer: ClientAddr,
    local: Option<ListenAddr>,
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
        let local = match &explain.listen {
            None => None,
            Some(l) => Some(parse_listen(l).ok_or_else(|| {
                format!(
                    "--listen \"{l}\" is not an address (give 8080, 127.0.0.1:8080 or unix:PATH)"
                )
            })?),
        };
        let peer = match &explain.client {
            // A unix socket's clients have no address.
            None if matches!(local, Some(ListenAddr::Unix(_))) => ClientAddr::Unix,
            None => ClientAddr::Inet(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)),
            Some(c) => ClientAddr::Inet(parse_addr(c).ok_or_else(|| {
                format!("--client \"{c}\" is not an address (give 192.0.2.1 or 192.0.2.1:5000)")
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

/// `8080` (any address), `127.0.0.1:8080`, `[::1]:8080`, `unix:/run/app.sock`.
fn parse_listen(text: &str) -> Option<ListenAddr> {
    if let Some(path) = text.strip_prefix("unix:").filter(|p| !p.is_empty()) {
        return Some(ListenAddr::Unix(std::path::Path::new(path).into()));
    }
    match text.parse::<u16>() {
        Ok(port) => Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port).into()),
        Err(_) => text.parse::<SocketAddr>().ok().map(ListenAddr::Inet),
    }
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
        let text = |l: &str| parse_listen(l).map(|a| a.to_string());
        assert_eq!(text("8080").as_deref(), Some("0.0.0.0:8080"));
        assert_eq!(text("127.0.0.1:81").as_deref(), Some("127.0.0.1:81"));
        assert_eq!(
            text("unix:/run/a.sock").as_deref(),
            Some("unix:/run/a.sock")
        );
        assert_eq!(text("unix:"), None);
    }

    #[test]
    fn bytes_are_quoted_readably() {
        use super::answer::{optional, quoted};
        assert_eq!(quoted(b"/a \"b\"\xff"), "\"/a \\\"b\\\"\\xFF\"");
        assert_eq!(optional(None), "(unset)");
    }
}
