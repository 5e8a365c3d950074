//! `root` and `alias` with variables, as nginx 1.22 evaluates them per request: `set`
//! values, `$host`, regex captures in an alias, a relative result taken from the prefix,
//! `$document_root`, `$realpath_root` and `$request_filename`, and `try_files` under an
//! alias (nginx's `ngx_http_map_uri_to_path` and `ngx_http_try_files_handler`).

mod common;

use common::{Prefix, Server, show};

/// A server with `server_body` (where `PREFIX` stands for the prefix directory) and a few
/// files under the prefix.
fn start(server_body: &str) -> Server {
    let block = format!(
        "default_type text/plain;\nserver {{\n listen 127.0.0.1:PORT;\n server_name localhost;\n{server_body}\n}}"
    );
    Server::start_with(1, &block, |p: &Prefix| {
        let conf = p.read("conf/portico.conf");
        p.write(
            "conf/portico.conf",
            conf.replace("PREFIX", &p.dir.to_string_lossy()),
        );
        p.write("sites/a/page.txt", "site a\n");
        p.write("sites/b/page.txt", "site b\n");
        p.write("sites/localhost/page.txt", "site localhost\n");
        p.write("images/x.png", "png x\n");
        p.write("directory/alias-re.html", "SEE THIS");
        p.write("found.html", "FOUND");
    })
}

#[test]
fn root_with_variables_is_evaluated_per_request() {
    let server = start(
        "location /v/ { set $site a; if ($arg_site) { set $site $arg_site; }\n\
           root PREFIX/sites/$site/; rewrite ^/v/(.*)$ /$1 break; }\n\
         location /rel/ { set $d sites/b; root $d; rewrite ^/rel/(.*)$ /$1 break;\n\
           add_header X-Root $document_root; add_header X-Real $realpath_root;\n\
           add_header X-File $request_filename; }\n\
         location /host/ { root PREFIX/sites/$host; rewrite ^/host/(.*)$ /$1 break; }",
    );
    let dir = server.prefix.dir.to_string_lossy().into_owned();
    let r = server.get("/v/page.txt");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "site a\n"),
        "{}",
        show(&r)
    );
    let r = server.get("/v/page.txt?site=b");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "site b\n"),
        "{}",
        show(&r)
    );
    // A value starting with a variable that evaluates to a relative path is taken from the
    // prefix, per request.
    let r = server.get("/rel/page.txt");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "site b\n"),
        "{}",
        show(&r)
    );
    assert_eq!(r.header("X-Root"), Some(format!("{dir}/sites/b").as_str()));
    assert_eq!(r.header("X-Real"), Some(format!("{dir}/sites/b").as_str()));
    assert_eq!(
        r.header("X-File"),
        Some(format!("{dir}/sites/b/page.txt").as_str())
    );
    let r = server.request(b"GET /host/page.txt HTTP/1.0\r\nHost: LocalHost\r\n\r\n");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "site localhost\n"),
        "{}",
        show(&r)
    );
    server.assert_clean_log();
}

#[test]
fn alias_with_captures_and_try_files() {
    let server = start(
        "location ~ ^/img/(.+)\\.png$ { alias PREFIX/images/$1.png; }\n\
         location ~ /alias-re.html { alias PREFIX/directory; try_files $uri =404; }\n\
         location /alias-nested/ { alias PREFIX/; location ~ html { try_files $uri =404; } }\n\
         location /va/ { set $base PREFIX/sites; alias $base/; }",
    );
    let r = server.get("/img/x.png");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "png x\n"),
        "{}",
        show(&r)
    );
    let r = server.get("/alias-re.html");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "SEE THIS"),
        "{}",
        show(&r)
    );
    let r = server.get("/alias-nested/found.html");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "FOUND"),
        "{}",
        show(&r)
    );
    let r = server.get("/va/a/page.txt");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "site a\n"),
        "{}",
        show(&r)
    );
}

#[test]
fn root_refuses_its_own_variables() {
    for (directive, var) in [
        ("root $document_root/x", "document_root"),
        ("root ${realpath_root}", "realpath_root"),
        ("location /a { alias $document_root/a; }", "document_root"),
    ] {
        let name = if directive.contains("alias") {
            "alias"
        } else {
            "root"
        };
        let prefix = Prefix::new();
        let directive = if directive.ends_with("; }") {
            directive.to_string()
        } else {
            format!("{directive};")
        };
        prefix.write(
            "conf/portico.conf",
            format!("events {{}}\nhttp {{ server {{ {directive} }} }}\n"),
        );
        let (code, _, stderr) = common::run_cli(&prefix.dir, &["-t", "-c", "conf/portico.conf"]);
        assert_eq!(code, 1);
        assert!(
            stderr.contains(&format!(
                "the ${var} variable cannot be used in the \"{name}\" directive"
            )),
            "{stderr}"
        );
    }
}
