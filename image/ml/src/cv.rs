//! k-fold cross-validation of an estimator, as scikit-learn's `cross_val_score` does it:
//! stratified folds for classification, plain folds for regression (see [`crate::folds`]),
//! the same seed for every fold's fit, and the mean of the fold scores.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use ndarray::{Array2, Axis};
use rayon::prelude::*;

use crate::error::{MlError, Result};
use crate::estimators::{Estimator, Fitted, Stepwise, TrainTarget};
use crate::folds::{folds, Fold};
use crate::model::TrainingData;
use crate::scorer::{Scored, Scorer};
use crate::target::Target;
use mmp_pipeline::memory::row_output_bytes;

/// A cross-validation's scores.
#[derive(Debug, Clone, PartialEq)]
pub struct CvScores {
    /// Each fold's score, in fold order.
    pub folds: Vec<f64>,
    /// Their mean, what the tuner maximizes.
    pub mean: f64,
}

/// Folds are fitted side by side on rayon's global pool, which the forest's trees share (each
/// fold is independent and seeded alike, so the scores do not depend on the thread count).
pub fn cross_val_score(
    estimator: &dyn Estimator,
    data: &TrainingData,
    scorer: Scorer,
    k: usize,
    seed: u64,
) -> Result<CvScores> {
    cross_val_score_within(estimator, data, scorer, k, seed, u64::MAX, &|_, _| {})
}

/// What [`cross_val_score_within`] tells its caller as each fold is scored: how many folds
/// are scored so far, and the mean of their scores (a tuning trial's intermediate objective).
pub type OnFold<'a> = &'a (dyn Fn(usize, f64) + Sync);

/// [`cross_val_score`] with at most as many folds fitting at once as `memory` bytes hold by
/// [`fold_bytes`]; at least one always runs. The scores are the same.
///
/// `on_fold` is called once per fold scored, in the order they finish, one call at a time,
/// with the count scored so far and their mean (summed in fold order). Its last call, once
/// every fold is scored, is with `k` and exactly [`CvScores::mean`]. A fold whose score fails
/// is not reported (the whole call fails).
pub fn cross_val_score_within(
    estimator: &dyn Estimator,
    data: &TrainingData,
    scorer: Scorer,
    k: usize,
    seed: u64,
    memory: u64,
    on_fold: OnFold<'_>,
) -> Result<CvScores> {
    estimator.supports(data.task)?;
    let codes = data.target.codes();
    let all = folds(data.x.nrows(), codes, k)?;
    let per_fold = fold_bytes(data, estimator);
    let by_memory = usize::try_from(memory / per_fold.max(1))
        .unwrap_or(usize::MAX)
        .clamp(1, all.len().max(1));
    if by_memory < all.len() {
        tracing::info!(
            folds_at_once = by_memory,
            fold_bytes = per_fold,
            memory,
            "memory bounds the folds fitted at once"
        );
    }
    // One thread fits one fold at a time: more at once would only hold more in memory.
    let at_once = if rayon::current_num_threads() > 1 {
        by_memory
    } else {
        1
    };
    // Each fold's score once it is known, by fold: the running mean sums them in fold order,
    // as the final mean does, so its last value is that mean to the bit.
    let scored: Mutex<Vec<Option<f64>>> = Mutex::new(vec![None; all.len()]);
    let report = |fold: usize, score: f64| {
        let mut scored = scored.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = scored.get_mut(fold) {
            *slot = Some(score);
        }
        let so_far: Vec<f64> = scored.iter().flatten().copied().collect();
        on_fold(so_far.len(), mean(&so_far));
    };
    let mut results: Vec<Result<Option<f64>>> = Vec::with_capacity(all.len());
    for (g, group) in all.chunks(at_once).enumerate() {
        let report_group = |j: usize, score: f64| report(g * at_once + j, score);
        if let Some(scores) = stepwise_scores(estimator, data, scorer, group, seed, &report_group) {
            results.extend(scores);
            continue;
        }
        results.par_extend(group.par_iter().enumerate().map(|(j, fold)| {
            // A panicking fit fails this job with a message, as a thread's join did.
            let result = catch_unwind(AssertUnwindSafe(|| {
                fold_score(estimator, data, scorer, fold, seed)
            }))
            .unwrap_or_else(|_| Err(panicked()));
            if let Ok(Some(score)) = &result {
                report_group(j, *score);
            }
            result
        }));
    }
    let mut scores = Vec::with_capacity(k);
    for (i, result) in results.into_iter().enumerate() {
        let score = result?.ok_or_else(|| {
            MlError::Folds(format!(
                "the score is undefined on fold {} (only one class among its rows?)",
                i + 1
            ))
        })?;
        scores.push(score);
    }
    Ok(CvScores {
        mean: mean(&scores),
        folds: scores,
    })
}

/// The mean of fold scores, summed in the order given.
fn mean(scores: &[f64]) -> f64 {
    scores.iter().sum::<f64>() / scores.len() as f64
}

/// What one fold holds while it fits, at most: its copy of the rows (train and test together
/// are every row), as much again for what an estimator builds from them (binned codes,
/// gradients, a forest's trees), and with more than two classes, what it holds per row and
/// class ([`row_output_bytes`] of its family; docs/benchmarks.md measures both). The local
/// executor admits a train job by the same count (`mmp_pipeline::memory::train_estimate`).
pub fn fold_bytes(data: &TrainingData, estimator: &dyn Estimator) -> u64 {
    let matrix = (data.x.len() as u64).saturating_mul(std::mem::size_of::<f64>() as u64);
    let outputs = match &data.target {
        Target::Classes { labels, .. } if labels.len() > 2 => labels.len() as u64,
        _ => 1,
    };
    let per_row = outputs.saturating_mul(row_output_bytes(estimator.family()));
    matrix
        .saturating_mul(2)
        .saturating_add((data.x.nrows() as u64).saturating_mul(per_row))
}

/// What a fold's fit failing by a panic reports.
fn panicked() -> MlError {
    MlError::Folds("a fold's fit panicked".to_string())
}

/// The folds of `group` fitted a step at a time by as many workers as the pool has threads
/// (see [`Turns`] for which fold a free worker steps next), so that every thread stays busy
/// until the last fold's last step: fitted whole, 5 folds on 2 threads leave the last one
/// alone. The folds' scores, in fold order; `None` when the estimator does not fit in steps.
/// Each fit bins its own rows of `data.x`, so no fold copies its training rows.
fn stepwise_scores(
    estimator: &dyn Estimator,
    data: &TrainingData,
    scorer: Scorer,
    group: &[Fold],
    seed: u64,
    report: &(dyn Fn(usize, f64) + Sync),
) -> Option<Vec<Result<Option<f64>>>> {
    let targets: Vec<FoldTarget> = group
        .iter()
        .map(|fold| FoldTarget::of(&data.target, fold))
        .collect();
    let threads = rayon::current_num_threads();
    let mut turns = Turns::new(group.len(), threads);
    let mut refused = Vec::new();
    for (j, (fold, target)) in group.iter().zip(&targets).enumerate() {
        match estimator.stepwise(data.x.view(), &fold.train, target.train(), seed)? {
            Ok(fit) => turns.fits[j] = Some(fit),
            Err(e) => refused.push((j, e)),
        }
    }
    let folds = Folds {
        data,
        scorer,
        group,
        report,
        scores: group.iter().map(|_| Mutex::new(None)).collect(),
        turns: Mutex::new(turns),
    };
    for (j, e) in refused {
        folds.scored(j, Err(e));
    }
    (0..threads.min(group.len()))
        .into_par_iter()
        .for_each(|_| folds.work());
    Some(
        folds
            .scores
            .into_iter()
            .map(|slot| {
                let slot = slot.into_inner().unwrap_or_else(|p| p.into_inner());
                slot.unwrap_or_else(|| Err(panicked()))
            })
            .collect(),
    )
}

/// Which fold a free worker steps next. The first folds are fitted whole, each by one worker
/// from start to end (the lowest-numbered fold waiting first), so they are scored as early as
/// folds fitted side by side. The last ones ([`Turns::new`] says how many) take their steps
/// in turn, the fold with the fewest steps taken first, so that they end together rather
/// than one alone on a thread.
struct Turns<'a> {
    /// Each fold's fit while it waits for a worker; `None` while a worker steps it, and once
    /// it is done.
    fits: Vec<Option<Box<dyn Stepwise + 'a>>>,
    steps: Vec<usize>,
    /// The folds below this one are fitted whole.
    whole: usize,
}

impl<'a> Turns<'a> {
    /// `k` folds for `threads` workers: the last `threads` plus the folds an uneven split
    /// leaves over take turns (all of them when there are no more folds than that).
    fn new(k: usize, threads: usize) -> Turns<'a> {
        let t = threads.max(1);
        let in_turn = if k.is_multiple_of(t) { t } else { t + k % t };
        Turns {
            fits: (0..k).map(|_| None).collect(),
            steps: vec![0; k],
            whole: k.saturating_sub(in_turn),
        }
    }

    /// The next fold to step, taken out until [`Turns::put_back`].
    fn next(&mut self) -> Option<(usize, Box<dyn Stepwise + 'a>)> {
        let whole = self.whole;
        let steps = &self.steps;
        let j = (0..self.fits.len())
            .filter(|&j| self.fits[j].is_some())
            .min_by_key(|&j| {
                if j < whole {
                    (0, 0, j)
                } else {
                    (1, steps[j], j)
                }
            })?;
        Some((j, self.fits[j].take()?))
    }

    /// Fold `j` has taken a step and has more to take.
    fn put_back(&mut self, j: usize, fit: Box<dyn Stepwise + 'a>) {
        if let Some(slot) = self.fits.get_mut(j) {
            *slot = Some(fit);
            self.steps[j] += 1;
        }
    }
}

/// A group of folds being fitted a step at a time, and their scores as they are known.
struct Folds<'a> {
    data: &'a TrainingData,
    scorer: Scorer,
    group: &'a [Fold],
    report: &'a (dyn Fn(usize, f64) + Sync),
    scores: Vec<Mutex<Option<Result<Option<f64>>>>>,
    turns: Mutex<Turns<'a>>,
}

impl<'a> Folds<'a> {
    /// A worker: steps the folds [`Turns`] gives it, and scores each one that is done, until
    /// no fold waits for a worker.
    fn work(&self) {
        let turns = || self.turns.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            // The lock is held only to take a fold, not while it steps.
            let next = turns().next();
            let Some((j, mut fit)) = next else {
                break;
            };
            match catch_unwind(AssertUnwindSafe(|| fit.step())) {
                Ok(true) => turns().put_back(j, fit),
                Ok(false) => {
                    let result = catch_unwind(AssertUnwindSafe(|| {
                        let fitted = fit.finish()?;
                        score_fitted(&fitted, self.data, self.scorer, &self.group[j])
                    }))
                    .unwrap_or_else(|_| Err(panicked()));
                    self.scored(j, result);
                }
                Err(_) => self.scored(j, Err(panicked())),
            }
        }
    }

    fn scored(&self, j: usize, result: Result<Option<f64>>) {
        if let Ok(Some(score)) = &result {
            (self.report)(j, *score);
        }
        if let Some(slot) = self.scores.get(j) {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
        }
    }
}

/// A fold's training targets, in its training rows' order.
enum FoldTarget {
    Classes { codes: Vec<usize>, n_classes: usize },
    Values(Vec<f64>),
}

impl FoldTarget {
    fn of(target: &Target, fold: &Fold) -> FoldTarget {
        match target {
            Target::Classes { labels, codes } => FoldTarget::Classes {
                codes: fold.train.iter().map(|&r| codes[r]).collect(),
                n_classes: labels.len(),
            },
            Target::Values(values) => {
                FoldTarget::Values(fold.train.iter().map(|&r| values[r]).collect())
            }
        }
    }

    fn train(&self) -> TrainTarget<'_> {
        match self {
            FoldTarget::Classes { codes, n_classes } => TrainTarget::Classes {
                codes,
                n_classes: *n_classes,
            },
            FoldTarget::Values(values) => TrainTarget::Values(values),
        }
    }
}

/// Fits on a fold's training rows and scores its test rows (`None`: undefined score).
fn fold_score(
    estimator: &dyn Estimator,
    data: &TrainingData,
    scorer: Scorer,
    fold: &Fold,
    seed: u64,
) -> Result<Option<f64>> {
    let x_train = data.x.select(Axis(0), &fold.train);
    let target = FoldTarget::of(&data.target, fold);
    let fitted = estimator.fit(x_train.view(), target.train(), seed)?;
    score_fitted(&fitted, data, scorer, fold)
}

/// A fold's score by `fitted` on its test rows (`None`: undefined score).
fn score_fitted(
    fitted: &Fitted,
    data: &TrainingData,
    scorer: Scorer,
    fold: &Fold,
) -> Result<Option<f64>> {
    let x_test = data.x.select(Axis(0), &fold.test);
    Ok(match &data.target {
        Target::Classes { labels, codes } => {
            let truth: Vec<usize> = fold.test.iter().map(|&r| codes[r]).collect();
            let mut proba = Array2::zeros((x_test.nrows(), labels.len()));
            fitted
                .predictor()
                .predict_rows(x_test.view(), proba.view_mut());
            scorer.score(Scored::Classes {
                truth: &truth,
                proba: proba.view(),
            })
        }
        Target::Values(values) => {
            let truth: Vec<f64> = fold.test.iter().map(|&r| values[r]).collect();
            let mut predicted = Array2::zeros((x_test.nrows(), 1));
            fitted
                .predictor()
                .predict_rows(x_test.view(), predicted.view_mut());
            let predicted = predicted.into_raw_vec_and_offset().0;
            scorer.score(Scored::Values {
                truth: &truth,
                predicted: &predicted,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::estimators::{from_hyperparams, Algorithm, Fitted};
    use crate::hyperparams::HyperParams;
    use crate::table::Table;

    fn data() -> TrainingData {
        let mut csv = String::from("a,b,y\n");
        for i in 0..60 {
            let (a, b) = ((i * 7 % 13) as f64, (i * 5 % 11) as f64);
            csv.push_str(&format!("{a},{b},{}\n", usize::from(a + b / 2.0 > 8.0)));
        }
        let table = Table::from_reader(Path::new("t.csv"), csv.as_bytes()).unwrap();
        TrainingData::from_table(&table, "y", None).unwrap()
    }

    fn in_pool<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> T {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(work)
    }

    /// Folds and, nested in them, a forest's trees: seeded per fold and per tree, so the
    /// scores and the trees are the same on one thread as on several.
    #[test]
    fn scores_and_forests_do_not_depend_on_the_thread_count() {
        let data = data();
        let hp = HyperParams::from_pairs([("n-estimators", "12")]);
        let forest = from_hyperparams(Algorithm::RandomForest, &hp).unwrap();
        let cv = |threads| {
            in_pool(threads, || {
                cross_val_score(forest.as_ref(), &data, Scorer::RocAuc, 4, 7).unwrap()
            })
        };
        let one = cv(1);
        assert_eq!(one, cv(3));
        assert_eq!(one.folds.len(), 4);
        let fit = |threads| {
            in_pool(threads, || {
                forest.fit(data.x.view(), data.train_target(), 7).unwrap()
            })
        };
        let (Fitted::RandomForest(a), Fitted::RandomForest(b)) = (fit(1), fit(4)) else {
            panic!("not a forest")
        };
        assert_eq!(a, b);
    }

    /// Boosters' folds fitted a step at a time, their steps in turn, score as each fold fitted
    /// whole on a copy of its rows: on one thread and on three, and a few folds at a time.
    #[test]
    fn folds_fitted_in_steps_score_as_folds_fitted_whole() {
        let data = data();
        for (family, hp) in [
            (
                Algorithm::XGBoost,
                [("n-estimators", "9"), ("max-depth", "3")],
            ),
            (
                Algorithm::LightGBM,
                [("n-estimators", "9"), ("num-leaves", "5")],
            ),
        ] {
            let booster = from_hyperparams(family, &HyperParams::from_pairs(hp)).unwrap();
            let codes = data.target.codes();
            let whole: Vec<f64> = folds(data.x.nrows(), codes, 5)
                .unwrap()
                .iter()
                .map(|fold| {
                    fold_score(booster.as_ref(), &data, Scorer::RocAuc, fold, 7)
                        .unwrap()
                        .unwrap()
                })
                .collect();
            for (threads, memory) in [
                (1, u64::MAX),
                (2, u64::MAX),
                (3, u64::MAX),
                (3, 2 * fold_bytes(&data, booster.as_ref())),
            ] {
                let seen = Mutex::new(0);
                let scores = in_pool(threads, || {
                    let count = |_: usize, _: f64| *seen.lock().unwrap() += 1;
                    cross_val_score_within(
                        booster.as_ref(),
                        &data,
                        Scorer::RocAuc,
                        5,
                        7,
                        memory,
                        &count,
                    )
                    .unwrap()
                });
                assert_eq!(scores.folds, whole, "{family:?} on {threads} threads");
                assert_eq!(seen.into_inner().unwrap(), 5);
            }
        }
    }

    /// The first folds go to one worker each, lowest first, and stay with it; the last ones
    /// take turns, the fewest steps taken first.
    #[test]
    fn the_first_folds_are_fitted_whole_and_the_last_take_turns() {
        let whole = |k, t| Turns::new(k, t).whole;
        assert_eq!(whole(5, 2), 2, "2 whole, then 3 in turn");
        assert_eq!(whole(4, 2), 2);
        assert_eq!(whole(3, 2), 0);
        assert_eq!(whole(10, 3), 6);
        assert_eq!(whole(5, 8), 0);
        assert_eq!(whole(3, 1), 2);
        let mut turns = Turns::new(5, 2);
        for j in 0..5 {
            turns.fits[j] = Some(Box::new(Steps(0)));
        }
        let mut next = || turns.next().map(|(j, _)| j);
        assert_eq!(
            (next(), next(), next(), next(), next(), next()),
            (Some(0), Some(1), Some(2), Some(3), Some(4), None)
        );
        let mut turns = Turns::new(5, 2);
        for j in [0, 2, 3, 4] {
            turns.fits[j] = Some(Box::new(Steps(0)));
        }
        // Fold 0, stepped and put back, comes before every fold in turn.
        let (j, fit) = turns.next().unwrap();
        turns.put_back(j, fit);
        assert_eq!(turns.next().map(|(j, _)| j), Some(0));
        // In turn: fold 2, once stepped, waits behind 3 and 4.
        let (j, fit) = turns.next().unwrap();
        assert_eq!(j, 2);
        turns.put_back(j, fit);
        let order: Vec<usize> = std::iter::from_fn(|| turns.next().map(|(j, _)| j)).collect();
        assert_eq!(order, [3, 4, 2]);
    }

    /// A fit whose third step panics, or which fails to start.
    #[derive(Debug)]
    struct Breaking {
        panics: bool,
    }

    struct Steps(usize);

    impl Stepwise for Steps {
        fn step(&mut self) -> bool {
            self.0 += 1;
            assert!(self.0 < 3, "step {}", self.0);
            true
        }

        fn finish(self: Box<Self>) -> Result<Fitted> {
            Err(MlError::Folds("never finished".to_string()))
        }
    }

    impl Estimator for Breaking {
        fn family(&self) -> Algorithm {
            Algorithm::XGBoost
        }

        fn fit(&self, _: ndarray::ArrayView2<f64>, _: TrainTarget<'_>, _: u64) -> Result<Fitted> {
            Err(MlError::Folds("fitted whole".to_string()))
        }

        fn stepwise<'a>(
            &'a self,
            _: ndarray::ArrayView2<'a, f64>,
            _: &'a [usize],
            _: TrainTarget<'a>,
            _: u64,
        ) -> Option<Result<Box<dyn Stepwise + 'a>>> {
            Some(if self.panics {
                Ok(Box::new(Steps(0)))
            } else {
                Err(MlError::Folds("refused".to_string()))
            })
        }
    }

    /// A step that panics fails the cross-validation with a message, as does a fit that
    /// cannot start; every other fold still runs to its end.
    #[test]
    fn a_panicking_step_or_a_refused_fit_fails_with_a_message() {
        let data = data();
        for (panics, message) in [(true, "a fold's fit panicked"), (false, "refused")] {
            let err = in_pool(2, || {
                cross_val_score(&Breaking { panics }, &data, Scorer::RocAuc, 4, 7).unwrap_err()
            });
            assert!(err.to_string().contains(message), "{err}");
        }
    }

    /// An estimator that counts the fits running at once.
    #[derive(Debug)]
    struct Counting {
        inner: Box<dyn Estimator>,
        running: std::sync::atomic::AtomicUsize,
        most: std::sync::atomic::AtomicUsize,
    }

    impl Estimator for Counting {
        fn family(&self) -> Algorithm {
            self.inner.family()
        }

        fn fit(
            &self,
            x: ndarray::ArrayView2<f64>,
            y: TrainTarget<'_>,
            seed: u64,
        ) -> Result<Fitted> {
            use std::sync::atomic::Ordering::SeqCst;
            let now = self.running.fetch_add(1, SeqCst) + 1;
            self.most.fetch_max(now, SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(40));
            let fitted = self.inner.fit(x, y, seed);
            self.running.fetch_sub(1, SeqCst);
            fitted
        }
    }

    /// One report per fold, counts rising by one, each the mean of the folds scored so far,
    /// the last exactly the final mean; whether folds fit side by side or one at a time.
    #[test]
    fn every_fold_reports_the_running_mean_and_the_last_is_the_mean() {
        let data = data();
        let bayes = from_hyperparams(Algorithm::NaiveBayes, &HyperParams::default()).unwrap();
        let one_fold = fold_bytes(&data, bayes.as_ref());
        for (threads, memory) in [(4, u64::MAX), (1, u64::MAX), (4, one_fold)] {
            let seen = Mutex::new(Vec::new());
            let record = |n: usize, mean: f64| seen.lock().unwrap().push((n, mean));
            let scores = in_pool(threads, || {
                cross_val_score_within(bayes.as_ref(), &data, Scorer::RocAuc, 5, 7, memory, &record)
                    .unwrap()
            });
            let seen = seen.into_inner().unwrap();
            let counts: Vec<usize> = seen.iter().map(|(n, _)| *n).collect();
            assert_eq!(counts, [1, 2, 3, 4, 5], "threads {threads}");
            assert_eq!(seen[4].1.to_bits(), scores.mean.to_bits());
            for (n, m) in &seen {
                // Some n of the fold scores average to m.
                assert!(*m >= scores.folds.iter().cloned().fold(f64::INFINITY, f64::min) - 1e-12);
                assert!(
                    *m <= scores
                        .folds
                        .iter()
                        .cloned()
                        .fold(f64::NEG_INFINITY, f64::max)
                        + 1e-12
                );
                assert!(*n <= 5);
            }
            if threads == 1 {
                // One at a time, folds finish in fold order.
                let first: f64 = scores.folds[..2].iter().sum::<f64>() / 2.0;
                assert_eq!(seen[0].1, scores.folds[0]);
                assert_eq!(seen[1].1, first);
            }
            assert_eq!(
                scores,
                cross_val_score(bayes.as_ref(), &data, Scorer::RocAuc, 5, 7).unwrap()
            );
        }
    }

    #[test]
    fn memory_bounds_the_folds_at_once_and_not_the_scores() {
        let data = data();
        let counting = || Counting {
            inner: from_hyperparams(Algorithm::NaiveBayes, &HyperParams::default()).unwrap(),
            running: 0.into(),
            most: 0.into(),
        };
        let free = counting();
        let unbounded = in_pool(4, || {
            cross_val_score(&free, &data, Scorer::RocAuc, 4, 7).unwrap()
        });
        let per_fold = fold_bytes(&data, &free);
        assert_eq!(free.most.into_inner(), 4);
        // The rows twice, and each row's probability.
        assert_eq!(per_fold, 60 * 2 * 8 * 2 + 60 * 8);
        for (memory, most) in [(2 * per_fold + 1, 2), (per_fold - 1, 1)] {
            let tight = counting();
            let bounded = in_pool(4, || {
                cross_val_score_within(&tight, &data, Scorer::RocAuc, 4, 7, memory, &|_, _| {})
                    .unwrap()
            });
            assert_eq!(tight.most.into_inner(), most, "memory {memory}");
            assert_eq!(bounded, unbounded);
        }
    }

    /// Of a target of many classes, a fit holds something per row and class (a booster its
    /// gradients and margins, every family the held-out probabilities), which can outgrow the
    /// rows many times: the folds fitted at once count it.
    #[test]
    fn the_classes_count_in_the_memory_of_a_fold() {
        let mut csv = String::from("a,b,y\n");
        for i in 0..60 {
            csv.push_str(&format!("{},{},c{}\n", i % 12, i * 7 % 13, i % 12));
        }
        let table = Table::from_reader(Path::new("t.csv"), csv.as_bytes()).unwrap();
        let data = TrainingData::from_table(&table, "y", None).unwrap();
        let counting = |family, hp: &[(&str, &str)]| Counting {
            inner: from_hyperparams(family, &HyperParams::from_pairs(hp.iter().copied())).unwrap(),
            running: 0.into(),
            most: 0.into(),
        };
        let bayes = counting(Algorithm::NaiveBayes, &[]);
        let booster = counting(Algorithm::XGBoost, &[("n-estimators", "2")]);
        let rows = 60 * 2 * 8 * 2;
        assert_eq!(fold_bytes(&data, &bayes), rows + 60 * 12 * 8);
        assert_eq!(fold_bytes(&data, &booster), rows + 60 * 12 * 56);
        // Room for two of the Bayes model's folds: the booster's take it alone.
        let memory = 2 * fold_bytes(&data, &bayes);
        for estimator in [&bayes, &booster] {
            in_pool(4, || {
                cross_val_score_within(estimator, &data, Scorer::Accuracy, 4, 7, memory, &|_, _| {})
                    .unwrap()
            });
        }
        assert_eq!(bayes.most.into_inner(), 2);
        assert_eq!(booster.most.into_inner(), 1);
    }
}
