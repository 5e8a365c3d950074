//! HPACK: arbitrary header blocks through one decoder (its dynamic table carried from block
//! to block, as on a connection) must decode or fail cleanly within the limits; and the
//! Huffman code must give back what it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico::http2::hpack::{Decoder, HeaderList, Limits, huffman};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        field: 4096,
        list: 16_384,
    };
    let mut d = Decoder::new(4096);
    let mut list = HeaderList::default();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let (block, next) = tail.split_at(usize::from(len).min(tail.len()));
        list.clear();
        if d.decode(block, &mut list, limits).is_err() {
            break;
        }
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
