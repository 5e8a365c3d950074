//! The master's one hook for shared memory: before the workers fork, every zone of the
//! configuration (`limit_req_zone`, `limit_conn_zone`...) gets its mapping, as
//! `ngx_init_cycle` does. A zone the previous configuration had with the same name, kind
//! and size is kept — the same mapping, contents and all — so a reload does not reset the
//! limits; any other is mapped afresh (a changed size gets a new, empty zone, as in nginx).
//! Old workers keep their own view of a dropped zone until they exit.

use std::rc::Rc;

use crate::config::{Config, ZoneKind};
use crate::shm::{Mapped, Registry, Segment};
use crate::sys;

/// Maps (or keeps) the zones `config` declares and records them in `config`; returns the
/// registry that replaces `previous` once the configuration is taken.
pub(super) fn map(config: &mut Config, previous: &Registry) -> Result<Registry, String> {
    let mut next = Registry::default();
    let Some(http) = config.http.as_mut() else {
        return Ok(next);
    };
    // The status zone's counter blocks, by name: the same block as the last generation's.
    http.status_zone_blocks = http
        .status_zones
        .iter()
        .map(|(server, name)| {
            let kind = if *server {
                crate::status::zones::Kind::Server
            } else {
                crate::status::zones::Kind::Location
            };
            let block = crate::status::zones::assign(kind, name);
            if block.is_none() {
                crate::elog!(
                    crate::log::LogLevel::Warn,
                    "no room for status_zone \"{name}\" in the status zone: its requests are not counted"
                );
            }
            block
        })
        .collect();
    http.limit_zone_blocks = http
        .zones
        .iter()
        .map(|z| match z.kind {
            ZoneKind::LimitReq => {
                crate::status::zones::assign(crate::status::zones::Kind::LimitReq, &z.name)
            }
            ZoneKind::LimitConn => {
                crate::status::zones::assign(crate::status::zones::Kind::LimitConn, &z.name)
            }
            ZoneKind::Upstream
            | ZoneKind::ProxyCache
            | ZoneKind::SslSessionCache
            | ZoneKind::SslOcspCache => None,
        })
        .collect();
    for (index, zone) in http.zones.iter_mut().enumerate() {
        let kind = zone.kind.tag();
        let size = zone.size as usize;
        // An upstream zone is never reused (nginx's `noreuse`): its records follow the
        // servers of the new configuration.
        let reusable = zone.kind != ZoneKind::Upstream;
        let segment = match previous.find(&zone.name, kind, size).filter(|_| reusable) {
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
                let formatted = match zone.kind {
                    ZoneKind::Upstream => {
                        let peers = http
                            .upstreams
                            .iter()
                            .filter(|u| u.zone == Some(index))
                            .map(|u| u.servers.len() + 1)
                            .sum();
                        crate::upstream::balancer::format_zone(&seg, peers)
                    }
                    kind => crate::limits::format_zone(kind, &seg),
                };
                formatted.map_err(|_| format!("zone \"{}\" is too small", zone.name))?;
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
