//! MD5 (RFC 1321), SHA-1 (RFC 3174) and base64 (RFC 4648), the three primitives nginx's
//! `$apr1$`, `{SHA}` and `{SSHA}` password schemes are made of. Small and exact rather than
//! a dependency: only password checks use them, never anything that needs speed or secrecy
//! beyond what htpasswd files already give.

/// MD5 of the concatenation of `parts`.
pub fn md5(parts: &[&[u8]]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: [u32; 64] =
        std::array::from_fn(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32);
    let mut h: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    let block = |h: &mut [u32; 4], chunk: &[u8]| {
        let m: [u32; 16] = std::array::from_fn(|i| {
            u32::from_le_bytes([
                chunk[4 * i],
                chunk[4 * i + 1],
                chunk[4 * i + 2],
                chunk[4 * i + 3],
            ])
        });
        let [mut a, mut b, mut c, mut d] = *h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d]) {
            *x = x.wrapping_add(y);
        }
    };
    let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
    feed(parts, len, false, |chunk| block(&mut h, chunk));
    let mut out = [0u8; 16];
    for (i, w) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// SHA-1 of the concatenation of `parts`.
pub fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let block = |h: &mut [u32; 5], chunk: &[u8]| {
        let mut w = [0u32; 80];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                chunk[4 * i],
                chunk[4 * i + 1],
                chunk[4 * i + 2],
                chunk[4 * i + 3],
            ]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = *h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i / 20 {
                0 => ((b & c) | (!b & d), 0x5A827999),
                1 => (b ^ c ^ d, 0x6ED9EBA1),
                2 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    };
    let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
    feed(parts, len, true, |chunk| block(&mut h, chunk));
    let mut out = [0u8; 20];
    for (i, w) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// Feeds `parts` and the Merkle–Damgård padding (length in bits, big- or little-endian)
/// to `block` in 64-byte chunks.
fn feed(parts: &[&[u8]], len: u64, big_endian: bool, mut block: impl FnMut(&[u8])) {
    let mut buf = [0u8; 64];
    let mut used = 0;
    let bits = len.wrapping_mul(8);
    let tail: [u8; 8] = if big_endian {
        bits.to_be_bytes()
    } else {
        bits.to_le_bytes()
    };
    let pad_len = if len % 64 < 56 {
        56 - len % 64
    } else {
        120 - len % 64
    } as usize;
    let mut pad = [0u8; 72];
    pad[0] = 0x80;
    pad[pad_len..pad_len + 8].copy_from_slice(&tail);
    for part in parts
        .iter()
        .copied()
        .chain(std::iter::once(&pad[..pad_len + 8]))
    {
        for &byte in part {
            buf[used] = byte;
            used += 1;
            if used == 64 {
                block(&buf);
                used = 0;
            }
        }
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(src: &[u8], out: &mut Vec<u8>) {
    for chunk in src.chunks(3) {
        let n = chunk.len();
        let v = u32::from(chunk[0]) << 16
            | u32::from(*chunk.get(1).unwrap_or(&0)) << 8
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= n {
                out.push(ALPHABET[(v >> (18 - 6 * i) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
}

/// `ngx_decode_base64`: the bytes before the first `=` must be base64 and not leave a
/// lone sextet; `None` otherwise.
pub fn base64_decode(src: &[u8]) -> Option<Vec<u8>> {
    let value = |c: u8| ALPHABET.iter().position(|&a| a == c).map(|v| v as u32);
    let end = memchr::memchr(b'=', src).unwrap_or(src.len());
    let src = &src[..end];
    if src.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(src.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in src {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn known_vectors() {
        assert_eq!(hex(&md5(&[b""])), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            hex(&md5(&[b"The quick brown fox ", b"jumps over the lazy dog"])),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
        assert_eq!(
            hex(&md5(&[&[b'a'; 119][..]])),
            hex(&md5(&[&[b'a'; 60][..], &[b'a'; 59][..]]))
        );
        assert_eq!(
            hex(&sha1(&[b"abc"])),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(&sha1(&[b""])),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        assert_eq!(
            hex(&sha1(&[
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            ])),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        let mut out = Vec::new();
        base64_encode(b"password", &mut out);
        assert_eq!(out, b"cGFzc3dvcmQ=");
        assert_eq!(
            base64_decode(b"cGFzc3dvcmQ=").as_deref(),
            Some(&b"password"[..])
        );
        assert_eq!(
            base64_decode(b"dXNlcjpwYXNz").as_deref(),
            Some(&b"user:pass"[..])
        );
        assert_eq!(base64_decode(b"a"), None);
        assert_eq!(base64_decode(b"a*bc"), None);
    }
}
