//! `autoindex on`: nginx's HTML directory listing (`ngx_http_autoindex_module.c`, format
//! `html`), byte for byte: directories first, then files, each group in byte order of the
//! name; names starting with `.` hidden; names over 50 characters cut to 47 and `..&gt;`.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use crate::http::date::format_http_date_secs;

/// Width of the name column (`NGX_HTTP_AUTOINDEX_NAME_LEN`).
const NAME_COLUMN: usize = 50;

struct Item {
    name: Vec<u8>,
    dir: bool,
    size: u64,
    mtime: i64,
}

/// The listing of directory `path` shown as `uri`. `utc_offset_secs` is added to the
/// times (`autoindex_localtime on`); sizes are exact or nginx's rounded `K`/`M`/`G`.
pub fn listing(
    uri: &[u8],
    path: &[u8],
    exact_size: bool,
    utc_offset_secs: i64,
) -> io::Result<Vec<u8>> {
    let mut items = Vec::new();
    for entry in std::fs::read_dir(OsStr::from_bytes(path))? {
        let entry = entry?;
        let name = entry.file_name().as_bytes().to_vec();
        if name.first() == Some(&b'.') {
            continue;
        }
        // Followed like nginx's stat(); a dangling link is skipped.
        let Ok(meta) = std::fs::metadata(entry.path()) else {
            continue;
        };
        items.push(Item {
            name,
            dir: meta.is_dir(),
            size: meta.len(),
            mtime: meta.mtime(),
        });
    }
    items.sort_by(|a, b| b.dir.cmp(&a.dir).then_with(|| a.name.cmp(&b.name)));

    let mut out = Vec::with_capacity(256 + items.len() * 120);
    out.extend_from_slice(b"<html>\r\n<head><title>Index of ");
    escape_html(uri, &mut out);
    out.extend_from_slice(b"</title></head>\r\n<body>\r\n<h1>Index of ");
    escape_html(uri, &mut out);
    out.extend_from_slice(b"</h1><hr><pre><a href=\"../\">../</a>\r\n");
    for item in &items {
        line(item, exact_size, utc_offset_secs, &mut out);
    }
    out.extend_from_slice(b"</pre><hr></body>\r\n</html>\r\n");
    Ok(out)
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
