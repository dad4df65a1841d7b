//! XGBoost and LightGBM in the default, pure-Rust build: histogram gradient boosting by this
//! crate's own engine ([`super::gbdt`]), configured with each library's own hyperparameter
//! names and defaults.
//!
//! The family names keep their meaning in the tuning step (a boosted family with XGBoost's or
//! LightGBM's knobs and growth). The payload is tagged `GradientBoosting` and holds the same
//! [`TreeEnsemble`] the libraries' files are read into, so an artifact never claims to be a
//! file the Python libraries read, and one predictor serves both.
//!
//! - Binary: one logistic margin. Multiclass: softmax, one tree per class and round (both
//!   libraries' default). Regression: squared error. The starting margin is fitted from the
//!   data (log-odds or mean), as XGBoost ≥ 2 and LightGBM's `boost_from_average` do.
//! - XGBoost `booster=gblinear` fits XGBoost's linear booster ([`super::gblinear`]: coordinate
//!   descent on a bias and a weight per feature, `eta` 0.5 and `lambda` 0 by default) into the
//!   same ensemble type, with no trees. XGBoost's `dart` with its default `rate_drop=0` drops
//!   no tree, so it is the same model as `gbtree` and runs as one.
//! - LightGBM `boosting-type=dart` drops earlier rounds while fitting each new one, with
//!   LightGBM's defaults (`drop_rate` 0.1, `max_drop` 50, `skip_drop` 0.5) and the rounds
//!   LightGBM itself drops for the trial's seed ([`gbdt::Dart`]).
//! - XGBoost grows depth-wise and prunes by `gamma` after growth; LightGBM grows best-first
//!   (`num-leaves`) and refuses splits below `min-split-gain` and leaves below
//!   `min-child-samples`. LightGBM's `subsample` only acts with a bagging frequency, which the
//!   original never sets, so (as in LightGBM) it changes nothing.
//! - Scores on the sample datasets are within 0.005 of the libraries' own, but LightGBM's
//!   `dart` on diabetes, 0.0053 off (`image/ml/tests/quality.rs`, `KNOWN_GAPS`).
//!
//! XGBoost:
//!
//! | name | default | range | meaning |
//! |---|---|---|---|
//! | `booster` | `gbtree` | `gbtree`, `gblinear`, `dart` | base learner |
//! | `n-estimators` | `100` | ≥ 1 | boosting rounds |
//! | `learning-rate` | `0.3` (`gblinear`: `0.5`) | > 0 | shrinkage |
//! | `max-depth` | `6` | ≥ 1 | depth limit |
//! | `min-child-weight` | `1` | ≥ 0 | hessian a leaf needs |
//! | `subsample` | `1` | (0, 1] | rows sampled per tree |
//! | `colsample-bytree` | `1` | (0, 1] | columns sampled per tree |
//! | `gamma` | `0` | ≥ 0 | loss reduction a split needs |
//! | `reg-alpha` | `0` | ≥ 0 | L1 penalty on leaf values (`gblinear`: weights, per row) |
//! | `reg-lambda` | `1` (`gblinear`: `0`) | ≥ 0 | L2 penalty on leaf values (`gblinear`: weights, per row) |
//!
//! The tree parameters (`max-depth` to `gamma`) are checked but mean nothing to `gblinear`.
//!
//! LightGBM:
//!
//! | name | default | range | meaning |
//! |---|---|---|---|
//! | `boosting-type` | `gbdt` | `gbdt`, `dart`, `goss` | boosting |
//! | `n-estimators` | `100` | ≥ 1 | boosting rounds |
//! | `learning-rate` | `0.1` | > 0 | shrinkage |
//! | `num-leaves` | `31` | ≥ 2 | leaves per tree (leaf-wise growth) |
//! | `max-depth` | `-1` (none) | ≥ 1, or ≤ 0 for none | depth limit |
//! | `min-child-weight` | `0.001` | ≥ 0 | hessian a leaf needs |
//! | `min-child-samples` | `20` | ≥ 1 | rows a leaf needs |
//! | `subsample` | `1` | (0, 1] | accepted, no effect without a bagging frequency (as LightGBM) |
//! | `colsample-bytree` | `1` | (0, 1] | columns sampled per tree |
//! | `min-split-gain` | `0` | ≥ 0 | loss reduction a split needs |
//! | `reg-alpha` | `0` | ≥ 0 | L1 penalty on leaf values |
//! | `reg-lambda` | `0` | ≥ 0 | L2 penalty on leaf values |

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::bins::Binning;
use super::boosting_params::{
    at_least, learning_rate, non_negative, positive_fraction, LgbmHyperParams, XgbHyperParams,
};
use super::forust_legacy;
use super::gbdt::{self, Config, Dart, SoftmaxHessian, Target, Ties};
use super::gblinear::{self, LinearConfig};
use super::tree_ensemble::TreeEnsemble;
use super::{
    boosted_trees_floor, check_rows, check_targets, Algorithm, Estimator, Fitted, LeastBytes,
    Predictor, Stepwise, TrainTarget,
};
use crate::error::{MlError, Result};

/// Which library's names, defaults and growth the parameter set follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// XGBoost's names and defaults, depth-wise growth.
    XGBoost,
    /// LightGBM's names and defaults, leaf-wise growth.
    LightGBM,
}

/// Checked XGBoost or LightGBM hyperparameters, in the engine's terms; only
/// [`ParamGuard::check`](super::ParamGuard::check) (of [`XgbHyperParams`] or
/// [`LgbmHyperParams`]) makes them.
#[derive(Debug, Clone, PartialEq)]
pub struct BoostParams {
    flavor: Flavor,
    n_estimators: usize,
    learning_rate: f64,
    /// `None`: unlimited.
    max_depth: Option<usize>,
    /// `None`: unlimited (depth-wise growth); `Some`: leaf-wise growth.
    max_leaves: Option<usize>,
    min_child_weight: f64,
    min_child_samples: usize,
    subsample: f64,
    colsample_bytree: f64,
    min_split_gain: f64,
    reg_alpha: f64,
    reg_lambda: f64,
    booster: Booster,
}

/// What each round adds, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Booster {
    /// Trees on every row: XGBoost `gbtree` (and `dart`, see [`BoostParams::xgboost`]),
    /// LightGBM `gbdt`.
    Trees,
    /// LightGBM `goss`: trees on the rows of largest gradients and a sample of the rest.
    Goss,
    /// LightGBM `dart`: trees fitted with earlier rounds dropped ([`gbdt::Dart`]).
    Dart,
    /// XGBoost `gblinear`: a linear model ([`super::gblinear`]).
    Linear,
}

// With `native-boosting` the libraries fit XGBoost and LightGBM; this engine's tests still run.
#[cfg_attr(feature = "native-boosting", allow(dead_code))]
impl BoostParams {
    /// Checks XGBoost's hyperparameters for this engine.
    pub(super) fn xgboost(hp: XgbHyperParams) -> Result<BoostParams> {
        let booster = match hp.booster.as_deref() {
            // XGBoost's `dart` drops each tree with probability `rate_drop`, 0 by default, and
            // with none dropped its rounds and tree weights are gbtree's: the same model. The
            // search space (mmp_pipeline::search_space) sets no `rate_drop` (nor any other
            // dropout parameter), so `dart` runs as `gbtree`.
            None | Some("gbtree") | Some("dart") => Booster::Trees,
            Some("gblinear") => Booster::Linear,
            Some(v) => {
                return Err(MlError::hp(
                    "booster",
                    format!("`{v}` is not `gbtree`, `gblinear` or `dart`"),
                ))
            }
        };
        // gblinear's own defaults: eta 0.5, lambda 0; it ignores the tree parameters (still
        // checked, as the library build does).
        let linear = booster == Booster::Linear;
        Ok(BoostParams {
            flavor: Flavor::XGBoost,
            n_estimators: at_least("n-estimators", hp.n_estimators, 1)?.unwrap_or(100),
            learning_rate: learning_rate(hp.learning_rate)?.unwrap_or(if linear {
                0.5
            } else {
                0.3
            }),
            max_depth: Some(at_least("max-depth", hp.max_depth, 1)?.unwrap_or(6)),
            max_leaves: None,
            min_child_weight: non_negative("min-child-weight", hp.min_child_weight)?.unwrap_or(1.0),
            min_child_samples: 0,
            subsample: positive_fraction("subsample", hp.subsample)?.unwrap_or(1.0),
            colsample_bytree: positive_fraction("colsample-bytree", hp.colsample_bytree)?
                .unwrap_or(1.0),
            min_split_gain: non_negative("gamma", hp.gamma)?.unwrap_or(0.0),
            reg_alpha: non_negative("reg-alpha", hp.reg_alpha)?.unwrap_or(0.0),
            reg_lambda: non_negative("reg-lambda", hp.reg_lambda)?.unwrap_or(if linear {
                0.0
            } else {
                1.0
            }),
            booster,
        })
    }

    /// Checks LightGBM's hyperparameters for this engine.
    pub(super) fn lightgbm(hp: LgbmHyperParams) -> Result<BoostParams> {
        let booster = match hp.boosting_type.as_deref() {
            None | Some("gbdt") => Booster::Trees,
            Some("goss") => Booster::Goss,
            Some("dart") => Booster::Dart,
            Some(v) => {
                return Err(MlError::hp(
                    "boosting-type",
                    format!("`{v}` is not `gbdt`, `dart` or `goss`"),
                ))
            }
        };
        // LightGBM reads max_depth ≤ 0 as "no limit".
        let max_depth = match hp.max_depth {
            None => None,
            Some(d) if d <= 0 => None,
            Some(d) => Some(d as usize),
        };
        positive_fraction("subsample", hp.subsample)?;
        Ok(BoostParams {
            flavor: Flavor::LightGBM,
            n_estimators: at_least("n-estimators", hp.n_estimators, 1)?.unwrap_or(100),
            learning_rate: learning_rate(hp.learning_rate)?.unwrap_or(0.1),
            max_depth,
            max_leaves: Some(at_least("num-leaves", hp.num_leaves, 2)?.unwrap_or(31)),
            min_child_weight: non_negative("min-child-weight", hp.min_child_weight)?
                .unwrap_or(1e-3),
            min_child_samples: at_least("min-child-samples", hp.min_child_samples, 1)?
                .unwrap_or(20),
            subsample: 1.0,
            colsample_bytree: positive_fraction("colsample-bytree", hp.colsample_bytree)?
                .unwrap_or(1.0),
            min_split_gain: non_negative("min-split-gain", hp.min_split_gain)?.unwrap_or(0.0),
            reg_alpha: non_negative("reg-alpha", hp.reg_alpha)?.unwrap_or(0.0),
            reg_lambda: non_negative("reg-lambda", hp.reg_lambda)?.unwrap_or(0.0),
            booster,
        })
    }

    fn config(&self) -> Config {
        let (prune_after, softmax_hessian, binning, ties) = match self.flavor {
            Flavor::XGBoost => (
                true,
                SoftmaxHessian::XGBoost,
                Binning::XGBoost,
                Ties::XGBoost,
            ),
            Flavor::LightGBM => (
                false,
                SoftmaxHessian::LightGBM,
                Binning::LightGBM,
                Ties::LightGBM,
            ),
        };
        Config {
            rounds: self.n_estimators,
            learning_rate: self.learning_rate,
            max_depth: self.max_depth,
            max_leaves: self.max_leaves,
            min_child_weight: self.min_child_weight,
            min_child_samples: self.min_child_samples,
            subsample: self.subsample,
            colsample_bytree: self.colsample_bytree,
            min_split_gain: self.min_split_gain,
            prune_after,
            reg_alpha: self.reg_alpha,
            reg_lambda: self.reg_lambda,
            goss: self.booster == Booster::Goss,
            softmax_hessian,
            // LightGBM's DART parameters keep their defaults: the search space sets none.
            dart: (self.booster == Booster::Dart).then(Dart::default),
            binning,
            ties,
        }
    }

    fn linear_config(&self) -> LinearConfig {
        LinearConfig {
            rounds: self.n_estimators,
            learning_rate: self.learning_rate,
            reg_alpha: self.reg_alpha,
            reg_lambda: self.reg_lambda,
        }
    }

    fn algorithm(&self) -> Algorithm {
        match self.flavor {
            Flavor::XGBoost => Algorithm::XGBoost,
            Flavor::LightGBM => Algorithm::LightGBM,
        }
    }
}

impl Estimator for BoostParams {
    fn family(&self) -> Algorithm {
        self.algorithm()
    }

    fn fit(&self, x: ArrayView2<f64>, y: TrainTarget<'_>, seed: u64) -> Result<Fitted> {
        let (n, p) = x.dim();
        let target = self.target(n, p, y)?;
        Ok(Fitted::GradientBoosting(Boosted {
            engine: ENGINE.to_string(),
            ensemble: match self.booster {
                Booster::Linear => gblinear::fit(x, target, &self.linear_config()),
                _ => gbdt::fit(x, target, &self.config(), seed),
            },
        }))
    }

    fn stepwise<'a>(
        &'a self,
        x: ArrayView2<'a, f64>,
        rows: &'a [usize],
        y: TrainTarget<'a>,
        seed: u64,
    ) -> Option<Result<Box<dyn Stepwise + 'a>>> {
        if self.booster == Booster::Linear {
            return None;
        }
        if let Err(e) = check_rows(self.algorithm(), &x, rows) {
            return Some(Err(e));
        }
        Some(self.target(rows.len(), x.ncols(), y).map(|target| {
            let fit = gbdt::Fit::new(x, Some(rows), target, self.config(), seed);
            Box::new(Rounds(fit)) as Box<dyn Stepwise + 'a>
        }))
    }

    fn least_bytes(&self, _features: usize, outputs: usize) -> Option<LeastBytes> {
        if self.booster == Booster::Linear {
            return None; // one set of weights, however many rounds
        }
        Some(boosted_trees_floor(self.n_estimators, outputs))
    }
}

impl BoostParams {
    /// The engine's target for `n` rows × `p` features, checked: there are rows and
    /// features, a target for each row, and every class code is below the class count.
    fn target<'a>(&self, n: usize, p: usize, y: TrainTarget<'a>) -> Result<Target<'a>> {
        let fails = |message: String| {
            Err(MlError::Fit {
                family: self.algorithm(),
                message,
            })
        };
        if n == 0 || p == 0 {
            return fails(format!("cannot fit on {n} rows × {p} features"));
        }
        check_targets(self.algorithm(), n, &y)?;
        Ok(match y {
            TrainTarget::Classes { codes, n_classes } => {
                if let Some(bad) = codes.iter().find(|&&c| c >= n_classes) {
                    return fails(format!("class code {bad} is not below {n_classes}"));
                }
                Target::Classes {
                    codes,
                    classes: n_classes,
                }
            }
            TrainTarget::Values(v) => Target::Values(v),
        })
    }
}

/// The tree engine's fit, a boosting round a step.
struct Rounds<'a>(gbdt::Fit<'a>);

impl Stepwise for Rounds<'_> {
    fn step(&mut self) -> bool {
        self.0.step()
    }

    fn finish(self: Box<Self>) -> Result<Fitted> {
        Ok(Fitted::GradientBoosting(Boosted {
            engine: ENGINE.to_string(),
            ensemble: self.0.finish(),
        }))
    }
}

/// The engine's name, which the estimator's name carries (e.g. `XGBClassifier (mmp-gbdt)`).
pub const ENGINE_NAME: &str = "mmp-gbdt";
/// The engine and its payload version, named in the payload.
const ENGINE: &str = "mmp-gbdt 1";

/// A fitted boosted model: the engine's trees, predicted as the libraries' own files are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub struct Boosted {
    /// The engine that fitted it, and its version.
    pub engine: String,
    /// The trees.
    pub ensemble: TreeEnsemble,
}

/// This engine's payload.
#[derive(Deserialize)]
struct Current {
    engine: String,
    ensemble: TreeEnsemble,
}

/// A `GradientBoosting` payload holds this engine's trees, or forust-ml's (`boosters`) from
/// versions before it; each is read with its own field-naming errors.
impl TryFrom<serde_json::Value> for Boosted {
    type Error = String;

    fn try_from(payload: serde_json::Value) -> std::result::Result<Boosted, String> {
        if payload.get("boosters").is_some() {
            let legacy: forust_legacy::Payload =
                serde_json::from_value(payload).map_err(|e| format!("forust-ml payload: {e}"))?;
            return Ok(Boosted {
                engine: LEGACY_ENGINE.to_string(),
                ensemble: legacy.into_ensemble()?,
            });
        }
        let Current { engine, ensemble } =
            serde_json::from_value(payload).map_err(|e| e.to_string())?;
        Ok(Boosted { engine, ensemble })
    }
}

/// The engine named for a model read from a forust-ml payload.
const LEGACY_ENGINE: &str = "forust-ml 0.8";

impl Boosted {
    /// Checks a read payload, so that predicting can neither panic nor loop.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        self.ensemble.validate()
    }

    /// Values written per row: classes (2 for binary), or 1.
    pub(crate) fn n_outputs(&self) -> usize {
        self.ensemble.n_outputs()
    }

    /// Checks that the trees read no column past a `width`-column row.
    pub(crate) fn check_width(&self, width: usize) -> std::result::Result<(), String> {
        let n = self.ensemble.n_features;
        if n <= width {
            Ok(())
        } else {
            Err(format!("the trees read {n} columns but rows have {width}"))
        }
    }

    /// Tree nodes (splits and leaves) over all trees.
    pub fn node_count(&self) -> usize {
        self.ensemble
            .trees
            .iter()
            .map(|t| t.splits.len() + t.leaves.len())
            .sum()
    }
}

impl Predictor for Boosted {
    fn predict_row(&self, x: &[f64], out: &mut [f64]) {
        self.ensemble.predict_row(x, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hyperparams::HyperParams;

    fn xgboost(hp: &HyperParams) -> Result<BoostParams> {
        BoostParams::xgboost(XgbHyperParams::from_hyperparams(hp)?)
    }

    fn lightgbm(hp: &HyperParams) -> Result<BoostParams> {
        BoostParams::lightgbm(LgbmHyperParams::from_hyperparams(hp)?)
    }

    /// mmp-gbdt grows the libraries' own trees: fitted on every row of a sample dataset with
    /// default hyperparameters, each row's prediction is the real library's (built in with
    /// `native-boosting`), to XGBoost's `f32` leaves. Diabetes: a regression whose columns
    /// split the same rows on several features, both libraries; wine: three classes, XGBoost.
    /// (LightGBM on wine parts from round 2 on, by 1e-4 in a probability: a leaf of exactly
    /// `min-child-samples` rows, whose count LightGBM estimates from its `f32` hessians.)
    #[cfg(feature = "native-boosting")]
    #[test]
    fn the_engine_predicts_what_the_libraries_predict() {
        use crate::estimators::ParamGuard;
        use crate::model::TrainingData;
        use crate::table::Table;
        for (name, target) in [("diabetes", "progression"), ("wine", "CLASS")] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../datasets")
                .join(name)
                .join(format!("{name}.csv"));
            let data =
                TrainingData::from_table(&Table::read(&path).unwrap(), target, None).unwrap();
            let (n, width) = data.x.dim();
            let predict = |fitted: &Fitted| {
                let outputs = data.classes().map_or(1, <[String]>::len);
                let mut out = ndarray::Array2::zeros((n, outputs));
                fitted
                    .predictor()
                    .predict_rows(data.x.view(), out.view_mut());
                out
            };
            let ours = [
                xgboost(&HyperParams::default()).unwrap(),
                lightgbm(&HyperParams::default()).unwrap(),
            ];
            let libraries: [Box<dyn Estimator>; 2] = [
                Box::new(XgbHyperParams::default().check().unwrap()),
                Box::new(LgbmHyperParams::default().check().unwrap()),
            ];
            let both = if name == "wine" { 1 } else { 2 };
            for (ours, library) in ours.iter().zip(&libraries).take(both) {
                let a = predict(&ours.fit(data.x.view(), data.train_target(), 42).unwrap());
                let b = predict(&library.fit(data.x.view(), data.train_target(), 42).unwrap());
                let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                let worst = a
                    .iter()
                    .zip(&b)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f64::max);
                assert!(
                    worst <= 1e-5 * scale,
                    "{name} {:?}: a prediction {worst} from the library's ({n} rows × {width})",
                    ours.family()
                );
            }
        }
    }

    #[test]
    fn defaults_are_each_librarys_own() {
        let x = xgboost(&HyperParams::default()).unwrap();
        assert_eq!(
            (x.n_estimators, x.learning_rate, x.max_depth, x.reg_lambda),
            (100, 0.3, Some(6), 1.0)
        );
        let l = lightgbm(&HyperParams::default()).unwrap();
        assert_eq!(
            (l.learning_rate, l.max_leaves, l.max_depth, l.reg_lambda),
            (0.1, Some(31), None, 0.0)
        );
        let l = lightgbm(&HyperParams::from_pairs([
            ("boosting-type", "goss"),
            ("max-depth", "5"),
            ("num-leaves", "50"),
            ("min-split-gain", "0.5"),
        ]))
        .unwrap();
        assert_eq!(l.booster, Booster::Goss);
        assert_eq!(
            (l.max_depth, l.max_leaves, l.min_split_gain),
            (Some(5), Some(50), 0.5)
        );
    }

    #[test]
    fn every_booster_of_the_search_space_is_taken_with_its_defaults() {
        let linear = xgboost(&HyperParams::from_pairs([("booster", "gblinear")])).unwrap();
        assert_eq!(linear.booster, Booster::Linear);
        assert_eq!(
            (linear.learning_rate, linear.reg_lambda, linear.reg_alpha),
            (0.5, 0.0, 0.0),
            "gblinear's own defaults"
        );
        let given = xgboost(&HyperParams::from_pairs([
            ("booster", "gblinear"),
            ("learning-rate", "0.1"),
            ("reg-lambda", "0.01"),
            ("reg-alpha", "1"),
        ]))
        .unwrap();
        assert_eq!(
            given.linear_config(),
            LinearConfig {
                rounds: 100,
                learning_rate: 0.1,
                reg_alpha: 1.0,
                reg_lambda: 0.01
            }
        );
        let dart = xgboost(&HyperParams::from_pairs([("booster", "dart")])).unwrap();
        assert_eq!(
            dart,
            xgboost(&HyperParams::default()).unwrap(),
            "XGBoost's dart without rate_drop is gbtree"
        );
        let dart = lightgbm(&HyperParams::from_pairs([("boosting-type", "dart")])).unwrap();
        assert_eq!(dart.booster, Booster::Dart);
        assert_eq!(dart.config().dart, Some(Dart::default()));
        assert!(!dart.config().goss);
        assert_eq!(
            lightgbm(&HyperParams::default()).unwrap().config().dart,
            None
        );
        for (family, name, value) in [
            ("XGBoost", "booster", "gbforest"),
            ("LightGBM", "boosting-type", "random"),
        ] {
            let hp = HyperParams::from_pairs([(name, value)]);
            let err = if family == "XGBoost" {
                xgboost(&hp).unwrap_err()
            } else {
                lightgbm(&hp).unwrap_err()
            };
            assert!(
                err.to_string().contains(&format!("`{value}` is not")),
                "{err}"
            );
        }
        assert_eq!(
            xgboost(&HyperParams::from_pairs([("subsample", "1.5")]))
                .unwrap_err()
                .to_string(),
            "hyperparameter `subsample`: 1.5 must be in (0, 1]"
        );
    }

    #[test]
    fn separates_classes_and_fits_values() {
        let x = ndarray::Array2::from_shape_fn((120, 2), |(i, j)| (i * (j + 1)) as f64 % 17.0);
        let codes: Vec<usize> = (0..120).map(|i| usize::from(x[[i, 0]] > 8.0)).collect();
        let y: Vec<f64> = (0..120).map(|i| 2.0 * x[[i, 0]]).collect();
        for p in [
            xgboost(&HyperParams::default()).unwrap(),
            xgboost(&HyperParams::from_pairs([("booster", "gblinear")])).unwrap(),
            lightgbm(&HyperParams::from_pairs([("boosting-type", "dart")])).unwrap(),
        ] {
            let fitted = classify(&p, x.view(), &codes);
            let mut out = [0.0; 2];
            fitted.predictor().predict_row(&[16.0, 3.0], &mut out);
            assert!(out[1] > 0.9, "{:?}: {out:?}", p.booster);
            fitted.predictor().predict_row(&[1.0, 3.0], &mut out);
            assert!(out[0] > 0.9, "{:?}: {out:?}", p.booster);
            if p.booster == Booster::Dart {
                // LightGBM 4.7's `LGBMClassifier(boosting_type="dart", random_state=3)`.
                fitted.predictor().predict_row(&[7.0, 3.0], &mut out);
                assert!((out[1] - 0.016_698_891).abs() < 1e-8, "{out:?}");
            }
            let fitted = p.fit(x.view(), TrainTarget::Values(&y), 3).unwrap();
            let mut v = [0.0];
            fitted.predictor().predict_row(&[10.0, 0.0], &mut v);
            // DART stays short of 20 (its first tree, holding the mean, is dropped and scaled
            // down): LightGBM 4.7's `LGBMRegressor(boosting_type="dart", random_state=3)`
            // predicts 17.5356203 for this row, which the same drops and trees give here.
            let (expected, within) = match p.booster {
                Booster::Dart => (17.535_620_3, 1e-6),
                _ => (20.0, 1.0),
            };
            assert!((v[0] - expected).abs() < within, "{:?}: {v:?}", p.booster);
            // The payload reads back into the same model (gblinear: its linear part).
            let Fitted::GradientBoosting(model) = &fitted else {
                panic!("{}", fitted.tag());
            };
            assert_eq!(
                model.ensemble.linear.is_some(),
                p.booster == Booster::Linear,
                "{:?}",
                p.booster
            );
            assert_eq!(
                reload(&serde_json::from_slice(&fitted.payload().unwrap()).unwrap()),
                Ok(fitted)
            );
        }
    }

    /// A fit taken a step at a time on some rows of a matrix is the fit on a copy of those
    /// rows, to the bit, for every tree booster and target; gblinear has no steps; bad rows
    /// and codes are refused.
    #[test]
    fn a_stepwise_fit_on_rows_is_the_fit_on_their_copy() {
        let x = ndarray::Array2::from_shape_fn((150, 3), |(i, j)| {
            ((i * (j + 3) * 7) % 23) as f64 + j as f64 / 4.0
        });
        let rows: Vec<usize> = (0..150).filter(|i| i % 5 != 2).rev().collect();
        let copy = x.select(ndarray::Axis(0), &rows);
        let codes: Vec<usize> = rows.iter().map(|&r| (r * 7 % 3).min(1 + r % 2)).collect();
        let values: Vec<f64> = rows.iter().map(|&r| x[[r, 0]] - x[[r, 2]]).collect();
        let targets = [
            TrainTarget::Classes {
                codes: &codes,
                n_classes: 3,
            },
            TrainTarget::Values(&values),
        ];
        for hp in [
            HyperParams::from_pairs([("n-estimators", "7"), ("subsample", "0.8")]),
            HyperParams::from_pairs([("booster", "gblinear")]),
        ] {
            let p = xgboost(&hp).unwrap();
            for y in targets {
                let Some(stepwise) = p.stepwise(x.view(), &rows, y, 5) else {
                    assert_eq!(p.booster, Booster::Linear);
                    continue;
                };
                let mut fit = stepwise.unwrap();
                let mut steps = 1;
                while fit.step() {
                    steps += 1;
                }
                assert_eq!(steps, 1 + 7, "binning, then one step a round");
                assert_eq!(fit.finish().unwrap(), p.fit(copy.view(), y, 5).unwrap());
            }
        }
        for hp in [
            HyperParams::from_pairs([("n-estimators", "4"), ("boosting-type", "dart")]),
            HyperParams::from_pairs([("n-estimators", "4"), ("boosting-type", "goss")]),
        ] {
            let p = lightgbm(&hp).unwrap();
            for y in targets {
                // Finished before its last steps: they are taken first.
                let mut fit = p.stepwise(x.view(), &rows, y, 5).unwrap().unwrap();
                assert!(fit.step());
                assert_eq!(fit.finish().unwrap(), p.fit(copy.view(), y, 5).unwrap());
            }
        }
        let p = xgboost(&HyperParams::default()).unwrap();
        let err = |rows: &[usize], y| p.stepwise(x.view(), rows, y, 5).unwrap().err().unwrap();
        assert!(err(&[3, 150], targets[1])
            .to_string()
            .contains("row 150 is not below 150"));
        let bad = TrainTarget::Classes {
            codes: &[0, 2],
            n_classes: 2,
        };
        assert!(err(&[3, 4], bad)
            .to_string()
            .contains("class code 2 is not below 2"));
        assert!(err(&[], targets[1])
            .to_string()
            .contains("cannot fit on 0 rows"));
        assert!(err(&[3, 4, 5], bad)
            .to_string()
            .contains("2 targets for 3 rows"));
        let short = p.fit(x.view(), targets[1], 5).unwrap_err().to_string();
        assert!(short.contains("120 targets for 150 rows"), "{short}");
    }

    /// A fitted binary model's payload as JSON, to be tampered with.
    fn binary_payload() -> serde_json::Value {
        let x = ndarray::Array2::from_shape_fn((60, 2), |(i, j)| (i * (j + 1)) as f64 % 13.0);
        let codes: Vec<usize> = (0..60).map(|i| usize::from(x[[i, 0]] > 6.0)).collect();
        let mut p = xgboost(&HyperParams::default()).unwrap();
        p.n_estimators = 3;
        let fitted = classify(&p, x.view(), &codes);
        serde_json::from_slice(&fitted.payload().unwrap()).unwrap()
    }

    /// Fits two classes, seed 3.
    fn classify(p: &BoostParams, x: ArrayView2<f64>, codes: &[usize]) -> Fitted {
        let y = TrainTarget::Classes {
            codes,
            n_classes: 2,
        };
        p.fit(x, y, 3).unwrap()
    }

    fn reload(payload: &serde_json::Value) -> std::result::Result<Fitted, String> {
        let bytes = serde_json::to_vec(payload).unwrap();
        Fitted::from_payload("model.json", &bytes).map_err(|e| e.to_string())
    }

    #[test]
    fn cyclic_or_out_of_range_trees_are_refused_at_load() {
        let payload = binary_payload();
        let fitted = reload(&payload).unwrap();
        assert_eq!(fitted.n_outputs(), Some(2));
        assert!(fitted.check_width(2).is_ok());
        let split = "/ensemble/trees/0/splits/0";
        assert!(
            payload.pointer(split).is_some(),
            "the first tree splits at its root"
        );

        // The root's left child is the root: every row going left would loop forever.
        let mut cyclic = payload.clone();
        *cyclic.pointer_mut(&format!("{split}/left")).unwrap() = 0.into();
        let err = reload(&cyclic).unwrap_err();
        assert!(
            err.contains("tree 0, split 0: child 0 out of range"),
            "{err}"
        );
        assert!(err.contains("malformed GradientBoosting model"), "{err}");
        let mut far = payload.clone();
        *far.pointer_mut(&format!("{split}/right")).unwrap() = (-9999).into();
        assert!(reload(&far).unwrap_err().contains("child -9999"));
        let mut wide = payload.clone();
        *wide.pointer_mut(&format!("{split}/feature")).unwrap() = 5.into();
        assert!(reload(&wide)
            .unwrap_err()
            .contains("splits on feature 5 of 2"));
        let mut margins = payload.clone();
        margins["ensemble"]["base_margin"] = serde_json::json!([0.0, 0.0]);
        assert!(reload(&margins)
            .unwrap_err()
            .contains("2 base margins for 1 output groups"));
        // A model of more columns than the schema's rows belongs to another model.
        let fitted = reload(&payload).unwrap();
        assert!(fitted
            .check_width(1)
            .unwrap_err()
            .to_string()
            .contains("the trees read 2 columns but rows have 1"));
    }

    #[test]
    fn the_memory_floor_counts_trees_and_not_linear_rounds() {
        use super::super::LEAST_TREE_BYTES;
        let rounds = [("n-estimators", "1000")];
        let trees = xgboost(&HyperParams::from_pairs(rounds)).unwrap();
        let floor = |p: &BoostParams, outputs| p.least_bytes(30, outputs).map(|l| l.bytes);
        assert_eq!(floor(&trees, 2), Some(1000 * LEAST_TREE_BYTES));
        // Softmax grows a tree per class a round.
        assert_eq!(floor(&trees, 3), Some(3000 * LEAST_TREE_BYTES));
        let leaves = lightgbm(&HyperParams::from_pairs(rounds)).unwrap();
        assert_eq!(floor(&leaves, 1), Some(1000 * LEAST_TREE_BYTES));
        let linear = xgboost(&HyperParams::from_pairs([
            ("booster", "gblinear"),
            ("n-estimators", "1000000000000000000"),
        ]))
        .unwrap();
        assert_eq!(floor(&linear, 2), None);
    }
}
