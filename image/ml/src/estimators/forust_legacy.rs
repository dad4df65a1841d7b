//! Reading the boosted payloads earlier versions wrote with forust-ml, so that models already
//! registered or served keep predicting after an upgrade. Their trees become the same
//! [`TreeEnsemble`] the current engine fits, predicting exactly what forust-ml predicted:
//! `base_score` plus each tree's leaf, a value going left when `value < split_value` and a
//! missing one (NaN) to the node's `missing_node`, which must be one of the two children.

use serde::Deserialize;

use super::tree_ensemble::{Link, Missing, Split, Tree, TreeEnsemble, MAX_GROUPS};

/// A payload as forust-ml-era versions wrote it (tag `GradientBoosting`).
#[derive(Debug, Deserialize)]
pub(super) struct Payload {
    output: Output,
    boosters: Vec<Booster>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Output {
    Binary,
    OneVsRest,
    Regression,
}

#[derive(Debug, Deserialize)]
struct Booster {
    base_score: f64,
    #[serde(default)]
    prediction_iteration: Option<usize>,
    /// The value read as missing; `null` is NaN.
    #[serde(default)]
    missing: Option<f64>,
    trees: Vec<ForustTree>,
}

#[derive(Debug, Deserialize)]
struct ForustTree {
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
struct Node {
    weight_value: f32,
    split_value: f64,
    split_feature: usize,
    missing_node: usize,
    left_child: usize,
    right_child: usize,
    is_leaf: bool,
}

impl Payload {
    /// The trees as an ensemble, or what makes them unreadable.
    pub(super) fn into_ensemble(self) -> Result<TreeEnsemble, String> {
        let groups = self.boosters.len();
        let fits = match self.output {
            Output::Binary | Output::Regression => groups == 1,
            Output::OneVsRest => (2..=MAX_GROUPS).contains(&groups),
        };
        if !fits {
            return Err(format!("{groups} boosters for {:?} output", self.output));
        }
        let mut trees = Vec::new();
        let mut base_margin = Vec::with_capacity(groups);
        let mut n_features = 0;
        for (group, booster) in self.boosters.into_iter().enumerate() {
            if booster.missing.is_some_and(|m| !m.is_nan()) {
                return Err(format!("booster {group} reads a number as missing"));
            }
            let used = match booster.prediction_iteration {
                Some(n) if n > booster.trees.len() => {
                    return Err(format!(
                        "booster {group} predicts with {n} trees but has {}",
                        booster.trees.len()
                    ))
                }
                Some(n) => n,
                None => booster.trees.len(),
            };
            base_margin.push(booster.base_score);
            for (t, tree) in booster.trees.into_iter().take(used).enumerate() {
                let tree = convert(&tree.nodes, group)
                    .map_err(|e| format!("booster {group}, tree {t}: {e}"))?;
                for split in &tree.splits {
                    n_features = n_features.max(split.feature as usize + 1);
                }
                trees.push(tree);
            }
        }
        let link = match self.output {
            Output::Binary => Link::Sigmoid { scale: 1.0 },
            Output::OneVsRest => Link::SigmoidEach { scale: 1.0 },
            Output::Regression => Link::Identity,
        };
        Ok(TreeEnsemble::summed(n_features, base_margin, trees, link))
    }
}

/// One forust tree: its split nodes become splits in node order (so children, which forust
/// puts after their parent, stay after it), its leaves the leaves.
fn convert(nodes: &[Node], group: usize) -> Result<Tree, String> {
    if nodes.is_empty() {
        return Err("no nodes".into());
    }
    // Each node's place: a split's index, or a leaf's as the ensemble encodes it.
    let mut place = Vec::with_capacity(nodes.len());
    let (mut splits, mut leaves) = (0i32, 0i32);
    for node in nodes {
        if node.is_leaf {
            place.push(!leaves);
            leaves += 1;
        } else {
            place.push(splits);
            splits += 1;
        }
    }
    let mut tree = Tree {
        group,
        weight: 1.0,
        splits: Vec::new(),
        leaves: Vec::new(),
    };
    for (i, node) in nodes.iter().enumerate() {
        if node.is_leaf {
            tree.leaves.push(f64::from(node.weight_value));
            continue;
        }
        for child in [node.left_child, node.right_child] {
            if child <= i || child >= nodes.len() {
                return Err(format!(
                    "node {i}: child {child} is not a later node of the {} (out of range, or a cycle)",
                    nodes.len()
                ));
            }
        }
        let default_left = if node.missing_node == node.left_child {
            true
        } else if node.missing_node == node.right_child {
            false
        } else {
            return Err(format!("node {i} has a separate branch for missing values"));
        };
        let feature = u32::try_from(node.split_feature)
            .map_err(|_| format!("node {i} splits on feature {}", node.split_feature))?;
        tree.splits.push(Split {
            feature,
            threshold: below(node.split_value),
            left: place[node.left_child],
            right: place[node.right_child],
            default_left,
            missing: Missing::NaN,
        });
    }
    Ok(tree)
}

/// The largest value below `v`, so that `x <= below(v)` is `x < v` for every number `x`.
fn below(v: f64) -> f64 {
    if v.is_nan() || v == f64::NEG_INFINITY {
        v
    } else if v == 0.0 {
        -f64::from_bits(1) // the smallest negative number
    } else if v > 0.0 {
        f64::from_bits(v.to_bits() - 1)
    } else {
        f64::from_bits(v.to_bits() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_is_the_next_number_down() {
        for v in [
            1.0,
            -1.0,
            0.0,
            4.333,
            -1e-300,
            f64::INFINITY,
            f64::MIN_POSITIVE,
        ] {
            let b = below(v);
            assert!(b < v, "{b} < {v}");
            // Nothing lies between.
            let mid = b / 2.0 + v / 2.0;
            assert!(mid == b || mid == v, "{b} {mid} {v}");
        }
    }
}
