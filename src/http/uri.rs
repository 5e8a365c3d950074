//! The request path as nginx sees it (`$uri`): percent-decoded, dot segments resolved,
//! slashes merged; and the reverse, escaping a path for a `Location` header.
//!
//! [`normalize`] is nginx's `ngx_http_parse_complex_uri` restricted to the path (the
//! query is split off by [`super::request`]). Its quirks are kept on purpose, since they
//! decide which file is served: a decoded `%2F` separates segments and a decoded `%2E`
//! counts as a dot, but a decoded `%25`, `%23` or `%3F` is a plain `%`, `#`, `?`.

use super::error::HttpError;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Usual,
    Slash,
    Dot,
    DotDot,
    Quoted,
    QuotedSecond,
}

fn hex_value(ch: u8) -> Option<u8> {
    match ch {
        b'0'..=b'9' => Some(ch - b'0'),
        b'a'..=b'f' => Some(ch - b'a' + 10),
        b'A'..=b'F' => Some(ch - b'A' + 10),
        _ => None,
    }
}

/// Drops the `/..` that `out` ends with and the segment before it. Above the root is an
/// error, as in nginx.
fn up(out: &mut Vec<u8>) -> Result<(), HttpError> {
    let before = out.len().checked_sub(4).ok_or(HttpError::InvalidUri)?;
    let slash = out
        .get(..=before)
        .and_then(|head| head.iter().rposition(|&b| b == b'/'))
        .ok_or(HttpError::InvalidUri)?;
    out.truncate(slash + 1);
    Ok(())
}

/// Decodes and normalizes `raw_path` (the part of the target before `?`) into `out`,
/// which is cleared first and reused by the caller from request to request.
///
/// Errors ([`HttpError::InvalidUri`], 400): the path does not start with `/`, a `%` is
/// not followed by two hex digits, `%00`, or `..` climbs above the root. A raw `?` or `#`
/// ends the path (nginx's parser never sees one inside a path it splits itself).
pub fn normalize(raw_path: &[u8], merge_slashes: bool, out: &mut Vec<u8>) -> Result<(), HttpError> {
    out.clear();
    if raw_path.first() == Some(&b'/') && is_plain(raw_path) {
        out.extend_from_slice(raw_path);
        return Ok(());
    }
    normalize_escaped(raw_path, merge_slashes, out)
}

/// Whether `raw_path` is its own normal form: no `%`, `?` or `#`, no `/.` (dot segments)
/// and no `//`. Most paths are, and a copy costs a tenth of the state machine.
fn is_plain(raw_path: &[u8]) -> bool {
    let mut prev = 0u8;
    for &b in raw_path {
        match b {
            b'%' | b'?' | b'#' => return false,
            b'.' | b'/' if prev == b'/' => return false,
            _ => prev = b,
        }
    }
    true
}

/// [`normalize`]'s state machine, for any path.
fn normalize_escaped(
    raw_path: &[u8],
    merge_slashes: bool,
    out: &mut Vec<u8>,
) -> Result<(), HttpError> {
    use State::*;
    let invalid = Err(HttpError::InvalidUri);

    out.clear();
    if raw_path.first() != Some(&b'/') {
        return invalid;
    }
    out.reserve(raw_path.len());

    let (mut state, mut quoted_state, mut decoded) = (Usual, Usual, 0u8);
    let mut bytes = raw_path.iter().copied();
    // A decoded byte goes through the state it was escaped in, like a raw one.
    let mut again: Option<u8> = None;

    while let Some(ch) = again.take().or_else(|| bytes.next()) {
        match (state, ch) {
            (Quoted, _) => match hex_value(ch) {
                Some(high) => {
                    decoded = high;
                    state = QuotedSecond;
                }
                None => return invalid,
            },
            (QuotedSecond, _) => {
                let Some(low) = hex_value(ch) else {
                    return invalid;
                };
                let c = (decoded << 4) | low;
                // nginx: with a digit second, '%' and '#' are literal and NUL is refused;
                // with a letter second, '?' is literal. Anything else is re-read.
                let literal = if ch.is_ascii_digit() {
                    if c == 0 {
                        return invalid;
                    }
                    c == b'%' || c == b'#'
                } else {
                    c == b'?'
                };
                if literal {
                    out.push(c);
                    state = Usual;
                } else {
                    state = quoted_state;
                    again = Some(c);
                }
            }
            (_, b'%') => {
                quoted_state = state;
                state = Quoted;
            }
            (Usual | Slash, b'?' | b'#') => return Ok(()),
            (Dot, b'?' | b'#') => {
                out.pop();
                return Ok(());
            }
            (DotDot, b'?' | b'#') => return up(out),
            (Usual, b'/') => {
                out.push(ch);
                state = Slash;
            }
            (Slash, b'/') => {
                if !merge_slashes {
                    out.push(ch);
                }
            }
            (Slash, b'.') => {
                out.push(ch);
                state = Dot;
            }
            (Dot, b'/') => {
                out.pop();
                state = Slash;
            }
            (Dot, b'.') => {
                out.push(ch);
                state = DotDot;
            }
            (DotDot, b'/') => {
                up(out)?;
                state = Slash;
            }
            _ => {
                out.push(ch);
                state = Usual;
            }
        }
    }

    match state {
        Quoted | QuotedSecond => invalid,
        Dot => {
            out.pop();
            Ok(())
        }
        DotDot => up(out),
        Usual | Slash => Ok(()),
    }
}

/// nginx's `NGX_ESCAPE_URI` set: controls, space, `"`, `#`, `%`, `<`, `>`, `?`, `\`,
/// `^`, `` ` ``, `{`, `|`, `}`, DEL and every byte above 0x7f.
const ESCAPE_URI: [u32; 8] = [
    0xffff_ffff,
    0xd000_002d,
    0x5000_0000,
    0xb800_0001,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
];

/// nginx's `NGX_ESCAPE_ARGS` set: as [`ESCAPE_URI`] plus `&`, `+` and `;`.
const ESCAPE_ARGS: [u32; 8] = [
    0xffff_ffff,
    0xd800_086d,
    0x5000_0000,
    0xb800_0001,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
];

fn escape(table: &[u32; 8], src: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in src {
        let word = table.get(usize::from(b >> 5)).copied().unwrap_or(u32::MAX);
        if word & (1 << (b & 0x1f)) != 0 {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        } else {
            out.push(b);
        }
    }
}

/// Appends `src` to `out` with the bytes nginx escapes in a URI path percent-encoded
/// (`ngx_escape_uri(..., NGX_ESCAPE_URI)`), as for the `Location` of a directory
/// redirect: `/a b/` becomes `/a%20b/`.
pub fn escape_uri(src: &[u8], out: &mut Vec<u8>) {
    escape(&ESCAPE_URI, src, out);
}

/// nginx's `NGX_ESCAPE_REFRESH` set: controls, space, `"`, `'`, `%`, `<`, `>`, `\`, `^`,
/// `` ` ``, `|`, `}`, DEL and every byte above 0x7f (the URL of `msie_refresh`'s page).
const ESCAPE_REFRESH: [u32; 8] = [
    0xffff_ffff,
    0x5000_0085,
    0x5000_0000,
    0xd800_0001,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
];

/// Appends `src` to `out` escaped for the `Refresh` page `msie_refresh` sends
/// (`NGX_ESCAPE_REFRESH`).
pub fn escape_refresh(src: &[u8], out: &mut Vec<u8>) {
    escape(&ESCAPE_REFRESH, src, out);
}

/// Appends `src` to `out` escaped for a query string (`NGX_ESCAPE_ARGS`).
pub fn escape_args(src: &[u8], out: &mut Vec<u8>) {
    escape(&ESCAPE_ARGS, src, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &[u8]) -> Result<Vec<u8>, HttpError> {
        let mut out = Vec::new();
        normalize(raw, true, &mut out).map(|()| out)
    }

    fn ok(raw: &[u8], want: &[u8]) {
        assert_eq!(
            norm(raw).map(|v| String::from_utf8_lossy(&v).into_owned()),
            Ok(String::from_utf8_lossy(want).into_owned()),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }

    #[test]
    fn plain_path_copy_matches_the_state_machine() {
        // Every path over a small alphabet up to 5 bytes after the leading slash: the
        // copy and the state machine agree, with and without merge_slashes.
        let alphabet = b"/.a%2?#";
        let mut paths: Vec<Vec<u8>> = vec![b"/".to_vec()];
        let mut last = paths.clone();
        for _ in 0..5 {
            let next: Vec<Vec<u8>> = last
                .iter()
                .flat_map(|p| alphabet.iter().map(move |&c| [p.as_slice(), &[c]].concat()))
                .collect();
            paths.extend(next.iter().cloned());
            last = next;
        }
        for path in &paths {
            for merge in [true, false] {
                let (mut fast, mut slow) = (Vec::new(), Vec::new());
                let a = normalize(path, merge, &mut fast);
                let b = normalize_escaped(path, merge, &mut slow);
                assert_eq!((a, fast), (b, slow), "{:?}", String::from_utf8_lossy(path));
            }
        }
    }

    fn bad(raw: &[u8]) {
        assert_eq!(
            norm(raw),
            Err(HttpError::InvalidUri),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }

    #[test]
    fn plain_paths_are_unchanged() {
        for p in [
            &b"/"[..],
            b"/a/b.html",
            b"/a+b/c,d;e=f",
            b"/caf\xc3\xa9",
            b"/\xff",
            b"/..a",
            b"/.a/...",
            b"/a.",
        ] {
            ok(p, p);
        }
    }

    #[test]
    fn dot_segments() {
        ok(b"/a/./b", b"/a/b");
        ok(b"/a/../b", b"/b");
        ok(b"/a/b/..", b"/a/");
        ok(b"/a/b/.", b"/a/b/");
        ok(b"/.", b"/");
        ok(b"/a/b/../../c/./d/..", b"/c/");
        bad(b"/..");
        bad(b"/../a");
        bad(b"/a/../../b");
        bad(b"/a/..%2F..%2Fb");
    }

    #[test]
    fn slashes() {
        ok(b"//a///b//", b"/a/b/");
        let mut out = Vec::new();
        normalize(b"//a///b", false, &mut out).unwrap();
        assert_eq!(out, b"//a///b");
        normalize(b"/a//../b", false, &mut out).unwrap();
        assert_eq!(out, b"/a/b");
    }

    #[test]
    fn percent_decoding() {
        ok(b"/a%20b", b"/a b");
        ok(b"/%41%62c", b"/Abc");
        ok(b"/a%2fb", b"/a/b");
        ok(b"/a/%2E%2e/b", b"/b");
        ok(b"/a/.%2e/b", b"/b");
        ok(b"/%2e", b"/");
        ok(b"/a%2F%2Fb", b"/a/b");
        ok(b"/%25", b"/%");
        ok(b"/%2541", b"/%41");
        ok(b"/%23x", b"/#x");
        ok(b"/%3F", b"/?");
        ok(b"/%3f", b"/?");
        ok(b"/%C3%A9", b"/\xc3\xa9");
        ok(b"/%0a", b"/\n");
        bad(b"/%00");
        bad(b"/a%0");
        bad(b"/a%");
        bad(b"/a%zz");
        bad(b"/a%g1");
        bad(b"/a%1g");
        bad(b"/%2e%2e");
    }

    #[test]
    fn query_and_fragment_end_the_path() {
        ok(b"/a?b/../..", b"/a");
        ok(b"/a#b", b"/a");
        ok(b"/a/.?x", b"/a/");
        ok(b"/a/b/..#x", b"/a/");
        ok(b"//?x", b"/");
    }

    #[test]
    fn must_start_with_a_slash() {
        bad(b"");
        bad(b"a/b");
        bad(b"*");
        bad(b"%2F");
    }

    #[test]
    fn output_is_reused() {
        let mut out = b"stale".to_vec();
        normalize(b"/x", true, &mut out).unwrap();
        assert_eq!(out, b"/x");
    }

    #[test]
    fn escaping() {
        let esc = |s: &[u8], args: bool| {
            let mut out = b"http://h".to_vec();
            if args {
                escape_args(s, &mut out);
            } else {
                escape_uri(s, &mut out);
            }
            String::from_utf8(out).unwrap()
        };
        assert_eq!(esc(b"/a b/", false), "http://h/a%20b/");
        assert_eq!(
            esc(b"/\"#%<>?\\^`{|}\x7f\x01\xc3\xa9", false),
            "http://h/%22%23%25%3C%3E%3F%5C%5E%60%7B%7C%7D%7F%01%C3%A9"
        );
        assert_eq!(
            esc(b"/a-b_c.d~e!$&'()*+,;=:@[]", false),
            "http://h/a-b_c.d~e!$&'()*+,;=:@[]"
        );
        assert_eq!(esc(b"a=b&c+d;e", true), "http://ha=b%26c%2Bd%3Be");
    }
}
