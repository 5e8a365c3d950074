//! The charset filter's configuration (`ngx_http_charset_filter_module.c`): `charset`,
//! `source_charset`, `override_charset`, `charset_types` and the `charset_map` tables, read
//! as nginx reads them, with its messages.

use std::rc::Rc;

use super::directives::block;
use super::error::ConfError;
use super::gzip_values::GzipTypes;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::values::{flag_arg, set_once};
use crate::vars::Template;

/// `charset` or `source_charset`: off, a charset by its index in [`Charsets::names`], or a
/// variable whose value names one per request.
#[derive(Clone, Debug, Default)]
pub enum CharsetSel {
    /// `off` (the default).
    #[default]
    Off,
    /// A name written in the configuration.
    Named(usize),
    /// `$variable`.
    Var(Rc<Template>),
}

/// Every charset name the configuration mentions (compared case-insensitively, the first
/// spelling kept) and the `charset_map` tables between them.
#[derive(Clone, Debug, Default)]
pub struct Charsets {
    /// The names, in first-seen order.
    pub names: Vec<String>,
    /// The `charset_map` blocks.
    pub tables: Vec<CharsetMap>,
}

/// One `charset_map SRC DST { ... }`: both directions.
#[derive(Clone, Debug)]
pub struct CharsetMap {
    /// Index of the source charset.
    pub src: usize,
    /// Index of the destination charset.
    pub dst: usize,
    /// The tables.
    pub kind: MapKind,
}

/// The tables of a [`CharsetMap`].
#[derive(Clone, Debug)]
pub enum MapKind {
    /// Between two 8-bit charsets: a byte for a byte each way (unmapped bytes above 127 are
    /// `?`, as nginx fills them).
    Bytes {
        /// Source byte to destination byte.
        src2dst: Box<[u8; 256]>,
        /// Destination byte to source byte.
        dst2src: Box<[u8; 256]>,
    },
    /// From an 8-bit charset to UTF-8 and back.
    Utf8 {
        /// The UTF-8 bytes of each source byte (`?` where unmapped).
        src2dst: Rc<Utf8Table>,
        /// Code points up to U+FFFF by page (`code >> 8`) to the source byte; a code point
        /// in no page, or 0 in its page, has none.
        dst2src: Rc<Pages>,
    },
}

/// The UTF-8 bytes of each byte of an 8-bit charset.
pub type Utf8Table = Vec<Vec<u8>>;

/// Code points up to U+FFFF by page (`code >> 8`) to a byte of an 8-bit charset.
pub type Pages = Vec<Option<Box<[u8; 256]>>>;

impl Charsets {
    /// The index of `name` (case-insensitive), if the configuration mentions it.
    pub fn find(&self, name: &[u8]) -> Option<usize> {
        self.names
            .iter()
            .position(|n| n.as_bytes().eq_ignore_ascii_case(name))
    }

    /// The index of `name`, added if new (`ngx_http_add_charset`).
    pub fn add(&mut self, name: &str) -> usize {
        match self.find(name.as_bytes()) {
            Some(i) => i,
            None => {
                self.names.push(name.to_string());
                self.names.len() - 1
            }
        }
    }

    /// The table that recodes from `src` to `dst`: the map and whether it is read from its
    /// destination side.
    pub fn table(&self, src: usize, dst: usize) -> Option<(&CharsetMap, bool)> {
        self.tables.iter().find_map(|t| {
            if t.src == src && t.dst == dst {
                Some((t, false))
            } else if t.src == dst && t.dst == src {
                Some((t, true))
            } else {
                None
            }
        })
    }
}

/// nginx's default `charset_types`.
pub fn default_charset_types() -> GzipTypes {
    GzipTypes::List(Rc::from(
        [
            "text/html",
            "text/xml",
            "text/plain",
            "text/vnd.wap.wml",
            "application/javascript",
            "application/rss+xml",
        ]
        .map(String::from)
        .to_vec(),
    ))
}

fn charset_arg(d: &Directive, shared: &mut Shared) -> Result<CharsetSel, ConfError> {
    let value = d.args.first().map_or("", |w| w.text.as_str());
    if value == "off" {
        return Ok(CharsetSel::Off);
    }
    if let Some(name) = value.strip_prefix('$') {
        let template = Template::compile_with(&format!("${name}"), &shared.user_vars)
            .map_err(|message| ConfError::at(d, message))?;
        return Ok(CharsetSel::Var(Rc::new(template)));
    }
    Ok(CharsetSel::Named(shared.charsets.add(value)))
}

/// `charset NAME|$var|off;`
pub(crate) fn charset(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let value = charset_arg(d, shared)?;
    set_once(&mut l.loc(d)?.charset, d, |_| Ok(value))
}

/// `source_charset NAME|$var|off;`
pub(crate) fn source_charset(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let value = charset_arg(d, shared)?;
    set_once(&mut l.loc(d)?.source_charset, d, |_| Ok(value))
}

/// `override_charset on|off;`
pub(crate) fn override_charset(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.override_charset, d, flag_arg)
}

/// `charset_types MIME...|*;` (as `gzip_types`: the first use at a level starts from
/// `text/html`).
pub(crate) fn charset_types(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    super::set_gzip::add_types(&mut l.loc(d)?.charset_types, d);
    Ok(())
}

/// nginx's `ngx_hextoi`: hex digits only, at least one.
fn hex(text: &str) -> Option<usize> {
    if text.is_empty() || text.len() > 8 {
        return None;
    }
    usize::from_str_radix(text, 16)
        .ok()
        .filter(|_| text.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `charset_map SRC DST { SRC_BYTE DST_CODE; ... }` (http only).
pub(crate) fn charset_map(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    if !matches!(l, Level::Http(_)) {
        return Err(ConfError::at(
            d,
            "\"charset_map\" directive is not allowed here",
        ));
    }
    let (Some(a), Some(b)) = (d.args.first(), d.args.get(1)) else {
        return Err(ConfError::at(d, "invalid number of arguments"));
    };
    let src = shared.charsets.add(&a.text);
    let dst = shared.charsets.add(&b.text);
    if src == dst {
        return Err(ConfError::at(
            d,
            format!(
                "\"charset_map\" between the same charsets \"{}\" and \"{}\"",
                a.text, b.text
            ),
        ));
    }
    if shared.charsets.table(src, dst).is_some() {
        return Err(ConfError::at(
            d,
            format!(
                "duplicate \"charset_map\" between \"{}\" and \"{}\"",
                a.text, b.text
            ),
        ));
    }
    let utf8 = b.text.eq_ignore_ascii_case("utf-8");
    let mut kind = if utf8 {
        let mut src2dst: Vec<Vec<u8>> = (0..=255u8)
            .map(|i| vec![if i < 128 { i } else { b'?' }])
            .collect();
        src2dst.truncate(256);
        let mut page0 = Box::new([0u8; 256]);
        for (i, slot) in page0.iter_mut().enumerate().take(128) {
            *slot = i as u8;
        }
        let mut dst2src: Vec<Option<Box<[u8; 256]>>> = vec![None; 256];
        dst2src[0] = Some(page0);
        MapKind::Utf8 {
            src2dst: Rc::new(src2dst),
            dst2src: Rc::new(dst2src),
        }
    } else {
        let mut table = Box::new([b'?'; 256]);
        for (i, slot) in table.iter_mut().enumerate().take(128) {
            *slot = i as u8;
        }
        MapKind::Bytes {
            src2dst: table.clone(),
            dst2src: table,
        }
    };
    for line in block(d) {
        if line.block.is_some() || line.args.len() != 1 {
            return Err(ConfError::at(line, "invalid parameters number"));
        }
        let value = &line.args[0].text;
        let from = hex(&line.name)
            .filter(|&n| n <= 255)
            .ok_or_else(|| ConfError::at(line, format!("invalid value \"{}\"", line.name)))?;
        let invalid = || ConfError::at(line, format!("invalid value \"{value}\""));
        match &mut kind {
            MapKind::Bytes { src2dst, dst2src } => {
                let to = hex(value).filter(|&n| n <= 255).ok_or_else(invalid)?;
                src2dst[from] = to as u8;
                dst2src[to] = from as u8;
            }
            MapKind::Utf8 { src2dst, dst2src } => {
                let bytes = value.as_bytes();
                let mut utf = Vec::with_capacity(bytes.len() / 2);
                for pair in bytes.chunks(2) {
                    let text = std::str::from_utf8(pair).map_err(|_| invalid())?;
                    let byte = hex(text).filter(|&n| n <= 255).ok_or_else(invalid)?;
                    utf.push(byte as u8);
                }
                let code = std::str::from_utf8(&utf)
                    .ok()
                    .and_then(|s| {
                        let mut chars = s.chars();
                        let c = chars.next()?;
                        chars.next().is_none().then_some(c as u32)
                    })
                    .filter(|&c| c <= 0xffff)
                    .ok_or_else(invalid)?;
                let (src2dst, dst2src) = (Rc::make_mut(src2dst), Rc::make_mut(dst2src));
                src2dst[from] = utf;
                let page = dst2src[(code >> 8) as usize].get_or_insert_with(|| Box::new([0; 256]));
                page[(code & 0xff) as usize] = from as u8;
            }
        }
    }
    shared.charsets.tables.push(CharsetMap { src, dst, kind });
    Ok(())
}

/// nginx's check after reading the configuration: a location that recodes between two
/// named charsets needs a `charset_map` between them.
pub(crate) fn check_recodes(
    charsets: &Charsets,
    pairs: impl Iterator<Item = (usize, usize)>,
) -> Result<(), ConfError> {
    for (src, dst) in pairs {
        if src == dst {
            continue;
        }
        if charsets.table(src, dst).is_none() {
            return Err(ConfError::bare(format!(
                "no \"charset_map\" between the charsets \"{}\" and \"{}\"",
                charsets.names[src], charsets.names[dst]
            )));
        }
    }
    Ok(())
}
