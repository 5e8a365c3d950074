//! The proxy module's directives for response temporary files (`proxy_busy_buffers_size`,
//! `proxy_temp_file_write_size`, `proxy_max_temp_file_size`), and nginx's checks of them
//! against `proxy_buffer_size` and `proxy_buffers` once every level is merged
//! (`ngx_http_proxy_merge_loc_conf`).

use std::path::PathBuf;
use std::rc::Rc;

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::settings::{HttpConf, LocSettings, LocationConf};
use super::values::{offset_arg, set_once, size_arg};

/// A size and the directive that set it, so that a check made after merging can say
/// `in FILE:LINE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedSize {
    /// The value in bytes.
    pub bytes: u64,
    /// The directive's file.
    pub file: Rc<PathBuf>,
    /// The directive's line.
    pub line: usize,
}

fn placed(d: &Directive, bytes: u64) -> PlacedSize {
    PlacedSize {
        bytes,
        file: d.file.clone(),
        line: d.line,
    }
}

/// `proxy_busy_buffers_size SIZE;`
pub(crate) fn proxy_busy_buffers_size(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.proxy_busy_buffers_size, d, |d| {
        size_arg(d, 0).map(|n| Some(placed(d, n)))
    })
}

/// `proxy_temp_file_write_size SIZE;`
pub(crate) fn proxy_temp_file_write_size(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.proxy_temp_file_write_size, d, |d| {
        size_arg(d, 0).map(|n| Some(placed(d, n)))
    })
}

/// `proxy_max_temp_file_size SIZE;` (0 disables temporary files)
pub(crate) fn proxy_max_temp_file_size(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.proxy_max_temp_file_size, d, |d| {
        offset_arg(d, 0).map(|n| Some(placed(d, n)))
    })
}

/// The larger of `proxy_buffer_size` and one of `proxy_buffers`: nginx's unit for the
/// defaults and the checks.
pub fn buffer_unit(loc: &LocSettings) -> usize {
    loc.proxy_buffer_size.max(loc.proxy_buffers.1)
}

/// `proxy_busy_buffers_size`, or its default (two units).
pub fn busy_buffers_size(loc: &LocSettings) -> usize {
    loc.proxy_busy_buffers_size
        .as_ref()
        .map_or(2 * buffer_unit(loc), |p| p.bytes as usize)
}

/// `proxy_temp_file_write_size`, or its default (two units).
pub fn temp_file_write_size(loc: &LocSettings) -> usize {
    loc.proxy_temp_file_write_size
        .as_ref()
        .map_or(2 * buffer_unit(loc), |p| p.bytes as usize)
}

/// `proxy_max_temp_file_size`, or its default (1024m).
pub fn max_temp_file_size(loc: &LocSettings) -> u64 {
    loc.proxy_max_temp_file_size
        .as_ref()
        .map_or(super::settings::DEFAULT_PROXY_MAX_TEMP_FILE_SIZE, |p| {
            p.bytes
        })
}

/// Where an `http` block starts: the checks' errors name it when no directive of these set
/// the value that fails (nginx names the block's end).
pub type BlockPlace = (Rc<PathBuf>, usize);

/// nginx's checks of one merged level.
fn check(loc: &LocSettings, block: Option<&BlockPlace>) -> Result<(), ConfError> {
    let unit = buffer_unit(loc) as u64;
    let (count, size) = (loc.proxy_buffers.0 as u64, loc.proxy_buffers.1 as u64);
    let at = |p: Option<&PlacedSize>, message: &str| match (p, block) {
        (Some(p), _) => ConfError::new(message, &p.file, p.line),
        (None, Some((file, line))) => ConfError::new(message, file, *line),
        (None, None) => ConfError::bare(message),
    };
    let busy = busy_buffers_size(loc) as u64;
    let busy_place = loc.proxy_busy_buffers_size.as_ref();
    if busy < unit {
        return Err(at(
            busy_place,
            "\"proxy_busy_buffers_size\" must be equal to or greater than the maximum of the \
             value of \"proxy_buffer_size\" and one of the \"proxy_buffers\"",
        ));
    }
    if busy > count.saturating_sub(1).saturating_mul(size) {
        return Err(at(
            busy_place,
            "\"proxy_busy_buffers_size\" must be less than the size of all \"proxy_buffers\" \
             minus one buffer",
        ));
    }
    if (temp_file_write_size(loc) as u64) < unit {
        return Err(at(
            loc.proxy_temp_file_write_size.as_ref(),
            "\"proxy_temp_file_write_size\" must be equal to or greater than the maximum of \
             the value of \"proxy_buffer_size\" and one of the \"proxy_buffers\"",
        ));
    }
    let max = max_temp_file_size(loc);
    if max != 0 && max < unit {
        return Err(at(
            loc.proxy_max_temp_file_size.as_ref(),
            "\"proxy_max_temp_file_size\" must be equal to zero to disable temporary files \
             usage or must be equal to or greater than the maximum of the value of \
             \"proxy_buffer_size\" and one of the \"proxy_buffers\"",
        ));
    }
    Ok(())
}

/// Checks every merged level of the `http` block (its own, each server's, each location's
/// and each `if`'s), as nginx's merge does; `block` is the `http` block's place.
pub(crate) fn check_all(http: &HttpConf, block: Option<&BlockPlace>) -> Result<(), ConfError> {
    fn location(l: &LocationConf, block: Option<&BlockPlace>) -> Result<(), ConfError> {
        check(&l.loc, block)?;
        for op in &l.rewrite {
            if let crate::config::rewrite_ops::Op::If { loc: Some(loc), .. } = op {
                check(loc, block)?;
            }
        }
        l.nested.iter().try_for_each(|n| location(n, block))
    }
    for server in &http.servers {
        check(&server.loc, block)?;
        server
            .locations
            .iter()
            .try_for_each(|l| location(l, block))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::testutil::{http, load_err, load_in, load_ok};

    #[test]
    fn defaults_follow_the_buffers_and_the_checks_are_nginx_s() {
        let c = load_ok(&http(
            "server { listen 8080; location / { proxy_buffers 8 8k; proxy_pass http://127.0.0.1:1; } }",
        ));
        let h = c.http.expect("http");
        let loc = &h.servers[0].locations[0].loc;
        assert_eq!(super::busy_buffers_size(loc), 16384);
        assert_eq!(super::temp_file_write_size(loc), 16384);
        assert_eq!(super::max_temp_file_size(loc), 1024 * 1024 * 1024);
        // Reported at the directive's line.
        let text = http("server { listen 8080; location / {\nproxy_busy_buffers_size 64k; } }");
        let e = load_in(&text, None).0.expect_err("an error");
        assert!(
            e.message
                .contains("\"proxy_busy_buffers_size\" must be less than the size of all")
                && e.line == 4,
            "{e}"
        );
        // With only the defaults, at the http block's.
        let e = load_in(&http("proxy_buffers 2 4k; server { listen 8080; }"), None)
            .0
            .expect_err("an error");
        assert_eq!(e.line, 2, "{e}");
        let e = load_err(&http(
            "proxy_max_temp_file_size 1k; server { listen 8080; }",
        ));
        assert!(e.contains("must be equal to zero to disable"), "{e}");
        let e = load_err(&http(
            "proxy_temp_file_write_size 1k; server { listen 8080; }",
        ));
        assert!(
            e.contains("\"proxy_temp_file_write_size\" must be equal to or greater"),
            "{e}"
        );
        let e = load_err(&http("proxy_busy_buffers_size 1k; server { listen 8080; }"));
        assert!(
            e.contains("\"proxy_busy_buffers_size\" must be equal to or greater"),
            "{e}"
        );
        load_ok(&http(
            "proxy_max_temp_file_size 0; proxy_busy_buffers_size 12k; proxy_temp_file_write_size 8k;",
        ));
        let e = load_err(&http("proxy_max_temp_file_size 0 1;"));
        assert!(e.contains("invalid number of arguments"), "{e}");
    }
}
