//! Engine tests: ops compiled by the real configuration loader, run against a small
//! [`VarSource`].

use std::collections::HashMap;

use super::engine::unescape_redirect;
use super::*;
use crate::config::testutil::{http, load_ok, temp_dir};
use crate::config::{HttpConf, LocSettings};

/// Built-in values by variable; absent ones have no value.
struct Vals(HashMap<Var, Vec<u8>>);

impl VarSource for Vals {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        self.0.get(var).map(|v| out.extend_from_slice(v)).is_some()
    }
}

fn vals(pairs: &[(Var, &str)]) -> Vals {
    Vals(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
            .collect(),
    )
}

/// Loads one server with `body` and returns the http block.
fn conf(body: &str) -> HttpConf {
    load_ok(&http(&format!("server {{ {body} }}")))
        .http
        .expect("http block")
}

/// Runs the first location's ops for `uri?args`.
fn run_location(
    body: &str,
    uri: &str,
    args: Option<&str>,
) -> (Outcome<'static>, String, Option<String>) {
    let http = conf(body);
    let ops = &http.servers[0].locations[0].rewrite;
    let mut ctx = RewriteCtx::new(
        uri.into(),
        args.map(|a| a.as_bytes().to_vec()),
        http.user_vars.len(),
    );
    let outcome = run(ops, &mut ctx, &vals(&[(Var::Host, "example.com")])).into_owned();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (outcome, text(&ctx.uri), ctx.args.as_deref().map(text))
}

fn redirect(code: u16, location: &str) -> Outcome<'static> {
    Outcome::Redirect {
        code,
        location: location.as_bytes().to_vec().into(),
    }
}

fn ret(code: u16, body: Option<&str>) -> Outcome<'static> {
    Outcome::Return {
        code,
        body: body.map(|b| b.as_bytes().to_vec().into()),
    }
}

#[test]
fn seed_rewrite_relocates_to_the_static_file() {
    let body = "location = /favicon.ico { rewrite (.*) /static/favicon.ico; }";
    let (outcome, uri, args) = run_location(body, "/favicon.ico", Some("v=1"));
    assert_eq!(outcome, Outcome::Relocate);
    assert_eq!(
        (uri.as_str(), args.as_deref()),
        ("/static/favicon.ico", Some("v=1"))
    );
}

#[test]
fn captures_and_argument_handling() {
    let loc = |rule: &str| format!("location / {{ {rule} }}");
    let (outcome, uri, args) = run_location(
        &loc("rewrite ^/user/(\\d+)/(\\w+)$ /show?id=$1&tab=$2 last;"),
        "/user/42/posts",
        Some("x=1"),
    );
    assert_eq!(outcome, Outcome::Relocate);
    assert_eq!(
        (uri.as_str(), args.as_deref()),
        ("/show", Some("id=42&tab=posts&x=1"))
    );
    // A final `?` drops the request's arguments.
    let (_, uri, args) = run_location(&loc("rewrite ^/a /b? last;"), "/a", Some("x=1"));
    assert_eq!((uri.as_str(), args), ("/b", None));
    let (_, _, args) = run_location(&loc("rewrite ^/a /b?y=2? last;"), "/a", Some("x=1"));
    assert_eq!(args.as_deref(), Some("y=2"));
    // No match: nothing changes and the captures are gone.
    let (outcome, uri, _) = run_location(&loc("rewrite ^/zzz /b last;"), "/a", None);
    assert_eq!((outcome, uri.as_str()), (Outcome::Continue, "/a"));
    // The replacement is not percent-decoded.
    let (_, uri, _) = run_location(&loc("rewrite ^ /a%20b last;"), "/x", None);
    assert_eq!(uri, "/a%20b");
}

#[test]
fn captures_are_escaped_in_arguments_of_quoted_requests() {
    let http = conf("location / { rewrite ^/(.*)$ /x/$1?q=$1; }");
    let ops = &http.servers[0].locations[0].rewrite;
    let mut ctx = RewriteCtx::new(b"/a b&c".to_vec(), None, 0);
    ctx.quoted_uri = true;
    assert_eq!(run(ops, &mut ctx, &vals(&[])), Outcome::Relocate);
    assert_eq!(ctx.uri, b"/x/a b&c");
    assert_eq!(ctx.args.as_deref(), Some(&b"q=a%20b%26c"[..]));
}

#[test]
fn redirect_flags_and_urls() {
    let loc = |rule: &str| format!("location / {{ {rule} }}");
    let cases = [
        (
            "rewrite ^/old(.*) /new$1 permanent;",
            redirect(301, "/new/x?a=1"),
        ),
        (
            "rewrite ^/old(.*) /new$1 redirect;",
            redirect(302, "/new/x?a=1"),
        ),
        (
            "rewrite ^ http://$host/p?q=1;",
            redirect(302, "http://example.com/p?q=1&a=1"),
        ),
        (
            "rewrite ^ https://h/p? permanent;",
            redirect(301, "https://h/p"),
        ),
        (
            "rewrite ^ http://h/a%2Fb%41%3Fc%41 last;",
            redirect(302, "http://h/a/bA?c%41?a=1"),
        ),
    ];
    for (rule, want) in cases {
        let (outcome, uri, _) = run_location(&loc(rule), "/old/x", Some("a=1"));
        assert_eq!(outcome, want, "{rule}");
        assert_eq!(uri, "/old/x", "{rule}");
    }
}

#[test]
fn unescape_redirect_is_nginx_s() {
    let u = |s: &str| String::from_utf8_lossy(&unescape_redirect(s.as_bytes())).into_owned();
    assert_eq!(u("/a%41%20%7e%25"), "/aA%20~%25");
    assert_eq!(u("/p%3Fx%41"), "/p?x%41");
    assert_eq!(u("/p?x%41"), "/p?x%41");
    assert_eq!(u("/%zz"), "/zz");
    assert_eq!(u("/%4z!"), "/!");
    assert_eq!(u("/%"), "/");
}

#[test]
fn return_variants() {
    let loc = |rule: &str| format!("location / {{ {rule} }}");
    let cases = [
        ("return 404;", ret(404, None)),
        ("return 444;", ret(444, None)),
        ("return 200 \"hi $host\";", ret(200, Some("hi example.com"))),
        ("return 204;", ret(204, Some(""))),
        ("return 403 denied;", ret(403, Some("denied"))),
        (
            "return 301 https://$host$uri;",
            redirect(301, "https://example.com/p"),
        ),
        ("return https://x/;", redirect(302, "https://x/")),
        ("return 307 /other;", redirect(307, "/other")),
    ];
    for (rule, want) in cases {
        assert_eq!(run_location(&loc(rule), "/p", None).0, want, "{rule}");
    }
}

#[test]
fn rewrite_without_flag_continues_then_relocates() {
    let body = "location / { rewrite ^/a /b; rewrite ^/b /c; set $seen $uri; return 200 $seen; }";
    assert_eq!(run_location(body, "/a", None).0, ret(200, Some("/c")));
    let body = "location / { rewrite ^/a /b; rewrite ^/b /c; }";
    let (outcome, uri, _) = run_location(body, "/a", None);
    assert_eq!((outcome, uri.as_str()), (Outcome::Relocate, "/c"));
    let body = "location / { rewrite ^/a /b last; rewrite ^/b /c; }";
    assert_eq!(run_location(body, "/a", None).1, "/b");
}

#[test]
fn break_stays_in_the_location() {
    let http = conf("location / { rewrite ^/a /b break; return 500; }");
    let ops = &http.servers[0].locations[0].rewrite;
    let mut ctx = RewriteCtx::new(b"/a".to_vec(), None, 0);
    assert_eq!(run(ops, &mut ctx, &vals(&[])), Outcome::Break);
    assert_eq!(
        (ctx.uri.as_slice(), ctx.valid_location),
        (&b"/b"[..], false)
    );

    let http = conf("location / { rewrite ^/a /b; break; return 500; }");
    let ops = &http.servers[0].locations[0].rewrite;
    let mut ctx = RewriteCtx::new(b"/a".to_vec(), None, 0);
    assert_eq!(run(ops, &mut ctx, &vals(&[])), Outcome::Break);
    assert_eq!((ctx.uri.as_slice(), ctx.uri_changed), (&b"/b"[..], false));

    let mut ctx = RewriteCtx::new(b"/z".to_vec(), None, 0);
    assert_eq!(run(ops, &mut ctx, &vals(&[])), Outcome::Break);
    assert!(ctx.valid_location);
}

#[test]
fn set_values_are_seen_everywhere() {
    let http = conf(
        "set $who server; location / { if ($who = server) { set $who \"$who+loc\"; } \
         return 200 \"$who $args\"; }",
    );
    let server = &http.servers[0];
    let src = vals(&[]);
    let mut ctx = RewriteCtx::new(b"/".to_vec(), Some(b"a=1".to_vec()), http.user_vars.len());
    assert_eq!(run(&server.rewrite, &mut ctx, &src), Outcome::Continue);
    let outcome = run(&server.locations[0].rewrite, &mut ctx, &src);
    assert_eq!(outcome, ret(200, Some("server+loc a=1")));
    // A template evaluated later (a log line) sees the values through `WithScript`.
    let t = crate::vars::Template::compile_with("$who|$1|$is_args", &http.user_vars).unwrap();
    let mut out = Vec::new();
    t.eval(
        &WithScript {
            ctx: &ctx,
            inner: &src,
        },
        &mut out,
    );
    assert_eq!(out, b"server+loc||?");
}

#[test]
fn set_args_changes_the_query() {
    let body = "location / { set $args \"$args&b=2\"; return 200 $arg_b-$is_args; }";
    assert_eq!(
        run_location(body, "/", Some("a=1")).0,
        ret(200, Some("2-?"))
    );
    let body = "location / { set $args \"\"; return 200 x$is_args; }";
    assert_eq!(run_location(body, "/", Some("a=1")).0, ret(200, Some("x")));
}

#[test]
fn if_conditions() {
    let check = |cond: &str, uri: &str, args: Option<&str>| {
        let body = format!("location / {{ if ({cond}) {{ return 200 \"$1\"; }} return 404; }}");
        match run_location(&body, uri, args).0 {
            Outcome::Return { code: 200, body } => {
                Some(String::from_utf8(body.unwrap().into_owned()).unwrap())
            }
            _ => None,
        }
    };
    assert_eq!(check("$args", "/", Some("x")), Some(String::new()));
    assert_eq!(check("$args", "/", None), None);
    assert_eq!(check("$arg_a", "/", Some("a=0")), None);
    assert_eq!(check("$uri = /p", "/p", None), Some(String::new()));
    assert_eq!(check("$uri != /p", "/p", None), None);
    assert_eq!(check("$uri ~ ^/(\\w+)/", "/ab/c", None), Some("ab".into()));
    assert_eq!(check("$uri ~ ^/(\\w+)/", "/AB/c", None), Some("AB".into()));
    assert_eq!(check("$uri ~ ^/ab", "/AB", None), None);
    assert_eq!(check("$uri ~* ^/(ab)", "/AB", None), Some("AB".into()));
    assert_eq!(check("$uri !~ ^/ab", "/AB", None), Some(String::new()));
    assert_eq!(check("$uri !~* ^/ab", "/AB", None), None);
    assert_eq!(check("$host = example.com", "/", None), Some(String::new()));
}

#[test]
fn file_tests_on_real_files() {
    let dir = temp_dir();
    let file = dir.join("f.txt");
    std::fs::write(&file, "x").unwrap();
    let exe = dir.join("run.sh");
    std::fs::write(&exe, "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let missing = dir.join("none");
    let d = dir.display();
    let cases = [
        (format!("-f {}", file.display()), true),
        (format!("-f {d}"), false),
        (format!("!-f {d}"), true),
        (format!("-d {d}"), true),
        (format!("!-d {}", file.display()), true),
        (format!("-e {}", missing.display()), false),
        (format!("!-e {}", missing.display()), true),
        (format!("-e {}", file.display()), true),
        (format!("-x {}", exe.display()), true),
        (format!("-x {}", file.display()), false),
        (format!("!-x {}", file.display()), true),
    ];
    for (cond, want) in cases {
        let body = format!("location / {{ if ({cond}) {{ return 200; }} }}");
        let got = run_location(&body, "/", None).0 == ret(200, Some(""));
        assert_eq!(got, want, "{cond}");
    }
}

#[test]
fn matched_if_selects_its_settings() {
    let http =
        conf("location / { root /www; if ($arg_a) { expires max; } if ($arg_b) { root /b; } }");
    let location = &http.servers[0].locations[0];
    let settings = |args: &str| -> Option<&LocSettings> {
        let mut ctx = RewriteCtx::new(b"/".to_vec(), Some(args.as_bytes().to_vec()), 0);
        assert_eq!(
            run(&location.rewrite, &mut ctx, &vals(&[])),
            Outcome::Continue
        );
        ctx.loc
    };
    assert!(settings("x=1").is_none());
    let a = settings("a=1").expect("if a");
    assert_eq!(
        (a.root.to_str(), a.expires),
        (Some("/www"), crate::http::expires::Expires::Max)
    );
    // The last true `if` wins, as nginx's `r->loc_conf` does.
    let b = settings("a=1&b=1").expect("if b");
    assert_eq!(
        (b.root.to_str(), b.expires),
        (Some("/b"), crate::http::expires::Expires::Off)
    );
}

#[test]
fn relocate_forgets_if_settings_and_empty_uri_is_an_error() {
    let http = conf("location / { if ($args) { expires 1h; rewrite ^ /next last; } }");
    let mut ctx = RewriteCtx::new(b"/".to_vec(), Some(b"x".to_vec()), 0);
    ctx.rewrite_log = true;
    let outcome = run(&http.servers[0].locations[0].rewrite, &mut ctx, &vals(&[]));
    assert_eq!((outcome, ctx.loc.is_none()), (Outcome::Relocate, true));
    assert_eq!(
        ctx.logs.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(),
        [
            "\"^\" matches \"/\"",
            "rewritten data: \"/next\", args: \"x\""
        ]
    );

    let http = conf("location / { rewrite ^/(.*) $1; }");
    let mut ctx = RewriteCtx::new(b"/".to_vec(), None, 0);
    let outcome = run(&http.servers[0].locations[0].rewrite, &mut ctx, &vals(&[]));
    assert_eq!(outcome, ret(500, None));
}

#[test]
fn location_captures_feed_the_rewrite() {
    let http = conf("location ~ ^/img/(.+)$ { rewrite ^ /static/$1 break; }");
    let location = &http.servers[0].locations[0];
    let crate::config::LocationMatch::Regex(re, _) = &location.matcher else {
        panic!("regex location");
    };
    let uri = b"/img/a.png";
    let mut ctx = RewriteCtx::new(uri.to_vec(), None, 0);
    assert_eq!(re.captures(uri, &mut ctx.captures), Ok(true));
    assert_eq!(ctx.captures.get(1), Some(&b"a.png"[..]));
    assert_eq!(ctx.captures.get(5), None);
    // `rewrite ^` matches again, so its own (empty) captures replace the location's.
    assert_eq!(run(&location.rewrite, &mut ctx, &vals(&[])), Outcome::Break);
    assert_eq!(ctx.uri, b"/static/");
}
