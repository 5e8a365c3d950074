//! MD5 (RFC 1321) and CRC32 (IEEE), the two digests nginx's file cache takes of a key: the
//! MD5 names the file (its hex digits, the last ones making the level directories), the
//! CRC32 is kept in the file's header as a second check against a collision.
//!
//! Written here rather than taken from a crate: both are short, fixed by their standards,
//! and only ever run over a cache key, once per request.

/// The 16-byte MD5 digest of `parts` read as one string (nginx hashes a key's pieces in turn).
pub fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut state = [0x6745_2301u32, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut block = [0u8; 64];
    let mut fill = 0;
    for part in parts {
        let mut rest: &[u8] = part;
        while !rest.is_empty() {
            let n = rest.len().min(64 - fill);
            block[fill..fill + n].copy_from_slice(&rest[..n]);
            fill += n;
            rest = &rest[n..];
            if fill == 64 {
                compress(&mut state, &block);
                fill = 0;
            }
        }
    }
    // Padding: 0x80, zeros to 56 mod 64, then the length in bits, little-endian.
    block[fill] = 0x80;
    fill += 1;
    if fill > 56 {
        block[fill..].fill(0);
        compress(&mut state, &block);
        fill = 0;
    }
    block[fill..56].fill(0);
    block[56..].copy_from_slice(&((total as u64).wrapping_mul(8)).to_le_bytes());
    compress(&mut state, &block);
    let mut out = [0u8; 16];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}

const SHIFTS: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
    14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15,
    21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];

/// `floor(abs(sin(i + 1)) * 2^32)`, the standard's table.
const SINES: [u32; 64] = [
    0xd76a_a478,
    0xe8c7_b756,
    0x2420_70db,
    0xc1bd_ceee,
    0xf57c_0faf,
    0x4787_c62a,
    0xa830_4613,
    0xfd46_9501,
    0x6980_98d8,
    0x8b44_f7af,
    0xffff_5bb1,
    0x895c_d7be,
    0x6b90_1122,
    0xfd98_7193,
    0xa679_438e,
    0x49b4_0821,
    0xf61e_2562,
    0xc040_b340,
    0x265e_5a51,
    0xe9b6_c7aa,
    0xd62f_105d,
    0x0244_1453,
    0xd8a1_e681,
    0xe7d3_fbc8,
    0x21e1_cde6,
    0xc337_07d6,
    0xf4d5_0d87,
    0x455a_14ed,
    0xa9e3_e905,
    0xfcef_a3f8,
    0x676f_02d9,
    0x8d2a_4c8a,
    0xfffa_3942,
    0x8771_f681,
    0x6d9d_6122,
    0xfde5_380c,
    0xa4be_ea44,
    0x4bde_cfa9,
    0xf6bb_4b60,
    0xbebf_bc70,
    0x289b_7ec6,
    0xeaa1_27fa,
    0xd4ef_3085,
    0x0488_1d05,
    0xd9d4_d039,
    0xe6db_99e5,
    0x1fa2_7cf8,
    0xc4ac_5665,
    0xf429_2244,
    0x432a_ff97,
    0xab94_23a7,
    0xfc93_a039,
    0x655b_59c3,
    0x8f0c_cc92,
    0xffef_f47d,
    0x8584_5dd1,
    0x6fa8_7e4f,
    0xfe2c_e6e0,
    0xa301_4314,
    0x4e08_11a1,
    0xf753_7e82,
    0xbd3a_f235,
    0x2ad7_d2bb,
    0xeb86_d391,
];

fn compress(state: &mut [u32; 4], block: &[u8; 64]) {
    let mut m = [0u32; 16];
    for (word, chunk) in m.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    let [mut a, mut b, mut c, mut d] = *state;
    // One step of round `$r`; the four rounds are written apart so that each loop has one
    // function and constant indices, which the compiler unrolls (a `match` per step made
    // a hit's key digest cost three times as much).
    macro_rules! round {
        ($from:expr, |$b:ident, $c:ident, $d:ident| $f:expr, |$i:ident| $g:expr) => {
            for $i in $from..$from + 16 {
                let ($b, $c, $d) = (b, c, d);
                let rotated = a
                    .wrapping_add($f)
                    .wrapping_add(SINES[$i])
                    .wrapping_add(m[$g])
                    .rotate_left(SHIFTS[$i]);
                a = d;
                d = c;
                c = b;
                b = b.wrapping_add(rotated);
            }
        };
    }
    round!(0, |b, c, d| (b & c) | (!b & d), |i| i);
    round!(16, |b, c, d| (d & b) | (!d & c), |i| (5 * i + 1) % 16);
    round!(32, |b, c, d| b ^ c ^ d, |i| (3 * i + 5) % 16);
    round!(48, |b, c, d| c ^ (b | !d), |i| (7 * i) % 16);
    state[0] = state[0].wrapping_add(a);
    state[1] = state[1].wrapping_add(b);
    state[2] = state[2].wrapping_add(c);
    state[3] = state[3].wrapping_add(d);
}

/// The CRC32 (IEEE 802.3, nginx's `ngx_crc32_*`) of `parts` read as one string.
pub fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for part in parts {
        for &b in *part {
            crc ^= u32::from(b);
            for _ in 0..8 {
                let mask = (crc & 1).wrapping_neg();
                crc = (crc >> 1) ^ (0xedb8_8320 & mask);
            }
        }
    }
    !crc
}

/// Lower-case hex digits of a digest (the cache file's name).
pub fn hex(digest: &[u8; 16]) -> [u8; 32] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 15)];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md5_hex(s: &str) -> String {
        String::from_utf8(hex(&md5(&[s.as_bytes()]).to_vec().try_into().unwrap()).to_vec()).unwrap()
    }

    #[test]
    fn md5_matches_rfc_1321_vectors() {
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5_hex(
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            ),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
        // 55 and 56 bytes: the padding's two cases.
        assert_eq!(md5_hex(&"a".repeat(55)), "ef1772b6dff9a122358552954ad0df65");
        assert_eq!(md5_hex(&"a".repeat(56)), "3b0c8ac703f828b04c6c197006d17218");
    }

    #[test]
    fn md5_of_parts_is_md5_of_the_whole() {
        assert_eq!(md5(&[b"http", b"localhost/"]), md5(&[b"httplocalhost/"]));
    }

    #[test]
    fn crc32_matches_the_check_value() {
        assert_eq!(crc32(&[b"123456789"]), 0xcbf4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xcbf4_3926);
    }
}
