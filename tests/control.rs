//! `portico -s`: a reload that says whether it worked, and what `stop`, `quit` and `reopen`
//! report; each bad situation (no master, a stale pid file, a master that does not answer)
//! with its own line and exit status.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// Runs `portico -p PREFIX -c conf/portico.conf -s VALUE`: (exit status, stdout, stderr).
fn dash_s(s: &Server, value: &str) -> (i32, String, String) {
    run_cli(&s.prefix.dir, &["-c", "conf/portico.conf", "-s", value])
}

fn start(workers: usize) -> Server {
    Server::start_with(
        workers,
        "server { listen 127.0.0.1:PORT; root html; }",
        |p| {
            p.write("html/index.html", "one\n");
            p.write("html2/index.html", "two\n");
        },
    )
}

fn edit_conf(s: &Server, from: &str, to: &str) {
    let conf = s.prefix.read("conf/portico.conf");
    assert!(conf.contains(from), "{conf}");
    s.prefix
        .write("conf/portico.conf", conf.replacen(from, to, 1));
}

fn alive(pid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[test]
fn reload_applied_says_generation_and_workers() {
    let s = start(2);
    let before = s.worker_pids();
    edit_conf(&s, "root html;", "root html2;");
    let (code, out, err) = dash_s(&s, "reload");
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "reload: applied, generation 1, 2 workers\n", "")
    );
    assert!(
        s.wait_for(5, || s.get("/").text() == "two\n"),
        "not applied"
    );
    assert!(
        s.wait_for(5, || s.worker_pids().iter().all(|p| !before.contains(p))),
        "old workers remain"
    );
    let (code, out, _) = dash_s(&s, "reload");
    assert_eq!(
        (code, out.as_str()),
        (0, "reload: applied, generation 2, 2 workers\n")
    );
    s.assert_clean_log();
}

#[test]
fn reload_of_a_config_that_does_not_parse_is_rejected_with_file_and_line() {
    let s = start(1);
    let before = s.worker_pids();
    edit_conf(&s, "listen 127", "lsten 127");
    let file = s.prefix.path("conf/portico.conf").display().to_string();
    let (code, out, err) = dash_s(&s, "reload");
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            1,
            "",
            format!("reload: rejected: unknown directive \"lsten\" in {file}:7\n").as_str()
        )
    );
    // Nothing changed: same workers, same content.
    assert_eq!(s.worker_pids(), before);
    assert_eq!(s.get("/").text(), "one\n");
}

/// A configuration that parses but that the master cannot apply (its port is taken): the
/// master refuses it, logs nginx's line, and `-s reload` reports that line.
#[test]
fn reload_the_master_cannot_apply_is_rejected_with_its_error() {
    let s = start(1);
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy_port = busy.local_addr().expect("addr").port();
    edit_conf(
        &s,
        "root html; }",
        &format!("root html; }}\nserver {{ listen 127.0.0.1:{busy_port}; }}"),
    );
    let before = s.worker_pids();
    let (code, out, err) = dash_s(&s, "reload");
    let line = format!("bind() to 127.0.0.1:{busy_port} failed (98: Address already in use)");
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (1, "", format!("reload: rejected: {line}\n").as_str())
    );
    assert!(
        s.error_log()
            .lines()
            .any(|l| l.contains("[emerg]") && l.ends_with(&line)),
        "{}",
        s.error_log()
    );
    assert_eq!(s.worker_pids(), before);
    assert_eq!(s.get("/").text(), "one\n");
    // The next reload, with the port free again, is applied.
    drop(busy);
    let (code, out, _) = dash_s(&s, "reload");
    assert_eq!(
        (code, out.as_str()),
        (0, "reload: applied, generation 1, 1 worker\n")
    );
}

/// A reload signalled with `kill -HUP` is recorded too: the status file says so.
#[test]
fn a_reload_by_kill_hup_is_recorded_in_the_status_file() {
    let s = start(1);
    let status = s.prefix.path("logs/portico.pid.status");
    let pid = s.master_pid();
    assert_eq!(
        std::fs::read_to_string(&status).ok().as_deref(),
        Some(format!("pid={pid}\n").as_str())
    );
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for(5, || std::fs::read_to_string(&status)
            .is_ok_and(|t| t.contains("reload.result=applied\n"))),
        "{:?}",
        std::fs::read_to_string(&status)
    );
    let text = std::fs::read_to_string(&status).unwrap_or_default();
    assert!(
        text.contains("reload.generation=1\nreload.workers=1\n"),
        "{text}"
    );
}

/// Racing reloads: each command reports a reload that read the configuration after the
/// command started, never an older one.
#[test]
fn racing_reloads_each_report_a_reload_that_saw_their_edit() {
    let s = start(1);
    for round in 0..3 {
        let marker = format!("r{round}");
        // Each round's edit comes before both commands; an older reload must not answer.
        let conf = s.prefix.read("conf/portico.conf");
        let conf = match conf.find("\n# round") {
            Some(i) => conf[..i].to_string(),
            None => conf.trim_end().to_string(),
        };
        s.prefix
            .write("conf/portico.conf", format!("{conf}\n# round {marker}\n"));
        let dir = s.prefix.dir.clone();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    run_cli(&dir, &["-c", "conf/portico.conf", "-s", "reload"])
                })
            })
            .collect();
        // A plain HUP joins the race.
        s.signal(libc::SIGHUP);
        for t in threads {
            let (code, out, err) = t.join().expect("thread");
            assert_eq!(code, 0, "{out}{err}");
            assert!(out.starts_with("reload: applied, generation "), "{out}");
        }
    }
    s.assert_clean_log();
}

#[test]
fn a_master_that_does_not_answer_in_time_is_reported() {
    let s = start(1);
    let pid = s.master_pid();
    s.signal(libc::SIGSTOP);
    let started = Instant::now();
    let (code, out, err) = dash_s(&s, "reload=300ms");
    let took = started.elapsed();
    s.signal(libc::SIGCONT);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            5,
            "",
            format!("reload: no answer from master process {pid} within 300ms\n").as_str()
        )
    );
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // Woken up, it reloads: the signal was not lost.
    let status = s.prefix.path("logs/portico.pid.status");
    assert!(s.wait_for(5, || {
        std::fs::read_to_string(&status).is_ok_and(|t| t.contains("reload.result=applied"))
    }));
}

#[test]
fn reload_zero_only_sends_the_signal() {
    let s = start(1);
    let pid = s.master_pid();
    let (code, out, err) = dash_s(&s, "reload=0");
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            0,
            format!("reload: signal sent to master process {pid}\n").as_str(),
            ""
        )
    );
    assert!(s.wait_for(5, || s.error_log().contains("signal 1 (SIGHUP) received")));
}

/// A master that keeps no status (started by an older binary, or `master_process off`) is
/// signalled as nginx does, and the command says it cannot know more.
#[test]
fn a_master_without_a_status_file_gets_the_signal_as_from_nginx() {
    let s = start(1);
    let pid = s.master_pid();
    std::fs::remove_file(s.prefix.path("logs/portico.pid.status")).expect("remove status");
    let (code, out, _) = dash_s(&s, "reload");
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            format!(
                "reload: signal sent to master process {pid}, which keeps no status to report from (see its error log)\n"
            )
            .as_str()
        )
    );
}

#[test]
fn reopen_reports_the_logs_reopened() {
    let s = start(1);
    std::fs::rename(
        s.prefix.path("logs/access.log"),
        s.prefix.path("logs/access.log.1"),
    )
    .expect("rename");
    let (code, out, err) = dash_s(&s, "reopen");
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "reopen: logs reopened\n", "")
    );
    // The master has reopened its own logs by the time the command returns.
    assert!(s.prefix.path("logs/access.log").exists());
}

#[test]
fn stop_waits_until_the_master_has_exited() {
    let mut s = start(2);
    let pid = s.master_pid();
    let workers = s.worker_pids();
    let (code, out, err) = dash_s(&s, "stop");
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            0,
            format!("stop: master process {pid} exited\n").as_str(),
            ""
        )
    );
    // Exited (a zombie until the test reaps it), its workers too, its files removed.
    assert!(
        workers.iter().all(|&w| !alive(w)),
        "workers left: {workers:?}"
    );
    assert!(!s.prefix.path("logs/portico.pid").exists());
    assert!(!s.prefix.path("logs/portico.pid.status").exists());
    let status = s.child.take().and_then(|mut c| c.wait().ok());
    assert!(status.is_some_and(|st| st.success()));
}

#[test]
fn quit_sends_at_once_and_waits_when_asked() {
    let s = start(1);
    let pid = s.master_pid();
    let (code, out, _) = dash_s(&s, "quit");
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            format!("quit: signal sent to master process {pid}\n").as_str()
        )
    );
    let s = start(1);
    let pid = s.master_pid();
    let (code, out, _) = dash_s(&s, "quit=10s");
    assert_eq!(
        (code, out.as_str()),
        (0, format!("quit: master process {pid} exited\n").as_str())
    );
}

#[test]
fn quit_that_outlasts_its_wait_is_reported() {
    let s = start(1);
    let pid = s.master_pid();
    // A request in flight keeps the graceful stop going.
    let mut c = s.connect();
    std::io::Write::write_all(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n").expect("write");
    std::thread::sleep(Duration::from_millis(100));
    let (code, _, err) = dash_s(&s, "quit=200ms");
    assert_eq!(
        (code, err.as_str()),
        (
            5,
            format!("quit: master process {pid} still running after 200ms\n").as_str()
        )
    );
}

#[test]
fn no_master_stale_pid_file_and_junk_each_have_their_own_status() {
    let s = start(1);
    let pid_file = s.prefix.path("logs/portico.pid");
    let shown = pid_file.display().to_string();
    let (code, _, _) = dash_s(&s, "stop");
    assert_eq!(code, 0);
    let (code, out, err) = dash_s(&s, "reload");
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            3,
            "",
            format!(
                "reload: no master process is running: open() \"{shown}\" failed (2: No such file or directory)\n"
            )
            .as_str()
        )
    );
    // A pid file left by a master that was killed: its process is gone.
    let mut dead = std::process::Command::new("true").spawn().expect("spawn");
    let dead_pid = dead.id();
    dead.wait().expect("wait");
    s.prefix.write("logs/portico.pid", format!("{dead_pid}\n"));
    let (code, _, err) = dash_s(&s, "reload");
    assert_eq!(
        (code, err.as_str()),
        (
            4,
            format!(
                "reload: stale pid file \"{shown}\": no process {dead_pid} (the master process is not running)\n"
            )
            .as_str()
        )
    );
    s.prefix.write("logs/portico.pid", "not a pid\n");
    let (code, _, err) = dash_s(&s, "quit");
    assert_eq!(
        (code, err.as_str()),
        (
            4,
            format!("quit: invalid PID number \"not a pid\" in \"{shown}\"\n").as_str()
        )
    );
}

#[test]
fn bad_signal_values_are_refused() {
    let s = start(1);
    for value in ["reload=", "reload=soon", "restart", "stop=5x"] {
        let (code, _, err) = dash_s(&s, value);
        assert_eq!(
            (code, err),
            (1, format!("portico: invalid option: \"-s {value}\"\n")),
            "{value}"
        );
    }
}

#[test]
fn pid_off_leaves_nothing_to_signal() {
    let p = Prefix::new();
    p.write(
        "conf/portico.conf",
        "pid off;\nevents {}\nhttp { server { listen 127.0.0.1:1; } }\n",
    );
    let (code, out, err) = run_cli(&p.dir, &["-c", "conf/portico.conf", "-s", "reload"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            3,
            "",
            "reload: the configuration says \"pid off\": no pid file names the master process\n"
        )
    );
}
