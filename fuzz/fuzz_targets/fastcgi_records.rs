//! The FastCGI record reader on arbitrary bytes, fed whole and then in pieces as reads
//! would deliver them (each read appended after the content kept so far, as the upstream
//! buffer does): both must agree on the STDOUT content, the STDERR text, the events and
//! any error; the content never grows past the input, and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico::cgi::record::{Event, RecordReader, Stop};

#[derive(Debug, PartialEq)]
struct Outcome {
    content: Vec<u8>,
    stderr: Vec<u8>,
    events: Vec<&'static str>,
    error: Option<String>,
    surplus: bool,
    ended: bool,
}

fn read(input: &[u8], piece: usize) -> Outcome {
    let mut reader = RecordReader::default();
    let mut buf = Vec::new();
    let mut out = Outcome {
        content: Vec::new(),
        stderr: Vec::new(),
        events: Vec::new(),
        error: None,
        surplus: false,
        ended: false,
    };
    for chunk in input.chunks(piece) {
        let from = buf.len();
        buf.extend_from_slice(chunk);
        let (stderr, events) = (&mut out.stderr, &mut out.events);
        let result = reader.deframe(&mut buf, from, |e, kept| {
            assert!(kept.len() <= from + chunk.len());
            match e {
                Event::Stderr(t) => stderr.extend_from_slice(t),
                Event::StdoutClosed => events.push("stdout closed"),
                Event::EndRequest => events.push("end request"),
            }
            Ok::<(), ()>(())
        });
        match result {
            Ok(d) => {
                assert!(d.end <= buf.len());
                buf.truncate(d.end);
                if d.surplus {
                    out.surplus = true;
                    break;
                }
            }
            Err(Stop::Framing(e)) => {
                // The response is refused: what was kept of it no longer matters.
                out.error = Some(e.to_string());
                buf.clear();
                break;
            }
            Err(Stop::Refused(())) => unreachable!("never refused"),
        }
    }
    out.content = buf;
    out.ended = reader.ended();
    out
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the read size; the rest is the record stream.
    let Some((&piece, input)) = data.split_first() else {
        return;
    };
    let whole = read(input, input.len().max(1));
    let pieces = read(input, usize::from(piece % 32) + 1);
    assert_eq!(whole, pieces);
    assert!(whole.content.len() <= input.len());
});
