//! A scripted client against [`Session`]: frames in, events and frames out.

use super::*;
use crate::http2::frame::{kind, put_header};

fn req_block(path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "x"),
    ]
    .iter()
    .chain(extra)
    {
        hpack::encode_field(&mut b, n.as_bytes(), v.as_bytes());
    }
    b
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    put_header(&mut b, payload.len(), kind, flags, stream);
    b.extend_from_slice(payload);
    b
}

fn start(limits: Limits) -> Session {
    let mut s = Session::new(limits);
    let mut input = frame::PREFACE.to_vec();
    input.extend(frame(kind::SETTINGS, 0, 0, b""));
    input.extend(frame(kind::SETTINGS, flag::ACK, 0, b""));
    let events = feed(&mut s, &input).unwrap();
    assert!(events.is_empty());
    let n = s.pending().len();
    s.advance(n);
    s
}

/// Feeds all of `input`; the events as strings.
fn feed(s: &mut Session, input: &[u8]) -> Result<Vec<String>, ConnError> {
    let mut pos = 0;
    let mut events = Vec::new();
    loop {
        let (n, ev) = s.receive(&input[pos..])?;
        if let Some(ev) = ev {
            events.push(format!("{ev:?}"));
        }
        if n == 0 {
            break;
        }
        pos += n;
    }
    assert_eq!(pos, input.len(), "whole frames only");
    Ok(events)
}

/// The frames queued for the client: (type, flags, stream, payload length).
fn sent(s: &mut Session) -> Vec<(u8, u8, u32, usize)> {
    let out = s.pending().to_vec();
    s.advance(out.len());
    let mut frames = Vec::new();
    let mut pos = 0;
    while let Some(h) = Header::parse(&out[pos..]) {
        frames.push((h.kind, h.flags, h.stream, h.len as usize));
        pos += 9 + h.len as usize;
    }
    frames
}

#[test]
fn a_request_and_its_response() {
    let mut s = start(Limits::default());
    let block = req_block("/index.html", &[("user-agent", "t")]);
    let ev = feed(
        &mut s,
        &frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            1,
            &block,
        ),
    )
    .unwrap();
    assert_eq!(ev, ["Request { stream: 1, end_stream: true }"]);
    let (head, fields) = s.request();
    assert_eq!(&fields.bytes[head.path.clone()], b"/index.html");
    let mut resp = Vec::new();
    hpack::encode_status(&mut resp, 200);
    s.send_headers(1, &resp, false);
    assert_eq!(s.send_data(1, &[b'x'; 20000], true), 20000);
    let frames = sent(&mut s);
    assert_eq!(frames[0].0, kind::HEADERS);
    // 8192-byte chunks, the last one ends the stream.
    assert_eq!(
        frames[1..].iter().map(|f| f.3).collect::<Vec<_>>(),
        [8192, 8192, 3616]
    );
    assert_eq!(frames[3].1, flag::END_STREAM);
    assert_eq!(s.open_streams(), 0);
}

#[test]
fn headers_across_continuations_and_interleaving() {
    let mut s = start(Limits::default());
    let block = req_block("/", &[]);
    let (a, b) = block.split_at(3);
    let mut input = frame(kind::HEADERS, flag::END_STREAM, 1, a);
    input.extend(frame(kind::CONTINUATION, flag::END_HEADERS, 1, b));
    assert_eq!(feed(&mut s, &input).unwrap().len(), 1);
    let mut s = start(Limits::default());
    let mut input = frame(kind::HEADERS, flag::END_STREAM, 1, a);
    input.extend(frame(kind::PING, 0, 0, b"12345678"));
    assert_eq!(feed(&mut s, &input).unwrap_err().code, ErrorCode::Protocol);
}

#[test]
fn send_windows_block_and_reopen() {
    let mut s = start(Limits::default());
    feed(
        &mut s,
        &frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            1,
            &req_block("/", &[]),
        ),
    )
    .unwrap();
    assert_eq!(s.send_data(1, &vec![0; 100_000], true), 65_535);
    assert_eq!(s.send_data(1, &[0; 10], true), 0);
    let ev = feed(
        &mut s,
        &frame(kind::WINDOW_UPDATE, 0, 1, &1000u32.to_be_bytes()),
    )
    .unwrap();
    assert_eq!(ev, ["WindowOpened"]);
    // The stream's window grew, the connection's did not.
    assert_eq!(s.send_capacity(1), 0);
    feed(
        &mut s,
        &frame(kind::WINDOW_UPDATE, 0, 0, &5000u32.to_be_bytes()),
    )
    .unwrap();
    assert_eq!(s.send_capacity(1), 1000);
    // A window pushed past 2^31-1 resets the stream.
    let ev = feed(
        &mut s,
        &frame(kind::WINDOW_UPDATE, 0, 1, &0x7fff_ffffu32.to_be_bytes()),
    )
    .unwrap();
    assert_eq!(ev, ["Reset { stream: 1, code: FlowControl }"]);
}

#[test]
fn request_body_back_pressure() {
    let limits = Limits {
        initial_window: 100,
        ..Limits::default()
    };
    let mut s = start(limits);
    feed(
        &mut s,
        &frame(
            kind::HEADERS,
            flag::END_HEADERS,
            1,
            &req_block("/", &[("content-length", "150")]),
        ),
    )
    .unwrap();
    let ev = feed(&mut s, &frame(kind::DATA, 0, 1, &[1; 100])).unwrap();
    assert_eq!(ev.len(), 1);
    // Nothing consumed: no window update, and more is a flow-control error.
    assert!(
        sent(&mut s)
            .iter()
            .all(|f| f.0 != kind::WINDOW_UPDATE || f.2 == 0)
    );
    s.consumed(1, 100);
    assert!(sent(&mut s).contains(&(kind::WINDOW_UPDATE, 0, 1, 4)));
    // Content-length: 50 more bytes end it; 60 are more than declared: the stream stays
    // open for its 400 (as nginx) and the frame is not delivered.
    let ev = feed(&mut s, &frame(kind::DATA, flag::END_STREAM, 1, &[1; 60])).unwrap();
    assert_eq!(
        ev,
        ["BodyMismatch { stream: 1, received: 160, declared: 150 }"]
    );
    assert!(s.is_open(1));
    assert!(!sent(&mut s).iter().any(|f| f.0 == kind::RST_STREAM));
    feed(
        &mut s,
        &frame(kind::HEADERS, flag::END_HEADERS, 3, &req_block("/", &[])),
    )
    .unwrap();
    let ev = feed(&mut s, &frame(kind::DATA, 0, 3, &[1; 101])).unwrap();
    assert_eq!(ev, ["Reset { stream: 3, code: FlowControl }"]);
}

#[test]
fn body_length_mismatches_are_events_and_later_data_is_dropped() {
    let mut s = start(Limits::default());
    let cl = |n: &str| req_block("/", &[("content-length", n)]);
    feed(
        &mut s,
        &frame(kind::HEADERS, flag::END_HEADERS, 1, &cl("10")),
    )
    .unwrap();
    let ev = feed(&mut s, &frame(kind::DATA, 0, 1, b"0123")).unwrap();
    assert_eq!(ev.len(), 1);
    // Fewer bytes than declared when the stream ends: found at its end.
    let ev = feed(&mut s, &frame(kind::DATA, flag::END_STREAM, 1, b"56789")).unwrap();
    assert_eq!(
        ev,
        ["BodyMismatch { stream: 1, received: 9, declared: 10 }"]
    );
    assert!(s.is_open(1));
    // More than declared, the stream going on: the rest is dropped, its window counted.
    feed(
        &mut s,
        &frame(kind::HEADERS, flag::END_HEADERS, 3, &cl("3")),
    )
    .unwrap();
    let ev = feed(&mut s, &frame(kind::DATA, 0, 3, b"TEST")).unwrap();
    assert_eq!(ev, ["BodyMismatch { stream: 3, received: 4, declared: 3 }"]);
    let ev = feed(&mut s, &frame(kind::DATA, 0, 3, b"more")).unwrap();
    assert!(ev.is_empty());
    // Trailers after a short body: the same answer.
    feed(
        &mut s,
        &frame(kind::HEADERS, flag::END_HEADERS, 5, &cl("5")),
    )
    .unwrap();
    feed(&mut s, &frame(kind::DATA, 0, 5, b"abc")).unwrap();
    let mut t = Vec::new();
    hpack::encode_field(&mut t, b"x-checksum", b"1");
    let ev = feed(
        &mut s,
        &frame(kind::HEADERS, flag::END_HEADERS | flag::END_STREAM, 5, &t),
    )
    .unwrap();
    assert_eq!(ev, ["BodyMismatch { stream: 5, received: 3, declared: 5 }"]);
    // The answer ends the stream; the client's side still open gets NO_ERROR.
    let mut answer = Vec::new();
    hpack::encode_status(&mut answer, 400);
    sent(&mut s);
    s.send_headers(3, &answer, true);
    assert!(sent(&mut s).contains(&(kind::RST_STREAM, 0, 3, 4)));
    assert!(!s.is_open(3));
}

#[test]
fn a_body_read_whole_opens_its_window_wide() {
    let mut s = start(Limits::default());
    feed(
        &mut s,
        &frame(kind::HEADERS, flag::END_HEADERS, 1, &req_block("/", &[])),
    )
    .unwrap();
    s.open_window(1);
    let max = frame::MAX_WINDOW;
    assert_eq!(stream_updates(&mut s), [max - 65_536]);
    // Once: a second call adds nothing, nor does the request's reading.
    s.open_window(1);
    s.consumed(1, 100_000);
    assert!(sent(&mut s).is_empty());
    // Below a quarter of the maximum, it is topped up to the maximum (most of the window
    // taken as if used, rather than sending 1.6 GB through the test).
    let data = frame(kind::DATA, 0, 1, &[0u8; 16_384]);
    let quarter = i64::from(max / 4);
    s.streams[0].recv_window = quarter + 16_384;
    feed(&mut s, &data).unwrap();
    assert!(stream_updates(&mut s).is_empty());
    feed(&mut s, &data).unwrap();
    let left = quarter - 16_384;
    assert_eq!(stream_updates(&mut s), [(i64::from(max) - left) as u32]);
    assert_eq!(s.streams[0].recv_window, i64::from(max));
}

/// The increments of the WINDOW_UPDATE frames queued for stream 1.
fn stream_updates(s: &mut Session) -> Vec<u32> {
    let out = s.pending().to_vec();
    s.advance(out.len());
    let mut incs = Vec::new();
    let mut pos = 0;
    while let Some(h) = Header::parse(&out[pos..]) {
        let p = &out[pos + 9..pos + 9 + h.len as usize];
        if h.kind == kind::WINDOW_UPDATE && h.stream == 1 {
            incs.push(u32::from_be_bytes([p[0], p[1], p[2], p[3]]));
        }
        pos += 9 + h.len as usize;
    }
    incs
}

#[test]
fn malformed_requests_are_answered_400_and_the_connection_lives() {
    let mut s = start(Limits::default());
    let bad = req_block("/", &[("transfer-encoding", "chunked")]);
    let ev = feed(
        &mut s,
        &frame(kind::HEADERS, flag::END_HEADERS | flag::END_STREAM, 1, &bad),
    )
    .unwrap();
    assert!(ev[0].starts_with("Malformed { stream: 1"));
    // Open, for its 400; nothing was reset.
    assert!(s.is_open(1));
    assert!(!sent(&mut s).iter().any(|f| f.0 == kind::RST_STREAM));
    // The server answers it (400) and it closes.
    let mut answer = Vec::new();
    hpack::encode_status(&mut answer, 400);
    s.send_headers(1, &answer, true);
    assert!(!s.is_open(1));
    let ev = feed(
        &mut s,
        &frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            3,
            &req_block("/", &[]),
        ),
    )
    .unwrap();
    assert_eq!(ev, ["Request { stream: 3, end_stream: true }"]);
    // Stream ids must grow.
    let e = feed(
        &mut s,
        &frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            1,
            &req_block("/", &[]),
        ),
    );
    assert_eq!(e.unwrap_err().code, ErrorCode::Protocol);
}

#[test]
fn trailers_end_the_body() {
    let mut s = start(Limits::default());
    feed(
        &mut s,
        &frame(kind::HEADERS, flag::END_HEADERS, 1, &req_block("/", &[])),
    )
    .unwrap();
    feed(&mut s, &frame(kind::DATA, 0, 1, b"abc")).unwrap();
    let mut t = Vec::new();
    hpack::encode_field(&mut t, b"x-checksum", b"1");
    let ev = feed(
        &mut s,
        &frame(kind::HEADERS, flag::END_HEADERS | flag::END_STREAM, 1, &t),
    )
    .unwrap();
    assert_eq!(ev, ["Trailers { stream: 1 }"]);
    assert_eq!(
        s.request().1.iter().next(),
        Some((&b"x-checksum"[..], &b"1"[..]))
    );
}

#[test]
fn rapid_reset_is_capped_per_read() {
    let mut s = start(Limits::default());
    let block = req_block("/", &[]);
    let mut input = Vec::new();
    for i in 0..1000u32 {
        let id = 1 + 2 * i;
        input.extend(frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            id,
            &block,
        ));
        input.extend(frame(kind::RST_STREAM, 0, id, &8u32.to_be_bytes()));
    }
    let ev = feed(&mut s, &input).unwrap();
    let requests = ev.iter().filter(|e| e.starts_with("Request")).count();
    assert_eq!(requests, 256);
    // The next read event gets a fresh budget.
    s.new_read();
    let ev = feed(
        &mut s,
        &frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            2001,
            &block,
        ),
    )
    .unwrap();
    assert_eq!(ev.len(), 1);
}

#[test]
fn max_requests_sends_goaway() {
    let limits = Limits {
        max_requests: 2,
        ..Limits::default()
    };
    let mut s = start(limits);
    let block = req_block("/", &[]);
    for id in [1, 3, 5] {
        feed(
            &mut s,
            &frame(
                kind::HEADERS,
                flag::END_HEADERS | flag::END_STREAM,
                id,
                &block,
            ),
        )
        .unwrap();
    }
    let frames = sent(&mut s);
    assert!(frames.contains(&(kind::GOAWAY, 0, 0, 8)));
    assert_eq!(s.open_streams(), 2);
    s.reset(1, ErrorCode::Cancel);
    s.send_headers(3, &[0x88], true);
    assert!(s.finished());
}

#[test]
fn ping_flood_without_reading_is_stopped() {
    let mut s = start(Limits::default());
    let mut input = Vec::new();
    for _ in 0..20_000 {
        input.extend(frame(kind::PING, 0, 0, b"12345678"));
    }
    let e = feed(&mut s, &input).unwrap_err();
    assert_eq!(e.code, ErrorCode::EnhanceYourCalm);
}

#[test]
fn empty_frame_flood_is_stopped() {
    let mut s = start(Limits::default());
    feed(
        &mut s,
        &frame(kind::HEADERS, flag::END_HEADERS, 1, &req_block("/", &[])),
    )
    .unwrap();
    let empty = frame(kind::DATA, 0, 1, b"");
    let mut err = None;
    'outer: for _ in 0..200 {
        let input = empty.repeat(10_000);
        let mut pos = 0;
        while pos < input.len() {
            match s.receive(&input[pos..]) {
                Ok((n, _)) => pos += n,
                Err(e) => {
                    err = Some(e);
                    break 'outer;
                }
            }
        }
    }
    assert_eq!(err.map(|e| e.why), Some("http2 flood detected"));
}

#[test]
fn continuation_flood_and_hpack_bomb_end_the_connection() {
    let mut s = start(Limits::default());
    let mut input = frame(kind::HEADERS, 0, 1, &req_block("/", &[]));
    for _ in 0..10_000 {
        input.extend(frame(
            kind::CONTINUATION,
            0,
            1,
            &[0x40, 0x01, b'a', 0x01, b'b'],
        ));
    }
    let e = feed(&mut s, &input).unwrap_err();
    assert_eq!(
        e,
        ConnError {
            code: ErrorCode::EnhanceYourCalm,
            why: "client sent too large header"
        }
    );

    let mut s = start(Limits::default());
    let mut block = req_block("/", &[]);
    block.extend([0x40, 0x01, b'x', 0x7f, 0xa1, 0x1e]);
    block.extend(std::iter::repeat_n(b'a', 4000));
    block.extend(std::iter::repeat_n(0xbe, 2000));
    let e = feed(
        &mut s,
        &frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            1,
            &block,
        ),
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::EnhanceYourCalm);
}

#[test]
fn settings_are_applied_and_acked() {
    let mut s = start(Limits::default());
    feed(
        &mut s,
        &frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            1,
            &req_block("/", &[]),
        ),
    )
    .unwrap();
    let mut p = Vec::new();
    p.extend(setting::INITIAL_WINDOW_SIZE.to_be_bytes());
    p.extend(10u32.to_be_bytes());
    feed(&mut s, &frame(kind::SETTINGS, 0, 0, &p)).unwrap();
    assert!(sent(&mut s).contains(&(kind::SETTINGS, flag::ACK, 0, 0)));
    assert_eq!(s.send_capacity(1), 10);
    let mut bad = Vec::new();
    bad.extend(setting::MAX_FRAME_SIZE.to_be_bytes());
    bad.extend(100u32.to_be_bytes());
    assert_eq!(
        feed(&mut s, &frame(kind::SETTINGS, 0, 0, &bad))
            .unwrap_err()
            .code,
        ErrorCode::Protocol
    );
}

#[test]
fn bad_preface_and_oversized_frames() {
    let mut s = Session::new(Limits::default());
    assert_eq!(s.receive(b"PRI * HTTP/2").unwrap(), (0, None));
    assert!(s.receive(b"GET / HTTP/1.1\r\n\r\n").is_err());
    // Frames of any size are taken (we announce 2^24-1, as nginx); DATA on an idle
    // stream is refused on its frame header.
    let mut s = start(Limits::default());
    let mut header = Vec::new();
    put_header(&mut header, 20_000, kind::DATA, 0, 1);
    let e = s.receive(&header).unwrap_err();
    assert_eq!(e.code, ErrorCode::Protocol);
}

#[test]
fn an_idle_connection_holds_little() {
    let mut s = start(Limits::default());
    let big = "v".repeat(6000);
    feed(
        &mut s,
        &frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            1,
            &req_block("/", &[("x-big", &big)]),
        ),
    )
    .unwrap();
    s.send_headers(1, &[0x88], true);
    let n = s.pending().len();
    s.advance(n);
    s.idle_trim();
    assert_eq!(
        s.block_bytes.capacity() + s.fields.bytes.capacity() + s.out.capacity(),
        0
    );
    // The struct itself: a few hundred bytes.
    assert!(
        std::mem::size_of::<Session>() < 512,
        "{}",
        std::mem::size_of::<Session>()
    );
}

#[test]
fn push_promise_is_refused_on_its_frame_header() {
    let mut s = start(Limits::default());
    // A PUSH_PROMISE frame header whose payload never comes.
    let mut header = Vec::new();
    put_header(&mut header, 4, kind::PUSH_PROMISE, 0, 1);
    let e = s.receive(&header).unwrap_err();
    assert_eq!(e.code, ErrorCode::Protocol);
    assert!(sent(&mut s).contains(&(kind::GOAWAY, 0, 0, 8)));
}

#[test]
fn hpack_lengths_past_the_block_are_frame_size_errors() {
    // nginx: "client sent header block with incorrect length", FRAME_SIZE_ERROR.
    for block in [&[0xffu8][..], &[0x42, 0xff]] {
        let mut s = start(Limits::default());
        let e = feed(
            &mut s,
            &frame(
                kind::HEADERS,
                flag::END_HEADERS | flag::END_STREAM,
                1,
                block,
            ),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::FrameSize);
    }
}

#[test]
fn a_header_block_past_its_timeout_is_reset_and_ignored() {
    let mut s = start(Limits::default());
    let whole = frame(
        kind::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        1,
        &req_block("/", &[]),
    );
    // Part of the frame's header: nothing read yet.
    assert_eq!(s.receive(&whole[..7]).unwrap().0, 0);
    // Part of its block: read as it comes, stream 1's headers are in progress.
    let (used, event) = s.receive(&whole[..12]).unwrap();
    assert_eq!((used, event), (12, None));
    assert_eq!(s.header_in_progress(&[]), Some(1));
    s.header_timeout(1);
    assert!(sent(&mut s).contains(&(kind::RST_STREAM, 0, 1, 4)));
    // The rest comes late: no request, and the connection goes on.
    assert_eq!(feed(&mut s, &whole[12..]).unwrap(), Vec::<String>::new());
    let next = frame(
        kind::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        3,
        &req_block("/", &[]),
    );
    assert_eq!(
        feed(&mut s, &next).unwrap(),
        ["Request { stream: 3, end_stream: true }"]
    );
    // A block awaiting its CONTINUATION.
    let block = req_block("/", &[]);
    feed(&mut s, &frame(kind::HEADERS, 0, 5, &block[..3])).unwrap();
    assert_eq!(s.header_in_progress(&[]), Some(5));
    s.header_timeout(5);
    assert_eq!(
        feed(
            &mut s,
            &frame(kind::CONTINUATION, flag::END_HEADERS, 5, &block[3..])
        )
        .unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn a_body_before_our_settings_ack_is_refused_with_a_small_window() {
    for (window, refused) in [(10, true), (65_535, false)] {
        let mut s = Session::new(Limits {
            initial_window: window,
            ..Limits::default()
        });
        let mut input = frame::PREFACE.to_vec();
        input.extend(frame(kind::SETTINGS, 0, 0, b""));
        input.extend(frame(
            kind::HEADERS,
            flag::END_HEADERS,
            1,
            &req_block("/", &[]),
        ));
        let ev = feed(&mut s, &input).unwrap();
        let rst = sent(&mut s).contains(&(kind::RST_STREAM, 0, 1, 4));
        assert_eq!(rst, refused, "{window}");
        assert_eq!(ev.is_empty(), refused, "{window}");
    }
}

/// Feeds `input` `piece` bytes at a time, as a socket would hand it over, keeping what the
/// session leaves unread (never more than a frame header and 16384 bytes).
fn feed_in_pieces(s: &mut Session, input: &[u8], piece: usize) -> Result<Vec<String>, ConnError> {
    let mut buf = Vec::new();
    let mut events = Vec::new();
    for chunk in input.chunks(piece) {
        buf.extend_from_slice(chunk);
        let mut pos = 0;
        loop {
            let (n, ev) = s.receive(&buf[pos..])?;
            if let Some(ev) = ev {
                events.push(format!("{ev:?}"));
            }
            if n == 0 {
                break;
            }
            pos += n;
        }
        buf.drain(..pos);
        assert!(buf.len() < 9 + 16_384);
    }
    assert!(buf.is_empty(), "all of it read");
    Ok(events)
}

fn big_limits() -> Limits {
    Limits {
        header: hpack::Limits {
            field: 65_536,
            list: 131_072,
        },
        ..Limits::default()
    }
}

#[test]
fn we_announce_any_frame_size() {
    let s = Session::new(Limits::default());
    let settings = s.pending();
    let at = settings
        .windows(6)
        .position(|p| p[..2] == [0, 5])
        .expect("MAX_FRAME_SIZE announced");
    assert_eq!(settings[at + 2..at + 6], [0, 0xff, 0xff, 0xff]);
}

#[test]
fn big_header_frames_are_read_in_pieces() {
    // h2_headers.t "response header - parts": a 32 KB path in one HEADERS frame.
    let path = format!("/?h={}", "x".repeat(40_000));
    let block = req_block(&path, &[]);
    let input = frame(
        kind::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        1,
        &block,
    );
    assert!(input.len() > 16_384 + 9);
    for piece in [1000, 7, 65_536] {
        let mut s = start(big_limits());
        let ev = feed_in_pieces(&mut s, &input, piece).unwrap();
        assert_eq!(ev, ["Request { stream: 1, end_stream: true }"]);
        let (head, list) = s.request();
        assert_eq!(&list.bytes[head.path.clone()], path.as_bytes());
        assert_eq!(s.block_len(), block.len());
        // What waited undecoded was one field at most.
        assert!(
            s.block_bytes.capacity() < 2 * 40_100,
            "{}",
            s.block_bytes.capacity()
        );
    }
    // The same over CONTINUATIONs larger than 16384 and padded HEADERS.
    let mut s = start(big_limits());
    let mut input = Vec::new();
    let mut first = vec![3u8];
    first.extend_from_slice(&block[..20_000]);
    first.extend_from_slice(&[0; 3]);
    input.extend(frame(
        kind::HEADERS,
        flag::PADDED | flag::END_STREAM,
        3,
        &first,
    ));
    input.extend(frame(kind::CONTINUATION, 0, 3, &block[20_000..20_001]));
    input.extend(frame(
        kind::CONTINUATION,
        flag::END_HEADERS,
        3,
        &block[20_001..],
    ));
    let ev = feed_in_pieces(&mut s, &input, 4096).unwrap();
    assert_eq!(ev, ["Request { stream: 3, end_stream: true }"]);
    // Another request on the same connection is served after it.
    let ev = feed(
        &mut s,
        &frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            5,
            &req_block("/next", &[]),
        ),
    )
    .unwrap();
    assert_eq!(ev, ["Request { stream: 5, end_stream: true }"]);
}

#[test]
fn a_big_header_block_over_the_limits_ends_before_it_is_whole() {
    // A HEADERS frame announcing 2^24-1 bytes: the header limits end it early, and what
    // the session keeps stays bounded by them.
    let mut s = start(Limits::default());
    let mut input = Vec::new();
    put_header(
        &mut input,
        (1 << 24) - 1,
        kind::HEADERS,
        flag::END_HEADERS,
        1,
    );
    input.extend(req_block("/", &[]));
    let field = {
        let mut b = Vec::new();
        hpack::encode_field(&mut b, b"x-a", &[b'!'; 4000]);
        b
    };
    let mut err = None;
    let mut fed = 0;
    for _ in 0..100 {
        let mut chunk = input.split_off(0);
        chunk.extend_from_slice(&field);
        fed += chunk.len();
        match feed_in_pieces(&mut s, &chunk, 1500) {
            Ok(ev) => assert!(ev.is_empty()),
            Err(e) => {
                err = Some(e);
                break;
            }
        }
        assert!(s.block_bytes.capacity() <= 2 * 8192 + 64);
        assert!(s.fields.bytes.len() <= 4 * 8192);
    }
    assert_eq!(err.map(|e| e.code), Some(ErrorCode::EnhanceYourCalm));
    assert!(fed < 5 * 8192 + 8000, "{fed}");
    assert!(sent(&mut s).contains(&(kind::GOAWAY, 0, 0, 8)));
}

#[test]
fn hpack_integers_are_judged_before_the_frame_is_whole() {
    // h2_headers.t "too long index" / "too long literal": the frame says 5 (6) bytes, 4
    // (5) come, and the integer has not ended in 4 bytes: COMPRESSION_ERROR at once.
    for (len, bytes) in [(5, &b"\xff\xff\xff\xff"[..]), (6, b"\x42\xff\xff\xff\xff")] {
        let mut s = start(Limits::default());
        let mut input = Vec::new();
        put_header(
            &mut input,
            len,
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            1,
        );
        input.extend_from_slice(bytes);
        let e = s.receive(&input).unwrap_err();
        assert_eq!(e.code, ErrorCode::Compression);
    }
    // "header split index": a block cut anywhere waits for the rest.
    let whole = frame(
        kind::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        1,
        &req_block("/", &[("referer", &"1234".repeat(32))]),
    );
    for cut in 9..whole.len() {
        let mut s = start(Limits::default());
        let mut ev = feed_in_pieces(&mut s, &whole[..cut], cut).unwrap();
        ev.extend(feed_in_pieces(&mut s, &whole[cut..], 1000).unwrap());
        assert_eq!(ev, ["Request { stream: 1, end_stream: true }"], "{cut}");
    }
}

#[test]
fn big_data_frames_are_read_in_pieces_within_the_window() {
    let limits = Limits::default();
    let mut s = start(limits);
    let head = frame(kind::HEADERS, flag::END_HEADERS, 1, &req_block("/", &[]));
    assert_eq!(feed(&mut s, &head).unwrap().len(), 1);
    // 60000 bytes in one frame (within the 64 KB window), padded.
    let mut payload = vec![10u8];
    payload.extend(std::iter::repeat_n(b'b', 60_000));
    payload.extend_from_slice(&[0; 10]);
    let input = frame(kind::DATA, flag::PADDED | flag::END_STREAM, 1, &payload);
    let ev = feed_in_pieces(&mut s, &input, 5000).unwrap();
    let data: usize = ev.iter().map(|e| e.matches("98").count()).sum();
    assert!(ev.len() > 1 && data >= 60_000, "{} events", ev.len());
    assert!(ev.last().unwrap().contains("end_stream: true"));
    assert!(
        ev[..ev.len() - 1]
            .iter()
            .all(|e| e.contains("end_stream: false"))
    );
    // Over the stream's window: reset on its frame header, the rest dropped, the
    // connection goes on.
    let head = frame(kind::HEADERS, flag::END_HEADERS, 3, &req_block("/", &[]));
    assert_eq!(feed(&mut s, &head).unwrap().len(), 1);
    let mut input = frame(kind::DATA, 0, 3, &vec![b'c'; 70_000]);
    input.extend(frame(kind::PING, 0, 0, b"12345678"));
    let ev = feed_in_pieces(&mut s, &input, 3000).unwrap();
    assert_eq!(ev, ["Reset { stream: 3, code: FlowControl }"]);
    let out = sent(&mut s);
    assert!(out.contains(&(kind::RST_STREAM, 0, 3, 4)));
    assert!(out.contains(&(kind::PING, flag::ACK, 0, 8)));
}

#[test]
fn big_control_and_unknown_frames() {
    let mut s = start(Limits::default());
    // A 19998-byte SETTINGS: read in whole parameters, acknowledged once.
    let params: Vec<u8> = (0..3333)
        .flat_map(|_| [0, setting::MAX_FRAME_SIZE as u8, 0, 0, 0x40, 0])
        .collect();
    feed_in_pieces(&mut s, &frame(kind::SETTINGS, 0, 0, &params), 1001).unwrap();
    assert_eq!(sent(&mut s), [(kind::SETTINGS, flag::ACK, 0, 0)]);
    assert_eq!(s.peer_max_frame, 0x4000);
    // An unknown type of 100 KB is dropped; a long GOAWAY's debug data too.
    let mut input = frame(0xfa, 0, 0, &vec![1; 100_000]);
    let mut goaway = vec![0, 0, 0, 0, 0, 0, 0, 0];
    goaway.extend(vec![b'd'; 20_000]);
    input.extend(frame(kind::GOAWAY, 0, 0, &goaway));
    input.extend(frame(kind::PING, 0, 0, b"12345678"));
    assert!(feed_in_pieces(&mut s, &input, 4000).unwrap().is_empty());
    assert_eq!(sent(&mut s), [(kind::PING, flag::ACK, 0, 8)]);
    // A big PING is a FRAME_SIZE_ERROR on its header.
    let mut header = Vec::new();
    put_header(&mut header, 20_000, kind::PING, 0, 0);
    assert_eq!(s.receive(&header).unwrap_err().code, ErrorCode::FrameSize);
}
