//! Tests of the rewrite module's directives: what they compile to and nginx's complaints.

use crate::config::rewrite_ops::{Condition, FileTest, Flag, Op};
use crate::config::testutil::{http, load_err, load_in, load_ok};
use crate::config::{ConfError, HttpConf};
use crate::vars::Var;

fn http_conf(body: &str) -> HttpConf {
    load_ok(&http(body)).http.expect("http block")
}

fn server_ops(body: &str) -> Vec<Op> {
    http_conf(&format!("server {{ {body} }}")).servers[0]
        .rewrite
        .clone()
}

fn err(body: &str) -> String {
    load_err(&http(&format!("server {{ {body} }}")))
}

#[test]
fn rewrite_forms() {
    let ops = server_ops(
        "rewrite ^/a /b; rewrite ^/c /d?x=$1 last; rewrite ^/e /f? break;\n\
         rewrite ^ http://h/$uri; rewrite ^ /g?a permanent; rewrite ^ $scheme://h redirect;",
    );
    let summary: Vec<_> = ops
        .iter()
        .map(|op| match op {
            Op::Rewrite {
                flag,
                redirect,
                keep_args,
                args,
                query_in_replacement,
                ..
            } => (
                *flag,
                *redirect,
                *keep_args,
                args.is_some(),
                *query_in_replacement,
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Flag::None, None, true, false, false),
            (Flag::Last, None, true, true, true),
            (Flag::Break, None, false, false, false),
            (Flag::None, Some(302), true, false, false),
            (Flag::Permanent, Some(301), true, false, true),
            (Flag::Redirect, Some(302), true, false, false),
        ]
    );
    let Op::Rewrite { replacement, .. } = &ops[1] else {
        unreachable!()
    };
    assert_eq!(replacement.is_literal(), Some(&b"/d"[..]));
}

#[test]
fn rewrite_errors() {
    assert_eq!(err("rewrite ^ \"\";"), "empty replacement");
    assert_eq!(err("rewrite ^ /x lst;"), "invalid parameter \"lst\"");
    assert!(err("rewrite ( /x;").starts_with("pcre2_compile() failed: "));
    assert_eq!(err("rewrite ^ /$nope;"), "unknown \"nope\" variable");
    assert_eq!(
        err("rewrite ^;"),
        "invalid number of arguments in \"rewrite\" directive"
    );
    assert_eq!(
        load_err(&http("rewrite ^ /x;")),
        "\"rewrite\" directive is not allowed here"
    );
}

#[test]
fn return_forms_and_errors() {
    let ops = server_ops("return 404; return 200 \"a $host\"; return http://x/; return 444;");
    let codes: Vec<_> = ops
        .iter()
        .map(|op| match op {
            Op::Return { code, body_or_url } => (*code, body_or_url.is_some()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        codes,
        [(404, false), (200, true), (302, true), (444, false)]
    );
    assert_eq!(err("return x;"), "invalid return code \"x\"");
    assert_eq!(err("return 1000;"), "invalid return code \"1000\"");
    assert_eq!(err("return /rel;"), "invalid return code \"/rel\"");
    assert_eq!(
        err("return http://x/ y;"),
        "invalid return code \"http://x/\""
    );
}

#[test]
fn set_declares_variables_used_anywhere() {
    // `$late` is used by a log format and a location before the `set` that declares it.
    let conf = http_conf(
        "log_format f '$late'; server { location / { return 200 $late; } \
         location /b { set $LATE 1; set $args x; break; } }",
    );
    assert_eq!(conf.user_vars.name(0), Some("late"));
    let b = &conf.servers[0].locations[1].rewrite;
    assert!(matches!(&b[0], Op::Set { var: 0, .. }));
    assert!(matches!(&b[1], Op::SetArgs { .. }));
    assert!(matches!(&b[2], Op::Break));
    assert_eq!(err("set foo bar;"), "invalid variable name \"foo\"");
    assert_eq!(err("set $ bar;"), "invalid variable name \"$\"");
    assert_eq!(err("set $URI x;"), "the duplicate \"URI\" variable");
    assert_eq!(err("set $a $b;"), "unknown \"b\" variable");
}

#[test]
fn if_conditions_compile() {
    let ops = server_ops(
        "if ($a) { set $a 1; } if ( $host = x ) { } if ($host != \"a b\") { }\n\
         if ($uri ~* ^/x) { } if ($uri !~ y) { } if (-f /x) { } if (!-x $uri) { }",
    );
    let conds: Vec<_> = ops
        .iter()
        .map(|op| match op {
            Op::If {
                cond, loc: None, ..
            } => cond,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(matches!(conds[0], Condition::Value(Var::User(0))));
    assert!(matches!(
        conds[1],
        Condition::Equal {
            var: Var::Host,
            negate: false,
            ..
        }
    ));
    assert!(
        matches!(conds[2], Condition::Equal { negate: true, value, .. }
        if value.is_literal() == Some(b"a b"))
    );
    assert!(
        matches!(conds[3], Condition::Match { negate: false, regex, .. } if regex.is_match(b"/X") == Ok(true))
    );
    assert!(matches!(conds[4], Condition::Match { negate: true, .. }));
    assert!(matches!(
        conds[5],
        Condition::File {
            test: FileTest::File,
            negate: false,
            ..
        }
    ));
    assert!(matches!(
        conds[6],
        Condition::File {
            test: FileTest::Executable,
            negate: true,
            ..
        }
    ));
    let Op::If { ops, .. } = &ops[0] else {
        unreachable!()
    };
    assert!(matches!(ops[..], [Op::Set { var: 0, .. }]));
}

#[test]
fn if_condition_errors() {
    let cases = [
        ("if $a { }", "invalid condition \"$a\""),
        ("if ($host { }", "invalid condition \"$host\""),
        ("if ($host x) { }", "invalid condition \"$host\""),
        ("if ($host ?? x) { }", "unexpected \"??\" in condition"),
        ("if ($nope) { }", "unknown \"nope\" variable"),
        ("if (-q /x) { }", "invalid condition \"-q\""),
        ("if (-f) { }", "invalid condition \"-f\""),
        ("if (x) { }", "invalid condition \"x\""),
        ("if ( ) { }", "invalid condition \")\""),
        ("if () { }", "invalid condition \")\""),
        (
            "if ($uri ~ \"(\") { }",
            "pcre2_compile() failed: missing closing parenthesis in \"(\"",
        ),
        (
            "if ($host) { if ($host) { } }",
            "\"if\" directive is not allowed here",
        ),
        (
            "if ($host) { root /x; }",
            "\"root\" directive is not allowed here",
        ),
        (
            "if ($host) { return; }",
            "invalid number of arguments in \"return\" directive",
        ),
        ("if ($host);", "directive \"if\" has no opening \"{\""),
        (
            "location / { if ($host) { alias /x; } }",
            "\"alias\" directive is not allowed here",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(err(body), want, "{body}");
    }
}

#[test]
fn errors_carry_file_and_line() {
    let (result, prefix) = load_in(&http("server {\n if ($host ~ \"(\") {\n }\n}"), None);
    let e: ConfError = result.expect_err("bad regex");
    assert_eq!(e.file, Some(prefix.join("conf/nginx.conf")));
    assert_eq!(e.line, 4);
}

#[test]
fn rewrite_flags_are_settings() {
    let conf = http_conf(
        "rewrite_log on; server { uninitialized_variable_warn off; if ($host) { rewrite_log off; }\n\
         location / { if ($host) { rewrite_log off; } } }",
    );
    let server = &conf.servers[0];
    assert!(server.loc.rewrite_log && !server.loc.uninitialized_variable_warn);
    let Op::If {
        loc: Some(inner), ..
    } = &server.locations[0].rewrite[0]
    else {
        panic!("if in location")
    };
    assert!(!inner.rewrite_log && !inner.uninitialized_variable_warn);
    assert!(server.locations[0].loc.rewrite_log);
    assert_eq!(
        err("rewrite_log on; rewrite_log on;"),
        "\"rewrite_log\" directive is duplicate"
    );
}
