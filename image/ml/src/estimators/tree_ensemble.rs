//! Prediction from a boosted model that XGBoost or LightGBM wrote, in pure Rust.
//!
//! The real libraries fit the model (feature `native-boosting`) and their own model file is the
//! artifact's payload; [`super::xgboost`] and [`super::lightgbm`] read that file into a
//! [`TreeEnsemble`], which predicts the way each library does. So every build, the default one
//! included, serves such a model without the C++ library, one row at a time with no allocation
//! and from any number of threads.

use serde::{Deserialize, Serialize};

/// How a split compares a feature value with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    /// XGBoost: `(value as f32) < threshold`.
    LessF32,
    /// LightGBM: `value <= threshold` in f64.
    LessOrEqual,
}

/// Which values take a split's default branch instead of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Missing {
    /// NaN is read as 0 first (LightGBM `MissingType::None`); nothing takes the default branch.
    NoneZeroFill,
    /// 0 (and NaN, read as 0) takes the default branch (LightGBM `MissingType::Zero`).
    Zero,
    /// NaN takes the default branch (XGBoost; LightGBM `MissingType::NaN`).
    NaN,
}

/// One split: `left`/`right` ≥ 0 name another split of the tree, < 0 the leaf `!child`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// The column compared.
    pub feature: u32,
    /// The value compared with, as [`Comparison`] says.
    pub threshold: f64,
    /// Where a value that compares true goes.
    pub left: i32,
    /// Where any other value goes.
    pub right: i32,
    /// Whether a value [`Missing`] selects goes left.
    pub default_left: bool,
    /// Which values take the default branch.
    pub missing: Missing,
}

/// A tree: its splits (the root is split 0 unless there are none) and leaf values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Output group (class) the tree adds to.
    pub group: usize,
    /// Factor on the leaf value (XGBoost DART's tree weights; 1 otherwise).
    pub weight: f64,
    /// The splits, root first.
    pub splits: Vec<Split>,
    /// The leaf values the splits' negative children name.
    pub leaves: Vec<f64>,
}

/// What turns the summed margins into the model's outputs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Link {
    /// Regression: the margin.
    Identity,
    /// Binary classification: `1 / (1 + exp(-scale · margin))` is the positive class.
    Sigmoid {
        /// The margin's factor (1, or LightGBM's `sigmoid`).
        scale: f64,
    },
    /// Multiclass: softmax over the groups.
    Softmax,
    /// Multiclass one-against-rest (LightGBM `multiclassova`): a sigmoid per class, normalized.
    SigmoidEach {
        /// The margin's factor (LightGBM's `sigmoid`).
        scale: f64,
    },
}

/// A linear booster (XGBoost `gblinear`): `weights[f · groups + g]`, the bias per group after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    /// Per feature and group, then the bias per group.
    pub weights: Vec<f64>,
}

/// A boosted ensemble read from an XGBoost or LightGBM model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeEnsemble {
    /// The columns the trees read at most.
    pub n_features: usize,
    /// Margins summed before the link: classes for multiclass, otherwise 1.
    pub groups: usize,
    /// The starting margin per group.
    pub base_margin: Vec<f64>,
    /// How splits compare (the library's rule).
    pub comparison: Comparison,
    /// Every tree of every group.
    pub trees: Vec<Tree>,
    /// A linear booster instead of trees (`gblinear`).
    pub linear: Option<Linear>,
    /// LightGBM random forest mode: the margin is the trees' mean per group.
    pub average: bool,
    /// What turns margins into outputs.
    pub link: Link,
}

/// The widest model the stack buffer of [`TreeEnsemble::predict_row`] holds without allocating.
const STACK_GROUPS: usize = 16;
/// Trees walked side by side for one row (4 gained less, 16 lost to register spills).
const WALKS: usize = 8;
/// Most outputs (classes) a model file may declare: a bound before anything is allocated.
pub const MAX_GROUPS: usize = 1 << 16;

impl TreeEnsemble {
    /// Summed trees whose splits send `value <= threshold` left, one group per base margin:
    /// what this crate's own boosting fits.
    pub(super) fn summed(
        n_features: usize,
        base_margin: Vec<f64>,
        trees: Vec<Tree>,
        link: Link,
    ) -> TreeEnsemble {
        TreeEnsemble {
            n_features,
            groups: base_margin.len(),
            base_margin,
            comparison: Comparison::LessOrEqual,
            trees,
            linear: None,
            average: false,
            link,
        }
    }

    /// A linear booster and no trees: what this crate's `gblinear` fits.
    pub(super) fn linear(
        n_features: usize,
        base_margin: Vec<f64>,
        linear: Linear,
        link: Link,
    ) -> TreeEnsemble {
        TreeEnsemble {
            linear: Some(linear),
            ..TreeEnsemble::summed(n_features, base_margin, Vec::new(), link)
        }
    }

    /// Number of values [`TreeEnsemble::predict_row`] writes: classes (2 for binary), or 1.
    pub fn n_outputs(&self) -> usize {
        match self.link {
            Link::Sigmoid { .. } => 2,
            Link::Identity => 1,
            Link::Softmax | Link::SigmoidEach { .. } => self.groups,
        }
    }

    /// Checks what a reader produced: every child, feature and group in range, trees acyclic.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.groups > MAX_GROUPS {
            return Err(format!("{} outputs, more than {MAX_GROUPS}", self.groups));
        }
        if self.groups == 0 || self.base_margin.len() != self.groups {
            return Err(format!(
                "{} base margins for {} output groups",
                self.base_margin.len(),
                self.groups
            ));
        }
        for (t, tree) in self.trees.iter().enumerate() {
            if tree.group >= self.groups {
                return Err(format!(
                    "tree {t} adds to group {} of {}",
                    tree.group, self.groups
                ));
            }
            if tree.leaves.is_empty() {
                return Err(format!("tree {t} has no leaves"));
            }
            for (s, split) in tree.splits.iter().enumerate() {
                if split.feature as usize >= self.n_features {
                    return Err(format!(
                        "tree {t} splits on feature {} of {}",
                        split.feature, self.n_features
                    ));
                }
                for child in [split.left, split.right] {
                    // Children point forward, so every walk ends at a leaf.
                    let ok = if child >= 0 {
                        (child as usize) > s && (child as usize) < tree.splits.len()
                    } else {
                        ((!child) as usize) < tree.leaves.len()
                    };
                    if !ok {
                        return Err(format!("tree {t}, split {s}: child {child} out of range"));
                    }
                }
            }
        }
        if let Some(linear) = &self.linear {
            let expected = self
                .n_features
                .checked_add(1)
                .and_then(|n| n.checked_mul(self.groups));
            if expected != Some(linear.weights.len()) {
                return Err(format!(
                    "{} linear weights for {} features and {} groups",
                    linear.weights.len(),
                    self.n_features,
                    self.groups
                ));
            }
        }
        Ok(())
    }

    fn leaf(&self, tree: &Tree, x: &[f64]) -> f64 {
        let mut node = if tree.splits.is_empty() { -1 } else { 0 };
        while node >= 0 {
            node = self.child(&tree.splits[node as usize], x);
        }
        tree.leaves[(!node) as usize]
    }

    /// `K` trees' leaves for one row, walked side by side: each step of a walk waits on its
    /// loads, so independent walks keep the core busy where one leaves it waiting (walking
    /// the trees took 7.4% of a 100,000-row XGBoost trial on one core, 2.9% this way).
    fn leaves<const K: usize>(&self, trees: &[Tree], x: &[f64]) -> [f64; K] {
        let mut nodes = [0i32; K];
        for (node, tree) in nodes.iter_mut().zip(trees) {
            if tree.splits.is_empty() {
                *node = -1;
            }
        }
        loop {
            let mut walking = false;
            for (node, tree) in nodes.iter_mut().zip(trees) {
                if *node >= 0 {
                    *node = self.child(&tree.splits[*node as usize], x);
                    walking = true;
                }
            }
            if !walking {
                break;
            }
        }
        let mut out = [0.0; K];
        for ((o, node), tree) in out.iter_mut().zip(nodes).zip(trees) {
            *o = tree.leaves[(!node) as usize];
        }
        out
    }

    /// Where `x` goes from `split`: the next split, or a leaf as `!leaf`.
    #[inline(always)]
    fn child(&self, split: &Split, x: &[f64]) -> i32 {
        let mut value = x.get(split.feature as usize).copied().unwrap_or(f64::NAN);
        let default = match split.missing {
            Missing::NaN => value.is_nan(),
            Missing::NoneZeroFill => {
                if value.is_nan() {
                    value = 0.0;
                }
                false
            }
            Missing::Zero => {
                if value.is_nan() {
                    value = 0.0;
                }
                // LightGBM's kZeroThreshold.
                value.abs() <= 1e-35
            }
        };
        let left = if default {
            split.default_left
        } else {
            match self.comparison {
                Comparison::LessF32 => f64::from(value as f32) < split.threshold,
                Comparison::LessOrEqual => value <= split.threshold,
            }
        };
        if left {
            split.left
        } else {
            split.right
        }
    }

    /// Each tree's weighted leaf for `x`, in the trees' order.
    fn for_each_leaf(&self, x: &[f64], mut each: impl FnMut(&Tree, f64)) {
        let mut batches = self.trees.chunks_exact(WALKS);
        for batch in &mut batches {
            let leaves = self.leaves::<WALKS>(batch, x);
            for (tree, leaf) in batch.iter().zip(leaves) {
                each(tree, tree.weight * leaf);
            }
        }
        for tree in batches.remainder() {
            each(tree, tree.weight * self.leaf(tree, x));
        }
    }

    /// The model's outputs for one row, in a new vector.
    #[cfg(test)]
    pub(super) fn predict(&self, x: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.n_outputs()];
        self.predict_row(x, &mut out);
        out
    }

    /// Writes the model's outputs for one row (`out.len()` = [`TreeEnsemble::n_outputs`]).
    pub fn predict_row(&self, x: &[f64], out: &mut [f64]) {
        let mut stack = [0.0; STACK_GROUPS];
        let mut heap = Vec::new();
        let margins: &mut [f64] = if self.groups <= STACK_GROUPS {
            &mut stack[..self.groups]
        } else {
            heap.resize(self.groups, 0.0);
            &mut heap
        };
        match self.comparison {
            // XGBoost sums in f32, starting from the base margin; so does this, to give the
            // very same values.
            Comparison::LessF32 => {
                margins.copy_from_slice(&self.base_margin);
                self.for_each_leaf(x, |tree, leaf| {
                    margins[tree.group] = f64::from(margins[tree.group] as f32 + leaf as f32);
                });
            }
            Comparison::LessOrEqual => {
                self.for_each_leaf(x, |tree, leaf| margins[tree.group] += leaf);
                if self.average && !self.trees.is_empty() {
                    let per_group = (self.trees.len() / self.groups).max(1) as f64;
                    margins.iter_mut().for_each(|m| *m /= per_group);
                }
                margins
                    .iter_mut()
                    .zip(&self.base_margin)
                    .for_each(|(m, b)| *m += b);
            }
        }
        if let Some(linear) = &self.linear {
            let g = self.groups;
            for (group, m) in margins.iter_mut().enumerate() {
                let mut sum = linear.weights[self.n_features * g + group] as f32;
                for f in 0..self.n_features {
                    // A missing value (NaN, or past the row's end) adds nothing, as in
                    // XGBoost, whose sparse rows skip it.
                    let value = x.get(f).copied().filter(|v| !v.is_nan()).unwrap_or(0.0);
                    sum += linear.weights[f * g + group] as f32 * value as f32;
                }
                *m = f64::from(*m as f32 + sum);
            }
        }
        match self.link {
            Link::Identity => out[0] = margins[0],
            Link::Sigmoid { scale } => {
                let p = sigmoid(scale * margins[0]);
                out[0] = 1.0 - p;
                out[1] = p;
            }
            Link::Softmax => {
                let max = margins.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut sum = 0.0;
                for (o, m) in out.iter_mut().zip(margins.iter()) {
                    *o = (m - max).exp();
                    sum += *o;
                }
                out.iter_mut().for_each(|o| *o /= sum);
            }
            Link::SigmoidEach { scale } => {
                let mut sum = 0.0;
                for (o, m) in out.iter_mut().zip(margins.iter()) {
                    *o = sigmoid(scale * m);
                    sum += *o;
                }
                if sum > 0.0 {
                    out.iter_mut().for_each(|o| *o /= sum);
                }
            }
        }
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stump(comparison: Comparison, missing: Missing) -> TreeEnsemble {
        TreeEnsemble {
            n_features: 1,
            groups: 1,
            base_margin: vec![0.5],
            comparison,
            trees: vec![Tree {
                group: 0,
                weight: 1.0,
                splits: vec![Split {
                    feature: 0,
                    threshold: 1.0,
                    left: -1,
                    right: -2,
                    default_left: false,
                    missing,
                }],
                leaves: vec![10.0, 20.0],
            }],
            linear: None,
            average: false,
            link: Link::Identity,
        }
    }

    fn predict(m: &TreeEnsemble, x: f64) -> f64 {
        let mut out = [0.0];
        m.predict_row(&[x], &mut out);
        out[0]
    }

    /// A chain of `depth` splits on feature `depth % 2`, each sending values above its
    /// threshold on down; a leaf only when `depth` is 0.
    fn chain(depth: usize) -> Tree {
        let splits = (0..depth)
            .map(|d| Split {
                feature: (depth % 2) as u32,
                threshold: d as f64,
                left: !(d as i32),
                right: if d + 1 < depth {
                    d as i32 + 1
                } else {
                    !(depth as i32)
                },
                default_left: d % 2 == 0,
                missing: Missing::NaN,
            })
            .collect();
        Tree {
            group: 0,
            weight: 1.0 + depth as f64 / 8.0,
            splits,
            leaves: (0..=depth).map(|l| (100 * depth + l) as f64).collect(),
        }
    }

    #[test]
    fn trees_walked_side_by_side_sum_as_walked_one_by_one() {
        for comparison in [Comparison::LessF32, Comparison::LessOrEqual] {
            // 2 × WALKS + 3 trees of depths 0 to 6.
            let trees: Vec<Tree> = (0..2 * WALKS + 3).map(|t| chain(t % 7)).collect();
            let model = TreeEnsemble {
                n_features: 2,
                groups: 1,
                base_margin: vec![0.25],
                comparison,
                trees,
                linear: None,
                average: false,
                link: Link::Identity,
            };
            for x in [[-1.0, 7.0], [2.5, 0.5], [f64::NAN, 3.0], [9.0, f64::NAN]] {
                let mut margins = model.base_margin.clone();
                for tree in &model.trees {
                    let leaf = tree.weight * model.leaf(tree, &x);
                    let m = &mut margins[tree.group];
                    *m = match comparison {
                        Comparison::LessF32 => f64::from(*m as f32 + leaf as f32),
                        Comparison::LessOrEqual => *m + leaf,
                    };
                }
                let mut out = [0.0];
                model.predict_row(&x, &mut out);
                assert_eq!(out[0], margins[0], "{comparison:?}, {x:?}");
            }
        }
    }

    #[test]
    fn each_library_compares_its_own_way() {
        let xgb = stump(Comparison::LessF32, Missing::NaN);
        assert_eq!(predict(&xgb, 1.0), 20.5, "XGBoost: 1 < 1 is false");
        assert_eq!(predict(&xgb, 0.999_999_999), 20.5, "rounded to f32 first");
        assert_eq!(
            predict(&xgb, f64::NAN),
            20.5,
            "NaN takes the default (right)"
        );
        let lgb = stump(Comparison::LessOrEqual, Missing::NoneZeroFill);
        assert_eq!(predict(&lgb, 1.0), 10.5, "LightGBM: 1 <= 1");
        assert_eq!(predict(&lgb, f64::NAN), 10.5, "NaN read as 0");
        let zero = stump(Comparison::LessOrEqual, Missing::Zero);
        assert_eq!(
            predict(&zero, 0.0),
            20.5,
            "zero is missing: default (right)"
        );
    }

    #[test]
    fn validation_rejects_children_out_of_range_and_cycles() {
        let mut m = stump(Comparison::LessOrEqual, Missing::NaN);
        assert!(m.validate().is_ok());
        m.trees[0].splits[0].left = 0;
        assert!(m.validate().unwrap_err().contains("child 0 out of range"));
        m.trees[0].splits[0].left = -3;
        assert!(m.validate().is_err());
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut m = stump(Comparison::LessOrEqual, Missing::NaN);
        m.groups = 3;
        m.base_margin = vec![0.0, 1.0, 2.0];
        m.link = Link::Softmax;
        let mut out = [0.0; 3];
        m.predict_row(&[5.0], &mut out);
        assert!((out.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(out[0] > out[1] && out[1] < out[2]);
    }
}
