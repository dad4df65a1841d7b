//! SageMaker's Hyperband strategy: the rule that stops a running trial on its intermediate
//! objective values. Choosing the configurations stays with the Random draw (`random`); this
//! module only answers, each time a trial reports one more value, whether it goes on.
//!
//! SageMaker documents what it reads but not its exact rule: MinResource and MaxResource from
//! `StrategyConfig.HyperbandStrategyConfig`, MaxResource otherwise inferred from a static
//! hyperparameter named `epochs`, `numepochs`, `n-epochs`, `n_epochs` or `num_epochs`, at most
//! 20000; every regex match of the objective metric in the log is one intermediate value; its
//! Hyperband is asynchronous (trials are stopped while others still run, not in synchronized
//! brackets) and stopped trials end as `Stopped`. Here a trial's resource is the count of
//! intermediate values it printed (one per fold for `mmp-container`).
//!
//! The rule is asynchronous successive halving (ASHA) with η = 3, one bracket: rungs at
//! MinResource·3^k below MaxResource. A trial reaching a rung records its score there and goes
//! on only while it ranks within the top ⌈n/3⌉ of the n scores recorded at that rung so far;
//! while fewer than 3 are recorded it always goes on, so the first trials are not cut on no
//! evidence. Differences from what SageMaker may do: no several brackets with other minimum
//! resources (Hyperband proper), no promotion of paused trials (a stopped trial is killed and
//! never resumed, as a SageMaker trial is), and ties keep a trial running.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// The static hyperparameters SageMaker infers MaxResource from.
pub(crate) const EPOCH_KEYS: [&str; 5] =
    ["epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs"];
/// SageMaker's bound on MaxResource.
pub(crate) const MAX_RESOURCE_LIMIT: i64 = 20_000;
/// MinResource when not given.
const DEFAULT_MIN_RESOURCE: i64 = 1;
/// The reduction factor: a third of the trials at a rung go on to the next.
const ETA: u32 = 3;

/// The stopping rule of one tuning job, shared by the threads that run its trials.
#[derive(Debug)]
pub(crate) struct Hyperband {
    min_resource: u32,
    max_resource: u32,
    eta: u32,
    /// One entry per rung, lowest first: trial → its score there.
    rungs: Mutex<Vec<BTreeMap<usize, f64>>>,
}

impl Hyperband {
    /// From `StrategyConfig.HyperbandStrategyConfig` (MinResource, MaxResource, both optional)
    /// and each definition's static hyperparameters, from which MaxResource is inferred when
    /// it is not given (the largest value of the keys SageMaker reads, JSON-quoted or not).
    pub(crate) fn new(
        min: Option<i64>,
        max: Option<i64>,
        statics: &[&BTreeMap<String, String>],
    ) -> Result<Hyperband, String> {
        let max = match max {
            Some(m) => m,
            None => inferred_max(statics)?.ok_or_else(|| {
                format!(
                    "Hyperband needs MaxResource: set HyperbandStrategyConfig.MaxResource, or a \
                     static hyperparameter {} in a training job definition",
                    EPOCH_KEYS.join(", ")
                )
            })?,
        };
        let min = min.unwrap_or(DEFAULT_MIN_RESOURCE);
        if min < 1 {
            return Err(format!(
                "Hyperband MinResource must be at least 1, got {min}"
            ));
        }
        if max > MAX_RESOURCE_LIMIT {
            return Err(format!(
                "Hyperband MaxResource must be at most {MAX_RESOURCE_LIMIT}, got {max}"
            ));
        }
        if min > max {
            return Err(format!(
                "Hyperband MinResource ({min}) is greater than MaxResource ({max})"
            ));
        }
        // Both are now in 1..=MAX_RESOURCE_LIMIT.
        let (min_resource, max_resource) = (to_u32(min)?, to_u32(max)?);
        let hyperband = Hyperband {
            min_resource,
            max_resource,
            eta: ETA,
            rungs: Mutex::new(Vec::new()),
        };
        let count = hyperband.rung_resources().len();
        *hyperband.lock() = vec![BTreeMap::new(); count];
        Ok(hyperband)
    }

    /// The resources at which trials are compared: min·η^k below max.
    pub(crate) fn rung_resources(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let mut r = self.min_resource;
        while r < self.max_resource {
            out.push(r);
            match r.checked_mul(self.eta) {
                Some(next) => r = next,
                None => break,
            }
        }
        out
    }

    /// The largest resource a trial runs to.
    #[cfg(test)]
    pub(crate) fn max_resource(&self) -> u32 {
        self.max_resource
    }

    /// Trial `trial` reached `resource` (1-based count of its intermediate values) with
    /// `score`, higher better: `false` means stop it now. Non-finite scores rank worst.
    pub(crate) fn keep(&self, trial: usize, resource: u32, score: f64) -> bool {
        if resource < self.min_resource {
            return true;
        }
        let Some(rung) = self.rung_resources().iter().position(|&r| r == resource) else {
            return true;
        };
        let score = if score.is_finite() {
            score
        } else {
            f64::NEG_INFINITY
        };
        let mut rungs = self.lock();
        let Some(recorded) = rungs.get_mut(rung) else {
            return true;
        };
        recorded.insert(trial, score);
        let n = recorded.len();
        let eta = self.eta as usize;
        if n < eta {
            return true;
        }
        let better = recorded.values().filter(|&&s| s > score).count();
        better < n.div_ceil(eta)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<BTreeMap<usize, f64>>> {
        // The map stays consistent whatever panicked while holding it.
        self.rungs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn to_u32(v: i64) -> Result<u32, String> {
    u32::try_from(v).map_err(|_| format!("Hyperband resource {v} is out of range"))
}

/// The largest value of the epoch keys among the definitions' static hyperparameters.
fn inferred_max(statics: &[&BTreeMap<String, String>]) -> Result<Option<i64>, String> {
    let mut max: Option<i64> = None;
    for hyperparameters in statics {
        for key in EPOCH_KEYS {
            let Some(raw) = hyperparameters.get(key) else {
                continue;
            };
            // The SageMaker SDK JSON-quotes static values: `"\"5\""`.
            let text = raw.trim().trim_matches('"').trim();
            let value = text.parse::<i64>().map_err(|_| {
                format!(
                    "Hyperband reads MaxResource from {key}, whose value {raw:?} is not an integer"
                )
            })?;
            max = Some(max.map_or(value, |m| m.max(value)));
        }
    }
    Ok(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statics(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn infers_max_resource_from_the_static_epochs() {
        let a = statics(&[("algorithm", "SVM"), ("n-epochs", "\"5\"")]);
        let b = statics(&[("num_epochs", "8")]);
        let hb = Hyperband::new(None, None, &[&a]).unwrap();
        assert_eq!((hb.min_resource, hb.max_resource()), (1, 5));
        // The largest of several definitions'; an explicit MaxResource wins.
        assert_eq!(
            Hyperband::new(None, None, &[&a, &b])
                .unwrap()
                .max_resource(),
            8
        );
        assert_eq!(
            Hyperband::new(Some(2), Some(9), &[&a])
                .unwrap()
                .max_resource(),
            9
        );
        for key in EPOCH_KEYS {
            let s = statics(&[(key, "7")]);
            assert_eq!(Hyperband::new(None, None, &[&s]).unwrap().max_resource(), 7);
        }
    }

    #[test]
    fn refuses_what_it_cannot_infer_or_bound() {
        let none = statics(&[("algorithm", "SVM"), ("cv-folds", "5")]);
        let e = Hyperband::new(None, None, &[&none]).unwrap_err();
        assert!(e.contains("MaxResource") && e.contains("n-epochs"), "{e}");
        assert!(Hyperband::new(None, None, &[]).is_err());
        let bad = statics(&[("epochs", "five")]);
        let e = Hyperband::new(None, None, &[&bad]).unwrap_err();
        assert!(e.contains("epochs") && e.contains("five"), "{e}");
        let e = Hyperband::new(Some(6), Some(5), &[]).unwrap_err();
        assert!(
            e.contains("MinResource (6)") && e.contains("MaxResource (5)"),
            "{e}"
        );
        let e = Hyperband::new(None, Some(20_001), &[]).unwrap_err();
        assert!(e.contains("20000"), "{e}");
        assert!(Hyperband::new(None, Some(20_000), &[]).is_ok());
        assert!(Hyperband::new(Some(0), Some(5), &[]).is_err());
        let huge = statics(&[("epochs", "30000")]);
        assert!(Hyperband::new(None, None, &[&huge]).is_err());
    }

    #[test]
    fn rungs_sit_at_min_times_powers_of_eta_below_max() {
        let rungs = |min, max| {
            Hyperband::new(Some(min), Some(max), &[])
                .unwrap()
                .rung_resources()
        };
        assert_eq!(rungs(1, 5), [1, 3]);
        assert_eq!(rungs(1, 81), [1, 3, 9, 27]);
        assert_eq!(rungs(2, 20), [2, 6, 18]);
        assert_eq!(rungs(5, 5), [] as [u32; 0]);
        assert_eq!(rungs(1, 20_000).len(), 10);
    }

    #[test]
    fn bad_trials_stop_at_the_first_rung_and_good_ones_go_on() {
        let hb = Hyperband::new(None, Some(5), &[]).unwrap();
        // The first two at rung 1 go on whatever they scored: no evidence yet.
        assert!(hb.keep(0, 1, 0.5));
        assert!(hb.keep(1, 1, 0.9));
        // Third: top ⌈3/3⌉ = 1 of {0.5, 0.9, 0.7}; 0.7 is not.
        assert!(!hb.keep(2, 1, 0.7));
        // A new best goes on; a poor one stops; NaN ranks worst.
        assert!(hb.keep(3, 1, 0.95));
        assert!(!hb.keep(4, 1, 0.1));
        assert!(!hb.keep(5, 1, f64::NAN));
        // Seven recorded: the top ⌈7/3⌉ = 3 go on, and 0.92 ranks second.
        assert!(hb.keep(6, 1, 0.92));
        // Between rungs and at MaxResource a trial never stops.
        assert!(hb.keep(0, 2, 0.0));
        assert!(hb.keep(0, 5, 0.0));
        // Rung 3 has its own record.
        assert!(hb.keep(1, 3, 0.8));
        assert!(hb.keep(3, 3, 0.85));
        assert!(!hb.keep(6, 3, 0.3));
        assert!(hb.keep(7, 3, 0.99));
    }

    #[test]
    fn below_min_resource_nothing_stops_and_reports_may_come_from_threads() {
        let hb = Hyperband::new(Some(3), Some(27), &[]).unwrap();
        assert!((0..10).all(|t| hb.keep(t, 1, -1.0) && hb.keep(t, 2, f64::NAN)));
        let kept: Vec<bool> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..9)
                .map(|t| {
                    let hb = &hb;
                    s.spawn(move || hb.keep(t, 3, t as f64))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // Whatever the order the threads ran in, the best score is never stopped, and every
        // score was recorded at the rung.
        assert!(kept[8]);
        assert_eq!(hb.lock()[0].len(), 9);
    }
}
