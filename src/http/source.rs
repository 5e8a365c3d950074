//! What a response body offers its connection's writer, one piece at a time: bytes in
//! memory, a range of an open file, nothing yet, or its end. A source (a file, an upstream's
//! buffer) says what it has with [`Ready`] and is told how much went with `consume`; it
//! never writes a socket itself. A filter (gzip, charset) would sit between the two with the
//! same shape, and a rate limit is the writer sending less than is ready.

use std::os::fd::RawFd;

/// What a body source has for the writer now.
#[derive(Debug, PartialEq, Eq)]
pub enum Ready<'a> {
    /// These bytes, in memory.
    Bytes(&'a [u8]),
    /// `len` bytes of the open file `fd` from offset `pos`.
    File {
        /// The file.
        fd: RawFd,
        /// Where its next byte is.
        pos: u64,
        /// How many bytes are ready.
        len: u64,
        /// Send them with `sendfile(2)` (else `pread` and write).
        sendfile: bool,
    },
    /// Nothing now; more comes later (the upstream has not sent it yet).
    Pending,
    /// The body is complete.
    End,
}
