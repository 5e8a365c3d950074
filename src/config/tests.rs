//! Whole-loader tests: the shipped seed configuration, `-g`, `-T`, and nginx's messages for
//! directive-table errors.

use super::testutil::*;
use super::*;
use std::time::Duration;

/// The seed configuration shipped with the project, verbatim.
const SEED: &str = r#"worker_processes  1; # 开启的worker进程数目

# 全局错误日志以及PID文件
error_log  logs/error.log;
pid        logs/nginx.pid;

events {
    worker_connections  1024;  #单个worker process进程允许的最大连接数目
    use epoll;  #多路复用IO的一种方式，可以大大提高Nginx性能
}

http {
    # Enumerate all the Tornado servers here
    upstream helloworld {
        server 127.0.0.1:8888; #多个server的时候，即实现负载均衡，可以配置相应的权值。
    }

    server {
        listen 80;

        location ^~ /static/ {
            root /var/www;
            if ($query_string) {
                expires max;
            }
        }
        location = /favicon.ico {
            rewrite (.*) /static/favicon.ico;
        }
        location = /robots.txt {
            rewrite (.*) /static/robots.txt;
        }

        location / {
            proxy_pass_header Server;
            proxy_set_header Host $http_host;
            proxy_redirect off;  #关闭重定向
            proxy_set_header X-Real-IP $remote_addr;  #转发ip等http头信息
            proxy_set_header X-Scheme $scheme;
            # 配置反向代理到的后端server，可以使用http://127.0.0.1:8888
            proxy_pass http://helloworld;      #需要与前面匹配
        }
    }
}
"#;

#[test]
fn seed_config_parses_with_key_values() {
    let (result, prefix) = load_in(SEED, None);
    let config = result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.main.worker_processes, 1);
    assert_eq!(config.main.pid, prefix.join("logs/nginx.pid"));
    assert_eq!(
        config.main.error_log,
        vec![ErrorLogConf {
            target: ErrorLogTarget::File(prefix.join("logs/error.log")),
            level: crate::log::LogLevel::Error,
        }]
    );
    assert_eq!(config.events.worker_connections, 1024);
    assert_eq!(config.events.method.as_deref(), Some("epoll"));

    let http = config.http.as_ref().expect("http block");
    assert!(http.deferred.is_empty());
    assert_eq!(http.upstreams.len(), 1);
    let upstream = &http.upstreams[0];
    assert_eq!(upstream.name, "helloworld");
    assert_eq!(upstream.servers.len(), 1);
    assert_eq!(upstream.servers[0].addr.to_string(), "127.0.0.1:8888");
    assert_eq!(upstream.servers[0].weight, 1);
    assert_eq!(http.listens.len(), 1);
    assert_eq!(http.listens[0].addr.to_string(), "0.0.0.0:80");
    assert_eq!(
        http.server_default_for("0.0.0.0:80".parse().unwrap()),
        Some(0)
    );

    let server = &http.servers[0];
    assert!(matches!(&server.names[..], [ServerName::Exact(n)] if n.is_empty()));
    assert_eq!(server.locations.len(), 4);
    let statics = &server.locations[0];
    assert!(matches!(&statics.matcher, LocationMatch::PrefixNoRegex(p) if p == "/static/"));
    assert_eq!(statics.loc.root, PathBuf::from("/var/www"));
    assert!(statics.deferred.is_empty());
    // `if ($query_string) { expires max; }`: a nested location inheriting `root`.
    let [
        crate::config::rewrite_ops::Op::If {
            cond,
            ops,
            loc: Some(if_loc),
        },
    ] = &statics.rewrite[..]
    else {
        panic!("{:?}", statics.rewrite);
    };
    assert!(matches!(
        cond,
        crate::config::rewrite_ops::Condition::Value(crate::vars::Var::QueryString)
    ));
    assert!(ops.is_empty());
    assert_eq!(if_loc.root, PathBuf::from("/var/www"));
    assert_eq!(if_loc.expires, crate::http::expires::Expires::Max);
    assert_eq!(statics.loc.expires, crate::http::expires::Expires::Off);

    assert!(matches!(&server.locations[1].matcher, LocationMatch::Exact(p) if p == "/favicon.ico"));
    assert!(server.locations[1].deferred.is_empty());
    let [
        crate::config::rewrite_ops::Op::Rewrite {
            replacement,
            flag,
            redirect: None,
            ..
        },
    ] = &server.locations[2].rewrite[..]
    else {
        panic!("{:?}", server.locations[2].rewrite);
    };
    assert_eq!(replacement.is_literal(), Some(&b"/static/robots.txt"[..]));
    assert_eq!(*flag, crate::config::rewrite_ops::Flag::None);

    let root = &server.locations[3];
    assert!(matches!(&root.matcher, LocationMatch::Prefix(p) if p == "/"));
    assert!(root.deferred.is_empty());
    assert_eq!(root.loc.proxy_pass_header, ["server"]);
    let set: Vec<&str> = root
        .loc
        .proxy_set_header
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(set, ["Host", "X-Real-IP", "X-Scheme"]);
    assert!(matches!(
        root.loc.proxy_redirect,
        crate::config::proxy_values::ProxyRedirect::Off
    ));
    assert!(matches!(
        &root.loc.proxy_pass,
        Some(crate::config::proxy_values::ProxyPass {
            target: crate::config::proxy_values::ProxyTarget::Fixed { group: 0, host, port: 80, uri: None },
            ..
        }) if &**host == "helloworld"
    ));
    // proxy_pass is not inherited by other locations.
    assert!(server.locations[0].loc.proxy_pass.is_none());
    // Defaults reach every location.
    assert_eq!(root.loc.root, prefix.join("html"));
    assert_eq!(root.loc.keepalive_timeout.0, Duration::from_secs(75));
    assert_eq!(root.loc.access_log.len(), 1);
    assert_eq!(
        root.loc.access_log[0].target.path,
        prefix.join("logs/access.log")
    );
    assert_eq!(root.loc.access_log[0].format.name, "combined");
    assert_eq!(*root.loc.error_log, config.main.error_log);
    assert_eq!(
        root.loc.types.get("html").map(String::as_str),
        Some("text/html")
    );
}

#[test]
fn shipped_conf_files_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        // The gateway parameter files are location snippets, as nginx ships them.
        if name == "fastcgi.conf" || name.ends_with("_params") {
            let prefix = temp_dir();
            let file = prefix.join("conf/nginx.conf");
            let text = format!(
                "events {{}}\nhttp {{ server {{ location / {{ include {}; }} }} }}\n",
                path.display()
            );
            if let Err(e) = load_str(text.as_bytes(), &file, &prefix) {
                panic!("{}: {e}", path.display());
            }
            continue;
        }
        if path.extension().is_some_and(|e| e == "conf") {
            let opts = LoadOptions {
                file: path.clone(),
                prefix: temp_dir(),
                globals: None,
                error_log: None,
            };
            if let Err(e) = load(&opts) {
                panic!("{}: {e}", path.display());
            }
        }
    }
}

#[test]
fn load_str_reads_text_as_the_main_file() {
    let prefix = temp_dir();
    let file = prefix.join("conf/nginx.conf");
    let text = b"worker_processes 3;\nevents {}\nhttp { server { listen 127.0.0.1:8081; } }\n";
    let config = load_str(text, &file, &prefix).unwrap();
    assert_eq!(config.main.worker_processes, 3);
    assert_eq!(config.file, file);
    assert_eq!(config.sources.len(), 1);
    assert!(!file.exists(), "nothing is read or written");
    let err = load_str(b"events {}\nhttp {", &file, &prefix).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "unexpected end of file, expecting \"}}\" in {}:2",
            file.display()
        )
    );
}

#[test]
fn defaults_without_directives() {
    let (result, prefix) = load_in("events {}", None);
    let config = result.unwrap();
    assert!(config.main.daemon && config.main.master_process);
    assert_eq!(config.main.worker_processes, 1);
    assert_eq!(config.main.pid, prefix.join("logs/portico.pid"));
    assert_eq!(config.main.user, None);
    assert_eq!(config.events.worker_connections, DEFAULT_WORKER_CONNECTIONS);
    assert!(config.http.is_none());
    assert_eq!(config.file, prefix.join("conf/nginx.conf"));
}

#[test]
fn missing_events_is_reported_without_location() {
    let (result, _) = load_in("worker_processes 2;", None);
    assert_eq!(
        result.unwrap_err().to_string(),
        "no \"events\" section in configuration"
    );
}

#[test]
fn table_errors_in_nginx_words() {
    let (result, prefix) = load_in(
        "events {}\nhttp {\n  server {\n    lsten 80;\n  }\n}\n",
        None,
    );
    let want = format!(
        "unknown directive \"lsten\" in {}:4",
        prefix.join("conf/nginx.conf").display()
    );
    assert_eq!(result.unwrap_err().to_string(), want);
    assert_eq!(
        load_err("events {}\nlisten 80;"),
        "\"listen\" directive is not allowed here"
    );
    assert_eq!(
        load_err(&http("root;")),
        "invalid number of arguments in \"root\" directive"
    );
    assert_eq!(
        load_err("events {}\nhttp {}\nhttp {}"),
        "\"http\" directive is duplicate"
    );
    assert_eq!(
        load_err("events {}\nhttp;"),
        "directive \"http\" has no opening \"{\""
    );
    assert_eq!(
        load_err("events {}\ndaemon off { }"),
        "directive \"daemon\" is not terminated by \";\""
    );
    assert_eq!(load_err("events {}\n}"), "unexpected \"}\"");
    assert_eq!(
        load_err("events {"),
        "unexpected end of file, expecting \"}\""
    );
    assert_eq!(
        load_err("events {}\ndaemon off"),
        "unexpected end of file, expecting \";\" or \"}\""
    );
    assert_eq!(
        load_err("events { worker_connections x; }"),
        "invalid number \"x\""
    );
    assert_eq!(
        load_err("events { use kqueue; }"),
        "invalid event type \"kqueue\""
    );
    assert_eq!(
        load_err("events {}\nevents {}"),
        "\"events\" directive is duplicate"
    );
    assert_eq!(
        load_err("events {}\ndaemon off;daemon on;"),
        "\"daemon\" directive is duplicate"
    );
    assert_eq!(
        load_err("events {}\ndaemon yes;"),
        "invalid value \"yes\" in \"daemon\" directive, it must be \"on\" or \"off\""
    );
    assert_eq!(
        load_err("events {}\nworker_processes x;"),
        "\"worker_processes\" directive invalid value"
    );
    assert_eq!(
        load_err(&http("keepalive_timeout abc;")),
        "\"keepalive_timeout\" directive invalid value"
    );
    assert_eq!(
        load_err(&http("server { listen foo.invalid:80; }")),
        "host not found in \"foo.invalid:80\" of the \"listen\" directive"
    );
}

#[test]
fn main_context_directives() {
    let config = load_ok(
        "daemon off; master_process off; worker_processes auto; worker_rlimit_nofile 4096;\n\
         worker_cpu_affinity 0001 0010; worker_shutdown_timeout 10s; user nobody nogroup;\n\
         pid off; events { multi_accept on; accept_mutex on; }",
    );
    let main = &config.main;
    assert!(!main.daemon && !main.master_process);
    assert!(main.worker_processes >= 1);
    assert_eq!(main.worker_rlimit_nofile, Some(4096));
    assert_eq!(
        main.worker_cpu_affinity,
        CpuAffinity::Masks(vec![CpuSet::of([0]), CpuSet::of([1])])
    );
    assert_eq!(main.worker_shutdown_timeout, Some(Duration::from_secs(10)));
    assert_eq!(main.pid, PathBuf::new());
    assert!(config.events.multi_accept && config.events.accept_mutex);
    let affinity = |a: &str| {
        load_ok(&format!("worker_cpu_affinity {a}; events {{}}"))
            .main
            .worker_cpu_affinity
    };
    assert_eq!(affinity("auto"), CpuAffinity::Auto(None));
    assert_eq!(
        affinity("auto 1100"),
        CpuAffinity::Auto(Some(CpuSet::of([2, 3])))
    );
    assert_eq!(
        load_err("worker_cpu_affinity 01x; events {}"),
        "invalid character \"x\" in \"worker_cpu_affinity\""
    );
}

#[test]
fn globals_apply_first_and_report_command_line() {
    let (result, _) = load_in("events {}", Some("daemon off; worker_processes 3;"));
    let config = result.unwrap();
    assert!(!config.main.daemon);
    assert_eq!(config.main.worker_processes, 3);
    let (result, prefix) = load_in("daemon on;\nevents {}", Some("daemon off;"));
    let want = format!(
        "\"daemon\" directive is duplicate in {}:1",
        prefix.join("conf/nginx.conf").display()
    );
    assert_eq!(result.unwrap_err().to_string(), want);
    let (result, _) = load_in("events {}", Some("lsten 80;"));
    assert_eq!(
        result.unwrap_err().to_string(),
        "unknown directive \"lsten\" in command line"
    );
    let (result, _) = load_in("events {}", Some("http { }"));
    assert_eq!(
        result.unwrap_err().to_string(),
        "block directives are not supported in -g option in command line"
    );
}

#[test]
fn dump_lists_every_file_once() {
    let prefix = temp_dir();
    let conf = prefix.join("conf");
    std::fs::write(conf.join("mime.types"), "types { text/html html; }\n").unwrap();
    std::fs::write(
        conf.join("nginx.conf"),
        "events {}\nhttp { include mime.types; include mime.types; }",
    )
    .unwrap();
    let opts = LoadOptions {
        file: "conf/nginx.conf".into(),
        prefix: prefix.clone(),
        globals: None,
        error_log: None,
    };
    let text = dump(&opts).unwrap();
    let want = format!(
        "# configuration file {}:\nevents {{}}\nhttp {{ include mime.types; include mime.types; }}\n\
         # configuration file {}:\ntypes {{ text/html html; }}\n\n",
        conf.join("nginx.conf").display(),
        conf.join("mime.types").display()
    );
    assert_eq!(text, want);
    std::fs::write(conf.join("nginx.conf"), "events {}\nhttp { lsten; }").unwrap();
    assert!(dump(&opts).is_err());
}

#[test]
fn missing_main_file() {
    let opts = LoadOptions {
        file: "/nonexistent/portico.conf".into(),
        prefix: temp_dir(),
        globals: None,
        error_log: None,
    };
    assert_eq!(
        load(&opts).unwrap_err().to_string(),
        "open() \"/nonexistent/portico.conf\" failed (2: No such file or directory)"
    );
}

/// nginx's stock `nginx.conf` (comments trimmed) with a small `mime.types`.
#[test]
fn stock_nginx_conf_parses() {
    let prefix = temp_dir();
    let conf = prefix.join("conf");
    std::fs::write(
        conf.join("mime.types"),
        "\ntypes {\n    text/html                                        html htm shtml;\n    \
         application/vnd.openxmlformats-officedocument.wordprocessingml.document    docx;\n}\n",
    )
    .unwrap();
    let text = "worker_processes  1;\n#error_log  logs/error.log  notice;\n#pid        logs/nginx.pid;\n\n\
        events {\n    worker_connections  1024;\n}\n\nhttp {\n    include       mime.types;\n    \
        default_type  application/octet-stream;\n    #log_format  main  '$remote_addr - $remote_user [$time_local] \"$request\" '\n    \
        sendfile        on;\n    #tcp_nopush     on;\n    keepalive_timeout  65;\n    #gzip  on;\n\n    \
        server {\n        listen       80;\n        server_name  localhost;\n\n        \
        location / {\n            root   html;\n            index  index.html index.htm;\n        }\n\n        \
        error_page   500 502 503 504  /50x.html;\n        location = /50x.html {\n            root   html;\n        }\n    }\n}\n";
    std::fs::write(conf.join("nginx.conf"), text).unwrap();
    let opts = LoadOptions {
        file: "conf/nginx.conf".into(),
        prefix: prefix.clone(),
        globals: None,
        error_log: None,
    };
    let config = load(&opts).unwrap_or_else(|e| panic!("{e}"));
    let server = &config.http.as_ref().unwrap().servers[0];
    assert!(matches!(&server.names[..], [ServerName::Exact(n)] if n == "localhost"));
    let root = &server.locations[0].loc;
    assert_eq!(
        root.types.get("shtml").map(String::as_str),
        Some("text/html")
    );
    assert_eq!(root.types.get("docx").map(|s| s.len()), Some(71));
    assert_eq!(root.default_type, "application/octet-stream");
    assert_eq!(root.keepalive_timeout.0, Duration::from_secs(65));
    let names: Vec<_> = root.index.iter().filter_map(|t| t.is_literal()).collect();
    assert_eq!(names, [&b"index.html"[..], b"index.htm"]);
    assert!(server.deferred.is_empty());
    let pages: Vec<u16> = server.loc.error_page.iter().map(|p| p.status).collect();
    assert_eq!(pages, [500, 502, 503, 504]);
    assert_eq!(
        server.locations[0]
            .loc
            .error_page_for(502)
            .map(|p| p.uri.is_literal()),
        Some(Some(&b"/50x.html"[..]))
    );
    assert_eq!(config.sources.len(), 2);
}

#[test]
fn a_zone_keyed_on_binary_remote_addr_alone_is_marked_for_the_direct_read() {
    let prefix = temp_dir();
    let file = prefix.join("conf/nginx.conf");
    let text = b"events {}\nhttp {\n\
        limit_req_zone $binary_remote_addr zone=a:1m rate=1r/s;\n\
        limit_req_zone $binary_remote_addr$uri zone=b:1m rate=1r/s;\n\
        limit_conn_zone $remote_addr zone=c:1m;\n\
        server { listen 127.0.0.1:8081; } }\n";
    let config = load_str(text, &file, &prefix).unwrap();
    let http = config.http.as_ref().unwrap();
    let marked: Vec<(&str, bool)> = http
        .zones
        .iter()
        .map(|z| (z.name.as_str(), z.key_is_binary_remote_addr))
        .collect();
    assert_eq!(marked, [("a", true), ("b", false), ("c", false)]);
}
