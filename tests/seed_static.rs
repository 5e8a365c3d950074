//! The seed configuration `conf/nginx.conf`, verbatim except the listen port, the static
//! root and `daemon off`: its static part (`/static/`, `/favicon.ico`, `/robots.txt`, the
//! `if ($query_string) { expires max; }`) behaves as under nginx 1.22.

mod common;

use common::{Prefix, Server, free_port};

fn start_seed() -> Server {
    let prefix = Prefix::new();
    let port = free_port();
    let seed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/conf/nginx.conf"))
        .expect("conf/nginx.conf");
    assert!(seed.contains("listen 80;") && seed.contains("root /var/www;"));
    let www = prefix.path("www");
    let conf = format!(
        "daemon off;\n{}",
        seed.replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
            .replace("root /var/www;", &format!("root {};", www.display()))
    );
    prefix.write("conf/portico.conf", conf);
    prefix.write("www/static/app.js", "console.log(1);\n");
    prefix.write("www/static/favicon.ico", "ICO");
    prefix.write("www/static/robots.txt", "User-agent: *\n");
    Server::spawn(prefix, port)
}

#[test]
fn static_files_from_the_seed_root() {
    let s = start_seed();
    let r = s.get("/static/app.js");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "console.log(1);\n");
    // No `include mime.types` in the seed: nginx's built-in types, else text/plain.
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert!(r.header("ETag").is_some() && r.header("Last-Modified").is_some());
    assert_eq!(r.header("Expires"), None);
    assert_eq!(r.header("Cache-Control"), None);
    assert_eq!(s.get("/static/missing.js").status, 404);
    s.assert_clean_log();
}

#[test]
fn query_string_turns_on_expires_max_with_root_inherited() {
    let s = start_seed();
    let r = s.get("/static/app.js?v=42");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "console.log(1);\n");
    assert_eq!(r.header("Expires"), Some("Thu, 31 Dec 2037 23:55:55 GMT"));
    assert_eq!(r.header("Cache-Control"), Some("max-age=315360000"));
    s.assert_clean_log();
}

#[test]
fn favicon_and_robots_are_rewritten_into_static() {
    let s = start_seed();
    let r = s.get("/favicon.ico");
    assert_eq!((r.status, r.text().as_str()), (200, "ICO"));
    // The rewritten URI is served by `location ^~ /static/` (root /var/www), not by
    // `location /`: the body proves the file came from the seed's static root.
    let r = s.get("/robots.txt");
    assert_eq!((r.status, r.text().as_str()), (200, "User-agent: *\n"));
    let r = s.get("/favicon.ico?x=1");
    assert_eq!(r.header("Cache-Control"), Some("max-age=315360000"));
    s.assert_clean_log();
}
