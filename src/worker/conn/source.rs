//! Where a response's body comes from, after the head queued in the output buffer: nothing
//! more (`Fixed`: a small body went into the buffer with the head), a range of an open file,
//! or an upstream's response buffer. The writer ([`super::write`]) asks a source what it
//! has ([`Ready`]) and tells it what went; no source touches the socket.

use std::os::fd::AsRawFd;

use crate::http::source::Ready;

/// A byte range of an open file.
pub struct FileBody {
    /// The file (shared with the worker's open-file cache when that is on).
    pub file: std::rc::Rc<std::fs::File>,
    /// Next offset to send.
    pub pos: u64,
    /// End offset (exclusive).
    pub end: u64,
    /// Use `sendfile(2)` (else `pread` + `write`).
    pub sendfile: bool,
    /// `sendfile_max_chunk`: bytes per turn before yielding to other connections.
    pub max_chunk: u64,
    /// A multipart answer's parts after this one (the writer takes the next part's head
    /// and range when this one is sent).
    pub rest: Option<Box<crate::worker::multipart::RangeParts>>,
}

impl FileBody {
    /// What is left to send.
    pub fn ready(&self) -> Ready<'_> {
        if self.pos >= self.end {
            return Ready::End;
        }
        Ready::File {
            fd: self.file.as_raw_fd(),
            pos: self.pos,
            len: self.end - self.pos,
            sendfile: self.sendfile,
        }
    }
}

/// The response's body source.
pub enum Source {
    /// Everything is in the output buffer.
    Fixed,
    /// A file range follows the head.
    File(FileBody),
    /// The request's upstream (in [`super::Active::upstream`]) answers: its head is built
    /// when it arrives, its body is drained from the upstream's buffer.
    Upstream,
}

impl Source {
    /// Bytes per turn before other connections get theirs (`sendfile_max_chunk`; 0: no limit).
    pub fn max_chunk(&self) -> u64 {
        match self {
            Source::File(f) => f.max_chunk,
            _ => 0,
        }
    }
}
