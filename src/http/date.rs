//! Timestamps: the once-a-second cache of every format a response or a log line needs,
//! and HTTP-date parsing for `If-Modified-Since`.
//!
//! nginx formats its cached times once per second (`ngx_time_update`); the worker does the
//! same by calling [`DateCache::update`] with the time it read at the top of its loop.
//! Calendar arithmetic is Howard Hinnant's days-from-civil algorithm, no time crate.
//! Times are clamped to years 1970–9999 so every format keeps its fixed width.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DAY_NAMES: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MONTH_NAMES: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];
/// 9999-12-31T23:59:59Z, the last second with a four-digit year.
const MAX_SECS: i64 = 253_402_300_799;

/// A broken-down time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32, // 1..=12
    day: u32,   // 1..=31
    hour: u32,
    minute: u32,
    second: u32,
    weekday: usize, // 0 = Sunday
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_secs(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem / 60 % 60) as u32,
        second: (rem % 60) as u32,
        weekday: (days + 4).rem_euclid(7) as usize,
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Whole seconds since the epoch, clamped to what the formats can show.
fn unix_secs(t: SystemTime) -> i64 {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    i64::try_from(secs).unwrap_or(MAX_SECS).min(MAX_SECS)
}

/// Writes `value` as `N` zero-padded decimal digits at the start of `out`.
fn put<const N: usize>(out: &mut [u8], value: i64) {
    let mut v = value.unsigned_abs();
    for slot in out.iter_mut().take(N).rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Formats `t` as an IMF-fixdate (`Wed, 25 Nov 2026 21:52:17 GMT`) into `out`.
pub fn format_http_date(t: SystemTime, out: &mut [u8; 29]) {
    format_http_date_secs(unix_secs(t), out);
}

/// Formats `secs` since the epoch as an IMF-fixdate into `out`, clamped to years
/// 1970–9999 (computed `Expires` times can fall outside).
pub fn format_http_date_secs(secs: i64, out: &mut [u8; 29]) {
    // Static responses format their file's mtime again and again: the last one is kept.
    thread_local! {
        static LAST: std::cell::Cell<(i64, [u8; 29])> =
            const { std::cell::Cell::new((0, *b"Thu, 01 Jan 1970 00:00:00 GMT")) };
    }
    let (last_secs, last) = LAST.get();
    if last_secs == secs {
        *out = last;
        return;
    }
    format_civil(secs, out);
    LAST.set((secs, *out));
}

fn format_civil(secs: i64, out: &mut [u8; 29]) {
    let c = civil_from_secs(secs.clamp(0, MAX_SECS));
    out.copy_from_slice(b"Thu, 01 Jan 1970 00:00:00 GMT");
    out[..3].copy_from_slice(DAY_NAMES[c.weekday % 7]);
    put::<2>(&mut out[5..], i64::from(c.day));
    out[8..11].copy_from_slice(MONTH_NAMES[(c.month as usize - 1) % 12]);
    put::<4>(&mut out[12..], c.year);
    put::<2>(&mut out[17..], i64::from(c.hour));
    put::<2>(&mut out[20..], i64::from(c.minute));
    put::<2>(&mut out[23..], i64::from(c.second));
}

/// Seconds east of UTC of the local time zone at `secs` (0 if the C library cannot tell).
pub(crate) fn local_offset_secs(secs: i64) -> i64 {
    let time = secs as libc::time_t;
    // SAFETY: an all-zero `tm` is a valid value (integers and a null zone pointer), and
    // `localtime_r` — the reentrant form — only reads `time` and writes `tm`, both live
    // locals for the whole call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let result = unsafe { libc::localtime_r(&time, &mut tm) };
    if result.is_null() {
        0
    } else {
        // c_long: i64 here, i32 on 32-bit targets.
        #[allow(clippy::useless_conversion)]
        i64::from(tm.tm_gmtoff)
    }
}

/// The current time in every format Portico writes, re-formatted at most once a second.
#[derive(Clone, Debug)]
pub struct DateCache {
    secs: i64,
    http: [u8; 29],
    log_local: [u8; 26],
    iso8601: [u8; 25],
    error_log: [u8; 19],
}

impl Default for DateCache {
    fn default() -> Self {
        DateCache::new()
    }
}

impl DateCache {
    /// A cache holding the epoch; call [`DateCache::update`] before use.
    pub fn new() -> DateCache {
        let mut cache = DateCache {
            secs: -1,
            http: [0; 29],
            log_local: [0; 26],
            iso8601: [0; 25],
            error_log: [0; 19],
        };
        cache.format(0, 0);
        cache.secs = -1;
        cache
    }

    /// Moves the cache to `now`; does nothing while `now` is in the same second as the
    /// last update.
    pub fn update(&mut self, now: SystemTime) {
        let secs = unix_secs(now);
        if secs != self.secs {
            self.format(secs, local_offset_secs(secs));
        }
    }

    fn format(&mut self, secs: i64, offset: i64) {
        self.secs = secs;
        format_http_date(
            UNIX_EPOCH + Duration::from_secs(secs as u64),
            &mut self.http,
        );

        let local = civil_from_secs((secs + offset).clamp(0, MAX_SECS));
        let (sign, offset_min) = (if offset < 0 { b'-' } else { b'+' }, offset.abs() / 60);

        let l = &mut self.log_local;
        l.copy_from_slice(b"01/Jan/1970:00:00:00 +0000");
        put::<2>(l, i64::from(local.day));
        l[3..6].copy_from_slice(MONTH_NAMES[(local.month as usize - 1) % 12]);
        put::<4>(&mut l[7..], local.year);
        put::<2>(&mut l[12..], i64::from(local.hour));
        put::<2>(&mut l[15..], i64::from(local.minute));
        put::<2>(&mut l[18..], i64::from(local.second));
        l[21] = sign;
        put::<2>(&mut l[22..], offset_min / 60);
        put::<2>(&mut l[24..], offset_min % 60);

        let e = &mut self.error_log;
        e.copy_from_slice(b"1970/01/01 00:00:00");
        put::<4>(e, local.year);
        put::<2>(&mut e[5..], i64::from(local.month));
        put::<2>(&mut e[8..], i64::from(local.day));
        e[11..].copy_from_slice(&l[12..20]);

        let i = &mut self.iso8601;
        i.copy_from_slice(b"1970-01-01T00:00:00+00:00");
        i[..4].copy_from_slice(&e[..4]);
        i[5..7].copy_from_slice(&e[5..7]);
        i[8..10].copy_from_slice(&e[8..10]);
        i[11..19].copy_from_slice(&e[11..19]);
        i[19] = sign;
        i[20..22].copy_from_slice(&l[22..24]);
        i[23..25].copy_from_slice(&l[24..26]);
    }

    /// `Date:` header value: `Wed, 25 Nov 2026 21:52:17 GMT`.
    pub fn http_date(&self) -> &[u8] {
        &self.http
    }

    /// nginx's `$time_local`, local time: `25/Nov/2026:21:52:17 +0000`.
    pub fn log_local(&self) -> &[u8] {
        &self.log_local
    }

    /// nginx's `$time_iso8601`, local time: `2026-11-25T21:52:17+00:00`.
    pub fn iso8601(&self) -> &[u8] {
        &self.iso8601
    }

    /// The error log's timestamp, local time: `2026/11/25 21:52:17`.
    pub fn error_log(&self) -> &[u8] {
        &self.error_log
    }
}

/// Reads the date formats HTTP allows, as nginx's `ngx_parse_http_time` does: RFC 1123
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and
/// asctime (`Sun Nov  6 08:49:37 1994`). Like nginx, the weekday and whatever follows the
/// time are not checked (old browsers append `; length=N`). `None` for anything else,
/// impossible dates, or dates before 1970.
pub fn parse_http_date(s: &[u8]) -> Option<SystemTime> {
    let mut p = Cursor { s, i: 0 };
    let asctime = loop {
        match p.next()? {
            b',' => break false,
            b' ' => break true,
            _ => {}
        }
    };
    while p.peek() == Some(b' ') {
        p.i += 1;
    }
    let mut year = 0;
    let (month, day);
    if asctime {
        month = p.month()?;
        p.expect(b' ')?;
        if p.peek() == Some(b' ') {
            p.i += 1;
        }
        let first = p.digits(1)?;
        day = match p.peek() {
            Some(b'0'..=b'9') => first * 10 + p.digits(1)?,
            _ => first,
        };
    } else {
        day = p.digits(2)?;
        let rfc850 = match p.next()? {
            b' ' => false,
            b'-' => true,
            _ => return None,
        };
        month = p.month()?;
        p.expect(if rfc850 { b'-' } else { b' ' })?;
        year = if rfc850 {
            let y = p.digits(2)?;
            if y < 70 { 2000 + y } else { 1900 + y }
        } else {
            p.digits(4)?
        };
    }
    p.expect(b' ')?;
    let hour = p.digits(2)?;
    p.expect(b':')?;
    let minute = p.digits(2)?;
    p.expect(b':')?;
    let second = p.digits(2)?;
    if asctime {
        p.expect(b' ')?;
        year = p.digits(4)?;
    }
    if hour > 23 || minute > 59 || second > 59 || day == 0 {
        return None;
    }
    if day > i64::from(days_in_month(year, month)) || year < 1970 {
        return None;
    }
    let secs =
        days_from_civil(year, month, day as u32) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// [`parse_http_date`] as seconds since the epoch, the form `Last-Modified` comparisons use.
pub fn parse_http_date_secs(s: &[u8]) -> Option<i64> {
    let t = parse_http_date(s)?;
    i64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()
}

/// A read position in a date string; every read checks the bounds.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    fn digits(&mut self, n: usize) -> Option<i64> {
        let mut v = 0;
        for _ in 0..n {
            let b = self.next()?;
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(b - b'0');
        }
        Some(v)
    }

    fn month(&mut self) -> Option<u32> {
        let name = self.s.get(self.i..self.i + 3)?;
        let index = MONTH_NAMES.iter().position(|m| &m[..] == name)?;
        self.i += 3;
        Some(index as u32 + 1)
    }
}

#[cfg(test)]
mod tests;
