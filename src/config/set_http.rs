//! Setters for `http`, `server` and `location` settings (nginx's `ngx_http_core_module.c`),
//! the `server`, `location` and `types` blocks, and the raw keeping of later work's directives.

use std::collections::HashMap;
use std::rc::Rc;

use super::directives::{Ctx, block, walk};
use super::error::ConfError;
use super::listen;
use super::parser::Directive;
use super::raw::{Level, LocationRaw, ServerRaw, Shared};
use super::settings::{LingeringClose, LocRaw, LocationMatch};
use super::values::{
    flag_arg, full_name, msec_arg, number_arg, offset_arg, parse_number, parse_size, sec_arg,
    set_once, size_arg,
};

/// Generates setters that parse one value into a once-only field of `LocRaw` or `SrvRaw`.
macro_rules! simple_setters {
    ($($(#[$meta:meta])* $name:ident: $scope:ident . $field:ident = $parse:expr;)*) => {$(
        $(#[$meta])*
        pub(crate) fn $name(
            l: &mut Level<'_>,
            d: &Directive,
            _: &mut Shared,
        ) -> Result<(), ConfError> {
            set_once(&mut l.$scope(d)?.$field, d, $parse)
        }
    )*};
}

fn first_msec(d: &Directive) -> Result<std::time::Duration, ConfError> {
    msec_arg(d, 0)
}

simple_setters! {
    /// `sendfile on|off;`
    sendfile: loc.sendfile = flag_arg;
    /// `sendfile_max_chunk SIZE;`
    sendfile_max_chunk: loc.sendfile_max_chunk = |d| size_arg(d, 0);
    /// `tcp_nopush on|off;`
    tcp_nopush: loc.tcp_nopush = flag_arg;
    /// `tcp_nodelay on|off;`
    tcp_nodelay: loc.tcp_nodelay = flag_arg;
    /// `keepalive_requests N;`
    keepalive_requests: loc.keepalive_requests = |d| number_arg(d, 0);
    /// `client_body_timeout TIME;`
    client_body_timeout: loc.client_body_timeout = first_msec;
    /// `send_timeout TIME;`
    send_timeout: loc.send_timeout = first_msec;
    /// `client_max_body_size SIZE;`
    client_max_body_size: loc.client_max_body_size = |d| offset_arg(d, 0);
    /// `default_type MIME;`
    default_type: loc.default_type = |d| Ok(d.arg(0).to_string());
    /// `log_not_found on|off;`
    log_not_found: loc.log_not_found = flag_arg;
    /// `lingering_time TIME;`
    lingering_time: loc.lingering_time = first_msec;
    /// `lingering_timeout TIME;`
    lingering_timeout: loc.lingering_timeout = first_msec;
    /// `client_header_timeout TIME;`
    client_header_timeout: srv.client_header_timeout = first_msec;
    /// `client_header_buffer_size SIZE;`
    client_header_buffer_size: srv.client_header_buffer_size = |d| size_arg(d, 0).map(|n| n as usize);
    /// `ignore_invalid_headers on|off;`
    ignore_invalid_headers: srv.ignore_invalid_headers = flag_arg;
    /// `underscores_in_headers on|off;`
    underscores_in_headers: srv.underscores_in_headers = flag_arg;
    /// `merge_slashes on|off;`
    merge_slashes: srv.merge_slashes = flag_arg;
}

/// `keepalive_timeout TIMEOUT [HEADER_TIMEOUT];`
pub(crate) fn keepalive_timeout(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.keepalive_timeout, d, |d| {
        let header = if d.args.len() > 1 {
            Some(sec_arg(d, 1)?)
        } else {
            None
        };
        Ok((msec_arg(d, 0)?, header))
    })
}

/// `server_tokens on|off|build;` (`build` behaves as `on`).
pub(crate) fn server_tokens(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.server_tokens, d, |d| {
        match d.arg(0).to_ascii_lowercase().as_str() {
            "on" | "build" => Ok(true),
            "off" => Ok(false),
            _ => Err(ConfError::at(d, format!("invalid value \"{}\"", d.arg(0)))),
        }
    })
}

/// `lingering_close off|on|always;`
pub(crate) fn lingering_close(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.lingering_close, d, |d| {
        match d.arg(0).to_ascii_lowercase().as_str() {
            "off" => Ok(LingeringClose::Off),
            "on" => Ok(LingeringClose::On),
            "always" => Ok(LingeringClose::Always),
            _ => Err(ConfError::at(d, format!("invalid value \"{}\"", d.arg(0)))),
        }
    })
}

/// `large_client_header_buffers NUMBER SIZE;`
pub(crate) fn large_client_header_buffers(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.srv(d)?.large_client_header_buffers, d, |d| {
        let number = parse_number(d.arg(0)).filter(|&n| n > 0);
        let size = parse_size(d.arg(1)).filter(|&n| n > 0);
        match (number, size) {
            (Some(n), Some(s)) => Ok((n as usize, s as usize)),
            _ => Err(ConfError::directive(d, "invalid value")),
        }
    })
}

/// `root PATH;`: a trailing slash is dropped; relative paths resolve against the prefix
/// (paths starting with a variable are kept as written).
pub(crate) fn root(l: &mut Level<'_>, d: &Directive, shared: &mut Shared) -> Result<(), ConfError> {
    let prefix = shared.prefix.clone();
    set_once(&mut l.loc(d)?.root, d, |d| {
        let mut value = d.arg(0);
        for var in [
            "$document_root",
            "${document_root}",
            "$realpath_root",
            "${realpath_root}",
        ] {
            if value.contains(var) {
                let name = var.trim_matches(['$', '{', '}']);
                let message =
                    format!("the ${name} variable cannot be used in the \"root\" directive");
                return Err(ConfError::at(d, message));
            }
        }
        if value.len() > 1 && value.ends_with('/') {
            value = &value[..value.len() - 1];
        }
        Ok(if value.starts_with('$') {
            value.into()
        } else {
            full_name(&prefix, value)
        })
    })
}

/// `index FILE...;` (repeated directives add files).
pub(crate) fn index(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    for (i, w) in d.args.iter().enumerate() {
        if w.text.is_empty() {
            return Err(ConfError::at(
                d,
                "index \"\" in \"index\" directive is invalid",
            ));
        }
        if w.text.starts_with('/') && i + 1 != d.args.len() {
            let message = "only the last index in \"index\" directive should be absolute";
            return Err(ConfError::at(d, message));
        }
    }
    let files = l.loc(d)?.index.get_or_insert_with(Vec::new);
    files.extend(d.args.iter().map(|w| w.text.clone()));
    Ok(())
}

/// `types { MIME EXT...; ... }`: this level's map starts empty, replacing the inherited one.
pub(crate) fn types(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    let slot = l
        .loc(d)?
        .types
        .get_or_insert_with(|| Rc::new(HashMap::new()));
    let map = Rc::make_mut(slot);
    for line in block(d) {
        if line.block.is_some() {
            return Err(ConfError::at(line, "unexpected \"{\""));
        }
        for ext in &line.args {
            map.insert(ext.text.to_ascii_lowercase(), line.name.clone());
        }
    }
    Ok(())
}

/// `server { ... }`
pub(crate) fn server(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let Level::Http(http) = l else {
        return Err(ConfError::at(d, "\"server\" directive is not allowed here"));
    };
    let mut server = ServerRaw {
        index: http.servers.len(),
        ..ServerRaw::default()
    };
    walk(&mut Level::Server(&mut server), block(d), shared)?;
    listen::finish_server(&mut server, shared)?;
    http.servers.push(server);
    Ok(())
}

/// Compiles a location or server-name regex, with nginx's PCRE-style error.
pub(crate) fn compile_regex(
    d: &Directive,
    pattern: &str,
    caseless: bool,
) -> Result<regex::Regex, ConfError> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(caseless)
        .build()
        .map_err(|e| {
            let text = e.to_string();
            let reason = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid regex");
            let reason = reason.trim().trim_start_matches("error: ");
            ConfError::at(
                d,
                format!("pcre2_compile() failed: {reason} in \"{pattern}\""),
            )
        })
}

fn location_match(d: &Directive) -> Result<(LocationMatch, String), ConfError> {
    let (modifier, name) = match d.args.len() {
        2 => (d.arg(0), d.arg(1)),
        _ => {
            let arg = d.arg(0);
            match arg.as_bytes() {
                [b'=', ..] => ("=", &arg[1..]),
                [b'^', b'~', ..] => ("^~", &arg[2..]),
                [b'~', b'*', ..] => ("~*", &arg[2..]),
                [b'~', ..] => ("~", &arg[1..]),
                _ => ("", arg),
            }
        }
    };
    let matcher = match modifier {
        "=" => LocationMatch::Exact(name.into()),
        "^~" => LocationMatch::PrefixNoRegex(name.into()),
        "~" | "~*" => {
            let caseless = modifier == "~*";
            LocationMatch::Regex(compile_regex(d, name, caseless)?, caseless)
        }
        "" if d.args.len() == 1 && name.starts_with('@') => LocationMatch::Named(name.into()),
        "" if d.args.len() == 1 => LocationMatch::Prefix(name.into()),
        _ => {
            return Err(ConfError::at(
                d,
                format!("invalid location modifier \"{modifier}\""),
            ));
        }
    };
    Ok((matcher, name.to_string()))
}

/// Exact and prefix locations may not repeat a name among siblings (regexes may).
fn same_literal(a: &LocationMatch, b: &LocationMatch) -> bool {
    use LocationMatch::{Exact, Prefix, PrefixNoRegex};
    match (a, b) {
        (Exact(x), Exact(y)) => x == y,
        (Prefix(x) | PrefixNoRegex(x), Prefix(y) | PrefixNoRegex(y)) => x == y,
        _ => false,
    }
}

/// `location [=|~|~*|^~] URI { ... }`, `location @name { ... }`, nested or not.
pub(crate) fn location(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let (matcher, name) = location_match(d)?;
    let siblings = match l {
        Level::Server(s) => &mut s.locations,
        Level::Location(parent) => {
            let inside = |what: &str| {
                let message = format!(
                    "location \"{name}\" cannot be inside the {what} location \"{}\"",
                    parent.name
                );
                Err(ConfError::at(d, message))
            };
            match parent.matcher {
                LocationMatch::Exact(_) => return inside("exact"),
                LocationMatch::Named(_) => return inside("named"),
                _ => {}
            }
            if let LocationMatch::Named(_) = matcher {
                let message = format!("named location \"{name}\" can be on the server level only");
                return Err(ConfError::at(d, message));
            }
            if !matches!(matcher, LocationMatch::Regex(..))
                && !name.starts_with(parent.name.as_str())
            {
                let message = format!(
                    "location \"{name}\" is outside location \"{}\"",
                    parent.name
                );
                return Err(ConfError::at(d, message));
            }
            &mut parent.nested
        }
        _ => {
            return Err(ConfError::at(
                d,
                "\"location\" directive is not allowed here",
            ));
        }
    };
    if siblings.iter().any(|s| same_literal(&s.matcher, &matcher)) {
        return Err(ConfError::at(d, format!("duplicate location \"{name}\"")));
    }
    let mut location = LocationRaw {
        matcher,
        name,
        loc: LocRaw::default(),
        access_log_off: false,
        nested: Vec::new(),
        deferred: Vec::new(),
    };
    walk(&mut Level::Location(&mut location), block(d), shared)?;
    siblings.push(location);
    Ok(())
}

/// Keeps a directive of later work, raw, in the enclosing context.
pub(crate) fn deferred(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    if let Some(list) = l.deferred() {
        list.push(d.clone());
    }
    Ok(())
}

/// Like [`deferred`], after checking that the argument is a valid time.
pub(crate) fn deferred_time(
    l: &mut Level<'_>,
    d: &Directive,
    s: &mut Shared,
) -> Result<(), ConfError> {
    msec_arg(d, 0)?;
    deferred(l, d, s)
}

/// `if (CONDITION) { ... }`: the condition's parentheses and the block's directives are
/// checked; the whole block is kept raw.
pub(crate) fn if_block(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let first = d.arg(0);
    let last = d.args.last().map_or("", |w| w.text.as_str());
    if !first.starts_with('(') {
        return Err(ConfError::at(d, format!("invalid condition \"{first}\"")));
    }
    if !last.ends_with(')') {
        return Err(ConfError::at(d, format!("invalid condition \"{last}\"")));
    }
    let ctx = if l.ctx() == Ctx::SERVER {
        Ctx::IF_IN_SERVER
    } else {
        Ctx::IF_IN_LOCATION
    };
    walk(&mut Level::Check(ctx), block(d), shared)?;
    deferred(l, d, shared)
}

/// `upstream NAME { ... }`: names must be unique; the block is checked and kept raw.
pub(crate) fn upstream(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let name = d.arg(0).to_ascii_lowercase();
    if shared.upstreams.contains(&name) {
        return Err(ConfError::at(
            d,
            format!("duplicate upstream \"{}\"", d.arg(0)),
        ));
    }
    shared.upstreams.push(name);
    walk(&mut Level::Check(Ctx::UPSTREAM), block(d), shared)?;
    deferred(l, d, shared)
}
