//! The charset module over real sockets: `Content-Type` gets `; charset=` as nginx 1.22's
//! charset filter adds it (types, statuses, variables, upstreams with and without their own
//! charset), and `charset_map` recodes bodies from files (in memory and streamed), generated
//! answers and upstreams, before gzip.

mod common;

use std::process::Command;

use common::{Prefix, Server};

const MAP: &str = "charset_map B A { 58 59; 80 81; }";

fn site(extra: &str) -> String {
    format!(
        "{MAP}
        server {{
            listen 127.0.0.1:PORT;
            root html;
            location / {{ charset utf-8; }}
            location /var/ {{ charset $arg_c; return 200 \"x\"; }}
            location /moved {{ charset utf-8; return 302 /elsewhere; }}
            location /plain/ {{ charset utf-8; default_type text/plain; return 200 \"hi\"; }}
            location /bin/ {{ charset utf-8; default_type application/octet-stream; return 200 \"b\"; }}
            location /rec/ {{ charset A; source_charset B; }}
            location /recgz/ {{ charset A; source_charset B; gzip on; gzip_min_length 1; }}
            location /gen/ {{ charset A; source_charset B; default_type text/html; return 200 \"XXaX\"; }}
            location /up/ {{ proxy_pass http://127.0.0.1:PORT/rec/; }}
            location /over/ {{ charset B; override_charset on; proxy_pass http://127.0.0.1:PORT/rec/; }}
            {extra}
        }}"
    )
}

fn start() -> Server {
    Server::start_with(1, &site(""), |p| {
        p.write("html/t.html", "hello");
        p.write("html/rec/small.html", b"XXX-\x80\xc2");
        p.write("html/rec/big.html", "X".repeat(200_000));
        p.write("html/recgz/big.html", "X".repeat(50_000));
    })
}

#[test]
fn charset_is_added_to_the_types_and_statuses_nginx_adds_it_to() {
    let server = start();
    let r = server.get("/t.html");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let r = server.get("/missing.html");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let r = server.get("/plain/");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let r = server.get("/bin/");
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    // No charset on a redirect (nginx's ngx_http_set_charset).
    let r = server.get("/moved");
    assert_eq!(r.status, 302);
    assert_eq!(r.header("content-type"), Some("text/html"));
    // A variable, its value compared case-insensitively with the names configured.
    let r = server.get("/var/?c=koi8-r");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=koi8-r"));
    let r = server.get("/var/?c=UTF-8");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
}

#[test]
fn charset_map_recodes_files_generated_answers_and_upstreams() {
    let server = start();
    let r = server.get("/rec/small.html");
    assert_eq!(r.header("content-type"), Some("text/html; charset=A"));
    assert_eq!(r.body, b"YYY-\x81?");
    assert_eq!(r.header("content-length"), Some("6"));
    let r = server.get("/rec/big.html");
    assert_eq!(r.body.len(), 200_000);
    assert!(r.body.iter().all(|&b| b == b'Y'));
    let r = server.get("/gen/");
    assert_eq!(r.body, b"YYaY");
    // The upstream says charset=A: kept as it is without override_charset...
    let r = server.get("/up/small.html");
    assert_eq!(r.header("content-type"), Some("text/html; charset=A"));
    assert_eq!(r.body, b"YYY-\x81?");
    // ...and recoded back from A to B with it.
    let r = server.get("/over/big.html");
    assert_eq!(r.header("content-type"), Some("text/html; charset=B"));
    assert_eq!(r.body.len(), 200_000);
    assert!(r.body.iter().all(|&b| b == b'X'));
    server.assert_clean_log();
}

#[test]
fn recoding_comes_before_gzip() {
    let server = start();
    let r = server.request(
        b"GET /recgz/big.html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let out = common::python_gunzip(&r.body);
    assert_eq!(out.len(), 50_000);
    assert!(out.iter().all(|&b| b == b'Y'));
}

fn check(conf: &str) -> (bool, String) {
    let prefix = Prefix::new();
    for table in ["koi-win", "koi-utf", "win-utf"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("conf")
            .join(table);
        prefix.write(
            &format!("conf/{table}"),
            std::fs::read(path).expect("nginx's table"),
        );
    }
    prefix.write(
        "conf/portico.conf",
        format!("{}http {{ {conf} }}\n", common::main_preamble(1)),
    );
    let out = Command::new(common::bin())
        .arg("-t")
        .arg("-p")
        .arg(prefix.path(""))
        .arg("-c")
        .arg("conf/portico.conf")
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_charset_maps_fail_the_test_as_in_nginx() {
    let (ok, err) = check("charset_map A a { 58 59; }");
    assert!(!ok);
    assert!(
        err.contains("\"charset_map\" between the same charsets \"A\" and \"a\""),
        "{err}"
    );
    let (ok, err) = check("charset_map A B { 5G 59; }");
    assert!(!ok);
    assert!(err.contains("invalid value \"5G\""), "{err}");
    let (ok, err) =
        check("server { listen 127.0.0.1:1; location / { charset A; source_charset B; } }");
    assert!(!ok);
    assert!(
        err.contains("no \"charset_map\" between the charsets \"B\" and \"A\""),
        "{err}"
    );
    // Recoding to and from UTF-8 is built (tests/charset_utf8.rs).
    let (ok, err) = check(
        "include koi-utf; server { listen 127.0.0.1:1; location / { charset utf-8; source_charset koi8-r; } }",
    );
    assert!(ok, "{err}");
    let (ok, err) = check("include koi-win; include koi-utf; include win-utf;");
    assert!(ok, "nginx's own tables load: {err}");
}

#[test]
fn an_upstream_x_accel_charset_is_the_destination_charset() {
    let server = Server::start_with(
        1,
        &site(
            "location /xa-src/ { add_header X-Accel-Charset A; default_type text/html; return 200 \"XX\"; }
             location /xa-unknown-src/ { add_header X-Accel-Charset Z; default_type text/html; return 200 \"XX\"; }
             location /xa/ { proxy_pass http://127.0.0.1:PORT/xa-src/; }
             location /xa-rec/ { source_charset B; proxy_pass http://127.0.0.1:PORT/xa-src/; }
             location /xa-unknown/ { charset B; proxy_pass http://127.0.0.1:PORT/xa-unknown-src/; }
             location /xa-ignored/ { proxy_ignore_headers X-Accel-Charset;
                                     proxy_pass http://127.0.0.1:PORT/xa-src/; }",
        ),
        |_| {},
    );
    // Without `charset` in the location: the upstream's charset labels the response, and
    // the field itself is not passed on.
    let r = server.get("/xa/");
    assert_eq!(r.header("content-type"), Some("text/html; charset=A"));
    assert_eq!(r.header("x-accel-charset"), None);
    assert_eq!(r.body, b"XX");
    // With a source charset, the body is recoded to it.
    let r = server.get("/xa-rec/");
    assert_eq!(r.header("content-type"), Some("text/html; charset=A"));
    assert_eq!(r.body, b"YY");
    // A charset the configuration does not name: logged, the response left alone (the
    // location's own `charset` included), as nginx does.
    let r = server.get("/xa-unknown/");
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(
        server.error_log().contains("[error] ")
            && server
                .error_log()
                .contains("unknown charset \"Z\" to override")
    );
    let r = server.get("/xa-ignored/");
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.body, b"XX");
}
