//! Local-time strings for logs, formatted at most once a second per process.
//!
//! nginx keeps `ngx_cached_err_log_time`, `ngx_cached_http_log_time` and
//! `ngx_cached_http_log_iso8601`, refreshed when its clock ticks. Here the three strings are
//! rebuilt when a caller asks for a second other than the cached one, so `$time_local` in a
//! busy access log costs a copy, not a `localtime_r` call.
//!
//! A worker also caches the time itself, as nginx's `ngx_timeofday()`: its event loop sets
//! [`set_cached_now`] each time it reads the clock (every turn, or once per
//! `timer_resolution`), and `$msec` and the error log's timestamps read [`now`].

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of `2026/11/25 20:23:22` (the error log's timestamp).
const ERR_LOG_LEN: usize = 19;
/// Length of `25/Nov/2026:20:23:22 +0000` (`$time_local`).
const HTTP_LOG_LEN: usize = 26;
/// Length of `2026-11-25T20:23:22+00:00` (`$time_iso8601`).
const ISO8601_LEN: usize = 25;
/// Length of `Nov 25 20:23:22` (a syslog header's timestamp, RFC 3164).
const SYSLOG_LEN: usize = 15;

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// The three formatted strings for one second.
#[derive(Clone, Copy)]
struct Cached {
    sec: i64,
    err_log: [u8; ERR_LOG_LEN],
    http_log: [u8; HTTP_LOG_LEN],
    iso8601: [u8; ISO8601_LEN],
    syslog: [u8; SYSLOG_LEN],
}

thread_local! {
    static CACHE: Cell<Option<Cached>> = const { Cell::new(None) };
    static CACHED_NOW: Cell<Option<SystemTime>> = const { Cell::new(None) };
}

/// The current time: the event loop's last reading in a worker (see [`set_cached_now`]),
/// the clock itself in a process that caches none.
pub fn now() -> SystemTime {
    CACHED_NOW.with(Cell::get).unwrap_or_else(SystemTime::now)
}

/// Makes [`now`] return `t` until the next call: a worker's loop calls it each time it
/// reads the clock.
pub fn set_cached_now(t: SystemTime) {
    CACHED_NOW.with(|c| c.set(Some(t)));
}

/// Broken-down local time: what `localtime_r` gives, reduced to what logs print.
struct LocalTime {
    year: i64,
    month: usize,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    gmtoff_min: i64,
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> i64 {
    match now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Appends the error log's timestamp (`2026/11/25 20:23:22`) for `unix_secs`.
pub fn append_err_log_time(unix_secs: i64, out: &mut Vec<u8>) {
    let c = cached(unix_secs);
    out.extend_from_slice(&c.err_log);
}

/// Appends `$time_local` (`25/Nov/2026:20:23:22 +0000`) for `unix_secs`.
pub fn append_time_local(unix_secs: i64, out: &mut Vec<u8>) {
    let c = cached(unix_secs);
    out.extend_from_slice(&c.http_log);
}

/// Appends `$time_iso8601` (`2026-11-25T20:23:22+00:00`) for `unix_secs`.
pub fn append_time_iso8601(unix_secs: i64, out: &mut Vec<u8>) {
    let c = cached(unix_secs);
    out.extend_from_slice(&c.iso8601);
}

/// Appends a syslog header's timestamp (`Nov  5 20:23:22`, the day padded with a space).
pub fn append_syslog_time(unix_secs: i64, out: &mut Vec<u8>) {
    let c = cached(unix_secs);
    out.extend_from_slice(&c.syslog);
}

fn cached(unix_secs: i64) -> Cached {
    let hit = CACHE.with(|c| c.get()).filter(|c| c.sec == unix_secs);
    hit.unwrap_or_else(|| {
        let fresh = format_all(unix_secs);
        CACHE.with(|c| c.set(Some(fresh)));
        fresh
    })
}

fn format_all(unix_secs: i64) -> Cached {
    let t = local_time(unix_secs);
    let mut c = Cached {
        sec: unix_secs,
        err_log: [0; ERR_LOG_LEN],
        http_log: [0; HTTP_LOG_LEN],
        iso8601: [0; ISO8601_LEN],
        syslog: [0; SYSLOG_LEN],
    };
    let (sign, off) = if t.gmtoff_min < 0 {
        (b'-', -t.gmtoff_min)
    } else {
        (b'+', t.gmtoff_min)
    };
    let (off_h, off_m) = ((off / 60) as u32, (off % 60) as u32);
    let year = t.year.clamp(0, 9999) as u32;

    // 2026/11/25 20:23:22
    let e = &mut c.err_log;
    put4(e, 0, year);
    e[4] = b'/';
    put2(e, 5, t.month as u32 + 1);
    e[7] = b'/';
    put2(e, 8, t.day);
    e[10] = b' ';
    put_hms(e, 11, &t);

    // 25/Nov/2026:20:23:22 +0000
    let h = &mut c.http_log;
    put2(h, 0, t.day);
    h[2] = b'/';
    h[3..6].copy_from_slice(MONTHS[t.month.min(11)]);
    h[6] = b'/';
    put4(h, 7, year);
    h[11] = b':';
    put_hms(h, 12, &t);
    h[20] = b' ';
    h[21] = sign;
    put2(h, 22, off_h);
    put2(h, 24, off_m);

    // 2026-11-25T20:23:22+00:00
    let i = &mut c.iso8601;
    put4(i, 0, year);
    i[4] = b'-';
    put2(i, 5, t.month as u32 + 1);
    i[7] = b'-';
    put2(i, 8, t.day);
    i[10] = b'T';
    put_hms(i, 11, &t);
    i[19] = sign;
    put2(i, 20, off_h);
    i[22] = b':';
    put2(i, 23, off_m);

    // Nov  5 20:23:22
    let y = &mut c.syslog;
    y[..3].copy_from_slice(MONTHS[t.month.min(11)]);
    y[3] = b' ';
    put2(y, 4, t.day);
    if y[4] == b'0' {
        y[4] = b' ';
    }
    y[6] = b' ';
    put_hms(y, 7, &t);
    c
}

fn put_hms(buf: &mut [u8], at: usize, t: &LocalTime) {
    put2(buf, at, t.hour);
    buf[at + 2] = b':';
    put2(buf, at + 3, t.min);
    buf[at + 5] = b':';
    put2(buf, at + 6, t.sec);
}

fn put2(buf: &mut [u8], at: usize, v: u32) {
    let v = v % 100;
    buf[at] = b'0' + (v / 10) as u8;
    buf[at + 1] = b'0' + (v % 10) as u8;
}

fn put4(buf: &mut [u8], at: usize, v: u32) {
    put2(buf, at, v / 100);
    put2(buf, at + 2, v % 100);
}

fn local_time(unix_secs: i64) -> LocalTime {
    let t: libc::time_t = unix_secs as libc::time_t;
    // SAFETY: `tm` is plain old data that localtime_r fully initialises on success; both
    // pointers are valid for the call, and localtime_r (unlike localtime) keeps no shared
    // static buffer.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = !unsafe { libc::localtime_r(&t, &mut tm) }.is_null();
    if !ok {
        return utc_time(unix_secs);
    }
    LocalTime {
        year: i64::from(tm.tm_year) + 1900,
        month: tm.tm_mon.clamp(0, 11) as usize,
        day: tm.tm_mday.max(0) as u32,
        hour: tm.tm_hour.max(0) as u32,
        min: tm.tm_min.max(0) as u32,
        sec: tm.tm_sec.max(0) as u32,
        gmtoff_min: tm.tm_gmtoff / 60,
    }
}

/// UTC fallback for when `localtime_r` fails (a time outside what the C library handles).
fn utc_time(unix_secs: i64) -> LocalTime {
    let days = unix_secs.div_euclid(86_400);
    let rem = unix_secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    LocalTime {
        year,
        month: (month - 1) as usize,
        day,
        hour: rem / 3600,
        min: rem / 60 % 60,
        sec: rem % 60,
        gmtoff_min: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_have_nginx_shapes() {
        let mut out = Vec::new();
        append_err_log_time(1_700_000_000, &mut out);
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s.len(), ERR_LOG_LEN);
        assert_eq!(&s[4..5], "/");
        assert_eq!(&s[10..11], " ");

        let mut out = Vec::new();
        append_time_local(1_700_000_000, &mut out);
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s.len(), HTTP_LOG_LEN);
        assert!(s.contains("/Nov/2023:"), "{s}");
        assert!(s.as_bytes()[21] == b'+' || s.as_bytes()[21] == b'-');

        let mut out = Vec::new();
        append_time_iso8601(1_700_000_000, &mut out);
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s.len(), ISO8601_LEN);
        assert!(s.starts_with("2023-11-1"), "{s}");
        assert_eq!(&s[22..23], ":");

        let mut out = Vec::new();
        append_syslog_time(1_700_000_000, &mut out);
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s.len(), SYSLOG_LEN);
        assert!(s.starts_with("Nov 1"), "{s}");
    }

    #[test]
    fn syslog_day_is_space_padded() {
        // 2023-11-05 12:00:00 UTC: the 5th from UTC-12 to UTC+11.
        let mut out = Vec::new();
        append_syslog_time(1_699_185_600, &mut out);
        assert!(
            out.starts_with(b"Nov  5 "),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }

    #[test]
    fn utc_fallback_is_correct() {
        let t = utc_time(1_700_000_000); // 2023-11-14 22:13:20 UTC
        assert_eq!((t.year, t.month, t.day), (2023, 10, 14));
        assert_eq!((t.hour, t.min, t.sec), (22, 13, 20));
        let t = utc_time(0);
        assert_eq!((t.year, t.month, t.day), (1970, 0, 1));
    }

    #[test]
    fn cache_follows_the_second() {
        let mut a = Vec::new();
        append_err_log_time(1_000_000_000, &mut a);
        let mut b = Vec::new();
        append_err_log_time(1_000_000_001, &mut b);
        assert_ne!(a, b);
        assert_eq!(a[..17], b[..17]);
    }
}
