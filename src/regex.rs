//! Regular expressions as nginx has them: PCRE2, the library nginx 1.22 links, compiled with
//! the options of `ngx_regex_compile` and matched as `ngx_regex_exec` matches.
//!
//! - A pattern is compiled without UTF mode: it matches bytes (a URI may decode to invalid
//!   UTF-8), `.` is any byte but `\n`, `\w`, `\d` and case folding are ASCII; `~*` adds
//!   `PCRE2_CASELESS` and nothing else. Look-around, backreferences, atomic groups,
//!   possessive quantifiers, `(?i)`, named groups in all three spellings (`(?<n>…)`,
//!   `(?P<n>…)`, `(?'n'…)`) are PCRE's own.
//! - A pattern PCRE2 refuses gets nginx's message word for word:
//!   `pcre2_compile() failed: REASON in "PATTERN" at "REST"`.
//! - Patterns are JIT-compiled unless `pcre_jit off` (nginx JITs only with `pcre_jit on`; the
//!   JIT gives the same matches, measured 2.5-6 times faster). A JIT match that runs out of
//!   the JIT's 32 KB stack is run again by the interpreter, so a deep pattern matches as
//!   nginx's default (interpreted) matching does instead of failing.
//! - Matching fills a [`Captures`] buffer the request keeps, so a match allocates nothing
//!   once the buffer has grown; the named groups of a regex can be bound to variables
//!   ([`Regex::with_vars`], nginx's `ngx_http_regex_compile`) that a match assigns
//!   ([`Regex::assign_vars`], as `ngx_http_regex_exec` does).
//!
//! A [`Regex`] is cheap to clone (shared), and meant for one thread: a worker.

use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::rc::Rc;

use pcre2::bytes::{CaptureLocations, Regex as Pcre2, RegexBuilder};

use crate::vars::{UserVars, is_builtin_name};

/// PCRE2's `PCRE2_ERROR_JIT_STACKLIMIT`: the JIT's stack was too small for this match.
const ERROR_JIT_STACKLIMIT: i32 = -46;

thread_local! {
    /// Whether [`Regex::new`] JIT-compiles (`pcre_jit`, set by the configuration loader).
    static JIT: Cell<bool> = const { Cell::new(true) };
}

/// Sets whether the regexes compiled from now on, on this thread, are JIT-compiled
/// (`pcre_jit on|off`). The configuration loader calls it before it compiles any pattern.
pub fn set_jit(on: bool) {
    JIT.with(|jit| jit.set(on));
}

/// Whether PCRE2 was built with its JIT compiler (nginx's check for `pcre_jit on`).
pub fn jit_available() -> bool {
    pcre2::is_jit_available()
}

/// The named groups of `pattern` (compiled without JIT, for the configuration's
/// pre-pass); none when it does not compile.
pub fn named_groups(pattern: &str) -> Vec<NamedGroup> {
    build(pattern, false, false).map_or_else(|_| Vec::new(), |code| names_of(&code).into_vec())
}

fn names_of(code: &Pcre2) -> Box<[NamedGroup]> {
    code.capture_names()
        .iter()
        .enumerate()
        .filter_map(|(group, name)| {
            let name = name.as_deref()?.into();
            Some(NamedGroup { name, group })
        })
        .collect()
}

/// A named group of a pattern: `(?<name>…)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedGroup {
    /// The name as written.
    pub name: Box<str>,
    /// The group's number (`$N`).
    pub group: usize,
}

/// A compiled pattern.
#[derive(Clone)]
pub struct Regex(Rc<Inner>);

struct Inner {
    pattern: Box<str>,
    caseless: bool,
    /// The compiled code (JIT-compiled where `jit`).
    code: Pcre2,
    /// The capture offsets of `code`'s matches, reused from match to match.
    locations: RefCell<CaptureLocations>,
    jit: bool,
    /// The interpreted code, made on the first match the JIT could not finish.
    interpreted: OnceCell<Option<(Pcre2, RefCell<CaptureLocations>)>>,
    /// The capturing groups (not counting the whole match).
    groups: usize,
    names: Box<[NamedGroup]>,
    /// `(group, variable)` for each named group bound by [`Regex::with_vars`].
    vars: Box<[(usize, usize)]>,
}

/// A match could not be completed (a PCRE2 resource limit): nginx answers 500 and logs
/// [`MatchError::message`] at `alert`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatchError(i32);

impl MatchError {
    /// PCRE2's error code (negative).
    pub fn code(self) -> i32 {
        self.0
    }

    /// nginx's log text: `pcre2_match() failed: -47 on "SUBJECT" using "PATTERN"`.
    pub fn message(self, subject: &[u8], regex: &Regex) -> String {
        format!(
            "pcre2_match() failed: {} on \"{}\" using \"{}\"",
            self.0,
            String::from_utf8_lossy(subject),
            regex.as_str()
        )
    }
}

impl Regex {
    /// Compiles `pattern` as nginx does (`caseless` for `~*`); the error is nginx's text,
    /// `pcre2_compile() failed: … in "…" at "…"`, to which the caller adds `in FILE:LINE`.
    pub fn new(pattern: &str, caseless: bool) -> Result<Regex, String> {
        let jit = JIT.with(Cell::get) && jit_available();
        let code = build(pattern, caseless, jit).map_err(|e| compile_error(pattern, &e))?;
        let names = names_of(&code);
        let locations = RefCell::new(code.capture_locations());
        Ok(Regex(Rc::new(Inner {
            pattern: pattern.into(),
            caseless,
            groups: code.captures_len().saturating_sub(1),
            code,
            locations,
            jit,
            interpreted: OnceCell::new(),
            names,
            vars: Box::default(),
        })))
    }

    /// Compiles `pattern` and binds its named groups to variables, as nginx's
    /// `ngx_http_regex_compile`: `(?<name>…)` declares `$name` in `user` (where the
    /// configuration's pre-pass has normally declared it already) and [`Regex::assign_vars`]
    /// sets it after each match. A name of a built-in variable is nginx's
    /// `the duplicate "name" variable`.
    pub fn with_vars(pattern: &str, caseless: bool, user: &mut UserVars) -> Result<Regex, String> {
        let mut regex = Regex::new(pattern, caseless)?;
        let mut vars = Vec::with_capacity(regex.0.names.len());
        for named in regex.0.names.iter() {
            let lower = named.name.to_ascii_lowercase();
            if is_builtin_name(&lower) {
                return Err(format!("the duplicate \"{}\" variable", named.name));
            }
            vars.push((named.group, user.declare_capture(&lower)));
        }
        if let Some(inner) = Rc::get_mut(&mut regex.0) {
            inner.vars = vars.into_boxed_slice();
        }
        Ok(regex)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0.pattern
    }

    /// Whether it was compiled caseless (`~*`).
    pub fn caseless(&self) -> bool {
        self.0.caseless
    }

    /// Whether the JIT compiled it.
    pub fn jit(&self) -> bool {
        self.0.jit
    }

    /// How many capturing groups it has (`$1`..`$N`).
    pub fn groups(&self) -> usize {
        self.0.groups
    }

    /// Its named groups, by group number.
    pub fn names(&self) -> &[NamedGroup] {
        &self.0.names
    }

    /// The group whose value variable `var` (a [`crate::vars::Var::User`] index) receives
    /// from this regex's matches, if [`Regex::with_vars`] bound one.
    pub fn group_of_var(&self, var: usize) -> Option<usize> {
        self.0.vars.iter().find(|(_, v)| *v == var).map(|(g, _)| *g)
    }

    /// Whether the pattern matches somewhere in `subject`.
    pub fn is_match(&self, subject: &[u8]) -> Result<bool, MatchError> {
        match self.0.code.is_match(subject) {
            Ok(found) => Ok(found),
            Err(e) if e.code() == ERROR_JIT_STACKLIMIT => match self.interpreted() {
                Some((code, _)) => code.is_match(subject).map_err(|e| MatchError(e.code())),
                None => Err(MatchError(e.code())),
            },
            Err(e) => Err(MatchError(e.code())),
        }
    }

    /// Matches `subject`. On a match, `caps` holds the subject and its groups (the
    /// previous ones are gone, as nginx's `r->captures`); on no match, `caps` is untouched.
    pub fn captures(&self, subject: &[u8], caps: &mut Captures) -> Result<bool, MatchError> {
        match run(&self.0.code, &self.0.locations, subject, caps) {
            Err(e) if e == MatchError(ERROR_JIT_STACKLIMIT) => match self.interpreted() {
                Some((code, locations)) => run(code, locations, subject, caps),
                None => Err(e),
            },
            result => result,
        }
    }

    /// After a match recorded in `caps`: gives each variable bound by
    /// [`Regex::with_vars`] its group's value in `values` (indexed by variable, as
    /// [`crate::rewrite::RewriteCtx::user`]); a group that took no part gets an empty value.
    /// Buffers already there are reused.
    pub fn assign_vars(&self, caps: &Captures, values: &mut [Option<Vec<u8>>]) {
        for &(group, var) in self.0.vars.iter() {
            let Some(slot) = values.get_mut(var) else {
                continue;
            };
            let value = slot.get_or_insert_with(Vec::new);
            value.clear();
            value.extend_from_slice(caps.get(group).unwrap_or(b""));
        }
    }

    /// [`Regex::captures`], then [`Regex::assign_vars`] on a match.
    pub fn captures_and_vars(
        &self,
        subject: &[u8],
        caps: &mut Captures,
        values: &mut [Option<Vec<u8>>],
    ) -> Result<bool, MatchError> {
        let found = self.captures(subject, caps)?;
        if found {
            self.assign_vars(caps, values);
        }
        Ok(found)
    }

    fn interpreted(&self) -> Option<&(Pcre2, RefCell<CaptureLocations>)> {
        if !self.0.jit {
            return None;
        }
        self.0
            .interpreted
            .get_or_init(|| {
                let code = build(&self.0.pattern, self.0.caseless, false).ok()?;
                let locations = RefCell::new(code.capture_locations());
                Some((code, locations))
            })
            .as_ref()
    }
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tilde = if self.0.caseless { "~*" } else { "~" };
        write!(f, "Regex({tilde}{:?})", self.0.pattern)
    }
}

fn build(pattern: &str, caseless: bool, jit: bool) -> Result<Pcre2, pcre2::Error> {
    RegexBuilder::new()
        .caseless(caseless)
        .jit_if_available(jit)
        .build(pattern)
}

/// nginx's `pcre2_compile() failed: %s in "%V" at "%s"` (without `at` when PCRE2 points
/// at the end of the pattern).
fn compile_error(pattern: &str, e: &pcre2::Error) -> String {
    let text = e.to_string();
    let offset = e.offset().unwrap_or(pattern.len());
    // The crate writes `PCRE2: error compiling pattern at offset N: REASON`.
    let reason = text
        .split_once(&format!("offset {offset}: "))
        .map_or(text.as_str(), |(_, reason)| reason);
    let rest = pattern.as_bytes().get(offset..).unwrap_or(b"");
    if rest.is_empty() {
        format!("pcre2_compile() failed: {reason} in \"{pattern}\"")
    } else {
        let rest = String::from_utf8_lossy(rest);
        format!("pcre2_compile() failed: {reason} in \"{pattern}\" at \"{rest}\"")
    }
}

/// One match with `code`, its offsets read through `locations`, recorded in `caps`.
fn run(
    code: &Pcre2,
    locations: &RefCell<CaptureLocations>,
    subject: &[u8],
    caps: &mut Captures,
) -> Result<bool, MatchError> {
    // One thread, no re-entry: the borrow is always free. Should it not be, a fresh set
    // of offsets does the same work.
    let mut fresh = None;
    let mut borrowed = locations.try_borrow_mut().ok();
    let locs = match borrowed.as_deref_mut() {
        Some(locs) => locs,
        None => fresh.insert(code.capture_locations()),
    };
    match code.captures_read(locs, subject) {
        Ok(None) => Ok(false),
        Ok(Some(_)) => {
            caps.record(subject, locs);
            Ok(true)
        }
        Err(e) => Err(MatchError(e.code())),
    }
}

/// The groups of the last successful match and the subject they point into (nginx's
/// `r->captures` and `r->captures_data`): what `$1`..`$9` read. Kept by the request and
/// refilled in place, so matching allocates nothing once it has grown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Captures {
    subject: Vec<u8>,
    /// Each group's span, up to the last group that took part (PCRE2's return count).
    spans: Vec<Option<(usize, usize)>>,
}

impl Captures {
    fn record(&mut self, subject: &[u8], locs: &CaptureLocations) {
        self.subject.clear();
        self.subject.extend_from_slice(subject);
        self.spans.clear();
        let set = (0..locs.len())
            .rev()
            .find(|&i| locs.get(i).is_some())
            .map_or(1, |last| last + 1);
        self.spans.extend((0..set).map(|i| locs.get(i)));
    }

    /// Group `n` (0 is the whole match): `None` when the last match had no such group or
    /// no match is recorded; empty for a group that took no part in the match.
    pub fn get(&self, n: usize) -> Option<&[u8]> {
        match self.spans.get(n)? {
            Some((start, end)) => Some(self.subject.get(*start..*end).unwrap_or(b"")),
            None => Some(b""),
        }
    }

    /// Forgets the captures (nginx's `r->ncaptures = 0`), keeping the buffers.
    pub fn clear(&mut self) {
        self.subject.clear();
        self.spans.clear();
    }

    /// Whether no match is recorded.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Appends `template` with each `${N}` replaced by group N and `$$` by `$` (the
    /// form `proxy_redirect` keeps its replacement in until a value matches).
    pub fn expand(&self, template: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < template.len() {
            let Some(at) = memchr::memchr(b'$', &template[i..]) else {
                out.extend_from_slice(&template[i..]);
                return;
            };
            out.extend_from_slice(&template[i..i + at]);
            i += at;
            let rest = &template[i..];
            if rest.starts_with(b"$$") {
                out.push(b'$');
                i += 2;
                continue;
            }
            let group = rest.strip_prefix(b"${").and_then(|r| {
                let digits = r.iter().take_while(|b| b.is_ascii_digit()).count();
                let n = std::str::from_utf8(&r[..digits]).ok()?.parse().ok()?;
                (r.get(digits) == Some(&b'}')).then_some((n, digits + 3))
            });
            match group {
                Some((n, len)) => {
                    out.extend_from_slice(self.get(n).unwrap_or(b""));
                    i += len;
                }
                None => {
                    out.push(b'$');
                    i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
