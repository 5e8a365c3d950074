//! `map`, `split_clients`, `valid_referers`, `empty_gif` and the hash knobs at load: what
//! they accept and nginx 1.22's words for what they refuse (checked with `nginx -t`).

use crate::computed::ComputedKind;
use crate::config::testutil::{http, load_err, load_ok};
use crate::vars::Var;

fn err(body: &str) -> String {
    load_err(&http(body))
}

#[test]
fn map_declares_a_variable_usable_before_its_block() {
    let conf = load_ok(&http(
        "log_format f \"$m $g $s\";\n\
         server { location / { return 200 $m; } }\n\
         map $uri $m { default 1; }\n\
         geo $g { default 2; }\n\
         split_clients $uri $s { * 3; }",
    ));
    let http = conf.http.unwrap();
    assert_eq!(http.computed.len(), 3);
    assert!(matches!(
        http.computed.get(0).unwrap().kind,
        ComputedKind::Map(_)
    ));
    assert!(matches!(
        http.computed.get(1).unwrap().kind,
        ComputedKind::Geo(_)
    ));
    assert!(matches!(
        http.computed.get(2).unwrap().kind,
        ComputedKind::Split(_)
    ));
    assert_eq!(
        crate::vars::resolve("m", &http.user_vars),
        Ok(Var::Computed(0))
    );
}

#[test]
fn the_last_map_of_a_name_wins_and_set_keeps_the_computed_variable() {
    let conf = load_ok(&http(
        "map $uri $m { default 1; }\nmap $args $m { volatile; default 2; }\n\
         server { location / { set $m x; } }",
    ));
    let http = conf.http.unwrap();
    let def = http.computed.get(0).unwrap();
    assert!(def.volatile);
    assert_eq!(
        crate::vars::resolve("m", &http.user_vars),
        Ok(Var::Computed(0))
    );
}

#[test]
fn map_errors_in_nginx_words() {
    assert_eq!(
        err("map $uri $x { a b c; }"),
        "invalid number of the map parameters"
    );
    assert_eq!(
        err("map $uri $x { a; }"),
        "invalid number of the map parameters"
    );
    assert_eq!(
        err("map $uri $x { default a; default b; }"),
        "duplicate default map parameter"
    );
    assert_eq!(
        err("map $uri $x { a b; A c; }"),
        "conflicting parameter \"A\""
    );
    assert_eq!(
        err("map $uri $x { hostnames; *.a.com b; .a.com c; }"),
        "conflicting parameter \".a.com\""
    );
    assert_eq!(
        err("map $uri $x { hostnames; www.*.com b; }"),
        "invalid hostname or wildcard \"www.*.com\""
    );
    assert!(err("map $uri $x { ~( b; }").starts_with("pcre2_compile() failed: "));
    assert_eq!(err("map $uri x { a b; }"), "invalid variable name \"x\"");
    assert_eq!(
        err("map $uri $uri { a b; }"),
        "the duplicate \"uri\" variable"
    );
    assert_eq!(err("map $uri $x { a $nope; }"), "unknown \"nope\" variable");
    assert_eq!(err("map $nope $x { a b; }"), "unknown \"nope\" variable");
    assert_eq!(err("map $uri $x { a { } }"), "unexpected \"{\"");
    assert_eq!(
        err("server { location / { map $a $b {} } }"),
        "\"map\" directive is not allowed here"
    );
    // Without `hostnames` a wildcard is an ordinary key; `\` escapes a keyword.
    load_ok(&http(
        "map $uri $x { www.*.com b; \\default c; \\include d; \\hostnames e; volatile; }",
    ));
}

#[test]
fn map_hash_knobs_are_checked_as_nginx_checks_them() {
    assert_eq!(
        err("map $uri $x { a b; } map_hash_max_size 10;"),
        "\"map_hash_max_size\" directive is duplicate"
    );
    assert_eq!(
        err("map_hash_bucket_size 100000; map $uri $x { a b; }"),
        "could not build map_hash, too large map_hash_bucket_size: 100032"
    );
    assert_eq!(
        err("map_hash_max_size 0; map $uri $x { a b; }"),
        "could not build map_hash, you should increase map_hash_max_size: 0"
    );
    assert_eq!(
        err(&format!("map $uri $x {{ {} b; }}", "a".repeat(53))),
        "could not build map_hash, you should increase map_hash_bucket_size: 64"
    );
    assert_eq!(
        err(&format!(
            "map $uri $x {{ hostnames; *.{}.com b; }}",
            "a".repeat(53)
        )),
        "could not build map_hash, you should increase map_hash_bucket_size: 64"
    );
    assert_eq!(
        err("map_hash_max_size abc;"),
        "\"map_hash_max_size\" directive invalid number"
    );
    // Empty maps build no hash; a bucket size of 1 is rounded up to a cache line.
    load_ok(&http(
        "map_hash_max_size 0; map_hash_bucket_size 1; map $uri $x { default 1; }",
    ));
}

#[test]
fn split_clients_errors_in_nginx_words() {
    assert_eq!(
        err("split_clients $uri $x { 50.123% a; * b; }"),
        "invalid percent value \"50.123%\""
    );
    assert_eq!(
        err("split_clients $uri $x { 60% a; 50% b; }"),
        "percent total is greater than 100%"
    );
    assert_eq!(
        err("split_clients $uri $x { * a; 1% b; }"),
        "percent total is greater than 100%"
    );
    assert_eq!(
        err("split_clients $uri $x { 0% a; }"),
        "invalid percent value \"0%\""
    );
    assert_eq!(
        err("split_clients $uri $x { 50 a; }"),
        "invalid percent value \"50\""
    );
    assert_eq!(
        err("split_clients $uri $x { 5% a { } }"),
        "unexpected \"{\""
    );
    load_ok(&http("split_clients $uri $x { 0.01% a; 99.99% b; }"));
    load_ok(&http("split_clients $uri $x { 50% a extra; }"));
}

#[test]
fn valid_referers_errors_in_nginx_words() {
    let none_alone = "the \"none\" or \"blocked\" referers are specified in the \
                      \"valid_referers\" directive without any valid referer";
    assert_eq!(err("server { valid_referers none; }"), none_alone);
    assert_eq!(
        err("server { location / { valid_referers blocked ~foo; } }"),
        none_alone
    );
    assert_eq!(
        err("server { server_name a.com; valid_referers a.com server_names; }"),
        "conflicting parameter \"a.com\""
    );
    assert_eq!(
        err("server { valid_referers \"\"; }"),
        "invalid referer \"\""
    );
    assert_eq!(
        err("server { valid_referers *; }"),
        "invalid hostname or wildcard \"*\""
    );
    assert_eq!(err("server { valid_referers ~; }"), "empty regex in \"~\"");
    assert!(err("server { valid_referers ~(; }").starts_with("pcre2_compile() failed: "));
    assert_eq!(
        err("valid_referers none;"),
        "\"valid_referers\" directive is not allowed here"
    );
    assert_eq!(
        err("server { referer_hash_max_size 0; valid_referers a.com; }"),
        "could not build referer_hash, you should increase referer_hash_max_size: 0"
    );
    assert_eq!(
        err("server { location / { referer_hash_bucket_size 1; referer_hash_bucket_size 2; } }"),
        "\"referer_hash_bucket_size\" directive is duplicate"
    );
    // `server_names` without `server_name` adds the empty name: `none` has company.
    load_ok(&http("server { valid_referers none server_names; }"));
}

#[test]
fn referers_finish_with_the_server_names_and_inherit_regexes() {
    let conf = load_ok(&http(
        "server { server_name www.example.com *.example.org ~^img\\d\\.;\n\
         valid_referers ~google;\n\
         location /a { valid_referers server_names example.net/pics/; }\n\
         location /b { } }",
    ));
    let server = &conf.http.unwrap().servers[0];
    let a = server.locations[0].loc.valid_referers.as_ref().unwrap();
    assert!(!a.invalid(Some(b"http://www.example.com/")));
    assert!(!a.invalid(Some(b"http://x.example.org/")));
    assert!(!a.invalid(Some(b"http://img7.other.net/")));
    assert!(!a.invalid(Some(b"http://example.net/pics/1.png")));
    assert!(a.invalid(Some(b"http://example.net/other")));
    // The server level's regexes reach a location that has none of its own (nginx).
    assert!(!a.invalid(Some(b"http://www.google.com/")));
    assert!(a.invalid(None));
    let b = server.locations[1].loc.valid_referers.as_ref().unwrap();
    assert!(!b.invalid(Some(b"http://google.de/")));
    assert!(b.invalid(Some(b"http://www.example.com/")));
}

#[test]
fn empty_gif_is_a_location_handler_not_inherited_by_nested_ones() {
    let conf = load_ok(&http(
        "server { location /e { empty_gif; location /e/n { } if ($arg_x) { } } }",
    ));
    let server = &conf.http.unwrap().servers[0];
    let e = &server.locations[0];
    assert!(e.loc.empty_gif);
    assert!(!e.nested[0].loc.empty_gif);
    let crate::config::rewrite_ops::Op::If {
        loc: Some(if_loc), ..
    } = &e.rewrite[0]
    else {
        panic!("no if");
    };
    assert!(if_loc.empty_gif);
    assert_eq!(
        err("server { empty_gif; }"),
        "\"empty_gif\" directive is not allowed here"
    );
    assert_eq!(
        err("server { location / { empty_gif x; } }"),
        "invalid number of arguments in \"empty_gif\" directive"
    );
}
