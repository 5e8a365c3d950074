//! `add_trailer`: once a response's body has ended, its trailers are made (their values
//! read now, as nginx's trailers filter reads them at the last buffer: `$msec`,
//! `$upstream_response_length`, ...) and sent with the last chunk.

use super::*;
use crate::vars::{Var, VarSource};

impl<'c> Conn<'c> {
    /// When the body filter waits for the trailers: makes them and ends the body; true
    /// if it did.
    pub(super) fn end_with_trailers(&mut self, shared: &Shared<'c>) -> bool {
        let conn = crate::worker::request_vars::ConnInfo::of(self);
        let Some(a) = self.active.as_deref() else {
            return false;
        };
        if !a.filter.awaits_trailers() {
            return false;
        }
        let Some(req) = a.req.as_ref() else {
            return false;
        };
        let vars = a.vars(&conn, req, shared);
        let src = crate::rewrite::WithScript {
            ctx: &a.route.script,
            inner: &vars,
        };
        let listed = crate::http::expires::applies_to_status(req.status);
        let mut lines = Vec::new();
        let mut value = Vec::new();
        for t in req.loc.add_trailer.iter().filter(|t| listed || t.always) {
            value.clear();
            t.value.eval(
                &Made {
                    lines: &lines,
                    inner: &src,
                },
                &mut value,
            );
            if value.is_empty() {
                continue;
            }
            lines.extend_from_slice(t.name.as_bytes());
            lines.extend_from_slice(b": ");
            lines.extend_from_slice(&value);
            lines.extend_from_slice(b"\r\n");
        }
        if let Some(a) = self.active.as_deref_mut() {
            a.filter.end_with_trailers(&lines);
        }
        true
    }
}

/// `$sent_trailer_NAME` while trailers are made: the lines made so far (the last of a
/// name, as nginx's variable finds it), in front of the request's variables.
struct Made<'a> {
    lines: &'a [u8],
    inner: &'a dyn VarSource,
}

impl VarSource for Made<'_> {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        let Var::SentTrailer(name) = var else {
            return self.inner.var(var, out);
        };
        let found = self
            .lines
            .split(|&b| b == b'\n')
            .filter_map(|line| {
                let line = line.strip_suffix(b"\r")?;
                let colon = memchr::memchr(b':', line)?;
                crate::vars::header_matches(name, &line[..colon]).then(|| {
                    let v = &line[colon + 1..];
                    v.strip_prefix(b" ").unwrap_or(v)
                })
            })
            .next();
        match found {
            Some(v) => {
                out.extend_from_slice(v);
                true
            }
            None => false,
        }
    }
}
