//! Setters of the referer module (`ngx_http_referer_module.c`): `valid_referers`,
//! `referer_hash_max_size`, `referer_hash_bucket_size`; and `empty_gif`
//! (`ngx_http_empty_gif_module.c`), the one directive of its module.
//!
//! A level's `valid_referers` is finished when its server block ends, as nginx's merge
//! does: `server_names` adds the server's names (known only then), a level without
//! regexes of its own takes its parent's (nginx merges the regex lists apart from the
//! names), and the hash knobs are checked against the level's names.

use std::rc::Rc;

use super::error::ConfError;
use super::hash_sizing::{HashKnobs, align_bucket};
use super::parser::Directive;
use super::raw::{Level, LocationRaw, ServerRaw, Shared};
use super::set_map::warn;
use super::settings::{LocRaw, ServerName};
use super::values::{number_arg, set_once};
use crate::computed::hostnames::AddError;
use crate::computed::referer::ValidReferers;

/// nginx's default `referer_hash_max_size`.
pub const DEFAULT_REFERER_HASH_MAX_SIZE: u64 = 2048;
/// nginx's default `referer_hash_bucket_size`.
pub const DEFAULT_REFERER_HASH_BUCKET_SIZE: u64 = 64;

fn add_host(v: &mut ValidReferers, host: &str, uri: Option<&str>) -> Result<(), String> {
    let uri = uri.filter(|u| !u.is_empty()).map(|u| u.as_bytes().into());
    match v.hosts.add(host.as_bytes(), uri, true) {
        Ok(()) => Ok(()),
        Err(AddError::Invalid) => Err(format!("invalid hostname or wildcard \"{host}\"")),
        Err(AddError::Conflict) => Err(format!("conflicting parameter \"{host}\"")),
    }
}

/// `valid_referers none | blocked | server_names | string | ~regex ...;`
pub(crate) fn valid_referers(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let slot = l
        .loc(d)?
        .valid_referers
        .get_or_insert_with(|| Some(Rc::new(ValidReferers::default())));
    let Some(rc) = slot.as_mut() else {
        return Ok(());
    };
    let v = Rc::make_mut(rc);
    if v.declared_at.is_none() {
        v.declared_at = Some((d.file.to_path_buf(), d.line));
    }
    for word in &d.args {
        let word = word.text.as_str();
        match word {
            "" => return Err(ConfError::at(d, "invalid referer \"\"")),
            "none" => v.none = true,
            "blocked" => v.blocked = true,
            "server_names" => v.server_names = true,
            "~" => return Err(ConfError::at(d, "empty regex in \"~\"")),
            _ => {
                if let Some(pattern) = word.strip_prefix('~') {
                    // nginx's plain `ngx_regex_compile`: caseless, no variables.
                    let regex = crate::regex::Regex::new(pattern, true)
                        .map_err(|message| ConfError::at(d, message))?;
                    v.regexes.push(regex);
                    continue;
                }
                let (host, uri) = match word.find('/') {
                    Some(slash) => (&word[..slash], Some(&word[slash..])),
                    None => (word, None),
                };
                add_host(v, host, uri).map_err(|m| ConfError::at(d, m))?;
            }
        }
    }
    Ok(())
}

/// `referer_hash_max_size N;`
pub(crate) fn referer_hash_max_size(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.referer_hash_max_size, d, |d| {
        number_arg(d, 0)
    })
}

/// `referer_hash_bucket_size N;`
pub(crate) fn referer_hash_bucket_size(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.referer_hash_bucket_size, d, |d| {
        number_arg(d, 0)
    })
}

/// `empty_gif;`
pub(crate) fn empty_gif(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
    l.loc(d)?.empty_gif = Some(true);
    Ok(())
}

/// What a level passes to the levels inside it.
#[derive(Clone)]
struct Inherited {
    referers: Option<Rc<ValidReferers>>,
    max_size: u64,
    bucket_size: u64,
}

/// A server name as written in `server_name`.
fn written(name: &ServerName) -> Option<String> {
    match name {
        ServerName::Exact(n) => Some(n.clone()),
        ServerName::WildcardFront(s, true) => Some(s.clone()),
        ServerName::WildcardFront(s, false) => Some(format!("*{s}")),
        ServerName::WildcardBack(p) => Some(format!("{p}*")),
        ServerName::Regex(_) => None,
    }
}

fn finish_level(
    loc: &mut LocRaw,
    names: &[ServerName],
    parent: &Inherited,
) -> Result<Inherited, ConfError> {
    let max_size = loc.referer_hash_max_size.unwrap_or(parent.max_size);
    let bucket_size = loc.referer_hash_bucket_size.unwrap_or(parent.bucket_size);
    let Some(Some(rc)) = loc.valid_referers.as_mut() else {
        return Ok(Inherited {
            referers: parent.referers.clone(),
            max_size,
            bucket_size,
        });
    };
    let v = Rc::make_mut(rc);
    let (file, line) = v.declared_at.clone().unwrap_or_default();
    let at = |message: String| ConfError::new(message, &file, line);
    if v.server_names {
        // A server without `server_name` is named "" (nginx's default).
        if names.is_empty() {
            add_host(v, "", None).map_err(at)?;
        }
        for name in names {
            match (name, written(name)) {
                (ServerName::Regex(re), _) => v.server_name_regexes.push(re.clone()),
                (_, Some(text)) => add_host(v, &text, None).map_err(at)?,
                _ => {}
            }
        }
    }
    if (v.none || v.blocked) && v.hosts.is_empty() {
        return Err(ConfError::bare(
            "the \"none\" or \"blocked\" referers are specified in the \"valid_referers\" \
             directive without any valid referer",
        ));
    }
    let knobs = HashKnobs {
        name: "referer_hash",
        max_size: usize::try_from(max_size).unwrap_or(usize::MAX),
        bucket_size: align_bucket(bucket_size),
    };
    let mut warnings = Vec::new();
    let exact: Vec<&[u8]> = v.hosts.exact_keys().collect();
    let sized = (if exact.is_empty() {
        Ok(())
    } else {
        knobs.check(&exact, &mut warnings)
    })
    .and_then(|()| {
        [v.hosts.head_keys(), v.hosts.tail_keys()]
            .into_iter()
            .filter(|k| !k.is_empty())
            .try_for_each(|k| knobs.check_wildcards(k, &mut warnings))
    });
    warnings.iter().for_each(|w| warn(w));
    sized.map_err(ConfError::bare)?;
    if let Some(p) = &parent.referers {
        if v.regexes.is_empty() {
            v.regexes = p.regexes.clone();
        }
        if v.server_name_regexes.is_empty() {
            v.server_name_regexes = p.server_name_regexes.clone();
        }
    }
    Ok(Inherited {
        referers: Some(rc.clone()),
        max_size,
        bucket_size,
    })
}

fn finish_location(
    location: &mut LocationRaw,
    names: &[ServerName],
    parent: &Inherited,
) -> Result<(), ConfError> {
    let here = finish_level(&mut location.loc, names, parent)?;
    for nested in &mut location.nested {
        finish_location(nested, names, &here)?;
    }
    Ok(())
}

/// Finishes the `valid_referers` of a server and its locations, once its names are known.
pub(crate) fn finish_server(server: &mut ServerRaw) -> Result<(), ConfError> {
    let top = Inherited {
        referers: None,
        max_size: DEFAULT_REFERER_HASH_MAX_SIZE,
        bucket_size: DEFAULT_REFERER_HASH_BUCKET_SIZE,
    };
    let here = finish_level(&mut server.loc, &server.names, &top)?;
    for location in &mut server.locations {
        finish_location(location, &server.names, &here)?;
    }
    Ok(())
}
