//! Query ids and address rotation: random bytes from the kernel, fetched a block at a time.
//!
//! A DNS id is what stands between a resolver and a forged answer (with the source port,
//! which the kernel picks at random for each resolver socket), so ids come from
//! `getrandom(2)` rather than a predictable generator (nginx uses `random()`).

/// Bytes fetched per `getrandom` call.
const BLOCK: usize = 256;

/// A supply of random numbers.
pub struct RandomIds {
    buf: [u8; BLOCK],
    pos: usize,
    /// Fallback state if the kernel ever refuses (never on Linux ≥ 3.17 once booted).
    weak: u64,
}

impl Default for RandomIds {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32);
        RandomIds {
            buf: [0; BLOCK],
            pos: BLOCK,
            weak: seed | 1,
        }
    }
}

impl RandomIds {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        if self.pos + N > BLOCK {
            if !crate::sys::fill_random(&mut self.buf) {
                for chunk in self.buf.chunks_mut(8) {
                    // xorshift64*: only a fallback.
                    self.weak ^= self.weak >> 12;
                    self.weak ^= self.weak << 25;
                    self.weak ^= self.weak >> 27;
                    let v = self.weak.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
                    chunk.copy_from_slice(&v[..chunk.len()]);
                }
            }
            self.pos = 0;
        }
        let mut out = [0; N];
        out.copy_from_slice(&self.buf[self.pos..self.pos + N]);
        self.pos += N;
        out
    }

    /// A random query id.
    pub fn next_u16(&mut self) -> u16 {
        u16::from_ne_bytes(self.take())
    }

    /// A random index source.
    pub fn next_usize(&mut self) -> usize {
        u32::from_ne_bytes(self.take()) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_vary() {
        let mut r = RandomIds::default();
        let ids: std::collections::HashSet<u16> = (0..1000).map(|_| r.next_u16()).collect();
        // 1000 draws from 65536 values: a handful of repeats at most.
        assert!(ids.len() > 950, "{}", ids.len());
    }
}
