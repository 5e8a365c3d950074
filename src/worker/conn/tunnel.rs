//! The connection after a 101 (WebSocket): bytes both ways between the client and the
//! upstream until both sides close, ended by `proxy_read_timeout` of inactivity. The
//! connection takes this state by value from the proxied request; the client side still
//! goes through its one [`Client`].

use std::io::{Read, Write};
use std::time::Duration;

use super::*;
use crate::upstream::Upstreams;

/// Bytes read from either side per call.
const TUNNEL_CHUNK: usize = 16 * 1024;

/// A tunnel between the client and an upstream.
pub struct Tunnel {
    upstream: TcpStream,
    up_readable: bool,
    up_writable: bool,
    /// Client bytes on their way upstream (`to_upstream[to_pos..]` is unsent).
    to_upstream: Vec<u8>,
    to_pos: usize,
    /// Upstream bytes on their way to the client.
    to_client: Vec<u8>,
    client_pos: usize,
    client_eof: bool,
    upstream_eof: bool,
    /// Last byte moved either way.
    progress: Instant,
    /// `proxy_read_timeout`: the most the tunnel may stay silent.
    idle_timeout: Duration,
}

impl Tunnel {
    /// A tunnel over `upstream`, with bytes already waiting each way.
    pub fn new(
        upstream: TcpStream,
        to_upstream: Vec<u8>,
        to_client: Vec<u8>,
        idle_timeout: Duration,
        now: Instant,
    ) -> Tunnel {
        Tunnel {
            upstream,
            up_readable: true,
            up_writable: true,
            to_upstream,
            to_pos: 0,
            to_client,
            client_pos: 0,
            client_eof: false,
            upstream_eof: false,
            progress: now,
            idle_timeout,
        }
    }

    /// Records readiness of the upstream socket.
    pub fn on_event(&mut self, readable: bool, writable: bool) {
        self.up_readable |= readable;
        self.up_writable |= writable;
    }

    /// Closes the upstream side (it was counted as an open upstream connection).
    pub fn close(self, upstreams: &mut Upstreams) {
        upstreams.open = upstreams.open.saturating_sub(1);
    }
}

/// How a tunnel turn ended.
enum Pump {
    /// Bytes moved.
    Moved,
    /// Nothing can move now.
    Idle,
    /// The tunnel is over (both sides closed, or a socket failed).
    Over,
}

impl<'c> Conn<'c> {
    /// Runs the tunnel: the 101 head first, then both directions until nothing moves.
    pub(super) fn drive_tunnel(&mut self, shared: &mut Shared<'c>) -> Step {
        // The 101 head (still queued) goes first.
        match self.flush(&mut shared.compress) {
            Flush::Error => return Step::Close,
            Flush::Blocked => return self.tunnel_wait(shared),
            _ => {}
        }
        let State::Tunnel(t) = &mut self.state else {
            return Step::Close;
        };
        if shared.now >= t.progress + t.idle_timeout {
            if let Some(a) = self.active.as_deref() {
                let what = "upstream timed out (110: Connection timed out) while proxying upgraded connection";
                self.log_request_line(a, LogLevel::Error, what);
            }
            return Step::Close;
        }
        for _ in 0..MAX_ITERATIONS_PER_DRIVE {
            let State::Tunnel(t) = &mut self.state else {
                return Step::Close;
            };
            let bytes_sent = self
                .active
                .as_mut()
                .and_then(|a| a.req.as_mut())
                .map(|r| &mut r.bytes_sent);
            let mut scratch = 0u64;
            let counter = bytes_sent.unwrap_or(&mut scratch);
            match pump(t, &mut self.client, shared.now, counter) {
                Pump::Moved => continue,
                Pump::Idle => return self.tunnel_wait(shared),
                Pump::Over => return Step::Close,
            }
        }
        Step::Yield
    }

    fn tunnel_wait(&self, shared: &Shared<'c>) -> Step {
        match &self.state {
            State::Tunnel(t) => Step::Wait(Some(t.progress.max(shared.now) + t.idle_timeout)),
            _ => Step::Close,
        }
    }

    /// An error-log line about the request, with nginx's context.
    pub(super) fn log_request_line(&self, a: &Active<'c>, level: LogLevel, what: &str) {
        let Some(req) = a.req.as_ref() else { return };
        let cx = crate::upstream::RequestLog {
            conn_id: self.id,
            client: self.client_ip(),
            server: req.server,
            buf: &a.buf[a.start.min(a.filled)..a.filled],
            head: &a.head,
        };
        cx.line(level, &what, None);
    }
}

/// One round both ways.
fn pump(t: &mut Tunnel, client: &mut Client, now: Instant, bytes_sent: &mut u64) -> Pump {
    let mut moved = false;
    // client → upstream
    if t.to_pos < t.to_upstream.len() {
        if t.up_writable {
            match t.upstream.write(&t.to_upstream[t.to_pos..]) {
                Ok(n) => {
                    t.to_pos += n;
                    moved = true;
                    t.progress = now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => t.up_writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Pump::Over,
            }
        }
    } else if !t.client_eof && client.readable {
        t.to_upstream.resize(TUNNEL_CHUNK, 0);
        t.to_pos = 0;
        match client.read(&mut t.to_upstream) {
            Ok(0) => {
                t.to_upstream.clear();
                t.client_eof = true;
                let _ = t.upstream.shutdown(std::net::Shutdown::Write);
                moved = true;
            }
            Ok(n) => {
                t.to_upstream.truncate(n);
                moved = true;
                t.progress = now;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => t.to_upstream.clear(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => t.to_upstream.clear(),
            Err(_) => return Pump::Over,
        }
    }
    // upstream → client
    if t.client_pos < t.to_client.len() {
        if client.writable {
            match client.write(&t.to_client[t.client_pos..]) {
                Ok(n) => {
                    t.client_pos += n;
                    *bytes_sent += n as u64;
                    moved = true;
                    t.progress = now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Pump::Over,
            }
        }
    } else if !t.upstream_eof && t.up_readable {
        t.to_client.resize(TUNNEL_CHUNK, 0);
        t.client_pos = 0;
        match t.upstream.read(&mut t.to_client) {
            Ok(0) => {
                t.to_client.clear();
                t.upstream_eof = true;
                client.shutdown_write();
                moved = true;
            }
            Ok(n) => {
                t.to_client.truncate(n);
                moved = true;
                t.progress = now;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                t.to_client.clear();
                t.up_readable = false;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => t.to_client.clear(),
            Err(_) => return Pump::Over,
        }
    }
    if t.client_eof && t.upstream_eof && t.to_pos >= t.to_upstream.len() {
        return Pump::Over;
    }
    if moved { Pump::Moved } else { Pump::Idle }
}
