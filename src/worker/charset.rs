//! nginx's charset header filter (`ngx_http_charset_header_filter`): which charset a
//! response's `Content-Type` names, and whether its body is recoded, decided once per
//! response for every source (files, generated pages, error pages, upstreams).

use crate::config::LocSettings;
use crate::config::charset::{CharsetSel, Charsets};

/// The values of `charset $var` and `source_charset $var` for the current response,
/// evaluated where the request's variables are at hand (the head builder has none).
#[derive(Debug, Default)]
pub struct CharsetValues {
    /// `charset`'s value, when it is a variable.
    pub dst: Vec<u8>,
    /// `source_charset`'s value, when it is a variable.
    pub src: Vec<u8>,
    /// Whether the two were evaluated for this response.
    pub evaluated: bool,
}

/// What the filter does to a response.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict<'a> {
    /// The MIME type's part of `Content-Type` (nginx's `content_type_len`).
    pub mime: &'a [u8],
    /// The charset written after it (`None`: none, for a 301/302).
    pub charset: Option<&'a [u8]>,
    /// The body is recoded from the first charset to the second (indexes in
    /// [`Charsets::names`]).
    pub recode: Option<(usize, usize)>,
}

impl Verdict<'_> {
    /// Appends the `Content-Type` value the verdict makes.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.mime);
        if let Some(name) = self.charset {
            out.extend_from_slice(b"; charset=");
            out.extend_from_slice(name);
        }
    }
}

/// The facts of a response the filter reads.
pub struct Facts<'a> {
    /// Its status.
    pub status: u16,
    /// Its whole `Content-Type` value.
    pub content_type: &'a [u8],
    /// Whether it has a non-empty `Content-Encoding` (never recoded then).
    pub encoded: bool,
    /// An upstream's `X-Accel-Charset` (nginx's `r->headers_out.override_charset`).
    pub override_charset: Option<&'a [u8]>,
}

/// Splits a `Content-Type` value as nginx's `ngx_http_upstream_copy_content_type` does: the
/// part before `; charset=`, and the charset without its quotes.
pub fn split_content_type(value: &[u8]) -> (&[u8], Option<&[u8]>) {
    let mime = crate::http::encoding::mime_type(value);
    if mime.len() == value.len() {
        return (value, None);
    }
    let rest = &value[mime.len()..];
    let at = rest
        .windows(8)
        .position(|w| w.eq_ignore_ascii_case(b"charset="))
        .map_or(rest.len(), |i| i + 8);
    let mut name = &rest[at..];
    if let Some(n) = name.strip_prefix(b"\"") {
        name = n;
    }
    if let Some(n) = name.strip_suffix(b"\"") {
        name = n;
    }
    (mime, Some(name))
}

/// A charset as the filter resolves it: its name and its index, if the configuration
/// names it.
struct Resolved<'a> {
    name: &'a [u8],
    index: Option<usize>,
}

fn resolve<'a>(
    sel: &'a CharsetSel,
    value: &'a [u8],
    evaluated: bool,
    charsets: &'a Charsets,
) -> Option<Resolved<'a>> {
    match sel {
        CharsetSel::Off => None,
        CharsetSel::Named(i) => Some(Resolved {
            name: charsets.names.get(*i)?.as_bytes(),
            index: Some(*i),
        }),
        CharsetSel::Var(_) if !evaluated => None,
        CharsetSel::Var(_) => Some(Resolved {
            name: value,
            index: charsets.find(value),
        }),
    }
}

/// nginx's charset header filter for a main request: `None` leaves `Content-Type` as it is.
pub fn decide<'a>(
    loc: &'a LocSettings,
    charsets: &'a Charsets,
    values: &'a CharsetValues,
    facts: &Facts<'a>,
) -> Option<Verdict<'a>> {
    if facts.content_type.is_empty() {
        return None;
    }
    let (mime, own) = split_content_type(facts.content_type);
    let dst = match facts.override_charset {
        // ngx_http_destination_charset: the upstream's charset comes first, whatever
        // `charset`, `override_charset` and `charset_types` say; it must be one the
        // configuration names.
        Some(name) => match charsets.find(name) {
            Some(index) => Resolved {
                name: charsets.names.get(index)?.as_bytes(),
                index: Some(index),
            },
            None => {
                crate::elog!(
                    crate::log::LogLevel::Error,
                    "unknown charset \"{}\" to override",
                    String::from_utf8_lossy(name)
                );
                return None;
            }
        },
        None => {
            if matches!(loc.charset, CharsetSel::Off) {
                return None;
            }
            match own {
                Some(name) if !name.is_empty() => {
                    if !loc.override_charset {
                        return None;
                    }
                }
                _ => {
                    if !loc.charset_types.matches(Some(mime)) {
                        return None;
                    }
                }
            }
            resolve(&loc.charset, &values.dst, values.evaluated, charsets)?
        }
    };
    let own = own.filter(|n| !n.is_empty());
    // nginx's ngx_http_set_charset: no charset on a redirect (NN 4.x kept it for the
    // next page).
    let redirect = matches!(facts.status, 301 | 302);
    let named = |truncate: bool| -> Option<Verdict<'a>> {
        if own.is_some() && !truncate {
            // The header filter writes the upstream's value as it came.
            return None;
        }
        Some(Verdict {
            mime,
            charset: (!redirect).then_some(dst.name),
            recode: None,
        })
    };
    let src = match own {
        Some(name) => Resolved {
            name,
            index: charsets.find(name),
        },
        None => match resolve(&loc.source_charset, &values.src, values.evaluated, charsets) {
            None => return named(false),
            Some(r) => r,
        },
    };
    let no_map = || {
        crate::elog!(
            crate::log::LogLevel::Error,
            "no \"charset_map\" between the charsets \"{}\" and \"{}\"",
            String::from_utf8_lossy(src.name),
            String::from_utf8_lossy(dst.name)
        );
        None
    };
    match (src.index, dst.index) {
        (Some(s), Some(d)) if s == d => named(true),
        (Some(s), Some(d)) => {
            if facts.encoded {
                return None;
            }
            if charsets.table(s, d).is_none() {
                return no_map();
            }
            let mut v = named(true)?;
            v.recode = Some((s, d));
            Some(v)
        }
        (s, d) => {
            let same = s == d
                && src.name.len() >= dst.name.len()
                && src.name[..dst.name.len()].eq_ignore_ascii_case(dst.name);
            if same { named(false) } else { no_map() }
        }
    }
}
