//! A request `limit_req` delays: the connection waits for the delay's end (nginx puts the
//! request on a timer, not to sleep), then the request goes on from where it stopped.

use super::*;

impl<'c> Conn<'c> {
    /// Waits for `until`, then resumes the request's phases.
    pub(super) fn wait_delay(
        &mut self,
        shared: &mut Shared<'c>,
        servers: &AddrServers,
        until: Instant,
    ) -> Step {
        if shared.now < until {
            return Step::Wait(Some(until));
        }
        self.state = State::Responding;
        handler::resume_delayed(self, shared, servers)
    }
}
