//! A segment handle that a rustls store may hold. rustls asks its session stores to be
//! `Send + Sync` (its configurations may be shared between threads); a Portico worker is one
//! thread and never sends one anywhere, and the master builds them before it forks.

use std::rc::Rc;

use super::Segment;

/// A mapped zone, held by a TLS session store.
pub struct SegmentHandle(Rc<Segment>);

// SAFETY: the handle is only used by the one thread of the process that holds it (the
// master, then each forked worker, all single-threaded); the `Rc` is never cloned or
// dropped concurrently. The segment's contents are guarded by its process-shared lock.
unsafe impl Send for SegmentHandle {}
// SAFETY: as above: no two threads ever reach the same handle.
unsafe impl Sync for SegmentHandle {}

impl SegmentHandle {
    /// Wraps a mapped zone.
    pub fn new(segment: Rc<Segment>) -> SegmentHandle {
        SegmentHandle(segment)
    }

    /// The zone.
    pub fn segment(&self) -> &Segment {
        &self.0
    }
}

impl std::fmt::Debug for SegmentHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SegmentHandle")
    }
}
