//! FastCGI records (the FastCGI 1.0 specification, as nginx speaks it): building the
//! request's records, and reading the response's in place over the upstream read buffer.
//!
//! A response is a stream of records — an 8-byte header (version, type, request id,
//! content length, padding length, reserved), the content, the padding — of which only
//! STDOUT content is the HTTP response. [`RecordReader::deframe`] walks the bytes of each
//! read as nginx's `ngx_http_fastcgi_process_record` does, one header byte at a time (a
//! header, a record or its padding may be split across reads anywhere), and keeps STDOUT
//! content only: it is shifted down over the headers, padding and STDERR content before
//! it, in the same buffer, so nothing is copied elsewhere and nothing is allocated. When
//! one read holds the content of a single record nothing moves at all.

/// The only protocol version.
pub const VERSION: u8 = 1;
/// `FCGI_BEGIN_REQUEST`
pub const BEGIN_REQUEST: u8 = 1;
/// `FCGI_END_REQUEST`
pub const END_REQUEST: u8 = 3;
/// `FCGI_PARAMS`
pub const PARAMS: u8 = 4;
/// `FCGI_STDIN`
pub const STDIN: u8 = 5;
/// `FCGI_STDOUT`
pub const STDOUT: u8 = 6;
/// `FCGI_STDERR`
pub const STDERR: u8 = 7;
/// Bytes of a record header.
pub const HEADER_LEN: usize = 8;
/// The largest content of one record.
pub const MAX_CONTENT: usize = 0xffff;
/// The request id nginx uses: one request per connection at a time.
pub const REQUEST_ID: u16 = 1;
/// `FCGI_RESPONDER`
const ROLE_RESPONDER: u8 = 1;
/// `FCGI_KEEP_CONN`: the application keeps the connection after the request.
const FLAG_KEEP_CONN: u8 = 1;
/// Body bytes per STDIN record nginx sends (32 KB, a multiple of 8: no padding).
pub const STDIN_PIECE: usize = 32 * 1024;

/// Padding that brings `len` content bytes to a multiple of 8, as nginx pads.
pub fn padding(len: usize) -> usize {
    (8 - len % 8) % 8
}

/// A record header for `len` content bytes (at most [`MAX_CONTENT`]) and `pad` padding.
pub fn header(kind: u8, len: usize, pad: usize) -> [u8; HEADER_LEN] {
    let id = REQUEST_ID.to_be_bytes();
    let len = (len.min(MAX_CONTENT) as u16).to_be_bytes();
    [VERSION, kind, id[0], id[1], len[0], len[1], pad as u8, 0]
}

/// `FCGI_BEGIN_REQUEST` for a responder, with `FCGI_KEEP_CONN` when `keep_conn`.
pub fn begin_request(keep_conn: bool) -> [u8; 16] {
    let h = header(BEGIN_REQUEST, 8, 0);
    let flags = if keep_conn { FLAG_KEEP_CONN } else { 0 };
    [
        h[0],
        h[1],
        h[2],
        h[3],
        h[4],
        h[5],
        h[6],
        h[7],
        0,
        ROLE_RESPONDER,
        flags,
        0,
        0,
        0,
        0,
        0,
    ]
}

/// Appends a FastCGI name-value pair's length (1 byte up to 127, else 4 with the top bit).
pub fn push_length(out: &mut Vec<u8>, len: usize) {
    if len > 127 {
        let n = (len as u32 & 0x7fff_ffff) | 0x8000_0000;
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(len as u8);
    }
}

/// The bytes a name-value pair's length takes.
pub fn length_len(len: usize) -> usize {
    if len > 127 { 4 } else { 1 }
}

/// Appends `data` as STDIN records of at most [`STDIN_PIECE`] bytes, padded as nginx pads.
pub fn push_stdin(out: &mut Vec<u8>, data: &[u8]) {
    for piece in data.chunks(STDIN_PIECE) {
        let pad = padding(piece.len());
        out.extend_from_slice(&header(STDIN, piece.len(), pad));
        out.extend_from_slice(piece);
        out.extend_from_slice(&[0u8; 8][..pad]);
    }
}

/// The empty STDIN record that ends the request body.
pub fn stdin_end() -> [u8; HEADER_LEN] {
    header(STDIN, 0, 0)
}

/// Broken framing, in nginx's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// `upstream sent unsupported FastCGI protocol version: N`
    Version(u8),
    /// `upstream sent invalid FastCGI record type: N`
    Type(u8),
    /// `upstream sent unexpected FastCGI request id high byte: N`
    IdHigh(u8),
    /// `upstream sent unexpected FastCGI request id low byte: N`
    IdLow(u8),
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::Version(b) => {
                write!(f, "upstream sent unsupported FastCGI protocol version: {b}")
            }
            RecordError::Type(b) => write!(f, "upstream sent invalid FastCGI record type: {b}"),
            RecordError::IdHigh(b) => {
                write!(
                    f,
                    "upstream sent unexpected FastCGI request id high byte: {b}"
                )
            }
            RecordError::IdLow(b) => {
                write!(
                    f,
                    "upstream sent unexpected FastCGI request id low byte: {b}"
                )
            }
        }
    }
}

/// What the reader met besides STDOUT content, as it met it.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Content of a STDERR record (a record split across reads comes in parts).
    Stderr(&'a [u8]),
    /// An empty STDOUT record: the application closed its stdout.
    StdoutClosed,
    /// The header of the END_REQUEST record.
    EndRequest,
}

/// Why [`RecordReader::deframe`] stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop<E> {
    /// Broken framing.
    Framing(RecordError),
    /// The caller refused an event.
    Refused(E),
}

/// How far one [`RecordReader::deframe`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deframed {
    /// The STDOUT content now ends here in the buffer.
    pub end: usize,
    /// Bytes came after the END_REQUEST record (they are dropped): the connection cannot
    /// be reused.
    pub surplus: bool,
}

/// Where the reader is in the record stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Byte `n` (0..8) of a header.
    Header(u8),
    /// Content bytes of the current record.
    Content,
    /// Padding bytes of the current record.
    Padding,
    /// After the END_REQUEST record: nothing more is expected.
    Ended,
}

/// A response's record stream, read across reads.
#[derive(Debug, Clone)]
pub struct RecordReader {
    at: At,
    kind: u8,
    /// Content bytes of the current record still to come.
    content: usize,
    /// Padding bytes of the current record still to come.
    pad: usize,
}

impl Default for RecordReader {
    fn default() -> Self {
        RecordReader {
            at: At::Header(0),
            kind: 0,
            content: 0,
            pad: 0,
        }
    }
}

impl RecordReader {
    /// Starts over (a new response).
    pub fn reset(&mut self) {
        *self = RecordReader::default();
    }

    /// The END_REQUEST record, padding included, was read whole.
    pub fn ended(&self) -> bool {
        self.at == At::Ended
    }

    /// Reads the raw bytes `buf[from..]`, keeping STDOUT content only, moved down to start
    /// at `from` (everything before `from` is content already). `on` hears of every other
    /// record as it is met, with the content kept so far (`buf[..end]`), and may stop the
    /// reading.
    pub fn deframe<E>(
        &mut self,
        buf: &mut [u8],
        from: usize,
        mut on: impl FnMut(Event<'_>, &[u8]) -> Result<(), E>,
    ) -> Result<Deframed, Stop<E>> {
        let end = buf.len();
        let (mut r, mut w) = (from.min(end), from.min(end));
        while r < end {
            match self.at {
                At::Header(n) => {
                    let b = buf[r];
                    r += 1;
                    match n {
                        0 if b != VERSION => return Err(Stop::Framing(RecordError::Version(b))),
                        1 => match b {
                            STDOUT | STDERR | END_REQUEST => self.kind = b,
                            _ => return Err(Stop::Framing(RecordError::Type(b))),
                        },
                        2 if b != 0 => return Err(Stop::Framing(RecordError::IdHigh(b))),
                        3 if b != 1 => return Err(Stop::Framing(RecordError::IdLow(b))),
                        4 => self.content = usize::from(b) << 8,
                        5 => self.content |= usize::from(b),
                        6 => self.pad = usize::from(b),
                        _ => {}
                    }
                    if n < 7 {
                        self.at = At::Header(n + 1);
                        continue;
                    }
                    self.at = At::Content;
                    match self.kind {
                        STDOUT if self.content == 0 => {
                            on(Event::StdoutClosed, &buf[..w]).map_err(Stop::Refused)?;
                        }
                        END_REQUEST => {
                            on(Event::EndRequest, &buf[..w]).map_err(Stop::Refused)?;
                        }
                        _ => {}
                    }
                    self.next_part();
                }
                At::Content => {
                    let n = self.content.min(end - r);
                    match self.kind {
                        STDOUT => {
                            if r != w {
                                buf.copy_within(r..r + n, w);
                            }
                            w += n;
                        }
                        STDERR => {
                            let (kept, rest) = buf.split_at(r);
                            on(Event::Stderr(&rest[..n]), &kept[..w]).map_err(Stop::Refused)?;
                        }
                        _ => {}
                    }
                    r += n;
                    self.content -= n;
                    self.next_part();
                }
                At::Padding => {
                    let n = self.pad.min(end - r);
                    r += n;
                    self.pad -= n;
                    self.next_part();
                }
                At::Ended => {
                    return Ok(Deframed {
                        end: w,
                        surplus: true,
                    });
                }
            }
        }
        Ok(Deframed {
            end: w,
            surplus: false,
        })
    }

    /// After a header, content or padding: what comes next.
    fn next_part(&mut self) {
        if self.at == At::Content && self.content > 0 {
            return;
        }
        if self.pad > 0 {
            self.at = At::Padding;
            return;
        }
        self.at = if self.kind == END_REQUEST {
            At::Ended
        } else {
            At::Header(0)
        };
    }
}

#[cfg(test)]
mod tests;
