//! `access_log` as nginx's log module writes it: `if=`, `buffer=` with `flush=`, `gzip=`,
//! paths with variables (after the check that the document root exists) and
//! `open_log_file_cache`; and the parameters it refuses.

mod common;

use common::{Prefix, Server, run_cli};

fn start(http_body: &str) -> Server {
    Server::start_with(1, http_body, |p| {
        p.write("html/index.html", "home");
    })
}

#[test]
fn if_buffer_and_named_logs() {
    let server = start(
        "log_format short '$uri $status';\n\
         server { listen 127.0.0.1:PORT; server_name localhost;\n\
           location /if { access_log logs/if.log short if=$arg_log; return 200; }\n\
           location /buf { access_log logs/buf.log short buffer=64k flush=1s; return 200; }\n\
           location /named { access_log logs/n-$arg_f.log short; return 200; }\n\
           location /cached { open_log_file_cache max=4; access_log logs/c-$arg_f.log short; return 200; }\n\
           location /noroot { root /no/such/dir; access_log logs/x-$arg_f.log short; return 200; } }",
    );
    for uri in ["/if?log=1", "/if", "/if?log=0", "/if?log=yes"] {
        assert_eq!(server.get(uri).status, 200);
    }
    assert!(server.wait_for(5, || server.prefix.read("logs/if.log").lines().count() == 2));
    assert_eq!(server.prefix.read("logs/if.log"), "/if 200\n/if 200\n");

    assert_eq!(server.get("/buf").status, 200);
    // Kept in the buffer at first, written within the flush time.
    assert_eq!(server.prefix.read("logs/buf.log"), "");
    assert!(server.wait_for(5, || server.prefix.read("logs/buf.log") == "/buf 200\n"));

    for f in ["a", "b", "a"] {
        assert_eq!(server.get(&format!("/named?f={f}")).status, 200);
        assert_eq!(server.get(&format!("/cached?f={f}")).status, 200);
    }
    assert!(
        server.wait_for(5, || server.prefix.read("logs/n-a.log").lines().count()
            == 2)
    );
    assert!(
        server.wait_for(5, || server.prefix.read("logs/c-a.log").lines().count()
            == 2)
    );
    assert_eq!(server.prefix.read("logs/n-b.log"), "/named 200\n");
    assert_eq!(
        server.prefix.read("logs/c-a.log"),
        "/cached 200\n/cached 200\n"
    );
    // No file where the request's root does not exist, as nginx.
    assert_eq!(server.get("/noroot?f=z").status, 200);
    assert!(server.wait_for(5, || server.error_log().contains(
        "testing \"/no/such/dir\" existence failed (2: No such file or directory)"
    )));
    assert!(!server.prefix.path("logs/x-z.log").exists());
}

#[test]
fn buffered_lines_are_written_at_stop() {
    let mut server = start(
        "server { listen 127.0.0.1:PORT; server_name localhost;\n\
           access_log logs/b.log combined buffer=64k; location / { return 200; } }",
    );
    assert_eq!(server.get("/x").status, 200);
    assert_eq!(server.prefix.read("logs/b.log"), "");
    server.stop();
    assert!(
        server
            .prefix
            .read("logs/b.log")
            .contains("\"GET /x HTTP/1.1\" 200")
    );
}

#[test]
fn access_log_parameters_are_checked_as_nginx() {
    let cases = [
        (
            "access_log a.log combined gzip=10;",
            "invalid compression level \"10\"",
        ),
        (
            "access_log a.log combined gzip; access_log a.log combined gzip=5;",
            "access_log \"a.log\" already defined with conflicting parameters",
        ),
        (
            "access_log a.log combined buffer=0;",
            "invalid buffer size \"0\"",
        ),
        (
            "access_log a.log combined flush=1s;",
            "no buffer is defined for access_log \"a.log\"",
        ),
        (
            "access_log a.log combined buffer=4k flush=0;",
            "invalid flush time \"0\"",
        ),
        (
            "access_log $host.log combined buffer=4k;",
            "buffered logs cannot have variables in name",
        ),
        (
            "access_log a.log combined buffer=4k; access_log a.log combined buffer=8k;",
            "access_log \"a.log\" already defined with conflicting parameters",
        ),
        (
            "open_log_file_cache inactive=1s;",
            "\"open_log_file_cache\" must have \"max\" parameter",
        ),
        (
            "open_log_file_cache max=x;",
            "invalid \"open_log_file_cache\" parameter \"max=x\"",
        ),
    ];
    for (body, message) in cases {
        let prefix = Prefix::new();
        prefix.write(
            "conf/portico.conf",
            format!("events {{}}\nhttp {{ {body} }}\n"),
        );
        let (code, _, stderr) = run_cli(&prefix.dir, &["-t", "-c", "conf/portico.conf"]);
        assert_eq!(code, 1, "{body}");
        assert!(stderr.contains(message), "{body}: {stderr}");
    }
}

#[test]
fn gzip_logs_are_gzip_members() {
    // nginx's ngx_http_log_gzip: every buffer written is a gzip member; zcat reads the
    // file whole. `gzip` alone gets a 64k buffer, so nothing is written before the stop.
    let mut server = start(
        "log_format short '$uri $status';\n\
         server { listen 127.0.0.1:PORT; server_name localhost;\n\
           location / { access_log logs/gz.log short gzip=9; return 200; } }",
    );
    for uri in ["/a", "/b"] {
        assert_eq!(server.get(uri).status, 200);
    }
    assert_eq!(server.prefix.read("logs/gz.log"), "");
    server.stop();
    let raw = std::fs::read(server.prefix.path("logs/gz.log")).expect("gz.log");
    assert_eq!(raw.get(..2), Some(&[0x1f, 0x8b][..]), "not gzip: {raw:?}");
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(server.prefix.path("logs/gz.log"))
        .output()
        .expect("gzip -dc");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/a 200\n/b 200\n");
}

#[test]
fn a_log_file_that_cannot_be_opened_leaves_the_cache_alone() {
    // nginx's ngx_open_cached_file caches (and evicts for) only files it opened: with two
    // files kept open, a failed open pushes neither out, so both keep their descriptors
    // when their directory is renamed away.
    let server = start(
        "log_format short '$uri $status';\n\
         server { listen 127.0.0.1:PORT; server_name localhost;\n\
           location / { open_log_file_cache max=2 min_uses=1;\n\
             access_log logs/$arg_d/c-$arg_f.log short; return 200; } }",
    );
    // Writable by the workers, whoever they run as.
    let dir = server.prefix.path("logs/d");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let open = std::os::unix::fs::PermissionsExt::from_mode(0o777);
    std::fs::set_permissions(&dir, open).expect("chmod");
    for query in ["d=d&f=a", "d=d&f=b", "d=none&f=x"] {
        assert_eq!(server.get(&format!("/?{query}")).status, 200);
    }
    let moved = server.prefix.path("logs/moved");
    std::fs::rename(server.prefix.path("logs/d"), &moved).expect("rename");
    for query in ["d=d&f=a", "d=d&f=b"] {
        assert_eq!(server.get(&format!("/?{query}")).status, 200);
    }
    for f in ["a", "b"] {
        let path = moved.join(format!("c-{f}.log"));
        assert!(
            server.wait_for(5, || std::fs::read_to_string(&path)
                .is_ok_and(|t| t.lines().count() == 2)),
            "{f}: {:?}",
            std::fs::read_to_string(&path)
        );
    }
}
