//! A grown tree: its nodes, pruning, each row's value, and the ensemble's tree it becomes.

use super::super::tree_ensemble::{Missing, Split, Tree};
use super::binned::{Binned, Sums};
use super::split::Candidate;

/// One node of a tree being grown; `rows[start..end]` are its rows.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) sums: Sums,
    pub(super) depth: usize,
    pub(super) start: usize,
    pub(super) end: usize,
    /// `Some` once split: the split and the two children's node indices.
    pub(super) split: Option<(Candidate, usize, usize)>,
}

/// A grown tree: its nodes (the root first), and each sampled row's place.
pub(super) struct Grown {
    pub(super) nodes: Vec<Node>,
    pub(super) rows: Vec<u32>,
    /// Whether `rows` holds every row (no sampling), so leaves' ranges cover them all.
    pub(super) all_rows: bool,
    /// Leaf value per node (for split nodes, unused).
    pub(super) values: Vec<f64>,
}

impl Grown {
    /// Turns splits whose children are both leaves and whose gain is below `gamma` back into
    /// leaves, from the bottom up (XGBoost's pruner). Returns whether `node` is now a leaf.
    pub(super) fn prune(&mut self, node: usize, gamma: f64) -> bool {
        let Some((split, left, right)) = self.nodes[node].split else {
            return true;
        };
        let left_leaf = self.prune(left, gamma);
        let right_leaf = self.prune(right, gamma);
        if left_leaf && right_leaf && split.gain < gamma {
            self.nodes[node].split = None;
            return true;
        }
        false
    }

    /// Drops the rows' places (kept trees walk the codes instead).
    pub(super) fn forget_rows(&mut self) {
        self.rows = Vec::new();
        self.all_rows = false;
    }

    /// Each row's leaf value, for updating the margins.
    pub(super) fn row_values(&self, data: &Binned, n: usize) -> Vec<f64> {
        let mut out = vec![0.0; n];
        if self.all_rows {
            // Every row sits in exactly one leaf's range.
            let mut stack = vec![0];
            while let Some(id) = stack.pop() {
                let node = &self.nodes[id];
                match node.split {
                    Some((_, l, r)) => stack.extend([l, r]),
                    None => {
                        for &row in &self.rows[node.start..node.end] {
                            out[row as usize] = self.values[id];
                        }
                    }
                }
            }
        } else {
            for (row, o) in out.iter_mut().enumerate() {
                let mut id = 0;
                while let Some((split, l, r)) = self.nodes[id].split {
                    let code = data.code(row as u32, split.feature);
                    id = if code <= split.bin { l } else { r };
                }
                *o = self.values[id];
            }
        }
        out
    }

    /// The tree as the ensemble stores it: splits numbered breadth-first (so every child comes
    /// after its parent), thresholds the bins' edges, missing values to the left (where the
    /// binning put NaN).
    pub(super) fn into_ensemble_tree(self, data: &Binned, group: usize) -> Tree {
        let mut splits = Vec::new();
        let mut leaves = Vec::new();
        // (node, where its parent's pointer is: split index and side)
        let mut queue = std::collections::VecDeque::from([(0usize, None::<(usize, bool)>)]);
        while let Some((id, parent)) = queue.pop_front() {
            let pointer = match self.nodes[id].split {
                Some((candidate, l, r)) => {
                    let at = splits.len();
                    let edges = &data.columns[candidate.feature].edges;
                    splits.push(Split {
                        feature: candidate.feature as u32,
                        threshold: edges
                            .get(usize::from(candidate.bin))
                            .copied()
                            .unwrap_or(f64::INFINITY),
                        left: 0,
                        right: 0,
                        default_left: true,
                        missing: Missing::NaN,
                    });
                    queue.push_back((l, Some((at, true))));
                    queue.push_back((r, Some((at, false))));
                    at as i32
                }
                None => {
                    leaves.push(self.values[id]);
                    !((leaves.len() - 1) as i32)
                }
            };
            if let Some((at, is_left)) = parent {
                let split: &mut Split = &mut splits[at];
                if is_left {
                    split.left = pointer;
                } else {
                    split.right = pointer;
                }
            }
        }
        Tree {
            group,
            weight: 1.0,
            splits,
            leaves,
        }
    }
}
