use crate::config::cgi_values::*;
use crate::config::proxy_rest::IgnoreHeaders;
use crate::config::proxy_values::NextUpstream;
use crate::config::testutil::{http, load_err, load_ok};
use crate::config::{HttpConf, LocSettings};

fn http_conf(body: &str) -> HttpConf {
    load_ok(&http(body)).http.expect("http block")
}

fn first_location(conf: &HttpConf) -> &LocSettings {
    &conf.servers[0].locations[0].loc
}

fn names(params: &CgiParams) -> Vec<String> {
    params
        .list
        .iter()
        .map(|p| String::from_utf8_lossy(&p.name).into_owned())
        .collect()
}

#[test]
fn settings_merge_field_by_field_and_pass_stays_put() {
    let conf = http_conf(
        "fastcgi_read_timeout 5s; fastcgi_param A a; fastcgi_param HTTP_X \"\";\n\
         server { fastcgi_keep_conn on;\n\
           location / { fastcgi_pass 127.0.0.1:9000; fastcgi_param B b if_not_empty;\n\
             fastcgi_buffers 4 8k; location /n/ { } }\n\
           location /s/ { scgi_pass unix:/tmp/s.sock; uwsgi_modifier1 30; } }",
    );
    let root = first_location(&conf);
    let f = &root.fastcgi;
    assert_eq!(f.read_timeout(), std::time::Duration::from_secs(5));
    assert!(f.keep_conn());
    assert_eq!(f.buffers(), (4, 8192));
    assert_eq!(f.busy_buffers_size(), 16384);
    let params = f.params.as_deref().expect("params");
    assert_eq!(names(params), ["B"], "a level's list replaces its parent's");
    assert!(params.list[0].if_not_empty);
    assert!(matches!(
        f.pass,
        Some(CgiPass {
            target: CgiTarget::Group(_),
            ..
        })
    ));
    // Nested locations keep the settings but not the pass.
    let nested = &conf.servers[0].locations[0].nested[0].loc.fastcgi;
    assert!(nested.pass.is_none());
    assert_eq!(nested.buffers(), (4, 8192));
    let s = &conf.servers[0].locations[1].loc;
    let http_params = s.fastcgi.params.as_deref().expect("inherited");
    assert_eq!(names(http_params), ["A"]);
    assert!(http_params.replaces_header(b"x"));
    assert!(http_params.replaces_header(b"X"));
    assert!(!http_params.replaces_header(b"a"));
    assert!(matches!(
        s.scgi.pass,
        Some(CgiPass {
            target: CgiTarget::Group(g),
            ..
        }) if conf.upstreams[g].name == "unix:/tmp/s.sock"
    ));
    assert_eq!(s.uwsgi.modifier1, Some(30));
    assert!(
        s.fastcgi
            .temp_path
            .as_ref()
            .is_some_and(|p| p.ends_with("fastcgi_temp"))
    );
    assert!(
        s.uwsgi
            .temp_path
            .as_ref()
            .is_some_and(|p| p.ends_with("uwsgi_temp"))
    );
}

#[test]
fn an_if_keeps_its_location_s_pass() {
    let conf = http_conf(
        "server { location / { fastcgi_pass 127.0.0.1:9000;\n\
         if ($arg_x) { set $a 1; } } }",
    );
    let op = conf.servers[0].locations[0]
        .rewrite
        .iter()
        .find_map(|op| match op {
            crate::config::rewrite_ops::Op::If { loc: Some(loc), .. } => Some(loc.clone()),
            _ => None,
        })
        .expect("if settings");
    assert!(op.fastcgi.pass.is_some());
}

#[test]
fn next_upstream_takes_the_module_s_values() {
    let conf = http_conf("fastcgi_next_upstream error http_503 non_idempotent;");
    let f = &conf.servers.first().map(|s| s.loc.clone());
    let _ = f;
    let conf = http_conf(
        "server { location / { uwsgi_next_upstream timeout off; fastcgi_next_upstream http_500; } }",
    );
    let loc = first_location(&conf);
    assert_eq!(loc.uwsgi.next_upstream(), NextUpstream(0));
    assert!(loc.fastcgi.next_upstream().has(NextUpstream::HTTP_500));
    assert_eq!(
        load_err(&http("fastcgi_next_upstream http_502;")),
        "invalid value \"http_502\""
    );
}

#[test]
fn errors_are_nginx_words() {
    let e = |body: &str| load_err(&http(body));
    assert_eq!(
        e("server { location / { fastcgi_pass 127.0.0.1:1; fastcgi_pass 127.0.0.1:2; } }"),
        "\"fastcgi_pass\" directive is duplicate"
    );
    assert_eq!(
        e("server { location / { fastcgi_pass 127.0.0.1; } }"),
        "no port in upstream \"127.0.0.1\""
    );
    assert_eq!(
        e("server { location / { fastcgi_pass http://127.0.0.1:9000; } }"),
        "invalid host in upstream \"http://127.0.0.1:9000\""
    );
    assert_eq!(
        e("server { location / { uwsgi_pass unix:; } }"),
        "no path in the unix domain socket in upstream \"unix:\""
    );
    assert_eq!(
        e("server { location / { uwsgi_pass suwsgi://127.0.0.1:1; uwsgi_ssl_verify on; } }"),
        "no uwsgi_ssl_trusted_certificate for uwsgi_ssl_verify"
    );
    assert_eq!(
        e("fastcgi_buffers 1 4k; server { }"),
        "there must be at least 2 \"fastcgi_buffers\""
    );
    assert!(
        e("scgi_busy_buffers_size 64k; server { }")
            .starts_with("\"scgi_busy_buffers_size\" must be less")
    );
    assert_eq!(e("fastcgi_param A b c;"), "invalid parameter \"c\"");
    assert_eq!(e("uwsgi_modifier1 256;"), "value must be between 0 and 255");
    assert_eq!(
        e("fastcgi_split_path_info ^(.+)$;"),
        "pattern \"^(.+)$\" must have 2 captures"
    );
    assert_eq!(e("fastcgi_ignore_headers Foo;"), "invalid value \"Foo\"");
    assert_eq!(e("fastcgi_bind nowhere;"), "invalid address \"nowhere\"");
    assert_eq!(
        e("fastcgi_cache_revalidate on; fastcgi_cache_revalidate on;"),
        "\"fastcgi_cache_revalidate\" directive is duplicate"
    );
    assert_eq!(
        e("fastcgi_cache_lock maybe;"),
        "invalid value \"maybe\" in \"fastcgi_cache_lock\" directive, it must be \"on\" or \"off\""
    );
    assert!(e("fastcgi_pass 127.0.0.1:1;").contains("is not allowed here"));
    load_ok(&http(
        "fastcgi_ignore_headers X-Accel-Redirect expires; fastcgi_bind 127.0.0.1 transparent;\n\
         uwsgi_bind off; scgi_bind $remote_addr; fastcgi_send_lowat 0;",
    ));
    // As the proxy module's: only `*_store off`; the rest of these parsed as nginx does.
    assert!(e("fastcgi_store on;").contains("\"fastcgi_store\" directive is not supported"));
    assert_eq!(e("uwsgi_store_access user:x;"), "invalid value \"user:x\"");
    assert_eq!(
        e("scgi_force_ranges maybe;"),
        "invalid value \"maybe\" in \"scgi_force_ranges\" directive, it must be \"on\" or \"off\""
    );
    assert!(e("uwsgi_ssl_verify maybe;").contains("it must be \"on\" or \"off\""));
    assert!(e("uwsgi_ssl_conf_command A B;").contains("rustls"));
    assert_eq!(e("uwsgi_ssl_protocols SSLv9;"), "invalid value \"SSLv9\"");
    let conf = http_conf(
        "fastcgi_store off; uwsgi_store_access user:rw group:r all:r;\n\
         fastcgi_limit_rate 20k; scgi_ignore_client_abort on;\n\
         fastcgi_ignore_headers X-Accel-Buffering; fastcgi_ignore_headers Vary;\n\
         server { location / { fastcgi_pass 127.0.0.1:9000; } }",
    );
    let loc = first_location(&conf);
    let fcgi = CgiModule::FastCgi.conf(loc);
    assert_eq!(fcgi.limit_rate(), 20 * 1024);
    // A level's *_ignore_headers add up, as nginx's bitmask slot.
    assert!(fcgi.ignore_headers().has(IgnoreHeaders::XA_BUFFERING));
    assert!(fcgi.ignore_headers().has(IgnoreHeaders::VARY));
    assert!(CgiModule::Scgi.conf(loc).ignore_client_abort());
    assert_eq!(CgiModule::Uwsgi.conf(loc).store_access, Some(0o644));
}
