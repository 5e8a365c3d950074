//! Tests of the location-level settings: parsing, nginx's inheritance rules, messages.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::rewrite_ops::Op;
use crate::config::testutil::{http, load_err, load_in, load_ok};
use crate::config::{
    AutoindexFormat, DisableSymlinks, ErrorPageStatus, HttpConf, LocSettings, OpenFileCache,
    TryFallback,
};
use crate::http::conditional::IfModifiedSince;
use crate::http::expires::Expires;

fn http_conf(body: &str) -> HttpConf {
    load_ok(&http(body)).http.expect("http block")
}

fn err(body: &str) -> String {
    load_err(&http(body))
}

/// `$1` is `a.png`.
struct Capture1;

impl crate::vars::VarSource for Capture1 {
    fn var(&self, var: &crate::vars::Var, out: &mut Vec<u8>) -> bool {
        *var == crate::vars::Var::Capture(1) && {
            out.extend_from_slice(b"a.png");
            true
        }
    }
}

fn header_names(loc: &LocSettings) -> Vec<&str> {
    loc.add_header.iter().map(|h| h.name.as_str()).collect()
}

#[test]
fn defaults_are_nginx_s() {
    let conf = http_conf("server { location / { } }");
    let loc = &conf.servers[0].locations[0].loc;
    assert!(loc.alias.is_none() && loc.try_files.is_none() && loc.error_page.is_empty());
    assert!(!loc.autoindex && loc.autoindex_exact_size && !loc.autoindex_localtime);
    assert_eq!(loc.autoindex_format, AutoindexFormat::Html);
    assert_eq!(loc.expires, Expires::Off);
    assert!(loc.add_header.is_empty() && loc.etag);
    assert_eq!(loc.if_modified_since, IfModifiedSince::Exact);
    assert!(!loc.server_name_in_redirect && loc.port_in_redirect && loc.absolute_redirect);
    assert!(!loc.internal && loc.open_file_cache.is_none());
    assert_eq!(loc.open_file_cache_valid, Duration::from_secs(60));
    assert_eq!(loc.open_file_cache_min_uses, 1);
    assert!(!loc.open_file_cache_errors && loc.msie_padding && !loc.recursive_error_pages);
    assert_eq!(loc.disable_symlinks, DisableSymlinks::Off);
}

#[test]
fn disable_symlinks_forms() {
    let conf = http_conf(
        "disable_symlinks on; server { location /a { disable_symlinks on from=$document_root; } \
         location /b { disable_symlinks off; } location /c { } }",
    );
    let locs = &conf.servers[0].locations;
    assert_eq!(
        locs[0].loc.disable_symlinks,
        DisableSymlinks::FromDocumentRoot
    );
    assert_eq!(locs[1].loc.disable_symlinks, DisableSymlinks::Off);
    assert_eq!(locs[2].loc.disable_symlinks, DisableSymlinks::On);
}

#[test]
fn value_directives() {
    let conf = http_conf(
        "autoindex on; autoindex_exact_size off; autoindex_localtime on; autoindex_format HTML;\n\
         etag off; if_modified_since before; server_name_in_redirect on; port_in_redirect off;\n\
         absolute_redirect off; open_file_cache max=100 inactive=2m; open_file_cache_valid 30s;\n\
         open_file_cache_min_uses 2; open_file_cache_errors on; msie_padding off;\n\
         disable_symlinks off; expires modified 1h;\n\
         server { open_file_cache off; location / { internal; expires epoch; } }",
    );
    let server = &conf.servers[0];
    let loc = &server.loc;
    assert!(loc.autoindex && !loc.autoindex_exact_size && loc.autoindex_localtime);
    assert!(!loc.etag && loc.server_name_in_redirect && !loc.port_in_redirect);
    assert!(!loc.absolute_redirect && loc.open_file_cache_errors && !loc.msie_padding);
    assert_eq!(loc.if_modified_since, IfModifiedSince::Before);
    assert_eq!(loc.open_file_cache, None);
    assert_eq!(loc.open_file_cache_valid, Duration::from_secs(30));
    assert_eq!(loc.open_file_cache_min_uses, 2);
    assert_eq!(
        loc.expires,
        Expires::Duration {
            secs: 3600,
            modified: true
        }
    );
    let top = http_conf("open_file_cache max=100 inactive=2m; server { }");
    assert_eq!(
        top.servers[0].loc.open_file_cache,
        Some(OpenFileCache {
            max: 100,
            inactive: Duration::from_secs(120)
        })
    );
    let location = &server.locations[0].loc;
    assert!(location.internal);
    assert_eq!(location.expires, Expires::Epoch);
}

#[test]
fn value_errors() {
    let cases = [
        (
            "autoindex maybe;",
            "invalid value \"maybe\" in \"autoindex\" directive, it must be \"on\" or \"off\"",
        ),
        ("autoindex_format yaml;", "invalid value \"yaml\""),
        ("if_modified_since later;", "invalid value \"later\""),
        ("etag on; etag off;", "\"etag\" directive is duplicate"),
        ("expires 1x;", "\"expires\" directive invalid value"),
        (
            "expires max; expires off;",
            "\"expires\" directive is duplicate",
        ),
        (
            "open_file_cache inactive=1m;",
            "\"open_file_cache\" must have the \"max\" parameter",
        ),
        (
            "open_file_cache max=0;",
            "invalid \"open_file_cache\" parameter \"max=0\"",
        ),
        (
            "open_file_cache max=1 size=2;",
            "invalid \"open_file_cache\" parameter \"size=2\"",
        ),
        (
            "open_file_cache_valid 1x;",
            "\"open_file_cache_valid\" directive invalid value",
        ),
        (
            "disable_symlinks if_not_owner;",
            "\"disable_symlinks\" directive \"if_not_owner\" is not supported",
        ),
        (
            "disable_symlinks on from=/srv;",
            "\"disable_symlinks\" directive \"from=/srv\" is not supported",
        ),
        (
            "disable_symlinks off from=$document_root;",
            "\"from=\" cannot be used with \"off\" parameter",
        ),
        ("disable_symlinks maybe;", "invalid parameter \"maybe\""),
        ("internal;", "\"internal\" directive is not allowed here"),
        (
            "server { location / { internal; internal; } }",
            "\"internal\" directive is duplicate",
        ),
        (
            "add_header X y sometimes;",
            "invalid parameter \"sometimes\"",
        ),
        ("add_header X $nope;", "unknown \"nope\" variable"),
    ];
    for (body, want) in cases {
        assert_eq!(err(body), want, "{body}");
    }
}

#[test]
fn add_header_level_replaces_parent_list() {
    let conf = http_conf(
        "add_header A 1; add_header B 2 always;\n\
         server { location /own { add_header C 3; } location /inherit { }\n\
           location /if { if ($host) { add_header D $host; } } }",
    );
    let server = &conf.servers[0];
    assert_eq!(header_names(&server.loc), ["A", "B"]);
    assert!(server.loc.add_header[1].always && !server.loc.add_header[0].always);
    assert_eq!(header_names(&server.locations[0].loc), ["C"]);
    assert_eq!(header_names(&server.locations[1].loc), ["A", "B"]);
    let Op::If {
        loc: Some(inside), ..
    } = &server.locations[2].rewrite[0]
    else {
        panic!("if settings");
    };
    assert_eq!(header_names(inside), ["D"]);
    assert_eq!(header_names(&server.locations[2].loc), ["A", "B"]);
}

#[test]
fn error_page_forms_and_inheritance() {
    let conf = http_conf(
        "error_page 404 /404.html; error_page 500 502 =200 /err?from=x; error_page 403 = @fb;\n\
         error_page 497 https://$host$request_uri;\n\
         server { location /own { error_page 410 /gone; } location /inherit { } }",
    );
    let server = &conf.servers[0];
    let loc = &server.loc;
    let summary: Vec<_> = loc
        .error_page
        .iter()
        .map(|p| (p.status, p.response, p.args.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (404, ErrorPageStatus::Original, None),
            (500, ErrorPageStatus::Code(200), Some("from=x")),
            (502, ErrorPageStatus::Code(200), Some("from=x")),
            (403, ErrorPageStatus::FromTarget, None),
            (497, ErrorPageStatus::Code(400), None),
        ]
    );
    assert_eq!(
        loc.error_page_for(502).and_then(|p| p.uri.is_literal()),
        Some(&b"/err"[..])
    );
    assert!(
        loc.error_page_for(497)
            .is_some_and(|p| p.uri.is_literal().is_none())
    );
    let own: Vec<u16> = server.locations[0]
        .loc
        .error_page
        .iter()
        .map(|p| p.status)
        .collect();
    assert_eq!(own, [410]);
    assert_eq!(server.locations[1].loc.error_page.len(), 5);

    assert_eq!(err("error_page =404 /x;"), "invalid value \"=404\"");
    assert_eq!(err("error_page 404 =x /x;"), "invalid value \"=x\"");
    assert_eq!(err("error_page abc /x;"), "invalid value \"abc\"");
    assert_eq!(err("error_page 499 /x;"), "invalid value \"499\"");
    assert_eq!(
        err("error_page 200 /x;"),
        "value \"200\" must be between 300 and 599"
    );
}

#[test]
fn try_files_forms_and_no_inheritance() {
    let conf = http_conf(
        "server { try_files $uri =404;\n\
           location / { try_files $uri $uri/ /index.php?$args;\n\
             location /nested { } if ($host) { } }\n\
           location /n { try_files /a @fallback; } location @fallback { } }",
    );
    let server = &conf.servers[0];
    assert!(matches!(
        server.loc.try_files.as_ref().map(|t| &t.fallback),
        Some(TryFallback::Code(404))
    ));
    let root = &server.locations[0];
    let tf = root.loc.try_files.as_ref().expect("try_files");
    let dirs: Vec<bool> = tf.files.iter().map(|f| f.dir).collect();
    assert_eq!(dirs, [false, true]);
    assert!(matches!(&tf.fallback, TryFallback::Uri(t) if t.is_literal().is_none()));
    // Not inherited by nested locations nor by `if` blocks, as in nginx.
    assert!(root.nested[0].loc.try_files.is_none());
    let Op::If {
        loc: Some(inside), ..
    } = &root.rewrite[0]
    else {
        panic!("if settings");
    };
    assert!(inside.try_files.is_none());
    assert!(matches!(
        server.locations[1].loc.try_files.as_ref().map(|t| &t.fallback),
        Some(TryFallback::Named(n)) if n == "@fallback"
    ));

    assert_eq!(err("server { try_files a =x; }"), "invalid code \"=x\"");
    assert_eq!(
        err("server { try_files a =1000; }"),
        "invalid code \"=1000\""
    );
    assert_eq!(
        err("server { try_files a b; try_files c d; }"),
        "\"try_files\" directive is duplicate"
    );
    assert_eq!(
        err("try_files a b;"),
        "\"try_files\" directive is not allowed here"
    );
}

#[test]
fn alias_and_root() {
    let (result, prefix) = load_in(
        &http(
            "server { location /a/ { alias /data/a/; location /a/b/ { } }\n\
             location ~ ^/img/(.+)$ { alias img/$1; }\n\
             location /r/ { alias /x/; location /r/s/ { root /s; } } }",
        ),
        None,
    );
    let conf = result.unwrap_or_else(|e| panic!("{e}"));
    let server = &conf.http.as_ref().unwrap().servers[0];
    let relative = server.locations[1].loc.alias.as_ref().expect("alias");
    let mut evaluated = Vec::new();
    relative.path.eval(&Capture1, &mut evaluated);
    assert_eq!(
        evaluated,
        prefix
            .join("img/a.png")
            .into_os_string()
            .into_encoded_bytes()
    );
    let alias = |loc: &LocSettings| {
        loc.alias
            .as_ref()
            .map(|t| t.path.template.is_literal().map(<[u8]>::to_vec))
    };
    assert_eq!(
        alias(&server.locations[0].loc),
        Some(Some(b"/data/a/".to_vec()))
    );
    // A nested location without root or alias inherits the alias, as in nginx.
    assert_eq!(
        alias(&server.locations[0].nested[0].loc),
        Some(Some(b"/data/a/".to_vec()))
    );
    let img = server.locations[1].loc.alias.as_ref().expect("alias");
    assert_eq!(
        img.path.template.vars().collect::<Vec<_>>(),
        [&crate::vars::Var::Capture(1)]
    );
    let nested = &server.locations[2].nested[0].loc;
    assert_eq!(
        (nested.alias.is_none(), &nested.root),
        (true, &PathBuf::from("/s"))
    );

    let srv = |body: &str| err(&format!("server {{ {body} }}"));
    assert_eq!(
        srv("location / { root /a; alias /b; }"),
        "\"alias\" directive is duplicate, \"root\" directive was specified earlier"
    );
    assert_eq!(
        srv("location / { alias /b; root /a; }"),
        "\"root\" directive is duplicate, \"alias\" directive was specified earlier"
    );
    assert_eq!(
        srv("location / { alias /b; alias /c; }"),
        "\"alias\" directive is duplicate"
    );
    assert_eq!(
        srv("location @n { alias /b; }"),
        "the \"alias\" directive cannot be used inside the named location"
    );
    assert_eq!(
        srv("location / { alias $document_root/x; }"),
        "the $document_root variable cannot be used in the \"alias\" directive"
    );
    assert_eq!(srv("alias /x;"), "\"alias\" directive is not allowed here");
}

#[test]
fn if_block_inherits_the_location_settings() {
    let conf = http_conf(
        "server { location ^~ /static/ { root /var/www; sendfile on; add_header X 1;\n\
           if ($query_string) { expires max; access_log off; sendfile off; } } }",
    );
    let location = &conf.servers[0].locations[0];
    let Op::If {
        loc: Some(inside), ..
    } = &location.rewrite[0]
    else {
        panic!("if settings");
    };
    assert_eq!(inside.root, PathBuf::from("/var/www"));
    assert_eq!(inside.expires, Expires::Max);
    assert!(inside.access_log.is_empty() && !inside.sendfile);
    assert_eq!(header_names(inside), ["X"]);
    assert_eq!(location.loc.access_log.len(), 1);
    assert!(location.loc.sendfile);
}
