//! Just enough of glob(3) for `include conf.d/*.conf`: `*`, `?`, `[...]` per path component,
//! results sorted, unreadable directories skipped, no match is not an error.

use std::path::{Component, Path, PathBuf};

/// Whether `pattern` needs globbing (nginx tests for any of `*?[`).
pub fn has_magic(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Matches one `[...]` class at the start of `pat` against `ch`; returns whether it matched
/// and the class's length, or `None` when the bracket is unterminated (then `[` is literal).
fn match_class(pat: &[u8], ch: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pat.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let &c = pat.get(i)?;
        if c == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = if c == b'\\' {
            i += 1;
            *pat.get(i)?
        } else {
            c
        };
        if pat.get(i + 1) == Some(&b'-') && pat.get(i + 2).is_some_and(|&h| h != b']') {
            let hi = pat[i + 2];
            matched |= lo <= ch && ch <= hi;
            i += 3;
        } else {
            matched |= lo == ch;
            i += 1;
        }
    }
}

/// fnmatch(3) for one path component (no `/` in either argument).
pub fn matches(pat: &[u8], name: &[u8]) -> bool {
    // A leading dot must be matched literally, as glob(3) does for hidden files.
    if name.first() == Some(&b'.') && pat.first() != Some(&b'.') {
        return false;
    }
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match pat.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
                continue;
            }
            Some(b'?') => Some(1),
            Some(b'[') => match match_class(&pat[p..], name[n]) {
                Some((true, len)) => Some(len),
                Some((false, _)) => None,
                None => (name[n] == b'[').then_some(1),
            },
            Some(b'\\') if p + 1 < pat.len() => (pat[p + 1] == name[n]).then_some(2),
            Some(&c) => (c == name[n]).then_some(1),
            None => None,
        };
        match (step, star) {
            (Some(len), _) => {
                p += len;
                n += 1;
            }
            (None, Some((sp, sn))) => {
                p = sp + 1;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            (None, None) => return false,
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Expands an absolute (or relative) pattern into the sorted list of existing paths.
pub fn expand(pattern: &Path) -> Vec<PathBuf> {
    let mut candidates = vec![PathBuf::new()];
    for component in pattern.components() {
        let text = component.as_os_str().to_string_lossy();
        let magic = matches!(component, Component::Normal(_)) && has_magic(&text);
        if !magic {
            for c in &mut candidates {
                c.push(component.as_os_str());
            }
            continue;
        }
        let mut next = Vec::new();
        for dir in &candidates {
            let listing = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir.as_path()
            };
            let Ok(entries) = std::fs::read_dir(listing) else {
                continue;
            };
            let mut names: Vec<_> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .filter(|name| matches(text.as_bytes(), name.as_encoded_bytes()))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|name| dir.join(name)));
        }
        candidates = next;
    }
    candidates.retain(|c| std::fs::symlink_metadata(c).is_ok());
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_basics() {
        assert!(matches(b"*.conf", b"a.conf"));
        assert!(!matches(b"*.conf", b"a.conf.bak"));
        assert!(!matches(b"*.conf", b".hidden.conf"));
        assert!(matches(b".*.conf", b".hidden.conf"));
        assert!(matches(b"?.c*f", b"a.conf"));
        assert!(matches(b"[ab]x", b"bx"));
        assert!(!matches(b"[!ab]x", b"bx"));
        assert!(matches(b"[a-c]*", b"conf"));
        assert!(matches(b"[]]", b"]"));
        assert!(matches(b"a[", b"a["));
        assert!(matches(b"\\*", b"*"));
        assert!(!matches(b"\\*", b"x"));
        assert!(matches(b"*", b"anything"));
        assert!(matches(b"a*b*c", b"aXbYbZc"));
    }

    #[test]
    fn expands_sorted_and_skips_missing() {
        let dir = std::env::temp_dir().join(format!("portico-glob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for name in ["b.conf", "a.conf", "c.txt", "sub/d.conf"] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        let got = expand(&dir.join("*.conf"));
        assert_eq!(got, vec![dir.join("a.conf"), dir.join("b.conf")]);
        assert_eq!(expand(&dir.join("*/d.conf")), vec![dir.join("sub/d.conf")]);
        assert!(expand(&dir.join("nope/*.conf")).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
