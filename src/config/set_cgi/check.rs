//! nginx's checks of the FastCGI, uwsgi and SCGI settings once every level is merged
//! (`ngx_http_*_merge_loc_conf`): the buffers against each other, and a `*_pass` host
//! without a port that names no `upstream` block.

use crate::config::cgi_values::{CgiModule, CgiTarget};
use crate::config::error::ConfError;
use crate::config::set_upstream::{BlockPlace, PlacedSize};
use crate::config::settings::{HttpConf, LocSettings, LocationConf};

/// nginx's checks of one merged level, for each module (`ngx_http_*_merge_loc_conf`).
fn check(loc: &LocSettings, block: Option<&BlockPlace>) -> Result<(), ConfError> {
    for m in CgiModule::ALL {
        let c = m.conf(loc);
        let name = m.name();
        let at = |p: Option<&PlacedSize>, message: String| match (p, block) {
            (Some(p), _) => ConfError::new(message, &p.file, p.line),
            (None, Some((file, line))) => ConfError::new(message, file, *line),
            (None, None) => ConfError::bare(message),
        };
        let (count, size) = c.buffers();
        if count < 2 {
            return Err(at(
                None,
                format!("there must be at least 2 \"{name}_buffers\""),
            ));
        }
        let unit = c.buffer_unit() as u64;
        let busy = c.busy_buffers_size() as u64;
        if busy < unit {
            return Err(at(
                c.busy_buffers_size.as_ref(),
                format!(
                    "\"{name}_busy_buffers_size\" must be equal to or greater than the \
                     maximum of the value of \"{name}_buffer_size\" and one of the \
                     \"{name}_buffers\""
                ),
            ));
        }
        if busy > (count as u64 - 1).saturating_mul(size as u64) {
            return Err(at(
                c.busy_buffers_size.as_ref(),
                format!(
                    "\"{name}_busy_buffers_size\" must be less than the size of all \
                     \"{name}_buffers\" minus one buffer"
                ),
            ));
        }
        if (c.temp_file_write_size() as u64) < unit {
            return Err(at(
                c.temp_file_write_size.as_ref(),
                format!(
                    "\"{name}_temp_file_write_size\" must be equal to or greater than the \
                     maximum of the value of \"{name}_buffer_size\" and one of the \
                     \"{name}_buffers\""
                ),
            ));
        }
        let max = c.max_temp_file_size();
        if max != 0 && max < unit {
            return Err(at(
                c.max_temp_file_size.as_ref(),
                format!(
                    "\"{name}_max_temp_file_size\" must be equal to zero to disable \
                     temporary files usage or must be equal to or greater than the maximum \
                     of the value of \"{name}_buffer_size\" and one of the \"{name}_buffers\""
                ),
            ));
        }
    }
    Ok(())
}

/// `*_pass host` without a port names no `upstream` block: nginx's `no port in upstream`
/// at the directive.
fn check_port(loc: &LocSettings, http: &HttpConf) -> Result<(), ConfError> {
    for m in CgiModule::ALL {
        let Some(pass) = &m.conf(loc).pass else {
            continue;
        };
        let CgiTarget::Group(g) = pass.target else {
            continue;
        };
        if let Some(u) = http.upstreams.get(g)
            && !u.explicit
            && u.pending.as_ref().is_some_and(|p| p.port.is_none())
        {
            return Err(ConfError::new(
                format!("no port in upstream \"{}\"", u.name),
                &pass.file,
                pass.line,
            ));
        }
    }
    Ok(())
}

/// Checks every merged level of the `http` block (its own, each server's, each location's
/// and each `if`'s), as nginx's merge does; `block` is the `http` block's place.
pub(crate) fn check_all(http: &HttpConf, block: Option<&BlockPlace>) -> Result<(), ConfError> {
    fn location(
        l: &LocationConf,
        http: &HttpConf,
        block: Option<&BlockPlace>,
    ) -> Result<(), ConfError> {
        check(&l.loc, block)?;
        check_port(&l.loc, http)?;
        for op in &l.rewrite {
            if let crate::config::rewrite_ops::Op::If { loc: Some(loc), .. } = op {
                check(loc, block)?;
            }
        }
        l.nested.iter().try_for_each(|n| location(n, http, block))
    }
    for server in &http.servers {
        check(&server.loc, block)?;
        server
            .locations
            .iter()
            .try_for_each(|l| location(l, http, block))?;
    }
    Ok(())
}
