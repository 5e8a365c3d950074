//! A level's locations indexed at load for the location search (`crate::router`): exact
//! and prefix strings in a byte trie, regexes in config order, named locations apart. It
//! is built with the configuration, so it lives here and the router imports it.

use super::settings::{LocationConf, LocationMatch};

/// A level's locations (a server's, or a location's nested ones) precomputed at config load,
/// in the spirit of nginx's static location tree: exact and prefix strings live in a byte
/// trie, so a search walks the URI once instead of comparing every string; regexes keep
/// their config order; named locations (server level only) are listed apart.
#[derive(Debug, Default)]
pub struct LocationTree {
    /// Trie nodes; node 0 is the root (the empty string).
    nodes: Vec<TrieNode>,
    /// Indices of the regex locations, in config order.
    regexes: Vec<usize>,
    /// `@name` locations and their indices.
    named: Vec<(String, usize)>,
}

#[derive(Debug, Default)]
struct TrieNode {
    /// Children by next byte, sorted for binary search.
    children: Vec<(u8, u32)>,
    /// `location = STRING` ending here.
    exact: Option<usize>,
    /// `location STRING` or `location ^~ STRING` ending here, and whether it is `^~`.
    prefix: Option<(usize, bool)>,
    /// A location here (exact or prefix) ends with `/` and proxies: a URI one `/` short
    /// of it is redirected (nginx's `auto_redirect`, set by `proxy_pass`).
    auto_redirect: bool,
}

impl LocationTree {
    /// Indexes one level of locations (nested levels carry their own tree). As in nginx, a
    /// second location with the same string is ignored by the search (the loader refuses
    /// duplicates anyway).
    pub fn build(locations: &[LocationConf]) -> LocationTree {
        let mut tree = LocationTree {
            nodes: vec![TrieNode::default()],
            ..LocationTree::default()
        };
        for (i, l) in locations.iter().enumerate() {
            match &l.matcher {
                LocationMatch::Exact(s) => {
                    let n = tree.insert(s.as_bytes());
                    tree.nodes[n].exact.get_or_insert(i);
                    tree.mark_auto_redirect(n, l, s);
                }
                LocationMatch::Prefix(s) | LocationMatch::PrefixNoRegex(s) => {
                    let noregex = matches!(l.matcher, LocationMatch::PrefixNoRegex(_));
                    let n = tree.insert(s.as_bytes());
                    tree.nodes[n].prefix.get_or_insert((i, noregex));
                    tree.mark_auto_redirect(n, l, s);
                }
                LocationMatch::Regex(..) => tree.regexes.push(i),
                LocationMatch::Named(name) => tree.named.push((name.clone(), i)),
            }
        }
        tree
    }

    /// The regex locations' indices, in config order.
    pub(crate) fn regexes(&self) -> &[usize] {
        &self.regexes
    }

    /// The `@name` locations and their indices.
    pub(crate) fn named(&self) -> &[(String, usize)] {
        &self.named
    }

    /// Marks `node` for nginx's auto redirect when location `l` qualifies.
    fn mark_auto_redirect(&mut self, node: usize, l: &LocationConf, name: &str) {
        if name.ends_with('/') && l.loc.proxy_pass.is_some() {
            self.nodes[node].auto_redirect = true;
        }
    }

    fn insert(&mut self, key: &[u8]) -> usize {
        let mut node = 0;
        for &b in key {
            node = match self.nodes[node].children.binary_search_by_key(&b, |c| c.0) {
                Ok(at) => self.nodes[node].children[at].1 as usize,
                Err(at) => {
                    let next = self.nodes.len();
                    self.nodes.push(TrieNode::default());
                    self.nodes[node].children.insert(at, (b, next as u32));
                    next
                }
            };
        }
        node
    }

    /// One walk down the trie: the exact location equal to `uri`, else the longest prefix.
    pub(crate) fn static_match(&self, uri: &[u8]) -> StaticMatch {
        let Some(root) = self.nodes.first() else {
            return StaticMatch::None;
        };
        let mut best = root.prefix;
        let mut node = root;
        for &b in uri {
            match node.children.binary_search_by_key(&b, |c| c.0) {
                Ok(at) => node = &self.nodes[node.children[at].1 as usize],
                Err(_) => return best.map_or(StaticMatch::None, StaticMatch::Prefix),
            }
            if node.prefix.is_some() {
                best = node.prefix;
            }
        }
        if let Some(i) = node.exact {
            return StaticMatch::Exact(i);
        }
        // No location has the URI's own string: one that is the URI and a slash, and
        // proxies, redirects to itself (ngx_http_core_find_static_location's NGX_DONE).
        if node.prefix.is_none()
            && let Ok(at) = node.children.binary_search_by_key(&b'/', |c| c.0)
            && let slash = &self.nodes[node.children[at].1 as usize]
            && slash.auto_redirect
            && let Some(i) = slash.exact.or(slash.prefix.map(|p| p.0))
        {
            return StaticMatch::AutoRedirect(i);
        }
        best.map_or(StaticMatch::None, StaticMatch::Prefix)
    }
}

/// What one walk down the trie found.
pub(crate) enum StaticMatch {
    /// `location = URI`.
    Exact(usize),
    /// The longest prefix location, and whether it is `^~`.
    Prefix((usize, bool)),
    /// nginx's auto redirect to this location (the URI lacks its final `/`).
    AutoRedirect(usize),
    /// No exact or prefix location.
    None,
}
