//! The command line, as nginx 1.22's: `-v`, `-V`, `-h`, `-t`, `-T`, `-q`, `-g`, `-p`, `-c`,
//! `-e`, `-s`, and its error messages word for word.

mod common;

use common::*;
use std::time::Duration;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs portico from the prefix with `args` (nothing added); (exit code, stdout, stderr).
fn run_raw(cwd: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(bin())
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run portico");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A prefix whose `conf/t.conf` is `text`; returns it with the file's full path.
fn prefix_with_conf(text: &str) -> (Prefix, String) {
    let prefix = Prefix::new();
    prefix.write("conf/t.conf", text);
    let file = prefix.path("conf/t.conf").display().to_string();
    (prefix, file)
}

const GOOD_CONF: &str =
    "events {}\nhttp {\n    server {\n        listen 127.0.0.1:8080;\n    }\n}\n";
const BAD_CONF: &str = "events {}\nhttp {\n    server {\n        lsten 8080;\n    }\n}\n";

#[test]
fn dash_v_prints_the_version_on_stderr() {
    let (code, out, err) = run_raw(&std::env::temp_dir(), &["-v"]);
    assert_eq!(code, 0);
    assert_eq!(out, "");
    assert_eq!(err, format!("portico version: portico/{VERSION}\n"));
}

#[test]
fn dash_capital_v_lists_configure_arguments() {
    let (code, out, err) = run_raw(&std::env::temp_dir(), &["-V"]);
    assert_eq!(code, 0);
    assert_eq!(out, "");
    assert!(
        err.starts_with(&format!("portico version: portico/{VERSION}\n")),
        "{err}"
    );
    let configure = err
        .lines()
        .find(|l| l.starts_with("configure arguments:"))
        .unwrap_or_else(|| panic!("no configure line: {err}"));
    let args: Vec<&str> = configure.split(' ').collect();
    assert!(args.contains(&"--without-http_ssi_module"), "{configure}");
    // gzip is there: its tests in nginx's suite run, gzip_static's and gunzip's too.
    assert!(!args.contains(&"--without-http_gzip_module"), "{configure}");
    assert!(
        args.contains(&"--with-http_gzip_static_module"),
        "{configure}"
    );
    assert!(args.contains(&"--with-http_gunzip_module"), "{configure}");
}

#[test]
fn dash_h_and_question_mark_print_usage() {
    for flag in ["-h", "-?"] {
        let (code, out, err) = run_raw(&std::env::temp_dir(), &[flag]);
        assert_eq!(code, 0, "{flag}");
        assert_eq!(out, "", "{flag}");
        let mut lines = err.lines();
        assert_eq!(
            lines.next(),
            Some(format!("portico version: portico/{VERSION}").as_str())
        );
        assert_eq!(
            lines.next(),
            Some("Usage: portico [-?hvVtTq] [-s signal] [-p prefix]")
        );
        assert_eq!(
            lines.next(),
            Some("               [-e filename] [-c filename] [-g directives]")
        );
        // nginx indents the option lines by two spaces.
        for want in [
            "  -?,-h         : this help",
            "  -t            : test configuration and exit",
            "  -s signal     : send signal to a master process: stop, quit, reopen, reload",
            "  -g directives : set global directives out of configuration file",
        ] {
            assert!(
                err.lines().any(|l| l == want),
                "{flag}: missing line {want:?} in:\n{err}"
            );
        }
    }
}

#[test]
fn unknown_flag_is_refused() {
    let dir = std::env::temp_dir();
    // nginx names only the offending character, even inside a bundle.
    for (args, want) in [
        (&["-x"][..], "portico: invalid option: \"x\"\n"),
        (&["-tx"][..], "portico: invalid option: \"x\"\n"),
        (&["-xy"][..], "portico: invalid option: \"x\"\n"),
        (&["foo"][..], "portico: invalid option: \"foo\"\n"),
    ] {
        let (code, out, err) = run_raw(&dir, args);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (1, "", want),
            "{args:?}"
        );
    }
}

#[test]
fn missing_or_bad_option_values_are_refused_in_nginx_words() {
    let dir = std::env::temp_dir();
    for (args, want) in [
        (&["-c"][..], "portico: option \"-c\" requires file name\n"),
        (&["-e"][..], "portico: option \"-e\" requires file name\n"),
        (
            &["-p"][..],
            "portico: option \"-p\" requires directory name\n",
        ),
        (&["-g"][..], "portico: option \"-g\" requires parameter\n"),
        (&["-s"][..], "portico: option \"-s\" requires parameter\n"),
        (
            &["-s", "bogus"][..],
            "portico: invalid option: \"-s bogus\"\n",
        ),
    ] {
        let (code, _, err) = run_raw(&dir, args);
        assert_eq!((code, err.as_str()), (1, want), "{args:?}");
    }
}

#[test]
fn dash_t_on_a_good_config() {
    let (prefix, file) = prefix_with_conf(GOOD_CONF);
    let (code, out, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/t.conf"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!(
            "portico: the configuration file {file} syntax is ok\nportico: configuration file {file} test is successful\n"
        )
    );
}

#[test]
fn dash_t_on_a_bad_config() {
    let (prefix, file) = prefix_with_conf(BAD_CONF);
    let (code, out, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/t.conf"]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!(
            "portico: [emerg] unknown directive \"lsten\" in {file}:4\nportico: configuration file {file} test failed\n"
        )
    );
}

#[test]
fn dash_q_silences_only_the_success_lines() {
    let (prefix, file) = prefix_with_conf(GOOD_CONF);
    let (code, out, err) = run_cli(&prefix.dir, &["-t", "-q", "-c", "conf/t.conf"]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    let (code, _, err) = run_cli(&prefix.dir, &["-tq", "-c", "conf/t.conf"]);
    assert_eq!((code, err.as_str()), (0, ""), "bundled -tq");

    prefix.write("conf/t.conf", BAD_CONF);
    let (code, _, err) = run_cli(&prefix.dir, &["-t", "-q", "-c", "conf/t.conf"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "portico: [emerg] unknown directive \"lsten\" in {file}:4\nportico: configuration file {file} test failed\n"
        )
    );
}

#[test]
fn dash_capital_t_dumps_every_file_read() {
    let main_text = "events {}\nhttp {\n    include inc/*.conf;\n}\n";
    let (prefix, file) = prefix_with_conf(main_text);
    let inc_text = "server {\n    listen 127.0.0.1:8080;\n}\n";
    prefix.write("conf/inc/site.conf", inc_text);
    let inc_file = prefix.path("conf/inc/site.conf").display().to_string();
    let (code, out, err) = run_cli(&prefix.dir, &["-T", "-c", "conf/t.conf"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("configuration file {file} test is successful")),
        "{err}"
    );
    assert_eq!(
        out,
        format!(
            "# configuration file {file}:\n{main_text}\n# configuration file {inc_file}:\n{inc_text}\n"
        )
    );
}

#[test]
fn dash_g_sets_main_directives() {
    let prefix = Prefix::new();
    let port = free_port();
    prefix.write(
        "conf/portico.conf",
        format!(
            "error_log logs/error.log info;\npid logs/portico.pid;\nevents {{}}\n\
             http {{\n    server {{\n        listen 127.0.0.1:{port};\n    }}\n}}\n"
        ),
    );
    prefix.write("html/index.html", "hello\n");
    let dir = prefix.dir.clone();
    let s = Running(Server::spawn_args(
        prefix,
        port,
        &dir,
        &[
            "-p",
            dir.to_str().unwrap(),
            "-c",
            "conf/portico.conf",
            "-g",
            "daemon off; worker_processes 2;",
        ],
    ));
    assert!(
        s.wait_for(5, || s.worker_pids().len() == 2),
        "workers: {:?}",
        s.worker_pids()
    );
    assert_eq!(s.get("/").text(), "hello\n");
    s.assert_clean_log();
}

#[test]
fn dash_g_duplicating_the_file_is_an_error() {
    let (prefix, file) = prefix_with_conf("events {}\nworker_processes 1;\n");
    let (code, _, err) = run_cli(
        &prefix.dir,
        &["-t", "-c", "conf/t.conf", "-g", "worker_processes 2;"],
    );
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "portico: [emerg] \"worker_processes\" directive is duplicate in {file}:2\nportico: configuration file {file} test failed\n"
        )
    );
}

#[test]
fn dash_g_errors_are_located_in_the_command_line() {
    let (prefix, file) = prefix_with_conf("events {}\n");
    let (code, _, err) = run_cli(&prefix.dir, &["-t", "-c", "conf/t.conf", "-g", "bogus on;"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "portico: [emerg] unknown directive \"bogus\" in command line\nportico: configuration file {file} test failed\n"
        )
    );
}

#[test]
fn dash_p_resolves_relative_paths_against_the_prefix() {
    // Run from the prefix's parent with a relative -p and -c: `include` resolves against the
    // configuration file's folder; root, pid and logs against the prefix.
    let prefix = Prefix::new();
    let port = free_port();
    prefix.write(
        "conf/sub/site.conf",
        "daemon off;\nworker_processes 1;\nerror_log logs/main-error.log info;\npid logs/site.pid;\nevents {}\n\
         http {\n    include site.inc;\n}\n",
    );
    prefix.write("conf/sub/site.inc", format!("server {{\n    listen 127.0.0.1:{port};\n    root www;\n    access_log logs/site-access.log;\n}}\n"));
    prefix.write("www/index.html", "from www\n");
    let parent = prefix.dir.parent().unwrap().to_path_buf();
    let rel = prefix
        .dir
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let s = Running(Server::spawn_args(
        prefix,
        port,
        &parent,
        &["-p", &rel, "-c", "conf/sub/site.conf"],
    ));

    let r = s.get("/");
    assert_eq!((r.status, r.text().as_str()), (200, "from www\n"));
    assert_eq!(
        s.prefix.read("logs/site.pid").trim(),
        s.master_pid().to_string()
    );
    assert!(
        s.wait_for(5, || s
            .prefix
            .read("logs/site-access.log")
            .contains("\"GET / HTTP/1.1\" 200")),
        "access log: {:?}",
        s.prefix.read("logs/site-access.log")
    );
    assert!(
        s.prefix
            .read("logs/main-error.log")
            .contains("start worker process"),
        "{}",
        s.prefix.read("logs/main-error.log")
    );
    assert!(!parent.join("logs/site.pid").exists() && !parent.join("www").exists());

    let log = s.prefix.read("logs/main-error.log");
    assert!(
        !log.contains("[alert]") && !log.contains("[emerg]"),
        "{log}"
    );
}

#[test]
fn dash_t_names_the_file_as_the_prefix_spells_it() {
    // nginx joins a relative -p and -c without making them absolute.
    let prefix = Prefix::new();
    prefix.write("conf/t.conf", GOOD_CONF);
    let parent = prefix.dir.parent().unwrap().to_path_buf();
    let rel = prefix
        .dir
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let (code, _, err) = run_raw(&parent, &["-p", &rel, "-t", "-c", "conf/t.conf"]);
    assert_eq!(code, 0, "{err}");
    let file = format!("{rel}/conf/t.conf");
    assert_eq!(
        err,
        format!(
            "portico: the configuration file {file} syntax is ok\nportico: configuration file {file} test is successful\n"
        )
    );
}

#[test]
fn dash_e_names_the_startup_error_log() {
    let (prefix, file) = prefix_with_conf(BAD_CONF);
    let (code, _, err) = run_cli(
        &prefix.dir,
        &["-e", "logs/startup.log", "-t", "-c", "conf/t.conf"],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("[emerg] unknown directive \"lsten\" in {file}:4")),
        "{err}"
    );
    let startup = prefix.read("logs/startup.log");
    assert!(
        startup.contains("[emerg] ")
            && startup.contains(&format!("unknown directive \"lsten\" in {file}:4")),
        "-e logs/startup.log should receive the start-up error; it holds {startup:?}"
    );
}

/// Runs `-s SIGNAL` against a running test server: it succeeds with one line on stdout
/// (tests/control.rs checks each line).
fn dash_s(s: &Server, signal: &str) {
    let (code, out, err) = run_cli(&s.prefix.dir, &["-c", "conf/portico.conf", "-s", signal]);
    assert_eq!((code, err.as_str()), (0, ""), "-s {signal}: {out}");
    assert!(
        out.starts_with(&format!("{signal}: ")) && out.ends_with('\n') && out.lines().count() == 1,
        "-s {signal}: {out:?}"
    );
}

fn wait_master_exit(s: &mut Server, secs: u64) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if let Some(st) = s.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn dash_s_reload_rereads_the_config() {
    let s = Running(Server::start_with(
        1,
        "server { listen 127.0.0.1:PORT; root html; }",
        |p| {
            p.write("html/index.html", "one\n");
            p.write("html2/index.html", "two\n");
        },
    ));
    let before = s.worker_pids();
    let conf = s
        .prefix
        .read("conf/portico.conf")
        .replace("root html;", "root html2;");
    s.prefix.write("conf/portico.conf", conf);
    dash_s(&s, "reload");
    assert!(
        s.wait_for(5, || s.get("/").text() == "two\n"),
        "reload not applied"
    );
    assert!(
        s.wait_for(5, || s.worker_pids().iter().all(|p| !before.contains(p))),
        "old workers remain: {:?} vs {before:?}",
        s.worker_pids()
    );
    assert!(
        s.error_log().contains("signal 1 (SIGHUP) received"),
        "{}",
        s.error_log()
    );
    s.assert_clean_log();
}

#[test]
fn dash_s_reopen_reopens_logs() {
    let s = Running(Server::start(
        "server { listen 127.0.0.1:PORT; root html; }",
    ));
    std::fs::rename(
        s.prefix.path("logs/access.log"),
        s.prefix.path("logs/access.log.1"),
    )
    .expect("rename");
    dash_s(&s, "reopen");
    assert!(
        s.wait_for(5, || s.prefix.path("logs/access.log").exists()),
        "access.log not recreated"
    );
    assert!(
        s.wait_for(5, || s.error_log().contains("reopening logs")),
        "{}",
        s.error_log()
    );
    s.assert_clean_log();
}

#[test]
fn dash_s_quit_and_stop_end_the_master() {
    for signal in ["quit", "stop"] {
        let mut s = Running(Server::start(
            "server { listen 127.0.0.1:PORT; root html; }",
        ));
        dash_s(&s, signal);
        let status = wait_master_exit(&mut s, 5)
            .unwrap_or_else(|| panic!("-s {signal}: master still running"));
        assert!(status.success(), "-s {signal}: {status}");
        assert!(
            !s.prefix.path("logs/portico.pid").exists(),
            "-s {signal}: pid file left behind"
        );
        s.assert_clean_log();
    }
}

#[test]
fn dash_s_without_a_pid_file() {
    let (prefix, _) = prefix_with_conf(&format!("pid logs/portico.pid;\n{GOOD_CONF}"));
    let pid_file = prefix.path("logs/portico.pid").display().to_string();
    for signal in ["reload", "quit", "stop", "reopen"] {
        let (code, _, err) = run_cli(&prefix.dir, &["-c", "conf/t.conf", "-s", signal]);
        // Portico's own status for "no master" (nginx exits 1 after the same open() line).
        assert_eq!(code, 3, "{signal}");
        assert_eq!(
            err,
            format!(
                "{signal}: no master process is running: open() \"{pid_file}\" failed (2: No such file or directory)\n"
            ),
            "{signal}"
        );
    }
}

#[test]
fn dash_s_with_a_stale_pid_file() {
    let (prefix, _) = prefix_with_conf(&format!("pid logs/portico.pid;\n{GOOD_CONF}"));
    let pid_max: i32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(32768);
    let dead = (2..pid_max)
        .rev()
        .find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
        .expect("a free pid");
    prefix.write("logs/portico.pid", format!("{dead}\n"));
    let (code, _, err) = run_cli(&prefix.dir, &["-c", "conf/t.conf", "-s", "reload"]);
    assert_eq!(code, 4);
    let pid_file = prefix.path("logs/portico.pid").display().to_string();
    assert_eq!(
        err,
        format!(
            "reload: stale pid file \"{pid_file}\": no process {dead} (the master process is not running)\n"
        )
    );
}
