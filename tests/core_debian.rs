//! Debian's stock `/etc/nginx` (where `apt-get install nginx` put it), as a new user starts
//! it: `-t` passes, its TLS lines included (and with them commented out); a `load_module`
//! line in `modules-enabled` is refused with the reason; with those lines commented out the
//! default site is served. Everything happens in
//! a copy under a temporary directory; the test does nothing where nginx is not installed.

mod common;

use std::path::Path;

use common::{Prefix, Server, run_cli};

/// A copy of /etc/nginx in `prefix/etc`, its own paths pointing into the copy, the logs,
/// pid file and listen port moved into the prefix.
fn copy_etc_nginx(prefix: &Prefix, port: u16) -> Option<String> {
    let etc = Path::new("/etc/nginx");
    if !etc.join("nginx.conf").exists() || !etc.join("sites-available/default").exists() {
        return None;
    }
    let dir = prefix.dir.to_string_lossy().into_owned();
    let copy = format!("{dir}/etc");
    let status = std::process::Command::new("cp")
        .args(["-rL", "/etc/nginx", &copy])
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    let edit = |rel: &str, f: &dyn Fn(String) -> String| {
        let path = format!("{copy}/{rel}");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(&path, f(text)).unwrap_or_else(|e| panic!("{path}: {e}"));
    };
    edit("nginx.conf", &|t| {
        t.replace("/etc/nginx", &copy)
            .replace("/var/log/nginx", &format!("{dir}/logs"))
            .replace("pid /run/nginx.pid;", &format!("pid {dir}/logs/nginx.pid;"))
    });
    for site in ["sites-enabled/default", "sites-available/default"] {
        edit(site, &|t| {
            t.replace(
                "listen 80 default_server;",
                &format!("listen 127.0.0.1:{port} default_server;"),
            )
            .replace("listen [::]:80 default_server;", "")
        });
    }
    Some(copy)
}

#[test]
fn debian_stock_configuration() {
    let prefix = Prefix::new();
    let port = common::free_port();
    let Some(copy) = copy_etc_nginx(&prefix, port) else {
        return;
    };
    let conf = format!("{copy}/nginx.conf");
    let text = std::fs::read_to_string(&conf).unwrap_or_default();
    // As shipped, TLS lines (`ssl_protocols`, `ssl_prefer_server_ciphers`) included, it
    // passes: the ssl module is built in (issue 15).
    let (code, _, stderr) = run_cli(&prefix.dir, &["-t", "-c", &conf]);
    assert_eq!(code, 0, "{stderr}");
    // The TLS and gzip lines commented out, it passes too.
    let plain: String = text
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("ssl_") || t.starts_with("gzip") {
                format!("# {l}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&conf, &plain).unwrap_or_else(|e| panic!("{e}"));
    let (code, _, stderr) = run_cli(&prefix.dir, &["-t", "-c", &conf]);
    assert_eq!(code, 0, "{stderr}");
    // A dynamic module as Debian's libnginx-mod-* packages enable them.
    let module = format!("{copy}/modules-enabled/50-mod-http-geoip.conf");
    std::fs::write(&module, "load_module modules/ngx_http_geoip_module.so;\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let (code, _, stderr) = run_cli(&prefix.dir, &["-t", "-c", &conf]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("ngx_http_geoip_module.so\": Portico has no dynamic modules; built in: ")
            && stderr.contains("http_gzip, ")
            && stderr.contains("50-mod-http-geoip.conf:1"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(&module);
    // The default site, served as nginx serves it.
    if !Path::new("/var/www/html").is_dir() {
        return;
    }
    let dir = prefix.dir.clone();
    let server = Server::spawn_args(prefix, port, &dir, &["-c", &conf, "-g", "daemon off;"]);
    let index = std::fs::read_dir("/var/www/html")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned());
    let r = server.get("/");
    if let Some(name) = index.filter(|n| n.starts_with("index")) {
        let expected = std::fs::read(format!("/var/www/html/{name}")).unwrap_or_default();
        assert_eq!(
            (r.status, r.body.clone()),
            (200, expected),
            "{}",
            common::show(&r)
        );
    }
    assert_eq!(server.get("/no-such-page").status, 404);
}
