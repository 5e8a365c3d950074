//! The worker's clock: read once per event-loop turn, or once per `timer_resolution`.
//!
//! nginx calls `gettimeofday()` after every `epoll_wait` unless `timer_resolution` is set;
//! then a `SIGALRM` every interval marks the cached time stale and the wait itself blocks
//! without a timeout. Here a timerfd in the poll plays the alarm: the loop reads the clock
//! only on the turns after it fired, and sleeps until then instead of computing timeouts
//! from a clock it does not read. Timers (and `$msec`, `$request_time`, log times, and the
//! millisecond `limit_req` accounts with, nginx's `ngx_current_msec`) are then as precise
//! as the interval.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant, SystemTime};

use mio::{Interest, Registry, Token};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

/// What the loop knows of the time.
pub(super) struct Clock {
    /// `timer_resolution`'s ticker; `None` when the clock is read every turn.
    ticker: Option<TimerFd>,
    /// The ticker fired since the clock was last read.
    stale: bool,
}

impl Clock {
    /// A clock read every turn, or once per `resolution` (its ticker registered in the poll
    /// under `token`).
    pub(super) fn new(
        resolution: Option<Duration>,
        registry: &Registry,
        token: Token,
    ) -> io::Result<Clock> {
        let Some(resolution) = resolution else {
            return Ok(Clock {
                ticker: None,
                stale: true,
            });
        };
        let ticker = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        ticker.set(
            Expiration::Interval(TimeSpec::from_duration(resolution)),
            TimerSetTimeFlags::empty(),
        )?;
        registry.register(
            &mut mio::unix::SourceFd(&ticker.as_fd().as_raw_fd()),
            token,
            Interest::READABLE,
        )?;
        Ok(Clock {
            ticker: Some(ticker),
            stale: true,
        })
    }

    /// How long the loop may sleep when its nearest deadline is `wanted` away: with a
    /// ticker, until the next tick (at most `longest`), since a deadline is only noticed
    /// when the clock is read.
    pub(super) fn poll_timeout(&self, wanted: Duration, longest: Duration) -> Duration {
        if self.ticker.is_some() && !wanted.is_zero() {
            longest
        } else {
            wanted
        }
    }

    /// The ticker's event: the cached time is stale.
    pub(super) fn on_tick(&mut self) {
        if let Some(ticker) = &self.ticker {
            // Drained so that the level-triggered registration quiets down.
            let _ = nix::unistd::read(ticker, &mut [0u8; 8]);
        }
        self.stale = true;
    }

    /// The time for this turn: read from the system when due, else `None` (keep the
    /// cached one).
    pub(super) fn read(&mut self) -> Option<(Instant, SystemTime)> {
        if !self.stale {
            return None;
        }
        if self.ticker.is_some() {
            self.stale = false;
        }
        let wall = SystemTime::now();
        crate::log::time::set_cached_now(wall);
        crate::limits::clock_moved();
        Some((Instant::now(), wall))
    }
}
