//! Setters of the rewrite module (`ngx_http_rewrite_module.c`): `rewrite`, `return`, `set`,
//! `break` and `if` compile into [`Op`]s appended to the enclosing server, location or `if`;
//! `rewrite_log` and `uninitialized_variable_warn` are location-level flags.

use super::directives::{Ctx, block, walk};
use super::error::ConfError;
use super::parser::Directive;
use super::raw::{IfRaw, Level, Shared};
use super::rewrite_ops::{Condition, FileTest, Flag, Op};
use super::set_block::compile_regex;
use super::settings::LocRaw;
use super::values::{flag_arg, parse_number, set_once};
use crate::vars::{Template, UserVars, is_builtin_name, resolve};

/// Collects every `set $name` of the tree (includes already expanded) into `user`, so a
/// template anywhere may use a variable set anywhere, as nginx allows.
pub(crate) fn declare_user_vars(tree: &[Directive], user: &mut UserVars) {
    for d in tree {
        if (d.name == "set" || d.name == "auth_request_set")
            && d.args.len() == 2
            && let Some(name) = d.arg(0).strip_prefix('$')
        {
            let name = name.to_ascii_lowercase();
            if !name.is_empty() && !is_builtin_name(&name) && user.index(&name).is_none() {
                // A variable first named by `auth_request_set` is "not found" until set,
                // without `set`'s uninitialized warning (nginx: whoever defines it first
                // gives it its get handler).
                if d.name == "set" {
                    user.declare(&name);
                } else {
                    user.declare_capture(&name);
                }
            }
        }
        declare_user_vars(block(d), user);
    }
}

/// Compiles a string of directive `d` with the configuration's variables.
pub(crate) fn template(d: &Directive, text: &str, shared: &Shared) -> Result<Template, ConfError> {
    Template::compile_with(text, &shared.user_vars).map_err(|message| ConfError::at(d, message))
}

/// Whether a replacement or `return` text makes a redirect by itself.
fn is_url(text: &str) -> bool {
    ["http://", "https://", "$scheme"]
        .iter()
        .any(|p| text.starts_with(p))
}

/// `rewrite REGEX REPLACEMENT [last|break|redirect|permanent];`
pub(crate) fn rewrite(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let mut replacement = d.arg(1);
    if replacement.is_empty() {
        return Err(ConfError::at(d, "empty replacement"));
    }
    let regex = compile_regex(d, d.arg(0), false, shared)?;
    // A final `?` drops the request's arguments.
    let keep_args = match replacement.strip_suffix('?') {
        Some(rest) => {
            replacement = rest;
            false
        }
        None => true,
    };
    let mut redirect = is_url(replacement).then_some(302);
    let flag = match d.args.get(2).map(|w| w.text.as_str()) {
        None => Flag::None,
        Some("last") => Flag::Last,
        Some("break") => Flag::Break,
        Some("redirect") => {
            redirect = Some(302);
            Flag::Redirect
        }
        Some("permanent") => {
            redirect = Some(301);
            Flag::Permanent
        }
        Some(other) => {
            return Err(ConfError::at(d, format!("invalid parameter \"{other}\"")));
        }
    };
    // An internal rewrite's first `?` starts the new arguments; a redirect keeps it as text.
    let (path, args) = match replacement.split_once('?') {
        Some((path, args)) if redirect.is_none() => (path, Some(args)),
        _ => (replacement, None),
    };
    let op = Op::Rewrite {
        regex,
        replacement: template(d, path, shared)?,
        args: args.map(|a| template(d, a, shared)).transpose()?,
        keep_args,
        query_in_replacement: replacement.contains('?'),
        flag,
        redirect,
    };
    l.ops(d)?.push(op);
    Ok(())
}

/// `return CODE [TEXT];`, `return CODE URL;` or `return URL;`
pub(crate) fn return_code(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let first = d.arg(0);
    let invalid = || ConfError::at(d, format!("invalid return code \"{first}\""));
    let (code, text) = match parse_number(first) {
        Some(code) if code <= 999 => (code as u16, d.args.get(1)),
        Some(_) => return Err(invalid()),
        None if d.args.len() == 1 && is_url(first) => (302, d.args.first()),
        None => return Err(invalid()),
    };
    let body_or_url = text.map(|w| template(d, &w.text, shared)).transpose()?;
    l.ops(d)?.push(Op::Return { code, body_or_url });
    Ok(())
}

/// `set $name VALUE;` (`$args` changes the request's arguments).
pub(crate) fn set(l: &mut Level<'_>, d: &Directive, shared: &mut Shared) -> Result<(), ConfError> {
    let written = d.arg(0);
    let name = match written.strip_prefix('$') {
        Some(name) if !name.is_empty() => name,
        _ => {
            let message = format!("invalid variable name \"{written}\"");
            return Err(ConfError::at(d, message));
        }
    };
    let lower = name.to_ascii_lowercase();
    if lower != "args" && lower != "limit_rate" && is_builtin_name(&lower) {
        let message = format!("the duplicate \"{name}\" variable");
        return Err(ConfError::at(d, message));
    }
    let value = template(d, d.arg(1), shared)?;
    let op = if lower == "args" {
        Op::SetArgs { value }
    } else if lower == "limit_rate" {
        Op::SetLimitRate { value }
    } else {
        // Declared by `declare_user_vars`, unless the directive came from elsewhere.
        let var = shared.user_vars.declare(&lower);
        Op::Set { var, value }
    };
    l.ops(d)?.push(op);
    Ok(())
}

/// `break;`
pub(crate) fn break_op(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    l.ops(d)?.push(Op::Break);
    Ok(())
}

/// `rewrite_log on|off;` and `uninitialized_variable_warn on|off;`: location-level flags,
/// accepted and ignored inside a server-level `if` (whose settings nginx never uses).
pub(crate) fn rewrite_flag(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    if let Level::If(i) = l
        && i.ctx == Ctx::IF_IN_SERVER
    {
        return flag_arg(d).map(drop);
    }
    let loc = l.loc(d)?;
    let slot = if d.name == "rewrite_log" {
        &mut loc.rewrite_log
    } else {
        &mut loc.uninitialized_variable_warn
    };
    set_once(slot, d, flag_arg)
}

/// `if (CONDITION) { ... }` in a server or a location. Inside a location the block is also a
/// nested location whose settings are merged later (see `merge`); directives of later work
/// in it are kept, raw, as an `if` holding only them.
pub(crate) fn if_block(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let ctx = match l {
        Level::Server(_) => Ctx::IF_IN_SERVER,
        Level::Location(_) => Ctx::IF_IN_LOCATION,
        _ => return Err(ConfError::at(d, "\"if\" directive is not allowed here")),
    };
    let cond = condition(d, shared)?;
    let mut raw = IfRaw {
        ctx,
        ops: Vec::new(),
        loc: LocRaw::default(),
        access_log_off: false,
        deferred: Vec::new(),
    };
    walk(&mut Level::If(&mut raw), block(d), shared)?;
    if raw.access_log_off {
        raw.loc.access_log = Some(Vec::new());
    }
    if !raw.deferred.is_empty()
        && let Some(list) = l.deferred()
    {
        list.push(Directive {
            block: Some(raw.deferred),
            ..d.clone()
        });
    }
    let op = Op::If {
        cond,
        ops: raw.ops,
        loc: None,
    };
    match l {
        Level::Location(location) => {
            location.if_locs.push(raw.loc);
            location.rewrite.push(op);
        }
        other => other.ops(d)?.push(op),
    }
    Ok(())
}

/// Parses an `if` condition the way `ngx_http_rewrite_if_condition` walks its words: the
/// parentheses may be words of their own or stuck to the first and last words.
fn condition(d: &Directive, shared: &mut Shared) -> Result<Condition, ConfError> {
    let invalid = |word: &str| ConfError::at(d, format!("invalid condition \"{word}\""));
    let mut words: Vec<String> = d.args.iter().map(|w| w.text.clone()).collect();
    let first = words.first().map_or("", String::as_str);
    if !first.starts_with('(') {
        return Err(invalid(first));
    }
    let start = if first == "(" {
        1
    } else {
        words[0].remove(0);
        0
    };
    let last_index = words.len() - 1;
    let last = &mut words[last_index];
    if !last.ends_with(')') {
        return Err(invalid(last));
    }
    let end = if last == ")" {
        last_index
    } else {
        last.pop();
        last_index + 1
    };
    let cond = words.get(start..end).unwrap_or(&[]);
    let Some(head) = cond.first() else {
        return Err(invalid(words.get(start).map_or("", String::as_str)));
    };
    if head.len() > 1 && head.starts_with('$') {
        if cond.len() != 1 && cond.len() != 3 {
            return Err(invalid(head));
        }
        let var = resolve(&head[1..].to_ascii_lowercase(), &shared.user_vars)
            .map_err(|message| ConfError::at(d, message))?;
        let [_, op, value] = cond else {
            return Ok(Condition::Value(var));
        };
        return match op.as_str() {
            "=" | "!=" => Ok(Condition::Equal {
                var,
                value: template(d, value, shared)?,
                negate: op == "!=",
            }),
            "~" | "~*" | "!~" | "!~*" => Ok(Condition::Match {
                var,
                regex: compile_regex(d, value, op.ends_with('*'), shared)?,
                negate: op.starts_with('!'),
            }),
            _ => Err(ConfError::at(
                d,
                format!("unexpected \"{op}\" in condition"),
            )),
        };
    }
    let letter = match head.as_bytes() {
        [b'-', c] => Some((*c, false)),
        [b'!', b'-', c] => Some((*c, true)),
        _ => None,
    };
    let Some((letter, negate)) = letter else {
        return Err(invalid(head));
    };
    let [_, path] = cond else {
        return Err(invalid(head));
    };
    let path = template(d, path, shared)?;
    let test = match letter {
        b'f' => FileTest::File,
        b'd' => FileTest::Dir,
        b'e' => FileTest::Exists,
        b'x' => FileTest::Executable,
        _ => return Err(invalid(head)),
    };
    Ok(Condition::File { path, test, negate })
}

#[cfg(test)]
mod tests;
