//! One header line, byte by byte, after nginx's `ngx_http_parse_header_line`.
//!
//! httparse's header parser is not used: it refuses what nginx takes — control bytes (but
//! NUL) in a value, a line without a colon (a name with an empty value), names with bytes
//! outside the token set (nginx drops those lines under `ignore_invalid_headers`), CR CR LF
//! line ends, and more headers than a fixed array holds — and it trims tabs around a value,
//! which nginx keeps. Which names are valid is [`super::request`]'s business.

use super::error::HttpError;

/// What starts the buffer given to [`parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeaderLine {
    /// A header line of `len` bytes (line end included); `name` and `value` are
    /// `(start, end)` offsets into it. The value has no spaces around it and is empty
    /// (at the line end) when there is no colon.
    Field {
        name: (usize, usize),
        value: (usize, usize),
        len: usize,
    },
    /// The empty line that ends the head, `len` bytes.
    End { len: usize },
}

/// Parses the header line at the start of `buf`. `Ok(None)`: incomplete so far.
///
/// Errors (400), as nginx: a NUL anywhere; a line that starts with a blank or a colon
/// (obsolete folding, empty name); a control byte, space or DEL in a name; a CR not followed
/// by LF (CRs may repeat before it).
pub(crate) fn parse(buf: &[u8]) -> Result<Option<HeaderLine>, HttpError> {
    use HttpError::BadRequest;

    match buf.first() {
        None => return Ok(None),
        Some(b'\n') => return Ok(Some(HeaderLine::End { len: 1 })),
        Some(b'\r') => {
            return match buf.get(1) {
                None => Ok(None),
                Some(b'\n') => Ok(Some(HeaderLine::End { len: 2 })),
                Some(_) => Err(BadRequest),
            };
        }
        Some(_) => {}
    }

    // The name: anything but controls, space, DEL and ':' (the caller drops odd names).
    let mut i = 0;
    let name_end = loop {
        let Some(&ch) = buf.get(i) else {
            return Ok(None);
        };
        match ch {
            b':' if i > 0 => break i,
            // No colon: a name with an empty value.
            b'\r' | b'\n' if i > 0 => break i,
            c if c <= 0x20 || c == 0x7f || c == b':' => return Err(BadRequest),
            _ => i += 1,
        }
    };

    // The value: spaces (not tabs) around it are not part of it; a NUL is refused as soon
    // as it arrives, like any byte nginx refuses.
    if buf.get(i) == Some(&b':') {
        i += 1;
    }
    let rest = buf.get(i..).unwrap_or_default();
    let eol = memchr::memchr2(b'\r', b'\n', rest);
    let raw_value = rest.get(..eol.unwrap_or(rest.len())).unwrap_or_default();
    if memchr::memchr(0, raw_value).is_some() {
        return Err(BadRequest);
    }
    let Some(eol) = eol else {
        return Ok(None);
    };
    let line_end = i + eol;
    let value = match raw_value.iter().position(|&b| b != b' ') {
        Some(first) => {
            let last = raw_value.iter().rposition(|&b| b != b' ').unwrap_or(first);
            (i + first, i + last + 1)
        }
        None => (line_end, line_end),
    };
    i = line_end;

    // CR* LF
    while buf.get(i) == Some(&b'\r') {
        i += 1;
    }
    match buf.get(i) {
        None => Ok(None),
        Some(b'\n') => Ok(Some(HeaderLine::Field {
            name: (0, name_end),
            value,
            len: i + 1,
        })),
        Some(_) => Err(BadRequest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, value, rest) of a complete field line.
    fn field(buf: &[u8]) -> (&[u8], &[u8], &[u8]) {
        match parse(buf) {
            Ok(Some(HeaderLine::Field { name, value, len })) => {
                (&buf[name.0..name.1], &buf[value.0..value.1], &buf[len..])
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    #[test]
    fn fields_and_the_end() {
        assert_eq!(field(b"Host: a\r\nX"), (&b"Host"[..], &b"a"[..], &b"X"[..]));
        assert_eq!(field(b"Host:a\nX"), (&b"Host"[..], &b"a"[..], &b"X"[..]));
        assert_eq!(parse(b"\r\nbody"), Ok(Some(HeaderLine::End { len: 2 })));
        assert_eq!(parse(b"\nbody"), Ok(Some(HeaderLine::End { len: 1 })));
    }

    #[test]
    fn values_as_nginx_delimits_them() {
        assert_eq!(field(b"X:   a b  \r\n").1, b"a b");
        assert_eq!(field(b"X:\ta\t\r\n").1, b"\ta\t");
        assert_eq!(field(b"X: a:b\r\n").1, b"a:b");
        assert_eq!(field(b"X: \x01\x1b\x7f\xff\r\n").1, b"\x01\x1b\x7f\xff");
        assert_eq!(field(b"X:\r\n").1, b"");
        assert_eq!(field(b"X:    \r\n").1, b"");
        // No colon: an empty value.
        assert_eq!(
            field(b"X-No-Colon\r\n"),
            (&b"X-No-Colon"[..], &b""[..], &b""[..])
        );
        // CR CR LF ends a line too.
        assert_eq!(field(b"X: a\r\r\nY"), (&b"X"[..], &b"a"[..], &b"Y"[..]));
    }

    #[test]
    fn odd_names_are_returned_for_the_caller_to_judge() {
        assert_eq!(field(b"X@\xffY_Z: 1\r\n").0, b"X@\xffY_Z");
    }

    #[test]
    fn what_nginx_refuses() {
        for bad in [
            &b" X: a\r\n"[..],
            b"\tX: a\r\n",
            b": a\r\n",
            b"X : a\r\n",
            b"X\t: a\r\n",
            b"X\x01: a\r\n",
            b"X\x7f: a\r\n",
            b"X\0: a\r\n",
            b"X: a\0\r\n",
            b"X: a \0\r\n",
            b"X: a\rb\r\n",
            b"\rX",
        ] {
            assert_eq!(
                parse(bad),
                Err(HttpError::BadRequest),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn incomplete_lines_need_more() {
        for partial in [
            &b""[..],
            b"\r",
            b"X",
            b"X:",
            b"X: a",
            b"X: a\r",
            b"X: a\r\r",
        ] {
            assert_eq!(parse(partial), Ok(None), "{partial:?}");
        }
    }
}
