//! Regular expressions as nginx has them (PCRE2), end to end against the real binary:
//! patterns of real configurations (look-around), named captures as variables wherever a
//! regex matches, `$1`..`$9` across internal redirects, and nginx's `-t` messages. Expected
//! values were checked side by side against nginx 1.22.

mod common;

use common::{Prefix, Server, run_cli};

fn start(server_body: &str) -> Server {
    start_block(&format!(
        "server {{\n listen 127.0.0.1:PORT;\n server_name localhost;\n {server_body}\n}}\n"
    ))
}

fn start_block(block: &str) -> Server {
    Server::start_with(1, block, |_| {})
}

/// Status and body of a GET of `path` with `Host: host` and `User-Agent: agent`.
fn get(s: &Server, host: &str, path: &str, agent: &str) -> (u16, String) {
    let raw = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\nConnection: close\r\n\r\n"
    );
    let r = s.request(raw.as_bytes());
    (r.status, r.text())
}

fn body(s: &Server, path: &str) -> String {
    get(s, "localhost", path, "test").1
}

/// `-t` on an http block; the exit code and stderr.
fn test_config(main: &str, http: &str) -> (i32, String) {
    let dir = Prefix::new();
    dir.write(
        "conf/t.conf",
        format!("{main}\nevents {{}}\nhttp {{\n{http}\n}}\n"),
    );
    let (code, _out, err) = run_cli(&dir.dir, &["-t", "-c", "conf/t.conf"]);
    (code, err)
}

#[test]
fn look_around_of_real_configurations() {
    let s = start(
        r#"location ~* (?:^|/)\.(?!well-known\/) { return 403; }
           location ~* /(?:uploads|files)/.*\.php$ { return 403; }
           location ~ \.php$ { return 200 "php"; }
           location / { return 200 "static"; }"#,
    );
    // h5bp: hidden files refused, except /.well-known/.
    assert_eq!(get(&s, "localhost", "/.git/config", "t").0, 403);
    assert_eq!(get(&s, "localhost", "/a/.htpasswd", "t").0, 403);
    assert_eq!(body(&s, "/.well-known/acme-challenge/t"), "static");
    // WordPress: no PHP from uploads, caseless.
    assert_eq!(
        get(&s, "localhost", "/wp-content/Uploads/x.PHP", "t").0,
        403
    );
    assert_eq!(body(&s, "/wp-content/themes/x.php"), "php");
    // PCRE's `$` also matches before a final newline (`%0A`), as it does in nginx.
    assert_eq!(body(&s, "/index.php%0A"), "php");
    s.assert_clean_log();
}

#[test]
fn pcre_constructs_match_as_in_nginx() {
    let s = start(
        r#"location ~ "^/poss/(a++)b" { return 200 "poss $1"; }
           location ~ "^/atomic/(?>a+)a" { return 200 "atomic"; }
           location ~ "^/back/(\w)\1$" { return 200 "back $1"; }
           location ~ "^/i/(?i)AbC$" { return 200 "inline-i"; }
           location ~* "^/CASE/(\w+)$" { return 200 "case $1"; }
           location ~ "^/q/(?'q'x+)(?P<p>y+)$" { return 200 "q=$q p=$p"; }
           location ~ "^/g/(?<x>a)|^/g/(?<y>b)" { return 200 "x=[$x] y=[$y] 1=[$1] 2=[$2] 10=[$10]"; }
           location / { return 200 "default"; }"#,
    );
    assert_eq!(body(&s, "/poss/aaab"), "poss aaa");
    assert_eq!(body(&s, "/atomic/aaa"), "default");
    assert_eq!(body(&s, "/back/aa"), "back a");
    assert_eq!(body(&s, "/back/ab"), "default");
    assert_eq!(body(&s, "/i/abc"), "inline-i");
    assert_eq!(body(&s, "/case/AbC"), "case AbC");
    assert_eq!(body(&s, "/q/xxyy"), "q=xx p=yy");
    // `$10` is `$1` then `0`; a group that took no part is empty.
    assert_eq!(body(&s, "/g/a"), "x=[a] y=[] 1=[a] 2=[] 10=[a0]");
    assert_eq!(body(&s, "/g/b"), "x=[] y=[b] 1=[] 2=[b] 10=[0]");
    s.assert_clean_log();
}

/// A `server_name` regex's named and numbered captures, usable in the server; a location
/// regex without groups leaves `$1` empty; a log format written before the regex may use
/// the name.
#[test]
fn server_name_captures_become_variables() {
    let s = start_block(
        r#"log_format sub '[$sub]';
           server { listen 127.0.0.1:PORT;
                    server_name ~^(?<sub>[^.]+)\.example\.com$ ~^(www\.)?(.+)\.org$;
                    access_log logs/sub.log sub;
                    location = /show { return 200 "sub=$sub 1=$1 2=$2"; }
                    location ~ ^/nogroup { return 200 "sub=$sub 1=[$1]"; } }
           server { listen 127.0.0.1:PORT default_server; server_name _;
                    location / { return 200 "default sub=[$sub]"; } }"#,
    );
    assert_eq!(
        get(&s, "foo.example.com", "/show", "t"),
        (200, "sub=foo 1=foo 2=".into())
    );
    assert_eq!(get(&s, "www.abc.org", "/show", "t").1, "sub= 1=www. 2=abc");
    // The host is matched lowercased, as nginx does.
    assert_eq!(
        get(&s, "FOO.Example.COM", "/show", "t").1,
        "sub=foo 1=foo 2="
    );
    assert_eq!(
        get(&s, "foo.example.com", "/nogroup", "t").1,
        "sub=foo 1=[]"
    );
    assert_eq!(get(&s, "other.test", "/", "t").1, "default sub=[]");
    assert!(s.wait_for(2, || s.prefix.read("logs/sub.log").contains("[foo]")));
    s.assert_clean_log();
}

#[test]
fn if_with_look_behind_and_named_captures() {
    let s = start(
        r#"location /ua {
               if ($http_user_agent ~* "(?<!bot)x(?<tail>.*)") { return 200 "match tail=$tail 1=$1"; }
               return 200 "miss tail=[$tail]";
           }
           location /seg { if ($uri ~ ^/seg/(?<seg>[^/]+)) { set $copy $seg; } return 200 "$seg|$copy"; }"#,
    );
    assert_eq!(get(&s, "localhost", "/ua", "Xyz").1, "match tail=yz 1=yz");
    assert_eq!(get(&s, "localhost", "/ua", "RoBoTxyz").1, "miss tail=[]");
    assert_eq!(
        get(&s, "localhost", "/ua", "robot-xa").1,
        "match tail=a 1=a"
    );
    assert_eq!(body(&s, "/seg/one/two"), "one|one");
    s.assert_clean_log();
}

#[test]
fn rewrite_named_captures_and_captures_after_internal_redirect() {
    let s = start(
        r#"location /rw { rewrite ^/rw/(?<id>\d+)(/.*)?$ /show?id=$id&rest=$2 last; }
           location /show { return 200 "id=$id args=$args"; }
           location ~ ^/redir(.*)$ { try_files /nonexistent /target; }
           location /target { return 200 "after redirect 1=[$1]"; }
           location ~ ^/a/(?<n>[0-9]+)$ { set $n "$n-set"; return 200 "n=$n"; }"#,
    );
    assert_eq!(body(&s, "/rw/42/a/b"), "id=42 args=id=42&rest=/a/b");
    // nginx keeps the captures across an internal redirect.
    assert_eq!(body(&s, "/redirxyz"), "after redirect 1=[xyz]");
    // A named capture and `set` share one variable.
    assert_eq!(body(&s, "/a/12"), "n=12-set");
}

#[test]
fn bad_patterns_fail_the_test_with_nginx_messages() {
    let (code, err) = test_config(
        "",
        "server { listen 127.0.0.1:1;\n location ~ \"^/(a\" { } }",
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("pcre2_compile() failed: missing closing parenthesis in \"^/(a\" in ")
            && err.contains("t.conf:5"),
        "{err}"
    );
    let (_, err) = test_config("", "server { listen 127.0.0.1:1; server_name \"~a)b\"; }");
    assert!(
        err.contains("pcre2_compile() failed: unmatched closing parenthesis in \"a)b\" at \")b\""),
        "{err}"
    );
    let (_, err) = test_config(
        "",
        "server { listen 127.0.0.1:1; location / { rewrite \"(?<uri>.*)\" /x; } }",
    );
    assert!(err.contains("the duplicate \"uri\" variable"), "{err}");
    let (code, err) = test_config("pcre_jit maybe;", "");
    assert_ne!(code, 0);
    assert!(
        err.contains(
            "invalid value \"maybe\" in \"pcre_jit\" directive, it must be \"on\" or \"off\""
        ),
        "{err}"
    );
    let (_, err) = test_config("", "pcre_jit on;");
    assert!(
        err.contains("\"pcre_jit\" directive is not allowed here"),
        "{err}"
    );
}

#[test]
fn pcre_jit_off_matches_alike() {
    let dir = Prefix::new();
    let port = common::free_port();
    let conf = format!(
        "{}pcre_jit off;\nhttp {{ server {{ listen 127.0.0.1:{port};
           location ~* (?:^|/)\\.(?!well-known\\/) {{ return 403; }}
           location ~ ^/(?<word>\\w+)$ {{ return 200 \"w=$word\"; }} }} }}\n",
        common::main_preamble(1)
    );
    dir.write("conf/portico.conf", conf);
    let s = Server::spawn(dir, port);
    assert_eq!(get(&s, "localhost", "/.env", "t").0, 403);
    assert_eq!(body(&s, "/hello"), "w=hello");
    s.assert_clean_log();
}
