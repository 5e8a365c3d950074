//! The lookup structures of the `geo` module, built at load: networks (`10.0.0.0/8`) and
//! address ranges (`10.0.0.1-10.0.0.9`) with a value each, turned into one sorted table of
//! disjoint intervals searched by binary search.
//!
//! nginx keeps networks in radix trees (longest prefix wins) and ranges in 65,536 arrays
//! of 16-bit spans (`ngx_http_geo_add_range`); the builders here apply the same rules, with
//! nginx's duplicates, deletions and overlap errors, and [`IntervalTable`] answers the same
//! lookups in O(log n).

use std::collections::{BTreeMap, HashMap};

/// Value indexes by address: interval `i` runs from `starts[i]` to the next start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntervalTable<K> {
    starts: Vec<K>,
    values: Vec<Option<u32>>,
}

impl<K: Copy + Ord> IntervalTable<K> {
    /// The value of the interval holding `key`.
    pub fn find(&self, key: K) -> Option<u32> {
        let after = self.starts.partition_point(|s| *s <= key);
        after.checked_sub(1).and_then(|i| self.values[i])
    }

    /// How many intervals the table holds.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether the table holds no interval.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

/// Appends an interval start, merging with the previous one where nothing changes.
fn push(starts: &mut Vec<u128>, values: &mut Vec<Option<u32>>, start: u128, value: Option<u32>) {
    if starts.last() == Some(&start) {
        values.pop();
        starts.pop();
    }
    if values.last() == Some(&value) || (values.is_empty() && value.is_none()) {
        return;
    }
    starts.push(start);
    values.push(value);
}

/// The table in the key type; a start past the key space (the end of the last address)
/// goes.
fn narrow<K: TryFrom<u128>>(starts: Vec<u128>, values: Vec<Option<u32>>) -> IntervalTable<K> {
    let (starts, values) = starts
        .into_iter()
        .zip(values)
        .filter_map(|(s, v)| K::try_from(s).ok().map(|s| (s, v)))
        .unzip();
    IntervalTable { starts, values }
}

/// Networks with values, longest prefix first at lookup (nginx's radix tree): `K` is `u32`
/// for IPv4 and `u128` for IPv6.
#[derive(Clone, Debug, Default)]
pub struct PrefixSet {
    /// Address bits: 32 or 128.
    width: u32,
    /// By (masked address, prefix length).
    nets: BTreeMap<(u128, u8), u32>,
}

impl PrefixSet {
    /// An empty set of IPv4 (`width` 32) or IPv6 (128) networks.
    pub fn new(width: u32) -> PrefixSet {
        PrefixSet {
            width,
            nets: BTreeMap::new(),
        }
    }

    /// Adds a network; `Err(old)` with its value when it is already there (nginx's
    /// `NGX_BUSY`, after which the geo module warns and replaces it).
    pub fn insert(&mut self, addr: u128, bits: u8, value: u32) -> Result<(), u32> {
        match self.nets.insert((addr, bits), value) {
            None => Ok(()),
            Some(old) => Err(old),
        }
    }

    /// The value of exactly this network, if set.
    pub fn get(&self, addr: u128, bits: u8) -> Option<u32> {
        self.nets.get(&(addr, bits)).copied()
    }

    /// Removes exactly this network; false when it was not there.
    pub fn remove(&mut self, addr: u128, bits: u8) -> bool {
        self.nets.remove(&(addr, bits)).is_some()
    }

    /// The lookup table: each address gets the value of its longest matching network.
    pub fn build<K: TryFrom<u128>>(&self) -> IntervalTable<K> {
        let max = if self.width == 128 {
            u128::MAX
        } else {
            (1u128 << self.width) - 1
        };
        // Networks nest or are disjoint; sorted by start then widest first, an outer
        // network's value resumes after each inner one ends.
        let mut nets: Vec<(u128, u128, u32)> = self
            .nets
            .iter()
            .map(|(&(addr, bits), &value)| {
                let host = self.width - u32::from(bits);
                let last = if host == 128 {
                    u128::MAX
                } else {
                    addr | ((1u128 << host) - 1)
                };
                (addr, last, value)
            })
            .collect();
        nets.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let (mut starts, mut values) = (Vec::new(), Vec::new());
        let mut open: Vec<(u128, u32)> = Vec::new();
        let close_until = |open: &mut Vec<(u128, u32)>,
                           starts: &mut Vec<u128>,
                           values: &mut Vec<Option<u32>>,
                           before: Option<u128>| {
            while let Some(&(last, _)) = open.last() {
                if before.is_some_and(|b| last >= b) {
                    break;
                }
                open.pop();
                if last < max {
                    push(starts, values, last + 1, open.last().map(|o| o.1));
                }
            }
        };
        for (start, last, value) in nets {
            close_until(&mut open, &mut starts, &mut values, Some(start));
            push(&mut starts, &mut values, start, Some(value));
            open.push((last, value));
        }
        close_until(&mut open, &mut starts, &mut values, None);
        narrow(starts, values)
    }
}

/// One span of a /16 block in `ranges` mode (nginx's `ngx_http_geo_range_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: u16,
    end: u16,
    value: u32,
}

/// IPv4 ranges with values, added and deleted with nginx's rules (`geo ... { ranges; }`).
#[derive(Clone, Debug, Default)]
pub struct RangeSet {
    /// Spans of each /16 block, sorted and disjoint.
    blocks: HashMap<u16, Vec<Span>>,
}

/// The /16 blocks a range crosses, with the span inside each: nginx's loop
/// `for (n = start; n <= end; n = (n + 0x10000) & 0xffff0000)`.
fn blocks(start: u32, end: u32) -> impl Iterator<Item = (u16, u16, u16)> {
    (start >> 16..=end >> 16).map(move |h| {
        let block = h << 16;
        let s = if block <= start { start & 0xffff } else { 0 };
        let e = if (block | 0xffff) > end {
            end & 0xffff
        } else {
            0xffff
        };
        (h as u16, s as u16, e as u16)
    })
}

fn dotted(h: u16, low: u16) -> String {
    format!("{}.{}.{}.{}", h >> 8, h & 0xff, low >> 8, low & 0xff)
}

impl RangeSet {
    /// Adds `start..=end` with `value` as `ngx_http_geo_add_range` does: a range equal to
    /// one there replaces its value (the old values are returned, for nginx's "duplicate
    /// range" warning); one inside another splits it; a partial overlap is an error
    /// naming the range overlapped (`"a.b.c.d-e.f.g.h"`).
    pub fn add(&mut self, start: u32, end: u32, value: u32) -> Result<Vec<u32>, String> {
        let mut replaced = Vec::new();
        for (h, s, e) in blocks(start, end) {
            let spans = self.blocks.entry(h).or_default();
            let new = Span {
                start: s,
                end: e,
                value,
            };
            let mut i = spans.len();
            let mut placed = false;
            while i > 0 {
                i -= 1;
                let old = spans[i];
                if e < old.start {
                    continue;
                }
                if s > old.end {
                    spans.insert(i + 1, new);
                } else if s == old.start && e == old.end {
                    replaced.push(old.value);
                    spans[i].value = value;
                } else if s > old.start && e < old.end {
                    spans[i].end = s - 1;
                    spans.insert(i + 1, new);
                    let rest = Span {
                        start: e + 1,
                        ..old
                    };
                    spans.insert(i + 2, rest);
                } else if s == old.start && e < old.end {
                    spans[i].start = e + 1;
                    spans.insert(i, new);
                } else if s > old.start && e == old.end {
                    spans[i].end = s - 1;
                    spans.insert(i + 1, new);
                } else {
                    return Err(format!("{}-{}", dotted(h, old.start), dotted(h, old.end)));
                }
                placed = true;
                break;
            }
            if !placed {
                spans.insert(0, new);
            }
        }
        Ok(replaced)
    }

    /// Deletes `start..=end` as `ngx_http_geo_delete_range` does: in each /16 block, only
    /// a span equal to the range's part there goes. False ("no address range to delete")
    /// when some block had none.
    pub fn remove(&mut self, start: u32, end: u32) -> bool {
        let mut all = true;
        for (h, s, e) in blocks(start, end) {
            let spans = self.blocks.entry(h).or_default();
            match spans.iter().position(|x| x.start == s && x.end == e) {
                Some(i) => {
                    spans.remove(i);
                }
                None => all = false,
            }
        }
        all
    }

    /// The lookup table.
    pub fn build(&self) -> IntervalTable<u32> {
        let mut order: Vec<&u16> = self.blocks.keys().collect();
        order.sort();
        let (mut starts, mut values) = (Vec::new(), Vec::new());
        for h in order {
            let base = u128::from(*h) << 16;
            for span in &self.blocks[h] {
                push(
                    &mut starts,
                    &mut values,
                    base + u128::from(span.start),
                    Some(span.value),
                );
                push(
                    &mut starts,
                    &mut values,
                    base + u128::from(span.end) + 1,
                    None,
                );
            }
        }
        narrow(starts, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> u32 {
        u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
    }

    #[test]
    fn longest_prefix_wins() {
        let mut set = PrefixSet::new(32);
        set.insert(0, 0, 0).unwrap();
        set.insert(u128::from(v4("127.0.0.0")), 8, 1).unwrap();
        set.insert(u128::from(v4("127.0.0.0")), 24, 2).unwrap();
        set.insert(u128::from(v4("192.0.2.0")), 24, 3).unwrap();
        assert_eq!(set.insert(u128::from(v4("192.0.2.0")), 24, 4), Err(3));
        let t: IntervalTable<u32> = set.build();
        assert_eq!(t.find(v4("127.0.0.1")), Some(2));
        assert_eq!(t.find(v4("127.0.1.1")), Some(1));
        assert_eq!(t.find(v4("127.255.255.255")), Some(1));
        assert_eq!(t.find(v4("128.0.0.0")), Some(0));
        assert_eq!(t.find(v4("192.0.2.77")), Some(4));
        assert_eq!(t.find(v4("192.0.3.0")), Some(0));
        assert_eq!(t.find(u32::MAX), Some(0));
        assert_eq!(t.find(0), Some(0));
        assert!(set.remove(u128::from(v4("127.0.0.0")), 8));
        assert!(!set.remove(u128::from(v4("127.0.0.0")), 8));
        let t: IntervalTable<u32> = set.build();
        assert_eq!(t.find(v4("127.0.1.1")), Some(0));
        assert_eq!(t.find(v4("127.0.0.9")), Some(2));
    }

    #[test]
    fn host_routes_at_the_ends_and_ipv6() {
        let mut set = PrefixSet::new(32);
        set.insert(u128::from(u32::MAX), 32, 7).unwrap();
        set.insert(0, 32, 8).unwrap();
        let t: IntervalTable<u32> = set.build();
        assert_eq!(t.find(u32::MAX), Some(7));
        assert_eq!(t.find(0), Some(8));
        assert_eq!(t.find(1), None);
        let mut set = PrefixSet::new(128);
        set.insert(0, 0, 0).unwrap();
        set.insert(1, 128, 1).unwrap();
        set.insert(0x2001_0db8 << 96, 32, 2).unwrap();
        let t: IntervalTable<u128> = set.build();
        assert_eq!(t.find(1), Some(1));
        assert_eq!(t.find(2), Some(0));
        assert_eq!(t.find((0x2001_0db8 << 96) + 5), Some(2));
        assert_eq!(t.find(u128::MAX), Some(0));
    }

    #[test]
    fn ranges_follow_nginx_add_rules() {
        let mut set = RangeSet::default();
        // geo.t's $geo_insert: split, then a range at the split's start.
        set.add(v4("127.0.0.0"), v4("127.0.0.255"), 0).unwrap();
        set.add(v4("127.0.0.1"), v4("127.0.0.2"), 1).unwrap();
        set.add(v4("127.0.0.1"), v4("127.0.0.1"), 2).unwrap();
        let t = set.build();
        assert_eq!(t.find(v4("127.0.0.0")), Some(0));
        assert_eq!(t.find(v4("127.0.0.1")), Some(2));
        assert_eq!(t.find(v4("127.0.0.2")), Some(1));
        assert_eq!(t.find(v4("127.0.0.3")), Some(0));
        assert_eq!(t.find(v4("127.0.1.0")), None);
        // The same span again replaces the value (nginx warns "duplicate range").
        assert_eq!(set.add(v4("127.0.0.3"), v4("127.0.0.255"), 3), Ok(vec![0]));
        assert_eq!(
            set.add(v4("127.0.0.2"), v4("127.0.0.200"), 4),
            Err("127.0.0.3-127.0.0.255".to_string())
        );
        assert_eq!(set.add(v4("127.0.0.1"), v4("127.0.0.1"), 5), Ok(vec![2]));
    }

    #[test]
    fn ranges_across_blocks_and_deletes() {
        let mut set = RangeSet::default();
        set.add(v4("10.10.3.0"), v4("10.11.2.255"), 0).unwrap();
        set.add(v4("10.12.3.0"), v4("10.13.2.255"), 1).unwrap();
        let t = set.build();
        assert_eq!(t.find(v4("10.11.0.7")), Some(0));
        assert_eq!(t.find(v4("10.13.2.1")), Some(1));
        assert_eq!(t.find(v4("10.12.2.255")), None);
        assert!(set.remove(v4("10.10.3.0"), v4("10.11.2.255")));
        assert!(!set.remove(v4("10.10.3.0"), v4("10.11.2.255")));
        let t = set.build();
        assert_eq!(t.find(v4("10.11.2.1")), None);
        assert_eq!(t.find(v4("10.13.2.1")), Some(1));
        // A range up to the last address ends the table.
        set.add(v4("255.255.255.0"), u32::MAX, 2).unwrap();
        assert_eq!(set.build().find(u32::MAX), Some(2));
        // Deleting part of a span deletes nothing.
        assert!(!set.remove(v4("10.12.3.0"), v4("10.12.3.9")));
    }
}
