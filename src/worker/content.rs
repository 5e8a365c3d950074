//! The content phase: [`run`] picks the handler of the chosen location — today the static
//! one (`try_files`, `index`, files, `autoindex`), tomorrow the proxy — and runs it.

use std::os::unix::ffi::OsStrExt;

use super::file_response;
use super::phases::{self, Next, Rq, eval, finalize, location_prefix};
use crate::config::gzip_values::GzipStatic;
use crate::config::{LocationMatch, TryFallback};
use crate::http::request::Method;
use crate::log::LogLevel;
use crate::static_files::{self, Entry, IndexLookup};
use crate::trace::{Probe, Step};
use crate::trace_step;

/// Who answers a request once its location is final.
pub(super) enum Handler {
    /// Files under `root`/`alias` (nginx's try_files, index, static and autoindex modules).
    Static,
    /// `proxy_pass`: the upstream answers (see [`crate::proxy`]).
    Proxy,
    /// `empty_gif` (see [`super::empty_gif`]).
    EmptyGif,
}

/// The one place that picks the content handler once the location is final (after every
/// rewrite, `if` and internal redirect), from `rq.req.loc` — the location's settings, or a
/// matched `if`'s (`proxy_pass` is allowed in `if in location`, as in nginx).
pub(super) fn handler_for(rq: &Rq<'_, '_>) -> Handler {
    if rq.req.loc.proxy_pass.is_some() {
        Handler::Proxy
    } else if rq.req.loc.empty_gif {
        Handler::EmptyGif
    } else {
        Handler::Static
    }
}

/// Runs the content handler of the request's location.
pub(super) fn run<'c>(rq: &mut Rq<'_, 'c>) -> Next<'c> {
    let handler = handler_for(rq);
    if rq.route.trace.is_some() {
        let name = match handler {
            Handler::Static => "static",
            Handler::Proxy => "proxy",
            Handler::EmptyGif => "empty_gif",
        };
        trace_step!(rq.route.trace, Step::Handler(name));
    }
    match handler {
        Handler::Static => serve_static(rq),
        Handler::Proxy => Next::Proxy,
        // try_files runs before any content handler, as nginx's try_files phase.
        Handler::EmptyGif => try_files(rq).unwrap_or_else(|| super::empty_gif::serve(rq)),
    }
}

/// The method the static handlers see (`error_page` makes it GET).
fn method(rq: &Rq<'_, '_>) -> Method {
    if rq.route.as_get {
        Method::Get
    } else {
        rq.a.head.method
    }
}

fn serve_static<'c>(rq: &mut Rq<'_, 'c>) -> Next<'c> {
    if rq.req.loc.try_files.is_some() {
        // `None`: a file was found and the (changed) URI is served here.
        if let Some(next) = try_files(rq) {
            return next;
        }
    }
    let method = method(rq);
    if !matches!(method, Method::Get | Method::Head | Method::Post) {
        return finalize(rq, 405);
    }
    if !map_uri(rq, None) {
        return finalize(rq, 500);
    }
    let path = take_path(rq);
    if rq.route.script.uri.ends_with(b"/") {
        let next = index(rq, &path);
        restore_path(rq, path);
        return next;
    }
    let loc = rq.req.loc;
    let now = rq.shared.now;
    let mut gzip_vary = false;
    if loc.gzip_static != GzipStatic::Off && matches!(method, Method::Get | Method::Head) {
        match gzip_static(rq, &path) {
            GzipStaticAnswer::Served(next) => {
                restore_path(rq, path);
                return next;
            }
            GzipStaticAnswer::Declined { vary } => gzip_vary = vary,
        }
    }
    let looked = static_files::open(&mut rq.shared.file_cache, loc, &path, now);
    if rq.route.trace.is_some() {
        let status = match &looked {
            Entry::File(_) if method == Method::Post => 405,
            Entry::File(_) => 200,
            Entry::Directory => 301,
            Entry::Error(status, _) => *status,
        };
        trace_step!(
            rq.route.trace,
            Step::StaticFile {
                path: &path,
                status,
            }
        );
    }
    restore_path(rq, path);
    match looked {
        Entry::File(f) => {
            if method == Method::Post {
                return finalize(rq, 405);
            }
            file_response::serve(rq, f, file_response::FileKind::Plain { gzip_vary })
        }
        Entry::Directory => {
            let mut location = Vec::with_capacity(64);
            crate::http::uri::escape_uri(&rq.route.script.uri, &mut location);
            location.push(b'/');
            if let Some(args) = &rq.route.script.args {
                location.push(b'?');
                location.extend_from_slice(args);
            }
            phases::redirect(rq, 301, &location)
        }
        Entry::Error(status, message) => {
            if let Some(message) = message {
                let level = if status == 500 {
                    LogLevel::Crit
                } else {
                    LogLevel::Error
                };
                phases::log_error(rq, level, &message);
            }
            finalize(rq, status)
        }
    }
}

/// What `gzip_static` did.
enum GzipStaticAnswer<'c> {
    /// It answered with `FILE.gz` (or its 404).
    Served(Next<'c>),
    /// The static handler answers; `vary`: a `.gz` exists that this client does not get.
    Declined { vary: bool },
}

/// nginx's `ngx_http_gzip_static_handler` for the file at `path`: `path.gz` answers when
/// it exists and the client accepts gzip (`on`) or always (`always`, for `gunzip` to
/// decompress where needed); the `.gz` is served as bytes, never inspected.
fn gzip_static<'c>(rq: &mut Rq<'_, 'c>, path: &[u8]) -> GzipStaticAnswer<'c> {
    let loc = rq.req.loc;
    let ok = loc.gzip_static == GzipStatic::Always || {
        let request = super::gzip::RequestFacts {
            head: &rq.a.head,
            buf: &rq.a.buf[rq.a.start..rq.a.filled],
        };
        super::gzip::gzip_ok(loc, request, None)
    };
    if !loc.gzip_vary && !ok {
        return GzipStaticAnswer::Declined { vary: false };
    }
    let mut gz = Vec::with_capacity(path.len() + 3);
    gz.extend_from_slice(path);
    gz.extend_from_slice(b".gz");
    let now = rq.shared.now;
    let f = match static_files::open(&mut rq.shared.file_cache, loc, &gz, now) {
        Entry::File(f) => f,
        Entry::Directory => {
            return GzipStaticAnswer::Declined {
                vary: loc.gzip_static == GzipStatic::On,
            };
        }
        Entry::Error(status, message) => {
            // A `.gz` that is there but not a regular file is nginx's 404; one that cannot
            // be opened for another reason than its absence is logged; either way
            // otherwise the plain file answers.
            let not_regular = message
                .as_deref()
                .is_some_and(|m| m.ends_with("is not a regular file"));
            if not_regular {
                if loc.gzip_static == GzipStatic::On && !ok {
                    return GzipStaticAnswer::Declined { vary: true };
                }
                phases::log_error(rq, LogLevel::Crit, message.as_deref().unwrap_or_default());
                return GzipStaticAnswer::Served(finalize(rq, 404));
            }
            if status != 404
                && let Some(message) = message
            {
                let level = if status == 403 {
                    LogLevel::Error
                } else {
                    LogLevel::Crit
                };
                phases::log_error(rq, level, &message);
            }
            return GzipStaticAnswer::Declined { vary: false };
        }
    };
    if !ok {
        return GzipStaticAnswer::Declined {
            vary: loc.gzip_static == GzipStatic::On,
        };
    }
    GzipStaticAnswer::Served(file_response::serve(
        rq,
        f,
        file_response::FileKind::GzipStatic {
            vary: loc.gzip_static == GzipStatic::On,
        },
    ))
}

/// nginx's index module for a URI ending in `/`.
fn index<'c>(rq: &mut Rq<'_, 'c>, dir: &[u8]) -> Next<'c> {
    let loc = rq.req.loc;
    let found = static_files::find_index(loc, dir);
    if rq.route.trace.is_some() {
        let name = match &found {
            IndexLookup::Found(name) => Some(*name),
            _ => None,
        };
        trace_step!(rq.route.trace, Step::Index { dir, found: name });
    }
    match found {
        IndexLookup::Found(name) => {
            let mut uri = rq.route.script.uri.clone();
            if name.starts_with('/') {
                uri.clear();
            }
            uri.extend_from_slice(name.as_bytes());
            let args = rq.route.script.args.clone();
            phases::internal_redirect(rq, uri, args)
        }
        // nginx's autoindex takes GET and HEAD only; a POST falls through to the 403.
        IndexLookup::NoIndex
            if loc.autoindex && matches!(method(rq), Method::Get | Method::Head) =>
        {
            autoindex(rq, dir)
        }
        IndexLookup::NoIndex => {
            let message = format!(
                "directory index of \"{}\" is forbidden",
                String::from_utf8_lossy(dir)
            );
            phases::log_error(rq, LogLevel::Error, &message);
            finalize(rq, 403)
        }
        IndexLookup::Error(status, message) => {
            if let Some(message) = message {
                phases::log_error(rq, LogLevel::Error, &message);
            }
            finalize(rq, status)
        }
    }
}

/// nginx's `ngx_http_map_uri_to_path`: `root` + URI, or `alias` in place of the location's
/// prefix (a regex location's alias, captures evaluated, is the whole path). `name` maps
/// that name instead of the URI (`try_files`). The path is left in the request's
/// `$request_filename` buffer (taken out with [`take_path`]); `$document_root` is set too.
/// False: `alias` cannot map a URI rewritten with `break` (500).
pub(super) fn map_uri(rq: &mut Rq<'_, '_>, name: Option<&[u8]>) -> bool {
    let loc = rq.req.loc;
    let (alias, location) = match (&loc.alias, rq.route.location) {
        (Some(alias), Some(l)) => (alias, l),
        _ => {
            let root = loc.root.as_os_str().as_bytes();
            let route = &mut *rq.route;
            route.document_root.clear();
            route.document_root.extend_from_slice(root);
            route.filename.clear();
            route.filename.extend_from_slice(root);
            route
                .filename
                .extend_from_slice(name.unwrap_or(&route.script.uri));
            return true;
        }
    };
    if !rq.route.script.valid_location {
        let message = match location_prefix(location) {
            Some(p) => {
                format!("\"alias\" cannot be used in location \"{p}\" where URI was rewritten")
            }
            None => "\"alias\" cannot be used in location where URI was rewritten".to_string(),
        };
        phases::log_error(rq, LogLevel::Error, &message);
        return false;
    }
    let evaluated;
    let root: &[u8] = match alias.is_literal() {
        Some(literal) => literal,
        None => {
            evaluated = eval(rq, alias);
            &evaluated
        }
    };
    let route = &mut *rq.route;
    route.document_root.clear();
    route.document_root.extend_from_slice(root);
    route.filename.clear();
    route.filename.extend_from_slice(root);
    let uri = name.unwrap_or(&route.script.uri);
    match &location.matcher {
        LocationMatch::Regex(..) => {
            if name.is_some() {
                // try_files names are relative to the alias's directory.
                if let Some(slash) = memchr::memrchr(b'/', &route.filename) {
                    route.filename.truncate(slash);
                }
                route.filename.extend_from_slice(uri);
            }
        }
        _ => {
            let prefix_len = location_prefix(location).map_or(0, str::len);
            route
                .filename
                .extend_from_slice(uri.get(prefix_len.min(uri.len())..).unwrap_or(b""));
        }
    }
    true
}

/// Takes the mapped path out of the request (give it back with [`restore_path`], so the
/// buffer is reused and `$request_filename` shows it).
fn take_path(rq: &mut Rq<'_, '_>) -> Vec<u8> {
    std::mem::take(&mut rq.route.filename)
}

fn restore_path(rq: &mut Rq<'_, '_>, path: Vec<u8>) {
    rq.route.filename = path;
}

/// nginx's try-files phase. `None`: a file was found and the URI now names it.
fn try_files<'c>(rq: &mut Rq<'_, 'c>) -> Option<Next<'c>> {
    let loc = rq.req.loc;
    let tf = loc.try_files.as_ref()?;
    for file in &tf.files {
        let name = eval(rq, &file.path);
        if name.is_empty() {
            continue;
        }
        if !map_uri(rq, Some(&name)) {
            return Some(finalize(rq, 500));
        }
        let meta = std::fs::metadata(std::ffi::OsStr::from_bytes(&rq.route.filename));
        if rq.route.trace.is_some() {
            let probe = match &meta {
                Ok(m) if m.is_dir() == file.dir => Probe::Found,
                Ok(_) => Probe::WrongKind,
                Err(_) => Probe::Missing,
            };
            let route = &mut *rq.route;
            trace_step!(
                route.trace,
                Step::TryFiles {
                    name: &name,
                    dir: file.dir,
                    path: &route.filename,
                    probe,
                }
            );
        }
        let Ok(meta) = meta else {
            continue;
        };
        if meta.is_dir() != file.dir {
            continue;
        }
        // The URI becomes the name tried, without the `/` of a directory entry (nginx then
        // answers a directory named without its slash with a 301 to `uri/`); its `?args`,
        // if any, are not part of it.
        let (uri, _) = phases::split_args(name);
        rq.route.script.uri = uri;
        return None;
    }
    Some(match &tf.fallback {
        TryFallback::Code(code) => finalize(rq, *code),
        TryFallback::Named(name) => phases::named_location(rq, name),
        TryFallback::Uri(t) => {
            let target = eval(rq, t);
            let (uri, args) = phases::split_args(target);
            let args = args.or_else(|| rq.route.script.args.clone());
            phases::internal_redirect(rq, uri, args)
        }
    })
}

/// `autoindex on`: the HTML listing of `dir`.
fn autoindex<'c>(rq: &mut Rq<'_, 'c>, dir: &[u8]) -> Next<'c> {
    let loc = rq.req.loc;
    let offset = if loc.autoindex_localtime {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        crate::http::date::local_offset_secs(now)
    } else {
        0
    };
    let listing = static_files::autoindex::listing(
        &rq.route.script.uri,
        dir,
        loc.autoindex_exact_size,
        offset,
    );
    let body = match listing {
        Ok(body) => body,
        Err(e) => {
            let message = format!(
                "opendir() \"{}\" failed ({})",
                String::from_utf8_lossy(dir),
                crate::sys::errno_text(&e)
            );
            phases::log_error(rq, LogLevel::Error, &message);
            let status = match e.raw_os_error() {
                Some(libc::EACCES) | Some(libc::EPERM) => 403,
                Some(libc::ENOENT) | Some(libc::ENOTDIR) => 404,
                _ => 500,
            };
            return finalize(rq, status);
        }
    };
    let status = rq.route.err_status.unwrap_or(200);
    if status == 200
        && let Some(next) = super::response_head::generated_preconditions(rq)
    {
        return next;
    }
    let extra = super::handler::extra_headers(rq, status, None);
    let head_only = rq.a.head.method == Method::Head;
    super::handler::queue_response(
        rq.a,
        rq.shared,
        rq.req,
        &super::handler::Head {
            status,
            content_type: Some(b"text/html"),
            content_length: Some(body.len() as u64),
            extra: &extra,
            ..Default::default()
        },
        if head_only { b"" } else { &body },
    );
    Next::Done
}
