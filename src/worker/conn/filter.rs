//! The body filter chain between a response's [`Source`] and the writer: a content coding
//! (gzip, gunzip) and then the chunked framing that a body of changed, unknown length needs
//! (or nothing, for an HTTP/1.0 client, whose connection then closes after it).
//!
//! The writer asks the filter instead of the source when the filter is on
//! ([`BodyFilter::is_on`]); the filter pulls from the source only when the client has
//! taken everything it made before, so back-pressure reaches the source (an upstream is
//! not read while its compressed bytes wait for a slow client). Output gathers in one
//! region that grows up to `gzip_buffers` (`gunzip_buffers`) and leaves as one chunk when
//! the source has nothing more for now and a buffer's worth is ready, when the region is
//! full, or at the end (with `gzip_no_buffer`, whatever is ready leaves at once). A
//! source that streams (an unbuffered upstream) is flushed (`Z_SYNC_FLUSH`) each time it
//! has nothing more, as nginx flushes on each of its reads; a buffered one is not.
//!
//! The streaming state is taken from the worker's pool at the first body byte and given
//! back at the stream's end, before its last bytes have reached the client. The charset
//! filter's recoding ([`recode::Recoder`]) runs before gzip, after gunzip, or alone in the
//! pass-through stage; one that changes the length (to or from UTF-8) frames the body as a
//! coding does.

use std::os::fd::RawFd;

pub mod recode;

use recode::Recoder;

use super::source::Source;
use crate::compress::{Compressors, Deflater, Flush, Inflater, Params, ZlibError};
use crate::http::source::Ready;

/// Room kept before the output region for the chunk-size line (16 hex digits and CRLF).
const HEAD_ROOM: usize = 18;
/// Room kept after it: the chunk's CRLF and the last chunk (`0\r\n\r\n`).
const TAIL_ROOM: usize = 7;
/// The region's first size (it doubles up to the configured buffers when it fills).
const FIRST_REGION: usize = 8 * 1024;
/// The most source bytes recoded at a time on their way to the compressor.
const RECODE_CHUNK: usize = 4096;
/// Bytes read from a file source at a time.
const FILE_CHUNK: usize = 32 * 1024;
/// Safety valve for one pump.
const MAX_ROUNDS: usize = 10_000;

/// What the filter does to the body.
#[derive(Debug)]
pub enum Stage {
    /// Nothing: the writer drains the source itself.
    Off,
    /// gzip with these parameters (the state is made at the first byte).
    Gzip(Params, Option<Deflater>),
    /// gunzip (the state is made at the first byte).
    Gunzip(Option<Inflater>),
    /// The body as it is, framed in chunks so that `add_trailer`'s trailers can follow.
    Identity,
}

/// How far the filter got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progress {
    Running,
    /// The source ended: the coding's end is being written.
    Finishing,
    /// Everything is made (what is in the region still goes out).
    Done,
    /// The source stopped short: nothing more is made, the connection closes.
    Cut,
    /// The body's last bytes are made; the last chunk waits for the trailers
    /// ([`BodyFilter::end_with_trailers`]).
    Trailers,
}

/// The filter failed; the connection closes after nginx's error line.
#[derive(Debug, PartialEq, Eq)]
pub enum FilterError {
    /// The compressor or decompressor refused (nginx's `deflate() failed: F, RC` or
    /// `inflate() failed: F, RC`).
    Zlib {
        /// `deflate` or `inflate`.
        call: &'static str,
        /// The flush mode zlib was called with.
        flush: i32,
        /// Its return code.
        code: i32,
    },
    /// A gunzipped body ended inside a gzip member.
    Unfinished,
    /// Reading a file source failed (the message is nginx's, without context).
    File(String),
    /// The coder made no progress (a safety valve; never seen).
    Stuck,
}

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FilterError::Zlib { call, code, .. } if *code == ZlibError::MEMORY.code => {
                write!(f, "{call}Init2() failed: {code}")
            }
            FilterError::Zlib { call, flush, code } => {
                write!(f, "{call}() failed: {flush}, {code}")
            }
            // zlib's Z_BUF_ERROR: the stream wants more input.
            FilterError::Unfinished => write!(f, "inflate() returned -5 on response end"),
            FilterError::File(message) => f.write_str(message),
            FilterError::Stuck => f.write_str("body filter made no progress"),
        }
    }
}

/// What the filter reads a body from: the response's source, as the writer sees it.
pub trait Produce {
    /// What the source has now.
    fn ready(&self) -> Ready<'_>;
    /// `n` bytes of [`Produce::ready`] were taken.
    fn consume(&mut self, n: usize);
    /// The body's end is its real end (not an upstream that stopped short).
    fn complete(&self) -> bool;
    /// The source hands its bytes on as they come (an unbuffered upstream): each time it
    /// has nothing more, what it gave is flushed to the client.
    fn streams(&self) -> bool;
}

/// How a response's body filter is set up (by the head builder).
#[derive(Clone, Debug)]
pub struct FilterSetup {
    /// gzip's parameters, or `None` for gunzip.
    pub gzip: Option<Params>,
    /// Frame the output in chunks (an HTTP/1.1 client).
    pub chunked: bool,
    /// `gzip_buffers` / `gunzip_buffers`: the region's most bytes, and the size of one.
    pub buffers: (usize, usize),
    /// `gzip_no_buffer`: output leaves as soon as it is made.
    pub no_buffer: bool,
    /// `add_trailer`: the last chunk carries trailers (made when the body has ended).
    pub trailers: bool,
    /// The charset filter's recoding, applied before gzip, after gunzip, or alone (the
    /// pass-through stage), as nginx orders its filters.
    pub recode: Option<Recoder>,
}

/// A response's body filter; kept with the connection's buffers from request to request.
#[derive(Debug)]
pub struct BodyFilter {
    stage: Stage,
    progress: Progress,
    chunked: bool,
    /// The last chunk waits for trailers.
    trailers: bool,
    /// The region's most bytes of output.
    cap: usize,
    /// Output leaves once this much is ready (and the source has no more for now).
    emit_at: usize,
    /// `[HEAD_ROOM - header .. start]` unused; `[start..end]` framed output for the
    /// client; while nothing is ready, `[HEAD_ROOM .. HEAD_ROOM + held]` is output being
    /// gathered.
    out: Vec<u8>,
    start: usize,
    end: usize,
    held: usize,
    /// Input fed since the last flush.
    unflushed: bool,
    /// Bytes read from a file source, not yet coded: `file_buf[file_pos..file_len]`.
    file_buf: Vec<u8>,
    file_pos: usize,
    file_len: usize,
    /// Body bytes in and coded bytes out (`$gzip_ratio`), once the coding ended.
    pub totals: Option<(u64, u64)>,
    /// Bytes taken from the source so far: taking them made room there (an upstream may
    /// be read again) even when no output came of them yet.
    pub taken: u64,
    /// The charset filter's recoding for this response.
    recode: Option<Recoder>,
    /// Recoded input on its way to the compressor (`[recoded_pos..]` not taken yet), or
    /// inflated output on its way to a recoder that resizes.
    recoded: Vec<u8>,
    recoded_pos: usize,
}

impl Default for BodyFilter {
    fn default() -> BodyFilter {
        BodyFilter {
            stage: Stage::Off,
            progress: Progress::Done,
            chunked: false,
            trailers: false,
            cap: 0,
            emit_at: 0,
            out: Vec::new(),
            start: 0,
            end: 0,
            held: 0,
            unflushed: false,
            file_buf: Vec::new(),
            file_pos: 0,
            file_len: 0,
            totals: None,
            taken: 0,
            recode: None,
            recoded: Vec::new(),
            recoded_pos: 0,
        }
    }
}

impl BodyFilter {
    /// Whether the current response's body goes through the filter.
    pub fn is_on(&self) -> bool {
        !matches!(self.stage, Stage::Off)
    }

    /// Sets the filter up for a response whose body comes from its source.
    pub fn start(&mut self, setup: FilterSetup) {
        self.start_stage(
            match setup.gzip {
                Some(p) => Stage::Gzip(p, None),
                None => Stage::Gunzip(None),
            },
            setup,
        );
    }

    /// Sets the filter up to frame an unchanged body in chunks, for trailers.
    pub fn start_identity(&mut self, setup: FilterSetup) {
        self.start_stage(Stage::Identity, setup);
    }

    fn start_stage(&mut self, stage: Stage, setup: FilterSetup) {
        self.stage = stage;
        self.recode = setup.recode;
        self.recoded.clear();
        self.recoded_pos = 0;
        self.progress = Progress::Running;
        self.chunked = setup.chunked;
        self.trailers = setup.trailers && setup.chunked;
        let (num, size) = setup.buffers;
        self.cap = num.saturating_mul(size).max(1);
        self.emit_at = if setup.no_buffer { 1 } else { size.max(1) };
        self.start = 0;
        self.end = 0;
        self.held = 0;
        self.unflushed = false;
        self.file_pos = 0;
        self.file_len = 0;
        self.totals = None;
        self.taken = 0;
    }

    /// A response whose whole body was coded at once (one-shot): only its totals remain.
    pub fn record(&mut self, bytes_in: u64, bytes_out: u64) {
        self.totals = Some((bytes_in, bytes_out));
    }

    /// Forgets the response (its `$gzip_ratio` included) and gives states and buffers back.
    pub fn end(&mut self, spares: &mut Compressors) {
        self.release_state(spares);
        self.stage = Stage::Off;
        self.progress = Progress::Done;
        self.totals = None;
        self.start = 0;
        self.end = 0;
        self.held = 0;
        if self.out.capacity() > 0 {
            spares.give_buffer(std::mem::take(&mut self.out));
        }
        if self.file_buf.capacity() > 0 {
            spares.give_buffer(std::mem::take(&mut self.file_buf));
        }
        self.recode = None;
        if self.recoded.capacity() > 0 {
            spares.give_buffer(std::mem::take(&mut self.recoded));
        }
    }

    /// Gives the coding's state back (its stream is over, or the response is).
    fn release_state(&mut self, spares: &mut Compressors) {
        match &mut self.stage {
            Stage::Gzip(_, d) => {
                if let Some(d) = d.take() {
                    spares.deflaters.give(d);
                }
            }
            Stage::Gunzip(i) => *i = None,
            Stage::Off | Stage::Identity => {}
        }
    }

    /// The body has ended and its last chunk waits for the trailers.
    pub fn awaits_trailers(&self) -> bool {
        self.progress == Progress::Trailers && self.start >= self.end
    }

    /// Ends the body with the last chunk and `lines` (`Name: value\r\n` each).
    pub fn end_with_trailers(&mut self, lines: &[u8]) {
        let len = 3 + lines.len() + 2;
        if self.out.len() < len {
            self.out.resize(len, 0);
        }
        self.out[..3].copy_from_slice(b"0\r\n");
        self.out[3..3 + lines.len()].copy_from_slice(lines);
        self.out[3 + lines.len()..len].copy_from_slice(b"\r\n");
        self.start = 0;
        self.end = len;
        self.progress = Progress::Done;
    }

    /// What the writer may send: framed output, or `Pending` while the source is behind,
    /// or `End` once everything went.
    pub fn ready(&self) -> Ready<'_> {
        if self.start < self.end {
            Ready::Bytes(&self.out[self.start..self.end])
        } else if matches!(self.progress, Progress::Done | Progress::Cut) {
            Ready::End
        } else {
            Ready::Pending
        }
    }

    /// The writer sent `n` bytes of [`BodyFilter::ready`].
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    /// Makes output from the source when everything made before has gone.
    pub fn pump(
        &mut self,
        body: &mut dyn Produce,
        spares: &mut Compressors,
    ) -> Result<(), FilterError> {
        if self.start < self.end
            || matches!(
                self.progress,
                Progress::Done | Progress::Cut | Progress::Trailers
            )
        {
            return Ok(());
        }
        self.start = 0;
        self.end = 0;
        for _ in 0..MAX_ROUNDS {
            if !self.ensure_room(spares) {
                self.emit(false);
                return Ok(());
            }
            if self.progress == Progress::Finishing {
                return self.finish(spares);
            }
            if self.file_pos < self.file_len {
                let (from, to) = (self.file_pos, self.file_len);
                let mut input = std::mem::take(&mut self.file_buf);
                let step = self.code(&input[from..to], spares);
                self.file_buf = std::mem::take(&mut input);
                let (consumed, produced) = step?;
                self.file_pos += consumed;
                if consumed == 0 && produced == 0 {
                    // The region is full.
                    self.emit(false);
                    return Ok(());
                }
                continue;
            }
            match body.ready() {
                Ready::Bytes(bytes) if !bytes.is_empty() => {
                    let (consumed, produced) = self.code(bytes, spares)?;
                    body.consume(consumed);
                    self.taken += consumed as u64;
                    if consumed == 0 && produced == 0 {
                        // The coder holds output it could not place: the region is full.
                        self.emit(false);
                        return Ok(());
                    }
                }
                Ready::Bytes(_) => return Ok(()),
                Ready::File { fd, pos, len, .. } => {
                    let n = self.read_file(fd, pos, len, spares)?;
                    body.consume(n);
                    self.taken += n as u64;
                }
                Ready::Pending => return self.idle(body.streams()),
                Ready::End if !body.complete() => {
                    // Ended short: nothing more is made, and the client must not see an
                    // end (no last chunk): the connection closes.
                    self.progress = Progress::Cut;
                    self.emit_plain();
                    self.release_state(spares);
                    return Ok(());
                }
                Ready::End => {
                    self.progress = Progress::Finishing;
                }
            }
        }
        // Every round coded something; so many without a full region means a coder that
        // takes input and makes nothing forever.
        if self.held > 0 {
            self.emit(false);
            return Ok(());
        }
        Err(FilterError::Stuck)
    }

    /// The source has nothing more for now: output leaves if enough is ready, or when the
    /// source streams (after a sync flush of a gzip stream).
    fn idle(&mut self, streams: bool) -> Result<(), FilterError> {
        let limit = HEAD_ROOM + self.region_len();
        if let Stage::Gzip(_, Some(d)) = &mut self.stage
            && streams
            && self.unflushed
        {
            let at = HEAD_ROOM + self.held;
            let pending = self.recoded.get(self.recoded_pos..).unwrap_or_default();
            let step = d
                .compress(pending, &mut self.out[at..limit], Flush::Sync)
                .map_err(|e| zlib("deflate", 2, e))?;
            self.recoded_pos += step.consumed;
            self.held += step.produced;
            // A region that filled before the flush completed leaves now; the next pump
            // (the source still has nothing) goes on with the flush.
            if at + step.produced < limit {
                self.unflushed = false;
            }
            self.emit(false);
            return Ok(());
        }
        let gunzip = matches!(self.stage, Stage::Gunzip(_));
        if self.held >= self.emit_at || (self.held > 0 && (streams || gunzip)) {
            self.emit(false);
        }
        Ok(())
    }

    /// Codes `input` into the region: (input taken, output made).
    fn code(
        &mut self,
        input: &[u8],
        spares: &mut Compressors,
    ) -> Result<(usize, usize), FilterError> {
        let at = HEAD_ROOM + self.held;
        let limit = HEAD_ROOM + self.region_len();
        let (consumed, produced) = match &mut self.stage {
            Stage::Gzip(params, state) => {
                let d = match state {
                    Some(d) => d,
                    None => state.insert(
                        spares
                            .deflaters
                            .take(*params)
                            .map_err(|e| zlib("deflate", 0, e))?,
                    ),
                };
                let Some(r) = &mut self.recode else {
                    let s = d
                        .compress(input, &mut self.out[at..limit], Flush::None)
                        .map_err(|e| zlib("deflate", 0, e))?;
                    self.unflushed = true;
                    self.held += s.produced;
                    return Ok((s.consumed, s.produced));
                };
                // Recoded input the compressor has not taken yet goes first; then a piece
                // of the source's is recoded for it.
                let (mut consumed, mut produced) = (0, 0);
                loop {
                    if self.recoded_pos >= self.recoded.len() {
                        if consumed >= input.len() {
                            break;
                        }
                        let take = (input.len() - consumed).min(RECODE_CHUNK);
                        self.recoded.resize(take * 4 + 16, 0);
                        let n = r.recode(&input[consumed..consumed + take], &mut self.recoded);
                        self.recoded.truncate(n);
                        self.recoded_pos = 0;
                        consumed += take;
                    }
                    let s = d
                        .compress(
                            &self.recoded[self.recoded_pos..],
                            &mut self.out[at + produced..limit],
                            Flush::None,
                        )
                        .map_err(|e| zlib("deflate", 0, e))?;
                    self.recoded_pos += s.consumed;
                    produced += s.produced;
                    self.unflushed = true;
                    if self.recoded_pos < self.recoded.len() {
                        // The region is full.
                        break;
                    }
                }
                (consumed, produced)
            }
            Stage::Gunzip(state) => {
                let i = match state {
                    Some(i) => i,
                    None => state.insert(Inflater::new().map_err(|e| zlib("inflate", 0, e))?),
                };
                match &mut self.recode {
                    Some(r) if r.resizes() => {
                        // Inflated into the scratch buffer, then recoded into the region.
                        let room = r.input_for(limit - at);
                        if room == 0 {
                            return Ok((0, 0));
                        }
                        self.recoded.resize(room, 0);
                        let s = i
                            .inflate(input, &mut self.recoded[..room], false)
                            .map_err(|e| zlib("inflate", 0, e))?;
                        let n = r.recode(&self.recoded[..s.produced], &mut self.out[at..limit]);
                        (s.consumed, n)
                    }
                    r => {
                        let s = i
                            .inflate(input, &mut self.out[at..limit], false)
                            .map_err(|e| zlib("inflate", 0, e))?;
                        if let Some(r) = r {
                            r.recode_in_place(&mut self.out[at..at + s.produced]);
                        }
                        (s.consumed, s.produced)
                    }
                }
            }
            Stage::Identity => match &mut self.recode {
                Some(r) if r.resizes() => {
                    let n = input.len().min(r.input_for(limit - at));
                    (n, r.recode(&input[..n], &mut self.out[at..limit]))
                }
                r => {
                    let n = input.len().min(limit - at);
                    self.out[at..at + n].copy_from_slice(&input[..n]);
                    if let Some(r) = r {
                        r.recode_in_place(&mut self.out[at..at + n]);
                    }
                    (n, n)
                }
            },
            Stage::Off => (input.len(), 0),
        };
        self.held += produced;
        Ok((consumed, produced))
    }

    /// Writes the coding's end; the last output leaves with the last chunk.
    fn finish(&mut self, spares: &mut Compressors) -> Result<(), FilterError> {
        loop {
            let at = HEAD_ROOM + self.held;
            let limit = HEAD_ROOM + self.region_len();
            let ended = match &mut self.stage {
                Stage::Gzip(params, state) => {
                    let d = match state {
                        Some(d) => d,
                        // An empty body still gets a gzip stream, as nginx sends one.
                        None => state.insert(
                            spares
                                .deflaters
                                .take(*params)
                                .map_err(|e| zlib("deflate", 4, e))?,
                        ),
                    };
                    let pending = self.recoded.get(self.recoded_pos..).unwrap_or_default();
                    let s = d
                        .compress(pending, &mut self.out[at..limit], Flush::Finish)
                        .map_err(|e| zlib("deflate", 4, e))?;
                    self.recoded_pos += s.consumed;
                    self.held += s.produced;
                    if s.ended {
                        self.totals = Some((d.total_in(), d.total_out()));
                    }
                    s.ended
                }
                Stage::Gunzip(state) => {
                    let Some(i) = state else {
                        // No byte came: nginx's inflate() fails at the end of nothing.
                        return Err(FilterError::Unfinished);
                    };
                    let (room, resizes) = match &self.recode {
                        Some(r) if r.resizes() => (r.input_for(limit - at), true),
                        _ => (limit - at, false),
                    };
                    let s = if resizes {
                        self.recoded.resize(room, 0);
                        i.inflate(&[], &mut self.recoded[..room], true)
                    } else {
                        i.inflate(&[], &mut self.out[at..limit], true)
                    }
                    .map_err(|e| zlib("inflate", 4, e))?;
                    let made = match &mut self.recode {
                        Some(r) if resizes => {
                            r.recode(&self.recoded[..s.produced], &mut self.out[at..limit])
                        }
                        Some(r) => {
                            r.recode_in_place(&mut self.out[at..at + s.produced]);
                            s.produced
                        }
                        None => s.produced,
                    };
                    self.held += made;
                    if s.produced < room && !i.at_member_end() {
                        return Err(FilterError::Unfinished);
                    }
                    s.produced < room
                }
                Stage::Off | Stage::Identity => true,
            };
            if ended {
                self.progress = if self.trailers {
                    Progress::Trailers
                } else {
                    Progress::Done
                };
                self.release_state(spares);
                self.emit(true);
                return Ok(());
            }
            if !self.ensure_room(spares) {
                self.emit(false);
                return Ok(());
            }
        }
    }

    /// Reads the next piece of a file source into the filter's buffer; the bytes read.
    fn read_file(
        &mut self,
        fd: RawFd,
        pos: u64,
        len: u64,
        spares: &mut Compressors,
    ) -> Result<usize, FilterError> {
        if self.file_buf.len() < FILE_CHUNK {
            self.file_buf = spares.take_buffer(FILE_CHUNK);
        }
        let want = (len.min(FILE_CHUNK as u64) as usize).min(self.file_buf.len());
        loop {
            match crate::sys::pread(fd, &mut self.file_buf[..want], pos) {
                Ok(0) => {
                    return Err(FilterError::File(format!(
                        "pread() read only 0 of {want} from \"{}\"",
                        super::write::fd_path(fd)
                    )));
                }
                Ok(n) => {
                    self.file_pos = 0;
                    self.file_len = n;
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(FilterError::File(format!(
                        "pread() failed ({})",
                        crate::sys::errno_text(&e)
                    )));
                }
            }
        }
    }

    /// The region's current size.
    fn region_len(&self) -> usize {
        self.out.len().saturating_sub(HEAD_ROOM + TAIL_ROOM)
    }

    /// Makes sure the region has room, growing it up to the cap; false when it is full.
    fn ensure_room(&mut self, spares: &mut Compressors) -> bool {
        let len = self.region_len();
        if self.held < len {
            return true;
        }
        if len >= self.cap {
            return false;
        }
        let grown = if len == 0 {
            FIRST_REGION.min(self.cap)
        } else {
            len.saturating_mul(2).min(self.cap)
        };
        let want = HEAD_ROOM + grown + TAIL_ROOM;
        if self.out.is_empty() {
            self.out = spares.take_buffer(want);
        }
        if self.out.len() < want {
            self.out.resize(want, 0);
        }
        true
    }

    /// Frames the gathered output for the client (`last`: the body ends with it).
    fn emit(&mut self, last: bool) {
        let data_end = HEAD_ROOM + self.held;
        if !self.chunked {
            self.start = HEAD_ROOM;
            self.end = data_end;
            self.held = 0;
            return;
        }
        let mut end = data_end;
        if self.held > 0 {
            let mut digits = [0u8; 16];
            let hex = hex(self.held, &mut digits);
            let header_len = hex.len() + 2;
            let from = HEAD_ROOM - header_len;
            self.out[from..from + hex.len()].copy_from_slice(hex);
            self.out[from + hex.len()..HEAD_ROOM].copy_from_slice(b"\r\n");
            self.out[end..end + 2].copy_from_slice(b"\r\n");
            end += 2;
            self.start = from;
        } else {
            self.start = end;
        }
        if last && !self.trailers {
            self.out[end..end + 5].copy_from_slice(b"0\r\n\r\n");
            end += 5;
        }
        self.end = end;
        self.held = 0;
    }

    /// Sends what was gathered without ending the body (the source stopped short).
    fn emit_plain(&mut self) {
        if self.held > 0 {
            self.emit(false);
        }
    }
}

fn zlib(call: &'static str, flush: i32, e: ZlibError) -> FilterError {
    FilterError::Zlib {
        call,
        flush,
        code: e.code,
    }
}

/// `n` in lowercase hex, as nginx writes a chunk size.
fn hex(mut n: usize, buf: &mut [u8; 16]) -> &[u8] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = DIGITS[n & 0xf];
        n >>= 4;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// The response's source as the filter reads it: a file range, or the upstream's buffer.
pub(super) struct SourceBody<'a, U: UpstreamBody> {
    /// The response's source.
    pub source: &'a mut Source,
    /// The request's upstream side (read when the source is [`Source::Upstream`]).
    pub upstream: &'a mut U,
}

/// What the filter needs of an upstream machine.
pub(super) trait UpstreamBody {
    fn ready(&self) -> Ready<'_>;
    fn consume(&mut self, n: usize);
    fn broken(&self) -> bool;
    fn buffering(&self) -> bool;
}

impl<P: crate::upstream::Protocol> UpstreamBody for crate::upstream::Upstream<'_, P> {
    fn ready(&self) -> Ready<'_> {
        crate::upstream::Upstream::ready(self)
    }
    fn consume(&mut self, n: usize) {
        crate::upstream::Upstream::consume(self, n)
    }
    fn broken(&self) -> bool {
        self.is_broken()
    }
    fn buffering(&self) -> bool {
        crate::upstream::Upstream::buffering(self)
    }
}

impl<U: UpstreamBody> Produce for SourceBody<'_, U> {
    fn ready(&self) -> Ready<'_> {
        match &*self.source {
            Source::Fixed => Ready::End,
            Source::File(f) => f.ready(),
            Source::Upstream => self.upstream.ready(),
        }
    }

    fn consume(&mut self, n: usize) {
        match &mut *self.source {
            Source::Fixed => {}
            Source::File(f) => f.pos += n as u64,
            Source::Upstream => self.upstream.consume(n),
        }
    }

    fn complete(&self) -> bool {
        !matches!(self.source, Source::Upstream) || !self.upstream.broken()
    }

    fn streams(&self) -> bool {
        matches!(self.source, Source::Upstream) && !self.upstream.buffering()
    }
}

#[cfg(test)]
mod tests;
