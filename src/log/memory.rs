//! `error_log memory:SIZE`: nginx's in-memory debug log. Lines go round a fixed buffer that
//! starts with `MEMLOG SIZE FILE:LINE` and is otherwise filled with spaces, so the last SIZE
//! bytes of a process's log can be read from its core file (`strings core | grep -A...`) or
//! with a debugger, at no cost in I/O.

/// One process's ring buffer.
#[derive(Debug)]
pub(super) struct MemoryLog {
    buf: Vec<u8>,
    /// Where the ring starts (after the header).
    start: usize,
    /// Bytes written since the start, so the next line goes at `start + written % ring`.
    written: usize,
}

impl MemoryLog {
    /// A buffer of `size` bytes whose header names the directive at `origin` (`FILE:LINE`).
    pub(super) fn new(size: usize, origin: &str) -> MemoryLog {
        let mut buf = format!("MEMLOG {size} {origin}\n").into_bytes();
        buf.truncate(size);
        let start = buf.len();
        buf.resize(size, b' ');
        MemoryLog {
            buf,
            start,
            written: 0,
        }
    }

    /// Appends `line`, wrapping round to the start of the ring (`ngx_log_memory_writer`).
    pub(super) fn write(&mut self, line: &[u8]) {
        let ring = self.buf.len() - self.start;
        if ring == 0 {
            return;
        }
        // A line longer than the ring keeps only its end.
        let line = &line[line.len().saturating_sub(ring)..];
        let at = self.start + self.written % ring;
        let first = line.len().min(self.buf.len() - at);
        self.buf[at..at + first].copy_from_slice(&line[..first]);
        let rest = &line[first..];
        self.buf[self.start..self.start + rest.len()].copy_from_slice(rest);
        self.written = self.written.wrapping_add(line.len());
    }

    /// The whole buffer, header included.
    #[cfg(test)]
    pub(super) fn contents(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_wrap_round_after_the_header() {
        let mut m = MemoryLog::new(20, "a:1");
        assert_eq!(m.contents(), b"MEMLOG 20 a:1\n      ");
        m.write(b"abcd\n");
        assert_eq!(&m.contents()[14..], b"abcd\n ");
        m.write(b"xyz\n");
        assert_eq!(&m.contents()[14..], b"yz\nd\nx");
        m.write(b"0123456789");
        assert_eq!(&m.contents()[14..], b"789456");
    }
}
