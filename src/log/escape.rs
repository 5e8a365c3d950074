//! `log_format ... escape=default|json`: escaping a value already appended to a line.
//!
//! Both functions escape `buf[start..]` in place: they count what needs escaping, grow the
//! buffer once, and fill it from the end, so a line is built without a scratch buffer.

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// nginx's `ngx_http_log_escape` set: `"`, `\`, control bytes, DEL and every byte >= 0x80.
fn needs_default_escape(b: u8) -> bool {
    !(0x20..0x7f).contains(&b) || b == b'"' || b == b'\\'
}

/// `escape=default`: each byte of the set above becomes `\xHH` (upper-case hex).
pub fn escape_default(buf: &mut Vec<u8>, start: usize) {
    let start = start.min(buf.len());
    let count = buf[start..]
        .iter()
        .filter(|&&b| needs_default_escape(b))
        .count();
    if count == 0 {
        return;
    }
    let old_len = buf.len();
    buf.resize(old_len + 3 * count, 0);
    let mut w = buf.len();
    for r in (start..old_len).rev() {
        let b = buf[r];
        if needs_default_escape(b) {
            w -= 4;
            buf[w..w + 4].copy_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            w -= 1;
            buf[w] = b;
        }
    }
}

/// Bytes added when `b` is written as a JSON string character (nginx's `ngx_escape_json`).
fn json_extra(b: u8) -> usize {
    match b {
        b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
        0..=0x1f => 5,
        _ => 0,
    }
}

/// `escape=json`: `"` and `\` get a backslash, `\n \r \t \b \f` their short forms, other
/// control bytes `\u00HH`; everything else (UTF-8 included) is copied as is.
pub fn escape_json(buf: &mut Vec<u8>, start: usize) {
    let start = start.min(buf.len());
    let extra: usize = buf[start..].iter().map(|&b| json_extra(b)).sum();
    if extra == 0 {
        return;
    }
    let old_len = buf.len();
    buf.resize(old_len + extra, 0);
    let mut w = buf.len();
    for r in (start..old_len).rev() {
        let b = buf[r];
        let short = match b {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'\n' => Some(b'n'),
            b'\r' => Some(b'r'),
            b'\t' => Some(b't'),
            0x08 => Some(b'b'),
            0x0c => Some(b'f'),
            _ => None,
        };
        if let Some(c) = short {
            w -= 2;
            buf[w..w + 2].copy_from_slice(&[b'\\', c]);
        } else if b < 0x20 {
            w -= 6;
            buf[w..w + 6].copy_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            w -= 1;
            buf[w] = b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(f: fn(&mut Vec<u8>, usize), prefix: &[u8], value: &[u8]) -> Vec<u8> {
        let mut buf = prefix.to_vec();
        let start = buf.len();
        buf.extend_from_slice(value);
        f(&mut buf, start);
        buf
    }

    #[test]
    fn default_escapes_like_nginx() {
        assert_eq!(esc(escape_default, b"\"", b"plain value"), b"\"plain value");
        assert_eq!(esc(escape_default, b"\"", b"a\"b\\c"), b"\"a\\x22b\\x5Cc");
        assert_eq!(
            esc(escape_default, b"", b"\x01\x1f\x7f\xff"),
            b"\\x01\\x1F\\x7F\\xFF"
        );
        assert_eq!(esc(escape_default, b"", "é".as_bytes()), b"\\xC3\\xA9");
        assert_eq!(esc(escape_default, b"x", b""), b"x");
    }

    #[test]
    fn json_escapes_like_nginx() {
        assert_eq!(esc(escape_json, b"{\"", b"a\"b\\c"), b"{\"a\\\"b\\\\c");
        assert_eq!(esc(escape_json, b"", b"\n\r\t\x08\x0c"), b"\\n\\r\\t\\b\\f");
        assert_eq!(esc(escape_json, b"", b"\x01\x1f"), b"\\u0001\\u001F");
        assert_eq!(
            esc(escape_json, b"", "é\x7f".as_bytes()),
            "é\x7f".as_bytes()
        );
    }

    #[test]
    fn start_past_end_is_harmless() {
        let mut buf = b"abc".to_vec();
        escape_default(&mut buf, 10);
        escape_json(&mut buf, 10);
        assert_eq!(buf, b"abc");
    }
}
