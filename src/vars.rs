//! `$variables`: compiled once at config load, evaluated per request.
//!
//! A string such as a `log_format` or a `return` text is compiled into a [`Template`]: literal
//! byte runs and [`Var`]s, resolved from their names once, so a request never parses `$`
//! again. Evaluation asks a [`VarSource`] (the worker's request) for each variable's value.
//! Names follow nginx: case-insensitive, `[A-Za-z0-9_]`, `${name}` to end one before a letter,
//! `$1`..`$9` for regex captures, and the prefixed families `$http_*`, `$sent_http_*`,
//! `$cookie_*`, `$arg_*`, plus `$upstream_*`/`$proxy_*` for the proxy.

use std::fmt;

use crate::config::settings::LogEscape;
use crate::log::escape::{escape_default, escape_json};

/// Declares [`Var`] and the table of fixed names, so each name is written once.
macro_rules! vars {
    (
        $($(#[$doc:meta])* $variant:ident = $name:literal,)*
        ;
        $($(#[$fdoc:meta])* $family:ident($ty:ty),)*
    ) => {
        /// A variable, resolved from its name at config load.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum Var {
            $($(#[$doc])* $variant,)*
            $($(#[$fdoc])* $family($ty),)*
        }

        /// Variables with a fixed name, as nginx spells them.
        static NAMED: &[(&str, Var)] = &[$(($name, Var::$variant),)*];
    };
}

vars! {
    /// `$uri`: the normalised URI being served (changes on internal redirects).
    Uri = "uri",
    /// `$document_uri`: same as `$uri`.
    DocumentUri = "document_uri",
    /// `$request_uri`: the request target as the client sent it, arguments included.
    RequestUri = "request_uri",
    /// `$args`: the query string.
    Args = "args",
    /// `$query_string`: same as `$args`.
    QueryString = "query_string",
    /// `$host`: Host header (or request-line host) lowercased, else the server name.
    Host = "host",
    /// `$hostname`: this machine's host name.
    Hostname = "hostname",
    /// `$remote_addr`: the client's address.
    RemoteAddr = "remote_addr",
    /// `$remote_port`: the client's port.
    RemotePort = "remote_port",
    /// `$remote_user`: the user name from Basic authentication.
    RemoteUser = "remote_user",
    /// `$server_addr`: the address that accepted the connection.
    ServerAddr = "server_addr",
    /// `$server_port`: the port that accepted the connection.
    ServerPort = "server_port",
    /// `$server_name`: the first name of the matched server.
    ServerName = "server_name",
    /// `$server_protocol`: `HTTP/1.0` or `HTTP/1.1`.
    ServerProtocol = "server_protocol",
    /// `$scheme`: `http` or `https`.
    Scheme = "scheme",
    /// `$request`: the full request line.
    Request = "request",
    /// `$request_method`: `GET`, `POST`, ...
    RequestMethod = "request_method",
    /// `$request_length`: bytes of request line, headers and body.
    RequestLength = "request_length",
    /// `$request_time`: seconds since the first byte, with milliseconds (`0.012`).
    RequestTime = "request_time",
    /// `$status`: the response status (`200`).
    Status = "status",
    /// `$body_bytes_sent`: response body bytes sent.
    BodyBytesSent = "body_bytes_sent",
    /// `$bytes_sent`: all bytes sent to the client.
    BytesSent = "bytes_sent",
    /// `$time_local`: `25/Nov/2026:20:23:22 +0000` (see [`crate::log::time`]).
    TimeLocal = "time_local",
    /// `$time_iso8601`: `2026-11-25T20:23:22+00:00`.
    TimeIso8601 = "time_iso8601",
    /// `$msec`: seconds since the epoch with milliseconds.
    Msec = "msec",
    /// `$pid`: the worker's process id.
    Pid = "pid",
    /// `$connection`: the connection's serial number.
    Connection = "connection",
    /// `$connection_requests`: requests made on this connection so far.
    ConnectionRequests = "connection_requests",
    /// `$document_root`: `root` (or `alias`) for the request.
    DocumentRoot = "document_root",
    /// `$realpath_root`: `$document_root` with symlinks resolved.
    RealpathRoot = "realpath_root",
    /// `$request_filename`: the file path the request maps to.
    RequestFilename = "request_filename",
    /// `$content_type`: the request's Content-Type header.
    ContentType = "content_type",
    /// `$content_length`: the request's Content-Length header.
    ContentLength = "content_length",
    /// `$is_args`: `?` if the request has arguments, else empty.
    IsArgs = "is_args",
    /// `$nginx_version`: the version Portico reports.
    NginxVersion = "nginx_version",
    /// `$request_body`: the request body when it was read into memory.
    RequestBody = "request_body",
    /// `$https`: `on` over TLS, else empty.
    Https = "https",
    /// `$pipe`: `p` for a pipelined request, else `.`.
    Pipe = "pipe",
    /// `$request_id`: 32 random hex digits, fixed for the request.
    RequestId = "request_id",
    /// `$request_completion`: `OK` once the request completed, else empty.
    RequestCompletion = "request_completion",
    /// `$binary_remote_addr`: the client address in binary form.
    BinaryRemoteAddr = "binary_remote_addr",
    ;
    /// `$arg_NAME`: one query argument (name stored lowercase; see [`find_arg`]).
    Arg(String),
    /// `$http_NAME`: a request header, `_` standing for `-` (see [`header_matches`]).
    Http(String),
    /// `$cookie_NAME`: one cookie of the request (see [`find_cookie`]).
    Cookie(String),
    /// `$sent_http_NAME`: a response header.
    SentHttp(String),
    /// `$1`..`$9`: a capture of the last matched regex.
    Capture(u8),
    /// Any `$upstream_*` or `$proxy_*` variable, by its whole lowercase name
    /// (`upstream_addr`), answered by the proxy.
    Upstream(String),
}

impl Var {
    /// Resolves a lowercase variable name (without `$`); `None` if nginx would not know it.
    pub fn from_name(name: &str) -> Option<Var> {
        if let [d @ b'1'..=b'9'] = name.as_bytes() {
            return Some(Var::Capture(d - b'0'));
        }
        let family = |prefix: &str| name.strip_prefix(prefix).map(str::to_string);
        if let Some(rest) = family("sent_http_") {
            return Some(Var::SentHttp(rest));
        }
        if let Some(rest) = family("http_") {
            return Some(Var::Http(rest));
        }
        if let Some(rest) = family("cookie_") {
            return Some(Var::Cookie(rest));
        }
        if let Some(rest) = family("arg_") {
            return Some(Var::Arg(rest));
        }
        if name.starts_with("upstream_") || name.starts_with("proxy_") {
            return Some(Var::Upstream(name.to_string()));
        }
        NAMED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

impl fmt::Display for Var {
    /// The variable as written in a config: `$http_user_agent`, `$1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Var::Arg(n) => write!(f, "$arg_{n}"),
            Var::Http(n) => write!(f, "$http_{n}"),
            Var::Cookie(n) => write!(f, "$cookie_{n}"),
            Var::SentHttp(n) => write!(f, "$sent_http_{n}"),
            Var::Upstream(n) => write!(f, "${n}"),
            Var::Capture(n) => write!(f, "${n}"),
            other => {
                let name = NAMED
                    .iter()
                    .find(|(_, v)| v == other)
                    .map_or("?", |(n, _)| n);
                write!(f, "${name}")
            }
        }
    }
}

/// Where variable values come from: the worker implements it for a request.
pub trait VarSource {
    /// Appends the value of `var` to `out`; returns false (appending nothing) when the
    /// variable has no value for this request (nginx's "not found").
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool;
}

/// One piece of a compiled string.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(Box<[u8]>),
    Var(Var),
}

/// A compiled string with variables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// nginx's message for a `$` not followed by a name.
const INVALID_NAME: &str = "invalid variable name";

impl Template {
    /// Compiles `text` (e.g. a `log_format` string); unknown variables are an error whose
    /// message is nginx's: `unknown "foo" variable`.
    pub fn compile(text: &str) -> Result<Template, String> {
        let src = text.as_bytes();
        let mut parts = Vec::new();
        let mut literal = Vec::new();
        let mut i = 0;
        while i < src.len() {
            if src[i] != b'$' {
                let end = memchr::memchr(b'$', &src[i..]).map_or(src.len(), |n| i + n);
                literal.extend_from_slice(&src[i..end]);
                i = end;
                continue;
            }
            i += 1;
            let var = match src.get(i) {
                None => return Err(INVALID_NAME.to_string()),
                Some(&d @ b'1'..=b'9') => {
                    i += 1;
                    Var::Capture(d - b'0')
                }
                Some(&c) => {
                    let bracket = c == b'{';
                    if bracket {
                        i += 1;
                        if i == src.len() {
                            return Err(INVALID_NAME.to_string());
                        }
                    }
                    let start = i;
                    while src
                        .get(i)
                        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    {
                        i += 1;
                    }
                    let name = &text[start..i]; // ASCII bytes only: a char boundary
                    if bracket {
                        if src.get(i) != Some(&b'}') {
                            return Err(format!(
                                "the closing bracket in \"{name}\" variable is missing"
                            ));
                        }
                        i += 1;
                    }
                    if name.is_empty() {
                        return Err(INVALID_NAME.to_string());
                    }
                    let name = name.to_ascii_lowercase();
                    Var::from_name(&name).ok_or_else(|| format!("unknown \"{name}\" variable"))?
                }
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(
                    std::mem::take(&mut literal).into_boxed_slice(),
                ));
            }
            parts.push(Part::Var(var));
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal.into_boxed_slice()));
        }
        Ok(Template { parts })
    }

    /// The text, when it has no variables (so callers can skip evaluation).
    pub fn is_literal(&self) -> Option<&[u8]> {
        match self.parts.as_slice() {
            [] => Some(b""),
            [Part::Literal(bytes)] => Some(bytes),
            _ => None,
        }
    }

    /// The variables the template uses, in order.
    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v),
            Part::Literal(_) => None,
        })
    }

    /// Appends the evaluated text to `out`; a variable without a value adds nothing.
    pub fn eval(&self, src: &dyn VarSource, out: &mut Vec<u8>) {
        for part in &self.parts {
            match part {
                Part::Literal(bytes) => out.extend_from_slice(bytes),
                Part::Var(var) => {
                    let start = out.len();
                    if !src.var(var, out) {
                        out.truncate(start);
                    }
                }
            }
        }
    }

    /// Appends an access-log line as nginx's `log_format` writes it: values escaped per
    /// `escape`; a variable without a value writes `-` with `escape=default`, nothing with
    /// `json` or `none` (as in `ngx_http_log_module.c`). Literals are copied as written.
    pub fn eval_log(&self, src: &dyn VarSource, escape: LogEscape, out: &mut Vec<u8>) {
        for part in &self.parts {
            match part {
                Part::Literal(bytes) => out.extend_from_slice(bytes),
                Part::Var(var) => {
                    let start = out.len();
                    if !src.var(var, out) {
                        out.truncate(start);
                        if escape == LogEscape::Default {
                            out.push(b'-');
                        }
                        continue;
                    }
                    match escape {
                        LogEscape::Default => escape_default(out, start),
                        LogEscape::Json => escape_json(out, start),
                        LogEscape::None => {}
                    }
                }
            }
        }
    }
}

/// Same as [`Template::compile`].
pub fn compile(text: &str) -> Result<Template, String> {
    Template::compile(text)
}

/// Whether a `$http_NAME` / `$sent_http_NAME` name matches a header: ASCII case-insensitive,
/// a `-` in the header matching `_` in the name (`user_agent` matches `User-Agent`).
pub fn header_matches(var_name: &str, header_name: &[u8]) -> bool {
    var_name.len() == header_name.len()
        && var_name.bytes().zip(header_name).all(|(v, &h)| {
            let h = if h == b'-' {
                b'_'
            } else {
                h.to_ascii_lowercase()
            };
            v.to_ascii_lowercase() == h
        })
}

/// The raw (still percent-encoded) value of query argument `name` for `$arg_NAME`: the first
/// `&`-separated `name=value` whose name matches ASCII case-insensitively, as nginx's
/// `ngx_http_arg`. An argument without `=` has no value.
pub fn find_arg<'a>(query: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let name = name.as_bytes();
    query.split(|&b| b == b'&').find_map(|arg| {
        let (key, value) = arg.split_at_checked(name.len())?;
        let value = value.strip_prefix(b"=")?;
        key.eq_ignore_ascii_case(name).then_some(value)
    })
}

/// The value of cookie `name` in one `Cookie` header for `$cookie_NAME`, parsed as nginx's
/// `ngx_http_parse_multi_header_lines`: `;`-separated pairs, spaces around `=` skipped, the
/// name compared ASCII case-insensitively, the value running to the next `;`.
pub fn find_cookie<'a>(cookie_header: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let name = name.as_bytes();
    let end = cookie_header.len();
    let skip_spaces = |mut i: usize| {
        while i < end && cookie_header[i] == b' ' {
            i += 1;
        }
        i
    };
    let mut i = 0;
    while i < end {
        let key_end = i + name.len();
        if cookie_header
            .get(i..key_end)
            .is_some_and(|k| k.eq_ignore_ascii_case(name))
        {
            let eq = skip_spaces(key_end);
            if cookie_header.get(eq) == Some(&b'=') {
                let start = skip_spaces(eq + 1);
                let len = memchr::memchr(b';', &cookie_header[start..]).unwrap_or(end - start);
                return Some(&cookie_header[start..start + len]);
            }
        }
        // Skip to the next pair.
        while i < end {
            let c = cookie_header[i];
            i += 1;
            if c == b';' || c == b',' {
                break;
            }
        }
        i = skip_spaces(i);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Values by variable; absent ones have no value.
    struct Vals(HashMap<Var, &'static [u8]>);

    impl VarSource for Vals {
        fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
            self.0.get(var).map(|v| out.extend_from_slice(v)).is_some()
        }
    }

    fn one(text: &str) -> Var {
        let t = Template::compile(text).unwrap();
        assert_eq!(t.parts.len(), 1, "{text}");
        t.vars().next().unwrap().clone()
    }

    #[test]
    fn every_listed_variable_compiles_and_prints_back() {
        let names = "uri document_uri request_uri args query_string arg_page http_user_agent \
            cookie_sid sent_http_content_type host hostname remote_addr remote_port remote_user \
            server_addr server_port server_name server_protocol scheme request request_method \
            request_length request_time status body_bytes_sent bytes_sent time_local \
            time_iso8601 msec pid connection connection_requests document_root realpath_root \
            request_filename content_type content_length is_args nginx_version request_body \
            https pipe request_id request_completion binary_remote_addr upstream_addr \
            upstream_response_time proxy_host proxy_add_x_forwarded_for 1 9";
        for name in names.split_whitespace() {
            let var = one(&format!("${name}"));
            assert_eq!(var.to_string(), format!("${name}"));
            assert_eq!(one(&format!("${{{name}}}")), var);
        }
    }

    #[test]
    fn names_resolve_like_nginx() {
        assert_eq!(one("$http_user_agent"), Var::Http("user_agent".into()));
        assert_eq!(one("$HTTP_X_Real_IP"), Var::Http("x_real_ip".into()));
        assert_eq!(one("$sent_http_location"), Var::SentHttp("location".into()));
        assert_eq!(one("$Cookie_SID"), Var::Cookie("sid".into()));
        assert_eq!(one("$arg_Page"), Var::Arg("page".into()));
        assert_eq!(
            one("$upstream_status"),
            Var::Upstream("upstream_status".into())
        );
        assert_eq!(one("$URI"), Var::Uri);
        assert_eq!(one("$3"), Var::Capture(3));
    }

    #[test]
    fn bad_names_get_nginx_messages() {
        let err = |t: &str| Template::compile(t).unwrap_err();
        assert_eq!(err("$foo"), "unknown \"foo\" variable");
        assert_eq!(err("a ${Foo} b"), "unknown \"foo\" variable");
        assert_eq!(err("$0"), "unknown \"0\" variable");
        assert_eq!(err("price: 5$"), "invalid variable name");
        assert_eq!(err("${"), "invalid variable name");
        assert_eq!(err("$-x"), "invalid variable name");
        assert_eq!(err("${}"), "invalid variable name");
        assert_eq!(
            err("${host"),
            "the closing bracket in \"host\" variable is missing"
        );
        assert_eq!(
            err("${ho-st}"),
            "the closing bracket in \"ho\" variable is missing"
        );
    }

    #[test]
    fn splits_literals_variables_and_captures() {
        let t = Template::compile("/a$1x$12${host}name$uri.").unwrap();
        let lit = |s: &str| Part::Literal(s.as_bytes().into());
        let expected = vec![
            lit("/a"),
            Part::Var(Var::Capture(1)),
            lit("x"),
            Part::Var(Var::Capture(1)),
            lit("2"),
            Part::Var(Var::Host),
            lit("name"),
            Part::Var(Var::Uri),
            lit("."),
        ];
        assert_eq!(t.parts, expected);
        assert_eq!(
            Template::compile("plain é").unwrap().is_literal(),
            Some("plain é".as_bytes())
        );
        assert_eq!(Template::compile("").unwrap().is_literal(), Some(&b""[..]));
        assert_eq!(t.is_literal(), None);
    }

    fn source() -> Vals {
        Vals(HashMap::from([
            (Var::RemoteAddr, &b"127.0.0.1"[..]),
            (Var::Request, b"GET /q?a=\"1\" HTTP/1.1"),
            (Var::Status, b"200"),
            (Var::Http("user_agent".into()), b"curl\\8\n"),
            (Var::RemoteUser, b""),
        ]))
    }

    #[test]
    fn eval_appends_values_and_skips_missing_ones() {
        let t = Template::compile("$remote_addr [$http_referer] $status").unwrap();
        let mut out = b"> ".to_vec();
        t.eval(&source(), &mut out);
        assert_eq!(out, b"> 127.0.0.1 [] 200");
    }

    #[test]
    fn eval_log_escapes_per_mode() {
        let t = Template::compile(
            "$remote_addr \"$request\" $remote_user $http_referer \"$http_user_agent\"",
        )
        .unwrap();
        let line = |escape| {
            let mut out = Vec::new();
            t.eval_log(&source(), escape, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            line(LogEscape::Default),
            r#"127.0.0.1 "GET /q?a=\x221\x22 HTTP/1.1"  - "curl\x5C8\x0A""#
        );
        assert_eq!(
            line(LogEscape::Json),
            r#"127.0.0.1 "GET /q?a=\"1\" HTTP/1.1"   "curl\\8\n""#
        );
        assert_eq!(
            line(LogEscape::None),
            "127.0.0.1 \"GET /q?a=\"1\" HTTP/1.1\"   \"curl\\8\n\""
        );
    }

    #[test]
    fn header_names_match_variable_names() {
        assert!(header_matches("user_agent", b"User-Agent"));
        assert!(header_matches("x_forwarded_for", b"X-FORWARDED-FOR"));
        assert!(header_matches("x_a", b"x_a"));
        assert!(!header_matches("user_agent", b"User-Agents"));
        assert!(!header_matches("host", b"Hosts"));
        assert!(!header_matches("", b"X"));
    }

    #[test]
    fn args_are_found_like_ngx_http_arg() {
        let q = b"a=1&Page=2&flag&b=&page=3&xa=4";
        assert_eq!(find_arg(q, "a"), Some(&b"1"[..]));
        assert_eq!(find_arg(q, "page"), Some(&b"2"[..]));
        assert_eq!(find_arg(q, "b"), Some(&b""[..]));
        assert_eq!(find_arg(q, "flag"), None);
        assert_eq!(find_arg(q, "x"), None);
        assert_eq!(find_arg(b"", "a"), None);
    }

    #[test]
    fn cookies_are_found_like_nginx() {
        let h = b"sid=abc; Theme = dark ;lang=en, x=1; sidx=9";
        assert_eq!(find_cookie(h, "sid"), Some(&b"abc"[..]));
        assert_eq!(find_cookie(h, "theme"), Some(&b"dark "[..]));
        assert_eq!(find_cookie(h, "lang"), Some(&b"en, x=1"[..]));
        assert_eq!(find_cookie(h, "x"), Some(&b"1"[..]));
        assert_eq!(find_cookie(h, "sidx"), Some(&b"9"[..]));
        assert_eq!(find_cookie(h, "si"), None);
        assert_eq!(find_cookie(b"a", "abc"), None);
    }
}
