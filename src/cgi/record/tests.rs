use super::*;

fn rec(kind: u8, content: &[u8], pad: usize) -> Vec<u8> {
    let mut v = header(kind, content.len(), pad).to_vec();
    v.extend_from_slice(content);
    v.extend(std::iter::repeat_n(0u8, pad));
    v
}

/// Feeds `stream` in reads of the sizes `cuts` gives (the rest in one), as a buffer that
/// keeps the content and appends each read after it: returns the content, the stderr
/// text and the events.
fn feed(stream: &[u8], cut: usize) -> (Vec<u8>, Vec<u8>, Vec<String>, bool) {
    let mut reader = RecordReader::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut stderr = Vec::new();
    let mut events = Vec::new();
    let mut surplus = false;
    for piece in stream.chunks(cut.max(1)) {
        let from = buf.len();
        buf.extend_from_slice(piece);
        let d = reader
            .deframe(&mut buf, from, |e, _| {
                match e {
                    Event::Stderr(t) => stderr.extend_from_slice(t),
                    other => events.push(format!("{other:?}")),
                }
                Ok::<(), ()>(())
            })
            .expect("valid records");
        buf.truncate(d.end);
        surplus |= d.surplus;
    }
    (buf, stderr, events, surplus)
}

#[test]
fn content_survives_every_split() {
    let mut stream = rec(STDOUT, b"Content-Type: text/plain\r\n\r\nhello ", 2);
    stream.extend(rec(STDERR, b"a warning\n", 6));
    stream.extend(rec(STDOUT, b"world", 3));
    stream.extend(rec(STDOUT, b"", 0));
    stream.extend(rec(END_REQUEST, &[0; 8], 0));
    for cut in 1..=stream.len() {
        let (out, stderr, events, surplus) = feed(&stream, cut);
        assert_eq!(
            out, b"Content-Type: text/plain\r\n\r\nhello world",
            "cut {cut}"
        );
        assert_eq!(stderr, b"a warning\n", "cut {cut}");
        assert_eq!(events, ["StdoutClosed", "EndRequest"], "cut {cut}");
        assert!(!surplus);
    }
}

#[test]
fn bytes_after_the_end_are_surplus() {
    let mut stream = rec(STDOUT, b"x", 7);
    stream.extend(rec(END_REQUEST, &[0; 8], 0));
    stream.extend_from_slice(b"junk");
    let (out, _, _, surplus) = feed(&stream, stream.len());
    assert_eq!(out, b"x");
    assert!(surplus);
    let mut r = RecordReader::default();
    let mut buf = rec(END_REQUEST, &[0; 8], 0);
    let d = r.deframe(&mut buf, 0, |_, _| Ok::<(), ()>(())).unwrap();
    assert!(r.ended() && !d.surplus && d.end == 0);
}

#[test]
fn broken_framing_gets_nginx_words() {
    let cases: [(&[u8], &str); 4] = [
        (
            &[2, 6, 0, 1, 0, 0, 0, 0],
            "unsupported FastCGI protocol version: 2",
        ),
        (&[1, 9, 0, 1, 0, 0, 0, 0], "invalid FastCGI record type: 9"),
        (
            &[1, 6, 1, 1, 0, 0, 0, 0],
            "unexpected FastCGI request id high byte: 1",
        ),
        (
            &[1, 6, 0, 2, 0, 0, 0, 0],
            "unexpected FastCGI request id low byte: 2",
        ),
    ];
    for (bytes, words) in cases {
        let mut buf = bytes.to_vec();
        let e = RecordReader::default()
            .deframe(&mut buf, 0, |_, _| Ok::<(), ()>(()))
            .unwrap_err();
        match e {
            Stop::Framing(f) => assert_eq!(f.to_string(), format!("upstream sent {words}")),
            Stop::Refused(()) => panic!("refused"),
        }
    }
}

#[test]
fn a_refusal_stops_at_the_event() {
    let mut buf = rec(STDOUT, b"head", 4);
    buf.extend(rec(STDERR, b"fatal", 3));
    let mut r = RecordReader::default();
    let e = r
        .deframe(&mut buf, 0, |e, kept| match e {
            Event::Stderr(t) if t == b"fatal" => {
                assert_eq!(kept, b"head");
                Err("caught")
            }
            _ => Ok(()),
        })
        .unwrap_err();
    assert_eq!(e, Stop::Refused("caught"));
}

#[test]
fn request_records_are_nginx_s() {
    assert_eq!(
        begin_request(true),
        [1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    );
    assert_eq!(header(PARAMS, 300, 4), [1, 4, 0, 1, 1, 44, 4, 0]);
    let mut out = Vec::new();
    push_length(&mut out, 127);
    push_length(&mut out, 128);
    assert_eq!(out, [127, 0x80, 0, 0, 128]);
    let mut out = Vec::new();
    push_stdin(&mut out, &[7u8; STDIN_PIECE + 3]);
    assert_eq!(out.len(), 8 + STDIN_PIECE + 8 + 3 + 5);
    assert_eq!(&out[..8], &header(STDIN, STDIN_PIECE, 0));
    assert_eq!(
        &out[8 + STDIN_PIECE..8 + STDIN_PIECE + 8],
        &header(STDIN, 3, 5)
    );
    assert_eq!(padding(0), 0);
    assert_eq!(padding(9), 7);
}
