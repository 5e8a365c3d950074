//! Tests of the error log and access logs against real files (state is per thread, so each
//! test has its own log).

use super::*;
use crate::config::{ErrorLogConf, ErrorLogTarget};
use std::path::Path;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portico-log-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn init_file(path: &Path, level: LogLevel) {
    set_stderr_echo(false);
    init_error_log(&[ErrorLogConf {
        target: ErrorLogTarget::File(path.to_path_buf()),
        level,
    }])
    .unwrap();
}

fn read(path: &Path) -> String {
    String::from_utf8(std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn error_line_has_nginx_format() {
    let dir = temp_dir("format");
    let path = dir.join("error.log");
    init_file(&path, LogLevel::Error);
    let e = io::Error::from_raw_os_error(2);
    crate::elog!(
        LogLevel::Error,
        "*24 open() \"/srv/x\" failed ({}), client: 127.0.0.1, server: localhost",
        OsErr(&e)
    );
    let text = read(&path);
    let line = text
        .strip_suffix('\n')
        .expect("one line ending in a newline");
    assert!(!line.contains('\n'));
    let b = line.as_bytes();
    // 2026/11/25 20:23:22
    for (i, c) in b[..19].iter().enumerate() {
        match i {
            4 | 7 => assert_eq!(*c, b'/'),
            10 => assert_eq!(*c, b' '),
            13 | 16 => assert_eq!(*c, b':'),
            _ => assert!(c.is_ascii_digit(), "{line}"),
        }
    }
    let rest = &line[19..];
    let expected = format!(
        " [error] {}#0: *24 open() \"/srv/x\" failed (2: No such file or directory), \
         client: 127.0.0.1, server: localhost",
        std::process::id()
    );
    assert_eq!(rest, expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn levels_filter_before_formatting() {
    struct Loud<'a>(&'a Cell<u32>);
    impl fmt::Display for Loud<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.set(self.0.get() + 1);
            f.write_str("loud")
        }
    }
    let dir = temp_dir("levels");
    let path = dir.join("error.log");
    init_file(&path, LogLevel::Warn);
    assert!(!enabled(LogLevel::Notice));
    assert!(enabled(LogLevel::Warn) && enabled(LogLevel::Emerg));
    let formatted = Cell::new(0);
    crate::elog!(LogLevel::Info, "{}", Loud(&formatted));
    crate::elog!(LogLevel::Notice, "{}", Loud(&formatted));
    assert_eq!(
        formatted.get(),
        0,
        "filtered messages must not be formatted"
    );
    crate::elog!(LogLevel::Warn, "w {}", Loud(&formatted));
    crate::elog!(LogLevel::Crit, "c");
    assert_eq!(formatted.get(), 1);
    let text = read(&path);
    let levels: Vec<&str> = text.lines().map(|l| &l[21..l.find(']').unwrap()]).collect();
    assert_eq!(levels, ["warn", "crit"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn each_target_takes_its_own_levels() {
    let dir = temp_dir("targets");
    let (verbose, quiet) = (dir.join("debug.log"), dir.join("crit.log"));
    set_stderr_echo(false);
    init_error_log(&[
        ErrorLogConf {
            target: ErrorLogTarget::File(verbose.clone()),
            level: LogLevel::Debug,
        },
        ErrorLogConf {
            target: ErrorLogTarget::File(quiet.clone()),
            level: LogLevel::Crit,
        },
    ])
    .unwrap();
    assert_eq!(min_level(), LogLevel::Debug);
    crate::elog!(LogLevel::Debug, "d");
    crate::elog!(LogLevel::Alert, "a");
    assert_eq!(read(&verbose).lines().count(), 2);
    assert!(read(&quiet).ends_with("#0: a\n"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn failed_init_keeps_the_previous_log() {
    let dir = temp_dir("keep");
    let path = dir.join("error.log");
    init_file(&path, LogLevel::Error);
    let bad = [ErrorLogConf {
        target: ErrorLogTarget::File(dir.join("no/such/dir.log")),
        level: LogLevel::Debug,
    }];
    let err = init_error_log(&bad).unwrap_err();
    assert!(err.to_string().starts_with("open() \""), "{err}");
    assert!(
        err.to_string()
            .ends_with("failed (2: No such file or directory)"),
        "{err}"
    );
    crate::elog!(LogLevel::Error, "still here");
    assert!(read(&path).ends_with("still here\n"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn long_messages_are_cut_to_one_line() {
    let dir = temp_dir("long");
    let path = dir.join("error.log");
    init_file(&path, LogLevel::Error);
    crate::elog!(LogLevel::Error, "{}", "x".repeat(10_000));
    let text = read(&path);
    assert_eq!(text.len(), error::MAX_ERROR_LINE);
    assert!(text.ends_with("xx\n"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn logging_while_formatting_does_not_panic() {
    struct Nested;
    impl fmt::Display for Nested {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            crate::elog!(LogLevel::Error, "inner");
            f.write_str("outer")
        }
    }
    let dir = temp_dir("nested");
    let path = dir.join("error.log");
    init_file(&path, LogLevel::Error);
    crate::elog!(LogLevel::Error, "{}", Nested);
    let text = read(&path);
    let msgs: Vec<&str> = text
        .lines()
        .map(|l| l.rsplit(": ").next().unwrap())
        .collect();
    assert_eq!(msgs, ["inner", "outer"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn log_crate_macros_reach_the_error_log() {
    let dir = temp_dir("facade");
    let path = dir.join("error.log");
    init_file(&path, LogLevel::Warn);
    install_log_facade();
    ::log::error!("via facade {}", 7);
    ::log::debug!("dropped");
    let text = read(&path);
    assert!(
        text.contains(" [error] ") && text.ends_with("#0: via facade 7\n"),
        "{text}"
    );
    assert!(!text.contains("dropped"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reopen_after_rename_writes_to_the_new_files() {
    let dir = temp_dir("reopen");
    let error_path = dir.join("error.log");
    let access_path = dir.join("access.log");
    init_file(&error_path, LogLevel::Error);
    let target = open_access_log(&access_path).unwrap();
    crate::elog!(LogLevel::Error, "before");
    write_access(&target, b"GET /before\n");

    std::fs::rename(&error_path, dir.join("error.log.1")).unwrap();
    std::fs::rename(&access_path, dir.join("access.log.1")).unwrap();
    crate::elog!(LogLevel::Error, "renamed");
    write_access(&target, b"GET /renamed");
    reopen_logs().unwrap();
    crate::elog!(LogLevel::Error, "after");
    write_access(&target, b"GET /after\n");

    let old_error = read(&dir.join("error.log.1"));
    assert!(
        old_error.contains("before")
            && old_error.contains("renamed")
            && !old_error.contains("after")
    );
    assert!(read(&error_path).ends_with("#0: after\n"));
    assert_eq!(
        read(&dir.join("access.log.1")),
        "GET /before\nGET /renamed\n"
    );
    assert_eq!(read(&access_path), "GET /after\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn access_logs_are_shared_by_path() {
    let dir = temp_dir("dedup");
    let path = dir.join("access.log");
    let a = open_access_log(&path).unwrap();
    let b = open_access_log(&path).unwrap();
    assert_eq!(a, b);
    write_access(&a, b"one\n");
    write_access(&b, b"two\n");
    assert_eq!(read(&path), "one\ntwo\n");
    retain_access_logs(|p| p != path);
    write_access(&a, b"three\n"); // reopened on demand
    assert_eq!(read(&path), "one\ntwo\nthree\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unwritable_access_log_is_reported_not_fatal() {
    let dir = temp_dir("unwritable");
    let error_path = dir.join("error.log");
    init_file(&error_path, LogLevel::Error);
    let target = AccessLogTarget {
        path: dir.join("missing/access.log"),
    };
    write_access(&target, b"lost\n");
    write_access(&target, b"lost again\n");
    let text = read(&error_path);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains(" [crit] ") && text.contains("access.log\" failed (2: No such file"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn level_names_round_trip() {
    for level in LogLevel::ALL {
        assert_eq!(LogLevel::from_name(level.as_str()), Some(level));
    }
    assert_eq!(LogLevel::from_name("warning"), None);
    assert_eq!(LogLevel::Emerg.to_string(), "emerg");
}

#[test]
fn os_errors_print_like_nginx() {
    let e = io::Error::from_raw_os_error(13);
    assert_eq!(OsErr(&e).to_string(), "13: Permission denied");
    let custom = io::Error::other("boom");
    assert_eq!(OsErr(&custom).to_string(), "boom");
}

#[test]
fn chown_to_ourselves_and_reopen_keep_working() {
    let dir = temp_dir("chown");
    let error_path = dir.join("error.log");
    init_file(&error_path, LogLevel::Error);
    let access_path = dir.join("access.log");
    let target = open_access_log(&access_path).unwrap();
    let uid = nix::unistd::getuid().as_raw();
    chown_logs(uid).unwrap();
    std::fs::remove_file(&access_path).unwrap();
    reopen_logs().unwrap();
    write_access(&target, b"x\n");
    assert_eq!(read(&access_path), "x\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn full_disk_is_reported_once_not_per_line() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let dir = temp_dir("full");
    let error_path = dir.join("error.log");
    init_file(&error_path, LogLevel::Error);
    let target = open_access_log(Path::new("/dev/full")).unwrap();
    for _ in 0..3 {
        write_access(&target, b"GET / 200\n");
    }
    let text = read(&error_path);
    // One report per second: two only if the clock ticked between the writes.
    assert!(text.lines().count() <= 2, "{text}");
    assert!(
        text.contains(" [alert] ")
            && text.ends_with("write() to \"/dev/full\" failed (28: No space left on device)\n"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
