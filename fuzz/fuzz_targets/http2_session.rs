//! The HTTP/2 session (frame decoder, header blocks, windows, flood rules) on arbitrary bytes
//! after the preface, fed in pieces of a size the input picks, answering every request with
//! a head and a body as a server would. It must never panic, must stop at its first
//! connection error, and must keep what it queues for the client bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico::http2::hpack::encode_status;
use portico::http2::{Event, Limits, Session, frame::PREFACE};

fuzz_target!(|data: &[u8]| {
    let Some((&piece, rest)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece).max(1) * 7;
    let mut input = PREFACE.to_vec();
    input.extend_from_slice(rest);
    let mut s = Session::new(Limits::default());
    let mut buf: Vec<u8> = Vec::new();
    let mut head = Vec::new();
    encode_status(&mut head, 200);
    for chunk in input.chunks(piece) {
        s.new_read();
        buf.extend_from_slice(chunk);
        let mut pos = 0;
        loop {
            let (n, event) = match s.receive(&buf[pos..]) {
                Ok(r) => r,
                Err(_) => {
                    assert_eq!(s.receive(b"\0\0\0\x04\0\0\0\0\0"), Ok((0, None)));
                    return;
                }
            };
            let answer = match event {
                Some(Event::Request { stream, .. }) => {
                    let (h, list) = s.request();
                    assert!(list.bytes.get(h.path.clone()).is_some());
                    Some(stream)
                }
                Some(Event::Data { stream, data, .. }) => {
                    s.consumed(stream, data.len());
                    None
                }
                _ => None,
            };
            if let Some(stream) = answer {
                s.send_headers(stream, &head, false);
                s.send_data(stream, b"hello", true);
            }
            if n == 0 {
                break;
            }
            pos += n;
            assert!(pos <= buf.len());
        }
        buf.drain(..pos);
        // At most a frame header and 16384 bytes wait (larger frames, and DATA, HEADERS
        // and CONTINUATION payloads, are read in pieces).
        assert!(buf.len() < 9 + 16_384);
        let pending = s.pending().len();
        // The client reads now and then.
        if chunk.len() % 3 == 0 {
            s.advance(pending);
        }
    }
});
