use std::collections::VecDeque;
use std::os::fd::AsRawFd;

use super::*;
use crate::compress::{Compressors, OneShot};

/// A source that hands out pieces, with pauses (`None`) between some of them.
struct Pieces {
    pieces: VecDeque<Option<Vec<u8>>>,
    pos: usize,
    complete: bool,
    streams: bool,
}

impl Pieces {
    fn new(pieces: Vec<Option<Vec<u8>>>) -> Pieces {
        Pieces {
            pieces: pieces.into(),
            pos: 0,
            complete: true,
            streams: false,
        }
    }
}

impl Produce for Pieces {
    fn ready(&self) -> Ready<'_> {
        match self.pieces.front() {
            Some(Some(b)) => Ready::Bytes(&b[self.pos..]),
            Some(None) => Ready::Pending,
            None => Ready::End,
        }
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        if let Some(Some(b)) = self.pieces.front()
            && self.pos == b.len()
        {
            self.pieces.pop_front();
            self.pos = 0;
        }
    }

    fn complete(&self) -> bool {
        self.complete
    }

    fn streams(&self) -> bool {
        self.streams
    }
}

fn sample(len: usize, seed: u64) -> Vec<u8> {
    let words: [&[u8]; 5] = [b"alpha ", b"<div>", b"beta\n", b"\"json\": 1, ", b"gamma "];
    let mut out = Vec::with_capacity(len);
    let mut i = seed;
    while out.len() < len {
        i = i.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        out.extend_from_slice(words[(i >> 33) as usize % words.len()]);
    }
    out.truncate(len);
    out
}

fn cut(data: &[u8], sizes: &[usize], pause_every: usize) -> Vec<Option<Vec<u8>>> {
    let mut pieces = Vec::new();
    let (mut at, mut k) = (0, 0);
    while at < data.len() {
        let n = sizes[k % sizes.len()].min(data.len() - at);
        pieces.push(Some(data[at..at + n].to_vec()));
        at += n;
        k += 1;
        if pause_every > 0 && k % pause_every == 0 {
            pieces.push(None);
        }
    }
    pieces
}

/// Runs the filter to the end as the writer would; the client's bytes and, at each pause
/// of the source, how many of them had been sent.
fn run(filter: &mut BodyFilter, body: &mut Pieces) -> Result<(Vec<u8>, Vec<usize>), FilterError> {
    let mut spares = Compressors::default();
    let (mut out, mut at_pauses) = (Vec::new(), Vec::new());
    for _ in 0..1_000_000 {
        filter.pump(body, &mut spares)?;
        match filter.ready() {
            Ready::Bytes(b) => {
                out.extend_from_slice(b);
                let n = b.len();
                filter.consume(n);
            }
            Ready::Pending => {
                assert!(
                    matches!(body.pieces.front(), Some(None)),
                    "the filter waits only when the source does"
                );
                at_pauses.push(out.len());
                body.pieces.pop_front();
            }
            Ready::End => {
                filter.end(&mut spares);
                return Ok((out, at_pauses));
            }
            Ready::File { .. } => unreachable!("the filter hands out bytes"),
        }
    }
    panic!("the filter never ended");
}

/// Removes chunked framing, checking it strictly; the data and whether the last chunk came.
fn dechunk(mut framed: &[u8]) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    while !framed.is_empty() {
        let line_end = memchr::memchr(b'\n', framed).expect("chunk line");
        let line = &framed[..line_end - 1];
        assert_eq!(framed[line_end - 1], b'\r');
        let n = usize::from_str_radix(std::str::from_utf8(line).expect("hex"), 16).expect("hex");
        framed = &framed[line_end + 1..];
        if n == 0 {
            assert_eq!(framed, b"\r\n", "the last chunk ends the body");
            return (data, true);
        }
        data.extend_from_slice(&framed[..n]);
        assert_eq!(&framed[n..n + 2], b"\r\n");
        framed = &framed[n + 2..];
    }
    (data, false)
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut inf = crate::compress::Inflater::new().expect("state");
    let mut out = Vec::new();
    let mut buf = vec![0u8; 4096];
    let mut input = gz;
    loop {
        let r = inf.inflate(input, &mut buf, true).expect("valid gzip");
        out.extend_from_slice(&buf[..r.produced]);
        input = &input[r.consumed..];
        if input.is_empty() && r.produced < buf.len() {
            break;
        }
    }
    out
}

/// What the client can decode of a gzip stream cut anywhere (a sync flush makes it all).
fn gunzip_prefix(gz: &[u8]) -> Vec<u8> {
    let mut inf = crate::compress::Inflater::new().expect("state");
    let mut out = Vec::new();
    let mut buf = vec![0u8; 4096];
    let mut input = gz;
    loop {
        let r = inf.inflate(input, &mut buf, false).expect("valid so far");
        out.extend_from_slice(&buf[..r.produced]);
        input = &input[r.consumed..];
        if r.produced == 0 {
            return out;
        }
    }
}

fn gzip_setup(chunked: bool, buffers: (usize, usize)) -> FilterSetup {
    FilterSetup {
        gzip: Some(Params {
            level: 1,
            wbits: 15,
            memlevel: 8,
        }),
        chunked,
        buffers,
        recode: None,
        no_buffer: false,
        trailers: false,
    }
}

#[test]
fn gzip_in_chunks_decodes_to_the_body_whatever_its_pieces() {
    let data = sample(300_000, 1);
    for sizes in [&[1usize, 7, 13][..], &[4096], &[65_537, 3], &[300_000]] {
        let mut f = BodyFilter::default();
        f.start(gzip_setup(true, (32, 4096)));
        let mut body = Pieces::new(cut(&data, sizes, 5));
        let (out, _) = run(&mut f, &mut body).expect("runs");
        let (gz, ended) = dechunk(&out);
        assert!(ended);
        assert_eq!(gunzip(&gz), data, "pieces {sizes:?}");
        assert!(gz.len() < data.len() / 3);
    }
}

#[test]
fn totals_are_kept_for_gzip_ratio() {
    let data = sample(10_000, 2);
    let mut f = BodyFilter::default();
    f.start(gzip_setup(true, (32, 4096)));
    let mut spares = Compressors::default();
    let mut body = Pieces::new(vec![Some(data.clone())]);
    let mut out = Vec::new();
    loop {
        f.pump(&mut body, &mut spares).expect("pump");
        match f.ready() {
            Ready::Bytes(b) => {
                out.extend_from_slice(b);
                let n = b.len();
                f.consume(n);
            }
            _ => break,
        }
    }
    let (gz, _) = dechunk(&out);
    assert_eq!(f.totals, Some((data.len() as u64, gz.len() as u64)));
    assert_eq!(
        spares.deflaters.spares(),
        1,
        "state given back at the stream's end"
    );
}

#[test]
fn a_streaming_source_is_flushed_at_each_pause() {
    let data = sample(50_000, 3);
    let mut f = BodyFilter::default();
    f.start(gzip_setup(true, (32, 4096)));
    let mut body = Pieces::new(cut(&data, &[333, 1000, 5], 2));
    body.streams = true;
    let (out, pauses) = run(&mut f, &mut body).expect("runs");
    let (gz, ended) = dechunk(&out);
    assert!(ended);
    assert_eq!(gunzip(&gz), data);
    // At every pause, everything given so far can be decoded by the client.
    let mut given = 0;
    let sizes = [333usize, 1000, 5];
    for (k, &sent) in pauses.iter().enumerate() {
        given += sizes[(2 * k) % 3] + sizes[(2 * k + 1) % 3];
        let (sofar, _) = dechunk(&out[..sent]);
        assert_eq!(gunzip_prefix(&sofar), data[..given.min(data.len())]);
    }
}

#[test]
fn a_buffered_source_is_not_flushed_at_pauses() {
    let data = sample(50_000, 4);
    let mut f = BodyFilter::default();
    f.start(gzip_setup(true, (32, 4096)));
    let mut body = Pieces::new(cut(&data, &[100], 1));
    let (out, pauses) = run(&mut f, &mut body).expect("runs");
    assert_eq!(pauses.len(), 500);
    // Without flushes the compressor keeps most of it: far fewer chunks than pauses.
    let chunks = out.windows(2).filter(|w| w == b"\r\n").count() / 2;
    assert!(chunks < 20, "{chunks} chunks");
    assert_eq!(gunzip(&dechunk(&out).0), data);
}

#[test]
fn small_buffers_bound_the_output_in_flight() {
    let data = sample(200_000, 5);
    let mut f = BodyFilter::default();
    f.start(gzip_setup(true, (2, 1024)));
    let mut spares = Compressors::default();
    let mut body = Pieces::new(vec![Some(data.clone())]);
    let mut out = Vec::new();
    loop {
        f.pump(&mut body, &mut spares).expect("pump");
        match f.ready() {
            Ready::Bytes(b) => {
                assert!(b.len() <= 2048 + 32, "at most gzip_buffers at a time");
                out.extend_from_slice(b);
                let n = b.len();
                f.consume(n);
            }
            Ready::End => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(gunzip(&dechunk(&out).0), data);
}

#[test]
fn http10_gets_the_stream_unframed_and_a_cut_source_no_end() {
    let data = sample(20_000, 6);
    let mut f = BodyFilter::default();
    f.start(gzip_setup(false, (32, 4096)));
    let (out, _) = run(&mut f, &mut Pieces::new(vec![Some(data.clone())])).expect("runs");
    assert_eq!(gunzip(&out), data);

    f.start(gzip_setup(true, (32, 4096)));
    let mut body = Pieces::new(cut(&data, &[9000], 0));
    body.complete = false;
    let (out, _) = run(&mut f, &mut body).expect("runs");
    let (_, ended) = dechunk(&out);
    assert!(!ended, "no last chunk after an upstream that stopped short");
    assert_eq!(f.totals, None);
}

#[test]
fn an_empty_body_is_an_empty_gzip_stream() {
    let mut f = BodyFilter::default();
    f.start(gzip_setup(true, (32, 4096)));
    let (out, _) = run(&mut f, &mut Pieces::new(vec![])).expect("runs");
    let (gz, ended) = dechunk(&out);
    assert!(ended);
    assert_eq!(gunzip(&gz), b"");
}

#[test]
fn gunzip_reads_members_in_any_pieces_and_stops_at_garbage() {
    let data = sample(40_000, 7);
    let mut gz = Vec::new();
    let mut one = OneShot::default();
    one.compress(6, &data[..10_000], &mut gz).expect("1");
    one.compress(6, &data[10_000..], &mut gz).expect("2");
    let setup = FilterSetup {
        gzip: None,
        chunked: true,
        buffers: (32, 4096),
        recode: None,
        no_buffer: false,
        trailers: false,
    };
    for sizes in [&[1usize, 3][..], &[777], &[100_000]] {
        let mut f = BodyFilter::default();
        f.start(setup.clone());
        let (out, _) = run(&mut f, &mut Pieces::new(cut(&gz, sizes, 3))).expect("runs");
        let (plain, ended) = dechunk(&out);
        assert!(ended);
        assert_eq!(plain, data);
    }
    let mut bad = gz.clone();
    let mid = bad.len() / 3;
    for b in &mut bad[mid..mid + 8] {
        *b ^= 0xa5;
    }
    let mut f = BodyFilter::default();
    f.start(setup.clone());
    let err = run(&mut f, &mut Pieces::new(vec![Some(bad)])).unwrap_err();
    assert!(
        matches!(
            err,
            FilterError::Zlib {
                call: "inflate",
                ..
            }
        ),
        "{err:?}"
    );
    // A body cut inside a member: nginx's "inflate() returned -5 on response end".
    let mut f = BodyFilter::default();
    f.start(setup.clone());
    let short = gz[..gz.len() - 10].to_vec();
    let err = run(&mut f, &mut Pieces::new(vec![Some(short)])).unwrap_err();
    assert_eq!(err, FilterError::Unfinished);
    assert_eq!(err.to_string(), "inflate() returned -5 on response end");
}

/// A file source, read by the filter with pread.
struct FileSource {
    file: std::fs::File,
    pos: u64,
    len: u64,
}

impl Produce for FileSource {
    fn ready(&self) -> Ready<'_> {
        if self.pos >= self.len {
            return Ready::End;
        }
        Ready::File {
            fd: self.file.as_raw_fd(),
            pos: self.pos,
            len: self.len - self.pos,
            sendfile: true,
        }
    }
    fn consume(&mut self, n: usize) {
        self.pos += n as u64;
    }
    fn complete(&self) -> bool {
        true
    }
    fn streams(&self) -> bool {
        false
    }
}

#[test]
fn file_sources_are_read_and_compressed() {
    let data = sample(100_000, 8);
    let path = std::env::temp_dir().join(format!("portico-filter-{}", std::process::id()));
    std::fs::write(&path, &data).expect("write");
    let file = std::fs::File::open(&path).expect("open");
    let _ = std::fs::remove_file(&path);
    let mut src = FileSource {
        file,
        pos: 0,
        len: data.len() as u64,
    };
    let mut f = BodyFilter::default();
    f.start(gzip_setup(true, (32, 4096)));
    let mut spares = Compressors::default();
    let mut out = Vec::new();
    loop {
        f.pump(&mut src, &mut spares).expect("pump");
        match f.ready() {
            Ready::Bytes(b) => {
                out.extend_from_slice(b);
                let n = b.len();
                f.consume(n);
            }
            Ready::End => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(gunzip(&dechunk(&out).0), data);
}
