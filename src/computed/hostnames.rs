//! A table of host names with nginx's wildcards, as `map ... { hostnames; }` and
//! `valid_referers` build it (`ngx_hash_add_key` with `NGX_HASH_WILDCARD_KEY`, looked up by
//! `ngx_hash_find_combined`).
//!
//! Keys are exact names, leading wildcards (`*.example.com` for the subdomains only,
//! `.example.com` for the name and its subdomains) and trailing wildcards (`www.example.*`).
//! A lookup tries the exact name, then the longest matching leading wildcard, then the
//! longest matching trailing one, as nginx's wildcard hashes do. Everything is compared
//! ASCII case-insensitively: keys are stored lowercase and callers pass lowercase names.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Why a key was refused (nginx's `NGX_DECLINED` and `NGX_BUSY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddError {
    /// `invalid hostname or wildcard "..."`: two `*`, `..`, or a `*` elsewhere.
    Invalid,
    /// `conflicting parameter "..."`: the key, or one it overlaps, is already there.
    Conflict,
}

/// How a leading wildcard matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Head {
    /// `*.example.com`: subdomains only.
    SubdomainsOnly,
    /// `.example.com`: the name itself and its subdomains.
    WithName,
}

/// Host names with wildcards, each with a value.
#[derive(Clone, Debug)]
pub struct HostTable<V> {
    /// Exact names.
    exact: HashMap<Box<[u8]>, V>,
    /// Leading wildcards by the name after `*.` or `.` (`example.com`).
    head: HashMap<Box<[u8]>, (V, Head)>,
    /// Trailing wildcards by the name before `*`, dot included (`www.example.`).
    tail: HashMap<Box<[u8]>, V>,
    /// Names an exact key may not take: the exact keys and the names `.x` keys cover
    /// (nginx's `keys_hash`).
    taken: std::collections::HashSet<Box<[u8]>>,
}

impl<V> Default for HostTable<V> {
    fn default() -> Self {
        HostTable {
            exact: HashMap::new(),
            head: HashMap::new(),
            tail: HashMap::new(),
            taken: std::collections::HashSet::new(),
        }
    }
}

/// The forms a key may take, as `ngx_hash_add_key` tells them apart.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyForm<'k> {
    /// An exact name.
    Exact(&'k [u8]),
    /// `*.name` (false) or `.name` (true), with the name after the wildcard.
    Head(&'k [u8], bool),
    /// `prefix.*`, with the prefix and its dot.
    Tail(&'k [u8]),
}

/// Classifies `key` as `ngx_hash_add_key` does with wildcards allowed.
pub fn key_form(key: &[u8]) -> Result<KeyForm<'_>, AddError> {
    let stars = key.iter().filter(|&&c| c == b'*').count();
    if stars > 1 || key.windows(2).any(|w| w == b"..") || key.contains(&0) {
        return Err(AddError::Invalid);
    }
    if key.len() > 1 && key[0] == b'.' {
        return Ok(KeyForm::Head(&key[1..], true));
    }
    if key.len() > 2 {
        if key.starts_with(b"*.") {
            return Ok(KeyForm::Head(&key[2..], false));
        }
        if key.ends_with(b".*") {
            return Ok(KeyForm::Tail(&key[..key.len() - 1]));
        }
    }
    if stars > 0 {
        return Err(AddError::Invalid);
    }
    Ok(KeyForm::Exact(key))
}

fn lower(bytes: &[u8]) -> Box<[u8]> {
    bytes.to_ascii_lowercase().into_boxed_slice()
}

impl<V> HostTable<V> {
    /// Adds `key` (any case) with `value`; with `wildcards` false every key is exact (a
    /// `map` without `hostnames`).
    pub fn add(&mut self, key: &[u8], value: V, wildcards: bool) -> Result<(), AddError> {
        let form = if wildcards {
            key_form(key)?
        } else {
            KeyForm::Exact(key)
        };
        match form {
            KeyForm::Exact(name) => {
                let name = lower(name);
                if !self.taken.insert(name.clone()) {
                    return Err(AddError::Conflict);
                }
                self.exact.insert(name, value);
            }
            KeyForm::Head(name, with_name) => {
                let name = lower(name);
                if with_name && self.taken.contains(&name) {
                    return Err(AddError::Conflict);
                }
                let Entry::Vacant(slot) = self.head.entry(name.clone()) else {
                    return Err(AddError::Conflict);
                };
                let form = if with_name {
                    Head::WithName
                } else {
                    Head::SubdomainsOnly
                };
                slot.insert((value, form));
                if with_name {
                    self.taken.insert(name);
                }
            }
            KeyForm::Tail(prefix) => match self.tail.entry(lower(prefix)) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(_) => return Err(AddError::Conflict),
            },
        }
        Ok(())
    }

    /// The value for `name` (lowercase): exact, else the longest leading wildcard, else the
    /// longest trailing wildcard. An empty name matches only an exact empty key.
    pub fn find(&self, name: &[u8]) -> Option<&V> {
        if let Some(v) = self.exact.get(name) {
            return Some(v);
        }
        if name.is_empty() {
            return None;
        }
        if !self.head.is_empty() {
            // The name itself (for `.name`), then each shorter suffix after a dot.
            if let Some((v, Head::WithName)) = self.head.get(name) {
                return Some(v);
            }
            for (i, _) in name.iter().enumerate().filter(|(_, c)| **c == b'.') {
                if let Some((v, _)) = self.head.get(&name[i + 1..]) {
                    return Some(v);
                }
            }
        }
        if !self.tail.is_empty() {
            for (i, _) in name.iter().enumerate().rev().filter(|(_, c)| **c == b'.') {
                if let Some(v) = self.tail.get(&name[..=i]) {
                    return Some(v);
                }
            }
        }
        None
    }

    /// Whether no key was added.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.head.is_empty() && self.tail.is_empty()
    }

    /// The exact keys (for nginx's hash-size checks).
    pub fn exact_keys(&self) -> impl Iterator<Item = &[u8]> {
        self.exact.keys().map(|k| &**k)
    }

    /// The leading wildcards as nginx's wildcard hash stores them: labels reversed,
    /// `*.example.com` as `com.example.` and `.example.com` as `com.example`.
    pub fn head_keys(&self) -> Vec<Vec<u8>> {
        self.head
            .iter()
            .map(|(name, (_, form))| {
                let mut key: Vec<u8> = Vec::with_capacity(name.len() + 1);
                for (n, label) in name.rsplit(|&c| c == b'.').enumerate() {
                    if n > 0 {
                        key.push(b'.');
                    }
                    key.extend_from_slice(label);
                }
                if *form == Head::SubdomainsOnly {
                    key.push(b'.');
                }
                key
            })
            .collect()
    }

    /// The trailing wildcards as nginx's wildcard hash stores them: `www.example.*` as
    /// `www.example`.
    pub fn tail_keys(&self) -> Vec<Vec<u8>> {
        self.tail
            .keys()
            .map(|prefix| prefix[..prefix.len().saturating_sub(1)].to_vec())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(keys: &[&str]) -> HostTable<usize> {
        let mut t = HostTable::default();
        for (i, k) in keys.iter().enumerate() {
            t.add(k.as_bytes(), i, true)
                .unwrap_or_else(|e| panic!("{k}: {e:?}"));
        }
        t
    }

    fn find(t: &HostTable<usize>, name: &str) -> Option<usize> {
        t.find(name.as_bytes()).copied()
    }

    #[test]
    fn exact_then_longest_leading_then_longest_trailing() {
        let t = table(&[
            "example.com",
            "*.example.com",
            ".dot.example.com",
            "example.*",
            "www.example.*",
            "*.com",
        ]);
        assert_eq!(find(&t, "example.com"), Some(0));
        assert_eq!(find(&t, "foo.example.com"), Some(1));
        assert_eq!(find(&t, "a.b.example.com"), Some(1));
        assert_eq!(find(&t, "dot.example.com"), Some(2));
        assert_eq!(find(&t, "www.dot.example.com"), Some(2));
        assert_eq!(find(&t, "other.com"), Some(5));
        assert_eq!(find(&t, "com"), None);
        assert_eq!(find(&t, "example.org"), Some(3));
        assert_eq!(find(&t, "www.example.org"), Some(4));
        assert_eq!(find(&t, "www.example"), None);
        assert_eq!(find(&t, "example"), None);
        assert_eq!(find(&t, ""), None);
    }

    #[test]
    fn subdomain_wildcard_does_not_match_the_name_itself() {
        let t = table(&["*.example.com", "*.com"]);
        // nginx falls back to the shorter wildcard.
        assert_eq!(find(&t, "example.com"), Some(1));
        let t = table(&["*.example.com"]);
        assert_eq!(find(&t, "example.com"), None);
    }

    #[test]
    fn keys_are_case_insensitive() {
        let t = table(&["Example.COM", "*.Foo.org", "WWW.*"]);
        assert_eq!(find(&t, "example.com"), Some(0));
        assert_eq!(find(&t, "a.foo.org"), Some(1));
        assert_eq!(find(&t, "www.x"), Some(2));
    }

    #[test]
    fn refusals_as_nginx() {
        let mut t: HostTable<()> = HostTable::default();
        for bad in ["www.*.com", "*", "a..b", "**.a", "*a.com"] {
            assert_eq!(
                t.add(bad.as_bytes(), (), true),
                Err(AddError::Invalid),
                "{bad}"
            );
        }
        // Without wildcards the same text is an exact key.
        assert_eq!(t.add(b"www.*.com", (), false), Ok(()));
        assert_eq!(t.add(b"a.com", (), true), Ok(()));
        assert_eq!(t.add(b"A.com", (), true), Err(AddError::Conflict));
        assert_eq!(t.add(b".a.com", (), true), Err(AddError::Conflict));
        assert_eq!(t.add(b".b.com", (), true), Ok(()));
        assert_eq!(t.add(b"b.com", (), true), Err(AddError::Conflict));
        assert_eq!(t.add(b"*.b.com", (), true), Err(AddError::Conflict));
        assert_eq!(t.add(b"*.c.com", (), true), Ok(()));
        assert_eq!(t.add(b"c.com", (), true), Ok(()));
        assert_eq!(t.add(b"w.*", (), true), Ok(()));
        assert_eq!(t.add(b"W.*", (), true), Err(AddError::Conflict));
        assert_eq!(t.add(b".", (), true), Ok(()));
    }

    #[test]
    fn wildcard_keys_in_nginx_form() {
        let t = table(&["*.example.com", ".a.org", "www.x.*"]);
        let mut head = t.head_keys();
        head.sort();
        assert_eq!(head, [b"com.example.".to_vec(), b"org.a".to_vec()]);
        assert_eq!(t.tail_keys(), [b"www.x".to_vec()]);
    }
}
