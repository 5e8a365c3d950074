//! The two-way tunnel after a 101 (WebSocket): bytes both ways until both sides close,
//! ended by `proxy_read_timeout` of inactivity.

use super::*;

impl<'c> Link<'c> {
    // ---- tunnel ----

    pub(super) fn tunnel_round(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Flow {
        let mut progress = self.write_client(cx, shared)?;
        if cx.a.out_pos < cx.a.out.len() {
            return Ok(progress);
        }
        let Some(sock) = self.sock.as_mut() else {
            return Err(LinkStep::Close);
        };
        let Some(t) = self.tunnel.as_mut() else {
            return Ok(progress);
        };
        // client → upstream
        loop {
            if self.out_pos < self.out.len() {
                if !self.up_writable {
                    break;
                }
                match sock.write(&self.out[self.out_pos..]) {
                    Ok(n) => {
                        self.out_pos += n;
                        progress = true;
                        self.up_progress = shared.now;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.up_writable = false;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Err(self.end_tunnel(shared)),
                }
                continue;
            }
            self.out.clear();
            self.out_pos = 0;
            if t.client_eof || !*cx.readable {
                break;
            }
            self.out.resize(CLIENT_READ_CHUNK, 0);
            match cx.sock.read(&mut self.out) {
                Ok(0) => {
                    self.out.clear();
                    t.client_eof = true;
                    let _ = sock.shutdown(Shutdown::Write);
                    progress = true;
                }
                Ok(n) => {
                    self.out.truncate(n);
                    progress = true;
                    self.client_progress = shared.now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.out.clear();
                    *cx.readable = false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.out.clear(),
                Err(_) => {
                    self.out.clear();
                    return Err(self.end_tunnel(shared));
                }
            }
        }
        // upstream → client
        loop {
            if self.resp_start < self.resp_end {
                if !*cx.writable {
                    break;
                }
                match cx.sock.write(&self.resp[self.resp_start..self.resp_end]) {
                    Ok(n) => {
                        self.resp_start += n;
                        if let Some(req) = cx.a.req.as_mut() {
                            req.bytes_sent += n as u64;
                        }
                        progress = true;
                        self.client_progress = shared.now;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        *cx.writable = false;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Err(self.end_tunnel(shared)),
                }
                continue;
            }
            self.resp_start = 0;
            self.resp_end = 0;
            if t.upstream_eof || !self.up_readable {
                break;
            }
            match sock.read(&mut self.resp) {
                Ok(0) => {
                    t.upstream_eof = true;
                    let _ = cx.sock.shutdown(Shutdown::Write);
                    progress = true;
                }
                Ok(n) => {
                    self.resp_end = n;
                    progress = true;
                    self.up_progress = shared.now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.up_readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(self.end_tunnel(shared)),
            }
        }
        if t.client_eof && t.upstream_eof {
            return Err(self.end_tunnel(shared));
        }
        Ok(progress)
    }

    pub(super) fn end_tunnel(&mut self, shared: &mut Shared<'c>) -> LinkStep {
        if let Some(t) = self.log.tries.last_mut() {
            t.time = Some(shared.now.saturating_duration_since(self.try_started));
        }
        self.drop_upstream(shared, false);
        LinkStep::Close
    }
}
