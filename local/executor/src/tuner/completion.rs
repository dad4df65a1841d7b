//! SageMaker's TuningJobCompletionCriteria: when a tuning job stops starting trials before its
//! budget is spent. The criteria are judged on the finished trials in trial order (the longest
//! run of finished trials from the first), so the same trials give the same decision whichever
//! of the running ones happens to finish first.

/// The criteria, as the definition states them (each optional).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Criteria {
    /// Stop once a trial's objective is at least this (sign-adjusted: higher is better).
    pub target: Option<f64>,
    /// Stop after this many trials in a row fail to beat the best before them.
    pub max_not_improving: Option<usize>,
    /// Stop once the search has converged ([`converged`]).
    pub complete_on_convergence: bool,
}

/// Why a tuning job ended before its budget.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Completion {
    TargetReached,
    NotImproving(usize),
    Converged,
}

/// The fewest trials before convergence is judged.
const MIN_TRIALS_FOR_CONVERGENCE: usize = 10;
/// The best moved by less than this share of the scores' spread over the window: converged.
const CONVERGED_SHARE: f64 = 1e-3;

impl Criteria {
    /// Whether the finished trials' scores (in trial order, higher is better; `None` for a
    /// trial that failed or was stopped) end the search, out of a budget of `budget` trials.
    pub(crate) fn check(&self, scores: &[Option<f64>], budget: usize) -> Option<Completion> {
        let finite: Vec<f64> = scores
            .iter()
            .flatten()
            .copied()
            .filter(|s| s.is_finite())
            .collect();
        if let (Some(target), Some(best)) = (self.target, finite.iter().copied().reduce(f64::max)) {
            if best >= target {
                return Some(Completion::TargetReached);
            }
        }
        let since_best = trials_since_best(scores);
        if let Some(n) = self.max_not_improving {
            if n > 0 && since_best >= n {
                return Some(Completion::NotImproving(since_best));
            }
        }
        if self.complete_on_convergence && converged(scores, budget) {
            return Some(Completion::Converged);
        }
        None
    }
}

/// Trials since the last one that beat every trial before it (all of them when none did).
pub(crate) fn trials_since_best(scores: &[Option<f64>]) -> usize {
    let mut best = f64::NEG_INFINITY;
    let mut last_improvement = None;
    for (i, score) in scores.iter().enumerate() {
        if let Some(s) = score.filter(|s| s.is_finite()) {
            if s > best {
                best = s;
                last_improvement = Some(i);
            }
        }
    }
    match last_improvement {
        Some(i) => scores.len() - 1 - i,
        None => scores.len(),
    }
}

/// SageMaker does not publish its rule; this one: at least a tenth of the budget (and 10
/// trials) have finished, and over the last window of that size the best score rose by less
/// than 0.1% of the spread of all scores so far — further trials are unlikely to matter.
pub(crate) fn converged(scores: &[Option<f64>], budget: usize) -> bool {
    let window = (budget / 10).max(MIN_TRIALS_FOR_CONVERGENCE);
    if scores.len() < window * 2 {
        return false;
    }
    let best_of = |s: &[Option<f64>]| {
        s.iter()
            .flatten()
            .copied()
            .filter(|x| x.is_finite())
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let before = best_of(&scores[..scores.len() - window]);
    let now = best_of(scores);
    let finite: Vec<f64> = scores
        .iter()
        .flatten()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    let (lo, hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    if !before.is_finite() || hi <= lo {
        return before.is_finite();
    }
    now - before < CONVERGED_SHARE * (hi - lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_ends_the_search_once_reached() {
        let c = Criteria {
            target: Some(0.9),
            ..Criteria::default()
        };
        assert_eq!(c.check(&[Some(0.5), None, Some(0.89)], 60), None);
        assert_eq!(
            c.check(&[Some(0.5), Some(0.91)], 60),
            Some(Completion::TargetReached)
        );
    }

    #[test]
    fn trials_without_improvement_are_counted_from_the_last_best() {
        assert_eq!(
            trials_since_best(&[Some(0.5), Some(0.7), Some(0.6), None]),
            2
        );
        assert_eq!(trials_since_best(&[None, None]), 2);
        let c = Criteria {
            max_not_improving: Some(3),
            ..Criteria::default()
        };
        let mut scores = vec![Some(0.5), Some(0.8), Some(0.7), Some(0.8)];
        assert_eq!(
            c.check(&scores, 60),
            None,
            "a tie is no improvement, but only 2"
        );
        scores.push(None);
        assert_eq!(c.check(&scores, 60), Some(Completion::NotImproving(3)));
    }

    #[test]
    fn convergence_needs_a_flat_window_after_enough_trials() {
        let c = Criteria {
            complete_on_convergence: true,
            ..Criteria::default()
        };
        // Improving all along: not converged.
        let rising: Vec<Option<f64>> = (0..40).map(|i| Some(i as f64 / 40.0)).collect();
        assert_eq!(c.check(&rising, 60), None);
        // Best found early, then 20 trials below it: converged.
        let mut flat: Vec<Option<f64>> = vec![Some(0.2), Some(0.9)];
        flat.extend((0..20).map(|i| Some(0.5 + (i % 3) as f64 / 10.0)));
        assert_eq!(c.check(&flat, 60), Some(Completion::Converged));
        // The same, but too few trials to judge.
        assert_eq!(c.check(&flat[..15], 60), None);
        assert!(
            !converged(&flat, 1000),
            "a 100-trial window needs 200 trials"
        );
    }
}
