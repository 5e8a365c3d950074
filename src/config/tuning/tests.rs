use super::*;
use crate::config::testutil::{http, load_err, load_in, load_ok};

fn warnings(text: &str) -> Vec<String> {
    match load_in(text, None).0 {
        Ok(config) => config.warnings.iter().map(|w| w.message.clone()).collect(),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn knobs_parse_and_check_as_nginx() {
    load_ok(&http(
        "variables_hash_max_size 2048; variables_hash_bucket_size 128;\n\
         server_names_hash_max_size 1024; server_names_hash_bucket_size 128;\n\
         types_hash_max_size 2048; types_hash_bucket_size 64; connection_pool_size 1k;\n\
         request_pool_size 8k; output_buffers 4 64k; postpone_output 0; read_ahead 1m;\n\
         subrequest_output_buffer_size 8k; directio_alignment 4k;\n\
         server { connection_pool_size 256; location / { types_hash_max_size 512; } }",
    ));
    assert_eq!(
        load_err(&http("connection_pool_size 100;")),
        "the pool size must be no less than 112"
    );
    assert_eq!(
        load_err(&http("request_pool_size 120;")),
        "the pool size must be a multiple of 16"
    );
    assert_eq!(
        load_err(&http("types_hash_max_size big;")),
        "\"types_hash_max_size\" directive invalid number"
    );
    assert_eq!(
        load_err(&http("output_buffers 0 32k;")),
        "\"output_buffers\" directive invalid value"
    );
    assert_eq!(
        load_err(&http(
            "server_names_hash_max_size 1; server_names_hash_max_size 2;"
        )),
        "\"server_names_hash_max_size\" directive is duplicate"
    );
    assert_eq!(
        load_err(&http("server { variables_hash_max_size 1; }")),
        "\"variables_hash_max_size\" directive is not allowed here"
    );
    assert_eq!(
        load_err(&http(
            "server { large_client_header_buffers 4 256; connection_pool_size 512; }"
        )),
        "the \"large_client_header_buffers\" size must be equal to or greater than \
         \"connection_pool_size\""
    );
}

#[test]
fn hashes_fail_where_nginx_cannot_build_them() {
    let long = "a".repeat(58);
    let two_servers = |names: &str, knobs: &str| {
        http(&format!(
            "{knobs} server {{ listen 127.0.0.1:8001; server_name {names}; }}\n\
             server {{ listen 127.0.0.1:8001; server_name b; }}"
        ))
    };
    assert_eq!(
        load_err(&two_servers(&format!("{long}.com"), "")),
        "could not build server_names_hash, you should increase \
         server_names_hash_bucket_size: 64"
    );
    // One server on an address builds no hash, as in nginx.
    load_ok(&http(&format!(
        "server {{ listen 127.0.0.1:8001; server_name {long}.com; }}"
    )));
    load_ok(&two_servers(
        &format!("{long}.com"),
        "server_names_hash_bucket_size 128;",
    ));
    assert_eq!(
        load_err(&two_servers("a", "server_names_hash_max_size 0;")),
        "could not build server_names_hash, you should increase server_names_hash_max_size: 0"
    );
    assert_eq!(
        warnings(&two_servers(
            "a c d e f g h i j k l m n o p q r s t u",
            "server_names_hash_max_size 1;"
        )),
        [
            "could not build optimal server_names_hash, you should increase either \
          server_names_hash_max_size: 1 or server_names_hash_bucket_size: 64; ignoring \
          server_names_hash_bucket_size"
        ]
    );
    assert_eq!(
        warnings(&two_servers("b", "")),
        ["conflicting server name \"b\" on 127.0.0.1:8001, ignored"]
    );
    assert_eq!(
        load_err(&http("variables_hash_max_size 0;")),
        "could not build variables_hash, you should increase variables_hash_max_size: 0"
    );
    assert_eq!(
        load_err(&http("variables_hash_bucket_size 100000;")),
        "could not build variables_hash, too large variables_hash_bucket_size: 100032"
    );
    assert_eq!(
        load_err(&http("types_hash_bucket_size 100000; server {}")),
        "could not build types_hash, too large types_hash_bucket_size: 100032"
    );
}

#[test]
fn types_hash_matches_nginx_on_debian_mime_types() {
    // nginx 1.22 warns with mime.types and types_hash_max_size 10 (Debian sets 2048 in its
    // stock nginx.conf because older mime.types needed more than the default).
    let mime = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/conf/mime.types"))
        .unwrap_or_default();
    let config = format!("types_hash_max_size 10; {mime} server {{}}");
    assert_eq!(
        warnings(&http(&config)),
        [
            "could not build optimal types_hash, you should increase either \
          types_hash_max_size: 10 or types_hash_bucket_size: 64; ignoring \
          types_hash_bucket_size"
        ]
    );
    assert!(warnings(&http(&format!("{mime} server {{}}"))).is_empty());
    assert!(warnings(&http(&format!("types_hash_max_size 10; {mime}"))).is_empty());
}

#[test]
fn hash_init_is_ngx_hash_init() {
    let key = |s: &str| Key {
        hash: hash_key(s.as_bytes(), false),
        len: s.len(),
    };
    assert_eq!(hash_key(b"ab", false), 97 * 31 + 98);
    assert_eq!(hash_key(b"AB", true), hash_key(b"ab", false));
    assert_eq!(elt_size(0), 16);
    assert_eq!(elt_size(6), 16);
    assert_eq!(elt_size(7), 24);
    assert_eq!(hash_init("h", &[key("x")], 1, 64), Ok(None));
    assert!(hash_init("h", &[key(&"x".repeat(47))], 512, 64).is_err());
    assert_eq!(hash_init("h", &[key(&"x".repeat(46))], 512, 64), Ok(None));
}
