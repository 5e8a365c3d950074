//! Configuration errors through `portico -t`, each worded as nginx words it and located
//! `in FILE:LINE`; and the shipped configurations, which must pass `-t`.

mod common;

use common::*;

/// Runs `-t` on `conf/t.conf` holding `text` (plus `extra` files); (exit code, stderr, t.conf's
/// full path, the prefix).
fn test_config(text: &str, extra: &[(&str, &str)]) -> (i32, String, String, Prefix) {
    let prefix = Prefix::new();
    prefix.write("conf/t.conf", text);
    for (path, body) in extra {
        prefix.write(path, body);
    }
    let file = prefix.path("conf/t.conf").display().to_string();
    let (code, out, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/t.conf"]);
    assert_eq!(out, "", "-t writes nothing on stdout");
    (code, err, file, prefix)
}

/// `-t` must fail with exactly `[emerg] MESSAGE in conf/t.conf:LINE`.
fn expect_emerg(text: &str, message: &str, line: usize) {
    let (code, err, file, _prefix) = test_config(text, &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err,
        format!(
            "portico: [emerg] {message} in {file}:{line}\nportico: configuration file {file} test failed\n"
        ),
        "config:\n{text}"
    );
}

#[test]
fn unknown_directive() {
    expect_emerg(
        "events {}\nhttp {\n    server {\n        lsten 80;\n    }\n}\n",
        "unknown directive \"lsten\"",
        4,
    );
}

#[test]
fn directive_in_the_wrong_context() {
    expect_emerg(
        "events {}\nlisten 80;\n",
        "\"listen\" directive is not allowed here",
        2,
    );
    expect_emerg(
        "events {}\nhttp {\n    listen 80;\n}\n",
        "\"listen\" directive is not allowed here",
        3,
    );
    expect_emerg(
        "events {}\nserver {\n}\n",
        "\"server\" directive is not allowed here",
        2,
    );
}

#[test]
fn wrong_number_of_arguments() {
    expect_emerg(
        "events {}\nhttp {\n    server {\n        root;\n    }\n}\n",
        "invalid number of arguments in \"root\" directive",
        4,
    );
    expect_emerg(
        "events {}\nhttp {\n    server {\n        root a b;\n    }\n}\n",
        "invalid number of arguments in \"root\" directive",
        4,
    );
}

#[test]
fn stray_closing_brace() {
    expect_emerg("events {}\n}\n", "unexpected \"}\"", 2);
    // A "}" that ends a directive before its ";".
    expect_emerg(
        "events {}\nhttp {\n    server {\n        listen 80 }\n}\n",
        "unexpected \"}\"",
        4,
    );
}

#[test]
fn stray_semicolon_or_opening_brace() {
    expect_emerg("events {}\nhttp {\n    ;\n}\n", "unexpected \";\"", 3);
    expect_emerg("events {}\nhttp {\n    {\n}\n", "unexpected \"{\"", 3);
}

#[test]
fn end_of_file_inside_a_directive() {
    // nginx counts the line after the last newline: EOF of a three-line file is on line 4.
    expect_emerg(
        "events {}\nhttp {\n    server {\n        listen 80",
        "unexpected end of file, expecting \";\" or \"}\"",
        4,
    );
    expect_emerg(
        "events {}\nhttp {\n    root \"html;\n}\n",
        "unexpected end of file, expecting \";\" or \"}\"",
        5,
    );
}

#[test]
fn end_of_file_inside_a_block() {
    expect_emerg(
        "events {}\nhttp {\n    server {\n    }\n",
        "unexpected end of file, expecting \"}\"",
        5,
    );
}

#[test]
fn block_and_simple_directives_used_the_wrong_way() {
    expect_emerg(
        "events {}\nhttp {\n    server;\n}\n",
        "directive \"server\" has no opening \"{\"",
        3,
    );
    expect_emerg(
        "events {}\nhttp {\n    root html {\n    }\n}\n",
        "directive \"root\" is not terminated by \";\"",
        3,
    );
}

#[test]
fn duplicate_directives() {
    expect_emerg(
        "events {}\nevents {}\n",
        "\"events\" directive is duplicate",
        2,
    );
    expect_emerg(
        "worker_processes 1;\nworker_processes 2;\nevents {}\n",
        "\"worker_processes\" directive is duplicate",
        2,
    );
    expect_emerg(
        "events {}\nhttp {\n    server {\n        root a;\n        root b;\n    }\n}\n",
        "\"root\" directive is duplicate",
        5,
    );
}

#[test]
fn invalid_values() {
    expect_emerg(
        "worker_processes many;\nevents {}\n",
        "\"worker_processes\" directive invalid value",
        1,
    );
    expect_emerg(
        "events {}\nhttp {\n    sendfile maybe;\n}\n",
        "invalid value \"maybe\" in \"sendfile\" directive, it must be \"on\" or \"off\"",
        3,
    );
    expect_emerg(
        "events {}\nhttp {\n    keepalive_timeout soon;\n}\n",
        "\"keepalive_timeout\" directive invalid value",
        3,
    );
    expect_emerg(
        "events {}\nhttp {\n    access_log logs/a.log nosuchformat;\n}\n",
        "unknown log format \"nosuchformat\"",
        3,
    );
}

#[test]
fn duplicate_listen() {
    expect_emerg(
        "events {}\nhttp {\n    server {\n        listen 127.0.0.1:8080;\n        listen 127.0.0.1:8080;\n    }\n}\n",
        "a duplicate listen 127.0.0.1:8080",
        5,
    );
    expect_emerg(
        "events {}\nhttp {\n    server {\n        listen 127.0.0.1:8080 default_server;\n    }\n    server {\n        listen 127.0.0.1:8080 default_server;\n    }\n}\n",
        "a duplicate default server for 127.0.0.1:8080",
        7,
    );
}

#[test]
fn missing_events_section() {
    let (code, err, file, _p) = test_config("http {\n}\n", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "portico: [emerg] no \"events\" section in configuration\nportico: configuration file {file} test failed\n"
        )
    );
}

#[test]
fn error_inside_an_included_file_names_that_file() {
    let (code, err, file, prefix) = test_config(
        "events {}\nhttp {\n    include site.conf;\n}\n",
        &[(
            "conf/site.conf",
            "server {\n    listen 127.0.0.1:8080;\n    bogus on;\n}\n",
        )],
    );
    let inc = prefix.path("conf/site.conf").display().to_string();
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "portico: [emerg] unknown directive \"bogus\" in {inc}:3\nportico: configuration file {file} test failed\n"
        )
    );
}

#[test]
fn missing_include_file() {
    let (code, err, file, prefix) =
        test_config("events {}\nhttp {\n    include missing.conf;\n}\n", &[]);
    let missing = prefix.path("conf/missing.conf").display().to_string();
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "portico: [emerg] open() \"{missing}\" failed (2: No such file or directory) in {file}:3\nportico: configuration file {file} test failed\n"
        )
    );
}

#[test]
fn include_glob_matching_nothing_is_fine() {
    let (code, err, file, _p) =
        test_config("events {}\nhttp {\n    include sites/*.conf;\n}\n", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.ends_with(&format!("configuration file {file} test is successful\n")),
        "{err}"
    );
}

/// Copies the repository's `conf/` into a fresh prefix.
fn prefix_with_shipped_conf() -> Prefix {
    let prefix = Prefix::new();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    for e in std::fs::read_dir(&shipped).expect("conf/").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        prefix.write(
            &format!("conf/{name}"),
            std::fs::read(e.path()).expect("read shipped conf"),
        );
    }
    prefix
}

#[test]
fn shipped_configs_pass_dash_t() {
    let prefix = prefix_with_shipped_conf();
    for name in ["portico.conf", "nginx.conf"] {
        let file = prefix.path(&format!("conf/{name}")).display().to_string();
        let (code, out, err) = run_cli(&prefix.dir, &["-t", "-c", &format!("conf/{name}")]);
        assert_eq!(code, 0, "{name}: {err}");
        assert_eq!(out, "");
        assert_eq!(
            err,
            format!(
                "portico: the configuration file {file} syntax is ok\nportico: configuration file {file} test is successful\n"
            )
        );
    }
    // Without -c the default is conf/portico.conf.
    let (code, _, err) = run_cli(&prefix.dir, &["-t"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!(
            "configuration file {} test is successful",
            prefix.path("conf/portico.conf").display()
        )),
        "{err}"
    );
}

#[test]
fn shipped_portico_conf_dumps_with_mime_types() {
    let prefix = prefix_with_shipped_conf();
    let (code, out, err) = run_cli(&prefix.dir, &["-T"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!(
            "# configuration file {}:\n",
            prefix.path("conf/portico.conf").display()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "\n# configuration file {}:\n",
            prefix.path("conf/mime.types").display()
        )),
        "{out}"
    );
}

#[test]
fn shipped_portico_conf_serves_the_welcome_site_and_proxies_the_demo_backend() {
    // conf/portico.conf as shipped, with its two fixed ports moved to free ones.
    let prefix = prefix_with_shipped_conf();
    for page in ["index.html", "50x.html"] {
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("html")
            .join(page);
        prefix.write(
            &format!("html/{page}"),
            std::fs::read(from).expect("read html"),
        );
    }
    let (site, backend) = (common::free_port(), common::free_port());
    let conf = prefix
        .read("conf/portico.conf")
        .replace(
            "worker_processes  auto;",
            "daemon off;\nworker_processes  auto;",
        )
        .replace(
            "listen       8080;",
            &format!("listen       127.0.0.1:{site};"),
        )
        .replace("listen       [::]:8080;\n", "")
        .replace("8081", &backend.to_string());
    prefix.write("conf/portico.conf", conf);
    prefix.write("logs/.keep", "");
    let server = common::Server::spawn(prefix, site);
    let welcome = server.get("/");
    assert_eq!(welcome.status, 200);
    assert!(welcome.text().contains("Welcome to Portico!"));
    assert_eq!(welcome.header("Content-Type"), Some("text/html"));
    let demo = server.get("/demo/hello?from=test");
    assert_eq!(demo.status, 200, "{}", demo.text());
    assert_eq!(demo.header("Content-Type"), Some("text/plain"));
    let text = demo.text();
    assert!(text.contains("You asked for: /hello?from=test\n"), "{text}");
    assert!(text.contains("X-Real-IP: 127.0.0.1\n"), "{text}");
    assert!(text.contains("X-Forwarded-For: 127.0.0.1\n"), "{text}");
    assert!(text.contains("X-Scheme: http\n"), "{text}");
    server.assert_clean_log();
}
