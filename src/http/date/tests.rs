use super::*;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn http(secs: u64) -> String {
    let mut out = [0; 29];
    format_http_date(at(secs), &mut out);
    String::from_utf8(out.to_vec()).unwrap()
}

#[test]
fn formats_http_dates() {
    assert_eq!(http(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(http(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(http(1_795_643_537), "Wed, 25 Nov 2026 21:52:17 GMT");
    assert_eq!(http(951_868_799), "Tue, 29 Feb 2000 23:59:59 GMT");
    assert_eq!(http(4_107_542_400), "Mon, 01 Mar 2100 00:00:00 GMT");
    assert_eq!(http(253_402_300_799), "Fri, 31 Dec 9999 23:59:59 GMT");
    assert_eq!(
        http(u64::MAX / 2),
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "clamped"
    );
    let mut out = [0; 29];
    format_http_date(UNIX_EPOCH - Duration::from_secs(10), &mut out);
    assert_eq!(&out, b"Thu, 01 Jan 1970 00:00:00 GMT", "clamped");
}

#[test]
fn civil_round_trip() {
    for secs in (0..MAX_SECS).step_by(86_400 * 37 + 3_601) {
        let c = civil_from_secs(secs);
        let days = days_from_civil(c.year, c.month, c.day);
        let back = days * 86_400
            + i64::from(c.hour) * 3600
            + i64::from(c.minute) * 60
            + i64::from(c.second);
        assert_eq!(back, secs);
        assert!(c.day <= days_in_month(c.year, c.month));
    }
}

#[test]
fn parses_the_three_formats() {
    let want = Some(at(784_111_777));
    assert_eq!(parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT"), want);
    assert_eq!(parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"), want);
    assert_eq!(parse_http_date(b"Sun Nov  6 08:49:37 1994"), want);
    assert_eq!(parse_http_date(b"Sun Nov 06 08:49:37 1994"), want);
    assert_eq!(
        parse_http_date(b"Thursday, 01-Jan-70 00:00:00 GMT"),
        Some(at(0))
    );
    assert_eq!(
        parse_http_date(b"Wednesday, 25-Nov-26 21:52:17 GMT"),
        Some(at(1_795_643_537))
    );
    // nginx ignores the weekday and what follows the time.
    assert_eq!(
        parse_http_date(b"Xxx, 06 Nov 1994 08:49:37 GMT; length=12"),
        want
    );
    assert_eq!(parse_http_date(b"Sun,  06 Nov 1994 08:49:37"), want);
}

#[test]
fn round_trips_our_own_format() {
    for secs in [
        0,
        1,
        951_868_799,
        1_795_643_537,
        4_107_542_400,
        253_402_300_799,
    ] {
        let mut out = [0; 29];
        format_http_date(at(secs), &mut out);
        assert_eq!(parse_http_date(&out), Some(at(secs)), "{secs}");
    }
}

#[test]
fn rejects_bad_dates() {
    for bad in [
        &b""[..],
        b"Sun",
        b"Sun, 06 Nov 1994",
        b"Sun, 06 Nov 1994 08:49",
        b"Sun, 6 Nov 1994 08:49:37 GMT",
        b"Sun, 06 nov 1994 08:49:37 GMT",
        b"Sun, 06 Foo 1994 08:49:37 GMT",
        b"Sun, 06 Nov 94 08:49:37 GMT",
        b"Sun, 06 Nov 1994 24:00:00 GMT",
        b"Sun, 06 Nov 1994 08:60:00 GMT",
        b"Sun, 06 Nov 1994 08:49:60 GMT",
        b"Sun, 00 Nov 1994 08:49:37 GMT",
        b"Sun, 31 Nov 1994 08:49:37 GMT",
        b"Sun, 29 Feb 1900 08:49:37 GMT",
        b"Sun, 29 Feb 2001 08:49:37 GMT",
        b"Sun, 01 Jan 1969 08:49:37 GMT",
        b"Sun, 06/Nov/1994 08:49:37 GMT",
        b"Sun Nov  6 08:49:37",
        b"Sun Nov x6 08:49:37 1994",
        b"1994-11-06T08:49:37Z",
    ] {
        assert_eq!(
            parse_http_date(bad),
            None,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(parse_http_date(b"Tue, 29 Feb 2000 00:00:00 GMT").is_some());
}

#[test]
fn cache_formats_with_an_offset() {
    let mut cache = DateCache::new();
    cache.format(1_795_643_537, 3 * 3600 + 30 * 60);
    assert_eq!(cache.http_date(), b"Wed, 25 Nov 2026 21:52:17 GMT");
    assert_eq!(cache.log_local(), b"26/Nov/2026:01:22:17 +0330");
    assert_eq!(cache.iso8601(), b"2026-11-26T01:22:17+03:30");
    assert_eq!(cache.error_log(), b"2026/11/26 01:22:17");

    cache.format(1_795_643_537, -8 * 3600);
    assert_eq!(cache.log_local(), b"25/Nov/2026:13:52:17 -0800");
    assert_eq!(cache.iso8601(), b"2026-11-25T13:52:17-08:00");
    assert_eq!(cache.error_log(), b"2026/11/25 13:52:17");

    cache.format(1_795_643_537, 0);
    assert_eq!(cache.log_local(), b"25/Nov/2026:21:52:17 +0000");
    assert_eq!(cache.iso8601(), b"2026-11-25T21:52:17+00:00");
}

#[test]
fn cache_updates_once_per_second() {
    let mut cache = DateCache::new();
    let t = at(1_795_643_537) + Duration::from_millis(100);
    cache.update(t);
    assert_eq!(cache.http_date(), b"Wed, 25 Nov 2026 21:52:17 GMT");
    let local = cache.log_local().to_vec();
    // Same second: nothing is re-formatted, even if the stored text were stale.
    cache.http[0] = b'X';
    cache.update(t + Duration::from_millis(800));
    assert_eq!(cache.http[0], b'X');
    cache.update(t + Duration::from_millis(900));
    assert_eq!(cache.http_date(), b"Wed, 25 Nov 2026 21:52:18 GMT");
    // The local formats agree with each other whatever the machine's zone is.
    let e = cache.error_log().to_vec();
    let l = cache.log_local().to_vec();
    let i = cache.iso8601().to_vec();
    assert_eq!(&e[11..], &l[12..20]);
    assert_eq!(&i[11..19], &e[11..]);
    assert_eq!(&i[..4], &e[..4]);
    assert_eq!(i[19], l[21]);
    assert_ne!(local, l, "a second later");
}
