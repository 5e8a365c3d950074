//! HTTP/2 as far as it goes: the protocol layer is unit-tested in `src/http2`; no listener
//! serves it yet, so `listen ... http2`, `http2 on` and the HTTP/2 knobs are refused with
//! the reason, and what nginx itself ignores is accepted with nginx's warning.

mod common;

use common::Server;

fn check(conf: &str) -> (i32, String) {
    let prefix = common::Prefix::new();
    prefix.write("conf/portico.conf", conf);
    let (code, _, stderr) = common::run_cli(&prefix.dir, &["-t", "-c", "conf/portico.conf"]);
    (code, stderr)
}

#[test]
fn http2_listeners_and_knobs_are_refused_with_the_reason() {
    for (conf, message) in [
        (
            "events {} http { server { listen 127.0.0.1:8080 http2; } }",
            "the \"http2\" parameter is not supported: Portico does not serve HTTP/2 yet in ",
        ),
        (
            "events {} http { server { http2 on; } }",
            "\"http2 on\" is not supported: Portico does not serve HTTP/2 yet",
        ),
        (
            "events {} http { http2 maybe; }",
            "invalid value \"maybe\" in \"http2\" directive, it must be \"on\" or \"off\"",
        ),
        (
            "events {} http { http2_max_concurrent_streams 64; }",
            "\"http2_max_concurrent_streams\" directive is not supported",
        ),
        (
            "events {} http { server { location / { http2_chunk_size 16k; } } }",
            "\"http2_chunk_size\" directive is not supported",
        ),
        (
            "events {} http { http2_body_preread_size 1m; }",
            "\"http2_body_preread_size\" directive is not supported",
        ),
        (
            "events {} http { server { http2_recv_buffer_size 1m; } }",
            "\"http2_recv_buffer_size\" directive is not allowed here",
        ),
    ] {
        let (code, stderr) = check(conf);
        assert_eq!(code, 1, "{conf}");
        assert!(stderr.contains(message), "{conf}: {stderr}");
    }
}

#[test]
fn what_nginx_ignores_is_accepted_with_its_warning() {
    let (code, stderr) = check(
        "events {} http { http2 off; http2_push off; http2_push_preload on;\n\
         http2_max_concurrent_pushes 10; http2_idle_timeout 3m; http2_max_requests 10;\n\
         http2_max_field_size 4k; http2_max_header_size 16k; http2_recv_timeout 30s; }",
    );
    assert_eq!(code, 0, "{stderr}");
    for warning in [
        "the \"http2_push\" directive is obsolete, ignored",
        "the \"http2_push_preload\" directive is obsolete, ignored",
        "the \"http2_idle_timeout\" directive is obsolete, use the \"keepalive_timeout\" directive instead",
        "the \"http2_max_requests\" directive is obsolete, use the \"keepalive_requests\" directive instead",
        "the \"http2_max_field_size\" directive is obsolete, use the \"large_client_header_buffers\" directive instead",
        "the \"http2_recv_timeout\" directive is obsolete, use the \"client_header_timeout\" directive instead",
    ] {
        assert!(stderr.contains(warning), "{warning}: {stderr}");
    }
}

#[test]
fn http2_variable_is_empty_on_http1_connections() {
    let server = Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT; location / { return 200 \"[$http2]\"; } }",
        |_| {},
    );
    assert_eq!(server.get("/").text(), "[]");
}
