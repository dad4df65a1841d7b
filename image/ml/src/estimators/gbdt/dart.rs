//! LightGBM's DART: which earlier rounds a round drops, and the weights of old and new trees.

/// LightGBM's DART (`boosting=dart`): before each round some earlier rounds are dropped, the
/// new trees are fitted without them, and then new and dropped trees are scaled so that together
/// they add what the dropped ones did before.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Dart {
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
pub(super) struct Dropout {
    dart: Dart,
    rng: LightGbmRandom,
    /// Per round, the factor on its trees as grown (with the learning rate): the share the
    /// round was added with, times `k/(k + 1)` each time it was dropped.
    pub(super) factors: Vec<f64>,
    /// Per round, LightGBM's `tree_weight_` (its shrinkage), which weighs the drop chances.
    weights: Vec<f64>,
    /// LightGBM's `sum_weight_`.
    pub(super) sum_weight: f64,
    /// This round's dropped rounds and the new trees' shrinkage.
    dropped: usize,
    shrinkage: f64,
    learning_rate: f64,
}

impl Dropout {
    pub(super) fn new(dart: Dart, seed: u64) -> Dropout {
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
    pub(super) fn drop(&mut self, rounds: usize, learning_rate: f64) -> Vec<usize> {
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
    pub(super) fn add_round(&mut self) -> f64 {
        let factor = self.shrinkage / self.learning_rate;
        self.factors.push(factor);
        if !self.dart.uniform_drop {
            self.weights.push(self.shrinkage);
            self.sum_weight += self.shrinkage;
        }
        factor
    }

    /// Scales a dropped round down (LightGBM's `Normalize`); returns its new factor.
    pub(super) fn normalize(&mut self, round: usize) -> f64 {
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
