//! nginx's `expires` directive: its parsed setting, and the `Expires` and `Cache-Control`
//! values it gives a response (`ngx_http_headers_filter_module`).
//!
//! The caller adds them only for the statuses [`applies_to_status`] lists, replacing any
//! `Expires` and every `Cache-Control` line the response already had, as nginx does.

use super::date::{format_http_date_secs, local_offset_secs};
use super::num::{write_bytes, write_i64};

/// One `expires` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expires {
    /// `expires off;` (the default): headers left alone.
    #[default]
    Off,
    /// `expires epoch;`: `Expires: Thu, 01 Jan 1970 00:00:01 GMT`, `Cache-Control: no-cache`.
    Epoch,
    /// `expires max;`: `Expires: Thu, 31 Dec 2037 23:55:55 GMT`, 10 years of `max-age`.
    Max,
    /// `expires [modified] [+|-]time;`: relative to the request time, or with `modified`
    /// to the file's mtime.
    Duration {
        /// Seconds; negative means "already expired" (`no-cache`).
        secs: i64,
        /// Relative to `Last-Modified` rather than now.
        modified: bool,
    },
    /// `expires @time;`: the next time this time of day comes round, in the server's
    /// local time zone.
    Daily {
        /// Seconds after local midnight, 0 to 86400.
        secs_of_day: i64,
    },
}

/// The `Cache-Control` value that goes with an `Expires` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheControl {
    /// `no-cache`: the configured time is negative or already past.
    NoCache,
    /// `max-age=N`, N in seconds.
    MaxAge(i64),
}

/// Room for the longest [`CacheControl`] value: `max-age=` and a signed 19-digit number.
pub const CACHE_CONTROL_MAX_LEN: usize = 8 + 20;

impl CacheControl {
    /// Writes the header value into `out`; returns its length.
    pub fn write(&self, out: &mut [u8; CACHE_CONTROL_MAX_LEN]) -> usize {
        match self {
            CacheControl::NoCache => write_bytes(out, 0, b"no-cache"),
            CacheControl::MaxAge(secs) => {
                let at = write_bytes(out, 0, b"max-age=");
                write_i64(out, at, *secs, 10)
            }
        }
    }
}

const EPOCH_VALUE: &[u8; 29] = b"Thu, 01 Jan 1970 00:00:01 GMT";
const MAX_VALUE: &[u8; 29] = b"Thu, 31 Dec 2037 23:55:55 GMT";
/// `expires max`'s `max-age`: 10 years, as nginx writes it.
const MAX_AGE_MAX_SECS: i64 = 315_360_000;
const DAY_SECS: i64 = 86_400;

/// Parses the directive's arguments (without the name `expires`), as nginx's
/// `ngx_http_headers_expires`: `epoch`, `max`, `off`, `[modified] [+|-]time` or `@time`.
/// Times use nginx's units `y M w d h m s` (`1h30m`, `1d 12h`; no `ms`); `@time` is at
/// most `24h`. The error is nginx's message, for the caller to report as
/// `"expires" directive <message> in FILE:LINE`. A value holding variables is for the
/// caller to evaluate per request and give to [`parse_value`].
pub fn parse(args: &[&str]) -> Result<Expires, String> {
    let (modified, value) = split_args(args)?;
    parse_value(value, modified)
}

/// The arguments as `(modified, value)`: `[modified] VALUE`.
pub fn split_args<'a>(args: &[&'a str]) -> Result<(bool, &'a str), String> {
    match args {
        [value] => Ok((false, *value)),
        [keyword, value] if *keyword == "modified" => Ok((true, *value)),
        [_, _] => Err("invalid value".to_string()),
        _ => Err("invalid number of arguments".to_string()),
    }
}

/// One value of `expires` (after `modified`, if given), as nginx's
/// `ngx_http_parse_expires`: `modified` takes a time, never a keyword.
pub fn parse_value(value: &str, modified: bool) -> Result<Expires, String> {
    if !modified {
        match value {
            "epoch" => return Ok(Expires::Epoch),
            "max" => return Ok(Expires::Max),
            "off" => return Ok(Expires::Off),
            _ => {}
        }
    }
    let (daily, negative, time) = if let Some(rest) = value.strip_prefix('@') {
        if modified {
            return Err("daily time cannot be used with \"modified\" parameter".to_string());
        }
        (true, false, rest)
    } else if let Some(rest) = value.strip_prefix('+') {
        (false, false, rest)
    } else if let Some(rest) = value.strip_prefix('-') {
        (false, true, rest)
    } else {
        (false, false, value)
    };
    let secs = parse_secs(time.as_bytes()).ok_or_else(|| "invalid value".to_string())?;
    if daily {
        if secs > DAY_SECS {
            return Err("daily time value must be less than 24 hours".to_string());
        }
        return Ok(Expires::Daily { secs_of_day: secs });
    }
    let secs = if negative { -secs } else { secs };
    Ok(Expires::Duration { secs, modified })
}

/// nginx's `ngx_parse_time(value, 1)`: a sum of numbers with units, largest unit first,
/// seconds when the last number has none. `None` for anything nginx rejects.
fn parse_secs(s: &[u8]) -> Option<i64> {
    // Units must come in this order; `Last` is a bare number followed by a space.
    #[derive(Clone, Copy, PartialEq, PartialOrd)]
    enum Step {
        Start,
        Year,
        Month,
        Week,
        Day,
        Hour,
        Minute,
        Second,
        Last,
    }
    let (mut step, mut value, mut total, mut valid) = (Step::Start, 0i64, 0i64, false);
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        i += 1;
        if c.is_ascii_digit() {
            value = value.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
            valid = true;
            continue;
        }
        let (next, scale) = match c {
            b'y' if step == Step::Start => (Step::Year, 365 * DAY_SECS),
            b'M' if step < Step::Month => (Step::Month, 30 * DAY_SECS),
            b'w' if step < Step::Week => (Step::Week, 7 * DAY_SECS),
            b'd' if step < Step::Day => (Step::Day, DAY_SECS),
            b'h' if step < Step::Hour => (Step::Hour, 3600),
            b'm' if s.get(i) == Some(&b's') => return None,
            b'm' if step < Step::Minute => (Step::Minute, 60),
            b's' if step < Step::Second => (Step::Second, 1),
            b' ' if step < Step::Second => (Step::Last, 1),
            _ => return None,
        };
        step = next;
        total = total.checked_add(value.checked_mul(scale)?)?;
        value = 0;
        while s.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    if !valid {
        return None;
    }
    total.checked_add(value)
}

/// Whether nginx adds `expires` headers to a response with this status: 200, 201, 204,
/// 206, 301, 302, 303, 304, 307 and 308.
pub fn applies_to_status(status: u16) -> bool {
    matches!(
        status,
        200 | 201 | 204 | 206 | 301 | 302 | 303 | 304 | 307 | 308
    )
}

/// The `Expires` value (written into `out_expires`, its length returned) and the
/// `Cache-Control` value for a response at `now` (seconds since the epoch) whose file
/// changed at `mtime`; `None` for [`Expires::Off`]. `@time` uses the server's local time
/// zone, as nginx's `ngx_next_time` does; see [`headers_in_zone`] for the pure form.
pub fn headers(
    e: &Expires,
    now: i64,
    mtime: Option<i64>,
    out_expires: &mut [u8; 29],
) -> Option<(usize, CacheControl)> {
    let utc_offset_secs = match e {
        Expires::Daily { .. } => local_offset_secs(now),
        _ => 0,
    };
    headers_in_zone(e, now, mtime, utc_offset_secs, out_expires)
}

/// [`headers`] with the local time zone given as seconds east of UTC.
///
/// As nginx's `ngx_http_set_expires`:
/// - `epoch` and `max` write fixed values.
/// - A time of 0 (with or without `modified`) gives `Expires` = now and `max-age=0`.
/// - Otherwise `Expires` is now + time, or mtime + time with `modified` (now + time when
///   there is no mtime), or the next `@time` strictly after now; `Cache-Control` is
///   `max-age=` the seconds from now to that, or `no-cache` when the configured time is
///   negative or the expiry is already past. Dates are clamped to 1970–9999.
pub fn headers_in_zone(
    e: &Expires,
    now: i64,
    mtime: Option<i64>,
    utc_offset_secs: i64,
    out_expires: &mut [u8; 29],
) -> Option<(usize, CacheControl)> {
    let (expires_at, max_age, configured) = match *e {
        Expires::Off => return None,
        Expires::Epoch => {
            out_expires.copy_from_slice(EPOCH_VALUE);
            return Some((out_expires.len(), CacheControl::NoCache));
        }
        Expires::Max => {
            out_expires.copy_from_slice(MAX_VALUE);
            return Some((out_expires.len(), CacheControl::MaxAge(MAX_AGE_MAX_SECS)));
        }
        Expires::Duration { secs: 0, .. } => (now, 0, 0),
        Expires::Daily { secs_of_day } => {
            let at = next_time_of_day(secs_of_day, now, utc_offset_secs);
            (at, at.saturating_sub(now), secs_of_day)
        }
        Expires::Duration { secs, modified } => match mtime {
            Some(mtime) if modified => {
                let at = mtime.saturating_add(secs);
                (at, at.saturating_sub(now), secs)
            }
            _ => (now.saturating_add(secs), secs, secs),
        },
    };
    format_http_date_secs(expires_at, out_expires);
    let cache_control = if configured < 0 || max_age < 0 {
        CacheControl::NoCache
    } else {
        CacheControl::MaxAge(max_age)
    };
    Some((out_expires.len(), cache_control))
}

/// nginx's `ngx_next_time`: the first instant strictly after `now` whose local time of
/// day is `secs_of_day` (86400 is the coming midnight). Like nginx's `mktime` call, which
/// keeps today's DST flag, one offset is used for today and tomorrow.
fn next_time_of_day(secs_of_day: i64, now: i64, utc_offset_secs: i64) -> i64 {
    let local_now = now.saturating_add(utc_offset_secs);
    let local_midnight = local_now.saturating_sub(local_now.rem_euclid(DAY_SECS));
    let today = local_midnight
        .saturating_add(secs_of_day)
        .saturating_sub(utc_offset_secs);
    if today > now {
        today
    } else {
        today.saturating_add(DAY_SECS)
    }
}

#[cfg(test)]
mod tests;
