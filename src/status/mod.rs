//! Live numbers of the running server: the connection and request counters every worker
//! keeps in shared memory ([`counters`]), what a client connection counts as it goes
//! ([`ConnStat`]), and the handlers that show them (`stub_status`, in
//! `worker/stub_status.rs`).

pub mod counters;
pub mod render;
pub mod zones;

pub use counters::Field;

/// What a client connection is doing, as nginx's `stub_status` classes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    /// Idle: kept alive between requests, or accepted with nothing received yet.
    Waiting,
    /// Reading a request head.
    Reading,
    /// Past the head: reading the body, answering, lingering, tunnelling.
    Writing,
}

impl ConnState {
    fn field(self) -> Field {
        match self {
            ConnState::Waiting => Field::Waiting,
            ConnState::Reading => Field::Reading,
            ConnState::Writing => Field::Writing,
        }
    }
}

/// A client connection's place in the counters; leaving it (dropping the connection)
/// takes the connection out of them.
#[derive(Debug, Default)]
pub struct ConnStat(Option<ConnState>);

const MINUS_ONE: u64 = u64::MAX;

impl ConnStat {
    /// A connection just accepted: accepted, handled, active and waiting, as nginx counts
    /// it before its first byte.
    pub fn opened() -> ConnStat {
        counters::add(Field::Accepted, 1);
        counters::add(Field::Handled, 1);
        counters::add(Field::Active, 1);
        counters::add(Field::Waiting, 1);
        ConnStat(Some(ConnState::Waiting))
    }

    /// The connection moves to `state`; entering [`ConnState::Reading`] begins a request.
    #[inline]
    pub fn enter(&mut self, state: ConnState) {
        let Some(old) = self.0 else { return };
        if old == state {
            return;
        }
        counters::add(old.field(), MINUS_ONE);
        counters::add(state.field(), 1);
        if state == ConnState::Reading {
            counters::add(Field::Requests, 1);
        }
        self.0 = Some(state);
    }
}

impl Drop for ConnStat {
    fn drop(&mut self) {
        if let Some(old) = self.0.take() {
            counters::add(old.field(), MINUS_ONE);
            counters::add(Field::Active, MINUS_ONE);
        }
    }
}
