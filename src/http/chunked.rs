//! The chunked transfer coding, decoded by a small resumable state machine (nginx's
//! `ngx_http_parse_chunked`, shaped like hyper's decoder).
//!
//! The decoder owns no buffer: each [`ChunkedDecoder::step`] looks at the bytes the caller
//! has, says how many it used and where the body bytes among them are, and keeps just
//! enough state to resume on the next call. The caller loops:
//!
//! ```
//! use portico::http::chunked::{Chunk, ChunkedDecoder};
//! let mut input: &[u8] = b"3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\nNEXT";
//! let (mut decoder, mut body) = (ChunkedDecoder::new(), Vec::new());
//! loop {
//!     match decoder.step(input).unwrap() {
//!         Chunk::Data { start, end, consumed } => {
//!             body.extend_from_slice(&input[start..end]);
//!             input = &input[consumed..];
//!         }
//!         Chunk::NeedMore { .. } => unreachable!("read more, then step again"),
//!         Chunk::Done { consumed } => {
//!             input = &input[consumed..];
//!             break;
//!         }
//!     }
//! }
//! assert_eq!((&body[..], input), (&b"abc"[..], &b"NEXT"[..]));
//! ```
//!
//! As in nginx: chunk extensions and trailer lines are skipped unread; a bare LF ends a
//! line as well as CRLF; a CR must be followed by LF; leading zeros in a size are fine,
//! but a size above `i64::MAX / 16` (0x7ffffffffffffff) is refused. Every error is
//! [`HttpError::InvalidChunkedBody`] (400). Enforcing `client_max_body_size` (413) is the
//! caller's job.

use super::error::HttpError;

/// The largest chunk size nginx accepts (`NGX_MAX_OFF_T_VALUE / 16`).
pub const MAX_CHUNK_SIZE: u64 = i64::MAX as u64 / 16;

/// What one [`ChunkedDecoder::step`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// Body bytes at `input[start..end]`; drop `input[..consumed]` (framing included)
    /// and call again.
    Data {
        /// First body byte.
        start: usize,
        /// Just past the last body byte.
        end: usize,
        /// Bytes of input used, body and framing; equals `end`.
        consumed: usize,
    },
    /// All of the input was framing (`consumed` bytes, maybe 0): read more.
    NeedMore {
        /// Bytes of input used.
        consumed: usize,
    },
    /// The last chunk and trailer ended after `consumed` bytes; what follows belongs to
    /// the next request.
    Done {
        /// Bytes of input used.
        consumed: usize,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    ChunkStart,
    ChunkSize,
    ChunkExtension,
    ChunkExtensionAlmostDone,
    ChunkData,
    AfterData,
    AfterDataAlmostDone,
    LastChunkExtension,
    LastChunkExtensionAlmostDone,
    Trailer,
    TrailerAlmostDone,
    TrailerHeader,
    TrailerHeaderAlmostDone,
    Done,
}

/// Decoder state for one chunked body. Create one per request.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    /// The current chunk's size while reading it, then the bytes of it still to come.
    size: u64,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

fn hex_value(ch: u8) -> Option<u64> {
    match ch {
        b'0'..=b'9' => Some(u64::from(ch - b'0')),
        b'a'..=b'f' => Some(u64::from(ch - b'a' + 10)),
        b'A'..=b'F' => Some(u64::from(ch - b'A' + 10)),
        _ => None,
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::ChunkStart,
            size: 0,
        }
    }

    /// After a [`Chunk::Data`]: the bytes of that chunk's data still to come.
    pub fn remaining(&self) -> u64 {
        match self.state {
            State::ChunkData => self.size,
            _ => 0,
        }
    }

    /// Whether the decoder is past the last chunk's size (`0`): in its extension, its
    /// trailer section, or done. What it consumed from there on is the trailer section.
    pub fn in_last_chunk(&self) -> bool {
        use State::*;
        match self.state {
            ChunkSize => self.size == 0,
            LastChunkExtension
            | LastChunkExtensionAlmostDone
            | Trailer
            | TrailerAlmostDone
            | TrailerHeader
            | TrailerHeaderAlmostDone
            | Done => true,
            _ => false,
        }
    }

    /// Whether the whole body, trailer included, has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Whether `input` holds a whole chunked body (its last chunk and trailer included),
    /// read with a fresh decoder; a malformed one is not whole (its reader reports it).
    pub fn holds_whole_body(input: &[u8]) -> bool {
        let mut d = ChunkedDecoder::new();
        let mut at = 0;
        loop {
            match d.step(&input[at..]) {
                Ok(Chunk::Done { .. }) => return true,
                Ok(Chunk::Data { consumed, .. }) if consumed > 0 => at += consumed,
                Ok(Chunk::NeedMore { consumed }) if consumed > 0 => at += consumed,
                _ => return false,
            }
        }
    }

    /// Decodes from `input`, the unread bytes. See [`Chunk`] for what to do next.
    pub fn step(&mut self, input: &[u8]) -> Result<Chunk, HttpError> {
        use State::*;
        let invalid = Err(HttpError::InvalidChunkedBody);

        if self.state == Done {
            return Ok(Chunk::Done { consumed: 0 });
        }
        let mut pos = 0;
        while let Some(&ch) = input.get(pos) {
            if self.state == ChunkData {
                let n = (input.len() - pos).min(usize::try_from(self.size).unwrap_or(usize::MAX));
                self.size -= n as u64;
                if self.size == 0 {
                    self.state = AfterData;
                }
                return Ok(Chunk::Data {
                    start: pos,
                    end: pos + n,
                    consumed: pos + n,
                });
            }
            pos += 1;
            self.state = match (self.state, ch) {
                (ChunkStart, _) => match hex_value(ch) {
                    Some(digit) => {
                        self.size = digit;
                        ChunkSize
                    }
                    None => return invalid,
                },
                (ChunkSize, _) if self.size > MAX_CHUNK_SIZE => return invalid,
                (ChunkSize, _) if hex_value(ch).is_some() => {
                    self.size = self.size * 16 + hex_value(ch).unwrap_or(0);
                    ChunkSize
                }
                (ChunkSize, b'\r') if self.size == 0 => LastChunkExtensionAlmostDone,
                (ChunkSize, b'\n') if self.size == 0 => Trailer,
                (ChunkSize, b';' | b' ' | b'\t') if self.size == 0 => LastChunkExtension,
                (ChunkSize, b'\r') => ChunkExtensionAlmostDone,
                (ChunkSize, b'\n') => ChunkData,
                (ChunkSize, b';' | b' ' | b'\t') => ChunkExtension,
                (ChunkSize, _) => return invalid,
                (ChunkExtension, b'\r') => ChunkExtensionAlmostDone,
                (ChunkExtension, b'\n') => ChunkData,
                (ChunkExtension, _) => ChunkExtension,
                (ChunkExtensionAlmostDone, b'\n') => ChunkData,
                (AfterData, b'\r') => AfterDataAlmostDone,
                (AfterData | AfterDataAlmostDone, b'\n') => ChunkStart,
                (LastChunkExtension, b'\r') => LastChunkExtensionAlmostDone,
                (LastChunkExtension | LastChunkExtensionAlmostDone, b'\n') => Trailer,
                (LastChunkExtension, _) => LastChunkExtension,
                (Trailer, b'\r') => TrailerAlmostDone,
                (Trailer | TrailerAlmostDone, b'\n') => {
                    self.state = Done;
                    return Ok(Chunk::Done { consumed: pos });
                }
                (Trailer, _) => TrailerHeader,
                (TrailerHeader, b'\r') => TrailerHeaderAlmostDone,
                (TrailerHeader | TrailerHeaderAlmostDone, b'\n') => Trailer,
                (TrailerHeader, _) => TrailerHeader,
                _ => return invalid,
            };
        }
        Ok(Chunk::NeedMore { consumed: pos })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_body_in_the_bytes_at_hand() {
        let whole = ChunkedDecoder::holds_whole_body;
        assert!(whole(b"3\r\nabc\r\n0\r\n\r\n"));
        assert!(whole(b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n"));
        assert!(whole(b"0\r\nX-T: 1\r\n\r\n"));
        assert!(!whole(b"3\r\nabc\r\n0\r\n"));
        assert!(!whole(b"3\r\nab"));
        assert!(!whole(b""));
        assert!(!whole(b"zz\r\n"));
    }

    /// Feeds `input` in pieces of at most `piece` bytes, as reads would deliver them,
    /// keeping unconsumed bytes. Returns the body and the bytes after the end.
    fn decode(input: &[u8], piece: usize) -> Result<(Vec<u8>, Vec<u8>), HttpError> {
        let mut decoder = ChunkedDecoder::new();
        let (mut body, mut pending, mut fed) = (Vec::new(), Vec::new(), 0);
        loop {
            match decoder.step(&pending)? {
                Chunk::Data {
                    start,
                    end,
                    consumed,
                } => {
                    assert!(start < end, "empty data");
                    assert_eq!(end, consumed);
                    body.extend_from_slice(&pending[start..end]);
                    pending.drain(..consumed);
                }
                Chunk::NeedMore { consumed } => {
                    pending.drain(..consumed);
                    if fed == input.len() {
                        return Err(HttpError::BadRequest); // truncated
                    }
                    let next = (fed + piece).min(input.len());
                    pending.extend_from_slice(&input[fed..next]);
                    fed = next;
                }
                Chunk::Done { consumed } => {
                    assert!(decoder.is_done());
                    pending.drain(..consumed);
                    pending.extend_from_slice(&input[fed..]);
                    return Ok((body, pending));
                }
            }
        }
    }

    fn all_pieces(input: &[u8]) -> Result<(Vec<u8>, Vec<u8>), HttpError> {
        let whole = decode(input, input.len().max(1));
        for piece in 1..input.len() {
            assert_eq!(decode(input, piece), whole, "piece {piece}");
        }
        whole
    }

    fn body(input: &[u8]) -> Vec<u8> {
        all_pieces(input).unwrap().0
    }

    #[test]
    fn simple_body() {
        let (b, rest) = all_pieces(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET /").unwrap();
        assert_eq!(b, b"hello world");
        assert_eq!(rest, b"GET /");
    }

    #[test]
    fn empty_body() {
        assert_eq!(body(b"0\r\n\r\n"), b"");
        assert_eq!(body(b"000\r\n\r\n"), b"");
    }

    #[test]
    fn hex_sizes_and_leading_zeros() {
        let data = vec![b'x'; 0x1f];
        let mut input = b"001F\r\n".to_vec();
        input.extend_from_slice(&data);
        input.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(body(&input), data);
    }

    #[test]
    fn extensions_are_skipped() {
        assert_eq!(
            body(b"3;name=value;x\r\nabc\r\n2 ; q\r\nde\r\n0;last\r\n\r\n"),
            b"abcde"
        );
        assert_eq!(body(b"3\t\r\nabc\r\n0 \r\n\r\n"), b"abc");
    }

    #[test]
    fn trailers_are_skipped() {
        let (b, rest) = all_pieces(b"1\r\na\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\nNEXT").unwrap();
        assert_eq!((b, rest), (b"a".to_vec(), b"NEXT".to_vec()));
    }

    #[test]
    fn bare_lf_is_tolerated() {
        assert_eq!(body(b"2\nab\n0\nT: v\n\n"), b"ab");
    }

    #[test]
    fn invalid_framing() {
        for bad in [
            &b"\r\n0\r\n\r\n"[..],
            b"g\r\n",
            b"-1\r\n",
            b"3\r\nabcX\r\n",
            b"3\r\nabc\rX",
            b"3\rX",
            b"0\rX",
            b"0\r\n\rX",
            b"0\r\nT: v\rX",
            b"3;e\rX",
            b"0x3\r\nabc\r\n0\r\n\r\n",
        ] {
            assert_eq!(
                decode(bad, bad.len()),
                Err(HttpError::InvalidChunkedBody),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn size_limits_follow_nginx() {
        // 0x7ffffffffffffff is the largest size nginx takes; one more digit is refused.
        let mut d = ChunkedDecoder::new();
        assert_eq!(
            d.step(b"7ffffffffffffff\r\n"),
            Ok(Chunk::NeedMore { consumed: 17 })
        );
        assert_eq!(
            ChunkedDecoder::new().step(b"8000000000000000\r\n"),
            Err(HttpError::InvalidChunkedBody)
        );
        assert_eq!(
            ChunkedDecoder::new().step(b"ffffffffffffffffffff\r\n"),
            Err(HttpError::InvalidChunkedBody)
        );
        let mut zeros = vec![b'0'; 40];
        zeros.extend_from_slice(b"1\r\nz\r\n0\r\n\r\n");
        assert_eq!(body(&zeros), b"z");
    }

    #[test]
    fn large_chunk_arrives_in_many_reads() {
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.step(b"10\r\n"), Ok(Chunk::NeedMore { consumed: 4 }));
        let data = [b'a'; 10];
        assert_eq!(
            d.step(&data),
            Ok(Chunk::Data {
                start: 0,
                end: 10,
                consumed: 10
            })
        );
        assert_eq!(d.step(b""), Ok(Chunk::NeedMore { consumed: 0 }));
        assert_eq!(
            d.step(b"aaaaaabbb"),
            Ok(Chunk::Data {
                start: 0,
                end: 6,
                consumed: 6
            })
        );
        assert_eq!(d.step(b"\r\n0\r\n\r\n"), Ok(Chunk::Done { consumed: 7 }));
        assert_eq!(d.step(b"more"), Ok(Chunk::Done { consumed: 0 }));
    }

    #[test]
    fn no_panics_on_arbitrary_input() {
        let samples: [&[u8]; 3] = [
            b"5;a\r\nhello\r\n0\r\nT: 1\r\n\r\n",
            b"\xff\x00\r\n\n\r",
            b"fffffffffffffff\r\nabc",
        ];
        for sample in samples {
            for start in 0..sample.len() {
                let mut d = ChunkedDecoder::new();
                let mut input = &sample[start..];
                for _ in 0..64 {
                    match d.step(input) {
                        Ok(Chunk::Data { consumed, .. }) => input = &input[consumed..],
                        Ok(Chunk::NeedMore { consumed }) => {
                            assert_eq!(consumed, input.len());
                            break;
                        }
                        Ok(Chunk::Done { .. }) | Err(_) => break,
                    }
                }
            }
        }
    }
}
