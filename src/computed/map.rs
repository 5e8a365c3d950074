//! `map STRING $variable { ... }` (`ngx_http_map_module`): the evaluated string chooses a
//! value. Strings are matched ignoring case (with `hostnames`, also as wildcard host
//! names, one trailing dot of the source dropped); then regular expressions in config
//! order (not for an empty source); then `default` (empty when there is none). A value is
//! text with variables; after a regex key its captures `$1`..`$9`, and its named groups
//! (`(?<name>...)`, variables of the whole configuration), are that match's.
//!
//! Not reproduced: nginx also leaves a map regex's captures in the request, where later
//! strings read them as `$1` or `$name`; here they are the chosen value's only.

use super::hostnames::HostTable;
use crate::log::LogLevel;
use crate::regex::Captures;
use crate::vars::{Overlay, Template, Var, VarSource};

/// The regular expressions of `~` and `~*` keys (named groups bound to variables).
pub type MapRegex = crate::regex::Regex;

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

impl MapVar {
    /// Chooses the value for this request: `scratch` is working space (the source, then
    /// its lowercase copy), `captures` a regex match's, an evaluated value goes to `out`.
    pub fn value<'v>(
        &'v self,
        src: &dyn VarSource,
        scratch: &mut Vec<u8>,
        captures: &mut Captures,
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
                let evaluated = matches!(self.values.get(*i as usize), Some(MapValue::Template(_)));
                let matched = if evaluated {
                    regex.captures(subject, captures)
                } else {
                    regex.is_match(subject)
                };
                match matched {
                    Ok(false) => {}
                    Ok(true) if evaluated => {
                        return self.choose(*i, src, Some((regex, captures)), out);
                    }
                    Ok(true) => return self.choose(*i, src, None, out),
                    // nginx logs the failure and takes the default.
                    Err(e) => {
                        crate::elog!(LogLevel::Alert, "{}", e.message(subject, regex));
                        break;
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
        captures: Option<(&MapRegex, &Captures)>,
        out: &mut Vec<u8>,
    ) -> Chosen<'v> {
        match self.values.get(i as usize) {
            Some(MapValue::Literal(text)) => Chosen::Literal(text),
            Some(MapValue::Template(t)) => {
                match captures {
                    // The match's `$1`..`$9` and named groups in front of the request's
                    // variables.
                    Some((regex, captures)) => t.eval(
                        &Overlay {
                            inner: src,
                            own: |var: &Var, out: &mut Vec<u8>| {
                                let group = match var {
                                    Var::Capture(n) => usize::from(*n),
                                    Var::User(v) => regex.group_of_var(*v)?,
                                    _ => return None,
                                };
                                out.extend_from_slice(captures.get(group).unwrap_or(b""));
                                Some(true)
                            },
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
