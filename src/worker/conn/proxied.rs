//! A connection while the proxy answers its request: handing the request to a
//! [`crate::proxy::Link`], driving it, and taking the connection back when it is done.

use super::*;

impl<'c> Conn<'c> {
    /// The location proxies: build the upstream request and start its link.
    pub(super) fn start_proxy(&mut self, shared: &mut Shared<'c>) -> Step {
        let Some(a) = self.active.as_deref() else {
            return Step::Close;
        };
        let Some(req) = a.req.as_ref() else {
            return Step::Close;
        };
        let loc = req.loc;
        let setup = {
            let conn = crate::worker::request_vars::ConnInfo::of(self);
            let vars = crate::worker::request_vars::RequestVars {
                conn: &conn,
                active: a,
                req,
                shared,
                upstream: Some(self),
                as_get: a.route.as_get,
            };
            crate::proxy::prepare(&vars, a, loc, shared.http, self.peer.ip(), self.id)
        };
        // The body an intercepted try buffered goes to the error page's upstream.
        let kept = self
            .active
            .as_mut()
            .and_then(|a| a.route.request_body.take());
        let Some(a) = self.active.as_deref() else {
            return Step::Close;
        };
        let link = crate::proxy::Link::new(
            loc,
            setup,
            a,
            kept,
            self.peer.ip(),
            shared.now,
            &mut shared.upstreams.buffers,
        );
        let mut link = link;
        // The same request used the proxy before an internal redirect brought it here:
        // its tries go on (`$upstream_addr` shows ` : ` between them).
        if let Some(earlier) = self.upstream_log.take() {
            link.follow(*earlier);
        }
        self.proxy = Some(Box::new(link));
        self.state = State::Proxying;
        if let Some(a) = self.active.as_mut()
            && a.head.expect_continue
            && !a.route.body_taken
            && (a.head.content_length.is_some_and(|n| n > 0) || a.head.chunked)
            && a.filled <= a.start + a.head.head_len
        {
            // The client waits for this before it sends the body.
            a.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        Step::Again
    }

    pub(super) fn drive_proxy(&mut self, shared: &mut Shared<'c>) -> Step {
        let (Some(link), Some(sock), Some(a)) = (
            self.proxy.as_mut(),
            self.sock.as_mut(),
            self.active.as_deref_mut(),
        ) else {
            return Step::Close;
        };
        let mut cx = crate::proxy::ClientSide {
            sock,
            readable: &mut self.readable,
            writable: &mut self.writable,
            a,
            id: self.id,
            peer: self.peer,
            key: self.key,
        };
        match link.drive(&mut cx, shared) {
            crate::proxy::LinkStep::Wait(deadline) => Step::Wait(deadline),
            crate::proxy::LinkStep::Finished => {
                self.end_proxy(shared);
                self.state = State::Responding;
                Step::Again
            }
            crate::proxy::LinkStep::Intercept(status) => {
                // The tries stay for `$upstream_*` (continued if the error page proxies).
                self.end_proxy(shared);
                self.state = State::Responding;
                let log = self.upstream_log.take();
                let step = handler::upstream_error_page(self, shared, status, log.as_deref());
                self.upstream_log = log;
                step
            }
            crate::proxy::LinkStep::Redirect(redirect) => {
                self.end_proxy(shared);
                self.state = State::Responding;
                let log = self.upstream_log.take();
                let step = handler::upstream_redirect(self, shared, *redirect, log.as_deref());
                self.upstream_log = log;
                step
            }
            crate::proxy::LinkStep::Close => {
                self.end_proxy(shared);
                self.state = State::Responding;
                if let Some(r) = self.active.as_mut().and_then(|a| a.req.as_mut()) {
                    r.keepalive = false;
                }
                if let Some(a) = self.active.as_mut() {
                    // Whatever was not written is dropped with the connection.
                    a.out.clear();
                    a.out_pos = 0;
                }
                match self.finish_request(shared) {
                    Step::Again => Step::Close,
                    other => other,
                }
            }
        }
    }

    pub(super) fn end_proxy(&mut self, shared: &mut Shared<'c>) {
        if let Some(link) = self.proxy.take() {
            self.upstream_log = Some(Box::new(link.into_log(&mut shared.upstreams)));
        }
    }

    /// Records readiness of the upstream socket of a proxied request.
    pub fn on_upstream_event(&mut self, readable: bool, writable: bool) {
        if let Some(l) = self.proxy.as_mut() {
            l.on_event(readable, writable);
        }
    }

    /// The resolver's answer for the name this connection's proxied request waits on.
    pub fn on_resolved(
        &mut self,
        ticket: crate::resolver::Ticket,
        result: Result<crate::resolver::Addrs, crate::resolver::ResolveError>,
    ) {
        if let Some(l) = self.proxy.as_mut() {
            l.on_resolved(ticket, result);
        }
    }
}

impl crate::proxy::UpstreamVars for Conn<'_> {
    /// `$upstream_*`, `$proxy_host`, `$proxy_port` of the current or last proxied request
    /// (by the variable's whole name).
    fn upstream_var(&self, name: &str, out: &mut Vec<u8>) -> bool {
        match (self.proxy.as_ref(), self.upstream_log.as_ref()) {
            (Some(l), _) => l.var(name, out),
            (None, Some(log)) => log.var(name, out),
            _ => false,
        }
    }
}
