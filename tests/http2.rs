//! HTTP/2's configuration: `listen ... http2`, `http2 on` and the knobs, checked as nginx
//! checks them, and what nginx itself ignores accepted with nginx's warning (serving:
//! `tests/http2_served.rs`).

mod common;

use common::Server;

fn check(conf: &str) -> (i32, String) {
    let prefix = common::Prefix::new();
    prefix.write("conf/portico.conf", conf);
    let (code, _, stderr) = common::run_cli(&prefix.dir, &["-t", "-c", "conf/portico.conf"]);
    (code, stderr)
}

#[test]
fn http2_listeners_and_knobs_are_accepted_and_checked_as_nginx_checks_them() {
    let (code, stderr) = check(
        "events {} http { http2_recv_buffer_size 128k; http2_max_concurrent_streams 64;\n\
         http2_body_preread_size 1m; http2_pool_size 4k; http2_streams_index_size 32;\n\
         server { listen 127.0.0.1:8080 http2; http2 on; http2_chunk_size 16k;\n\
         location / { http2_chunk_size 4k; } } }",
    );
    assert_eq!(code, 0, "{stderr}");
    for (conf, message) in [
        (
            "events {} http { http2 maybe; }",
            "invalid value \"maybe\" in \"http2\" directive, it must be \"on\" or \"off\"",
        ),
        (
            "events {} http { server { location / { http2_chunk_size 0; } } }",
            "the http2 chunk size cannot be zero",
        ),
        (
            "events {} http { http2_body_preread_size 3g; }",
            "the maximum body preread buffer size is 2147483647",
        ),
        (
            "events {} http { http2_recv_buffer_size 32; }",
            "\"http2_recv_buffer_size\" directive value is too small",
        ),
        (
            "events {} http { server { http2_recv_buffer_size 1m; } }",
            "\"http2_recv_buffer_size\" directive is not allowed here",
        ),
        (
            "events {} http { http2_streams_index_size 3; }",
            "\"http2_streams_index_size\" directive must be a power of two",
        ),
        (
            "events {} http { http2_pool_size 100; }",
            "the pool size must be a multiple of 16",
        ),
        (
            "events {} http { http2_max_concurrent_streams 1; http2_max_concurrent_streams 2; }",
            "\"http2_max_concurrent_streams\" directive is duplicate",
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
