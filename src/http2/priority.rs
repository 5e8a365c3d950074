//! RFC 7540 stream priorities as nginx 1.22 keeps them (`ngx_http_v2_set_dependency`): a
//! dependency tree set by HEADERS priority fields and PRIORITY frames, where each stream has
//! a rank (its depth) and a relative weight (its weight over 256 times its parent's). The
//! connection frames output in that order, lower rank first and, within a rank, heavier
//! first; streams of equal standing share in round-robin. RFC 9113 deprecated the scheme,
//! but clients still send it and nginx follows it.
//!
//! The tree is small: open streams plus at most [`MAX_CLOSED`] nodes of closed or idle
//! streams (nginx keeps closed nodes too, so that later frames may depend on them); past
//! that the oldest closed node goes, its children taking its place with its weight shared
//! out, as nginx's `ngx_http_v2_get_closed_node` does.

/// Closed or idle streams' nodes kept in the tree.
pub const MAX_CLOSED: usize = 32;

/// The weight of a stream nobody prioritized (RFC 7540 5.3.5).
pub const DEFAULT_WEIGHT: u16 = 16;

#[derive(Debug)]
struct Node {
    id: u32,
    /// 0: the root. `None`: not placed yet.
    parent: Option<u32>,
    weight: u16,
    rank: u32,
    rel_weight: f64,
    children: Vec<u32>,
    open: bool,
}

/// One connection's dependency tree.
#[derive(Debug, Default)]
pub struct Tree {
    nodes: Vec<Node>,
    /// The root's children.
    roots: Vec<u32>,
    /// Nodes of closed or idle streams, oldest first.
    closed: Vec<u32>,
}

impl Tree {
    fn at(&self, id: u32) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    fn rank_rel(&self, id: u32) -> (u32, f64) {
        match self.at(id) {
            Some(i) => (self.nodes[i].rank, self.nodes[i].rel_weight),
            None => (0, 1.0),
        }
    }

    fn children_mut(&mut self, id: u32) -> Option<&mut Vec<u32>> {
        if id == 0 {
            return Some(&mut self.roots);
        }
        let i = self.at(id)?;
        Some(&mut self.nodes[i].children)
    }

    /// The node of `id`, made (unplaced, idle) if it has none.
    fn node(&mut self, id: u32) -> usize {
        if let Some(i) = self.at(id) {
            return i;
        }
        self.nodes.push(Node {
            id,
            parent: None,
            weight: DEFAULT_WEIGHT,
            rank: 1,
            rel_weight: f64::from(DEFAULT_WEIGHT) / 256.0,
            children: Vec::new(),
            open: false,
        });
        self.closed.push(id);
        self.trim();
        self.at(id).unwrap_or(0)
    }

    /// A new stream: placed under the root with the default weight unless a PRIORITY frame
    /// placed it already or its HEADERS carry a priority (`depend`, `weight` 1-256,
    /// `exclusive`).
    pub fn open(&mut self, id: u32, priority: Option<(u32, u16, bool)>) {
        let i = self.node(id);
        self.nodes[i].open = true;
        self.closed.retain(|&c| c != id);
        match priority {
            Some((depend, weight, exclusive)) => self.set(id, depend, weight, exclusive),
            None if self.nodes[i].parent.is_none() => self.set(id, 0, DEFAULT_WEIGHT, false),
            None => {}
        }
    }

    /// A PRIORITY frame for `id` (open, closed or idle).
    pub fn prioritize(&mut self, id: u32, depend: u32, weight: u16, exclusive: bool) {
        self.node(id);
        self.set(id, depend, weight, exclusive);
    }

    /// The stream closed: its node stays (others may depend on it) among the closed ones.
    pub fn close(&mut self, id: u32) {
        if let Some(i) = self.at(id)
            && self.nodes[i].open
        {
            self.nodes[i].open = false;
            self.closed.push(id);
            self.trim();
        }
    }

    /// Where `id` stands: (rank, relative weight); lower rank first, then heavier.
    pub fn standing(&self, id: u32) -> (u32, f64) {
        self.rank_rel(id)
    }

    /// nginx's `ngx_http_v2_set_dependency`.
    fn set(&mut self, id: u32, depend: u32, weight: u16, mut exclusive: bool) {
        let Some(i) = self.at(id) else { return };
        self.nodes[i].weight = weight;
        let old_parent = self.nodes[i].parent;
        let parent = if depend != 0 && self.at(depend).is_some() {
            depend
        } else {
            if depend != 0 {
                exclusive = false;
            }
            0
        };
        if parent == 0 {
            let n = &mut self.nodes[i];
            n.rank = 1;
            n.rel_weight = f64::from(weight) / 256.0;
        } else {
            if let Some(node_parent) = old_parent {
                // The new parent depends on this node: it takes the node's place first.
                let node_rank = self.nodes[i].rank;
                let mut next = self.parent_of(parent);
                let mut steps = 0;
                while next != 0 && self.rank_rel(next).0 >= node_rank && steps < self.nodes.len() {
                    steps += 1;
                    if next == id {
                        if let Some(from) = self.parent_of_opt(parent)
                            && let Some(list) = self.children_mut(from)
                        {
                            list.retain(|&c| c != parent);
                        }
                        if let Some(list) = self.children_mut(node_parent) {
                            let at = list
                                .iter()
                                .position(|&c| c == id)
                                .map_or(list.len(), |p| p + 1);
                            list.insert(at, parent);
                        }
                        let (rank, rel) = self.rank_rel(node_parent);
                        if let Some(p) = self.at(parent) {
                            let w = f64::from(self.nodes[p].weight);
                            self.nodes[p].parent = Some(node_parent);
                            self.nodes[p].rank = rank + 1;
                            self.nodes[p].rel_weight = rel / 256.0 * w;
                        }
                        if !exclusive {
                            self.update_children(parent);
                        }
                        break;
                    }
                    next = self.parent_of(next);
                }
            }
            let (rank, rel) = self.rank_rel(parent);
            let n = &mut self.nodes[i];
            n.rank = rank + 1;
            n.rel_weight = rel / 256.0 * f64::from(weight);
            // A closed parent in use is kept longest.
            if self.closed.contains(&parent) {
                self.closed.retain(|&c| c != parent);
                self.closed.push(parent);
            }
        }
        if let Some(old) = self.nodes[i].parent
            && let Some(list) = self.children_mut(old)
        {
            list.retain(|&c| c != id);
        }
        if exclusive {
            let moved = self
                .children_mut(parent)
                .map(std::mem::take)
                .unwrap_or_default();
            for &c in &moved {
                if let Some(ci) = self.at(c) {
                    self.nodes[ci].parent = Some(id);
                }
            }
            if let Some(i) = self.at(id) {
                self.nodes[i].children.extend(moved);
            }
        }
        if let Some(list) = self.children_mut(parent) {
            list.push(id);
        }
        if let Some(i) = self.at(id) {
            self.nodes[i].parent = Some(parent);
        }
        self.update_children(id);
    }

    fn parent_of_opt(&self, id: u32) -> Option<u32> {
        self.at(id).and_then(|i| self.nodes[i].parent)
    }

    fn parent_of(&self, id: u32) -> u32 {
        self.parent_of_opt(id).unwrap_or(0)
    }

    /// Ranks and relative weights below `id`, recomputed (nginx's
    /// `ngx_http_v2_node_children_update`, without recursion).
    fn update_children(&mut self, id: u32) {
        let mut stack = vec![id];
        let mut visited = 0;
        while let Some(top) = stack.pop() {
            visited += 1;
            if visited > self.nodes.len() {
                break;
            }
            let Some(i) = self.at(top) else { continue };
            let (rank, rel) = (self.nodes[i].rank, self.nodes[i].rel_weight);
            let children = self.nodes[i].children.clone();
            for c in children {
                if let Some(ci) = self.at(c) {
                    let n = &mut self.nodes[ci];
                    n.rank = rank + 1;
                    n.rel_weight = rel / 256.0 * f64::from(n.weight);
                    stack.push(c);
                }
            }
        }
    }

    /// Drops the oldest closed nodes past [`MAX_CLOSED`]: their children take their place
    /// and share their weight (nginx's `ngx_http_v2_get_closed_node`).
    fn trim(&mut self) {
        while self.closed.len() > MAX_CLOSED {
            let id = self.closed.remove(0);
            let Some(i) = self.at(id) else { continue };
            let node = self.nodes.remove(i);
            let parent = node.parent.unwrap_or(0);
            let total: u32 = node
                .children
                .iter()
                .filter_map(|&c| self.at(c))
                .map(|ci| u32::from(self.nodes[ci].weight))
                .sum();
            for &c in &node.children {
                if let Some(ci) = self.at(c) {
                    let w =
                        u32::from(node.weight) * u32::from(self.nodes[ci].weight) / total.max(1);
                    self.nodes[ci].weight = w.clamp(1, 256) as u16;
                    self.nodes[ci].parent = Some(parent);
                }
            }
            if let Some(list) = self.children_mut(parent) {
                let at = list.iter().position(|&c| c == id);
                list.retain(|&c| c != id);
                let at = at.unwrap_or(list.len()).min(list.len());
                for (k, &c) in node.children.iter().enumerate() {
                    list.insert(at + k, c);
                }
            }
            if parent == 0 {
                for &c in &node.children {
                    if let Some(ci) = self.at(c) {
                        let n = &mut self.nodes[ci];
                        n.rank = 1;
                        n.rel_weight = f64::from(n.weight) / 256.0;
                    }
                    self.update_children(c);
                }
            } else {
                self.update_children(parent);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(t: &Tree, ids: &[u32]) -> Vec<u32> {
        let mut v = ids.to_vec();
        v.sort_by(|&a, &b| {
            let (ra, wa) = t.standing(a);
            let (rb, wb) = t.standing(b);
            ra.cmp(&rb).then(wb.total_cmp(&wa))
        });
        v
    }

    #[test]
    fn weights_and_dependencies_order_streams() {
        let mut t = Tree::default();
        t.open(1, None);
        t.open(3, None);
        t.prioritize(1, 0, 1, false);
        t.prioritize(3, 0, 256, false);
        assert_eq!(order(&t, &[1, 3]), [3, 1]);
        // 1 depends on 3: 3 first whatever the weights.
        let mut t = Tree::default();
        t.prioritize(3, 0, 17, false);
        t.prioritize(1, 3, 17, false);
        t.open(1, None);
        t.open(3, None);
        assert_eq!(order(&t, &[1, 3]), [3, 1]);
        // Under an idle 5: 1 (256) before 3 (1), 5 itself not open.
        let mut t = Tree::default();
        t.prioritize(5, 0, 17, false);
        t.prioritize(1, 5, 256, false);
        t.prioritize(3, 5, 1, false);
        for id in [1, 3, 7] {
            t.open(id, None);
        }
        assert_eq!(order(&t, &[1, 3, 7]), [7, 1, 3]);
    }

    #[test]
    fn circular_and_exclusive_dependencies_stay_a_tree() {
        let mut t = Tree::default();
        t.prioritize(1, 0, 17, false);
        t.prioritize(3, 1, 17, false);
        t.prioritize(5, 1, 17, true);
        // 1 <- 5 <- 3; now 5 depends on 3: 3 takes 5's place first.
        t.prioritize(5, 3, 17, false);
        assert_eq!(t.parent_of(3), 1);
        assert_eq!(t.parent_of(5), 3);
        // Now 1 depends on 5, its descendant: 5 moves up to 1's place first.
        t.prioritize(1, 5, 17, false);
        assert_eq!(t.parent_of(5), 0);
        assert_eq!(t.parent_of(1), 5);
        assert_eq!(t.parent_of(3), 1);
        // Every node still reaches the root within the tree's size.
        for id in [1, 3, 5] {
            let mut at = id;
            let mut steps = 0;
            while at != 0 && steps < 10 {
                at = t.parent_of(at);
                steps += 1;
            }
            assert!(steps <= 4, "{id}");
        }
    }

    #[test]
    fn closed_nodes_are_bounded() {
        let mut t = Tree::default();
        for id in (1..400).step_by(2) {
            t.open(id, Some((id.saturating_sub(2), 16, false)));
            t.close(id);
        }
        assert!(t.nodes.len() <= MAX_CLOSED);
        for id in (1001..2001).step_by(2) {
            t.prioritize(id, 0, 16, false);
        }
        assert!(t.nodes.len() <= MAX_CLOSED);
    }
}
