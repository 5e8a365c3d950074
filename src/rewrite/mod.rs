//! The rewrite module (`ngx_http_rewrite_module` with the script engine of
//! `ngx_http_script.c`): `rewrite`, `return`, `set`, `if` and `break`, compiled once at config
//! load into [`Op`]s and run per request by the pure engine [`run`].
//!
//! The engine touches no socket and no request: it reads variables through a [`VarSource`],
//! changes the [`RewriteCtx`] (URI, arguments, captures, `set` values, the settings of a
//! matched `if`) and says what the worker must do next with an [`Outcome`]. The worker runs the
//! server's list ([`crate::config::ServerConf::rewrite`]) once before the location search and
//! the location's list ([`crate::config::LocationConf::rewrite`]) after each search; it
//! enforces nginx's limit of [`MAX_URI_CHANGES`] location searches per request.
//!
//! nginx compiles a block's directives into one flat code array in which an `if` is a
//! conditional jump; here an `if` owns its directives ([`Op::If`]), which reads the same:
//! a true condition runs its block and then carries on after it.

mod engine;
#[cfg(test)]
mod tests;

use std::os::unix::ffi::OsStrExt;

use crate::config::LocSettings;
use crate::log::LogLevel;
use crate::vars::{Var, VarSource, find_arg};

pub use engine::{run, run_traced};

/// nginx's `NGX_HTTP_MAX_URI_CHANGES`: location searches after a rewrite (or internal
/// redirect) allowed per request; one more is "rewrite or internal redirection cycle" (500).
pub const MAX_URI_CHANGES: usize = 10;

/// The compiled directives the engine runs: the configuration owns them (imports flow
/// from the engine to the configuration, never back).
pub use crate::config::rewrite_ops::{Condition, FileTest, Flag, Op};

/// What the worker does after [`run`]. Texts written without variables are borrowed from
/// the configuration, so a literal `return` costs no allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// The directives ran out and the URI did not change: carry on in the current location.
    Continue,
    /// `break` (directive or flag): stop rewriting and serve [`RewriteCtx::uri`] from the
    /// current location; [`RewriteCtx::valid_location`] is false if the URI changed.
    Break,
    /// The URI changed (a rewrite with `last` or without a flag): search the locations again
    /// (after the server's list the search happens anyway), counting one URI change.
    Relocate,
    /// Answer `code` (301 or 302 from `rewrite`, any code from `return`) with this
    /// `Location`, still relative if written so, and nginx's standard page as the body.
    Redirect {
        /// The status.
        code: u16,
        /// The `Location` value.
        location: std::borrow::Cow<'a, [u8]>,
    },
    /// Answer `code`: with `body` as the response body (served with `default_type`), or with
    /// nginx's standard page for the code when `None`. 444 closes the connection instead; a
    /// rewrite to an empty URI gives 500.
    Return {
        /// The status.
        code: u16,
        /// The body, if the directive gave one (an empty one for codes below 400).
        body: Option<std::borrow::Cow<'a, [u8]>>,
    },
}

impl Outcome<'_> {
    /// The same outcome owning its texts.
    pub fn into_owned(self) -> Outcome<'static> {
        use std::borrow::Cow;
        match self {
            Outcome::Continue => Outcome::Continue,
            Outcome::Break => Outcome::Break,
            Outcome::Relocate => Outcome::Relocate,
            Outcome::Redirect { code, location } => Outcome::Redirect {
                code,
                location: Cow::Owned(location.into_owned()),
            },
            Outcome::Return { code, body } => Outcome::Return {
                code,
                body: body.map(|b| Cow::Owned(b.into_owned())),
            },
        }
    }
}

/// Captures of the last regex match (one type for every regex: [`crate::regex::Captures`]).
pub use crate::regex::Captures;

/// The request state the rewrite directives read and change.
pub struct RewriteCtx<'a> {
    /// The current URI: decoded, normalised path without arguments.
    pub uri: Vec<u8>,
    /// The current arguments (`None` when empty).
    pub args: Option<Vec<u8>>,
    /// Whether the request's URI held `%` escapes or `+` (nginx's `quoted_uri`,
    /// `plus_in_uri`): captures copied into arguments or a redirect are then escaped.
    pub quoted_uri: bool,
    /// Captures of the last regex match (a regex location's, then the rewrite module's).
    pub captures: Captures,
    /// Values of the `set` variables, indexed by [`Var::User`]; `None` until set.
    pub user: Vec<Option<Vec<u8>>>,
    /// The settings of the last `if` whose condition held, inside a location; the worker
    /// serves with them instead of the location's. Cleared on [`Outcome::Relocate`].
    pub loc: Option<&'a LocSettings>,
    /// A rewrite without `break` changed the URI (nginx's `uri_changed`).
    pub uri_changed: bool,
    /// False once the URI was changed while keeping the location (`break`); nginx then
    /// refuses to map the URI through `alias` (nginx's `valid_location`).
    pub valid_location: bool,
    /// `rewrite_log on`: report matches and results to `logs` at notice level.
    pub rewrite_log: bool,
    /// Log lines of the last [`run`] (notices with `rewrite_log`, errors): the worker writes
    /// them with the request's context and clears the list.
    pub logs: Vec<(LogLevel, String)>,
    /// A `set` variable read before any value was set (the last one), for nginx's
    /// `using uninitialized "name" variable` warning; the worker takes it.
    pub uninitialized: std::cell::Cell<Option<usize>>,
    /// Values of the computed variables (`map`, `geo`, `split_clients`) once computed.
    pub computed: crate::computed::ComputedValues<'a>,
    /// The response's rate limit once something set it (nginx's `r->limit_rate_set`):
    /// `set $limit_rate`, an upstream's `X-Accel-Limit-Rate`, or the writer evaluating
    /// `limit_rate` at the response's first write.
    pub limit_rate: Option<u64>,
}

impl<'a> RewriteCtx<'a> {
    /// A context for a request's `uri` and `args`, with room for `user_vars` `set` values
    /// (the configuration's [`crate::vars::UserVars::len`]).
    pub fn new(uri: Vec<u8>, args: Option<Vec<u8>>, user_vars: usize) -> RewriteCtx<'a> {
        RewriteCtx {
            uri,
            args: args.filter(|a| !a.is_empty()),
            quoted_uri: false,
            captures: Captures::default(),
            user: vec![None; user_vars],
            loc: None,
            uri_changed: false,
            valid_location: true,
            rewrite_log: false,
            logs: Vec::new(),
            uninitialized: std::cell::Cell::new(None),
            computed: Default::default(),
            limit_rate: None,
        }
    }

    /// The value of `set` variable `i`: `Some(b"")` when declared but not set in this
    /// request (nginx warns "using uninitialized variable" and uses an empty value; the
    /// variable is remembered in [`RewriteCtx::uninitialized`] for the worker to warn).
    pub fn user_value(&self, i: usize) -> Option<&[u8]> {
        let value = self.user.get(i)?;
        if value.is_none() {
            self.uninitialized.set(Some(i));
        }
        Some(value.as_deref().unwrap_or(b""))
    }

    fn log(&mut self, level: LogLevel, message: impl FnOnce() -> String) {
        if level == LogLevel::Notice && !self.rewrite_log {
            return;
        }
        self.logs.push((level, message()));
    }
}

/// A [`VarSource`] for templates evaluated during and after rewriting: answers `$1`..`$9`,
/// `set` variables, and `$uri`, `$document_uri`, `$args`, `$query_string`, `$is_args`,
/// `$arg_*` (which rewrites change) from the [`RewriteCtx`]; defers everything else to
/// `inner`, the request's own source.
pub struct WithScript<'a, 'b> {
    /// The script state.
    pub ctx: &'a RewriteCtx<'b>,
    /// The request's variables.
    pub inner: &'a dyn VarSource,
}

impl VarSource for WithScript<'_, '_> {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        script_var(self.ctx, self.inner, var, out, false)
    }
}

/// [`WithScript`], optionally escaping captures as nginx does in arguments and redirects.
pub(crate) fn script_var(
    ctx: &RewriteCtx<'_>,
    inner: &dyn VarSource,
    var: &Var,
    out: &mut Vec<u8>,
    escape_captures: bool,
) -> bool {
    let put = |out: &mut Vec<u8>, value: Option<&[u8]>| match value {
        Some(v) => {
            out.extend_from_slice(v);
            true
        }
        None => false,
    };
    match var {
        Var::User(i) => put(out, ctx.user_value(*i)),
        // Computed from the whole view (script state in front of the request), so its
        // source may use captures, `set` variables and other computed variables.
        Var::Computed(i) => match ctx.computed.set_by(*i).and_then(|u| ctx.user.get(u)) {
            // `set` assigned it in this request: nginx keeps that value instead.
            Some(Some(value)) => put(out, Some(value)),
            _ => ctx.computed.get(*i, &WithScript { ctx, inner }, out),
        },
        Var::Capture(n) => match ctx.captures.get(usize::from(*n)) {
            Some(v) if escape_captures => {
                crate::http::uri::escape_args(v, out);
                true
            }
            v => put(out, v),
        },
        Var::Uri | Var::DocumentUri => put(out, Some(&ctx.uri)),
        // nginx's `r->limit_rate`: 0 until something sets it.
        Var::LimitRate => {
            out.extend_from_slice(ctx.limit_rate.unwrap_or(0).to_string().as_bytes());
            true
        }
        Var::Args | Var::QueryString => put(out, ctx.args.as_deref()),
        Var::IsArgs => {
            if ctx.args.is_some() {
                out.push(b'?');
            }
            true
        }
        Var::Arg(name) => put(out, ctx.args.as_deref().and_then(|a| find_arg(a, name))),
        // The file the current URI maps to under `root` (the worker knows `alias` mappings
        // only once the content phase made one; it answers itself then).
        Var::DocumentRoot => {
            let script = WithScript { ctx, inner };
            inner.map_uri(&ctx.uri, &script, true, out) || inner.var(var, out)
        }
        // `$document_root` (which may hold `set` values) with its links resolved.
        Var::RealpathRoot => {
            let script = WithScript { ctx, inner };
            let mut root = Vec::new();
            if !inner.map_uri(&ctx.uri, &script, true, &mut root) {
                return inner.var(var, out);
            }
            let path = std::path::Path::new(std::ffi::OsStr::from_bytes(&root));
            match std::fs::canonicalize(path) {
                Ok(real) => put(out, Some(real.as_os_str().as_bytes())),
                Err(_) => false,
            }
        }
        Var::RequestFilename => {
            let script = WithScript { ctx, inner };
            if inner.var(var, out) || inner.map_uri(&ctx.uri, &script, false, out) {
                return true;
            }
            if !inner.var(&Var::DocumentRoot, out) {
                return false;
            }
            out.extend_from_slice(&ctx.uri);
            true
        }
        _ => inner.var(var, out),
    }
}
