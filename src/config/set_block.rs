//! Setters for block directives inside `http` (`server`, `location`, `types`); `if` is in
//! `set_rewrite`, `upstream` in `set_proxy`.

use std::collections::HashMap;
use std::rc::Rc;

use super::directives::{block, walk};
use super::error::ConfError;
use super::listen;
use super::parser::Directive;
use super::raw::{Level, LocationRaw, ServerRaw, Shared};
use super::settings::LocationMatch;
use crate::regex::Regex;

/// `types { MIME EXT...; ... }`: this level's map starts empty, replacing the inherited one.
pub(crate) fn types(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    let slot = l
        .loc(d)?
        .types
        .get_or_insert_with(|| Rc::new(HashMap::default()));
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
        defined_at: d.position(),
        ..ServerRaw::default()
    };
    walk(&mut Level::Server(&mut server), block(d), shared)?;
    super::set_referer::finish_server(&mut server)?;
    listen::finish_server(&mut server, shared)?;
    http.servers.push(server);
    Ok(())
}

/// Compiles a regex of directive `d` as nginx's `ngx_http_regex_compile` does: PCRE2's
/// error as nginx words it, and the named groups declared as variables.
pub(crate) fn compile_regex(
    d: &Directive,
    pattern: &str,
    caseless: bool,
    shared: &mut Shared,
) -> Result<Regex, ConfError> {
    Regex::with_vars(pattern, caseless, &mut shared.user_vars)
        .map_err(|message| ConfError::at(d, message))
}

fn location_match(
    d: &Directive,
    shared: &mut Shared,
) -> Result<(LocationMatch, String), ConfError> {
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
            LocationMatch::Regex(compile_regex(d, name, caseless, shared)?, caseless)
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
    let (matcher, name) = location_match(d, shared)?;
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
    let mut location = LocationRaw::new(matcher, name);
    location.defined_at = d.position();
    walk(&mut Level::Location(&mut location), block(d), shared)?;
    siblings.push(location);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::testutil::{http, load_err, load_ok};
    use crate::config::{HttpConf, LocationMatch};

    fn http_conf(body: &str) -> HttpConf {
        load_ok(&http(body)).http.expect("http block")
    }

    #[test]
    fn location_forms() {
        let conf = http_conf(
            "server {\n location = /exact {}\n location =/exact2 {}\n location ^~ /static/ {}\n\
             location ~ \\.php$ {}\n location ~* \\.PNG$ {}\n location @fallback {}\n\
             location /a/ { location /a/b/ { location ~ x {} } }\n}",
        );
        let locs = &conf.servers[0].locations;
        assert!(matches!(&locs[0].matcher, LocationMatch::Exact(n) if n == "/exact"));
        assert!(matches!(&locs[1].matcher, LocationMatch::Exact(n) if n == "/exact2"));
        assert!(matches!(&locs[2].matcher, LocationMatch::PrefixNoRegex(n) if n == "/static/"));
        assert!(
            matches!(&locs[3].matcher, LocationMatch::Regex(r, false) if r.is_match(b"/i.php") == Ok(true))
        );
        assert!(
            matches!(&locs[4].matcher, LocationMatch::Regex(r, true) if r.is_match(b"/a.png") == Ok(true))
        );
        assert!(matches!(&locs[5].matcher, LocationMatch::Named(n) if n == "@fallback"));
        let nested = &locs[6].nested[0];
        assert!(matches!(&nested.matcher, LocationMatch::Prefix(n) if n == "/a/b/"));
        assert!(matches!(nested.nested[0].matcher, LocationMatch::Regex(..)));
    }

    #[test]
    fn location_errors() {
        let srv = |body: &str| load_err(&http(&format!("server {{ {body} }}")));
        assert_eq!(
            srv("location /a/ { location /b/ {} }"),
            "location \"/b/\" is outside location \"/a/\""
        );
        assert_eq!(
            srv("location = /a { location /a/b {} }"),
            "location \"/a/b\" cannot be inside the exact location \"/a\""
        );
        assert_eq!(
            srv("location @n { location /x {} }"),
            "location \"/x\" cannot be inside the named location \"@n\""
        );
        assert_eq!(
            srv("location / { location @n {} }"),
            "named location \"@n\" can be on the server level only"
        );
        assert_eq!(
            srv("location /a {} location ^~ /a {}"),
            "duplicate location \"/a\""
        );
        assert_eq!(
            srv("location = /a {} location = /a {}"),
            "duplicate location \"/a\""
        );
        assert_eq!(srv("location !! /a {}"), "invalid location modifier \"!!\"");
        assert_eq!(
            srv("location ~ ( {}"),
            "pcre2_compile() failed: missing closing parenthesis in \"(\""
        );
        assert_eq!(
            srv("location /a;"),
            "directive \"location\" has no opening \"{\""
        );
        assert_eq!(
            load_err(&http("location / {}")),
            "\"location\" directive is not allowed here"
        );
    }

    #[test]
    fn types_replace_inherited_map() {
        let conf = http_conf(
            "types { text/html html HTM; image/png png; }\n\
             server { location /a { types { text/plain txt; } } location /b { } }",
        );
        let server = &conf.servers[0];
        let get = |t: &crate::config::MimeTypes, e: &str| t.get(e).cloned();
        assert_eq!(get(&server.loc.types, "htm").as_deref(), Some("text/html"));
        assert_eq!(get(&server.loc.types, "png").as_deref(), Some("image/png"));
        assert_eq!(get(&server.loc.types, "gif"), None);
        let a = &server.locations[0].loc.types;
        assert_eq!(
            (get(a, "txt").as_deref(), get(a, "html")),
            (Some("text/plain"), None)
        );
        assert_eq!(
            get(&server.locations[1].loc.types, "png").as_deref(),
            Some("image/png")
        );
        assert_eq!(
            load_err(&http("types { text/html { } }")),
            "unexpected \"{\""
        );
    }
}
