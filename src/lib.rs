//! Portico: an nginx-compatible web server and reverse proxy.
//!
//! The path of a request, in the order the code runs:
//! - [`cli`] reads nginx's command-line flags; `main.rs` dispatches `-t`, `-s`, `-v`…;
//!   [`control`] is `-s` (signal the master, then report what came of it), [`explain`] is
//!   `-t --explain` (route a request through the worker's code with a [`trace`] hook).
//! - [`config`] turns `nginx.conf` into typed [`config::Config`]: a lexer, a generic directive
//!   tree with `include`, one directive table, and settings merged http → server → location.
//! - [`master`] binds every `listen` socket, writes the pid file, forks the workers, and then
//!   only handles signals (reload, stop, reopen) and respawns workers.
//! - [`worker`] is one process's single-threaded `mio` event loop: it accepts connections and
//!   drives each [`worker::conn`] state machine, with every timeout in one timer heap.
//! - [`http`] parses request heads (as nginx does, offsets into the connection's buffer), decodes
//!   bodies, normalises URIs, and builds response heads and nginx's error pages.
//! - [`resolver`] resolves `proxy_pass` host names without blocking (nginx's `resolver`).
//! - [`static_files`] maps a URI to a file under `root` and answers it with `sendfile(2)`.
//! - [`log`] writes the error log in nginx's format and the access log per `log_format`;
//!   [`vars`] compiles `$variables` once at config load; [`regex`] is the one regex type
//!   (PCRE2, as nginx), whose named groups are variables; [`computed`] holds the variables
//!   made from the request by `map`, `geo` and `split_clients`, and the referer check.
//! - [`sys`] holds the little `unsafe` there is (sendfile, rlimits, affinity, epoll flags).

#[cfg(feature = "count-alloc")]
pub mod alloc_count;
pub mod cli;
pub mod computed;
pub mod config;
pub mod control;
pub mod explain;
pub mod http;
pub mod log;
pub mod master;
pub mod proxy;
pub mod regex;
pub mod resolver;
pub mod rewrite;
pub mod router;
pub mod static_files;
pub mod sys;
pub mod trace;
pub mod vars;
pub mod worker;

/// Name reported in `Server:` and error pages.
pub const NAME: &str = "portico";
/// Version reported by `-v` and `Server:` (with `server_tokens on`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
