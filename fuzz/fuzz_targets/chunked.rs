//! The chunked body decoder on arbitrary bytes, fed whole and then in pieces as reads
//! would deliver them: both must agree on the body, the bytes left over, and any error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico::http::HttpError;
use portico::http::chunked::{Chunk, ChunkedDecoder};

/// (body, bytes after the end) if the body ended; `Ok(None)` if the input ran out first.
type Decoded = Result<Option<(Vec<u8>, Vec<u8>)>, HttpError>;

fn decode(input: &[u8], piece: usize) -> Decoded {
    let mut decoder = ChunkedDecoder::new();
    let (mut body, mut pending, mut fed) = (Vec::new(), Vec::new(), 0);
    loop {
        match decoder.step(&pending)? {
            Chunk::Data {
                start,
                end,
                consumed,
            } => {
                assert!(start < end && end == consumed && consumed <= pending.len());
                body.extend_from_slice(&pending[start..end]);
                pending.drain(..consumed);
            }
            Chunk::NeedMore { consumed } => {
                assert_eq!(
                    consumed,
                    pending.len(),
                    "NeedMore must use all it was given"
                );
                pending.clear();
                if fed == input.len() {
                    return Ok(None);
                }
                let next = (fed + piece).min(input.len());
                pending.extend_from_slice(&input[fed..next]);
                fed = next;
            }
            Chunk::Done { consumed } => {
                assert!(decoder.is_done() && consumed <= pending.len());
                pending.drain(..consumed);
                pending.extend_from_slice(&input[fed..]);
                return Ok(Some((body, pending)));
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the read size; the rest is the body.
    let Some((&piece, input)) = data.split_first() else {
        return;
    };
    let whole = decode(input, input.len().max(1));
    let pieces = decode(input, usize::from(piece % 16) + 1);
    assert_eq!(whole, pieces);
});
