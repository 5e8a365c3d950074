//! One-shot gzip of a body that is in memory whole (libdeflate): a compressor per level,
//! made on first use and kept by the worker, so compressing allocates nothing after that.

use super::{LEVELS, ZlibError};

/// A worker's one-shot compressors.
#[derive(Default)]
pub struct OneShot {
    by_level: [Option<libdeflater::Compressor>; 9],
}

impl std::fmt::Debug for OneShot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let made: Vec<usize> = (1..=9).filter(|l| self.by_level[l - 1].is_some()).collect();
        f.debug_struct("OneShot").field("levels", &made).finish()
    }
}

impl OneShot {
    /// Appends the gzip of `input` at `level` (1–9) to `out`; the bytes appended.
    pub fn compress(
        &mut self,
        level: u8,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, ZlibError> {
        let level = level.clamp(*LEVELS.start(), *LEVELS.end());
        let slot = &mut self.by_level[usize::from(level) - 1];
        if slot.is_none() {
            let lvl = libdeflater::CompressionLvl::new(i32::from(level))
                .map_err(|_| ZlibError::STREAM)?;
            // libdeflater panics when libdeflate cannot allocate its compressor.
            let made = std::panic::catch_unwind(|| libdeflater::Compressor::new(lvl))
                .map_err(|_| ZlibError::MEMORY)?;
            *slot = Some(made);
        }
        let Some(c) = slot.as_mut() else {
            return Err(ZlibError::MEMORY);
        };
        let start = out.len();
        let bound = c.gzip_compress_bound(input.len());
        out.resize(start + bound, 0);
        match c.gzip_compress(input, &mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                Ok(n)
            }
            Err(_) => {
                out.truncate(start);
                Err(ZlibError::STREAM)
            }
        }
    }
}
