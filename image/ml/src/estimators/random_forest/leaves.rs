//! A forest's leaf outputs, sparse: how the builder records them and how a payload's trees
//! are read, in this layout or in the one before it, where every node held a value for every
//! output.

use serde::Deserialize;

use super::{Forest, Tree};

/// A tree as read from a payload: written before leaves were sparse, it has no `at` and
/// `output`, and `value` holds `n_outputs` values for every node.
#[derive(Deserialize)]
struct StoredTree {
    feature: Vec<u32>,
    threshold: Vec<f64>,
    left: Vec<u32>,
    right: Vec<u32>,
    at: Option<Vec<u32>>,
    output: Option<Vec<u32>>,
    value: Vec<f64>,
}

/// A forest as read from a payload, its trees in either layout.
#[derive(Deserialize)]
pub(super) struct StoredForest {
    n_outputs: usize,
    trees: Vec<StoredTree>,
}

impl TryFrom<StoredForest> for Forest {
    type Error = String;

    fn try_from(stored: StoredForest) -> std::result::Result<Forest, String> {
        let k = stored.n_outputs;
        let trees = stored
            .trees
            .into_iter()
            .enumerate()
            .map(|(t, mut tree)| match (tree.at.take(), tree.output.take()) {
                (Some(at), Some(output)) => {
                    let value = std::mem::take(&mut tree.value);
                    Ok(tree.with_outputs((at, output, value)))
                }
                (None, None) => sparse_leaves(t, tree, k),
                _ => Err(format!("tree {t} has only one of `at` and `output`")),
            })
            .collect::<std::result::Result<_, String>>()?;
        Ok(Forest {
            n_outputs: k,
            trees,
        })
    }
}

/// A tree of the dense layout (`k` values per node) with only its leaves' values that are
/// not zero, which a prediction adds the same way.
fn sparse_leaves(t: usize, tree: StoredTree, k: usize) -> std::result::Result<Tree, String> {
    let n = tree.left.len();
    if k == 0 || n.checked_mul(k) != Some(tree.value.len()) {
        return Err(format!(
            "tree {t}: {} values for {n} nodes of {k} outputs",
            tree.value.len()
        ));
    }
    let mut leaves = Leaves::default();
    for (node, values) in tree.value.chunks_exact(k).enumerate() {
        if tree.left[node] == 0 {
            leaves.set(node, values.iter().enumerate().map(|(o, &v)| (o, v)));
        }
    }
    let outputs = leaves.into_arrays(n);
    Ok(tree.with_outputs(outputs))
}

impl StoredTree {
    /// The tree with these leaf outputs (`at`, `output`, `value`).
    fn with_outputs(self, (at, output, value): (Vec<u32>, Vec<u32>, Vec<f64>)) -> Tree {
        Tree {
            feature: self.feature,
            threshold: self.threshold,
            left: self.left,
            right: self.right,
            at,
            output,
            value,
        }
    }
}

/// A tree's leaf outputs as they are found, in any node order.
#[derive(Default)]
pub(super) struct Leaves {
    /// Per node, where its outputs start in `output` and `value`, and how many.
    spans: Vec<(usize, usize)>,
    output: Vec<u32>,
    value: Vec<f64>,
}

impl Leaves {
    /// Sets leaf `node`'s outputs, keeping those that are not zero.
    pub(super) fn set(&mut self, node: usize, outputs: impl Iterator<Item = (usize, f64)>) {
        if self.spans.len() <= node {
            self.spans.resize(node + 1, (0, 0));
        }
        let start = self.output.len();
        for (o, v) in outputs {
            if v != 0.0 {
                self.output.push(u32::try_from(o).unwrap_or(u32::MAX));
                self.value.push(v);
            }
        }
        self.spans[node] = (start, self.output.len() - start);
    }

    /// `at`, `output` and `value` of a tree of `nodes` nodes, in node order.
    pub(super) fn into_arrays(self, nodes: usize) -> (Vec<u32>, Vec<u32>, Vec<f64>) {
        let mut at = Vec::with_capacity(nodes + 1);
        let mut output = Vec::with_capacity(self.output.len());
        let mut value = Vec::with_capacity(self.value.len());
        at.push(0);
        for node in 0..nodes {
            let (start, len) = self.spans.get(node).copied().unwrap_or((0, 0));
            output.extend_from_slice(&self.output[start..start + len]);
            value.extend_from_slice(&self.value[start..start + len]);
            at.push(u32::try_from(output.len()).unwrap_or(u32::MAX));
        }
        (at, output, value)
    }
}
