//! The connection's writer, the only code that sends response bytes: the queued heads and
//! small bodies, then what the response's [`Source`] has ready — memory in the same
//! `writev`, a file by `sendfile(2)` (the head with `MSG_MORE`) or `pread` + write — with
//! nginx's error lines when the client or the file lets us down.
//!
//! The rate limit (`limit_rate`, [`super::rate`]) caps what one call sends and then
//! holds the writer back until a deadline; a response's body filter ([`super::filter`]: gzip, gunzip, chunks) stands between the source's [`Ready`]
//! and the socket, and TLS would sit under the writes.

use std::os::fd::RawFd;

use super::filter::{FilterError, SourceBody};
use super::*;
use crate::compress::Compressors;
use crate::http::source::Ready;

/// Bytes of a chunk's closing CRLF and the last chunk (`\r\n0\r\n\r\n`).
const LAST_CHUNK_TAIL: usize = 7;

/// How a flush ended.
pub(super) enum Flush {
    /// Everything queued and the whole body went.
    Done,
    /// The socket would block.
    Blocked,
    /// The socket takes more but the source has nothing yet (an upstream is behind).
    Pending,
    /// `sendfile_max_chunk` was sent: other connections get a turn first.
    Yield,
    /// The client or the file failed (logged); the connection closes.
    Error,
    /// `limit_rate`: nothing more may go before this moment.
    Delayed(Instant),
    /// `limit_rate`: the allowance of this call was sent (internal to [`Conn::flush`]).
    Spent,
}

/// Bytes read per `pread` when a file is sent without `sendfile`.
const PREAD_CHUNK: usize = 32 * 1024;

impl<'c> Conn<'c> {
    /// Writes queued bytes, then the source's body (through the body filter when the
    /// response has one), until done or blocked. `spares`: the worker's compressor states
    /// and buffers, which the filter takes from and gives back to.
    /// No faster than the response's `limit_rate` ([`super::rate`]).
    pub(super) fn flush(&mut self, spares: &mut Compressors) -> Flush {
        // Records TLS encrypted earlier leave first; a response is done only once its
        // last record has.
        match self.flush_transport() {
            Flush::Done => {}
            f => return f,
        }
        match self.flush_rated(spares) {
            Flush::Done => self.flush_transport(),
            f => f,
        }
    }

    /// Sends what the TLS session still holds (nothing on a plain connection).
    fn flush_transport(&mut self) -> Flush {
        match self.client.flush_tls() {
            Ok(true) => Flush::Done,
            Ok(false) => Flush::Blocked,
            Err(e) => {
                log_send_error(self.id, &self.peer, &e);
                Flush::Error
            }
        }
    }

    /// [`Conn::flush`] of the response's bytes, no faster than `limit_rate`.
    fn flush_rated(&mut self, spares: &mut Compressors) -> Flush {
        let now = self.now;
        if let Some(until) = self.delayed_until {
            if now < until {
                return Flush::Delayed(until);
            }
            self.delayed_until = None;
        }
        let rate::RateLimit::On(throttle) = &self.rate else {
            return self.flush_within(spares, u64::MAX);
        };
        let allowance = match throttle.allowance(now, self.bytes_out) {
            Ok(n) => n,
            Err(until) => {
                self.delayed_until = Some(until);
                return Flush::Delayed(until);
            }
        };
        let before = self.bytes_out;
        let flushed = self.flush_within(spares, allowance);
        let rate::RateLimit::On(throttle) = &self.rate else {
            return flushed;
        };
        match (flushed, throttle.delay(now, before, self.bytes_out)) {
            // The response is complete: nginx's finalization drops the wait.
            (f @ (Flush::Done | Flush::Error), _) => f,
            (_, Some(until)) => {
                self.delayed_until = Some(until);
                Flush::Delayed(until)
            }
            (Flush::Spent, None) => Flush::Yield,
            (f, None) => f,
        }
    }

    /// [`Conn::flush`] of at most `budget` bytes.
    fn flush_within(&mut self, spares: &mut Compressors, mut budget: u64) -> Flush {
        let Some(a) = self.active.as_deref_mut() else {
            return Flush::Error;
        };
        let max_chunk = a.source.max_chunk();
        let mut sent_body: u64 = 0;
        loop {
            if a.filter.is_on() {
                let mut body = SourceBody {
                    source: &mut a.source,
                    upstream: &mut a.upstream,
                };
                if let Err(e) = a.filter.pump(&mut body, spares) {
                    log_filter_error(self.id, &self.peer, a, &e);
                    return Flush::Error;
                }
            }
            if matches!(a.source, Source::Upstream)
                && a.head.method == crate::http::request::Method::Head
                && !a.filter.is_on()
            {
                skip_upstream_body(a);
            }
            let ready = match &a.source {
                _ if a.filter.is_on() => a.filter.ready(),
                Source::Fixed => Ready::End,
                Source::File(f) => f.ready(),
                Source::Upstream => {
                    a.chunks
                        .limit(a.upstream.ready(), &mut a.out, a.upstream.is_broken())
                }
            };
            // sendfile(2) cannot go through user-space TLS: the file is read and encrypted,
            // unless the session moves into the kernel (kTLS) for it.
            let ready = match ready {
                Ready::File {
                    fd,
                    pos,
                    len,
                    sendfile,
                } if !(self.client.can_sendfile() || sendfile && self.client.try_kernel_tls()) => {
                    Ready::File {
                        fd,
                        pos,
                        len,
                        sendfile: false,
                    }
                }
                r => r,
            };
            if budget == 0 {
                return Flush::Spent;
            }
            let cap = usize::try_from(budget).unwrap_or(usize::MAX);
            if a.out_pos < a.out.len() {
                if !self.client.writable {
                    return Flush::Blocked;
                }
                let head = &a.out[a.out_pos..];
                let head = &head[..head.len().min(cap)];
                let ready = match ready {
                    Ready::Bytes(body) => Ready::Bytes(&body[..body.len().min(cap - head.len())]),
                    r => r,
                };
                // The head and the body bytes at hand leave in one writev; a head followed
                // by sendfile goes with MSG_MORE, so the kernel sends it in the same
                // segments as the file's first bytes.
                // A chunked upstream answer's last piece leaves with its chunk's CRLF and the
                // last chunk in the same writev, instead of a second write of 7 bytes.
                let tail = match ready {
                    Ready::Bytes(body)
                        if matches!(a.source, Source::Upstream)
                            && !a.filter.is_on()
                            && head.len() + body.len() + LAST_CHUNK_TAIL <= cap
                            && a.upstream.ends_after(body.len()) =>
                    {
                        a.chunks.tail_after_last(body.len())
                    }
                    _ => None,
                };
                let (written, body_len) = match ready {
                    Ready::Bytes(body) if !body.is_empty() => match tail {
                        Some(tail) => (self.client.write3(head, body, tail), body.len()),
                        None => (self.client.write2(head, body), body.len()),
                    },
                    Ready::File { sendfile: true, .. } => (self.client.write_more(head), 0),
                    _ => (self.client.write(head), 0),
                };
                match written {
                    Ok(n) => {
                        self.client_progress = self.now;
                        self.bytes_out += n as u64;
                        budget -= (n as u64).min(budget);
                        let from_head = n.min(head.len());
                        a.out_pos += from_head;
                        if a.out_pos == a.out.len() {
                            a.out.clear();
                            a.out_pos = 0;
                        }
                        let from_body = (n - from_head).min(body_len);
                        if from_body > 0 {
                            consume(a, from_body);
                            sent_body += from_body as u64;
                        }
                        let from_tail = n - from_head - from_body;
                        if from_tail > 0 {
                            // consume() queued the chunk's CRLF; the last chunk is queued as
                            // the next look at the source would, and both count as written.
                            let broken = a.upstream.is_broken();
                            let _ = a.chunks.limit(a.upstream.ready(), &mut a.out, broken);
                            a.out_pos = (a.out_pos + from_tail).min(a.out.len());
                            if a.out_pos == a.out.len() {
                                a.out.clear();
                                a.out_pos = 0;
                            }
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Flush::Blocked,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        log_send_error(self.id, &self.peer, &e);
                        return Flush::Error;
                    }
                }
                continue;
            }
            if max_chunk > 0 && sent_body >= max_chunk {
                return Flush::Yield;
            }
            match ready {
                Ready::End => {
                    if let Source::File(f) = &mut a.source {
                        // A multipart answer goes on with the next part's head and bytes.
                        if let Some(parts) = f.rest.as_mut() {
                            let (next, added) = parts.next(&mut a.out);
                            if let Some(r) = a.req.as_mut() {
                                r.bytes_sent += added as u64;
                            }
                            if let Some((start, stop)) = next {
                                (f.pos, f.end) = (start, stop);
                                continue;
                            }
                        }
                        a.source = Source::Fixed;
                        if a.out_pos < a.out.len() {
                            continue;
                        }
                    }
                    return Flush::Done;
                }
                Ready::Pending => return Flush::Pending,
                _ if !self.client.writable => return Flush::Blocked,
                Ready::Bytes(body) => match self.client.write(&body[..body.len().min(cap)]) {
                    Ok(n) => {
                        self.client_progress = self.now;
                        self.bytes_out += n as u64;
                        budget -= (n as u64).min(budget);
                        consume(a, n);
                        sent_body += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Flush::Blocked,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        log_send_error(self.id, &self.peer, &e);
                        return Flush::Error;
                    }
                },
                Ready::File {
                    fd,
                    pos,
                    len,
                    sendfile,
                } => {
                    let want = if max_chunk > 0 {
                        len.min(max_chunk)
                    } else {
                        len
                    };
                    let want = want.min(1 << 30).min(budget) as usize;
                    let result = if sendfile {
                        send_file(&mut self.client, self.id, &self.peer, a, fd, pos, want)
                    } else {
                        read_file(self.id, &self.peer, a, fd, pos, want)
                    };
                    match result {
                        Ok(n) => {
                            self.client_progress = self.now;
                            if sendfile {
                                self.bytes_out += n as u64;
                                budget -= (n as u64).min(budget);
                            }
                            consume(a, n);
                            sent_body += n as u64;
                        }
                        Err(flush) => return flush,
                    }
                }
            }
        }
    }
}

/// A HEAD whose upstream request was a GET (`proxy_cache_convert_head`, `proxy_method`)
/// gets the head only: the body is read (into the cache, when it is stored) and dropped,
/// as nginx's `r->header_only` drops it.
fn skip_upstream_body(a: &mut Active<'_>) {
    loop {
        let n = match a.upstream.ready() {
            Ready::Bytes(b) => b.len(),
            Ready::File { len, .. } => usize::try_from(len).unwrap_or(usize::MAX),
            _ => return,
        };
        if n == 0 {
            return;
        }
        a.upstream.consume(n);
    }
}

/// The writer sent `n` body bytes of the source (or of the filter, when it is on): it
/// moves on, and they count as sent.
fn consume(a: &mut Active<'_>, n: usize) {
    match &mut a.source {
        _ if a.filter.is_on() => a.filter.consume(n),
        Source::Fixed => {}
        Source::File(f) => f.pos += n as u64,
        Source::Upstream => {
            a.upstream.consume(n);
            a.chunks.sent(n, &mut a.out);
        }
    }
    if let Some(r) = a.req.as_mut() {
        r.bytes_sent += n as u64;
    }
}

/// `sendfile(2)` of `want` bytes of `fd` from `pos`; the bytes sent, or how the flush ends.
fn send_file(
    client: &mut Client,
    id: u64,
    peer: &ClientAddr,
    a: &Active<'_>,
    fd: RawFd,
    pos: u64,
    want: usize,
) -> Result<usize, Flush> {
    let mut at = pos;
    loop {
        match client.sendfile(fd, &mut at, want) {
            Ok(0) => {
                // nginx's ngx_linux_sendfile_chain: the file shrank under us.
                elog!(
                    LogLevel::Alert,
                    "*{id} sendfile() reported that \"{}\" was truncated at {pos}{}",
                    fd_path(fd),
                    error_context(peer, a)
                );
                return Err(Flush::Error);
            }
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(Flush::Blocked),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log_send_error(id, peer, &e);
                return Err(Flush::Error);
            }
        }
    }
}

/// `sendfile off`: reads a chunk of the file into the output buffer, where the next turn
/// writes it; the bytes read.
fn read_file(
    id: u64,
    peer: &ClientAddr,
    a: &mut Active<'_>,
    fd: RawFd,
    pos: u64,
    want: usize,
) -> Result<usize, Flush> {
    let chunk = want.min(PREAD_CHUNK);
    a.out.clear();
    a.out_pos = 0;
    a.out.resize(chunk, 0);
    match sys::pread(fd, &mut a.out[..chunk], pos) {
        Ok(0) => {
            // nginx's ngx_output_chain_copy_buf on a short read.
            elog!(
                LogLevel::Alert,
                "*{id} pread() read only 0 of {chunk} from \"{}\"{}",
                fd_path(fd),
                error_context(peer, a)
            );
            a.out.clear();
            Err(Flush::Error)
        }
        Ok(n) => {
            a.out.truncate(n);
            Ok(n)
        }
        Err(e) => {
            elog!(
                LogLevel::Crit,
                "*{id} pread() failed ({})",
                sys::errno_text(&e)
            );
            a.out.clear();
            Err(Flush::Error)
        }
    }
}

/// The name of an open file, for an error line (the kernel's, from `/proc/self/fd`): kept
/// out of the per-request state since only a file that shrank while being sent needs it.
pub(super) fn fd_path(fd: RawFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map_or_else(|_| format!("fd {fd}"), |p| p.display().to_string())
}

/// nginx's `, client: ..., server: ..., request: "...", host: "..."` tail for an error
/// while a request is answered.
pub(super) fn error_context(peer: &ClientAddr, a: &Active<'_>) -> String {
    let buf = &a.buf[a.start.min(a.filled)..a.filled];
    let server = a
        .req
        .as_ref()
        .map_or(std::borrow::Cow::Borrowed(""), |r| r.server.first_name());
    format!(
        ", client: {}, server: {server}{}",
        peer.ip(),
        crate::log::context::RequestContext::of(buf, &a.head)
    )
}

pub(super) fn log_send_error(id: u64, peer: &ClientAddr, e: &io::Error) {
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

/// nginx's error line when a body filter fails (the connection then closes).
fn log_filter_error(id: u64, peer: &ClientAddr, a: &Active<'_>, e: &FilterError) {
    let level = match e {
        FilterError::Zlib {
            call: "inflate", ..
        }
        | FilterError::Unfinished => LogLevel::Error,
        FilterError::Zlib { .. } | FilterError::File(_) | FilterError::Stuck => LogLevel::Alert,
    };
    elog!(level, "*{id} {e}{}", error_context(peer, a));
}
