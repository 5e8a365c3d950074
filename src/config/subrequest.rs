//! Setters of the modules that make subrequests (`ngx_http_auth_request_module.c`,
//! `ngx_http_mirror_module.c`): `auth_request`, `auth_request_set`, `mirror`,
//! `mirror_request_body`. The worker's side is `worker/subrequest/`.

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::set_rewrite::template;
use super::values::{flag_arg, set_once};
use crate::vars::{Template, is_builtin_name};

/// Which variable an `auth_request_set` writes (the ones `set` may write).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetTarget {
    /// A configuration variable, by its index in [`crate::vars::UserVars`].
    User(usize),
    /// `$args` (its set handler changes the request's arguments).
    Args,
    /// `$limit_rate`.
    LimitRate,
}

/// `auth_request_set $variable VALUE`: set in the main request from the value evaluated
/// in the finished auth subrequest (its `$upstream_http_*`, `$sent_http_*`, ...).
#[derive(Clone, Debug)]
pub struct AuthRequestSet {
    /// The variable written.
    pub target: SetTarget,
    /// The value, evaluated with the subrequest's variables.
    pub value: Template,
}

/// `auth_request URI|off;` (an empty URI is `off`).
pub(crate) fn auth_request(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let uri = match d.arg(0) {
        "off" => Vec::new(),
        uri => uri.as_bytes().to_vec(),
    };
    set_once(&mut l.loc(d)?.auth_request, d, |_| Ok(uri))
}

/// `auth_request_set $variable VALUE;` (entries of one level replace the parent's).
pub(crate) fn auth_request_set(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let written = d.arg(0);
    let Some(name) = written.strip_prefix('$') else {
        return Err(ConfError::at(
            d,
            format!("invalid variable name \"{written}\""),
        ));
    };
    let lower = name.to_ascii_lowercase();
    let target = match lower.as_str() {
        "args" => SetTarget::Args,
        "limit_rate" => SetTarget::LimitRate,
        _ if is_builtin_name(&lower) => {
            // nginx's ngx_http_add_variable for a variable that cannot be changed.
            return Err(ConfError::at(
                d,
                format!("the duplicate \"{name}\" variable"),
            ));
        }
        _ if name.is_empty() => {
            return Err(ConfError::at(
                d,
                format!("invalid variable name \"{written}\""),
            ));
        }
        // A name no `set` declares reads as "not found" until the auth request sets it
        // (nginx's ngx_http_auth_request_variable), without `set`'s uninitialized warning.
        _ => SetTarget::User(match shared.user_vars.index(&lower) {
            Some(i) => i,
            None => shared.user_vars.declare_capture(&lower),
        }),
    };
    let value = template(d, d.arg(1), shared)?;
    l.loc(d)?
        .auth_request_set
        .get_or_insert_with(Vec::new)
        .push(AuthRequestSet { target, value });
    Ok(())
}

/// `mirror URI|off;`: several URIs mirror to each; `off` (alone in its level) stops the
/// inherited ones.
pub(crate) fn mirror(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    let slot = &mut l.loc(d)?.mirror;
    if d.arg(0) == "off" {
        if slot.is_some() {
            return Err(ConfError::directive(d, "is duplicate"));
        }
        *slot = Some(Vec::new());
        return Ok(());
    }
    match slot {
        Some(list) if list.is_empty() => Err(ConfError::directive(d, "is duplicate")),
        Some(list) => {
            list.push(d.arg(0).as_bytes().to_vec());
            Ok(())
        }
        None => {
            *slot = Some(vec![d.arg(0).as_bytes().to_vec()]);
            Ok(())
        }
    }
}

/// `post_action URI|@name;` (nginx's string slot: used as written, `off` included).
pub(crate) fn post_action(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let target = d.arg(0).as_bytes().to_vec();
    set_once(&mut l.loc(d)?.post_action, d, |_| Ok(target))
}

/// `mirror_request_body on|off;`
pub(crate) fn mirror_request_body(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.mirror_request_body, d, flag_arg)
}
