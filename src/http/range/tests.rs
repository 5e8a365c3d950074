use super::*;

use RangeOutcome::{Full, Multi, Unsatisfiable};

fn single(start: u64, end_exclusive: u64) -> RangeOutcome {
    RangeOutcome::Single {
        start,
        end_exclusive,
    }
}

#[test]
fn simple_forms() {
    assert_eq!(parse_range(b"bytes=0-99", 1000), single(0, 100));
    assert_eq!(parse_range(b"bytes=100-", 1000), single(100, 1000));
    assert_eq!(parse_range(b"bytes=-100", 1000), single(900, 1000));
    assert_eq!(parse_range(b"bytes=0-0", 1000), single(0, 1));
    assert_eq!(parse_range(b"bytes=999-999", 1000), single(999, 1000));
    assert_eq!(parse_range(b"bytes=0-", 1000), single(0, 1000));
}

#[test]
fn end_is_clamped_and_suffix_longer_than_file_is_whole_file() {
    assert_eq!(parse_range(b"bytes=500-5000", 1000), single(500, 1000));
    assert_eq!(
        parse_range(b"bytes=0-9223372036854775807", 1000),
        single(0, 1000)
    );
    assert_eq!(parse_range(b"bytes=-5000", 1000), single(0, 1000));
    assert_eq!(parse_range(b"bytes=-1000", 1000), single(0, 1000));
}

#[test]
fn unit_and_prefix() {
    assert_eq!(parse_range(b"BYTES=0-1", 10), single(0, 2));
    assert_eq!(parse_range(b"Bytes=0-1", 10), single(0, 2));
    assert_eq!(parse_range(b"items=0-1", 10), Full);
    assert_eq!(parse_range(b"bytes 0-1", 10), Full);
    assert_eq!(parse_range(b"bytes=", 10), Full);
    assert_eq!(parse_range(b"bytes", 10), Full);
    assert_eq!(parse_range(b"", 10), Full);
    assert_eq!(parse_range(b"  bytes=0-1  ", 10), single(0, 2));
}

#[test]
fn spaces_where_nginx_skips_them() {
    assert_eq!(parse_range(b"bytes= 0 - 1", 10), single(0, 2));
    assert_eq!(parse_range(b"bytes=0- ", 10), single(0, 10));
    assert_eq!(parse_range(b"bytes=2 -", 10), single(2, 10));
    assert_eq!(parse_range(b"bytes=0-1 , 5-6", 10), Multi);
    // Not between a suffix's `-` and its number, and tabs never.
    assert_eq!(parse_range(b"bytes=- 5", 10), Unsatisfiable);
    assert_eq!(parse_range(b"bytes=\t0-1", 10), Unsatisfiable);
}

#[test]
fn syntax_errors_are_416_like_nginx() {
    for bad in [
        &b"bytes=abc"[..],
        b"bytes=1",
        b"bytes=1-x",
        b"bytes=1-2x",
        b"bytes=--1",
        b"bytes=-",
        b"bytes=0-1,",
        b"bytes=0-1,,2-3",
        b"bytes=0-1;2-3",
        b"bytes=+1-2",
        b"bytes=0x10-20",
    ] {
        assert_eq!(
            parse_range(bad, 100),
            Unsatisfiable,
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn overflow_is_416() {
    assert_eq!(
        parse_range(b"bytes=9223372036854775808-", 100),
        Unsatisfiable
    );
    assert_eq!(
        parse_range(b"bytes=0-9223372036854775808", 100),
        Unsatisfiable
    );
    assert_eq!(
        parse_range(b"bytes=-99999999999999999999999", 100),
        Unsatisfiable
    );
    assert_eq!(
        parse_range(b"bytes=9223372036854775807-", 100),
        Unsatisfiable
    );
}

#[test]
fn unsatisfiable_ranges() {
    assert_eq!(parse_range(b"bytes=1000-", 1000), Unsatisfiable);
    assert_eq!(parse_range(b"bytes=1000-2000", 1000), Unsatisfiable);
    assert_eq!(parse_range(b"bytes=5-4", 1000), Unsatisfiable);
    assert_eq!(parse_range(b"bytes=-0", 1000), Unsatisfiable);
    assert_eq!(parse_range(b"bytes=2000-,3000-", 1000), Unsatisfiable);
}

#[test]
fn empty_resource() {
    // A range from 0 that selects nothing makes nginx ignore the header.
    assert_eq!(parse_range(b"bytes=0-", 0), Full);
    assert_eq!(parse_range(b"bytes=0-10", 0), Full);
    assert_eq!(parse_range(b"bytes=-10", 0), Full);
    assert_eq!(parse_range(b"bytes=-0", 0), Full);
    assert_eq!(parse_range(b"bytes=1-", 0), Unsatisfiable);
}

#[test]
fn several_ranges() {
    assert_eq!(parse_range(b"bytes=0-1,5-6", 10), Multi);
    assert_eq!(parse_range(b"bytes=0-1,-2", 10), Multi);
    // Unsatisfiable parts are dropped: one left is a single range.
    assert_eq!(parse_range(b"bytes=50-60,2-3", 10), single(2, 4));
    assert_eq!(parse_range(b"bytes=2-3,50-", 10), single(2, 4));
    // Overlaps adding up past the size: ignored.
    assert_eq!(parse_range(b"bytes=0-,0-", 10), Full);
    assert_eq!(parse_range(b"bytes=0-5,3-8", 10), Full);
    // Adding up to exactly the size is still multipart.
    assert_eq!(parse_range(b"bytes=0-4,5-9", 10), Multi);
    // A zero-start range that selects nothing ends parsing with Full.
    assert_eq!(parse_range(b"bytes=1-2,0-", 0), Full);
    // A syntax error anywhere is 416.
    assert_eq!(parse_range(b"bytes=0-1,x", 10), Unsatisfiable);
}

#[test]
fn if_range_by_etag() {
    let etag = Some(&b"\"5f5e1000-264\""[..]);
    assert!(if_range_matches(b"\"5f5e1000-264\"", Some(1), etag));
    assert!(!if_range_matches(b"\"5f5e1000-265\"", Some(1), etag));
    assert!(!if_range_matches(b"W/\"5f5e1000-264\"", Some(1), etag));
    assert!(!if_range_matches(b"\"5f5e1000-264\"", Some(1), None));
    assert!(!if_range_matches(b"\"", Some(1), Some(b"\"")));
}

#[test]
fn if_range_by_date() {
    let mtime = Some(1_600_000_000);
    assert!(if_range_matches(
        b"Sun, 13 Sep 2020 12:26:40 GMT",
        mtime,
        None
    ));
    assert!(!if_range_matches(
        b"Sun, 13 Sep 2020 12:26:41 GMT",
        mtime,
        None
    ));
    assert!(!if_range_matches(
        b"Sun, 13 Sep 2020 12:26:39 GMT",
        mtime,
        None
    ));
    assert!(!if_range_matches(
        b"Sun, 13 Sep 2020 12:26:40 GMT",
        None,
        None
    ));
    assert!(!if_range_matches(b"garbage", mtime, None));
    assert!(!if_range_matches(b"", mtime, None));
}

#[test]
fn content_range_values() {
    let mut out = [0; CONTENT_RANGE_MAX_LEN];
    let n = content_range(0, 100, 1000, &mut out);
    assert_eq!(&out[..n], b"bytes 0-99/1000");
    let n = content_range(999, 1000, 1000, &mut out);
    assert_eq!(&out[..n], b"bytes 999-999/1000");
    let n = content_range(u64::MAX - 1, u64::MAX, u64::MAX, &mut out);
    assert_eq!(
        &out[..n],
        b"bytes 18446744073709551614-18446744073709551614/18446744073709551615"
    );
    let n = content_range_unsatisfied(1000, &mut out);
    assert_eq!(&out[..n], b"bytes */1000");
    let n = content_range_unsatisfied(0, &mut out);
    assert_eq!(&out[..n], b"bytes */0");
}
