//! The streaming gzip compressor (zlib-rs) and the per-worker pool its states come from.
//!
//! A state is the big part of a compressed response's memory (about 260 KB with nginx's
//! default window and hash): it is taken when the response's head is sent and given back as
//! soon as the last byte is compressed, before that output has gone to the client, as
//! nginx frees zlib's memory at `deflateEnd`. A worker keeps a few spare states instead of
//! freeing them, so a busy worker does not allocate and clear one per response.

use super::{Params, ZlibError, streaming_level};

/// How much a call to [`Deflater::compress`] should push out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// Only what the compressor is ready to emit.
    None,
    /// Everything given so far, decodable by the client now (zlib's `Z_SYNC_FLUSH`).
    Sync,
    /// The end of the stream, with gzip's trailer.
    Finish,
}

/// What a call to [`Deflater::compress`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Input bytes taken.
    pub consumed: usize,
    /// Output bytes written.
    pub produced: usize,
    /// The stream ended (after [`Flush::Finish`]): its trailer is out.
    pub ended: bool,
}

/// A streaming gzip compressor.
pub struct Deflater {
    z: zlib_rs::Deflate,
    params: Params,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("params", &self.params)
            .finish()
    }
}

impl Deflater {
    /// A compressor for `params`; `Err` when its memory cannot be allocated.
    pub fn new(params: Params) -> Result<Deflater, ZlibError> {
        let config = zlib_rs::DeflateConfig {
            level: streaming_level(params.level),
            method: zlib_rs::Method::Deflated,
            // +16: a gzip header and trailer around the deflate stream.
            window_bits: i32::from(params.wbits.clamp(9, super::MAX_WBITS)) + 16,
            mem_level: i32::from(params.memlevel.clamp(1, 9)),
            strategy: zlib_rs::Strategy::Default,
        };
        // zlib-rs's constructor asserts that initialisation succeeded, which fails only when
        // the allocator does: that must end one response, not the worker.
        match std::panic::catch_unwind(|| zlib_rs::Deflate::new_with_config(config)) {
            Ok(z) => Ok(Deflater { z, params }),
            Err(_) => Err(ZlibError::MEMORY),
        }
    }

    /// What it was set up with.
    pub fn params(&self) -> Params {
        self.params
    }

    /// Bytes taken in since the stream started.
    pub fn total_in(&self) -> u64 {
        self.z.total_in()
    }

    /// Bytes given out since the stream started.
    pub fn total_out(&self) -> u64 {
        self.z.total_out()
    }

    /// Compresses from `input` into `out`. With [`Flush::Sync`] or [`Flush::Finish`] the
    /// call must be repeated (more room in `out`) until a call leaves room unused, or ends
    /// the stream.
    pub fn compress(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        flush: Flush,
    ) -> Result<Step, ZlibError> {
        let before = (self.z.total_in(), self.z.total_out());
        let mode = match flush {
            Flush::None => zlib_rs::DeflateFlush::NoFlush,
            Flush::Sync => zlib_rs::DeflateFlush::SyncFlush,
            Flush::Finish => zlib_rs::DeflateFlush::Finish,
        };
        let status = self.z.compress(input, out, mode).map_err(|e| match e {
            zlib_rs::DeflateError::MemError => ZlibError::MEMORY,
            zlib_rs::DeflateError::DataError => ZlibError::DATA,
            zlib_rs::DeflateError::StreamError => ZlibError::STREAM,
        })?;
        Ok(Step {
            consumed: (self.z.total_in() - before.0) as usize,
            produced: (self.z.total_out() - before.1) as usize,
            ended: status == zlib_rs::Status::StreamEnd,
        })
    }

    /// Starts a new stream with the same parameters.
    fn reset(&mut self) {
        self.z.reset();
    }
}

/// A worker's spare compressor states.
#[derive(Debug, Default)]
pub struct DeflatePool {
    spares: Vec<Deflater>,
    /// States made (not reused) since the worker started: what the pool saved shows as
    /// the difference with the number of compressed responses.
    pub created: u64,
}

/// Spare states a worker keeps (each about 260 KB at nginx's defaults).
const MAX_SPARES: usize = 4;

impl DeflatePool {
    /// A compressor for `params`: a spare one with the same parameters, reset, or a new one.
    pub fn take(&mut self, params: Params) -> Result<Deflater, ZlibError> {
        if let Some(i) = self.spares.iter().position(|d| d.params == params) {
            let mut d = self.spares.swap_remove(i);
            d.reset();
            return Ok(d);
        }
        self.created += 1;
        Deflater::new(params)
    }

    /// Gives a compressor back once its response no longer needs it.
    pub fn give(&mut self, d: Deflater) {
        if self.spares.len() >= MAX_SPARES {
            // The oldest spare goes: recent parameters are the likely ones.
            self.spares.remove(0);
        }
        self.spares.push(d);
    }

    /// Spare states held now.
    pub fn spares(&self) -> usize {
        self.spares.len()
    }
}
