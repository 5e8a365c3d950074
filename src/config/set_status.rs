//! Setters of the status area: an upstream block's `zone` (`ngx_http_upstream_zone_module.c`)
//! and `stub_status` (`ngx_http_stub_status_module.c`), with nginx's checks and messages.

use super::error::ConfError;
use super::limits_values::{MIN_ZONE_SIZE, ZoneKind};
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::set_limits::zone_index;
use super::values::parse_size;

/// `zone NAME [SIZE];` inside an upstream block: the group's counters live in the shared
/// zone NAME. Without SIZE the zone must be sized by another upstream block (several groups
/// may share one zone, as in nginx).
pub(crate) fn upstream_zone(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let name = d.arg(0);
    if name.is_empty() {
        return Err(ConfError::at(d, format!("invalid zone name \"{name}\"")));
    }
    let size = if d.args.len() > 1 {
        let text = d.arg(1);
        let size = parse_size(text)
            .ok_or_else(|| ConfError::at(d, format!("invalid zone size \"{text}\"")))?;
        if size < MIN_ZONE_SIZE {
            return Err(ConfError::at(d, format!("zone \"{name}\" is too small")));
        }
        size
    } else {
        0
    };
    let Level::Upstream(u) = l else {
        return Err(ConfError::at(
            d,
            format!("\"{}\" directive is not allowed here", d.name),
        ));
    };
    let i = zone_index(d, shared, name, ZoneKind::Upstream, size)?;
    // Declared by the zone directive itself: a limit_req naming it is "a different use".
    shared.zones[i].declared = true;
    u.zone = Some(i);
    Ok(())
}

/// `stub_status [basic];` (server or location): the location answers with the connection
/// counters. nginx 1.22 takes and ignores one argument, left from older versions.
pub(crate) fn stub_status(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    l.loc(d)?.stub_status = Some(true);
    Ok(())
}
