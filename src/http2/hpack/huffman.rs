//! HPACK's Huffman code (RFC 7541 section 5.2 and Appendix B), both ways.
//!
//! Decoding reads four bits at a time through a state machine built once from the code
//! (nghttp2's and nginx's method): a state is a node of the code tree, and each (state,
//! nibble) says the next state and the symbol completed on the way, if any (the shortest
//! code is 5 bits, so at most one per nibble).

use std::sync::OnceLock;

use super::tables::CODES;

/// A malformed Huffman string (EOS inside, or padding that is not a prefix of EOS). Padding
/// longer than 7 bits is accepted, as nginx's decoder accepts it (RFC 7541 5.2 says to
/// refuse it; nginx-tests' encoder pads a whole byte when the code ends on one).
#[derive(Debug, PartialEq, Eq)]
pub struct HuffmanError;

const EMIT: u8 = 1;
const FAIL: u8 = 2;
/// The state reached may end the string (root, or only one-bits into a code).
const ACCEPT: u8 = 4;

#[derive(Clone, Copy, Default)]
struct Step {
    next: u8,
    symbol: u8,
    flags: u8,
}

struct Machine {
    steps: Vec<[Step; 16]>,
    /// Whether ending in each state is valid padding.
    accept: Vec<bool>,
}

#[derive(Clone, Copy)]
enum Child {
    Node(usize),
    Leaf(u16),
    Missing,
}

fn machine() -> &'static Machine {
    static MACHINE: OnceLock<Machine> = OnceLock::new();
    MACHINE.get_or_init(|| {
        // The code tree: internal nodes only, children are nodes or symbols.
        let mut tree: Vec<[Child; 2]> = vec![[Child::Missing; 2]];
        // Per node: its depth and whether its path is all ones.
        let mut shape: Vec<(u8, bool)> = vec![(0, true)];
        for (sym, &(code, len)) in CODES.iter().enumerate() {
            let mut node = 0;
            for i in (0..len).rev() {
                let bit = ((code >> i) & 1) as usize;
                if i == 0 {
                    tree[node][bit] = Child::Leaf(sym as u16);
                    break;
                }
                node = match tree[node][bit] {
                    Child::Node(n) => n,
                    _ => {
                        tree.push([Child::Missing; 2]);
                        let (depth, ones) = shape[node];
                        shape.push((depth + 1, ones && bit == 1));
                        let n = tree.len() - 1;
                        tree[node][bit] = Child::Node(n);
                        n
                    }
                };
            }
        }
        let accept: Vec<bool> = shape
            .iter()
            .map(|&(depth, ones)| depth == 0 || ones)
            .collect();
        let steps = (0..tree.len())
            .map(|state| {
                let mut row = [Step::default(); 16];
                for (nibble, step) in row.iter_mut().enumerate() {
                    let mut node = state;
                    for i in (0..4).rev() {
                        match tree[node][(nibble >> i) & 1] {
                            Child::Node(n) => node = n,
                            Child::Leaf(256) | Child::Missing => {
                                step.flags = FAIL;
                                break;
                            }
                            Child::Leaf(sym) => {
                                step.flags |= EMIT;
                                step.symbol = sym as u8;
                                node = 0;
                            }
                        }
                    }
                    step.next = node as u8;
                    if accept[node] {
                        step.flags |= ACCEPT;
                    }
                }
                row
            })
            .collect();
        Machine { steps, accept }
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
    let m = machine();
    let end = out.len() + limit;
    let mut state = 0usize;
    let mut flags = ACCEPT;
    for &byte in input {
        for nibble in [byte >> 4, byte & 0xf] {
            let step = m.steps.get(state).ok_or(HuffmanError)?[usize::from(nibble)];
            if step.flags & FAIL != 0 {
                return Err(HuffmanError);
            }
            if step.flags & EMIT != 0 {
                if out.len() >= end {
                    return Err(HuffmanError);
                }
                out.push(step.symbol);
            }
            state = usize::from(step.next);
            flags = step.flags;
        }
    }
    if flags & ACCEPT == 0 || !m.accept.get(state).copied().unwrap_or(false) {
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
        // 'a' (00011) then eleven bits of padding: accepted, as nginx does.
        out.clear();
        assert_eq!(decode(&[0x1f, 0xff], &mut out, 10), Ok(()));
        assert_eq!(out, b"a");
        // Ones, then a zero: not a prefix of EOS.
        out.clear();
        assert_eq!(decode(&[0x1f, 0xfe], &mut out, 10), Err(HuffmanError));
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
