//! `*_limit_rate`: reading a response body from the upstream no faster than a rate, as
//! nginx's event pipe does (`ngx_event_pipe_read_upstream`): by the end of second `s` of
//! the body, at most `rate × (s + 1)` bytes may have been read; past that, reading waits
//! until the allowance catches up. And after each read of `n` bytes the next one waits
//! `n / rate` seconds, so a response takes about its size over the rate (nginx's delay
//! after `recv_chain`). Like nginx 1.22, only a buffered response is limited.

use std::time::{Duration, Instant};

/// The read allowance of one response.
#[derive(Debug, Clone, Copy)]
pub struct ReadRate {
    /// Bytes per second.
    rate: u64,
    /// When the body started.
    started: Instant,
    /// Body bytes read so far.
    read: u64,
    /// The last read's delay: no reading before then.
    resume: Option<Instant>,
}

impl ReadRate {
    /// A limit of `rate` bytes per second from `now` (0: none).
    pub fn new(rate: u64, now: Instant) -> Option<ReadRate> {
        (rate > 0).then_some(ReadRate {
            rate,
            started: now,
            read: 0,
            resume: None,
        })
    }

    /// How many bytes may be read now (`Ok`, never 0), or when reading may go on
    /// (`Err`).
    pub fn allowance(&self, now: Instant) -> Result<usize, Instant> {
        if let Some(at) = self.resume.filter(|&at| at > now) {
            return Err(at);
        }
        let seconds = now.saturating_duration_since(self.started).as_secs();
        let allowed = self.rate.saturating_mul(seconds + 1);
        if allowed > self.read {
            return Ok(usize::try_from(allowed - self.read).unwrap_or(usize::MAX));
        }
        // nginx's delay: the excess at this rate, plus one millisecond.
        let excess = self.read - allowed;
        let wait_ms = excess.saturating_mul(1000) / self.rate + 1;
        Err(now + Duration::from_millis(wait_ms))
    }

    /// Counts `n` bytes read at `now`; the next read waits `n / rate` seconds.
    pub fn count(&mut self, n: usize, now: Instant) {
        self.read += n as u64;
        let delay_ms = (n as u64).saturating_mul(1000) / self.rate;
        self.resume = (delay_ms > 0).then(|| now + Duration::from_millis(delay_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_allowance() {
        let t0 = Instant::now();
        assert!(ReadRate::new(0, t0).is_none());
        let mut r = ReadRate::new(1000, t0).unwrap();
        assert_eq!(r.allowance(t0), Ok(1000));
        // After a read, the next waits for it at the rate.
        r.count(1000, t0);
        assert_eq!(r.allowance(t0), Err(t0 + Duration::from_millis(1000)));
        let t1 = t0 + Duration::from_millis(1000);
        assert_eq!(r.allowance(t1), Ok(1000));
        r.count(1500, t1);
        // Past the allowance: the delay of the read, then the excess's.
        let t2 = t1 + Duration::from_millis(1500);
        assert_eq!(r.allowance(t2), Ok(500));
        r.count(100, t2);
        assert_eq!(r.allowance(t2), Err(t2 + Duration::from_millis(100)));
    }
}
