//! `split_clients STRING $variable { 0.5% a; 2% b; * c; }`
//! (`ngx_http_split_clients_module`): the evaluated string's MurmurHash2 picks a bucket, so
//! the same input lands in the same bucket as with nginx.

use crate::vars::{Template, VarSource};

/// One line of the block: a share of the 32-bit hash space and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitPart {
    /// Hashes below this go here (cumulative over the parts before); `None` for `*`,
    /// which takes every hash still unclaimed.
    pub below: Option<u32>,
    /// The value.
    pub value: Box<[u8]>,
}

/// A `split_clients` variable.
#[derive(Clone, Debug)]
pub struct SplitVar {
    /// The string hashed.
    pub source: Template,
    /// The parts, in order.
    pub parts: Vec<SplitPart>,
}

/// nginx's `ngx_murmur_hash2` (MurmurHash2, seed 0, little-endian words).
pub fn murmur_hash2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h = data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        if let Some(&b) = rest.get(2) {
            h ^= u32::from(b) << 16;
        }
        if let Some(&b) = rest.get(1) {
            h ^= u32::from(b) << 8;
        }
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

/// Turns percentages in hundredths (`0.5%` is 50) into the parts' cumulative bounds, as
/// `ngx_conf_split_clients_block` does; `None` when they add up to more than 100%
/// (a `*` counts as the rest, so a part after it is always too much).
pub fn bounds(hundredths: &[Option<u32>]) -> Option<Vec<Option<u32>>> {
    let (mut sum, mut last) = (0u32, 0u32);
    let mut out = Vec::with_capacity(hundredths.len());
    for part in hundredths {
        sum = match part {
            Some(p) => sum.saturating_add(*p),
            None => 10_000,
        };
        if sum > 10_000 {
            return None;
        }
        out.push(part.map(|p| {
            last = last.wrapping_add((u64::from(p) * 0xffff_ffff / 10_000) as u32);
            last
        }));
    }
    Some(out)
}

/// nginx's `ngx_atofp(text, len, 2)` for a percentage without its `%`: digits with at most
/// two decimals, in hundredths (`33.3` is 3330); `None` when nginx says "invalid".
pub fn parse_hundredths(text: &[u8]) -> Option<u32> {
    if text.is_empty() {
        return None;
    }
    let (mut value, mut decimals, mut dot) = (0u64, 2u32, false);
    for &c in text {
        if decimals == 0 {
            return None;
        }
        match c {
            b'.' if !dot => dot = true,
            b'0'..=b'9' => {
                value = value * 10 + u64::from(c - b'0');
                if value > u64::from(u32::MAX) {
                    return None;
                }
                if dot {
                    decimals -= 1;
                }
            }
            _ => return None,
        }
    }
    value *= 10u64.pow(decimals);
    u32::try_from(value).ok()
}

impl SplitVar {
    /// The value for this request (`scratch` holds the evaluated string); empty when no
    /// part takes the hash.
    pub fn value<'v>(&'v self, src: &dyn VarSource, scratch: &mut Vec<u8>) -> &'v [u8] {
        scratch.clear();
        self.source.eval(src, scratch);
        let hash = murmur_hash2(scratch);
        self.parts
            .iter()
            .find(|p| p.below.is_none_or(|b| hash < b))
            .map_or(b"", |p| &p.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_matches_nginx() {
        // Values printed by nginx 1.22's ngx_murmur_hash2 compiled on its own (the
        // integration tests check buckets against a running nginx too).
        assert_eq!(murmur_hash2(b""), 0);
        assert_eq!(murmur_hash2(b"a"), 0x9268_5f5e);
        assert_eq!(murmur_hash2(b"127.0.0.1"), 0xb613_1d91);
        assert_eq!(murmur_hash2(b"abcdefg"), 0xf9a1_cef3);
        let high = [0xff, 0xfe, 0x80, 0x81, 0x90, 0xa0, 0xb0];
        let want = [
            0,
            0x9ed8_6aea,
            0x96d7_bdf1,
            0xa30e_fe85,
            0x78f8_0b5c,
            0x98be_725c,
            0x6eac_6049,
            0xe0ee_ab8f,
        ];
        for (n, want) in want.iter().enumerate() {
            assert_eq!(murmur_hash2(&high[..n]), *want, "{n} bytes");
        }
    }

    #[test]
    fn percentages() {
        assert_eq!(parse_hundredths(b"0.5"), Some(50));
        assert_eq!(parse_hundredths(b"2"), Some(200));
        assert_eq!(parse_hundredths(b"33.33"), Some(3333));
        assert_eq!(parse_hundredths(b"33.333"), None);
        assert_eq!(parse_hundredths(b"1.2.3"), None);
        assert_eq!(parse_hundredths(b"."), Some(0));
        assert_eq!(parse_hundredths(b""), None);
        assert_eq!(parse_hundredths(b"x"), None);
    }

    #[test]
    fn cumulative_bounds() {
        let b = bounds(&[Some(5000), Some(5000)]).unwrap();
        assert_eq!(b, [Some(2_147_483_647), Some(u32::MAX - 1)]);
        assert_eq!(bounds(&[Some(6000), Some(5000)]), None);
        assert_eq!(bounds(&[None, Some(100)]), None);
        assert_eq!(bounds(&[Some(50), None]).unwrap()[1], None);
    }
}
