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

    /// Decodes one complete header block into `out` (which holds no field of this block
    /// yet), stopping with [`HpackError::TooLarge`] as soon as a limit is passed: an HPACK
    /// bomb (a small block that references a large table entry many times) costs no more
    /// than the limit.
    pub fn decode(
        &mut self,
        block: &[u8],
        out: &mut HeaderList,
        limit: Limits,
    ) -> Result<(), HpackError> {
        self.decode_some(block, out, limit, true).map(|_| ())
    }

    /// Decodes the whole representations at the start of `block`, part of a header block
    /// whose earlier fields are in `out`; the bytes used (the rest waits for more). `end`:
    /// the block ends with these bytes. As nginx judges a block while its frames arrive, an
    /// integer that has taken 4 bytes without ending and a string longer than its limit
    /// are refused before the rest of them comes.
    pub fn decode_some(
        &mut self,
        block: &[u8],
        out: &mut HeaderList,
        limit: Limits,
        end: bool,
    ) -> Result<usize, HpackError> {
        let mut pos = 0;
        while let Some(rest) = block.get(pos..).filter(|r| !r.is_empty()) {
            let Some((rep, len)) = self.parse(rest, limit, end)? else {
                break;
            };
            self.apply(rep, rest, out, limit)?;
            pos += len;
        }
        Ok(pos)
    }

    /// Where the parts of the representation at the start of `input` lie, and its length;
    /// `None`: its bytes have not all come. Nothing is copied or changed.
    fn parse(
        &self,
        input: &[u8],
        limit: Limits,
        end: bool,
    ) -> Result<Option<(Rep, usize)>, HpackError> {
        let Some(&b) = input.first() else {
            return Ok(None);
        };
        let prefix = match b {
            0x80.. => 7,
            0x40.. => 6,
            0x20.. => 5,
            _ => 4,
        };
        let Some((index, at)) = integer(input, prefix, end)? else {
            return Ok(None);
        };
        if b & 0x80 != 0 {
            return Ok(Some((Rep::Indexed(index), at)));
        }
        if prefix == 5 {
            return Ok(Some((Rep::SizeUpdate(index), at)));
        }
        let name = if index == 0 {
            let Some(s) = string(input, at, limit.field, end)? else {
                return Ok(None);
            };
            Some(s)
        } else {
            // As nginx: a bad index is refused before the value comes.
            self.lookup(index)?;
            None
        };
        let value_at = name.as_ref().map_or(at, |s| s.bytes.end);
        let Some(value) = string(input, value_at, limit.field, end)? else {
            return Ok(None);
        };
        let len = value.bytes.end;
        Ok(Some((
            Rep::Literal {
                index,
                index_it: prefix == 6,
                name,
                value,
            },
            len,
        )))
    }

    /// Adds the representation `rep` (parsed from `input`) to `out` and the table.
    fn apply(
        &mut self,
        rep: Rep,
        input: &[u8],
        out: &mut HeaderList,
        limit: Limits,
    ) -> Result<(), HpackError> {
        match rep {
            Rep::Indexed(index) => {
                let (name, value) = self.lookup(index)?;
                push(out, name, value, limit.list)
            }
            Rep::SizeUpdate(size) => {
                // Only at the start of a block (6.3).
                if !out.fields.is_empty() {
                    return Err(HpackError::Compression("table size update after fields"));
                }
                if size > self.max_table_size {
                    return Err(HpackError::Compression("table size update over the limit"));
                }
                self.table.set_max_size(size);
                Ok(())
            }
            Rep::Literal {
                index,
                index_it,
                name,
                value,
            } => {
                let start = out.bytes.len();
                match name {
                    Some(s) => s.append(input, &mut out.bytes)?,
                    None => {
                        let (name, _) = self.lookup(index)?;
                        out.bytes.extend_from_slice(name);
                    }
                }
                let name_end = out.bytes.len();
                value.append(input, &mut out.bytes)?;
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
                Ok(())
            }
        }
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

/// One representation (6.1-6.3), its strings as places in the input.
enum Rep {
    Indexed(usize),
    SizeUpdate(usize),
    Literal {
        index: usize,
        index_it: bool,
        name: Option<Str>,
        value: Str,
    },
}

/// A string literal's bytes in the input, as sent.
struct Str {
    huffman: bool,
    bytes: Range<usize>,
}

impl Str {
    fn append(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), HpackError> {
        let raw = input.get(self.bytes.clone()).ok_or(HpackError::Truncated)?;
        if self.huffman {
            // The shortest code is 5 bits: at most len * 8 / 5 bytes come out.
            huffman::decode(raw, out, raw.len() * 8 / 5 + 1)
                .map_err(|_| HpackError::Compression("bad Huffman string"))?;
        } else {
            out.extend_from_slice(raw);
        }
        Ok(())
    }
}

/// Bytes of an integer, its prefix byte included, that nginx reads
/// (`NGX_HTTP_V2_INT_OCTETS`): one that has not ended by then is refused.
const INT_OCTETS: usize = 4;

/// An HPACK integer (5.1) with an `n`-bit prefix: its value and length; `None` when its
/// bytes have not all come (`end`: no more will), judged as nginx's
/// `ngx_http_v2_parse_int`: cut by the block's end is [`HpackError::Truncated`], not ended
/// within 4 bytes (before the rest of the block comes) is COMPRESSION_ERROR.
fn integer(input: &[u8], n: u32, end: bool) -> Result<Option<(usize, usize)>, HpackError> {
    let Some(&first) = input.first() else {
        return if end {
            Err(HpackError::Truncated)
        } else {
            Ok(None)
        };
    };
    let max = (1usize << n) - 1;
    let mut value = usize::from(first) & max;
    if value < max {
        return Ok(Some((value, 1)));
    }
    let seen = input.len().min(INT_OCTETS);
    for (i, &b) in input[1..seen].iter().enumerate() {
        value += usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((value, i + 2)));
        }
    }
    if end && input.len() <= INT_OCTETS {
        Err(HpackError::Truncated)
    } else if seen == INT_OCTETS {
        Err(HpackError::Compression(
            "client sent header block with too long integer value",
        ))
    } else {
        Ok(None)
    }
}

/// The string literal (5.2) at `input[at..]`, at most `limit` bytes as sent (judged on
/// its length, before its bytes come); `None` when its bytes have not all come.
fn string(input: &[u8], at: usize, limit: usize, end: bool) -> Result<Option<Str>, HpackError> {
    let rest = input.get(at..).unwrap_or_default();
    let huffman = rest.first().is_some_and(|b| b & 0x80 != 0);
    let Some((len, int_len)) = integer(rest, 7, end)? else {
        return Ok(None);
    };
    if len > limit {
        return Err(HpackError::TooLarge);
    }
    let start = at + int_len;
    if start + len > input.len() {
        return if end {
            Err(HpackError::Truncated)
        } else {
            Ok(None)
        };
    }
    Ok(Some(Str {
        huffman,
        bytes: start..start + len,
    }))
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
