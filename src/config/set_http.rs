//! Setters for the values of `http`, `server` and `location` settings (nginx's
//! `ngx_http_core_module.c`); the block directives are in `set_block`.

use super::doc_root::PathScript;
use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::set_rewrite::template;
use super::settings::LingeringClose;
use super::values::simple_setters;
use super::values::{
    flag_arg, full_name, msec_arg, number_arg, offset_arg, parse_number, parse_size, sec_arg,
    set_once, size_arg,
};

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
    /// `client_body_buffer_size SIZE;`
    client_body_buffer_size: loc.client_body_buffer_size = |d| size_arg(d, 0).map(|n| n as usize);
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

/// `root PATH;` (exclusive with `alias` at the same level): a trailing slash is dropped; a
/// path written without a leading variable resolves against the prefix now, one with
/// variables is evaluated per request (`root_script`).
pub(crate) fn root(l: &mut Level<'_>, d: &Directive, shared: &mut Shared) -> Result<(), ConfError> {
    let prefix = shared.prefix.clone();
    let loc = l.loc(d)?;
    if matches!(loc.alias, Some(Some(_))) {
        let message = "\"root\" directive is duplicate, \"alias\" directive was specified earlier";
        return Err(ConfError::at(d, message));
    }
    check_root_vars(d)?;
    let mut value = d.arg(0);
    if value.len() > 1 && value.ends_with('/') {
        value = &value[..value.len() - 1];
    }
    let path = if value.starts_with('$') {
        value.into()
    } else {
        full_name(&prefix, value)
    };
    let compiled = template(d, &path.to_string_lossy(), shared)?;
    let loc = l.loc(d)?;
    set_once(&mut loc.root, d, |_| Ok(path.clone()))?;
    // `root` here means no inherited `alias` (nginx keeps both in one field).
    loc.alias = Some(None);
    if compiled.is_literal().is_some() {
        shared.doc_roots.push(super::settings::DocRootSite {
            path: path.clone(),
            directive: "root",
            at: Some((d.file.to_path_buf(), d.line)),
        });
    }
    let script = match compiled.is_literal() {
        Some(_) => None,
        None => Some(PathScript {
            template: compiled,
            prefix,
        }),
    };
    loc.root_script = Some(script);
    Ok(())
}

/// nginx refuses the variables made from `root`/`alias` inside them.
pub(crate) fn check_root_vars(d: &Directive) -> Result<(), ConfError> {
    let value = d.arg(0);
    for name in ["document_root", "realpath_root"] {
        if value.contains(&format!("${name}")) || value.contains(&format!("${{{name}}}")) {
            let message = format!(
                "the ${name} variable cannot be used in the \"{}\" directive",
                d.name
            );
            return Err(ConfError::at(d, message));
        }
    }
    Ok(())
}

/// `client_body_temp_path PATH [LEVEL1 [LEVEL2 [LEVEL3]]];` relative to the prefix; levels
/// are checked as nginx does (1 or 2 each) and not used: a body's file is unlinked at once.
pub(crate) fn client_body_temp_path(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let prefix = shared.prefix.clone();
    let loc = l.loc(d)?;
    set_once(&mut loc.client_body_temp_path, d, |d| temp_path(d, &prefix))
}

/// `proxy_temp_path PATH [LEVEL1 [LEVEL2 [LEVEL3]]];`, read as `client_body_temp_path`.
pub(crate) fn proxy_temp_path(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let prefix = shared.prefix.clone();
    let loc = l.loc(d)?;
    set_once(&mut loc.proxy_temp_path, d, |d| temp_path(d, &prefix))
}

/// A temporary-file directory and its levels, as nginx's `ngx_conf_set_path_slot` checks
/// them (each level 1 or 2 characters).
pub(crate) fn temp_path(
    d: &Directive,
    prefix: &std::path::Path,
) -> Result<std::path::PathBuf, ConfError> {
    for i in 1..d.args.len() {
        if !matches!(d.arg(i), "1" | "2") {
            return Err(ConfError::at(d, "invalid value"));
        }
    }
    Ok(full_name(prefix, d.arg(0)))
}

/// `index FILE...;` (repeated directives add files; names may hold variables).
pub(crate) fn index(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
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
    let names = d
        .args
        .iter()
        .map(|w| template(d, &w.text, shared))
        .collect::<Result<Vec<_>, _>>()?;
    l.loc(d)?.index.get_or_insert_with(Vec::new).extend(names);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use crate::config::testutil::{http, load_err, load_in, load_ok};
    use crate::config::{HttpConf, LingeringClose};

    fn http_conf(body: &str) -> HttpConf {
        load_ok(&http(body)).http.expect("http block")
    }

    #[test]
    fn inheritance_http_server_location_nested() {
        let conf = http_conf(
            "sendfile on; keepalive_timeout 10s 5; client_header_timeout 7s;\n\
             server { tcp_nopush on; client_header_timeout 8s;\n\
               location / { sendfile off; location /x { send_timeout 3s; } }\n\
               location /y { }\n}",
        );
        let server = &conf.servers[0];
        assert!(server.loc.sendfile && server.loc.tcp_nopush);
        assert_eq!(server.srv.client_header_timeout, Duration::from_secs(8));
        assert_eq!(
            server.loc.keepalive_timeout,
            (Duration::from_secs(10), Some(Duration::from_secs(5)))
        );
        let root = &server.locations[0];
        assert!(!root.loc.sendfile && root.loc.tcp_nopush);
        let nested = &root.nested[0];
        assert!(!nested.loc.sendfile && nested.loc.tcp_nopush);
        assert_eq!(nested.loc.send_timeout, Duration::from_secs(3));
        assert!(server.locations[1].loc.sendfile);
    }

    #[test]
    fn value_directives() {
        let (result, prefix) = load_in(
            &http(
                "server { root www/; index a.html /abs.html; index b.html;\n\
                 client_max_body_size 10m; sendfile_max_chunk 512k; keepalive_requests 5;\n\
                 server_tokens build; lingering_close always; lingering_time 1m; lingering_timeout 2s;\n\
                 large_client_header_buffers 8 16k; client_header_buffer_size 2k; default_type application/x;\n\
                 log_not_found off; tcp_nodelay off; underscores_in_headers on; ignore_invalid_headers off;\n\
                 merge_slashes off; client_body_timeout 9s; }",
            ),
            None,
        );
        let config = result.unwrap_or_else(|e| panic!("{e}"));
        let server = &config.http.as_ref().unwrap().servers[0];
        let loc = &server.loc;
        assert_eq!(loc.root, prefix.join("www"));
        let names: Vec<_> = loc.index.iter().filter_map(|t| t.is_literal()).collect();
        assert_eq!(names, [&b"a.html"[..], b"/abs.html", b"b.html"]);
        assert_eq!(loc.client_max_body_size, 10 << 20);
        assert_eq!(loc.sendfile_max_chunk, 512 << 10);
        assert_eq!(loc.keepalive_requests, 5);
        assert!(loc.server_tokens && !loc.log_not_found && !loc.tcp_nodelay);
        assert_eq!(loc.lingering_close, LingeringClose::Always);
        assert_eq!(
            (loc.lingering_time, loc.lingering_timeout),
            (Duration::from_secs(60), Duration::from_secs(2))
        );
        assert_eq!(loc.default_type, "application/x");
        assert_eq!(loc.client_body_timeout, Duration::from_secs(9));
        let srv = &server.srv;
        assert_eq!(srv.large_client_header_buffers, (8, 16 << 10));
        assert_eq!(srv.client_header_buffer_size, 2048);
        assert!(srv.underscores_in_headers && !srv.ignore_invalid_headers && !srv.merge_slashes);
        let conf = http_conf("root /; server { root $host; }");
        assert_eq!(conf.servers[0].loc.root, PathBuf::from("$host"));
        let script = conf.servers[0].loc.root_script.as_ref().expect("script");
        assert!(script.template.is_literal().is_none());
        assert!(conf.servers[0].loc.root_script.is_some());
    }

    #[test]
    fn value_errors() {
        assert_eq!(
            load_err(&http("root a; root b;")),
            "\"root\" directive is duplicate"
        );
        assert_eq!(
            load_err(&http("index a \"\";")),
            "index \"\" in \"index\" directive is invalid"
        );
        assert_eq!(
            load_err(&http("index /a b;")),
            "only the last index in \"index\" directive should be absolute"
        );
        assert_eq!(
            load_err(&http("server_tokens maybe;")),
            "invalid value \"maybe\""
        );
        assert_eq!(
            load_err(&http("lingering_close sometimes;")),
            "invalid value \"sometimes\""
        );
        assert_eq!(
            load_err(&http("large_client_header_buffers 0 8k;")),
            "\"large_client_header_buffers\" directive invalid value"
        );
        assert_eq!(
            load_err(&http("client_max_body_size 1x;")),
            "\"client_max_body_size\" directive invalid value"
        );
        assert_eq!(
            load_err(&http("client_body_in_single_buffer yes;")),
            "invalid value \"yes\" in \"client_body_in_single_buffer\" directive, it must be \"on\" or \"off\""
        );
        load_ok(&http(
            "client_body_in_single_buffer on; server { location / { client_body_in_single_buffer off; } }",
        ));
        assert_eq!(
            load_err(&http("sendfile on off;")),
            "invalid number of arguments in \"sendfile\" directive"
        );
        assert_eq!(
            load_err(&http("root $document_root/x;")),
            "the $document_root variable cannot be used in the \"root\" directive"
        );
        assert_eq!(
            load_err(&http("server { location / { client_header_timeout 1s; } }")),
            "\"client_header_timeout\" directive is not allowed here"
        );
    }
}
