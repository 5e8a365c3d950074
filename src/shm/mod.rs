//! Shared-memory zones: state every worker of one master sees and updates together
//! (`limit_req_zone`, `limit_conn_zone`; later upstream `zone`, the TLS session cache, status
//! counters, the proxy cache's keys).
//!
//! - [`Segment`]: an anonymous shared mapping made by the master before it forks, with a
//!   process-shared lock at its start that records its owner (a worker killed while it holds
//!   the lock does not wedge the others: a waiter sees the owner gone, takes the lock over
//!   and wipes the zone).
//! - [`Table`]: inside a segment, a fixed-size allocator, a hash index of byte keys and an
//!   LRU list, typed by the module's fixed-size value ([`Pod`]).
//! - [`Slots`]: inside a segment, a fixed array of records (an upstream zone's peers).
//! - [`Registry`]: the master's zones by name, kind and size, so a reload keeps a zone whose
//!   three did not change — the same mapping, contents and all — and maps a new one
//!   otherwise, as `ngx_init_cycle` does. A binary upgrade (`USR2`) starts from empty zones,
//!   as nginx's new binary does: the mappings are anonymous and do not survive `exec`.
//!
//! The whole crate's shared-memory `unsafe` is in this module.

mod handle;
mod segment;
mod slots;
mod table;

pub use handle::SegmentHandle;
pub use segment::{LockState, Segment};
pub use slots::{Slots, SlotsGuard};
pub use table::{Guard, Node, PAGE, Pod, Remembered, Table};

use std::rc::Rc;

/// One zone the master has mapped, with what identifies it across reloads.
#[derive(Debug, Clone)]
pub struct Mapped {
    /// The zone's name (`zone=NAME:SIZE`).
    pub name: String,
    /// Which module uses it (nginx's `tag`): a zone of another kind is never reused.
    pub kind: u64,
    /// Its size in bytes.
    pub size: usize,
    /// What the module wants compared on reuse (the key a `limit_req_zone` was declared with).
    pub note: String,
    /// The mapping.
    pub segment: Rc<Segment>,
}

/// The master's zones (those of the configuration in force).
#[derive(Debug, Default)]
pub struct Registry {
    zones: Vec<Mapped>,
}

impl Registry {
    /// The zone named `name` of this kind and size, if there is one to reuse.
    pub fn find(&self, name: &str, kind: u64, size: usize) -> Option<&Mapped> {
        self.zones
            .iter()
            .find(|z| z.name == name && z.kind == kind && z.size == size)
    }

    /// Adds a zone.
    pub fn push(&mut self, zone: Mapped) {
        self.zones.push(zone);
    }

    /// After the master reaped `pid`: any zone lock it died holding is marked for takeover
    /// ([`Segment::release_dead_owner`]); returns how many were.
    pub fn release_dead_owner(&self, pid: u32) -> usize {
        self.zones
            .iter()
            .filter(|z| z.segment.release_dead_owner(pid))
            .count()
    }

    /// Zones held.
    pub fn len(&self) -> usize {
        self.zones.len()
    }

    /// Whether no zone is held.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }
}
