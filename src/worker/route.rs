//! A request's routing state: what the rewrite module and the location search leave for
//! the content handler and the access log.

use crate::config::LocationConf;
use crate::rewrite::{MAX_URI_CHANGES, RewriteCtx};

/// The routing state of a request, kept (in [`super::conn::Active`]) until its access-log line is
/// written: the rewrite module's state (`$uri`, `$args`, captures, `set` values) and where
/// the request ended up.
pub struct Route<'c> {
    /// URI, arguments, captures and `set` variables.
    pub script: RewriteCtx<'c>,
    /// The location serving the request (`None`: the server's own settings).
    pub location: Option<&'c LocationConf>,
    /// The request went through an internal redirect (nginx's `r->internal`): `internal`
    /// locations accept it.
    pub internal: bool,
    /// Location searches left (nginx's `r->uri_changes`).
    pub uri_changes: usize,
    /// Serving an `error_page` target (nginx's `r->error_page`).
    pub in_error_page: bool,
    /// The status an `error_page` answers with, whatever the target says (nginx's
    /// `r->err_status`); `None` to keep the target's.
    pub err_status: Option<u16>,
    /// `error_page` turned the request into a GET (nginx does so for all but HEAD).
    pub as_get: bool,
    /// `$document_root` once the URI was mapped to a file.
    pub document_root: Vec<u8>,
    /// `$request_filename` once the URI was mapped to a file.
    pub filename: Vec<u8>,
    /// The connection's local address, read once per request for `$server_addr`,
    /// `$server_port` and redirects.
    pub local: Option<crate::config::ListenAddr>,
    /// The URI or the arguments differ from the request's (nginx's
    /// `!r->valid_unparsed_uri`): the proxy then sends the current URI and arguments
    /// instead of the request line's target.
    pub uri_rewritten: bool,
    /// An earlier proxied try read the request body (its error was intercepted for an
    /// `error_page`): a proxied error page is sent without one.
    pub body_taken: bool,
    /// An intercepted upstream 401's `WWW-Authenticate`, sent with the error page (nginx
    /// copies it into the response headers before finalizing).
    pub www_authenticate: Option<Vec<u8>>,
    /// That body, when it was buffered (`proxy_request_buffering on`): a proxied error
    /// page sends it again, as nginx does.
    pub request_body: Option<Box<crate::upstream::body_buffer::StoredBody>>,
    /// The response head as queued (`$sent_http_*`).
    pub sent_head: Vec<u8>,
    /// The `Location` of a redirect that an `error_page` answered (empty: none): nginx
    /// keeps `r->headers_out.location` through the internal redirect, so the error page's
    /// response carries it.
    pub redirect_location: Vec<u8>,
    /// An arguments buffer kept for the next request while this one has none.
    spare_args: Vec<u8>,
    /// `$request_id`: 16 random bytes as 32 hex digits.
    pub request_id: super::request_vars::RequestId,
    // ---- core (long tail) ----
    /// `try_files` found a file under the alias of a regex location: the URI follows the
    /// alias in the file's path (nginx's `r->add_uri_to_alias`).
    pub add_uri_to_alias: bool,
    /// `--explain`'s hook (see [`crate::trace`]); `None` in a worker.
    pub trace: crate::trace::TraceSlot<'c>,
    // ---- proxy (rest of the module) ----
    /// After an `X-Accel-Redirect`: the upstream's `Content-Type`, which the final
    /// response keeps in place of its own (nginx's `ngx_http_upstream_copy_content_type`).
    pub upstream_content_type: Option<Vec<u8>>,
    /// After an `X-Accel-Redirect`: the upstream's `Set-Cookie`, `Content-Disposition`,
    /// `Cache-Control`, `Expires` and `Accept-Ranges` lines, added to the final response.
    pub upstream_headers: Vec<u8>,
    // ---- subrequests ----
    /// The request is a subrequest (`auth_request`, `mirror`): no post-read or access
    /// phase, no mirrors of its own (nginx's `r != r->main`).
    pub subrequest: bool,
    /// The body is being read whole for the mirrors: the content phase follows.
    pub body_for_mirror: bool,
    /// The request's `post_action` was started (it runs once).
    pub post_action_started: bool,
}

impl Default for Route<'_> {
    fn default() -> Self {
        Route {
            script: RewriteCtx::new(Vec::new(), None, 0),
            location: None,
            internal: false,
            uri_changes: MAX_URI_CHANGES + 1,
            in_error_page: false,
            err_status: None,
            as_get: false,
            document_root: Vec::new(),
            filename: Vec::new(),
            local: None,
            uri_rewritten: false,
            body_taken: false,
            www_authenticate: None,
            request_body: None,
            sent_head: Vec::new(),
            redirect_location: Vec::new(),
            spare_args: Vec::new(),
            request_id: super::request_vars::RequestId::default(),
            add_uri_to_alias: false,
            trace: None,
            upstream_content_type: None,
            upstream_headers: Vec::new(),
            subrequest: false,
            body_for_mirror: false,
            post_action_started: false,
        }
    }
}

impl Route<'_> {
    /// Keeps a copy of the response head just queued, for `$sent_http_*`, when one of the
    /// location's access-log formats reads it (decided once per format at load).
    pub fn keep_sent_head(&mut self, loc: &crate::config::LocSettings, head: &[u8]) {
        self.sent_head.clear();
        // Trailers are made after the head left and may read it too.
        if !loc.add_trailer.is_empty()
            || loc
                .access_log
                .iter()
                .any(|log| log.format.reads_sent_headers)
        {
            self.sent_head.extend_from_slice(head);
        }
    }

    /// Starts a new request: no captures, and room for `user_vars` variable values, none
    /// set. Comes before the virtual server is chosen (a `server_name` regex sets both).
    pub fn clear_matches(&mut self, user_vars: usize) {
        let s = &mut self.script;
        s.captures.clear();
        s.user.clear();
        s.user.resize(user_vars, None);
    }

    /// Starts a new request with `uri` and `args`, keeping allocations (and what
    /// [`Route::clear_matches`] left).
    pub fn reset(&mut self, uri: &[u8], args: Option<&[u8]>) {
        let s = &mut self.script;
        s.uri.clear();
        s.uri.extend_from_slice(uri);
        // The arguments' buffer is kept from request to request, like the URI's.
        let mut kept = match s.args.take() {
            Some(buf) => buf,
            None => std::mem::take(&mut self.spare_args),
        };
        match args.filter(|a| !a.is_empty()) {
            Some(a) => {
                kept.clear();
                kept.extend_from_slice(a);
                s.args = Some(kept);
            }
            None => self.spare_args = kept,
        }
        s.quoted_uri = false;
        s.loc = None;
        s.uri_changed = false;
        s.valid_location = true;
        s.rewrite_log = false;
        s.logs.clear();
        s.uninitialized.set(None);
        s.computed.clear();
        s.limit_rate = None;
        self.location = None;
        self.internal = false;
        self.uri_changes = MAX_URI_CHANGES + 1;
        self.in_error_page = false;
        self.err_status = None;
        self.as_get = false;
        self.document_root.clear();
        self.filename.clear();
        self.sent_head.clear();
        self.redirect_location.clear();
        self.uri_rewritten = false;
        self.body_taken = false;
        self.www_authenticate = None;
        self.request_body = None;
        self.subrequest = false;
        self.body_for_mirror = false;
        self.post_action_started = false;
        self.add_uri_to_alias = false;
        self.upstream_content_type = None;
        self.upstream_headers.clear();
    }
}
