//! HPACK (RFC 7541): header compression for HTTP/2, our own.
//!
//! Why not a crate: the `hpack` crate is unmaintained since 2016 and panics on some malformed
//! input; its forks are young; `h2`'s HPACK is not public. HPACK is small (this module, the
//! Huffman code and two constant tables), and owning it lets the decoder enforce the
//! header-size limit while it decodes (an HPACK bomb stops at the limit, not after it) and
//! write into one reusable buffer without an allocation per field.
//!
//! The decoder keeps the dynamic table the client builds. The encoder (responses) indexes
//! nothing: static-table names and full matches, literals "without indexing", Huffman-coded
//! when shorter — as nginx 1.22 does, so a response costs no table state per connection.

pub mod huffman;
mod table;
mod tables;

pub use huffman::HuffmanError;
pub use table::DynamicTable;

use std::ops::Range;

/// Why a header block could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub enum HpackError {
    /// Malformed: a connection error of type COMPRESSION_ERROR.
    Compression(&'static str),
    /// An integer or a string runs past the block's end: a connection error of type
    /// FRAME_SIZE_ERROR, as nginx says ("client sent header block with incorrect length").
    Truncated,
    /// A field string or the whole list passed its limit (nginx: "client sent too large
    /// header", a connection error of type ENHANCE_YOUR_CALM).
    TooLarge,
}

/// A decoded header list: names and values as ranges into one buffer.
#[derive(Default, Debug)]
pub struct HeaderList {
    /// Every name and value, back to back.
    pub bytes: Vec<u8>,
    /// (name, value) ranges into `bytes`, in order.
    pub fields: Vec<(Range<usize>, Range<usize>)>,
    /// Names and values added up (what nginx checks against its limit).
    pub size: usize,
}

impl HeaderList {
    /// Empties the list, keeping its buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.fields.clear();
        self.size = 0;
    }

    /// A list of these fields, as the decoder would build it (tests).
    #[cfg(test)]
    pub(crate) fn of(fields: &[(&str, &str)]) -> HeaderList {
        let mut l = HeaderList::default();
        for (n, v) in fields {
            let s = l.bytes.len();
            l.bytes.extend_from_slice(n.as_bytes());
            let m = l.bytes.len();
            l.bytes.extend_from_slice(v.as_bytes());
            l.fields.push((s..m, m..l.bytes.len()));
        }
        l
    }

    /// The fields as (name, value) byte slices.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.fields.iter().map(|(n, v)| {
            (
                self.bytes.get(n.clone()).unwrap_or_default(),
                self.bytes.get(v.clone()).unwrap_or_default(),
            )
        })
    }
}

/// The decoder's limits (nginx 1.19+: `large_client_header_buffers`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The longest name or value string as sent (the buffer size).
    pub field: usize,
    /// Names and values of one list added up (size times number).
    pub list: usize,
}

/// The decoding side of one connection.
pub struct Decoder {
    table: DynamicTable,
    /// SETTINGS_HEADER_TABLE_SIZE we announced: the most a size update may ask for.
    max_table_size: usize,
}

impl Decoder {
    /// A decoder whose table may grow to `max_table_size` (what we announce; 4096 default).
    pub fn new(max_table_size: usize) -> Decoder {
        Decoder {
            table: DynamicTable::new(max_table_size),
            max_table_size,
        }
    }

    /// Decodes one complete header block into `out` (appending), stopping with
    /// [`HpackError::TooLarge`] as soon as a limit is passed: an HPACK bomb (a small block
    /// that references a large table entry many times) costs no more than the limit.
    pub fn decode(
        &mut self,
        mut block: &[u8],
        out: &mut HeaderList,
        limit: Limits,
    ) -> Result<(), HpackError> {
        let mut first = true;
        while let Some(&b) = block.first() {
            if b & 0x80 != 0 {
                // Indexed field (6.1).
                let (index, rest) = integer(block, 7)?;
                block = rest;
                let (name, value) = self.lookup(index)?;
                push(out, name, value, limit.list)?;
            } else if b & 0xe0 == 0x20 {
                // Dynamic table size update (6.3): only at the start of a block.
                if !first {
                    return Err(HpackError::Compression("table size update after fields"));
                }
                let (size, rest) = integer(block, 5)?;
                block = rest;
                if size > self.max_table_size {
                    return Err(HpackError::Compression("table size update over the limit"));
                }
                self.table.set_max_size(size);
                continue;
            } else {
                // Literal: with incremental indexing (01), without (0000), never (0001).
                let (prefix, index_it) = if b & 0xc0 == 0x40 {
                    (6, true)
                } else {
                    (4, false)
                };
                let (index, rest) = integer(block, prefix)?;
                block = rest;
                let start = out.bytes.len();
                if index == 0 {
                    block = string(block, &mut out.bytes, limit.field)?;
                } else {
                    let (name, _) = self.lookup(index)?;
                    out.bytes.extend_from_slice(name);
                }
                let name_end = out.bytes.len();
                block = string(block, &mut out.bytes, limit.field)?;
                let end = out.bytes.len();
                out.size += end - start;
                if out.size > limit.list {
                    return Err(HpackError::TooLarge);
                }
                if index_it {
                    let (name, value) = out.bytes[start..end].split_at(name_end - start);
                    self.table.insert(name, value);
                }
                out.fields.push((start..name_end, name_end..end));
            }
            first = false;
        }
        Ok(())
    }

    fn lookup(&self, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
        if index == 0 {
            return Err(HpackError::Compression("index 0"));
        }
        if let Some(&(n, v)) = tables::STATIC.get(index - 1) {
            return Ok((n, v));
        }
        self.table
            .get(index - 1 - tables::STATIC.len())
            .ok_or(HpackError::Compression("index past the table"))
    }
}

fn push(out: &mut HeaderList, name: &[u8], value: &[u8], limit: usize) -> Result<(), HpackError> {
    out.size += name.len() + value.len();
    if out.size > limit {
        return Err(HpackError::TooLarge);
    }
    let start = out.bytes.len();
    out.bytes.extend_from_slice(name);
    let mid = out.bytes.len();
    out.bytes.extend_from_slice(value);
    out.fields.push((start..mid, mid..out.bytes.len()));
    Ok(())
}

/// An HPACK integer (5.1) with an `n`-bit prefix, in at most 4 bytes as nginx reads it
/// (`NGX_HTTP_V2_INT_OCTETS`): a longer one is refused.
fn integer(input: &[u8], n: u32) -> Result<(usize, &[u8]), HpackError> {
    let (&first, mut rest) = input.split_first().ok_or(HpackError::Truncated)?;
    let max = (1usize << n) - 1;
    let mut value = usize::from(first) & max;
    if value < max {
        return Ok((value, rest));
    }
    let mut shift = 0;
    loop {
        let (&b, r) = rest.split_first().ok_or(HpackError::Truncated)?;
        rest = r;
        value += usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok((value, rest));
        }
        shift += 7;
        if shift > 14 {
            return Err(HpackError::Compression(
                "client sent header block with too long integer value",
            ));
        }
    }
}

/// A string literal (5.2) of at most `limit` bytes as sent, appended to `out`.
fn string<'a>(input: &'a [u8], out: &mut Vec<u8>, limit: usize) -> Result<&'a [u8], HpackError> {
    let huffman = input.first().is_some_and(|b| b & 0x80 != 0);
    let (len, rest) = integer(input, 7)?;
    if len > limit {
        return Err(HpackError::TooLarge);
    }
    if len > rest.len() {
        return Err(HpackError::Truncated);
    }
    let (raw, rest) = rest.split_at(len);
    if huffman {
        // The shortest code is 5 bits: at most len * 8 / 5 bytes come out.
        huffman::decode(raw, out, len * 8 / 5 + 1)
            .map_err(|_| HpackError::Compression("bad Huffman string"))?;
    } else {
        out.extend_from_slice(raw);
    }
    Ok(rest)
}

/// Appends an integer with an `n`-bit prefix; `flags` fills the prefix byte's high bits.
fn put_integer(out: &mut Vec<u8>, flags: u8, n: u32, mut value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    value -= max;
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a string literal, Huffman-coded when that is shorter.
fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    let coded = huffman::encoded_len(s);
    if coded < s.len() {
        put_integer(out, 0x80, 7, coded);
        huffman::encode(s, out);
    } else {
        put_integer(out, 0, 7, s.len());
        out.extend_from_slice(s);
    }
}

/// Appends the encoding of `:status`.
pub fn encode_status(out: &mut Vec<u8>, status: u16) {
    let index = match status {
        200 => 8,
        204 => 9,
        206 => 10,
        304 => 11,
        400 => 12,
        404 => 13,
        500 => 14,
        _ => 0,
    };
    if index != 0 {
        put_integer(out, 0x80, 7, index);
        return;
    }
    // Literal without indexing, name ":status" (index 8).
    put_integer(out, 0, 4, 8);
    let digits = [
        b'0' + (status / 100 % 10) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
    ];
    put_string(out, &digits);
}

/// Appends one field (lowercase `name`) as a literal without indexing, its name from the
/// static table where it is there.
pub fn encode_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    let index = tables::STATIC
        .iter()
        .position(|(n, _)| *n == name)
        .map_or(0, |i| i + 1);
    put_integer(out, 0, 4, index);
    if index == 0 {
        put_string(out, name);
    }
    put_string(out, value);
}

#[cfg(test)]
mod tests;
