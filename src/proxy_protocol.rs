//! The PROXY protocol header a load balancer (HAProxy, an NLB, LVS) sends before the
//! client's bytes on a `listen ... proxy_protocol` socket, read as nginx 1.22 reads it
//! (`ngx_proxy_protocol_read`): version 1 (text) and version 2 (binary; TLVs skipped), from
//! the first read of the connection. A malformed header closes the connection, after
//! nginx's log line.

use std::net::{Ipv4Addr, Ipv6Addr};

/// What the balancer said about the connection (`$proxy_protocol_*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// `$proxy_protocol_addr`: the client address as sent (v1) or formatted (v2).
    pub src_addr: String,
    /// `$proxy_protocol_port`
    pub src_port: u16,
    /// `$proxy_protocol_server_addr`
    pub dst_addr: String,
    /// `$proxy_protocol_server_port`
    pub dst_port: u16,
}

/// How reading the header went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Read {
    /// A header of this many bytes; `None` when it carried no addresses (`UNKNOWN`, `LOCAL`,
    /// another family): the variables are then empty.
    Done(usize, Option<Header>),
    /// Not a header nginx takes: log this line (nginx's text) and close.
    Broken(String),
}

const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
const V2_HEADER: usize = 16;

/// Reads the header at the start of `buf` (what the first read brought).
pub fn read(buf: &[u8]) -> Read {
    if buf.len() >= V2_HEADER && buf.starts_with(V2_SIGNATURE) {
        return read_v2(buf);
    }
    let broken = || {
        Read::Broken(format!(
            "broken header: \"{}\"",
            String::from_utf8_lossy(buf)
        ))
    };
    if buf.len() < 8 || !buf.starts_with(b"PROXY ") {
        return broken();
    }
    let rest = &buf[6..];
    if rest.starts_with(b"UNKNOWN") {
        // The rest of the line is skipped.
        let line = &rest[7..];
        return match line.windows(2).position(|w| w == b"\r\n") {
            Some(i) => Read::Done(6 + 7 + i + 2, None),
            None => broken(),
        };
    }
    if rest.len() < 5
        || !rest.starts_with(b"TCP")
        || !matches!(rest[3], b'4' | b'6')
        || rest[4] != b' '
    {
        return broken();
    }
    let mut p = 6 + 5;
    let Some((src_addr, next)) = read_addr(buf, p) else {
        return broken();
    };
    p = next;
    let Some((dst_addr, next)) = read_addr(buf, p) else {
        return broken();
    };
    p = next;
    let Some((src_port, next)) = read_port(buf, p, b' ') else {
        return broken();
    };
    p = next;
    let Some((dst_port, next)) = read_port(buf, p, b'\r') else {
        return broken();
    };
    p = next;
    if buf.get(p) != Some(&b'\n') {
        return broken();
    }
    Read::Done(
        p + 1,
        Some(Header {
            src_addr,
            src_port,
            dst_addr,
            dst_port,
        }),
    )
}

/// An address up to a space: hex digits, `.` and `:` only (`ngx_proxy_protocol_read_addr`).
fn read_addr(buf: &[u8], from: usize) -> Option<(String, usize)> {
    let len = buf.get(from..)?.iter().position(|&c| c == b' ')?;
    let addr = &buf[from..from + len];
    if !addr
        .iter()
        .all(|&c| c == b':' || c == b'.' || c.is_ascii_hexdigit())
    {
        return None;
    }
    Some((String::from_utf8_lossy(addr).into_owned(), from + len + 1))
}

/// A decimal port up to `sep` (`ngx_proxy_protocol_read_port`).
fn read_port(buf: &[u8], from: usize, sep: u8) -> Option<(u16, usize)> {
    let len = buf.get(from..)?.iter().position(|&c| c == sep)?;
    let digits = &buf[from..from + len];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) || digits.len() > 5 {
        return None;
    }
    let n: u32 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let port = u16::try_from(n).ok()?;
    Some((port, from + len + 1))
}

fn read_v2(buf: &[u8]) -> Read {
    let version = buf[12] >> 4;
    if version != 2 {
        return Read::Broken(format!("unknown PROXY protocol version: {version}"));
    }
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let body = &buf[V2_HEADER..];
    if body.len() < len {
        return Read::Broken("header is too large".to_string());
    }
    let end = V2_HEADER + len;
    let body = &body[..len];
    let (command, transport, family) = (buf[12] & 0x0f, buf[13] & 0x0f, buf[13] >> 4);
    // Only PROXY over STREAM carries addresses nginx reads; the rest is skipped whole.
    if command != 1 || transport != 1 {
        return Read::Done(end, None);
    }
    let header = match family {
        1 if body.len() >= 12 => {
            let ip = |o: usize| Ipv4Addr::new(body[o], body[o + 1], body[o + 2], body[o + 3]);
            Header {
                src_addr: ip(0).to_string(),
                dst_addr: ip(4).to_string(),
                src_port: u16::from_be_bytes([body[8], body[9]]),
                dst_port: u16::from_be_bytes([body[10], body[11]]),
            }
        }
        2 if body.len() >= 36 => {
            let ip = |o: usize| {
                let mut a = [0u8; 16];
                a.copy_from_slice(&body[o..o + 16]);
                Ipv6Addr::from(a)
            };
            Header {
                src_addr: ip(0).to_string(),
                dst_addr: ip(16).to_string(),
                src_port: u16::from_be_bytes([body[32], body[33]]),
                dst_port: u16::from_be_bytes([body[34], body[35]]),
            }
        }
        // nginx fails the connection without a log line when the block is too short.
        1 | 2 => return Read::Broken(String::new()),
        _ => return Read::Done(end, None),
    };
    Read::Done(end, Some(header))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(version_command: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut b = V2_SIGNATURE.to_vec();
        b.push(version_command);
        b.push(family);
        b.extend_from_slice(&(body.len() as u16).to_be_bytes());
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn version_1() {
        let buf = b"PROXY TCP4 192.0.2.1 192.0.2.2 123 5678\r\nGET /";
        let Read::Done(n, Some(h)) = read(buf) else {
            panic!("{:?}", read(buf))
        };
        assert_eq!(&buf[n..], b"GET /");
        assert_eq!((h.src_addr.as_str(), h.src_port), ("192.0.2.1", 123));
        assert_eq!((h.dst_addr.as_str(), h.dst_port), ("192.0.2.2", 5678));
        let buf = b"PROXY TCP6 2001:Db8::1 2001:Db8::2 123 5678\r\n";
        assert!(
            matches!(read(buf), Read::Done(n, Some(ref h)) if n == buf.len() && h.src_addr == "2001:Db8::1")
        );
        assert_eq!(read(b"PROXY UNKNOWN\r\nGET"), Read::Done(15, None));
        assert_eq!(read(b"PROXY UNKNOWN 1 2 3 4 5 6\r\n"), Read::Done(27, None));
        for bad in [
            &b"GET / HTTP/1.0\r\n"[..],
            b"PROXY TCP4 192.0.2.1 192.0.2.2 123 99999\r\n",
            b"PROXY TCP4 192.0.2.x 192.0.2.2 1 2\r\n",
            b"PROXY TCP5 1.1.1.1 1.1.1.1 1 2\r\n",
            b"PROXY TCP4 1.1.1.1 1.1.1.1 1 2\rX",
            b"PROXY TCP4 1.1.1.1",
            b"PROXY UNKNOWN",
        ] {
            let Read::Broken(line) = read(bad) else {
                panic!("{bad:?}")
            };
            assert!(line.starts_with("broken header: \""), "{line}");
        }
    }

    #[test]
    fn version_2() {
        let mut body = vec![192, 0, 2, 1, 192, 0, 2, 2, 0, 123, 0x16, 0x2e];
        let buf = v2(0x21, 0x11, &body);
        let Read::Done(n, Some(h)) = read(&buf) else {
            panic!()
        };
        assert_eq!(n, buf.len());
        assert_eq!(
            (h.src_addr.as_str(), h.src_port, h.dst_port),
            ("192.0.2.1", 123, 5678)
        );
        // TLVs are skipped.
        body.extend_from_slice(&[0; 9]);
        let buf = v2(0x21, 0x11, &body);
        assert!(matches!(read(&buf), Read::Done(n, Some(_)) if n == buf.len()));
        let mut six = vec![0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        six.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        six.extend_from_slice(&[0, 123, 0x16, 0x2e]);
        let Read::Done(_, Some(h)) = read(&v2(0x21, 0x21, &six)) else {
            panic!()
        };
        assert_eq!(h.src_addr, "2001:db8::1");
        // LOCAL, and an unknown family: skipped, no addresses.
        assert_eq!(read(&v2(0x20, 0x00, &[])), Read::Done(16, None));
        assert_eq!(read(&v2(0x21, 0x41, &[1, 2, 3, 4])), Read::Done(20, None));
        let Read::Broken(line) = read(&v2(0x11, 0x11, &body)) else {
            panic!()
        };
        assert_eq!(line, "unknown PROXY protocol version: 1");
        let mut cut = v2(0x21, 0x11, &body);
        cut.truncate(20);
        assert_eq!(read(&cut), Read::Broken("header is too large".into()));
    }
}
