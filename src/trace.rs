//! A hook the routing code reports its steps to, for `portico -t --explain`
//! ([`crate::explain`]): the server choice, each location tried, every `rewrite`, `return`,
//! `if` and `set`, internal redirects, `try_files` probes and the content handler.
//!
//! The steps are told by the code that takes them ([`crate::router`], [`crate::rewrite`],
//! the worker's phases and content handler), so what `--explain` prints is what a worker
//! does, not a model of it. Off, the hook is an `Option` that is `None`: a step is built only
//! behind an `if let Some(trace)`, so the request path pays one branch per step and nothing
//! else.

use crate::config::{LocationConf, ServerConf};
use crate::rewrite::{Condition, Flag, Outcome};
use crate::router::ServerMatch;
use crate::vars::Var;

/// Where the routing code finds the trace: `None` when nobody explains (always, in a worker).
pub type TraceSlot<'a> = Option<&'a mut (dyn Trace + 'static)>;

/// Receives the routing steps of one request.
pub trait Trace {
    /// One step, in the order the routing code takes them.
    fn step(&mut self, step: Step<'_>);
}

/// What a `try_files` probe (or the static handler's look-up) found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// A regular file (or, for a `name/` probe, a directory): the one used.
    Found,
    /// Something, but not of the kind asked for (a directory for a file, or the reverse).
    WrongKind,
    /// Nothing there (or nothing this process may see).
    Missing,
}

/// One step of the routing of a request.
#[derive(Debug)]
pub enum Step<'a> {
    /// The listening address the request came to, and how many servers listen there.
    Listen {
        /// The address.
        addr: &'a crate::config::ListenAddr,
        /// Servers on it.
        servers: usize,
        /// Why this one.
        why: &'a str,
    },
    /// The virtual server chosen, and why.
    Server {
        /// Its index among the `http` block's servers.
        index: usize,
        /// The server.
        server: &'a ServerConf,
        /// How its name matched.
        matched: ServerMatch<'a>,
    },
    /// The server's (`server: true`) or the location's rewrite directives start.
    RewritePhase {
        /// Server-level directives rather than a location's.
        server: bool,
    },
    /// A location search for `uri` starts.
    Search {
        /// The URI searched for.
        uri: &'a [u8],
    },
    /// An exact (`=`) location equal to the URI: the search ends.
    Exact(&'a LocationConf),
    /// The longest prefix location at one level (`^~`: no regex is tried after it).
    LongestPrefix(&'a LocationConf),
    /// The locations nested in this one are searched.
    Nested(&'a LocationConf),
    /// A regex location, tried in configuration order.
    Regex {
        /// The location.
        location: &'a LocationConf,
        /// Whether its regex matched the URI.
        matched: bool,
    },
    /// The location the search chose (`None`: no location matched, the server's settings
    /// answer).
    Chosen(Option<&'a LocationConf>),
    /// `rewrite REGEX REPLACEMENT [FLAG]`.
    Rewrite {
        /// Nesting inside `if` blocks (0 at the top).
        depth: usize,
        /// The regex (its source in the configuration).
        regex: &'a str,
        /// The flag.
        flag: Flag,
        /// The URI before.
        uri_before: &'a [u8],
        /// The arguments before.
        args_before: Option<&'a [u8]>,
        /// Whether the regex matched.
        matched: bool,
        /// The URI after.
        uri_after: &'a [u8],
        /// The arguments after.
        args_after: Option<&'a [u8]>,
        /// What the directive decided, when it ended the rewrite directives (a redirect, a
        /// 500 for an empty URI, `last`, `break`).
        outcome: Option<&'a Outcome<'a>>,
    },
    /// `return CODE [TEXT|URL]`, with its text evaluated.
    Return {
        /// Nesting inside `if` blocks.
        depth: usize,
        /// What it answers.
        outcome: &'a Outcome<'a>,
    },
    /// `set $name VALUE` (or `set $args`).
    Set {
        /// Nesting inside `if` blocks.
        depth: usize,
        /// The variable set.
        var: &'a Var,
        /// Its value before (`None`: never set in this request).
        before: Option<&'a [u8]>,
        /// Its value after.
        after: &'a [u8],
    },
    /// `if (CONDITION)`: the values compared and the result.
    If {
        /// Nesting inside `if` blocks.
        depth: usize,
        /// The condition.
        condition: &'a Condition,
        /// The tested variable's value, or the tested path for `-f` and its kin.
        subject: &'a [u8],
        /// The right-hand side of `=`/`!=`, evaluated.
        operand: Option<&'a [u8]>,
        /// Whether the block runs (`None`: the regex failed to run, 500).
        result: Option<bool>,
    },
    /// `break`.
    Break {
        /// Nesting inside `if` blocks.
        depth: usize,
    },
    /// An internal redirect (`index`, `try_files`, `error_page`) to `uri`.
    InternalRedirect {
        /// The new URI.
        uri: &'a [u8],
        /// Its arguments.
        args: Option<&'a [u8]>,
    },
    /// A redirect to a named location (`try_files ... @name`, `error_page ... @name`).
    NamedLocation(&'a str),
    /// The request ends with `status` (an `error_page` for it may still answer).
    Finalize {
        /// The status.
        status: u16,
    },
    /// The `error_page` that answers `status`, and its target.
    ErrorPage {
        /// The status it answers.
        status: u16,
        /// Its URI, `@name` or URL, evaluated.
        target: &'a [u8],
    },
    /// The content handler of the final location (`static`, `proxy`, `empty_gif`).
    Handler(&'static str),
    /// One `try_files` entry: its name, the path it maps to, and what is there.
    TryFiles {
        /// The entry, evaluated (without the `/` of a directory entry).
        name: &'a [u8],
        /// A directory entry (`$uri/`).
        dir: bool,
        /// The file it maps to.
        path: &'a [u8],
        /// What was found.
        probe: Probe,
    },
    /// The static handler's file for the URI, and the status it leads to.
    StaticFile {
        /// The path (`root`/`alias` + URI).
        path: &'a [u8],
        /// 200 for a file, 301 for a directory without its `/`, else the error status.
        status: u16,
    },
    /// The index module for a URI ending in `/`: the index file used, if any.
    Index {
        /// The directory.
        dir: &'a [u8],
        /// The index found (`None`: none of them exists).
        found: Option<&'a str>,
    },
    /// Anything else worth a line (`internal` refusing a request, a body too large).
    Note(&'a str),
}

/// Reports `step` to the trace in `$slot` (an `Option<&mut dyn Trace>` place), building it
/// only when there is one.
#[macro_export]
macro_rules! trace_step {
    ($slot:expr, $step:expr) => {
        if let Some(trace) = $slot.as_deref_mut() {
            trace.step($step);
        }
    };
}
