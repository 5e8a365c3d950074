//! Writing a response: the queued head and small bodies, then a file by `sendfile(2)` (or
//! `pread` + write), with nginx's error lines when the client or the file lets us down.

use super::*;

impl<'c> Conn<'c> {
    pub(super) fn flush(&mut self) -> Flush {
        let Some(sock) = self.sock.as_mut() else {
            return Flush::Error;
        };
        let Some(a) = self.active.as_mut() else {
            return Flush::Error;
        };
        let mut sent_file_bytes: u64 = 0;
        loop {
            if a.out_pos < a.out.len() {
                if !self.writable {
                    return Flush::Blocked;
                }
                // A head followed by sendfile goes with MSG_MORE: the kernel holds it and
                // sends it in the same segments as the file's first bytes, which is what
                // nginx gets from TCP_CORK (`tcp_nopush`) at the price of two setsockopt
                // calls per response.
                let file_follows = matches!(
                    a.body,
                    Body::File { sendfile: true, pos, end, .. } if pos < end
                );
                let written = if file_follows {
                    sys::send_more(sock.as_raw_fd(), &a.out[a.out_pos..])
                } else {
                    sock.write(&a.out[a.out_pos..])
                };
                match written {
                    Ok(n) => {
                        a.out_pos += n;
                        if a.out_pos == a.out.len() {
                            a.out.clear();
                            a.out_pos = 0;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.writable = false;
                        return Flush::Blocked;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        log_send_error(self.id, &self.peer, &e);
                        return Flush::Error;
                    }
                }
                continue;
            }
            let Body::File {
                file,
                pos,
                end,
                sendfile,
                max_chunk,
                rest,
            } = &mut a.body
            else {
                return Flush::Done;
            };
            if *pos >= *end {
                // A multipart answer goes on with the next part's head and bytes.
                if let Some(parts) = rest.as_mut() {
                    let (next, added) = parts.next(&mut a.out);
                    if let Some(r) = a.req.as_mut() {
                        r.bytes_sent += added as u64;
                    }
                    if let Some((start, stop)) = next {
                        (*pos, *end) = (start, stop);
                        continue;
                    }
                }
                a.body = Body::None;
                if a.out_pos < a.out.len() {
                    continue;
                }
                return Flush::Done;
            }
            if *max_chunk > 0 && sent_file_bytes >= *max_chunk {
                return Flush::Yield;
            }
            if !self.writable {
                return Flush::Blocked;
            }
            let want = (*end - *pos)
                .min(if *max_chunk > 0 { *max_chunk } else { u64::MAX })
                .min(1 << 30) as usize;
            if *sendfile {
                match sys::sendfile(sock.as_raw_fd(), file.as_raw_fd(), pos, want) {
                    Ok(0) => {
                        // nginx's ngx_linux_sendfile_chain: the file shrank under us.
                        let (path, at) = (fd_path(file.as_raw_fd()), *pos);
                        elog!(
                            LogLevel::Alert,
                            "*{} sendfile() reported that \"{path}\" was truncated at {at}{}",
                            self.id,
                            error_context(&self.peer, a)
                        );
                        return Flush::Error;
                    }
                    Ok(n) => {
                        sent_file_bytes += n as u64;
                        if let Some(r) = a.req.as_mut() {
                            r.bytes_sent += n as u64;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.writable = false;
                        return Flush::Blocked;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        log_send_error(self.id, &self.peer, &e);
                        return Flush::Error;
                    }
                }
            } else {
                // sendfile off: read a chunk into the output buffer and write it.
                let chunk = want.min(32 * 1024);
                a.out.resize(chunk, 0);
                match sys::pread(file.as_raw_fd(), &mut a.out[..chunk], *pos) {
                    Ok(0) => {
                        // nginx's ngx_output_chain_copy_buf on a short read.
                        elog!(
                            LogLevel::Alert,
                            "*{} pread() read only 0 of {} from \"{}\"{}",
                            self.id,
                            chunk,
                            fd_path(file.as_raw_fd()),
                            error_context(&self.peer, a)
                        );
                        a.out.clear();
                        return Flush::Error;
                    }
                    Ok(n) => {
                        a.out.truncate(n);
                        a.out_pos = 0;
                        *pos += n as u64;
                        sent_file_bytes += n as u64;
                        if let Some(r) = a.req.as_mut() {
                            r.bytes_sent += n as u64;
                        }
                    }
                    Err(e) => {
                        elog!(
                            LogLevel::Crit,
                            "*{} pread() failed ({})",
                            self.id,
                            sys::errno_text(&e)
                        );
                        a.out.clear();
                        return Flush::Error;
                    }
                }
            }
        }
    }
}

/// The name of an open file, for an error line (the kernel's, from `/proc/self/fd`): kept
/// out of the per-request state since only a file that shrank while being sent needs it.
pub(super) fn fd_path(fd: std::os::fd::RawFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map_or_else(|_| format!("fd {fd}"), |p| p.display().to_string())
}

/// nginx's `, client: ..., server: ..., request: "...", host: "..."` tail for an error
/// while a request is answered.
pub(super) fn error_context(peer: &SocketAddr, a: &Active<'_>) -> String {
    let buf = &a.buf[a.start.min(a.filled)..a.filled];
    let server = a.req.as_ref().map_or(std::borrow::Cow::Borrowed(""), |r| {
        handler::server_name(r.server)
    });
    format!(
        ", client: {}, server: {server}{}",
        peer.ip(),
        handler::RequestContext::of(buf, &a.head)
    )
}

pub(super) enum Flush {
    Done,
    Blocked,
    Yield,
    Error,
}

pub(super) fn log_send_error(id: u64, peer: &SocketAddr, e: &io::Error) {
    let level = match e.raw_os_error() {
        Some(libc::EPIPE) | Some(libc::ECONNRESET) => LogLevel::Info,
        _ => LogLevel::Error,
    };
    elog!(
        level,
        "*{id} writev() failed ({}) while sending to client, client: {}",
        sys::errno_text(e),
        peer.ip()
    );
}
