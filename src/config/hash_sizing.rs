//! nginx's hash-table tuning knobs (`map_hash_max_size`, `referer_hash_bucket_size`, ...):
//! Portico's lookups do not use nginx's hash tables, so the knobs change nothing at run
//! time, but a configuration must pass or fail `-t` as it does with nginx. This module
//! replays the checks of `ngx_hash_init` and `ngx_hash_wildcard_init` for a table's keys:
//! the same errors (`could not build map_hash, you should increase map_hash_bucket_size:
//! 64`) and the same warning when no size up to `*_max_size` fits.

/// nginx's `ngx_cacheline_size` on the machines Portico runs on (x86-64, arm64).
pub const CACHELINE: usize = 64;

const POINTER: usize = 8;

/// `ngx_align(n, CACHELINE)`, as nginx rounds a `*_bucket_size`.
pub fn align_bucket(n: u64) -> usize {
    let n = usize::try_from(n).unwrap_or(usize::MAX / 2);
    n.div_ceil(CACHELINE).saturating_mul(CACHELINE)
}

/// One hash table's knobs, `name` as nginx names the table (`map_hash`).
#[derive(Clone, Copy, Debug)]
pub struct HashKnobs<'n> {
    /// `map_hash`, `referer_hash`, ...
    pub name: &'n str,
    /// `*_max_size`.
    pub max_size: usize,
    /// `*_bucket_size`, already aligned.
    pub bucket_size: usize,
}

/// `ngx_hash(key, c)`: the hash nginx sizes its tables with (keys are lowercase here).
fn hash_key(key: &[u8]) -> u64 {
    key.iter()
        .fold(0u64, |h, &c| h.wrapping_mul(31).wrapping_add(u64::from(c)))
}

/// `NGX_HASH_ELT_SIZE`: a key's room in a bucket.
fn elt_size(len: usize) -> usize {
    POINTER + (len + 2).div_ceil(POINTER) * POINTER
}

impl HashKnobs<'_> {
    fn increase_max(&self) -> String {
        format!(
            "could not build {0}, you should increase {0}_max_size: {1}",
            self.name, self.max_size
        )
    }

    /// `ngx_hash_init` for `keys`: an error as nginx words it, or warnings (nginx's "could
    /// not build optimal ..." when no size up to `max_size` fits the buckets).
    pub fn check(&self, keys: &[&[u8]], warnings: &mut Vec<String>) -> Result<(), String> {
        let name = self.name;
        if self.max_size == 0 {
            return Err(self.increase_max());
        }
        if self.bucket_size > 65536 - CACHELINE {
            return Err(format!(
                "could not build {name}, too large {name}_bucket_size: {}",
                self.bucket_size
            ));
        }
        if keys
            .iter()
            .any(|k| self.bucket_size < elt_size(k.len()) + POINTER)
        {
            return Err(format!(
                "could not build {name}, you should increase {name}_bucket_size: {}",
                self.bucket_size
            ));
        }
        let hashes: Vec<(u64, usize)> = keys
            .iter()
            .map(|k| (hash_key(k), elt_size(k.len())))
            .collect();
        let bucket = self.bucket_size - POINTER;
        let nelts = keys.len();
        let mut start = (nelts / (bucket / (2 * POINTER))).max(1);
        if self.max_size > 10000 && nelts > 0 && self.max_size / nelts < 100 {
            start = self.max_size - 1000;
        }
        // Sized per try: a huge max_size with few keys fits long before it.
        let mut test = Vec::new();
        let fits = |size: usize, test: &mut Vec<usize>| {
            test.clear();
            test.resize(size, 0);
            hashes.iter().all(|&(h, len)| {
                let slot = &mut test[(h % size as u64) as usize];
                *slot += len;
                *slot <= bucket
            })
        };
        let size = match (start..=self.max_size).find(|&size| fits(size, &mut test)) {
            Some(size) => size,
            None => {
                warnings.push(format!(
                    "could not build optimal {name}, you should increase either \
                     {name}_max_size: {} or {name}_bucket_size: {}; ignoring {name}_bucket_size",
                    self.max_size, self.bucket_size
                ));
                self.max_size
            }
        };
        test.clear();
        test.resize(size, POINTER);
        for &(h, len) in &hashes {
            let slot = &mut test[(h % size as u64) as usize];
            *slot += len;
            if *slot > 65536 - CACHELINE {
                return Err(self.increase_max());
            }
        }
        Ok(())
    }

    /// `ngx_hash_wildcard_init` for wildcard keys in nginx's form (`com.example.` for
    /// `*.example.com`, `www.example` for `www.example.*`): one table per label level.
    pub fn check_wildcards(
        &self,
        mut keys: Vec<Vec<u8>>,
        warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        keys.sort_by(|a, b| dns_cmp(a, b));
        let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        self.wildcard_level(&keys, warnings)
    }

    fn wildcard_level(&self, names: &[&[u8]], warnings: &mut Vec<String>) -> Result<(), String> {
        let mut level: Vec<&[u8]> = Vec::with_capacity(names.len());
        let mut n = 0;
        while n < names.len() {
            let key = names[n];
            let label = key.iter().position(|&c| c == b'.');
            let dot = label.is_some();
            let label = label.unwrap_or(key.len());
            level.push(&key[..label]);
            let len = if dot { label + 1 } else { label };
            let mut next: Vec<&[u8]> = Vec::new();
            if key.len() != len {
                next.push(&key[len..]);
            }
            let mut i = n + 1;
            while i < names.len() {
                let other = names[i];
                if strncmp(key, other, len) {
                    break;
                }
                if !dot && other.len() > len && other[len] != b'.' {
                    break;
                }
                next.push(other.get(label + 1..).unwrap_or_default());
                i += 1;
            }
            if !next.is_empty() {
                self.wildcard_level(&next, warnings)?;
            }
            n = i;
        }
        self.check(&level, warnings)
    }
}

/// Whether the first `len` bytes of two NUL-terminated strings differ (`ngx_strncmp != 0`).
fn strncmp(a: &[u8], b: &[u8], len: usize) -> bool {
    for i in 0..len {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return true;
        }
        if x == 0 {
            return false;
        }
    }
    false
}

/// `ngx_dns_strcmp`: case-insensitive, `.` before every other byte.
fn dns_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let rank = |c: Option<&u8>| match c {
        None => 0u16,
        Some(b'.') => u16::from(b' '),
        Some(c) => u16::from(c.to_ascii_lowercase()),
    };
    let n = a.len().max(b.len());
    for i in 0..=n {
        let (x, y) = (rank(a.get(i)), rank(b.get(i)));
        if x != y || x == 0 {
            return x.cmp(&y);
        }
    }
    std::cmp::Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knobs(max_size: usize, bucket_size: usize) -> HashKnobs<'static> {
        HashKnobs {
            name: "map_hash",
            max_size,
            bucket_size,
        }
    }

    #[test]
    fn errors_as_nginx_words_them() {
        let mut w = Vec::new();
        let keys: [&[u8]; 1] = [b"a"];
        assert_eq!(
            knobs(0, 64).check(&keys, &mut w),
            Err("could not build map_hash, you should increase map_hash_max_size: 0".into())
        );
        assert_eq!(
            knobs(2048, align_bucket(100_000)).check(&keys, &mut w),
            Err("could not build map_hash, too large map_hash_bucket_size: 100032".into())
        );
        let long = [b"a".repeat(53)];
        let long: Vec<&[u8]> = long.iter().map(Vec::as_slice).collect();
        assert_eq!(
            knobs(2048, 64).check(&long, &mut w),
            Err("could not build map_hash, you should increase map_hash_bucket_size: 64".into())
        );
        assert!(w.is_empty());
        assert_eq!(align_bucket(1), 64);
        assert_eq!(align_bucket(65), 128);
    }

    #[test]
    fn no_fitting_size_warns() {
        let mut w = Vec::new();
        let keys: [&[u8]; 5] = [b"a", b"c", b"e", b"g", b"i"];
        knobs(1, 64).check(&keys, &mut w).unwrap();
        assert_eq!(
            w,
            [
                "could not build optimal map_hash, you should increase either map_hash_max_size: 1 \
              or map_hash_bucket_size: 64; ignoring map_hash_bucket_size"
            ]
        );
        w.clear();
        knobs(2048, 64).check(&keys, &mut w).unwrap();
        assert!(w.is_empty());
    }

    #[test]
    fn wildcard_levels() {
        let mut w = Vec::new();
        // `*.aaa...aaa.com`: the long label has a table level of its own.
        let key = [b"com.".to_vec(), b"a".repeat(53), b".".to_vec()].concat();
        assert_eq!(
            knobs(2048, 64).check_wildcards(vec![key], &mut w),
            Err("could not build map_hash, you should increase map_hash_bucket_size: 64".into())
        );
        let keys = ["a.", "c.", "e.", "g.", "i."]
            .map(|k| k.as_bytes().to_vec())
            .to_vec();
        knobs(1, 64).check_wildcards(keys, &mut w).unwrap();
        assert_eq!(w.len(), 1);
        w.clear();
        let keys = ["com.example.", "com.example.www", "org.x"]
            .map(|k| k.as_bytes().to_vec())
            .to_vec();
        knobs(2048, 64).check_wildcards(keys, &mut w).unwrap();
        assert!(w.is_empty());
        assert_eq!(dns_cmp(b"com.a", b"com-a"), std::cmp::Ordering::Less);
        assert_eq!(dns_cmp(b"A", b"a"), std::cmp::Ordering::Equal);
    }
}
