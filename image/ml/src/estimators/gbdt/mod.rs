//! The default build's gradient-boosting engine: second-order histogram boosting, as XGBoost's
//! `hist` and LightGBM fit, written here so the pure-Rust build keeps no crate of uncertain
//! upkeep (docs/container.md says why forust-ml was dropped). The fitted model is a
//! [`TreeEnsemble`], the same trees the libraries' own files are read into, so one predictor
//! serves every boosted model.
//!
//! - Each feature is binned once per fit ([`Bins`](super::bins::Bins)); a node's histogram holds the gradient,
//!   hessian and row sums per bin. Only the smaller child's histogram is built from its rows;
//!   the larger one's is the parent's minus it.
//! - Rows stay in ascending order within each node (a stable partition), so building a
//!   histogram reads each feature's codes forwards; large nodes split their features among
//!   the threads of rayon's pool that no other tree is growing on (the cross-validation folds
//!   share it). Each cell is still summed by one thread in row order, so the fitted model is
//!   the same to the bit on any number of threads.
//! - Growth is depth-wise (XGBoost: every node of a level, up to `max-depth`) or best-first
//!   (LightGBM: the leaf whose split gains most, up to `num-leaves`).
//! - A split's gain is `T(G_L)²/(H_L+λ) + T(G_R)²/(H_R+λ) − T(G)²/(H+λ)`, with `T` the L1
//!   soft threshold; a leaf's value is `−T(G)/(H+λ)` times the learning rate. XGBoost's `gamma`
//!   prunes splits bottom-up after growth, as XGBoost does; LightGBM's `min-split-gain` refuses
//!   them during growth, as LightGBM does.
//! - Objectives: logistic (binary), softmax (multiclass, one tree per class and round) and
//!   squared error, starting from the data's own margin (log-odds or mean) where the library
//!   does.
//! - LightGBM's DART ([`Dart`]): before a round, some earlier rounds are dropped (chosen by
//!   LightGBM's own generator from LightGBM's `drop_seed` for the fit's seed); the new trees are
//!   fitted to the margins without them and added with `η/(k + 1)` for `k` dropped rounds, and
//!   each dropped round is scaled by `k/(k + 1)`. As in LightGBM, the starting margin lives in
//!   the first round's trees and is dropped and scaled with them.
//!
//! Here the rounds; one tree's growth in `grower` (its split search in `split`, the tree it
//! leaves in `grown`), the binned data and histograms in `binned`, the losses in `objective`
//! and DART's drops in `dart`.

mod binned;
mod dart;
mod grower;
mod grown;
mod objective;
mod split;
#[cfg(test)]
mod tests;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::bins::Binning;
use super::tree_ensemble::TreeEnsemble;
use binned::Binned;
use dart::Dropout;
use grower::Grower;
use grown::Grown;

pub(crate) use dart::Dart;
pub(crate) use objective::{Gh, Objective};

/// How the trees grow and what limits them, in both libraries' terms.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Config {
    /// Boosting rounds.
    pub rounds: usize,
    /// Shrinkage of every leaf value.
    pub learning_rate: f64,
    /// Depth limit (`None`: none).
    pub max_depth: Option<usize>,
    /// Leaf limit; `Some` grows best-first (LightGBM), `None` depth-wise (XGBoost).
    pub max_leaves: Option<usize>,
    /// Hessian each child needs.
    pub min_child_weight: f64,
    /// Rows each child needs (0: no limit but the hessian's).
    pub min_child_samples: usize,
    /// Share of rows each tree is grown from (sampled without replacement).
    pub subsample: f64,
    /// Share of features each tree may split on.
    pub colsample_bytree: f64,
    /// Gain a split needs.
    pub min_split_gain: f64,
    /// Whether `min_split_gain` prunes after growth (XGBoost's `gamma`) or refuses during it.
    pub prune_after: bool,
    /// L1 penalty on leaf values.
    pub reg_alpha: f64,
    /// L2 penalty on leaf values.
    pub reg_lambda: f64,
    /// LightGBM's gradient-based one-side sampling.
    pub goss: bool,
    /// Factor on the softmax hessian `p(1 − p)` (XGBoost 2; LightGBM k/(k − 1)).
    pub softmax_hessian: SoftmaxHessian,
    /// LightGBM's DART: rounds dropped while each new one is fitted.
    pub dart: Option<Dart>,
    /// Where the bins' edges go, as each library puts them.
    pub binning: Binning,
    /// How the split search breaks ties.
    pub ties: Ties,
}

/// How a split search breaks ties between equal gains, as each library does. Equal gains are
/// common: the bins between two of a node's values hold none of its rows, so every split
/// among them parts the rows alike, and where they split matters only to rows not seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ties {
    /// XGBoost keeps gains as `f32` (`SplitEntry::loss_chg`): gains within `f32` rounding of
    /// each other tie, and the lower feature, then the lower bin, wins.
    XGBoost,
    /// LightGBM scans a feature's bins from the top and keeps a strictly better gain, so the
    /// highest of equal bins wins; across features, the lower feature.
    LightGBM,
}

/// The softmax hessian's factor, as each library sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SoftmaxHessian {
    /// `2 p (1 − p)`.
    XGBoost,
    /// `k/(k − 1) · p (1 − p)`.
    LightGBM,
}

/// What is fitted.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target<'a> {
    /// Class codes below `classes`; 2 classes fit one logistic margin.
    Classes { codes: &'a [usize], classes: usize },
    /// Values, squared error.
    Values(&'a [f64]),
}

/// Fits the ensemble; `x` is row-major `rows × features`. The caller has checked that there
/// are rows and features, and that every code is below `classes`.
pub(super) fn fit(
    x: ndarray::ArrayView2<f64>,
    target: Target<'_>,
    config: &Config,
    seed: u64,
) -> TreeEnsemble {
    let mut fit = Fit::new(x.reborrow(), None, target, config.clone(), seed);
    while fit.step() {}
    fit.finish()
}

/// A fit done a step at a time: the first step bins the features, each later one is a
/// boosting round. Cross-validation (`cv.rs`) takes its last folds' steps in turn, so that
/// both threads stay busy until the last fold's last round. The model is [`fit`]'s.
pub(super) struct Fit<'a> {
    x: ndarray::ArrayView2<'a, f64>,
    /// The rows of `x` fitted on (`None`: every row), in the order `target` gives them.
    rows: Option<&'a [usize]>,
    objective: Objective<'a>,
    config: Config,
    seed: u64,
    /// Set by the first step.
    boosting: Option<Boosting>,
}

/// A fit's state between rounds.
struct Boosting {
    data: Binned,
    base_margin: Vec<f64>,
    /// `margins[row * groups + group]`.
    margins: Vec<f64>,
    grads: Vec<Gh>,
    rng: ChaCha8Rng,
    dropout: Option<Dropout>,
    /// Each round's trees, one per group, kept as grown (without their rows) so that DART can
    /// take a tree's values out of the margins and put them back re-weighted.
    rounds: Vec<Vec<Grown>>,
}

impl<'a> Fit<'a> {
    /// Nothing is computed until the first step. The caller has checked what [`fit`]'s does,
    /// for the rows taken.
    pub(super) fn new(
        x: ndarray::ArrayView2<'a, f64>,
        rows: Option<&'a [usize]>,
        target: Target<'a>,
        config: Config,
        seed: u64,
    ) -> Fit<'a> {
        Fit {
            x,
            rows,
            objective: Objective::of(target, config.softmax_hessian),
            config,
            seed,
            boosting: None,
        }
    }

    /// Takes the next step; false once every round is grown.
    pub(super) fn step(&mut self) -> bool {
        match &mut self.boosting {
            None => self.boosting = Some(self.start()),
            Some(boosting) => {
                if boosting.rounds.len() < self.config.rounds {
                    boosting.round(&self.objective, &self.config);
                }
            }
        }
        self.boosting
            .as_ref()
            .is_some_and(|b| b.rounds.len() < self.config.rounds)
    }

    fn start(&self) -> Boosting {
        let data = Binned::of(self.x, self.rows, self.config.binning);
        let groups = self.objective.groups();
        let base_margin = self.objective.base_margin();
        let n = data.rows;
        Boosting {
            margins: (0..n).flat_map(|_| base_margin.iter().copied()).collect(),
            grads: vec![Gh::default(); n * groups],
            rng: ChaCha8Rng::seed_from_u64(self.seed),
            dropout: self.config.dart.map(|dart| Dropout::new(dart, self.seed)),
            // Not sized by `rounds`, a hyperparameter: a huge one would fail here at once.
            rounds: Vec::new(),
            base_margin,
            data,
        }
    }

    /// The ensemble, after the steps not yet taken.
    pub(super) fn finish(mut self) -> TreeEnsemble {
        let mut boosting = self.boosting.take().unwrap_or_else(|| self.start());
        while boosting.rounds.len() < self.config.rounds {
            boosting.round(&self.objective, &self.config);
        }
        let Boosting {
            data,
            base_margin,
            dropout,
            rounds,
            ..
        } = boosting;
        let groups = base_margin.len();
        let factors = dropout.map(|d| d.factors);
        let mut trees = Vec::with_capacity(rounds.len() * groups);
        for (r, round) in rounds.into_iter().enumerate() {
            for (group, grown) in round.into_iter().enumerate() {
                let mut tree = grown.into_ensemble_tree(&data, group);
                if let Some(factors) = &factors {
                    // LightGBM's first trees carry the starting margin, so DART scales it
                    // with them.
                    let bias = if r == 0 { base_margin[group] } else { 0.0 };
                    tree.leaves
                        .iter_mut()
                        .for_each(|leaf| *leaf = factors[r] * (*leaf + bias));
                }
                trees.push(tree);
            }
        }
        let base_margin = if factors.is_some() {
            vec![0.0; groups]
        } else {
            base_margin
        };
        TreeEnsemble::summed(self.x.ncols(), base_margin, trees, self.objective.link())
    }
}

impl Boosting {
    /// Grows the next round's trees and adds them to the margins.
    fn round(&mut self, objective: &Objective<'_>, config: &Config) {
        let Boosting {
            data,
            base_margin,
            margins,
            grads,
            rng,
            dropout,
            rounds,
        } = self;
        let (data, base_margin) = (&*data, &base_margin[..]);
        let (n, groups, round) = (data.rows, base_margin.len(), rounds.len());
        // DART: the dropped rounds' trees leave the margins the new trees are fitted to.
        let dropped = match dropout.as_mut() {
            Some(d) => d.drop(round, config.learning_rate),
            None => Vec::new(),
        };
        let mut dropped_values = Vec::with_capacity(dropped.len());
        for &r in &dropped {
            let values = round_values(&rounds[r], data, n, r == 0, base_margin);
            let factor = dropout.as_ref().map_or(1.0, |d| d.factors[r]);
            add_round(margins, &values, -factor);
            dropped_values.push(values);
        }
        objective.gradients(margins, grads);
        let tree_seeds: Vec<u64> = (0..groups).map(|_| rng.gen()).collect();
        // A tree from its group's gradients; it hands them back (GOSS may have scaled some).
        let grow = |tree_seed: u64, g: Vec<Gh>| {
            let mut grower = Grower::new(data, config, tree_seed);
            let rows = grower.sample_rows(g, round);
            let mut tree = grower.grow(rows);
            let update = tree.row_values(data, n);
            tree.forget_rows();
            ((tree, update), std::mem::take(&mut grower.grads))
        };
        let grown: Vec<(Grown, Vec<f64>)> = if groups == 1 {
            // One tree a round: it takes the gradients themselves, not a copy (the next
            // round's overwrite every row).
            let (tree, g) = grow(tree_seeds[0], std::mem::take(grads));
            *grads = g;
            vec![tree]
        } else {
            let grads = &*grads;
            tree_seeds
                .par_iter()
                .enumerate()
                .map(|(group, &tree_seed)| {
                    let g: Vec<Gh> = grads.iter().skip(group).step_by(groups).copied().collect();
                    grow(tree_seed, g).0
                })
                .collect()
        };
        let factor = match dropout.as_mut() {
            Some(d) => d.add_round(),
            None => 1.0,
        };
        let mut trees = Vec::with_capacity(groups);
        for (group, (tree, update)) in grown.into_iter().enumerate() {
            for (row, value) in update.into_iter().enumerate() {
                margins[row * groups + group] += factor * value;
            }
            trees.push(tree);
        }
        rounds.push(trees);
        // DART: the dropped trees come back, scaled down as much as the new ones are.
        if let Some(d) = dropout.as_mut() {
            for (&r, values) in dropped.iter().zip(&dropped_values) {
                add_round(margins, values, d.normalize(r));
            }
        }
    }
}

/// A round's trees' values per row, `values[row * groups + group]`, with the starting margin
/// added when they are the first round's (the trees LightGBM's DART stores it in).
fn round_values(
    trees: &[Grown],
    data: &Binned,
    n: usize,
    first: bool,
    base_margin: &[f64],
) -> Vec<f64> {
    let groups = trees.len();
    let mut values = vec![0.0; n * groups];
    for (group, tree) in trees.iter().enumerate() {
        let bias = if first { base_margin[group] } else { 0.0 };
        for (row, v) in tree.row_values(data, n).into_iter().enumerate() {
            values[row * groups + group] = v + bias;
        }
    }
    values
}

/// Adds `factor` times a round's values to the margins.
fn add_round(margins: &mut [f64], values: &[f64], factor: f64) {
    margins
        .iter_mut()
        .zip(values)
        .for_each(|(m, v)| *m += factor * v);
}
