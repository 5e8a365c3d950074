use std::time::Duration;

use crate::config::proxy_rest::*;
use crate::config::proxy_values::*;
use crate::config::testutil::{http, load_err, load_ok};
use crate::config::{HttpConf, LocSettings};

fn http_conf(body: &str) -> HttpConf {
    load_ok(&http(body)).http.expect("http block")
}

fn loc(conf: &HttpConf, i: usize) -> &LocSettings {
    &conf.servers[0].locations[i].loc
}

#[test]
fn request_shaping_directives_and_inheritance() {
    let conf = http_conf(
        "proxy_method POST; proxy_pass_request_headers off;\n\
         server { proxy_set_body \"a=$arg_a\"; proxy_ignore_headers X-Accel-Redirect;\n\
           location / { proxy_pass http://127.0.0.1:1; proxy_pass_request_body off;\n\
             proxy_ignore_headers x-accel-buffering Expires; }\n\
           location /b/ { proxy_method $arg_m; proxy_socket_keepalive on; proxy_force_ranges on;\n\
             proxy_ignore_client_abort on; proxy_limit_rate 8k; proxy_send_lowat 0;\n\
             proxy_store off; proxy_store_access user:rw group:rw all:r;\n\
             proxy_headers_hash_max_size 1024; proxy_headers_hash_bucket_size 100; } }",
    );
    let root = loc(&conf, 0);
    assert_eq!(
        root.proxy_method.as_ref().and_then(|t| t.is_literal()),
        Some(&b"POST"[..])
    );
    assert!(root.proxy_set_body.is_some());
    assert!(!root.proxy_pass_request_headers && !root.proxy_pass_request_body);
    // A level's bits replace its parent's.
    assert_eq!(
        root.proxy_ignore_headers,
        IgnoreHeaders(IgnoreHeaders::XA_BUFFERING | IgnoreHeaders::EXPIRES)
    );
    let b = loc(&conf, 1);
    assert!(
        b.proxy_method
            .as_ref()
            .is_some_and(|t| t.is_literal().is_none())
    );
    assert!(b.proxy_pass_request_body);
    assert_eq!(
        b.proxy_ignore_headers,
        IgnoreHeaders(IgnoreHeaders::XA_REDIRECT)
    );
    assert!(b.proxy_socket_keepalive && b.proxy_force_ranges && b.proxy_ignore_client_abort);
    assert_eq!(b.proxy_limit_rate, 8192);
    assert_eq!(b.proxy_store_access, 0o664);
    assert_eq!(
        (
            b.proxy_headers_hash_max_size,
            b.proxy_headers_hash_bucket_size
        ),
        (1024, 128)
    );
    let defaults = &conf.servers[0].loc;
    assert_eq!(defaults.proxy_store_access, DEFAULT_PROXY_STORE_ACCESS);
    assert!(matches!(defaults.proxy_bind, ProxyBind::Off));
}

#[test]
fn cookie_rewrites_and_flags() {
    let conf = http_conf(
        "proxy_cookie_domain .example.com .example.org;\n\
         proxy_cookie_domain ~\\.([a-z]+\\.)?local$ $1example.net;\n\
         server { location / { proxy_cookie_path /one/ /two/; proxy_cookie_path ~*^/A(.*) /b$1;\n\
             proxy_cookie_flags one secure httponly samesite=lax; proxy_cookie_flags ~^t nosecure; }\n\
           location /off/ { proxy_cookie_domain off; proxy_cookie_flags off; } }",
    );
    let l = loc(&conf, 0);
    let domains = l.proxy_cookie_domain.as_ref().expect("inherited");
    match &domains[0] {
        RedirectRule::Replace { from, to } => {
            assert_eq!(from.is_literal(), Some(&b"example.com"[..]));
            assert_eq!(to.is_literal(), Some(&b"example.org"[..]));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&domains[1], RedirectRule::Regex { re, .. } if matches!(re.is_match(b"A.B.LOCAL"), Ok(true)))
    );
    let paths = l.proxy_cookie_path.as_ref().expect("set");
    assert!(
        matches!(&paths[1], RedirectRule::Regex { re, .. } if matches!(re.is_match(b"/abc"), Ok(true)))
    );
    let flags = l.proxy_cookie_flags.as_ref().expect("set");
    assert_eq!(flags.len(), 2);
    assert_eq!(flags[0].flags.len(), 3);
    assert!(
        matches!(&flags[1].cookie, CookieName::Regex(re) if matches!(re.is_match(b"T1"), Ok(true)))
    );
    let off = loc(&conf, 1);
    assert!(off.proxy_cookie_domain.is_none() && off.proxy_cookie_flags.is_none());
    assert!(off.proxy_cookie_path.is_none());
}

#[test]
fn bind_forms() {
    let conf = http_conf(
        "server { location / { proxy_bind 127.0.0.2; }\n\
           location /p/ { proxy_bind 127.0.0.2:$remote_port transparent; }\n\
           location /6/ { proxy_bind [::1]:8000; } }",
    );
    assert!(matches!(
        loc(&conf, 0).proxy_bind,
        ProxyBind::Fixed { addr, transparent: false } if addr.to_string() == "127.0.0.2:0"
    ));
    assert!(matches!(
        loc(&conf, 1).proxy_bind,
        ProxyBind::Dynamic {
            transparent: true,
            ..
        }
    ));
    assert!(matches!(
        loc(&conf, 2).proxy_bind,
        ProxyBind::Fixed { addr, .. } if addr.to_string() == "[::1]:8000"
    ));
    assert_eq!(parse_addr_port("::1").map(|a| a.port()), Some(0));
    assert_eq!(parse_addr_port("10.0.0.1:0"), None);
    assert_eq!(parse_addr_port("[::1]"), None);
    assert_eq!(parse_addr_port("localhost"), None);
}

#[test]
fn upstream_random_keepalive_time_and_unix_servers() {
    let conf = http_conf(
        "upstream r { random two least_conn; server 127.0.0.1:81 max_conns=2; keepalive_time 30s; }\n\
         upstream s { random; server unix:/tmp/app.sock weight=2; }\n\
         server { location /u/ { proxy_pass http://unix:/tmp/x.sock:/app/; }\n\
           location /v/ { proxy_pass http://unix:/tmp/x.sock; } }",
    );
    let r = &conf.upstreams[0];
    assert!(matches!(r.balance, Balance::Random { two: true }));
    assert_eq!(r.keepalive_time, Some(Duration::from_secs(30)));
    let s = &conf.upstreams[1];
    assert_eq!(s.servers[0].addr.to_string(), "unix:/tmp/app.sock");
    let pass = |i: usize| loc(&conf, i).proxy_pass.as_ref().expect("proxy_pass");
    match &pass(0).target {
        ProxyTarget::Fixed {
            group, host, uri, ..
        } => {
            assert_eq!(&**host, "localhost");
            assert_eq!(uri.as_deref(), Some(&b"/app/"[..]));
            assert_eq!(
                conf.upstreams[*group].servers[0].addr.to_string(),
                "unix:/tmp/x.sock"
            );
        }
        other => panic!("{other:?}"),
    }
    // One implicit group per socket.
    assert!(matches!(
        (&pass(0).target, &pass(1).target),
        (ProxyTarget::Fixed { group: a, .. }, ProxyTarget::Fixed { group: b, uri: None, .. }) if a == b
    ));
}

#[test]
fn default_proxy_redirect_is_made_from_the_url_as_written() {
    use crate::config::proxy_values::Redirect;
    let conf = http_conf(
        "server { location /one/ { proxy_pass http://127.0.0.1:8081/two/; }\n\
           location /plain/ { proxy_pass http://LocalHost:8081; }\n\
           location ~ ^/re { proxy_pass http://127.0.0.1:8081; } }",
    );
    let rule = |i: usize| {
        let pass = loc(&conf, i).proxy_pass.as_ref().expect("proxy_pass");
        match pass.default_redirect.as_deref() {
            Some([Redirect::Prefix { from, to }]) => (
                String::from_utf8_lossy(from).into_owned(),
                String::from_utf8_lossy(to).into_owned(),
            ),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        rule(0),
        ("http://127.0.0.1:8081/two/".into(), "/one/".into())
    );
    assert_eq!(rule(1), ("http://LocalHost:8081/".into(), "/".into()));
    assert_eq!(rule(2), ("http://127.0.0.1:8081/".into(), "/".into()));
}

#[test]
fn the_upstream_head_is_kept_only_for_configurations_that_read_it() {
    assert!(
        !http_conf("log_format x $upstream_addr;")
            .user_vars
            .reads_upstream_head()
    );
    assert!(
        http_conf("log_format x $upstream_http_x_len;")
            .user_vars
            .reads_upstream_head()
    );
    assert!(
        http_conf("server { if ($upstream_cookie_sid) { return 204; } }")
            .user_vars
            .reads_upstream_head()
    );
}

#[test]
fn errors_are_nginx_words() {
    let e = |body: &str| load_err(&http(body));
    assert_eq!(
        e("server { location / { proxy_method GET; proxy_method POST; } }"),
        "\"proxy_method\" directive is duplicate"
    );
    assert_eq!(
        e("proxy_cookie_domain off; proxy_cookie_domain a b;"),
        "\"proxy_cookie_domain\" directive is duplicate"
    );
    assert_eq!(
        e("proxy_cookie_path a b; proxy_cookie_path off;"),
        "\"proxy_cookie_path\" directive is duplicate"
    );
    assert_eq!(
        e("log_format x $upstream_cache_etag;"),
        "unknown \"upstream_cache_etag\" variable"
    );
    assert_eq!(
        e("log_format x $proxy_anything;"),
        "unknown \"proxy_anything\" variable"
    );
    assert_eq!(e("proxy_cookie_flags on;"), "invalid parameter \"on\"");
    assert_eq!(
        e("proxy_ignore_headers X-Accel-Nothing;"),
        "invalid value \"X-Accel-Nothing\""
    );
    assert_eq!(e("proxy_bind localhost;"), "invalid address \"localhost\"");
    assert_eq!(
        e("proxy_bind 127.0.0.1 sometimes;"),
        "invalid parameter \"sometimes\""
    );
    assert_eq!(
        e("proxy_headers_hash_max_size 0;"),
        "could not build proxy_headers_hash, you should increase proxy_headers_hash_max_size: 0"
    );
    assert_eq!(
        e("proxy_headers_hash_bucket_size 70000;"),
        "could not build proxy_headers_hash, too large proxy_headers_hash_bucket_size: 70016"
    );
    assert_eq!(
        e("proxy_headers_hash_bucket_size x;"),
        "\"proxy_headers_hash_bucket_size\" directive invalid number"
    );
    assert_eq!(
        e("proxy_store_access user:rwx;"),
        "invalid value \"user:rwx\""
    );
    assert_eq!(
        e("proxy_store on;"),
        "\"proxy_store\" directive is not supported: Portico does not store proxied responses in files"
    );
    assert_eq!(
        e("upstream u { random three; server 127.0.0.1:1; }"),
        "invalid parameter \"three\""
    );
    assert_eq!(
        e("upstream u { random two most_conn; server 127.0.0.1:1; }"),
        "invalid parameter \"most_conn\""
    );
    assert_eq!(
        e("upstream u { random; server 127.0.0.1:1 backup; }"),
        "balancing method does not support parameter \"backup\""
    );
    assert_eq!(
        e("upstream u { server 127.0.0.1:1 resolve; }"),
        "invalid parameter \"resolve\": an nginx Plus parameter, not supported"
    );
    assert_eq!(
        e("upstream u { server unix:; }"),
        "no path in the unix domain socket in upstream \"unix:\""
    );
    assert_eq!(
        e("upstream u { server 127.0.0.1:1; keepalive_time 1s; keepalive_time 2s; }"),
        "\"keepalive_time\" directive is duplicate"
    );
    assert_eq!(
        e("upstream u { zone u 4k; server 127.0.0.1:1; }"),
        "zone \"u\" is too small"
    );
    assert_eq!(
        e("upstream u { server 127.0.0.1:1; sticky cookie srv; }"),
        "\"sticky\" directive is not supported: it is a commercial nginx Plus feature"
    );
    assert_eq!(
        e("proxy_cache_background_update on; proxy_cache_background_update off;"),
        "\"proxy_cache_background_update\" directive is duplicate"
    );
    assert_eq!(
        e("proxy_cache_max_range_offset 1x;"),
        "\"proxy_cache_max_range_offset\" directive invalid value"
    );
    assert_eq!(
        e("proxy_cache_path /tmp/c keys_zone=one:1m max_size=1x;"),
        "invalid max_size value \"max_size=1x\""
    );
    assert_eq!(
        e("proxy_cache_lock on; proxy_cache_lock on;"),
        "\"proxy_cache_lock\" directive is duplicate"
    );
    assert_eq!(
        e("server { location / { proxy_ssl_conf_command Options KTLS; } }"),
        "\"proxy_ssl_conf_command\" directive is not supported: it passes commands to OpenSSL, and Portico's TLS is rustls"
    );
    assert_eq!(
        e("server { location / { proxy_redirect default; proxy_pass http://127.0.0.1:1; } }"),
        "\"proxy_redirect default\" should be placed after the \"proxy_pass\" directive"
    );
    assert_eq!(
        e("server { location / { proxy_pass http://$host; proxy_redirect default; } }"),
        "\"proxy_redirect default\" cannot be used with \"proxy_pass\" directive with variables"
    );
    assert_eq!(
        e("server { location / { proxy_redirect sometimes; } }"),
        "invalid parameter \"sometimes\""
    );
    assert_eq!(
        e("server { location ~ x { proxy_pass http://unix:/tmp/s:/uri; } }"),
        "\"proxy_pass\" cannot have URI part in location given by regular expression, \
         or inside named location, or inside \"if\" statement, or inside \"limit_except\" block"
    );
}
