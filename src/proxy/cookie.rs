//! Upstream `Set-Cookie` fields as nginx rewrites them (`ngx_http_proxy_rewrite_cookie`):
//! `proxy_cookie_domain` and `proxy_cookie_path` change the `domain` and `path`
//! attributes, `proxy_cookie_flags` adds or removes `Secure`, `HttpOnly` and `SameSite`;
//! and `$upstream_cookie_NAME`, a cookie the upstream set.
//!
//! A field is split at `;` into attributes (spaces around names and values trimmed); one
//! whose first attribute has no `=` is left alone. When a rule applies, the field is
//! rebuilt with `; ` between attributes, as nginx rebuilds it; otherwise it goes out as
//! the upstream sent it.

use super::response::{Redirect, rewrite_value};
use crate::config::LocSettings;
use crate::config::proxy_rest::{CookieFlagsRule, CookieName};
use crate::vars::VarSource;

/// `proxy_cookie_flags` bits (`ngx_http_proxy_cookie_flags_masks`).
const SECURE_ON: u8 = 1;
const SECURE_OFF: u8 = 1 << 1;
const HTTPONLY_ON: u8 = 1 << 2;
const HTTPONLY_OFF: u8 = 1 << 3;
const SAMESITE_STRICT: u8 = 1 << 4;
const SAMESITE_LAX: u8 = 1 << 5;
const SAMESITE_NONE: u8 = 1 << 6;
const SAMESITE_OFF: u8 = 1 << 7;

const FLAG_NAMES: [(&[u8], u8); 8] = [
    (b"secure", SECURE_ON),
    (b"nosecure", SECURE_OFF),
    (b"httponly", HTTPONLY_ON),
    (b"nohttponly", HTTPONLY_OFF),
    (b"samesite=strict", SAMESITE_STRICT),
    (b"samesite=lax", SAMESITE_LAX),
    (b"samesite=none", SAMESITE_NONE),
    (b"nosamesite", SAMESITE_OFF),
];

/// A location's cookie rules, their variables evaluated for one request.
#[derive(Debug, Default)]
pub struct CookieRules {
    domains: Vec<Redirect>,
    paths: Vec<Redirect>,
    flags: Vec<(Match, u8)>,
}

/// Which cookies a `proxy_cookie_flags` rule names.
#[derive(Debug)]
enum Match {
    Name(Vec<u8>),
    Regex(crate::regex::Regex),
}

/// The location's cookie rules for one request; `None` when it has none (the usual case,
/// which costs nothing).
pub fn evaluate(loc: &LocSettings, vars: &dyn VarSource) -> Option<Box<CookieRules>> {
    if loc.proxy_cookie_domain.is_none()
        && loc.proxy_cookie_path.is_none()
        && loc.proxy_cookie_flags.is_none()
    {
        return None;
    }
    let rules = |list: &Option<Vec<crate::config::proxy_values::RedirectRule>>| {
        list.iter()
            .flatten()
            .filter_map(|r| super::evaluate_rule(r, vars))
            .collect::<Vec<_>>()
    };
    let flags = loc
        .proxy_cookie_flags
        .iter()
        .flatten()
        .map(|rule| flags_rule(rule, vars))
        .collect();
    Some(Box::new(CookieRules {
        domains: rules(&loc.proxy_cookie_domain),
        paths: rules(&loc.proxy_cookie_path),
        flags,
    }))
}

fn flags_rule(rule: &CookieFlagsRule, vars: &dyn VarSource) -> (Match, u8) {
    let name = match &rule.cookie {
        CookieName::Name(t) => {
            let mut out = Vec::new();
            t.eval(vars, &mut out);
            Match::Name(out)
        }
        CookieName::Regex(re) => Match::Regex(re.clone()),
    };
    let mut mask = 0;
    let mut value = Vec::new();
    for flag in &rule.flags {
        value.clear();
        flag.eval(vars, &mut value);
        // An unknown flag is ignored (nginx logs it at debug level only).
        if let Some((_, bit)) = FLAG_NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&value))
        {
            mask |= bit;
        }
    }
    (name, mask)
}

/// One `Set-Cookie` attribute: `key[=value]` (a removed one has no key).
struct Attr<'a> {
    key: Option<std::borrow::Cow<'a, [u8]>>,
    value: Option<std::borrow::Cow<'a, [u8]>>,
}

fn trim_spaces(mut s: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' '] = s {
        s = rest;
    }
    s
}

/// nginx's `ngx_http_proxy_parse_cookie`.
fn parse(value: &[u8]) -> Vec<Attr<'_>> {
    value
        .split(|&b| b == b';')
        .map(|part| {
            let (key, value) = match memchr::memchr(b'=', part) {
                Some(i) => (&part[..i], Some(trim_spaces(&part[i + 1..]))),
                None => (part, None),
            };
            Attr {
                key: Some(trim_spaces(key).into()),
                value: value.map(Into::into),
            }
        })
        .collect()
}

/// Rewrites one `Set-Cookie` value into `out`; false (nothing written) when no rule
/// applies and the field goes out unchanged.
pub fn rewrite_set_cookie(value: &[u8], rules: &CookieRules, out: &mut Vec<u8>) -> bool {
    let mut attrs = parse(value);
    if attrs.first().is_none_or(|a| a.value.is_none()) {
        return false;
    }
    let mut changed = false;
    let mut scratch = Vec::new();
    for attr in attrs.iter_mut().skip(1) {
        let (Some(key), Some(v)) = (&attr.key, &attr.value) else {
            continue;
        };
        let (rules, domain) = if key.eq_ignore_ascii_case(b"domain") {
            (&rules.domains, true)
        } else if key.eq_ignore_ascii_case(b"path") {
            (&rules.paths, false)
        } else {
            continue;
        };
        scratch.clear();
        if rewrite_value(v, 0, rules, domain, &mut scratch) {
            attr.value = Some(std::mem::take(&mut scratch).into());
            changed = true;
        }
    }
    if apply_flags(&mut attrs, &rules.flags) {
        changed = true;
    }
    if !changed {
        return false;
    }
    let mut first = true;
    for attr in &attrs {
        let Some(key) = &attr.key else {
            continue;
        };
        if !first {
            out.extend_from_slice(b"; ");
        }
        first = false;
        out.extend_from_slice(key);
        if let Some(v) = &attr.value {
            out.push(b'=');
            out.extend_from_slice(v);
        }
    }
    true
}

/// nginx's `ngx_http_proxy_rewrite_cookie_flags` and `ngx_http_proxy_edit_cookie_flags`:
/// the first rule naming the cookie applies its flags.
fn apply_flags(attrs: &mut Vec<Attr<'_>>, rules: &[(Match, u8)]) -> bool {
    let Some(name) = attrs.first().and_then(|a| a.key.as_deref()) else {
        return false;
    };
    let Some(&(_, mut flags)) = rules.iter().find(|(m, _)| match m {
        Match::Name(n) => n.eq_ignore_ascii_case(name),
        Match::Regex(re) => matches!(re.is_match(name), Ok(true)),
    }) else {
        return false;
    };
    if flags == 0 {
        return false;
    }
    for attr in attrs.iter_mut().skip(1) {
        let Some(key) = attr.key.as_deref() else {
            continue;
        };
        if key.eq_ignore_ascii_case(b"secure") {
            if flags & SECURE_ON != 0 {
                flags &= !SECURE_ON;
            } else if flags & SECURE_OFF != 0 {
                attr.key = None;
            }
        } else if key.eq_ignore_ascii_case(b"httponly") {
            if flags & HTTPONLY_ON != 0 {
                flags &= !HTTPONLY_ON;
            } else if flags & HTTPONLY_OFF != 0 {
                attr.key = None;
            }
        } else if key.eq_ignore_ascii_case(b"samesite") {
            let set = [
                (SAMESITE_STRICT, &b"Strict"[..]),
                (SAMESITE_LAX, b"Lax"),
                (SAMESITE_NONE, b"None"),
            ]
            .into_iter()
            .find(|(bit, _)| flags & bit != 0);
            if let Some((bit, wanted)) = set {
                flags &= !bit;
                if !attr
                    .value
                    .as_deref()
                    .is_some_and(|v| v.eq_ignore_ascii_case(wanted))
                {
                    attr.key = Some(b"SameSite".as_slice().into());
                    attr.value = Some(wanted.into());
                }
            } else if flags & SAMESITE_OFF != 0 {
                attr.key = None;
            }
        }
    }
    let mut add = |key: &'static [u8], value: Option<&'static [u8]>| {
        attrs.push(Attr {
            key: Some(key.into()),
            value: value.map(Into::into),
        })
    };
    if flags & SECURE_ON != 0 {
        add(b"Secure", None);
    }
    if flags & HTTPONLY_ON != 0 {
        add(b"HttpOnly", None);
    }
    if flags & SAMESITE_STRICT != 0 {
        add(b"SameSite", Some(b"Strict"));
    } else if flags & SAMESITE_LAX != 0 {
        add(b"SameSite", Some(b"Lax"));
    } else if flags & SAMESITE_NONE != 0 {
        add(b"SameSite", Some(b"None"));
    }
    true
}

pub use crate::upstream::log::find_set_cookie;

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(from: &str, to: &str) -> Redirect {
        Redirect::Prefix {
            from: from.as_bytes().to_vec(),
            to: to.as_bytes().to_vec(),
        }
    }

    fn rewrite(value: &str, rules: &CookieRules) -> Option<String> {
        let mut out = Vec::new();
        rewrite_set_cookie(value.as_bytes(), rules, &mut out)
            .then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn domain_and_path_as_nginx() {
        let rules = CookieRules {
            domains: vec![prefix("example.com", "example.org")],
            paths: vec![prefix("/one/", "/two/")],
            flags: Vec::new(),
        };
        assert_eq!(
            rewrite("a=b;  Domain=.EXAMPLE.com ;path=/one/x", &rules).as_deref(),
            Some("a=b; Domain=.example.org; path=/two/x")
        );
        // A domain must match whole; a path is a prefix, case-sensitively.
        assert_eq!(rewrite("a=b; domain=sub.example.com", &rules), None);
        assert_eq!(rewrite("a=b; path=/ONE/", &rules), None);
        // No `=` in the first attribute: left alone.
        assert_eq!(rewrite("novalue; domain=example.com", &rules), None);
    }

    #[test]
    fn flags_as_nginx() {
        let rules = CookieRules {
            flags: vec![
                (
                    Match::Name(b"one".to_vec()),
                    SECURE_ON | HTTPONLY_OFF | SAMESITE_LAX,
                ),
                (
                    Match::Regex(crate::regex::Regex::new("^t", true).unwrap()),
                    SECURE_OFF | SAMESITE_OFF,
                ),
            ],
            ..CookieRules::default()
        };
        assert_eq!(
            rewrite("One=1; HttpOnly; samesite=strict", &rules).as_deref(),
            Some("One=1; SameSite=Lax; Secure")
        );
        assert_eq!(
            rewrite("two=2; Secure; SameSite=None; Path=/", &rules).as_deref(),
            Some("two=2; Path=/")
        );
        assert_eq!(rewrite("other=3; Secure", &rules), None);
    }

    #[test]
    fn upstream_cookie_variable() {
        let headers: Vec<(&[u8], &[u8])> = vec![
            (b"X", b"y"),
            (b"Set-Cookie", b"a=1; Path=/"),
            (b"set-cookie", b"SID = abc ; HttpOnly"),
        ];
        assert_eq!(
            find_set_cookie(headers.iter().copied(), "sid"),
            Some(&b"abc "[..])
        );
        assert_eq!(find_set_cookie(headers.iter().copied(), "path"), None);
    }
}
