//! `multipart/byteranges`: several ranges of a file in one 206 answer, as nginx's range
//! filter makes it (`ngx_http_range_multipart_header` and its body filter): each part is
//! `CRLF--BOUNDARY CRLF Content-Type: TYPE CRLF Content-Range: bytes S-E/SIZE CRLF CRLF`
//! and the bytes, and the answer ends with `CRLF--BOUNDARY-- CRLF`; the boundary is
//! nginx's 20-digit temp number.
//!
//! A file the cache holds in memory is answered in one piece; others go out part by part:
//! the writer sends a part's bytes from the file (sendfile or read) and then takes the
//! next part's head from [`RangeParts`].

use std::cell::Cell;

/// The parts after the one being sent, for the writer.
#[derive(Debug)]
pub struct RangeParts {
    /// The parts still to send, last first: each part's head and its bytes (`start`,
    /// `end` exclusive).
    pending: Vec<(Vec<u8>, u64, u64)>,
    /// The closing boundary.
    trailer: Vec<u8>,
}

impl RangeParts {
    /// The next part: appends its head to `out` and gives its range; at the end, appends
    /// the closing boundary (once) and gives `None`. Returns how many bytes were added to
    /// `out` too, for the request's byte count.
    pub fn next(&mut self, out: &mut Vec<u8>) -> (Option<(u64, u64)>, usize) {
        match self.pending.pop() {
            Some((head, start, end)) => {
                out.extend_from_slice(&head);
                (Some((start, end)), head.len())
            }
            None => {
                let trailer = std::mem::take(&mut self.trailer);
                out.extend_from_slice(&trailer);
                (None, trailer.len())
            }
        }
    }
}

/// A multipart answer laid out: its `Content-Type` value, its length, and its bytes
/// around the file's.
pub struct Multipart {
    /// `multipart/byteranges; boundary=...`
    pub content_type: Vec<u8>,
    /// The whole body's length.
    pub length: u64,
    /// Each part's head with its range, in order.
    parts: Vec<(Vec<u8>, u64, u64)>,
    trailer: Vec<u8>,
}

thread_local! {
    /// nginx's `ngx_temp_number`, per worker.
    static BOUNDARY: Cell<u64> = const { Cell::new(0) };
}

impl Multipart {
    /// Lays out `ranges` of a file of `size` bytes of type `file_type`.
    pub fn new(ranges: &[(u64, u64)], size: u64, file_type: &[u8]) -> Multipart {
        let boundary = BOUNDARY.with(|b| {
            let n = b.get();
            b.set(n.wrapping_add(1));
            format!("{n:020}")
        });
        let mut parts = Vec::with_capacity(ranges.len());
        let mut length = 0u64;
        for &(start, end) in ranges {
            let mut head = Vec::with_capacity(96 + file_type.len());
            head.extend_from_slice(b"\r\n--");
            head.extend_from_slice(boundary.as_bytes());
            if !file_type.is_empty() {
                head.extend_from_slice(b"\r\nContent-Type: ");
                head.extend_from_slice(file_type);
            }
            head.extend_from_slice(b"\r\nContent-Range: bytes ");
            head.extend_from_slice(format!("{start}-{}/{size}\r\n\r\n", end - 1).as_bytes());
            length += head.len() as u64 + (end - start);
            parts.push((head, start, end));
        }
        let trailer = format!("\r\n--{boundary}--\r\n").into_bytes();
        length += trailer.len() as u64;
        Multipart {
            content_type: format!("multipart/byteranges; boundary={boundary}").into_bytes(),
            length,
            parts,
            trailer,
        }
    }

    /// The whole body from `content`, the file's bytes in memory.
    pub fn body_from(&self, content: &[u8]) -> Option<Vec<u8>> {
        let mut body = Vec::with_capacity(self.length as usize);
        for (head, start, end) in &self.parts {
            body.extend_from_slice(head);
            body.extend_from_slice(content.get(*start as usize..*end as usize)?);
        }
        body.extend_from_slice(&self.trailer);
        Some(body)
    }

    /// Each part's head with its range, in order, and the closing boundary.
    pub fn into_parts(self) -> (Vec<crate::upstream::response_buffer::FilePart>, Vec<u8>) {
        (self.parts, self.trailer)
    }

    /// Splits the answer for sending from the file: the first part's head (to queue after
    /// the response head), its range, and the rest for the writer.
    pub fn into_first(self) -> (Vec<u8>, (u64, u64), RangeParts) {
        let mut parts = self.parts;
        parts.reverse();
        let (head, start, end) = parts.pop().unwrap_or_default();
        let rest = RangeParts {
            pending: parts,
            trailer: self.trailer,
        };
        (head, (start, end), rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_nginx_s() {
        let m = Multipart::new(&[(0, 2), (5, 6)], 10, b"text/plain");
        let boundary = String::from_utf8_lossy(&m.content_type)
            .trim_start_matches("multipart/byteranges; boundary=")
            .to_string();
        assert_eq!(boundary.len(), 20);
        let body = m.body_from(b"0123456789").unwrap_or_default();
        let expected = format!(
            "\r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n01\
             \r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 5-5/10\r\n\r\n5\
             \r\n--{boundary}--\r\n"
        );
        assert_eq!(String::from_utf8_lossy(&body), expected);
        assert_eq!(m.length, body.len() as u64);
        let (head, first, mut rest) = m.into_first();
        assert!(head.ends_with(b"0-1/10\r\n\r\n"));
        assert_eq!(first, (0, 2));
        let mut out = Vec::new();
        assert_eq!(rest.next(&mut out).0, Some((5, 6)));
        assert_eq!(rest.next(&mut out).0, None);
        assert!(out.ends_with(format!("{boundary}--\r\n").as_bytes()));
    }
}
