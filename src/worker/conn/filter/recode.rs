//! The charset filter's body recoding (`ngx_http_charset_filter_module.c`): a byte table
//! between two 8-bit charsets, an 8-bit charset to UTF-8 by table, and UTF-8 to an 8-bit
//! charset by a decoder that keeps a sequence split across reads for the next one, writes
//! a character the table lacks as `&#N;` and an invalid sequence as `?`, as nginx does.

use std::rc::Rc;

use crate::config::charset::{CharsetMap, MapKind, Pages, Utf8Table};

/// The most bytes a decode step may write beyond 4 for each input byte: `&#1114111;` for
/// a 4-byte sequence whose first bytes came with the previous read.
const ENTITY_LEN: usize = 10;

/// How one response's body is recoded.
#[derive(Clone, Debug)]
pub enum Recoder {
    /// Between 8-bit charsets: the length stays.
    Bytes(Box<[u8; 256]>),
    /// From an 8-bit charset to UTF-8.
    ToUtf8(Rc<Utf8Table>),
    /// From UTF-8 to an 8-bit charset, with the start of a sequence the last input ended in.
    FromUtf8 {
        /// Code points by page to the 8-bit byte.
        pages: Rc<Pages>,
        /// The incomplete sequence kept from the previous input.
        saved: [u8; 4],
        /// How much of `saved` is used.
        saved_len: usize,
    },
}

impl Recoder {
    /// The recoder for `map` read in its direction (`reverse`: from its destination side).
    pub fn of(map: &CharsetMap, reverse: bool) -> Recoder {
        match (&map.kind, reverse) {
            (MapKind::Bytes { src2dst, .. }, false) => Recoder::Bytes(src2dst.clone()),
            (MapKind::Bytes { dst2src, .. }, true) => Recoder::Bytes(dst2src.clone()),
            (MapKind::Utf8 { src2dst, .. }, false) => Recoder::ToUtf8(src2dst.clone()),
            (MapKind::Utf8 { dst2src, .. }, true) => Recoder::FromUtf8 {
                pages: dst2src.clone(),
                saved: [0; 4],
                saved_len: 0,
            },
        }
    }

    /// Whether the body's length may change (nginx clears `Content-Length` then).
    pub fn resizes(&self) -> bool {
        !matches!(self, Recoder::Bytes(_))
    }

    /// How much input [`Recoder::recode`] may take to write into `room` bytes.
    pub fn input_for(&self, room: usize) -> usize {
        match self {
            Recoder::Bytes(_) => room,
            // At most 3 bytes a byte to UTF-8; `&#N;` is at most 3.5 bytes an input byte
            // (plus one entity for a sequence begun in the last input).
            _ => room.saturating_sub(ENTITY_LEN) / 4,
        }
    }

    /// Recodes `input` into `out` (which has room for [`Recoder::input_for`]'s worth):
    /// the bytes written. An incomplete UTF-8 sequence at the end is kept for the next call.
    pub fn recode(&mut self, input: &[u8], out: &mut [u8]) -> usize {
        let mut w = Writer { out, n: 0 };
        match self {
            Recoder::Bytes(table) => {
                for &b in input {
                    w.put(table[usize::from(b)]);
                }
            }
            Recoder::ToUtf8(table) => {
                for &b in input {
                    match table.get(usize::from(b)) {
                        Some(bytes) => w.put_all(bytes),
                        None => w.put(b'?'),
                    }
                }
            }
            Recoder::FromUtf8 {
                pages,
                saved,
                saved_len,
            } => from_utf8(pages, saved, saved_len, input, &mut w),
        }
        w.n
    }

    /// Recodes in place (only for [`Recoder::Bytes`], which keeps the length).
    pub fn recode_in_place(&self, bytes: &mut [u8]) {
        if let Recoder::Bytes(table) = self {
            for b in bytes {
                *b = table[usize::from(*b)];
            }
        }
    }
}

/// Output with a bound: a byte past the end is dropped (never happens when the input was
/// sized by [`Recoder::input_for`]).
struct Writer<'a> {
    out: &'a mut [u8],
    n: usize,
}

impl Writer<'_> {
    fn put(&mut self, b: u8) {
        if let Some(slot) = self.out.get_mut(self.n) {
            *slot = b;
            self.n += 1;
        }
    }

    fn put_all(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.put(b);
        }
    }

    /// `&#N;`, as nginx writes a character the charset lacks.
    fn entity(&mut self, n: u32) {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        let mut v = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.put_all(b"&#");
        self.put_all(&digits[i..]);
        self.put(b';');
    }
}

/// What [`decode`] found.
enum Decoded {
    /// A value (a code point, or above U+10FFFF for an invalid sequence) and the bytes used.
    Value(u32, usize),
    /// The sequence needs more bytes than there are.
    Incomplete,
}

/// `ngx_utf8_decode` on a sequence whose first byte is 0x80 or above.
fn decode(bytes: &[u8]) -> Decoded {
    const ERROR: u32 = 0xffff_ffff;
    let Some(&first) = bytes.first() else {
        return Decoded::Incomplete;
    };
    let (mut u, valid, len) = match first {
        0xf0.. => (u32::from(first & 0x07), 0xffff, 3),
        0xe0.. => (u32::from(first & 0x0f), 0x7ff, 2),
        0xc2.. => (u32::from(first & 0x1f), 0x7f, 1),
        _ => return Decoded::Value(ERROR, 1),
    };
    if bytes.len() - 1 < len {
        return Decoded::Incomplete;
    }
    for (i, &b) in bytes[1..=len].iter().enumerate() {
        if b < 0x80 {
            // nginx takes the byte that ended the sequence with it.
            return Decoded::Value(ERROR, i + 2);
        }
        u = (u << 6) | u32::from(b & 0x3f);
    }
    if u > valid {
        Decoded::Value(u, len + 1)
    } else {
        Decoded::Value(ERROR, len + 1)
    }
}

/// Writes the 8-bit byte for code point (or error value) `n`.
fn write_char(pages: &Pages, n: u32, w: &mut Writer<'_>) {
    if n < 0x10000 {
        let byte = pages
            .get((n >> 8) as usize)
            .and_then(|p| p.as_ref())
            .map_or(0, |p| p[(n & 0xff) as usize]);
        if byte != 0 {
            w.put(byte);
        } else {
            w.entity(n);
        }
    } else if n > 0x10ffff {
        w.put(b'?');
    } else {
        w.entity(n);
    }
}

fn from_utf8(
    pages: &Pages,
    saved: &mut [u8; 4],
    saved_len: &mut usize,
    input: &[u8],
    w: &mut Writer<'_>,
) {
    let mut src = 0;
    if *saved_len > 0 {
        // The sequence the last input ended in, completed from this one.
        let take = (4 - *saved_len).min(input.len());
        let mut joined = [0u8; 4];
        joined[..*saved_len].copy_from_slice(&saved[..*saved_len]);
        joined[*saved_len..*saved_len + take].copy_from_slice(&input[..take]);
        match decode(&joined[..*saved_len + take]) {
            Decoded::Incomplete => {
                saved[*saved_len..*saved_len + take].copy_from_slice(&input[..take]);
                *saved_len += take;
                return;
            }
            Decoded::Value(n, used) => {
                write_char(pages, n, w);
                src = used.saturating_sub(*saved_len);
                *saved_len = 0;
            }
        }
    }
    while src < input.len() {
        let b = input[src];
        if b < 0x80 {
            w.put(b);
            src += 1;
            continue;
        }
        match decode(&input[src..]) {
            Decoded::Incomplete => {
                let rest = &input[src..];
                saved[..rest.len()].copy_from_slice(rest);
                *saved_len = rest.len();
                return;
            }
            Decoded::Value(n, used) => {
                write_char(pages, n, w);
                src += used;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn koi() -> (Rc<Utf8Table>, Rc<Pages>) {
        // 0xC1 is 'а' (U+0430) in KOI8-R.
        let mut to: Vec<Vec<u8>> = (0..=255u8)
            .map(|i| vec![if i < 128 { i } else { b'?' }])
            .collect();
        to[0xc1] = "а".as_bytes().to_vec();
        let mut pages: Pages = vec![None; 256];
        let mut p0 = Box::new([0u8; 256]);
        for (i, s) in p0.iter_mut().enumerate().take(128) {
            *s = i as u8;
        }
        pages[0] = Some(p0);
        let mut p4 = Box::new([0u8; 256]);
        p4[0x30] = 0xc1;
        pages[4] = Some(p4);
        (Rc::new(to), Rc::new(pages))
    }

    fn run(r: &mut Recoder, parts: &[&[u8]]) -> Vec<u8> {
        let mut all = Vec::new();
        for p in parts {
            let mut out = vec![0u8; p.len() * 4 + ENTITY_LEN];
            let n = r.recode(p, &mut out);
            all.extend_from_slice(&out[..n]);
        }
        all
    }

    #[test]
    fn to_utf8_by_table() {
        let (to, _) = koi();
        let mut r = Recoder::ToUtf8(to);
        assert_eq!(run(&mut r, &[b"a\xc1\xc2"]), "aа?".as_bytes());
    }

    #[test]
    fn from_utf8_split_unmapped_invalid() {
        let (_, pages) = koi();
        let mut r = Recoder::FromUtf8 {
            pages,
            saved: [0; 4],
            saved_len: 0,
        };
        let text = "xа€😀".as_bytes();
        // Every split point gives the same result.
        for cut in 0..text.len() {
            let (a, b) = text.split_at(cut);
            assert_eq!(run(&mut r, &[a, b]), b"x\xc1&#8364;&#128512;", "cut {cut}");
        }
        assert_eq!(run(&mut r, &[b"\x80a\xc3(b"]), b"?a?b");
        // A sequence the body ends in is dropped.
        assert_eq!(run(&mut r, &[b"a\xd0"]), b"a");
        if let Recoder::FromUtf8 { saved_len, .. } = &mut r {
            *saved_len = 0;
        }
        assert_eq!(run(&mut r, &[b"\xf4\x90\x80\x80"]), b"?");
    }
}
