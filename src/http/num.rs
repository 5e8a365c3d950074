//! Integer-to-ASCII into caller buffers, for header values built on the request path
//! without `format!`. Writes past the end of the buffer are dropped, never a panic; callers
//! size their buffers for the widest value.

/// Writes `value` in `radix` (10 or 16, lowercase) at `out[at..]`; returns the position
/// after the last digit.
pub(crate) fn write_u64(out: &mut [u8], at: usize, value: u64, radix: u64) -> usize {
    let mut digits = [0u8; 20];
    let mut n = 0;
    let mut v = value;
    loop {
        let d = (v % radix) as u8;
        digits[n] = if d < 10 { b'0' + d } else { b'a' + d - 10 };
        n += 1;
        v /= radix;
        if v == 0 || n == digits.len() {
            break;
        }
    }
    let mut pos = at;
    for &d in digits[..n].iter().rev() {
        pos = write_bytes(out, pos, &[d]);
    }
    pos
}

/// Writes `value` in decimal, with a `-` when negative, as nginx's `%T`/`%O` do.
pub(crate) fn write_i64(out: &mut [u8], at: usize, value: i64, radix: u64) -> usize {
    let at = if value < 0 {
        write_bytes(out, at, b"-")
    } else {
        at
    };
    write_u64(out, at, value.unsigned_abs(), radix)
}

/// Copies `bytes` to `out[at..]`; returns the position after them.
pub(crate) fn write_bytes(out: &mut [u8], at: usize, bytes: &[u8]) -> usize {
    let end = at.saturating_add(bytes.len());
    if let Some(dst) = out.get_mut(at..end) {
        dst.copy_from_slice(bytes);
        end
    } else {
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_hex_and_sign() {
        let mut buf = [0u8; 24];
        let n = write_u64(&mut buf, 0, 0, 10);
        assert_eq!(&buf[..n], b"0");
        let n = write_u64(&mut buf, 0, u64::MAX, 10);
        assert_eq!(&buf[..n], b"18446744073709551615");
        let n = write_u64(&mut buf, 0, 0x5f1e_2a3b, 16);
        assert_eq!(&buf[..n], b"5f1e2a3b");
        let n = write_i64(&mut buf, 0, i64::MIN, 10);
        assert_eq!(&buf[..n], b"-9223372036854775808");
    }

    #[test]
    fn short_buffer_drops_instead_of_panicking() {
        let mut buf = [0u8; 3];
        assert_eq!(write_bytes(&mut buf, 2, b"ab"), 2);
        assert_eq!(write_u64(&mut buf, 0, 12345, 10), 3);
        assert_eq!(write_bytes(&mut buf, usize::MAX, b"x"), usize::MAX);
    }
}
