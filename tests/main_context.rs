//! The main and events contexts against the real binary: what a worker process gets (`env`,
//! `worker_priority`, `worker_rlimit_core`, `working_directory`, a core file where the
//! operator said), `error_log` to syslog and per location, `debug_connection` for one
//! client only, `timer_resolution`'s cached `$msec`, the environment of a new binary, and
//! nginx's refusals of bad values at `-t`.

mod common;

use common::*;
use std::net::{TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Writes `main` (main-context lines, `PORT` replaced) with an http block serving `server`
/// on a free port, starts it with `env` added to the environment, and waits for one worker.
fn start_env(main: &str, server: &str, env: &[(&str, &str)]) -> Server {
    let prefix = Prefix::new();
    let port = free_port();
    let conf = format!(
        "daemon off;\nworker_processes 1;\nerror_log logs/error.log info;\npid logs/portico.pid;\n\
         {main}\nhttp {{\n    server {{\n        listen 127.0.0.1:{port};\n{server}\n    }}\n}}\n"
    )
    .replace("PORT", &port.to_string());
    prefix.write("conf/portico.conf", conf);
    let child = Command::new(bin())
        .arg("-p")
        .arg(&prefix.dir)
        .args(["-c", "conf/portico.conf"])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn portico");
    let s = Server {
        prefix,
        port,
        child: Some(child),
    };
    assert!(
        s.wait_for(10, || s.worker_pids().len() == 1
            && TcpStream::connect(("127.0.0.1", port)).is_ok()),
        "did not start:\n{}",
        s.error_log()
    );
    s
}

fn start(main: &str, server: &str) -> Server {
    start_env(main, server, &[])
}

fn worker(s: &Server) -> i32 {
    s.worker_pids()[0]
}

fn proc_file(pid: i32, name: &str) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/{name}")).unwrap_or_default())
        .into_owned()
}

/// Field `n` (1-based, as proc(5) numbers them) of /proc/PID/stat.
fn stat_field(pid: i32, n: usize) -> String {
    let stat = proc_file(pid, "stat");
    let rest = stat.rsplit_once(')').map_or("", |x| x.1);
    rest.split_whitespace()
        .nth(n - 3)
        .unwrap_or_default()
        .to_string()
}

/// A world-writable folder in the prefix (workers run as nobody).
fn open_dir(s: &Server, rel: &str) -> std::path::PathBuf {
    let dir = s.prefix.path(rel);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    dir
}

#[test]
fn a_worker_sees_only_tz_and_what_env_names() {
    let s = start_env(
        "env FOO=bar;\nenv KEEPME;\nenv MISSING;\nevents {}",
        "",
        &[("KEEPME", "yes"), ("OTHER", "no"), ("TZ", "UTC")],
    );
    let environ = proc_file(worker(&s), "environ");
    let vars: Vec<&str> = environ.split('\0').filter(|v| !v.is_empty()).collect();
    assert_eq!(vars, ["FOO=bar", "KEEPME=yes", "TZ=UTC"], "{environ:?}");
    // The master keeps the environment it was started with, as nginx's.
    let master = proc_file(s.master_pid(), "cmdline");
    assert!(master.starts_with("portico: master process"), "{master:?}");
    assert_eq!(s.get("/x").status, 404);
    s.assert_clean_log();
}

#[test]
fn priority_core_limit_and_directory_show_in_proc() {
    let prefix_dir = Prefix::new();
    let crash = prefix_dir.path("crash");
    std::fs::create_dir_all(&crash).expect("mkdir");
    std::fs::set_permissions(&crash, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let s = start(
        &format!(
            "worker_priority 7;\nworker_rlimit_core 500M;\nworking_directory {};\nevents {{}}",
            crash.display()
        ),
        "",
    );
    let w = worker(&s);
    assert_eq!(stat_field(w, 19), "7", "nice value");
    let limits = proc_file(w, "limits");
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap_or_default();
    assert_eq!(
        core.split_whitespace().collect::<Vec<_>>()[4..7],
        ["524288000", "524288000", "bytes"],
        "{core}"
    );
    assert_eq!(
        std::fs::read_link(format!("/proc/{w}/cwd")).ok(),
        Some(crash.clone())
    );
    // The master's own priority does not change: it keeps the one it was started with
    // (this test's, which `nice cargo test` raises).
    assert_eq!(
        stat_field(s.master_pid(), 19),
        stat_field(std::process::id() as i32, 19)
    );
    s.assert_clean_log();
}

#[test]
fn a_crashing_worker_leaves_its_core_in_the_working_directory() {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    if pattern.starts_with('|') || pattern.contains('/') {
        eprintln!("skipped: core files go to {pattern:?}, not the working directory");
        return;
    }
    let s = start("worker_rlimit_core 2g;\nevents {}", "");
    let dir = open_dir(&s, "cores");
    // working_directory must exist when the configuration is loaded: reload onto it.
    s.prefix.write(
        "conf/portico.conf",
        s.prefix.read("conf/portico.conf").replace(
            "worker_rlimit_core 2g;",
            &format!(
                "worker_rlimit_core 2g;\nworking_directory {};",
                dir.display()
            ),
        ),
    );
    let old = worker(&s);
    s.signal(libc::SIGHUP);
    assert!(s.wait_for(10, || {
        let w = s.worker_pids();
        w.len() == 1 && w[0] != old
    }));
    let w = worker(&s);
    // SIGABRT: a SIGSEGV sent by kill(2) is not a fault, and Rust's handler lets it pass.
    // SAFETY: kill(2) on a worker of this test's server.
    unsafe { libc::kill(w, libc::SIGABRT) };
    let has_core = || {
        std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("core"))
            })
            .unwrap_or(false)
    };
    assert!(
        s.wait_for(20, || has_core()
            && s.error_log().contains(&format!(
                "worker process {w} exited on signal 6 (core dumped)"
            ))),
        "no core file in {}:\n{}",
        dir.display(),
        s.error_log()
    );
    // The master replaced the worker.
    assert!(s.wait_for(10, || s.worker_pids().len() == 1));
    assert_eq!(s.get("/x").status, 404);
}

/// A request to the server on `port` from the loopback address `from`.
fn get_from(from: &str, port: u16, path: &str) -> Option<Response> {
    let mut s = connect_from(from.parse().ok()?, port)?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    send(
        &mut s,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    read_response(&mut s, false)
}

/// A connection to 127.0.0.1:`port` from address `from` (std cannot bind before connect).
fn connect_from(from: std::net::Ipv4Addr, port: u16) -> Option<TcpStream> {
    use std::os::fd::FromRawFd;
    let sin = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let (local, remote) = (sin(from, 0), sin(std::net::Ipv4Addr::LOCALHOST, port));
    // SAFETY: a new socket, owned by the stream at once, bound and connected with valid
    // sockaddr_in values.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return None;
        }
        let stream = TcpStream::from_raw_fd(fd);
        if libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len) != 0
            || libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len) != 0
        {
            return None;
        }
        Some(stream)
    }
}

#[test]
fn debug_connection_logs_the_listed_client_only() {
    let s = start(
        "events { debug_connection 127.0.0.2; }",
        "        location / { return 200 \"ok\\n\"; }",
    );
    let port = s.port;
    let listed = get_from("127.0.0.2", port, "/listed").expect("request from 127.0.0.2");
    assert_eq!(listed.status, 200);
    let other = get_from("127.0.0.1", port, "/other").expect("request from 127.0.0.1");
    assert_eq!(other.status, 200);
    assert!(s.wait_for(5, || s.error_log().contains("close http connection")));
    std::thread::sleep(Duration::from_millis(100));
    let log = s.error_log();
    let debug: Vec<&str> = log.lines().filter(|l| l.contains("[debug]")).collect();
    let accept = debug
        .iter()
        .find(|l| l.contains(" accept: 127.0.0.2:"))
        .unwrap_or_else(|| panic!("no accept line:\n{log}"));
    // Every debug line is that connection's: `*N` is the same on all of them.
    let conn = accept
        .split_whitespace()
        .find(|w| w.starts_with('*'))
        .expect("connection number");
    assert!(debug.iter().all(|l| l.contains(conn)), "{log}");
    for wanted in [
        "http request line: \"GET /listed HTTP/1.1\"",
        "http header: \"Host: x\"",
        "http finalize request: 200, \"/listed\"",
        "close http connection",
    ] {
        assert!(
            debug.iter().any(|l| l.contains(wanted)),
            "no {wanted}:\n{log}"
        );
    }
    assert!(!log.contains("/other"), "{log}");
    s.assert_clean_log();
}

/// The datagrams `socket` receives within `secs` (each as text).
fn datagrams(socket: &UdpSocket, secs: u64) -> Vec<String> {
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while std::time::Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        } else if !out.is_empty() {
            break;
        }
    }
    out
}

#[test]
fn error_log_syslog_sends_rfc3164_lines_to_the_server() {
    let main_sink = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let loc_sink = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let (main_port, loc_port) = (
        main_sink.local_addr().unwrap().port(),
        loc_sink.local_addr().unwrap().port(),
    );
    let s = start(
        &format!("error_log syslog:server=127.0.0.1:{main_port} notice;\nevents {{}}"),
        &format!(
            "        location /tagged {{ error_log syslog:server=127.0.0.1:{loc_port},facility=user,tag=SEETHIS; }}\n\
             location /bare {{ error_log syslog:server=127.0.0.1:{loc_port},nohostname; }}"
        ),
    );
    let started = datagrams(&main_sink, 5);
    let hostname = nix::unistd::gethostname()
        .expect("hostname")
        .to_string_lossy()
        .to_ascii_lowercase();
    let line = started
        .iter()
        .find(|l| l.contains("start worker process"))
        .unwrap_or_else(|| panic!("{started:?}"));
    // <PRI>Mmm dd hh:mm:ss HOST TAG: the error-log line (local7.notice = 189).
    assert!(line.starts_with("<189>"), "{line}");
    let after_pri = &line[5..];
    assert_eq!(&after_pri[15..16], " ", "{line}");
    assert!(
        after_pri[16..].starts_with(&format!("{hostname} nginx: ")),
        "{line}"
    );
    assert!(line.contains(" [notice] "), "{line}");

    assert_eq!(s.get("/tagged").status, 404);
    let tagged = datagrams(&loc_sink, 5);
    // user.err = 11: the line's own level is the severity.
    assert!(
        tagged.iter().any(|l| l.starts_with("<11>")
            && l.contains(&format!(" {hostname} SEETHIS: "))
            && l.contains("[error]")
            && l.contains("/tagged")),
        "{tagged:?}"
    );
    assert_eq!(s.get("/bare").status, 404);
    let bare = datagrams(&loc_sink, 5);
    let line = bare
        .iter()
        .find(|l| l.contains("/bare"))
        .unwrap_or_else(|| panic!("{bare:?}"));
    assert!(line.starts_with("<187>"), "{line}");
    assert!(
        line[5..]
            .get(16..)
            .is_some_and(|r| r.starts_with("nginx: ")),
        "{line}"
    );
    // The file log of the main context does not get the location's lines.
    assert!(!s.error_log().contains("/tagged"));
}

#[test]
fn a_location_error_log_takes_its_requests_lines() {
    let s = start(
        "events {}",
        "        error_log logs/server.log warn;\n\
                 location /own { error_log logs/own.log info; error_log logs/own_crit.log crit; }",
    );
    assert_eq!(s.get("/own/x").status, 404);
    assert_eq!(s.get("/elsewhere").status, 404);
    assert!(s.wait_for(5, || {
        s.prefix.read("logs/server.log").contains("/elsewhere")
    }));
    let own = s.prefix.read("logs/own.log");
    assert!(own.contains("[error]") && own.contains("/own/x"), "{own}");
    assert!(!own.contains("/elsewhere"), "{own}");
    assert!(!s.prefix.read("logs/own_crit.log").contains("/own/x"));
    assert!(!s.prefix.read("logs/server.log").contains("/own/x"));
    // Process-level lines stay in the main log.
    assert!(s.error_log().contains("start worker process"));
    assert!(!s.error_log().contains("/own/x"));
}

#[test]
fn timer_resolution_caches_msec_between_clock_reads() {
    let s = start(
        "timer_resolution 10s;\nevents {}",
        "        location / { return 200 \"$msec\\n\"; }",
    );
    let first = s.get("/").text();
    std::thread::sleep(Duration::from_millis(120));
    let second = s.get("/").text();
    assert_eq!(first, second, "the clock was read between the requests");
    assert!(first.trim().contains('.'), "{first}");

    let fine = start(
        "events {}",
        "        location / { return 200 \"$msec\\n\"; }",
    );
    let first = fine.get("/").text();
    std::thread::sleep(Duration::from_millis(120));
    assert_ne!(first, fine.get("/").text());
}

#[test]
fn epoll_events_and_multi_accept_serve_alike() {
    for events in [
        "epoll_events 1; multi_accept off;",
        "epoll_events 1; multi_accept on; accept_mutex on; accept_mutex_delay 10ms; worker_aio_requests 8;",
    ] {
        let s = start(
            &format!("events {{ {events} }}"),
            "        location / { return 200 \"ok\\n\"; }",
        );
        let mut clients: Vec<TcpStream> = (0..20).map(|_| s.connect()).collect();
        for c in &mut clients {
            send(c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        }
        for c in &mut clients {
            assert_eq!(next_response(c).text(), "ok\n");
        }
        s.assert_clean_log();
    }
}

#[test]
fn a_new_binary_gets_the_configured_environment() {
    // The binary at the master's path is replaced by a script that writes down its
    // environment: USR2 runs it as the new binary, as nginx would run the new nginx.
    let prefix = Prefix::new();
    let port = free_port();
    let exe = prefix.path("sbin/portico");
    std::fs::create_dir_all(prefix.path("sbin")).expect("mkdir");
    std::fs::copy(bin(), &exe).expect("copy binary");
    prefix.write(
        "conf/portico.conf",
        format!(
            "{}env FOO=bar;\nenv KEEPME;\nhttp {{\n    server {{\n        listen 127.0.0.1:{port};\n    }}\n}}\n",
            main_preamble(1)
        ),
    );
    let child = Command::new(&exe)
        .arg("-p")
        .arg(&prefix.dir)
        .args(["-c", "conf/portico.conf"])
        .env("KEEPME", "yes")
        .env("OTHER", "no")
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let s = Server {
        prefix,
        port,
        child: Some(child),
    };
    assert!(s.wait_for(10, || s.worker_pids().len() == 1));
    let dump = s.prefix.path("new-binary.env");
    let staged = s.prefix.path("sbin/portico.new");
    std::fs::write(
        &staged,
        format!("#!/bin/sh\nenv > {}.tmp\nmv {0}.tmp {0}\n", dump.display()),
    )
    .expect("script");
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::rename(&staged, &exe).expect("replace binary");
    s.signal(libc::SIGUSR2);
    assert!(
        s.wait_for(10, || dump.exists()),
        "new binary did not run:\n{}",
        s.error_log()
    );
    let env = std::fs::read_to_string(&dump).unwrap_or_default();
    let mut names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|x| x.0))
        .filter(|n| !["PWD", "SHLVL", "_"].contains(n))
        .collect();
    names.sort();
    assert_eq!(names, ["FOO", "KEEPME", "PORTICO", "SPARE", "TZ"], "{env}");
    assert!(env.lines().any(|l| l == "FOO=bar") && env.lines().any(|l| l == "KEEPME=yes"));
    // The script exits at once: the old master takes its pid file back and serves on.
    assert!(s.wait_for(10, || s.error_log().contains("exited with code 0")));
    assert!(s.wait_for(5, || s.prefix.path("logs/portico.pid").exists()));
    assert_eq!(s.get("/x").status, 404);
}

/// `portico -t` of `conf` (written as the main file): (exit code, stderr).
fn test_conf(conf: &str, globals: Option<&str>) -> (i32, String, std::path::PathBuf) {
    let prefix = Prefix::new();
    prefix.write("conf/t.conf", conf);
    let mut args = vec!["-t", "-c", "conf/t.conf"];
    if let Some(g) = globals {
        args.extend(["-g", g]);
    }
    let (code, _, err) = run_cli(&prefix.dir, &args);
    (code, err, prefix.path("conf/t.conf"))
}

#[test]
fn bad_values_fail_t_with_nginx_messages_and_their_line() {
    let cases = [
        (
            "worker_priority x;",
            "\"worker_priority\" directive invalid number",
        ),
        (
            "worker_rlimit_core -1;",
            "\"worker_rlimit_core\" directive invalid value",
        ),
        (
            "worker_rlimit_nofile -1;",
            "\"worker_rlimit_nofile\" directive invalid number",
        ),
        (
            "worker_cpu_affinity 0102;",
            "invalid character \"2\" in \"worker_cpu_affinity\"",
        ),
        (
            "timer_resolution -1;",
            "\"timer_resolution\" directive invalid value",
        ),
        ("debug_points foo;", "invalid value \"foo\""),
        ("error_log logs/x.log loud;", "invalid log level \"loud\""),
        (
            "error_log syslog:server=1.2.3.4,facility=foo;",
            "unknown syslog facility \"foo\"",
        ),
        (
            "error_log syslog:facility=user;",
            "no syslog server specified",
        ),
        ("error_log memory:1k;", "invalid buffer size \"1k\""),
        (
            "thread_pool default threads=32;",
            "\"thread_pool\" directive is not supported",
        ),
        (
            "ssl_engine pkcs11;",
            "\"ssl_engine\" directive is not supported",
        ),
        ("events { use poll; }", "invalid event type \"poll\""),
        (
            "events { debug_connection 1.2.3.4/33; }",
            "host not found in debug_connection",
        ),
        (
            "events { accept_mutex_delay x; }",
            "\"accept_mutex_delay\" directive invalid value",
        ),
        (
            "events { worker_aio_requests -1; }",
            "\"worker_aio_requests\" directive invalid number",
        ),
    ];
    for (directive, message) in cases {
        let conf = if directive.starts_with("events") {
            format!("\n{directive}\n")
        } else {
            format!("\n{directive}\nevents {{}}\n")
        };
        let (code, err, file) = test_conf(&conf, None);
        assert_eq!(code, 1, "{directive}: {err}");
        let expected = format!("[emerg] {message}");
        assert!(err.contains(&expected), "{directive}: {err}");
        assert!(
            err.contains(&format!(" in {}:2\n", file.display())),
            "{directive}: {err}"
        );
    }
}

#[test]
fn main_directives_work_from_dash_g_and_warn_like_nginx() {
    let (code, err, _) = test_conf(
        "events {}\n",
        Some(
            "worker_priority -3; env A=b; timer_resolution 50ms; worker_rlimit_core 1m; debug_points stop;",
        ),
    );
    assert_eq!(code, 0, "{err}");
    let (code, err, _) = test_conf("events {}\n", Some("worker_priority z;"));
    assert_eq!(code, 1);
    assert!(
        err.contains("\"worker_priority\" directive invalid number in command line"),
        "{err}"
    );
    // nginx's warnings, and the configuration still loads.
    let (code, err, file) = test_conf(
        "worker_processes 3;\nworker_cpu_affinity 01 10;\nevents { debug_connection 10.0.0.1/8; }\n",
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!(
            "[warn] low address bits of 10.0.0.1/8 are meaningless in {}:3",
            file.display()
        )),
        "{err}"
    );
    assert!(err.contains("[warn] the number of \"worker_processes\" is not equal to the number of \"worker_cpu_affinity\" masks, using last mask for remaining worker processes"), "{err}");
}

#[test]
fn dash_t_capital_dumps_the_main_directives() {
    let conf = "env TZ;\nworker_priority 2;\nlock_file logs/l.lock;\nevents {\n    accept_mutex_delay 100ms;\n}\n";
    let prefix = Prefix::new();
    prefix.write("conf/t.conf", conf);
    let (code, out, err) = run_cli(&prefix.dir, &["-T", "-c", "conf/t.conf"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!(
            "# configuration file {}:\n{conf}",
            prefix.path("conf/t.conf").display()
        )),
        "{out}"
    );
}

#[test]
fn dash_v_capital_declares_debug_support() {
    let prefix = Prefix::new();
    let (_, _, err) = run_cli(&prefix.dir, &["-V"]);
    assert!(err.contains(" --with-debug"), "{err}");
    assert!(!err.contains("--with-threads"), "{err}");
}

#[test]
fn master_process_off_serves_and_reloads_in_place() {
    let prefix = Prefix::new();
    let port = free_port();
    let conf = |text: &str| {
        format!(
            "master_process off;\ndaemon off;\nerror_log logs/error.log info;\npid logs/portico.pid;\n\
             events {{}}\nhttp {{ server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"{text}\\n\"; }} }} }}\n"
        )
    };
    prefix.write("conf/portico.conf", conf("one"));
    let child = Command::new(bin())
        .arg("-p")
        .arg(&prefix.dir)
        .args(["-c", "conf/portico.conf"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let s = Server {
        prefix,
        port,
        child: Some(child),
    };
    assert!(s.wait_for(10, || TcpStream::connect(("127.0.0.1", port)).is_ok()));
    assert!(s.worker_pids().is_empty(), "one process serves");
    assert_eq!(s.get("/").text(), "one\n");
    // An idle keep-alive connection does not hold the reload up.
    let mut idle = s.connect();
    send(&mut idle, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(next_response(&mut idle).text(), "one\n");

    s.prefix.write("conf/portico.conf", conf("two"));
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for(5, || s.get("/").text() == "two\n"),
        "{}",
        s.error_log()
    );
    // A broken configuration is refused and the running one serves on.
    s.prefix.write("conf/portico.conf", "events { bogus; }\n");
    s.signal(libc::SIGHUP);
    assert!(s.wait_for(5, || s.error_log().contains("unknown directive \"bogus\"")));
    assert_eq!(s.get("/").text(), "two\n");
    assert!(s.worker_pids().is_empty());
    s.assert_clean_log_except(&["unknown directive \"bogus\""]);
}
