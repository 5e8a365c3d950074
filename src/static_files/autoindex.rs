//! `autoindex on`: nginx's directory listings (`ngx_http_autoindex_module.c`), byte for
//! byte, in its four formats. Directories first, then the rest, each group in byte order of
//! the name; names starting with `.` hidden; a link that points nowhere listed as what it
//! is (`other`). `html` cuts names over 50 characters to 47 and `..&gt;`; `xml` and `json`
//! give times in UTC and sizes in bytes; `jsonp` wraps the JSON in the `callback`
//! argument's name.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use crate::http::date::format_http_date_secs;

/// Width of the name column (`NGX_HTTP_AUTOINDEX_NAME_LEN`).
const NAME_COLUMN: usize = 50;
/// Longest `callback` name `jsonp` accepts.
pub const MAX_CALLBACK_LEN: usize = 128;

struct Item {
    name: Vec<u8>,
    dir: bool,
    file: bool,
    size: u64,
    mtime: i64,
}

/// How a listing is written.
#[derive(Clone, Copy, Debug)]
pub enum Format<'a> {
    /// `html`: sizes exact or rounded, times shifted by `utc_offset_secs`
    /// (`autoindex_localtime`).
    Html {
        /// `autoindex_exact_size`.
        exact_size: bool,
        /// Seconds added to the times.
        utc_offset_secs: i64,
    },
    /// `xml`
    Xml,
    /// `json`, or `jsonp` without a callback.
    Json,
    /// `jsonp` with this callback name (checked with [`valid_callback`]).
    Jsonp(&'a [u8]),
}

impl Format<'_> {
    /// The listing's `Content-Type`.
    pub fn content_type(&self) -> &'static [u8] {
        match self {
            Format::Html { .. } => b"text/html",
            Format::Xml => b"text/xml; charset=utf-8",
            Format::Json => b"application/json",
            Format::Jsonp(_) => b"application/javascript",
        }
    }
}

/// Whether a `callback` argument may name the `jsonp` function: letters, digits, `_` and
/// `.`, at most [`MAX_CALLBACK_LEN`] bytes (nginx answers 400 otherwise).
pub fn valid_callback(name: &[u8]) -> bool {
    name.len() <= MAX_CALLBACK_LEN
        && name
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
}

/// The listing of directory `path` shown as `uri`.
pub fn listing(uri: &[u8], path: &[u8], format: Format<'_>) -> io::Result<Vec<u8>> {
    let mut items = Vec::new();
    for entry in std::fs::read_dir(OsStr::from_bytes(path))? {
        let entry = entry?;
        let name = entry.file_name().as_bytes().to_vec();
        if name.first() == Some(&b'.') {
            continue;
        }
        // Followed like nginx's stat(); a link pointing nowhere is described by lstat(),
        // an entry we may not stat is left out.
        let meta = match std::fs::metadata(entry.path()) {
            Ok(meta) => meta,
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => continue,
            Err(_) => match std::fs::symlink_metadata(entry.path()) {
                Ok(meta) => meta,
                Err(_) => continue,
            },
        };
        items.push(Item {
            name,
            dir: meta.is_dir(),
            file: meta.is_file(),
            size: meta.len(),
            mtime: meta.mtime(),
        });
    }
    items.sort_by(|a, b| b.dir.cmp(&a.dir).then_with(|| a.name.cmp(&b.name)));
    Ok(match format {
        Format::Html {
            exact_size,
            utc_offset_secs,
        } => html(uri, &items, exact_size, utc_offset_secs),
        Format::Xml => xml(&items),
        Format::Json => json(&items, None),
        Format::Jsonp(callback) => json(&items, Some(callback)),
    })
}

fn html(uri: &[u8], items: &[Item], exact_size: bool, utc_offset_secs: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + items.len() * 120);
    out.extend_from_slice(b"<html>\r\n<head><title>Index of ");
    escape_html(uri, &mut out);
    out.extend_from_slice(b"</title></head>\r\n<body>\r\n<h1>Index of ");
    escape_html(uri, &mut out);
    out.extend_from_slice(b"</h1><hr><pre><a href=\"../\">../</a>\r\n");
    for item in items {
        line(item, exact_size, utc_offset_secs, &mut out);
    }
    out.extend_from_slice(b"</pre><hr></body>\r\n</html>\r\n");
    out
}

fn kind(item: &Item) -> &'static [u8] {
    if item.dir {
        b"directory"
    } else if item.file {
        b"file"
    } else {
        b"other"
    }
}

/// `ngx_http_autoindex_xml`.
fn xml(items: &[Item]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + items.len() * 96);
    out.extend_from_slice(b"<?xml version=\"1.0\"?>\r\n<list>\r\n");
    for item in items {
        let kind = kind(item);
        out.push(b'<');
        out.extend_from_slice(kind);
        out.extend_from_slice(b" mtime=\"");
        let mut date = [0u8; 29];
        format_http_date_secs(item.mtime, &mut date);
        // "Thu, 26 Nov 2026 01:44:42 GMT" → "2026-11-26T01:44:42Z"
        let month = month_number(&date[8..11]);
        out.extend_from_slice(&date[12..16]);
        out.extend_from_slice(format!("-{month:02}-").as_bytes());
        out.extend_from_slice(&date[5..7]);
        out.push(b'T');
        out.extend_from_slice(&date[17..25]);
        out.push(b'Z');
        if item.file {
            out.extend_from_slice(format!("\" size=\"{}", item.size).as_bytes());
        }
        out.extend_from_slice(b"\">");
        escape_html(&item.name, &mut out);
        out.extend_from_slice(b"</");
        out.extend_from_slice(kind);
        out.extend_from_slice(b">\r\n");
    }
    out.extend_from_slice(b"</list>\r\n");
    out
}

fn month_number(name: &[u8]) -> usize {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    MONTHS.iter().position(|m| *m == name).map_or(1, |i| i + 1)
}

/// `ngx_http_autoindex_json`, wrapped in `callback(...);` for `jsonp`.
fn json(items: &[Item], callback: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + items.len() * 96);
    if let Some(callback) = callback {
        out.extend_from_slice(b"/* callback */\r\n");
        out.extend_from_slice(callback);
        out.push(b'(');
    }
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"\r\n{ \"name\":\"");
        let start = out.len();
        out.extend_from_slice(&item.name);
        crate::log::escape::escape_json(&mut out, start);
        out.extend_from_slice(b"\", \"type\":\"");
        out.extend_from_slice(kind(item));
        out.extend_from_slice(b"\", \"mtime\":\"");
        let mut date = [0u8; 29];
        format_http_date_secs(item.mtime, &mut date);
        out.extend_from_slice(&date);
        if item.file {
            out.extend_from_slice(format!("\", \"size\":{}", item.size).as_bytes());
        } else {
            out.push(b'"');
        }
        out.extend_from_slice(b" }");
    }
    out.extend_from_slice(b"\r\n]");
    if callback.is_some() {
        out.extend_from_slice(b");");
    }
    out
}

fn line(item: &Item, exact_size: bool, utc_offset_secs: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(b"<a href=\"");
    escape_component(&item.name, out);
    if item.dir {
        out.push(b'/');
    }
    out.extend_from_slice(b"\">");
    let text = String::from_utf8_lossy(&item.name);
    let mut len = text.chars().count();
    if len > NAME_COLUMN {
        let cut: String = text.chars().take(NAME_COLUMN - 3).collect();
        escape_html(cut.as_bytes(), out);
        out.extend_from_slice(b"..&gt;</a>");
    } else {
        escape_html(&item.name, out);
        if item.dir && len < NAME_COLUMN {
            out.push(b'/');
            len += 1;
        }
        out.extend_from_slice(b"</a>");
        out.resize(out.len() + (NAME_COLUMN - len), b' ');
    }
    out.push(b' ');
    let mut date = [0u8; 29];
    format_http_date_secs(item.mtime + utc_offset_secs, &mut date);
    // "Thu, 26 Nov 2026 01:44:42 GMT" → "26-Nov-2026 01:44 "
    out.extend_from_slice(&date[5..7]);
    out.push(b'-');
    out.extend_from_slice(&date[8..11]);
    out.push(b'-');
    out.extend_from_slice(&date[12..16]);
    out.push(b' ');
    out.extend_from_slice(&date[17..22]);
    out.push(b' ');
    if exact_size {
        if item.dir {
            out.extend_from_slice(b"                  -");
        } else {
            out.extend_from_slice(format!("{:>19}", item.size).as_bytes());
        }
    } else if item.dir {
        out.extend_from_slice(b"      -");
    } else {
        out.extend_from_slice(human_size(item.size).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// nginx's rounded sizes: `%6i` plus `K`, `M` or `G`, or ` %6i` for small files.
fn human_size(length: u64) -> String {
    const K: u64 = 1024;
    let scaled = |unit: u64| length / unit + u64::from(length % unit > unit / 2 - 1);
    if length > K * K * K - 1 {
        format!("{:>6}G", scaled(K * K * K))
    } else if length > K * K - 1 {
        format!("{:>6}M", scaled(K * K))
    } else if length > 9999 {
        format!("{:>6}K", scaled(K))
    } else {
        format!(" {length:>6}")
    }
}

fn escape_html(src: &[u8], out: &mut Vec<u8>) {
    for &b in src {
        match b {
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'&' => out.extend_from_slice(b"&amp;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            _ => out.push(b),
        }
    }
}

/// `ngx_escape_uri(..., NGX_ESCAPE_URI_COMPONENT)`.
fn escape_component(src: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in src {
        if b.is_ascii_alphanumeric() || b"-._~!'()*".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_and_json_entries() {
        let items = [
            Item {
                name: b"d\"<".to_vec(),
                dir: true,
                file: false,
                size: 4096,
                mtime: 0,
            },
            Item {
                name: b"f".to_vec(),
                dir: false,
                file: true,
                size: 7,
                mtime: 86_400 * 31,
            },
        ];
        assert_eq!(
            String::from_utf8_lossy(&xml(&items)),
            "<?xml version=\"1.0\"?>\r\n<list>\r\n\
             <directory mtime=\"1970-01-01T00:00:00Z\">d&quot;&lt;</directory>\r\n\
             <file mtime=\"1970-02-01T00:00:00Z\" size=\"7\">f</file>\r\n</list>\r\n"
        );
        assert_eq!(
            String::from_utf8_lossy(&json(&items, Some(b"cb"))),
            "/* callback */\r\ncb([\r\n\
             { \"name\":\"d\\\"<\", \"type\":\"directory\", \"mtime\":\"Thu, 01 Jan 1970 00:00:00 GMT\" },\r\n\
             { \"name\":\"f\", \"type\":\"file\", \"mtime\":\"Sun, 01 Feb 1970 00:00:00 GMT\", \"size\":7 }\r\n]);"
        );
        assert_eq!(String::from_utf8_lossy(&json(&[], None)), "[\r\n]");
        assert!(valid_callback(b"jQuery.cb_1") && !valid_callback(b"a(b)"));
        assert!(!valid_callback(&[b'a'; 129]));
    }

    #[test]
    fn sizes_round_like_nginx() {
        assert_eq!(human_size(9999), "   9999");
        assert_eq!(human_size(10000), "    10K");
        assert_eq!(human_size(1024 * 1024 + 600 * 1024), "     2M");
    }

    #[test]
    fn long_names_are_cut() {
        let item = Item {
            name: vec![b'a'; 60],
            dir: false,
            file: true,
            size: 1,
            mtime: 0,
        };
        let mut out = Vec::new();
        line(&item, true, 0, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(&format!(">{}..&gt;</a> 01-Jan-1970 00:00 ", "a".repeat(47))));
        assert!(text.ends_with("                  1\r\n"));
    }
}
