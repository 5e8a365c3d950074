//! The cache settings of one upstream module at one level (issue 19), the same for
//! `proxy_cache*`, `fastcgi_cache*`, `uwsgi_cache*` and `scgi_cache*` (nginx's
//! `ngx_http_upstream_conf_t` cache fields, which its four modules share). The proxy keeps
//! them in [`crate::config::LocSettings`]'s `proxy_cache*` fields, each gateway in its
//! [`crate::config::cgi_values::CgiConf`]; the setters in `set_cache.rs` reach either
//! through [`CacheSlots`], and the request path reads either through [`CacheView`].

use super::cgi_values::CgiModule;
use super::set_cache::CacheSel;
use super::settings::LocSettings;
use crate::cache::freshness::ValidRule;
use crate::config::proxy_rest::IgnoreHeaders;
use crate::vars::Template;
use std::time::Duration;

/// `*_cache_lock_timeout` and `*_cache_lock_age` default: 5 seconds.
pub const DEFAULT_LOCK_TIME: Duration = Duration::from_secs(5);
/// `*_cache_use_stale updating`, beside the `NextUpstream` bits of the other values.
pub const USE_STALE_UPDATING: u16 = 1 << 14;

/// A gateway's cache settings at one level; `None` is "not set here".
#[derive(Clone, Debug, Default)]
pub struct CacheConf {
    /// `*_cache ZONE|$var|off` (`Some(None)`: off)
    pub cache: Option<Option<CacheSel>>,
    /// `*_cache_key STRING`
    pub key: Option<Option<Template>>,
    /// `*_cache_valid` rules
    pub valid: Option<Vec<ValidRule>>,
    /// `*_cache_methods` bits
    pub methods: Option<u8>,
    /// `*_cache_bypass` values
    pub bypass: Option<Vec<Template>>,
    /// `*_no_cache` values
    pub no_cache: Option<Vec<Template>>,
    /// `*_cache_use_stale` as `NextUpstream` bits
    pub use_stale: Option<u16>,
    /// `*_cache_lock`
    pub lock: Option<bool>,
    /// `*_cache_lock_timeout`
    pub lock_timeout: Option<Duration>,
    /// `*_cache_lock_age`
    pub lock_age: Option<Duration>,
    /// `*_cache_min_uses`
    pub min_uses: Option<u64>,
    /// `*_cache_background_update`
    pub background_update: Option<bool>,
    /// `*_cache_max_range_offset` (`Some(None)`: no limit)
    pub max_range_offset: Option<Option<u64>>,
    /// `*_cache_revalidate` (the gateways'; the proxy's is a location setting)
    pub revalidate: Option<bool>,
}

impl CacheConf {
    /// Takes every field still unset here from `parent` (nginx's merge).
    pub fn inherit(&mut self, parent: &CacheConf) {
        super::inherit_unset!(
            self, parent;
            cache,
            key,
            valid,
            methods,
            bypass,
            no_cache,
            use_stale,
            lock,
            lock_timeout,
            lock_age,
            min_uses,
            background_update,
            max_range_offset,
            revalidate
        );
    }

    /// The settings as the request path reads them (`buffer_size`, `ignore_headers`,
    /// `temp_path`: the module's own).
    pub fn view<'a>(
        &'a self,
        buffer_size: usize,
        ignore_headers: IgnoreHeaders,
        temp_path: &'a std::path::Path,
    ) -> CacheView<'a> {
        CacheView {
            cache: self.cache.as_ref().and_then(Option::as_ref),
            key: self.key.as_ref().and_then(Option::as_ref),
            default_key: false,
            valid: self.valid.as_deref().unwrap_or_default(),
            methods: self.methods.unwrap_or(0),
            bypass: self.bypass.as_deref().unwrap_or_default(),
            no_cache: self.no_cache.as_deref().unwrap_or_default(),
            // Only the proxy converts (the gateways' HEAD goes up as HEAD, as nginx's).
            convert_head: false,
            use_stale: self.use_stale.unwrap_or(0),
            lock: self.lock.unwrap_or(false),
            lock_timeout: self.lock_timeout.unwrap_or(DEFAULT_LOCK_TIME),
            lock_age: self.lock_age.unwrap_or(DEFAULT_LOCK_TIME),
            min_uses: self.min_uses.unwrap_or(1),
            background_update: self.background_update.unwrap_or(false),
            max_range_offset: self.max_range_offset.flatten(),
            revalidate: self.revalidate.unwrap_or(false),
            buffer_size,
            ignore_headers,
            temp_path,
        }
    }
}

/// The unmerged cache fields of one module at one level, for the setters.
pub struct CacheSlots<'a> {
    /// `*_cache`
    pub cache: &'a mut Option<Option<CacheSel>>,
    /// `*_cache_key`
    pub key: &'a mut Option<Option<Template>>,
    /// `*_cache_valid`
    pub valid: &'a mut Option<Vec<ValidRule>>,
    /// `*_cache_methods`
    pub methods: &'a mut Option<u8>,
    /// `*_cache_bypass`
    pub bypass: &'a mut Option<Vec<Template>>,
    /// `*_no_cache`
    pub no_cache: &'a mut Option<Vec<Template>>,
    /// `*_cache_use_stale`
    pub use_stale: &'a mut Option<u16>,
    /// `*_cache_lock`
    pub lock: &'a mut Option<bool>,
    /// `*_cache_lock_timeout`
    pub lock_timeout: &'a mut Option<Duration>,
    /// `*_cache_lock_age`
    pub lock_age: &'a mut Option<Duration>,
    /// `*_cache_min_uses`
    pub min_uses: &'a mut Option<u64>,
    /// `*_cache_background_update`
    pub background_update: &'a mut Option<bool>,
    /// `*_cache_max_range_offset`
    pub max_range_offset: &'a mut Option<Option<u64>>,
    /// `*_cache_revalidate`
    pub revalidate: &'a mut Option<bool>,
}

impl<'a> CacheSlots<'a> {
    /// A gateway's fields.
    pub fn of(c: &'a mut CacheConf) -> CacheSlots<'a> {
        CacheSlots {
            cache: &mut c.cache,
            key: &mut c.key,
            valid: &mut c.valid,
            methods: &mut c.methods,
            bypass: &mut c.bypass,
            no_cache: &mut c.no_cache,
            use_stale: &mut c.use_stale,
            lock: &mut c.lock,
            lock_timeout: &mut c.lock_timeout,
            lock_age: &mut c.lock_age,
            min_uses: &mut c.min_uses,
            background_update: &mut c.background_update,
            max_range_offset: &mut c.max_range_offset,
            revalidate: &mut c.revalidate,
        }
    }
}

/// One module's merged cache settings for a request.
#[derive(Clone, Copy, Debug)]
pub struct CacheView<'a> {
    /// The cache (`None`: off).
    pub cache: Option<&'a CacheSel>,
    /// The key (`None`: empty, or the proxy's default with `default_key`).
    pub key: Option<&'a Template>,
    /// Whether a missing key is the proxy's default (the `proxy_pass` URL and URI).
    pub default_key: bool,
    /// `*_cache_valid`
    pub valid: &'a [ValidRule],
    /// `*_cache_methods` bits (GET and HEAD are added)
    pub methods: u8,
    /// `*_cache_bypass`
    pub bypass: &'a [Template],
    /// `*_no_cache`
    pub no_cache: &'a [Template],
    /// `proxy_cache_convert_head` (false for the gateways, which have no such directive)
    pub convert_head: bool,
    /// `*_cache_use_stale` bits ([`USE_STALE_UPDATING`] among them)
    pub use_stale: u16,
    /// `*_cache_lock`
    pub lock: bool,
    /// `*_cache_lock_timeout`
    pub lock_timeout: Duration,
    /// `*_cache_lock_age`
    pub lock_age: Duration,
    /// `*_cache_min_uses`
    pub min_uses: u64,
    /// `*_cache_background_update`: a stale answer's refresh runs in the background
    pub background_update: bool,
    /// `*_cache_max_range_offset`: a range starting further is not cached (`None`: any)
    pub max_range_offset: Option<u64>,
    /// `*_cache_revalidate`: an expired entry is asked for with conditional fields
    pub revalidate: bool,
    /// `*_buffer_size` (the stored head must fit it)
    pub buffer_size: usize,
    /// `*_ignore_headers`
    pub ignore_headers: IgnoreHeaders,
    /// `*_temp_path` (where entries are written with `use_temp_path=on`)
    pub temp_path: &'a std::path::Path,
}

/// The proxy's cache fields at one level, for the setters.
pub fn proxy_slots(l: &mut super::settings::LocRaw) -> CacheSlots<'_> {
    CacheSlots {
        cache: &mut l.proxy_cache,
        key: &mut l.proxy_cache_key,
        valid: &mut l.proxy_cache_valid,
        methods: &mut l.proxy_cache_methods,
        bypass: &mut l.proxy_cache_bypass,
        no_cache: &mut l.proxy_no_cache,
        use_stale: &mut l.proxy_cache_use_stale,
        lock: &mut l.proxy_cache_lock,
        lock_timeout: &mut l.proxy_cache_lock_timeout,
        lock_age: &mut l.proxy_cache_lock_age,
        min_uses: &mut l.proxy_cache_min_uses,
        background_update: &mut l.proxy_cache_background_update,
        max_range_offset: &mut l.proxy_cache_max_range_offset,
        revalidate: &mut l.proxy_cache_revalidate,
    }
}

/// The cache settings of a location's module: `None` the proxy's, else the gateway's.
pub fn view(module: Option<CgiModule>, loc: &LocSettings) -> CacheView<'_> {
    match module {
        None => CacheView {
            cache: loc.proxy_cache.as_ref(),
            key: loc.proxy_cache_key.as_ref(),
            default_key: true,
            valid: &loc.proxy_cache_valid,
            methods: loc.proxy_cache_methods,
            bypass: &loc.proxy_cache_bypass,
            no_cache: &loc.proxy_no_cache,
            convert_head: loc.proxy_cache_convert_head,
            use_stale: loc.proxy_cache_use_stale,
            lock: loc.proxy_cache_lock,
            lock_timeout: loc.proxy_cache_lock_timeout,
            lock_age: loc.proxy_cache_lock_age,
            min_uses: loc.proxy_cache_min_uses,
            background_update: loc.proxy_cache_background_update,
            max_range_offset: loc.proxy_cache_max_range_offset,
            revalidate: loc.proxy_cache_revalidate,
            buffer_size: loc.proxy_buffer_size,
            ignore_headers: loc.proxy_ignore_headers,
            temp_path: &loc.proxy_temp_path,
        },
        Some(m) => {
            let c = m.conf(loc);
            c.cache.view(
                c.buffer_size(),
                c.ignore_headers(),
                c.temp_path.as_deref().unwrap_or(&loc.proxy_temp_path),
            )
        }
    }
}
