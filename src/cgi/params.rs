//! A request's parameters as FastCGI, uwsgi and SCGI send them: the location's `*_param`
//! list, evaluated (an `if_not_empty` one with an empty value is left out), then the
//! client's header lines as `HTTP_*` parameters (`*_pass_request_headers`), except those a
//! parameter replaces — nginx's `create_request` of each module. Values are evaluated
//! straight into the request buffer; nothing is allocated.

use crate::config::cgi_values::CgiParams;
use crate::vars::VarSource;

use super::record;

/// How name-value pairs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// FastCGI: name length, value length (1 byte up to 127, else 4), name, value.
    FastCgi,
    /// uwsgi: name length (2 bytes, little-endian), name, value length, value.
    Uwsgi,
    /// SCGI: name, NUL, value, NUL.
    Scgi,
}

/// Appends one pair: `name_len` bytes written by `name`, then the value `value` writes.
/// `skip_empty`: an empty value writes nothing at all.
pub fn pair(
    enc: Encoding,
    out: &mut Vec<u8>,
    name_len: usize,
    name: impl FnOnce(&mut Vec<u8>),
    value: impl FnOnce(&mut Vec<u8>),
    skip_empty: bool,
) {
    let start = out.len();
    match enc {
        Encoding::FastCgi => {
            record::push_length(out, name_len);
            // One byte for the value's length, as most values are short; a long one
            // (over 127 bytes) moves the name and value three bytes on below.
            let at = out.len();
            out.push(0);
            name(out);
            let value_start = out.len();
            value(out);
            let len = out.len() - value_start;
            if skip_empty && len == 0 {
                out.truncate(start);
                return;
            }
            if len > 127 {
                let n = (len as u32 & 0x7fff_ffff) | 0x8000_0000;
                let end = out.len();
                out.extend_from_slice(&[0; 3]);
                out.copy_within(at + 1..end, at + 4);
                out[at..at + 4].copy_from_slice(&n.to_be_bytes());
            } else {
                out[at] = len as u8;
            }
        }
        Encoding::Uwsgi => {
            out.extend_from_slice(&(name_len as u16).to_le_bytes());
            name(out);
            let at = out.len();
            out.extend_from_slice(&[0; 2]);
            value(out);
            let len = out.len() - at - 2;
            if skip_empty && len == 0 {
                out.truncate(start);
                return;
            }
            out[at..at + 2].copy_from_slice(&(len as u16).to_le_bytes());
        }
        Encoding::Scgi => {
            name(out);
            out.push(0);
            let value_start = out.len();
            value(out);
            if skip_empty && out.len() == value_start {
                out.truncate(start);
                return;
            }
            out.push(0);
        }
    }
}

/// Appends the location's parameters, evaluated against `vars`.
pub fn write_params(enc: Encoding, params: &CgiParams, vars: &dyn VarSource, out: &mut Vec<u8>) {
    for p in &params.list {
        pair(
            enc,
            out,
            p.name.len(),
            |o| o.extend_from_slice(&p.name),
            |o| p.value.eval(vars, o),
            p.if_not_empty,
        );
    }
}

/// Appends the client's header lines as `HTTP_NAME` parameters (uppercase, `-` as `_`),
/// leaving out those a parameter of `params` replaces.
pub fn write_headers<'a>(
    enc: Encoding,
    params: &CgiParams,
    headers: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    out: &mut Vec<u8>,
) {
    for (name, value) in headers {
        if params.replaces_header(name) {
            continue;
        }
        pair(
            enc,
            out,
            5 + name.len(),
            |o| {
                o.extend_from_slice(b"HTTP_");
                // Copied whole, then changed in place: cheaper than a push per byte.
                let at = o.len();
                o.extend_from_slice(name);
                for b in &mut o[at..] {
                    *b = if *b == b'-' {
                        b'_'
                    } else {
                        b.to_ascii_uppercase()
                    };
                }
            },
            |o| o.extend_from_slice(value),
            false,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cgi_values::CgiParam;
    use crate::vars::{Template, Var};

    struct Vars;
    impl VarSource for Vars {
        fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
            match var {
                Var::Uri => out.extend_from_slice(b"/index.php"),
                Var::Args => {}
                _ => return false,
            }
            true
        }
    }

    fn params() -> CgiParams {
        let mut p = CgiParams::default();
        for (name, value, if_not_empty) in [
            ("SCRIPT_NAME", "$uri", false),
            ("QUERY_STRING", "$args", false),
            ("EMPTY_SKIPPED", "$args", true),
            ("LONG", &"x".repeat(200)[..], false),
            ("HTTP_HOST", "fixed", false),
        ] {
            let param = CgiParam {
                name: name.as_bytes().to_vec(),
                value: Template::compile(value).unwrap(),
                if_not_empty,
            };
            p.push(param, false);
        }
        p.push(
            CgiParam {
                name: b"HTTP_COOKIE".to_vec(),
                value: Template::compile("").unwrap(),
                if_not_empty: false,
            },
            true,
        );
        p
    }

    #[test]
    fn fastcgi_pairs() {
        let p = params();
        let mut out = Vec::new();
        write_params(Encoding::FastCgi, &p, &Vars, &mut out);
        let mut want = vec![11u8, 10];
        want.extend_from_slice(b"SCRIPT_NAME/index.php");
        want.extend_from_slice(&[12, 0]);
        want.extend_from_slice(b"QUERY_STRING");
        want.extend_from_slice(&[4, 0x80, 0, 0, 200]);
        want.extend_from_slice(b"LONG");
        want.extend(std::iter::repeat_n(b'x', 200));
        want.extend_from_slice(&[9, 5]);
        want.extend_from_slice(b"HTTP_HOSTfixed");
        assert_eq!(out, want);
        let mut out = Vec::new();
        let headers: [(&[u8], &[u8]); 3] =
            [(b"Host", b"a"), (b"User-Agent", b"t"), (b"Cookie", b"c=1")];
        write_headers(Encoding::FastCgi, &p, headers.into_iter(), &mut out);
        let mut want = vec![15u8, 1];
        want.extend_from_slice(b"HTTP_USER_AGENTt");
        assert_eq!(out, want);
    }

    #[test]
    fn uwsgi_and_scgi_pairs() {
        let mut p = CgiParams::default();
        p.push(
            CgiParam {
                name: b"A".to_vec(),
                value: Template::compile("$uri").unwrap(),
                if_not_empty: false,
            },
            false,
        );
        let mut out = Vec::new();
        write_params(Encoding::Uwsgi, &p, &Vars, &mut out);
        assert_eq!(out, b"\x01\x00A\x0a\x00/index.php");
        let mut out = Vec::new();
        write_params(Encoding::Scgi, &p, &Vars, &mut out);
        assert_eq!(out, b"A\0/index.php\0");
    }
}
