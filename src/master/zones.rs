//! The master's one hook for shared memory: before the workers fork, every zone of the
//! configuration (`limit_req_zone`, `limit_conn_zone`...) gets its mapping, as
//! `ngx_init_cycle` does. A zone the previous configuration had with the same name, kind
//! and size is kept — the same mapping, contents and all — so a reload does not reset the
//! limits; any other is mapped afresh (a changed size gets a new, empty zone, as in nginx).
//! Old workers keep their own view of a dropped zone until they exit.

use std::rc::Rc;

use crate::config::Config;
use crate::shm::{Mapped, Registry, Segment};
use crate::sys;

/// Maps (or keeps) the zones `config` declares and records them in `config`; returns the
/// registry that replaces `previous` once the configuration is taken.
pub(super) fn map(config: &mut Config, previous: &Registry) -> Result<Registry, String> {
    let mut next = Registry::default();
    let Some(http) = config.http.as_mut() else {
        return Ok(next);
    };
    for zone in &mut http.zones {
        let kind = zone.kind.tag();
        let size = zone.size as usize;
        let segment = match previous.find(&zone.name, kind, size) {
            Some(old) => {
                if old.note != zone.key_text {
                    return Err(crate::limits::key_changed(zone, &old.note));
                }
                Rc::clone(&old.segment)
            }
            None => {
                let seg = Segment::map(size).map_err(|e| {
                    format!(
                        "mmap(MAP_ANON|MAP_SHARED, {size}) failed ({})",
                        sys::errno_text(&e)
                    )
                })?;
                crate::limits::format_zone(zone.kind, &seg)
                    .map_err(|_| format!("zone \"{}\" is too small", zone.name))?;
                Rc::new(seg)
            }
        };
        next.push(Mapped {
            name: zone.name.clone(),
            kind,
            size,
            note: zone.key_text.clone(),
            segment: Rc::clone(&segment),
        });
        zone.segment = Some(segment);
    }
    crate::tls::attach_zones(http);
    Ok(next)
}
