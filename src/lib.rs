//! Portico: an nginx-compatible web server and reverse proxy.
//!
//! The path of a request, in the order the code runs (imports flow the same way, downwards):
//! - [`cli`] reads nginx's command-line flags; `main.rs` dispatches `-t`, `-s`, `-v`…;
//!   [`control`] is `-s` (signal the master, then report what came of it), [`explain`] is
//!   `-t --explain` (route a request through the worker's code with a [`trace`] hook).
//! - [`master`] binds every `listen` socket ([`listener`]), writes the pid file, forks the
//!   workers (which drop to [`user`]), and then only handles signals (reload, stop, reopen)
//!   and respawns workers.
//! - [`worker`] is one process's single-threaded `mio` event loop: it accepts connections and
//!   drives each connection's state machine (`worker::conn`), with every timeout in one
//!   timer heap. A connection is its socket's only reader and writer: a response has one
//!   source (fixed bytes, a file, an upstream) that its writer drains; keep-alive is decided
//!   in one function, response heads are built in one place. The request handling inside
//!   it runs nginx's phases (rewrite, location, content) and picks who answers.
//! - Before the content phase, a request passes its admission (`worker::admission`):
//!   [`realip`] and [`proxy_protocol`] give the client's address behind a balancer,
//!   [`limits`] are `limit_req`/`limit_conn` over the shared-memory zones of [`shm`] (mapped by
//!   the master, seen by every worker), [`auth_basic`] checks passwords, [`cidr`] matches
//!   addresses; `satisfy` combines the access modules.
//! - [`static_files`] maps a URI to a file under `root` and opens it through the worker's
//!   open-file cache; [`router`] finds the virtual server and location; [`rewrite`] runs
//!   `rewrite`/`return`/`set`/`if`.
//! - [`proxy`] is `proxy_pass` over HTTP/1.x: the upstream request head, the response head,
//!   and the [`proxy::Http1`] protocol, on the generic machinery of [`upstream`] (peer choice,
//!   tries, timeouts, the keep-alive pool, request bodies, response buffering and temporary
//!   files), which a FastCGI protocol can use next to it.
//! - [`config`] turns `nginx.conf` into typed [`config::Config`]: a lexer, a generic directive
//!   tree with `include`, one directive table, and settings merged http → server → location.
//! - [`vars`] compiles `$variables` once at config load; [`log`] writes the error log in
//!   nginx's format and the access log per `log_format`; [`regex`] is the one regex type
//!   (PCRE2, as nginx), whose named groups are variables; [`computed`] holds the variables
//!   made from the request by `map`, `geo` and `split_clients`, and the referer check;
//!   [`resolver`] resolves `proxy_pass` host names without blocking (nginx's `resolver`).
//! - [`http`] parses request heads (as nginx does, offsets into the connection's buffer),
//!   decodes bodies, normalises URIs, and holds response status lines and nginx's error
//!   pages; [`sys`] holds the little `unsafe` there is (sendfile, rlimits, affinity, epoll).
//! - [`slab`], [`listener`] and [`user`] are what the master and workers both use.

#[cfg(feature = "count-alloc")]
pub mod alloc_count;
pub mod auth_basic;
pub mod cache;
pub mod cgi;
pub mod cidr;
pub mod cli;
pub mod client_addr;
pub mod compress;
pub mod computed;
pub mod config;
pub mod control;
pub mod explain;
pub mod fast_hash;
pub mod http;
pub mod http2;
pub mod limits;
pub mod listener;
pub mod log;
pub mod master;
pub mod proxy;
pub mod proxy_protocol;
pub mod realip;
pub mod regex;
pub mod resolver;
pub mod rewrite;
pub mod router;
pub mod shm;
pub mod slab;
pub mod static_files;
pub mod status;
pub mod sys;
pub mod tls;
pub mod trace;
pub mod upstream;
pub mod user;
pub mod vars;
pub mod worker;

/// Name reported in `Server:` and error pages.
pub const NAME: &str = "portico";
/// Version reported by `-v` and `Server:` (with `server_tokens on`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
