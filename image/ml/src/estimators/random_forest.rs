//! RandomForest: bootstrap-aggregated CART trees, as scikit-learn's `RandomForestClassifier`
//! and `RandomForestRegressor` build them.
//!
//! Written here rather than taken from a crate: of the pure-Rust forests, smartcore's has no
//! class probabilities (needed for ROC AUC) and no sample weights (needed for
//! `class-weight=balanced`), linfa-ensemble samples features per tree (not per split) and only
//! votes, and linfa-trees has no regression trees. This one follows scikit-learn's
//! algorithm: a bootstrap sample per tree (drawn counts become sample weights, times the
//! balanced class weight), `max-features` candidate features drawn per split (features
//! constant in the node do not count), the best threshold midway between neighbouring
//! distinct values, leaves holding the weighted class distribution (averaged over trees for
//! `predict_proba`) or the weighted mean.
//!
//! Split search is over histograms, as scikit-learn's HistGradientBoosting and LightGBM search:
//! each feature is binned once per fit into at most 256 bins ([`Bins`]: one bin per distinct
//! value when there are that few, else bins of equal row counts), every tree reads the same
//! one-byte codes, and a node's best split on a feature is one pass over its rows into the
//! histogram and one over the bins, instead of a sort of its rows. A feature with at most 256
//! distinct values in the training rows is split exactly as scikit-learn splits it; one with
//! more is split only between bins. The thresholds are values, midway between the largest
//! training value of a bin and the smallest of the next, so a fitted tree is what it was.
//!
//! Trees grow in parallel on rayon's global pool (shared with the cross-validation folds and
//! the booster's histograms, so nesting steals work instead of adding threads); each tree has its own seed
//! drawn from `random-state`, so the forest is the same whatever the number of threads.
//!
//! | name | default | range | meaning |
//! |---|---|---|---|
//! | `n-estimators` | `100` | ≥ 1 | trees |
//! | `criterion` | `gini` | `gini`, `entropy` | split quality (classification; regression always uses squared error) |
//! | `max-depth` | `None` | ≥ 1 or `None` | depth limit |
//! | `min-samples-split` | `2` | ≥ 2 | rows a node needs to be split |
//! | `min-samples-leaf` | `1` | ≥ 1 | rows each child must keep |
//! | `max-features` | `sqrt` (classification), `None` (regression) | `sqrt`, `log2`, `None` (all) | candidate features per split |
//! | `class-weight` | `None` | `balanced`, `None` | weight classes by n / (k · nᶜ); ignored for regression |

use ndarray::{ArrayView2, ArrayViewMut2};
use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::bins::{Binning, Bins, MAX_BINS};
use super::{
    balanced_weights, parse_class_weight, predict_each, Algorithm, Estimator, Fitted, LeastBytes,
    ParamGuard, Predictor, TrainTarget, LEAST_TREE_BYTES,
};
use crate::error::{MlError, Result};
use crate::hyperparams::{is_none, HyperParams};
use leaves::Leaves;

mod leaves;

const FAMILY: Algorithm = Algorithm::RandomForest;
/// Rows that walk a tree side by side when predicting many.
const WALKS: usize = 8;

/// The impurity a classification split minimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// Gini impurity.
    Gini,
    /// Shannon entropy.
    Entropy,
}

/// How many features are drawn as split candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxFeatures {
    /// `sqrt` for classification, all features for regression (scikit-learn's defaults).
    Default,
    /// √p.
    Sqrt,
    /// log₂ p.
    Log2,
    /// All p (`None`).
    All,
}

/// RandomForest hyperparameters as parsed, unchecked: [`ParamGuard::check`] makes them a
/// [`ForestValidParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ForestParams {
    /// `n-estimators`: trees in the forest, at least 1.
    pub n_estimators: usize,
    /// `criterion`: the impurity a classification split minimizes.
    pub criterion: Criterion,
    /// `max-depth`: `None` grows each tree until its leaves are pure; else at least 1.
    pub max_depth: Option<usize>,
    /// `min-samples-split`: rows a node needs to be split, at least 2.
    pub min_samples_split: usize,
    /// `min-samples-leaf`: rows each side of a split keeps, at least 1.
    pub min_samples_leaf: usize,
    /// `max-features`: features drawn as candidates at each split.
    pub max_features: MaxFeatures,
    /// `class-weight=balanced`: classes weighted inversely to their frequency.
    pub balanced: bool,
}

/// Checked RandomForest hyperparameters; only [`ParamGuard::check`] makes them.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestValidParams {
    n_estimators: usize,
    criterion: Criterion,
    max_depth: Option<usize>,
    min_samples_split: usize,
    min_samples_leaf: usize,
    max_features: MaxFeatures,
    balanced: bool,
}

impl ForestValidParams {
    /// Trees in the forest.
    pub fn n_estimators(&self) -> usize {
        self.n_estimators
    }

    /// The impurity a classification split minimizes.
    pub fn criterion(&self) -> Criterion {
        self.criterion
    }

    /// The deepest a tree grows; `None`: until its leaves are pure.
    pub fn max_depth(&self) -> Option<usize> {
        self.max_depth
    }

    /// Rows a node needs to be split.
    pub fn min_samples_split(&self) -> usize {
        self.min_samples_split
    }

    /// Rows each side of a split keeps.
    pub fn min_samples_leaf(&self) -> usize {
        self.min_samples_leaf
    }

    /// Features drawn as candidates at each split.
    pub fn max_features(&self) -> MaxFeatures {
        self.max_features
    }

    /// Whether classes are weighted inversely to their frequency.
    pub fn balanced(&self) -> bool {
        self.balanced
    }
}

impl ParamGuard for ForestParams {
    type Checked = ForestValidParams;

    fn check(self) -> Result<ForestValidParams> {
        if self.n_estimators == 0 {
            return Err(MlError::hp("n-estimators", "must be at least 1"));
        }
        if self.max_depth == Some(0) {
            return Err(MlError::hp("max-depth", "must be at least 1 or None"));
        }
        if self.min_samples_split < 2 {
            return Err(MlError::hp("min-samples-split", "must be at least 2"));
        }
        if self.min_samples_leaf == 0 {
            return Err(MlError::hp("min-samples-leaf", "must be at least 1"));
        }
        Ok(ForestValidParams {
            n_estimators: self.n_estimators,
            criterion: self.criterion,
            max_depth: self.max_depth,
            min_samples_split: self.min_samples_split,
            min_samples_leaf: self.min_samples_leaf,
            max_features: self.max_features,
            balanced: self.balanced,
        })
    }
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            n_estimators: 100,
            criterion: Criterion::Gini,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: MaxFeatures::Default,
            balanced: false,
        }
    }
}

impl ForestParams {
    /// Parses the family's hyperparameters; absent ones take scikit-learn's defaults.
    pub fn from_hyperparams(hp: &HyperParams) -> Result<ForestParams> {
        let d = ForestParams::default();
        let n_estimators = hp.parse::<usize>("n-estimators")?.unwrap_or(d.n_estimators);
        let criterion = match hp.get("criterion").map(str::trim) {
            None | Some("gini") => Criterion::Gini,
            Some("entropy") => Criterion::Entropy,
            Some(v) => {
                return Err(MlError::hp(
                    "criterion",
                    format!("`{v}` is not `gini` or `entropy`"),
                ))
            }
        };
        let max_depth = hp.parse_or_none::<usize>("max-depth")?.unwrap_or(None);
        let min_samples_split = hp
            .parse::<usize>("min-samples-split")?
            .unwrap_or(d.min_samples_split);
        let min_samples_leaf = hp
            .parse::<usize>("min-samples-leaf")?
            .unwrap_or(d.min_samples_leaf);
        let max_features = match hp.get("max-features").map(str::trim) {
            None => MaxFeatures::Default,
            Some("sqrt") => MaxFeatures::Sqrt,
            Some("log2") => MaxFeatures::Log2,
            Some(v) if is_none(v) => MaxFeatures::All,
            Some(v) => {
                return Err(MlError::hp(
                    "max-features",
                    format!("`{v}` is not `sqrt`, `log2` or `None`"),
                ))
            }
        };
        Ok(ForestParams {
            n_estimators,
            criterion,
            max_depth,
            min_samples_split,
            min_samples_leaf,
            max_features,
            balanced: parse_class_weight(hp)?,
        })
    }
}

impl ForestValidParams {
    fn features_per_split(&self, p: usize, classification: bool) -> usize {
        let k = match (self.max_features, classification) {
            (MaxFeatures::Default, true) | (MaxFeatures::Sqrt, _) => {
                (p as f64).sqrt().floor() as usize
            }
            (MaxFeatures::Log2, _) => (p as f64).log2().floor() as usize,
            (MaxFeatures::Default, false) | (MaxFeatures::All, _) => p,
        };
        k.clamp(1, p.max(1))
    }
}

/// One tree as flat arrays; node 0 is the root and `left[i] == 0` marks a leaf.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tree {
    /// The column each split reads.
    pub feature: Vec<u32>,
    /// Rows with a value at or below it go left.
    pub threshold: Vec<f64>,
    /// The left child (0: the node is a leaf).
    pub left: Vec<u32>,
    /// The right child.
    pub right: Vec<u32>,
    /// Node `i`'s outputs are `output[at[i]..at[i + 1]]` and `value[at[i]..at[i + 1]]`; only
    /// leaves have any. Sparse: a leaf of a many-class forest holds a few of the classes,
    /// and a dense row per node made a 500-class forest on 20,000 rows 14 GB.
    pub at: Vec<u32>,
    /// Which output each value is added to: its class, or 0 for regression.
    pub output: Vec<u32>,
    /// The leaves' outputs that are not zero: a class's share of the leaf's weight, or its
    /// mean.
    pub value: Vec<f64>,
}

impl Tree {
    /// Leaf `leaf`'s outputs that are not zero, with the output each is added to.
    #[inline]
    fn outputs(&self, leaf: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let (start, end) = (self.at[leaf] as usize, self.at[leaf + 1] as usize);
        self.output[start..end]
            .iter()
            .zip(&self.value[start..end])
            .map(|(&o, &v)| (o as usize, v))
    }

    /// The leaf each of `rows` reaches, into `leaves`: the rows walk side by side, a level at a
    /// time, so that one walk's wait on memory does not hold up the others.
    fn leaves_of(&self, rows: &[&[f64]], leaves: &mut [usize]) {
        leaves.fill(0);
        loop {
            let mut walking = false;
            for (node, x) in leaves.iter_mut().zip(rows) {
                if self.left[*node] != 0 {
                    *node = self.child(*node, x);
                    walking = true;
                }
            }
            if !walking {
                break;
            }
        }
    }

    #[inline]
    fn leaf_of(&self, x: &[f64]) -> usize {
        let mut node = 0usize;
        while self.left[node] != 0 {
            node = self.child(node, x);
        }
        node
    }

    /// Checks that the leaves' outputs lie in `output` and `value` and name one of
    /// `n_outputs` outputs, so that no prediction reads or adds out of range.
    fn check_outputs(&self, n_outputs: usize) -> std::result::Result<(), String> {
        let n = self.left.len();
        if self.at.len() != n + 1 {
            return Err(format!("{} output offsets for {n} nodes", self.at.len()));
        }
        if self.output.len() != self.value.len() {
            return Err(format!(
                "{} output indices but {} values",
                self.output.len(),
                self.value.len()
            ));
        }
        let ordered = self.at.first() == Some(&0)
            && self.at.windows(2).all(|w| w[0] <= w[1])
            && self
                .at
                .last()
                .is_some_and(|&end| end as usize == self.value.len());
        if !ordered {
            return Err(format!(
                "output offsets are not ascending from 0 to the {} values",
                self.value.len()
            ));
        }
        if let Some(&o) = self.output.iter().find(|&&o| o as usize >= n_outputs) {
            return Err(format!("a leaf adds to output {o} of {n_outputs}"));
        }
        Ok(())
    }

    /// Where `x` goes from the split at `node`.
    #[inline(always)]
    fn child(&self, node: usize, x: &[f64]) -> usize {
        if x[self.feature[node] as usize] <= self.threshold[node] {
            self.left[node] as usize
        } else {
            self.right[node] as usize
        }
    }
}

/// A fitted forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "leaves::StoredForest")]
pub struct Forest {
    /// Number of classes, or 1 for regression.
    pub n_outputs: usize,
    /// The trees, whose outputs are averaged.
    pub trees: Vec<Tree>,
}

impl Forest {
    /// Checks a read payload, so that predicting can neither panic nor loop: every tree's
    /// arrays agree in length, and every child index lies after its parent (a walk from the
    /// root then ends at a leaf within the tree's node count).
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        if self.n_outputs == 0 || self.n_outputs > super::tree_ensemble::MAX_GROUPS {
            return Err(format!("{} outputs per row", self.n_outputs));
        }
        for (t, tree) in self.trees.iter().enumerate() {
            let n = tree.feature.len();
            if n == 0 {
                return Err(format!("tree {t} has no nodes"));
            }
            if tree.threshold.len() != n || tree.left.len() != n || tree.right.len() != n {
                return Err(format!(
                    "tree {t}: {n} features but {} thresholds, {} left and {} right children",
                    tree.threshold.len(),
                    tree.left.len(),
                    tree.right.len()
                ));
            }
            tree.check_outputs(self.n_outputs)
                .map_err(|e| format!("tree {t}: {e}"))?;
            for node in 0..n {
                if tree.left[node] == 0 {
                    continue;
                }
                for child in [tree.left[node], tree.right[node]] {
                    let child = child as usize;
                    if child <= node || child >= n {
                        return Err(format!(
                            "tree {t}, node {node}: child {child} is not a later node of the \
                             {n} (out of range, or a cycle)"
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks that every split reads a column of a `width`-column row.
    pub(crate) fn check_width(&self, width: usize) -> std::result::Result<(), String> {
        for (t, tree) in self.trees.iter().enumerate() {
            for (node, &feature) in tree.feature.iter().enumerate() {
                if tree.left.get(node).is_some_and(|&l| l != 0) && feature as usize >= width {
                    return Err(format!(
                        "tree {t}, node {node} splits on column {feature} of {width}"
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Predictor for Forest {
    fn predict_row(&self, x: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        for tree in &self.trees {
            for (o, v) in tree.outputs(tree.leaf_of(x)) {
                if let Some(slot) = out.get_mut(o) {
                    *slot += v;
                }
            }
        }
        let n = self.trees.len().max(1) as f64;
        for o in out.iter_mut() {
            *o /= n;
        }
    }

    /// Trees outside, rows inside, `WALKS` rows down a tree at once: a deep tree's nodes are
    /// fetched from memory once for many rows rather than once per row, and the walks' loads
    /// overlap. Each row still adds the trees' values in the trees' order, as `predict_row`
    /// does, so the results are the same to the bit.
    fn predict_rows(&self, x: ArrayView2<f64>, mut out: ArrayViewMut2<f64>) {
        let k = self.n_outputs;
        let fits = out.ncols() == k && k > 0 && x.ncols() > 0 && out.nrows() == x.nrows();
        let (true, Some(values)) = (fits, x.as_slice()) else {
            return predict_each(self, x, out);
        };
        let Some(sums) = out.as_slice_mut() else {
            return predict_each(self, x, out);
        };
        sums.fill(0.0);
        let rows: Vec<&[f64]> = values.chunks_exact(x.ncols()).collect();
        let mut leaves = [0usize; WALKS];
        for tree in &self.trees {
            for (group, sums) in rows.chunks(WALKS).zip(sums.chunks_mut(WALKS * k)) {
                tree.leaves_of(group, &mut leaves[..group.len()]);
                for (&leaf, sums) in leaves.iter().zip(sums.chunks_mut(k)) {
                    for (o, v) in tree.outputs(leaf) {
                        if let Some(slot) = sums.get_mut(o) {
                            *slot += v;
                        }
                    }
                }
            }
        }
        let n = self.trees.len().max(1) as f64;
        for o in sums.iter_mut() {
            *o /= n;
        }
    }
}

impl Estimator for ForestValidParams {
    fn family(&self) -> Algorithm {
        FAMILY
    }

    fn fit(&self, x: ArrayView2<f64>, y: TrainTarget<'_>, seed: u64) -> Result<Fitted> {
        let (n, p) = x.dim();
        if n == 0 || p == 0 {
            return Err(MlError::Fit {
                family: FAMILY,
                message: format!("cannot fit on {n} rows × {p} features"),
            });
        }
        // One byte per value, column-major: a node's histogram reads one feature over its rows.
        let columns = Bins::columns(x, None, Binning::EqualCounts);
        let (labels, n_outputs, class_weights) = match y {
            TrainTarget::Classes { codes, n_classes } => {
                let w = if self.balanced {
                    balanced_weights(codes, n_classes)
                } else {
                    vec![1.0; n_classes]
                };
                (Labels::Classes(codes), n_classes, w)
            }
            TrainTarget::Values(v) => (Labels::Values(v), 1, Vec::new()),
        };
        // The entropy criterion's c·ln(c) for each whole weight up to the rows (bootstrap counts
        // without class weights are whole), looked up instead of computed per candidate split.
        let x_ln_x: Vec<f64> =
            if matches!(labels, Labels::Classes(_)) && self.criterion == Criterion::Entropy {
                (0..=n.min(X_LN_X_MAX)).map(|k| x_ln_x(k as f64)).collect()
            } else {
                Vec::new()
            };
        let builder = Builder {
            columns: &columns,
            labels,
            class_weights,
            x_ln_x,
            n_outputs,
            mtry: self
                .features_per_split(p, n_outputs > 1 || matches!(y, TrainTarget::Classes { .. })),
            params: self,
        };
        let mut master = ChaCha8Rng::seed_from_u64(seed);
        let seeds: Vec<u64> = (0..self.n_estimators).map(|_| master.next_u64()).collect();
        let trees: Vec<Tree> = seeds.par_iter().map(|&s| builder.tree(s)).collect();
        Ok(Fitted::RandomForest(Forest { n_outputs, trees }))
    }

    fn least_bytes(&self, _features: usize, _outputs: usize) -> Option<LeastBytes> {
        Some(LeastBytes {
            hyperparameter: "n-estimators",
            holds: "the forest's trees",
            bytes: (self.n_estimators as u64).saturating_mul(LEAST_TREE_BYTES),
        })
    }
}

/// The largest weight whose `x_ln_x` is looked up (a table of 512 KiB).
const X_LN_X_MAX: usize = 1 << 16;

fn x_ln_x(x: f64) -> f64 {
    x * x.ln()
}

#[derive(Clone, Copy)]
enum Labels<'a> {
    Classes(&'a [usize]),
    Values(&'a [f64]),
}

struct Builder<'a> {
    columns: &'a [Bins],
    labels: Labels<'a>,
    class_weights: Vec<f64>,
    /// `x_ln_x(k)` for whole `k` below its length (entropy only).
    x_ln_x: Vec<f64>,
    n_outputs: usize,
    mtry: usize,
    params: &'a ForestValidParams,
}

/// Weighted label statistics of a set of rows.
#[derive(Clone)]
struct Stats {
    weight: f64,
    /// Classification: weight per class. Regression: [Σw·y, Σw·y²].
    sums: Vec<f64>,
}

struct Best {
    feature: usize,
    /// Rows in this bin or a lower one go left.
    bin: u8,
    score: f64,
}

impl Builder<'_> {
    fn tree(&self, seed: u64) -> Tree {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = self.columns[0].codes.len();
        let mut counts = vec![0u32; n];
        for _ in 0..n {
            counts[rng.gen_range(0..n)] += 1;
        }
        // The drawn rows with their weight and label side by side: a node's rows are one
        // contiguous run, read in order (only the feature codes are read by row number).
        let mut samples: Vec<Sample> = (0..n)
            .filter(|&i| counts[i] > 0)
            .map(|row| {
                let (class, y, class_weight) = match self.labels {
                    Labels::Classes(c) => (c[row], 0.0, self.class_weights[c[row]]),
                    Labels::Values(v) => (0, v[row], 1.0),
                };
                let class = u32::try_from(class).unwrap_or(u32::MAX);
                Sample {
                    row,
                    class,
                    local: class,
                    y,
                    w: f64::from(counts[row]) * class_weight,
                }
            })
            .collect();
        let mut tree = Tree {
            feature: Vec::new(),
            threshold: Vec::new(),
            left: Vec::new(),
            right: Vec::new(),
            at: Vec::new(),
            output: Vec::new(),
            value: Vec::new(),
        };
        let mut leaves = Leaves::default();
        let mut classes = NodeClasses::new(self.n_outputs);
        let mut features: Vec<usize> = (0..self.columns.len()).collect();
        let mut histogram = Histogram::new(self.stats_len());
        // (node, start, end, depth)
        let mut stack = vec![(self.push_node(&mut tree), 0usize, samples.len(), 0usize)];
        while let Some((node, start, end, depth)) = stack.pop() {
            let stats = self.stats(&mut samples[start..end], &mut classes);
            let count = end - start;
            let p = self.params;
            let best = if p.max_depth.is_some_and(|d| depth >= d)
                || count < p.min_samples_split
                || count < 2 * p.min_samples_leaf
                || self.impurity(&stats) <= 1e-7
            {
                None
            } else {
                histogram.set_width(stats.sums.len());
                self.best_split(
                    &samples[start..end],
                    &stats,
                    &mut features,
                    &mut histogram,
                    &mut rng,
                )
            };
            let Some(best) = best else {
                self.set_leaf(&mut leaves, node, &stats, &classes);
                continue;
            };
            let column = &self.columns[best.feature];
            let mid = partition(&mut samples[start..end], |s| {
                column.codes[s.row] <= best.bin
            }) + start;
            let left = self.push_node(&mut tree);
            let right = self.push_node(&mut tree);
            tree.feature[node] = best.feature as u32;
            tree.threshold[node] = column.edges[usize::from(best.bin)];
            tree.left[node] = left as u32;
            tree.right[node] = right as u32;
            stack.push((right, mid, end, depth + 1));
            stack.push((left, start, mid, depth + 1));
        }
        (tree.at, tree.output, tree.value) = leaves.into_arrays(tree.left.len());
        tree
    }

    fn push_node(&self, tree: &mut Tree) -> usize {
        tree.feature.push(0);
        tree.threshold.push(0.0);
        tree.left.push(0);
        tree.right.push(0);
        tree.left.len() - 1
    }

    /// Leaf `node`'s outputs: its classes' shares of its weight, or its mean.
    fn set_leaf(&self, leaves: &mut Leaves, node: usize, stats: &Stats, classes: &NodeClasses) {
        match self.labels {
            Labels::Classes(_) => {
                let shares = stats.sums.iter().map(|s| s / stats.weight);
                leaves.set(node, classes.present().zip(shares));
            }
            Labels::Values(_) => {
                leaves.set(node, std::iter::once((0, stats.sums[0] / stats.weight)));
            }
        }
    }

    fn stats_len(&self) -> usize {
        match self.labels {
            Labels::Classes(_) => self.n_outputs,
            Labels::Values(_) => 2,
        }
    }

    /// The statistics of a node's `samples`. For classification, over the classes they hold
    /// (`classes` learns which, and each sample its class's place among them).
    fn stats(&self, samples: &mut [Sample], classes: &mut NodeClasses) -> Stats {
        let width = match self.labels {
            Labels::Classes(_) => classes.of(samples),
            Labels::Values(_) => 2,
        };
        let mut stats = Stats {
            weight: 0.0,
            sums: vec![0.0; width],
        };
        for s in samples.iter() {
            stats.weight += s.w;
            match self.labels {
                Labels::Classes(_) => stats.sums[s.local as usize] += s.w,
                Labels::Values(_) => {
                    stats.sums[0] += s.w * s.y;
                    stats.sums[1] += s.w * s.y * s.y;
                }
            }
        }
        stats
    }

    fn impurity(&self, s: &Stats) -> f64 {
        match self.labels {
            Labels::Classes(_) => match self.params.criterion {
                Criterion::Gini => 1.0 - s.sums.iter().map(|c| (c / s.weight).powi(2)).sum::<f64>(),
                Criterion::Entropy => -s
                    .sums
                    .iter()
                    .filter(|&&c| c > 0.0)
                    .map(|c| (c / s.weight) * (c / s.weight).log2())
                    .sum::<f64>(),
            },
            Labels::Values(_) => {
                let mean = s.sums[0] / s.weight;
                s.sums[1] / s.weight - mean * mean
            }
        }
    }

    /// Larger is better; equals −(weighted child impurity) up to a per-node constant.
    #[inline]
    fn proxy(&self, left: &Stats, right: &Stats) -> f64 {
        match self.labels {
            Labels::Classes(_) => match self.params.criterion {
                Criterion::Gini => {
                    left.sums.iter().map(|c| c * c).sum::<f64>() / left.weight
                        + right.sums.iter().map(|c| c * c).sum::<f64>() / right.weight
                }
                Criterion::Entropy => {
                    // c·ln(c), from the table when c is a whole weight in it: the same value.
                    let x_ln_x = |c: f64| {
                        let k = c as usize;
                        match self.x_ln_x.get(k) {
                            Some(&v) if k as f64 == c => v,
                            _ => x_ln_x(c),
                        }
                    };
                    let h = |s: &Stats| {
                        x_ln_x(s.weight)
                            - s.sums
                                .iter()
                                .filter(|&&c| c > 0.0)
                                .map(|&c| x_ln_x(c))
                                .sum::<f64>()
                    };
                    -(h(left) + h(right))
                }
            },
            Labels::Values(_) => {
                left.sums[0] * left.sums[0] / left.weight
                    + right.sums[0] * right.sums[0] / right.weight
            }
        }
    }

    fn best_split(
        &self,
        samples: &[Sample],
        total: &Stats,
        features: &mut [usize],
        histogram: &mut Histogram,
        rng: &mut ChaCha8Rng,
    ) -> Option<Best> {
        features.shuffle(rng);
        let min_leaf = self.params.min_samples_leaf;
        let n = samples.len();
        let mut best: Option<Best> = None;
        let mut visited = 0;
        let mut left = Stats {
            weight: 0.0,
            sums: vec![0.0; total.sums.len()],
        };
        let mut right = left.clone();
        for &f in features.iter() {
            if visited >= self.mtry {
                break;
            }
            let column = &self.columns[f];
            histogram.fill(self, column, samples);
            if histogram.occupied() < 2 {
                histogram.clear();
                continue; // constant here: does not count towards max-features
            }
            visited += 1;
            left.weight = 0.0;
            left.sums.fill(0.0);
            right.weight = total.weight;
            right.sums.copy_from_slice(&total.sums);
            let mut on_left = 0usize;
            for bin in histogram.first_occupied..histogram.last_occupied {
                let count = histogram.count[bin] as usize;
                if count == 0 {
                    continue; // the same split as the previous bin's
                }
                on_left += count;
                histogram.move_bin(bin, &mut left, &mut right);
                if on_left < min_leaf || n - on_left < min_leaf {
                    continue;
                }
                let score = self.proxy(&left, &right);
                if best.as_ref().is_none_or(|b| score > b.score) {
                    best = Some(Best {
                        feature: f,
                        bin: u8::try_from(bin).unwrap_or(u8::MAX),
                        score,
                    });
                }
            }
            histogram.clear();
        }
        best
    }
}

/// A node's rows binned on one feature: per bin, the row count, weight and label sums.
struct Histogram {
    stats_len: usize,
    count: Vec<u32>,
    weight: Vec<f64>,
    /// `stats_len` sums per bin.
    sums: Vec<f64>,
    /// Bins with rows: how many, the lowest and the highest. Only bins between the lowest and
    /// the highest are read and cleared.
    occupied: usize,
    first_occupied: usize,
    last_occupied: usize,
}

impl Histogram {
    fn new(stats_len: usize) -> Histogram {
        Histogram {
            stats_len,
            count: vec![0; MAX_BINS],
            weight: vec![0.0; MAX_BINS],
            sums: vec![0.0; MAX_BINS * stats_len],
            occupied: 0,
            first_occupied: 0,
            last_occupied: 0,
        }
    }

    /// Bins `rows`; the histogram is clear before (see [`Histogram::clear`]).
    fn fill(&mut self, builder: &Builder<'_>, column: &Bins, samples: &[Sample]) {
        let k = self.stats_len;
        let (mut lo, mut hi) = (usize::MAX, 0);
        for s in samples {
            let bin = usize::from(column.codes[s.row]);
            lo = lo.min(bin);
            hi = hi.max(bin);
            self.count[bin] += 1;
            self.weight[bin] += s.w;
            match builder.labels {
                Labels::Classes(_) => self.sums[bin * k + s.local as usize] += s.w,
                Labels::Values(_) => {
                    self.sums[bin * k] += s.w * s.y;
                    self.sums[bin * k + 1] += s.w * s.y * s.y;
                }
            }
        }
        if samples.is_empty() {
            (lo, hi) = (0, 0);
        }
        self.first_occupied = lo;
        self.last_occupied = hi;
        self.occupied = self.count[lo..=hi].iter().filter(|&&c| c > 0).count();
    }

    /// Sets the sums per bin to `width` (a node's classes); the histogram is clear.
    fn set_width(&mut self, width: usize) {
        self.stats_len = width;
        if self.sums.len() < MAX_BINS * width {
            self.sums.resize(MAX_BINS * width, 0.0);
        }
    }

    /// Zeroes the bins the last [`Histogram::fill`] touched.
    fn clear(&mut self) {
        let (lo, hi, k) = (self.first_occupied, self.last_occupied, self.stats_len);
        self.count[lo..=hi].fill(0);
        self.weight[lo..=hi].fill(0.0);
        self.sums[lo * k..(hi + 1) * k].fill(0.0);
    }

    fn occupied(&self) -> usize {
        self.occupied
    }

    /// Moves bin `bin`'s rows from `right` to `left`.
    #[inline]
    fn move_bin(&self, bin: usize, left: &mut Stats, right: &mut Stats) {
        let w = self.weight[bin];
        left.weight += w;
        right.weight -= w;
        let sums = &self.sums[bin * self.stats_len..(bin + 1) * self.stats_len];
        for ((l, r), s) in left.sums.iter_mut().zip(right.sums.iter_mut()).zip(sums) {
            *l += s;
            *r -= s;
        }
    }
}

/// Classes up to this many are every node's classes: finding a node's own would cost more
/// than it saves.
const DENSE_CLASSES: usize = 8;

/// The classes among the rows of the node being split, ascending. A node's statistics,
/// histogram and leaf hold these only: with every class, a forest of many classes spent its
/// time and memory on classes its deep nodes do not hold. The sums keep their order, only
/// without the zeros, so the splits and the leaves' values are the same.
struct NodeClasses {
    /// The node's classes; every class while there are at most [`DENSE_CLASSES`].
    present: Vec<u32>,
    /// Each class's place in `present`, or `NOT_PRESENT` (only while a node's are found).
    place: Vec<u32>,
    dense: bool,
}

const NOT_PRESENT: u32 = u32::MAX;

impl NodeClasses {
    fn new(classes: usize) -> NodeClasses {
        let dense = classes <= DENSE_CLASSES;
        NodeClasses {
            present: (0..classes as u32).collect(),
            place: if dense {
                Vec::new()
            } else {
                vec![NOT_PRESENT; classes]
            },
            dense,
        }
    }

    /// Finds `samples`' classes, sets each sample's place among them, and returns how many
    /// there are.
    fn of(&mut self, samples: &mut [Sample]) -> usize {
        if self.dense {
            return self.present.len();
        }
        self.present.clear();
        for s in samples.iter() {
            let place = &mut self.place[s.class as usize];
            if *place == NOT_PRESENT {
                *place = 0;
                self.present.push(s.class);
            }
        }
        self.present.sort_unstable();
        for (i, &c) in self.present.iter().enumerate() {
            self.place[c as usize] = i as u32;
        }
        for s in samples.iter_mut() {
            s.local = self.place[s.class as usize];
        }
        for &c in &self.present {
            self.place[c as usize] = NOT_PRESENT;
        }
        self.present.len()
    }

    /// The node's classes, in the order of its statistics.
    fn present(&self) -> impl Iterator<Item = usize> + '_ {
        self.present.iter().map(|&c| c as usize)
    }
}

/// One drawn row of a tree's bootstrap sample.
#[derive(Clone, Copy)]
struct Sample {
    row: usize,
    /// Classification: the class code.
    class: u32,
    /// Classification: the class's place among the classes of the node being split (see
    /// [`NodeClasses`]).
    local: u32,
    /// Regression: the value.
    y: f64,
    /// Times drawn × the class weight.
    w: f64,
}

/// Moves samples where `keep` holds to the front; returns how many there are. Every sample is
/// swapped, a rejected one with itself, so that no branch depends on the side (which a
/// predictor can only guess): the same order as swapping only the kept ones.
fn partition(rows: &mut [Sample], keep: impl Fn(&Sample) -> bool) -> usize {
    let mut next = 0;
    for i in 0..rows.len() {
        let kept = keep(&rows[i]);
        rows.swap(if kept { next } else { i }, i);
        next += usize::from(kept);
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn entropy_from_the_table_is_the_computed_entropy() {
        let params = ForestParams::default().check().unwrap();
        let params = ForestValidParams {
            criterion: Criterion::Entropy,
            ..params
        };
        let codes = [0usize, 1, 2];
        let builder = |x_ln_x: Vec<f64>| Builder {
            columns: &[],
            labels: Labels::Classes(&codes),
            class_weights: vec![1.0; 3],
            x_ln_x,
            n_outputs: 3,
            mtry: 1,
            params: &params,
        };
        let table = builder((0..=100).map(|k| x_ln_x(k as f64)).collect());
        let computed = builder(Vec::new());
        let stats = |sums: [f64; 3]| Stats {
            weight: sums.iter().sum(),
            sums: sums.to_vec(),
        };
        // Whole weights (in the table, and past its end), fractional ones (class weights).
        for (left, right) in [
            ([3.0, 0.0, 7.0], [1.0, 1.0, 0.0]),
            ([60.0, 30.0, 20.0], [2.0, 5.0, 9.0]),
            ([1.5, 0.25, 7.0], [0.0, 3.0, 0.75]),
        ] {
            let (l, r) = (stats(left), stats(right));
            assert_eq!(
                table.proxy(&l, &r).to_bits(),
                computed.proxy(&l, &r).to_bits(),
                "{left:?} {right:?}"
            );
        }
    }

    fn data() -> (Array2<f64>, Vec<usize>) {
        let x = Array2::from_shape_fn((60, 3), |(i, j)| {
            ((i * 7 + j * 13) % 17) as f64 + (i / 30) as f64 * 10.0 * f64::from(u8::from(j == 1))
        });
        let y = (0..60).map(|i| i / 30).collect();
        (x, y)
    }

    #[test]
    fn parses_and_checks_hyperparameters() {
        let hp = HyperParams::from_pairs([
            ("n-estimators", "50"),
            ("criterion", "entropy"),
            ("max-depth", "5"),
            ("min-samples-split", "3"),
            ("min-samples-leaf", "2"),
            ("max-features", "None"),
            ("class-weight", "balanced"),
        ]);
        assert_eq!(
            ForestParams::from_hyperparams(&hp).unwrap(),
            ForestParams {
                n_estimators: 50,
                criterion: Criterion::Entropy,
                max_depth: Some(5),
                min_samples_split: 3,
                min_samples_leaf: 2,
                max_features: MaxFeatures::All,
                balanced: true,
            }
        );
        for (name, value) in [
            ("n-estimators", "0"),
            ("criterion", "mse"),
            ("max-depth", "0"),
            ("min-samples-split", "1"),
            ("min-samples-leaf", "0"),
            ("max-features", "auto"),
        ] {
            let err = ForestParams::from_hyperparams(&HyperParams::from_pairs([(name, value)]))
                .and_then(ParamGuard::check)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("hyperparameter `{name}`")),
                "{err}"
            );
        }
    }

    #[test]
    fn learns_a_separable_rule_and_is_deterministic() {
        let (x, y) = data();
        let target = TrainTarget::Classes {
            codes: &y,
            n_classes: 2,
        };
        let params = ForestParams {
            n_estimators: 20,
            ..ForestParams::default()
        }
        .check()
        .unwrap();
        let a = params.fit(x.view(), target, 3).unwrap();
        assert_eq!(a, params.fit(x.view(), target, 3).unwrap());
        assert_ne!(a, params.fit(x.view(), target, 4).unwrap());
        let mut out = [0.0; 2];
        let mut correct = 0;
        for (row, &c) in x.rows().into_iter().zip(&y) {
            a.predictor().predict_row(row.as_slice().unwrap(), &mut out);
            assert!((out[0] + out[1] - 1.0).abs() < 1e-12);
            correct += usize::from((out[1] > 0.5) == (c == 1));
        }
        assert!(correct >= 58, "{correct}/60");
    }

    #[test]
    fn many_rows_at_once_predict_what_each_row_predicts() {
        let (x, y) = data();
        // 60 rows: seven groups of `WALKS` and a shorter one.
        let params = ForestParams {
            n_estimators: 15,
            ..ForestParams::default()
        }
        .check()
        .unwrap();
        let values: Vec<f64> = y.iter().map(|&c| c as f64 * 2.0 + 1.0).collect();
        let targets = [
            (
                TrainTarget::Classes {
                    codes: &y,
                    n_classes: 2,
                },
                2,
            ),
            (TrainTarget::Values(&values), 1),
        ];
        for (target, k) in targets {
            let fitted = params.fit(x.view(), target, 5).unwrap();
            let mut one_by_one = Array2::zeros((x.nrows(), k));
            for (row, mut out) in x.rows().into_iter().zip(one_by_one.rows_mut()) {
                fitted
                    .predictor()
                    .predict_row(row.as_slice().unwrap(), out.as_slice_mut().unwrap());
            }
            let mut together = Array2::from_elem((x.nrows(), k), f64::NAN);
            fitted
                .predictor()
                .predict_rows(x.view(), together.view_mut());
            assert_eq!(together, one_by_one);
            // Columns of a column-major matrix are not rows in memory: row by row, the same.
            let columns = x.t().to_owned().reversed_axes();
            let mut fallback = Array2::zeros((x.nrows(), k));
            fitted
                .predictor()
                .predict_rows(columns.view(), fallback.view_mut());
            assert_eq!(fallback, one_by_one);
        }
    }

    #[test]
    fn depth_limit_and_regression_means() {
        let x = Array2::from_shape_fn((8, 1), |(i, _)| i as f64);
        let y: Vec<f64> = (0..8).map(|i| if i < 4 { 1.0 } else { 5.0 }).collect();
        let params = ForestParams {
            n_estimators: 1,
            max_depth: Some(1),
            ..ForestParams::default()
        }
        .check()
        .unwrap();
        let Fitted::RandomForest(f) = params.fit(x.view(), TrainTarget::Values(&y), 1).unwrap()
        else {
            panic!("wrong family")
        };
        assert_eq!(f.trees[0].left.len(), 3, "one split at depth 1");
        let mut out = [0.0];
        f.predict_row(&[0.0], &mut out);
        assert_eq!(out[0], 1.0);
        f.predict_row(&[7.0], &mut out);
        assert_eq!(out[0], 5.0);
    }

    /// Reads `forest` back through the payload reader the server uses.
    fn reload(forest: &Forest) -> std::result::Result<Fitted, String> {
        let bytes = Fitted::RandomForest(forest.clone()).payload().unwrap();
        Fitted::from_payload("model.json", &bytes).map_err(|e| e.to_string())
    }

    #[test]
    fn cyclic_or_out_of_range_trees_are_refused_at_load() {
        let forest = Forest {
            n_outputs: 2,
            trees: vec![Tree {
                feature: vec![0, 1, 0, 0, 0],
                threshold: vec![0.5, 0.5, 0.0, 0.0, 0.0],
                left: vec![1, 3, 0, 0, 0],
                right: vec![2, 4, 0, 0, 0],
                at: vec![0, 0, 0, 1, 2, 3],
                output: vec![1, 0, 1],
                value: vec![1.0, 1.0, 1.0],
            }],
        };
        let fitted = reload(&forest).unwrap();
        assert_eq!(fitted.n_outputs(), Some(2));
        assert!(fitted.check_width(2).is_ok());
        let err = fitted.check_width(1).unwrap_err().to_string();
        assert!(err.contains("node 1 splits on column 1 of 1"), "{err}");

        // Node 1's right child is the root: a row going right twice would loop forever.
        let mut cyclic = forest.clone();
        cyclic.trees[0].right[1] = 0;
        let err = reload(&cyclic).unwrap_err();
        assert!(err.contains("tree 0, node 1: child 0"), "{err}");
        assert!(err.contains("cycle"), "{err}");
        let mut self_loop = forest.clone();
        self_loop.trees[0].left[1] = 1;
        assert!(reload(&self_loop).unwrap_err().contains("node 1: child 1"));
        let mut far = forest.clone();
        far.trees[0].right[0] = 70;
        assert!(reload(&far).unwrap_err().contains("child 70"));
        let mut ragged = forest.clone();
        ragged.trees[0].threshold.pop();
        assert!(reload(&ragged).unwrap_err().contains("4 thresholds"));
        let mut empty = forest.clone();
        empty.trees[0] = Tree {
            feature: vec![],
            threshold: vec![],
            left: vec![],
            right: vec![],
            at: vec![0],
            output: vec![],
            value: vec![],
        };
        assert!(reload(&empty).unwrap_err().contains("no nodes"));
    }

    #[test]
    fn leaves_adding_out_of_their_range_are_refused_at_load() {
        // A stump: the root splits, its two leaves hold one class each.
        let stump = || Tree {
            feature: vec![0, 0, 0],
            threshold: vec![0.5, 0.0, 0.0],
            left: vec![1, 0, 0],
            right: vec![2, 0, 0],
            at: vec![0, 0, 1, 2],
            output: vec![0, 2],
            value: vec![1.0, 1.0],
        };
        let forest = |tree: Tree| Forest {
            n_outputs: 3,
            trees: vec![tree],
        };
        let fitted = reload(&forest(stump())).unwrap();
        let mut out = [9.0; 3];
        fitted.predictor().predict_row(&[0.9], &mut out);
        assert_eq!(out, [0.0, 0.0, 1.0]);

        let refused = |edit: &dyn Fn(&mut Tree)| {
            let mut tree = stump();
            edit(&mut tree);
            let err = reload(&forest(tree)).unwrap_err();
            assert!(
                err.contains("malformed RandomForest model: tree 0: "),
                "{err}"
            );
            err
        };
        assert!(refused(&|t| t.output[1] = 3).contains("adds to output 3 of 3"));
        assert!(refused(&|t| t.at.pop().map(drop).unwrap_or(())).contains("3 output offsets"));
        assert!(refused(&|t| t.at = vec![0, 2, 1, 2]).contains("not ascending"));
        assert!(refused(&|t| t.at[3] = 1).contains("not ascending"));
        assert!(refused(&|t| t.at[0] = 1).contains("not ascending"));
        assert!(refused(&|t| t.value.push(0.5)).contains("2 output indices but 3 values"));
    }

    /// Payloads written before the leaves were sparse hold `n_outputs` values for every
    /// node, split nodes too: they load, and predict what they predicted.
    #[test]
    fn a_forest_of_the_dense_layout_loads_with_the_same_predictions() {
        let dense = r#"{"family":"RandomForest","n_outputs":3,"trees":[
            {"feature":[1,0,0],"threshold":[2.5,0,0],"left":[1,0,0],"right":[2,0,0],
             "value":[0.2,0.3,0.5, 0.5,0.0,0.5, 0.0,1.0,0.0]},
            {"feature":[0],"threshold":[0],"left":[0],"right":[0],"value":[0.25,0.25,0.5]}]}"#;
        let fitted = Fitted::from_payload("model.json", dense.as_bytes()).unwrap();
        let Fitted::RandomForest(forest) = &fitted else {
            panic!("{fitted:?}");
        };
        // Only the leaves' values that are not zero are kept.
        assert_eq!(forest.trees[0].at, [0, 0, 2, 3]);
        assert_eq!(forest.trees[0].output, [0, 2, 1]);
        assert_eq!(forest.trees[0].value, [0.5, 0.5, 1.0]);
        let mut out = [0.0; 3];
        fitted.predictor().predict_row(&[0.0, 1.0], &mut out);
        assert_eq!(out, [0.75 / 2.0, 0.25 / 2.0, 1.0 / 2.0]);
        fitted.predictor().predict_row(&[0.0, 3.0], &mut out);
        assert_eq!(out, [0.25 / 2.0, 1.25 / 2.0, 0.5 / 2.0]);
        // And it is written again in the sparse layout, which reads back the same.
        assert_eq!(reload(forest).unwrap(), fitted);

        let refused = |payload: String, expected: &str| {
            let err = Fitted::from_payload("model.json", payload.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{err}");
        };
        refused(
            dense.replace("0.0,1.0,0.0]", "0.0,1.0]"),
            "tree 0: 8 values for 3 nodes of 3 outputs",
        );
        refused(
            dense.replacen(
                r#""right":[2,0,0],"#,
                r#""right":[2,0,0],"at":[0,0,0,0],"#,
                1,
            ),
            "tree 0 has only one of `at` and `output`",
        );
    }

    /// A leaf holds the classes of its rows only, so a forest of many classes takes memory
    /// by its rows, not by its nodes times its classes, and predicts as a dense one would.
    #[test]
    fn a_forest_of_many_classes_keeps_only_the_classes_its_leaves_hold() {
        // Fewer than 256 classes: each value of the first column has a bin of its own.
        let classes = 200;
        let x = Array2::from_shape_fn((3 * classes, 2), |(i, j)| {
            (i % classes) as f64
                + if j == 0 {
                    0.0
                } else {
                    (i / classes) as f64 * 0.1
                }
        });
        let y: Vec<usize> = (0..x.nrows()).map(|i| i % classes).collect();
        let params = ForestParams {
            n_estimators: 4,
            ..ForestParams::default()
        }
        .check()
        .unwrap();
        let target = TrainTarget::Classes {
            codes: &y,
            n_classes: classes,
        };
        let fitted = params.fit(x.view(), target, 7).unwrap();
        let Fitted::RandomForest(forest) = &fitted else {
            panic!("{fitted:?}");
        };
        for tree in &forest.trees {
            // Pure leaves: one value each, where a dense row per node held 200.
            let leaves = tree.left.iter().filter(|&&l| l == 0).count();
            assert_eq!(tree.value.len(), leaves);
            assert!(tree.value.iter().all(|&v| v == 1.0));
        }
        let mut out = vec![0.0; classes];
        let mut right = 0;
        for (row, &c) in x.rows().into_iter().zip(&y) {
            fitted
                .predictor()
                .predict_row(row.as_slice().unwrap(), &mut out);
            assert!((out.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            right += usize::from(out[c] >= 0.5);
        }
        assert!(right >= 3 * classes * 9 / 10, "{right} of {}", 3 * classes);
    }
}
