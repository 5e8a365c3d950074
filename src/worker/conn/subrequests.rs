//! The connection's side of its request's subrequests (`worker/subrequest/`): driving
//! them beside the request (their upstream sockets are the connection's), waiting for
//! the `auth_request` one in the access phase and for the mirrors before the next request,
//! and reading the body whole for the mirrors.

use super::*;
use crate::upstream::body_buffer::StoredBody;
use crate::worker::request_vars::ConnInfo;
use crate::worker::subrequest::{self, Kind};

impl<'c> Conn<'c> {
    /// Drives the request's subrequests; `None` when it has none.
    pub(super) fn drive_subrequests(&mut self, shared: &mut Shared<'c>) -> Option<SubTurn> {
        if self.active.as_ref()?.subrequests.is_empty() {
            return None;
        }
        let conn = ConnInfo::of(self);
        let key = self.key;
        let a = self.active.as_mut()?;
        let mut subs = std::mem::take(&mut a.subrequests);
        let turn = subrequest::drive_all(&mut subs, &conn, key, shared);
        if let Some(a) = self.active.as_mut() {
            a.subrequests = subs;
        }
        Some(turn)
    }

    /// Ends every subrequest (the connection closes).
    pub(super) fn end_subrequests(&mut self, shared: &mut Shared<'c>) {
        let Some(a) = self.active.as_mut() else {
            return;
        };
        if a.subrequests.is_empty() {
            return;
        }
        let subs = std::mem::take(&mut a.subrequests);
        let conn = ConnInfo::of(self);
        for sub in subs {
            sub.end(&conn, shared);
        }
    }

    /// `auth_request`: once its subrequest is done, the access phase goes on.
    pub(super) fn await_auth(&mut self, shared: &mut Shared<'c>) -> Step {
        let Some(a) = self.active.as_ref() else {
            return Step::Close;
        };
        if a.subrequests
            .iter()
            .any(|s| s.kind == Kind::Auth && !s.done())
        {
            return Step::Wait(None);
        }
        self.state = State::Responding;
        handler::resume_access(self, shared)
    }

    /// The response went out; the mirrors still run. Once they are done the request ends.
    pub(super) fn await_subrequests(&mut self, shared: &mut Shared<'c>) -> Step {
        let Some(a) = self.active.as_ref() else {
            return Step::Close;
        };
        if subrequest::running(&a.subrequests) {
            return Step::Wait(None);
        }
        self.state = State::Responding;
        self.finish_request(shared)
    }

    /// `mirror_request_body on`: the body is read whole (in memory or its temporary file,
    /// as for a buffered proxied body) before the mirrors and the content phase.
    pub(super) fn read_body_for_mirror(&mut self) -> Step {
        let Some(a) = self.active.as_deref_mut() else {
            return Step::Close;
        };
        let Some(req) = a.req.as_mut() else {
            return Step::Close;
        };
        // nginx's ngx_http_read_client_request_body answers `Expect: 100-continue`.
        if a.head.expect_continue {
            a.out.extend_from_slice(crate::http::response::CONTINUE);
        }
        let stored = Box::new(StoredBody::new(req.loc.client_body_in_file_only));
        match ClientBody::of(&a.head, Sink::Store(stored)) {
            Some(body) => {
                a.body = Some(body);
                req.body = BodyRead::Abandoned;
                a.route.body_for_mirror = true;
                self.state = State::ReadingBody;
                self.client_progress = self.now;
                Step::Again
            }
            None => Step::Close,
        }
    }

    /// The body for the mirrors is here: it is kept as the request's (`$request_body`, a
    /// proxied content handler sends it), and the content phase goes on.
    pub(super) fn mirror_body_read(
        &mut self,
        shared: &mut Shared<'c>,
        stored: Box<StoredBody>,
    ) -> Step {
        let Some(a) = self.active.as_deref_mut() else {
            return Step::Close;
        };
        a.body = None;
        a.route.body_for_mirror = false;
        a.route.request_body = Some(stored);
        a.route.body_taken = true;
        if let Some(req) = a.req.as_mut() {
            req.body = BodyRead::Complete;
        }
        self.state = State::Responding;
        handler::resume_content(self, shared)
    }
}
