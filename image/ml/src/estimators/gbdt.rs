//! The default build's gradient-boosting engine: second-order histogram boosting, as XGBoost's
//! `hist` and LightGBM fit, written here so the pure-Rust build keeps no crate of uncertain
//! upkeep (docs/container.md says why forust-ml was dropped). The fitted model is a
//! [`TreeEnsemble`], the same trees the libraries' own files are read into, so one predictor
//! serves every boosted model.
//!
//! - Each feature is binned once per fit ([`Bins`]); a node's histogram holds the gradient,
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

use std::sync::atomic::{AtomicUsize, Ordering};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::bins::{Binning, Bins, MAX_BINS};
use super::tree_ensemble::{Link, Missing, Split, Tree, TreeEnsemble};

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

/// Smallest hessian a row contributes, so a saturated probability still weighs something.
const MIN_HESSIAN: f64 = 1e-16;
/// Gain below which a split is noise (XGBoost's `kRtEps`).
const MIN_GAIN: f64 = 1e-6;
/// GOSS keeps the rows with this share of the largest gradients...
const GOSS_TOP: f64 = 0.2;
/// ...and samples this share of the rest (LightGBM's `top_rate` and `other_rate`).
const GOSS_OTHER: f64 = 0.1;
/// Rows of gradients computed as one piece of work on the pool.
const GRADIENT_ROWS: usize = 8192;
/// A node with at least this many row × feature cells builds its histogram in parallel.
const PARALLEL_CELLS: usize = 1 << 16;
/// Trees being grown at this moment in this process, whose threads are busy.
static GROWING: AtomicUsize = AtomicUsize::new(0);

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
            rounds: Vec::with_capacity(self.config.rounds),
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

/// LightGBM's DART (`boosting=dart`): before each round some earlier rounds are dropped, the
/// new trees are fitted without them, and then new and dropped trees are scaled so that together
/// they add what the dropped ones did before.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Dart {
    /// Share of the earlier rounds dropped (`drop_rate`).
    pub drop_rate: f64,
    /// Most rounds dropped at once (`max_drop`; `None`: no limit).
    pub max_drop: Option<usize>,
    /// Chance that a round drops nothing (`skip_drop`).
    pub skip_drop: f64,
    /// Every round equally likely to drop (`uniform_drop`), not in proportion to its weight.
    pub uniform_drop: bool,
    /// XGBoost's scaling (`xgboost_dart_mode`): new trees by `1/(k + η)`, not `1/(k + 1)`.
    pub xgboost_dart_mode: bool,
}

impl Default for Dart {
    /// LightGBM's defaults.
    fn default() -> Dart {
        Dart {
            drop_rate: 0.1,
            max_drop: Some(50),
            skip_drop: 0.5,
            uniform_drop: false,
            xgboost_dart_mode: false,
        }
    }
}

/// DART's state through a fit: which rounds drop, and each round's weight.
struct Dropout {
    dart: Dart,
    rng: LightGbmRandom,
    /// Per round, the factor on its trees as grown (with the learning rate): the share the
    /// round was added with, times `k/(k + 1)` each time it was dropped.
    factors: Vec<f64>,
    /// Per round, LightGBM's `tree_weight_` (its shrinkage), which weighs the drop chances.
    weights: Vec<f64>,
    /// LightGBM's `sum_weight_`.
    sum_weight: f64,
    /// This round's dropped rounds and the new trees' shrinkage.
    dropped: usize,
    shrinkage: f64,
    learning_rate: f64,
}

impl Dropout {
    fn new(dart: Dart, seed: u64) -> Dropout {
        Dropout {
            dart,
            rng: LightGbmRandom::for_drops(seed),
            factors: Vec::new(),
            weights: Vec::new(),
            sum_weight: 0.0,
            dropped: 0,
            shrinkage: 0.0,
            learning_rate: 0.0,
        }
    }

    /// Picks the rounds this round drops, ascending (LightGBM's `DroppingTrees`).
    fn drop(&mut self, rounds: usize, learning_rate: f64) -> Vec<usize> {
        let dart = self.dart;
        let mut dropped = Vec::new();
        let limit = dart.max_drop.unwrap_or(usize::MAX);
        let skip = f64::from(self.rng.next_float()) < dart.skip_drop;
        if !skip && rounds > 0 {
            // Each round's chance: the rate, or (LightGBM's default) the rate times the round's
            // weight over the mean weight; `max_drop` caps the rate so about that many drop.
            let (mut rate, inverse_mean) = (dart.drop_rate, self.inverse_mean_weight());
            if let Some(max) = dart.max_drop {
                let cap = if dart.uniform_drop {
                    max as f64 / rounds as f64
                } else {
                    max as f64 * inverse_mean / self.sum_weight
                };
                rate = rate.min(cap);
            }
            for r in 0..rounds {
                let chance = if dart.uniform_drop {
                    rate
                } else {
                    rate * self.weights[r] * inverse_mean
                };
                if f64::from(self.rng.next_float()) < chance {
                    dropped.push(r);
                    if dropped.len() >= limit {
                        break;
                    }
                }
            }
        }
        let k = dropped.len() as f64;
        self.dropped = dropped.len();
        self.learning_rate = learning_rate;
        self.shrinkage = if !dart.xgboost_dart_mode {
            learning_rate / (1.0 + k)
        } else if dropped.is_empty() {
            learning_rate
        } else {
            learning_rate / (learning_rate + k)
        };
        dropped
    }

    /// Rounds over their summed weight (LightGBM's `inv_average_weight`).
    fn inverse_mean_weight(&self) -> f64 {
        self.weights.len() as f64 / self.sum_weight
    }

    /// Records the new round; returns the factor on its trees as grown.
    fn add_round(&mut self) -> f64 {
        let factor = self.shrinkage / self.learning_rate;
        self.factors.push(factor);
        if !self.dart.uniform_drop {
            self.weights.push(self.shrinkage);
            self.sum_weight += self.shrinkage;
        }
        factor
    }

    /// Scales a dropped round down (LightGBM's `Normalize`); returns its new factor.
    fn normalize(&mut self, round: usize) -> f64 {
        let k = self.dropped as f64;
        let denominator = if self.dart.xgboost_dart_mode {
            k + self.learning_rate
        } else {
            k + 1.0
        };
        if !self.dart.uniform_drop {
            self.sum_weight -= self.weights[round] / denominator;
            self.weights[round] *= k / denominator;
        }
        self.factors[round] *= k / denominator;
        self.factors[round]
    }
}

/// LightGBM's random generator (`utils/random.h`, a linear congruential one), so that the
/// rounds DART drops for a seed are the ones LightGBM drops for the same `seed`: which rounds
/// drop depends only on this sequence and on how many dropped before, not on the trees.
struct LightGbmRandom(u32);

impl LightGbmRandom {
    /// The generator of LightGBM's `drop_seed`, which LightGBM derives from `seed` as the third
    /// of the seeds it draws (after `data_random_seed` and `bagging_seed`). `seed` is what the
    /// library build passes LightGBM for the same trial.
    fn for_drops(seed: u64) -> LightGbmRandom {
        let mut seeds = LightGbmRandom((seed % (1 << 31)) as u32);
        let mut drop_seed = 0;
        for _ in 0..3 {
            drop_seed = seeds.next_short();
        }
        LightGbmRandom(drop_seed)
    }

    fn next_int16(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(214_013).wrapping_add(2_531_011);
        (self.0 >> 16) & 0x7FFF
    }

    /// `NextShort(0, 32767)`.
    fn next_short(&mut self) -> u32 {
        self.next_int16() % 32_767
    }

    /// In [0, 1).
    fn next_float(&mut self) -> f32 {
        self.next_int16() as f32 / 32_768.0
    }
}

/// Counts a tree in [`GROWING`] while it lives.
struct Growing;

impl Growing {
    fn start() -> Growing {
        GROWING.fetch_add(1, Ordering::Relaxed);
        Growing
    }
}

impl Drop for Growing {
    fn drop(&mut self) {
        GROWING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A row's gradient and hessian.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Gh {
    pub g: f64,
    pub h: f64,
}

/// The loss: its gradients, starting margin and link.
pub(super) enum Objective<'a> {
    Logistic(&'a [usize]),
    Softmax {
        codes: &'a [usize],
        classes: usize,
        hessian_factor: f64,
        /// Whether the starting margins, the classes' log shares, are centred and rounded to
        /// `f32` (XGBoost 3's intercept) or not (LightGBM's).
        centred: bool,
    },
    Squared(&'a [f64]),
}

impl<'a> Objective<'a> {
    pub(super) fn of(target: Target<'a>, softmax: SoftmaxHessian) -> Objective<'a> {
        match target {
            Target::Classes { codes, classes } if classes <= 2 => Objective::Logistic(codes),
            Target::Classes { codes, classes } => Objective::Softmax {
                codes,
                classes,
                hessian_factor: match softmax {
                    SoftmaxHessian::XGBoost => 2.0,
                    SoftmaxHessian::LightGBM => classes as f64 / (classes as f64 - 1.0),
                },
                centred: softmax == SoftmaxHessian::XGBoost,
            },
            Target::Values(values) => Objective::Squared(values),
        }
    }

    /// Margins per row: classes for softmax, else 1.
    pub(super) fn groups(&self) -> usize {
        match self {
            Objective::Softmax { classes, .. } => *classes,
            _ => 1,
        }
    }

    /// The margin before any tree: the log-odds of the positive share, the mean value, or for
    /// softmax the classes' log shares (centred for XGBoost).
    pub(super) fn base_margin(&self) -> Vec<f64> {
        match self {
            Objective::Logistic(codes) => {
                let share = codes.iter().filter(|&&c| c == 1).count() as f64 / codes.len() as f64;
                let share = share.clamp(1e-6, 1.0 - 1e-6);
                vec![(share / (1.0 - share)).ln()]
            }
            Objective::Softmax {
                codes,
                classes,
                centred,
                ..
            } => {
                // Each class's log share (LightGBM's floor for an absent class).
                let mut counts = vec![0usize; *classes];
                codes.iter().for_each(|&c| counts[c] += 1);
                let logs: Vec<f64> = counts
                    .iter()
                    .map(|&k| (k as f64 / codes.len() as f64).max(1e-15).ln())
                    .collect();
                if !centred {
                    return logs;
                }
                // XGBoost's intercept: less their mean, in f32.
                let mean = logs.iter().sum::<f64>() / logs.len() as f64;
                logs.iter().map(|l| f64::from((l - mean) as f32)).collect()
            }
            Objective::Squared(values) => {
                vec![values.iter().sum::<f64>() / values.len() as f64]
            }
        }
    }

    pub(super) fn link(&self) -> Link {
        match self {
            Objective::Logistic(_) => Link::Sigmoid { scale: 1.0 },
            Objective::Softmax { .. } => Link::Softmax,
            Objective::Squared(_) => Link::Identity,
        }
    }

    /// Each row's and group's gradient at `margins` (both `row * groups + group`), in pieces of
    /// rows on the pool: a fit alone (a refit, or a cross-validation's last fold) computes
    /// them on every thread, and each row's values do not depend on the pieces.
    pub(super) fn gradients(&self, margins: &[f64], out: &mut [Gh]) {
        let piece = GRADIENT_ROWS * self.groups();
        out.par_chunks_mut(piece)
            .zip(margins.par_chunks(piece))
            .enumerate()
            .for_each(|(i, (out, margins))| self.gradients_from(i * GRADIENT_ROWS, margins, out));
    }

    /// [`Objective::gradients`] of the rows from `first` on.
    fn gradients_from(&self, first: usize, margins: &[f64], out: &mut [Gh]) {
        match self {
            Objective::Logistic(codes) => {
                for ((o, &m), &c) in out.iter_mut().zip(margins).zip(&codes[first..]) {
                    let p = 1.0 / (1.0 + (-m).exp());
                    *o = Gh {
                        g: p - f64::from(u8::from(c == 1)),
                        h: (p * (1.0 - p)).max(MIN_HESSIAN),
                    };
                }
            }
            Objective::Softmax {
                codes,
                classes,
                hessian_factor,
                ..
            } => {
                let k = *classes;
                for ((o, m), &c) in out
                    .chunks_exact_mut(k)
                    .zip(margins.chunks_exact(k))
                    .zip(&codes[first..])
                {
                    let max = m.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = m.iter().map(|v| (v - max).exp()).sum();
                    for (class, (o, v)) in o.iter_mut().zip(m).enumerate() {
                        let p = (v - max).exp() / sum;
                        *o = Gh {
                            g: p - f64::from(u8::from(class == c)),
                            h: (hessian_factor * p * (1.0 - p)).max(MIN_HESSIAN),
                        };
                    }
                }
            }
            Objective::Squared(values) => {
                for ((o, &m), &y) in out.iter_mut().zip(margins).zip(&values[first..]) {
                    *o = Gh { g: m - y, h: 1.0 };
                }
            }
        }
    }
}

/// The binned features and where each one's bins start in a histogram.
struct Binned {
    /// Each feature's edges (its codes are moved into `codes`).
    columns: Vec<Bins>,
    /// Row-major codes, `codes[row * features + feature]`: building a histogram reads one row's
    /// codes together, once per row, whichever rows the node has.
    codes: Vec<u8>,
    /// The same codes feature by feature, `by_feature[feature * rows + row]`: splitting a
    /// node reads one feature of its rows, which lie close together here (in `codes` each
    /// row's code is a row's width from the next).
    by_feature: Vec<u8>,
    rows: usize,
    features: usize,
    /// `offsets[f]..offsets[f] + columns[f].bins()`: feature `f`'s cells in a [`Histogram`].
    offsets: Vec<usize>,
    /// Whether every feature's cells take a block of [`MAX_BINS`] (`offsets[f]` is
    /// `f · MAX_BINS`), so that a byte code indexes them with no bounds check. Chosen when that
    /// costs at most twice the cells, as when most features are numeric.
    blocks: bool,
    /// A histogram's length.
    cells: usize,
}

impl Binned {
    /// Every column of `x` binned.
    /// The rows `rows` of `x` binned (`None`: every row).
    fn of(x: ndarray::ArrayView2<f64>, rows: Option<&[usize]>, binning: Binning) -> Binned {
        let columns = Bins::columns(x, rows, binning);
        Binned::new(columns, rows.map_or(x.nrows(), <[usize]>::len))
    }

    fn new(mut columns: Vec<Bins>, rows: usize) -> Binned {
        let features = columns.len();
        let mut codes = vec![0u8; rows * features];
        let mut by_feature = Vec::with_capacity(rows * features);
        for (f, column) in columns.iter_mut().enumerate() {
            for (row, &code) in column.codes.iter().enumerate() {
                codes[row * features + f] = code;
            }
            by_feature.append(&mut column.codes);
        }
        let bins: usize = columns.iter().map(Bins::bins).sum();
        let blocks = features * MAX_BINS <= 2 * bins;
        let mut offsets = Vec::with_capacity(features);
        let mut next = 0;
        for c in &columns {
            offsets.push(next);
            next += if blocks { MAX_BINS } else { c.bins() };
        }
        Binned {
            columns,
            codes,
            by_feature,
            rows,
            features,
            offsets,
            blocks,
            cells: next,
        }
    }

    fn code(&self, row: u32, feature: usize) -> u8 {
        self.codes[row as usize * self.features + feature]
    }

    /// A histogram of zeros.
    fn empty_histogram(&self) -> Histogram {
        vec![Sums::default(); self.cells]
    }

    /// Feature `f`'s cells in `hist`.
    fn cells<'h>(&self, hist: &'h [Sums], f: usize) -> &'h [Sums] {
        &hist[self.offsets[f]..][..self.columns[f].bins()]
    }
}

/// Gradient and hessian sums: of a bin, a node or one side of a split. No row count: as in
/// LightGBM, a side's rows are estimated from its share of the hessian, which keeps a cell at
/// 16 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sums {
    g: f64,
    h: f64,
}

impl Sums {
    fn add(&mut self, gh: Gh) {
        self.g += gh.g;
        self.h += gh.h;
    }

    fn minus(self, other: Sums) -> Sums {
        Sums {
            g: self.g - other.g,
            h: self.h - other.h,
        }
    }
}

/// Per feature, per bin sums: `Binned::offsets` says where each feature's bins are.
type Histogram = Vec<Sums>;

/// The best split found for a leaf.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    feature: usize,
    /// Rows whose code is at most this go left.
    bin: u8,
    gain: f64,
    left: Sums,
}

/// One node of a tree being grown; `rows[start..end]` are its rows.
#[derive(Debug, Clone)]
struct Node {
    sums: Sums,
    depth: usize,
    start: usize,
    end: usize,
    /// `Some` once split: the split and the two children's node indices.
    split: Option<(Candidate, usize, usize)>,
}

/// A grown tree: its nodes (the root first), and each sampled row's place.
struct Grown {
    nodes: Vec<Node>,
    rows: Vec<u32>,
    /// Whether `rows` holds every row (no sampling), so leaves' ranges cover them all.
    all_rows: bool,
    /// Leaf value per node (for split nodes, unused).
    values: Vec<f64>,
}

/// A leaf's split, for [`attach`].
struct LeafSplit {
    children: [Node; 2],
    /// Per child that may split further: its histogram and best split.
    next: [Option<(Histogram, Candidate)>; 2],
    /// Histograms no leaf needs any more.
    spare: [Option<Histogram>; 2],
}

/// A leaf waiting to split: its node index, histogram and best split.
type OpenLeaf = (usize, Histogram, Candidate);

/// Records leaf `id`'s split: its children take the next node indices, and those that may
/// split further join `open`.
fn attach(
    nodes: &mut Vec<Node>,
    open: &mut Vec<OpenLeaf>,
    spare: &mut Vec<Histogram>,
    id: usize,
    best: Candidate,
    split: LeafSplit,
) {
    let left = nodes.len();
    nodes[id].split = Some((best, left, left + 1));
    nodes.extend(split.children);
    for (child, next) in split.next.into_iter().enumerate() {
        if let Some((hist, best)) = next {
            open.push((left + child, hist, best));
        }
    }
    spare.extend(split.spare.into_iter().flatten());
}

/// The open leaves of the shallowest depth, taken out of `open`, in the order of their rows.
fn take_level(open: &mut Vec<OpenLeaf>, nodes: &[Node]) -> Vec<OpenLeaf> {
    let Some(depth) = open.iter().map(|o| nodes[o.0].depth).min() else {
        return Vec::new();
    };
    let (mut level, rest): (Vec<OpenLeaf>, Vec<OpenLeaf>) =
        open.drain(..).partition(|o| nodes[o.0].depth == depth);
    *open = rest;
    level.sort_by_key(|o| nodes[o.0].start);
    level
}

/// Threads of the pool no tree is growing on at this moment.
fn idle_threads() -> usize {
    rayon::current_num_threads().saturating_sub(GROWING.load(Ordering::Relaxed))
}

struct Grower<'a> {
    data: &'a Binned,
    config: &'a Config,
    rng: ChaCha8Rng,
    /// The features this tree may split on, ascending.
    features: Vec<usize>,
    /// The gradients this tree is grown from (GOSS scales some of them up).
    grads: Vec<Gh>,
}

impl<'a> Grower<'a> {
    fn new(data: &'a Binned, config: &'a Config, seed: u64) -> Grower<'a> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let p = data.columns.len();
        let mut features: Vec<usize> = (0..p).collect();
        if config.colsample_bytree < 1.0 {
            let keep = ((p as f64 * config.colsample_bytree).round() as usize).clamp(1, p);
            features.shuffle(&mut rng);
            features.truncate(keep);
            features.sort_unstable();
        }
        Grower {
            data,
            config,
            rng,
            features,
            grads: Vec::new(),
        }
    }

    /// The rows this tree grows from, ascending, and the gradients it reads.
    fn sample_rows(&mut self, grads: Vec<Gh>, round: usize) -> Vec<u32> {
        let n = grads.len();
        self.grads = grads;
        let config = self.config;
        // LightGBM starts sampling only after 1 / learning-rate rounds.
        if config.goss && (round as f64) >= (1.0 / config.learning_rate).floor() {
            let top = (n as f64 * GOSS_TOP) as usize;
            let other = (n as f64 * GOSS_OTHER) as usize;
            if top + other < n {
                let mut order: Vec<u32> = (0..n as u32).collect();
                let grads = &self.grads;
                let size = |r: &u32| {
                    let gh = grads[*r as usize];
                    (gh.g * gh.h).abs()
                };
                order.select_nth_unstable_by(top, |a, b| size(b).total_cmp(&size(a)));
                let (kept, rest) = order.split_at_mut(top);
                let mut rows = kept.to_vec();
                let (sampled, _) = rest.partial_shuffle(&mut self.rng, other);
                let amplify = (1.0 - GOSS_TOP) / GOSS_OTHER;
                for &r in sampled.iter() {
                    let gh = &mut self.grads[r as usize];
                    gh.g *= amplify;
                    gh.h *= amplify;
                    rows.push(r);
                }
                rows.sort_unstable();
                return rows;
            }
        }
        if config.subsample < 1.0 {
            let rows: Vec<u32> = (0..n as u32)
                .filter(|_| self.rng.gen::<f64>() < config.subsample)
                .collect();
            if !rows.is_empty() {
                return rows;
            }
        }
        (0..n as u32).collect()
    }

    fn grow(&mut self, mut rows: Vec<u32>) -> Grown {
        let _growing = Growing::start();
        let all_rows = rows.len() == self.grads.len();
        let mut root = Sums::default();
        for &r in &rows {
            root.add(self.grads[r as usize]);
        }
        let mut nodes = vec![Node {
            sums: root,
            depth: 0,
            start: 0,
            end: rows.len(),
            split: None,
        }];
        let mut scratch: Vec<u32> = Vec::with_capacity(rows.len());
        // Leaves that may still split: node index, its histogram and its best split.
        let mut open: Vec<OpenLeaf> = Vec::new();
        // Histograms no leaf needs any more, reused rather than allocated again.
        let mut spare: Vec<Histogram> = Vec::new();
        if self.may_split(&nodes[0]) {
            let hist = self.histogram(&rows[..], None);
            if let Some(best) = self.best_split(&hist, root, rows.len()) {
                open.push((0, hist, best));
            }
        }
        let mut leaves = 1;
        while !open.is_empty() {
            if self.config.max_leaves.is_some_and(|max| leaves >= max) {
                break;
            }
            // Depth-wise, with a thread no other tree is growing on: a level's leaves split
            // side by side (the last fold of a cross-validation would otherwise leave a core
            // idle). They take the node indices the one-by-one order gives them, and each
            // leaf's work is the same, so the tree is the same to the bit.
            if self.config.max_leaves.is_none() && idle_threads() > 0 {
                let level = take_level(&mut open, &nodes);
                if level.len() > 1 {
                    leaves += level.len();
                    let mut tasks = Vec::with_capacity(level.len());
                    let mut rest: &mut [u32] = &mut rows;
                    let mut offset = 0;
                    for (id, hist, best) in level {
                        let node = nodes[id].clone();
                        // A level's leaves hold disjoint ranges of rows, taken in order.
                        let (_, tail) = std::mem::take(&mut rest).split_at_mut(node.start - offset);
                        let (mine, tail) = tail.split_at_mut(node.end - node.start);
                        rest = tail;
                        offset = node.end;
                        tasks.push((id, node, hist, best, mine, spare.pop()));
                    }
                    let mut splits: Vec<(usize, Candidate, LeafSplit)> = tasks
                        .into_par_iter()
                        .map(|(id, node, hist, best, rows, reuse)| {
                            let split =
                                self.split_leaf(&node, best, hist, rows, &mut Vec::new(), reuse);
                            (id, best, split)
                        })
                        .collect();
                    // Children are numbered in the order one-by-one splitting takes the leaves.
                    splits.sort_by_key(|(id, _, _)| *id);
                    for (id, best, split) in splits {
                        attach(&mut nodes, &mut open, &mut spare, id, best, split);
                    }
                    continue;
                }
                open.extend(level);
            }
            // Best-first: the largest gain; depth-wise: the shallowest, oldest leaf.
            let pick = if self.config.max_leaves.is_some() {
                (0..open.len())
                    .max_by(|&a, &b| open[a].2.gain.total_cmp(&open[b].2.gain).then(b.cmp(&a)))
                    .unwrap_or(0)
            } else {
                (0..open.len())
                    .min_by_key(|&i| (nodes[open[i].0].depth, open[i].0))
                    .unwrap_or(0)
            };
            let (id, parent_hist, best) = open.swap_remove(pick);
            let node = nodes[id].clone();
            let reuse = spare.pop();
            let split = self.split_leaf(
                &node,
                best,
                parent_hist,
                &mut rows[node.start..node.end],
                &mut scratch,
                reuse,
            );
            leaves += 1;
            attach(&mut nodes, &mut open, &mut spare, id, best, split);
        }
        let mut grown = Grown {
            values: nodes
                .iter()
                .map(|node| self.leaf_value(node.sums))
                .collect(),
            nodes,
            rows,
            all_rows,
        };
        if self.config.prune_after && self.config.min_split_gain > 0.0 {
            grown.prune(0, self.config.min_split_gain);
        }
        grown
    }

    /// Splits leaf `node` (its `rows`, partitioned in place) by `best`: its two children,
    /// and for each that may split further its histogram (the smaller child's from its rows,
    /// into `reuse` when given; the larger's by subtraction from `parent_hist`) and best split.
    fn split_leaf(
        &self,
        node: &Node,
        best: Candidate,
        parent_hist: Histogram,
        rows: &mut [u32],
        scratch: &mut Vec<u32>,
        reuse: Option<Histogram>,
    ) -> LeafSplit {
        let data = self.data;
        let feature = &data.by_feature[best.feature * data.rows..][..data.rows];
        let mid = stable_partition(rows, scratch, |r| feature[r as usize] <= best.bin);
        let children = [
            Node {
                sums: best.left,
                depth: node.depth + 1,
                start: node.start,
                end: node.start + mid,
                split: None,
            },
            Node {
                sums: node.sums.minus(best.left),
                depth: node.depth + 1,
                start: node.start + mid,
                end: node.end,
                split: None,
            },
        ];
        let splittable = [self.may_split(&children[0]), self.may_split(&children[1])];
        if splittable == [false, false] {
            return LeafSplit {
                children,
                next: [None, None],
                spare: [Some(parent_hist), reuse],
            };
        }
        // The smaller child's histogram from its rows; the larger's by subtraction.
        let small = usize::from(rows.len() - mid < mid);
        let small_rows = if small == 1 {
            &rows[mid..]
        } else {
            &rows[..mid]
        };
        let small_hist = self.histogram(small_rows, reuse);
        let mut large_hist = parent_hist;
        for (l, s) in large_hist.iter_mut().zip(&small_hist) {
            *l = l.minus(*s);
        }
        let mut hists = [small_hist, large_hist];
        if small == 1 {
            hists.swap(0, 1);
        }
        let mut next = [None, None];
        let mut spare = [None, None];
        for (child, hist) in hists.into_iter().enumerate() {
            let c = &children[child];
            let best = splittable[child]
                .then(|| self.best_split(&hist, c.sums, c.end - c.start))
                .flatten();
            match best {
                Some(best) => next[child] = Some((hist, best)),
                None => spare[child] = Some(hist),
            }
        }
        LeafSplit {
            children,
            next,
            spare,
        }
    }

    /// Whether a node may split at all: depth and row limits.
    fn may_split(&self, node: &Node) -> bool {
        let rows = node.end - node.start;
        self.config.max_depth.is_none_or(|d| node.depth < d)
            && rows >= 2 * self.config.min_child_samples.max(1)
            && node.sums.h >= 2.0 * self.config.min_child_weight
    }

    /// The sums of `rows`' gradients per bin, into `reuse` (zeroed first) when given.
    fn histogram(&self, rows: &[u32], reuse: Option<Histogram>) -> Histogram {
        let mut hist = match reuse {
            Some(mut h) => {
                h.fill(Sums::default());
                h
            }
            None => self.data.empty_histogram(),
        };
        // Threads no other tree is growing on (the folds of a cross-validation share the
        // pool): a large node's features are split among them, each cell still summed by one
        // thread in row order, so the histogram is the same to the bit however it was built.
        let idle = idle_threads();
        let parts = if rows.len() * self.features.len() < PARALLEL_CELLS {
            1
        } else {
            (idle + 1).min(self.features.len())
        };
        self.fill_parts(rows, &self.features, &mut hist, 0, parts);
        hist
    }

    /// Fills `features`' cells, which start at cell `base` of the histogram `hist` is the rest
    /// of, in `parts` pieces of features on the pool.
    fn fill_parts(
        &self,
        rows: &[u32],
        features: &[usize],
        hist: &mut [Sums],
        base: usize,
        parts: usize,
    ) {
        if parts <= 1 || features.len() <= 1 {
            self.fill_histogram(rows, features, hist, base);
            return;
        }
        let half = parts / 2;
        let mid = features.len() * half / parts;
        let cut = self.data.offsets[features[mid]] - base;
        let (a, b) = hist.split_at_mut(cut);
        rayon::join(
            || self.fill_parts(rows, &features[..mid], a, base, half),
            || self.fill_parts(rows, &features[mid..], b, base + cut, parts - half),
        );
    }

    /// Adds `rows`' gradients to `features`' bins: `hist` holds the cells from cell `base` on.
    fn fill_histogram(&self, rows: &[u32], features: &[usize], hist: &mut [Sums], base: usize) {
        let data = self.data;
        let p = data.features;
        // Ascending features: a run of consecutive ones reads a slice of each row's codes.
        let (first, count) = (features.first().copied().unwrap_or(0), features.len());
        let consecutive = features
            .last()
            .is_some_and(|&last| last + 1 - first == count);
        if consecutive && data.blocks {
            let (blocks, _) = hist[data.offsets[first] - base..].as_chunks_mut::<MAX_BINS>();
            for &r in rows {
                let gh = self.grads[r as usize];
                let codes = &data.codes[r as usize * p + first..][..count];
                for (cells, &code) in blocks.iter_mut().zip(codes) {
                    cells[usize::from(code)].add(gh);
                }
            }
        } else if consecutive {
            let offsets = &data.offsets[first..][..count];
            for &r in rows {
                let gh = self.grads[r as usize];
                let codes = &data.codes[r as usize * p + first..][..count];
                for (&code, &offset) in codes.iter().zip(offsets) {
                    hist[offset - base + usize::from(code)].add(gh);
                }
            }
        } else {
            for &r in rows {
                let gh = self.grads[r as usize];
                for &f in features {
                    hist[data.offsets[f] - base + usize::from(data.code(r, f))].add(gh);
                }
            }
        }
    }

    fn score(&self, s: Sums) -> f64 {
        let g = soft_threshold(s.g, self.config.reg_alpha);
        let denominator = s.h + self.config.reg_lambda;
        if denominator <= 0.0 {
            0.0
        } else {
            g * g / denominator
        }
    }

    fn leaf_value(&self, s: Sums) -> f64 {
        let denominator = s.h + self.config.reg_lambda;
        if denominator <= 0.0 {
            0.0
        } else {
            -soft_threshold(s.g, self.config.reg_alpha) / denominator * self.config.learning_rate
        }
    }

    fn best_split(&self, hist: &[Sums], total: Sums, rows: usize) -> Option<Candidate> {
        let config = self.config;
        let parent = self.score(total);
        // Below MIN_GAIN a gain is rounding: a node whose rows all have one gradient (a pure
        // node of a first tree) gains nothing by splitting, whatever its sums' last bits say.
        let needed = if config.prune_after {
            MIN_GAIN
        } else {
            config.min_split_gain.max(MIN_GAIN)
        };
        // A side's rows, estimated from its hessian (exact when every row weighs the same).
        // A side keeps `min-child-samples` rows when round(h · rows / H) reaches it, that is
        // when h ≥ (rows − ½) · H / rows: one comparison per bin, like the hessian's own limit.
        let min_h = if config.min_child_samples > 0 {
            let rows_per_hessian = rows as f64 / total.h;
            ((config.min_child_samples as f64 - 0.5) / rows_per_hessian)
                .max(config.min_child_weight)
        } else {
            config.min_child_weight
        };
        // Without an L1 penalty, and with no side's denominator zero, a side's score is
        // plainly G²/(H + λ): the same value without the branches.
        let lambda = config.reg_lambda;
        let plain = config.reg_alpha == 0.0 && (lambda > 0.0 || min_h > 0.0);
        let mut best: Option<Candidate> = None;
        // Per bin: the left side's sums when it takes this bin and those below, then the
        // split's gain. Two passes without branches, so that the divisions vectorize.
        let mut left_g = [[0.0; MAX_BINS]; LANES];
        let mut left_h = [[0.0; MAX_BINS]; LANES];
        let mut gains = [0.0; MAX_BINS];
        for group in self.features.chunks(LANES) {
            let cells: [&[Sums]; LANES] = std::array::from_fn(|j| {
                group
                    .get(j)
                    .map_or(&NO_CELLS[..], |&f| self.data.cells(hist, f))
            });
            // The last bin cannot split: nothing would go right.
            let splits = cells.map(|c| c.len().saturating_sub(1));
            // The features' running sums side by side: each is a chain of additions that wait
            // on each other, and several chains keep the adder busy where one leaves it idle.
            // Each sum still adds its own bins in order, so it is the same to the bit.
            let common = splits.iter().copied().min().unwrap_or(0);
            let mut left = [Sums::default(); LANES];
            for i in 0..common {
                for j in 0..LANES {
                    left[j].g += cells[j][i].g;
                    left[j].h += cells[j][i].h;
                    left_g[j][i] = left[j].g;
                    left_h[j][i] = left[j].h;
                }
            }
            for (j, &f) in group.iter().enumerate() {
                let splits = splits[j];
                for (i, cell) in cells[j].iter().enumerate().take(splits).skip(common) {
                    left[j].g += cell.g;
                    left[j].h += cell.h;
                    left_g[j][i] = left[j].g;
                    left_h[j][i] = left[j].h;
                }
                let gains = &mut gains[..splits];
                let (left_g, left_h) = (&left_g[j][..splits], &left_h[j][..splits]);
                // Of a run of bins that hold none of the node's rows, every split parts the
                // rows alike. Only one is a candidate: the lowest for XGBoost (it keeps the
                // first of equal gains from the bottom), the highest for LightGBM (it keeps
                // the first from the top). The cell that must hold rows is the bin's own, or
                // the next one's.
                let cells = match config.ties {
                    Ties::XGBoost => &cells[j][..splits],
                    Ties::LightGBM => &cells[j][1..=splits],
                };
                if plain {
                    let score = |s: Sums| s.g * s.g / (s.h + lambda);
                    split_gains(gains, left_g, left_h, cells, total, min_h, parent, score);
                } else {
                    let score = |s: Sums| self.score(s);
                    split_gains(gains, left_g, left_h, cells, total, min_h, parent, score);
                }
                // The feature's best gain first (a vectorized maximum), its bin only if it
                // wins.
                let mut top = maximum(gains);
                if config.ties == Ties::XGBoost {
                    top = f64::from(top as f32);
                }
                if !(top > needed && best.is_none_or(|b| top > b.gain)) {
                    continue;
                }
                let found = match config.ties {
                    Ties::XGBoost => gains.iter().position(|&g| f64::from(g as f32) == top),
                    Ties::LightGBM => gains.iter().rposition(|&g| g == top),
                };
                if let Some(bin) = found {
                    best = Some(Candidate {
                        feature: f,
                        bin: u8::try_from(bin).unwrap_or(u8::MAX),
                        gain: top,
                        left: Sums {
                            g: left_g[bin],
                            h: left_h[bin],
                        },
                    });
                }
            }
        }
        best
    }
}

/// Features whose best splits are searched side by side.
const LANES: usize = 4;
/// The cells of a lane no feature takes.
const NO_CELLS: [Sums; MAX_BINS] = [Sums { g: 0.0, h: 0.0 }; MAX_BINS];

/// The largest of `values` (`NEG_INFINITY` if none), kept in four lanes so that the
/// comparisons vectorize rather than wait on each other.
fn maximum(values: &[f64]) -> f64 {
    let mut lanes = [f64::NEG_INFINITY; 4];
    let (chunks, rest) = values.as_chunks::<4>();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            if v > *lane {
                *lane = v;
            }
        }
    }
    lanes
        .iter()
        .chain(rest)
        .fold(f64::NEG_INFINITY, |top, &v| if v > top { v } else { top })
}

/// Each split's gain (`NEG_INFINITY` where it is not allowed): the left side takes a bin and
/// those below it, whose sums are `left_g` and `left_h`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn split_gains(
    gains: &mut [f64],
    left_g: &[f64],
    left_h: &[f64],
    cells: &[Sums],
    total: Sums,
    min_h: f64,
    parent: f64,
    score: impl Fn(Sums) -> f64,
) {
    for (((gain, &g), &h), cell) in gains.iter_mut().zip(left_g).zip(left_h).zip(cells) {
        let left = Sums { g, h };
        let right = total.minus(left);
        // An empty cell: the same split as another bin's (see the caller).
        let allowed = cell.h != 0.0 && left.h >= min_h && right.h >= min_h;
        let value = score(left) + score(right) - parent;
        *gain = if allowed { value } else { f64::NEG_INFINITY };
    }
}

impl Grown {
    /// Turns splits whose children are both leaves and whose gain is below `gamma` back into
    /// leaves, from the bottom up (XGBoost's pruner). Returns whether `node` is now a leaf.
    fn prune(&mut self, node: usize, gamma: f64) -> bool {
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
    fn forget_rows(&mut self) {
        self.rows = Vec::new();
        self.all_rows = false;
    }

    /// Each row's leaf value, for updating the margins.
    fn row_values(&self, data: &Binned, n: usize) -> Vec<f64> {
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
    fn into_ensemble_tree(self, data: &Binned, group: usize) -> Tree {
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

fn soft_threshold(g: f64, alpha: f64) -> f64 {
    if g > alpha {
        g - alpha
    } else if g < -alpha {
        g + alpha
    } else {
        0.0
    }
}

/// Moves the rows `keep` accepts to the front, both sides in their order; returns how many.
/// Without a branch on `keep`: each row is written to both sides and only the counts move. A
/// split's side is as hard to guess as a coin, so the branch's mispredictions made this loop
/// a quarter of a boosted fit. A block's sides are decided before any of its rows moves:
/// the decisions' loads then run ahead of the stores, whose places wait on them.
fn stable_partition(rows: &mut [u32], scratch: &mut Vec<u32>, keep: impl Fn(u32) -> bool) -> usize {
    const BLOCK: usize = 64;
    if scratch.len() < rows.len() {
        scratch.resize(rows.len(), 0);
    }
    let (mut kept, mut moved) = (0, 0);
    let mut block = [0u32; BLOCK];
    let mut sides = [0usize; BLOCK];
    for start in (0..rows.len()).step_by(BLOCK) {
        let n = BLOCK.min(rows.len() - start);
        block[..n].copy_from_slice(&rows[start..][..n]);
        for (side, &r) in sides.iter_mut().zip(&block[..n]) {
            *side = usize::from(keep(r));
        }
        for (&r, &k) in block[..n].iter().zip(&sides) {
            rows[kept] = r;
            scratch[moved] = r;
            kept += k;
            moved += 1 - k;
        }
    }
    rows[kept..].copy_from_slice(&scratch[..moved]);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn config() -> Config {
        Config {
            rounds: 20,
            learning_rate: 0.3,
            max_depth: Some(3),
            max_leaves: None,
            min_child_weight: 1.0,
            min_child_samples: 1,
            subsample: 1.0,
            colsample_bytree: 1.0,
            min_split_gain: 0.0,
            prune_after: true,
            reg_alpha: 0.0,
            reg_lambda: 1.0,
            goss: false,
            softmax_hessian: SoftmaxHessian::XGBoost,
            dart: None,
            binning: Binning::EqualCounts,
            ties: Ties::XGBoost,
        }
    }

    /// 200 rows of two features, a wave in the first and a slope in the second.
    fn wave() -> (Array2<f64>, Vec<f64>) {
        let x = Array2::from_shape_fn((200, 2), |(i, j)| ((i * (j + 1) * 37) % 200) as f64);
        let y = (0..200)
            .map(|i| (x[[i, 0]] / 20.0).sin() * 5.0 + x[[i, 1]] / 50.0)
            .collect();
        (x, y)
    }

    /// Each feature's cells, summed row by row with no histogram code, against `histogram`'s,
    /// over every row and over a subset; with and without column sampling.
    fn assert_histograms_sum_their_rows(x: &Array2<f64>, blocks: bool) {
        let data = Binned::of(x.view(), None, Binning::EqualCounts);
        assert_eq!(data.blocks, blocks, "layout");
        for colsample in [1.0, 0.5] {
            let config = Config {
                colsample_bytree: colsample,
                ..config()
            };
            let mut grower = Grower::new(&data, &config, 7);
            grower.grads = (0..x.nrows())
                .map(|r| Gh {
                    g: (r as f64 * 0.37).sin(),
                    h: 1.0 + (r % 3) as f64,
                })
                .collect();
            let all: Vec<u32> = (0..x.nrows() as u32).collect();
            let some: Vec<u32> = all.iter().copied().filter(|r| r % 3 != 1).collect();
            for rows in [&all, &some] {
                let hist = grower.histogram(rows, None);
                let mut split = data.empty_histogram();
                grower.fill_parts(rows, &grower.features, &mut split, 0, 3);
                assert_eq!(split, hist, "in three pieces on the pool");
                for &f in &grower.features {
                    let mut expected = vec![Sums::default(); data.columns[f].bins()];
                    for &r in rows.iter() {
                        expected[usize::from(data.code(r, f))].add(grower.grads[r as usize]);
                    }
                    let cells = data.cells(&hist, f);
                    // The same additions in the same order, however the pool split the
                    // features: equal to the bit.
                    for (bin, (c, e)) in cells.iter().zip(&expected).enumerate() {
                        assert_eq!(c, e, "feature {f} bin {bin}");
                    }
                }
            }
        }
    }

    #[test]
    fn both_histogram_layouts_sum_their_rows() {
        // Many distinct values per feature: a block of 256 cells each.
        // 15,000 × 5 cells: every row's histogram is built in pieces of features on the pool,
        // the subset's in one piece.
        let n = 15_000;
        let wide = Array2::from_shape_fn((n, 5), |(r, f)| ((r * (f + 7)) % 1_009) as f64);
        assert_histograms_sum_their_rows(&wide, true);
        // Mostly two-valued features: the cells packed.
        let narrow = Array2::from_shape_fn((n, 6), |(r, f)| {
            if f == 0 {
                (r % 997) as f64
            } else {
                ((r >> f) & 1) as f64
            }
        });
        assert_histograms_sum_their_rows(&narrow, false);
    }

    #[test]
    fn the_fit_is_the_same_to_the_bit_on_any_number_of_threads() {
        // Nodes large enough to be built in pieces, as many as the pool has threads or more;
        // with a thread to spare, each depth-wise level's leaves also split side by side.
        let n = 100_000;
        let x = Array2::from_shape_fn((n, 6), |(r, f)| ((r * (2 * f + 7)) % (301 + f)) as f64);
        let codes: Vec<usize> = (0..n)
            .map(|r| usize::from((x[[r, 0]] * 0.01).sin() + x[[r, 3]] / 300.0 > 0.6))
            .collect();
        let c = Config {
            rounds: 5,
            max_depth: Some(4),
            ..config()
        };
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                fit(
                    x.view(),
                    Target::Classes {
                        codes: &codes,
                        classes: 2,
                    },
                    &c,
                    3,
                )
            })
        };
        let one = on(1);
        assert_eq!(on(2), one);
        assert_eq!(on(3), one);
    }

    #[test]
    fn split_search_chooses_what_a_scan_bin_by_bin_chooses() {
        let n = 2_000;
        // Features of 50 to 256 bins: four searched side by side, then two with lanes left over.
        let x = Array2::from_shape_fn((n, 6), |(r, f)| ((r * (3 * f + 5)) % (50 + 97 * f)) as f64);
        let data = Binned::of(x.view(), None, Binning::EqualCounts);
        // Without the rows whose first feature lies in 10..20, a run of its bins holds none of
        // the node's rows: the tie rules choose among equal splits there.
        let rows: Vec<u32> = (0..n as u32)
            .filter(|&r| r % 5 != 2 && !(10.0..20.0).contains(&x[[r as usize, 0]]))
            .collect();
        // alpha 0 takes the branch-free score; alpha > 0 the soft threshold; min-child limits
        // leave some bins out.
        let limits = [
            (0.0, 1.0, 1.0, 0),
            (0.5, 1.0, 1.0, 0),
            (0.0, 0.0, 20.0, 0),
            (0.3, 0.0, 1e-3, 40),
        ];
        let cases = limits
            .iter()
            .flat_map(|&l| [(l, Ties::XGBoost), (l, Ties::LightGBM)]);
        for ((alpha, lambda, min_child_weight, min_child_samples), ties) in cases {
            let config = Config {
                reg_alpha: alpha,
                reg_lambda: lambda,
                min_child_weight,
                min_child_samples,
                ties,
                ..config()
            };
            let mut grower = Grower::new(&data, &config, 3);
            grower.grads = (0..n)
                .map(|r| Gh {
                    g: ((r as f64) * 0.71).sin() + if r % 7 == 0 { 1.5 } else { 0.0 },
                    h: 0.25 + 0.01 * (r % 11) as f64,
                })
                .collect();
            let hist = grower.histogram(&rows, None);
            let mut total = Sums::default();
            for &r in &rows {
                total.add(grower.grads[r as usize]);
            }
            let found = grower.best_split(&hist, total, rows.len());
            let first = data.cells(&hist, 0);
            assert!(first[..first.len() / 2].iter().any(|c| c.h == 0.0));
            // The scan, as each library makes it: XGBoost's from the lowest bin with gains as
            // `f32`, LightGBM's from the highest; a strictly larger gain wins, and of a run of
            // bins without rows only the lowest (XGBoost) or highest (LightGBM) is a split.
            let min_h = if min_child_samples > 0 {
                let rows_per_hessian = rows.len() as f64 / total.h;
                ((min_child_samples as f64 - 0.5) / rows_per_hessian).max(min_child_weight)
            } else {
                min_child_weight
            };
            let parent = grower.score(total);
            let mut expected: Option<(usize, usize, f64)> = None;
            for f in 0..data.features {
                let cells = data.cells(&hist, f);
                let mut lefts = Vec::new();
                let mut left = Sums::default();
                for cell in cells {
                    left.add(Gh {
                        g: cell.g,
                        h: cell.h,
                    });
                    lefts.push(left);
                }
                let bins: Vec<usize> = match ties {
                    Ties::XGBoost => (0..cells.len() - 1).collect(),
                    Ties::LightGBM => (0..cells.len() - 1).rev().collect(),
                };
                let mut feature_best: Option<(usize, usize, f64)> = None;
                for bin in bins {
                    let left = lefts[bin];
                    let right = total.minus(left);
                    let occupied = match ties {
                        Ties::XGBoost => cells[bin].h,
                        Ties::LightGBM => cells[bin + 1].h,
                    };
                    if occupied == 0.0 || left.h < min_h || right.h < min_h {
                        continue;
                    }
                    let mut gain = grower.score(left) + grower.score(right) - parent;
                    if ties == Ties::XGBoost {
                        gain = f64::from(gain as f32);
                    }
                    if gain > MIN_GAIN && feature_best.is_none_or(|(_, _, g)| gain > g) {
                        feature_best = Some((f, bin, gain));
                    }
                }
                if let Some(b) = feature_best {
                    if expected.is_none_or(|(_, _, g)| b.2 > g) {
                        expected = Some(b);
                    }
                }
            }
            let found = found.map(|c| (c.feature, usize::from(c.bin), c.gain));
            assert_eq!(
                found, expected,
                "alpha {alpha}, lambda {lambda}, min_h {min_h}, {ties:?}"
            );
            assert!(expected.is_some(), "this data has a split");
        }
    }

    #[test]
    fn equal_splits_over_empty_bins_go_where_each_library_puts_them() {
        // One feature, values 0..30, a bin each; the node holds only 0..10 (gradient +1) and
        // 20..30 (−1), so every split from value 9 to value 19 parts its rows alike.
        let x = Array2::from_shape_fn((30, 1), |(r, _)| r as f64);
        let data = Binned::of(x.view(), None, Binning::EqualCounts);
        let rows: Vec<u32> = (0..30).filter(|r| !(10..20).contains(r)).collect();
        for (ties, bin, threshold) in [(Ties::XGBoost, 9, 9.5), (Ties::LightGBM, 19, 19.5)] {
            let config = Config {
                ties,
                min_child_weight: 0.0,
                ..config()
            };
            let mut grower = Grower::new(&data, &config, 3);
            grower.grads = (0..30)
                .map(|r| Gh {
                    g: if r < 15 { 1.0 } else { -1.0 },
                    h: 1.0,
                })
                .collect();
            let hist = grower.histogram(&rows, None);
            let mut total = Sums::default();
            rows.iter()
                .for_each(|&r| total.add(grower.grads[r as usize]));
            let best = grower.best_split(&hist, total, rows.len()).unwrap();
            assert_eq!(usize::from(best.bin), bin, "{ties:?}");
            assert_eq!(data.columns[0].edges[bin], threshold);
        }
    }

    #[test]
    fn stable_partition_keeps_both_sides_in_order() {
        let mut rows = vec![1, 2, 3, 4, 5, 6, 7];
        let mut scratch = Vec::new();
        let kept = stable_partition(&mut rows, &mut scratch, |r| r % 3 == 0);
        assert_eq!((kept, &rows), (2, &vec![3, 6, 1, 2, 4, 5, 7]));
        // The scratch is longer than the next node's rows and holds the last one's.
        let kept = stable_partition(&mut rows[2..5], &mut scratch, |r| r != 2);
        assert_eq!((kept, rows), (2, vec![3, 6, 1, 4, 2, 5, 7]));
        // Across blocks: the sides of 200 rows, each in order.
        let mut rows: Vec<u32> = (0..200).rev().collect();
        let keep = |r: u32| r % 7 < 3;
        let (left, right): (Vec<u32>, Vec<u32>) = rows.iter().partition(|&&r| keep(r));
        let kept = stable_partition(&mut rows, &mut scratch, keep);
        assert_eq!(
            (kept, &rows[..kept], &rows[kept..]),
            (left.len(), &left[..], &right[..])
        );
    }

    #[test]
    fn maximum_is_the_largest_value_at_any_length() {
        let values = [
            0.5,
            f64::NEG_INFINITY,
            -3.0,
            7.25,
            7.0,
            -0.0,
            2.0,
            7.25,
            1.0,
        ];
        for n in 0..=values.len() {
            let expected = values[..n]
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(maximum(&values[..n]), expected, "first {n}");
        }
    }

    #[test]
    fn gradients_in_pieces_are_each_rows_own() {
        // More rows than a piece, and not a multiple of one; classes for softmax.
        let n = 2 * GRADIENT_ROWS + 123;
        let codes: Vec<usize> = (0..n).map(|r| (r * 7) % 3).collect();
        let binary: Vec<usize> = codes.iter().map(|&c| c % 2).collect();
        let values: Vec<f64> = (0..n).map(|r| (r as f64 * 0.3).sin() * 10.0).collect();
        let objectives = [
            Objective::Logistic(&binary),
            Objective::Softmax {
                codes: &codes,
                classes: 3,
                hessian_factor: 2.0,
                centred: true,
            },
            Objective::Squared(&values),
        ];
        for objective in objectives {
            let groups = objective.groups();
            let margins: Vec<f64> = (0..n * groups).map(|i| (i as f64 * 0.11).cos()).collect();
            let mut pieces = vec![Gh::default(); n * groups];
            objective.gradients(&margins, &mut pieces);
            let mut whole = vec![Gh::default(); n * groups];
            objective.gradients_from(0, &margins, &mut whole);
            assert_eq!(pieces, whole, "{groups} groups");
        }
    }

    #[test]
    fn one_round_stump_has_newtons_leaf_values() {
        // y = 0 for x < 5, 10 otherwise: one split, leaves −G/(H+λ)·η around the mean 5.
        let x = Array2::from_shape_fn((10, 1), |(i, _)| i as f64);
        let y: Vec<f64> = (0..10).map(|i| if i < 5 { 0.0 } else { 10.0 }).collect();
        let c = Config {
            rounds: 1,
            max_depth: Some(1),
            ..config()
        };
        let model = fit(x.view(), Target::Values(&y), &c, 1);
        assert_eq!(model.base_margin, vec![5.0]);
        assert_eq!(model.trees.len(), 1);
        let tree = &model.trees[0];
        assert_eq!(tree.splits.len(), 1);
        assert_eq!(tree.splits[0].threshold, 4.5);
        // Left: G = 5·(5 − 0) = 25, H = 5 → −25/6·0.3.
        assert!(
            (tree.leaves[0] + 25.0 / 6.0 * 0.3).abs() < 1e-12,
            "{tree:?}"
        );
        assert!(
            (tree.leaves[1] - 25.0 / 6.0 * 0.3).abs() < 1e-12,
            "{tree:?}"
        );
        assert!(model.validate().is_ok());
    }

    #[test]
    fn learns_classes_and_values_and_is_seeded() {
        let x = Array2::from_shape_fn((300, 3), |(i, j)| ((i * (j + 3) * 7919) % 101) as f64);
        let codes: Vec<usize> = (0..300)
            .map(|i| usize::from(x[[i, 0]] + x[[i, 1]] > 100.0) + usize::from(x[[i, 2]] > 70.0))
            .collect();
        for (leafwise, softmax) in [
            (false, SoftmaxHessian::XGBoost),
            (true, SoftmaxHessian::LightGBM),
        ] {
            let c = Config {
                rounds: 60,
                max_leaves: leafwise.then_some(8),
                max_depth: if leafwise { None } else { Some(4) },
                subsample: 0.8,
                colsample_bytree: 0.67,
                softmax_hessian: softmax,
                ..config()
            };
            let model = fit(
                x.view(),
                Target::Classes {
                    codes: &codes,
                    classes: 3,
                },
                &c,
                7,
            );
            assert!(model.validate().is_ok());
            assert_eq!((model.groups, model.trees.len()), (3, 180));
            let right = (0..300)
                .filter(|&i| {
                    let p = model.predict(&x.row(i).to_vec());
                    let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
                    best == codes[i]
                })
                .count();
            assert!(right >= 285, "{right} of 300 (leaf-wise {leafwise})");
            if leafwise {
                assert!(model.trees.iter().all(|t| t.leaves.len() <= 8));
            }
            assert_eq!(
                model,
                fit(
                    x.view(),
                    Target::Classes {
                        codes: &codes,
                        classes: 3
                    },
                    &c,
                    7
                ),
                "the same seed fits the same model"
            );
        }
        let binary: Vec<usize> = codes.iter().map(|&c| usize::from(c > 0)).collect();
        let c = Config {
            goss: true,
            ..config()
        };
        let model = fit(
            x.view(),
            Target::Classes {
                codes: &binary,
                classes: 2,
            },
            &c,
            3,
        );
        let right = (0..300)
            .filter(|&i| (model.predict(&x.row(i).to_vec())[1] > 0.5) == (binary[i] == 1))
            .count();
        assert!(right >= 285, "{right} of 300 (GOSS)");
    }

    #[test]
    fn dropped_rounds_and_the_new_one_share_their_weight() {
        // Every earlier round dropped, every time: the rounds end up weighing the same.
        let always = Dart {
            drop_rate: 1.0,
            max_drop: None,
            skip_drop: 0.0,
            ..Dart::default()
        };
        let mut d = Dropout::new(always, 7);
        assert!(d.drop(0, 0.1).is_empty());
        assert_eq!(d.add_round(), 1.0);
        assert_eq!(d.drop(1, 0.1), vec![0]);
        assert_eq!(d.add_round(), 0.5);
        assert_eq!(d.normalize(0), 0.5);
        assert_eq!(d.drop(2, 0.1), vec![0, 1]);
        assert!((d.add_round() - 1.0 / 3.0).abs() < 1e-15);
        d.normalize(0);
        d.normalize(1);
        for f in &d.factors {
            assert!((f - 1.0 / 3.0).abs() < 1e-15, "{:?}", d.factors);
        }
        // LightGBM's tree weights follow: the shrinkage each round was added with, scaled.
        assert!((d.sum_weight - 0.1).abs() < 1e-15, "{}", d.sum_weight);
        // `max_drop` caps how many drop; XGBoost's mode scales by 1/(k + η) and k/(k + η).
        let mut d = Dropout::new(
            Dart {
                max_drop: Some(1),
                xgboost_dart_mode: true,
                ..always
            },
            7,
        );
        for round in 0..3 {
            let dropped = d.drop(round, 0.5);
            assert!(dropped.len() <= 1);
            d.add_round();
            dropped.iter().for_each(|&r| {
                d.normalize(r);
            });
        }
        assert!((d.factors[2] - 1.0 / 1.5).abs() < 1e-15, "{:?}", d.factors);
        assert!(
            (d.factors[0] - 1.0 / 1.5 / 1.5).abs() < 1e-15,
            "{:?}",
            d.factors
        );
    }

    #[test]
    fn dart_without_drops_is_gbdt_and_its_drops_are_seeded() {
        let (x, y) = wave();
        let rows: Vec<Vec<f64>> = (0..200).map(|i| x.row(i).to_vec()).collect();
        let plain = fit(x.view(), Target::Values(&y), &config(), 1);
        let dart = |dart: Dart, seed| {
            let c = Config {
                dart: Some(dart),
                ..config()
            };
            fit(x.view(), Target::Values(&y), &c, seed)
        };
        // Skipping every drop: gbdt's trees, the starting margin moved into the first one.
        let never = dart(
            Dart {
                skip_drop: 1.0,
                ..Dart::default()
            },
            1,
        );
        assert_eq!(never.base_margin, vec![0.0]);
        for row in &rows {
            let (a, b) = (plain.predict(row)[0], never.predict(row)[0]);
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        for mode in [
            Dart::default(),
            Dart {
                uniform_drop: true,
                ..Dart::default()
            },
            Dart {
                xgboost_dart_mode: true,
                ..Dart::default()
            },
        ] {
            let model = dart(mode, 1);
            assert!(model.validate().is_ok());
            assert_eq!(model, dart(mode, 1), "the same seed drops the same rounds");
            assert_ne!(model, dart(mode, 2), "{mode:?}");
            assert_ne!(model.trees, plain.trees, "{mode:?}");
            // Still a fit: R² well above 0.
            let mean = y.iter().sum::<f64>() / 200.0;
            let (mut residual, mut total) = (0.0, 0.0);
            for (row, &target) in rows.iter().zip(&y) {
                residual += (model.predict(row)[0] - target).powi(2);
                total += (target - mean).powi(2);
            }
            assert!(residual < 0.2 * total, "{mode:?}: {residual} of {total}");
        }
    }

    #[test]
    fn limits_hold_leaves_rows_and_gamma() {
        let (x, y) = wave();
        let leafwise = Config {
            rounds: 5,
            max_depth: None,
            max_leaves: Some(5),
            min_child_samples: 20,
            ..config()
        };
        let model = fit(x.view(), Target::Values(&y), &leafwise, 1);
        for tree in &model.trees {
            assert_eq!(tree.leaves.len(), 5, "{tree:?}");
        }
        // Every leaf of the first tree holds at least 20 of the rows.
        let mut counts = std::collections::HashMap::new();
        for i in 0..200 {
            let tree = &model.trees[0];
            let mut node = 0i32;
            while node >= 0 {
                let s = &tree.splits[node as usize];
                node = if x[[i, s.feature as usize]] <= s.threshold {
                    s.left
                } else {
                    s.right
                };
            }
            *counts.entry(node).or_insert(0) += 1;
        }
        assert!(counts.values().all(|&c| c >= 20), "{counts:?}");
        // A gamma above every gain prunes each tree to one leaf.
        let pruned = Config {
            min_split_gain: 1e12,
            ..config()
        };
        let model = fit(x.view(), Target::Values(&y), &pruned, 1);
        assert!(model
            .trees
            .iter()
            .all(|t| t.splits.is_empty() && t.leaves.len() == 1));
        let unpruned = fit(x.view(), Target::Values(&y), &config(), 1);
        assert!(unpruned
            .trees
            .iter()
            .all(|t| t.leaves.len() <= 8 && t.leaves.len() > 1));
    }
}
