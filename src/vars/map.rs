//! `map STRING $variable { ... }` (`ngx_http_map_module`): the evaluated string chooses a
//! value. Strings are matched ignoring case (with `hostnames`, also as wildcard host
//! names, one trailing dot of the source dropped); then regular expressions in config
//! order (not for an empty source); then `default` (empty when there is none). A value is
//! text with variables; after a regex key its captures `$1`..`$9` are that match's.

use super::hostnames::HostTable;
use super::{Template, Var, VarSource};

/// The regular expressions of `~` and `~*` keys.
pub type MapRegex = regex::bytes::Regex;

/// A value of the block.
#[derive(Clone, Debug)]
pub enum MapValue {
    /// Text without variables, answered without copying.
    Literal(Box<[u8]>),
    /// Text with variables, evaluated when chosen.
    Template(Template),
}

impl MapValue {
    /// The value written `text` compiled as `template`.
    pub fn new(template: Template) -> MapValue {
        match template.is_literal() {
            Some(text) => MapValue::Literal(text.into()),
            None => MapValue::Template(template),
        }
    }
}

/// A `map` variable.
#[derive(Clone, Debug)]
pub struct MapVar {
    /// The string looked up.
    pub source: Template,
    /// `hostnames`: drop one trailing dot from the source before the lookup.
    pub hostnames: bool,
    /// String and wildcard keys, each with its value's index.
    pub keys: HostTable<u32>,
    /// `~regex` and `~*regex` keys in config order, each with its value's index.
    pub regexes: Vec<(MapRegex, u32)>,
    /// The `default` value's index.
    pub default: Option<u32>,
    /// The values.
    pub values: Vec<MapValue>,
}

/// A chosen value: borrowed from the configuration or written into the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chosen<'v> {
    /// A literal value.
    Literal(&'v [u8]),
    /// The value was evaluated into the output buffer.
    Written,
}

/// A regex match's captures in front of a request's variables, for the value it chose.
struct MatchCaptures<'a> {
    subject: &'a [u8],
    captures: &'a regex::bytes::Captures<'a>,
    inner: &'a dyn VarSource,
}

impl VarSource for MatchCaptures<'_> {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        match var {
            Var::Capture(n) => {
                if let Some(m) = self.captures.get(usize::from(*n)) {
                    out.extend_from_slice(&self.subject[m.range()]);
                }
                true
            }
            _ => self.inner.var(var, out),
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

impl MapVar {
    /// Chooses the value for this request: `scratch` is working space (the source, then
    /// its lowercase copy), an evaluated value goes to `out`.
    pub fn value<'v>(
        &'v self,
        src: &dyn VarSource,
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Chosen<'v> {
        scratch.clear();
        self.source.eval(src, scratch);
        if self.hostnames && scratch.last() == Some(&b'.') {
            scratch.pop();
        }
        let len = scratch.len();
        if !self.keys.is_empty() {
            scratch.extend_from_within(..);
            scratch[len..].make_ascii_lowercase();
        }
        let (subject, lower) = scratch.split_at(len);
        if let Some(&i) = self.keys.find(lower) {
            return self.choose(i, src, None, out);
        }
        if !subject.is_empty() {
            for (regex, i) in &self.regexes {
                match self.values.get(*i as usize) {
                    Some(MapValue::Template(_)) => {
                        if let Some(captures) = regex.captures(subject) {
                            return self.choose(*i, src, Some((subject, &captures)), out);
                        }
                    }
                    _ => {
                        if regex.is_match(subject) {
                            return self.choose(*i, src, None, out);
                        }
                    }
                }
            }
        }
        match self.default {
            Some(i) => self.choose(i, src, None, out),
            None => Chosen::Literal(b""),
        }
    }

    fn choose<'v>(
        &'v self,
        i: u32,
        src: &dyn VarSource,
        captures: Option<(&[u8], &regex::bytes::Captures<'_>)>,
        out: &mut Vec<u8>,
    ) -> Chosen<'v> {
        match self.values.get(i as usize) {
            Some(MapValue::Literal(text)) => Chosen::Literal(text),
            Some(MapValue::Template(t)) => {
                match captures {
                    Some((subject, captures)) => t.eval(
                        &MatchCaptures {
                            subject,
                            captures,
                            inner: src,
                        },
                        out,
                    ),
                    None => t.eval(src, out),
                }
                Chosen::Written
            }
            None => Chosen::Literal(b""),
        }
    }
}
