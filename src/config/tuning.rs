//! nginx's internal tuning knobs of the http core module: hash and pool sizes and I/O buffer
//! sizes that shape nginx's memory layout but mean nothing to Portico (its server names,
//! types and variables are looked up in its own structures; its buffers come from the
//! worker's pool). Each is parsed and range-checked exactly as nginx checks it, with
//! nginx's default as a named constant, so a configuration nginx refuses is refused here
//! too, and one nginx accepts loads.
//!
//! Where Portico can tell, the hashes nginx would build are checked the way
//! `ngx_hash_init` builds them (`ngx_hash.c`): the server names of each listen address
//! (`server_names_hash`), the extensions of each `types` block (`types_hash`), with
//! nginx's errors (`could not build server_names_hash, you should increase
//! server_names_hash_bucket_size: 64`) and warnings (`could not build optimal ...`). The
//! variables hash holds every variable of every module nginx was built with, which Portico
//! cannot know: only the checks that do not depend on its keys are made for it.

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{HttpRaw, Level, ListenSlot, LocationRaw, Shared};
use super::settings::{LocRaw, ServerName};
use super::values::{parse_number, parse_size, set_once, size_arg};

/// nginx's `ngx_cacheline_size` on the machines Portico runs on (x86-64, arm64): hash
/// buckets are aligned to it.
pub const CACHE_LINE_SIZE: u64 = 64;
/// `variables_hash_max_size 1024;`
pub const DEFAULT_VARIABLES_HASH_MAX_SIZE: u64 = 1024;
/// `variables_hash_bucket_size 64;`
pub const DEFAULT_VARIABLES_HASH_BUCKET_SIZE: u64 = 64;
/// `server_names_hash_max_size 512;`
pub const DEFAULT_SERVER_NAMES_HASH_MAX_SIZE: u64 = 512;
/// `server_names_hash_bucket_size` defaults to the cache line size.
pub const DEFAULT_SERVER_NAMES_HASH_BUCKET_SIZE: u64 = CACHE_LINE_SIZE;
/// `types_hash_max_size 1024;`
pub const DEFAULT_TYPES_HASH_MAX_SIZE: u64 = 1024;
/// `types_hash_bucket_size 64;`
pub const DEFAULT_TYPES_HASH_BUCKET_SIZE: u64 = 64;
/// `connection_pool_size 512;` (`64 * sizeof(void *)` on 64-bit systems)
pub const DEFAULT_CONNECTION_POOL_SIZE: u64 = 64 * 8;
/// `request_pool_size 4k;`
pub const DEFAULT_REQUEST_POOL_SIZE: u64 = 4096;
/// `output_buffers 2 32k;`
pub const DEFAULT_OUTPUT_BUFFERS: (u64, u64) = (2, 32 * 1024);
/// `postpone_output 1460;`
pub const DEFAULT_POSTPONE_OUTPUT: u64 = 1460;
/// `subrequest_output_buffer_size 4k;` (one page)
pub const DEFAULT_SUBREQUEST_OUTPUT_BUFFER_SIZE: u64 = 4096;
/// `read_ahead 0;`
pub const DEFAULT_READ_AHEAD: u64 = 0;
/// `directio_alignment 512;`
pub const DEFAULT_DIRECTIO_ALIGNMENT: u64 = 512;
/// `send_lowat 0;`
pub const DEFAULT_SEND_LOWAT: u64 = 0;
/// nginx's `NGX_MIN_POOL_SIZE` on 64-bit systems: a pool header and two large-block
/// headers, aligned to [`POOL_ALIGNMENT`].
pub const MIN_POOL_SIZE: u64 = 112;
/// nginx's `NGX_POOL_ALIGNMENT`.
pub const POOL_ALIGNMENT: u64 = 16;

/// The knobs of the `http` block itself (nginx's `ngx_http_core_main_conf_t`).
#[derive(Debug, Default)]
pub(crate) struct HttpKnobs {
    pub variables_hash_max_size: Option<u64>,
    pub variables_hash_bucket_size: Option<u64>,
    pub server_names_hash_max_size: Option<u64>,
    pub server_names_hash_bucket_size: Option<u64>,
}

fn http_knobs<'l>(l: &'l mut Level<'_>, d: &Directive) -> Result<&'l mut HttpKnobs, ConfError> {
    match l {
        Level::Http(h) => Ok(&mut h.knobs),
        _ => Err(ConfError::at(
            d,
            format!("\"{}\" directive is not allowed here", d.name),
        )),
    }
}

/// `ngx_conf_set_num_slot`'s value.
fn number(d: &Directive) -> Result<u64, ConfError> {
    parse_number(d.arg(0)).ok_or_else(|| ConfError::directive(d, "invalid number"))
}

/// `ngx_http_core_pool_size`: the post handler of the two pool sizes.
fn pool_size(d: &Directive) -> Result<u64, ConfError> {
    let size = size_arg(d, 0)?;
    if size < MIN_POOL_SIZE {
        let message = format!("the pool size must be no less than {MIN_POOL_SIZE}");
        return Err(ConfError::at(d, message));
    }
    if size % POOL_ALIGNMENT != 0 {
        let message = format!("the pool size must be a multiple of {POOL_ALIGNMENT}");
        return Err(ConfError::at(d, message));
    }
    Ok(size)
}

macro_rules! http_knob_setters {
    ($($(#[$meta:meta])* $name:ident;)*) => {$(
        $(#[$meta])*
        pub(crate) fn $name(l: &mut Level<'_>, d: &Directive, _: &mut Shared) -> Result<(), ConfError> {
            set_once(&mut http_knobs(l, d)?.$name, d, number)
        }
    )*};
}

http_knob_setters! {
    /// `variables_hash_max_size N;`
    variables_hash_max_size;
    /// `variables_hash_bucket_size N;`
    variables_hash_bucket_size;
    /// `server_names_hash_max_size N;`
    server_names_hash_max_size;
    /// `server_names_hash_bucket_size N;`
    server_names_hash_bucket_size;
}

super::values::simple_setters! {
    /// `connection_pool_size SIZE;`
    connection_pool_size: srv.connection_pool_size = pool_size;
    /// `request_pool_size SIZE;`
    request_pool_size: srv.request_pool_size = pool_size;
    /// `types_hash_max_size N;`
    types_hash_max_size: loc.types_hash_max_size = number;
    /// `types_hash_bucket_size N;`
    types_hash_bucket_size: loc.types_hash_bucket_size = number;
    /// `postpone_output SIZE;`
    postpone_output: loc.postpone_output = |d| size_arg(d, 0);
    /// `subrequest_output_buffer_size SIZE;`
    subrequest_output_buffer_size: loc.subrequest_output_buffer_size = |d| size_arg(d, 0);
    /// `read_ahead SIZE;`
    read_ahead: loc.read_ahead = |d| size_arg(d, 0);
    /// `directio_alignment SIZE;`
    directio_alignment: loc.directio_alignment = |d| super::values::offset_arg(d, 0);
    /// `output_buffers NUMBER SIZE;`
    output_buffers: loc.output_buffers = bufs;
}

/// `ngx_conf_set_bufs_slot`: a number and a size, neither zero.
fn bufs(d: &Directive) -> Result<(u64, u64), ConfError> {
    let number = parse_number(d.arg(0)).filter(|&n| n > 0);
    let size = parse_size(d.arg(1)).filter(|&n| n > 0);
    match (number, size) {
        (Some(n), Some(s)) => Ok((n, s)),
        _ => Err(ConfError::directive(d, "invalid value")),
    }
}

/// `send_lowat SIZE;`: Linux cannot change `SO_SNDLOWAT`, and nginx built for Linux says so
/// with a warning and ignores the value; so does Portico.
pub(crate) fn send_lowat(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.send_lowat, d, |d| {
        size_arg(d, 0)?;
        Ok(0)
    })?;
    shared
        .warnings
        .push(ConfError::at(d, "\"send_lowat\" is not supported, ignored"));
    Ok(())
}

// ---- the checks of ngx_hash_init ----

/// nginx's `ngx_align`.
fn align(n: u64, to: u64) -> u64 {
    n.div_ceil(to) * to
}

/// nginx's `ngx_hash_key` (`ngx_hash_key_lc` with `lowercase`).
fn hash_key(key: &[u8], lowercase: bool) -> u64 {
    key.iter().fold(0u64, |k, &c| {
        let c = if lowercase { c.to_ascii_lowercase() } else { c };
        k.wrapping_mul(31).wrapping_add(u64::from(c))
    })
}

/// `NGX_HASH_ELT_SIZE`: an element's pointer and its name (with a length and padding).
fn elt_size(len: usize) -> u64 {
    8 + align(len as u64 + 2, 8)
}

/// One key as `ngx_hash_init` sees it: its hash and the length of its name.
#[derive(Clone, Copy, Debug)]
struct Key {
    hash: u64,
    len: usize,
}

/// What `ngx_hash_init` says about keys in a hash of `max_size` buckets of `bucket_size`
/// bytes: `Err` for its `emerg`s, `Ok(Some)` for its warning, `Ok(None)` when it builds.
fn hash_init(
    name: &str,
    keys: &[Key],
    max_size: u64,
    bucket_size: u64,
) -> Result<Option<String>, String> {
    let increase_max =
        || format!("could not build {name}, you should increase {name}_max_size: {max_size}");
    if max_size == 0 {
        return Err(increase_max());
    }
    if bucket_size > 65536 - CACHE_LINE_SIZE {
        return Err(format!(
            "could not build {name}, too large {name}_bucket_size: {bucket_size}"
        ));
    }
    if keys.iter().any(|k| bucket_size < elt_size(k.len) + 8) {
        return Err(format!(
            "could not build {name}, you should increase {name}_bucket_size: {bucket_size}"
        ));
    }
    let room = bucket_size - 8;
    let nelts = keys.len() as u64;
    let mut start = (nelts / (room / 16)).max(1);
    if max_size > 10_000 && nelts > 0 && max_size / nelts < 100 {
        start = max_size - 1000;
    }
    let mut test = vec![0u64; max_size.min(1 << 20) as usize];
    let fits = |size: u64, test: &mut Vec<u64>| {
        test[..size as usize].fill(0);
        keys.iter().all(|k| {
            let slot = &mut test[(k.hash % size) as usize];
            *slot += elt_size(k.len);
            *slot <= room
        })
    };
    let mut warning = None;
    let mut size = start;
    while size <= max_size && size as usize <= test.len() && !fits(size, &mut test) {
        size += 1;
    }
    if size > max_size || size as usize > test.len() {
        size = max_size.min(test.len() as u64);
        warning = Some(format!(
            "could not build optimal {name}, you should increase either {name}_max_size: \
             {max_size} or {name}_bucket_size: {bucket_size}; ignoring {name}_bucket_size"
        ));
    }
    // With the bucket size ignored, a bucket may still not outgrow 64k.
    test[..size as usize].fill(8);
    for k in keys {
        let slot = &mut test[(k.hash % size) as usize];
        *slot += elt_size(k.len);
        if *slot > 65536 - CACHE_LINE_SIZE {
            return Err(increase_max());
        }
    }
    Ok(warning)
}

/// Runs [`hash_init`] and files its outcome: an error ends the load, a warning is kept.
fn build(
    name: &str,
    keys: &[Key],
    max_size: u64,
    bucket_size: u64,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    match hash_init(name, keys, max_size, bucket_size) {
        Ok(None) => Ok(()),
        Ok(Some(warning)) => {
            shared.warnings.push(ConfError::bare(warning));
            Ok(())
        }
        Err(message) => Err(ConfError::bare(message)),
    }
}

/// The checks nginx makes once the `http` block is read (`d`): the pool sizes against
/// `large_client_header_buffers` per server (reported at the block, as nginx reports its
/// merge errors), then the hashes.
pub(crate) fn check_http(
    http: &HttpRaw,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    for server in &http.servers {
        let pool = server
            .srv
            .connection_pool_size
            .or(http.srv.connection_pool_size)
            .unwrap_or(DEFAULT_CONNECTION_POOL_SIZE);
        let (_, large) = server
            .srv
            .large_client_header_buffers
            .or(http.srv.large_client_header_buffers)
            .unwrap_or(super::settings::DEFAULT_LARGE_CLIENT_HEADER_BUFFERS);
        if (large as u64) < pool {
            let message = "the \"large_client_header_buffers\" size must be equal to or greater \
                           than \"connection_pool_size\"";
            return Err(ConfError::at(d, message));
        }
    }
    let knobs = &http.knobs;
    let max = knobs
        .server_names_hash_max_size
        .unwrap_or(DEFAULT_SERVER_NAMES_HASH_MAX_SIZE);
    let bucket = align(
        knobs
            .server_names_hash_bucket_size
            .unwrap_or(DEFAULT_SERVER_NAMES_HASH_BUCKET_SIZE),
        CACHE_LINE_SIZE,
    );
    let listens = std::mem::take(&mut shared.listens);
    let checked = check_server_names(&listens, http, max, bucket, shared);
    shared.listens = listens;
    checked?;
    if !http.servers.is_empty() {
        check_types(http, shared)?;
    }
    let max = knobs
        .variables_hash_max_size
        .unwrap_or(DEFAULT_VARIABLES_HASH_MAX_SIZE);
    let bucket = align(
        knobs
            .variables_hash_bucket_size
            .unwrap_or(DEFAULT_VARIABLES_HASH_BUCKET_SIZE),
        CACHE_LINE_SIZE,
    );
    // The variables hash's keys are nginx's own variable names, which Portico cannot list
    // as nginx has them: only the checks that need no keys.
    build("variables_hash", &[], max, bucket, shared)
}

/// `ngx_http_server_names` for each address more than one server listens on: exact names
/// (and `.x` as `x`) in one hash, each label of a wildcard in the wildcard hashes.
fn check_server_names(
    listens: &[ListenSlot],
    http: &HttpRaw,
    max_size: u64,
    bucket_size: u64,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    for slot in listens.iter().filter(|s| s.servers.len() > 1) {
        let mut exact: Vec<&str> = Vec::new();
        let mut labels: Vec<&str> = Vec::new();
        for server in slot.servers.iter().filter_map(|&i| http.servers.get(i)) {
            for name in &server.names {
                let (exact_name, wildcard) = match name {
                    ServerName::Exact(n) => (Some(n.as_str()), None),
                    ServerName::WildcardFront(n, true) => (n.get(1..), Some(n.as_str())),
                    ServerName::WildcardFront(n, false) | ServerName::WildcardBack(n) => {
                        (None, Some(n.as_str()))
                    }
                    ServerName::Regex(_) => (None, None),
                };
                if let Some(n) = exact_name {
                    if exact.contains(&n) {
                        shared.warnings.push(ConfError::bare(format!(
                            "conflicting server name \"{n}\" on {}, ignored",
                            slot.conf.addr
                        )));
                    } else {
                        exact.push(n);
                    }
                }
                labels.extend(wildcard.into_iter().flat_map(|w| w.split('.')));
            }
        }
        let keys: Vec<Key> = exact
            .iter()
            .map(|n| Key {
                hash: hash_key(n.as_bytes(), false),
                len: n.len(),
            })
            .collect();
        if !keys.is_empty() {
            build("server_names_hash", &keys, max_size, bucket_size, shared)?;
        }
        if labels.iter().any(|l| bucket_size < elt_size(l.len()) + 8) {
            return Err(ConfError::bare(format!(
                "could not build server_names_hash, you should increase \
                 server_names_hash_bucket_size: {bucket_size}"
            )));
        }
    }
    Ok(())
}

/// The sizes of the types hash in effect at a level.
#[derive(Clone, Copy)]
struct TypesSizes {
    max: u64,
    bucket: u64,
}

impl TypesSizes {
    fn at(self, loc: &LocRaw) -> TypesSizes {
        TypesSizes {
            max: loc.types_hash_max_size.unwrap_or(self.max),
            bucket: loc.types_hash_bucket_size.unwrap_or(self.bucket),
        }
    }
}

/// One `types_hash` per `types` block (nginx's default three types where the http block
/// has none), built with the sizes in effect where the block is.
fn check_types(http: &HttpRaw, shared: &mut Shared) -> Result<(), ConfError> {
    let top = TypesSizes {
        max: DEFAULT_TYPES_HASH_MAX_SIZE,
        bucket: DEFAULT_TYPES_HASH_BUCKET_SIZE,
    }
    .at(&http.loc);
    if http.loc.types.is_none() {
        let defaults = super::settings::default_mime_types();
        types_hash(defaults.keys(), top, shared)?;
    }
    check_types_at(&http.loc, top, shared)?;
    for server in &http.servers {
        let sizes = top.at(&server.loc);
        check_types_at(&server.loc, sizes, shared)?;
        for location in &server.locations {
            check_location_types(location, sizes, shared)?;
        }
    }
    Ok(())
}

fn check_location_types(
    location: &LocationRaw,
    parent: TypesSizes,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let sizes = parent.at(&location.loc);
    check_types_at(&location.loc, sizes, shared)?;
    for nested in &location.nested {
        check_location_types(nested, sizes, shared)?;
    }
    Ok(())
}

fn check_types_at(loc: &LocRaw, sizes: TypesSizes, shared: &mut Shared) -> Result<(), ConfError> {
    match &loc.types {
        Some(types) => types_hash(types.keys(), sizes, shared),
        None => Ok(()),
    }
}

fn types_hash<'k>(
    extensions: impl Iterator<Item = &'k String>,
    sizes: TypesSizes,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let keys: Vec<Key> = extensions
        .map(|e| Key {
            hash: hash_key(e.as_bytes(), true),
            len: e.len(),
        })
        .collect();
    let bucket = align(sizes.bucket, CACHE_LINE_SIZE);
    build("types_hash", &keys, sizes.max, bucket, shared)
}

#[cfg(test)]
mod tests;
