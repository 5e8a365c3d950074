//! RFC 7541 Appendix C examples and malformed input.

use super::*;

const BIG: Limits = Limits {
    field: 8192,
    list: 32768,
};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn decode(d: &mut Decoder, block: &str) -> Vec<(String, String)> {
    let mut list = HeaderList::default();
    d.decode(&hex(block), &mut list, BIG).unwrap();
    list.iter()
        .map(|(n, v)| {
            (
                String::from_utf8(n.to_vec()).unwrap(),
                String::from_utf8(v.to_vec()).unwrap(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn c3_requests_without_huffman() {
    let mut d = Decoder::new(4096);
    let first = decode(&mut d, "828684410f7777772e6578616d706c652e636f6d");
    assert_eq!(
        first,
        pairs(&[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com")
        ])
    );
    assert_eq!(d.table.size(), 57);
    let second = decode(&mut d, "828684be58086e6f2d6361636865");
    assert_eq!(
        second.last().unwrap(),
        &pairs(&[("cache-control", "no-cache")])[0]
    );
    assert_eq!(second[3].1, "www.example.com");
    assert_eq!(d.table.size(), 110);
    let third = decode(
        &mut d,
        "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
    );
    assert_eq!(third[1].1, "https");
    assert_eq!(third[4], pairs(&[("custom-key", "custom-value")])[0]);
    assert_eq!(d.table.size(), 164);
}

#[test]
fn c4_requests_with_huffman() {
    let mut d = Decoder::new(4096);
    let first = decode(&mut d, "828684418cf1e3c2e5f23a6ba0ab90f4ff");
    assert_eq!(first[3].1, "www.example.com");
    let second = decode(&mut d, "828684be5886a8eb10649cbf");
    assert_eq!(second[4].1, "no-cache");
    let third = decode(&mut d, "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf");
    assert_eq!(third[4], pairs(&[("custom-key", "custom-value")])[0]);
}

#[test]
fn c5_eviction_with_small_table() {
    let mut d = Decoder::new(256);
    d.table.set_max_size(256);
    decode(
        &mut d,
        "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
    );
    assert_eq!(d.table.size(), 222);
    let second = decode(&mut d, "4803333037c1c0bf");
    assert_eq!(second[0].1, "307");
    assert_eq!(d.table.size(), 222);
}

#[test]
fn malformed_blocks_are_errors() {
    let mut d = Decoder::new(4096);
    let mut l = HeaderList::default();
    // Index 0, an index past the tables, a truncated integer and string.
    for bad in ["80", "ff00", "ff", "4003616263", "0f"] {
        l.clear();
        assert!(d.decode(&hex(bad), &mut l, BIG).is_err(), "{bad}");
    }
    // A size update over our setting; one after a field.
    assert!(d.decode(&hex("3fe21f"), &mut l, BIG).is_err());
    assert!(d.decode(&hex("8220"), &mut l, BIG).is_err());
    // A huge integer.
    assert!(d.decode(&hex("ffffffffffffff7f"), &mut l, BIG).is_err());
    // As nginx: an integer or string cut by the block's end is a length error (the frame
    // was too short), one longer than 4 bytes a compression error.
    for cut in ["ff", "ff80", "4203", "0003616263"] {
        l.clear();
        assert_eq!(
            d.decode(&hex(cut), &mut l, BIG),
            Err(HpackError::Truncated),
            "{cut}"
        );
    }
    l.clear();
    assert!(matches!(
        d.decode(&hex("ffffffff7f"), &mut l, BIG),
        Err(HpackError::Compression(_))
    ));
    l.clear();
    // 127 + 2^21 - 1 in 4 bytes still decodes (an index past the table).
    assert!(matches!(
        d.decode(&hex("ffffff7f"), &mut l, BIG),
        Err(HpackError::Compression("index past the table"))
    ));
}

#[test]
fn header_bomb_stops_at_the_limit() {
    // One 4000-byte entry, then 1000 references to it: 4 MB decoded from ~1000 bytes.
    let mut d = Decoder::new(4096);
    let mut block = vec![0x40, 0x01, b'x'];
    put_integer(&mut block, 0, 7, 4000);
    block.extend(std::iter::repeat_n(b'a', 4000));
    block.extend(std::iter::repeat_n(0xbe, 1000));
    let mut l = HeaderList::default();
    assert_eq!(d.decode(&block, &mut l, BIG), Err(HpackError::TooLarge));
    assert!(l.bytes.len() <= 32768 + 4100);
    // A field string over the field limit.
    let mut d = Decoder::new(4096);
    l.clear();
    let small = Limits {
        field: 100,
        list: 32768,
    };
    assert_eq!(d.decode(&block, &mut l, small), Err(HpackError::TooLarge));
}

#[test]
fn encoder_output_decodes() {
    let mut out = Vec::new();
    encode_status(&mut out, 200);
    encode_status(&mut out, 302);
    encode_field(&mut out, b"content-type", b"text/html");
    encode_field(&mut out, b"x-custom", b"\x01 binary\xff");
    let mut d = Decoder::new(4096);
    let mut l = HeaderList::default();
    d.decode(&out, &mut l, BIG).unwrap();
    let got: Vec<_> = l.iter().collect();
    assert_eq!(
        got,
        vec![
            (&b":status"[..], &b"200"[..]),
            (b":status", b"302"),
            (b"content-type", b"text/html"),
            (b"x-custom", b"\x01 binary\xff"),
        ]
    );
    assert_eq!(d.table.size(), 0);
}

#[test]
fn partial_blocks_are_judged_as_they_come() {
    let mut d = Decoder::new(4096);
    let mut l = HeaderList::default();
    let block = hex("828684410f7777772e6578616d706c652e636f6d");
    // Byte by byte: each whole representation is taken as soon as it is there.
    let mut buf = Vec::new();
    for (i, &b) in block.iter().enumerate() {
        buf.push(b);
        let end = i + 1 == block.len();
        let used = d.decode_some(&buf, &mut l, BIG, end).unwrap();
        buf.drain(..used);
    }
    assert!(buf.is_empty());
    assert_eq!(l.fields.len(), 4);
    assert_eq!(d.table.size(), 57);
    // An integer that has not ended in 4 bytes is refused before the block ends (nginx's
    // NGX_DECLINED: h2_headers.t "too long index", "too long literal")...
    for cut in ["ffffffff", "42ffffffff"] {
        l.clear();
        assert!(
            matches!(
                Decoder::new(4096).decode_some(&hex(cut), &mut l, BIG, false),
                Err(HpackError::Compression(_))
            ),
            "{cut}"
        );
    }
    // ... while a shorter one waits; a string longer than the field limit is refused on
    // its length, a shorter one waits for its bytes.
    for wait in ["ffffff", "42ff", "0003", "4203ab", "00"] {
        l.clear();
        assert_eq!(
            Decoder::new(4096).decode_some(&hex(wait), &mut l, BIG, false),
            Ok(0),
            "{wait}"
        );
    }
    let small = Limits {
        field: 100,
        list: 32768,
    };
    assert_eq!(
        Decoder::new(4096).decode_some(&hex("4265"), &mut l, small, false),
        Err(HpackError::TooLarge)
    );
    // A bad name index is refused before the value comes.
    assert!(matches!(
        Decoder::new(4096).decode_some(&hex("7f3003"), &mut l, BIG, false),
        Err(HpackError::Compression("index past the table"))
    ));
}
