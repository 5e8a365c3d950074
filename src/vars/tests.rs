//! Tests of variable names, templates and the lookup helpers.

use super::*;
use std::collections::HashMap;

/// Values by variable; absent ones have no value.
struct Vals(HashMap<Var, &'static [u8]>);

impl VarSource for Vals {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        self.0.get(var).map(|v| out.extend_from_slice(v)).is_some()
    }
}

fn one(text: &str) -> Var {
    let t = Template::compile(text).unwrap();
    assert_eq!(t.parts.len(), 1, "{text}");
    t.vars().next().unwrap().clone()
}

#[test]
fn every_listed_variable_compiles_and_prints_back() {
    let names = "uri document_uri request_uri args query_string arg_page http_user_agent \
        cookie_sid sent_http_content_type host hostname remote_addr remote_port remote_user \
        server_addr server_port server_name server_protocol scheme request request_method \
        request_length request_time status body_bytes_sent bytes_sent time_local \
        time_iso8601 msec pid connection connection_requests document_root realpath_root \
        request_filename content_type content_length is_args nginx_version request_body \
        https pipe request_id request_completion binary_remote_addr upstream_addr \
        upstream_response_time proxy_host proxy_add_x_forwarded_for 1 9";
    for name in names.split_whitespace() {
        let var = one(&format!("${name}"));
        assert_eq!(var.to_string(), format!("${name}"));
        assert_eq!(one(&format!("${{{name}}}")), var);
    }
}

#[test]
fn names_resolve_like_nginx() {
    assert_eq!(one("$http_user_agent"), Var::Http("user_agent".into()));
    assert_eq!(one("$HTTP_X_Real_IP"), Var::Http("x_real_ip".into()));
    assert_eq!(one("$sent_http_location"), Var::SentHttp("location".into()));
    assert_eq!(one("$Cookie_SID"), Var::Cookie("sid".into()));
    assert_eq!(one("$arg_Page"), Var::Arg("page".into()));
    assert_eq!(
        one("$upstream_status"),
        Var::Upstream("upstream_status".into())
    );
    assert_eq!(one("$URI"), Var::Uri);
    assert_eq!(one("$3"), Var::Capture(3));
}

#[test]
fn bad_names_get_nginx_messages() {
    let err = |t: &str| Template::compile(t).unwrap_err();
    assert_eq!(err("$foo"), "unknown \"foo\" variable");
    assert_eq!(err("a ${Foo} b"), "unknown \"foo\" variable");
    assert_eq!(err("$0"), "unknown \"0\" variable");
    assert_eq!(err("price: 5$"), "invalid variable name");
    assert_eq!(err("${"), "invalid variable name");
    assert_eq!(err("$-x"), "invalid variable name");
    assert_eq!(err("${}"), "invalid variable name");
    assert_eq!(
        err("${host"),
        "the closing bracket in \"host\" variable is missing"
    );
    assert_eq!(
        err("${ho-st}"),
        "the closing bracket in \"ho\" variable is missing"
    );
}

#[test]
fn set_variables_resolve_before_builtins() {
    let mut user = UserVars::default();
    assert_eq!(user.declare("Foo"), 0);
    assert_eq!(user.declare("http_x"), 1);
    assert_eq!(user.declare("foo"), 0);
    assert_eq!((user.len(), user.name(1)), (2, Some("http_x")));
    let t = Template::compile_with("$FOO-${http_x}-$http_y-$1", &user).unwrap();
    let vars: Vec<_> = t.vars().cloned().collect();
    assert_eq!(
        vars,
        [
            Var::User(0),
            Var::User(1),
            Var::Http("y".into()),
            Var::Capture(1)
        ]
    );
    assert_eq!(
        Template::compile("$foo").unwrap_err(),
        "unknown \"foo\" variable"
    );
    assert_eq!(
        Template::compile_with("$bar", &user).unwrap_err(),
        "unknown \"bar\" variable"
    );
    assert!(is_builtin_name("uri") && !is_builtin_name("http_host"));
}

#[test]
fn splits_literals_variables_and_captures() {
    let t = Template::compile("/a$1x$12${host}name$uri.").unwrap();
    let lit = |s: &str| Part::Literal(s.as_bytes().into());
    let expected = vec![
        lit("/a"),
        Part::Var(Var::Capture(1)),
        lit("x"),
        Part::Var(Var::Capture(1)),
        lit("2"),
        Part::Var(Var::Host),
        lit("name"),
        Part::Var(Var::Uri),
        lit("."),
    ];
    assert_eq!(t.parts, expected);
    assert_eq!(
        Template::compile("plain é").unwrap().is_literal(),
        Some("plain é".as_bytes())
    );
    assert_eq!(Template::compile("").unwrap().is_literal(), Some(&b""[..]));
    assert_eq!(t.is_literal(), None);
}

fn source() -> Vals {
    Vals(HashMap::from([
        (Var::RemoteAddr, &b"127.0.0.1"[..]),
        (Var::Request, b"GET /q?a=\"1\" HTTP/1.1"),
        (Var::Status, b"200"),
        (Var::Http("user_agent".into()), b"curl\\8\n"),
        (Var::RemoteUser, b""),
    ]))
}

#[test]
fn eval_appends_values_and_skips_missing_ones() {
    let t = Template::compile("$remote_addr [$http_referer] $status").unwrap();
    let mut out = b"> ".to_vec();
    t.eval(&source(), &mut out);
    assert_eq!(out, b"> 127.0.0.1 [] 200");
}

#[test]
fn eval_log_escapes_per_mode() {
    let t = Template::compile(
        "$remote_addr \"$request\" $remote_user $http_referer \"$http_user_agent\"",
    )
    .unwrap();
    let line = |escape| {
        let mut out = Vec::new();
        t.eval_log(&source(), escape, &mut out);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(
        line(LogEscape::Default),
        r#"127.0.0.1 "GET /q?a=\x221\x22 HTTP/1.1"  - "curl\x5C8\x0A""#
    );
    assert_eq!(
        line(LogEscape::Json),
        r#"127.0.0.1 "GET /q?a=\"1\" HTTP/1.1"   "curl\\8\n""#
    );
    assert_eq!(
        line(LogEscape::None),
        "127.0.0.1 \"GET /q?a=\"1\" HTTP/1.1\"   \"curl\\8\n\""
    );
}

#[test]
fn header_names_match_variable_names() {
    assert!(header_matches("user_agent", b"User-Agent"));
    assert!(header_matches("x_forwarded_for", b"X-FORWARDED-FOR"));
    assert!(header_matches("x_a", b"x_a"));
    assert!(!header_matches("user_agent", b"User-Agents"));
    assert!(!header_matches("host", b"Hosts"));
    assert!(!header_matches("", b"X"));
}

#[test]
fn args_are_found_like_ngx_http_arg() {
    let q = b"a=1&Page=2&flag&b=&page=3&xa=4";
    assert_eq!(find_arg(q, "a"), Some(&b"1"[..]));
    assert_eq!(find_arg(q, "page"), Some(&b"2"[..]));
    assert_eq!(find_arg(q, "b"), Some(&b""[..]));
    assert_eq!(find_arg(q, "flag"), None);
    assert_eq!(find_arg(q, "x"), None);
    assert_eq!(find_arg(b"", "a"), None);
}

#[test]
fn cookies_are_found_like_nginx() {
    let h = b"sid=abc; Theme = dark ;lang=en, x=1; sidx=9";
    assert_eq!(find_cookie(h, "sid"), Some(&b"abc"[..]));
    assert_eq!(find_cookie(h, "theme"), Some(&b"dark "[..]));
    assert_eq!(find_cookie(h, "lang"), Some(&b"en, x=1"[..]));
    assert_eq!(find_cookie(h, "x"), Some(&b"1"[..]));
    assert_eq!(find_cookie(h, "sidx"), Some(&b"9"[..]));
    assert_eq!(find_cookie(h, "si"), None);
    assert_eq!(find_cookie(b"a", "abc"), None);
}
