//! HPACK's Huffman code (RFC 7541 section 5.2 and Appendix B), both ways.
//!
//! The code is canonical (within one length, codes follow symbol order), so decoding needs
//! no tree: per bit length, the first code and where its symbols start in a table sorted by
//! (length, symbol). Built once into a `static` at first use.

use std::sync::OnceLock;

use super::tables::CODES;

/// A malformed Huffman string (RFC 7541 5.2: EOS inside, padding longer than 7 bits or not
/// all ones).
#[derive(Debug, PartialEq, Eq)]
pub struct HuffmanError;

/// The canonical decoding table.
struct Canonical {
    /// Symbols sorted by (code length, symbol).
    symbols: [u16; 257],
    /// Per length 0..=30: first code of that length, and the index of its first symbol.
    first_code: [u32; 31],
    first_index: [u16; 31],
    count: [u16; 31],
}

fn canonical() -> &'static Canonical {
    static TABLE: OnceLock<Canonical> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut order: Vec<u16> = (0..257).collect();
        order.sort_by_key(|&s| (CODES[s as usize].1, s));
        let mut t = Canonical {
            symbols: [0; 257],
            first_code: [0; 31],
            first_index: [0; 31],
            count: [0; 31],
        };
        for (i, &s) in order.iter().enumerate() {
            t.symbols[i] = s;
            let (code, len) = CODES[s as usize];
            let len = len as usize;
            if t.count[len] == 0 {
                t.first_code[len] = code;
                t.first_index[len] = i as u16;
            }
            t.count[len] += 1;
        }
        t
    })
}

/// Appends the Huffman coding of `input` to `out`.
pub fn encode(input: &[u8], out: &mut Vec<u8>) {
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    for &b in input {
        let (code, len) = CODES[b as usize];
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        // Padding: the most significant bits of EOS (all ones).
        out.push(((acc << (8 - bits)) as u8) | (0xff >> bits));
    }
}

/// The length of `input` once Huffman-coded.
pub fn encoded_len(input: &[u8]) -> usize {
    let bits: usize = input.iter().map(|&b| CODES[b as usize].1 as usize).sum();
    bits.div_ceil(8)
}

/// Appends the decoding of `input` to `out`; fails past `limit` bytes of output (the caller's
/// header-size limit, so a small input cannot expand without bound).
pub fn decode(input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), HuffmanError> {
    let t = canonical();
    let start = out.len();
    let mut code: u32 = 0;
    let mut len: usize = 0;
    for &byte in input {
        for shift in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> shift) & 1);
            len += 1;
            if len > 30 {
                return Err(HuffmanError);
            }
            let count = u32::from(t.count[len]);
            let offset = code.wrapping_sub(t.first_code[len]);
            if count > 0 && code >= t.first_code[len] && offset < count {
                let sym = t.symbols[usize::from(t.first_index[len]) + offset as usize];
                if sym == 256 {
                    return Err(HuffmanError);
                }
                if out.len() - start >= limit {
                    return Err(HuffmanError);
                }
                out.push(sym as u8);
                code = 0;
                len = 0;
            }
        }
    }
    // What is left must be a prefix of EOS: at most 7 bits, all ones.
    if len > 7 || code != (1 << len) - 1 {
        return Err(HuffmanError);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc_examples_round_trip() {
        // RFC 7541 C.4.1 and C.4.2.
        for (text, coded) in [
            ("www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"),
            ("no-cache", "a8eb10649cbf"),
            ("custom-key", "25a849e95ba97d7f"),
            ("custom-value", "25a849e95bb8e8b4bf"),
        ] {
            let mut out = Vec::new();
            encode(text.as_bytes(), &mut out);
            assert_eq!(out, hex(coded));
            assert_eq!(encoded_len(text.as_bytes()), out.len());
            let mut back = Vec::new();
            decode(&out, &mut back, 1000).unwrap();
            assert_eq!(back, text.as_bytes());
        }
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        let mut out = Vec::new();
        encode(&all, &mut out);
        let mut back = Vec::new();
        decode(&out, &mut back, 1000).unwrap();
        assert_eq!(back, all);
    }

    #[test]
    fn bad_padding_and_limits() {
        let mut out = Vec::new();
        // '0' (00000) then padding of zeros.
        assert_eq!(decode(&[0x00], &mut out, 10), Err(HuffmanError));
        out.clear();
        // 'a' (00011) then 3 zero bits: not EOS padding.
        assert_eq!(decode(&[0b0001_1000], &mut out, 10), Err(HuffmanError));
        // Eight bits of padding.
        out.clear();
        assert_eq!(decode(&[0x1f, 0xff], &mut out, 10), Err(HuffmanError));
        // EOS itself (30 ones).
        out.clear();
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff], &mut out, 10),
            Err(HuffmanError)
        );
        // Output over the limit.
        out.clear();
        let mut coded = Vec::new();
        encode(b"aaaaaaaaaa", &mut coded);
        assert_eq!(decode(&coded, &mut out, 5), Err(HuffmanError));
    }
}
