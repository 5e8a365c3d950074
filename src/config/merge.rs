//! Merging: each context's unset settings come from its parent (http → server → location →
//! nested location), then defaults fill the rest, as nginx's `merge_*_conf` callbacks do.
//! Defaults that depend on the prefix or on other directives (root, logs) are seeded at http
//! level, so every server and location inherits them like any other setting.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::error::ConfError;
use super::parser::SourceFile;
use super::raw::{HttpRaw, LocationRaw, MainRaw, Shared};
use super::rewrite_ops::Op;
use super::settings::*;
use super::values::full_name;
use crate::log::{AccessLogTarget, LogLevel};

/// `access_log off;` at a level means "no logs here", whatever else that level said.
fn apply_off(loc: &mut LocRaw, off: bool) {
    if off {
        loc.access_log = Some(Vec::new());
    }
}

/// nginx's merge for one level, with the core module's exceptions: `try_files` is never
/// inherited (`add_header` and `error_page` lists, being `Option`s, are replaced whole by
/// a level that has any; `root` and `alias` are tied by their setters).
fn inherit_loc(child: &mut LocRaw, parent: &LocRaw) {
    let try_files = child.try_files.take();
    let proxy_pass = child.proxy_pass.take();
    super::cgi_values::inherit(child, parent);
    let empty_gif = child.empty_gif.take();
    let stub_status = child.stub_status.take();
    let status_handler = child.status_handler.take();
    let health_check = child.health_check.take();
    child.inherit(parent);
    child.health_check = health_check;
    child.try_files = try_files;
    child.proxy_pass = proxy_pass;
    child.empty_gif = empty_gif;
    child.stub_status = stub_status;
    child.status_handler = status_handler;
}

/// Gives each top-level `if` of a location its settings, merged with the location's: nginx
/// makes the block a nested location of the one it is in.
fn attach_if_settings(ops: &mut [Op], if_locs: Vec<LocRaw>, location: &LocRaw) {
    let mut settings = if_locs.into_iter().map(|mut raw| {
        inherit_loc(&mut raw, location);
        // An `if` block is a nameless location that keeps its location's proxy_pass.
        if raw.proxy_pass.is_none() {
            raw.proxy_pass = location.proxy_pass.clone();
        }
        super::cgi_values::inherit_pass(&mut raw, location);
        raw.empty_gif = raw.empty_gif.or(location.empty_gif);
        raw.stub_status = raw.stub_status.or(location.stub_status);
        raw.status_handler = raw.status_handler.or(location.status_handler);
        Rc::new(raw.finish())
    });
    for op in ops {
        if let Op::If { loc, .. } = op {
            *loc = settings.next();
        }
    }
}

fn merge_location(
    mut raw: LocationRaw,
    parent: &LocRaw,
    conf_prefix: &std::path::Path,
    errors: &mut Vec<ConfError>,
) -> LocationConf {
    apply_off(&mut raw.loc, raw.access_log_off);
    inherit_loc(&mut raw.loc, parent);
    // ---- upstream tls (upssl): a `proxy_pass https://` location's TLS configuration ----
    let at = (raw.defined_at.file.as_path(), raw.defined_at.line);
    if let Err(e) = super::set_proxy_ssl::attach(&mut raw.loc, conf_prefix, at) {
        errors.push(e);
    }
    if let Some(uwsgi) = raw.loc.uwsgi.as_mut()
        && let Err(e) = super::upstream_ssl::attach_uwsgi(uwsgi, conf_prefix, at)
    {
        errors.push(e);
    }
    attach_if_settings(&mut raw.rewrite, raw.if_locs, &raw.loc);
    let limit_except = raw
        .limit_except
        .take()
        .map(|l| super::access::merge_limit_except(l, &raw.loc));
    let nested: Vec<LocationConf> = raw
        .nested
        .into_iter()
        .map(|n| merge_location(n, &raw.loc, conf_prefix, errors))
        .collect();
    LocationConf {
        matcher: raw.matcher,
        loc: Rc::new(raw.loc.finish()),
        tree: super::location_tree::LocationTree::build(&nested),
        nested,
        rewrite: raw.rewrite,
        deferred: raw.deferred,
        limit_except,
        defined_at: raw.defined_at,
    }
}

fn merge_http(
    http: HttpRaw,
    shared: &mut Shared,
    main_error_log: &[ErrorLogConf],
) -> Result<HttpConf, ConfError> {
    let mut upstreams = std::mem::take(&mut shared.upstreams);
    super::set_proxy::resolve_pending(&mut upstreams)?;
    let mut top = http.loc;
    apply_off(&mut top, http.access_log_off);
    if top.access_log.is_none() {
        let target = AccessLogTarget {
            path: shared.prefix.join(DEFAULT_ACCESS_LOG_PATH),
        };
        let format = shared.formats[0].clone();
        top.access_log = Some(vec![AccessLogConf::new(target, format)]);
    }
    if top.error_log.is_none() {
        top.error_log = Some(std::rc::Rc::new(main_error_log.to_vec()));
    }
    if top.root.is_none() {
        top.root = Some(shared.prefix.join(DEFAULT_ROOT));
        shared.doc_roots.push(DocRootSite {
            path: shared.prefix.join(DEFAULT_ROOT),
            directive: "root",
            at: None,
        });
    }
    if top.client_body_temp_path.is_none() {
        top.client_body_temp_path = Some(shared.prefix.join(DEFAULT_CLIENT_BODY_TEMP_PATH));
    }
    if top.proxy_temp_path.is_none() {
        top.proxy_temp_path = Some(shared.prefix.join(DEFAULT_PROXY_TEMP_PATH));
    }
    super::cgi_values::seed_http_defaults(&mut top, &shared.prefix);
    let ssl_addrs: Vec<ListenAddr> = shared
        .listens
        .iter()
        .filter(|slot| slot.conf.ssl)
        .map(|slot| slot.conf.addr.clone())
        .collect();
    let mut tls_errors = Vec::new();
    let conf_prefix = shared.conf_prefix.clone();
    let servers: Vec<ServerConf> = http
        .servers
        .into_iter()
        .map(|mut s| {
            s.srv.inherit(&http.srv);
            let tls = super::tls_server::build(&s, &ssl_addrs, shared, &mut tls_errors);
            apply_off(&mut s.loc, s.access_log_off);
            inherit_loc(&mut s.loc, &top);
            let locations: Vec<LocationConf> = s
                .locations
                .into_iter()
                .map(|l| merge_location(l, &s.loc, &conf_prefix, &mut tls_errors))
                .collect();
            ServerConf {
                tree: super::location_tree::LocationTree::build(&locations),
                listens: s.listens,
                names: s.names,
                srv: s.srv.finish(),
                loc: Rc::new(s.loc.finish()),
                locations,
                rewrite: s.rewrite,
                deferred: s.deferred,
                defined_at: s.defined_at,
                tls,
            }
        })
        .collect();
    if let Some(e) = tls_errors.into_iter().next() {
        return Err(e);
    }
    shared.computed.link_set_variables(&shared.user_vars);
    let listens: Vec<ListenConf> = shared
        .listens
        .iter()
        .map(|slot| slot.conf.clone())
        .collect();
    super::set_cache::check_zones(&shared.zones, http.place.as_ref())?;
    let zones = std::mem::take(&mut shared.zones);
    if let Some(z) = zones.iter().find(|z| z.size == 0) {
        return Err(ConfError::bare(format!(
            "zero size shared memory zone \"{}\"",
            z.name
        )));
    }
    super::tls_server::check_addresses(&servers, &listens)?;
    let mut conf = HttpConf {
        zones,
        servers,
        listens,
        user_vars: std::mem::take(&mut shared.user_vars),
        upstreams,
        deferred: http.deferred,
        computed: std::mem::take(&mut shared.computed),
        proxy_transparent: shared.proxy_transparent,
        charsets: std::mem::take(&mut shared.charsets),
        caches: std::mem::take(&mut shared.caches),
        status_zone_blocks: Vec::new(),
        limit_zone_blocks: Vec::new(),
        status_zones: std::mem::take(&mut shared.status_zones),
        health_checks: Vec::new(),
    };
    conf.health_checks = super::health_check::resolve(&conf, &shared.health_matches)?;
    check_charset_maps(&conf)?;
    super::set_upstream::check_all(&conf, http.place.as_ref())?;
    super::set_cgi::check_all(&conf, http.place.as_ref())?;
    Ok(conf)
}

/// Turns the filled contexts into the final [`Config`].
pub(crate) fn build(
    main: MainRaw,
    mut shared: Shared,
    file: PathBuf,
    sources: Vec<SourceFile>,
) -> Result<Config, ConfError> {
    let Some(events) = main.events else {
        return Err(ConfError::bare("no \"events\" section in configuration"));
    };
    let prefix_buf = shared.prefix.clone();
    let prefix: &Path = &prefix_buf;
    let error_log = if main.error_log.is_empty() {
        let path = full_name(prefix, DEFAULT_ERROR_LOG_PATH);
        vec![ErrorLogConf {
            target: ErrorLogTarget::File(path),
            level: LogLevel::Error,
        }]
    } else {
        main.error_log
    };
    let http = main
        .http
        .map(|h| merge_http(h, &mut shared, &error_log))
        .transpose()?;
    let main_conf = MainConf {
        daemon: main.daemon.unwrap_or(true),
        master_process: main.master_process.unwrap_or(true),
        worker_processes: main.worker_processes.unwrap_or(DEFAULT_WORKER_PROCESSES),
        worker_rlimit_nofile: main.worker_rlimit_nofile,
        worker_rlimit_core: main.worker_rlimit_core,
        worker_priority: main.worker_priority,
        worker_cpu_affinity: main.worker_cpu_affinity.unwrap_or_default(),
        // nginx: 0 is no limit, as unset.
        worker_shutdown_timeout: main
            .worker_shutdown_timeout
            .filter(|t| !t.is_zero())
            .or(DEFAULT_WORKER_SHUTDOWN_TIMEOUT),
        working_directory: main.working_directory,
        env: main.env,
        timer_resolution: main.timer_resolution.filter(|t| !t.is_zero()),
        debug_points: main.debug_points,
        lock_file: main
            .lock_file
            .unwrap_or_else(|| full_name(prefix, DEFAULT_LOCK_FILE)),
        user: main.user,
        error_log,
        pid: main
            .pid
            .unwrap_or_else(|| full_name(prefix, DEFAULT_PID_PATH)),
    };
    let events = EventsConf {
        worker_connections: events
            .worker_connections
            .unwrap_or(DEFAULT_WORKER_CONNECTIONS),
        method: events.method,
        multi_accept: events.multi_accept.unwrap_or(false),
        accept_mutex: events.accept_mutex.unwrap_or(false),
        accept_mutex_delay: events
            .accept_mutex_delay
            .unwrap_or(DEFAULT_ACCEPT_MUTEX_DELAY),
        debug_connection: events.debug_connection,
        epoll_events: events.epoll_events.map_or(DEFAULT_EPOLL_EVENTS, |n| {
            usize::try_from(n).unwrap_or(usize::MAX)
        }),
        worker_aio_requests: events
            .worker_aio_requests
            .unwrap_or(DEFAULT_WORKER_AIO_REQUESTS),
    };
    check_main_and_events(&main_conf, &events, http.as_ref())?;
    Ok(Config {
        file,
        prefix: shared.prefix.clone(),
        main: main_conf,
        events,
        http,
        sources,
        warnings: std::mem::take(&mut shared.warnings),
        doc_roots: std::mem::take(&mut shared.doc_roots),
    })
}

/// The checks nginx makes once the whole configuration is read (`ngx_core_module_init_conf`,
/// `ngx_event_init_conf`).
fn check_main_and_events(
    main: &MainConf,
    events: &EventsConf,
    http: Option<&HttpConf>,
) -> Result<(), ConfError> {
    if let CpuAffinity::Masks(masks) = &main.worker_cpu_affinity
        && masks.len() != 1
        && masks.len() != main.worker_processes
    {
        crate::elog!(
            LogLevel::Warn,
            "the number of \"worker_processes\" is not equal to the number of \
             \"worker_cpu_affinity\" masks, using last mask for remaining worker processes"
        );
    }
    // One connection per listening socket, plus nginx's channel to the master.
    let listening = http.map_or(0, |h| h.listens.len());
    if events.worker_connections < listening + 1 {
        return Err(ConfError::bare(format!(
            "{} worker_connections are not enough for {listening} listening sockets",
            events.worker_connections
        )));
    }
    Ok(())
}

/// nginx's check that every location recoding between two named charsets has a map.
fn check_charset_maps(conf: &HttpConf) -> Result<(), ConfError> {
    use super::charset::CharsetSel::Named;
    let pairs = conf
        .servers
        .iter()
        .flat_map(|s| std::iter::once(&s.loc).chain(s.locations.iter().map(|l| &l.loc)))
        .filter_map(|loc| match (&loc.source_charset, &loc.charset) {
            (Named(src), Named(dst)) => Some((*src, *dst)),
            _ => None,
        });
    super::charset::check_recodes(&conf.charsets, pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testutil::{http, load_in};

    #[test]
    fn http_level_defaults_reach_every_context() {
        let (result, prefix) = load_in(
            &http("server { location / { location /a { } } } server { root /srv; }"),
            None,
        );
        let config = result.unwrap_or_else(|e| panic!("{e}"));
        let servers = &config.http.as_ref().unwrap().servers;
        let nested = &servers[0].locations[0].nested[0].loc;
        assert_eq!(nested.root, prefix.join("html"));
        assert_eq!(nested.index[0].is_literal(), Some(&b"index.html"[..]));
        assert_eq!(
            nested.access_log[0].target.path,
            prefix.join("logs/access.log")
        );
        assert_eq!(nested.default_type, "text/plain");
        assert_eq!(nested.client_max_body_size, DEFAULT_CLIENT_MAX_BODY_SIZE);
        assert_eq!(servers[1].loc.root, PathBuf::from("/srv"));
        assert_eq!(
            servers[0].srv.large_client_header_buffers,
            DEFAULT_LARGE_CLIENT_HEADER_BUFFERS
        );
        assert_eq!(
            config.main.error_log[0].target,
            ErrorLogTarget::File(prefix.join("logs/error.log"))
        );
    }
}
