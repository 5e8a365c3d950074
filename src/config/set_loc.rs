//! Setters of location-level settings that serve files and shape responses: `alias`,
//! `try_files`, `error_page`, `internal` and the file cache (`ngx_http_core_module.c`),
//! `autoindex*` (`ngx_http_autoindex_module.c`), `expires` and `add_header`
//! (`ngx_http_headers_filter_module.c`), `etag`, `if_modified_since` and the redirect flags.

use super::doc_root::{Alias, PathScript};
use super::error::ConfError;
use super::loc_values::{
    AddHeader, AutoindexFormat, DEFAULT_OPEN_FILE_CACHE_INACTIVE, DisableSymlinks, ErrorPage,
    ErrorPageStatus, ExpiresScript, OpenFileCache, TryFallback, TryFile, TryFiles,
};
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::set_rewrite::template;
use super::settings::LocationMatch;
use super::values::simple_setters;
use super::values::{flag_arg, full_name, number_arg, parse_number, parse_time, sec_arg, set_once};
use crate::http::conditional::IfModifiedSince;

simple_setters! {
    /// `recursive_error_pages on|off;`
    recursive_error_pages: loc.recursive_error_pages = flag_arg;
    /// `autoindex on|off;`
    autoindex: loc.autoindex = flag_arg;
    /// `autoindex_exact_size on|off;`
    autoindex_exact_size: loc.autoindex_exact_size = flag_arg;
    /// `autoindex_localtime on|off;`
    autoindex_localtime: loc.autoindex_localtime = flag_arg;
    /// `autoindex_format html|xml|json|jsonp;`
    autoindex_format: loc.autoindex_format = autoindex_format_arg;
    /// `etag on|off;`
    etag: loc.etag = flag_arg;
    /// `if_modified_since off|exact|before;`
    if_modified_since: loc.if_modified_since = if_modified_since_arg;
    /// `server_name_in_redirect on|off;`
    server_name_in_redirect: loc.server_name_in_redirect = flag_arg;
    /// `port_in_redirect on|off;`
    port_in_redirect: loc.port_in_redirect = flag_arg;
    /// `absolute_redirect on|off;`
    absolute_redirect: loc.absolute_redirect = flag_arg;
    /// `msie_padding on|off;`
    msie_padding: loc.msie_padding = flag_arg;
    /// `msie_refresh on|off;`
    msie_refresh: loc.msie_refresh = flag_arg;
    /// `internal;`
    internal: loc.internal = |_| Ok(true);
    /// `open_file_cache off|max=N [inactive=TIME];`
    open_file_cache: loc.open_file_cache = open_file_cache_arg;
    /// `open_file_cache_valid TIME;`
    open_file_cache_valid: loc.open_file_cache_valid = |d| sec_arg(d, 0);
    /// `open_file_cache_min_uses N;`
    open_file_cache_min_uses: loc.open_file_cache_min_uses = |d| number_arg(d, 0);
    /// `open_file_cache_errors on|off;`
    open_file_cache_errors: loc.open_file_cache_errors = flag_arg;
    /// `open_file_cache_events on|off;`
    open_file_cache_events: loc.open_file_cache_events = flag_arg;
}

/// nginx's `ngx_conf_set_enum_slot` complaint.
fn invalid_value(d: &Directive) -> ConfError {
    ConfError::at(d, format!("invalid value \"{}\"", d.arg(0)))
}

fn autoindex_format_arg(d: &Directive) -> Result<AutoindexFormat, ConfError> {
    match d.arg(0).to_ascii_lowercase().as_str() {
        "html" => Ok(AutoindexFormat::Html),
        "xml" => Ok(AutoindexFormat::Xml),
        "json" => Ok(AutoindexFormat::Json),
        "jsonp" => Ok(AutoindexFormat::Jsonp),
        _ => Err(invalid_value(d)),
    }
}

fn if_modified_since_arg(d: &Directive) -> Result<IfModifiedSince, ConfError> {
    match d.arg(0).to_ascii_lowercase().as_str() {
        "off" => Ok(IfModifiedSince::Off),
        "exact" => Ok(IfModifiedSince::Exact),
        "before" => Ok(IfModifiedSince::Before),
        _ => Err(invalid_value(d)),
    }
}

/// `expires [modified] TIME|@TIME|epoch|max|off;` The value may hold variables (nginx
/// 1.22 evaluates it per request; a value that does not parse then adds no header).
pub(crate) fn expires(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    use crate::http::expires;
    let args: Vec<&str> = d.args.iter().map(|w| w.text.as_str()).collect();
    let (modified, value) =
        expires::split_args(&args).map_err(|message| ConfError::directive(d, &message))?;
    let compiled = template(d, value, shared)?;
    let loc = l.loc(d)?;
    if compiled.is_literal().is_some() {
        set_once(&mut loc.expires, d, |d| {
            expires::parse_value(value, modified).map_err(|m| ConfError::directive(d, &m))
        })?;
        loc.expires_script = Some(None);
        return Ok(());
    }
    // The setting is the script; `expires` itself stays as its default underneath.
    set_once(&mut loc.expires, d, |_| Ok(expires::Expires::Off))?;
    loc.expires_script = Some(Some(ExpiresScript {
        value: compiled,
        modified,
    }));
    Ok(())
}

fn open_file_cache_arg(d: &Directive) -> Result<Option<OpenFileCache>, ConfError> {
    let (mut max, mut inactive, mut off) = (0, DEFAULT_OPEN_FILE_CACHE_INACTIVE, false);
    for word in &d.args {
        let param = word.text.as_str();
        let ok = if let Some(n) = param.strip_prefix("max=") {
            max = parse_number(n).unwrap_or(0) as usize;
            max > 0
        } else if let Some(t) = param.strip_prefix("inactive=") {
            parse_time(t, true).map(|t| inactive = t).is_some()
        } else {
            off |= param == "off";
            param == "off"
        };
        if !ok {
            let message = format!("invalid \"open_file_cache\" parameter \"{param}\"");
            return Err(ConfError::at(d, message));
        }
    }
    if off {
        return Ok(None);
    }
    if max == 0 {
        let message = "\"open_file_cache\" must have the \"max\" parameter";
        return Err(ConfError::at(d, message));
    }
    Ok(Some(OpenFileCache { max, inactive }))
}

/// `disable_symlinks off|on [from=$document_root];` (nginx's `if_not_owner` and a `from=`
/// other than the document root are not implemented and say so).
pub(crate) fn disable_symlinks(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.disable_symlinks, d, disable_symlinks_arg)
}

fn disable_symlinks_arg(d: &Directive) -> Result<DisableSymlinks, ConfError> {
    let unsupported = |what: &str| {
        ConfError::at(
            d,
            format!("\"disable_symlinks\" directive \"{what}\" is not supported"),
        )
    };
    let mut mode = None;
    let mut from_root = false;
    for w in &d.args {
        match w.text.as_str() {
            "off" => mode = Some(DisableSymlinks::Off),
            "on" => mode = Some(DisableSymlinks::On),
            "if_not_owner" => return Err(unsupported("if_not_owner")),
            "from=$document_root" | "from=${document_root}" => from_root = true,
            other if other.starts_with("from=") => return Err(unsupported(other)),
            other => {
                return Err(ConfError::at(d, format!("invalid parameter \"{other}\"")));
            }
        }
    }
    match (mode, from_root) {
        (None, _) => Err(ConfError::at(
            d,
            format!("invalid parameter \"{}\"", d.arg(0)),
        )),
        (Some(DisableSymlinks::On | DisableSymlinks::FromDocumentRoot), true) => {
            Ok(DisableSymlinks::FromDocumentRoot)
        }
        (Some(DisableSymlinks::Off), true) => Err(ConfError::at(
            d,
            "\"from=\" cannot be used with \"off\" parameter",
        )),
        (Some(m), false) => Ok(m),
    }
}

/// `alias PATH;` (locations only; exclusive with `root` at the same level). A relative path
/// resolves against the prefix; in a regex location the path may use the captures.
pub(crate) fn alias(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let Level::Location(location) = l else {
        return Err(ConfError::at(d, "\"alias\" directive is not allowed here"));
    };
    if matches!(location.loc.alias, Some(Some(_))) {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    if location.loc.root.is_some() {
        let message = "\"alias\" directive is duplicate, \"root\" directive was specified earlier";
        return Err(ConfError::at(d, message));
    }
    if let LocationMatch::Named(_) = location.matcher {
        let message = "the \"alias\" directive cannot be used inside the named location";
        return Err(ConfError::at(d, message));
    }
    super::set_http::check_root_vars(d)?;
    let value = d.arg(0);
    let path = if value.starts_with('$') {
        value.to_string()
    } else {
        full_name(&shared.prefix, value)
            .to_string_lossy()
            .into_owned()
    };
    let location_len = match &location.matcher {
        LocationMatch::Exact(s) | LocationMatch::Prefix(s) | LocationMatch::PrefixNoRegex(s) => {
            Some(s.len())
        }
        LocationMatch::Regex(..) | LocationMatch::Named(_) => None,
    };
    let compiled = template(d, &path, shared)?;
    if compiled.is_literal().is_some() {
        // A regex location's literal alias may name a file: its directory is checked.
        let dir = std::path::Path::new(&path);
        let dir = match location_len {
            Some(_) => dir,
            None => dir.parent().unwrap_or(dir),
        };
        shared.doc_roots.push(super::settings::DocRootSite {
            path: dir.to_path_buf(),
            directive: "alias",
            at: Some((d.file.to_path_buf(), d.line)),
        });
    }
    location.loc.alias = Some(Some(Alias {
        path: PathScript {
            template: compiled,
            prefix: shared.prefix.clone(),
        },
        location_len,
    }));
    Ok(())
}

/// `try_files FILE... URI|=CODE|@name;` (server or location).
pub(crate) fn try_files(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let loc = l.loc(d)?;
    if loc.try_files.is_some() {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    let Some((last, paths)) = d.args.split_last() else {
        return Err(ConfError::at(
            d,
            "invalid number of arguments in \"try_files\" directive",
        ));
    };
    let mut files = Vec::with_capacity(paths.len());
    for word in paths {
        let (text, dir) = match word.text.strip_suffix('/') {
            Some(rest) => (rest, true),
            None => (word.text.as_str(), false),
        };
        files.push(TryFile {
            path: template(d, text, shared)?,
            dir,
        });
    }
    let last = last.text.as_str();
    let fallback = if let Some(code) = last.strip_prefix('=') {
        match parse_number(code).filter(|&c| c <= 999) {
            Some(code) => TryFallback::Code(code as u16),
            None => return Err(ConfError::at(d, format!("invalid code \"{last}\""))),
        }
    } else if last.starts_with('@') && !last.contains('$') {
        TryFallback::Named(last.to_string())
    } else {
        TryFallback::Uri(template(d, last, shared)?)
    };
    l.loc(d)?.try_files = Some(Some(TryFiles { files, fallback }));
    Ok(())
}

/// `error_page CODE... [=[RESPONSE]] URI;` (repeatable; a level's list replaces its
/// parent's).
pub(crate) fn error_page(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let invalid = |w: &str| ConfError::at(d, format!("invalid value \"{w}\""));
    let n = d.args.len();
    let maybe_response = d.arg(n.saturating_sub(2));
    let (response, codes) = match maybe_response.strip_prefix('=') {
        Some(_) if n == 2 => return Err(invalid(maybe_response)),
        Some("") => (ErrorPageStatus::FromTarget, &d.args[..n - 2]),
        Some(code) => match parse_number(code).and_then(|c| u16::try_from(c).ok()) {
            Some(code) => (ErrorPageStatus::Code(code), &d.args[..n - 2]),
            None => return Err(invalid(maybe_response)),
        },
        None => (ErrorPageStatus::Original, &d.args[..n.saturating_sub(1)]),
    };
    let target = d.arg(n.saturating_sub(1));
    let mut uri = template(d, target, shared)?;
    let mut args = None;
    if uri.is_literal().is_some()
        && target.starts_with('/')
        && let Some((path, query)) = target.split_once('?')
    {
        uri = template(d, path, shared)?;
        args = Some(query.to_string());
    }
    let mut pages = Vec::with_capacity(codes.len());
    for word in codes {
        let status = parse_number(&word.text)
            .filter(|&c| c != 499)
            .ok_or_else(|| invalid(&word.text))?;
        if !(300..=599).contains(&status) {
            let message = format!("value \"{}\" must be between 300 and 599", word.text);
            return Err(ConfError::at(d, message));
        }
        let status = status as u16;
        // nginx answers its internal TLS codes as 400 unless told otherwise.
        let response = match (response, status) {
            (ErrorPageStatus::Original, 495..=497) => ErrorPageStatus::Code(400),
            (response, _) => response,
        };
        pages.push(ErrorPage {
            status,
            response,
            uri: uri.clone(),
            args: args.clone(),
        });
    }
    l.loc(d)?
        .error_page
        .get_or_insert_with(Vec::new)
        .extend(pages);
    Ok(())
}

/// `add_header NAME VALUE [always];` (repeatable; a level's list replaces its parent's).
pub(crate) fn add_header(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let header = add_header_arg(d, shared)?;
    l.loc(d)?
        .add_header
        .get_or_insert_with(Vec::new)
        .push(header);
    Ok(())
}

/// The `NAME VALUE [always]` of `add_header` and `add_trailer`.
pub(crate) fn add_header_arg(d: &Directive, shared: &Shared) -> Result<AddHeader, ConfError> {
    let value = template(d, d.arg(1), shared)?;
    let always = match d.args.get(2).map(|w| w.text.as_str()) {
        None => false,
        Some("always") => true,
        Some(other) => {
            return Err(ConfError::at(d, format!("invalid parameter \"{other}\"")));
        }
    };
    Ok(AddHeader {
        name: d.arg(0).to_string(),
        value,
        always,
    })
}

#[cfg(test)]
mod tests;
