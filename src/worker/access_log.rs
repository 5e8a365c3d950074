//! Writing one `access_log` line of a finished request, as nginx's log module does:
//! `if=` first, then the line in its format, then the file, named by variables where the
//! path has some (after nginx's check that the request's document root exists).

use std::os::unix::ffi::OsStrExt;

use super::request_vars::RequestVars;
use crate::config::AccessLogConf;
use crate::log::LogLevel;
use crate::log::context::RequestContext;

/// Writes `log`'s line for the request `vars` describes (`line` is scratch space).
pub(super) fn write(vars: &RequestVars<'_, '_>, log: &AccessLogConf, line: &mut Vec<u8>) {
    if let Some(filter) = &log.filter {
        line.clear();
        filter.eval(vars, line);
        if line.is_empty() || line == b"0" {
            return;
        }
    }
    line.clear();
    log.format.template.eval_log(vars, log.format.escape, line);
    line.push(b'\n');
    let Some(script) = &log.path_script else {
        crate::log::write_access(&log.target, line);
        return;
    };
    // nginx logs by a name made of variables only for a request whose root exists, so a
    // made-up Host cannot create files anywhere.
    let mut root = Vec::new();
    super::doc_root::document_root(vars.req.loc, vars, &mut root);
    let root_path = std::path::Path::new(std::ffi::OsStr::from_bytes(&root));
    let failed = match std::fs::metadata(root_path) {
        Ok(meta) if meta.is_dir() => None,
        Ok(_) => Some(std::io::Error::from_raw_os_error(libc::ENOTDIR)),
        Err(e) => Some(e),
    };
    if let Some(e) = failed {
        let message = format!(
            "testing \"{}\" existence failed ({})",
            root_path.display(),
            crate::sys::errno_text(&e)
        );
        log_error(vars, LogLevel::Error, &message);
        return;
    }
    let mut path = Vec::new();
    script.eval(vars, &mut path);
    let caching = vars
        .req
        .loc
        .open_log_file_cache
        .map(|c| crate::log::named::Caching {
            max: c.max,
            inactive: c.inactive,
            min_uses: c.min_uses,
            valid: c.valid,
        });
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(&path));
    if let Err(e) = crate::log::named::write_named(path, line, caching) {
        log_error(vars, LogLevel::Crit, &e.to_string());
    }
}

fn log_error(vars: &RequestVars<'_, '_>, level: LogLevel, message: &str) {
    let a = vars.active;
    let buf = &a.buf[a.start.min(a.filled)..a.filled];
    crate::elog!(
        level,
        "*{} {message}, client: {}, server: {}{}",
        vars.conn.id,
        vars.conn.peer.ip(),
        vars.req.server.first_name(),
        RequestContext::of(buf, &a.head)
    );
}
