use super::*;

/// Sun, 13 Sep 2020 12:26:40 GMT
const NOW: i64 = 1_600_000_000;

fn dur(secs: i64) -> Expires {
    Expires::Duration {
        secs,
        modified: false,
    }
}

fn modified(secs: i64) -> Expires {
    Expires::Duration {
        secs,
        modified: true,
    }
}

fn daily(secs_of_day: i64) -> Expires {
    Expires::Daily { secs_of_day }
}

/// Runs [`headers_in_zone`] and renders both values as strings.
fn run(e: Expires, mtime: Option<i64>, offset: i64) -> Option<(String, String)> {
    let mut out = [0; 29];
    let (n, cc) = headers_in_zone(&e, NOW, mtime, offset, &mut out)?;
    let mut cc_out = [0; CACHE_CONTROL_MAX_LEN];
    let m = cc.write(&mut cc_out);
    let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
    Some((s(&out[..n]), s(&cc_out[..m])))
}

fn pair(expires: &str, cache_control: &str) -> Option<(String, String)> {
    Some((expires.to_string(), cache_control.to_string()))
}

#[test]
fn parses_keywords() {
    assert_eq!(parse(&["epoch"]), Ok(Expires::Epoch));
    assert_eq!(parse(&["max"]), Ok(Expires::Max));
    assert_eq!(parse(&["off"]), Ok(Expires::Off));
    assert_eq!(parse(&["EPOCH"]), Err("invalid value".to_string()));
    // `modified` takes a time, never a keyword.
    assert_eq!(
        parse(&["modified", "epoch"]),
        Err("invalid value".to_string())
    );
    assert_eq!(
        parse(&["modified", "max"]),
        Err("invalid value".to_string())
    );
}

#[test]
fn parses_times() {
    assert_eq!(parse(&["1h"]), Ok(dur(3600)));
    assert_eq!(parse(&["+1h"]), Ok(dur(3600)));
    assert_eq!(parse(&["-1h"]), Ok(dur(-3600)));
    assert_eq!(parse(&["0"]), Ok(dur(0)));
    assert_eq!(parse(&["-0"]), Ok(dur(0)));
    assert_eq!(parse(&["30"]), Ok(dur(30)));
    assert_eq!(parse(&["30s"]), Ok(dur(30)));
    assert_eq!(parse(&["1m"]), Ok(dur(60)));
    assert_eq!(parse(&["1h30m"]), Ok(dur(5400)));
    assert_eq!(parse(&["1d 12h"]), Ok(dur(129_600)));
    assert_eq!(parse(&["1y"]), Ok(dur(31_536_000)));
    assert_eq!(parse(&["1M"]), Ok(dur(2_592_000)));
    assert_eq!(parse(&["2w"]), Ok(dur(1_209_600)));
    assert_eq!(
        parse(&["1y1M1w1d1h1m1s"]),
        Ok(dur(31_536_000 + 2_592_000 + 604_800 + 86_400 + 3661))
    );
    assert_eq!(parse(&["modified", "1h"]), Ok(modified(3600)));
    assert_eq!(parse(&["modified", "-30m"]), Ok(modified(-1800)));
    assert_eq!(parse(&["9223372036854775807"]), Ok(dur(i64::MAX)));
}

#[test]
fn rejects_what_nginx_rejects() {
    let invalid = Err("invalid value".to_string());
    for bad in [
        "",
        "h",
        "1x",
        "10ms",
        "1h1d",
        "1h1h",
        "1m1h",
        "9223372036854775808",
        "300000000000y",
        "--1h",
        "+-1h",
        "1.5h",
    ] {
        assert_eq!(parse(&[bad]), invalid, "{bad}");
    }
    assert_eq!(parse(&["Modified", "1h"]), invalid);
    assert_eq!(parse(&["access", "1h"]), invalid);
    assert!(parse(&[]).is_err());
    assert!(parse(&["modified", "1h", "x"]).is_err());
    assert!(parse(&["$expires"]).is_err());
    assert!(parse(&["modified", "1h$x"]).is_err());
}

#[test]
fn parses_daily() {
    assert_eq!(parse(&["@15h30m"]), Ok(daily(55_800)));
    assert_eq!(parse(&["@0"]), Ok(daily(0)));
    assert_eq!(parse(&["@24h"]), Ok(daily(86_400)));
    let too_late = Err("daily time value must be less than 24 hours".to_string());
    assert_eq!(parse(&["@24h1s"]), too_late);
    assert_eq!(parse(&["@2d"]), too_late);
    assert_eq!(
        parse(&["modified", "@1h"]),
        Err("daily time cannot be used with \"modified\" parameter".to_string())
    );
    assert_eq!(parse(&["@-1h"]), Err("invalid value".to_string()));
    assert_eq!(parse(&["@"]), Err("invalid value".to_string()));
}

#[test]
fn off_epoch_max() {
    assert_eq!(run(Expires::Off, Some(NOW), 0), None);
    assert_eq!(
        run(Expires::Epoch, None, 0),
        pair("Thu, 01 Jan 1970 00:00:01 GMT", "no-cache")
    );
    assert_eq!(
        run(Expires::Max, None, 0),
        pair("Thu, 31 Dec 2037 23:55:55 GMT", "max-age=315360000")
    );
}

#[test]
fn relative_to_now() {
    assert_eq!(
        run(dur(3600), None, 0),
        pair("Sun, 13 Sep 2020 13:26:40 GMT", "max-age=3600")
    );
    assert_eq!(
        run(dur(30 * 86_400), Some(0), 0),
        pair("Tue, 13 Oct 2020 12:26:40 GMT", "max-age=2592000")
    );
    assert_eq!(
        run(dur(-3600), None, 0),
        pair("Sun, 13 Sep 2020 11:26:40 GMT", "no-cache")
    );
    assert_eq!(
        run(dur(0), None, 0),
        pair("Sun, 13 Sep 2020 12:26:40 GMT", "max-age=0")
    );
}

#[test]
fn relative_to_mtime() {
    let mtime = NOW - 79_200; // 22 hours ago
    assert_eq!(
        run(modified(86_400), Some(mtime), 0),
        pair("Sun, 13 Sep 2020 14:26:40 GMT", "max-age=7200")
    );
    // Already past: the date is still written, Cache-Control says no-cache.
    let old = NOW - 2 * 86_400;
    assert_eq!(
        run(modified(86_400), Some(old), 0),
        pair("Sat, 12 Sep 2020 12:26:40 GMT", "no-cache")
    );
    assert_eq!(
        run(modified(-3600), Some(NOW + 7200), 0),
        pair("Sun, 13 Sep 2020 13:26:40 GMT", "no-cache")
    );
    // Without an mtime nginx falls back to the request time.
    assert_eq!(
        run(modified(3600), None, 0),
        pair("Sun, 13 Sep 2020 13:26:40 GMT", "max-age=3600")
    );
    // Zero ignores `modified`, as nginx's shortcut does.
    assert_eq!(
        run(modified(0), Some(old), 0),
        pair("Sun, 13 Sep 2020 12:26:40 GMT", "max-age=0")
    );
}

#[test]
fn daily_in_utc() {
    assert_eq!(
        run(daily(55_800), None, 0),
        pair("Sun, 13 Sep 2020 15:30:00 GMT", "max-age=11000")
    );
    assert_eq!(
        run(daily(36_000), None, 0),
        pair("Mon, 14 Sep 2020 10:00:00 GMT", "max-age=77600")
    );
    // Exactly now counts as passed.
    assert_eq!(
        run(daily(44_800), None, 0),
        pair("Mon, 14 Sep 2020 12:26:40 GMT", "max-age=86400")
    );
    assert_eq!(
        run(daily(0), None, 0),
        pair("Mon, 14 Sep 2020 00:00:00 GMT", "max-age=41600")
    );
    assert_eq!(
        run(daily(86_400), None, 0),
        pair("Mon, 14 Sep 2020 00:00:00 GMT", "max-age=41600")
    );
    // The mtime plays no part.
    assert_eq!(
        run(daily(0), Some(NOW - 1), 0),
        pair("Mon, 14 Sep 2020 00:00:00 GMT", "max-age=41600")
    );
}

#[test]
fn daily_in_local_time() {
    // UTC+2: local now is 14:26:40, so 15:30 local is 13:30 UTC today.
    assert_eq!(
        run(daily(55_800), None, 7200),
        pair("Sun, 13 Sep 2020 13:30:00 GMT", "max-age=3800")
    );
    // UTC-5: local now is 07:26:40; 06:00 local has passed, tomorrow's is 11:00 UTC.
    assert_eq!(
        run(daily(21_600), None, -18_000),
        pair("Mon, 14 Sep 2020 11:00:00 GMT", "max-age=81200")
    );
    // UTC+14: local date is already Monday; 01:00 local has passed, Tuesday's is Mon 11:00 UTC.
    assert_eq!(
        run(daily(3600), None, 50_400),
        pair("Mon, 14 Sep 2020 11:00:00 GMT", "max-age=81200")
    );
}

#[test]
fn extremes_do_not_panic() {
    assert_eq!(
        run(dur(i64::MAX), None, 0),
        pair(
            "Fri, 31 Dec 9999 23:59:59 GMT",
            &format!("max-age={}", i64::MAX)
        )
    );
    assert_eq!(
        run(dur(i64::MIN), None, 0),
        pair("Thu, 01 Jan 1970 00:00:00 GMT", "no-cache")
    );
    assert_eq!(
        run(modified(i64::MAX), Some(i64::MAX), 0),
        pair(
            "Fri, 31 Dec 9999 23:59:59 GMT",
            &format!("max-age={}", i64::MAX - NOW)
        )
    );
    assert_eq!(
        run(modified(-1), Some(i64::MIN), 0),
        pair("Thu, 01 Jan 1970 00:00:00 GMT", "no-cache")
    );
    assert!(run(daily(i64::MAX), None, i64::MAX).is_some());
    assert!(run(daily(-5), None, i64::MIN).is_some());
    let mut out = [0; CACHE_CONTROL_MAX_LEN];
    let n = CacheControl::MaxAge(i64::MIN).write(&mut out);
    assert_eq!(&out[..n], b"max-age=-9223372036854775808");
}

#[test]
fn statuses_that_get_expires() {
    for s in [200, 201, 204, 206, 301, 302, 303, 304, 307, 308] {
        assert!(applies_to_status(s), "{s}");
    }
    for s in [100, 202, 300, 305, 400, 404, 412, 416, 500, 502] {
        assert!(!applies_to_status(s), "{s}");
    }
}

#[test]
fn headers_uses_utc_for_fixed_kinds() {
    let mut out = [0; 29];
    let (n, cc) = headers(&dur(3600), NOW, None, &mut out).unwrap();
    assert_eq!(&out[..n], b"Sun, 13 Sep 2020 13:26:40 GMT");
    assert_eq!(cc, CacheControl::MaxAge(3600));
    assert!(headers(&Expires::Off, NOW, None, &mut out).is_none());
    // Daily depends on the host's zone; only its shape is fixed.
    let (_, cc) = headers(&daily(3600), NOW, None, &mut out).unwrap();
    assert!(matches!(cc, CacheControl::MaxAge(1..=86_400)));
}
