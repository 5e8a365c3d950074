//! The rewrite module's directives (`rewrite`, `return`, `set`, `if`, `break`) as the
//! configuration compiles them: the program that [`crate::rewrite`]'s engine runs per
//! request. They live here, beside the settings an `if` block carries, so the
//! configuration does not import the engine.

use super::settings::LocSettings;
use crate::vars::{Template, Var};

/// The last parameter of `rewrite`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    /// No flag: carry on with the next directives; search the locations again afterwards.
    None,
    /// `last`: stop here and search the locations again with the new URI.
    Last,
    /// `break`: stop here and serve the new URI from the current location.
    Break,
    /// `redirect`: answer 302 with the replacement as `Location`.
    Redirect,
    /// `permanent`: answer 301 with the replacement as `Location`.
    Permanent,
}

/// A file test of `if (-f path)` and its kin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileTest {
    /// `-f`: a regular file.
    File,
    /// `-d`: a directory.
    Dir,
    /// `-e`: a file, directory or symbolic link.
    Exists,
    /// `-x`: executable by its owner.
    Executable,
}

/// The condition of an `if`.
#[derive(Clone, Debug)]
pub enum Condition {
    /// `($var)`: true unless empty or `0`.
    Value(Var),
    /// `($var = value)`, or `!=` with `negate`.
    Equal {
        /// The variable compared.
        var: Var,
        /// What it is compared with.
        value: Template,
        /// `!=`.
        negate: bool,
    },
    /// `($var ~ regex)`, `~*` (compiled caseless), `!~`, `!~*` (with `negate`); a match sets
    /// the captures `$1`..`$9`, a miss clears them.
    Match {
        /// The variable matched.
        var: Var,
        /// The compiled pattern.
        regex: crate::regex::Regex,
        /// `!~` or `!~*`.
        negate: bool,
    },
    /// `(-f path)`, `(!-f path)`, and `-d`, `-e`, `-x`.
    File {
        /// The path tested.
        path: Template,
        /// What is tested.
        test: FileTest,
        /// The `!` form.
        negate: bool,
    },
}

/// One compiled rewrite-module directive.
#[derive(Clone, Debug)]
pub enum Op {
    /// `rewrite REGEX REPLACEMENT [FLAG]`, matched against the current URI.
    Rewrite {
        /// The pattern.
        regex: crate::regex::Regex,
        /// The replacement's path part; for a redirect, the whole replacement.
        replacement: Template,
        /// The replacement's query, after its first literal `?` (internal rewrites only).
        args: Option<Template>,
        /// Whether the request's arguments are appended (the replacement does not end in `?`).
        keep_args: bool,
        /// Whether the replacement holds a literal `?`: a redirect then appends the request's
        /// arguments with `&` rather than `?`.
        query_in_replacement: bool,
        /// The flag as written.
        flag: Flag,
        /// The redirect status when the rewrite answers with a redirect: 301 for `permanent`,
        /// 302 for `redirect` or a replacement starting with `http://`, `https://`, `$scheme`.
        redirect: Option<u16>,
    },
    /// `return CODE [TEXT|URL]` or `return URL` (302).
    Return {
        /// The status; 444 means "close the connection without a response".
        code: u16,
        /// The body, or the `Location` for 301, 302, 303, 307 and 308.
        body_or_url: Option<Template>,
    },
    /// `set $name VALUE` for a variable of the configuration's [`crate::vars::UserVars`].
    Set {
        /// The variable's index.
        var: usize,
        /// Its new value.
        value: Template,
    },
    /// `set $args VALUE`: `$args` is the one built-in variable nginx lets `set` change.
    SetArgs {
        /// The new query string.
        value: Template,
    },
    /// `set $limit_rate VALUE`: the response's rate limit (nginx's set handler parses a
    /// size; a value that is not one is logged and ignored).
    SetLimitRate {
        /// The new rate.
        value: Template,
    },
    /// `if (CONDITION) { ... }`.
    If {
        /// The condition.
        cond: Condition,
        /// The block's rewrite directives.
        ops: Vec<Op>,
        /// Inside a location: the block's settings, merged with the location's (nginx makes
        /// the block a nested location); a true condition makes them the request's settings.
        /// `None` inside a server.
        loc: Option<std::rc::Rc<LocSettings>>,
    },
    /// `break`: stop processing rewrite directives.
    Break,
}
