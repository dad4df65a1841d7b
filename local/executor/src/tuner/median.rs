//! TrainingJobEarlyStoppingType `Auto`: SageMaker's median stopping rule. A running trial is
//! stopped when its objective after `r` intermediate values is worse than the median of the
//! earlier finished trials' running averages over their first `r` values. Scores are
//! sign-adjusted: higher is better.

use std::sync::Mutex;

/// Finished trials needed at an epoch before the rule stops anything there.
const MIN_FINISHED: usize = 3;

/// The finished trials' intermediate objective values, shared by the running ones.
#[derive(Debug, Default)]
pub(crate) struct MedianRule {
    finished: Mutex<Vec<Vec<f64>>>,
}

impl MedianRule {
    /// Records a finished trial's intermediate values, in order.
    pub(crate) fn finished(&self, values: Vec<f64>) {
        let mut all = self.finished.lock().unwrap_or_else(|p| p.into_inner());
        all.push(values);
    }

    /// Whether a running trial with these intermediate values so far goes on.
    pub(crate) fn keep(&self, values: &[f64]) -> bool {
        let Some(&current) = values.last() else {
            return true;
        };
        let r = values.len();
        let all = self.finished.lock().unwrap_or_else(|p| p.into_inner());
        let mut averages: Vec<f64> = all
            .iter()
            .filter(|v| v.len() > r) // reached epoch r and went on: not already at its end
            .map(|v| {
                let head = &v[..r];
                let mean = head.iter().sum::<f64>() / r as f64;
                if mean.is_finite() {
                    mean
                } else {
                    f64::NEG_INFINITY
                }
            })
            .collect();
        if averages.len() < MIN_FINISHED {
            return true;
        }
        averages.sort_by(f64::total_cmp);
        let n = averages.len();
        let median = if n % 2 == 1 {
            averages[n / 2]
        } else {
            (averages[n / 2 - 1] + averages[n / 2]) / 2.0
        };
        let current = if current.is_finite() {
            current
        } else {
            f64::NEG_INFINITY
        };
        current >= median
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trial_below_the_median_of_earlier_running_averages_is_stopped() {
        let rule = MedianRule::default();
        assert!(rule.keep(&[0.1]), "no evidence yet");
        for v in [
            vec![0.8, 0.8, 0.8],
            vec![0.6, 0.7, 0.8],
            vec![0.9, 0.9, 0.9],
        ] {
            rule.finished(v);
        }
        // Running averages after 1 value: 0.8, 0.6, 0.9 → median 0.8.
        assert!(!rule.keep(&[0.7]));
        assert!(rule.keep(&[0.85]));
        // After 2: 0.8, 0.65, 0.9 → median 0.8.
        assert!(!rule.keep(&[0.9, 0.75]));
        assert!(rule.keep(&[0.7, 0.8]));
        // The last epoch is never judged (the trial has finished anyway).
        assert!(rule.keep(&[0.1, 0.1, 0.1]));
        assert!(!rule.keep(&[f64::NAN]), "a non-finite score is the worst");
    }
}
