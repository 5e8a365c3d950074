//! HPACK: arbitrary header blocks through one decoder (its dynamic table carried from block
//! to block, as on a connection) must decode or fail cleanly within the limits, and the
//! same blocks fed a few bytes at a time (as frames arrive) must decode to the same fields;
//! and the Huffman code must give back what it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico::http2::hpack::{Decoder, HeaderList, Limits, huffman};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        field: 4096,
        list: 16_384,
    };
    let mut d = Decoder::new(4096);
    let mut pieces = Decoder::new(4096);
    let mut list = HeaderList::default();
    let mut list2 = HeaderList::default();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let (block, next) = tail.split_at(usize::from(len).min(tail.len()));
        list.clear();
        let whole = d.decode(block, &mut list, limits);
        list2.clear();
        let mut waiting = Vec::new();
        let mut in_pieces = Ok(());
        for (i, piece) in block.chunks(3).enumerate() {
            waiting.extend_from_slice(piece);
            let end = (i + 1) * 3 >= block.len();
            match pieces.decode_some(&waiting, &mut list2, limits, end) {
                Ok(used) => drop(waiting.drain(..used)),
                Err(e) => {
                    in_pieces = Err(e);
                    break;
                }
            }
        }
        if block.is_empty() {
            in_pieces = pieces.decode(block, &mut list2, limits);
        }
        assert_eq!(whole.is_ok(), in_pieces.is_ok());
        if whole.is_err() {
            break;
        }
        assert!(waiting.is_empty());
        assert_eq!(
            list.iter().collect::<Vec<_>>(),
            list2.iter().collect::<Vec<_>>()
        );
        assert!(list.size <= limits.list);
        rest = next;
    }
    let mut coded = Vec::new();
    huffman::encode(data, &mut coded);
    assert_eq!(coded.len(), huffman::encoded_len(data));
    let mut back = Vec::new();
    huffman::decode(&coded, &mut back, data.len()).expect("round trip");
    assert_eq!(back, data);
});
