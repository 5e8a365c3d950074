//! Values of single FastCGI, uwsgi and SCGI directives, compiled at load: the `*_param`
//! list, `fastcgi_split_path_info`, `*_bind`, `*_ignore_headers`.

use std::net::{IpAddr, SocketAddr};

use crate::vars::Template;

/// One `*_param NAME VALUE [if_not_empty];`
#[derive(Clone, Debug)]
pub struct CgiParam {
    /// The parameter's name as written.
    pub name: Vec<u8>,
    /// Its value.
    pub value: Template,
    /// `if_not_empty`: an empty value sends nothing.
    pub if_not_empty: bool,
}

/// A level's `*_param` list, compiled once at load (`ngx_http_*_init_params`).
#[derive(Clone, Debug, Default)]
pub struct CgiParams {
    /// The parameters sent, in order (an `HTTP_*` one written with an empty value is not
    /// sent: it only keeps the client's header back).
    pub list: Vec<CgiParam>,
    /// Request headers not passed as `HTTP_*` because a parameter names them: the name
    /// after `HTTP_`, lowercase, `-` written as `_` (compared the same way).
    pub replaced_headers: Vec<Vec<u8>>,
}

impl CgiParams {
    /// Adds a parameter as nginx's `init_params` compiles it: an `HTTP_*` name keeps the
    /// client's header of that name back, and with a value written empty (`""`) that is
    /// all it does.
    pub fn push(&mut self, param: CgiParam, written_empty: bool) {
        if param.name.len() > 5 && param.name.starts_with(b"HTTP_") {
            let header = param.name[5..].to_ascii_lowercase();
            if !self.replaced_headers.contains(&header) {
                self.replaced_headers.push(header);
            }
            if written_empty {
                return;
            }
        }
        self.list.push(param);
    }

    /// Whether the client's header `name` is replaced by a parameter.
    pub fn replaces_header(&self, name: &[u8]) -> bool {
        self.replaced_headers.iter().any(|h| {
            h.len() == name.len()
                && h.iter().zip(name).all(|(&a, &b)| {
                    let b = match b {
                        b'-' => b'_',
                        b => b.to_ascii_lowercase(),
                    };
                    a == b
                })
        })
    }
}

/// `fastcgi_split_path_info REGEX;`: the regex and room for its captures.
pub struct SplitPathInfo {
    /// The regex (two captures: the script name, the path info).
    pub re: crate::regex::Regex,
    /// The captures of the last split, reused from request to request (a worker is
    /// single-threaded): splitting allocates nothing once they have grown.
    captures: std::cell::Cell<Option<crate::regex::Captures>>,
}

impl std::fmt::Debug for SplitPathInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SplitPathInfo({:?})", self.re.as_str())
    }
}

impl SplitPathInfo {
    /// A compiled split.
    pub fn new(re: crate::regex::Regex) -> SplitPathInfo {
        SplitPathInfo {
            re,
            captures: std::cell::Cell::new(None),
        }
    }

    /// Appends capture `group` (1: the script name, 2: the path info) of `uri` to `out`;
    /// false when the regex does not match (a match error counts as none).
    pub fn part(&self, uri: &[u8], group: usize, out: &mut Vec<u8>) -> bool {
        let mut caps = self.captures.take().unwrap_or_default();
        let matched = matches!(self.re.captures(uri, &mut caps), Ok(true));
        if matched {
            out.extend_from_slice(caps.get(group).unwrap_or_default());
        }
        self.captures.set(Some(caps));
        matched
    }
}

/// `*_bind ADDRESS [transparent] | off;`
#[derive(Clone, Debug)]
pub enum CgiBind {
    /// `off`
    Off,
    /// A fixed address.
    Addr(SocketAddr, bool),
    /// An address with variables, evaluated per request (an empty value binds nothing).
    Dynamic(Template, bool),
}

/// An address for `*_bind`: `IP` or `IP:PORT` (`[IPv6]:PORT`), as `ngx_parse_addr_port`.
pub fn parse_bind_addr(text: &str) -> Option<SocketAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 0));
    }
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Some(a);
    }
    let ip = text.strip_prefix('[')?.strip_suffix(']')?;
    ip.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0))
}
