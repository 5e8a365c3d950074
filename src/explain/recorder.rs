//! The [`Trace`] of `--explain`: each routing step as a line.

use std::fmt::Write as _;

use super::LABEL;
use super::answer::{location_label, location_name, optional, quoted, server_label, server_match};
use crate::config::{HttpConf, LocationMatch};
use crate::rewrite::{Condition, FileTest, Flag, Outcome};
use crate::trace::{Probe, Step, Trace};
use crate::vars::Var;

/// The [`Trace`] of `--explain`: one line per step, written as it comes.
pub(super) struct Recorder {
    pub(super) text: String,
    /// Names of `set` variables, by index.
    user: Vec<String>,
    /// Names of computed variables (`map`, `geo`, `split_clients`), by index.
    computed: Vec<String>,
}

impl Recorder {
    pub(super) fn new(http: &HttpConf) -> Recorder {
        let user = (0..http.user_vars.len())
            .map(|i| http.user_vars.name(i).unwrap_or("?").to_string())
            .collect();
        let computed = (0..http.computed.len())
            .map(|i| {
                http.computed
                    .get(i)
                    .map_or("?", |d| d.name.as_str())
                    .to_string()
            })
            .collect();
        Recorder {
            text: String::new(),
            user,
            computed,
        }
    }

    /// `label` in the first column, then `text`.
    pub(super) fn line(&mut self, label: &str, text: &str) {
        let _ = writeln!(self.text, "{label:<LABEL$}{text}");
    }

    /// A line inside a group (a search, a block of rewrite directives), indented.
    fn item(&mut self, depth: usize, label: &str, text: &str) {
        let indent = 2 + 2 * depth;
        let width = LABEL.saturating_sub(indent).max(label.len() + 1);
        let _ = writeln!(self.text, "{:indent$}{label:<width$}{text}", "");
    }

    fn var(&self, var: &Var) -> String {
        match var {
            Var::User(i) => format!("${}", self.user.get(*i).map_or("?", String::as_str)),
            Var::Computed(i) => format!("${}", self.computed.get(*i).map_or("?", String::as_str)),
            other => other.to_string(),
        }
    }
}

impl Trace for Recorder {
    fn step(&mut self, step: Step<'_>) {
        match step {
            Step::Listen { addr, servers, why } => {
                let plural = if servers == 1 { "" } else { "s" };
                self.line(
                    "listen",
                    &format!("{addr} ({why}): {servers} server{plural}"),
                );
            }
            Step::Server {
                index,
                server,
                matched,
            } => {
                let why = server_match(matched);
                self.line("server", &format!("{} {why}", server_label(index, server)));
            }
            Step::RewritePhase { server } => {
                let whose = if server {
                    "the server's directives"
                } else {
                    "the location's directives"
                };
                self.line("rewrite", whose);
            }
            Step::Search { uri } => self.line("search", &quoted(uri)),
            Step::Exact(l) => self.item(0, "exact", &format!("{}: equal", location_label(l))),
            Step::LongestPrefix(l) => {
                let stop = if matches!(l.matcher, LocationMatch::PrefixNoRegex(_)) {
                    ", ^~: no regex is tried"
                } else {
                    ""
                };
                let text = format!("{}: longest prefix{stop}", location_label(l));
                self.item(0, "prefix", &text);
            }
            Step::Nested(l) => {
                self.item(
                    0,
                    "nested",
                    &format!("locations inside {}", location_name(l)),
                );
            }
            Step::Regex { location, matched } => {
                let result = if matched { "matches" } else { "does not match" };
                let text = format!("{}: {result}", location_label(location));
                self.item(0, "regex", &text);
            }
            Step::Chosen(Some(l)) => self.line("location", &location_label(l)),
            Step::Chosen(None) => self.line("location", "none matches: the server's own settings"),
            Step::Rewrite {
                depth,
                regex,
                flag,
                uri_before,
                args_before,
                matched,
                uri_after,
                args_after,
                outcome,
            } => {
                let flag = match flag {
                    Flag::None => "",
                    Flag::Last => " last",
                    Flag::Break => " break",
                    Flag::Redirect => " redirect",
                    Flag::Permanent => " permanent",
                };
                let mut text = format!("{regex}{flag}: {}", quoted(uri_before));
                if !matched {
                    text.push_str(" does not match");
                } else if let Some(Outcome::Redirect { code, location }) = outcome {
                    let _ = write!(text, " matches -> redirect {code} {}", quoted(location));
                } else if let Some(Outcome::Return { code, .. }) = outcome {
                    let _ = write!(text, " matches -> {code}");
                } else {
                    let _ = write!(text, " matches -> $uri {}", quoted(uri_after));
                    if args_before != args_after {
                        let _ = write!(
                            text,
                            ", $args {} -> {}",
                            optional(args_before),
                            optional(args_after)
                        );
                    }
                }
                self.item(depth, "rewrite", &text);
            }
            Step::Return { depth, outcome } => {
                let text = match outcome {
                    Outcome::Redirect { code, location } => format!("{code} {}", quoted(location)),
                    Outcome::Return {
                        code,
                        body: Some(body),
                    } if !body.is_empty() => format!("{code} {}", quoted(body)),
                    Outcome::Return { code, .. } => code.to_string(),
                    other => format!("{other:?}"),
                };
                self.item(depth, "return", &text);
            }
            Step::Set {
                depth,
                var,
                before,
                after,
            } => {
                let text = format!(
                    "{}: {} -> {}",
                    self.var(var),
                    optional(before),
                    quoted(after)
                );
                self.item(depth, "set", &text);
            }
            Step::If {
                depth,
                condition,
                subject,
                operand,
                result,
            } => {
                let text = format!(
                    "({}): {}",
                    self.condition(condition, operand),
                    match result {
                        Some(true) => format!("{} -> true", quoted(subject)),
                        Some(false) => format!("{} -> false", quoted(subject)),
                        None => format!("{} -> the regex failed (500)", quoted(subject)),
                    }
                );
                self.item(depth, "if", &text);
            }
            Step::Break { depth } => self.item(depth, "break", "no more rewrite directives"),
            Step::InternalRedirect { uri, args } => {
                let mut target = uri.to_vec();
                if let Some(args) = args {
                    target.push(b'?');
                    target.extend_from_slice(args);
                }
                self.line("redirect", &format!("internal, to {}", quoted(&target)));
            }
            Step::NamedLocation(name) => self.line("redirect", &format!("to location {name}")),
            Step::Finalize { status } => self.line("finalize", &format!("status {status}")),
            Step::ErrorPage { status, target } => {
                self.line("error_page", &format!("{status} -> {}", quoted(target)));
            }
            Step::Handler(name) => self.line("handler", name),
            Step::TryFiles {
                name,
                dir,
                path,
                probe,
            } => {
                let found = match (probe, dir) {
                    (Probe::Found, false) => "a file",
                    (Probe::Found, true) => "a directory",
                    (Probe::WrongKind, false) => "not a file",
                    (Probe::WrongKind, true) => "not a directory",
                    (Probe::Missing, _) => "missing",
                };
                let mut shown = name.to_vec();
                if dir {
                    shown.push(b'/');
                }
                let text = format!(
                    "{} -> {}: {found}",
                    quoted(&shown),
                    String::from_utf8_lossy(path)
                );
                self.item(0, "try_files", &text);
            }
            Step::StaticFile { path, status } => {
                let what = match status {
                    200 => "a file".to_string(),
                    301 => "a directory: redirect to the URI with a slash".to_string(),
                    405 => "a file, but the method is not allowed".to_string(),
                    other => format!("status {other}"),
                };
                self.line(
                    "file",
                    &format!("{}: {what}", String::from_utf8_lossy(path)),
                );
            }
            Step::Index { dir, found } => {
                let dir = String::from_utf8_lossy(dir);
                let text = match found {
                    Some(name) => format!("{dir}: {name}"),
                    None => format!("{dir}: no index file"),
                };
                self.line("index", &text);
            }
            Step::Note(text) => self.line("note", text),
        }
    }
}

impl Recorder {
    fn condition(&self, condition: &Condition, operand: Option<&[u8]>) -> String {
        match condition {
            Condition::Value(var) => self.var(var),
            Condition::Equal { var, negate, .. } => {
                let op = if *negate { "!=" } else { "=" };
                format!(
                    "{} {op} {}",
                    self.var(var),
                    quoted(operand.unwrap_or_default())
                )
            }
            Condition::Match { var, regex, negate } => {
                let op = if *negate { "!~" } else { "~" };
                format!("{} {op} {}", self.var(var), regex.as_str())
            }
            Condition::File { test, negate, .. } => {
                let test = match test {
                    FileTest::File => "-f",
                    FileTest::Dir => "-d",
                    FileTest::Exists => "-e",
                    FileTest::Executable => "-x",
                };
                let not = if *negate { "!" } else { "" };
                format!("{not}{test} path")
            }
        }
    }
}
