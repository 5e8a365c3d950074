//! Setters for `error_log` (nginx's `ngx_log.c`), `access_log` and `log_format`
//! (`ngx_http_log_module.c`).

use std::rc::Rc;

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::settings::{
    AccessLogConf, ErrorLogConf, ErrorLogTarget, LogEscape, LogFileCache, LogFormat,
};
use super::values::{full_name, parse_number, parse_size, parse_time};
use crate::log::{AccessLogTarget, LogBuffer, LogLevel};
use crate::vars::Template;

/// Level names in nginx's order.
const LEVELS: &[(&str, LogLevel)] = &[
    ("emerg", LogLevel::Emerg),
    ("alert", LogLevel::Alert),
    ("crit", LogLevel::Crit),
    ("error", LogLevel::Error),
    ("warn", LogLevel::Warn),
    ("notice", LogLevel::Notice),
    ("info", LogLevel::Info),
    ("debug", LogLevel::Debug),
];

/// nginx's debug subsystems; any of them means level `debug` here.
const DEBUG_LEVELS: &[&str] = &[
    "debug_core",
    "debug_alloc",
    "debug_mutex",
    "debug_event",
    "debug_http",
    "debug_mail",
    "debug_stream",
];

/// `memory:SIZE`: a ring buffer at least big enough for its header and one whole line, as
/// `ngx_log_set_log` requires.
fn memory_target(d: &Directive, size: &str) -> Result<ErrorLogTarget, ConfError> {
    // nginx's sizeof("MEMLOG  :" NGX_LINEFEED) + NGX_SIZE_T_LEN + NGX_INT_T_LEN +
    // NGX_MAX_ERROR_STR, plus the file name.
    const FIXED: usize = 11 + 20 + 20 + crate::log::error::MAX_ERROR_LINE;
    let needed = FIXED + d.file.as_os_str().len();
    match super::values::parse_size(size) {
        Some(n) if n as usize >= needed => Ok(ErrorLogTarget::Memory {
            size: n as usize,
            origin: format!("{}:{}", d.file.display(), d.line),
        }),
        _ => Err(ConfError::at(d, format!("invalid buffer size \"{size}\""))),
    }
}

/// Parses `error_log FILE|stderr|syslog:...|memory:SIZE [LEVEL...]` (level defaults to
/// `error`), as `ngx_log_set_log` and `ngx_log_set_levels`.
fn parse_error_log(d: &Directive, shared: &Shared) -> Result<ErrorLogConf, ConfError> {
    let file = d.arg(0);
    let target = if file == "stderr" {
        ErrorLogTarget::Stderr
    } else if let Some(size) = file.strip_prefix("memory:") {
        memory_target(d, size)?
    } else if let Some(params) = file.strip_prefix("syslog:") {
        let conf = crate::log::syslog::SyslogConf::parse(params)
            .map_err(|message| ConfError::at(d, message))?;
        ErrorLogTarget::Syslog(conf)
    } else {
        ErrorLogTarget::File(full_name(&shared.prefix, file))
    };
    // A plain level, or nginx's debug_* subsystems (which Portico does not tell apart: any
    // of them means `debug`); never both.
    let mut level: Option<LogLevel> = None;
    let mut debug_subsystems = false;
    for word in &d.args[1..] {
        let name = word.text.as_str();
        if let Some(&(_, found)) = LEVELS.iter().find(|(n, _)| *n == name) {
            if level.is_some() || debug_subsystems {
                return Err(ConfError::at(d, format!("duplicate log level \"{name}\"")));
            }
            level = Some(found);
        } else if DEBUG_LEVELS.contains(&name) && level.is_none() {
            debug_subsystems = true;
        } else {
            return Err(ConfError::at(d, format!("invalid log level \"{name}\"")));
        }
    }
    if debug_subsystems {
        level = Some(LogLevel::Debug);
    }
    Ok(ErrorLogConf {
        target,
        level: level.unwrap_or(LogLevel::Error),
    })
}

/// `error_log FILE [LEVEL];` at main, http, server or location level (repeatable).
pub(crate) fn error_log(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let log = parse_error_log(d, shared)?;
    match l {
        Level::Main(main) => main.error_log.push(log),
        other => {
            let logs = other.loc(d)?.error_log.get_or_insert_with(Default::default);
            Rc::make_mut(logs).push(log);
        }
    }
    Ok(())
}

/// The buffer `access_log ... gzip` gets without `buffer=` (nginx's 64k).
const DEFAULT_GZIP_LOG_BUFFER: usize = 64 * 1024;

/// `access_log off;` or `access_log PATH [FORMAT [buffer=SIZE] [flush=TIME] [if=COND]];`
/// as `ngx_http_log_set_log` reads it (`gzip[=LEVEL]` gives a 64k buffer unless one is set).
/// `off` wins over any other `access_log` at the same level, as in nginx. A path with
/// variables is evaluated per line.
pub(crate) fn access_log(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let path = d.arg(0);
    if path == "off" {
        if d.args.len() > 1 {
            return Err(ConfError::at(
                d,
                format!("invalid parameter \"{}\"", d.arg(1)),
            ));
        }
        *l.access_log_off(d)? = true;
        return Ok(());
    }
    // `syslog:` names a syslog target, checked now; any other text is a file (nginx opens
    // even `memory:x` as one), whose path may hold variables.
    let (full, path_script) = match path.strip_prefix(crate::log::access::SYSLOG_PREFIX) {
        Some(params) => {
            crate::log::syslog::SyslogConf::parse(params)
                .map_err(|message| ConfError::at(d, message))?;
            (std::path::PathBuf::from(path), None)
        }
        None => {
            let full = full_name(&shared.prefix, path);
            let compiled = Template::compile_with(&full.to_string_lossy(), &shared.user_vars)
                .map_err(|message| ConfError::at(d, message))?;
            (full, compiled.is_literal().is_none().then_some(compiled))
        }
    };
    let format_name = if d.args.len() > 1 {
        d.arg(1)
    } else {
        "combined"
    };
    let format = shared
        .formats
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(format_name))
        .cloned()
        .ok_or_else(|| ConfError::at(d, format!("unknown log format \"{format_name}\"")))?;
    let (mut size, mut flush, mut filter, mut gzip) = (0usize, None, None, None);
    for word in d.args.iter().skip(2) {
        let param = word.text.as_str();
        if let Some(value) = param.strip_prefix("buffer=") {
            size = parse_size(value)
                .filter(|&n| n > 0)
                .ok_or_else(|| ConfError::at(d, format!("invalid buffer size \"{value}\"")))?
                as usize;
        } else if let Some(value) = param.strip_prefix("flush=") {
            flush = Some(
                parse_time(value, false)
                    .filter(|t| !t.is_zero())
                    .ok_or_else(|| ConfError::at(d, format!("invalid flush time \"{value}\"")))?,
            );
        } else if param == "gzip" || param.starts_with("gzip=") {
            // nginx: gzip needs a buffer (64k unless `buffer=` says), its level is zlib's.
            if size == 0 {
                size = DEFAULT_GZIP_LOG_BUFFER;
            }
            gzip = Some(match param.strip_prefix("gzip=") {
                None => 1,
                Some(value) => parse_number(value)
                    .filter(|n| (1..=9).contains(n))
                    .ok_or_else(|| {
                        ConfError::at(d, format!("invalid compression level \"{value}\""))
                    })? as u8,
            });
        } else if let Some(value) = param.strip_prefix("if=") {
            filter = Some(
                Template::compile_with(value, &shared.user_vars)
                    .map_err(|message| ConfError::at(d, message))?,
            );
        } else {
            return Err(ConfError::at(d, format!("invalid parameter \"{param}\"")));
        }
    }
    if flush.is_some() && size == 0 {
        let message = format!("no buffer is defined for access_log \"{path}\"");
        return Err(ConfError::at(d, message));
    }
    let mut buffer = None;
    if size > 0 {
        if path_script.is_some() {
            return Err(ConfError::at(
                d,
                "buffered logs cannot have variables in name",
            ));
        }
        if path.starts_with(crate::log::access::SYSLOG_PREFIX) {
            return Err(ConfError::at(d, "logs to syslog cannot be buffered"));
        }
        let wanted = LogBuffer { size, flush, gzip };
        match shared.access_buffers.iter().find(|(p, _)| *p == full) {
            Some((_, defined)) if *defined != wanted => {
                let message =
                    format!("access_log \"{path}\" already defined with conflicting parameters");
                return Err(ConfError::at(d, message));
            }
            Some(_) => {}
            None => shared.access_buffers.push((full.clone(), wanted)),
        }
        buffer = Some(wanted);
    }
    let conf = AccessLogConf {
        filter,
        path_script,
        buffer,
        ..AccessLogConf::new(AccessLogTarget { path: full }, format)
    };
    l.loc(d)?.access_log.get_or_insert_with(Vec::new).push(conf);
    Ok(())
}

/// `open_log_file_cache off | max=N [inactive=TIME] [min_uses=N] [valid=TIME];`
pub(crate) fn open_log_file_cache(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    super::values::set_once(&mut l.loc(d)?.open_log_file_cache, d, |d| {
        let mut cache = LogFileCache {
            max: 0,
            inactive: std::time::Duration::from_secs(10),
            min_uses: 1,
            valid: std::time::Duration::from_secs(60),
        };
        let mut off = false;
        for word in &d.args {
            let param = word.text.as_str();
            let ok = if let Some(v) = param.strip_prefix("max=") {
                parse_number(v).map(|n| cache.max = n as usize).is_some()
            } else if let Some(v) = param.strip_prefix("inactive=") {
                parse_time(v, true).map(|t| cache.inactive = t).is_some()
            } else if let Some(v) = param.strip_prefix("min_uses=") {
                parse_number(v).map(|n| cache.min_uses = n).is_some()
            } else if let Some(v) = param.strip_prefix("valid=") {
                parse_time(v, true).map(|t| cache.valid = t).is_some()
            } else if param == "off" {
                off = true;
                true
            } else {
                false
            };
            if !ok {
                let message = format!("invalid \"open_log_file_cache\" parameter \"{param}\"");
                return Err(ConfError::at(d, message));
            }
        }
        if off {
            return Ok(None);
        }
        if cache.max == 0 {
            let message = "\"open_log_file_cache\" must have \"max\" parameter";
            return Err(ConfError::at(d, message));
        }
        Ok(Some(cache))
    })
}

/// `log_format NAME [escape=default|json|none] STRING...;` (the strings are concatenated).
pub(crate) fn log_format(
    _: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let name = d.arg(0);
    if shared.formats.iter().any(|f| f.name == name) {
        return Err(ConfError::at(
            d,
            format!("duplicate \"log_format\" name \"{name}\""),
        ));
    }
    let mut parts = &d.args[1..];
    let mut escape = LogEscape::Default;
    if let Some(value) = d.arg(1).strip_prefix("escape=") {
        escape = match value {
            "default" => LogEscape::Default,
            "json" => LogEscape::Json,
            "none" => LogEscape::None,
            _ => {
                return Err(ConfError::at(
                    d,
                    format!("unknown log format escaping \"{value}\""),
                ));
            }
        };
        parts = &d.args[2..];
    }
    let text: String = parts.iter().map(|w| w.text.as_str()).collect();
    let template = Template::compile_with(&text, &shared.user_vars)
        .map_err(|message| ConfError::at(d, message))?;
    shared
        .formats
        .push(Rc::new(LogFormat::new(name.to_string(), escape, template)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testutil::{http, load_err, load_in, load_ok};

    #[test]
    fn access_logs_and_formats() {
        let (result, prefix) = load_in(
            &http(
                "log_format main escape=json '$remote_addr ' \"$status\";\n\
                 access_log logs/a.log main buffer=32k flush=5s; access_log /var/b.log;\n\
                 server { access_log off; location / { access_log c.log MAIN; } location /q { } }\n\
                 server { access_log x.log; access_log off; }",
            ),
            None,
        );
        let config = result.unwrap_or_else(|e| panic!("{e}"));
        let conf = config.http.as_ref().unwrap();
        let server = &conf.servers[0];
        assert!(server.loc.access_log.is_empty());
        let root = &server.locations[0].loc.access_log;
        assert_eq!(root.len(), 1);
        assert_eq!(root[0].target.path, prefix.join("c.log"));
        assert_eq!(
            (root[0].format.name.as_str(), root[0].format.escape),
            ("main", LogEscape::Json)
        );
        assert!(server.locations[1].loc.access_log.is_empty());
        // `off` wins at its level even when it comes last.
        assert!(conf.servers[1].loc.access_log.is_empty());

        let config = load_ok(&http(
            "access_log logs/a.log; access_log /var/b.log combined; server {}",
        ));
        let logs = &config.http.as_ref().unwrap().servers[0].loc.access_log;
        assert_eq!(logs.len(), 2);
        assert_eq!(logs[1].target.path, std::path::PathBuf::from("/var/b.log"));
    }

    #[test]
    fn access_log_errors() {
        assert_eq!(
            load_err(&http("access_log a.log nope;")),
            "unknown log format \"nope\""
        );
        assert_eq!(
            load_err(&http("access_log a.log combined huge;")),
            "invalid parameter \"huge\""
        );
        assert_eq!(
            load_err(&http("access_log off now;")),
            "invalid parameter \"now\""
        );
        assert_eq!(
            load_err(&http("log_format combined x;")),
            "duplicate \"log_format\" name \"combined\""
        );
        assert_eq!(
            load_err(&http("log_format a escape=xml x;")),
            "unknown log format escaping \"xml\""
        );
        assert_eq!(
            load_err(&http("server { log_format a x; }")),
            "\"log_format\" directive is not allowed here"
        );
        // A format must be defined before it is used.
        assert_eq!(
            load_err(&http("access_log a.log late; log_format late x;")),
            "unknown log format \"late\""
        );
    }

    #[test]
    fn error_logs_per_level() {
        let (result, prefix) = load_in(
            "error_log stderr warn; error_log logs/main.log;\nevents {}\n\
             http { server { error_log logs/s.log debug; location / { } } server { } }",
            None,
        );
        let config = result.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.main.error_log[0],
            ErrorLogConf {
                target: ErrorLogTarget::Stderr,
                level: LogLevel::Warn
            }
        );
        assert_eq!(config.main.error_log[1].level, LogLevel::Error);
        let conf = config.http.as_ref().unwrap();
        let s0 = &conf.servers[0];
        assert_eq!(s0.loc.error_log.len(), 1);
        assert_eq!(
            s0.loc.error_log[0].target,
            ErrorLogTarget::File(prefix.join("logs/s.log"))
        );
        assert_eq!(s0.locations[0].loc.error_log, s0.loc.error_log);
        assert_eq!(*conf.servers[1].loc.error_log, config.main.error_log);
        assert_eq!(
            load_ok("error_log x debug_http; events {}").main.error_log[0].level,
            LogLevel::Debug
        );
        assert_eq!(
            load_err("error_log x loud; events {}"),
            "invalid log level \"loud\""
        );
        assert_eq!(
            load_err("error_log x warn info; events {}"),
            "duplicate log level \"info\""
        );
        assert_eq!(
            load_err("error_log x debug debug_http; events {}"),
            "invalid log level \"debug_http\""
        );
        assert_eq!(
            load_err("error_log x debug_http debug; events {}"),
            "duplicate log level \"debug\""
        );
        assert_eq!(
            load_ok("error_log x debug_http debug_core; events {}")
                .main
                .error_log[0]
                .level,
            LogLevel::Debug
        );
        assert_eq!(
            load_err("error_log syslog:server=x.invalid; events {}"),
            "host not found in syslog server \"x.invalid\""
        );
        let syslog = load_ok("error_log syslog:server=127.0.0.1:5,tag=t info; events {}");
        match &syslog.main.error_log[0].target {
            ErrorLogTarget::Syslog(c) => assert_eq!(c.tag, "t"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            load_err("error_log memory:1k; events {}"),
            "invalid buffer size \"1k\""
        );
        assert_eq!(
            load_err("error_log memory:x; events {}"),
            "invalid buffer size \"x\""
        );
        match &load_ok("error_log memory:1m debug; events {}")
            .main
            .error_log[0]
            .target
        {
            ErrorLogTarget::Memory { size, origin } => {
                assert_eq!(*size, 1 << 20);
                assert!(origin.ends_with("nginx.conf:1"), "{origin}");
            }
            other => panic!("{other:?}"),
        }
    }
}
