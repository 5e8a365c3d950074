//! One probe's exchange with a server: connect, send the request, read the response up to
//! `proxy_buffer_size` bytes or the server's close, then test it. Non-blocking: each call
//! moves as far as the socket allows and says what happened.

use std::io::{self, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;

use crate::config::health_check::HealthCheck;
use crate::upstream::connect;
use crate::upstream::health::{Failed, ProbeResponse, default_passes};

/// Most response header fields a probe's response is parsed with.
const MAX_HEADERS: usize = 64;

/// What the probe waits for.
#[derive(Debug)]
enum Phase {
    /// The connect to finish.
    Connecting,
    /// Room to send the rest of the request (bytes sent so far).
    Sending(usize),
    /// The response.
    Reading,
}

/// A probe in flight.
#[derive(Debug)]
pub(super) struct Probe {
    pub(super) sock: TcpStream,
    phase: Phase,
    /// When the current phase times out.
    pub(super) deadline: Instant,
    buf: Vec<u8>,
}

/// Where a call to [`Probe::advance`] left the probe.
pub(super) enum Step {
    /// Waiting for the socket.
    Wait,
    /// The response is read: [`Probe::verdict`] tests it.
    Read,
    /// It failed: the log's message and what was being done.
    Failed(String, &'static str),
}

/// A probe's result: the status (0: none) and, if it failed, which test.
pub(super) struct Verdict {
    pub(super) status: u16,
    pub(super) failed: Option<Failed>,
}

fn errno(what: &str, e: &io::Error, action: &'static str) -> Step {
    let text = crate::sys::errno_text(e);
    Step::Failed(format!("{what} failed ({text}) while {action}"), action)
}

impl Probe {
    /// A probe whose connect was started on `sock`.
    pub(super) fn connecting(sock: TcpStream, hc: &HealthCheck, now: Instant) -> Probe {
        Probe {
            sock,
            phase: Phase::Connecting,
            deadline: now + hc.connect_timeout,
            buf: Vec::new(),
        }
    }

    /// Moves the exchange on as far as the socket allows.
    pub(super) fn advance(&mut self, request: &[u8], hc: &HealthCheck, now: Instant) -> Step {
        loop {
            match self.phase {
                Phase::Connecting => match connect::connected(&self.sock) {
                    Ok(true) => {
                        self.phase = Phase::Sending(0);
                        self.deadline = now + hc.send_timeout;
                    }
                    Ok(false) => return Step::Wait,
                    Err(e) => return errno("connect()", &e, "connecting to upstream"),
                },
                Phase::Sending(sent) => match self.sock.write(request.get(sent..).unwrap_or(&[])) {
                    Ok(n) if sent + n >= request.len() => {
                        self.phase = Phase::Reading;
                        self.deadline = now + hc.read_timeout;
                    }
                    Ok(n) => self.phase = Phase::Sending(sent + n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return errno("send()", &e, "sending request to upstream"),
                },
                Phase::Reading => {
                    let have = self.buf.len();
                    let limit = hc.buffer_size.max(1);
                    if have >= limit {
                        return Step::Read;
                    }
                    self.buf.resize(limit, 0);
                    let got = self.sock.read(&mut self.buf[have..]);
                    self.buf.truncate(have + *got.as_ref().unwrap_or(&0));
                    match got {
                        Ok(0) => return Step::Read,
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            return errno("recv()", &e, "reading response header from upstream");
                        }
                    }
                }
            }
        }
    }

    /// The log's message and action for a probe past its deadline.
    pub(super) fn timed_out(&self) -> Step {
        let action = match self.phase {
            Phase::Connecting => "connecting to upstream",
            Phase::Sending(_) => "sending request to upstream",
            Phase::Reading => "reading response header from upstream",
        };
        Step::Failed(
            format!("upstream timed out (110: Connection timed out) while {action}"),
            action,
        )
    }

    /// Tests the response read: the `match` block's tests, or without one a 2xx or 3xx
    /// status. `Err`: no whole response head, nothing to test (a failed probe).
    pub(super) fn verdict(&self, hc: &HealthCheck) -> Result<Verdict, Step> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let Ok(httparse::Status::Complete(len)) = resp.parse(&self.buf) else {
            let action = "reading response header from upstream";
            return Err(Step::Failed(
                format!("upstream sent invalid or too big header while {action}"),
                action,
            ));
        };
        let status = resp.code.unwrap_or(0);
        let fields: Vec<(&[u8], &[u8])> = resp
            .headers
            .iter()
            .map(|h| (h.name.as_bytes(), h.value))
            .collect();
        let response = ProbeResponse {
            status,
            headers: &fields,
            body: self.buf.get(len..).unwrap_or(&[]),
        };
        let failed = match hc.test.as_deref() {
            Some(m) => m.check(&response).err(),
            None if default_passes(status) => None,
            None => Some(Failed::Status),
        };
        Ok(Verdict { status, failed })
    }
}
