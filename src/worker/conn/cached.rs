//! The proxy cache on a proxied request (issue 19), as nginx's `ngx_http_upstream_cache`
//! and `ngx_http_upstream_send_response` use it: before going upstream the key is made and
//! the entry looked up (a fresh one answers, through the upstream machine's cached start,
//! so the response head goes through the same rules as a fetched one); when the upstream's
//! head is here, the response is stored if its fields, `proxy_cache_valid` and
//! `proxy_no_cache` allow it. `$upstream_cache_status` says which way it went.

use super::*;
use crate::cache::entry::{self, Entry, Found, Hit};
use crate::cache::fill::Fill;
use crate::cache::freshness;
use crate::cache::header::{self, Header};
use crate::cache::hot::HotEntries;
use crate::cache::{keys, md5, vary};
use crate::config::cache_conf::CacheView;
use crate::config::cache_conf::USE_STALE_UPDATING;
use crate::config::set_cache::{CacheSel, methods};
use crate::http::request::Method;
use crate::upstream::RequestLog;
use crate::upstream::protocol::HeadFacts;
use crate::vars::{Template, VarSource};
use crate::worker::request_vars::{ConnInfo, RequestVars};
use std::rc::Rc;

/// A request's cache entry, which the upstream's response may fill.
#[derive(Debug)]
pub struct FillPlan {
    /// The key and its file.
    pub entry: Entry,
    /// Index of the cache in [`crate::config::HttpConf::caches`].
    pub cache: usize,
    /// The expired entry, kept to answer if the upstream fails (`proxy_cache_use_stale`,
    /// `stale-if-error`).
    pub stale: Option<entry::Stale>,
    /// The request's claim on its key in the keys zone (the lock, if it took it); the fill
    /// takes it and records the new file.
    pub ticket: Option<crate::cache::keys::Ticket>,
    /// `*_cache_revalidate`: the `If-Modified-Since`/`If-None-Match` lines the upstream
    /// request carries for the expired entry in `stale` (empty: none, no revalidation).
    pub conditional: Vec<u8>,
}

/// A request waiting for another to fill its entry (nginx's `c->waiting`): it looks again
/// at `poll_ms` intervals until `deadline_ms` (monotonic milliseconds).
#[derive(Clone, Copy, Debug)]
pub struct LockWait {
    /// `*_cache_lock_timeout` after the first wait began.
    pub deadline_ms: u64,
    /// The next pause (doubled after each look, from [`LOCK_POLL_FIRST_MS`] up to
    /// [`LOCK_POLL_MAX_MS`]).
    pub poll_ms: u64,
}

/// The first pause of a request waiting for the cache lock. nginx looks every 500 ms; a
/// waiter here looks after 2 ms, then doubles the pause up to [`LOCK_POLL_MAX_MS`], so a
/// quick upstream's waiters are answered within milliseconds of the fill and a slow one's
/// cost one look per 100 ms each.
pub const LOCK_POLL_FIRST_MS: u64 = 2;
/// The longest pause between two looks.
pub const LOCK_POLL_MAX_MS: u64 = 100;

/// What the cache decided before going upstream.
// Returned once per request and matched at once: boxing the hit would cost a heap
// allocation per hit for nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum Lookup {
    /// No cache for this request.
    Off,
    /// A fresh entry answers (`true`: the head only, for HEAD).
    Hit(Hit, bool),
    /// The request goes upstream, its response stored as this entry when allowed.
    Upstream(Option<Box<FillPlan>>),
    /// The request fails with this status (a `proxy_cache $var` naming no cache).
    Failed(u16),
    /// Another request holds the entry's lock for this many more milliseconds: look again.
    Wait(u64),
    /// The expired entry answers at once (`STALE`) and a background subrequest refreshes
    /// it, holding the request's claim on the key (`*_cache_background_update`, nginx's
    /// `ngx_http_upstream_cache_background_update`).
    Refresh(Hit, bool, keys::Ticket),
    /// The request goes upstream and its response is not stored (`*_cache_min_uses` not
    /// reached, the lock's wait timed out): nginx's `NGX_HTTP_CACHE_SCARCE`, whose upstream
    /// request passes the client's conditional and range fields.
    Uncached,
}

/// The fill of `entry` in the cache numbered `cache`. With proxy_cache_convert_head on, a
/// HEAD's miss went up as GET and is stored whole; off, the HEAD's response is stored as
/// it comes (the key should then have `$request_method`, as in nginx).
fn plan_for(entry: &Entry, cache: usize, ticket: Option<keys::Ticket>) -> Option<Box<FillPlan>> {
    Some(Box::new(FillPlan {
        entry: entry.clone(),
        cache,
        stale: None,
        ticket,
        conditional: Vec::new(),
    }))
}

/// `proxy_cache_bypass`/`proxy_no_cache`: one value non-empty and not `0`
/// (`ngx_http_test_predicates`).
fn any_true(values: &[Template], vars: &dyn VarSource) -> bool {
    let mut out = Vec::new();
    values.iter().any(|t| {
        out.clear();
        t.eval(vars, &mut out);
        !out.is_empty() && out != b"0"
    })
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Whether the request's location has a cache for it (`proxy_cache` not off, its
/// variable naming something).
pub(super) fn may_cache(vars: &RequestVars<'_, '_>, loc: &CacheView<'_>) -> bool {
    match loc.cache {
        None => false,
        Some(CacheSel::Zone(_)) => true,
        Some(CacheSel::Var(t)) => {
            let mut name = Vec::new();
            t.eval(vars, &mut name);
            !name.is_empty() && name != b"off"
        }
    }
}

/// What the upstream request brings to the cache lookup.
pub(super) struct Upstreamward<'a> {
    /// The URI the proxy sends upstream (the default key's; empty for a gateway, which
    /// has no default key).
    pub upstream_uri: &'a [u8],
    /// `$proxy_host`.
    pub proxy_host: &'a str,
    /// The request already waits for the cache lock (it looks again).
    pub wait: Option<LockWait>,
    /// The request is the background update of an expired entry, holding the key's lock
    /// that the request answered with the stale entry took (see [`Lookup::Refresh`]).
    pub update: Option<keys::Ticket>,
}

/// The lookup before going upstream; `hot` is the worker's entries answered lately.
pub(super) fn lookup(
    hot: &mut HotEntries,
    vars: &RequestVars<'_, '_>,
    cx: &RequestLog<'_>,
    loc: &CacheView<'_>,
    http: &crate::config::HttpConf,
    up: Upstreamward<'_>,
) -> (Lookup, Option<&'static str>) {
    let Upstreamward {
        upstream_uri,
        proxy_host,
        wait,
        mut update,
    } = up;
    let cache = match loc.cache {
        None => return (Lookup::Off, None),
        Some(CacheSel::Zone(zone)) => http.caches.iter().position(|c| c.zone == *zone),
        Some(CacheSel::Var(t)) => {
            // ngx_http_upstream_cache_get: empty or `off` is no cache; another name must
            // be a cache's zone.
            let mut name = Vec::new();
            t.eval(vars, &mut name);
            if name.is_empty() || name == b"off" {
                return (Lookup::Off, None);
            }
            let found = http.caches.iter().position(|c| {
                http.zones
                    .get(c.zone)
                    .is_some_and(|z| z.name.as_bytes() == name.as_slice())
            });
            if found.is_none() {
                cx.line(
                    LogLevel::Error,
                    &format_args!("cache \"{}\" not found", String::from_utf8_lossy(&name)),
                    None,
                );
                return (Lookup::Failed(500), None);
            }
            found
        }
    };
    let Some(cache) = cache else {
        return (Lookup::Off, None);
    };
    let method = vars.active.head.method;
    let head_only = matches!(method, Method::Head) && !vars.as_get;
    let allowed = loc.methods | methods::GET | methods::HEAD;
    let bit = match method {
        _ if vars.as_get => methods::GET,
        Method::Get => methods::GET,
        Method::Head => methods::HEAD,
        Method::Post => methods::POST,
        _ => 0,
    };
    if bit & allowed == 0 {
        return (Lookup::Off, None);
    }
    let mut key = hot.take_key_buffer();
    match loc.key {
        Some(t) => t.eval(vars, &mut key),
        // The gateways have no default key (nginx warns at -t and uses an empty one).
        None if !loc.default_key => {}
        None => {
            // ngx_http_proxy_create_key: the proxy_pass URL's scheme and host, then the
            // upstream URI.
            key.extend_from_slice(b"http://");
            key.extend_from_slice(proxy_host.as_bytes());
            key.extend_from_slice(upstream_uri);
        }
    }
    let buffer_size = loc.buffer_size;
    let needed = header::header_start(key.len()) + 256;
    if needed > buffer_size {
        cx.line(
            LogLevel::Error,
            &format_args!(
                "proxy_buffer_size {buffer_size} is not enough for cache key, it should be increased to at least {}",
                needed.div_ceil(1024) * 1024
            ),
            None,
        );
        return (Lookup::Off, None);
    }
    let Some(decl) = http.caches.get(cache) else {
        return (Lookup::Off, None);
    };
    // An entry this worker answered lately knows its key's MD5.
    let digest = hot
        .digest_of(cache, &key)
        .unwrap_or_else(|| crate::cache::md5::md5(&[&key]));
    let now = unix_now();
    let segment = http.zones.get(decl.zone).and_then(|z| z.segment.as_ref());
    let zone = segment.and_then(|seg| keys::Zone::open(seg));
    // The keys zone: this use counted (once per request: a waiter looking again is not
    // a new use), the LRU moved; a worker's remembered hit counts too, so the manager
    // never takes an entry that is being answered for idle.
    let probe = match &zone {
        None => None,
        Some(z) => {
            let mut evicted = Vec::new();
            let inactive = decl.path.inactive.as_secs() as i64;
            let probe = z.exists(&digest, now, inactive, wait.is_none(), &mut evicted);
            remove_files(&decl.path, &evicted);
            match probe {
                Ok(p) => Some(p),
                Err(keys::NoRoom) => {
                    let name = http.zones.get(decl.zone).map_or("", |z| z.name.as_str());
                    cx.line(
                        LogLevel::Alert,
                        &format_args!("could not allocate node in cache keys zone \"{name}\""),
                        None,
                    );
                    hot.give_key_buffer(key);
                    return (Lookup::Failed(500), None);
                }
            }
        }
    };
    // The node's generation before the file is read: a fill that commits meanwhile makes
    // a newer one, so a copy remembered now is never taken for the newer file.
    let generation = probe.map(|p| p.generation);
    let ticket = |stamp: Option<u64>| {
        segment.map(|seg| keys::Ticket::new(Rc::clone(seg), digest, stamp, loc.min_uses))
    };
    // `*_cache_min_uses`: a key asked for fewer times is fetched and not stored; while the
    // loader has not indexed the directory, a file it does not know yet may still answer.
    let scarce = probe.is_some_and(|p| !p.exists && p.uses < loc.min_uses);
    let bypass = any_true(loc.bypass, vars);
    // An intercepted error the keys zone keeps answers as a hit: the request is finalized
    // with its status, for its `error_page` (nginx's cached NGX_HTTP_NOT_FOUND...).
    if !bypass && let Some(status) = probe.and_then(|p| p.error) {
        hot.give_key_buffer(key);
        return (Lookup::Failed(status), Some("HIT"));
    }
    if !bypass
        && !scarce
        && let Some(hit) = hot.hit(cache, &digest, &key, now, decl.path.inactive, generation)
    {
        hot.give_key_buffer(key);
        return (Lookup::Hit(hit, head_only), Some("HIT"));
    }
    let mut entry = Entry::with_digest(key, digest, &decl.path);
    if bypass {
        let plan = if scarce {
            None
        } else {
            plan_for(&entry, cache, ticket(None))
        };
        return (Lookup::Upstream(plan), Some("BYPASS"));
    }
    if scarce && probe.is_some_and(|p| p.loaded) {
        return (Lookup::Uncached, Some("MISS"));
    }
    let find = |entry: &Entry| {
        let (found, damaged) = entry::find(entry, now, decl.path.inactive, buffer_size, !head_only);
        if let Some(d) = damaged {
            let level = if d.what.is_critical() {
                LogLevel::Crit
            } else {
                LogLevel::Info
            };
            cx.line(
                level,
                &format_args!("cache file \"{}\" {}", d.path.display(), d.what.words()),
                None,
            );
            if let Some(z) = &zone
                && entry.digest == digest
            {
                z.gone(&digest);
            }
        }
        found
    };
    let mut found = find(&entry);
    // A response that varies answers only the requests of its variant; another variant
    // has its own file, named by it (nginx's ngx_http_file_cache_reopen).
    let a = vars.active;
    let buf = &a.buf[a.start.min(a.filled)..a.filled];
    let fields = a
        .head
        .headers
        .iter()
        .map(|h| (h.name.get(buf), h.value.get(buf)));
    let stored_vary = |found: &Found| match found {
        Found::Fresh(hit) | Found::Expired(entry::Stale { hit, .. }) if !hit.vary.is_empty() => {
            Some((
                vary::variant(&digest, &hit.vary, fields.clone()),
                hit.variant,
            ))
        }
        _ => None,
    };
    if let Some((wanted, stored)) = stored_vary(&found)
        && wanted != stored
    {
        entry = Entry::with_digest(entry.key, wanted, &decl.path);
        found = find(&entry);
        if let Some((wanted, stored)) = stored_vary(&found)
            && wanted != stored
        {
            cx.line(
                LogLevel::Crit,
                &format_args!(
                    "cache file \"{}\" has incorrect vary hash",
                    entry.path.display()
                ),
                None,
            );
            found = Found::Missing;
        }
    }
    let plan = |stamp: Option<u64>| {
        if scarce {
            None
        } else {
            plan_for(&entry, cache, ticket(stamp))
        }
    };
    let range = fields
        .clone()
        .find(|(n, _)| n.eq_ignore_ascii_case(b"range"))
        .map(|(_, v)| v);
    let decided = match found {
        Found::Fresh(mut hit) => {
            if let Some(z) = &zone
                && entry.digest == digest
                && !probe.is_some_and(|p| p.exists)
            {
                z.found(&digest, hit.valid_sec, hit.body_start, hit.len);
            }
            hit.cache = cache;
            // A variant's file is not the node's (and varying entries are not kept).
            hot.remember(&entry, &hit, generation.filter(|_| entry.digest == digest));
            // A HEAD's entry (no body, a Content-Length that says some) answers a GET
            // with its head alone, as nginx's ngx_http_cache_send; the connection then
            // closes (see start_upstream). An empty response stays an ordinary hit.
            let bodiless = hit.len == hit.body_start && !entry::body_length_matches(&hit.head, 0);
            (Lookup::Hit(hit, head_only || bodiless), Some("HIT"))
        }
        Found::Expired(mut stale) => {
            stale.hit.cache = cache;
            let updating_ok = loc.use_stale & USE_STALE_UPDATING != 0 || stale.if_updating;
            // One request refreshes an expired entry; while it does, the others are
            // answered with the old one when `use_stale updating` (or the entry's
            // `stale-while-revalidate`) allows, else they fetch it too. A background
            // update already holds the key's lock (its parent took it).
            let stamp = match update.take() {
                Some(t) => Err(t),
                None => Ok(zone
                    .as_ref()
                    .map(|z| z.try_lock(&digest, keys::now_ms(), keys::UPDATING_BOUND_MS))),
            };
            if stamp.as_ref().is_ok_and(|s| s.is_some_and(|s| s.is_none())) && updating_ok {
                return (Lookup::Hit(stale.hit, head_only), Some("UPDATING"));
            }
            // `*_cache_background_update`: the one that took the lock answers with the
            // old entry too, and a background subrequest fetches the new one.
            if loc.background_update
                && updating_ok
                && !vars.active.route.subrequest
                && let Ok(Some(Some(s))) = stamp
                && let Some(t) = ticket(Some(s))
            {
                return (Lookup::Refresh(stale.hit, head_only, t), Some("STALE"));
            }
            let mut p = match stamp {
                Err(t) if !scarce => plan_for(&entry, cache, Some(t)),
                Err(_) => None,
                Ok(stamp) => plan(stamp.flatten()),
            };
            if let Some(p) = p.as_mut() {
                if loc.revalidate {
                    conditional_fields(&stale.hit.head, &mut p.conditional);
                }
                if loc.use_stale != 0 || stale.if_error || !p.conditional.is_empty() {
                    p.stale = Some(stale);
                }
            }
            (Lookup::Upstream(p), Some("EXPIRED"))
        }
        Found::Missing if scarce => (Lookup::Uncached, Some("MISS")),
        // A background update whose entry went meanwhile fetches it under its lock.
        Found::Missing if update.is_some() => (
            Lookup::Upstream(plan_for(&entry, cache, update)),
            Some("MISS"),
        ),
        Found::Missing if !loc.lock => (Lookup::Upstream(plan(None)), Some("MISS")),
        Found::Missing => {
            let Some(z) = &zone else {
                return (Lookup::Upstream(plan(None)), Some("MISS"));
            };
            let now_ms = keys::now_ms();
            if let Some(stamp) = z.try_lock(&digest, now_ms, loc.lock_age.as_millis() as u64) {
                return (Lookup::Upstream(plan(Some(stamp))), Some("MISS"));
            }
            let timed_out = match wait {
                Some(w) => w.deadline_ms <= now_ms,
                None => loc.lock_timeout.is_zero(),
            };
            if timed_out {
                // ngx_http_file_cache_lock_wait: fetched, not stored.
                if wait.is_some() {
                    cx.line(LogLevel::Info, &format_args!("cache lock timeout"), None);
                }
                return (Lookup::Uncached, Some("MISS"));
            }
            let held = z.held_for(&digest, now_ms).unwrap_or(0);
            (Lookup::Wait(held), Some("MISS"))
        }
    };
    // `*_cache_max_range_offset`: a range starting too far goes upstream as the client
    // asked it and is not stored (ngx_http_upstream_cache_check_range).
    match decided {
        (Lookup::Upstream(Some(_)), status) if range_too_far(range, loc.max_range_offset) => {
            (Lookup::Uncached, status)
        }
        other => other,
    }
}

/// Whether a request's `Range` starts at or beyond `max` (`None`: no limit), as nginx's
/// ngx_http_upstream_cache_check_range reads it: any range with a limit of 0, a suffix
/// range always, else the first range's start; a value that is not `bytes=` never.
fn range_too_far(range: Option<&[u8]>, max: Option<u64>) -> bool {
    let (Some(range), Some(max)) = (range, max) else {
        return false;
    };
    if max == 0 {
        return true;
    }
    if range.len() < 7 || !range[..6].eq_ignore_ascii_case(b"bytes=") {
        return false;
    }
    let spaces = range[6..].iter().take_while(|&&b| b == b' ').count();
    let spec = &range[6 + spaces..];
    if spec.first() == Some(&b'-') {
        return true;
    }
    let digits = spec.iter().take_while(|b| b.is_ascii_digit()).count();
    let offset = spec[..digits].iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    });
    // ngx_atoof fails on an empty or overflowing number (-1, below any limit).
    offset.is_some_and(|o| digits > 0 && o >= max)
}

/// The fields nginx's proxy sends for an expired entry under `proxy_cache_revalidate`
/// (`$upstream_cache_last_modified`, `$upstream_cache_etag`): the stored response's
/// Last-Modified (as nginx writes it again from its time) and its ETag, appended to `out`
/// as header lines.
fn conditional_fields(stored_head: &[u8], out: &mut Vec<u8>) {
    let field = |name: &[u8]| {
        freshness::fields(stored_head)
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    // nginx keeps the validators of a 200 or 206 only.
    if !matches!(stored_status(stored_head), 200 | 206) {
        return;
    }
    if let Some(t) = field(b"last-modified").and_then(crate::http::date::parse_http_date_secs) {
        out.extend_from_slice(b"If-Modified-Since: ");
        let mut date = [0u8; 29];
        crate::http::date::format_http_date_secs(t, &mut date);
        out.extend_from_slice(&date);
        out.extend_from_slice(b"\r\n");
    }
    // Not an ETag longer than the file's header holds.
    if let Some(etag) = field(b"etag").filter(|e| e.len() <= header::ETAG_LEN) {
        out.extend_from_slice(b"If-None-Match: ");
        out.extend_from_slice(etag);
        out.extend_from_slice(b"\r\n");
    }
}

/// The status of a stored head: an HTTP status line's, else a gateway's `Status` field
/// (none: 200, as the gateways read it).
fn stored_status(head: &[u8]) -> u16 {
    let digits = |v: &[u8]| {
        v.get(..3)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse::<u16>().ok())
    };
    if head.starts_with(b"HTTP/") {
        return head.get(9..).and_then(digits).unwrap_or(0);
    }
    freshness::fields(head)
        .find(|(n, _)| n.eq_ignore_ascii_case(b"status"))
        .map_or(Some(200), |(_, v)| digits(v))
        .unwrap_or(0)
}

/// Removes the files of keys the keys zone let go of (evicted to make room).
fn remove_files(path: &crate::cache::path_conf::CachePath, keys: &[[u8; 16]]) {
    for k in keys {
        let _ = std::fs::remove_file(path.entry(&md5::hex(k)));
    }
}

/// The cache settings of the module that answers the location (`proxy_cache*` or a
/// gateway's `*_cache*`).
pub(super) fn cache_view(loc: &crate::config::LocSettings) -> CacheView<'_> {
    let module = match crate::worker::backend::Kind::of(loc) {
        Some(crate::worker::backend::Kind::Gateway(m)) => Some(m),
        _ => None,
    };
    crate::config::cache_conf::view(module, loc)
}

/// The file header for a response whose head is `head` (as the upstream sent it), or
/// `None` when it may not be cached (ngx_http_upstream_send_response's test).
fn header_for(head: &[u8], status: u16, loc: &CacheView<'_>, now: i64) -> Option<Header> {
    let f = freshness::of_headers(freshness::fields(head), loc.ignore_headers, now);
    if f.forbidden {
        return None;
    }
    let valid_sec = match f.valid_sec {
        0 => match freshness::valid_for(loc.valid, status) {
            0 => return None,
            secs => now + secs,
        },
        t => t,
    };
    let field = |name: &[u8]| {
        freshness::fields(head)
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let last_modified = field(b"last-modified")
        .and_then(crate::http::date::parse_http_date_secs)
        .unwrap_or(-1);
    let etag = field(b"etag")
        .filter(|e| status == 200 && e.len() <= header::ETAG_LEN)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    Some(Header {
        valid_sec,
        updating_sec: f.updating_sec,
        error_sec: f.error_sec,
        last_modified,
        date: now,
        etag,
        vary: f.vary,
        ..Header::default()
    })
}

impl<'c> Conn<'c> {
    /// The upstream's head is here and the client's is built (which decided whether the
    /// body keeps its chunks): the response starts filling its cache entry when it may be
    /// cached (before the head is taken, so every body byte reaches the file).
    pub(super) fn begin_cache_fill(&mut self, shared: &mut Shared<'c>, facts: HeadFacts) {
        let conn = ConnInfo::of(self);
        let client = self.client_ip();
        let Some(a) = self.active.as_deref_mut() else {
            return;
        };
        begin_fill(a, &conn, client, shared, facts);
    }
}

/// Starts storing the response of `a`'s request in its cache entry when it may be cached
/// (the connection's request or a subrequest's; `client`: the address for log lines).
pub(in crate::worker) fn begin_fill<'c>(
    a: &mut Active<'c>,
    conn: &ConnInfo,
    client: crate::client_addr::ClientIp,
    shared: &Shared<'c>,
    facts: HeadFacts,
) {
    {
        let Some(plan) = a.cache_fill.take() else {
            return;
        };
        let Some(req) = a.req.as_ref() else {
            return;
        };
        let loc = cache_view(req.loc);
        let no_cache = {
            let vars = RequestVars {
                conn,
                active: a,
                req,
                shared,
                as_get: a.route.as_get,
                kept_body: a.route.request_body.as_deref(),
            };
            any_true(loc.no_cache, &vars)
        };
        if no_cache || facts.upgrade || a.upstream.cached() {
            return;
        }
        let head = a.upstream.head_bytes();
        let Some(head) = head.get(..facts.len) else {
            return;
        };
        let Some(mut header) = header_for(head, facts.status, &loc, unix_now()) else {
            return;
        };
        let Some(decl) = shared.http.caches.get(plan.cache) else {
            return;
        };
        // A response that varies carries the request's variant; one fetched for a second
        // variant file goes there only while it still varies so (nginx's
        // ngx_http_file_cache_update_variant), else back under the key.
        let main = crate::cache::md5::md5(&[&plan.entry.key]);
        let buf = &a.buf[a.start.min(a.filled)..a.filled];
        if !header.vary.is_empty() {
            let fields = a
                .head
                .headers
                .iter()
                .map(|h| (h.name.get(buf), h.value.get(buf)));
            header.variant = vary::variant(&main, &header.vary, fields);
        }
        let FillPlan {
            mut entry, ticket, ..
        } = *plan;
        if entry.digest != main && (header.vary.is_empty() || header.variant != entry.digest) {
            entry = Entry::with_digest(entry.key, main, &decl.path);
        }
        if header::header_start(entry.key.len()) + head.len() > loc.buffer_size {
            return;
        }
        let temp_dir: &std::path::Path = if decl.path.use_temp_path {
            loc.temp_path
        } else {
            &decl.path.dir
        };
        let chunked = crate::upstream::Protocol::passes_chunks(&a.upstream.proto);
        let valid_sec = header.valid_sec;
        match Fill::begin(&entry, header, head, temp_dir) {
            Ok(mut fill) => {
                if chunked {
                    fill.dechunk();
                }
                if let Some(ticket) = ticket {
                    fill.hold(ticket, valid_sec);
                }
                a.upstream.begin_fill(fill);
            }
            Err(e) => {
                let cx = RequestLog {
                    conn_id: conn.id,
                    client,
                    server: req.server,
                    buf: &a.buf[a.start.min(a.filled)..a.filled],
                    head: &a.head,
                };
                cx.line(
                    LogLevel::Crit,
                    &format_args!(
                        "open() of a cache file in \"{}\" failed ({})",
                        temp_dir.display(),
                        crate::sys::errno_text(&e)
                    ),
                    a.upstream.name(),
                );
            }
        }
    }
}

/// The upstream's `status` of `a`'s request is intercepted for an `error_page`: when the
/// response could be cached, the keys zone keeps the status for the response's time (its
/// fields', else `*_cache_valid`'s for the status), as nginx's
/// ngx_http_upstream_intercept_errors; the entry's fill plan goes either way. `head`: the
/// upstream's response head (a hit has no plan).
pub(in crate::worker) fn remember_error(
    cache_fill: &mut Option<Box<FillPlan>>,
    head: &[u8],
    loc: &crate::config::LocSettings,
    status: u16,
) {
    let Some(ticket) = cache_fill.take().and_then(|p| p.ticket) else {
        return;
    };
    let loc = cache_view(loc);
    let now = unix_now();
    let f = freshness::of_headers(freshness::fields(head), loc.ignore_headers, now);
    if f.forbidden {
        return;
    }
    let valid_sec = match f.valid_sec {
        0 => match freshness::valid_for(loc.valid, status) {
            0 => return,
            secs => now + secs,
        },
        t => t,
    };
    ticket.errored(status, valid_sec);
}

/// `*_cache_revalidate`: when the upstream answered the conditional request for the
/// expired entry of `a`'s request with 304, the entry is valid again: its file's header and
/// its node in the keys zone learn the new time (nginx's ngx_http_file_cache_update_header).
/// `None` when the answer is not that 304; the stale entry stays in the plan to answer.
pub(in crate::worker) fn revalidate_entry<'c>(
    a: &mut Active<'c>,
    shared: &mut Shared<'c>,
    facts: &HeadFacts,
) -> Option<()> {
    let plan = a.cache_fill.as_ref()?;
    if facts.status != 304 || plan.conditional.is_empty() || a.upstream.cached() {
        return None;
    }
    let stale = plan.stale.as_ref()?;
    let loc = cache_view(a.req.as_ref()?.loc);
    let now = unix_now();
    let head = a.upstream.head_bytes();
    let head = head.get(..facts.len).unwrap_or_default();
    let f = freshness::of_headers(freshness::fields(head), loc.ignore_headers, now);
    // The 304's own Cache-Control/Expires first; else, as nginx once the stored
    // response is loaded again, the stored response's own fields, then
    // `*_cache_valid` for its status (with the stored times beside).
    let stored = &stale.hit.head;
    let g = freshness::of_headers(freshness::fields(stored), loc.ignore_headers, now);
    let stored_status = stored_status(stored);
    let refreshed = if f.forbidden {
        None
    } else if f.valid_sec != 0 {
        Some((f.valid_sec, Some((f.updating_sec, f.error_sec))))
    } else if g.valid_sec != 0 {
        Some((g.valid_sec, Some((g.updating_sec, g.error_sec))))
    } else {
        match freshness::valid_for(loc.valid, stored_status) {
            0 => None,
            secs => Some((now + secs, None)),
        }
    };
    let slot = (stale.hit.cache, stale.hit.digest);
    let (body_start, len) = (stale.hit.body_start, stale.hit.len);
    let mut plan = a.cache_fill.take()?;
    if let Some((valid_sec, times)) = refreshed {
        let _ = header::refresh(&plan.entry.path, valid_sec, times, now);
        if let Some(ticket) = plan.ticket.take() {
            ticket.filled(valid_sec, body_start, len);
        }
    }
    // The file's mtime may not change: the worker's remembered copy goes.
    shared.hot_cache.forget(&slot);
    a.cache_fill = Some(plan);
    Some(())
}

impl<'c> Conn<'c> {
    /// The upstream answered a status `proxy_cache_use_stale` names (`http_500`...) and an
    /// expired entry is at hand: it answers instead (`STALE`), as nginx's
    /// ngx_http_upstream_test_next does once no other try is left.
    pub(super) fn stale_for_status(
        &mut self,
        shared: &mut Shared<'c>,
        status: u16,
    ) -> Option<Step> {
        let a = self.active.as_deref()?;
        if a.upstream.cached() || a.cache_fill.as_ref()?.stale.is_none() {
            return None;
        }
        let loc = cache_view(a.req.as_ref()?.loc);
        let bit = crate::config::proxy_values::NextUpstream::for_status(status);
        if bit == 0 || loc.use_stale & bit == 0 {
            return None;
        }
        Some(match self.answer_stale(shared) {
            Ok(step) => step,
            Err(()) => handler::finalize_with_status(self, shared, 502),
        })
    }

    /// The upstream failed (an error, a timeout, an invalid head) and an expired entry may
    /// answer (`proxy_cache_use_stale` names the failure, or the entry's `stale-if-error`).
    pub(super) fn stale_on_failure(&mut self, shared: &mut Shared<'c>) -> Option<Step> {
        let a = self.active.as_deref()?;
        let stale = a.cache_fill.as_ref()?.stale.as_ref()?;
        let loc = cache_view(a.req.as_ref()?.loc);
        if !stale.if_error && loc.use_stale & a.upstream.failed_kind() == 0 {
            return None;
        }
        self.answer_stale(shared).ok()
    }

    /// `proxy_cache_revalidate`: the upstream answered the conditional request for an
    /// expired entry with 304, so the entry is valid again (see [`revalidate_entry`]) and
    /// answers (`REVALIDATED`), as ngx_http_upstream_test_next does.
    pub(super) fn revalidated(
        &mut self,
        shared: &mut Shared<'c>,
        facts: &HeadFacts,
    ) -> Option<Step> {
        revalidate_entry(self.active.as_deref_mut()?, shared, facts)?;
        let step = match self.answer_stale(shared) {
            Ok(step) => step,
            Err(()) => return Some(handler::finalize_with_status(self, shared, 502)),
        };
        if let Some(a) = self.active.as_deref_mut() {
            a.upstream.log.cache_status = Some("REVALIDATED");
        }
        Some(step)
    }

    fn answer_stale(&mut self, shared: &mut Shared<'c>) -> Result<Step, ()> {
        let key = self.key;
        let a = self.active.as_deref_mut().ok_or(())?;
        let stale = a.cache_fill.take().and_then(|p| p.stale).ok_or(())?;
        let head_only = a.head.method == Method::Head && !a.route.as_get;
        let mut env = Self::env(shared, key);
        a.upstream
            .answer_stale(stale.hit, head_only, &mut env)
            .map_err(|_| ())?;
        a.upstream.log.cache_status = Some("STALE");
        a.source = Source::Upstream;
        self.client_progress = shared.now;
        Ok(Step::Again)
    }
}

#[cfg(test)]
mod tests {
    use super::range_too_far;

    #[test]
    fn a_range_is_too_far_as_nginx_reads_it() {
        let far = |r: &str, max| range_too_far(Some(r.as_bytes()), max);
        assert!(!far("bytes=0-1", None));
        assert!(!range_too_far(None, Some(0)));
        assert!(far("bytes=0-1", Some(0)));
        assert!(far("anything", Some(0)));
        assert!(!far("bytes=1-", Some(2)));
        assert!(far("bytes=2-", Some(2)));
        assert!(far("bytes=  5-9,0-1", Some(3)));
        assert!(!far("bytes=0-1,5-9", Some(3)));
        assert!(far("bytes=-1", Some(100)));
        assert!(!far("items=5-", Some(3)));
        assert!(!far("bytes=", Some(3)));
        assert!(!far("bytes=x", Some(3)));
        assert!(!far("bytes=99999999999999999999999-", Some(3)));
    }
}
