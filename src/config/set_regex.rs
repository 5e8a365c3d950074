//! Regexes in the configuration: `pcre_jit`, and the pre-pass for named captures.
//!
//! `pcre_jit` is read before any pattern is compiled ([`jit_wanted`]), wherever it stands
//! at the top level. Portico JIT-compiles unless told `pcre_jit off` (nginx only with
//! `pcre_jit on`): the JIT matches alike and faster (see [`crate::regex`]).
//!
//! The pre-pass for named captures: every `(?<name>…)` of a regex that
//! nginx compiles with `ngx_http_regex_compile` declares `$name` for the whole
//! configuration, so a string written before the regex (a `log_format`, a `return` in an
//! earlier server) may use it, as in nginx, which resolves variables once all is read.
//!
//! The regexes themselves are compiled later, where their directive is applied
//! ([`crate::regex::Regex::with_vars`], which declares the names too); a pattern that does
//! not compile declares nothing here and fails there with nginx's message.

use super::directives::block;
use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::values::{flag_arg, set_once};
use crate::regex::named_groups;
use crate::vars::{UserVars, is_builtin_name};

/// `pcre_jit on|off;` (main context; default on in Portico, off in nginx).
pub(crate) fn pcre_jit(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    set_once(&mut l.main(d)?.pcre_jit, d, flag_arg)
}

/// Whether patterns are to be JIT-compiled: the last top-level `pcre_jit` of the
/// configuration files (or of `-g`) says so; a malformed one is refused later by
/// [`pcre_jit`], with nginx's message.
pub(crate) fn jit_wanted(trees: &[&[Directive]]) -> bool {
    trees
        .iter()
        .flat_map(|tree| tree.iter())
        .filter(|d| d.name == "pcre_jit" && d.args.len() == 1)
        .filter_map(|d| flag_arg(d).ok())
        .next_back()
        .unwrap_or(true)
}

/// Declares the named groups of every regex in `tree` (nested blocks included).
pub(crate) fn declare_capture_vars(tree: &[Directive], user: &mut UserVars) {
    for d in tree {
        for pattern in regex_args(d) {
            for group in named_groups(pattern) {
                let name = group.name.to_ascii_lowercase();
                if !is_builtin_name(&name) {
                    user.declare_capture(&name);
                }
            }
        }
        declare_capture_vars(block(d), user);
    }
}

/// The pattern of `~PATTERN` or `~*PATTERN`.
fn tilde(word: &str) -> Option<&str> {
    let rest = word.strip_prefix('~')?;
    Some(rest.strip_prefix('*').unwrap_or(rest))
}

/// The regexes among `d`'s arguments (and, for `map`, among its block's keys).
fn regex_args(d: &Directive) -> Vec<&str> {
    let args: Vec<&str> = d.args.iter().map(|w| w.text.as_str()).collect();
    match (d.name.as_str(), args.as_slice()) {
        ("location", ["~" | "~*", pattern, ..]) => vec![pattern],
        ("location", [one]) => tilde(one).into_iter().collect(),
        ("server_name", names) => names.iter().filter_map(|n| n.strip_prefix('~')).collect(),
        ("rewrite", [pattern, ..]) => vec![pattern],
        ("proxy_redirect" | "proxy_cookie_domain" | "proxy_cookie_path", [from, ..]) => {
            tilde(from).into_iter().collect()
        }
        ("if", words) => match words
            .iter()
            .position(|w| w.trim_start_matches('!').starts_with('~'))
        {
            Some(op) => words
                .get(op + 1)
                .map(|p| {
                    if op + 2 == words.len() {
                        p.strip_suffix(')').unwrap_or(p)
                    } else {
                        p
                    }
                })
                .into_iter()
                .collect(),
            None => Vec::new(),
        },
        ("map", _) => block(d)
            .iter()
            .filter_map(|entry| tilde(&entry.name))
            .collect(),
        _ => Vec::new(),
    }
}
