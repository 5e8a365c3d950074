//! Settings of the connection's writer and of the request-body directives that go
//! with it (nginx's core and headers modules): `limit_rate`, `limit_rate_after`,
//! `add_trailer`, `client_body_in_file_only`, `client_body_in_single_buffer`; with
//! nginx's checks and messages.

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::set_loc::add_header_arg;
use super::set_rewrite::template;
use super::values::{flag_arg, parse_size, set_once, size_arg};
use crate::vars::{Template, VarSource};

/// A size that may hold variables (`ngx_http_set_complex_value_size_slot`): parsed at
/// load when it has none, else at each request.
#[derive(Clone, Debug)]
pub enum SizeValue {
    /// A size known at load.
    Fixed(u64),
    /// Evaluated per request; a value that is not a size counts as 0 (with nginx's
    /// `invalid size` error line).
    Var(Template),
}

impl SizeValue {
    /// The value for a request: `Err(text)` when the variables made something that is not
    /// a size (the caller logs it, and nginx then uses 0).
    pub fn eval(&self, src: &dyn VarSource) -> Result<u64, Vec<u8>> {
        match self {
            SizeValue::Fixed(n) => Ok(*n),
            SizeValue::Var(t) => {
                let mut out = Vec::new();
                t.eval(src, &mut out);
                std::str::from_utf8(&out)
                    .ok()
                    .and_then(parse_size)
                    .ok_or(out)
            }
        }
    }
}

/// `client_body_in_file_only on|clean|off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BodyInFile {
    /// The body goes to a file only when it does not fit `client_body_buffer_size`.
    #[default]
    Off,
    /// Always in a file, kept after the request.
    On,
    /// Always in a file, removed after the request.
    Clean,
}

fn size_value(d: &Directive, shared: &Shared) -> Result<SizeValue, ConfError> {
    let t = template(d, d.arg(0), shared)?;
    if t.is_literal().is_some() {
        return Ok(SizeValue::Fixed(size_arg(d, 0)?));
    }
    Ok(SizeValue::Var(t))
}

/// `limit_rate RATE;` (variables allowed, 1.17.0)
pub(crate) fn limit_rate(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let v = size_value(d, shared)?;
    set_once(&mut l.loc(d)?.limit_rate, d, |_| Ok(Some(v)))
}

/// `limit_rate_after SIZE;` (variables allowed, 1.17.0)
pub(crate) fn limit_rate_after(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let v = size_value(d, shared)?;
    set_once(&mut l.loc(d)?.limit_rate_after, d, |_| Ok(Some(v)))
}

/// `add_trailer NAME VALUE [always];` (repeatable; a level's list replaces its parent's).
pub(crate) fn add_trailer(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let trailer = add_header_arg(d, shared)?;
    l.loc(d)?
        .add_trailer
        .get_or_insert_with(Vec::new)
        .push(trailer);
    Ok(())
}

/// `client_body_in_file_only on|clean|off;`
pub(crate) fn client_body_in_file_only(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.client_body_in_file_only, d, |d| {
        match d.arg(0) {
            "off" => Ok(BodyInFile::Off),
            "on" => Ok(BodyInFile::On),
            "clean" => Ok(BodyInFile::Clean),
            other => Err(ConfError::at(
                d,
                format!(
                    "invalid value \"{other}\" in \"{}\" directive, it must be \"on\", \"clean\" or \"off\"",
                    d.name
                ),
            )),
        }
    })
}

/// `client_body_in_single_buffer on|off;` (a body in memory is always one buffer in
/// Portico: checked and kept, with nothing else to change).
pub(crate) fn client_body_in_single_buffer(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.client_body_in_single_buffer, d, flag_arg)
}
