//! `$variables`: compiled once at config load, evaluated per request.
//!
//! A string such as a `log_format` or a `return` text is compiled into a [`Template`]: literal
//! byte runs and [`Var`]s, resolved from their names once, so a request never parses `$`
//! again. Evaluation asks a [`VarSource`] (the worker's request) for each variable's value.
//! Names follow nginx: case-insensitive, `[A-Za-z0-9_]`, `${name}` to end one before a letter,
//! `$1`..`$9` for regex captures, and the prefixed families `$http_*`, `$sent_http_*`,
//! `$cookie_*`, `$arg_*`, plus `$upstream_*`/`$proxy_*` for the proxy.
//!
//! Variables declared by `set $name` anywhere in the configuration are known everywhere, as
//! in nginx: the loader collects them into a [`UserVars`] registry before it compiles any
//! template, and [`Template::compile_with`] resolves `$name` to [`Var::User`] by index. Their
//! values (and regex captures) live in the request's [`crate::rewrite::RewriteCtx`].
//!
//! Variables computed from the request (`map`, `geo`, `split_clients`: see
//! [`crate::computed`]) are declared the same way and compile to [`Var::Computed`].

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
    // ---- core (long tail) ----
    /// `$connection_time`: seconds since the connection was accepted, with milliseconds.
    ConnectionTime = "connection_time",
    /// `$tcpinfo_rtt`: the connection's round-trip time in microseconds (`TCP_INFO`).
    TcpinfoRtt = "tcpinfo_rtt",
    /// `$tcpinfo_rttvar`: its variance in microseconds.
    TcpinfoRttvar = "tcpinfo_rttvar",
    /// `$tcpinfo_snd_cwnd`: the send congestion window in segments.
    TcpinfoSndCwnd = "tcpinfo_snd_cwnd",
    /// `$tcpinfo_rcv_space`: the receive space.
    TcpinfoRcvSpace = "tcpinfo_rcv_space",
    // ---- limits, realip, auth_basic (issue 14) ----
    /// `$realip_remote_addr`: the connection's own client address, before realip.
    RealipRemoteAddr = "realip_remote_addr",
    /// `$realip_remote_port`: the connection's own client port, before realip.
    RealipRemotePort = "realip_remote_port",
    /// `$proxy_protocol_addr`: the client address from the PROXY protocol header.
    ProxyProtocolAddr = "proxy_protocol_addr",
    /// `$proxy_protocol_port`: the client port from the PROXY protocol header.
    ProxyProtocolPort = "proxy_protocol_port",
    /// `$proxy_protocol_server_addr`: the server address from the PROXY protocol header.
    ProxyProtocolServerAddr = "proxy_protocol_server_addr",
    /// `$proxy_protocol_server_port`: the server port from the PROXY protocol header.
    ProxyProtocolServerPort = "proxy_protocol_server_port",
    /// `$limit_req_status`: PASSED, DELAYED, REJECTED, DELAYED_DRY_RUN, REJECTED_DRY_RUN.
    LimitReqStatus = "limit_req_status",
    /// `$limit_conn_status`: PASSED, REJECTED, REJECTED_DRY_RUN.
    LimitConnStatus = "limit_conn_status",
    // ---- fastcgi ----
    /// `$fastcgi_script_name`: the URI's script part by `fastcgi_split_path_info`, with
    /// `fastcgi_index` after a `/`.
    FastcgiScriptName = "fastcgi_script_name",
    /// `$fastcgi_path_info`: the URI's path-info part by `fastcgi_split_path_info`.
    FastcgiPathInfo = "fastcgi_path_info",
    // ---- map, geo, split_clients, referer, empty_gif ----
    /// `$invalid_referer`: empty when the `Referer` passes the location's
    /// `valid_referers`, else `1`.
    InvalidReferer = "invalid_referer",
    // ---- gzip ----
    /// `$gzip_ratio`: the response's body bytes over its gzip bytes (`2.46`), once
    /// compressed; not found otherwise.
    GzipRatio = "gzip_ratio",
    // ---- writer: limit_rate, body files ----
    /// `$limit_rate`: the response's rate limit in bytes per second (`set` changes it).
    LimitRate = "limit_rate",
    /// `$request_body_file`: the temporary file holding the request body, if any.
    RequestBodyFile = "request_body_file",
    // ---- status: stub_status ----
    /// `$connections_active`: client connections open in the whole server.
    ConnectionsActive = "connections_active",
    /// `$connections_reading`: connections reading a request head.
    ConnectionsReading = "connections_reading",
    /// `$connections_writing`: connections past the head (body, response).
    ConnectionsWriting = "connections_writing",
    /// `$connections_waiting`: idle connections.
    ConnectionsWaiting = "connections_waiting",
    // ---- tls (issue 15) ----
    /// `$ssl_protocol`: `TLSv1.2` or `TLSv1.3`; empty on a plain connection.
    SslProtocol = "ssl_protocol",
    /// `$ssl_cipher`: the suite's OpenSSL name.
    SslCipher = "ssl_cipher",
    /// `$ssl_server_name`: the SNI the client sent.
    SslServerName = "ssl_server_name",
    /// `$ssl_session_reused`: `r` for a resumed session, else `.`.
    SslSessionReused = "ssl_session_reused",
    /// `$ssl_session_id`: the session id in hex (TLS 1.2: the ServerHello's; TLS 1.3: a
    /// random id of the ticketed session, as OpenSSL draws one per ticket).
    SslSessionId = "ssl_session_id",
    /// `$ssl_alpn_protocol`: the protocol ALPN chose.
    SslAlpnProtocol = "ssl_alpn_protocol",
    /// `$ssl_curve`: the key-exchange group.
    SslCurve = "ssl_curve",
    /// `$ssl_early_data`: `1` for a request that came in TLS 1.3 0-RTT data.
    SslEarlyData = "ssl_early_data",
    /// `$ssl_client_verify`: `SUCCESS`, `FAILED:reason` or `NONE`.
    SslClientVerify = "ssl_client_verify",
    /// `$ssl_client_s_dn`: the client certificate's subject (RFC 2253).
    SslClientSDn = "ssl_client_s_dn",
    /// `$ssl_client_i_dn`: its issuer (RFC 2253).
    SslClientIDn = "ssl_client_i_dn",
    /// `$ssl_client_serial`: uppercase hex, as OpenSSL writes it.
    SslClientSerial = "ssl_client_serial",
    /// `$ssl_client_fingerprint`
    SslClientFingerprint = "ssl_client_fingerprint",
    /// `$ssl_client_cert`
    SslClientCert = "ssl_client_cert",
    /// `$ssl_client_raw_cert`
    SslClientRawCert = "ssl_client_raw_cert",
    /// `$ssl_client_escaped_cert`
    SslClientEscapedCert = "ssl_client_escaped_cert",
    // ---- http2 ----
    /// `$http2`: `h2` over TLS, `h2c` in clear on an HTTP/2 connection, else empty.
    Http2 = "http2",
    // ---- tls3: more $ssl_* variables (tls/dn.rs, tls/offer.rs) ----
    /// `$ssl_client_s_dn_legacy`: the subject as `/C=../CN=..`.
    SslClientSDnLegacy = "ssl_client_s_dn_legacy",
    /// `$ssl_client_i_dn_legacy`: the issuer as `/C=../CN=..`.
    SslClientIDnLegacy = "ssl_client_i_dn_legacy",
    /// `$ssl_client_v_start`: the certificate's notBefore.
    SslClientVStart = "ssl_client_v_start",
    /// `$ssl_client_v_end`: its notAfter.
    SslClientVEnd = "ssl_client_v_end",
    /// `$ssl_client_v_remain`: days until notAfter.
    SslClientVRemain = "ssl_client_v_remain",
    /// `$ssl_ciphers`: the suites the client offered (OpenSSL names).
    SslCiphers = "ssl_ciphers",
    /// `$ssl_curves`: the groups the client offered.
    SslCurves = "ssl_curves",
    ;
    /// `$arg_NAME`: one query argument (name stored lowercase; see [`find_arg`]).
    Arg(String),
    /// `$http_NAME`: a request header, `_` standing for `-` (see [`header_matches`]).
    Http(String),
    /// `$cookie_NAME`: one cookie of the request (see [`find_cookie`]).
    Cookie(String),
    /// `$sent_http_NAME`: a response header.
    SentHttp(String),
    /// `$sent_trailer_NAME`: a trailer `add_trailer` made before the one being made.
    SentTrailer(String),
    /// `$1`..`$9`: a capture of the last matched regex.
    Capture(u8),
    /// A variable declared by `set`, by its index in the configuration's [`UserVars`].
    User(usize),
    /// Any `$upstream_*` or `$proxy_*` variable, by its whole lowercase name
    /// (`upstream_addr`), answered by the proxy.
    Upstream(String),
    /// A variable computed from the request (`map`, `geo`, `split_clients`), by its index in
    /// the configuration's [`crate::computed::ComputedTable`].
    Computed(usize),
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
        if let Some(rest) = family("sent_trailer_") {
            return Some(Var::SentTrailer(rest));
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
        if is_upstream_name(name) {
            return Some(Var::Upstream(name.to_string()));
        }
        NAMED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

/// The variables of nginx 1.22's upstream and proxy modules.
fn is_upstream_name(name: &str) -> bool {
    const NAMES: [&str; 14] = [
        "upstream_addr",
        "upstream_status",
        "upstream_connect_time",
        "upstream_header_time",
        "upstream_response_time",
        "upstream_response_length",
        "upstream_bytes_received",
        "upstream_bytes_sent",
        "proxy_host",
        "proxy_port",
        "proxy_add_x_forwarded_for",
        "proxy_internal_body_length",
        "proxy_internal_chunked",
        // ---- cache (issue 19) ----
        "upstream_cache_status",
    ];
    const PREFIXES: [&str; 3] = ["upstream_http_", "upstream_trailer_", "upstream_cookie_"];
    NAMES.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
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
            Var::User(i) => write!(f, "$<set variable #{i}>"),
            Var::Computed(i) => write!(f, "$<computed variable #{i}>"),
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

    /// Appends the file `uri` maps to (`root` + URI, or `alias` for the location's prefix)
    /// for `$request_filename`, or with `root_only` the root or evaluated alias for
    /// `$document_root`, while rewrites change the URI and captures; `script` evaluates an
    /// alias's variables. False when the source cannot map it.
    fn map_uri(
        &self,
        _uri: &[u8],
        _script: &dyn VarSource,
        _root_only: bool,
        _out: &mut Vec<u8>,
    ) -> bool {
        false
    }
}

/// A [`VarSource`] that answers some variables itself and hands every other question
/// (`map_uri` included) to `inner`: `own` returns `Some(found)` for a variable it answers,
/// `None` for the rest.
pub struct Overlay<'a, F> {
    /// The variables underneath.
    pub inner: &'a dyn VarSource,
    /// The variables answered here.
    pub own: F,
}

impl<F: Fn(&Var, &mut Vec<u8>) -> Option<bool>> VarSource for Overlay<'_, F> {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        match (self.own)(var, out) {
            Some(found) => found,
            None => self.inner.var(var, out),
        }
    }

    fn map_uri(
        &self,
        uri: &[u8],
        script: &dyn VarSource,
        root_only: bool,
        out: &mut Vec<u8>,
    ) -> bool {
        self.inner.map_uri(uri, script, root_only, out)
    }
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
    /// Compiles `text` (e.g. a `log_format` string) knowing only built-in variables; unknown
    /// variables are an error whose message is nginx's: `unknown "foo" variable`.
    pub fn compile(text: &str) -> Result<Template, String> {
        Template::compile_with(text, &UserVars::default())
    }

    /// Compiles `text`, resolving names declared by `set` (in `user`) before built-in ones,
    /// as nginx's variable table does (`set $http_x` shadows the `$http_*` family).
    pub fn compile_with(text: &str, user: &UserVars) -> Result<Template, String> {
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
                    resolve(&name.to_ascii_lowercase(), user)?
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

    /// A template of fixed text.
    pub fn literal(text: &str) -> Template {
        let parts = if text.is_empty() {
            Vec::new()
        } else {
            vec![Part::Literal(text.as_bytes().into())]
        };
        Template { parts }
    }

    /// The text, when it has no variables (so callers can skip evaluation).
    pub fn is_literal(&self) -> Option<&[u8]> {
        match self.parts.as_slice() {
            [] => Some(b""),
            [Part::Literal(bytes)] => Some(bytes),
            _ => None,
        }
    }

    /// The variable the template is made of, when it is one variable and nothing else
    /// (`$binary_remote_addr`): callers on the request path may read it directly.
    pub fn single_var(&self) -> Option<&Var> {
        match self.parts.as_slice() {
            [Part::Var(v)] => Some(v),
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

/// Resolves a lowercase name (without `$`): a computed variable first (its handler is the
/// one nginx keeps when `set` names it too), then a `set` variable, then a built-in one;
/// nginx's `unknown "name" variable` otherwise.
pub fn resolve(name: &str, user: &UserVars) -> Result<Var, String> {
    user.note_upstream_head(name);
    user.computed_index(name)
        .map(Var::Computed)
        .or_else(|| user.index(name).map(Var::User))
        .or_else(|| Var::from_name(name))
        .ok_or_else(|| format!("unknown \"{name}\" variable"))
}

/// Whether `name` (lowercase, without `$`) is a built-in variable with a fixed name, such as
/// `uri` (not a family such as `http_*`): `set` may not redeclare one.
pub fn is_builtin_name(name: &str) -> bool {
    NAMED.iter().any(|(n, _)| *n == name)
}

/// The variables declared by `set $name` anywhere in the configuration, in first-seen order;
/// [`Var::User`]`(i)` is the i-th. Names are stored lowercase, as nginx compares them.
/// The names of computed variables are declared here too ([`UserVars::declare_computed`]),
/// in a list of their own indexed by [`Var::Computed`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserVars {
    names: Vec<String>,
    /// Per variable: declared by a regex's named group (see the block at the end).
    captures: Vec<bool>,
    computed: Vec<String>,
    /// Some template reads the upstream's response head (see the block at the end).
    reads_upstream_head: std::cell::Cell<bool>,
}

impl UserVars {
    /// Declares `name` (any case) and returns its index; a name declared twice keeps its
    /// first index.
    pub fn declare(&mut self, name: &str) -> usize {
        let name = name.to_ascii_lowercase();
        match self.index(&name) {
            Some(i) => i,
            None => {
                self.names.push(name);
                self.captures.push(false);
                self.names.len() - 1
            }
        }
    }

    /// The index of a lowercase name, if declared.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The name of variable `i` (for messages such as `using uninitialized "x" variable`).
    pub fn name(&self, i: usize) -> Option<&str> {
        self.names.get(i).map(String::as_str)
    }

    /// How many variables are declared: the size of a request's value table.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no `set` appears in the configuration.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Declares a computed variable's `name` (any case) and returns its index; a name
    /// declared twice keeps its first index (the last definition wins, as in nginx).
    pub fn declare_computed(&mut self, name: &str) -> usize {
        let name = name.to_ascii_lowercase();
        match self.computed_index(&name) {
            Some(i) => i,
            None => {
                self.computed.push(name);
                self.computed.len() - 1
            }
        }
    }

    /// The index of a computed variable's lowercase name, if declared.
    pub fn computed_index(&self, name: &str) -> Option<usize> {
        self.computed.iter().position(|n| n == name)
    }
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

// ---- regex: named captures as variables ----

impl UserVars {
    /// Declares `name` (any case) as set by a regex's named group `(?<name>…)` and returns
    /// its index; the variable may also be a `set` one (nginx gives both one index).
    pub fn declare_capture(&mut self, name: &str) -> usize {
        let i = self.declare(name);
        if let Some(flag) = self.captures.get_mut(i) {
            *flag = true;
        }
        i
    }

    /// Whether variable `i` is a regex's named group: before a match sets it, nginx finds
    /// no value (an empty one, without the `set` variables' "uninitialized" warning).
    pub fn is_capture(&self, i: usize) -> bool {
        self.captures.get(i).copied().unwrap_or(false)
    }
}

// ---- proxy: whether the upstream's response head must be kept ----

impl UserVars {
    /// Notes a variable name the configuration uses: `$upstream_http_*` and
    /// `$upstream_cookie_*` read the upstream's response head after the proxy has passed it
    /// on, so the proxy keeps a copy only for configurations that use them.
    fn note_upstream_head(&self, name: &str) {
        if name.starts_with("upstream_http_") || name.starts_with("upstream_cookie_") {
            self.reads_upstream_head.set(true);
        }
    }

    /// Whether some template of the configuration reads `$upstream_http_*` or
    /// `$upstream_cookie_*`.
    pub fn reads_upstream_head(&self) -> bool {
        self.reads_upstream_head.get()
    }
}

#[cfg(test)]
mod tests;
