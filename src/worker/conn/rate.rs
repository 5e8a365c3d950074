//! `limit_rate`: how many bytes the writer may send now, as nginx's write filter
//! (`ngx_http_write_filter`) computes it: the allowance is the rate times the whole
//! seconds since the request started plus one, less what was sent past
//! `limit_rate_after`; after each send the writer waits as long as the bytes past
//! `limit_rate_after` take at the rate. What was sent counts every byte of the response,
//! its head included, as nginx's `c->sent`. The wait is a connection deadline in the
//! event loop, never a busy loop; the last write of a response is not waited for.

use std::time::{Duration, Instant};

use super::*;

/// The rate limit of the response being written.
pub(super) struct Throttle {
    /// Bytes per second (never 0).
    rate: u64,
    /// `limit_rate_after`.
    after: u64,
    /// When the request started (nginx's `r->start_sec`).
    started: Instant,
    /// [`Conn::bytes_out`] before the response's first byte.
    base: u64,
}

/// The rate limit of the current response, decided at its first write.
#[derive(Default)]
pub(super) enum RateLimit {
    /// Not decided yet (the head is not queued).
    #[default]
    Unknown,
    /// No limit.
    Off,
    /// Limited.
    On(Throttle),
}

impl Throttle {
    /// Bytes of the response sent so far, past `limit_rate_after`.
    fn past_after(&self, bytes_out: u64) -> u64 {
        bytes_out
            .saturating_sub(self.base)
            .saturating_sub(self.after)
    }

    /// What may be sent now, or when sending may go on.
    pub(super) fn allowance(&self, now: Instant, bytes_out: u64) -> Result<u64, Instant> {
        let elapsed = now.saturating_duration_since(self.started).as_secs();
        let sent = bytes_out.saturating_sub(self.base) as i128;
        let limit =
            i128::from(self.rate) * (i128::from(elapsed) + 1) - (sent - i128::from(self.after));
        if limit <= 0 {
            let ms = (-limit * 1000 / i128::from(self.rate) + 1) as u64;
            return Err(now + Duration::from_millis(ms));
        }
        Ok(u64::try_from(limit).unwrap_or(u64::MAX))
    }

    /// After a write that moved [`Conn::bytes_out`] from `before` to `after`: until when
    /// the writer waits (nginx's `delay = (nsent - sent) * 1000 / limit_rate`).
    pub(super) fn delay(&self, now: Instant, before: u64, after: u64) -> Option<Instant> {
        let moved = self.past_after(after) - self.past_after(before).min(self.past_after(after));
        let ms = moved.saturating_mul(1000) / self.rate;
        (ms > 0).then(|| now + Duration::from_millis(ms))
    }
}

impl<'c> Conn<'c> {
    /// Decides the response's rate limit at its first write (nginx evaluates `limit_rate`
    /// there, in the final location, unless `$limit_rate` or `X-Accel-Limit-Rate` set it).
    pub(super) fn decide_rate(&mut self, shared: &Shared<'c>) {
        if !matches!(self.rate, RateLimit::Unknown) {
            return;
        }
        // Most locations set no rate: decided without building the variables' view.
        if let Some(a) = self.active.as_deref_mut()
            && let Some(req) = a.req.as_ref()
            && req.header_bytes != 0
            && a.route.script.limit_rate.is_none()
            && req.loc.limit_rate.is_none()
        {
            a.route.script.limit_rate = Some(0);
            self.rate = RateLimit::Off;
            return;
        }
        let conn = crate::worker::request_vars::ConnInfo::of(self);
        let Some(a) = self.active.as_deref() else {
            return;
        };
        let Some(req) = a.req.as_ref() else {
            return;
        };
        if req.header_bytes == 0 {
            return;
        }
        let vars = a.vars(&conn, req, shared);
        let src = crate::rewrite::WithScript {
            ctx: &a.route.script,
            inner: &vars,
        };
        let mut errors = Vec::new();
        let mut size = |v: Option<&crate::config::writer::SizeValue>| match v {
            None => 0,
            Some(v) => v.eval(&src).unwrap_or_else(|bad| {
                errors.push(format!(
                    "invalid size \"{}\"",
                    String::from_utf8_lossy(&bad)
                ));
                0
            }),
        };
        let rate = match a.route.script.limit_rate {
            Some(rate) => rate,
            None => size(req.loc.limit_rate.as_ref()),
        };
        let after = if rate > 0 {
            size(req.loc.limit_rate_after.as_ref())
        } else {
            0
        };
        // Bytes of earlier responses still queued in front of this one's.
        let queued = (a.out.len() - a.out_pos.min(a.out.len())) as u64;
        let base = self.bytes_out + queued.saturating_sub(req.bytes_sent);
        let started = req.started;
        for e in &errors {
            self.log_line(LogLevel::Error, e);
        }
        if let Some(a) = self.active.as_deref_mut() {
            a.route.script.limit_rate = Some(rate);
        }
        self.rate = if rate == 0 {
            RateLimit::Off
        } else {
            RateLimit::On(Throttle {
                rate,
                after,
                started,
                base,
            })
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowance_and_delay_follow_nginx() {
        let t0 = Instant::now();
        let t = Throttle {
            rate: 1000,
            after: 100,
            started: t0,
            base: 50,
        };
        // First second: the rate plus what `after` lets through.
        assert_eq!(t.allowance(t0, 50), Ok(1100));
        // 1100 sent: the next second's allowance is spent.
        assert_eq!(t.allowance(t0, 1150), Err(t0 + Duration::from_millis(1)));
        assert_eq!(
            t.allowance(t0 + Duration::from_millis(1500), 1150),
            Ok(1000)
        );
        // The first 100 bytes cost no wait; the next 500 cost half a second.
        assert_eq!(t.delay(t0, 50, 150), None);
        assert_eq!(t.delay(t0, 50, 650), Some(t0 + Duration::from_millis(500)));
    }
}
