//! Setters of the variable-making modules' http-level blocks: `map` (with
//! `map_hash_max_size` and `map_hash_bucket_size`) here, `geo` in `set_geo` and
//! `split_clients` in `set_split_clients`; plus what they share: the declaration of their
//! variables before any template is compiled, and the checks of the variable name.

use std::collections::HashMap;

use super::directives::block;
use super::error::ConfError;
use super::hash_sizing::{HashKnobs, align_bucket};
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::set_rewrite::template;
use super::values::{number_arg, set_once};
use crate::computed::hostnames::{AddError, HostTable};
use crate::computed::map::{MapRegex, MapValue, MapVar};
use crate::computed::{ComputedDef, ComputedKind};
use crate::log::LogLevel;
use crate::vars::{UserVars, is_builtin_name};

/// nginx's default `map_hash_max_size`.
pub const DEFAULT_MAP_HASH_MAX_SIZE: u64 = 2048;
/// nginx's default `map_hash_bucket_size`: the CPU's cache line.
pub const DEFAULT_MAP_HASH_BUCKET_SIZE: u64 = super::hash_sizing::CACHELINE as u64;

/// Where each block names the variable it makes.
fn declared_name(d: &Directive) -> Option<&str> {
    let word = match d.name.as_str() {
        "map" | "split_clients" if d.args.len() == 2 => d.arg(1),
        "geo" if matches!(d.args.len(), 1 | 2) => d.arg(d.args.len() - 1),
        _ => return None,
    };
    word.strip_prefix('$').filter(|n| !n.is_empty())
}

/// Declares the variable of every `map`, `geo` and `split_clients` block in the tree, so
/// a template anywhere may use one made anywhere, as nginx allows. Names nginx would
/// refuse are left for the setters to report.
pub(crate) fn declare_computed_vars(tree: &[Directive], user: &mut UserVars) {
    for d in tree {
        if d.block.is_some()
            && let Some(name) = declared_name(d)
        {
            if !is_builtin_name(&name.to_ascii_lowercase()) {
                user.declare_computed(name);
            }
            continue; // the block's lines are data
        }
        declare_computed_vars(block(d), user);
    }
}

/// The variable a block makes, checked as `ngx_http_add_variable` checks it; its index.
pub(crate) fn computed_var(
    d: &Directive,
    word: &str,
    shared: &mut Shared,
) -> Result<(usize, String), ConfError> {
    let name = match word.strip_prefix('$') {
        Some(name) if !name.is_empty() => name.to_ascii_lowercase(),
        _ => {
            let message = format!("invalid variable name \"{word}\"");
            return Err(ConfError::at(d, message));
        }
    };
    if is_builtin_name(&name) {
        let message = format!("the duplicate \"{}\" variable", &word[1..]);
        return Err(ConfError::at(d, message));
    }
    Ok((shared.user_vars.declare_computed(&name), name))
}

/// Writes nginx's load-time warnings (`[warn] ... in FILE:LINE`) where errors go.
pub(crate) fn warn(message: &str) {
    crate::elog!(LogLevel::Warn, "{message}");
}

/// `map_hash_max_size N;`
pub(crate) fn map_hash_max_size(
    _: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut shared.map_hash_max_size, d, |d| number_arg(d, 0))
}

/// `map_hash_bucket_size N;`
pub(crate) fn map_hash_bucket_size(
    _: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut shared.map_hash_bucket_size, d, |d| number_arg(d, 0))
}

/// A `~` or `~*` key's regex, with nginx's compile error; its named groups are variables
/// (nginx compiles it with `ngx_http_regex_compile`).
fn map_regex(
    line: &Directive,
    pattern: &str,
    caseless: bool,
    shared: &mut Shared,
) -> Result<MapRegex, ConfError> {
    super::set_block::compile_regex(line, pattern, caseless, shared)
}

/// A block's values, each stored once.
#[derive(Default)]
struct Values {
    list: Vec<MapValue>,
    by_text: HashMap<String, u32>,
}

impl Values {
    fn index(&mut self, line: &Directive, text: &str, shared: &Shared) -> Result<u32, ConfError> {
        if let Some(&i) = self.by_text.get(text) {
            return Ok(i);
        }
        let value = MapValue::new(template(line, text, shared)?);
        let i = self.list.len() as u32;
        self.list.push(value);
        self.by_text.insert(text.to_string(), i);
        Ok(i)
    }
}

/// `map STRING $variable { ... }`
pub(crate) fn map(_: &mut Level<'_>, d: &Directive, shared: &mut Shared) -> Result<(), ConfError> {
    let source = template(d, d.arg(0), shared)?;
    let (index, name) = computed_var(d, d.arg(1), shared)?;
    // A block fixes the knobs (a later `map_hash_*` is then a duplicate, as in nginx).
    let max_size = *shared
        .map_hash_max_size
        .get_or_insert(DEFAULT_MAP_HASH_MAX_SIZE);
    let bucket = align_bucket(
        *shared
            .map_hash_bucket_size
            .get_or_insert(DEFAULT_MAP_HASH_BUCKET_SIZE),
    );
    shared.map_hash_bucket_size = Some(bucket as u64);

    let mut values = Values::default();
    let (mut hostnames, mut volatile) = (false, false);
    let mut keys = HostTable::default();
    let mut regexes = Vec::new();
    let mut default = None;
    for line in block(d) {
        if line.block.is_some() {
            return Err(ConfError::at(line, "unexpected \"{\""));
        }
        let key = line.name.as_str();
        match (key, line.args.len()) {
            ("hostnames", 0) => {
                hostnames = true;
                continue;
            }
            ("volatile", 0) => {
                volatile = true;
                continue;
            }
            (_, 1) => {}
            _ => return Err(ConfError::at(line, "invalid number of the map parameters")),
        }
        let value = values.index(line, line.arg(0), shared)?;
        if key == "default" {
            if default.replace(value).is_some() {
                return Err(ConfError::at(line, "duplicate default map parameter"));
            }
            continue;
        }
        if let Some(pattern) = key.strip_prefix('~') {
            let (pattern, caseless) = match pattern.strip_prefix('*') {
                Some(p) => (p, true),
                None => (pattern, false),
            };
            regexes.push((map_regex(line, pattern, caseless, shared)?, value));
            continue;
        }
        let key = key.strip_prefix('\\').unwrap_or(key);
        match keys.add(key.as_bytes(), value, hostnames) {
            Ok(()) => {}
            Err(AddError::Invalid) => {
                let message = format!("invalid hostname or wildcard \"{key}\"");
                return Err(ConfError::at(line, message));
            }
            Err(AddError::Conflict) => {
                return Err(ConfError::at(
                    line,
                    format!("conflicting parameter \"{key}\""),
                ));
            }
        }
    }

    let knobs = HashKnobs {
        name: "map_hash",
        max_size: usize::try_from(max_size).unwrap_or(usize::MAX),
        bucket_size: bucket,
    };
    let mut warnings = Vec::new();
    let exact: Vec<&[u8]> = keys.exact_keys().collect();
    let sized = (if exact.is_empty() {
        Ok(())
    } else {
        knobs.check(&exact, &mut warnings)
    })
    .and_then(|()| {
        [keys.head_keys(), keys.tail_keys()]
            .into_iter()
            .filter(|k| !k.is_empty())
            .try_for_each(|k| knobs.check_wildcards(k, &mut warnings))
    });
    warnings.iter().for_each(|w| warn(w));
    sized.map_err(ConfError::bare)?;

    let map = MapVar {
        source,
        hostnames,
        keys,
        regexes,
        default,
        values: values.list,
    };
    shared.computed.define(
        index,
        ComputedDef {
            name,
            volatile,
            kind: ComputedKind::Map(map),
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests;
