//! gzip decompression for `gunzip` (zlib-rs), as nginx's gunzip filter reads a body: gzip
//! members one after another (a member that ends with input left starts the next), the
//! CRC and length of each checked.

use super::ZlibError;

/// What a call to [`Inflater::inflate`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inflated {
    /// Input bytes taken.
    pub consumed: usize,
    /// Output bytes written.
    pub produced: usize,
}

/// A streaming gzip decompressor.
pub struct Inflater {
    z: zlib_rs::Inflate,
    /// The current member ended (its trailer checked).
    member_ended: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("member_ended", &self.member_ended)
            .finish()
    }
}

/// 15 + 16: a gzip header, then a deflate stream with up to a 32 KB window.
const GZIP_WBITS: u8 = 31;

fn state() -> Result<zlib_rs::Inflate, ZlibError> {
    // zlib-rs's constructor asserts that initialisation succeeded (the allocator's doing).
    std::panic::catch_unwind(|| zlib_rs::Inflate::new(true, GZIP_WBITS))
        .map_err(|_| ZlibError::MEMORY)
}

impl Inflater {
    /// A decompressor at the start of a gzip stream.
    pub fn new() -> Result<Inflater, ZlibError> {
        Ok(Inflater {
            z: state()?,
            member_ended: false,
        })
    }

    /// Decompresses from `input` into `out`; `finish`: `input` is the end of the body.
    pub fn inflate(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        finish: bool,
    ) -> Result<Inflated, ZlibError> {
        if self.member_ended && !input.is_empty() {
            // More after a member's end is the next member (zlib's inflateReset cannot
            // return to gzip mode here: a fresh state can).
            self.z = state()?;
            self.member_ended = false;
        }
        let before = (self.z.total_in(), self.z.total_out());
        let flush = if finish {
            zlib_rs::InflateFlush::Finish
        } else {
            zlib_rs::InflateFlush::NoFlush
        };
        let status = self.z.decompress(input, out, flush).map_err(|e| match e {
            zlib_rs::InflateError::NeedDict { .. } => ZlibError { code: 2 },
            zlib_rs::InflateError::StreamError => ZlibError::STREAM,
            zlib_rs::InflateError::DataError => ZlibError::DATA,
            zlib_rs::InflateError::MemError => ZlibError::MEMORY,
        })?;
        if status == zlib_rs::Status::StreamEnd {
            self.member_ended = true;
        }
        Ok(Inflated {
            consumed: (self.z.total_in() - before.0) as usize,
            produced: (self.z.total_out() - before.1) as usize,
        })
    }

    /// Whether the input so far ends with a complete member (a body may end here).
    pub fn at_member_end(&self) -> bool {
        self.member_ended
    }
}
