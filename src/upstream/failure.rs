//! Failures: who caused one and the status it maps to, and nginx's error-log lines about a
//! request's upstream.
//!
//! A failure of a try is logged in nginx's words, counted against the server (passive
//! health) and retried when `*_next_upstream` allows; the last one becomes the request's
//! [`Failure`], which the connection finalizes like any other status (`error_page`,
//! `add_header`, the access log), or, once the client has part of the response, by closing.

use std::borrow::Cow;
use std::fmt::Display;

use crate::config::ServerConf;
use crate::elog;
use crate::http::request::RequestHead;
use crate::log::LogLevel;
use crate::log::context::RequestContext;

/// Who caused a failure: decides the log level and what the client gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The client: a broken or late body, or it went away (logged at info).
    Client,
    /// The upstream: refused, reset, timed out, answered nonsense (logged at error).
    Upstream,
    /// This server: a temporary file could not be written or read (logged at crit).
    Us,
}

/// Why a request's upstream side ended without a response for the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Who caused it.
    pub cause: Cause,
    /// The status it maps to: 502/504 from the upstream, 500 from us, 4xx or 499 (nothing
    /// to answer) from the client.
    pub status: u16,
}

impl Failure {
    /// An upstream's failure answered with `status`.
    pub fn upstream(status: u16) -> Failure {
        Failure {
            cause: Cause::Upstream,
            status,
        }
    }

    /// Our own failure (500).
    pub fn ours() -> Failure {
        Failure {
            cause: Cause::Us,
            status: 500,
        }
    }

    /// The client's failure, with the status nginx logs for it.
    pub fn client(status: u16) -> Failure {
        Failure {
            cause: Cause::Client,
            status,
        }
    }
}

/// Why a try failed, as `*_next_upstream` names it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TryFailure {
    /// A socket error or an early close (`error`).
    Error,
    /// A timeout (`timeout`): 504 when it is the last.
    Timeout,
    /// A head that is not acceptable (`invalid_header`).
    InvalidHeader,
}

/// What an error-log line about a request needs, borrowed from its connection: formatted
/// only when a line is written.
pub struct RequestLog<'a> {
    /// The connection's number (`*N`).
    pub conn_id: u64,
    /// The client's address.
    pub client: crate::client_addr::ClientIp,
    /// The request's virtual server.
    pub server: &'a ServerConf,
    /// The request's head bytes.
    pub buf: &'a [u8],
    /// The parsed head (offsets into `buf`).
    pub head: &'a RequestHead,
}

impl RequestLog<'_> {
    /// Writes `*N WHAT, client: ..., server: ..., request: "...", upstream: "...", host:
    /// "..."` at `level`.
    pub fn line(&self, level: LogLevel, what: &dyn Display, upstream: Option<String>) {
        if !crate::log::enabled(level) {
            return;
        }
        let server: Cow<'_, str> = self.server.first_name();
        let context = RequestContext::of(self.buf, self.head).with_upstream(upstream);
        elog!(
            level,
            "*{} {what}, client: {}, server: {server}{context}",
            self.conn_id,
            self.client
        );
    }
}
