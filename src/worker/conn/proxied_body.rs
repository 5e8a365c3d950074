//! The request body of a proxied request, read by the connection for the upstream:
//! stored whole before an upstream is chosen (`proxy_request_buffering on`), or streamed
//! into the upstream's request window as it arrives (`off`).

use super::*;
use crate::upstream::Failure;

/// Bytes of a streamed request body read per turn at most.
const STREAM_CHUNK: usize = 64 * 1024;

impl<'c> Conn<'c> {
    /// `proxy_request_buffering on`: reads the whole body into memory or its temporary
    /// file; once all of it is here, the upstream is chosen (so a slow client holds no
    /// upstream connection).
    pub(super) fn read_stored_body(&mut self, shared: &mut Shared<'c>) -> Step {
        // The `100 Continue` goes out before anything is read.
        match self.flush(&mut shared.compress) {
            Flush::Error => return Step::Close,
            Flush::Blocked => return self.body_wait(),
            _ => {}
        }
        let Some(a) = self.active.as_deref_mut() else {
            return Step::Close;
        };
        let Some(req) = a.req.as_ref() else {
            return Step::Close;
        };
        let loc = req.loc;
        if shared.now >= self.client_progress + loc.client_body_timeout {
            // nginx terminates the request: no answer, no error-log line, 408 in the access
            // log (ngx_http_do_read_client_request_body → NGX_HTTP_REQUEST_TIME_OUT).
            // An HTTP/2 stream is reset with PROTOCOL_ERROR (nginx's `fc->timedout`).
            self.timed_out = true;
            return self.end_unanswered(Failure::client(408));
        }
        let Some(body) = a.body.as_mut() else {
            return Step::Close;
        };
        // The body moves out of the reader while it is filled (the reader borrows the
        // connection); it goes back below.
        let Sink::Store(mut stored) = std::mem::replace(&mut body.sink, Sink::Discard) else {
            return Step::Close;
        };
        // Over HTTP/2 the stream's window opens wide: the body is taken as it comes.
        self.client.reads_body_whole();
        let mut spilled = None;
        // nginx logs the file of a body kept in one on purpose at notice level.
        let level = if stored.file_only() {
            LogLevel::Notice
        } else {
            LogLevel::Warn
        };
        let (limit, max, dir) = (
            loc.client_body_buffer_size,
            loc.client_max_body_size,
            loc.client_body_temp_path.as_path(),
        );
        let turn = self.read_body(
            shared.now,
            |data, framed| {
                // A chunked body's size counts as its chunks arrive, as nginx checks at
                // each size line (ngx_http_request_body_chunked_filter).
                let chunked = data.len() != framed.len();
                if chunked && max > 0 && stored.len() + data.len() as u64 > max {
                    return Err(body::StoreError::TooLarge {
                        had: stored.len(),
                        more: data.len() as u64,
                    });
                }
                match stored.append(data, limit, dir) {
                    Ok(Some(path)) => spilled = Some(path),
                    Ok(None) => {}
                    Err(e) => return Err(body::StoreError::File(e, dir.to_path_buf())),
                }
                Ok(())
            },
            usize::MAX,
        );
        if let Some(path) = spilled {
            let what = format!(
                "a client request body is buffered to a temporary file {}",
                path.display()
            );
            self.log_line(level, &what);
        }
        match turn {
            body::BodyTurn::Done
                if self
                    .active
                    .as_ref()
                    .is_some_and(|a| a.route.body_for_mirror) =>
            {
                self.mirror_body_read(shared, stored)
            }
            body::BodyTurn::Done => self.launch_upstream(shared, Some(stored)),
            body::BodyTurn::Wait => {
                if let Some(body) = self.active.as_mut().and_then(|a| a.body.as_mut()) {
                    body.sink = Sink::Store(stored);
                }
                self.body_wait()
            }
            body::BodyTurn::ClientClosed => {
                self.log_line(
                    LogLevel::Info,
                    "client prematurely closed connection while reading client request body",
                );
                self.end_unanswered(Failure::client(400))
            }
            body::BodyTurn::Failed => self.end_unanswered(Failure::client(499)),
            body::BodyTurn::BadFraming => {
                self.log_line(LogLevel::Info, "client sent invalid chunked body");
                self.body_failed(shared, Failure::client(400))
            }
            body::BodyTurn::Mismatch(why) => {
                self.log_line(LogLevel::Info, &why);
                self.body_failed(shared, Failure::client(400))
            }
            body::BodyTurn::Store(body::StoreError::TooLarge { had, more }) => {
                let what =
                    format!("client intended to send too large chunked body: {had}+{more} bytes");
                self.log_line(LogLevel::Error, &what);
                self.body_failed(shared, Failure::client(413))
            }
            body::BodyTurn::Store(body::StoreError::File(e, dir)) => {
                let what = format!(
                    "write of the client request body to a temporary file in \"{}\" failed ({})",
                    dir.display(),
                    sys::errno_text(&e)
                );
                self.log_line(LogLevel::Crit, &what);
                self.body_failed(shared, Failure::ours())
            }
        }
    }

    /// Waits for more of the body, at most `client_body_timeout` after the last bytes.
    pub(super) fn body_wait(&self) -> Step {
        let timeout = self
            .active
            .as_ref()
            .and_then(|a| a.req.as_ref())
            .map_or(crate::config::DEFAULT_CLIENT_BODY_TIMEOUT, |r| {
                r.loc.client_body_timeout
            });
        Step::Wait(Some(self.client_progress + timeout))
    }

    /// The body could not be read as a whole: the request is finalized with the failure's status
    /// (nginx's special response, `error_page` included); the rest of the body is not read.
    pub(super) fn body_failed(&mut self, shared: &mut Shared<'c>, f: Failure) -> Step {
        let status = f.status;
        if let Some(a) = self.active.as_mut() {
            a.body = None;
            a.source = Source::Fixed;
            if let Some(req) = a.req.as_mut() {
                req.body = BodyRead::Abandoned;
                req.lingering = true;
            }
        }
        self.state = State::Responding;
        handler::finalize_with_status(self, shared, status)
    }

    /// A streamed body (`proxy_request_buffering off`): moves the client's bytes into the
    /// upstream's request window, as framed.
    pub(super) fn stream_body(&mut self, shared: &mut Shared<'c>) -> Option<Step> {
        let a = self.active.as_deref_mut()?;
        if !matches!(
            a.body,
            Some(ClientBody {
                sink: Sink::Stream,
                ..
            })
        ) {
            return None;
        }
        let room = a.upstream.body_room().min(STREAM_CHUNK);
        if room == 0 {
            return None;
        }
        let turn = {
            let Active {
                buf,
                start,
                filled,
                body,
                req,
                upstream,
                ..
            } = a;
            let req = req.as_mut()?;
            body::read_into(
                &mut self.client,
                &mut self.client_progress,
                shared.now,
                body::BodyBuf {
                    buf,
                    start: *start,
                    filled,
                    body,
                    req,
                },
                |data, _| {
                    upstream.gather_body(data);
                    Ok(())
                },
                room,
            )
        };
        match turn {
            body::BodyTurn::Done => {
                if let Some(a) = self.active.as_deref_mut() {
                    a.upstream.push_body(true);
                }
                None
            }
            body::BodyTurn::Wait => {
                if let Some(a) = self.active.as_deref_mut() {
                    a.upstream.push_body(false);
                }
                None
            }
            body::BodyTurn::ClientClosed => {
                self.log_line(
                    LogLevel::Info,
                    "client prematurely closed connection while sending request to upstream",
                );
                Some(self.abandon_upstream(shared, Some(Failure::client(400))))
            }
            body::BodyTurn::Failed => {
                Some(self.abandon_upstream(shared, Some(Failure::client(499))))
            }
            body::BodyTurn::BadFraming | body::BodyTurn::Store(_) | body::BodyTurn::Mismatch(_) => {
                let why = match &turn {
                    body::BodyTurn::Mismatch(why) => why.as_str(),
                    _ => "client sent invalid chunked body",
                };
                self.log_line(LogLevel::Info, why);
                let head_sent = self
                    .active
                    .as_ref()
                    .and_then(|a| a.req.as_ref())
                    .is_some_and(|r| r.header_bytes > 0);
                if head_sent {
                    return Some(self.abandon_upstream(shared, None));
                }
                if let Some(a) = self.active.as_deref_mut() {
                    let mut env = Self::env(shared, self.key);
                    a.upstream.abandon(&mut env);
                }
                Some(self.body_failed(shared, Failure::client(400)))
            }
        }
    }
}
