//! gzip for every part of Portico that needs it: the response filter (`gzip`, `gunzip`), the
//! open-file cache's compressed copies and compressed access logs.
//!
//! Two compressors, chosen by measurement (README, "Compression"):
//! - [`Deflater`]: a streaming gzip compressor (zlib-rs) for bodies that arrive or are read
//!   piece by piece — proxied and FastCGI responses, files not held in memory. Its memory
//!   is sized as nginx sizes zlib's (`gzip_window`, `gzip_hash`, smaller for a short body
//!   of known length), taken from and given back to a per-worker [`DeflatePool`].
//! - [`OneShot`]: libdeflate, for a body that is in memory whole (a generated page, a small
//!   file on its way into the cache, an access-log buffer): about twice zlib's speed and a
//!   few per cent smaller output at every level, with one compressor per level per worker.
//!
//! [`Inflater`] decompresses gzip (`gunzip`), member after member.
//!
//! A compressor whose memory cannot be allocated fails only the response (or log buffer)
//! that asked for it: the libraries' constructors panic on that, so they are called under
//! `catch_unwind`.

mod deflate;
mod inflate;
mod oneshot;

pub use deflate::{DeflatePool, Deflater, Flush, Step};
pub use inflate::{Inflated, Inflater};
pub use oneshot::OneShot;

/// A worker's compression tools: spare streaming states, the one-shot compressors, and
/// spare buffers for the response filter's output and file reads.
#[derive(Debug, Default)]
pub struct Compressors {
    /// Streaming compressor states.
    pub deflaters: DeflatePool,
    /// One-shot compressors.
    pub one_shot: OneShot,
    /// Where a one-shot compression lands before it is framed.
    pub scratch: Vec<u8>,
    buffers: Vec<Vec<u8>>,
}

/// Spare filter buffers a worker keeps.
const MAX_SPARE_BUFFERS: usize = 64;
/// A spare buffer larger than this is not kept (one grown for an unusual response).
const MAX_KEPT_BUFFER: usize = 256 * 1024;

impl Compressors {
    /// A buffer (a spare one when there is one), at least `len` bytes long.
    pub fn take_buffer(&mut self, len: usize) -> Vec<u8> {
        let mut b = self.buffers.pop().unwrap_or_default();
        if b.len() < len {
            b.resize(len, 0);
        }
        b
    }

    /// Gives a buffer back.
    pub fn give_buffer(&mut self, b: Vec<u8>) {
        if b.capacity() > 0
            && b.capacity() <= MAX_KEPT_BUFFER
            && self.buffers.len() < MAX_SPARE_BUFFERS
        {
            self.buffers.push(b);
        }
    }
}

/// Lowest and highest `gzip_comp_level`.
pub const LEVELS: std::ops::RangeInclusive<u8> = 1..=9;
/// zlib's largest window (`gzip_window 32k`).
pub const MAX_WBITS: u8 = 15;
/// zlib's default hash memory level (`gzip_hash 64k`); nginx's default too.
pub const DEFAULT_MEMLEVEL: u8 = 8;

/// What a compressor is set up with: nginx's `gzip_comp_level`, and the window and hash
/// sizes of `gzip_window` and `gzip_hash` as zlib's `windowBits` and `memLevel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// 1 (fastest) to 9 (smallest).
    pub level: u8,
    /// 9 (512 bytes) to 15 (32 KB).
    pub wbits: u8,
    /// 1 (512 bytes of hash) to 9 (128 KB).
    pub memlevel: u8,
}

impl Params {
    /// nginx's `ngx_http_gzip_filter_memory`: for a body of known length, the window and the
    /// hash shrink while the body fits a window half the size (zlib's usable window is 262
    /// bytes smaller than its buffer), so a short response costs little memory.
    pub fn for_length(self, len: Option<u64>) -> Params {
        let mut p = self;
        if let Some(len) = len.filter(|&n| n > 0) {
            let mut memlevel = i32::from(p.memlevel);
            while p.wbits > 9 && len < (1u64 << (p.wbits - 1)).saturating_sub(262) {
                p.wbits -= 1;
                memlevel -= 1;
            }
            p.memlevel = memlevel.max(1) as u8;
        }
        p
    }

    /// The memory nginx preallocates for zlib with these parameters (the figure a
    /// response's compressor state is compared with).
    pub fn nginx_state_bytes(&self) -> usize {
        8192 + 16 + (1 << (self.wbits + 2)) + (1 << (self.memlevel + 9))
    }
}

/// The level the streaming engine runs for an nginx level. zlib-rs's level 1 is zlib-ng's
/// "quick" strategy, whose output is about a fifth larger than zlib's level 1 (what nginx
/// sends); its level 2 is still faster than zlib's level 1 and compresses as well, so
/// nginx's 1 runs as 2. The other levels match zlib's ratios and map to themselves.
pub(crate) fn streaming_level(level: u8) -> i32 {
    i32::from(level.clamp(2, 9))
}

/// A compressor or decompressor failed (nginx's zlib return codes, for its log lines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZlibError {
    /// zlib's code: -2 stream, -3 data, -4 memory.
    pub code: i32,
}

impl ZlibError {
    /// Memory for the state could not be allocated.
    pub const MEMORY: ZlibError = ZlibError { code: -4 };
    /// The input is not valid compressed data.
    pub const DATA: ZlibError = ZlibError { code: -3 };
    /// The state is inconsistent (a bug, or bad parameters).
    pub const STREAM: ZlibError = ZlibError { code: -2 };
}

/// `$gzip_ratio` as nginx prints it: `in / out` with two decimals, rounded half up; `None`
/// when nothing was produced.
pub fn ratio(bytes_in: u64, bytes_out: u64, out: &mut Vec<u8>) -> bool {
    if bytes_out == 0 {
        return false;
    }
    let mut int = bytes_in / bytes_out;
    let mut frac = (bytes_in.saturating_mul(100) / bytes_out) % 100;
    if (bytes_in.saturating_mul(1000) / bytes_out) % 10 > 4 {
        frac += 1;
        if frac > 99 {
            int += 1;
            frac = 0;
        }
    }
    use std::io::Write;
    let _ = write!(out, "{int}.{frac:02}");
    true
}

#[cfg(test)]
mod tests;
