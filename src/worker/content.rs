//! The content phase: [`run`] picks the handler of the chosen location — today the static
//! one (`try_files`, `index`, files, `autoindex`), tomorrow the proxy — and runs it.

use std::os::unix::ffi::OsStrExt;

use super::doc_root::{self, Follows};
use super::file_response;
use super::phases::{self, Next, Rq, eval, finalize};
use crate::config::gzip_values::GzipStatic;
use crate::config::{LocationMatch, TryFallback};
use crate::http::request::Method;
use crate::log::LogLevel;
use crate::rewrite::WithScript;
use crate::static_files::{self, Entry, IndexLookup};
use crate::trace::{Probe, Step};
use crate::trace_step;

/// Who answers a request once its location is final.
pub(super) enum Handler {
    /// Files under `root`/`alias` (nginx's try_files, index, static and autoindex modules).
    Static,
    /// `proxy_pass`, `fastcgi_pass`, `uwsgi_pass`, `scgi_pass`: the upstream answers (see
    /// [`super::backend`]).
    Proxy,
    /// `empty_gif` (see [`super::empty_gif`]).
    EmptyGif,
    /// `stub_status` (see [`super::stub_status`]).
    StubStatus,
    /// `status` or `metrics` (see [`super::status_report`]).
    Status(crate::config::set_status::StatusFormat),
}

/// The one place that picks the content handler once the location is final (after every
/// rewrite, `if` and internal redirect), from `rq.req.loc` — the location's settings, or a
/// matched `if`'s (`proxy_pass` is allowed in `if in location`, as in nginx).
pub(super) fn handler_for(rq: &Rq<'_, '_>) -> Handler {
    if super::backend::Kind::of(rq.req.loc).is_some() {
        Handler::Proxy
    } else if rq.req.loc.empty_gif {
        Handler::EmptyGif
    } else if rq.req.loc.stub_status {
        Handler::StubStatus
    } else if let Some(format) = rq.req.loc.status_handler {
        Handler::Status(format)
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
            Handler::StubStatus => "stub_status",
            Handler::Status(_) => "status",
        };
        trace_step!(rq.route.trace, Step::Handler(name));
    }
    match handler {
        Handler::Static => serve_static(rq),
        Handler::Proxy => Next::Proxy,
        // try_files runs before any content handler, as nginx's try_files phase.
        Handler::EmptyGif => try_files(rq).unwrap_or_else(|| super::empty_gif::serve(rq)),
        Handler::StubStatus => try_files(rq).unwrap_or_else(|| super::stub_status::serve(rq)),
        Handler::Status(format) => {
            try_files(rq).unwrap_or_else(|| super::status_report::serve(rq, format))
        }
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
    if !map_uri(rq) {
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
    let found = {
        let vars = rq.vars();
        let src = WithScript {
            ctx: &rq.route.script,
            inner: &vars,
        };
        static_files::find_index(loc, dir, &src)
    };
    if rq.route.trace.is_some() {
        let name = match &found {
            IndexLookup::Found(name) => std::str::from_utf8(name).ok(),
            _ => None,
        };
        trace_step!(rq.route.trace, Step::Index { dir, found: name });
    }
    match found {
        IndexLookup::Found(name) => {
            let mut uri = rq.route.script.uri.clone();
            if name.starts_with(b"/") {
                uri.clear();
            }
            uri.extend_from_slice(&name);
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
/// prefix (a regex location's alias, captures evaluated, is the whole path); a root or
/// alias with variables is evaluated now. The path is left in the request's
/// `$request_filename` buffer (taken out with [`take_path`]); `$document_root` is set too.
/// False: `alias` cannot map a URI rewritten with `break` (500).
pub(super) fn map_uri(rq: &mut Rq<'_, '_>) -> bool {
    let Some(follows) = map_root(rq) else {
        return false;
    };
    let route = &mut *rq.route;
    let uri = &route.script.uri;
    match follows {
        Follows::WholeUri => route.filename.extend_from_slice(uri),
        Follows::AfterPrefix(len) => route
            .filename
            .extend_from_slice(uri.get(len..).unwrap_or(b"")),
        Follows::Nothing if route.add_uri_to_alias => route.filename.extend_from_slice(uri),
        Follows::Nothing => {}
    }
    true
}

/// Puts the document root into `$document_root` and, as the start of a path, into the
/// `$request_filename` buffer; `None` (after nginx's log line) where `alias` cannot be used
/// because a `break` rewrote the URI.
fn map_root(rq: &mut Rq<'_, '_>) -> Option<Follows> {
    if rq.req.loc.alias.is_some() && !rq.route.script.valid_location {
        let name = rq.route.location.map_or(String::new(), location_name);
        let message =
            format!("\"alias\" cannot be used in location \"{name}\" where URI was rewritten");
        phases::log_error(rq, LogLevel::Alert, &message);
        return None;
    }
    let mut root = std::mem::take(&mut rq.route.document_root);
    root.clear();
    let follows = {
        let vars = rq.vars();
        let src = WithScript {
            ctx: &rq.route.script,
            inner: &vars,
        };
        doc_root::document_root(rq.req.loc, &src, &mut root)
    };
    let route = &mut *rq.route;
    route.filename.clear();
    route.filename.extend_from_slice(&root);
    route.document_root = root;
    Some(follows)
}

/// A location's name as nginx prints it in error lines.
fn location_name(l: &crate::config::LocationConf) -> String {
    match &l.matcher {
        LocationMatch::Exact(s)
        | LocationMatch::Prefix(s)
        | LocationMatch::PrefixNoRegex(s)
        | LocationMatch::Named(s) => s.clone(),
        LocationMatch::Regex(re, _) => re.as_str().to_string(),
    }
}

/// Takes the mapped path out of the request (give it back with [`restore_path`], so the
/// buffer is reused and `$request_filename` shows it).
fn take_path(rq: &mut Rq<'_, '_>) -> Vec<u8> {
    std::mem::take(&mut rq.route.filename)
}

fn restore_path(rq: &mut Rq<'_, '_>, path: Vec<u8>) {
    rq.route.filename = path;
}

/// nginx's try-files phase (`ngx_http_try_files_handler`). `None`: a file was found and
/// the URI now names it. Each name is tried under the document root; under the alias of a
/// prefix location a name made with variables loses the location's prefix first, under the
/// alias of a regex location the name follows the whole alias.
fn try_files<'c>(rq: &mut Rq<'_, 'c>) -> Option<Next<'c>> {
    let loc = rq.req.loc;
    let tf = loc.try_files.as_ref()?;
    for file in &tf.files {
        let name = eval(rq, &file.path);
        let Some(follows) = map_root(rq) else {
            return Some(finalize(rq, 500));
        };
        let mut skip = 0;
        if let Follows::AfterPrefix(len) = follows
            && file.path.is_literal().is_none()
            && name.get(..len) == rq.route.script.uri.get(..len)
        {
            skip = len;
        }
        let name = name.get(skip..).unwrap_or(b"");
        rq.route.filename.extend_from_slice(name);
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
                    name,
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
        let (name, _) = phases::split_args(name.to_vec());
        let route = &mut *rq.route;
        match follows {
            Follows::WholeUri => route.script.uri = name,
            Follows::AfterPrefix(len) => {
                route.script.uri.truncate(len);
                route.script.uri.extend_from_slice(&name);
            }
            Follows::Nothing if !file.dir => {
                route.script.uri = name;
                route.add_uri_to_alias = true;
            }
            Follows::Nothing => {}
        }
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
    use crate::config::AutoindexFormat;
    use static_files::autoindex::{self, Format};
    let loc = rq.req.loc;
    let offset = if loc.autoindex_localtime {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        crate::http::date::local_offset_secs(now)
    } else {
        0
    };
    // jsonp's function is the `callback` argument as sent; without one it is plain JSON.
    let callback = match loc.autoindex_format {
        AutoindexFormat::Jsonp => rq
            .route
            .script
            .args
            .as_deref()
            .and_then(|args| crate::vars::find_arg(args, "callback"))
            .filter(|c| !c.is_empty())
            .map(<[u8]>::to_vec),
        _ => None,
    };
    if let Some(name) = callback
        .as_deref()
        .filter(|c| !autoindex::valid_callback(c))
    {
        let what = if name.len() > autoindex::MAX_CALLBACK_LEN {
            "too long"
        } else {
            "invalid"
        };
        let name = String::from_utf8_lossy(name);
        let message = format!("client sent {what} callback name: \"{name}\"");
        phases::log_error(rq, LogLevel::Info, &message);
        return finalize(rq, 400);
    }
    let format = match (loc.autoindex_format, &callback) {
        (AutoindexFormat::Html, _) => Format::Html {
            exact_size: loc.autoindex_exact_size,
            utc_offset_secs: offset,
        },
        (AutoindexFormat::Xml, _) => Format::Xml,
        (AutoindexFormat::Jsonp, Some(name)) => Format::Jsonp(name),
        (AutoindexFormat::Json | AutoindexFormat::Jsonp, _) => Format::Json,
    };
    let content_type = format.content_type();
    let listing = autoindex::listing(&rq.route.script.uri, dir, format);
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
            content_type: Some(content_type),
            content_length: Some(body.len() as u64),
            extra: &extra,
            ..Default::default()
        },
        if head_only { b"" } else { &body },
    );
    Next::Done
}
