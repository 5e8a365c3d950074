//! The URI normaliser on arbitrary paths: a normalised path starts with `/`, decodes no NUL,
//! has no `.` or `..` segment, and normalising it again changes nothing but what a second
//! round of percent-decoding would.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico::http::uri::{escape_uri, normalize};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, path)) = data.split_first() else {
        return;
    };
    let merge_slashes = flags & 1 == 1;
    let mut out = Vec::new();
    // Any input must not panic; the properties hold for what the request line lets through
    // (it refuses raw controls and DEL in a target).
    if normalize(path, merge_slashes, &mut out).is_err()
        || path.iter().any(|&b| b < 0x20 || b == 0x7f)
    {
        return;
    }
    assert_eq!(out.first(), Some(&b'/'), "{out:?}");
    assert!(!out.contains(&0), "NUL in {out:?}");
    for segment in out.split(|&b| b == b'/').skip(1) {
        assert!(
            segment != b".." && segment != b".",
            "dot segment in {out:?}"
        );
    }
    if merge_slashes {
        assert!(
            !out.windows(2).any(|w| w == b"//"),
            "double slash in {out:?}"
        );
    }
    // Escaped again, it normalises back to itself: what `Location` headers rely on.
    let mut escaped = Vec::new();
    escape_uri(&out, &mut escaped);
    let mut again = Vec::new();
    assert_eq!(normalize(&escaped, merge_slashes, &mut again), Ok(()));
    assert_eq!(again, out);
});
