//! Integer-to-ASCII into caller buffers, for header values built on the request path
//! without `format!`. Writes past the end of the buffer are dropped, never a panic; callers
//! size their buffers for the widest value.

/// Writes `value` in `radix` (10 or 16, lowercase) at `out[at..]`; returns the position
/// after the last digit.
pub(crate) fn write_u64(out: &mut [u8], at: usize, value: u64, radix: u64) -> usize {
    // Digits fill `digits` from its end, then go out in one copy; hex is shifts and masks
    // (a division per digit was most of an ETag's cost).
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = value;
    if radix == 16 {
        loop {
            i -= 1;
            digits[i] = b"0123456789abcdef"[(v & 0xf) as usize];
            v >>= 4;
            if v == 0 {
                break;
            }
        }
    } else if radix == 10 {
        // A constant divisor: a multiplication, not a division.
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
    } else {
        loop {
            i -= 1;
            let d = (v % radix) as u8;
            digits[i] = if d < 10 { b'0' + d } else { b'a' + d - 10 };
            v /= radix;
            if v == 0 || i == 0 {
                break;
            }
        }
    }
    // As many leading digits as fit, as a digit-by-digit write would leave.
    let digits = &digits[i..];
    let room = out.len().saturating_sub(at).min(digits.len());
    write_bytes(out, at, &digits[..room])
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

/// Appends `n` in decimal to `out` (variables' values on the request path: `format!`'s
/// machinery costs ten times as much for a port or a length).
pub fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends `ip` as `Display` writes it (`127.0.0.1`, `::1`): IPv4 by hand, IPv6 (rare,
/// with its zero-run rules) through `Display`.
pub fn push_ip(out: &mut Vec<u8>, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            // Into a stack buffer first: one copy into `out` instead of a push per digit.
            let mut text = [0u8; 15];
            let mut n = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text[n] = b'.';
                    n += 1;
                }
                if octet >= 100 {
                    text[n] = b'0' + octet / 100;
                    n += 1;
                }
                if octet >= 10 {
                    text[n] = b'0' + octet / 10 % 10;
                    n += 1;
                }
                text[n] = b'0' + octet % 10;
                n += 1;
            }
            out.extend_from_slice(&text[..n]);
        }
        std::net::IpAddr::V6(v6) => {
            use std::io::Write;
            let _ = write!(out, "{v6}");
        }
    }
}

#[cfg(test)]
mod push_tests {
    use super::*;

    #[test]
    fn addresses_and_numbers_read_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.255.9",
            "192.168.100.1",
            "::1",
            "2001:db8::5",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            let mut out = b"x".to_vec();
            push_ip(&mut out, ip);
            assert_eq!(out, format!("x{ip}").into_bytes());
        }
        for n in [0u64, 7, 10, 65535, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }
}
