//! The bytes that open a gateway request (nginx's `create_request` of each module):
//!
//! - FastCGI: BEGIN_REQUEST (`FCGI_KEEP_CONN` with `fastcgi_keep_conn on`), one PARAMS
//!   record with every parameter (nginx refuses more than 65535 bytes of them), the empty
//!   PARAMS record, then the body in STDIN records of 32 KB ([`STDIN_RECORDS`]) and the
//!   empty STDIN record;
//! - uwsgi: the 4-byte packet header (`uwsgi_modifier1`, the variables' size,
//!   `uwsgi_modifier2`), the variables, `uwsgi_string`, then the body as it is;
//! - SCGI: a netstring of `CONTENT_LENGTH` first and the parameters, then the body.

use super::params::{self, Encoding};
use super::record;
use super::request::BodyShape;
use crate::config::cgi_values::{CgiConf, CgiParams, DEFAULT_UWSGI_MODIFIER};
use crate::upstream::protocol::Records;
use crate::vars::VarSource;

/// The largest parameter block FastCGI and uwsgi packets can carry (a 16-bit length).
const MAX_PARAMS: usize = 0xffff;

/// FastCGI's cut of a body read whole: STDIN records of 32 KB, padded, then the empty one.
pub const STDIN_RECORDS: Records = Records {
    max: record::STDIN_PIECE,
    before: stdin_before,
    end: stdin_end,
};

fn stdin_before(prev: Option<usize>, len: usize, out: &mut [u8; 16]) -> usize {
    let pad = prev.map_or(0, record::padding);
    out[..pad].fill(0);
    out[pad..pad + 8].copy_from_slice(&record::header(record::STDIN, len, record::padding(len)));
    pad + 8
}

fn stdin_end(prev: Option<usize>, out: &mut [u8; 16]) -> usize {
    let pad = prev.map_or(0, record::padding);
    out[..pad].fill(0);
    out[pad..pad + 8].copy_from_slice(&record::stdin_end());
    pad + 8
}

/// BEGIN_REQUEST, PARAMS (parameters and headers), the empty PARAMS, and the empty STDIN
/// when no body follows. `Err`: the parameters' length, over 65535.
pub(super) fn fastcgi<'a>(
    keep_conn: bool,
    params: Option<&CgiParams>,
    vars: &dyn VarSource,
    headers: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    body: BodyShape,
    out: &mut Vec<u8>,
) -> Result<(), usize> {
    out.extend_from_slice(&record::begin_request(keep_conn));
    let at = out.len();
    out.extend_from_slice(&[0; record::HEADER_LEN]);
    let empty = CgiParams::default();
    let params = params.unwrap_or(&empty);
    params::write_params(Encoding::FastCgi, params, vars, out);
    params::write_headers(Encoding::FastCgi, params, headers, out);
    let len = out.len() - at - record::HEADER_LEN;
    if len > MAX_PARAMS {
        return Err(len);
    }
    let pad = record::padding(len);
    out[at..at + record::HEADER_LEN].copy_from_slice(&record::header(record::PARAMS, len, pad));
    out.extend_from_slice(&[0u8; 8][..pad]);
    out.extend_from_slice(&record::header(record::PARAMS, 0, 0));
    if body == BodyShape::None {
        out.extend_from_slice(&record::stdin_end());
    }
    Ok(())
}

/// The uwsgi packet: header, variables, `uwsgi_string`. `Err`: the size, over 65535.
pub(super) fn uwsgi<'a>(
    conf: &CgiConf,
    params: Option<&CgiParams>,
    vars: &dyn VarSource,
    headers: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    out: &mut Vec<u8>,
) -> Result<(), usize> {
    out.extend_from_slice(&[0; 4]);
    let empty = CgiParams::default();
    let params = params.unwrap_or(&empty);
    params::write_params(Encoding::Uwsgi, params, vars, out);
    params::write_headers(Encoding::Uwsgi, params, headers, out);
    if let Some(s) = &conf.uwsgi_string {
        out.extend_from_slice(s);
    }
    let len = out.len() - 4;
    if len > MAX_PARAMS {
        return Err(len);
    }
    let size = (len as u16).to_le_bytes();
    out[..4].copy_from_slice(&[
        conf.modifier1.unwrap_or(DEFAULT_UWSGI_MODIFIER),
        size[0],
        size[1],
        conf.modifier2.unwrap_or(DEFAULT_UWSGI_MODIFIER),
    ]);
    Ok(())
}

/// Room kept before an SCGI netstring for its length and colon.
const NETSTRING_ROOM: usize = 21;

/// The SCGI netstring: `LEN:CONTENT_LENGTH\0N\0` then the parameters, then `,`.
pub(super) fn scgi<'a>(
    params: Option<&CgiParams>,
    vars: &dyn VarSource,
    headers: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    body: BodyShape,
    out: &mut Vec<u8>,
) -> Result<(), usize> {
    out.extend_from_slice(&[0; NETSTRING_ROOM]);
    let length = match body {
        BodyShape::Stored(n) => n,
        BodyShape::Streamed(n) => n.unwrap_or(0),
        BodyShape::None => 0,
    };
    out.extend_from_slice(b"CONTENT_LENGTH\0");
    super::client_head::push_decimal(out, length);
    out.push(0);
    let empty = CgiParams::default();
    let params = params.unwrap_or(&empty);
    params::write_params(Encoding::Scgi, params, vars, out);
    params::write_headers(Encoding::Scgi, params, headers, out);
    let len = out.len() - NETSTRING_ROOM;
    let mut room = [0u8; 20];
    let digits = super::client_head::decimal(len as u64, &mut room);
    let start = NETSTRING_ROOM - digits.len() - 1;
    out[start..start + digits.len()].copy_from_slice(digits);
    out[NETSTRING_ROOM - 1] = b':';
    out.drain(..start);
    out.push(b',');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_bodies_are_cut_into_padded_stdin_records() {
        let mut frame = [0u8; 16];
        let n = stdin_before(None, 5, &mut frame);
        assert_eq!(&frame[..n], &record::header(record::STDIN, 5, 3));
        let n = stdin_before(Some(5), 8, &mut frame);
        assert_eq!(&frame[..3], &[0, 0, 0]);
        assert_eq!(&frame[3..n], &record::header(record::STDIN, 8, 0));
        let n = stdin_end(Some(5), &mut frame);
        assert_eq!(n, 11);
        assert_eq!(&frame[3..n], &record::stdin_end());
    }
}
