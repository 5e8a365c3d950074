use super::*;

const MTIME: i64 = 1_600_000_000;
const AT: &[u8] = b"Sun, 13 Sep 2020 12:26:40 GMT";
const AFTER: &[u8] = b"Sun, 13 Sep 2020 12:26:41 GMT";
const BEFORE: &[u8] = b"Sun, 13 Sep 2020 12:26:39 GMT";
const ETAG: &[u8] = b"\"5f5e1000-264\"";

fn get(c: Conditions<'_>) -> Precondition {
    evaluate(
        &c,
        Method::Get,
        Some(MTIME),
        Some(ETAG),
        IfModifiedSince::Exact,
    )
}

fn ims(v: &[u8]) -> Conditions<'_> {
    Conditions {
        if_modified_since: Some(v),
        ..Conditions::default()
    }
}

fn inm(v: &[u8]) -> Conditions<'_> {
    Conditions {
        if_none_match: Some(v),
        ..Conditions::default()
    }
}

fn im(v: &[u8]) -> Conditions<'_> {
    Conditions {
        if_match: Some(v),
        ..Conditions::default()
    }
}

fn ius(v: &[u8]) -> Conditions<'_> {
    Conditions {
        if_unmodified_since: Some(v),
        ..Conditions::default()
    }
}

use Precondition::{Failed, NotModified, Proceed};

#[test]
fn etag_format_matches_nginx() {
    let mut out = [0; ETAG_MAX_LEN];
    let n = format_etag(MTIME, 612, &mut out);
    assert_eq!(&out[..n], ETAG);
    let n = format_etag(0, 0, &mut out);
    assert_eq!(&out[..n], b"\"0-0\"");
    let n = format_etag(-1, 16, &mut out);
    assert_eq!(&out[..n], b"\"-1-10\"");
    let n = format_etag(i64::MIN, u64::MAX, &mut out);
    assert_eq!(&out[..n], b"\"-8000000000000000-ffffffffffffffff\"");
}

#[test]
fn responses_without_validators_are_evaluated_too() {
    assert_eq!(get(Conditions::default()), Proceed);
    // nginx 1.22 runs its filter on every 200 (checked with `return 200`): no
    // Last-Modified fails If-Unmodified-Since and is "modified" for If-Modified-Since;
    // no ETag matches only `*`.
    let bare = |c: Conditions<'_>| evaluate(&c, Method::Get, None, None, IfModifiedSince::Exact);
    assert_eq!(bare(ius(AT)), Failed);
    assert_eq!(bare(im(b"\"nope\"")), Failed);
    assert_eq!(bare(im(b"*")), Proceed);
    assert_eq!(bare(ims(AT)), Proceed);
    assert_eq!(bare(inm(b"*")), NotModified);
    assert_eq!(bare(inm(ETAG)), Proceed);
    let c = Conditions {
        if_none_match: Some(b"*"),
        ..ims(AT)
    };
    assert_eq!(bare(c), Proceed);
}

#[test]
fn if_modified_since_exact_is_the_default() {
    assert_eq!(get(ims(AT)), NotModified);
    assert_eq!(get(ims(AFTER)), Proceed);
    assert_eq!(get(ims(BEFORE)), Proceed);
    assert_eq!(get(ims(b"garbage")), Proceed);
    assert_eq!(get(ims(b"")), Proceed);
    assert_eq!(get(ims(b"Sunday, 13-Sep-20 12:26:40 GMT")), NotModified);
    assert_eq!(get(ims(b"Sun Sep 13 12:26:40 2020")), NotModified);
    assert_eq!(get(ims(b"  Sun, 13 Sep 2020 12:26:40 GMT ")), NotModified);
    // Old browsers' suffix is ignored by nginx's date parser.
    assert_eq!(
        get(ims(b"Sun, 13 Sep 2020 12:26:40 GMT; length=612")),
        NotModified
    );
    assert_eq!(
        evaluate(
            &ims(AT),
            Method::Head,
            Some(MTIME),
            None,
            IfModifiedSince::Exact
        ),
        NotModified
    );
}

#[test]
fn if_modified_since_before_and_off() {
    let before = |c: Conditions<'_>| {
        evaluate(
            &c,
            Method::Get,
            Some(MTIME),
            Some(ETAG),
            IfModifiedSince::Before,
        )
    };
    assert_eq!(before(ims(AT)), NotModified);
    assert_eq!(before(ims(AFTER)), NotModified);
    assert_eq!(before(ims(BEFORE)), Proceed);
    assert_eq!(before(ims(b"garbage")), Proceed);

    let off = |c: Conditions<'_>| {
        evaluate(
            &c,
            Method::Get,
            Some(MTIME),
            Some(ETAG),
            IfModifiedSince::Off,
        )
    };
    assert_eq!(off(ims(AT)), Proceed);
    // nginx's `off` answers "modified" before the etag is looked at...
    assert_eq!(
        off(Conditions {
            if_none_match: Some(ETAG),
            ..ims(AT)
        }),
        Proceed
    );
    // ...but If-None-Match alone still works.
    assert_eq!(off(inm(ETAG)), NotModified);
}

#[test]
fn if_none_match_lists_and_weak_comparison() {
    assert_eq!(get(inm(ETAG)), NotModified);
    assert_eq!(get(inm(b"*")), NotModified);
    assert_eq!(get(inm(b" * ")), NotModified);
    assert_eq!(get(inm(b"\"other\"")), Proceed);
    assert_eq!(get(inm(b"\"a\", \"5f5e1000-264\"")), NotModified);
    assert_eq!(get(inm(b"\"a\",\t\"5f5e1000-264\" , \"b\"")), NotModified);
    assert_eq!(get(inm(b"\"a\",,, \"5f5e1000-264\"")), NotModified);
    assert_eq!(get(inm(b"\"5f5e1000-264\"x")), Proceed);
    assert_eq!(get(inm(b"\"5f5e1000-26\"")), Proceed);
    assert_eq!(get(inm(b"\"5f5e1000-264")), Proceed);
    assert_eq!(get(inm(b"")), Proceed);
    assert_eq!(get(inm(b",")), Proceed);
    // Weak comparison: W/ dropped on both sides.
    assert_eq!(get(inm(b"W/\"5f5e1000-264\"")), NotModified);
    assert_eq!(get(inm(b"\"a\", W/\"5f5e1000-264\"")), NotModified);
    let weak_etag = Some(&b"W/\"5f5e1000-264\""[..]);
    let c = inm(ETAG);
    assert_eq!(
        evaluate(
            &c,
            Method::Get,
            Some(MTIME),
            weak_etag,
            IfModifiedSince::Exact
        ),
        NotModified
    );
    // No etag: only `*` matches.
    assert_eq!(
        evaluate(
            &inm(ETAG),
            Method::Get,
            Some(MTIME),
            None,
            IfModifiedSince::Exact
        ),
        Proceed
    );
    assert_eq!(
        evaluate(
            &inm(b"*"),
            Method::Get,
            Some(MTIME),
            None,
            IfModifiedSince::Exact
        ),
        NotModified
    );
    // `*` inside a list is an ordinary (non-matching) entry, as in nginx.
    assert_eq!(get(inm(b"\"a\", *")), Proceed);
}

#[test]
fn etag_containing_a_comma_matches_whole() {
    let etag = Some(&b"\"a,b\""[..]);
    let run = |v: &[u8]| {
        evaluate(
            &inm(v),
            Method::Get,
            Some(MTIME),
            etag,
            IfModifiedSince::Exact,
        )
    };
    assert_eq!(run(b"\"a,b\""), NotModified);
    assert_eq!(run(b"\"x\", \"a,b\""), NotModified);
    assert_eq!(run(b"\"a\""), Proceed);
}

#[test]
fn both_ims_and_inm_must_say_not_modified() {
    let both = |d: &'static [u8], e: &'static [u8]| {
        get(Conditions {
            if_none_match: Some(e),
            ..ims(d)
        })
    };
    assert_eq!(both(AT, ETAG), NotModified);
    assert_eq!(both(BEFORE, ETAG), Proceed);
    assert_eq!(both(AT, b"\"other\""), Proceed);
    assert_eq!(both(b"garbage", b"*"), Proceed);
}

#[test]
fn if_match_is_strong() {
    assert_eq!(get(im(ETAG)), Proceed);
    assert_eq!(get(im(b"*")), Proceed);
    assert_eq!(get(im(b"\"x\", \"5f5e1000-264\"")), Proceed);
    assert_eq!(get(im(b"\"other\"")), Failed);
    assert_eq!(get(im(b"W/\"5f5e1000-264\"")), Failed);
    assert_eq!(get(im(b"")), Failed);
    assert_eq!(
        evaluate(
            &im(ETAG),
            Method::Get,
            Some(MTIME),
            None,
            IfModifiedSince::Exact
        ),
        Failed
    );
    assert_eq!(
        evaluate(
            &im(b"*"),
            Method::Get,
            Some(MTIME),
            None,
            IfModifiedSince::Exact
        ),
        Proceed
    );
    // nginx quirk kept: byte-equal weak tags pass If-Match.
    let weak = Some(&b"W/\"t\""[..]);
    let c = im(b"W/\"t\"");
    assert_eq!(
        evaluate(&c, Method::Get, Some(MTIME), weak, IfModifiedSince::Exact),
        Proceed
    );
    let c = im(b"\"t\"");
    assert_eq!(
        evaluate(&c, Method::Get, Some(MTIME), weak, IfModifiedSince::Exact),
        Failed
    );
}

#[test]
fn if_unmodified_since() {
    assert_eq!(get(ius(AT)), Proceed);
    assert_eq!(get(ius(AFTER)), Proceed);
    assert_eq!(get(ius(BEFORE)), Failed);
    // nginx parses garbage as -1, which is before any real mtime.
    assert_eq!(get(ius(b"yesterday")), Failed);
}

#[test]
fn failures_come_before_not_modified() {
    let c = Conditions {
        if_match: Some(b"\"other\""),
        if_none_match: Some(ETAG),
        ..ims(AT)
    };
    assert_eq!(get(c), Failed);
    let c = Conditions {
        if_unmodified_since: Some(BEFORE),
        if_none_match: Some(ETAG),
        ..ims(AT)
    };
    assert_eq!(get(c), Failed);
    // Both checked, not "If-Match instead of If-Unmodified-Since".
    let c = Conditions {
        if_match: Some(ETAG),
        ..ius(BEFORE)
    };
    assert_eq!(get(c), Failed);
    let c = Conditions {
        if_match: Some(ETAG),
        if_none_match: Some(ETAG),
        ..ius(AT)
    };
    assert_eq!(get(c), NotModified);
}

#[test]
fn other_methods_are_evaluated_like_get() {
    // nginx 1.22 answers 304 to POST and DELETE too (checked with `return 200`).
    let run =
        |c: Conditions<'_>, m| evaluate(&c, m, Some(MTIME), Some(ETAG), IfModifiedSince::Exact);
    assert_eq!(run(inm(ETAG), Method::Post), NotModified);
    assert_eq!(run(inm(b"*"), Method::Put), NotModified);
    assert_eq!(run(inm(b"W/\"5f5e1000-264\""), Method::Delete), NotModified);
    assert_eq!(run(inm(b"\"other\""), Method::Post), Proceed);
    assert_eq!(run(ims(AT), Method::Post), NotModified);
    assert_eq!(run(im(b"\"other\""), Method::Put), Failed);
    assert_eq!(run(ius(BEFORE), Method::Other), Failed);
}

#[test]
fn trim_strips_spaces_and_tabs_only() {
    assert_eq!(trim(b" \t a b\t "), b"a b");
    assert_eq!(trim(b"   "), b"");
    assert_eq!(trim(b""), b"");
}
